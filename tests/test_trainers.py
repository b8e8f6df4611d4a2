"""The trainers the runner calls: the NumPy MLP's refit, flip TTA and stored probabilities."""

import numpy as np
import pytest
from fakes import tiny_splits

from fmnist_utils.runs.trainers import train_numpy_mlp


def train(config):
    """``train_numpy_mlp`` on 150 random images: 90 train, 30 validation, 30 test."""
    return train_numpy_mlp(config, data=tiny_splits())


def test_numpy_mlp_refit_on_train_and_val_and_flip_tta():
    params = {"hidden_layer_sizes": [8], "max_iter": 2, "n_iter_no_change": None, "batch_size": 30}
    plain = train({"params": params, "seed": 0, "verbose": False, "store_test_proba": True})
    assert plain["history"]["val_accuracy"] and "val_accuracy" in plain and "tta" not in plain
    assert plain["arrays"]["test_proba"].shape == (30, 10)
    assert "arrays" not in train({"params": params, "seed": 0, "verbose": False})
    refit = train({"params": params, "seed": 0, "verbose": False, "fit_on": "train+val",
                                "flip_tta": True, "store_test_proba": True})
    assert "val_accuracy" not in refit and refit["history"]["val_accuracy"] == []
    assert len(refit["batch_loss"]) == 2 * 4  # 120 images in batches of 30, twice
    assert set(refit["tta"]) == {"test_accuracy"} and set(refit["arrays"]) == {"test_proba", "test_proba_tta"}
    # the plain predictor is stored beside the flip-averaged one, so either can be chosen on validation
    plain_refit = train({"params": params, "seed": 0, "verbose": False, "fit_on": "train+val",
                                      "store_test_proba": True})
    np.testing.assert_array_equal(refit["arrays"]["test_proba"], plain_refit["arrays"]["test_proba"])
    assert not np.array_equal(refit["arrays"]["test_proba_tta"], refit["arrays"]["test_proba"])
    with pytest.raises(ValueError, match="fit_on must be"):
        train({"params": params, "seed": 0, "fit_on": "test"})
