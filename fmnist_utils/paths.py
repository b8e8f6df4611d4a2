"""Where things live. Paths come from the package, not the working directory,
so notebooks run alike from ``notebooks/`` and from the repository root."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: The project's repository, the one place its address is kept: each notebook's setup cell clones it in Colab at
#: ``REPO_REF`` and its badge opens it there (``scripts/colab_cells.py`` writes both from here; a test checks them).
REPO_URL = "https://github.com/fmnist-report/fmnist-report"
#: The tag Colab clones and opens, so a notebook there runs the code and stored runs it was published with.
REPO_REF = "v0.1.0"
#: Where the setup cell clones the repository in Colab.
COLAB_CLONE = "/content/fmnist-report"
#: The oldest versions the code runs with; the setup cell checks them (``check_versions``).
MINIMUM_VERSIONS = {"scikit-learn": "1.6", "keras": "3.9"}

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


def colab_setup_source() -> str:
    """The first code cell of every notebook: in Colab only, clone the repository at ``REPO_REF`` (one line),
    install what Colab lacks (``scripts/colab_setup.py``) and work from the clone; everywhere, check versions."""
    return (
        "# Colab only: clone the series at its pinned tag, install what Colab lacks, work from the clone. Elsewhere\n"
        "# only the version check runs. scripts/colab_cells.py writes this cell from fmnist_utils.paths.\n"
        "import sys\n\n"
        "if \"google.colab\" in sys.modules:\n"
        f"    !git clone -q --depth 1 -b {REPO_REF} {REPO_URL} {COLAB_CLONE}\n"
        f"    !python {COLAB_CLONE}/scripts/colab_setup.py\n"
        f"    %cd {COLAB_CLONE}\n\n"
        "from fmnist_utils.paths import check_versions\n\n"
        "check_versions()  # " + ", ".join(f"{p} >= {v}" for p, v in MINIMUM_VERSIONS.items())
        + ": else an error naming the package and the remedy"
    )


def colab_badge(notebook: str) -> str:
    """The first (markdown) cell of ``notebooks/<notebook>.ipynb``: an "Open in Colab" badge at ``REPO_REF``."""
    slug = REPO_URL.removeprefix("https://github.com/")
    link = f"https://colab.research.google.com/github/{slug}/blob/{REPO_REF}/notebooks/{notebook}.ipynb"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})"


def _version_tuple(text: str) -> tuple[int, ...]:
    """``"3.15.1"`` -> ``(3, 15, 1)``; a part's letters (``"0rc1"`` -> 01) are dropped."""
    return tuple(int("".join(c for c in part if c.isdigit()) or 0) for part in text.split(".")[:3])


def check_versions(minimum: dict[str, str] | None = None) -> None:
    """Raise ImportError, naming the package and the remedy, if an installed package is older than its minimum
    (``MINIMUM_VERSIONS``) or missing."""
    for package, least in (minimum or MINIMUM_VERSIONS).items():
        try:
            found = version(package)
        except PackageNotFoundError:
            found = None
        if found is None or _version_tuple(found) < _version_tuple(least):
            raise ImportError(
                f"{package} >= {least} is needed, found {found or 'none'}: run "
                f"`pip install -U \"{package}>={least}\"` (in Colab: then Runtime > Restart session and run again), "
                "or `make report` for the exact versions of constraints.txt")
