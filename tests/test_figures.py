"""Figures: the plot style, shared plots, PNG and PDF exports that rerun byte for byte."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

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


def test_set_style_draws_at_print_size_with_text_of_at_least_8_pt():
    figures.set_style()
    assert tuple(matplotlib.rcParams["figure.figsize"]) == figures.SINGLE
    assert figures.WIDE[0] <= figures.MAX_WIDTH and figures.WIDE_TALL[0] <= figures.MAX_WIDTH
    for key in ("font.size", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize"):
        assert matplotlib.font_manager.FontProperties(size=matplotlib.rcParams[key]).get_size_in_points() >= 8


def test_colours_are_fixed_per_family_and_per_class():
    assert set(figures.FAMILY_COLOURS) == {"NumPy MLP", "Keras MLP", "CNN", "reports"}
    assert len(set(figures.FAMILY_COLOURS.values())) == 4
    assert len(figures.CLASS_COLOURS) == 10 and len(set(figures.CLASS_COLOURS.values())) == 10


def test_learning_curves_have_integer_epoch_ticks_and_one_legend_entry_per_model_and_split():
    runs = {name: [{"train_accuracy": [0.5, 0.6, 0.7], "val_accuracy": [0.4, 0.5, 0.6]}] for name in ("a", "b")}
    ax = figures.plot_learning_curves(runs, colours={"a": "#000000"})
    ax.figure.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "train", "validation"]
    assert ax.get_lines()[0].get_color() == "#000000"
    plt.close(ax.figure)


def test_save_figure_wraps_a_title_longer_than_its_axes(figures_in_tmp):
    figures.set_style()
    fig, ax = plt.subplots()
    ax.set_title("a title far too long for one column of print, which would otherwise widen the figure " * 2)
    png = figures.save_figure(fig, "nb", "long_title", pdf=False)
    assert "\n" in ax.get_title()
    with Image.open(png) as image:
        assert image.width / image.info["dpi"][0] <= figures.SINGLE[0] + 0.05
    plt.close(fig)


def test_image_grid_is_at_most_the_full_width(figures_in_tmp):
    figures.set_style()
    fig = figures.plot_image_grid(np.zeros((12, 28, 28), dtype=np.uint8), ["Ankle boot"] * 12, ncols=6, size=2.0,
                                  title="grid")
    assert fig.get_figwidth() <= figures.MAX_WIDTH and fig.get_suptitle() == "grid"
    plt.close(fig)


def test_confusion_matrices_show_row_shares_in_percent():
    figures.set_style()
    y = np.array([0, 0, 1, 1])
    fig = figures.plot_confusion_matrices(y, {"m": np.array([0, 1, 1, 1])}, ["a", "b"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["", "100", "50", "50"] and "(0.7500)" in fig.axes[0].get_title()
    plt.close(fig)


def test_accuracy_vs_minutes_numbers_every_point_and_keys_marker_size():
    figures.set_style()
    costs = pd.DataFrame({"model": ["r1", "r2", "ours"], "MFLOPs per image": [1.0, 1.0, 40.0],
                          "training minutes": [2.0, 2.1, 50.0], "test acc": [0.88, 0.881, 0.94]})
    fig = figures.plot_accuracy_vs_minutes(costs, ours=[False, False, True], target=0.94)
    ax, key = fig.axes
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "3"]
    boxes = [t.get_window_extent() for t in ax.texts]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    labels = [t.get_text() for t in key.get_legend().get_texts()]
    assert "ours" in labels and "40 MFLOPs per image" in labels
    plt.close(fig)


def test_dot_plot_puts_each_row_on_its_own_line():
    figures.set_style()
    table = pd.DataFrame({"opt": ["a", "a", "b", "b"], "batch": [1, 2, 1, 2], "acc": [0.8, 0.81, 0.82, 0.83]})
    ax = figures.plot_dots(table, value="acc", row="opt", hue="batch")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"] and len(ax.get_lines()) == 2
    plt.close(ax.figure)


def test_heatmap_annotates_every_cell():
    figures.set_style()
    ax = figures.plot_heatmap(pd.DataFrame([[0.8, 0.9]], index=["x"], columns=[1, 2]))
    assert [t.get_text() for t in ax.texts] == ["0.8000", "0.9000"]
    plt.close(ax.figure)


def test_the_same_legend_on_two_panels_is_drawn_once_under_the_figure(figures_in_tmp):
    figures.set_style()
    fig, axes = plt.subplots(1, 2, figsize=figures.WIDE)
    runs = {"model": [{"train_accuracy": [0.5, 0.6], "val_accuracy": [0.4, 0.5]}]}
    for ax in axes:
        figures.plot_learning_curves(runs, ax=ax)
    figures.save_figure(fig, "nb", "two_panels", pdf=False)
    assert all(ax.get_legend() is None for ax in axes) and len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["train", "validation"]
    plt.close(fig)
