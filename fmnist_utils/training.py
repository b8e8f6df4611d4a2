"""The NumPy training loop, apart from the model (cs231n's ``Solver``, d2l's ``Trainer``).

``Trainer.fit`` runs epochs of shuffled mini-batches (augmented if asked) through a ``nn.Network`` and its
``nn.optim`` optimizer, records every epoch in a ``TrainingLog``, guards against divergence, and asks its
callbacks after each epoch whether to stop: ``EarlyStopping`` (on a validation score, restoring the best
weights), ``LossPlateau`` (scikit-learn's stop when the training loss stalls) and ``ProgressBar`` (tqdm).

The learning rate is the optimizer's business: the loop only tells it when an epoch ends.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from .augment import augment_batch
from .nn.layers import Buffers
from .nn.losses import softmax_cross_entropy
from .nn.network import Network
from .nn.optim import Optimizer

HISTORY_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")


@dataclass
class TrainingLog:
    """What training records. It outlives one ``Trainer.fit`` call, so warm starts and partial_fit continue it.

    history: per epoch ``train_loss`` (penalty included) and ``train_accuracy`` (running means over the epoch's
    mini-batches, as Keras reports them), ``val_loss``, ``val_accuracy``, ``lr`` and ``seconds``;
    batch_loss: per mini-batch; n_iter: epochs completed; t: samples seen; first_batch_loss: the divergence
    guard's reference; diverged_epoch: the 1-based epoch in which training diverged, or None.
    """

    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    batch_loss: list[float] = field(default_factory=list)
    n_iter: int = 0
    t: int = 0
    first_batch_loss: float | None = None
    diverged_epoch: int | None = None

    def record_epoch(self, n_samples: int, train: tuple[float, float], val: tuple[float, float] | None,
                     lr: float, seconds: float) -> None:
        """Append one finished epoch: train and val are (loss, accuracy)."""
        self.n_iter += 1
        self.t += n_samples
        h = self.history
        for key, value in [("train_loss", train[0]), ("train_accuracy", train[1]), ("lr", lr)]:
            h[key].append(value)
        if val is not None:
            h["val_loss"].append(val[0])
            h["val_accuracy"].append(val[1])
        h["seconds"].append(seconds)


# ------------------------------------------------------------------ BLAS threads

#: Multiply-adds of a mini-batch's largest matrix product below which one BLAS thread trains fastest, measured on
#: the 2-core machine by ``benchmarks/blas_threads.py`` (results/benchmarks/blas_threads.csv): below it, a second
#: OpenBLAS thread saves little when the machine is idle and, spinning against any other process, makes an epoch
#: several times slower when it is not.
ONE_THREAD_MAX_MACS = 64 * 2**20


def blas_threads(network: Network, batch_size: int) -> int | None:
    """BLAS threads for training ``network`` at ``batch_size``: ``FMNIST_BLAS_THREADS`` where set (a shared machine
    may want 1 for every network), else 1 where its largest mini-batch matrix product has fewer than
    ``ONE_THREAD_MAX_MACS`` multiply-adds, else None (the library's default: one per core).

    OpenBLAS's sums depend on its thread count in the last bits, so the count is part of what makes a run
    reproducible: one thread gives the same run on any number of cores.
    """
    if os.environ.get("FMNIST_BLAS_THREADS"):
        value = os.environ["FMNIST_BLAS_THREADS"]
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"FMNIST_BLAS_THREADS must be a positive whole number of threads, got {value!r}; "
                             "unset it to let the trainer choose")
        return int(value)
    largest = max((batch_size * d.params["W"].shape[0] * d.params["W"].shape[1] for d in network.dense_layers),
                  default=0)
    return 1 if largest < ONE_THREAD_MAX_MACS else None


# ------------------------------------------------------------------ divergence guard


def loss_diverged(loss: float, first_loss: float, factor: float | None) -> bool:
    """Whether a mini-batch loss is non-finite or above ``factor`` times the first mini-batch loss (None: only
    non-finite counts). A loss that explodes and then sits at log(C) with dead ReLUs is divergence too."""
    return not math.isfinite(loss) or (factor is not None and loss > factor * first_loss)


def unusable_after_update(net: Network, x: np.ndarray) -> bool:
    """Whether the weights are non-finite or give non-finite outputs on ``x`` (inference mode: no random draws,
    no running statistics updated, so training replays unchanged). A later mini-batch's loss would catch this,
    but the epoch's last update has none."""
    if not all(np.isfinite(layer.params[name]).all() for layer, name in net.parameters()):
        return True
    with np.errstate(over="ignore", invalid="ignore"):  # huge but finite weights overflow here: that is the point
        return not np.isfinite(net.forward(x)).all()


# ------------------------------------------------------------------ callbacks


class Callback:
    """Hooks of ``Trainer.fit``: ``on_epoch_end`` after each recorded epoch returns True to stop training;
    ``on_train_end`` follows the last epoch, or the divergence that ended training."""

    def on_train_begin(self, trainer: Trainer) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer) -> bool:
        return False

    def on_train_end(self, trainer: Trainer, diverged: bool) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when the validation score (``val_accuracy``, or ``val_loss`` negated) has not improved by ``tol`` for
    ``patience`` epochs (None: never stop), and restore the weights of the best epoch.

    After training, ``best_epoch`` (1-based, over the whole log) and ``best_validation_score`` (the best
    ``val_accuracy``) are set, unless training diverged.
    """

    def __init__(self, patience: int | None, tol: float, monitor: str = "val_accuracy") -> None:
        if monitor not in ("val_accuracy", "val_loss"):
            raise ValueError(f"monitor must be 'val_accuracy' or 'val_loss', got {monitor!r}")
        self.patience, self.tol, self.monitor = patience, tol, monitor
        self.best_score: float | None = None
        self.best_state: list[dict[str, np.ndarray]] | None = None
        self.no_improve = 0
        self.best_epoch: int | None = None
        self.best_validation_score: float | None = None

    def on_epoch_end(self, trainer: Trainer) -> bool:
        h = trainer.log.history
        if not h["val_loss"]:
            raise ValueError("EarlyStopping needs validation data: pass X_val and y_val to Trainer.fit")
        score = h["val_accuracy"][-1] if self.monitor == "val_accuracy" else -h["val_loss"][-1]
        if self.best_score is None or score > self.best_score + self.tol:
            self.best_score, self.best_state, self.no_improve = score, trainer.network.state(), 0
        else:
            self.no_improve += 1
        return self.patience is not None and self.no_improve >= self.patience

    def on_train_end(self, trainer: Trainer, diverged: bool) -> None:
        if diverged or self.best_state is None:  # a diverged run keeps its last weights: it is marked unusable
            return
        trainer.network.load_state(self.best_state)
        h = trainer.log.history
        self.best_validation_score = max(h["val_accuracy"])
        self.best_epoch = int(np.argmax(h["val_accuracy"] if self.monitor == "val_accuracy"
                                        else -np.asarray(h["val_loss"]))) + 1


class LossPlateau(Callback):
    """scikit-learn's stop without validation data: after ``patience`` epochs in a row whose training loss is not
    ``tol`` below the best so far. ``best_loss`` carries over between fits (sklearn's ``best_loss_``)."""

    def __init__(self, patience: int, tol: float, best_loss: float = np.inf) -> None:
        self.patience, self.tol, self.best_loss = patience, tol, best_loss
        self.no_improve = 0

    def on_epoch_end(self, trainer: Trainer) -> bool:
        loss = trainer.log.history["train_loss"][-1]
        self.no_improve = self.no_improve + 1 if loss > self.best_loss - self.tol else 0
        self.best_loss = min(self.best_loss, loss)
        return self.no_improve >= self.patience


class ProgressBar(Callback):
    """A tqdm bar over ``total`` epochs showing the last epoch's loss and accuracies; nothing unless ``verbose``."""

    def __init__(self, total: int, verbose: bool | int = True) -> None:
        self.total, self.verbose = total, verbose
        self.bar = None

    def on_train_begin(self, trainer: Trainer) -> None:
        if self.verbose:
            from tqdm.auto import tqdm  # only when shown: tqdm's notebook widgets are slow to import

            self.bar = tqdm(total=self.total, unit="epoch", leave=False)

    def on_epoch_end(self, trainer: Trainer) -> bool:
        if self.bar is not None:
            h = trainer.log.history
            post = {"loss": f"{h['train_loss'][-1]:.4f}", "acc": f"{h['train_accuracy'][-1]:.4f}"}
            if h["val_accuracy"]:
                post["val_acc"] = f"{h['val_accuracy'][-1]:.4f}"
            self.bar.update(1)
            self.bar.set_postfix(post, refresh=False)
        return False

    def on_train_end(self, trainer: Trainer, diverged: bool) -> None:
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------ the loop


class Trainer:
    """Mini-batch training of ``network`` with ``optimizer``, recording into ``log``.

    rng: the generator for shuffling and augmentation (the same one the network's dropout layers draw from: a
    seeded run's draws interleave in a fixed order). batch_size: samples per mini-batch (the last may be
    smaller). augment_shift, augment_flip: see ``augment.augment_batch``. divergence_factor: see
    ``loss_diverged``. threads: BLAS threads while training ("auto": ``blas_threads``; None: the library's
    default), and the optimizer's update threads (None: one per core); the thread count changes speed only, not
    results.
    """

    def __init__(self, network: Network, optimizer: Optimizer, rng: np.random.Generator, log: TrainingLog, *,
                 batch_size: int, shuffle: bool = True, augment_shift: int = 0, augment_flip: bool = False,
                 divergence_factor: float | None = 1e3, callbacks: Sequence[Callback] = (),
                 threads: int | str | None = "auto") -> None:
        self.network, self.optimizer, self.rng, self.log = network, optimizer, rng, log
        self.batch_size, self.shuffle = batch_size, shuffle
        self.augment_shift, self.augment_flip = augment_shift, augment_flip
        self.divergence_factor = divergence_factor
        self.callbacks = list(callbacks)
        self.threads = blas_threads(network, batch_size) if threads == "auto" else threads
        # the optimizer's update runs on as many threads as the products: the same cores, the same policy
        optimizer.workers = self.threads or os.cpu_count() or 1
        self._buffers = Buffers()

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int, X_val: np.ndarray | None = None,
            y_val: np.ndarray | None = None, soft_targets: np.ndarray | None = None) -> bool:
        """Train for up to ``epochs`` epochs; False if training diverged (``log.diverged_epoch`` says when).

        X: (N, D); y: labels 0..C-1 (N,), which score training accuracy; soft_targets: optional (N, C) target
        probabilities for the loss, or (N, views, C) with one row per view of ``augment.shift_views``.
        X_val, y_val: evaluated after each epoch (no augmentation); a non-finite validation loss is divergence.
        """
        with threadpool_limits(self.threads, user_api="blas"):  # None leaves the library's count as it is
            return self._fit(X, y, epochs, X_val, y_val, soft_targets)

    def _fit(self, X: np.ndarray, y: np.ndarray, epochs: int, X_val: np.ndarray | None,
             y_val: np.ndarray | None, soft_targets: np.ndarray | None) -> bool:
        for callback in self.callbacks:
            callback.on_train_begin(self)
        for _ in range(epochs):
            start = time.perf_counter()
            lr = self.optimizer.learning_rate  # this epoch's: the optimizer moves it on in epoch_ends
            train = self.run_epoch(X, y, soft_targets)
            if train is not None and X_val is None and unusable_after_update(self.network, X[:self.batch_size]):
                train = None  # no validation loss follows to see the epoch's last update: this check does
            val = None
            if train is not None and X_val is not None:
                with np.errstate(over="ignore", invalid="ignore"):
                    val = self.evaluate(X_val, y_val)
            if train is None or (val is not None and not math.isfinite(val[0])):
                self.log.diverged_epoch = self.log.n_iter + 1
                self._train_ends(diverged=True)
                return False
            self.log.record_epoch(len(y), train, val, lr, time.perf_counter() - start)
            self.optimizer.epoch_ends(self.log.n_iter)
            if any([callback.on_epoch_end(self) for callback in self.callbacks]):  # a list: every callback runs
                break
        self._train_ends(diverged=False)
        return True

    def _train_ends(self, diverged: bool) -> None:
        for callback in self.callbacks:
            callback.on_train_end(self, diverged)

    def run_epoch(self, X: np.ndarray, y: np.ndarray,
                  soft_targets: np.ndarray | None = None) -> tuple[float, float] | None:
        """One pass over shuffled mini-batches: (mean training loss, accuracy), or None once the loss diverges.
        The loss is to ``soft_targets`` where given, else to the labels ``y``."""
        net, n, batch, log = self.network, len(y), self.batch_size, self.log
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        sum_loss = sum_correct = 0.0
        for lo in range(0, n, batch):
            idx = order[lo:lo + batch]
            xb, targets = self._batch(X, y, idx, soft_targets)
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is detected just below
                loss, penalty, logits = net.loss_and_grads(xb, targets)
            total = loss + penalty
            if log.first_batch_loss is None:
                log.first_batch_loss = total
            if loss_diverged(total, log.first_batch_loss, self.divergence_factor):
                return None
            self.optimizer.step(net)
            log.batch_loss.append(total)
            sum_loss += total * len(idx)
            sum_correct += int((logits.argmax(axis=1) == y[idx]).sum())
        return sum_loss / n, sum_correct / n

    def _batch(self, X: np.ndarray, y: np.ndarray, idx: np.ndarray,
               soft_targets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The mini-batch ``idx``: its images (augmented if asked) and their targets. The images are gathered into
        an array kept from the last batch of the same size: the first Dense layer reads it until the step."""
        xb = np.take(X, idx, axis=0, out=self._buffers.get("xb", (len(idx), *X.shape[1:]), X.dtype))
        views = None
        if self.augment_shift or self.augment_flip:
            xb, views = augment_batch(xb, self.rng, self.augment_shift, self.augment_flip, return_views=True)
        if soft_targets is None:
            return xb, y[idx]
        # per-view targets: the teacher's probabilities for the translation each image got
        return xb, soft_targets[idx, views] if soft_targets.ndim == 3 else soft_targets[idx]

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(mean cross-entropy without penalty, accuracy) of labels y (N,) in inference mode."""
        logits = self.network.forward_in_chunks(X)
        loss, _ = softmax_cross_entropy(logits, y)
        return loss, float((logits.argmax(axis=1) == y).mean())
