"""Softmax cross-entropy: numerically stable, and the same for labels and their one-hot targets."""

import numpy as np
import pytest

from fmnist_utils.nn import losses


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
