"""The series summary: rows built from run values, joined with the inventory, nothing typed."""

import pandas as pd
import pytest

from fmnist_utils.report import summary
from fmnist_utils.report.tables import comparison_table

INVENTORY = pd.DataFrame({
    "id": ["000.A", "000.FIG", "001.B", "001.HOW"],
    "report": ["000_x.txt", "000_x.txt", "001_y.txt", "001_y.txt"],
    "notebook": ["02", "02", "03", "03"],
    "kind": ["numbers+figure", "figure", "table", "method"],
    "what": ["a", "a figure", "b", "a method"],
})


def test_summary_row_takes_mean_and_sample_std_of_run_values():
    row = summary.summary_row("000.A", "acc", "test", 0.9, [0.8, 0.9, 1.0], budget="10 epochs")
    assert row["reproduced_mean"] == 0.9 and row["reproduced_std"] == 0.1 and row["n_runs"] == 3
    single = summary.summary_row("000.A", "acc", "test", None, [0.85])
    assert single["reproduced_std"] is None and single["reported"] is None


def test_summary_row_keeps_four_significant_digits_of_a_tiny_mean():
    row = summary.summary_row("000.GC", "relative error", "", 1.4468e-11, [2.34567e-10])
    assert row["reproduced_mean"] == 2.346e-10
    errors = summary.summary_row("000.GC", "relative error", "", None, [2e-8, 3e-8])
    assert errors["reproduced_mean"] == 2.5e-8 and errors["reproduced_std"] == 7.07e-9  # same decimals as the mean
    accuracies = summary.summary_row("000.A", "acc", "test", 0.9, [0.912345, 0.912345, 0.912345])
    assert accuracies["reproduced_mean"] == 0.9123 and accuracies["reproduced_std"] == 0.0  # no 1.7e-17 noise


def test_summary_row_takes_notes_by_name_only():
    """A verdict was once the seventh argument: an old call must fail, not land in the notes."""
    with pytest.raises(TypeError):
        summary.summary_row("000.A", "acc", "test", 0.9, [0.9], "10 epochs", "yes")


def test_series_summary_joins_rows_and_points_to_figures(tmp_path):
    figures = tmp_path / "figures"
    (figures / "02_nb").mkdir(parents=True)
    (figures / "02_nb" / "000_FIG_curves.png").write_bytes(b"png")
    pd.DataFrame([summary.summary_row("000.A", "acc", "test", 0.9, [0.88, 0.9]),
                  summary.summary_row("001.B", "b1", "val", None, [0.7])]).to_csv(
        figures / "02_nb" / summary.ROWS_FILE, index=False)
    claims = pd.DataFrame({"claim_id": ["000.A.a", "000.A.b", "001.x"],
                           "inventory_id": ["000.A", "000.A", "001.B; 000.FIG"],
                           "verdict": ["holds", "inconclusive", "not tested"]})
    table = summary.series_summary(INVENTORY, figures, claims)
    assert list(table.columns) == summary.COLUMNS
    assert list(table["verdicts"]) == ["000.A.a holds; 000.A.b inconclusive", "001.x not tested", "001.x not tested",
                                       ""]
    assert list(table["inventory_id"]) == ["000.A", "000.FIG", "001.B", "001.HOW"]
    assert table.loc[0, "reproduced_mean"] == 0.89 and table.loc[0, "report"] == "000"
    assert table.loc[1, "notes"] == "figures/02_nb/000_FIG_curves.png"
    assert table.loc[2, "notebook"] == "03" and pd.isna(table.loc[2, "reported"])
    assert table.loc[3, "notes"] == "method (no number)"


def test_series_summary_names_missing_numeric_rows(tmp_path):
    with pytest.raises(ValueError, match=r"no summary row for numeric inventory rows \['000.A', '001.B'\]"):
        summary.series_summary(INVENTORY, tmp_path, pd.DataFrame({"claim_id": [], "inventory_id": [], "verdict": []}))


def test_record_summary_replaces_rows_of_the_same_id(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_FIGURES_DIR", str(tmp_path))
    row = summary.summary_row("001.B", "acc", "test", 0.9, [0.9])
    with pytest.raises(ValueError, match="repeat"):
        summary.record_summary([row, row], "02_nb")
    summary.record_summary([row, summary.summary_row("000.A", "x", "val", None, [0.5])], "02_nb")
    path = summary.record_summary([summary.summary_row("001.B", "acc", "test", 0.9, [0.7, 0.8])], "02_nb")
    saved = pd.read_csv(path)
    assert path == tmp_path / "02_nb" / summary.ROWS_FILE
    assert list(saved["inventory_id"]) == ["000.A", "001.B"] and saved.loc[1, "reproduced_mean"] == 0.75


def test_comparison_table_builds_summary_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_FIGURES_DIR", str(tmp_path))
    runs = {"a": [{"status": "ok", "val_accuracy": 0.8}, {"status": "ok", "val_accuracy": 0.9}],
            "b": [{"status": "diverged", "diverged_epoch": 2}]}
    table = comparison_table(runs, {"a": 0.85, "b": "(figure only)"}, metric="val_accuracy", label="model",
                             inventory_id="000.A", budget="5 epochs")
    table = table.sort_values("model", ascending=False)  # the rows keep the settings' order
    saved = pd.read_csv(summary.record_summary(table, "02_nb"), keep_default_na=False)
    assert list(saved["what"]) == ["model: a", "model: b"] and list(saved["split"]) == ["val", "val"]
    assert saved.loc[0, "reported"] == "0.85" and saved.loc[1, "reported"] == ""
    assert list(saved["n_runs"]) == [2, 0] and saved.loc[1, "notes"] == "1 diverged"
    assert "conclusion_holds" not in saved and saved.loc[0, "budget"] == "5 epochs"
    with pytest.raises(ValueError, match="no summary rows"):
        summary.record_summary(comparison_table(runs, {}, metric="val_accuracy"), "02_nb")


@pytest.mark.parametrize("figure, number", [(0.8487, 0.8487), ("0.7507 (val)", 0.7507), ("1.4e-11", 1.4e-11),
                                            ("(figure only)", None), (None, None), (3, 3.0)])
def test_leading_number(figure, number):
    assert summary.leading_number(figure) == number


def test_comparison_table_ids_per_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_FIGURES_DIR", str(tmp_path))
    runs = {"a": [{"status": "ok", "test_accuracy": 0.8}], "ref": [{"status": "ok", "test_accuracy": 0.9}]}
    table = comparison_table(runs, {"a": "0.81 (test)"}, inventory_id={"a": "001.B"})
    saved = pd.read_csv(summary.record_summary(table, "03_nb"))
    assert list(saved["inventory_id"]) == ["001.B"] and saved.loc[0, "reported"] == 0.81


def test_readme_headline_is_rewritten_between_markers_only(tmp_path):
    rows = [summary.summary_row(i, w, "test", 0.9 + k / 100, [0.91, 0.93])
            for k, (i, w, _) in enumerate(summary.HEADLINE_ROWS)]
    table = pd.DataFrame(rows)
    best = pd.DataFrame({"model": ["NumPy MLP", "CNN"], "test acc": [0.9073, 0.9412], "training minutes": [50.2, 41]})
    claims = pd.DataFrame({"claim_id": ["000.A", "000.B", "001.C"], "inventory_id": ["000.T1", "000.T1", "001.L2"],
                           "claim": ["deeper is better", "tanh is worst", "L2 helps"],
                           "test": ["Welch's t-test over seeds"] * 3, "p_value": [0.001, 0.5, 0.0123],
                           "verdict": ["holds", "inconclusive", "contradicted"]})
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{summary.README_START}\nold\n{summary.README_END}\nrest\n")
    summary.write_readme_headline(table, best, claims, readme)
    text = readme.read_text()
    assert text.startswith("intro\n<!-- headline:start -->\nChosen on validation")
    assert "after earlier test scores had been seen" in text  # the selection protocols, disclosed
    assert text.endswith("<!-- headline:end -->\nrest\n")
    assert "0.9200 ± 0.0141" in text and "| 004: final CNN (5 fold models)" in text
    assert ("our best NumPy MLP reaches **0.9073** test accuracy after 50.2 minutes of training on the 2-core CPU "
            "(the reports' best MLP: 0.9100, report 004)") in text
    assert "our best CNN reaches **0.9412** test accuracy after 41 minutes" in text and "0.9400, report 004" in text
    assert "1 holds, 1 contradicted, 1 inconclusive, 0 not tested" in text
    assert "- 001.C (001.L2): L2 helps (Welch's t-test over seeds, p = 0.012)" in text and "tanh is worst" not in text
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="lacks the markers"):
        summary.write_readme_headline(table, best, claims, readme)


def test_readme_headline_is_left_alone_when_exports_go_elsewhere(tmp_path, monkeypatch):
    """Under make test the notebooks export into a temporary folder and must not rewrite the committed README."""
    monkeypatch.setenv("FMNIST_FIGURES_DIR", str(tmp_path))
    monkeypatch.setattr(summary, "atomic_write", lambda *a: pytest.fail(f"wrote {a[0]}"))
    rows = [summary.summary_row(i, w, "test", 0.9, [0.91, 0.93]) for i, w, _ in summary.HEADLINE_ROWS]
    summary.write_readme_headline(pd.DataFrame(rows), pd.DataFrame({"model": ["NumPy MLP", "CNN"],
                                                                     "test acc": [0.5, 0.5]}),
                                  pd.DataFrame({"claim_id": [], "verdict": []}))


def test_record_summary_drops_columns_an_older_file_had(tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_FIGURES_DIR", str(tmp_path))
    (tmp_path / "02_nb").mkdir()
    pd.DataFrame([{**summary.summary_row("000.A", "x", "val", None, [0.5]), "conclusion_holds": "yes"}]).to_csv(
        tmp_path / "02_nb" / summary.ROWS_FILE, index=False)
    saved = pd.read_csv(summary.record_summary([summary.summary_row("001.B", "acc", "test", 0.9, [0.9])], "02_nb"))
    assert list(saved.columns) == summary.ROW_COLUMNS and list(saved["inventory_id"]) == ["000.A", "001.B"]


def test_bench_markdown_puts_idle_and_busy_side_by_side():
    table = pd.DataFrame({"framework": ["ours", "PyTorch, 1 thread"] * 2,
                          "load": ["idle", "idle", "one core busy", "one core busy"],
                          "s_per_epoch": [0.4, 0.8, 0.5, 1.0], "test_accuracy_mean": [0.87, 0.86, 0.87, 0.86],
                          "test_accuracy_std": [0.01, 0.02, 0.01, 0.02], "x PyTorch's best": [0.5, 1.0, 0.5, 1.0]})
    lines = summary.bench_markdown(table).splitlines()
    assert "s/epoch idle" in lines[0] and "× PyTorch's best, busy" in lines[0]
    assert [cell.strip() for cell in lines[2].strip("|").split("|")] == ["ours", "0.4", "0.5", "0.5", "0.5",
                                                                         "0.8700 ± 0.0100"]
