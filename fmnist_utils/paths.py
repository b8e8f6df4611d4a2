"""Where things live. Paths come from the package, not the working directory,
so notebooks run alike from ``notebooks/`` and from the repository root."""

from __future__ import annotations

import os
from pathlib import Path

#: The project's repository; notebooks install ``fmnist_utils`` from it in Colab
#: (a test checks that every notebook's setup cell uses this address).
REPO_URL = "https://github.com/fmnist-report/fmnist-report"

REPO_ROOT = Path(__file__).resolve().parent.parent


def _root() -> Path:
    # In Colab the package is pip-installed, so fall back to the working directory.
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT
    return Path.cwd()


def results_dir() -> Path:
    """``results/`` (override with ``$FMNIST_RESULTS_DIR``)."""
    return Path(os.environ.get("FMNIST_RESULTS_DIR", _root() / "results"))


def figures_dir() -> Path:
    """``figures/`` (override with ``$FMNIST_FIGURES_DIR``)."""
    return Path(os.environ.get("FMNIST_FIGURES_DIR", _root() / "figures"))
