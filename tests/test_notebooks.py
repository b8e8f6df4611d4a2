"""Structure of the notebooks: Colab setup from REPO_URL, an inventory heading for every row, no error outputs."""

import csv
import json
import re
from pathlib import Path

import pytest

from fmnist_utils.paths import REPO_URL

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def cells(nb_path: Path) -> list[dict]:
    return json.loads(nb_path.read_text())["cells"]


def inventory_rows() -> list[dict]:
    with open(ROOT / "inventory.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_notebooks_exist_and_are_numbered():
    assert NOTEBOOKS, "no notebooks found"
    assert NOTEBOOKS[0].name == "01_data_exploration.ipynb"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_cell_installs_from_repo_url(nb):
    first_code = next(c for c in cells(nb) if c["cell_type"] == "code")
    source = "".join(first_code["source"])
    assert "google.colab" in source and f'"{REPO_URL}"' in source


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_inventory_row_has_a_heading(nb):
    headings = [line for c in cells(nb) if c["cell_type"] == "markdown"
                for line in "".join(c["source"]).splitlines() if line.startswith("#")]
    number = nb.name[:2]
    expected = [row["id"] for row in inventory_rows() if row["notebook"] == number]
    missing = [i for i in expected if not any(re.search(rf"\b{re.escape(i)}\b", h) for h in headings)]
    assert not missing, f"{nb.name} has no heading naming {missing}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_executed_without_errors(nb):
    code = [c for c in cells(nb) if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert all(c["execution_count"] is not None for c in code), f"{nb.name} has unexecuted cells"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{nb.name} has error outputs"
