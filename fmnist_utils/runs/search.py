"""Hyperparameter searches whose every trial is a stored run: scikit-learn's grid search over our MLP,
keras-tuner's grid over a Keras configuration."""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from ..data import Splits, load_splits
from ..keras.builders import import_keras
from ..keras.train import train_keras
from ..mlp import MLPClassifier
from . import configs
from .selection import mean_metric
from .store import run_experiment


def grid_search_numpy_mlp(config: dict, data: Splits | None = None) -> dict:
    """``GridSearchCV`` over our ``MLPClassifier`` on the 48,000 training images (stratified k-fold).

    config: ``params`` (fixed keyword arguments), ``grid`` (param_grid), ``cv`` (folds), ``seed``.
    The validation and test splits are not touched.
    """
    data = data or load_splits(config.get("normalize", "scale"))
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


def _with_value(config: dict, dotted_key: str, value) -> dict:
    """A copy of ``config`` with ``value`` at ``dotted_key`` (``"model.dropout"`` sets config["model"]["dropout"])."""
    head, _, rest = dotted_key.partition(".")
    if not rest:
        return {**config, head: value}
    return {**config, head: _with_value(config.get(head, {}), rest, value)}


def keras_grid_search(experiment: str, base_config: dict, grid: dict[str, list],
                      objective: str = "val_accuracy", root: Path | None = None,
                      data: Splits | None = None) -> list[dict]:
    """Every combination of ``grid`` with keras-tuner's grid oracle, each trial a cached ``train_keras`` run.

    grid: dotted config keys to candidate values, e.g. ``{"model.hidden": [[512], [768]],
    "model.dropout": [0.2, 0.3]}``. Each trial is stored in ``results/<experiment>/`` by the runner, so a
    replay trains nothing. Returns the runs (with ``trial`` values added) in the oracle's order; rank them
    by ``objective``, a validation metric: the test split plays no part in the search. ``root``: results folder
    (default ``results/``); ``data``: the splits ``train_keras`` trains on (default: its own).
    """
    import_keras()
    import keras_tuner as kt


    if "seed" not in base_config:
        raise ValueError("keras_grid_search: base_config needs a 'seed' (each grid point is one seeded run)")
    hp = kt.HyperParameters()
    for key, values in grid.items():
        hp.Choice(key, list(range(len(values))))  # indices: keras-tuner choices must be scalars
    runs: list[dict] = []

    class CachedTrials(kt.Tuner):
        def run_trial(self, trial, *args, **kwargs):
            picked = {key: grid[key][trial.hyperparameters.get(key)] for key in grid}
            config = base_config
            for key, value in picked.items():
                config = _with_value(config, key, value)
            run = run_experiment(experiment, config, lambda c: train_keras(c, data=data), root=root)
            runs.append({**run, "trial": picked})
            score = run.get(objective)
            return {objective: float(score) if score is not None else float("-inf")}

    workdir = tempfile.mkdtemp(prefix="keras_tuner_")
    try:
        oracle = kt.oracles.GridSearchOracle(kt.Objective(objective, "max"), hyperparameters=hp,
                                             max_trials=int(np.prod([len(v) for v in grid.values()])),
                                             max_consecutive_failed_trials=1)  # a failing trial stops the search
        CachedTrials(oracle=oracle, directory=workdir, project_name=experiment, overwrite=True).search(verbose=0)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return runs


def cnn_grids_000(*, full: bool, seeds: Sequence[int] = configs.CNN_SEEDS) -> tuple[list[dict], list[dict]]:
    """Report 000's two CNN grids on ``configs.grid_plateau_budget``, each trial once per seed: filter size x number
    of filters (its Figure 21), then dropout (its Figure 22) with the filters of the highest mean validation
    accuracy over the seeds. Returns (the first grid's runs, the second's), seed by seed, each trial a stored run of
    ``04_cnn_grid_000``."""
    def over_seeds(config: dict, grid: dict[str, list]) -> list[dict]:
        return [run for seed in seeds for run in keras_grid_search("04_cnn_grid_000", {**config, "seed": seed}, grid)]

    base = configs.cnn_grid_000_base(full=full)
    filter_runs = over_seeds(base, configs.CNN_GRID_000_FILTERS)
    by_trial: dict[tuple, list[dict]] = defaultdict(list)
    for run in filter_runs:
        model = run["config"]["model"]
        by_trial[(model["kernel_size"], tuple(model["filters"]))].append(run)
    # a trial whose every run diverged has no mean: it ranks last
    kernel_size, filters = max(by_trial, key=lambda trial: np.nan_to_num(mean_metric(by_trial[trial]), nan=-np.inf))
    picked = {**base, "model": {**base["model"], "kernel_size": kernel_size, "filters": list(filters)}}
    return filter_runs, over_seeds(picked, configs.CNN_GRID_000_DROPOUT)
