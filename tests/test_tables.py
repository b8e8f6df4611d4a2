"""Tables: the report's number beside ours, and exports in three formats with the decimals they need."""

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from fmnist_utils.report import tables  # noqa: E402

pytestmark = pytest.mark.usefixtures("figures_in_tmp")  # exports go to a temporary folder


def test_save_table_writes_csv_md_tex(figures_in_tmp):
    df = pd.DataFrame({"model": ["a", "b"], "accuracy": [0.91234, 0.8]})
    csv = tables.save_table(df, "nb", "results")
    assert csv.read_text().splitlines() == ["model,accuracy", "a,0.9123", "b,0.8000"]
    assert "| a " in (figures_in_tmp / "nb" / "results.md").read_text()
    assert "\\begin{tabular}" in (figures_in_tmp / "nb" / "results.tex").read_text()


def test_save_table_writes_counts_and_minutes_with_the_decimals_they_need(figures_in_tmp):
    df = pd.DataFrame({"seed": [0, 1], "val acc": [0.90792, 0.905], "epochs": [10.0, 60.0], "minutes": [6.7, 7.3]})
    csv = tables.save_table(df, "nb", "runs")
    assert csv.read_text().splitlines()[1:] == ["0,0.9079,10,6.7", "1,0.9050,60,7.3"]
    md = (figures_in_tmp / "nb" / "runs.md").read_text().splitlines()
    assert md[2] == "|      0 |    0.9079 |       10 |       6.7 |"  # numbers right-aligned, no 0.0000 seeds
    assert "0 & 0.9079 & 10 & 6.7" in (figures_in_tmp / "nb" / "runs.tex").read_text()
    tables.save_table(df, "nb", "sci", float_format="%.2e")
    assert "9.08e-01" in (figures_in_tmp / "nb" / "sci.csv").read_text()


def test_save_table_does_not_round_a_small_nonzero_value_to_zero(figures_in_tmp):
    df = pd.DataFrame({"check": list("abcd"), "relative error": [1.4468e-11, 0.0, 0.2512, float("nan")]})
    csv = tables.save_table(df, "nb", "errors")
    assert csv.read_text().splitlines()[1:] == ["a,1.45e-11", "b,0.0000", "c,0.2512", "d,"]


def test_save_table_keeps_every_decimal_of_a_value_on_a_rounding_boundary(figures_in_tmp):
    df = pd.DataFrame({"spread": [0.00075, 0.01]})  # 9 / 12000, halfway between 0.0007 and 0.0008
    csv = tables.save_table(df, "nb", "boundary")
    assert csv.read_text().splitlines()[1:] == [f"{0.00075:.4f}", "0.0100"]


def test_mean_std():
    assert tables.mean_std([0.8, 0.9]) == "0.8500 ± 0.0707"
    assert tables.mean_std([0.8]) == "0.8000"


def test_formatted_renders_columns_without_changing_the_original():
    df = pd.DataFrame({"error": [1.234e-10, 5e-9], "n": [1, 2]})
    out = tables.formatted(df, {"error": "{:.0e}"})
    assert out["error"].tolist() == ["1e-10", "5e-09"] and out["n"].tolist() == [1, 2]
    assert df["error"].dtype == float


def test_comparison_table_counts_diverged_runs_apart():
    ok = [{"status": "ok", "test_accuracy": a} for a in (0.8, 0.9)]
    bad = [{"status": "diverged", "diverged_epoch": 2}]
    table = tables.comparison_table({"a": ok + bad, "b": bad}, {"a": 0.85, "b": 0.1})
    assert table["ours: test accuracy"].tolist() == ["0.8500 ± 0.0707", "diverged (epoch 2)"]
    assert table["runs (seeds)"].tolist() == ["2 + 1 diverged", "0"]
    assert table["report"].tolist() == [0.85, 0.1]


def test_formatted_accepts_a_function():
    df = pd.DataFrame({"error": [1e-10, 0.25]})
    out = tables.formatted(df, {"error": lambda e: "tiny" if e < 1e-8 else f"{e:.2f}"})
    assert out["error"].tolist() == ["tiny", "0.25"]


def test_splits_table_puts_the_report_beside_ours():
    runs = [{f"{s}_{m}": v for s in ("train", "val", "test") for m, v in (("accuracy", a), ("loss", 1 - a))}
            for a in (0.8, 0.9)]
    table = tables.splits_table(runs, {("test", "accuracy"): 0.86}, "report 004")
    assert table.columns.tolist() == ["split", "metric", "report 004", "ours"]
    assert table[["split", "metric"]].values.tolist() == [
        ["train", "accuracy"], ["train", "loss"], ["val", "accuracy"], ["val", "loss"], ["test", "accuracy"],
        ["test", "loss"]]
    assert table["report 004"].tolist() == ["", "", "", "", 0.86, ""]
    assert table["ours"].tolist()[4:] == ["0.8500 ± 0.0707", "0.1500 ± 0.0707"]


# Two made-up Keras runs of a softmax layer (2 · 784 · 10 FLOPs) and one of a [100] MLP (2 · (78,400 + 1,000)).
SOFTMAX = {"kind": "mlp", "hidden": []}
COST_RUNS = {"softmax": [{"config": {"model": SOFTMAX}, "n_parameters": 7850, "epochs": 4, "seconds": 60.0,
                          "test_accuracy": 0.84, "history": {"seconds": [1.0, 2.0, 3.0, 40.0]}},
                         {"config": {"model": SOFTMAX}, "n_parameters": 7850, "epochs": 3, "seconds": 120.0,
                          "test_accuracy": 0.85, "history": {"seconds": [2.5, 2.5, 2.5]}}],
             "[100]": [{"config": {"model": {"kind": "mlp", "hidden": [100]}}, "n_parameters": 79510, "epochs": 2,
                        "seconds": 30.0, "test_accuracy": 0.88, "history": {"seconds": [0.04, 0.06]}}]}


def test_cost_columns_and_rows_of_made_up_runs():
    assert tables.cost_columns(COST_RUNS) == {"parameters": [7850, 79510], "MFLOPs per image": [0.02, 0.16],
                                              "s per epoch": [2.5, 0.1]}
    assert tables.cost_row("softmax", COST_RUNS["softmax"]) == {
        "model": "softmax", "parameters": 7850, "MFLOPs per image": 0.02, "s per epoch": 2.5, "epochs": 3.5,
        "training minutes": 1.5, "test acc": 0.845}
    assert tables.cost_row("[100] + TTA", COST_RUNS["[100]"], test_accuracy=0.88123)["test acc"] == 0.8812


def test_mflops_per_image_and_seconds_per_epoch():
    assert tables.mflops_per_image(COST_RUNS["[100]"][0]) == 0.16  # 158,800 FLOPs
    assert tables.seconds_per_epoch(COST_RUNS["softmax"]) == 2.5  # median of 7 epochs, the 40 s outlier ignored
    assert tables.seconds_per_epoch(COST_RUNS["[100]"]) == 0.1  # 0.05 s, to 0.1 s


def test_save_table_splits_mean_and_std_into_numeric_csv_columns(figures_in_tmp):
    df = pd.DataFrame({"model": ["a", "b", "c"], "ours": [tables.mean_std([0.8, 0.9]), tables.mean_std([0.8]), ""]})
    csv = tables.save_table(df, "nb", "ms")
    saved = pd.read_csv(csv)
    assert saved.columns.tolist() == ["model", "ours mean", "ours std"]
    assert saved["ours mean"].tolist()[:2] == [0.85, 0.8] and saved["ours std"].isna().tolist() == [False, True, True]
    assert "0.8500 ± 0.0707" in (figures_in_tmp / "nb" / "ms.md").read_text()
    assert "0.8500 $\\pm$ 0.0707" in (figures_in_tmp / "nb" / "ms.tex").read_text()


def test_save_table_keeps_a_column_of_other_text_whole(figures_in_tmp):
    df = pd.DataFrame({"ours": ["0.8500 ± 0.0707", "diverged (epoch 2)"]})
    assert tables.save_table(df, "nb", "mixed").read_text().splitlines()[0] == "ours"


def test_save_table_writes_latex_pdflatex_takes_with_caption_and_label(figures_in_tmp):
    df = pd.DataFrame({"[blocks, filters]": ["[3, 128]", "a_b 50% & #1 $"], "λ ≤ 2": ["× → ±", "Nøkland é"]})
    tables.save_table(df, "nb", "odd_name")
    tex = (figures_in_tmp / "nb" / "odd_name.tex").read_text()
    assert "\\toprule\n{[}blocks, filters] & $\\lambda$ $\\leq$ 2 \\\\\n\\midrule\n{[}3, 128] &" in tex
    assert "a\\_b 50\\% \\& \\#1 \\$ & N\\o{}kland \\'{e}" in tex and "$\\times$ $\\rightarrow$ $\\pm$" in tex
    assert "\\caption{odd name}" in tex and "\\label{tab:nb:odd_name}" in tex and "\\bottomrule" in tex
    assert tex.isascii()
    tables.save_table(df, "nb", "captioned", caption="Odd: 50% of λ")
    assert "\\caption{Odd: 50\\% of $\\lambda$}" in (figures_in_tmp / "nb" / "captioned.tex").read_text()


def test_save_table_flattens_a_multiindex_header(figures_in_tmp):
    df = pd.DataFrame([[0.9, 0.8]], columns=pd.MultiIndex.from_tuples([("CNN", "recall"), ("MLP", "recall")]))
    csv = tables.save_table(df, "nb", "flat")
    assert csv.read_text().splitlines() == ["CNN / recall,MLP / recall", "0.9,0.8"]  # trimmed decimals


def test_latex_text_refuses_a_character_it_cannot_write():
    with pytest.raises(ValueError, match="U\\+263A"):
        tables.latex_text("☺")


def test_save_table_is_byte_reproducible(figures_in_tmp):
    df = pd.DataFrame({"model": ["a"], "ours": [tables.mean_std([0.8, 0.9])]})
    tables.save_table(df, "nb", "again")
    first = {p.name: p.read_bytes() for p in (figures_in_tmp / "nb").iterdir()}
    tables.save_table(df, "nb", "again")
    assert first == {p.name: p.read_bytes() for p in (figures_in_tmp / "nb").iterdir()}


def test_convergence_columns_say_how_each_run_ended():
    runs = {"a": [{"epochs": 18, "best_epoch": 8, "seconds": 600.0},
                  {"epochs": 21, "best_epoch": 11, "seconds": 660.0}],
            "b": [{"epochs": 3, "seconds": 30.0}]}
    assert tables.convergence_columns(runs) == {"epochs (best)": ["18 (8), 21 (11)", "3 (?)"],
                                                "minutes per run": [10.5, 0.5]}


def test_fluctuation_column_measures_each_names_curves():
    runs = {"zigzag": [{"history": {"val_accuracy": [0.8, 0.9, 0.8]}}, {"history": {"val_accuracy": [0.8, 0.9, 0.7]}}],
            "monotone": [{"history": {"val_accuracy": [0.5, 0.7, 0.8]}}]}
    assert tables.fluctuation_column(runs) == ["0.1000 ± 0.0000", "0.0000"]


def test_test_loss_columns_put_the_reports_loss_beside_ours_and_skip_diverged_runs():
    runs = {"a": [{"status": "ok", "test_loss": 0.5}, {"status": "ok", "test_loss": 0.7}],
            "b": [{"status": "ok", "test_loss": 1.25}, {"status": "diverged"}]}
    got = tables.test_loss_columns(runs, {"a": 1.54, "b": None}, "report 003 test loss")
    assert got == {"report 003 test loss": [1.54, ""], "ours: test loss": [tables.mean_std([0.5, 0.7], 3), "1.250"]}
