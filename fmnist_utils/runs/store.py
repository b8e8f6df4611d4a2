"""The run record's store: the experiment runner and its cache in ``results/``.

A notebook asks for a run by experiment name and configuration::

    record = run_experiment("02_depth", {"hidden": [128], "seed": 0}, train_fn)

The runner returns the stored run when ``results/02_depth/<key>.json`` holds
exactly that configuration, and otherwise calls ``train_fn(config)`` and stores
what it returns, with the configuration, wall-clock seconds and library versions.

- ``FMNIST_RETRAIN=1`` (``make retrain``) ignores stored runs and trains again.
- ``FMNIST_CACHE_ONLY=1`` (``make test``) never trains: a missing run is an error,
  so CI replays notebooks from ``results/`` and fails loudly if one is missing.
  Both flags at once are refused.

Writes are atomic (temporary file + rename), so an interrupted run leaves no
half-written file, and a run's JSON and ``.npz`` are replaced as a pair (see ``_store_run``).
The folder is checked for writing before training, so a run is never trained only to be lost.
``train_fn`` may return ``status="diverged"`` with the epoch;
such runs are stored and returned like any other, never as a valid score.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..paths import results_dir, staged_write

TrainFn = Callable[[dict], dict]


class ResultsCacheError(RuntimeError):
    """A stored run is unreadable, or a run is missing where training is not allowed."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


#: Configuration keys that change how a run is shown, not what it computes: left out of its identity (and its hash).
DISPLAY_KEYS = ("verbose",)


def run_identity(config: dict) -> dict:
    """The part of a configuration that names a run: all of it but the display options (``DISPLAY_KEYS``)."""
    return {k: v for k, v in config.items() if k not in DISPLAY_KEYS}


def config_key(config: dict) -> str:
    """A short, stable hash of the configuration (canonical JSON, sorted keys)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=_jsonable)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable: store plain numbers, strings and lists")


def _normalise(obj: Any) -> Any:
    """Round-trip through JSON so an in-memory config compares equal to a stored one."""
    return json.loads(json.dumps(obj, default=_jsonable))


_NUMBER = r"(-?[\d.eE+\-]+|NaN|-?Infinity|null)"


_NUMBER_LIST = re.compile(rf"\[\s*{_NUMBER}(\s*,\s*{_NUMBER})*\s*\]")


def to_json(record: dict) -> str:
    """Indented JSON with lists of numbers kept on one line (readable and diff-friendly)."""
    text = json.dumps(record, indent=1, sort_keys=False, default=_jsonable)
    return _NUMBER_LIST.sub(lambda m: re.sub(r"\s+", "", m.group(0)).replace(",", ", "), text)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that can change a result (TensorFlow and Keras only if already imported)."""
    versions = {"python": sys.version.split()[0], "numpy": np.__version__,
                "scikit-learn": metadata.version("scikit-learn")}
    for name in ("tensorflow", "keras"):
        if name in sys.modules:
            versions[name] = sys.modules[name].__version__
    return versions


def run_path(experiment: str, config: dict, root: Path | None = None) -> Path:
    return (root or results_dir()) / experiment / f"{config_key(config)}.json"


def load_run(path: Path) -> dict:
    """Read one stored run; ResultsCacheError (naming the file and the remedy) if it is corrupt."""
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsCacheError(
            f"{path} is not valid JSON ({exc}). Delete it (or run `make retrain`) to recompute this run."
        ) from None
    if not isinstance(record, dict) or "config" not in record:
        raise ResultsCacheError(f"{path} has no 'config' entry; it is not a stored run. Delete it to recompute.")
    return record


def load_arrays(record: dict) -> dict[str, np.ndarray]:
    """The arrays stored beside a run (e.g. test-set probabilities); ResultsCacheError (naming the file and the
    remedy) if they are missing, unreadable, or not the ones this run's JSON recorded (``arrays_sha256``)."""
    path = Path(record["_path"]).with_suffix(".npz")
    if not path.is_file():
        raise ResultsCacheError(f"{path} is missing; rerun this experiment with FMNIST_RETRAIN=1.")
    content = path.read_bytes()
    expected = record.get("arrays_sha256")  # runs stored before the digest was recorded are read unchecked
    if expected is not None and hashlib.sha256(content).hexdigest() != expected:
        raise ResultsCacheError(
            f"{path} does not belong to {record['_path']}: its SHA-256 differs from the one recorded there (it is "
            "truncated, or from another training of this run: a retrain stopped between writing the two, or one "
            "file was replaced by hand). Restore both from git, or retrain the run with FMNIST_RETRAIN=1."
        )
    try:
        with np.load(io.BytesIO(content)) as data:
            return dict(data)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as exc:
        raise ResultsCacheError(
            f"{path} is truncated or corrupt ({type(exc).__name__}: {exc}). Delete it and {Path(record['_path']).name} "
            "beside it, or retrain the run with FMNIST_RETRAIN=1."
        ) from None


def run_experiment(
    experiment: str, config: dict, train_fn: TrainFn, root: Path | None = None, retrain: bool | None = None
) -> dict:
    """Return the stored run of ``config`` or train it with ``train_fn(config)`` and store it.

    ``train_fn`` returns a dict: metrics, ``history`` etc., and optionally ``arrays``
    (a dict of NumPy arrays, saved as a compressed ``.npz`` beside the JSON) and
    ``status`` (``"ok"`` or ``"diverged"``). Display options (``verbose``) reach ``train_fn`` but are no part of
    the run's identity: the same run is found with or without them.
    """
    config = _normalise(config)
    identity = run_identity(config)
    path = run_path(experiment, identity, root)
    asked = "FMNIST_RETRAIN" if retrain is None else "retrain=True"
    retrain = _env_flag("FMNIST_RETRAIN") if retrain is None else retrain
    if retrain and _env_flag("FMNIST_CACHE_ONLY"):  # else a stored run would be reported as missing
        raise ResultsCacheError(
            f"FMNIST_CACHE_ONLY and {asked} are both set: one forbids training, the other asks for it. Unset "
            "FMNIST_CACHE_ONLY to recompute the runs, or FMNIST_RETRAIN to replay the stored ones."
        )
    if path.is_file() and not retrain:
        record = load_run(path)
        if record["config"] != identity:
            raise ResultsCacheError(
                f"{path} holds a different configuration than its name says (hash collision or a hand edit). "
                "Delete it to recompute."
            )
        record["_path"] = str(path)
        _log_use(path)
        return record
    if _env_flag("FMNIST_CACHE_ONLY"):
        raise ResultsCacheError(
            f"No stored run for experiment {experiment!r} with config {identity} (expected {path}). "
            "FMNIST_CACHE_ONLY is set, so nothing is trained: run the notebook without it "
            "(or `make retrain`) to compute and store this run."
        )
    _check_writable(path.parent)
    start = time.perf_counter()
    outcome = dict(train_fn(config))
    seconds = time.perf_counter() - start
    arrays = outcome.pop("arrays", None)
    record = {
        "experiment": experiment,
        "config": identity,
        "status": outcome.pop("status", "ok"),
        **_normalise(outcome),
        "seconds": round(seconds, 2),
        "versions": library_versions(),
    }
    record = _store_run(path, record, arrays)
    record["_path"] = str(path)
    _log_use(path)
    return record


def _check_writable(folder: Path) -> None:
    """ResultsCacheError now, if a run could not be stored in ``folder``, rather than after training it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ResultsCacheError(
            f"Cannot store runs in {folder} ({exc.strerror or exc}), so nothing was trained: the result would be "
            "lost. Make the folder writable for this user (check its permissions and owner), or set "
            "FMNIST_RESULTS_DIR to a writable folder."
        ) from None


def _store_run(path: Path, record: dict, arrays: dict[str, np.ndarray] | None) -> dict:
    """Write the run's JSON and the .npz of its arrays as a pair, and return the record written.

    A failure leaves the old pair (or no run), never a new .npz beside the old JSON, which replays would serve as
    one run. Everything that can fail (serialising, compressing, a full disk) goes to temporary files first; then
    the old .npz is moved aside, the new one renamed into place and the JSON after it, and if that fails the old
    .npz is moved back. The JSON records the .npz's SHA-256, so a pair mixed up all the same (a kill between the
    renames, a file replaced by hand) is refused by ``load_arrays``.
    """
    npz = path.with_suffix(".npz")
    new_npz = new_json = backup = None
    try:
        if arrays:
            new_npz = staged_write(npz, lambda tmp: _save_npz(tmp, arrays))
            record = {**record, "arrays_sha256": hashlib.sha256(Path(new_npz).read_bytes()).hexdigest()}
        text = to_json(record) + "\n"
        new_json = staged_write(path, lambda tmp: Path(tmp).write_text(text))
        if npz.exists():  # a retrain's old .npz: neither beside the new JSON, nor lost if the old JSON stays
            backup = str(npz.with_name(f".{npz.name}.{secrets.token_hex(4)}.old.tmp"))
            os.replace(npz, backup)
        try:
            if new_npz:
                os.replace(new_npz, npz)
            os.replace(new_json, path)
        except BaseException:
            if backup:
                os.replace(backup, npz)
            elif new_npz and npz.exists():
                npz.unlink()
            raise
        if backup:
            os.unlink(backup)
    finally:
        for tmp in (new_npz, new_json):
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
    return record


def _save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # a file object: given a name without ".npz", savez would write to name + ".npz"
        np.savez_compressed(f, **arrays)


def _log_use(path: Path) -> None:
    """Append the run's path to the file named by ``FMNIST_RUN_LOG``, if set (see ``unused_runs``)."""
    log = os.environ.get("FMNIST_RUN_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{path.resolve()}\n")


def unused_runs(log: Path, root: Path | None = None) -> list[Path]:
    """Stored runs under ``root`` that ``run_experiment`` did not return while ``FMNIST_RUN_LOG`` named ``log``.

    After every notebook has run with the log set, these are runs no notebook asks for any more (left from an
    earlier configuration): ``make retrain`` would not recreate them, yet notebook 05 would count their cost.
    """
    used = set(Path(log).read_text(encoding="utf-8").splitlines())
    return [p for p in run_files(root) if str(p.resolve()) not in used]


def run_files(root: Path | None = None, experiment: str | None = None) -> list[Path]:
    """The stored runs' JSON files, sorted: of ``experiment``, else of every experiment under ``root``.

    Names starting with a dot are never runs: they are temporary files (``paths.staged_write``; older versions
    named them ``.<key>.json.XXXX.json``), which a killed process may leave behind.
    """
    base = root or results_dir()
    paths = (base / experiment).glob("*.json") if experiment else base.glob("*/*.json")
    return sorted(p for p in paths if not any(part.startswith(".") for part in p.relative_to(base).parts))


def run_seeds(
    experiment: str, config: dict, train_fn: TrainFn, seeds: Iterable[int] = (0, 1, 2), **kwargs: Any
) -> list[dict]:
    """``run_experiment`` once per seed (the seed goes into the config as ``seed``)."""
    return [run_experiment(experiment, {**config, "seed": int(s)}, train_fn, **kwargs) for s in seeds]


def stored_runs(experiment: str, root: Path | None = None) -> list[dict]:
    """Every stored run of an experiment, sorted by file name."""
    return [dict(load_run(p), _path=str(p)) for p in run_files(root, experiment)]
