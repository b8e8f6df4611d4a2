"""The network: build_network's layout, shapes and draw order, its state, chunked forward passes."""

import numpy as np
import pytest

from fmnist_utils.nn import build_network, layers


def test_build_network_lays_out_the_layers_and_shapes():
    net = build_network(784, 10, (32, 16), "leaky_relu", rng=np.random.default_rng(0), dtype="float64",
                        leaky_relu_slope=0.2, batch_norm=True, dropout=0.3, input_dropout=0.1)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Dropout", "Dense", "LeakyReLU", "BatchNorm", "Dropout", "Dense", "LeakyReLU", "BatchNorm",
                     "Dropout", "Dense"]
    assert [d.params["W"].shape for d in net.dense_layers] == [(784, 32), (32, 16), (16, 10)]
    assert [d.input_grad for d in net.dense_layers] == [False, True, True]
    assert net.layers[2].slope == 0.2 and net.layers[0].rate == 0.1 and net.layers[4].rate == 0.3
    assert all(layer.params[k].dtype == np.float64 for layer, k in net.parameters())
    x = np.random.default_rng(1).random((7, 784))
    assert net.forward(x).shape == (7, 10) and net.forward(x, train=True).shape == (7, 10)
    assert build_network(5, 3, (), rng=np.random.default_rng(0)).forward(np.ones((2, 5), np.float32)).dtype \
        == np.float32
    with pytest.raises(ValueError, match="activation must be one of"):
        build_network(5, 3, (4,), "swish", rng=np.random.default_rng(0))


def test_build_network_draws_weights_layer_by_layer():
    net = build_network(6, 3, (4,), rng=np.random.default_rng(0), init="glorot")
    rng = np.random.default_rng(0)
    for d in net.dense_layers:
        fan_in, fan_out = d.params["W"].shape
        np.testing.assert_array_equal(d.params["W"], layers.init_weights(fan_in, fan_out, "glorot", rng, "float32"))
        assert not d.params["b"].any()


def test_state_round_trip_restores_weights_and_running_statistics():
    net = build_network(5, 3, (4,), rng=np.random.default_rng(0), batch_norm=True)
    x = np.random.default_rng(1).random((8, 5), dtype=np.float32)
    saved, before = net.state(), net.forward(x)
    net.forward(x * 3, train=True)  # moves the running statistics
    net.dense_layers[0].params["W"] += 1
    net.load_state(saved)
    np.testing.assert_array_equal(net.forward(x), before)


def test_forward_in_chunks_matches_one_pass():
    net = build_network(5, 3, (4,), rng=np.random.default_rng(0))
    x = np.random.default_rng(1).random((10, 5), dtype=np.float32)
    np.testing.assert_array_equal(net.forward_in_chunks(x, chunk=3), net.forward(x))


@pytest.mark.parametrize("activation, batch_norm", [("relu", True), ("relu", False), ("tanh", False),
                                                    ("logistic", False), ("identity", True)])
def test_in_place_layers_give_the_numbers_of_allocating_ones(activation, batch_norm):
    """build_network's hidden layers overwrite arrays the network owns (Dense and batch-norm outputs, ReLU and
    dropout in place), except where a layer's output is its own cache (tanh, sigmoid): two training steps give the
    logits and gradients of the same layers allocating every array."""
    def make():
        return build_network(12, 3, (8, 6), activation, rng=np.random.default_rng(0), batch_norm=batch_norm,
                             dropout=0.3)

    fast, plain = make(), make()
    for layer in plain.layers:  # the textbook versions: fresh arrays everywhere
        for flag in ("inplace", "reuse_output"):
            if hasattr(layer, flag):
                setattr(layer, flag, False)
    data = np.random.default_rng(1)
    for _ in range(2):
        x, y = data.normal(size=(5, 12)).astype(np.float32), data.integers(0, 3, 5)
        results = [net.loss_and_grads(x, y) for net in (fast, plain)]
        np.testing.assert_array_equal(results[0][2], results[1][2])
        for (layer, name), (twin, _) in zip(fast.parameters(), plain.parameters()):
            np.testing.assert_array_equal(layer.grads[name], twin.grads[name])
