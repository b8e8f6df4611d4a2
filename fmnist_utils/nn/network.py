"""A stack of layers with weight penalties, and ``build_network``, which lays out the reports' MLPs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .layers import ACTIVATIONS, BatchNorm, Buffers, Dense, Dropout, Layer, LeakyReLU, ReLU, init_weights
from .losses import softmax_cross_entropy


class Network:
    """A stack of layers with weight penalties.

    Penalties follow scikit-learn's convention: for a mini-batch of n samples,
    ``loss = mean cross-entropy + (alpha / 2 * sum W**2 + l1 * sum |W|) / n``,
    over all weight matrices (not biases), or only the first if ``l2_first_layer_only``. With
    ``penalty_samples = N`` set, n is N instead (a penalty over the whole training set of N samples, the
    ``lambda / (2 N)`` convention of many course notes), whatever the batch size.
    """

    def __init__(self, layers: list[Layer], alpha: float = 0.0, l1: float = 0.0,
                 l2_first_layer_only: bool = False) -> None:
        self.layers = layers
        self.alpha, self.l1 = alpha, l1
        self.l2_first_layer_only = l2_first_layer_only
        self.penalty_samples: int | None = None
        self._scratch = Buffers()

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """x: (N, D) -> logits (N, C)."""
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def forward_in_chunks(self, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """Inference logits (N, C) in slices of ``chunk`` rows, so 60,000 images never need one huge activation."""
        return np.concatenate([self.forward(x[i:i + chunk]) for i in range(0, len(x), chunk)])

    def backward(self, dout: np.ndarray) -> None:
        """dout: d loss / d logits (N, C); fills every layer's grads."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
            if dout is None:  # the first Dense layer skips its input gradient: nothing below it learns
                break

    def penalty(self, n: int) -> float:
        """The weight penalty of a mini-batch of ``n`` samples."""
        dense = self.dense_layers
        total = 0.0
        if self.alpha:
            l2_layers = dense[:1] if self.l2_first_layer_only else dense
            total += 0.5 * self.alpha * sum(float(np.vdot(d.params["W"], d.params["W"])) for d in l2_layers)
        if self.l1:
            total += self.l1 * sum(float(np.abs(d.params["W"]).sum()) for d in dense)
        return total / n

    def add_penalty_grads(self, n: int) -> None:
        """Add the penalty's gradient to the weight matrices' grads."""
        if not (self.alpha or self.l1):
            return  # no penalty: no kept arrays either
        for i, d in enumerate(self.dense_layers):
            W = d.params["W"]
            scaled = self._scratch.get(i, W.shape, W.dtype)  # the term to add, in an array kept between steps
            if self.alpha and (i == 0 or not self.l2_first_layer_only):
                d.grads["W"] += np.multiply(W, W.dtype.type(self.alpha / n), out=scaled)
            if self.l1:
                d.grads["W"] += np.multiply(np.sign(W, out=scaled), W.dtype.type(self.l1 / n), out=scaled)

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
        """One training step's forward and backward pass: (data loss, penalty, logits); fills every layer's grads."""
        logits = self.forward(x, train=True)
        loss, dlogits = softmax_cross_entropy(logits, y)
        self.backward(dlogits)
        n = self.penalty_samples or len(y)
        self.add_penalty_grads(n)
        return loss, self.penalty(n), logits

    def parameters(self) -> list[tuple[Layer, str]]:
        """(layer, parameter name) of every trainable array, in layer order."""
        return [(layer, name) for layer in self.layers for name in layer.params]

    def state(self) -> list[dict[str, np.ndarray]]:
        """Copies of every layer's parameters and batch-norm running statistics (for ``load_state``)."""
        return [{k: v.copy() for k, v in layer.params.items()} | (
                {"running_mean": layer.running_mean.copy(), "running_var": layer.running_var.copy()}
                if isinstance(layer, BatchNorm) else {}) for layer in self.layers]

    def load_state(self, state: list[dict[str, np.ndarray]]) -> None:
        """Put back a ``state()``: parameters in place (optimizers key their moments by layer), statistics."""
        for layer, saved in zip(self.layers, state):
            for k in layer.params:
                layer.params[k][...] = saved[k]
            if isinstance(layer, BatchNorm):
                layer.running_mean, layer.running_var = saved["running_mean"], saved["running_var"]


def build_network(n_features: int, n_classes: int, hidden: Sequence[int] = (), activation: str = "relu", *,
                  rng: np.random.Generator, dtype: np.dtype | str = "float32", init: str = "he",
                  leaky_relu_slope: float = 0.01, batch_norm: bool = False, dropout: float = 0.0,
                  input_dropout: float = 0.0, alpha: float = 0.0, l1: float = 0.0,
                  l2_first_layer_only: bool = False) -> Network:
    """An MLP n_features -> hidden... -> n_classes logits: each hidden layer is Dense, activation, then batch norm
    (if ``batch_norm``, as report 002) and dropout (rate ``dropout``); ``input_dropout`` drops input pixels.

    Weights are drawn from ``rng`` layer by layer (biases start at 0); dropout layers keep ``rng`` for their masks.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    dtype = np.dtype(dtype)
    sizes = [n_features, *hidden, n_classes]
    layers: list[Layer] = [Dropout(input_dropout, rng)] if input_dropout else []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = init_weights(fan_in, fan_out, init, rng, dtype)
        hidden_layer = i < len(sizes) - 2
        layers.append(Dense(W, np.zeros(fan_out, dtype), input_grad=i > 0, reuse_output=hidden_layer))
        if hidden_layer:
            act = ACTIVATIONS[activation]
            # the Dense output is the network's own: ReLU may overwrite it
            layers.append(act(leaky_relu_slope) if act is LeakyReLU else act(inplace=True) if act is ReLU else act())
            if batch_norm:  # its output is the network's own too
                layers.append(BatchNorm(fan_out, dtype, reuse_output=True))
            if dropout:  # scales in place what the layer before it no longer needs
                layers.append(Dropout(dropout, rng, inplace=not layers[-1].caches_output))
    return Network(layers, alpha, l1, l2_first_layer_only)
