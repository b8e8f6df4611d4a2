"""The NumPy network: layers (forward/backward pairs), losses, optimizers and their schedules, build_network,
and the package's layering (data/augment -> nn -> training -> mlp)."""

import ast
from pathlib import Path

import numpy as np
import pytest

from fmnist_utils.nn import build_network, layers, losses, optim
from fmnist_utils.nn.gradcheck import numerical_gradient, relative_error
from fmnist_utils.nn.network import Network

# ------------------------------------------------------------------ layers


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


# ------------------------------------------------------------------ losses, layer details


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


def test_softmax_cross_entropy_is_stable():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    loss, dlogits = losses.softmax_cross_entropy(logits, np.array([2, 0]))
    assert np.isfinite(loss) and loss == pytest.approx((2000 + np.log(3)) / 2)
    np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-12)


def test_soft_target_cross_entropy_matches_labels_when_one_hot():
    logits = np.random.default_rng(0).normal(size=(5, 4))
    y = np.array([0, 3, 1, 1, 2])
    hard = losses.softmax_cross_entropy(logits, y)
    soft = losses.softmax_cross_entropy(logits, np.eye(4)[y])
    assert soft[0] == pytest.approx(hard[0])
    np.testing.assert_allclose(soft[1], hard[1])
    uniform = losses.softmax_cross_entropy(np.zeros((2, 4)), np.full((2, 4), 0.25))
    assert uniform[0] == pytest.approx(np.log(4)) and not uniform[1].any()  # already at the target: no gradient


def test_sgd_variants_match_their_update_rules():
    def one_param_net(w):
        layer = layers.Dense(np.array([[w]]), np.zeros(1))
        layer.grads = {"W": np.array([[1.0]]), "b": np.zeros(1)}
        return Network([layer]), layer

    net, layer = one_param_net(0.0)
    opt = optim.SGD(0.1, momentum=0.9, nesterov=False)
    opt.step(net)
    opt.step(net)  # v1 = -0.1, v2 = -0.19; w = -0.29
    assert layer.params["W"][0, 0] == pytest.approx(-0.29)
    net, layer = one_param_net(0.0)
    opt = optim.SGD(0.1, momentum=0.9, nesterov=True)
    opt.step(net)  # v = -0.1; w += 0.9 v - 0.1 = -0.19
    assert layer.params["W"][0, 0] == pytest.approx(-0.19)
    net, layer = one_param_net(0.0)
    optim.Adam(0.1).step(net)  # first Adam step moves by lr * sign(grad)
    assert layer.params["W"][0, 0] == pytest.approx(-0.1, rel=1e-6)


def test_learning_rate_schedules():
    assert optim.scheduled_learning_rate(0.1, 25, "step", 50, step_size=10, step_factor=0.5) == pytest.approx(0.025)
    assert optim.scheduled_learning_rate(0.1, 0, "cosine", 50) == pytest.approx(0.1)
    assert optim.scheduled_learning_rate(0.1, 25, "cosine", 50) == pytest.approx(0.05)
    assert optim.scheduled_learning_rate(0.1, 7, "constant", 50) == 0.1


def test_init_schemes_have_their_scale():
    rng = np.random.default_rng(0)
    assert layers.init_weights(784, 128, "he", rng, np.float64).std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert layers.init_weights(784, 128, "normal", rng, np.float64).std() == pytest.approx(1, rel=0.02)
    limit = np.sqrt(6 / (784 + 128))
    assert np.abs(layers.init_weights(784, 128, "glorot", rng, np.float64)).max() <= limit


# ------------------------------------------------------------------ optimizers own the learning rate


def test_optimizer_schedule_changes_its_learning_rate_at_epoch_ends():
    opt = optim.SGD(0.1, schedule="step", step_size=2, step_factor=0.5)
    rates = [opt.learning_rate]
    for epoch in range(1, 5):
        opt.epoch_ends(epoch)
        rates.append(opt.learning_rate)
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    cosine = optim.Adam(0.01, schedule="cosine", total_epochs=4)
    cosine.epoch_ends(2)
    assert cosine.learning_rate == pytest.approx(0.005)
    cosine.epoch_ends(9)  # past total_epochs (a warm start): the rate stays at 0
    assert cosine.learning_rate == 0


def test_step_uses_the_optimizers_current_learning_rate():
    layer = layers.Dense(np.zeros((1, 1)), np.zeros(1))
    layer.grads = {"W": np.ones((1, 1)), "b": np.zeros(1)}
    opt = optim.SGD(1.0, schedule="step", step_size=1, step_factor=0.1)
    opt.step(Network([layer]))
    opt.epoch_ends(1)
    opt.step(Network([layer]))
    assert layer.params["W"][0, 0] == pytest.approx(-1.1)


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match="'constant', 'step' or 'cosine'"):
        optim.SGD(0.1, schedule="linear")
    with pytest.raises(ValueError, match="total_epochs"):
        optim.SGD(0.1, schedule="cosine")


# ------------------------------------------------------------------ network


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


# ------------------------------------------------------------------ layering

PACKAGE = Path(__file__).resolve().parents[1] / "fmnist_utils"
# each module of the NumPy side, and the fmnist_utils modules it may import (nothing from a higher layer)
LAYERS = {
    "augment": set(), "data": {"paths"},
    "nn": {"nn"},
    "training": {"nn", "augment"},
    "mlp": {"nn", "training", "augment"},
}


def _imported_modules(path: Path) -> set[str]:
    """fmnist_utils modules that ``path`` imports anywhere, inside functions too: ``nn`` for ``.nn.layers``."""
    package = path.parent.relative_to(PACKAGE.parent).parts  # ("fmnist_utils",) or ("fmnist_utils", "nn")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            parts = base + (node.module.split(".") if node.module else [])
            names = [parts] if node.module else [parts + [alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        else:
            continue
        found |= {p[1] for p in names if len(p) > 1 and p[0] == "fmnist_utils"}
    return found


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_layers_import_only_downwards(module):
    paths = sorted((PACKAGE / "nn").glob("*.py")) if module == "nn" else [PACKAGE / f"{module}.py"]
    for path in paths:
        assert _imported_modules(path) <= LAYERS[module], path.name
