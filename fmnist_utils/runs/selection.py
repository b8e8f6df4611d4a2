"""Choosing among stored runs: their metrics over seeds, their test-time augmentation, the best on validation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..paths import results_dir
from .store import ResultsCacheError, load_arrays, stored_runs


def metric_values(records: Iterable[dict], metric: str) -> list[float]:
    """``metric`` of each successful run; diverged runs contribute nothing."""
    return [r[metric] for r in records if r.get("status") == "ok"]


def summarize(records: Iterable[dict], metric: str) -> dict:
    """Mean, sample std and count of ``metric`` over successful runs, and how many diverged."""
    records = list(records)
    values = np.asarray(metric_values(records, metric), dtype=float)
    return {
        "mean": float(values.mean()) if len(values) else float("nan"),
        "std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
        "n_runs": len(values),
        "n_diverged": sum(r.get("status") == "diverged" for r in records),
    }


def mean_metric(records: Iterable[dict], metric: str = "val_accuracy") -> float:
    """The mean of ``metric`` over the successful runs (``summarize``'s mean)."""
    return summarize(records, metric)["mean"]


def first_epoch_reaching(record: dict, level: float, metric: str = "val_accuracy") -> float:
    """The first epoch (from 1) at which the run's ``history[metric]`` reaches ``level``; NaN if it never does."""
    above = np.flatnonzero(np.asarray(record["history"][metric]) >= level)
    return int(above[0]) + 1 if above.size else np.nan


def curve_fluctuation(values: Sequence[float]) -> float:
    """How much a per-epoch curve moves back and forth: the epoch-to-epoch movement that does not add to its net
    change, per step, ``(sum |diff| - |sum diff|) / (len - 1)``. Zero for a monotone curve however steep; NaN
    with fewer than two epochs. A zig-zag of amplitude ``a`` around a flat line gives about ``a``."""
    steps = np.diff(np.asarray(values, float))
    if steps.size == 0:
        return float("nan")
    return float((np.abs(steps).sum() - abs(steps.sum())) / steps.size)


def flip_tta_helps(record: dict) -> bool:
    """Whether flip test-time augmentation beat the plain predictor of this run on validation."""
    return record.get("tta", {}).get("val_accuracy", 0) > record["val_accuracy"]


def test_accuracy(record: dict, flip_tta: bool) -> float:
    """The run's test accuracy with flip test-time augmentation or without (as chosen on validation)."""
    return record["tta"]["test_accuracy"] if flip_tta else record["test_accuracy"]


def tta_scores(record: dict) -> dict[str, dict]:
    """Accuracies of every predictor a run scored, by test-time augmentation: ``"none"``, ``"flip"`` (each image
    averaged with its mirror image) and ``"flip+shift<pixels>"`` (Keras ``tta_shifts``: 10 views); each maps to
    the run's ``val_accuracy`` and ``test_accuracy`` for it (no validation accuracy for a refit on train+val)."""
    scores = {"none": {k: record[k] for k in ("val_accuracy", "test_accuracy") if k in record}}
    if "tta" in record:
        scores["flip"] = record["tta"]
    scores.update(record.get("tta_views", {}))
    return scores


def stored_test_proba(record: dict) -> tuple[np.ndarray, float, str]:
    """The test-set probabilities stored with a run, the validation accuracy of that same predictor, and its
    test-time augmentation: ``"none"``, ``"flip"`` (each image averaged with its mirror image) or
    ``"flip+shift<pixels>"`` (Keras ``tta_shifts``: 10 views).

    Runs store each predictor; the one best on validation is taken (the simplest on a tie). Older NumPy runs with
    ``flip_tta`` hold only the averaged probabilities, so their TTA validation accuracy applies.
    """
    arrays = load_arrays(record)
    if "test_proba_tta" not in arrays and record["config"].get("flip_tta"):
        return arrays["test_proba"].astype(np.float32), record["tta"]["val_accuracy"], "flip"
    predictors = [("none", record["val_accuracy"], "test_proba")]
    if "test_proba_tta" in arrays:
        predictors.append(("flip", record["tta"]["val_accuracy"], "test_proba_tta"))
    predictors += [(name, scores["val_accuracy"], f"test_proba_{name}")
                   for name, scores in record.get("tta_views", {}).items() if f"test_proba_{name}" in arrays]
    name, val_accuracy, key = max(predictors, key=lambda p: p[1])  # max keeps the first of equals
    return arrays[key].astype(np.float32), val_accuracy, name


def best_on_validation(runs: Iterable[dict]) -> dict:
    """The run with the highest validation accuracy, the lower validation loss breaking a tie."""
    return max(runs, key=lambda r: (r["val_accuracy"], -r["val_loss"]))


def best_stored_run(experiment: str, root: Path | None = None) -> dict:
    """The run of ``experiment`` with stored test probabilities that is best on validation, by the best of the
    predictors it scored. Older NumPy runs stored only the flip-averaged probabilities; where such a run is
    chosen for its plain predictor, ``stored_test_proba`` gives the stored one."""
    runs = [r for r in stored_runs(experiment, root) if r.get("status") == "ok"
            and Path(r["_path"]).with_suffix(".npz").is_file()]
    if not runs:
        raise ResultsCacheError(f"no run of {experiment!r} with stored test probabilities in "
                                f"{(root or results_dir()) / experiment}; run its notebook (make retrain NB=...)")
    return max(runs, key=lambda r: max(s.get("val_accuracy", 0.0) for s in tta_scores(r).values()))
