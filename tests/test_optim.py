"""Optimizers own the learning rate and its schedule: update rules, schedules, epoch ends."""

import numpy as np
import pytest

from fmnist_utils.nn import layers, optim
from fmnist_utils.nn.network import Network


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


def test_chunk_slices_cover_the_array_in_whole_rows():
    assert optim.chunk_slices((10, 3), chunk_elements=7) == [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 8),
                                                             slice(8, 10)]
    assert optim.chunk_slices((10,), chunk_elements=4) == [slice(0, 4), slice(4, 8), slice(8, 12)]
    assert optim.chunk_slices((2, 50), chunk_elements=7) == [slice(0, 1), slice(1, 2)]  # a row is the least


@pytest.mark.parametrize("make", [lambda: optim.Adam(0.01), lambda: optim.SGD(0.1),
                                  lambda: optim.SGD(0.1, momentum=0.9), lambda: optim.SGD(0.1, momentum=0.9,
                                                                                         nesterov=True)])
def test_chunked_updates_are_bit_identical_to_whole_array_updates(make, monkeypatch):
    """The update runs chunk by chunk for cache's sake, on several threads if asked; every element must get exactly
    the whole-array result."""
    def train(chunk_elements, workers=1):
        monkeypatch.setattr(optim, "CHUNK_ELEMENTS", chunk_elements)
        rng = np.random.default_rng(0)
        layer = layers.Dense(rng.normal(size=(13, 7)).astype(np.float32), np.zeros(7, np.float32))
        net, opt = Network([layer]), make()
        opt.workers = workers
        for _ in range(3):
            layer.grads = {"W": rng.normal(size=(13, 7)).astype(np.float32), "b": rng.normal(size=7).astype(np.float32)}
            opt.step(net)
        return layer.params["W"], layer.params["b"]

    whole = train(10**9)
    for chunked in (train(20), train(20, workers=3)):  # 20 elements: 2 rows of W a chunk, the last one row
        for a, b in zip(whole, chunked):
            np.testing.assert_array_equal(a, b)
