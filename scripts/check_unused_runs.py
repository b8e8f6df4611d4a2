"""Fail when results/ holds stored runs that no notebook asked for while FMNIST_RUN_LOG named LOG.

Usage: python scripts/check_unused_runs.py LOG   (`make test` writes LOG while nbval replays every notebook)
"""

from __future__ import annotations

import sys
from pathlib import Path

from fmnist_utils.runs.store import unused_runs


def main(log: str) -> int:
    if not Path(log).is_file():
        print(f"{log} does not exist: replay the notebooks with FMNIST_RUN_LOG={log} first (make test does).")
        return 2
    unused = unused_runs(Path(log))
    for path in unused:
        print(f"unused stored run: {path}")
    if unused:
        print(f"{len(unused)} stored run(s) in results/ that no notebook asks for: `make retrain` would not recreate "
              "them and notebook 05 would count their cost. Delete each .json with its .npz (git rm).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
