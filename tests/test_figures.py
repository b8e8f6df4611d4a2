"""Figures: the plot style, shared plots, PNG and PDF exports that rerun byte for byte."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from fmnist_utils.report import figures  # noqa: E402

pytestmark = pytest.mark.usefixtures("figures_in_tmp")  # exports go to a temporary folder


def _figure():
    figures.set_style()
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [0.5, 0.7, 0.8])
    ax.set_xlabel("epoch")
    return fig


def test_save_figure_writes_png_and_pdf_reproducibly(figures_in_tmp):
    fig = _figure()
    png = figures.save_figure(fig, "nb", "curve")
    first = {p.name: p.read_bytes() for p in (figures_in_tmp / "nb").iterdir()}
    figures.save_figure(fig, "nb", "curve")
    second = {p.name: p.read_bytes() for p in (figures_in_tmp / "nb").iterdir()}
    assert png == figures_in_tmp / "nb" / "curve.png"
    assert set(first) == {"curve.png", "curve.pdf"}
    assert first == second
    assert b"CreationDate" not in first["curve.pdf"] and b"Matplotlib" not in first["curve.png"]
    plt.close(fig)


def test_learning_curves_label_axes():
    ax = figures.plot_learning_curves({"m": [{"train_accuracy": [0.5, 0.6], "val_accuracy": [0.4, 0.5]}] * 2})
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "accuracy"
    assert len(ax.get_lines()) == 2
    plt.close(ax.figure)
