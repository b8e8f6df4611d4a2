"""Train the long runs of notebooks 03b and 04 in the background, one at a time (issues 24 and 25; not part of CI).

Each run is stored in results/ by the runner the moment it finishes, so a queue cut short loses only the run in
progress; rerunning the script skips every stored run. Seed by seed, so that complete seed sets land first.

Usage: nohup .venv/bin/python scripts/train_queue.py GROUP ... > train_queue.log 2>&1 &
GROUP: 000 (report 000's two CNNs), 001 (report 001's deep CNN), 004base (report 004's three 8-filter
baselines), 004depth (its 2 to 4-block CNNs), 004opt (its optimizer settings at its budget), 004cap (its capacity
networks at its budget), 004arch (its picked MLPs and our screen's best, at its budget); the CNN grids trained to a
plateau on a class-balanced part of the training split: 000grid (report 000's filter grid, then its dropout grid on
the filters best on mean validation accuracy, 3 seeds each), 004grid (report 004's Talos grid).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fmnist_utils.runs import configs as cf  # noqa: E402
from fmnist_utils.runs import run_seeds, train_keras  # noqa: E402
from fmnist_utils.runs.search import cnn_grids_000, keras_grid_search  # noqa: E402
from fmnist_utils.runs.selection import best_on_validation  # noqa: E402
from fmnist_utils.runs.store import stored_runs  # noqa: E402


def arch_004_configs() -> dict[str, dict[str, Any]]:
    """Report 004's picks and the best of notebook 03b's stored architecture screen."""
    best = best_on_validation(r for r in stored_runs("03b_architecture_004") if r.get("status") == "ok")
    return cf.arch_004_as_reported_configs((best["config"]["model"]["hidden"], best["config"]["model"]["dropout"]))


#: group -> (experiment, its configurations by name, seeds)
GROUPS: dict[str, tuple[str, Callable[[], dict[str, dict[str, Any]]], tuple[int, ...]]] = {
    "000": ("04_cnn_000", lambda: cf.cnn_000_configs(full=False), cf.CNN_SEEDS),
    "001": ("04_cnn_001", lambda: {"deep CNN (001)": cf.cnn_001_config(full=False)}, cf.CNN_SEEDS),
    "004base": ("04_cnn_base_004", lambda: cf.cnn_base_004_configs(full=False), cf.CNN_SEEDS),
    "004depth": ("04_cnn_depth_004", lambda: cf.cnn_depth_004_configs(full=False), cf.CNN_SEEDS),
    "004opt": ("03b_optimizer_as_reported_004", cf.opt_004_as_reported_configs, cf.MLP_004_SEEDS),
    "004cap": ("03b_capacity_as_reported_004", cf.cap_004_as_reported_configs, cf.MLP_004_SEEDS),
    "004arch": ("03b_architecture_as_reported_004", arch_004_configs, cf.MLP_004_SEEDS),
}


#: grid group -> the function that runs its trials (each stored as it finishes, as the runs above)
GRIDS: dict[str, Callable[[], list[dict]]] = {
    "000grid": lambda: [run for grid in cnn_grids_000(full=False) for run in grid],
    "004grid": lambda: keras_grid_search("04_cnn_grid_004", cf.cnn_grid_004_base(full=False), cf.CNN_GRID_004),
}


def outcome(run: dict) -> str:
    """A stored run's end, as the queue logs it: epochs, best epoch, validation accuracy, seconds."""
    return (f"{run['epochs']} epochs (best {run.get('best_epoch')}), val {run.get('val_accuracy')}, "
            f"{run.get('seconds', 0):.0f} s")


def main(groups: list[str]) -> None:
    unknown = [g for g in groups if g not in GROUPS and g not in GRIDS]
    if unknown or not groups:
        sys.exit(f"unknown or no group {unknown}: choose from {', '.join([*GROUPS, *GRIDS])}")
    for group in groups:
        if group in GRIDS:
            for run in GRIDS[group]():
                print(f"{group} {run['trial']}: {outcome(run)}", flush=True)
            continue
        experiment, configs, seeds = GROUPS[group]
        for seed in seeds:
            for name, config in configs().items():
                run = run_seeds(experiment, config, train_keras, (seed,))[0]
                print(f"{experiment} {name} seed {seed}: {outcome(run)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
