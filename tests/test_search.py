"""Searches whose every trial is a stored run: keras-tuner's grid over Keras configurations."""

import pytest
from fakes import tiny_splits

from fmnist_utils.runs.search import keras_grid_search

TINY = tiny_splits(100, train=60, val=20)  # 60 train, 20 validation, 20 test


def test_grid_search_runs_every_combination_once_and_replays(tmp_path):
    base = {"model": {"kind": "mlp", "hidden": [4]}, "optimizer": {"name": "adam"}, "batch_size": 20, "epochs": 1,
            "seed": 0}
    grid = {"model.hidden": [[4], [8, 4]], "model.dropout": [0.0, 0.2], "batch_size": [20, 30]}
    runs = keras_grid_search("grid", base, grid, root=tmp_path, data=TINY)
    assert len(runs) == 8 and len(list((tmp_path / "grid").glob("*.json"))) == 8
    assert {(tuple(r["trial"]["model.hidden"]), r["trial"]["model.dropout"], r["trial"]["batch_size"])
            for r in runs} == {(h, d, b) for h in [(4,), (8, 4)] for d in [0.0, 0.2] for b in [20, 30]}
    assert all(r["config"]["model"]["hidden"] == r["trial"]["model.hidden"] for r in runs)
    assert runs[0]["config"]["optimizer"] == {"name": "adam"}  # untouched keys survive
    replay = keras_grid_search("grid", base, grid, root=tmp_path, data=TINY)
    assert [r["config"] for r in replay] == [r["config"] for r in runs]


def test_grid_search_needs_a_seed(tmp_path):
    with pytest.raises(ValueError, match="needs a 'seed'"):
        keras_grid_search("grid", {"model": {"kind": "mlp"}}, {"batch_size": [8]}, root=tmp_path)
