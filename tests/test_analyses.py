"""The stored non-training computations: inputs of the gradient checks, perturbation curves, embeddings."""

import numpy as np
import pytest

from fmnist_utils.data import CLASS_NAMES
from fmnist_utils.runs import analyses


@pytest.fixture
def tiny_data(monkeypatch):
    """300 random 'images' of 10 classes in place of Fashion-MNIST (unit tests make their arrays)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(300, 28, 28), dtype=np.uint8)
    y = np.repeat(np.arange(10, dtype=np.uint8), 30)[rng.permutation(300)]
    monkeypatch.setattr(analyses, "load_fashion_mnist", lambda: ((x, y), (x[:10], y[:10])))
    return x, y


def test_first_image_of_each_class(tiny_data):
    x, y = tiny_data
    x10, y10 = analyses.first_image_of_each_class()
    assert x10.shape == (10, 784) and x10.dtype == np.float64 and list(y10) == list(range(len(CLASS_NAMES)))
    assert np.array_equal(x10[3], x[np.flatnonzero(y == 3)[0]].reshape(-1) / 255.0)


def test_perturbation_curves_form_a_v(tiny_data):
    eps_values = np.logspace(-1, -10, 10).tolist()
    out = analyses.perturbation_curves({"network": {"activation": "tanh"}, "eps_values": eps_values,
                                        "elements": {"b": [[0], [4]]}})
    errors = np.array(out["errors"]["b"])
    assert errors.shape == (10,)
    best = int(errors.argmin())
    assert 0 < best < 9 and errors[best] < 1e-6 < min(errors[0], errors[-1])  # truncation, then round-off


def test_embedding_2d_stores_coordinates_for_each_image(tiny_data):
    out = analyses.embedding_2d({"n": 100, "seed": 0, "pca_components": 5, "perplexity": 10})
    arrays = out["arrays"]
    assert arrays["pca"].shape == arrays["tsne"].shape == (100, 2) and arrays["pca"].dtype == np.float32
    assert np.bincount(arrays["labels"], minlength=10).tolist() == [10] * 10
    assert 0 < out["explained_variance_first_2"] < out["explained_variance_all"] <= 1
