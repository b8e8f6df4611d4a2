"""A verdict for every claim of the five reports: the claims as data (``claims.csv``), tested against ``results/``.

Each row of ``claims.csv`` (at the repository root, beside ``inventory.csv``) is one claim a report makes, in its
words, with the runs that test it: ``experiment`` (a ``results/`` folder) and ``groups``, a JSON object mapping a
group label to a filter on the stored run configuration (dotted keys, e.g. ``"params.hidden_layer_sizes"``; a
missing key reads as ``null``; ``{"$in": [...]}`` accepts any of several values). A group may name its own
``"experiment"``, its own ``"metric"`` (e.g. the same runs' ``train_loss`` against their ``val_loss``), and, for
the runs of a grid search, ``"cv"``: a filter on the ``cv_results`` candidate whose fold scores are its values.

``expected`` says what the report claims:

- ordering / difference: ``"A > B, C > D"`` (tiers separated by ``>`` or ``<``, members of a tier by commas:
  every member of a tier against every member of the next), or ``"A ~ B"`` (equal within ``margin``);
- threshold: ``"> 0.93"``, ``"< 100"``, ``"~ 0.9035"`` (within ``margin``) for the values of the one group;
- per_class: the test images of one stored model (its group names one run with test probabilities): ``metric``
  ``recall`` with an ordering of class indices (``"6 < 0, 1, 2"``: class 6's recall below the others'),
  ``confusions:<k>`` with an ordering of the classes class k's images are mistaken for, or ``recall:<k,k,...>``
  with a threshold that each of those classes' recall must pass;
- description: nothing to compare (``not tested``).

The verdicts (``OUTCOMES``), at ``ALPHA`` = 0.05, two-sided, with the test named in the result:

- two groups of >= 3 runs: Welch's t-test over seeds (a paired t-test where both groups are the same runs);
  one run each with stored test probabilities (and ``y_test`` given): McNemar's exact test on the same images;
  one group against a value: a one-sample t-test (an exact binomial test for a 0/1 metric such as ``diverged``);
  per class: Fisher's exact test between two classes' recalls (different images), an exact binomial test between
  two confusion counts of one class (given their sum) or of one class's recall against a threshold;
  ``~``: two one-sided tests (TOST) against the margin;
- an ordering holds when every adjacent pair of tiers is significant in the claimed direction, is contradicted
  when any pair it implies is significant the other way, and is otherwise inconclusive; too few runs for a test
  is inconclusive, with the reason;
- ``not tested``: no runs, a description, or ``budget_as_reported`` is ``no`` and a compared group's runs were
  still improving when they stopped (they ran to their epoch cap and their best validation accuracy fell in the
  last 20 % of their epochs): a run cut short while it still improves tests nothing. Grid searches store no
  curves; their ``still_improving`` column says what the stored curves of the same network show.

The statistics are pure functions of numbers, so tests can give them small made-up samples; the only I/O is
reading the claims table (``load_claims``) and the stored runs (``evaluate_claims``).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import confusion_matrix

from ..data import load_fashion_mnist
from ..paths import REPO_ROOT
from ..runs.selection import curve_fluctuation, first_epoch_reaching, stored_test_proba
from ..runs.store import ResultsCacheError, stored_runs

#: The four verdicts, in the order the counts give them.
OUTCOMES = ("holds", "contradicted", "inconclusive", "not tested")
#: Significance level of every test.
ALPHA = 0.05
#: Runs per group below which a t-test is not attempted.
MIN_RUNS = 3
#: A run is still improving when its best epoch falls in this last share of its epochs.
LATE_SHARE = 0.2
#: Margin of a similarity claim (``~``) when the table gives none: one point of accuracy.
DEFAULT_MARGIN = 0.01
#: Where the claims table lives (beside ``inventory.csv``).
CLAIMS_PATH = REPO_ROOT / "claims.csv"
FORMS = ("ordering", "difference", "threshold", "per_class", "description")
REQUIRED_COLUMNS = ["claim_id", "inventory_id", "report", "claim", "form", "metric", "experiment", "groups",
                    "expected", "reported", "budget_as_reported", "note"]
RESULT_COLUMNS = ["claim_id", "inventory_id", "report", "claim", "test", "reported", "ours", "p_value",
                  "budget_as_reported", "verdict"]

Group = dict  # {"values": [...], "paths": [...], "runs": [...], "improving": [bool | None, ...]}


@dataclass(frozen=True)
class PairTest:
    """One comparison of two samples: the test's name, its two-sided p-value, and the mean difference ``a - b``."""

    test: str
    p_value: float
    difference: float


@dataclass(frozen=True)
class Verdict:
    """The outcome of one claim, the test(s) named, the p-value that decided it (NaN if none) and why."""

    verdict: str
    test: str
    p_value: float
    reason: str


# ---------------------------------------------------------------- the claims table

def load_claims(path: Path | None = None) -> pd.DataFrame:
    """``claims.csv`` as strings (empty cells stay ``""``), one row per claim; ValueError on a repeated claim id."""
    table = pd.read_csv(path or CLAIMS_PATH, dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"claims table lacks the columns {missing}")
    repeated = table["claim_id"][table["claim_id"].duplicated()].tolist()
    if repeated:
        raise ValueError(f"claim ids repeat: {repeated}")
    return table


def inventory_ids(cell: str) -> list[str]:
    """The inventory ids a claim belongs to (``"002.L1; 002.L1L2"`` -> two)."""
    return [s.strip() for s in str(cell).split(";") if s.strip()]


def parse_ordering(expected: str) -> tuple[str, list[list[str]]]:
    """``"A > B, C"`` -> ``(">", [["A"], ["B", "C"]])``, best first; ``"A < B"`` -> ``(">", [["B"], ["A"]])``;
    ``"A ~ B ~ C"`` -> ``("~", [["A"], ["B"], ["C"]])``."""
    ops = set(re.findall(r"[<>~]", expected))
    if len(ops) != 1:
        raise ValueError(f"expected {expected!r}: use one of '>', '<' or '~' between the groups")
    op = ops.pop()
    tiers = [[m.strip() for m in tier.split(",") if m.strip()] for tier in expected.split(op)]
    if len(tiers) < 2 or not all(tiers):
        raise ValueError(f"expected {expected!r} needs at least two groups")
    return ("~", tiers) if op == "~" else (">", tiers if op == ">" else tiers[::-1])


def parse_threshold(expected: str) -> tuple[str, float]:
    """``"> 0.93"`` -> ``(">", 0.93)``; ``>=`` and ``<=`` read as ``>`` and ``<`` (no test can tell them apart)."""
    match = re.fullmatch(r"\s*(>=|<=|>|<|~)\s*([-+0-9.eE]+)\s*", expected)
    if not match:
        raise ValueError(f"threshold {expected!r}: write e.g. '> 0.93', '< 100' or '~ 0.9035'")
    return match.group(1)[0], float(match.group(2))


# ---------------------------------------------------------------- pure statistics

def _p(value: float) -> float:
    """A p-value, with NaN (a test on constant, equal samples) read as 1: no evidence either way."""
    return 1.0 if value is None or math.isnan(value) else float(value)


def welch_test(a: Sequence[float], b: Sequence[float]) -> PairTest:
    """Welch's t-test (unequal variances, two-sided) of ``a`` against ``b``."""
    p = stats.ttest_ind(a, b, equal_var=False).pvalue
    return PairTest("Welch's t-test over seeds", _p(p), float(np.mean(a) - np.mean(b)))


def paired_test(a: Sequence[float], b: Sequence[float]) -> PairTest:
    """Paired t-test (two-sided) of two metrics of the same runs, in the same order."""
    diff = np.asarray(a, float) - np.asarray(b, float)
    p = 1.0 if np.all(diff == diff[0]) and diff[0] == 0 else _p(stats.ttest_rel(a, b).pvalue)
    if np.all(diff == diff[0]) and diff[0] != 0:
        p = 0.0  # every run differs by the same non-zero amount
    return PairTest("paired t-test over seeds", p, float(diff.mean()))


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> PairTest:
    """McNemar's exact test on the same test images: a binomial test of the images only A gets right among those
    exactly one of the two gets right, at p = 0.5. The difference is A's accuracy minus B's."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if a.shape != b.shape:
        raise ValueError(f"McNemar's test needs the same images: {a.shape} against {b.shape}")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    p = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return PairTest("McNemar's exact test on the test images", float(p), float(a.mean() - b.mean()))


def one_sample_test(values: Sequence[float], threshold: float) -> PairTest:
    """A one-sample t-test (two-sided) of ``values`` against ``threshold``; an exact binomial test if every value
    is 0 or 1 (the share of runs, e.g. diverged ones, against ``threshold``). Difference: mean - threshold."""
    x = np.asarray(values, float)
    if np.isin(x, (0.0, 1.0)).all():
        p = stats.binomtest(int(x.sum()), len(x), min(max(threshold, 0.0), 1.0)).pvalue
        return PairTest("exact binomial test", float(p), float(x.mean() - threshold))
    if np.all(x == x[0]):
        p = 1.0 if x[0] == threshold else 0.0  # no spread: every run is on one side of the threshold
    else:
        p = _p(stats.ttest_1samp(x, threshold).pvalue)
    return PairTest("one-sample t-test", p, float(x.mean() - threshold))


def fisher_exact_test(correct_a: int, n_a: int, correct_b: int, n_b: int) -> PairTest:
    """Fisher's exact test (two-sided) of two proportions on different images, e.g. two classes' recalls. The
    difference is ``correct_a / n_a - correct_b / n_b``."""
    p = stats.fisher_exact([[correct_a, n_a - correct_a], [correct_b, n_b - correct_b]]).pvalue
    return PairTest("Fisher's exact test on the test images", _p(p), correct_a / n_a - correct_b / n_b)


def count_test(count_a: int, count_b: int, n: int) -> PairTest:
    """Two cells of one multinomial sample, e.g. how often one class is mistaken for A and for B: an exact
    binomial test of ``count_a`` among ``count_a + count_b`` at 0.5. The difference is ``(count_a - count_b) / n``."""
    total = count_a + count_b
    p = stats.binomtest(count_a, total, 0.5).pvalue if total else 1.0
    return PairTest("exact binomial test of two confusion counts", float(p), (count_a - count_b) / n)


def equivalence_test(a: Sequence[float], b: Sequence[float] | float, margin: float) -> tuple[float, float, float]:
    """Two one-sided tests (TOST) of ``|mean(a) - b| < margin``, ``b`` a sample (Welch) or a number (one-sample).

    Returns (p of equivalence: the larger one-sided p, p that the difference exceeds +margin or falls below
    -margin: the smaller one, the mean difference)."""
    x = np.asarray(a, float)
    if np.ndim(b) == 0:
        y = float(b)
        lower = stats.ttest_1samp(x, y - margin, alternative="greater").pvalue
        upper = stats.ttest_1samp(x, y + margin, alternative="less").pvalue
        beyond = min(stats.ttest_1samp(x, y + margin, alternative="greater").pvalue,
                     stats.ttest_1samp(x, y - margin, alternative="less").pvalue)
        return max(_p(lower), _p(upper)), _p(beyond), float(x.mean() - y)
    y = np.asarray(b, float)
    t = lambda shift, alt: _p(stats.ttest_ind(x - shift, y, equal_var=False, alternative=alt).pvalue)
    return (max(t(-margin, "greater"), t(margin, "less")), min(t(margin, "greater"), t(-margin, "less")),
            float(x.mean() - y.mean()))


def pair_direction(result: PairTest, alpha: float = ALPHA) -> int:
    """+1 if ``a`` is significantly above ``b``, -1 if significantly below, 0 if the test cannot tell."""
    if result.p_value >= alpha or result.difference == 0:
        return 0
    return 1 if result.difference > 0 else -1


def ordering_verdict(adjacent: Sequence[PairTest | None], implied: Sequence[PairTest | None],
                     alpha: float = ALPHA) -> tuple[str, float]:
    """An ordering's verdict from its pair tests (``a`` the group claimed higher; None: too few runs).

    Holds when every adjacent pair is significant in the claimed direction; contradicted when any implied pair
    is significant the other way; otherwise inconclusive. The p-value is the largest adjacent one (holds,
    inconclusive) or the smallest contrary one (contradicted)."""
    against = [r.p_value for r in implied if r is not None and pair_direction(r, alpha) < 0]
    if against:
        return "contradicted", min(against)
    done = [r for r in adjacent if r is not None]
    p = max((r.p_value for r in done), default=float("nan"))
    if done and len(done) == len(adjacent) and all(pair_direction(r, alpha) > 0 for r in done):
        return "holds", p
    return "inconclusive", p


def similarity_verdict(tests: Sequence[tuple[float, float]], alpha: float = ALPHA) -> tuple[str, float]:
    """A ``~`` claim from (p of equivalence, p of a difference beyond the margin) per pair: holds when every
    pair is equivalent, contradicted when any pair differs by more than the margin, else inconclusive."""
    beyond = [b for _, b in tests if b < alpha]
    if beyond:
        return "contradicted", min(beyond)
    p = max(e for e, _ in tests)
    return ("holds" if p < alpha else "inconclusive"), p


def still_improving(record: dict, monitor: str = "val_accuracy", late_share: float = LATE_SHARE) -> bool | None:
    """Whether a run was cut short while still improving: it ran to its epoch cap and its best ``monitor``
    (highest accuracy, lowest loss) came in the last ``late_share`` of its epochs. None without a curve."""
    curve = record.get("history", {}).get(monitor)
    if not curve:
        return None
    config = record.get("config", {})
    cap = config.get("epochs") or config.get("params", {}).get("max_iter") or len(curve)
    if len(curve) < cap:  # stopped early (early stopping, divergence): not cut short
        return False
    best = int(np.argmin(curve) if "loss" in monitor else np.argmax(curve)) + 1
    return best > len(curve) - max(1, round(late_share * len(curve)))


# ---------------------------------------------------------------- runs and their values

def _lookup(config: dict, dotted: str) -> object:
    value: object = config
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def matches(config: dict, conditions: dict) -> bool:
    """Whether a configuration meets every condition (dotted key -> value, or ``{"$in": [values]}``)."""
    for key, wanted in conditions.items():
        value = _lookup(config, key)
        options = wanted["$in"] if isinstance(wanted, dict) and "$in" in wanted else [wanted]
        if not any(json.dumps(value, sort_keys=True) == json.dumps(o, sort_keys=True) for o in options):
            return False
    return True


def metric_value(record: dict, metric: str) -> float | None:
    """A run's value of ``metric``: a stored number (``val_accuracy``, ``epochs``...), ``best_val_epoch``,
    ``<curve>@<epoch>`` (e.g. ``val_accuracy@75``), ``epochs_to:<level>`` (first epoch with validation accuracy
    at ``level``), ``min:<dotted list>``/``max:<dotted list>``, ``train_val_gap`` (training minus validation
    accuracy of the weights kept: how far apart the curves end), ``fluctuation:<curve>`` (its back-and-forth
    movement per epoch, ``curve_fluctuation``), ``drop:<curve>`` (its first epoch's value minus its last: how far
    a loss fell), or ``diverged`` (1 or 0; the only metric of a diverged run). None where the run has no such
    value."""
    if metric == "diverged":
        return float(record.get("status") == "diverged")
    if record.get("status") != "ok":
        return None
    if metric == "train_val_gap":
        train, val = record.get("train_accuracy"), record.get("val_accuracy")
        return None if train is None or val is None else float(train - val)
    history = record.get("history", {})
    if metric == "best_val_epoch":
        return float(np.argmax(history["val_accuracy"]) + 1) if history.get("val_accuracy") else None
    if metric.startswith(("fluctuation:", "drop:")):
        kind, curve = metric.split(":", 1)
        values = history.get(curve, [])
        if len(values) < 2:
            return None
        return curve_fluctuation(values) if kind == "fluctuation" else float(values[0] - values[-1])
    if metric.startswith("epochs_to:"):
        return float(first_epoch_reaching(record, float(metric.split(":", 1)[1])))
    if "@" in metric:
        curve, epoch = metric.split("@")
        values = history.get(curve, [])
        return float(values[int(epoch) - 1]) if len(values) >= int(epoch) else None
    if metric.startswith(("min:", "max:")):
        values = _lookup(record, metric[4:])
        return None if not values else float((np.min if metric.startswith("min") else np.max)(values))
    value = _lookup(record, metric)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def select_group(spec: dict, experiment: str, metric: str, load: Callable[[str], list[dict]]) -> Group:
    """The runs of one group and their values. ``spec``: config conditions, and optionally ``experiment``,
    ``metric`` and ``cv`` (a grid's candidate: its fold scores are the values)."""
    conditions = {k: v for k, v in spec.items() if k not in ("experiment", "metric", "cv")}
    metric = spec.get("metric", metric)
    runs = [r for r in load(spec.get("experiment", experiment)) if matches(r["config"], conditions)]
    if "cv" in spec:
        values = [float(s) for r in runs for c in r.get("cv_results", []) if matches(c["params"], spec["cv"])
                  for s in c["fold_scores"]]
        return {"values": values, "paths": [], "runs": runs, "improving": [None] * len(runs), "cv": True}
    valued = [(r, metric_value(r, metric)) for r in runs]
    valued = [(r, v) for r, v in valued if v is not None and not math.isnan(v)]
    return {"values": [v for _, v in valued], "paths": [r.get("_path", "") for r, _ in valued],
            "runs": [r for r, _ in valued], "improving": [still_improving(r) for r in runs], "cv": False}


def group_improving(group: Group, override: str = "") -> bool:
    """A group is still improving when at least half its runs are (``override`` "yes"/"no" for runs without
    curves, e.g. a grid's fits)."""
    if override in ("yes", "no"):
        return override == "yes"
    known = [i for i in group["improving"] if i is not None]
    return bool(known) and sum(known) >= len(known) / 2


def describe(label: str, group: Group) -> str:
    """``"label: 0.8812 ± 0.0012 (3 runs)"``."""
    x = np.asarray(group["values"], float)
    unit = "CV folds" if group.get("cv") else "runs"
    if len(x) == 0:
        return f"{label}: no runs"
    if len(x) == 1:
        return f"{label}: {x[0]:.4g} (1 run)"
    return f"{label}: {x.mean():.4g} ± {x.std(ddof=1):.2g} ({len(x)} {unit})"


# ---------------------------------------------------------------- one claim

def _correct(record: dict, y_test: np.ndarray) -> np.ndarray | None:
    """Which test images the run's predictor (the one best on validation) gets right; None without stored ones."""
    try:
        proba, _, _ = stored_test_proba(record)
    except (ResultsCacheError, KeyError, FileNotFoundError):
        return None
    return proba.argmax(1) == np.asarray(y_test)


def compare(a: Group, b: Group, metrics: tuple[str, str], y_test: np.ndarray | None = None
            ) -> tuple[PairTest | None, str]:
    """The test of group ``a`` against ``b`` that their runs allow, or None with the reason none does."""
    na, nb = len(a["values"]), len(b["values"])
    if not a["cv"] and a["paths"] == b["paths"] and na >= MIN_RUNS and metrics[0] != metrics[1]:
        return paired_test(a["values"], b["values"]), ""
    if na >= MIN_RUNS and nb >= MIN_RUNS:
        result = welch_test(a["values"], b["values"])
        return (PairTest("Welch's t-test over CV folds", result.p_value, result.difference) if a["cv"] else result), ""
    if len(a["runs"]) == 1 and len(b["runs"]) == 1 and metrics == ("test_accuracy", "test_accuracy"):
        if y_test is None:
            return None, "one run each: McNemar's test needs the test labels (y_test)"
        correct = [_correct(g["runs"][0], y_test) for g in (a, b)]
        if all(c is not None for c in correct):
            return mcnemar_exact(*correct), ""
        return None, "one run each and no stored test predictions for McNemar's test"
    return None, f"too few runs ({na} and {nb}; a t-test needs {MIN_RUNS} each)"


def _pairs(tiers: list[list[str]], adjacent_only: bool) -> list[tuple[str, str]]:
    return [(hi, lo) for i, upper in enumerate(tiers) for j, lower in enumerate(tiers) if j > i
            and (j == i + 1 or not adjacent_only) for hi in upper for lo in lower]


def judge_ordering(groups: dict[str, Group], metrics: dict[str, str], expected: str, margin: float,
                   y_test: np.ndarray | None = None) -> Verdict:
    """The verdict of an ordering / difference claim (``expected``: ``"A > B, C"`` or ``"A ~ B"``)."""
    op, tiers = parse_ordering(expected)
    if op == "~":
        labels = [t[0] for t in tiers]
        pairs = [(x, y) for i, x in enumerate(labels) for y in labels[i + 1:]]
        short = [f"{x}/{y}" for x, y in pairs if min(len(groups[x]["values"]), len(groups[y]["values"])) < MIN_RUNS]
        if short:
            return Verdict("inconclusive", "TOST equivalence", float("nan"),
                           f"too few runs for an equivalence test: {', '.join(short)}")
        verdict, p = similarity_verdict([equivalence_test(groups[x]["values"], groups[y]["values"], margin)[:2]
                                         for x, y in pairs])
        return Verdict(verdict, f"TOST equivalence (Welch), margin {margin:g}", p, "")
    results = {pair: compare(groups[pair[0]], groups[pair[1]], (metrics[pair[0]], metrics[pair[1]]), y_test)
               for pair in _pairs(tiers, adjacent_only=False)}
    adjacent = [results[pair][0] for pair in _pairs(tiers, adjacent_only=True)]
    verdict, p = ordering_verdict(adjacent, [r for r, _ in results.values()])
    tests = sorted({r.test for r, _ in results.values() if r is not None}) or ["none possible"]
    reasons = sorted({why for _, why in results.values() if why})
    unclear = [f"{hi} > {lo} (p = {r.p_value:.3g})" for (hi, lo), (r, _) in results.items()
               if (hi, lo) in _pairs(tiers, True) and r is not None and pair_direction(r) <= 0]
    reason = "; ".join(reasons + ([f"not significant: {', '.join(unclear)}"] if verdict == "inconclusive"
                                  and unclear else []))
    return Verdict(verdict, " + ".join(tests), p, reason)


def judge_threshold(group: Group, expected: str, margin: float) -> Verdict:
    """The verdict of a threshold claim on one group's values (``expected``: ``"> x"``, ``"< x"``, ``"~ x"``)."""
    op, value = parse_threshold(expected)
    x = group["values"]
    if len(x) < MIN_RUNS:
        return Verdict("inconclusive", "one-sample t-test", float("nan"),
                       f"too few runs ({len(x)}; a one-sample test needs {MIN_RUNS})")
    if op == "~":
        if np.all(np.asarray(x) == x[0]):
            inside = abs(x[0] - value) < margin
            return Verdict("holds" if inside else "contradicted", f"TOST equivalence, margin {margin:g}",
                           0.0, "every run gives the same value")
        verdict, p = similarity_verdict([equivalence_test(x, value, margin)[:2]])
        return Verdict(verdict, f"TOST equivalence (one-sample), margin {margin:g}", p, "")
    result = one_sample_test(x, value)
    direction = pair_direction(result) * (1 if op == ">" else -1)
    verdict = {1: "holds", -1: "contradicted", 0: "inconclusive"}[direction]
    return Verdict(verdict, result.test, result.p_value, "" if direction else "not significant")


def judge_exact(group: Group, expected: str) -> Verdict:
    """A deterministic computation (no seeds, no sampling noise) against a threshold: compared as it is."""
    op, value = parse_threshold(expected)
    if not group["values"]:
        return Verdict("not tested", "exact comparison", float("nan"), "no value stored")
    x = group["values"][0]
    ok = x > value if op == ">" else x < value if op == "<" else abs(x - value) < DEFAULT_MARGIN
    return Verdict("holds" if ok else "contradicted", "exact comparison (deterministic computation)", float("nan"),
                   "a computation without sampling noise: no p-value")


def judge_per_class(record: dict, metric: str, expected: str, y_test: np.ndarray) -> tuple[Verdict, str]:
    """A per-class claim on one stored model's test predictions (see the module docstring), and what ours are."""
    proba, _, _ = stored_test_proba(record)
    classes = np.unique(y_test)
    counts = confusion_matrix(y_test, proba.argmax(1), labels=classes)  # rows: true class, columns: predicted
    n, correct = counts.sum(1), counts.diagonal()
    kind, _, arg = metric.partition(":")
    if kind == "recall" and arg:  # a threshold for each listed class
        op, value = parse_threshold(expected)
        listed = [int(k) for k in arg.split(",")]
        tests = {k: stats.binomtest(int(correct[k]), int(n[k]), value) for k in listed}
        signs = {k: pair_direction(PairTest("", t.pvalue, correct[k] / n[k] - value)) * (1 if op == ">" else -1)
                 for k, t in tests.items()}
        ours = "; ".join(f"{k}: {correct[k] / n[k]:.3f}" for k in listed)
        against = [tests[k].pvalue for k in listed if signs[k] < 0]
        if against:
            return Verdict("contradicted", "exact binomial test per class", min(against), ""), ours
        p = max(t.pvalue for t in tests.values())
        verdict = "holds" if all(v > 0 for v in signs.values()) else "inconclusive"
        return Verdict(verdict, "exact binomial test per class", p, "" if verdict == "holds" else
                       "not significant for every class"), ours
    if kind == "recall":
        values = {str(k): correct[k] / n[k] for k in classes}
        pair = lambda a, b: fisher_exact_test(int(correct[int(a)]), int(n[int(a)]), int(correct[int(b)]),
                                              int(n[int(b)]))
    elif kind == "confusions":
        row = counts[int(arg)]
        values = {str(k): int(row[k]) for k in classes if k != int(arg)}
        pair = lambda a, b: count_test(int(row[int(a)]), int(row[int(b)]), int(n[int(arg)]))
    else:
        raise ValueError(f"per-class metric {metric!r}: use recall, recall:<classes> or confusions:<class>")
    _, tiers = parse_ordering(expected)
    results = {(a, b): pair(a, b) for a, b in _pairs(tiers, adjacent_only=False)}
    verdict, p = ordering_verdict([results[ab] for ab in _pairs(tiers, adjacent_only=True)], list(results.values()))
    ours = "; ".join(f"{k}: {values[k]:.3f}" if kind == "recall" else f"{k}: {values[k]}"
                     for k in re.findall(r"\d+", expected))  # in the claim's order
    return Verdict(verdict, next(iter(results.values())).test, p, ""), ours


def evaluate_claim(claim: dict, load: Callable[[str], list[dict]], y_test: np.ndarray | None = None) -> dict:
    """One row of ``evaluate_claims``' table for one claim (a row of the claims table as a dict)."""
    row = {k: claim.get(k, "") for k in ("claim_id", "inventory_id", "report", "claim", "reported",
                                         "budget_as_reported")}
    verdict, ours = _judge(claim, load, y_test)
    return {**row, "test": verdict.test, "ours": ours, "p_value": verdict.p_value, "verdict": verdict.verdict,
            "reason": verdict.reason}


def _judge(claim: dict, load: Callable[[str], list[dict]], y_test: np.ndarray | None) -> tuple[Verdict, str]:
    specs = json.loads(claim["groups"]) if str(claim.get("groups", "")).strip() else {}
    if claim["form"] == "description" or not specs:
        return Verdict("not tested", "none", float("nan"), claim.get("note") or "a description: nothing to "
                       "compare"), ""
    selecting = "test_accuracy" if claim["form"] == "per_class" else claim["metric"]  # per class: its model's run
    groups = {label: select_group(spec, claim["experiment"], selecting, load) for label, spec in specs.items()}
    metrics = {label: spec.get("metric", claim["metric"]) for label, spec in specs.items()}
    ours = "; ".join(describe(label, g) for label, g in groups.items())
    empty = [label for label, g in groups.items() if not g["values"]]
    if empty:
        return Verdict("not tested", "none", float("nan"), f"no stored runs for {', '.join(empty)}"), ours
    if claim.get("budget_as_reported") == "no":
        late = [label for label, g in groups.items() if group_improving(g, claim.get("still_improving", ""))]
        if late:
            named = ", ".join(late) if len(late) <= 3 else f"{len(late)} of its {len(groups)} groups"
            return Verdict("not tested", "none", float("nan"), "budget not as reported and still improving at "
                           f"the end: {named}"), ours
    margin = float(claim.get("margin") or DEFAULT_MARGIN)
    if claim["form"] == "per_class":
        runs = next(iter(groups.values()))["runs"]
        if len(groups) != 1 or len(runs) != 1:
            raise ValueError(f"claim {claim['claim_id']}: a per-class claim names one group of one run")
        if y_test is None:
            return Verdict("not tested", "none", float("nan"), "a per-class claim needs the test labels"), ours
        return judge_per_class(runs[0], claim["metric"], claim["expected"], y_test)
    if claim["form"] == "threshold":
        group = next(iter(groups.values()))
        if claim.get("deterministic") == "yes":
            return judge_exact(group, claim["expected"]), ours
        return judge_threshold(group, claim["expected"], margin), ours
    return judge_ordering(groups, metrics, claim["expected"], margin, y_test), ours


# ---------------------------------------------------------------- every claim

def evaluate_claims(claims: pd.DataFrame | None = None, root: Path | None = None,
                    y_test: np.ndarray | None = None) -> pd.DataFrame:
    """Every claim of the table (default ``load_claims()``) against the stored runs under ``root`` (default
    ``results/``): one row per claim, however many inventory rows show it, with ``RESULT_COLUMNS`` and the
    ``reason`` of its verdict. ``y_test``: the test labels, for McNemar's test between single models and the
    per-class claims (default: Fashion-MNIST's, loaded where a per-class claim needs them)."""
    claims = load_claims() if claims is None else claims
    claims = claims.drop_duplicates(subset="claim_id", keep="first")
    if y_test is None and (claims["form"] == "per_class").any():
        y_test = load_fashion_mnist()[1][1]
    cache: dict[str, list[dict]] = {}

    def load(experiment: str) -> list[dict]:
        if experiment not in cache:
            cache[experiment] = stored_runs(experiment, root)
        return cache[experiment]

    with warnings.catch_warnings():  # scipy's precision warning on nearly equal samples: the p-value says it
        warnings.simplefilter("ignore", RuntimeWarning)
        rows = [evaluate_claim(claim, load, y_test) for claim in claims.to_dict("records")]
    table = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "reason"])
    table["p_value"] = pd.to_numeric(table["p_value"])
    return table


def verdict_counts(table: pd.DataFrame) -> str:
    """``"N holds, N contradicted, N inconclusive, N not tested"`` over the claims of an ``evaluate_claims`` table."""
    counts = table.drop_duplicates(subset="claim_id")["verdict"].value_counts()
    return ", ".join(f"{int(counts.get(outcome, 0))} {outcome}" for outcome in OUTCOMES)


def verdict_of(table: pd.DataFrame, *claim_ids: str) -> str:
    """A table cell with the engine's verdict of these claims (rows of an ``evaluate_claims`` table):
    ``"holds (Welch's t-test over seeds, p = 0.0031)"``, or the reason where no test ran; several claims are
    joined by ``"; "``, each after its id."""
    missing = sorted(set(claim_ids) - set(table["claim_id"]))
    if missing or not claim_ids:
        raise ValueError(f"no claims {missing or list(claim_ids)} in the claims table (claims.csv)")
    cells = []
    for claim in table.set_index("claim_id").loc[list(claim_ids)].itertuples():
        detail = f"{claim.test}, p = {claim.p_value:.2g}" if pd.notna(claim.p_value) else claim.reason
        cells.append(f"{claim.verdict} ({detail})" if len(claim_ids) == 1 else
                     f"{claim.Index}: {claim.verdict} ({detail})")
    return "; ".join(cells)


def verdicts_by_inventory_id(table: pd.DataFrame) -> dict[str, str]:
    """For each inventory id, the verdicts of its claims: ``{"000.T1": "000.T1.a holds; 000.T1.b inconclusive"}``."""
    found: dict[str, list[str]] = {}
    for claim in table.itertuples():
        for inventory_id in inventory_ids(claim.inventory_id):
            found.setdefault(inventory_id, []).append(f"{claim.claim_id} {claim.verdict}")
    return {inventory_id: "; ".join(verdicts) for inventory_id, verdicts in found.items()}
