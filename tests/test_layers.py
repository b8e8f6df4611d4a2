"""Layers: forward/backward pairs against finite differences, dropout, batch norm, initialisation."""

import numpy as np
import pytest

from fmnist_utils.nn import layers
from fmnist_utils.nn.gradcheck import numerical_gradient, relative_error


@pytest.mark.parametrize("make", [
    lambda: layers.Dense(np.random.default_rng(1).normal(size=(5, 3)), np.arange(3.0)),
    layers.Identity, layers.ReLU, lambda: layers.LeakyReLU(0.1), layers.Tanh, layers.Sigmoid,
    lambda: layers.BatchNorm(5, np.float64),
], ids=["Dense", "Identity", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "BatchNorm"])
def test_each_layer_backward_matches_finite_differences(make):
    layer = make()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5))
    dout = rng.normal(size=layer.forward(x).shape)

    def loss():  # a scalar whose gradient with respect to the output is dout
        return float((layer.forward(x, train=True) * dout).sum())

    loss()
    dx = layer.backward(dout)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-7
    for name, p in layer.params.items():
        assert relative_error(grads[name], numerical_gradient(loss, p)) < 1e-7, name


def test_first_dense_layer_skips_the_input_gradient():
    layer = layers.Dense(np.ones((3, 2)), np.zeros(2), input_grad=False)
    layer.forward(np.ones((4, 3)), train=True)
    assert layer.backward(np.ones((4, 2))) is None and layer.grads["W"].shape == (3, 2)


def test_dropout_scales_kept_units():
    layer = layers.Dropout(0.25, np.random.default_rng(0))
    out = layer.forward(np.ones((1000, 100), np.float32), train=True)
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert abs((out == 0).mean() - 0.25) < 0.01


def test_batch_norm_normalises_in_training():
    layer = layers.BatchNorm(4, np.float64)
    x = np.random.default_rng(0).normal(5, 3, (256, 4))
    out = layer.forward(x, train=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)
    np.testing.assert_allclose(layer.running_mean, 0.01 * x.mean(axis=0))


def test_init_schemes_have_their_scale():
    rng = np.random.default_rng(0)
    assert layers.init_weights(784, 128, "he", rng, np.float64).std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert layers.init_weights(784, 128, "normal", rng, np.float64).std() == pytest.approx(1, rel=0.02)
    limit = np.sqrt(6 / (784 + 128))
    assert np.abs(layers.init_weights(784, 128, "glorot", rng, np.float64)).max() <= limit


def test_reused_buffers_give_the_same_numbers_as_fresh_arrays():
    """Dense's kept output/gradient arrays and ReLU in place: bit-identical to allocating, and the arrays a
    training pass returns are the ones of the previous pass (no per-batch allocation)."""
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    fresh, kept = [layers.Dense(W, b), layers.ReLU()], [layers.Dense(W, b, reuse_output=True),
                                                         layers.ReLU(inplace=True)]
    outs = []
    for _ in range(2):
        x, dout = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
        expected = fresh[1].forward(fresh[0].forward(x, train=True), train=True)
        got = kept[1].forward(kept[0].forward(x, train=True), train=True)
        np.testing.assert_array_equal(got, expected)
        outs.append(got)
        np.testing.assert_array_equal(kept[0].backward(kept[1].backward(dout.copy())),
                                      fresh[0].backward(fresh[1].backward(dout)))
        for name in ("W", "b"):
            np.testing.assert_array_equal(kept[0].grads[name], fresh[0].grads[name])
    assert outs[0] is outs[1]
    x = np.ones((2, 5), np.float32)
    assert kept[0].forward(x) is not kept[0].forward(x)  # inference returns fresh arrays


def test_batch_norm_and_dropout_buffers_give_the_numbers_of_the_textbook_formulas():
    """Batch norm's kept arrays and one-pass statistics: bit-identical to computing mean, var and the gradient
    afresh; dropout's kept mask: the same draws and mask as allocating them."""
    rng = np.random.default_rng(0)
    bn = layers.BatchNorm(6, np.float32)
    bn.params["gamma"][:] = rng.normal(size=6)
    for n in (8, 8, 5):  # the same batch size twice (the arrays are reused), then a smaller last batch
        x, dout = (rng.normal(size=(n, 6)) * 3 + 1).astype(np.float32), rng.normal(size=(n, 6)).astype(np.float32)
        inv_std = 1 / np.sqrt(x.var(axis=0) + bn.eps)
        x_hat = (x - x.mean(axis=0)) * inv_std
        np.testing.assert_array_equal(bn.forward(x, train=True), x_hat * bn.params["gamma"] + bn.params["beta"])
        dx_hat = dout * bn.params["gamma"]
        expected = inv_std * (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0))
        np.testing.assert_array_equal(bn.backward(dout), expected)
        np.testing.assert_array_equal(bn.grads["gamma"], (dout * x_hat).sum(axis=0))
    x = rng.normal(size=(4, 6)).astype(np.float32)
    dropout, draws = layers.Dropout(0.3, np.random.default_rng(1)), np.random.default_rng(1)
    for _ in range(2):
        keep = np.float32(0.7)
        mask = (draws.random(x.shape, dtype=np.float32) < keep) / keep
        np.testing.assert_array_equal(dropout.forward(x, train=True), x * mask)


def test_relu_in_place_overwrites_only_when_training():
    x = np.array([[-1.0, 2.0]])
    layers.ReLU(inplace=True).forward(x)
    np.testing.assert_array_equal(x, [[-1.0, 2.0]])
    layers.ReLU().forward(x, train=True)
    np.testing.assert_array_equal(x, [[-1.0, 2.0]])
    layers.ReLU(inplace=True).forward(x, train=True)
    np.testing.assert_array_equal(x, [[0.0, 2.0]])
