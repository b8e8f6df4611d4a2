"""The experiment runner and its cache in ``results/``.

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

from .paths import results_dir, staged_write

TrainFn = Callable[[dict], dict]


class ResultsCacheError(RuntimeError):
    """A stored run is unreadable, or a run is missing where training is not allowed."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


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
    ``status`` (``"ok"`` or ``"diverged"``).
    """
    config = _normalise(config)
    path = run_path(experiment, config, root)
    asked = "FMNIST_RETRAIN" if retrain is None else "retrain=True"
    retrain = _env_flag("FMNIST_RETRAIN") if retrain is None else retrain
    if retrain and _env_flag("FMNIST_CACHE_ONLY"):  # else a stored run would be reported as missing
        raise ResultsCacheError(
            f"FMNIST_CACHE_ONLY and {asked} are both set: one forbids training, the other asks for it. Unset "
            "FMNIST_CACHE_ONLY to recompute the runs, or FMNIST_RETRAIN to replay the stored ones."
        )
    if path.is_file() and not retrain:
        record = load_run(path)
        if record["config"] != config:
            raise ResultsCacheError(
                f"{path} holds a different configuration than its name says (hash collision or a hand edit). "
                "Delete it to recompute."
            )
        record["_path"] = str(path)
        _log_use(path)
        return record
    if _env_flag("FMNIST_CACHE_ONLY"):
        raise ResultsCacheError(
            f"No stored run for experiment {experiment!r} with config {config} (expected {path}). "
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
        "config": config,
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


# ----------------------------------------------------------------- trainers
# A trainer takes a configuration dict and returns what the runner stores.

MAX_STORED_BATCH_LOSSES = 2000


def _downsample(values: list[float], limit: int = MAX_STORED_BATCH_LOSSES) -> tuple[list[float], int]:
    every = max(1, int(np.ceil(len(values) / limit)))
    return [round(float(v), 5) for v in values[::every]], every


def train_numpy_mlp(config: dict) -> dict:
    """Train our NumPy ``MLPClassifier`` on the standard split and evaluate it.

    config: ``params`` (MLPClassifier keyword arguments), ``seed`` (its random_state),
    optionally ``normalize`` (see ``data.load_splits``, default ``"scale"``), ``store_test_proba``,
    ``fit_on`` (``"train"``, default, or ``"train+val"``: refit a configuration already chosen on validation
    on all 60,000 training images, for a fixed number of epochs; validation metrics are then omitted) and
    ``flip_tta`` (also score the mean of the probabilities of each image and its mirror image, under ``tta``;
    with ``store_test_proba`` both predictors' test probabilities are stored, as for Keras runs) and ``teacher``
    (distillation: train on ``distillation_targets(teacher, y_train)`` instead of the labels alone).
    Selection (early stopping) uses the validation split; test metrics are reported, never used.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from .augment import flip_horizontal
    from .data import load_splits
    from .mlp import MLPClassifier

    data = load_splits(config.get("normalize", "scale"))
    fit_on = config.get("fit_on", "train")
    if fit_on not in ("train", "train+val"):
        raise ValueError(f"config fit_on must be 'train' or 'train+val', got {fit_on!r}")
    if config.get("teacher") and fit_on != "train":
        raise ValueError("config teacher: the teacher's soft targets cover the 48,000 training images only; "
                         "use fit_on='train'")
    soft = distillation_targets(config["teacher"], data.y_train) if config.get("teacher") else None
    clf = MLPClassifier(**config["params"], random_state=config["seed"], verbose=config.get("verbose", True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        if fit_on == "train":
            clf.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), soft_targets=soft)
        else:
            clf.fit(np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val]))
    batch_loss, every = _downsample(clf.batch_loss_)
    out = {
        "history": {k: [round(float(v), 6) for v in vals] for k, vals in clf.history_.items()},
        "batch_loss": batch_loss,
        "batch_loss_every": every,
        "epochs": clf.n_iter_,
        "n_parameters": clf.n_parameters_,
        "warnings": sorted({str(w.message) for w in caught}),
    }
    if clf.diverged_epoch_ is not None:
        return {**out, "status": "diverged", "diverged_epoch": clf.diverged_epoch_}
    out["best_epoch"] = getattr(clf, "best_epoch_", clf.n_iter_)
    splits = ("train", "val", "test") if fit_on == "train" else ("train", "test")
    for split in splits:
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        out[f"{split}_accuracy"] = round(float(clf.score(x, y)), 6)
        out[f"{split}_loss"] = round(float(clf.log_loss(x, y)), 6)
    tta_test_proba = None
    if config.get("flip_tta"):
        out["tta"] = {}
        for split in splits[1:]:
            x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
            proba = (clf.predict_proba(x) + clf.predict_proba(flip_horizontal(x))) / 2
            out["tta"][f"{split}_accuracy"] = round(float((clf.classes_[proba.argmax(1)] == y).mean()), 6)
        tta_test_proba = proba  # the last split is test
    if config.get("store_test_proba"):
        arrays = {"test_proba": clf.predict_proba(data.x_test), "test_proba_tta": tta_test_proba}
        out["arrays"] = {name: p.astype(np.float16) for name, p in arrays.items() if p is not None}
    return out


def distillation_targets(teacher: dict, y: np.ndarray) -> np.ndarray:
    """Soft targets (N, 10) for the training split from a stored teacher run (knowledge distillation).

    teacher: ``experiment`` and ``config`` of a ``train_keras`` run with ``store_train_proba`` (trained on the
    training split only, so validation stays unseen), ``temperature`` T (the teacher's probabilities p become
    p ** (1/T), renormalised: a softmax of its logits / T; T > 1 softens them) and ``label_weight`` w (targets
    are w * one-hot(y) + (1 - w) * softened p). A teacher config with ``store_train_proba_shifts`` gives
    (N, views, 10) targets, one row per translation, for a student trained with shifts of as many pixels.
    """
    def train_teacher(config: dict) -> dict:  # TensorFlow is imported only if the teacher must be trained
        from .keras_models import train_keras

        return train_keras(config)

    record = run_experiment(teacher["experiment"], teacher["config"], train_teacher)
    per_view = bool(teacher["config"].get("store_train_proba_shifts"))
    proba = load_arrays(record).get("train_proba_shifts" if per_view else "train_proba")
    if proba is None or len(proba) != len(y):
        raise ValueError(f"teacher run {record['_path']} has no training-split probabilities for {len(y)} images; "
                         "train the teacher with store_train_proba=True (or store_train_proba_shifts) on the "
                         "standard split")
    softened = np.power(proba.astype(np.float64), 1 / teacher.get("temperature", 1.0))
    softened /= softened.sum(axis=-1, keepdims=True)
    weight = teacher.get("label_weight", 0.0)
    one_hot = np.eye(softened.shape[-1])[y]
    return weight * (one_hot[:, None, :] if per_view else one_hot) + (1 - weight) * softened


def grid_search_numpy_mlp(config: dict) -> dict:
    """``GridSearchCV`` over our ``MLPClassifier`` on the 48,000 training images (stratified k-fold).

    config: ``params`` (fixed keyword arguments), ``grid`` (param_grid), ``cv`` (folds), ``seed``.
    The validation and test splits are not touched.
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from .data import load_splits
    from .mlp import MLPClassifier

    data = load_splits(config.get("normalize", "scale"))
    search = GridSearchCV(
        MLPClassifier(**config["params"], random_state=config["seed"]),
        config["grid"],
        cv=StratifiedKFold(config["cv"], shuffle=True, random_state=config["seed"]),
        error_score=np.nan,
        verbose=1 if config.get("verbose", True) else 0,
    )
    search.fit(data.x_train, data.y_train)
    cv = search.cv_results_
    rows = [
        {"params": cv["params"][i], "mean_score": round(float(cv["mean_test_score"][i]), 6),
         "std_score": round(float(cv["std_test_score"][i]), 6), "rank": int(cv["rank_test_score"][i]),
         "fold_scores": [round(float(cv[f"split{k}_test_score"][i]), 6) for k in range(config["cv"])]}
        for i in range(len(cv["params"]))
    ]
    return {"cv_results": rows, "best_params": search.best_params_, "best_score": round(float(search.best_score_), 6)}


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
