"""Fail when a fresh export of figures and tables differs from the committed ``figures/``.

Usage: python scripts/compare_exports.py EXPORTED [COMMITTED]   (`make test` replays every notebook with
FMNIST_FIGURES_DIR=EXPORTED, then runs this; COMMITTED defaults to the repository's figures/)
"""

from __future__ import annotations

import sys
from pathlib import Path

from fmnist_utils.paths import REPO_ROOT
from fmnist_utils.report.exports import PDF_TOLERANCE, PNG_TOLERANCE, compare_exports


def main(exported: str, committed: str = str(REPO_ROOT / "figures")) -> int:
    if not any(Path(exported).rglob("*")):
        print(f"{exported} holds no exports: replay the notebooks with FMNIST_FIGURES_DIR={exported} first "
              "(make test does).")
        return 2
    problems = compare_exports(Path(exported), Path(committed))
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} export(s) differ from the committed ones (text byte for byte; PNG at most "
              f"{PNG_TOLERANCE:.2%} of pixels; PDF numbers within {PDF_TOLERANCE} pt). If the change is meant, "
              "regenerate with `make report` and commit figures/.")
        return 1
    print(f"exports in {exported} agree with {committed}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
