"""A multilayer perceptron written from scratch in NumPy.

Three parts, each readable in one sitting:

1. **Layers**, in the spirit of cs231n's ``layers.py``: each has ``forward(x, train)``,
   which keeps in ``self.cache`` what ``backward`` needs, and ``backward(dout)``,
   which fills ``self.grads`` and returns the gradient with respect to its input.
2. **Training pieces**: softmax cross-entropy, weight penalties, optimizers, schedules.
3. **MLPClassifier**, a scikit-learn estimator with sklearn's own parameter and
   attribute names, plus the reports' extras (LeakyReLU, dropout, batch norm, L1, init).

Shapes: N samples, D input features, M output features, C classes.
"""

from __future__ import annotations

import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from .augment import augment_batch

# ================================================================== 1. layers


class Layer:
    """Base class: no parameters, identity gradient bookkeeping."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache = None

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Dense(Layer):
    """Affine layer ``out = x @ W + b``. x: (N, D), W: (D, M), b: (M,), out: (N, M)."""

    def __init__(self, W: np.ndarray, b: np.ndarray, input_grad: bool = True) -> None:
        super().__init__()
        self.params = {"W": W, "b": b}
        self.input_grad = input_grad  # the first layer need not compute dx: saves a third of its backward

    def forward(self, x, train=False):
        if train:
            self.cache = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        x = self.cache
        self.grads["W"] = x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T if self.input_grad else None


class Identity(Layer):
    def forward(self, x, train=False):
        return x

    def backward(self, dout):
        return dout


class ReLU(Layer):
    """``max(0, x)``; backward passes the gradient where x > 0."""

    def forward(self, x, train=False):
        out = np.maximum(x, 0)
        if train:
            self.cache = out > 0
        return out

    def backward(self, dout):
        return dout * self.cache


class LeakyReLU(Layer):
    """``x`` for x > 0, ``slope * x`` otherwise."""

    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x, train=False):
        positive = x > 0
        if train:
            self.cache = positive
        return np.where(positive, x, x * x.dtype.type(self.slope))

    def backward(self, dout):
        return np.where(self.cache, dout, dout * dout.dtype.type(self.slope))


class Tanh(Layer):
    def forward(self, x, train=False):
        out = np.tanh(x)
        if train:
            self.cache = out
        return out

    def backward(self, dout):
        return dout * (1 - self.cache**2)


class Sigmoid(Layer):
    """Logistic function, computed stably for large |x| via tanh."""

    def forward(self, x, train=False):
        out = 0.5 * (1 + np.tanh(0.5 * x))
        if train:
            self.cache = out
        return out

    def backward(self, dout):
        return dout * self.cache * (1 - self.cache)


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``rate`` and scale the rest by 1/(1-rate)."""

    def __init__(self, rate: float, rng: np.random.Generator) -> None:
        super().__init__()
        self.rate = rate
        self.rng = rng

    def forward(self, x, train=False):
        if not train or self.rate == 0:
            return x
        keep = x.dtype.type(1 - self.rate)
        mask = (self.rng.random(x.shape, dtype=x.dtype) < keep) / keep
        self.cache = mask
        return x * mask

    def backward(self, dout):
        return dout * self.cache


class BatchNorm(Layer):
    """Batch normalization over the batch axis. x: (N, D); gamma, beta: (D,).

    Training uses the batch's mean and variance and updates running averages
    (``momentum`` as in Keras: new = momentum * old + (1 - momentum) * batch);
    inference uses the running averages.
    """

    def __init__(self, dim: int, dtype, momentum: float = 0.99, eps: float = 1e-3) -> None:
        super().__init__()
        self.params = {"gamma": np.ones(dim, dtype), "beta": np.zeros(dim, dtype)}
        self.running_mean = np.zeros(dim, dtype)
        self.running_var = np.ones(dim, dtype)
        self.momentum, self.eps = momentum, eps

    def forward(self, x, train=False):
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not train:
            return (x - self.running_mean) / np.sqrt(self.running_var + self.eps) * gamma + beta
        mean, var = x.mean(axis=0), x.var(axis=0)
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat = (x - mean) * inv_std
        m = self.momentum
        self.running_mean = m * self.running_mean + (1 - m) * mean
        self.running_var = m * self.running_var + (1 - m) * var
        self.cache = (x_hat, inv_std)
        return x_hat * gamma + beta

    def backward(self, dout):
        x_hat, inv_std = self.cache
        self.grads["gamma"] = (dout * x_hat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dx_hat = dout * self.params["gamma"]
        # Simplified form of the batch-norm input gradient (mean and variance depend on x too).
        return inv_std * (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0))


ACTIVATIONS = {
    "identity": Identity,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "logistic": Sigmoid,
    "sigmoid": Sigmoid,
}


def init_weights(fan_in: int, fan_out: int, scheme: str, rng: np.random.Generator, dtype) -> np.ndarray:
    """He: N(0, 2/fan_in); Glorot: U(±sqrt(6/(fan_in+fan_out))) as Keras; normal: N(0, 1) as report 003."""
    if scheme == "he":
        w = rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_in, fan_out))
    elif scheme == "glorot":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, (fan_in, fan_out))
    elif scheme == "normal":
        w = rng.normal(0.0, 1.0, (fan_in, fan_out))
    else:
        raise ValueError(f"init must be 'he', 'glorot' or 'normal', got {scheme!r}")
    return w.astype(dtype)


# ====================================================== 2. training pieces


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of targets y under softmax(logits: (N, C)), and d loss / d logits.

    y: integer labels (N,), or target probabilities (N, C) such as a teacher's soft targets; one-hot rows give
    the same loss and gradient as their labels. Computed with log-sum-exp, so large logits neither overflow
    nor give log(0).
    """
    n = len(y)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_sum
    dlogits = np.exp(log_probs)
    if y.ndim == 2:
        loss = -float((y * log_probs).sum(axis=1).mean())
        return loss, (dlogits - y) / n
    loss = -float(log_probs[np.arange(n), y].mean())
    dlogits[np.arange(n), y] -= 1
    return loss, dlogits / n


class Network:
    """A stack of layers with weight penalties.

    Penalties follow scikit-learn's convention: for a mini-batch of n samples,
    ``loss = mean cross-entropy + (alpha / 2 * sum W**2 + l1 * sum |W|) / n``,
    over all weight matrices (not biases), or only the first if ``l2_first_layer_only``.
    """

    def __init__(self, layers: list[Layer], alpha: float = 0.0, l1: float = 0.0,
                 l2_first_layer_only: bool = False) -> None:
        self.layers = layers
        self.alpha, self.l1 = alpha, l1
        self.l2_first_layer_only = l2_first_layer_only

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, dout: np.ndarray) -> None:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
            if dout is None:  # the first Dense layer skips its input gradient: nothing below it learns
                break

    def penalty(self, n: int) -> float:
        dense = self.dense_layers
        total = 0.0
        if self.alpha:
            l2_layers = dense[:1] if self.l2_first_layer_only else dense
            total += 0.5 * self.alpha * sum(float(np.vdot(d.params["W"], d.params["W"])) for d in l2_layers)
        if self.l1:
            total += self.l1 * sum(float(np.abs(d.params["W"]).sum()) for d in dense)
        return total / n

    def add_penalty_grads(self, n: int) -> None:
        for i, d in enumerate(self.dense_layers):
            W = d.params["W"]
            if self.alpha and (i == 0 or not self.l2_first_layer_only):
                d.grads["W"] += W * W.dtype.type(self.alpha / n)
            if self.l1:
                d.grads["W"] += np.sign(W) * W.dtype.type(self.l1 / n)

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
        """One training step's forward and backward pass: (data loss, penalty, logits); fills every layer's grads."""
        logits = self.forward(x, train=True)
        loss, dlogits = softmax_cross_entropy(logits, y)
        self.backward(dlogits)
        self.add_penalty_grads(len(y))
        return loss, self.penalty(len(y)), logits

    def parameters(self) -> list[tuple[Layer, str]]:
        return [(layer, name) for layer in self.layers for name in layer.params]


class SGD:
    """Stochastic gradient descent; with momentum, or Nesterov momentum (sklearn's and Keras's formulation)."""

    def __init__(self, momentum: float = 0.0, nesterov: bool = False) -> None:
        self.momentum, self.nesterov = momentum, nesterov
        self.velocity: dict[tuple[int, str], np.ndarray] = {}

    def step(self, net: Network, lr: float) -> None:
        for layer, name in net.parameters():
            p, g = layer.params[name], layer.grads[name]
            lr_g = g * p.dtype.type(lr)
            if not self.momentum:
                p -= lr_g
                continue
            key = (id(layer), name)
            v = self.velocity.get(key)
            v = -lr_g if v is None else v * p.dtype.type(self.momentum) - lr_g
            self.velocity[key] = v
            p += v * p.dtype.type(self.momentum) - lr_g if self.nesterov else v


class Adam:
    """Adam (Kingma & Ba) with bias correction."""

    def __init__(self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8) -> None:
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.m: dict[tuple[int, str], np.ndarray] = {}
        self.v: dict[tuple[int, str], np.ndarray] = {}

    def step(self, net: Network, lr: float) -> None:
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        step = lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for layer, name in net.parameters():
            p, g = layer.params[name], layer.grads[name]
            key = (id(layer), name)
            m = self.m.get(key)
            if m is None:
                m = self.m[key] = np.zeros_like(p)
                self.v[key] = np.zeros_like(p)
            v = self.v[key]
            m *= p.dtype.type(b1)
            m += g * p.dtype.type(1 - b1)
            v *= p.dtype.type(b2)
            v += (g * g) * p.dtype.type(1 - b2)
            p -= p.dtype.type(step) * m / (np.sqrt(v) + p.dtype.type(self.epsilon))


def scheduled_learning_rate(lr0: float, epoch: int, schedule: str, total_epochs: int,
                            step_size: int = 10, step_factor: float = 0.5) -> float:
    """Learning rate for a 0-based epoch: constant, step (times ``step_factor`` every ``step_size`` epochs),
    or cosine decay from lr0 to 0 over ``total_epochs``."""
    if schedule == "constant":
        return lr0
    if schedule == "step":
        return lr0 * step_factor ** (epoch // step_size)
    if schedule == "cosine":
        return 0.5 * lr0 * (1 + math.cos(math.pi * min(epoch, total_epochs) / total_epochs))
    raise ValueError(f"learning_rate_schedule must be 'constant', 'step' or 'cosine', got {schedule!r}")


# ============================================================ 3. estimator


class DivergedError(RuntimeError):
    """The model's training loss became non-finite; its predictions would be meaningless."""


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """From-scratch MLP classifier with scikit-learn's interface.

    Parameters named as in ``sklearn.neural_network.MLPClassifier`` mean the same
    (``alpha`` is the L2 penalty, see ``Network``; ``max_iter`` counts epochs; with
    ``early_stopping=False`` training stops when the training loss has not improved
    by ``tol`` for ``n_iter_no_change`` epochs). Differences and extras:

    - ``activation`` also accepts ``"leaky_relu"`` (slope ``leaky_relu_slope``) and ``"sigmoid"``.
    - ``solver`` is ``"sgd"`` (plain when ``momentum=0``, momentum, or Nesterov) or ``"adam"``.
    - ``n_iter_no_change=None`` never stops early on the training loss: exactly ``max_iter`` epochs.
    - ``early_stopping_monitor``: ``"val_accuracy"`` (sklearn's choice) or ``"val_loss"``;
      the best weights are restored.
    - ``l1``, ``l2_first_layer_only``, ``dropout`` (rate after each hidden activation), ``input_dropout``
      (rate on the input pixels),
      ``batch_norm`` (after each hidden activation, before dropout, as report 002),
      ``init`` (``"he"``, ``"glorot"``, ``"normal"``), ``learning_rate_schedule``
      (``"constant"``, ``"step"``, ``"cosine"``), ``dtype`` (``"float32"`` or ``"float64"``).
    - ``augment_shift`` (pixels) and ``augment_flip``: random translations and horizontal flips of each
      training mini-batch of 28 x 28 images (see ``augment_batch``); validation and test data are never augmented.
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
        rng, dtype = self._rng, np.dtype(self.dtype)
        sizes = [n_features, *self._hidden_sizes(), n_classes]
        layers: list[Layer] = [Dropout(self.input_dropout, rng)] if self.input_dropout else []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            W = init_weights(fan_in, fan_out, self.init, rng, dtype)
            layers.append(Dense(W, np.zeros(fan_out, dtype), input_grad=i > 0))
            if i < len(sizes) - 2:
                act = ACTIVATIONS[self.activation]
                layers.append(act(self.leaky_relu_slope) if act is LeakyReLU else act())
                if self.batch_norm:
                    layers.append(BatchNorm(fan_out, dtype))
                if self.dropout:
                    layers.append(Dropout(self.dropout, rng))
        self.network_ = Network(layers, self.alpha, self.l1, self.l2_first_layer_only)
        self.optimizer_ = (Adam(self.beta_1, self.beta_2, self.epsilon) if self.solver == "adam"
                           else SGD(self.momentum, self.nesterovs_momentum and self.momentum > 0))
        self.history_ = {k: [] for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")}
        self.loss_curve_, self.batch_loss_, self.validation_scores_ = [], [], []
        self.n_iter_, self.t_, self.diverged_epoch_ = 0, 0, None
        self._first_batch_loss = None
        self.best_loss_, self.best_validation_score_ = np.inf, None

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

    def fit(self, X, y, validation_data=None, soft_targets=None):
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

    def partial_fit(self, X, y, classes=None):
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

    def _run_epoch(self, X, y, batch: int, lr: float, soft_targets=None) -> tuple[float, float] | None:
        """One pass over shuffled mini-batches: (mean training loss, accuracy), or None once the loss diverges.
        The loss is to ``soft_targets`` where given, else to the labels ``y``."""
        net, n = self.network_, len(y)
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        sum_loss = sum_correct = 0.0
        for lo in range(0, n, batch):
            idx = order[lo:lo + batch]
            xb, views = X[idx], None
            if self.augment_shift or self.augment_flip:
                xb, views = augment_batch(xb, self._rng, self.augment_shift, self.augment_flip, return_views=True)
            if soft_targets is None:
                targets = y[idx]
            else:  # per-view targets: the teacher's probabilities for the translation each image got
                targets = soft_targets[idx, views] if soft_targets.ndim == 3 else soft_targets[idx]
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is detected just below
                loss, penalty, logits = net.loss_and_grads(xb, targets)
            total = loss + penalty
            if self._first_batch_loss is None:
                self._first_batch_loss = total
            if not math.isfinite(total) or (self.divergence_factor is not None
                                            and total > self.divergence_factor * self._first_batch_loss):
                return None
            self.optimizer_.step(net, lr)
            self.batch_loss_.append(total)
            sum_loss += total * len(idx)
            sum_correct += int((logits.argmax(axis=1) == y[idx]).sum())
        return sum_loss / n, sum_correct / n

    def _train(self, X, y, X_val, y_val, epochs: int, stop_on_plateau: bool = True, soft_targets=None) -> None:
        batch = self._batch_size(len(y))
        monitor_val = X_val is not None and self.early_stopping
        best_score, best_state, no_improve = None, None, 0
        progress = _progress(epochs, self.verbose)
        h = self.history_
        for _ in range(epochs):
            start = time.perf_counter()
            lr = scheduled_learning_rate(self.learning_rate_init, self.n_iter_, self.learning_rate_schedule,
                                         self.max_iter, self.lr_step_size, self.lr_step_factor)
            train = self._run_epoch(X, y, batch, lr, soft_targets)
            if train is not None and X_val is None and self._unusable_after_update(X[:batch]):
                train = None  # no validation loss follows to see the epoch's last update: this check does
            val = None
            if train is not None and X_val is not None:
                with np.errstate(over="ignore", invalid="ignore"):
                    val = self._evaluate(X_val, y_val)
            if train is None or (val is not None and not math.isfinite(val[0])):
                self._record_divergence(self.n_iter_ + 1)
                progress.close()
                return
            self.n_iter_ += 1
            self.t_ += len(y)
            for key, value in [("train_loss", train[0]), ("train_accuracy", train[1]), ("lr", lr)]:
                h[key].append(value)
            self.loss_curve_.append(train[0])
            if val is not None:
                h["val_loss"].append(val[0])
                h["val_accuracy"].append(val[1])
                self.validation_scores_.append(val[1])
            h["seconds"].append(time.perf_counter() - start)
            progress.update(1)
            progress.set_postfix(self._postfix(), refresh=False)
            if not stop_on_plateau:
                continue
            if monitor_val:  # early stopping on the validation split, keeping the best weights
                score = h["val_accuracy"][-1] if self.early_stopping_monitor == "val_accuracy" else -h["val_loss"][-1]
                if best_score is None or score > best_score + self.tol:
                    best_score, best_state, no_improve = score, self._snapshot(), 0
                else:
                    no_improve += 1
            elif self.n_iter_no_change is not None:  # sklearn's stop on a training-loss plateau
                no_improve = no_improve + 1 if self.loss_curve_[-1] > self.best_loss_ - self.tol else 0
                self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            if self.n_iter_no_change is not None and no_improve >= self.n_iter_no_change:
                break
        progress.close()
        if monitor_val and best_state is not None:
            self._restore(best_state)
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_epoch_ = int(np.argmax(self.validation_scores_ if self.early_stopping_monitor == "val_accuracy"
                                             else -np.asarray(h["val_loss"]))) + 1
        elif self.n_iter_ >= self.max_iter and stop_on_plateau and self.n_iter_no_change is not None:
            warnings.warn(f"MLPClassifier: maximum iterations ({self.max_iter}) reached and the optimization "
                          "hasn't converged yet.", ConvergenceWarning, stacklevel=3)

    def _postfix(self) -> dict:
        h = self.history_
        post = {"loss": f"{h['train_loss'][-1]:.4f}", "acc": f"{h['train_accuracy'][-1]:.4f}"}
        if h["val_accuracy"]:
            post["val_acc"] = f"{h['val_accuracy'][-1]:.4f}"
        return post

    def _unusable_after_update(self, x: np.ndarray) -> bool:
        """Whether the weights are non-finite or give non-finite outputs on ``x`` (inference mode: no random draws,
        no running statistics updated, so training replays unchanged). A later mini-batch's loss would catch this,
        but the epoch's last update has none."""
        if not all(np.isfinite(layer.params[name]).all() for layer, name in self.network_.parameters()):
            return True
        with np.errstate(over="ignore", invalid="ignore"):  # huge but finite weights overflow here: that is the point
            return not np.isfinite(self.network_.forward(x)).all()

    def _record_divergence(self, epoch: int) -> None:
        self.diverged_epoch_ = epoch
        warnings.warn(f"MLPClassifier diverged: non-finite or exploding training loss in epoch {epoch}. Lower "
                      "learning_rate_init or scale the inputs (e.g. pixels to [0, 1]).", ConvergenceWarning,
                      stacklevel=4)

    def _snapshot(self) -> list[dict]:
        return [{k: v.copy() for k, v in layer.params.items()} | (
                {"running_mean": layer.running_mean.copy(), "running_var": layer.running_var.copy()}
                if isinstance(layer, BatchNorm) else {}) for layer in self.network_.layers]

    def _restore(self, state: list[dict]) -> None:
        for layer, saved in zip(self.network_.layers, state):
            for k in layer.params:
                layer.params[k][...] = saved[k]
            if isinstance(layer, BatchNorm):
                layer.running_mean, layer.running_var = saved["running_mean"], saved["running_var"]

    # ------------------------------------------------------------ inference

    def _forward_in_chunks(self, X: np.ndarray, chunk: int = 8192) -> np.ndarray:
        return np.concatenate([self.network_.forward(X[i:i + chunk]) for i in range(0, len(X), chunk)])

    def _logits(self, X: np.ndarray) -> np.ndarray:
        if self.diverged_epoch_ is not None:
            raise DivergedError(f"this model diverged in epoch {self.diverged_epoch_} (non-finite or exploding loss); "
                                "its predictions would be meaningless. Refit with a lower learning_rate_init.")
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            logits = self._forward_in_chunks(X)
        bad = int((~np.isfinite(logits)).any(axis=1).sum())
        if bad:  # never pass NaN on as probabilities or an argmax of NaN as a class
            raise DivergedError(f"the model gives non-finite outputs for {bad} of {len(X)} samples: its weights have "
                                "overflowed (training diverged unnoticed, or they were set by hand) or these inputs "
                                "lie far outside the training data's range. Refit with a lower learning_rate_init, "
                                "or scale the inputs as in training.")
        return logits

    def _evaluate(self, X: np.ndarray, y_idx: np.ndarray) -> tuple[float, float]:
        logits = self._forward_in_chunks(X)
        loss, _ = softmax_cross_entropy(logits, y_idx)
        return loss, float((logits.argmax(axis=1) == y_idx).mean())

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (N, n_classes), columns in the order of ``classes_``."""
        check_is_fitted(self, "network_")
        return softmax(self._logits(self._check_X(X, reset=False)))

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        return self.classes_[self._logits(self._check_X(X, reset=False)).argmax(axis=1)]

    def log_loss(self, X, y) -> float:
        """Mean cross-entropy of (X, y) under the model (no penalty)."""
        check_is_fitted(self, "network_")
        return softmax_cross_entropy(self._logits(self._check_X(X, reset=False)), self._encode_y(y))[0]

    @property
    def n_parameters_(self) -> int:
        return sum(layer.params[name].size for layer, name in self.network_.parameters())


def _progress(total: int, verbose):
    """A tqdm progress bar over epochs when verbose, else a no-op stand-in."""
    if verbose:
        from tqdm.auto import tqdm

        return tqdm(total=total, unit="epoch", leave=False)

    class _Silent:
        def update(self, n): ...
        def set_postfix(self, *a, **k): ...
        def close(self): ...

    return _Silent()
