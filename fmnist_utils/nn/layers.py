"""Layers as forward/backward pairs, in the spirit of cs231n's ``layers.py``.

``forward(x, train)`` keeps in ``self.cache`` what ``backward`` needs (only when ``train``: inference leaves
no state behind); ``backward(dout)`` fills ``self.grads`` (one entry per ``self.params`` entry) and returns the
gradient with respect to the layer's input. Shapes: N samples, D input features, M output features.
"""

from __future__ import annotations

import math

import numpy as np


class Buffers:
    """Arrays kept between calls, by key, so that the hot path allocates nothing per batch: ``get`` hands back the
    array of the last call with that key, reallocated only when the shape or dtype asked for changes (the last,
    smaller batch of an epoch). Its contents are whatever the caller left there."""

    def __init__(self) -> None:
        self._arrays: dict[object, np.ndarray] = {}

    def get(self, key: object, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
        array = self._arrays.get(key)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self._arrays[key] = np.empty(shape, dtype)
        return array


class Layer:
    """Base class: parameters ``params``, their gradients ``grads``, and the forward pass's ``cache``.

    ``caches_output``: whether the training output is itself the cache ``backward`` reads (tanh, sigmoid), so a
    layer after it must not overwrite it in place.
    """

    caches_output = False

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache = None

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """x: (N, D) -> out: (N, M)."""
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        """dout: (N, M), d loss / d out -> dx: (N, D), d loss / d x."""
        raise NotImplementedError


class Dense(Layer):
    """Affine layer ``out = x @ W + b``. x: (N, D), W: (D, M), b: (M,), out: (N, M).

    In training the output, the gradients and dx are written into arrays kept from the previous mini-batch of the
    same size (``out=``): the hot path allocates nothing but the batch. With ``reuse_output`` the training output
    itself is such an array, overwritten by the next training pass, so only a network's hidden layers (whose
    output the network owns) use it; the last layer returns fresh logits.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, input_grad: bool = True, reuse_output: bool = False) -> None:
        super().__init__()
        self.params = {"W": W, "b": b}
        self.input_grad = input_grad  # the first layer need not compute dx: saves a third of its backward
        self.reuse_output = reuse_output
        self._buffers = Buffers()

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        W, b = self.params["W"], self.params["b"]
        if not (train and self.reuse_output):
            if train:
                self.cache = x
            return x @ W + b
        self.cache = x
        out = np.matmul(x, W, out=self._buffers.get("out", (len(x), W.shape[1]), np.result_type(x, W)))
        out += b
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        """dout: (N, M) -> dW: (D, M), db: (M,) in ``grads``; dx: (N, D), or None without ``input_grad``."""
        x, W = self.cache, self.params["W"]
        dtype = np.result_type(x, dout)
        self.grads["W"] = np.matmul(x.T, dout, out=self._buffers.get("dW", W.shape, dtype))
        self.grads["b"] = np.sum(dout, axis=0, out=self._buffers.get("db", self.params["b"].shape, dout.dtype))
        if not self.input_grad:
            return None
        return np.matmul(dout, W.T, out=self._buffers.get("dx", (len(dout), W.shape[0]), np.result_type(dout, W)))


class Identity(Layer):
    """``out = x``: a linear network's "activation"."""

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout


class ReLU(Layer):
    """``max(0, x)``; backward passes the gradient where x > 0. x, out: (N, D).

    ``inplace`` (as PyTorch's ``nn.ReLU(inplace=True)``): in training, overwrite x and dout instead of allocating;
    only for inputs the caller owns, such as a network's hidden Dense outputs.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace
        self._buffers = Buffers()

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        if not (train and self.inplace):
            out = np.maximum(x, 0)
            if train:
                self.cache = out > 0
            return out
        self.cache = np.greater(x, 0, out=self._buffers.get("mask", x.shape, np.dtype(bool)))
        return np.maximum(x, 0, out=x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.multiply(dout, self.cache, out=dout) if self.inplace else dout * self.cache


class LeakyReLU(Layer):
    """``x`` for x > 0, ``slope * x`` otherwise. x, out: (N, D)."""

    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        positive = x > 0
        if train:
            self.cache = positive
        return np.where(positive, x, x * x.dtype.type(self.slope))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.where(self.cache, dout, dout * dout.dtype.type(self.slope))


class Tanh(Layer):
    """``tanh(x)``; its derivative is ``1 - out**2``. x, out: (N, D)."""

    caches_output = True

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        out = np.tanh(x)
        if train:
            self.cache = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1 - self.cache**2)


class Sigmoid(Layer):
    """Logistic function, computed stably for large |x| via tanh. x, out: (N, D)."""

    caches_output = True

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        out = 0.5 * (1 + np.tanh(0.5 * x))
        if train:
            self.cache = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.cache * (1 - self.cache)


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``rate`` and scale the rest by 1/(1-rate).

    x, out: (N, D). The mask is drawn from ``rng`` (the estimator's generator: its draw order is part of a seeded
    run); inference passes x unchanged. ``inplace``: in training, scale x and dout where they are instead of
    allocating, as ReLU's; only for arrays the caller owns, such as a network's hidden activations.
    """

    def __init__(self, rate: float, rng: np.random.Generator, inplace: bool = False) -> None:
        super().__init__()
        self.rate = rate
        self.rng = rng
        self.inplace = inplace
        self._buffers = Buffers()

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        if not train or self.rate == 0:
            return x
        keep = x.dtype.type(1 - self.rate)
        # (uniform < keep) / keep, with the draws, the comparison and the mask in arrays kept between batches
        uniform = self.rng.random(dtype=x.dtype, out=self._buffers.get("uniform", x.shape, x.dtype))
        kept = np.less(uniform, keep, out=self._buffers.get("kept", x.shape, np.dtype(bool)))
        self.cache = np.divide(kept, keep, out=self._buffers.get("mask", x.shape, x.dtype))
        return np.multiply(x, self.cache, out=x) if self.inplace else x * self.cache

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.multiply(dout, self.cache, out=dout) if self.inplace else dout * self.cache


class BatchNorm(Layer):
    """Batch normalization over the batch axis. x, out: (N, D); gamma, beta: (D,).

    Training uses the batch's mean and variance and updates running averages
    (``momentum`` as in Keras: new = momentum * old + (1 - momentum) * batch);
    inference uses the running averages. In training the normalized batch and the backward pass's temporaries
    live in arrays kept from the last batch of the same size, as Dense's; the same operations as numpy's
    ``mean`` and ``var`` in the same order, so the results are those of computing them afresh. With
    ``reuse_output`` (as Dense's) the training output is such an array too, overwritten by the next training pass.
    """

    def __init__(self, dim: int, dtype: np.dtype | str, momentum: float = 0.99, eps: float = 1e-3,
                 reuse_output: bool = False) -> None:
        super().__init__()
        self.params = {"gamma": np.ones(dim, dtype), "beta": np.zeros(dim, dtype)}
        self.running_mean = np.zeros(dim, dtype)
        self.running_var = np.ones(dim, dtype)
        self.momentum, self.eps = momentum, eps
        self.reuse_output = reuse_output
        self._buffers = Buffers()

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not train:
            return (x - self.running_mean) / np.sqrt(self.running_var + self.eps) * gamma + beta
        n = len(x)
        mean = x.mean(axis=0)
        x_hat = np.subtract(x, mean, out=self._buffers.get("x_hat", x.shape, x.dtype))  # centred, then scaled
        squares = np.multiply(x_hat, x_hat, out=self._buffers.get("tmp", x.shape, x.dtype))
        var = np.true_divide(np.add.reduce(squares, axis=0), n)  # x.var(axis=0), without its own x - mean
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat *= inv_std
        m = self.momentum
        self.running_mean = m * self.running_mean + (1 - m) * mean
        self.running_var = m * self.running_var + (1 - m) * var
        self.cache = (x_hat, inv_std)
        if not self.reuse_output:
            return x_hat * gamma + beta
        out = np.multiply(x_hat, gamma, out=self._buffers.get("out", x.shape, x.dtype))
        out += beta
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, D) -> dgamma, dbeta: (D,) in ``grads``; dx: (N, D)."""
        x_hat, inv_std = self.cache
        tmp = self._buffers.get("tmp", dout.shape, dout.dtype)
        self.grads["gamma"] = np.multiply(dout, x_hat, out=tmp).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dx = np.multiply(dout, self.params["gamma"], out=self._buffers.get("dx", dout.shape, dout.dtype))
        # Simplified form of the batch-norm input gradient (mean and variance depend on x too):
        # dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)), with dx holding dx_hat.
        mean_dx_hat = dx.mean(axis=0)
        np.multiply(x_hat, np.multiply(dx, x_hat, out=tmp).mean(axis=0), out=tmp)
        dx -= mean_dx_hat
        dx -= tmp
        dx *= inv_std
        return dx


ACTIVATIONS: dict[str, type[Layer]] = {
    "identity": Identity,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "logistic": Sigmoid,
    "sigmoid": Sigmoid,
}


def init_weights(fan_in: int, fan_out: int, scheme: str, rng: np.random.Generator,
                 dtype: np.dtype | str) -> np.ndarray:
    """A (fan_in, fan_out) weight matrix. He: N(0, 2/fan_in); Glorot: U(±sqrt(6/(fan_in+fan_out))) as Keras;
    normal: N(0, 1) as report 003. Drawn in float64, then cast, so both dtypes start from the same draws."""
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
