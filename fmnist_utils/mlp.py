"""``MLPClassifier``: the from-scratch NumPy MLP as a scikit-learn estimator.

This module is the adapter only: parameters and their validation, input checks, the fitted attributes and
``fit``/``partial_fit``/``predict``/``predict_proba``/``score``/``log_loss``. The network and its optimizers
live in ``fmnist_utils.nn``, the training loop and early stopping in ``fmnist_utils.training``.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from .nn import ACTIVATIONS, SGD, Adam, Optimizer, build_network, softmax, softmax_cross_entropy
from .training import Callback, EarlyStopping, LossPlateau, ProgressBar, Trainer, TrainingLog


class DivergedError(RuntimeError):
    """The model's training loss became non-finite; its predictions would be meaningless."""


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """From-scratch MLP classifier with scikit-learn's interface.

    Parameters named as in ``sklearn.neural_network.MLPClassifier`` mean the same
    (``alpha`` is the L2 penalty, see ``nn.Network``; ``max_iter`` counts epochs; with
    ``early_stopping=False`` training stops when the training loss has not improved
    by ``tol`` for ``n_iter_no_change`` epochs). Differences and extras:

    - ``activation`` also accepts ``"leaky_relu"`` (slope ``leaky_relu_slope``) and ``"sigmoid"``.
    - ``solver`` is ``"sgd"`` (plain when ``momentum=0``, momentum, or Nesterov) or ``"adam"``.
    - ``n_iter_no_change=None`` never stops early on the training loss: exactly ``max_iter`` epochs.
    - ``early_stopping_monitor``: ``"val_accuracy"`` (sklearn's choice) or ``"val_loss"``;
      the best weights are restored.
    - ``penalty_over``: ``"batch"`` (scikit-learn's convention: ``alpha`` and ``l1`` divided by the mini-batch's
      size) or ``"training_set"`` (divided by the number of training samples, see ``nn.Network``).
    - ``l1``, ``l2_first_layer_only``, ``dropout`` (rate after each hidden activation), ``input_dropout``
      (rate on the input pixels),
      ``batch_norm`` (after each hidden activation, before dropout, as report 002),
      ``init`` (``"he"``, ``"glorot"``, ``"normal"``), ``learning_rate_schedule``
      (``"constant"``, ``"step"``, ``"cosine"``), ``dtype`` (``"float32"`` or ``"float64"``).
    - ``augment_shift`` (pixels) and ``augment_flip``: random translations and horizontal flips of each
      training mini-batch of 28 x 28 images (see ``augment.augment_batch``); validation and test data are never
      augmented.
    - ``divergence_factor``: training stops and the run is marked diverged (``diverged_epoch_``) when a mini-batch
      loss is non-finite or exceeds this factor times the first mini-batch loss (None: non-finite only). A loss
      that explodes and then sits at log(n_classes) with dead ReLUs is a diverged run, not a 10 % classifier.
      An epoch's last update is checked too (finite weights and outputs), as no later loss may follow it. Predicting
      with a diverged model, or one whose outputs are non-finite, raises ``DivergedError``.
    - ``fit(X, y, validation_data=(X_val, y_val))`` evaluates on a fixed validation set each
      epoch (and early-stops on it) instead of splitting off ``validation_fraction``.

    Fitted attributes: ``coefs_``, ``intercepts_``, ``classes_``, ``n_iter_``, ``loss_curve_``
    (per-epoch mean training loss, penalty included), ``validation_scores_``, ``history_``
    (per-epoch ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``;
    training figures are running means over the epoch's mini-batches, as Keras reports them),
    ``batch_loss_`` (per iteration), and ``diverged_epoch_`` (1-based epoch, or None).
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, None, None, closed="neither")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "early_stopping_monitor": [StrOptions({"val_accuracy", "val_loss"})],
        "learning_rate_schedule": [StrOptions({"constant", "step", "cosine"})],
        "lr_step_size": [Interval(Integral, 1, None, closed="left")],
        "lr_step_factor": [Interval(Real, 0, 1, closed="right")],
        "leaky_relu_slope": [Interval(Real, 0, 1, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "l2_first_layer_only": ["boolean"],
        "penalty_over": [StrOptions({"batch", "training_set"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "init": [StrOptions({"he", "glorot", "normal"})],
        "augment_shift": [Interval(Integral, 0, None, closed="left")],
        "augment_flip": ["boolean"],
        "divergence_factor": [Interval(Real, 1, None, closed="neither"), None],
        "dtype": [StrOptions({"float32", "float64"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        early_stopping_monitor="val_accuracy",
        learning_rate_schedule="constant",
        lr_step_size=10,
        lr_step_factor=0.5,
        leaky_relu_slope=0.01,
        l1=0.0,
        l2_first_layer_only=False,
        penalty_over="batch",
        dropout=0.0,
        input_dropout=0.0,
        batch_norm=False,
        init="he",
        augment_shift=0,
        augment_flip=False,
        divergence_factor=1e3,
        dtype="float32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping_monitor = early_stopping_monitor
        self.learning_rate_schedule = learning_rate_schedule
        self.lr_step_size = lr_step_size
        self.lr_step_factor = lr_step_factor
        self.leaky_relu_slope = leaky_relu_slope
        self.l1 = l1
        self.l2_first_layer_only = l2_first_layer_only
        self.penalty_over = penalty_over
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.batch_norm = batch_norm
        self.init = init
        self.augment_shift = augment_shift
        self.augment_flip = augment_flip
        self.divergence_factor = divergence_factor
        self.dtype = dtype

    # ------------------------------------------------------------ building

    def _hidden_sizes(self) -> list[int]:
        sizes = [self.hidden_layer_sizes] if np.isscalar(self.hidden_layer_sizes) else list(self.hidden_layer_sizes)
        if any(int(s) < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes}")
        return [int(s) for s in sizes]

    def _build(self, n_features: int, n_classes: int) -> None:
        """A fresh network, optimizer and training log: the weights are the first draws of ``self._rng``."""
        self.network_ = build_network(
            n_features, n_classes, self._hidden_sizes(), self.activation, rng=self._rng, dtype=self.dtype,
            init=self.init, leaky_relu_slope=self.leaky_relu_slope, batch_norm=self.batch_norm,
            dropout=self.dropout, input_dropout=self.input_dropout, alpha=self.alpha, l1=self.l1,
            l2_first_layer_only=self.l2_first_layer_only)
        # the optimizer owns the learning rate from here on; its schedule counts epochs up to max_iter
        schedule = {"schedule": self.learning_rate_schedule, "total_epochs": self.max_iter,
                    "step_size": self.lr_step_size, "step_factor": self.lr_step_factor}
        self.optimizer_: Optimizer = (
            Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon, **schedule) if self.solver == "adam"
            else SGD(self.learning_rate_init, self.momentum, self.nesterovs_momentum and self.momentum > 0, **schedule))
        self._log = TrainingLog()
        self.best_loss_, self.best_validation_score_ = np.inf, None
        self._publish_log()

    def _publish_log(self) -> None:
        """Copy the training log into scikit-learn's fitted attributes."""
        log = self._log
        self.history_, self.batch_loss_ = log.history, log.batch_loss
        self.loss_curve_ = list(log.history["train_loss"])
        self.validation_scores_ = list(log.history["val_accuracy"])
        self.n_iter_, self.t_, self.diverged_epoch_ = log.n_iter, log.t, log.diverged_epoch

    @property
    def coefs_(self) -> list[np.ndarray]:
        check_is_fitted(self, "network_")
        return [d.params["W"] for d in self.network_.dense_layers]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        check_is_fitted(self, "network_")
        return [d.params["b"] for d in self.network_.dense_layers]

    # ------------------------------------------------------------ data checks

    def _check_X(self, X, reset: bool) -> np.ndarray:
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        return X.astype(self.dtype, copy=False)

    def _encode_y(self, y) -> np.ndarray:
        y = np.asarray(y)
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y contains labels not seen in fit: {unseen.tolist()}; known classes are "
                             f"{self.classes_.tolist()}")
        return np.searchsorted(self.classes_, y)

    def _check_Xy(self, X, y, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32], y_numeric=False)
        check_classification_targets(y)
        return X.astype(self.dtype, copy=False), y

    # ------------------------------------------------------------ fitting

    def fit(self, X, y, validation_data=None, soft_targets=None) -> MLPClassifier:
        """Train for up to ``max_iter`` epochs. validation_data: optional ``(X_val, y_val)``.

        soft_targets: optional (N, n_classes) probabilities, columns in ``classes_`` order (e.g. a teacher
        network's, for distillation); the loss is then the cross-entropy to them instead of to ``y``, which
        still scores training accuracy. Augmentation applies to the images; their targets stay as given, unless
        they are (N, views, n_classes) with one row per translation of ``augment.shift_views(augment_shift)``: then
        each augmented image learns the row of the view it was shifted to.
        """
        self._validate_params()
        X, y = self._check_Xy(X, y, reset=True)
        classes = unique_labels(y)
        if not (self.warm_start and hasattr(self, "network_")):
            self._rng = np.random.default_rng(self.random_state)
            self.classes_ = classes
            self._build(X.shape[1], len(classes))
        y_idx = self._encode_y(y)
        soft = None if soft_targets is None else self._check_soft_targets(soft_targets, len(y_idx))
        X_val = y_val_idx = None
        if validation_data is not None:
            X_val = self._check_X(validation_data[0], reset=False)
            y_val_idx = self._encode_y(validation_data[1])
        elif self.early_stopping:
            stratify = y_idx if np.bincount(y_idx).min() >= 2 else None
            split = train_test_split(X, y_idx, *([] if soft is None else [soft]), test_size=self.validation_fraction,
                                     stratify=stratify, random_state=int(self._rng.integers(2**31)))
            X, X_val, y_idx, y_val_idx = split[:4]
            soft = None if soft is None else split[4]
        self._train(X, y_idx, X_val, y_val_idx, epochs=self.max_iter, soft_targets=soft)
        return self

    def _check_soft_targets(self, soft_targets, n: int) -> np.ndarray:
        soft = np.asarray(soft_targets, dtype=self.dtype)
        n_classes = len(self.classes_)
        if soft.ndim == 3:
            views = (2 * self.augment_shift + 1) ** 2
            if not self.augment_shift or soft.shape != (n, views, n_classes):
                raise ValueError(f"soft_targets per view must have shape (n_samples, (2 * augment_shift + 1) ** 2, "
                                 f"n_classes) = {(n, views, n_classes)} with augment_shift > 0 (here "
                                 f"{self.augment_shift}), got {soft.shape}; give the teacher's probabilities for "
                                 "each view of augment.shift_views(augment_shift)")
        elif soft.shape != (n, n_classes):
            raise ValueError(f"soft_targets must have shape (n_samples, n_classes) = {(n, n_classes)}, "
                             f"got {soft.shape}; pass one probability row per training sample")
        if not np.all(np.isfinite(soft)) or soft.min() < 0 or not np.allclose(soft.sum(axis=-1), 1, atol=1e-2):
            raise ValueError("soft_targets rows must be probabilities (non-negative, summing to 1); "
                             "normalise them, e.g. with a softmax")
        return soft / soft.sum(axis=-1, keepdims=True)

    def partial_fit(self, X, y, classes=None) -> MLPClassifier:
        """One epoch over (X, y). The first call needs ``classes``, every label that will ever appear."""
        first = not hasattr(self, "network_")
        if first:
            self._validate_params()
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = self._check_Xy(X, y, reset=first)
        if first:
            self._rng = np.random.default_rng(self.random_state)
            self.classes_ = unique_labels(classes)
            self._build(X.shape[1], len(self.classes_))
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"classes={list(classes)} differs from the classes of the first call "
                             f"{self.classes_.tolist()}")
        self._train(X, self._encode_y(y), None, None, epochs=1, stop_on_plateau=False)
        return self

    def _batch_size(self, n: int) -> int:
        return min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)

    def _train(self, X, y, X_val, y_val, epochs: int, stop_on_plateau: bool = True, soft_targets=None) -> None:
        """Hand the data to a ``training.Trainer`` with this estimator's stopping policy, then report how it went."""
        stopping: Callback | None = None
        if stop_on_plateau and X_val is not None and self.early_stopping:
            stopping = EarlyStopping(self.n_iter_no_change, self.tol, self.early_stopping_monitor)
        elif stop_on_plateau and self.n_iter_no_change is not None:
            stopping = LossPlateau(self.n_iter_no_change, self.tol, self.best_loss_)
        callbacks = [ProgressBar(epochs, self.verbose)] + ([stopping] if stopping else [])
        self.network_.penalty_samples = len(y) if self.penalty_over == "training_set" else None
        trainer = Trainer(self.network_, self.optimizer_, self._rng, self._log, batch_size=self._batch_size(len(y)),
                          shuffle=self.shuffle, augment_shift=self.augment_shift, augment_flip=self.augment_flip,
                          divergence_factor=self.divergence_factor, callbacks=callbacks)
        finished = trainer.fit(X, y, epochs, X_val, y_val, soft_targets)
        self._publish_log()
        if isinstance(stopping, LossPlateau):
            self.best_loss_ = stopping.best_loss
        if not finished:
            warnings.warn(f"MLPClassifier diverged: non-finite or exploding training loss in epoch "
                          f"{self.diverged_epoch_}. Lower learning_rate_init or scale the inputs (e.g. pixels to "
                          "[0, 1]).", ConvergenceWarning, stacklevel=3)
        elif isinstance(stopping, EarlyStopping) and stopping.best_epoch is not None:
            self.best_validation_score_, self.best_epoch_ = stopping.best_validation_score, stopping.best_epoch
        elif isinstance(stopping, LossPlateau) and self.n_iter_ >= self.max_iter:
            warnings.warn(f"MLPClassifier: maximum iterations ({self.max_iter}) reached and the optimization "
                          "hasn't converged yet.", ConvergenceWarning, stacklevel=3)

    # ------------------------------------------------------------ inference

    def _logits(self, X: np.ndarray) -> np.ndarray:
        if self.diverged_epoch_ is not None:
            raise DivergedError(f"this model diverged in epoch {self.diverged_epoch_} (non-finite or exploding loss); "
                                "its predictions would be meaningless. Refit with a lower learning_rate_init.")
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            logits = self.network_.forward_in_chunks(X)
        bad = int((~np.isfinite(logits)).any(axis=1).sum())
        if bad:  # never pass NaN on as probabilities or an argmax of NaN as a class
            raise DivergedError(f"the model gives non-finite outputs for {bad} of {len(X)} samples: its weights have "
                                "overflowed (training diverged unnoticed, or they were set by hand) or these inputs "
                                "lie far outside the training data's range. Refit with a lower learning_rate_init, "
                                "or scale the inputs as in training.")
        return logits

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (N, n_classes), columns in the order of ``classes_``."""
        check_is_fitted(self, "network_")
        return softmax(self._logits(self._check_X(X, reset=False)))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample, shape (N,)."""
        check_is_fitted(self, "network_")
        return self.classes_[self._logits(self._check_X(X, reset=False)).argmax(axis=1)]

    def log_loss(self, X, y) -> float:
        """Mean cross-entropy of (X, y) under the model (no penalty)."""
        check_is_fitted(self, "network_")
        return softmax_cross_entropy(self._logits(self._check_X(X, reset=False)), self._encode_y(y))[0]

    @property
    def n_parameters_(self) -> int:
        return sum(layer.params[name].size for layer, name in self.network_.parameters())
