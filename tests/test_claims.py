"""The claims table and its verdict engine: every outcome on made-up numbers, the table's schema, and one end-to-end
run on a temporary results/ folder."""

import json

import numpy as np
import pandas as pd
import pytest

from fmnist_utils.report import claims as cl
from fmnist_utils.report.summary import load_inventory
from fmnist_utils.runs.selection import curve_fluctuation
from fmnist_utils.runs.store import run_experiment


def group(values, improving=None, runs=None, paths=None):
    """A made-up group of runs (what ``select_group`` returns)."""
    values = list(values)
    return {"values": values, "paths": paths or [f"run{i}" for i in range(len(values))],
            "runs": runs or [{}] * len(values), "improving": improving or [False] * len(values), "cv": False}


# ---------------------------------------------------------------- outcomes on made-up numbers

def test_ordering_holds_when_every_adjacent_pair_is_significant():
    groups = {"a": group([0.90, 0.91, 0.905]), "b": group([0.85, 0.86, 0.855]), "c": group([0.80, 0.81, 0.805])}
    v = cl.judge_ordering(groups, dict.fromkeys(groups, "val_accuracy"), "a > b > c", 0.01)
    assert v.verdict == "holds" and v.p_value < cl.ALPHA and "Welch" in v.test


def test_ordering_is_contradicted_by_a_significant_pair_the_other_way():
    groups = {"a": group([0.80, 0.81, 0.805]), "b": group([0.90, 0.91, 0.905])}
    v = cl.judge_ordering(groups, dict.fromkeys(groups, "val_accuracy"), "a > b", 0.01)
    assert v.verdict == "contradicted" and v.p_value < cl.ALPHA


def test_a_non_adjacent_pair_the_other_way_contradicts():
    groups = {"a": group([0.80, 0.81, 0.805]), "b": group([0.85, 0.95, 0.75]), "c": group([0.90, 0.91, 0.905])}
    assert cl.judge_ordering(groups, dict.fromkeys(groups, "m"), "a > b > c", 0.01).verdict == "contradicted"


def test_a_difference_within_noise_is_inconclusive():
    groups = {"a": group([0.881, 0.875, 0.889]), "b": group([0.880, 0.884, 0.874])}
    v = cl.judge_ordering(groups, dict.fromkeys(groups, "val_accuracy"), "a > b", 0.01)
    assert v.verdict == "inconclusive" and v.p_value > cl.ALPHA and "not significant" in v.reason


def test_too_few_seeds_is_inconclusive_not_holds():
    groups = {"a": group([0.95, 0.96]), "b": group([0.50, 0.51, 0.52])}
    v = cl.judge_ordering(groups, dict.fromkeys(groups, "val_accuracy"), "a > b", 0.01)
    assert v.verdict == "inconclusive" and "too few runs" in v.reason and np.isnan(v.p_value)


def test_a_tier_claim_needs_each_member_below_the_best():
    groups = {"best": group([0.90, 0.91, 0.905]), "x": group([0.80, 0.81, 0.805]), "y": group([0.90, 0.91, 0.9])}
    assert cl.judge_ordering(groups, dict.fromkeys(groups, "m"), "best > x, y", 0.01).verdict == "inconclusive"
    assert cl.parse_ordering("a < b, c") == (">", [["b", "c"], ["a"]])


def test_similarity_holds_within_the_margin_and_is_contradicted_beyond_it():
    same = {"a": group([0.880, 0.881, 0.882]), "b": group([0.881, 0.880, 0.882])}
    apart = {"a": group([0.880, 0.881, 0.882]), "b": group([0.850, 0.851, 0.852])}
    assert cl.judge_ordering(same, dict.fromkeys(same, "m"), "a ~ b", 0.01).verdict == "holds"
    assert cl.judge_ordering(apart, dict.fromkeys(apart, "m"), "a ~ b", 0.01).verdict == "contradicted"


def test_same_runs_with_two_metrics_get_a_paired_test():
    a, b = group([0.70, 0.72, 0.75]), group([0.68, 0.705, 0.74])
    b["paths"] = a["paths"]
    v = cl.judge_ordering({"test": a, "train": b}, {"test": "test_accuracy", "train": "train_accuracy"},
                          "test > train", 0.01)
    assert v.test == "paired t-test over seeds" and v.verdict == "holds"


def test_threshold_one_sample():
    assert cl.judge_threshold(group([0.93, 0.94, 0.935]), "> 0.9", 0.01).verdict == "holds"
    assert cl.judge_threshold(group([0.93, 0.94, 0.935]), "< 0.9", 0.01).verdict == "contradicted"
    assert cl.judge_threshold(group([0.89, 0.92, 0.905]), "> 0.9", 0.01).verdict == "inconclusive"
    assert cl.judge_threshold(group([0.93]), "> 0.9", 0.01).verdict == "inconclusive"
    assert cl.judge_threshold(group([0.9035, 0.9036, 0.9034]), "~ 0.9035", 0.005).verdict == "holds"
    assert cl.judge_threshold(group([0.80, 0.801, 0.802]), "~ 0.9035", 0.005).verdict == "contradicted"
    assert cl.one_sample_test([1, 1, 1], 0.5).test == "exact binomial test"


def test_mcnemar_on_made_up_predictions():
    rng = np.random.default_rng(0)
    a = rng.random(2000) < 0.93
    b = a.copy()
    b[np.flatnonzero(a)[:150]] = False  # B wrong on 150 images A gets right, right on none A misses
    result = cl.mcnemar_exact(a, b)
    assert result.p_value < 1e-10 and result.difference == pytest.approx(150 / 2000)
    assert cl.mcnemar_exact(a, a).p_value == 1.0


def test_mcnemar_is_used_for_one_model_each(tmp_path):
    y = np.arange(200) % 10
    proba_a, proba_b = np.eye(10)[y], np.eye(10)[np.where(np.arange(200) < 60, (y + 1) % 10, y)]
    runs = []
    for name, proba in (("a", proba_a), ("b", proba_b)):
        record = run_experiment("m", {"name": name}, lambda c, p=proba: {"val_accuracy": 0.9, "test_accuracy": 0.9,
                                                                         "arrays": {"test_proba": p}}, root=tmp_path)
        runs.append(group([record["test_accuracy"]], runs=[record], paths=[record["_path"]]))
    v = cl.judge_ordering({"a": runs[0], "b": runs[1]}, {"a": "test_accuracy", "b": "test_accuracy"}, "a > b", 0.01,
                          y_test=y)
    assert v.verdict == "holds" and v.test.startswith("McNemar")
    assert cl.judge_ordering({"a": runs[0], "b": runs[1]}, {"a": "test_accuracy", "b": "test_accuracy"}, "a > b",
                             0.01).verdict == "inconclusive"  # no labels given


def _per_class_model(tmp_path, wrong_6=(50, 0, 30, 0, 10)):
    """100 test images per class; the model misses 5 of each class but class 6, which it mistakes ``wrong_6``
    times for classes 0, 1, 2, 3 and 4 and 5 times for class 9."""
    y = np.repeat(np.arange(10), 100)
    pred = y.copy()
    for k in range(10):
        if k != 6:
            pred[k * 100:k * 100 + 5] = (k + 1) % 10
    mistaken = np.concatenate([np.full(n, k) for k, n in enumerate(wrong_6)] + [np.full(5, 9)])
    pred[600:600 + len(mistaken)] = mistaken
    record = run_experiment("pc", {"seed": 0}, lambda c: {"val_accuracy": 0.9, "test_accuracy": 0.9,
                                                         "arrays": {"test_proba": np.eye(10)[pred]}}, root=tmp_path)
    return record, y


def test_per_class_tests_on_made_up_counts():
    worse = cl.fisher_exact_test(60, 100, 95, 100)
    assert worse.p_value < 1e-6 and worse.difference == pytest.approx(-0.35)
    assert cl.fisher_exact_test(95, 100, 95, 100).p_value == 1.0
    assert cl.count_test(30, 5, 100).p_value < 1e-4 and cl.count_test(30, 5, 100).difference == pytest.approx(0.25)
    assert cl.count_test(0, 0, 100).p_value == 1.0


def test_per_class_claims_hold_contradict_or_stay_inconclusive(tmp_path):
    record, y = _per_class_model(tmp_path)  # class 6: recall 0.05, others 0.95
    others = "0, 1, 2, 3, 4, 5, 7, 8, 9"
    verdict, ours = cl.judge_per_class(record, "recall", f"6 < {others}", y)
    assert verdict.verdict == "holds" and verdict.test.startswith("Fisher") and ours.startswith("6: 0.050; 0: 0.950")
    assert cl.judge_per_class(record, "recall", "6 > 0", y)[0].verdict == "contradicted"
    assert cl.judge_per_class(record, "recall", "0 > 1", y)[0].verdict == "inconclusive"  # 0.95 against 0.95
    verdict, ours = cl.judge_per_class(record, "confusions:6", "0, 2, 4 > 1, 3, 5, 7, 8, 9", y)
    assert verdict.verdict == "inconclusive" and ours.startswith("0: 50; 2: 30; 4: 10")  # 4 (10) vs 9 (5): p > 0.05
    assert cl.judge_per_class(record, "confusions:6", "0, 2 > 1, 3, 4, 5, 7, 8, 9", y)[0].verdict == "holds"
    assert cl.judge_per_class(record, "confusions:6", "9 > 0", y)[0].verdict == "contradicted"
    assert cl.judge_per_class(record, "recall:0,1,2", "> 0.85", y)[0].verdict == "holds"  # 0.95 of 100
    assert cl.judge_per_class(record, "recall:0,1,2", "> 0.9", y)[0].verdict == "inconclusive"
    assert cl.judge_per_class(record, "recall:0,6", "> 0.85", y)[0].verdict == "contradicted"
    with pytest.raises(ValueError, match="per-class metric"):
        cl.judge_per_class(record, "precision", "6 < 0", y)


def test_a_per_class_claim_reads_its_models_stored_predictions(tmp_path):
    _, y = _per_class_model(tmp_path)
    claim = {"claim_id": "pc.a", "inventory_id": "000.CM", "report": "000", "claim": "6 worst", "form": "per_class",
             "metric": "recall", "experiment": "pc", "groups": json.dumps({"model": {}}), "expected": "6 < 0, 1",
             "reported": "", "budget_as_reported": "yes", "note": ""}
    load = lambda experiment: cl.stored_runs(experiment, tmp_path)
    assert cl.evaluate_claim(claim, load, y)["verdict"] == "holds"
    assert cl.evaluate_claim(claim, load)["verdict"] == "not tested"  # no labels


def test_still_improving():
    def run(curve, cap):
        return {"config": {"params": {"max_iter": cap}}, "history": {"val_accuracy": curve}}
    assert cl.still_improving(run([0.5, 0.6, 0.7, 0.8, 0.9], 5))  # best at the cap
    assert cl.still_improving(run([0.5] * 8 + [0.9, 0.8], 10))  # best in the last 20 %
    assert not cl.still_improving(run([0.9, 0.8, 0.7, 0.6, 0.5], 5))
    assert not cl.still_improving(run([0.5, 0.6, 0.7], 100))  # early stopping ended it
    assert cl.still_improving({"config": {}, "history": {}}) is None


def test_not_tested_when_a_run_still_improving_at_a_cap_not_the_reports():
    rising = {"config": {"epochs": 5, "seed": 0}, "status": "ok", "val_accuracy": 0.9,
              "history": {"val_accuracy": [0.5, 0.6, 0.7, 0.8, 0.9]}}
    claim = {"claim_id": "x", "form": "threshold", "metric": "val_accuracy", "experiment": "e",
             "groups": json.dumps({"g": {}}), "expected": "> 0.5", "budget_as_reported": "no"}
    row = cl.evaluate_claim(claim, lambda e: [rising] * 3)
    assert row["verdict"] == "not tested" and "still improving" in row["reason"]
    assert cl.evaluate_claim({**claim, "budget_as_reported": "yes"}, lambda e: [rising] * 3)["verdict"] != "not tested"


def test_no_runs_and_descriptions_are_not_tested():
    claim = {"claim_id": "x", "form": "ordering", "metric": "m", "experiment": "e",
             "groups": json.dumps({"a": {}, "b": {}}), "expected": "a > b", "budget_as_reported": "yes"}
    assert cl.evaluate_claim(claim, lambda e: [])["verdict"] == "not tested"
    row = cl.evaluate_claim({**claim, "form": "description", "groups": "", "note": "why"}, lambda e: [])
    assert row["verdict"] == "not tested" and row["reason"] == "why" and np.isnan(row["p_value"])


def test_matches_and_metric_values():
    config = {"params": {"hidden_layer_sizes": [128, 128], "alpha": 0.0}}
    assert cl.matches(config, {"params.hidden_layer_sizes": [128, 128], "params.dropout": None})
    assert cl.matches(config, {"params.alpha": {"$in": [0.0, 1.0]}})
    assert not cl.matches(config, {"params.hidden_layer_sizes": [128]})
    record = {"status": "ok", "val_accuracy": 0.8, "history": {"val_accuracy": [0.7, 0.85, 0.8]}}
    assert cl.metric_value(record, "best_val_epoch") == 2
    assert cl.metric_value(record, "val_accuracy@3") == 0.8
    assert cl.metric_value(record, "epochs_to:0.8") == 2
    assert cl.metric_value({"status": "diverged"}, "diverged") == 1.0
    assert cl.metric_value({"status": "diverged"}, "val_accuracy") is None
    assert cl.metric_value({**record, "train_accuracy": 0.95}, "train_val_gap") == pytest.approx(0.15)
    assert cl.metric_value(record, "train_val_gap") is None
    # 0.7 -> 0.85 -> 0.8: 0.2 of movement, 0.1 of it net, over 2 steps
    assert cl.metric_value(record, "fluctuation:val_accuracy") == pytest.approx(0.05)
    assert cl.metric_value(record, "drop:val_accuracy") == pytest.approx(-0.1)
    assert cl.metric_value(record, "fluctuation:train_loss") is None


def test_curve_fluctuation_ignores_the_trend_and_counts_the_zigzag():
    assert curve_fluctuation([0.5, 0.6, 0.8, 0.9]) == 0.0  # monotone, however steep
    assert curve_fluctuation(np.linspace(1.0, 0.1, 7)) == pytest.approx(0.0)
    zigzag = [0.8, 0.9] * 50
    assert curve_fluctuation(zigzag) == pytest.approx(0.1 * 98 / 99)
    assert curve_fluctuation(np.add(zigzag, np.arange(100) * 0.001)) == pytest.approx(curve_fluctuation(zigzag),
                                                                                     rel=0.05)
    assert np.isnan(curve_fluctuation([0.8]))


def test_verdict_counts_count_each_claim_once():
    table = pd.DataFrame({"claim_id": ["a", "a", "b", "c"], "verdict": ["holds", "holds", "not tested", "holds"]})
    assert cl.verdict_counts(table) == "2 holds, 0 contradicted, 0 inconclusive, 1 not tested"


# ---------------------------------------------------------------- the table

@pytest.fixture(scope="module")
def table():
    return cl.load_claims()


def test_table_schema(table):
    assert set(cl.REQUIRED_COLUMNS) <= set(table.columns)
    assert table["claim_id"].is_unique
    assert set(table["form"]) <= set(cl.FORMS)
    assert set(table["budget_as_reported"]) <= {"yes", "no"}
    assert (table["report"] == table["claim_id"].str[:3]).all()


def test_every_inventory_row_of_notebooks_02_to_05_has_a_claim(table):
    inventory = load_inventory()
    ids = {i for cell in table["inventory_id"] for i in cl.inventory_ids(cell)}
    assert ids <= set(inventory["id"]), sorted(ids - set(inventory["id"]))
    wanted = set(inventory.loc[inventory["notebook"].astype(str).str.zfill(2).isin(["02", "03", "04", "05"]), "id"])
    assert not wanted - ids, sorted(wanted - ids)


def test_every_claim_parses_and_names_its_groups(table):
    for claim in table.to_dict("records"):
        if claim["form"] == "description":
            continue
        groups = json.loads(claim["groups"])
        assert groups and claim["metric"] and claim["experiment"], claim["claim_id"]
        if claim["form"] == "threshold" or claim["metric"].startswith("recall:"):
            cl.parse_threshold(claim["expected"])
            assert len(groups) == 1, claim["claim_id"]
        elif claim["form"] == "per_class":  # its tiers are class indices of the one group's model
            _, tiers = cl.parse_ordering(claim["expected"])
            assert len(groups) == 1 and all(m.isdigit() for t in tiers for m in t), claim["claim_id"]
        else:
            _, tiers = cl.parse_ordering(claim["expected"])
            assert sorted(m for t in tiers for m in t) == sorted(groups), claim["claim_id"]


# ---------------------------------------------------------------- end to end

def test_end_to_end_on_fake_runs(tmp_path):
    def trainer(config):
        acc = {"big": 0.90, "small": 0.80}[config["size"]] + 0.002 * config["seed"]
        return {"val_accuracy": acc, "test_accuracy": acc - 0.01,
                "history": {"val_accuracy": [acc, acc - 0.05, acc - 0.06]}, "epochs": 3}
    for size in ("big", "small"):
        for seed in range(3):
            run_experiment("exp", {"size": size, "seed": seed, "epochs": 3}, trainer, root=tmp_path)
    claims = pd.DataFrame([
        {"claim_id": "t.a", "inventory_id": "000.T1", "report": "000", "claim": "big beats small", "form": "ordering",
         "metric": "val_accuracy", "experiment": "exp", "groups": json.dumps({"big": {"size": "big"},
                                                                             "small": {"size": "small"}}),
         "expected": "big > small", "reported": "0.9 / 0.8", "budget_as_reported": "no", "note": ""},
        {"claim_id": "t.b", "inventory_id": "000.T1", "report": "000", "claim": "small beats big", "form": "difference",
         "metric": "test_accuracy", "experiment": "exp", "groups": json.dumps({"big": {"size": "big"},
                                                                              "small": {"size": "small"}}),
         "expected": "small > big", "reported": "", "budget_as_reported": "yes", "note": ""},
        {"claim_id": "t.c", "inventory_id": "000.T1", "report": "000", "claim": "over 0.95", "form": "threshold",
         "metric": "val_accuracy", "experiment": "missing", "groups": json.dumps({"all": {}}), "expected": "> 0.95",
         "reported": "", "budget_as_reported": "yes", "note": ""},
        {"claim_id": "t.d", "inventory_id": "000.T1", "report": "000", "claim": "curves look nice",
         "form": "description", "metric": "", "experiment": "", "groups": "", "expected": "", "reported": "",
         "budget_as_reported": "yes", "note": "no curve measure"}])
    result = cl.evaluate_claims(pd.concat([claims, claims.iloc[:1]]), root=tmp_path)
    assert list(result.columns[:len(cl.RESULT_COLUMNS)]) == cl.RESULT_COLUMNS
    assert result["verdict"].tolist() == ["holds", "contradicted", "not tested", "not tested"]
    assert result.loc[0, "p_value"] < cl.ALPHA and np.isnan(result.loc[3, "p_value"])
    assert "big: 0.902" in result.loc[0, "ours"]
    assert cl.verdict_counts(result) == "1 holds, 1 contradicted, 0 inconclusive, 2 not tested"


def test_verdict_of_names_the_test_or_the_reason_and_refuses_unknown_ids():
    table = pd.DataFrame({"claim_id": ["a", "b"], "inventory_id": ["000.T1", "000.T1; 001.X"],
                          "test": ["Welch's t-test over seeds", "none"], "p_value": [0.00312, float("nan")],
                          "verdict": ["holds", "not tested"], "reason": ["", "still improving at its cap"]})
    assert cl.verdict_of(table, "a") == "holds (Welch's t-test over seeds, p = 0.0031)"
    assert cl.verdict_of(table, "a", "b") == ("a: holds (Welch's t-test over seeds, p = 0.0031); "
                                                  "b: not tested (still improving at its cap)")
    with pytest.raises(ValueError, match="no claims"):
        cl.verdict_of(table, "c")
    assert cl.verdicts_by_inventory_id(table) == {"000.T1": "a holds; b not tested", "001.X": "b not tested"}
