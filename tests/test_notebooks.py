"""Structure of the notebooks: Colab setup from REPO_URL, an inventory heading for every row, no error outputs."""

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from fmnist_utils.paths import REPO_REF, REPO_URL, colab_badge, colab_setup_source

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))  # 03_..., 03b_...


def cells(nb_path: Path) -> list[dict]:
    return json.loads(nb_path.read_text())["cells"]


def inventory_rows() -> list[dict]:
    with open(ROOT / "inventory.csv", newline="") as f:
        return list(csv.DictReader(f))


# Inventory rows whose notebook exists but which are not regenerated yet, with the issue that will do it.
# The heading test fails when such a row gets a heading, so this list shrinks as the work lands.
PENDING_ROWS: dict[str, str] = {}


def headings(nb_path: Path) -> list[str]:
    return [line for c in cells(nb_path) if c["cell_type"] == "markdown"
            for line in "".join(c["source"]).splitlines() if line.startswith("#")]


def test_notebooks_exist_and_are_numbered():
    assert NOTEBOOKS, "no notebooks found"
    assert NOTEBOOKS[0].name == "01_data_exploration.ipynb"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_badge_and_setup_cell_come_from_repo_url(nb):
    """The badge (first cell) and the setup cell (first code cell) are written from ``fmnist_utils.paths``, where
    the address and its tag live once: ``python scripts/colab_cells.py`` rewrites them."""
    first, first_code = cells(nb)[0], next(c for c in cells(nb) if c["cell_type"] == "code")
    assert "".join(first["source"]) == colab_badge(nb.stem), "run scripts/colab_cells.py"
    assert "".join(first_code["source"]) == colab_setup_source(), "run scripts/colab_cells.py"
    assert f"-b {REPO_REF} {REPO_URL} " in colab_setup_source()


def test_no_notebook_or_script_mentions_scikeras():
    """scikeras was never imported; the Colab setup no longer installs it."""
    sources = [*NOTEBOOKS, *(ROOT / "scripts").glob("*"), ROOT / "pyproject.toml", ROOT / "constraints.txt"]
    assert not [p.name for p in sources if p.is_file() and "scikeras" in p.read_text().lower()]


@pytest.mark.parametrize("number", sorted({nb.name[:2] for nb in NOTEBOOKS}))
def test_every_inventory_row_has_a_heading(number):
    """Each inventory row is named in a heading of a notebook with its number (03 may be split in 03 and 03b)."""
    notebooks = [nb for nb in NOTEBOOKS if nb.name.startswith(number)]
    lines = [h for nb in notebooks for h in headings(nb)]
    rows = [row["id"] for row in inventory_rows() if row["notebook"] == number]
    named = {i for i in rows if any(re.search(rf"\b{re.escape(i)}\b", h) for h in lines)}
    missing = [i for i in rows if i not in named and i not in PENDING_ROWS]
    assert not missing, f"notebooks {[nb.name for nb in notebooks]} have no heading naming {missing}"
    done = sorted(named & set(PENDING_ROWS))
    assert not done, f"{done} now have headings: remove them from PENDING_ROWS"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_executed_without_errors(nb):
    code = [c for c in cells(nb) if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert all(c["execution_count"] is not None for c in code), f"{nb.name} has unexecuted cells"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{nb.name} has error outputs"


def test_readme_colab_links_use_repo_url_and_existing_notebooks():
    readme = (ROOT / "README.md").read_text()
    slug = REPO_URL.removeprefix("https://github.com/")
    links = re.findall(r"https://colab\.research\.google\.com/github/([^)]+)/blob/([^/]+)/notebooks/([\w.]+)", readme)
    assert links, "README has no Colab links"
    assert {repo for repo, _, _ in links} == {slug}
    assert {ref for _, ref, _ in links} <= {REPO_REF, "main"}
    assert {name for _, _, name in links} == {nb.name for nb in NOTEBOOKS}


def test_every_numeric_inventory_row_has_a_summary_row():
    from fmnist_utils.report.summary import is_numeric, series_summary

    summary = series_summary()  # raises, naming them, when numeric rows lack a summary row
    numeric = {r["id"] for r in inventory_rows() if is_numeric(r["kind"])}
    assert numeric <= set(summary["inventory_id"])
    rows = summary[summary["inventory_id"].isin(numeric)]
    without_number = rows[rows["reproduced_mean"].isna()]  # allowed only where every run diverged, and said so
    assert without_number["notes"].str.contains("diverged").all(), without_number[["inventory_id", "what"]]


def test_readme_headline_is_generated_from_the_series_summary_and_the_claims():
    import pandas as pd

    from fmnist_utils.report.claims import evaluate_claims
    from fmnist_utils.report.summary import README_END, README_START, readme_headline, series_summary

    best_models = pd.read_csv(ROOT / "figures" / "05_confusion_analysis" / "best_models.csv")
    readme = (ROOT / "README.md").read_text()
    between = readme.split(README_START, 1)[1].split(README_END, 1)[0]
    claims = evaluate_claims()
    assert between.strip() == readme_headline(series_summary(claims=claims), best_models, claims).strip(), (
        "README's headline table is stale: run notebook 05 (make report NB=05_confusion_analysis)")


def test_readme_speed_table_is_the_stored_benchmark():
    from fmnist_utils.report.summary import BENCH_END, BENCH_START, bench_markdown

    readme = (ROOT / "README.md").read_text()
    between = readme.split(BENCH_START, 1)[1].split(BENCH_END, 1)[0]
    table = pd.read_csv(ROOT / "results" / "benchmarks" / "mlp_speed.csv")
    assert between.strip() == bench_markdown(table).strip(), (
        "README's speed table is not results/benchmarks/mlp_speed.csv: run make bench")


MAX_CELL_LINES = 30  # non-blank lines of a code cell: longer machinery belongs in fmnist_utils
MAX_NOTEBOOK_HELPERS = 6  # function definitions in all notebooks together


def code_cells(nb_path: Path) -> list[str]:
    return ["".join(c["source"]) for c in cells(nb_path) if c["cell_type"] == "code"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_code_cell_is_over_30_lines(nb):
    long = [(i, n) for i, source in enumerate(code_cells(nb))
            if (n := sum(1 for line in source.splitlines() if line.strip())) > MAX_CELL_LINES]
    assert not long, f"{nb.name}: code cells (index among code cells, lines) over {MAX_CELL_LINES} lines: {long}"


def test_notebooks_define_few_helpers_and_never_the_same_twice():
    helpers = {nb.name: re.findall(r"^\s*def (\w+)", "\n".join(code_cells(nb)), flags=re.M) for nb in NOTEBOOKS}
    names = [name for found in helpers.values() for name in found]
    assert len(names) <= MAX_NOTEBOOK_HELPERS, f"{len(names)} helper functions in notebooks: {helpers}"
    twice = sorted({n for n in names if sum(n in found for found in helpers.values()) > 1})
    assert not twice, f"helpers defined in more than one notebook: {twice} (move them into fmnist_utils)"
