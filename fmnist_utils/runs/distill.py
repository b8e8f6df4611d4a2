"""Knowledge distillation: a stored CNN teacher's probabilities as the NumPy MLP's training targets."""

from __future__ import annotations

import numpy as np

from ..keras.train import train_keras
from .store import load_arrays, run_experiment


def distillation_targets(teacher: dict, y: np.ndarray) -> np.ndarray:
    """Soft targets (N, 10) for the training split from a stored teacher run (knowledge distillation).

    teacher: ``experiment`` and ``config`` of a ``train_keras`` run with ``store_train_proba`` (trained on the
    training split only, so validation stays unseen), ``temperature`` T (the teacher's probabilities p become
    p ** (1/T), renormalised: a softmax of its logits / T; T > 1 softens them) and ``label_weight`` w (targets
    are w * one-hot(y) + (1 - w) * softened p). A teacher config with ``store_train_proba_shifts`` gives
    (N, views, 10) targets, one row per translation, for a student trained with shifts of as many pixels.
    """
    record = run_experiment(teacher["experiment"], teacher["config"], train_keras)  # trains only if not stored
    per_view = bool(teacher["config"].get("store_train_proba_shifts"))
    proba = load_arrays(record).get("train_proba_shifts" if per_view else "train_proba")
    if proba is None or len(proba) != len(y):
        raise ValueError(f"teacher run {record['_path']} has no training-split probabilities for {len(y)} images; "
                         "train the teacher with store_train_proba=True (or store_train_proba_shifts) on the "
                         "standard split")
    softened = np.power(proba.astype(np.float64), 1 / teacher.get("temperature", 1.0))
    softened /= softened.sum(axis=-1, keepdims=True)
    weight = teacher.get("label_weight", 0.0)
    one_hot = np.eye(softened.shape[-1])[y]
    return weight * (one_hot[:, None, :] if per_view else one_hot) + (1 - weight) * softened


def student_config(params: dict, teacher_experiment: str, teacher_config: dict, temperature: float,
                   label_weight: float, seed: int = 0) -> dict:
    """A ``train_numpy_mlp`` configuration for our MLP learning a stored teacher's soft targets
    (``distillation_targets``), with flip test-time augmentation measured and test probabilities stored."""
    return {"params": params, "flip_tta": True, "seed": seed, "store_test_proba": True,
            "teacher": {"experiment": teacher_experiment, "config": teacher_config, "temperature": temperature,
                        "label_weight": label_weight}}
