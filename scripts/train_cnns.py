"""Train the reports' CNNs to convergence in the background, one run at a time (issue 25; not part of CI).

Each run is stored in results/ by the runner the moment it finishes, so a queue cut short loses only the run in
progress; rerunning the script skips every stored run. Seed by seed, so that complete seed sets land first.

Usage: nohup .venv/bin/python scripts/train_cnns.py GROUP ... > train_cnns.log 2>&1 &
GROUP: 000 (report 000's two CNNs), 004base (report 004's three 8-filter baselines), 004depth (its 2 to 4-block
CNNs).
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fmnist_utils.runs import run_seeds, train_keras  # noqa: E402
from fmnist_utils.runs.configs import (  # noqa: E402
    CNN_SEEDS,
    cnn_000_configs,
    cnn_base_004_configs,
    cnn_depth_004_configs,
)

GROUPS = {"000": ("04_cnn_000", cnn_000_configs), "004base": ("04_cnn_base_004", cnn_base_004_configs),
          "004depth": ("04_cnn_depth_004", cnn_depth_004_configs)}


def main(groups: list[str]) -> None:
    unknown = [g for g in groups if g not in GROUPS]
    if unknown or not groups:
        sys.exit(f"unknown or no group {unknown}: choose from {', '.join(GROUPS)}")
    for group in groups:
        experiment, configs = GROUPS[group]
        for seed in CNN_SEEDS:
            for name, config in configs(full=False).items():
                start = time.perf_counter()
                run = run_seeds(experiment, config, train_keras, (seed,))[0]
                print(f"{experiment} {name} seed {seed}: {run['epochs']} epochs (best {run.get('best_epoch')}), "
                      f"val {run.get('val_accuracy')}, {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
