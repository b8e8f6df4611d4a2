"""Image augmentation of flattened 28 x 28 images, shared by the NumPy trainer and the Keras code.

``augment_batch`` draws random translations and flips for a training mini-batch; ``shift_images``,
``shift_views`` and ``flip_horizontal`` apply fixed ones (test-time augmentation, a teacher's per-view targets).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def flip_horizontal(x: np.ndarray, image_shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Mirror every image left-right; x: (N, H*W) flattened or (N, H, W), same shape back."""
    return x.reshape(len(x), *image_shape)[:, :, ::-1].reshape(x.shape)


def shift_images(x: np.ndarray, dy: int, dx: int, image_shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Translate every image by ``dy`` pixels down and ``dx`` right, filling with zeros (black), as Keras's
    ``RandomTranslation(fill_mode="constant")`` does while training; x: (N, H*W), (N, H, W) or (N, H, W, 1)."""
    images = x.reshape(len(x), *image_shape)
    out = np.zeros_like(images)
    h, w = image_shape
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out.reshape(x.shape)


def shift_views(shift: int) -> list[tuple[int, int]]:
    """The (down, right) translations of the (2 * shift + 1) ** 2 views that ``augment_batch``'s random shifts
    of up to ``shift`` pixels draw, in the order of the view indices it returns (for ``shift_images``)."""
    offsets = range(2 * shift + 1)
    return [(shift - dy, shift - dx) for dy in offsets for dx in offsets]


def augment_batch(x: np.ndarray, rng: np.random.Generator, shift: int = 0, flip: bool = False,
                  image_shape: tuple[int, int] = (28, 28),
                  return_views: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Random translations by up to ``shift`` pixels (zero fill) and horizontal flips of flattened images.

    x: (N, H*W) with background 0 (pixels scaled to [0, 1]); returns a new (N, H*W) array and, with
    ``return_views``, also each image's translation as a view index (N,) into ``shift_views(shift)``.
    Draws from ``rng`` in a fixed order (shifts, then flips): stored runs replay these draws.
    """
    n, (h, w) = len(x), image_shape
    images = x.reshape(n, h, w)
    views = np.zeros(n, dtype=np.intp)
    if shift:
        padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
        dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
        windows = sliding_window_view(padded, (h, w), axis=(1, 2))  # (N, 2s+1, 2s+1, H, W): a view, no copy
        images = windows[np.arange(n), dy, dx]  # one H x W block copied per image
        views = dy * (2 * shift + 1) + dx
    if flip:
        flipped = rng.random(n) < 0.5
        if not shift:
            images = images.copy()  # never flip the caller's array
        images[flipped] = images[flipped, :, ::-1]
    return (images.reshape(n, h * w), views) if return_views else images.reshape(n, h * w)
