"""The Keras trainer: a run configuration in, what the runner stores out (callbacks, test-time augmentation)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

from ..augment import flip_horizontal, shift_images, shift_views
from ..data import Splits, load_splits, one_hot, stratified_subset
from .builders import build_model, import_keras, make_optimizer, set_seed


def _callbacks(config: dict) -> list:
    """EarlyStopping (best weights restored) and ReduceLROnPlateau from the config; both watch val_loss unless
    told otherwise, and any other key (``cooldown``, ``min_delta``, ...) goes to the Keras callback as is."""
    keras = import_keras()
    callbacks = []
    if config.get("early_stopping"):
        callbacks.append(keras.callbacks.EarlyStopping(**{"monitor": "val_loss", "restore_best_weights": True,
                                                          **config["early_stopping"]}))
    if config.get("reduce_lr"):
        callbacks.append(keras.callbacks.ReduceLROnPlateau(**{"monitor": "val_loss", **config["reduce_lr"]}))
    return callbacks


def _divergence_guard(factor: float):
    """Stop training when a mini-batch loss is non-finite or ``factor`` times the first one, as our NumPy MLP does:
    a loss that explodes and then settles at log 10 with dead ReLUs is a diverged run, not a 10 % classifier."""
    keras = import_keras()

    class DivergenceGuard(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.first_loss, self.diverged_epoch, self.epoch = None, None, 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            loss = float(logs["loss"])  # Keras logs the running mean over the epoch so far
            if self.first_loss is None:
                self.first_loss = loss
            if not np.isfinite(loss) or loss > factor * self.first_loss:
                self.diverged_epoch = self.epoch
                self.model.stop_training = True

    return DivergenceGuard()


def _epoch_log(seconds: list, lrs: list):
    """A Keras callback appending each epoch's wall-clock seconds and learning rate to the given lists."""
    keras = import_keras()

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)
            lrs.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    return EpochLog()


def train_keras(config: dict, data: Splits | None = None) -> dict:
    """Train a Keras model on the standard split; the runner's trainer for Keras experiments.

    config: ``model`` (``{"kind": "mlp" | "cnn", ...builder arguments}``), ``optimizer``
    (``{"name": ..., "learning_rate": ..., ...}``), ``batch_size``, ``epochs``, ``seed``, optionally
    ``early_stopping`` (``{"patience": ..., "monitor": ..., "min_delta": ...}``, best weights restored),
    ``reduce_lr`` (``{"patience": ..., "factor": ...}``), ``normalize``, ``train_subset`` (train on that many
    of the training images, class-balanced), ``store_test_proba``, ``store_train_proba`` (the mean probabilities of
    each training image and its mirror image, in the order of ``load_splits``'s training split: a teacher's soft
    targets for ``train_numpy_mlp``'s ``teacher``), ``store_train_proba_shifts`` (pixels s: the same for each of
    the (2s + 1)^2 translations of ``augment.shift_views(s)``, so that a student trained with shifts of up to s pixels
    learns the teacher's probabilities for the very view it sees), ``verbose``
    (default True: an epoch progress bar) and ``divergence_factor`` (default 1e3: a mini-batch loss above this
    times the first one, or a non-finite one, stops the run as diverged).
    For stronger recipes: ``optimizer["schedule"] = "cosine"`` (cosine decay to 0 over all epochs),
    ``label_smoothing`` (losses are then smoothed cross-entropy), ``flip_tta`` (also score the mean probabilities
    of each image and its mirror image, under ``tta``), ``tta_shifts`` (a list of pixel counts: also score
    ``shift_tta_proba``'s 10 views for each, under ``tta_views["flip+shift<pixels>"]``) and ``cv_fold``
    (``[index, k]``: train on the other k-1 of k stratified folds of the training split and score the held-out
    fold as ``fold_accuracy``).
    ``fit_on="train+val"`` refits a recipe already chosen on validation on all 60,000 training images for a fixed
    number of epochs; validation metrics are then omitted.
    data: the splits (default: ``load_splits(config["normalize"])``, flat for an MLP, images for a CNN).
    Early stopping and learning-rate reduction watch the validation split; test is only evaluated.
    """
    refit = _fit_on(config) == "train+val"
    set_seed(config["seed"])
    data = data or load_splits(config.get("normalize", "scale"), flat=config["model"]["kind"] == "mlp")
    x_train_standard = data.x_train  # the teacher's soft targets must line up with the standard training split
    data, held_out = _training_splits(config, data, refit)
    model = build_model(config["model"])
    model.compile(_optimizer(config, len(data.y_train)), _loss(config), metrics=["accuracy"])
    targets = _targets(config)
    h, guard, epoch_lrs, epoch_seconds = _fit(model, config, data, targets, refit)
    history = {"train_loss": h["loss"], "train_accuracy": h["accuracy"],
               **({} if refit else {"val_loss": h["val_loss"], "val_accuracy": h["val_accuracy"]}),
               "lr": epoch_lrs, "seconds": epoch_seconds}
    out = {
        "history": {k: [round(float(v), 6) for v in vals] for k, vals in history.items()},
        "epochs": len(h["loss"]),
        "n_parameters": int(model.count_params()),
        "n_train": len(data.y_train),
    }
    if guard.diverged_epoch is not None:
        return {**out, "status": "diverged", "diverged_epoch": guard.diverged_epoch}
    monitor = (config.get("early_stopping") or {}).get("monitor", "val_loss")
    scores = np.asarray(h["loss" if refit else monitor])
    out["best_epoch"] = len(scores) if refit else int(np.argmax(scores) if "accuracy" in monitor
                                                      else np.argmin(scores)) + 1
    splits = {split: (getattr(data, f"x_{split}"), getattr(data, f"y_{split}"))
              for split in (("train", "test") if refit else ("train", "val", "test"))}
    if held_out is not None:
        splits["fold"] = held_out
    for split, (x, y) in splits.items():
        loss, acc = model.evaluate(x, targets(y), verbose=0, batch_size=1024)
        out[f"{split}_accuracy"], out[f"{split}_loss"] = round(float(acc), 6), round(float(loss), 6)
    arrays = _tta_scores_and_arrays(model, config, splits, data.x_test, x_train_standard, out)
    if arrays:
        out["arrays"] = {name: a.astype(np.float16) for name, a in arrays.items()}
    return out


def _training_splits(config: dict, data: Splits, refit: bool) -> tuple[Splits, tuple | None]:
    """The splits cut as the config asks (a class-balanced ``train_subset``, a ``cv_fold``, train+val for a refit)
    and the held-out fold ``(x, y)`` or None."""
    if config.get("train_subset"):  # a class-balanced part of the 48,000 training images, for cheap grids
        x_train, y_train = stratified_subset(data.x_train, data.y_train, config["train_subset"], seed=0)
        data = dataclasses.replace(data, x_train=x_train, y_train=y_train)
    held_out = None
    if config.get("cv_fold"):
        held_out, data = _fold_split(data, *config["cv_fold"])
    if refit:  # no validation split left to watch: fixed epochs, nothing selected
        data = dataclasses.replace(data, x_train=np.concatenate([data.x_train, data.x_val]),
                                   y_train=np.concatenate([data.y_train, data.y_val]))
    return data, held_out


def _fit(model, config: dict, data: Splits, targets, refit: bool) -> tuple[dict, object, list, list]:
    """``model.fit`` with the run's callbacks: Keras's history, the divergence guard, and each epoch's learning rate
    and seconds."""
    epoch_seconds: list[float] = []
    epoch_lrs: list[float] = []
    guard = _divergence_guard(config.get("divergence_factor", 1e3))
    callbacks = [guard, *_callbacks(config), _epoch_log(epoch_seconds, epoch_lrs)]
    if config.get("verbose", True):  # an epoch progress bar while training; replays from results/ print nothing
        from tqdm.keras import TqdmCallback  # imports Keras, hence TensorFlow: only when training

        callbacks.append(TqdmCallback(verbose=0, tqdm_class=tqdm, unit="epoch"))
    fit = model.fit(data.x_train, targets(data.y_train), batch_size=config["batch_size"], epochs=config["epochs"],
                    validation_data=None if refit else (data.x_val, targets(data.y_val)), verbose=0,
                    callbacks=callbacks)
    return fit.history, guard, epoch_lrs, epoch_seconds


def _tta_scores_and_arrays(model, config: dict, splits: dict, x_test: np.ndarray, x_train_standard: np.ndarray,
                           out: dict) -> dict[str, np.ndarray]:
    """Add the test-time-augmentation accuracies the config asks for to ``out``; return the probabilities to store."""
    arrays = {}
    if config.get("store_test_proba"):
        arrays["test_proba"] = model.predict(x_test, verbose=0, batch_size=1024)
    scored = [s for s in ("val", "test") if s in splits]
    if config.get("flip_tta"):
        out["tta"] = {}
        for split in scored:
            x, y = splits[split]
            proba = flip_tta_proba(model, x)
            out["tta"][f"{split}_accuracy"] = round(float((proba.argmax(1) == y).mean()), 6)
        if config.get("store_test_proba"):
            arrays["test_proba_tta"] = proba
    for pixels in config.get("tta_shifts", []):
        name = f"flip+shift{pixels}"
        out.setdefault("tta_views", {})[name] = {}
        for split in scored:
            x, y = splits[split]
            proba = shift_tta_proba(model, x, pixels)
            out["tta_views"][name][f"{split}_accuracy"] = round(float((proba.argmax(1) == y).mean()), 6)
        if config.get("store_test_proba"):
            arrays[f"test_proba_{name}"] = proba
    if config.get("store_train_proba"):
        arrays["train_proba"] = flip_tta_proba(model, x_train_standard)
    if config.get("store_train_proba_shifts"):  # (N, views, classes): a teacher's targets for each shifted view
        arrays["train_proba_shifts"] = np.stack(
            [flip_tta_proba(model, shift_images(x_train_standard, dy, dx))
             for dy, dx in shift_views(config["store_train_proba_shifts"])], axis=1)
    return arrays


def flip_tta_proba(model, x: np.ndarray) -> np.ndarray:
    """Mean class probabilities of each image x: (N, 28, 28, 1) and its mirror image."""
    return (model.predict(x, verbose=0, batch_size=1024)
            + model.predict(flip_horizontal(x), verbose=0, batch_size=1024)) / 2


def shift_tta_proba(model, x: np.ndarray, pixels: int) -> np.ndarray:
    """Mean class probabilities over 10 views of each image x: (N, 28, 28, 1): the image, shifted ``pixels`` up,
    down, left and right (zero fill), and the mirror image of each of these five."""
    shifted = [x] + [shift_images(x, dy, dx) for dy, dx in ((-pixels, 0), (pixels, 0), (0, -pixels), (0, pixels))]
    views = shifted + [flip_horizontal(v) for v in shifted]
    return np.mean([model.predict(v, verbose=0, batch_size=1024) for v in views], axis=0)


def _fit_on(config: dict) -> str:
    """``config["fit_on"]``, checked: a refit on train+val has no validation split to stop or fold on."""
    fit_on = config.get("fit_on", "train")
    if fit_on not in ("train", "train+val"):
        raise ValueError(f"config fit_on must be 'train' or 'train+val', got {fit_on!r}")
    clashing = [key for key in ("early_stopping", "reduce_lr", "cv_fold", "train_subset") if config.get(key)]
    if fit_on == "train+val" and clashing:
        raise ValueError(f"fit_on 'train+val' trains for a fixed number of epochs without a validation split; "
                         f"drop {', '.join(clashing)} from the config (choose those on validation first)")
    return fit_on


def _fold_split(data, index: int, k: int):
    """The held-out fold ``(x, y)`` and the splits with training cut to the other folds (stratified, seed 0)."""


    if not 0 <= index < k:
        raise ValueError(f"cv_fold must be [index, k] with 0 <= index < k, got {[index, k]}")
    train_idx, fold_idx = list(StratifiedKFold(k, shuffle=True, random_state=0).split(data.x_train,
                                                                                        data.y_train))[index]
    held_out = (data.x_train[fold_idx], data.y_train[fold_idx])
    return held_out, dataclasses.replace(data, x_train=data.x_train[train_idx], y_train=data.y_train[train_idx])


def _optimizer(config: dict, n_train: int):
    """The configured optimizer; ``schedule: "cosine"`` decays its learning rate to 0 over every training step."""
    keras = import_keras()
    options = dict(config["optimizer"])
    schedule = options.pop("schedule", None)
    if schedule == "cosine":
        steps = config["epochs"] * -(-n_train // config["batch_size"])
        options["learning_rate"] = keras.optimizers.schedules.CosineDecay(options.get("learning_rate", 1e-3), steps)
    elif schedule is not None:
        raise ValueError(f"optimizer schedule must be 'cosine' or absent, got {schedule!r}")
    return make_optimizer(**options)


def _loss(config: dict):
    """Sparse cross-entropy, or cross-entropy on one-hot targets smoothed by ``label_smoothing``."""
    keras = import_keras()
    if config.get("label_smoothing"):
        return keras.losses.CategoricalCrossentropy(label_smoothing=config["label_smoothing"])
    return keras.losses.SparseCategoricalCrossentropy()


def _targets(config: dict):
    """Labels as the loss wants them: one-hot for label smoothing, else class indices."""
    return one_hot if config.get("label_smoothing") else (lambda y: y)
