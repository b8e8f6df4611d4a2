"""Keras builders for the reports' MLPs and CNNs, and a trainer for the experiment runner.

One small builder per architecture family, parameterised the way the reports varied it:

- ``build_mlp(hidden, dropout, batch_norm, ...)``: report 004's dense networks and the
  side-by-side check against our NumPy MLP;
- ``build_cnn(filters, kernel_size, dense, ...)``: conv blocks (conv, optional batch norm, ReLU,
  max pool, optional dropout) with the filters of each block, then dense layers.

TensorFlow is imported lazily, with its C++ log lines silenced, so ``fmnist_utils`` stays light.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow's ops deterministic (same machine, same history)."""
    keras = _keras()
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build_mlp(hidden: Sequence[int] = (128, 128), activation: str = "relu", dropout: float = 0.0,
              batch_norm: bool = False, init: str = "glorot_uniform", n_inputs: int = 784, n_classes: int = 10):
    """Dense -> activation [-> batch norm] [-> dropout] per hidden layer (our NumPy MLP's order), softmax output."""
    keras = _keras()
    layers = [keras.Input((n_inputs,))]
    for units in hidden:
        layers += [keras.layers.Dense(units, kernel_initializer=init), keras.layers.Activation(activation)]
        if batch_norm:
            layers.append(keras.layers.BatchNormalization())
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=init))
    return keras.Sequential(layers)


def build_cnn(filters: Sequence[int] = (32, 64, 128), kernel_size: int = 3, dense: Sequence[int] = (128,),
              batch_norm: bool = False, dropout: float = 0.0, pool: bool = True, padding: str = "same",
              pool_padding: str = "valid", convs_per_block: int | Sequence[int] = 1, global_pool: bool = False,
              dense_dropout: float | None = None, flip: bool = False, shift: float = 0.0, erase: float = 0.0,
              bn_momentum: float = 0.99, input_shape: tuple[int, int, int] = (28, 28, 1), n_classes: int = 10):
    """Conv blocks (``convs_per_block`` × (conv [-> batch norm] -> ReLU) [-> 2x2 max pool] [-> dropout]), flatten
    (or global average pooling), dense ReLU layers [-> dropout], softmax. ``convs_per_block`` is one count for
    every block or one per block.

    ``filters`` gives each block's filter count, e.g. (8, 16, 32) for report 004's doubling; ``pool_padding="same"``
    pools 7x7 to 4x4 as report 004 did (``"valid"``: to 3x3). ``dense_dropout`` defaults to ``dropout``.
    ``bn_momentum`` is batch norm's moving-average momentum (Keras's 0.99 by default); runs of a few hundred steps
    need a lower one (0.9), or the statistics used at inference are still far from the data's and accuracy collapses.
    Augmentation layers, active only while training: ``flip`` (random horizontal flips), ``shift`` (random
    translations up to that fraction of the image) and ``erase`` (Keras's ``RandomErasing`` factor: about
    ``erase / 2`` of the images are erased, each with a blank rectangle of about 2-20 % of its area).
    """
    keras = _keras()
    layers = [keras.Input(input_shape)]
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal"))
    if shift:
        layers.append(keras.layers.RandomTranslation(shift, shift, fill_mode="constant"))
    if erase:
        layers.append(keras.layers.RandomErasing(factor=erase, scale=(0.02, 0.2), fill_value=0.0))
    counts = [convs_per_block] * len(filters) if isinstance(convs_per_block, int) else list(convs_per_block)
    if len(counts) != len(filters):
        raise ValueError(f"convs_per_block needs one count per block ({len(filters)}), got {convs_per_block}")
    for f, n_convs in zip(filters, counts):
        for _ in range(n_convs):
            layers.append(keras.layers.Conv2D(f, kernel_size, padding=padding, use_bias=not batch_norm))
            if batch_norm:
                layers.append(keras.layers.BatchNormalization(momentum=bn_momentum))
            layers.append(keras.layers.Activation("relu"))
        if pool:
            layers.append(keras.layers.MaxPooling2D(padding=pool_padding))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.GlobalAveragePooling2D() if global_pool else keras.layers.Flatten())
    dense_dropout = dropout if dense_dropout is None else dense_dropout
    for units in dense:
        layers.append(keras.layers.Dense(units, activation="relu"))
        if dense_dropout:
            layers.append(keras.layers.Dropout(dense_dropout))
    if global_pool and dense_dropout and not dense:
        layers.append(keras.layers.Dropout(dense_dropout))
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(layers)


BUILDERS = {"mlp": build_mlp, "cnn": build_cnn}


def build_model(model_config: dict):
    """The model a run configuration describes: ``{"kind": "mlp" | "cnn", ...builder arguments}``."""
    arguments = dict(model_config)
    kind = arguments.pop("kind")
    if kind not in BUILDERS:
        raise ValueError(f"model kind must be one of {sorted(BUILDERS)}, got {kind!r}")
    return BUILDERS[kind](**arguments)


def make_optimizer(name: str = "adam", learning_rate: float = 1e-3, **kwargs):
    """Keras optimizer by name: sgd (with momentum / nesterov keywords), adam, nadam, amsgrad, adamw."""
    keras = _keras()
    if name == "amsgrad":
        return keras.optimizers.Adam(learning_rate, amsgrad=True, **kwargs)
    optimizers = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam, "nadam": keras.optimizers.Nadam,
                  "adamw": keras.optimizers.AdamW}
    if name not in optimizers:
        raise ValueError(f"optimizer name must be one of {sorted(optimizers) + ['amsgrad']}, got {name!r}")
    return optimizers[name](learning_rate, **kwargs)


def _callbacks(config: dict) -> list:
    """EarlyStopping (best weights restored) and ReduceLROnPlateau from the config; both watch val_loss unless
    told otherwise, and any other key (``cooldown``, ``min_delta``, ...) goes to the Keras callback as is."""
    keras = _keras()
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
    keras = _keras()

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
    keras = _keras()

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)
            lrs.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    return EpochLog()


def train_keras(config: dict) -> dict:
    """Train a Keras model on the standard split; the runner's trainer for Keras experiments.

    config: ``model`` (``{"kind": "mlp" | "cnn", ...builder arguments}``), ``optimizer``
    (``{"name": ..., "learning_rate": ..., ...}``), ``batch_size``, ``epochs``, ``seed``, optionally
    ``early_stopping`` (``{"patience": ..., "monitor": ..., "min_delta": ...}``, best weights restored),
    ``reduce_lr`` (``{"patience": ..., "factor": ...}``), ``normalize``, ``train_subset`` (train on that many
    of the training images, class-balanced), ``store_test_proba``, ``store_train_proba`` (the mean probabilities of
    each training image and its mirror image, in the order of ``load_splits``'s training split: a teacher's soft
    targets for ``train_numpy_mlp``'s ``teacher``), ``store_train_proba_shifts`` (pixels s: the same for each of
    the (2s + 1)^2 translations of ``data.shift_views(s)``, so that a student trained with shifts of up to s pixels
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
    Early stopping and learning-rate reduction watch the validation split; test is only evaluated.
    """
    import dataclasses

    from .augment import shift_images, shift_views
    from .data import load_splits, stratified_subset

    refit = _fit_on(config) == "train+val"
    set_seed(config["seed"])
    data = load_splits(config.get("normalize", "scale"), flat=config["model"]["kind"] == "mlp")
    x_train_standard = data.x_train  # the teacher's soft targets must line up with the standard training split
    if config.get("train_subset"):  # a class-balanced part of the 48,000 training images, for cheap grids
        x_train, y_train = stratified_subset(data.x_train, data.y_train, config["train_subset"], seed=0)
        data = dataclasses.replace(data, x_train=x_train, y_train=y_train)
    held_out = None
    if config.get("cv_fold"):
        held_out, data = _fold_split(data, *config["cv_fold"])
    if refit:  # no validation split left to watch: fixed epochs, nothing selected
        data = dataclasses.replace(data, x_train=np.concatenate([data.x_train, data.x_val]),
                                   y_train=np.concatenate([data.y_train, data.y_val]))
    model = build_model(config["model"])
    model.compile(_optimizer(config, len(data.y_train)), _loss(config), metrics=["accuracy"])
    targets = _targets(config)
    seconds: list[float] = []
    lrs: list[float] = []
    guard = _divergence_guard(config.get("divergence_factor", 1e3))
    callbacks = [guard, *_callbacks(config), _epoch_log(seconds, lrs)]
    if config.get("verbose", True):  # an epoch progress bar while training; replays from results/ print nothing
        from tqdm import tqdm
        from tqdm.keras import TqdmCallback

        callbacks.append(TqdmCallback(verbose=0, tqdm_class=tqdm, unit="epoch"))
    fit = model.fit(data.x_train, targets(data.y_train), batch_size=config["batch_size"], epochs=config["epochs"],
                    validation_data=None if refit else (data.x_val, targets(data.y_val)), verbose=0,
                    callbacks=callbacks)
    h = fit.history
    history = {"train_loss": h["loss"], "train_accuracy": h["accuracy"],
               **({} if refit else {"val_loss": h["val_loss"], "val_accuracy": h["val_accuracy"]}),
               "lr": lrs, "seconds": seconds}
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
    arrays = {}
    if config.get("store_test_proba"):
        arrays["test_proba"] = model.predict(data.x_test, verbose=0, batch_size=1024)
    if config.get("flip_tta"):
        out["tta"] = {}
        for split in [s for s in ("val", "test") if s in splits]:
            x, y = splits[split]
            proba = flip_tta_proba(model, x)
            out["tta"][f"{split}_accuracy"] = round(float((proba.argmax(1) == y).mean()), 6)
        if config.get("store_test_proba"):
            arrays["test_proba_tta"] = proba
    for pixels in config.get("tta_shifts", []):
        name = f"flip+shift{pixels}"
        out.setdefault("tta_views", {})[name] = {}
        for split in [s for s in ("val", "test") if s in splits]:
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
    if arrays:
        out["arrays"] = {name: a.astype(np.float16) for name, a in arrays.items()}
    return out


def flip_tta_proba(model, x: np.ndarray) -> np.ndarray:
    """Mean class probabilities of each image x: (N, 28, 28, 1) and its mirror image."""
    from .augment import flip_horizontal

    return (model.predict(x, verbose=0, batch_size=1024)
            + model.predict(flip_horizontal(x), verbose=0, batch_size=1024)) / 2


def shift_tta_proba(model, x: np.ndarray, pixels: int) -> np.ndarray:
    """Mean class probabilities over 10 views of each image x: (N, 28, 28, 1): the image, shifted ``pixels`` up,
    down, left and right (zero fill), and the mirror image of each of these five."""
    from .augment import flip_horizontal, shift_images

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
    import dataclasses

    from sklearn.model_selection import StratifiedKFold

    if not 0 <= index < k:
        raise ValueError(f"cv_fold must be [index, k] with 0 <= index < k, got {[index, k]}")
    train_idx, fold_idx = list(StratifiedKFold(k, shuffle=True, random_state=0).split(data.x_train,
                                                                                        data.y_train))[index]
    held_out = (data.x_train[fold_idx], data.y_train[fold_idx])
    return held_out, dataclasses.replace(data, x_train=data.x_train[train_idx], y_train=data.y_train[train_idx])


def _optimizer(config: dict, n_train: int):
    """The configured optimizer; ``schedule: "cosine"`` decays its learning rate to 0 over every training step."""
    keras = _keras()
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
    keras = _keras()
    if config.get("label_smoothing"):
        return keras.losses.CategoricalCrossentropy(label_smoothing=config["label_smoothing"])
    return keras.losses.SparseCategoricalCrossentropy()


def _targets(config: dict):
    """Labels as the loss wants them: one-hot for label smoothing, else class indices."""
    from .data import one_hot

    return one_hot if config.get("label_smoothing") else (lambda y: y)


def _with_value(config: dict, dotted_key: str, value) -> dict:
    """A copy of ``config`` with ``value`` at ``dotted_key`` (``"model.dropout"`` sets config["model"]["dropout"])."""
    head, _, rest = dotted_key.partition(".")
    if not rest:
        return {**config, head: value}
    return {**config, head: _with_value(config.get(head, {}), rest, value)}


def keras_grid_search(experiment: str, base_config: dict, grid: dict[str, list],
                      objective: str = "val_accuracy", root: Path | None = None) -> list[dict]:
    """Every combination of ``grid`` with keras-tuner's grid oracle, each trial a cached ``train_keras`` run.

    grid: dotted config keys to candidate values, e.g. ``{"model.hidden": [[512], [768]],
    "model.dropout": [0.2, 0.3]}``. Each trial is stored in ``results/<experiment>/`` by the runner, so a
    replay trains nothing. Returns the runs (with ``trial`` values added) in the oracle's order; rank them
    by ``objective``, a validation metric: the test split plays no part in the search. ``root``: results folder
    (default ``results/``).
    """
    import shutil
    import tempfile

    _keras()
    import keras_tuner as kt

    from .experiments import run_experiment

    if "seed" not in base_config:
        raise ValueError("keras_grid_search: base_config needs a 'seed' (each grid point is one seeded run)")
    hp = kt.HyperParameters()
    for key, values in grid.items():
        hp.Choice(key, list(range(len(values))))  # indices: keras-tuner choices must be scalars
    runs: list[dict] = []

    class CachedTrials(kt.Tuner):
        def run_trial(self, trial, *args, **kwargs):
            picked = {key: grid[key][trial.hyperparameters.get(key)] for key in grid}
            config = base_config
            for key, value in picked.items():
                config = _with_value(config, key, value)
            run = run_experiment(experiment, config, train_keras, root=root)
            runs.append({**run, "trial": picked})
            score = run.get(objective)
            return {objective: float(score) if score is not None else float("-inf")}

    workdir = tempfile.mkdtemp(prefix="keras_tuner_")
    try:
        oracle = kt.oracles.GridSearchOracle(kt.Objective(objective, "max"), hyperparameters=hp,
                                             max_trials=int(np.prod([len(v) for v in grid.values()])),
                                             max_consecutive_failed_trials=1)  # a failing trial stops the search
        CachedTrials(oracle=oracle, directory=workdir, project_name=experiment, overwrite=True).search(verbose=0)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return runs


def flops_per_image(model) -> int:
    """Multiply-adds × 2 of one forward pass through the model's Conv2D and Dense layers (the rest is negligible).

    Conv2D: 2 · H_out · W_out · k_h · k_w · C_in · C_out; Dense: 2 · inputs · units.
    """
    keras = _keras()
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            k_h, k_w = layer.kernel_size
            total += 2 * h * w * k_h * k_w * layer.input.shape[-1] * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return int(total)
