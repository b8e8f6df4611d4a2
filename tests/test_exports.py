"""The export comparison catches changed figures and tables, and tolerates what only round-off moves."""

import shutil

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fmnist_utils.paths import REPO_ROOT
from fmnist_utils.report.exports import PNG_TOLERANCE, compare_exports
from fmnist_utils.report.figures import save_figure
from fmnist_utils.report.tables import save_table

COMMITTED = REPO_ROOT / "figures"


def export(y_shift: float = 0.0) -> None:
    """One figure (PNG and PDF) and one table into FMNIST_FIGURES_DIR, as a notebook exports them."""
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 3], np.array([0.80, 0.85, 0.87]) + y_shift, label="val")
    ax.set_xlabel("epoch")
    ax.legend()
    save_figure(fig, "nb", "curve")
    plt.close(fig)
    save_table(pd.DataFrame({"model": ["a"], "acc": [0.8712]}), "nb", "table")


@pytest.fixture
def exported_twice(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_FIGURES_DIR", str(tmp_path / "a"))
    export()
    monkeypatch.setenv("FMNIST_FIGURES_DIR", str(tmp_path / "b"))
    export()
    return tmp_path / "a", tmp_path / "b"


def test_identical_exports_agree(exported_twice):
    assert compare_exports(*exported_twice) == []


def test_a_changed_table_is_caught(exported_twice):
    fresh, committed = exported_twice
    table = committed / "nb" / "table.csv"
    table.write_text(table.read_text().replace("0.8712", "0.8713"))
    assert compare_exports(fresh, committed) == [f"{table}: text differs"]


def test_a_redrawn_curve_is_caught_in_png_and_pdf(exported_twice, monkeypatch):
    fresh, committed = exported_twice
    monkeypatch.setenv("FMNIST_FIGURES_DIR", str(committed))
    export(y_shift=0.01)
    problems = compare_exports(fresh, committed)
    assert [p.split(": ")[0] for p in problems] == [str(committed / "nb" / f"curve.{s}") for s in ("pdf", "png")]
    assert "pixels differ" in problems[1] and "a number differs" in problems[0]


def test_a_few_pixels_are_tolerated_more_are_not(exported_twice):
    fresh, committed = exported_twice
    png = committed / "nb" / "curve.png"
    pixels = np.asarray(Image.open(png).convert("RGBA")).copy()
    allowed = int(PNG_TOLERANCE * pixels.shape[0] * pixels.shape[1])
    flat = pixels.reshape(-1, 4)
    flat[:allowed, 0] ^= 0xFF  # an anti-aliased line end moved
    Image.fromarray(pixels).save(png)
    assert compare_exports(fresh, committed) == []
    flat[: allowed + 1, 0] ^= 0x0F
    Image.fromarray(pixels).save(png)
    assert compare_exports(fresh, committed) == [f"{png}: {(allowed + 1) / len(flat):.3%} of pixels differ "
                                                 f"(tolerance {PNG_TOLERANCE:.2%})"]


def test_missing_and_extra_files_are_caught(exported_twice):
    fresh, committed = exported_twice
    (committed / "nb" / "table.md").unlink()
    (committed / "nb" / "stale.png").write_bytes(b"")
    (fresh / "nb" / ".curve.png.tmp").write_bytes(b"")  # a leftover temporary file is no export
    assert compare_exports(fresh, committed) == [f"{committed / 'nb' / 'table.md'}: exported but not committed",
                                                 f"{committed / 'nb' / 'stale.png'}: committed but no longer exported"]


@pytest.mark.parametrize("kind", ["png", "csv"])
def test_a_hand_edit_of_a_committed_export_is_caught(tmp_path, kind):
    """The committed figures/ against a copy of itself with one file edited by hand: the test make test runs."""
    committed = tmp_path / "figures"
    shutil.copytree(COMMITTED, committed)
    edited = sorted(committed.glob(f"02_mlp_from_scratch/*.{kind}"))[0]
    if kind == "png":
        pixels = np.asarray(Image.open(edited).convert("RGBA")).copy()
        pixels[10:40, 10:40] = (255, 0, 0, 255)  # a red square drawn over the figure
        Image.fromarray(pixels).save(edited)
    else:
        edited.write_text(edited.read_text().replace("0", "1", 1))
    assert [p.split(": ")[0] for p in compare_exports(COMMITTED, committed)] == [str(edited)]
