"""Augmentation of flattened images: fixed flips and shifts, and the random ones of a training mini-batch."""

import numpy as np

from fmnist_utils import augment


def test_flip_horizontal_mirrors_each_row():
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28)
    flipped = augment.flip_horizontal(images.reshape(2, -1))
    assert flipped.shape == (2, 784)
    np.testing.assert_array_equal(flipped.reshape(2, 28, 28)[:, :, 0], images[:, :, -1])
    np.testing.assert_array_equal(augment.flip_horizontal(flipped), images.reshape(2, -1))


def test_shift_images_moves_pixels_and_fills_with_zeros():
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3)
    down_right = augment.shift_images(x, 1, 1, image_shape=(3, 3))
    assert (down_right[0] == [[0, 0, 0], [0, 1, 2], [0, 4, 5]]).all()
    up_left = augment.shift_images(x.reshape(1, 9), -1, -1, image_shape=(3, 3))
    assert up_left.shape == (1, 9) and (up_left.reshape(3, 3) == [[5, 6, 0], [8, 9, 0], [0, 0, 0]]).all()
    assert (augment.shift_images(x, 0, 0, image_shape=(3, 3)) == x).all()


def test_augment_batch_shifts_and_flips_images():
    rng = np.random.default_rng(0)
    image = np.zeros((28, 28), np.float32)
    image[10, 5] = 1.0
    x = np.repeat(image.reshape(1, -1), 200, axis=0)
    shifted = augment.augment_batch(x, rng, shift=2).reshape(-1, 28, 28)
    rows, cols = np.nonzero(shifted.sum(axis=0))
    assert set(rows) == set(range(8, 13)) and set(cols) == set(range(3, 8))  # every shift in [-2, 2] occurs
    assert (shifted.reshape(200, -1).sum(axis=1) == 1).all()  # a pixel moves, nothing is duplicated
    flipped = augment.augment_batch(x, rng, flip=True).reshape(-1, 28, 28)
    share = flipped[:, 10, 22].mean()
    assert 0.35 < share < 0.65 and (flipped[:, 10, 5] + flipped[:, 10, 22] == 1).all()


def test_augment_batch_views_name_the_translation_each_image_got():
    x = np.random.default_rng(1).random((50, 784), dtype=np.float32)
    shifted, views = augment.augment_batch(x, np.random.default_rng(0), shift=2, return_views=True)
    np.testing.assert_array_equal(shifted, augment.augment_batch(x, np.random.default_rng(0), shift=2))  # same draws
    assert len(set(views)) > 10
    translations = augment.shift_views(2)
    for i, view in enumerate(views):  # a teacher scores shift_images(x, *translations[view]) for that view
        np.testing.assert_array_equal(shifted[i], augment.shift_images(x[i:i + 1], *translations[view])[0])


def test_shift_views_enumerate_every_translation_once():
    views = augment.shift_views(1)
    assert len(views) == 9 and len(set(views)) == 9 and views[4] == (0, 0)
    assert set(views) == {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}


def test_augment_batch_without_augmentation_draws_nothing():
    # a run without augmentation must leave the generator to shuffling and dropout, as the stored runs did
    rng = np.random.default_rng(0)
    x = np.ones((4, 784), np.float32)
    np.testing.assert_array_equal(augment.augment_batch(x, rng), x)
    assert rng.integers(2**62) == np.random.default_rng(0).integers(2**62)


def test_augment_batch_shifts_then_flips_each_image_and_leaves_the_batch_alone():
    x = np.random.default_rng(2).random((30, 784), dtype=np.float32)
    before = x.copy()
    for shift in (0, 2):
        out, views = augment.augment_batch(x, np.random.default_rng(0), shift=shift, flip=True, return_views=True)
        replay = np.random.default_rng(0)  # the same draws in the documented order: shifts, then flips
        if shift:
            replay.integers(0, 2 * shift + 1, size=(2, len(x)))
        flipped = replay.random(len(x)) < 0.5
        translations = augment.shift_views(shift)
        for i in range(len(x)):
            expected = augment.shift_images(x[i:i + 1], *translations[views[i]])
            np.testing.assert_array_equal(out[i:i + 1], augment.flip_horizontal(expected) if flipped[i] else expected)
        np.testing.assert_array_equal(x, before)
