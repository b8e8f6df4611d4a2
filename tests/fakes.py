"""Small stand-ins the unit tests share: random 'images' in place of Fashion-MNIST, a trainer that counts calls."""

import numpy as np

from fmnist_utils.data import Splits


def tiny_splits(n: int = 150, flat: bool = True, train: int = 90, val: int = 30) -> Splits:
    """``n`` random images (10 classes, in turn) split train / val / test, flat (N, 784) or (N, 28, 28, 1)."""
    x = np.random.default_rng(0).random((n, 784), dtype=np.float32).reshape((-1, 784) if flat else (-1, 28, 28, 1))
    y = np.arange(n) % 10
    return Splits(x[:train], y[:train], x[train:train + val], y[train:train + val], x[train + val:], y[train + val:])


class CountingTrainer:
    """A trainer for ``run_experiment`` that returns a fixed result and counts how often it was called."""

    def __init__(self, result=None):
        self.calls = 0
        self.result = result or {"test_accuracy": 0.9, "history": {"val_accuracy": [0.5, 0.75]}}

    def __call__(self, config):
        self.calls += 1
        return dict(self.result)
