"""Write every notebook's Colab cells from ``fmnist_utils.paths`` (``REPO_URL``, ``REPO_REF``), the one place the
repository's address is kept: the "Open in Colab" badge (the first cell, markdown) and the setup cell (the first
code cell). Run it after changing the address or the tag: ``python scripts/colab_cells.py``.

The setup cell's outputs are kept (outside Colab it runs only the version check, which prints nothing).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from fmnist_utils.paths import colab_badge, colab_setup_source  # noqa: E402


def write_colab_cells(path: Path) -> bool:
    """Put the badge and the setup cell into the notebook at ``path``; True if it changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    badge = colab_badge(path.stem)
    if nb.cells and nb.cells[0].cell_type == "markdown" and "colab-badge.svg" in nb.cells[0].source:
        nb.cells[0].source = badge
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(badge, id="colab-badge"))
    setup = next(c for c in nb.cells if c.cell_type == "code")
    setup.source = colab_setup_source()
    after = nbformat.writes(nb)
    if after != before:
        nbformat.write(nb, path)
    return after != before


def main() -> None:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        print(f"{path.name}: {'updated' if write_colab_cells(path) else 'unchanged'}")


if __name__ == "__main__":
    main()
