"""What a trained classifier gets wrong: confused pairs, calibration, and a paired test between two models.

All functions take test-set labels ``y: (N,)`` and class probabilities ``proba: (N, C)`` or predictions
``pred: (N,)`` as stored with the runs in ``results/``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .claims import welch_test


def _check(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, proba = np.asarray(y), np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or len(proba) != len(y):
        raise ValueError(f"proba must be (N, classes) for N = {len(y)} labels, got shape {proba.shape}")
    return y, proba


def confused_pairs(y: np.ndarray, pred: np.ndarray, class_names: Sequence[str]) -> pd.DataFrame:
    """Every (true, predicted) pair of different classes with its count, most frequent first."""
    y, pred = np.asarray(y), np.asarray(pred)
    wrong = y != pred
    counts = pd.Series(list(zip(y[wrong], pred[wrong]))).value_counts()
    return pd.DataFrame({"true": [class_names[t] for t, _ in counts.index],
                         "predicted": [class_names[p] for _, p in counts.index],
                         "count": counts.to_numpy()}).reset_index(drop=True)


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, n_bins: int = 15) -> float:
    """ECE: the gap between confidence (top probability) and accuracy, averaged over equal-width confidence
    bins weighted by how many images fall in each."""
    y, proba = _check(y, proba)
    confidence, correct = proba.max(1), proba.argmax(1) == y
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    gaps = [abs(confidence[bins == b].mean() - correct[bins == b].mean()) * np.mean(bins == b)
            for b in range(n_bins) if np.any(bins == b)]
    return float(np.sum(gaps))


def reliability_curve(y: np.ndarray, proba: np.ndarray, n_bins: int = 15) -> pd.DataFrame:
    """Per confidence bin: mean confidence, accuracy and image count (the points of a reliability diagram)."""
    y, proba = _check(y, proba)
    confidence, correct = proba.max(1), proba.argmax(1) == y
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    frame = pd.DataFrame({"bin": bins, "confidence": confidence, "accuracy": correct})
    return frame.groupby("bin").agg(confidence=("confidence", "mean"), accuracy=("accuracy", "mean"),
                                    images=("accuracy", "size")).reset_index(drop=True)


def mcnemar_test(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict:
    """Exact McNemar test on the same test images: are A and B wrong equally often where they disagree?

    Returns the discordant counts (``only_a_right``, ``only_b_right``) and the two-sided p-value of the
    binomial test of ``only_a_right`` out of all discordant images at p = 0.5.
    """
    y, pred_a, pred_b = map(np.asarray, (y, pred_a, pred_b))
    if not len(y) == len(pred_a) == len(pred_b):
        raise ValueError(f"mcnemar_test needs equal lengths, got {len(y)}, {len(pred_a)}, {len(pred_b)}")
    a_right, b_right = pred_a == y, pred_b == y
    only_a, only_b = int(np.sum(a_right & ~b_right)), int(np.sum(~a_right & b_right))
    p = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"only_a_right": only_a, "only_b_right": only_b, "p_value": float(p)}


def welch_p(runs_a: Sequence[dict], runs_b: Sequence[dict], metric: str) -> float:
    """Two-sided p-value of Welch's t-test (unequal variances) between ``metric`` of two groups of runs: the claims
    engine's ``welch_test``, so a table's p-value and a verdict agree (NaN, from constant equal samples, reads 1)."""
    return welch_test([r[metric] for r in runs_a], [r[metric] for r in runs_b]).p_value
