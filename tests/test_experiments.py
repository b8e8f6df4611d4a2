"""The runner and its cache: hits, misses, retrain, cache-only, atomic writes, corrupt files, divergence."""

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from fmnist_utils import experiments as ex


class CountingTrainer:
    def __init__(self, result=None):
        self.calls = 0
        self.result = result or {"test_accuracy": 0.9, "history": {"val_accuracy": [0.5, 0.75]}}

    def __call__(self, config):
        self.calls += 1
        return dict(self.result)


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
    assert ex.metric_values([record, ok], "test_accuracy") == [0.9]


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


@pytest.fixture
def tiny_image_splits(monkeypatch):
    from fmnist_utils import data

    rng = np.random.default_rng(0)
    x, y = rng.random((150, 784), dtype=np.float32), np.arange(150) % 10
    monkeypatch.setattr(data, "load_splits", lambda normalize="scale", flat=True, dtype="float32": data.Splits(
        x[:90], y[:90], x[90:120], y[90:120], x[120:], y[120:]))


def test_numpy_mlp_refit_on_train_and_val_and_flip_tta(tiny_image_splits):
    params = {"hidden_layer_sizes": [8], "max_iter": 2, "n_iter_no_change": None, "batch_size": 30}
    plain = ex.train_numpy_mlp({"params": params, "seed": 0, "verbose": False, "store_test_proba": True})
    assert plain["history"]["val_accuracy"] and "val_accuracy" in plain and "tta" not in plain
    assert plain["arrays"]["test_proba"].shape == (30, 10)
    assert "arrays" not in ex.train_numpy_mlp({"params": params, "seed": 0, "verbose": False})
    refit = ex.train_numpy_mlp({"params": params, "seed": 0, "verbose": False, "fit_on": "train+val",
                                "flip_tta": True, "store_test_proba": True})
    assert "val_accuracy" not in refit and refit["history"]["val_accuracy"] == []
    assert len(refit["batch_loss"]) == 2 * 4  # 120 images in batches of 30, twice
    assert set(refit["tta"]) == {"test_accuracy"} and set(refit["arrays"]) == {"test_proba", "test_proba_tta"}
    # the plain predictor is stored beside the flip-averaged one, so either can be chosen on validation
    plain_refit = ex.train_numpy_mlp({"params": params, "seed": 0, "verbose": False, "fit_on": "train+val",
                                      "store_test_proba": True})
    np.testing.assert_array_equal(refit["arrays"]["test_proba"], plain_refit["arrays"]["test_proba"])
    assert not np.array_equal(refit["arrays"]["test_proba_tta"], refit["arrays"]["test_proba"])
    with pytest.raises(ValueError, match="fit_on must be"):
        ex.train_numpy_mlp({"params": params, "seed": 0, "fit_on": "test"})


def test_numpy_mlp_distils_a_stored_teacher(tiny_image_splits, tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_RESULTS_DIR", str(tmp_path))
    y_train = np.arange(90) % 10
    teacher_proba = np.full((90, 10), 0.02)
    teacher_proba[np.arange(90), (y_train + 1) % 10] = 0.82  # a teacher that always says "the next class"
    trainer = CountingTrainer({"val_accuracy": 0.5, "arrays": {"train_proba": teacher_proba.astype(np.float16)}})
    teacher = {"experiment": "teacher", "config": {"seed": 0}}
    ex.run_experiment("teacher", teacher["config"], trainer)

    soft = ex.distillation_targets({**teacher, "temperature": 1.0}, y_train)
    np.testing.assert_allclose(soft, teacher_proba, atol=1e-3)
    softer = ex.distillation_targets({**teacher, "temperature": 4.0}, y_train)
    assert softer.max() < soft.max() and np.allclose(softer.sum(axis=1), 1)
    np.testing.assert_allclose(ex.distillation_targets({**teacher, "label_weight": 1.0}, y_train), np.eye(10)[y_train])

    params = {"hidden_layer_sizes": [16], "max_iter": 40, "n_iter_no_change": None, "batch_size": 30,
              "learning_rate_init": 0.1}
    student = ex.train_numpy_mlp({"params": params, "seed": 0, "verbose": False, "teacher": teacher})
    assert trainer.calls == 1  # the stored teacher is reused, not retrained
    assert student["train_accuracy"] < 0.5  # it learnt the teacher's shifted labels, not the true ones
    with pytest.raises(ValueError, match="use fit_on='train'"):
        ex.train_numpy_mlp({"params": params, "seed": 0, "teacher": teacher, "fit_on": "train+val"})
    ex.run_experiment("short_teacher", {"seed": 0}, CountingTrainer({"arrays": {"train_proba": teacher_proba[:5]}}))
    with pytest.raises(ValueError, match="store_train_proba=True"):
        ex.distillation_targets({"experiment": "short_teacher", "config": {"seed": 0}}, y_train)


def test_per_view_teacher_gives_one_target_per_translation(tiny_image_splits, tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_RESULTS_DIR", str(tmp_path))
    y_train = np.arange(90) % 10
    per_view = np.full((90, 9, 10), 0.02)
    per_view[np.arange(90)[:, None], np.arange(9)[None, :], (y_train[:, None] + np.arange(9)) % 10] = 0.82
    teacher = {"experiment": "teacher", "config": {"seed": 0, "store_train_proba_shifts": 1}}
    ex.run_experiment("teacher", teacher["config"],
                      CountingTrainer({"arrays": {"train_proba_shifts": per_view.astype(np.float16)}}))
    soft = ex.distillation_targets({**teacher, "label_weight": 0.5}, y_train)
    assert soft.shape == (90, 9, 10)
    np.testing.assert_allclose(soft[:, 0], 0.5 * np.eye(10)[y_train] + 0.5 * per_view[:, 0], atol=1e-3)
    assert (soft[:, 3].argmax(axis=1) == y_train).all() and (soft[:, 3].max(axis=1) < 0.6).all()
    params = {"hidden_layer_sizes": [16], "max_iter": 2, "n_iter_no_change": None, "augment_shift": 1}
    student = ex.train_numpy_mlp({"params": params, "seed": 0, "verbose": False, "teacher": teacher})
    assert student["epochs"] == 2
    with pytest.raises(ValueError, match="augment_shift > 0"):
        ex.train_numpy_mlp({"params": {**params, "augment_shift": 0}, "seed": 0, "teacher": teacher})


def test_best_stored_run_compares_the_stored_predictors_on_validation(tmp_path):
    proba = np.eye(10, dtype=np.float32)[:4]

    def stored(seed, out):
        ex.run_experiment("best", {"seed": seed, **out.pop("config", {})}, CountingTrainer(
            {"test_accuracy": 0.5, **out}), root=tmp_path)

    stored(0, {"val_accuracy": 0.90, "arrays": {"test_proba": proba}})
    stored(1, {"val_accuracy": 0.89, "tta": {"val_accuracy": 0.91}, "config": {"flip_tta": True},
               "arrays": {"test_proba": proba}})  # older NumPy runs: only the averaged probabilities
    stored(2, {"val_accuracy": 0.95})  # no stored probabilities: not a candidate
    best = ex.best_stored_run("best", root=tmp_path)
    assert best["config"]["seed"] == 1 and ex.stored_test_proba(best)[1:] == (0.91, "flip")
    stored(3, {"val_accuracy": 0.905, "tta": {"val_accuracy": 0.90},
               "arrays": {"test_proba": proba, "test_proba_tta": proba[::-1]}})  # Keras style: TTA worse here
    _, val, tta = ex.stored_test_proba(ex.run_experiment("best", {"seed": 3}, CountingTrainer(), root=tmp_path))
    assert (val, tta) == (0.905, "none")
    stored(4, {"val_accuracy": 0.90, "tta": {"val_accuracy": 0.92}, "tta_views": {"flip+shift1": {"val_accuracy": 0.92},
               "flip+shift2": {"val_accuracy": 0.93}}, "arrays": {"test_proba": proba, "test_proba_tta": proba,
               "test_proba_flip+shift1": proba, "test_proba_flip+shift2": proba[::-1]}})
    best = ex.best_stored_run("best", root=tmp_path)
    assert best["config"]["seed"] == 4 and ex.stored_test_proba(best)[1:] == (0.93, "flip+shift2")
    assert (ex.stored_test_proba(best)[0] == proba[::-1]).all()
    assert {mode: s["val_accuracy"] for mode, s in ex.tta_scores(best).items()} == {
        "none": 0.90, "flip": 0.92, "flip+shift1": 0.92, "flip+shift2": 0.93}
    # the run is chosen by its best predictor on validation, even where an older run did not store that one
    stored(5, {"val_accuracy": 0.94, "tta": {"val_accuracy": 0.91}, "config": {"flip_tta": True},
               "arrays": {"test_proba": proba}})
    best = ex.best_stored_run("best", root=tmp_path)
    assert best["config"]["seed"] == 5 and ex.stored_test_proba(best)[1:] == (0.91, "flip")
    with pytest.raises(ex.ResultsCacheError, match="no run of 'missing'"):
        ex.best_stored_run("missing", root=tmp_path)


# ------------------------------------------------- faults of the cache itself

def _trainer_code(root, marker) -> str:
    """A subprocess that asks for one run whose trainer leaves ``marker``; prints the runner's error, if any."""
    return f"""
from pathlib import Path
from fmnist_utils import experiments as ex

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
    assert ex.best_stored_run("exp", root=results)["_path"] == str(run)
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


def test_atomic_write_temporary_name_is_not_a_run_file(tmp_path):
    from fmnist_utils.paths import atomic_write

    names = []
    atomic_write(tmp_path / "abc.json", lambda tmp: names.append(tmp) or Path(tmp).write_text("{}"))
    assert Path(names[0]).name.startswith(".") and not names[0].endswith((".json", ".npz"))
    assert [p.name for p in tmp_path.iterdir()] == ["abc.json"]


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
