"""Selection among stored runs: the best run on validation, by the best of the predictors it stored."""

import numpy as np
import pytest
from fakes import CountingTrainer

from fmnist_utils.runs import selection, store


def test_best_stored_run_compares_the_stored_predictors_on_validation(tmp_path):
    proba = np.eye(10, dtype=np.float32)[:4]

    def stored(seed, out):
        store.run_experiment("best", {"seed": seed, **out.pop("config", {})}, CountingTrainer(
            {"test_accuracy": 0.5, **out}), root=tmp_path)

    stored(0, {"val_accuracy": 0.90, "arrays": {"test_proba": proba}})
    stored(1, {"val_accuracy": 0.89, "tta": {"val_accuracy": 0.91}, "config": {"flip_tta": True},
               "arrays": {"test_proba": proba}})  # older NumPy runs: only the averaged probabilities
    stored(2, {"val_accuracy": 0.95})  # no stored probabilities: not a candidate
    best = selection.best_stored_run("best", root=tmp_path)
    assert best["config"]["seed"] == 1 and selection.stored_test_proba(best)[1:] == (0.91, "flip")
    stored(3, {"val_accuracy": 0.905, "tta": {"val_accuracy": 0.90},
               "arrays": {"test_proba": proba, "test_proba_tta": proba[::-1]}})  # Keras style: TTA worse here
    seed_3 = store.run_experiment("best", {"seed": 3}, CountingTrainer(), root=tmp_path)
    _, val, tta = selection.stored_test_proba(seed_3)
    assert (val, tta) == (0.905, "none")
    stored(4, {"val_accuracy": 0.90, "tta": {"val_accuracy": 0.92}, "tta_views": {"flip+shift1": {"val_accuracy": 0.92},
               "flip+shift2": {"val_accuracy": 0.93}}, "arrays": {"test_proba": proba, "test_proba_tta": proba,
               "test_proba_flip+shift1": proba, "test_proba_flip+shift2": proba[::-1]}})
    best = selection.best_stored_run("best", root=tmp_path)
    assert best["config"]["seed"] == 4 and selection.stored_test_proba(best)[1:] == (0.93, "flip+shift2")
    assert (selection.stored_test_proba(best)[0] == proba[::-1]).all()
    assert {mode: s["val_accuracy"] for mode, s in selection.tta_scores(best).items()} == {
        "none": 0.90, "flip": 0.92, "flip+shift1": 0.92, "flip+shift2": 0.93}
    # the run is chosen by its best predictor on validation, even where an older run did not store that one
    stored(5, {"val_accuracy": 0.94, "tta": {"val_accuracy": 0.91}, "config": {"flip_tta": True},
               "arrays": {"test_proba": proba}})
    best = selection.best_stored_run("best", root=tmp_path)
    assert best["config"]["seed"] == 5 and selection.stored_test_proba(best)[1:] == (0.91, "flip")
    with pytest.raises(store.ResultsCacheError, match="no run of 'missing'"):
        selection.best_stored_run("missing", root=tmp_path)
