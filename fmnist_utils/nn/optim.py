"""Optimizers that own their learning rate and its schedule, as scikit-learn's ``_stochastic_optimizers``.

An optimizer is built with ``learning_rate_init`` and the schedule's settings and keeps the current rate in
``learning_rate``; ``step(net)`` updates every parameter of a network from the gradients its last backward pass
left, and ``epoch_ends(epoch)`` sets the rate for the next epoch. The training loop never handles the rate.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .layers import Buffers
from .network import Network

SCHEDULES = ("constant", "step", "cosine")


def scheduled_learning_rate(learning_rate_init: float, epoch: int, schedule: str, total_epochs: int | None,
                            step_size: int = 10, step_factor: float = 0.5) -> float:
    """Learning rate for a 0-based epoch: constant, step (times ``step_factor`` every ``step_size`` epochs),
    or cosine decay from ``learning_rate_init`` to 0 over ``total_epochs``."""
    if schedule == "constant":
        return learning_rate_init
    if schedule == "step":
        return learning_rate_init * step_factor ** (epoch // step_size)
    if schedule == "cosine":
        return 0.5 * learning_rate_init * (1 + math.cos(math.pi * min(epoch, total_epochs) / total_epochs))
    raise ValueError(f"learning_rate_schedule must be 'constant', 'step' or 'cosine', got {schedule!r}")


#: Elements per chunk of an update: an update of many elementwise passes runs chunk by chunk, so each pass reads
#: arrays still in the core's cache instead of streaming a whole 1024 x 1024 matrix from memory a dozen times. Each
#: element gets the same operations as unchunked, so the results are bit-identical.
CHUNK_ELEMENTS = 2**17


def chunk_slices(shape: tuple[int, ...], chunk_elements: int | None = None) -> list[slice]:
    """Slices along the first axis of an array of ``shape`` (at least one axis) that cover it in blocks of at most
    ``chunk_elements`` elements (default ``CHUNK_ELEMENTS``), or of one row where a row is larger."""
    rows = max(1, (chunk_elements or CHUNK_ELEMENTS) // max(math.prod(shape[1:]), 1))
    return [slice(lo, lo + rows) for lo in range(0, shape[0], rows)]


class Optimizer:
    """The learning rate and its schedule, and the chunked update loop; subclasses add the update rule.

    schedule: ``"constant"``, ``"step"`` (times ``step_factor`` every ``step_size`` epochs) or ``"cosine"``
    (from ``learning_rate_init`` to 0 over ``total_epochs``). ``workers``: threads the update's chunks are shared
    among (each elementwise pass releases numpy's GIL); the trainer sets it to its BLAS thread count. Every element
    gets the same operations whatever the chunking and the thread that runs it, so results never depend on them.
    A subclass names its per-parameter state arrays (``_state``), its scratch count (``n_scratch``) and the update
    of one chunk (``_update``), and may prepare each step (``_begin_step``).
    """

    n_scratch = 0
    workers = 1

    def __init__(self, learning_rate_init: float, schedule: str = "constant", total_epochs: int | None = None,
                 step_size: int = 10, step_factor: float = 0.5) -> None:
        if schedule == "cosine" and not total_epochs:
            raise ValueError("the cosine schedule needs total_epochs, the epoch at which the rate reaches 0")
        self.learning_rate_init = learning_rate_init
        self.schedule, self.total_epochs = schedule, total_epochs
        self.step_size, self.step_factor = step_size, step_factor
        # the first epoch's rate; raises on an unknown schedule
        self.learning_rate = scheduled_learning_rate(learning_rate_init, 0, schedule, total_epochs, step_size,
                                                     step_factor)
        self._scratch = Buffers()  # per worker: n_scratch flat arrays, views of which each chunk uses

    def epoch_ends(self, epoch: int) -> None:
        """Called when ``epoch`` epochs have run: sets ``learning_rate`` to the schedule's rate for the next one
        (0-based index ``epoch``). The count is over all fits, so a warm start or partial_fit continues the schedule."""
        self.learning_rate = scheduled_learning_rate(self.learning_rate_init, epoch, self.schedule,
                                                     self.total_epochs, self.step_size, self.step_factor)

    def step(self, net: Network) -> None:
        """Update every parameter of ``net`` in place from its ``grads``, at the current ``learning_rate``."""
        self._begin_step()
        tasks = [(p[rows], layer.grads[name][rows], *(state[rows] for state in self._state((id(layer), name), p)))
                 for layer, name in net.parameters() for p in [layer.params[name]] for rows in chunk_slices(p.shape)]
        workers = max(1, min(self.workers, len(tasks)))
        largest = max((task[0].size for task in tasks), default=0)

        def run(worker: int) -> None:
            for task in tasks[worker::workers]:
                p = task[0]
                scratch = (self._scratch.get((worker, i, p.dtype), (largest,), p.dtype)[:p.size].reshape(p.shape)
                           for i in range(self.n_scratch))
                self._update(*task, *scratch)

        if workers == 1:
            run(0)
        else:
            list(_thread_pool(workers).map(run, range(workers)))  # list(): re-raises a worker's exception

    def _begin_step(self) -> None:
        """Called once before each step's chunks."""

    def _state(self, key: tuple[int, str], p: np.ndarray) -> list[np.ndarray]:
        """The state arrays (p's shape) of parameter ``key``, created at its first step."""
        return []

    def _update(self, p: np.ndarray, g: np.ndarray, *arrays: np.ndarray) -> None:
        """One chunk's step, in place: p, g, then the chunks of ``_state``'s arrays and ``n_scratch`` scratch."""
        raise NotImplementedError


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads, made once per size and kept for the process (optimizers stay picklable)."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="fmnist-optim")
    return _POOLS[workers]


class SGD(Optimizer):
    """Stochastic gradient descent; with momentum, or Nesterov momentum (sklearn's and Keras's formulation).

    Velocity ``v = momentum * v - lr * g``; the step is ``v``, or ``momentum * v - lr * g`` with Nesterov.
    """

    n_scratch = 1  # lr * g

    def __init__(self, learning_rate_init: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **schedule: Any) -> None:
        super().__init__(learning_rate_init, **schedule)
        self.momentum, self.nesterov = momentum, nesterov
        self.velocity: dict[tuple[int, str], np.ndarray] = {}

    def _state(self, key: tuple[int, str], p: np.ndarray) -> list[np.ndarray]:
        if not self.momentum:
            return []
        if key not in self.velocity:
            self.velocity[key] = np.zeros_like(p)
        return [self.velocity[key]]

    def _update(self, p: np.ndarray, g: np.ndarray, *arrays: np.ndarray) -> None:
        *velocity, lr_g = arrays
        dtype = p.dtype.type  # the parameters' dtype: float32 stays float32
        np.multiply(g, dtype(self.learning_rate), out=lr_g)
        if not velocity:
            p -= lr_g
            return
        v = velocity[0]
        v *= dtype(self.momentum)
        v -= lr_g
        if self.nesterov:
            lr_g *= -1  # p += momentum * v - lr * g, in two in-place steps
            lr_g += v * dtype(self.momentum)
            p += lr_g
        else:
            p += v


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, folded into the step size as in the paper's section 2."""

    n_scratch = 2

    def __init__(self, learning_rate_init: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, **schedule: Any) -> None:
        super().__init__(learning_rate_init, **schedule)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.m: dict[tuple[int, str], np.ndarray] = {}
        self.v: dict[tuple[int, str], np.ndarray] = {}
        self._step = 0.0

    def _begin_step(self) -> None:
        self.t += 1
        self._step = self.learning_rate * math.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)

    def _state(self, key: tuple[int, str], p: np.ndarray) -> list[np.ndarray]:
        if key not in self.m:
            self.m[key], self.v[key] = np.zeros_like(p), np.zeros_like(p)
        return [self.m[key], self.v[key]]

    def _update(self, p: np.ndarray, g: np.ndarray, *arrays: np.ndarray) -> None:
        m, v, s1, s2 = arrays
        dtype = p.dtype.type
        b1, b2 = self.beta_1, self.beta_2
        m *= dtype(b1)
        m += np.multiply(g, dtype(1 - b1), out=s1)
        v *= dtype(b2)
        np.multiply(g, g, out=s1)
        v += np.multiply(s1, dtype(1 - b2), out=s1)
        np.multiply(m, dtype(self._step), out=s2)  # step * m / (sqrt(v) + eps), in the two scratch arrays
        np.sqrt(v, out=s1)
        s1 += dtype(self.epsilon)
        p -= np.divide(s2, s1, out=s2)
