"""The Keras trainer: deterministic runs, what the runner stores, divergence, refits, TTA and folds."""

import numpy as np
import pytest
from fakes import tiny_splits

from fmnist_utils import augment
from fmnist_utils.keras.train import shift_tta_proba, train_keras
from fmnist_utils.runs.store import run_experiment


def train(config):
    """``train_keras`` on 100 random images (60 train, 20 validation, 20 test), flat for an MLP."""
    return train_keras(config, data=tiny_splits(100, flat=config["model"]["kind"] == "mlp", train=60, val=20))


def test_train_keras_is_deterministic_and_stores_what_the_runner_needs(tmp_path):
    config = {"model": {"kind": "mlp", "hidden": [8]}, "optimizer": {"name": "sgd", "learning_rate": 0.1},
              "batch_size": 16, "epochs": 3, "seed": 0, "early_stopping": {"patience": 1}, "store_test_proba": True}
    first = train(config)
    second = train(config)
    without_timing = lambda out: {k: v for k, v in out["history"].items() if k != "seconds"}
    assert without_timing(first) == without_timing(second)
    assert set(first["history"]) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert first["arrays"]["test_proba"].shape == (20, 10)
    record = run_experiment("keras", config, train, root=tmp_path)
    assert record["status"] == "ok" and 1 <= record["best_epoch"] <= record["epochs"] <= 3
    assert "tensorflow" in record["versions"]


def test_train_keras_cnn_runs():
    out = train({"model": {"kind": "cnn", "filters": [4], "dense": []},
                                    "optimizer": {"name": "adam"}, "batch_size": 32, "epochs": 1, "seed": 1,
                                    "reduce_lr": {"patience": 1, "factor": 0.5}})
    assert out["epochs"] == 1 and 0 <= out["test_accuracy"] <= 1


def test_exploding_loss_is_recorded_as_diverged():
    out = train({"model": {"kind": "mlp", "hidden": [64, 64]},
                                    "optimizer": {"name": "sgd", "learning_rate": 1e6}, "batch_size": 10,
                                    "epochs": 3, "seed": 0, "divergence_factor": 10.0})
    assert out["status"] == "diverged" and out["diverged_epoch"] == 1
    assert "test_accuracy" not in out


def test_train_subset_is_class_balanced_and_recorded():
    out = train({"model": {"kind": "mlp", "hidden": [4]}, "optimizer": {"name": "adam"},
                                    "batch_size": 10, "epochs": 1, "seed": 0, "train_subset": 30, "verbose": False})
    assert out["n_train"] == 30
    with pytest.raises(ValueError, match="n must be between"):
        train({"model": {"kind": "mlp", "hidden": [4]}, "optimizer": {"name": "adam"},
                                  "batch_size": 10, "epochs": 1, "seed": 0, "train_subset": 600})


def test_cosine_label_smoothing_tta_and_folds():
    config = {"model": {"kind": "cnn", "filters": [4], "dense": [], "flip": True}, "batch_size": 16, "epochs": 2,
              "optimizer": {"name": "adamw", "learning_rate": 0.01, "schedule": "cosine"}, "seed": 0,
              "label_smoothing": 0.1, "flip_tta": True, "store_test_proba": True, "cv_fold": [1, 3],
              "store_train_proba": True, "store_train_proba_shifts": 1}
    out = train(config)
    assert out["n_train"] == 40  # two of three folds of the 60 training images
    train_proba = out["arrays"]["train_proba"].astype(np.float32)
    assert train_proba.shape == (60, 10)  # a teacher's targets cover the whole standard training split
    np.testing.assert_allclose(train_proba.sum(axis=1), 1, atol=1e-2)
    per_view = out["arrays"]["train_proba_shifts"].astype(np.float32)
    assert per_view.shape == (60, 9, 10)  # one row per translation of augment.shift_views(1)
    np.testing.assert_array_equal(per_view[:, augment.shift_views(1).index((0, 0))], train_proba)
    assert not np.allclose(per_view[:, 0], train_proba)
    assert 0 <= out["fold_accuracy"] <= 1 and set(out["tta"]) == {"val_accuracy", "test_accuracy"}
    assert out["history"]["lr"][-1] < out["history"]["lr"][0] < 0.01  # decays within the first epoch already
    proba = out["arrays"]["test_proba_tta"].astype(np.float32)
    assert proba.shape == (20, 10)
    assert out["tta"]["test_accuracy"] == pytest.approx((proba.argmax(1) == np.arange(80, 100) % 10).mean())
    with pytest.raises(ValueError, match="cv_fold must be"):
        train({**config, "cv_fold": [3, 3]})
    with pytest.raises(ValueError, match="schedule must be"):
        train({**config, "cv_fold": None, "optimizer": {"name": "adam", "schedule": "step"}})


def test_refit_on_train_and_val_trains_on_both_and_reports_no_validation():
    config = {"model": {"kind": "cnn", "filters": [4], "dense": [], "flip": True}, "batch_size": 16, "epochs": 2,
              "optimizer": {"name": "adamw", "learning_rate": 0.01, "schedule": "cosine"}, "seed": 0,
              "flip_tta": True, "store_test_proba": True, "fit_on": "train+val", "verbose": False, "tta_shifts": [1]}
    out = train(config)
    assert out["n_train"] == 80  # the 60 training images and the 20 validation images
    assert "val_accuracy" not in out and "val_accuracy" not in out["history"] and set(out["tta"]) == {"test_accuracy"}
    assert out["best_epoch"] == out["epochs"] == 2 and out["arrays"]["test_proba_tta"].shape == (20, 10)
    assert set(out["tta_views"]) == {"flip+shift1"} and set(out["tta_views"]["flip+shift1"]) == {"test_accuracy"}
    assert out["arrays"]["test_proba_flip+shift1"].shape == (20, 10)
    with pytest.raises(ValueError, match="drop early_stopping"):
        train({**config, "early_stopping": {"patience": 3}})
    with pytest.raises(ValueError, match="fit_on must be"):
        train({**config, "fit_on": "val"})


def test_shift_tta_averages_ten_views():
    class Recorder:  # a stand-in model: the k-th view it is shown scores k for every class
        views: list = []

        def predict(self, x, **kwargs):
            self.views.append(x.copy())
            return np.full((len(x), 10), float(len(self.views)))

    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    model = Recorder()
    proba = shift_tta_proba(model, x, 2)
    assert len(model.views) == 10 and np.allclose(proba, 5.5)
    assert (model.views[0] == x).all() and (model.views[2] == augment.shift_images(x, 2, 0)).all()
    assert (model.views[5] == augment.flip_horizontal(x)).all()
    assert (model.views[9] == augment.flip_horizontal(augment.shift_images(x, 0, 2))).all()
