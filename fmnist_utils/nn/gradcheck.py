"""Gradient checking: backpropagation against centered finite differences, in float64.

``(L(w + eps) - L(w - eps)) / (2 eps)`` approximates dL/dw with error O(eps^2);
a correct backward pass agrees with it to ~1e-9 relative error in float64.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .layers import Dropout, Layer
from .network import Network


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``||a - n|| / max(||a|| + ||n||, 1e-12)``: 0 for identical gradients, 1 for unrelated ones."""
    return float(np.linalg.norm(analytic - numeric) / max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-12))


def error_label(error: float, floor: float = 1e-7) -> str:
    """A relative error for display: ``3e-06``, or ``< 1e-07`` below ``floor``, where its digits are float64
    round-off that changes with the BLAS summation order from one run or machine to the next."""
    return f"< {floor:.0e}" if error < floor else f"{error:.0e}"


def error_bound(error: float) -> float:
    """The power of ten just above ``error`` (2.8e-08 -> 1e-07): what a summary can state of a relative error
    whose digits are round-off, the same on every machine."""
    return float(10.0 ** np.ceil(np.log10(error))) if error > 0 else 0.0


def round_significant(value: float, digits: int = 2) -> float:
    """``value`` to ``digits`` significant digits (3.633e-07 -> 3.6e-07): a finite-difference result's further
    digits change with the BLAS kernel and the CPU."""
    return float(f"{value:.{digits - 1}e}")


def _loss_fn(net: Network, x: np.ndarray, y: np.ndarray, seed: int):
    """The training loss as a function of the current parameters; dropout masks are fixed by re-seeding."""
    def loss() -> float:
        for layer in net.layers:
            if isinstance(layer, Dropout):
                layer.rng = np.random.default_rng(seed)
        data_loss, penalty, _ = net.loss_and_grads(x, y)
        return data_loss + penalty
    return loss


def numerical_gradient(loss, p: np.ndarray, eps: float = 1e-6, indices=None) -> np.ndarray:
    """Centered differences of ``loss()`` with respect to ``p`` (changed in place and restored).

    indices: positions to perturb (default all); the others stay 0 in the result.
    """
    grad = np.zeros_like(p)
    for i in (np.ndindex(p.shape) if indices is None else indices):
        old = p[i]
        p[i] = old + eps
        plus = loss()
        p[i] = old - eps
        minus = loss()
        p[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def check_gradients(net: Network, x: np.ndarray, y: np.ndarray, eps: float = 1e-6, seed: int = 0) -> pd.DataFrame:
    """Relative error between backprop and finite differences, one row per parameter array.

    net must hold float64 parameters; x: (N, D) float64, y: (N,) integer labels 0..C-1 (the network's outputs).
    """
    if any(layer.params[name].dtype != np.float64 for layer, name in net.parameters()):
        raise ValueError("check_gradients needs a float64 network (MLPClassifier(dtype='float64'))")
    loss = _loss_fn(net, x.astype(np.float64), y, seed)
    loss()
    analytic = {(id(layer), name): layer.grads[name].copy() for layer, name in net.parameters()}
    rows = []
    for index, layer in enumerate(net.layers):
        for name, p in layer.params.items():
            numeric = numerical_gradient(loss, p, eps)
            a = analytic[(id(layer), name)]
            rows.append({"layer": f"{index}: {type(layer).__name__}", "parameter": name, "shape": str(p.shape),
                         "max |grad|": float(np.abs(a).max()), "relative error": relative_error(a, numeric)})
    return pd.DataFrame(rows)


def check_single_weights(net: Network, x: np.ndarray, y: np.ndarray, picks: list[tuple[int, str, tuple]],
                         eps: float = 1e-2) -> pd.DataFrame:
    """Report 003's Figure 3: for chosen single weights and biases, the finite-difference estimate,
    the backprop gradient and their difference (with a large ``eps`` the difference is O(eps^2)).

    picks: ``(layer index, parameter name, element index)`` triples.
    """
    loss = _loss_fn(net, x.astype(np.float64), y, seed=0)
    loss()
    rows = []
    analytic = {(i, n): net.layers[i].grads[n].copy() for i, n, _ in picks}
    for layer_index, name, element in picks:
        layer: Layer = net.layers[layer_index]
        numeric = numerical_gradient(loss, layer.params[name], eps, indices=[element])[element]
        a = analytic[(layer_index, name)][element]
        rows.append({"parameter": f"layer {layer_index} {name}{list(element)}", "numerical": numeric,
                     "backprop": a, "difference": abs(numeric - a)})
    return pd.DataFrame(rows)


def perturbation_errors(net: Network, x: np.ndarray, y: np.ndarray, layer_index: int, name: str,
                        elements: list[tuple], eps_values) -> list[float]:
    """Relative error of the finite-difference estimate for some elements of one parameter, for each ε.

    Falls as ε² (truncation) until rounding, which grows as 1/ε, takes over: the V of a correct backward pass.
    """
    loss = _loss_fn(net, x.astype(np.float64), y, seed=0)
    loss()
    p = net.layers[layer_index].params[name]
    where = tuple(zip(*elements))
    analytic = net.layers[layer_index].grads[name][where].copy()
    return [relative_error(analytic, numerical_gradient(loss, p, eps, indices=elements)[where]) for eps in eps_values]
