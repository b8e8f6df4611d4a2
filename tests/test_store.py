"""The run store: hits, misses, retrain, cache-only, atomic writes, corrupt files, divergence, faults."""

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from fakes import CountingTrainer

from fmnist_utils.runs import selection
from fmnist_utils.runs import store as ex


def test_trains_once_then_replays(tmp_path):
    train = CountingTrainer()
    first = ex.run_experiment("exp", {"lr": 0.1, "seed": 0}, train, root=tmp_path)
    second = ex.run_experiment("exp", {"seed": 0, "lr": 0.1}, train, root=tmp_path)  # key order does not matter
    assert train.calls == 1
    assert first["test_accuracy"] == second["test_accuracy"] == 0.9
    assert second["config"] == {"lr": 0.1, "seed": 0} and second["status"] == "ok"
    assert "seconds" in second and "numpy" in second["versions"]


def test_different_config_trains_again(tmp_path):
    train = CountingTrainer()
    ex.run_experiment("exp", {"lr": 0.1}, train, root=tmp_path)
    ex.run_experiment("exp", {"lr": 0.2}, train, root=tmp_path)
    assert train.calls == 2 and len(ex.stored_runs("exp", root=tmp_path)) == 2


def test_retrain_flag_recomputes(tmp_path, monkeypatch):
    train = CountingTrainer()
    ex.run_experiment("exp", {"lr": 0.1}, train, root=tmp_path)
    monkeypatch.setenv("FMNIST_RETRAIN", "1")
    ex.run_experiment("exp", {"lr": 0.1}, train, root=tmp_path)
    assert train.calls == 2


def test_unused_runs_are_the_stored_runs_nothing_asked_for(tmp_path, monkeypatch):
    results, log = tmp_path / "results", tmp_path / "used.txt"
    for lr in (0.1, 0.2, 0.3):
        ex.run_experiment("exp", {"lr": lr}, CountingTrainer(), root=results)
    monkeypatch.setenv("FMNIST_RUN_LOG", str(log))
    ex.run_experiment("exp", {"lr": 0.4}, CountingTrainer(), root=results)  # trained now: used
    ex.run_experiment("exp", {"lr": 0.2}, CountingTrainer(), root=results)  # replayed: used
    unused = ex.unused_runs(log, results)
    assert sorted(ex.load_run(p)["config"]["lr"] for p in unused) == [0.1, 0.3]


def test_cache_only_refuses_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_CACHE_ONLY", "1")
    with pytest.raises(ex.ResultsCacheError, match="FMNIST_CACHE_ONLY"):
        ex.run_experiment("exp", {"lr": 0.1}, CountingTrainer(), root=tmp_path)


def test_interrupted_run_leaves_no_file(tmp_path):
    def interrupted(config):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ex.run_experiment("exp", {"lr": 0.1}, interrupted, root=tmp_path)
    assert not list(tmp_path.rglob("*.json"))


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def unserialisable(config):
        return {"model": object()}

    with pytest.raises(TypeError, match="not JSON serialisable"):
        ex.run_experiment("exp", {"lr": 0.1}, unserialisable, root=tmp_path)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_corrupt_file_gives_clear_error(tmp_path):
    path = ex.run_path("exp", {"lr": 0.1}, root=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"config": {"lr": 0.1}, "test_acc')
    with pytest.raises(ex.ResultsCacheError, match="not valid JSON.*Delete it"):
        ex.run_experiment("exp", {"lr": 0.1}, CountingTrainer(), root=tmp_path)


def test_file_with_other_config_is_refused(tmp_path):
    path = ex.run_path("exp", {"lr": 0.1}, root=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"config": {"lr": 0.3}}))
    with pytest.raises(ex.ResultsCacheError, match="different configuration"):
        ex.run_experiment("exp", {"lr": 0.1}, CountingTrainer(), root=tmp_path)


def test_diverged_run_is_recorded_and_excluded(tmp_path):
    diverged = CountingTrainer({"status": "diverged", "diverged_epoch": 1, "test_accuracy": None})
    record = ex.run_experiment("exp", {"lr": 10.0}, diverged, root=tmp_path)
    assert record["status"] == "diverged" and record["diverged_epoch"] == 1
    ok = ex.run_experiment("exp", {"lr": 0.1}, CountingTrainer(), root=tmp_path)
    assert selection.metric_values([record, ok], "test_accuracy") == [0.9]


def test_arrays_stored_beside_run(tmp_path):
    probs = np.random.default_rng(0).random((4, 10)).astype(np.float32)
    trainer = CountingTrainer({"test_accuracy": 0.5, "arrays": {"test_proba": probs}})
    record = ex.run_experiment("exp", {"seed": 1}, trainer, root=tmp_path)
    replay = ex.run_experiment("exp", {"seed": 1}, trainer, root=tmp_path)
    np.testing.assert_array_equal(ex.load_arrays(replay)["test_proba"], probs)
    assert "arrays" not in record


def test_run_seeds_and_json_is_readable(tmp_path):
    records = ex.run_seeds("exp", {"lr": 0.1}, CountingTrainer(), seeds=[0, 1], root=tmp_path)
    assert [r["config"]["seed"] for r in records] == [0, 1]
    text = ex.run_path("exp", {"lr": 0.1, "seed": 0}, root=tmp_path).read_text()
    assert '"val_accuracy": [0.5, 0.75]' in text  # number lists stay on one line


# ------------------------------------------------- faults of the cache itself

def _trainer_code(root, marker) -> str:
    """A subprocess that asks for one run whose trainer leaves ``marker``; prints the runner's error, if any."""
    return f"""
from pathlib import Path
from fmnist_utils.runs import selection
from fmnist_utils.runs import store as ex

def train(config):
    Path({str(marker)!r}).write_text("trained")
    return {{"test_accuracy": 0.9}}

try:
    ex.run_experiment("exp", {{"lr": 0.1}}, train, root=Path({str(root)!r}))
except ex.ResultsCacheError as exc:
    print("ResultsCacheError:", exc)
"""


@pytest.mark.parametrize("locked", ["results root", "experiment folder"])
def test_unwritable_results_folder_fails_before_training(tmp_path, run_without_dac_override, locked):
    root, marker = tmp_path / "results", tmp_path / "trained"
    root.mkdir()
    if locked == "experiment folder":
        (root / "exp").mkdir()
    (root if locked == "results root" else root / "exp").chmod(0o555)
    result = run_without_dac_override(_trainer_code(root, marker))
    assert not marker.exists(), "trained although the run could not be stored"
    assert "ResultsCacheError:" in result.stdout, result.stderr
    assert str(root / "exp") in result.stdout and "FMNIST_RESULTS_DIR" in result.stdout


def test_leftover_temporary_files_are_never_read_as_runs(tmp_path, monkeypatch):
    import importlib.util

    results, log = tmp_path / "results", tmp_path / "used.txt"
    proba = np.eye(10, dtype=np.float32)[:4]
    ex.run_experiment("exp", {"seed": 0}, CountingTrainer({"val_accuracy": 0.9, "arrays": {"test_proba": proba}}),
                      root=results)
    run = ex.run_path("exp", {"seed": 0}, root=results)
    # what a process killed inside atomic_write left (the temporary names of earlier versions ended in .json/.npz)
    (results / "exp" / f".{run.name}.k2j3h4.json").write_text('{"config": {"se')
    (results / "exp" / f".{run.stem}.npz.x8y9.npz").write_bytes(b"PK\x03")
    assert [r["config"] for r in ex.stored_runs("exp", root=results)] == [{"seed": 0}]
    assert selection.best_stored_run("exp", root=results)["_path"] == str(run)
    log.write_text("")
    assert ex.unused_runs(log, results) == [run]
    log.write_text(f"{run.resolve()}\n")
    assert ex.unused_runs(log, results) == []
    script_path = Path(__file__).parents[1] / "scripts" / "check_unused_runs.py"
    spec = importlib.util.spec_from_file_location("check_unused_runs", script_path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setenv("FMNIST_RESULTS_DIR", str(results))
    assert script.main(str(log)) == 0


def _stored_pair(root, arrays, **result):
    record = ex.run_experiment("exp", {"seed": 0}, CountingTrainer({"test_accuracy": 0.5, **result,
                                                                    "arrays": arrays}), root=root)
    path = Path(record["_path"])
    return record, path, path.with_suffix(".npz")


def test_failed_json_write_on_retrain_keeps_the_old_pair(tmp_path, monkeypatch):
    _, path, npz = _stored_pair(tmp_path, {"test_proba": np.zeros((4, 10), np.float32)})
    before = path.read_bytes(), npz.read_bytes()
    write_text = Path.write_text

    def full_disk(self, *args, **kwargs):
        if ".json" in self.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    new = CountingTrainer({"test_accuracy": 0.7, "arrays": {"test_proba": np.ones((4, 10), np.float32)}})
    with pytest.raises(OSError, match="No space left"):
        ex.run_experiment("exp", {"seed": 0}, new, root=tmp_path, retrain=True)
    assert (path.read_bytes(), npz.read_bytes()) == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, npz.name]  # no temporary file left


def test_failed_json_rename_on_retrain_restores_the_old_npz(tmp_path, monkeypatch):
    _, path, npz = _stored_pair(tmp_path, {"test_proba": np.zeros((4, 10), np.float32)})
    before = path.read_bytes(), npz.read_bytes()
    replace = os.replace

    def failing_on_the_json(src, dst):
        if Path(dst) == path:
            raise OSError(errno.EIO, "Input/output error")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_on_the_json)
    new = CountingTrainer({"test_accuracy": 0.7, "arrays": {"test_proba": np.ones((4, 10), np.float32)}})
    with pytest.raises(OSError, match="Input/output error"):
        ex.run_experiment("exp", {"seed": 0}, new, root=tmp_path, retrain=True)
    assert (path.read_bytes(), npz.read_bytes()) == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, npz.name]


def test_retrain_without_arrays_removes_the_old_npz(tmp_path):
    _, path, npz = _stored_pair(tmp_path, {"test_proba": np.zeros((4, 10), np.float32)})
    record = ex.run_experiment("exp", {"seed": 0}, CountingTrainer({"test_accuracy": 0.7}), root=tmp_path,
                               retrain=True)
    assert not npz.exists()
    with pytest.raises(ex.ResultsCacheError, match="missing"):
        ex.load_arrays(record)


def test_npz_of_another_training_is_refused(tmp_path):
    record, path, npz = _stored_pair(tmp_path, {"test_proba": np.zeros((4, 10), np.float32)})
    other = ex.run_experiment("exp", {"seed": 1}, CountingTrainer({"arrays": {"test_proba": np.ones((4, 10))}}),
                              root=tmp_path)
    npz.write_bytes(Path(other["_path"]).with_suffix(".npz").read_bytes())  # e.g. a half-finished retrain
    with pytest.raises(ex.ResultsCacheError, match=f"{npz.name} does not belong to.*{path.name}.*FMNIST_RETRAIN"):
        ex.load_arrays(ex.run_experiment("exp", {"seed": 0}, CountingTrainer(), root=tmp_path))


def test_runs_stored_before_arrays_were_hashed_still_load(tmp_path):
    path = ex.run_path("exp", {"seed": 0}, root=tmp_path)
    path.parent.mkdir()
    path.write_text(json.dumps({"experiment": "exp", "config": {"seed": 0}, "status": "ok"}))
    np.savez_compressed(path.with_suffix(".npz"), test_proba=np.ones((2, 10), np.float16))
    record = ex.run_experiment("exp", {"seed": 0}, CountingTrainer(), root=tmp_path)
    assert ex.load_arrays(record)["test_proba"].shape == (2, 10)


@pytest.mark.parametrize("hashed", [True, False])
def test_truncated_npz_is_named(tmp_path, hashed):
    record, path, npz = _stored_pair(tmp_path, {"test_proba": np.random.default_rng(0).random((40, 10))})
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    if not hashed:  # as stored before the hash was recorded
        record.pop("arrays_sha256", None)
    with pytest.raises(ex.ResultsCacheError, match=f"{re.escape(str(npz))}.*(Delete|FMNIST_RETRAIN)"):
        ex.load_arrays(record)


def test_cache_only_and_retrain_together_are_refused(tmp_path, monkeypatch):
    train = CountingTrainer()
    ex.run_experiment("exp", {"lr": 0.1}, train, root=tmp_path)
    monkeypatch.setenv("FMNIST_CACHE_ONLY", "1")
    monkeypatch.setenv("FMNIST_RETRAIN", "1")
    with pytest.raises(ex.ResultsCacheError, match="FMNIST_CACHE_ONLY and FMNIST_RETRAIN"):
        ex.run_experiment("exp", {"lr": 0.1}, train, root=tmp_path)
    assert train.calls == 1


def test_display_options_are_no_part_of_a_runs_identity(tmp_path):
    trainer = CountingTrainer()
    quiet = ex.run_experiment("exp", {"lr": 0.1, "verbose": False}, trainer, root=tmp_path)
    loud = ex.run_experiment("exp", {"lr": 0.1, "verbose": True}, trainer, root=tmp_path)
    assert trainer.calls == 1 and quiet["_path"] == loud["_path"] == str(ex.run_path("exp", {"lr": 0.1}, tmp_path))
    assert loud["config"] == {"lr": 0.1}
