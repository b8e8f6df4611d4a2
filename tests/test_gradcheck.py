"""Backprop agrees with finite differences (< 1e-6 relative error, float64) for every layer kind."""

import numpy as np
import pytest

from fmnist_utils.mlp import MLPClassifier
from fmnist_utils.nn.gradcheck import (
    check_gradients,
    check_single_weights,
    error_bound,
    error_label,
    numerical_gradient,
    perturbation_errors,
    relative_error,
    round_significant,
)


def small_net(**params):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 6))
    y = np.arange(12) % 3
    clf = MLPClassifier(hidden_layer_sizes=(5, 4), dtype="float64", max_iter=1, random_state=0, **params)
    clf.fit(x, y)  # builds the network; one epoch moves weights off their initial values
    return clf.network_, x, y


@pytest.mark.parametrize("params", [
    {"activation": "identity"},
    {"activation": "relu"},
    {"activation": "leaky_relu", "leaky_relu_slope": 0.1},
    {"activation": "tanh"},
    {"activation": "logistic"},
    {"activation": "tanh", "alpha": 0.5, "l1": 0.2},
    {"activation": "tanh", "alpha": 0.5, "l2_first_layer_only": True},
    {"activation": "tanh", "batch_norm": True},
    {"activation": "relu", "dropout": 0.3},
    {"activation": "relu", "input_dropout": 0.2, "dropout": 0.1},
    {"activation": "leaky_relu", "batch_norm": True, "dropout": 0.2, "alpha": 0.1, "l1": 0.05},
], ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_backprop_matches_finite_differences(params):
    net, x, y = small_net(**params)
    table = check_gradients(net, x, y)
    kinds = set(table["parameter"])
    assert {"W", "b"} <= kinds
    if params.get("batch_norm"):
        assert {"gamma", "beta"} <= kinds
    assert table["relative error"].max() < 1e-6, table.to_string()


def test_backprop_matches_finite_differences_with_soft_targets():
    net, x, y = small_net(activation="relu", dropout=0.2)
    soft = np.random.default_rng(1).dirichlet(np.ones(3), size=len(y))  # a teacher's probabilities
    table = check_gradients(net, x, soft)
    assert table["relative error"].max() < 1e-6, table.to_string()


def test_check_detects_a_wrong_gradient():
    net, x, y = small_net(activation="tanh")
    dense = net.dense_layers[1]
    original = dense.backward

    def wrong_backward(dout):
        dx = original(dout)
        dense.grads["W"] = dense.grads["W"] * 1.01  # a 1 % error in one gradient
        return dx

    dense.backward = wrong_backward
    table = check_gradients(net, x, y)
    assert table["relative error"].max() > 1e-3


def test_numerical_gradient_of_a_quadratic():
    p = np.array([1.0, -2.0, 3.0])
    grad = numerical_gradient(lambda: float((p**2).sum()), p)
    np.testing.assert_allclose(grad, 2 * p, rtol=1e-8)
    assert relative_error(grad, 2 * p) < 1e-9 and relative_error(p, -p) == 1.0


def test_single_weight_table_difference_is_second_order():
    net, x, y = small_net(activation="tanh")
    picks = [(0, "W", (0, 0)), (0, "b", (1,)), (2, "W", (3, 2))]
    big = check_single_weights(net, x, y, picks, eps=1e-2)["difference"].to_numpy()
    small = check_single_weights(net, x, y, picks, eps=1e-3)["difference"].to_numpy()
    assert (big < 1e-3).all()
    assert (small < big / 10).all()  # O(eps^2): 10x smaller eps, ~100x smaller difference


def test_float32_network_is_refused():
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=1).fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="float64"):
        check_gradients(clf.network_, np.eye(4), np.array([0, 1, 0, 1]))


def test_perturbation_errors_fall_with_epsilon_until_rounding():
    net, x, y = small_net(activation="tanh")
    big, mid, tiny = gradcheck_errors = perturbation_errors(net, x, y, 0, "W", [(0, 0), (1, 2)], [1e-1, 1e-5, 1e-13])
    assert mid < big / 1e4  # truncation error ~ eps^2
    assert tiny > mid  # rounding error ~ 1 / eps
    assert len(gradcheck_errors) == 3


def test_error_label_hides_only_round_off_below_the_floor():
    assert error_label(3.2e-7) == "3e-07"
    assert error_label(7e-10) == error_label(2.8e-8) == "< 1e-07"
    assert error_label(0.5) == "5e-01"  # a wrong gradient stays visible


@pytest.mark.parametrize("error, bound", [(2.697e-08, 1e-07), (2.795e-08, 1e-07), (1e-07, 1e-07), (3e-12, 1e-11),
                                          (0.0, 0.0)])
def test_error_bound_is_the_power_of_ten_above(error, bound):
    assert error_bound(error) == bound


def test_round_significant_keeps_digits_that_round_off_does_not_move():
    assert round_significant(3.633e-07) == round_significant(3.6331e-07) == 3.6e-07
    assert round_significant(3.960e-10, 3) == 3.96e-10
