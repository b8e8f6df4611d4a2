"""Where things live. Paths come from the package, not the working directory,
so notebooks run alike from ``notebooks/`` and from the repository root."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
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


def staged_write(path: Path, write: Callable[[str], object]) -> str:
    """Write a temporary file beside ``path`` through ``write(temporary_path)`` and return its name, for the caller
    to rename over ``path``; if ``write`` fails, nothing is left behind.

    The name is ``.<name>.XXXXXXXX.tmp``: a dot-file whose suffix is no data format's, so one left by a killed
    process is never taken for a result (``*.json``). So ``write`` must not pick a format from the suffix: pass
    ``format=`` to savefig, and an open file to ``np.savez`` (given a name, it would append ``.npz``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are shared files
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return tmp


def atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """Create ``path`` through ``write(temporary_path)`` (see ``staged_write``) and a rename, so no reader ever sees
    half a file and an interrupted or failed write leaves nothing behind."""
    tmp = staged_write(path, write)
    try:
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
