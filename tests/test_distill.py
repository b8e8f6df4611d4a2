"""Distillation: a stored teacher's probabilities (once per image or per view) as the student's targets."""

import numpy as np
import pytest
from fakes import CountingTrainer, tiny_splits

from fmnist_utils.runs.distill import distillation_targets
from fmnist_utils.runs.store import run_experiment
from fmnist_utils.runs.trainers import train_numpy_mlp


def train(config):
    """``train_numpy_mlp`` on 150 random images: 90 train, 30 validation, 30 test."""
    return train_numpy_mlp(config, data=tiny_splits())


def test_numpy_mlp_distils_a_stored_teacher(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_RESULTS_DIR", str(tmp_path))
    y_train = np.arange(90) % 10
    teacher_proba = np.full((90, 10), 0.02)
    teacher_proba[np.arange(90), (y_train + 1) % 10] = 0.82  # a teacher that always says "the next class"
    trainer = CountingTrainer({"val_accuracy": 0.5, "arrays": {"train_proba": teacher_proba.astype(np.float16)}})
    teacher = {"experiment": "teacher", "config": {"seed": 0}}
    run_experiment("teacher", teacher["config"], trainer)

    soft = distillation_targets({**teacher, "temperature": 1.0}, y_train)
    np.testing.assert_allclose(soft, teacher_proba, atol=1e-3)
    softer = distillation_targets({**teacher, "temperature": 4.0}, y_train)
    assert softer.max() < soft.max() and np.allclose(softer.sum(axis=1), 1)
    np.testing.assert_allclose(distillation_targets({**teacher, "label_weight": 1.0}, y_train), np.eye(10)[y_train])

    params = {"hidden_layer_sizes": [16], "max_iter": 40, "n_iter_no_change": None, "batch_size": 30,
              "learning_rate_init": 0.1}
    student = train({"params": params, "seed": 0, "verbose": False, "teacher": teacher})
    assert trainer.calls == 1  # the stored teacher is reused, not retrained
    assert student["train_accuracy"] < 0.5  # it learnt the teacher's shifted labels, not the true ones
    with pytest.raises(ValueError, match="use fit_on='train'"):
        train({"params": params, "seed": 0, "teacher": teacher, "fit_on": "train+val"})
    run_experiment("short_teacher", {"seed": 0}, CountingTrainer({"arrays": {"train_proba": teacher_proba[:5]}}))
    with pytest.raises(ValueError, match="store_train_proba=True"):
        distillation_targets({"experiment": "short_teacher", "config": {"seed": 0}}, y_train)


def test_per_view_teacher_gives_one_target_per_translation(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_RESULTS_DIR", str(tmp_path))
    y_train = np.arange(90) % 10
    per_view = np.full((90, 9, 10), 0.02)
    per_view[np.arange(90)[:, None], np.arange(9)[None, :], (y_train[:, None] + np.arange(9)) % 10] = 0.82
    teacher = {"experiment": "teacher", "config": {"seed": 0, "store_train_proba_shifts": 1}}
    run_experiment("teacher", teacher["config"],
                      CountingTrainer({"arrays": {"train_proba_shifts": per_view.astype(np.float16)}}))
    soft = distillation_targets({**teacher, "label_weight": 0.5}, y_train)
    assert soft.shape == (90, 9, 10)
    np.testing.assert_allclose(soft[:, 0], 0.5 * np.eye(10)[y_train] + 0.5 * per_view[:, 0], atol=1e-3)
    assert (soft[:, 3].argmax(axis=1) == y_train).all() and (soft[:, 3].max(axis=1) < 0.6).all()
    params = {"hidden_layer_sizes": [16], "max_iter": 2, "n_iter_no_change": None, "augment_shift": 1}
    student = train({"params": params, "seed": 0, "verbose": False, "teacher": teacher})
    assert student["epochs"] == 2
    with pytest.raises(ValueError, match="augment_shift > 0"):
        train({"params": {**params, "augment_shift": 0}, "seed": 0, "teacher": teacher})
