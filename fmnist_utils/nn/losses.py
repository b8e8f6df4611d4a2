"""Softmax and the softmax cross-entropy loss. Shapes: N samples, C classes."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise probabilities of logits (N, C); the row maximum is subtracted first, so exp never overflows."""
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
