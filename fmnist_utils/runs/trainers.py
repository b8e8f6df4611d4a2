"""The trainers the runner calls: each takes a configuration and returns what ``run_experiment`` stores.

``train_numpy_mlp`` trains our NumPy MLP; ``train_keras`` (from ``fmnist_utils.keras.train``) a Keras model.
Both take the splits as an argument (default: ``load_splits`` as the configuration asks), so tests pass small ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..augment import flip_horizontal
from ..data import Splits, load_splits
from ..keras.train import train_keras
from ..mlp import MLPClassifier
from .distill import distillation_targets
from .store import run_seeds

__all__ = ["mlp_runs", "refit_config", "train_keras", "train_numpy_mlp"]


MAX_STORED_BATCH_LOSSES = 2000


def _downsample(values: list[float], limit: int = MAX_STORED_BATCH_LOSSES) -> tuple[list[float], int]:
    every = max(1, int(np.ceil(len(values) / limit)))
    return [round(float(v), 5) for v in values[::every]], every


def train_numpy_mlp(config: dict, data: Splits | None = None) -> dict:
    """Train our NumPy ``MLPClassifier`` on the standard split and evaluate it.

    config: ``params`` (MLPClassifier keyword arguments), ``seed`` (its random_state),
    optionally ``normalize`` (see ``data.load_splits``, default ``"scale"``), ``store_test_proba``,
    ``fit_on`` (``"train"``, default, or ``"train+val"``: refit a configuration already chosen on validation
    on all 60,000 training images, for a fixed number of epochs; validation metrics are then omitted) and
    ``flip_tta`` (also score the mean of the probabilities of each image and its mirror image, under ``tta``;
    with ``store_test_proba`` both predictors' test probabilities are stored, as for Keras runs) and ``teacher``
    (distillation: train on ``distillation_targets(teacher, y_train)`` instead of the labels alone).
    data: the splits (default: ``load_splits(config["normalize"])``).
    Selection (early stopping) uses the validation split; test metrics are reported, never used.
    """
    data = data or load_splits(config.get("normalize", "scale"))
    fit_on = config.get("fit_on", "train")
    if fit_on not in ("train", "train+val"):
        raise ValueError(f"config fit_on must be 'train' or 'train+val', got {fit_on!r}")
    if config.get("teacher") and fit_on != "train":
        raise ValueError("config teacher: the teacher's soft targets cover the 48,000 training images only; "
                         "use fit_on='train'")
    clf, caught = _fit_mlp(config, data, fit_on)
    batch_loss, every = _downsample(clf.batch_loss_)
    out = {
        "history": {k: [round(float(v), 6) for v in vals] for k, vals in clf.history_.items()},
        "batch_loss": batch_loss,
        "batch_loss_every": every,
        "epochs": clf.n_iter_,
        "n_parameters": clf.n_parameters_,
        "warnings": sorted({str(w.message) for w in caught}),
    }
    if clf.diverged_epoch_ is not None:
        return {**out, "status": "diverged", "diverged_epoch": clf.diverged_epoch_}
    out["best_epoch"] = getattr(clf, "best_epoch_", clf.n_iter_)
    splits = ("train", "val", "test") if fit_on == "train" else ("train", "test")
    return {**out, **_mlp_scores(clf, data, config, splits)}


def _fit_mlp(config: dict, data: Splits, fit_on: str) -> tuple[MLPClassifier, list]:
    """The fitted classifier and the ConvergenceWarnings it raised (stored with the run)."""
    soft = distillation_targets(config["teacher"], data.y_train) if config.get("teacher") else None
    clf = MLPClassifier(**config["params"], random_state=config["seed"], verbose=config.get("verbose", True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        if fit_on == "train":
            clf.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), soft_targets=soft)
        else:
            clf.fit(np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val]))
    return clf, caught


def _mlp_scores(clf: MLPClassifier, data: Splits, config: dict, splits: tuple[str, ...]) -> dict:
    """Accuracy and loss on each split, flip-TTA accuracies and the stored test probabilities the config asks for."""
    out: dict = {}
    for split in splits:
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        out[f"{split}_accuracy"] = round(float(clf.score(x, y)), 6)
        out[f"{split}_loss"] = round(float(clf.log_loss(x, y)), 6)
    tta_test_proba = None
    if config.get("flip_tta"):
        out["tta"] = {}
        for split in splits[1:]:
            x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
            proba = (clf.predict_proba(x) + clf.predict_proba(flip_horizontal(x))) / 2
            out["tta"][f"{split}_accuracy"] = round(float((clf.classes_[proba.argmax(1)] == y).mean()), 6)
        tta_test_proba = proba  # the last split is test
    if config.get("store_test_proba"):
        arrays = {"test_proba": clf.predict_proba(data.x_test), "test_proba_tta": tta_test_proba}
        out["arrays"] = {name: p.astype(np.float16) for name, p in arrays.items() if p is not None}
    return out


def mlp_runs(experiment: str, params: dict, seeds: Iterable[int] = (0, 1, 2), **extra) -> list[dict]:
    """Our MLP with these ``MLPClassifier`` parameters, once per seed (stored runs replay); ``extra`` is the rest
    of the run configuration (``normalize``, ``flip_tta``, ``store_test_proba``...)."""
    return run_seeds(experiment, {"params": params, **extra}, train_numpy_mlp, seeds)


def refit_config(config: dict, n_train: int, n_all: int = 60_000) -> dict:
    """A NumPy-MLP recipe chosen on validation, refit on all ``n_all`` training images (``fit_on="train+val"``)
    for the same number of gradient steps: its epochs scaled by ``n_train / n_all``; test probabilities stored."""
    params = config["params"]
    return {**config, "store_test_proba": True, "fit_on": "train+val",
            "params": {**params, "max_iter": round(params["max_iter"] * n_train / n_all)}}
