"""Keras builders: the reports' MLPs and CNNs, optimizers, FLOP counts, and one SGD step against our MLP."""

import numpy as np
import pytest

from fmnist_utils.keras.builders import build_cnn, build_mlp, flops_per_image, import_keras, make_optimizer, set_seed


def test_softmax_baseline_has_report_004s_parameter_count():
    assert build_mlp(hidden=()).count_params() == 7850


def test_mlp_layer_order_matches_numpy_mlp():
    model = build_mlp(hidden=(16,), activation="relu", batch_norm=True, dropout=0.2)
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Dense", "Activation", "BatchNormalization", "Dropout", "Dense"]


def test_cnn_shapes_and_filters():
    model = build_cnn(filters=(8, 16), dense=(32,), batch_norm=True, dropout=0.25)
    assert model.output_shape == (None, 10)
    convs = [layer.filters for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert convs == [8, 16]


@pytest.mark.parametrize("momentum", [0.99, 0.9])
def test_cnn_batch_norm_momentum(momentum):
    kwargs = {} if momentum == 0.99 else {"bn_momentum": momentum}  # 0.99 is the default, as in Keras
    model = build_cnn(filters=(8, 16), batch_norm=True, **kwargs)
    norms = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    assert len(norms) == 2 and all(layer.momentum == momentum for layer in norms)


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="optimizer name must be one of"):
        make_optimizer("rmsprop2")


@pytest.mark.parametrize("batch_norm", [False, True])
def test_one_sgd_step_matches_keras_from_the_same_weights(batch_norm):
    """Our NumPy network and Keras, same weights and mini-batch: one SGD step leaves the same parameters."""
    import tensorflow as tf

    from fmnist_utils.nn import SGD, BatchNorm, Dense, Network, ReLU

    rng = np.random.default_rng(0)
    x, y = rng.random((32, 20), dtype=np.float32), rng.integers(0, 10, 32)
    set_seed(0)
    model = build_mlp(hidden=(16, 16), batch_norm=batch_norm, n_inputs=20)
    kernels = [w.numpy().copy() for w in model.weights if w.path.endswith("kernel")]
    layers = []
    for i, W in enumerate(kernels):
        layers.append(Dense(W.copy(), np.zeros(W.shape[1], np.float32), input_grad=i > 0))
        if i < len(kernels) - 1:
            layers += [ReLU()] + ([BatchNorm(W.shape[1], np.float32)] if batch_norm else [])
    net = Network(layers)
    net.loss_and_grads(x, y)
    SGD(0.1).step(net)
    with tf.GradientTape() as tape:
        loss = import_keras().losses.SparseCategoricalCrossentropy()(y, model(x, training=True))
    optimizer = make_optimizer("sgd", 0.1)
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights))
    keras_values = {w.path.split("/")[-1] + str(i): w.numpy() for i, w in enumerate(model.weights)}
    ours = []
    for layer in layers:
        if isinstance(layer, Dense):
            ours += [layer.params["W"], layer.params["b"]]
        elif isinstance(layer, BatchNorm):
            ours += [layer.params["gamma"], layer.params["beta"], layer.running_mean, layer.running_var]
    assert len(ours) == len(keras_values)
    for mine, (name, theirs) in zip(ours, keras_values.items()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6, err_msg=name)


def test_flops_per_image_counts_convolutions_and_dense_layers():
    cnn = build_cnn(filters=(8,), kernel_size=3, dense=(16,))  # 28x28x8 conv, pool to 14x14x8
    conv = 2 * 28 * 28 * 3 * 3 * 1 * 8
    dense = 2 * 14 * 14 * 8 * 16 + 2 * 16 * 10
    assert flops_per_image(cnn) == conv + dense
    assert flops_per_image(build_mlp(hidden=())) == 2 * 784 * 10


def test_report_004_cnn_pools_seven_to_four():
    model = build_cnn(filters=(8, 16, 32), dense=(), batch_norm=True, dropout=0.25, pool_padding="same")
    assert model.layers[-2].output.shape == (None, 4 * 4 * 32)  # the flatten before the softmax


def test_cnn_blocks_global_pooling_and_augmentation_layers():
    model = build_cnn(filters=(4, 8), convs_per_block=2, batch_norm=True, global_pool=True, dense=(),
                                   dropout=0.1, dense_dropout=0.3, flip=True, shift=0.1, erase=0.5)
    names = [type(layer).__name__ for layer in model.layers]
    assert names[:3] == ["RandomFlip", "RandomTranslation", "RandomErasing"]
    assert names.count("Conv2D") == 4 and "GlobalAveragePooling2D" in names and "Flatten" not in names
    assert [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"] == [0.1, 0.1, 0.3]
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))  # augmentation off at inference
    per_block = build_cnn(filters=(4, 8, 16), convs_per_block=[1, 2, 2], dense=())
    assert [layer.filters for layer in per_block.layers if type(layer).__name__ == "Conv2D"] == [4, 8, 8, 16, 16]
    with pytest.raises(ValueError, match="one count per block"):
        build_cnn(filters=(4, 8), convs_per_block=[1, 2, 2])


def test_random_erasing_blanks_about_half_the_factor_of_images():
    # build_cnn's docstring promises this rate; Keras draws the probability from [0, factor]
    import_keras().utils.set_random_seed(0)
    model = build_cnn(filters=(4,), dense=(), erase=0.5)
    erase = next(layer for layer in model.layers if type(layer).__name__ == "RandomErasing")
    x = np.full((2000, 28, 28, 1), 0.5, dtype=np.float32)
    changed = (np.asarray(erase(x, training=True)) == 0).reshape(len(x), -1)
    erased = changed.any(axis=1)
    assert 0.2 < erased.mean() < 0.3
    areas = changed[erased].mean(axis=1)
    assert 0.02 <= areas.min() and areas.max() <= 0.22  # 2-20 % of the area, rounded to whole pixels
