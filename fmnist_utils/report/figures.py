"""One plot style for the series, shared plots, and export of figures.

Figures are drawn at print size: ``SINGLE`` for one column (3.4 in), ``WIDE`` and ``WIDE_TALL`` for the full
width (7 in), with text of 8-9 pt at that size; model families and the ten classes keep one colour across the
series (``FAMILY_COLOURS``, ``CLASS_COLOURS``). Exports are byte-reproducible: PNG and PDF carry no date or
software version.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..data import CLASS_NAMES
from ..paths import atomic_write, figures_dir

PNG_METADATA = {"Software": None}


PDF_METADATA = {"CreationDate": None, "Creator": None, "Producer": None}

#: Figure sizes in inches: one column, the full width (at most 7 in), the full width with two or more rows.
SINGLE = (3.4, 2.4)
WIDE = (7.0, 2.8)
WIDE_TALL = (7.0, 5.0)
#: The widest a figure may be drawn (inches), the full width of a page's text.
MAX_WIDTH = 7.0
#: Resolution of the exported PNGs: 1400 pixels across the full width.
DPI = 200
#: One colour per model family, the same in every notebook (seaborn's colour-blind palette; the reports in grey).
FAMILY_COLOURS = {"NumPy MLP": "#0173b2", "Keras MLP": "#de8f05", "CNN": "#029e73", "reports": "#555555"}
#: One colour per Fashion-MNIST class, the same in every notebook (matplotlib's tab10).
CLASS_COLOURS = dict(zip(CLASS_NAMES, (mpl.colors.to_hex(plt.cm.tab10(k)) for k in range(10))))
#: Line style of each split in learning curves.
SPLIT_STYLES = {"train": "-", "val": "--", "test": ":"}
_SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}


def set_style() -> None:
    """The series' plot style at print size: 8 pt text (9 pt titles), light grid, colour-blind-safe palette,
    constrained layout (titles and legends never collide), ``SINGLE`` by default, PNGs at ``DPI``."""
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", palette="colorblind")
    mpl.rcParams.update({
        "figure.figsize": SINGLE,
        "figure.dpi": 100,
        "figure.constrained_layout.use": True,
        "savefig.dpi": DPI,
        "savefig.bbox": "tight",
        "savefig.pad_inches": 0.03,
        "font.size": 8,
        "axes.titlesize": 9,
        "axes.labelsize": 8,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
        "legend.title_fontsize": 8,
        "figure.titlesize": 9,
        "legend.frameon": False,
        "pdf.fonttype": 42,  # embed TrueType so LaTeX users can edit text
        "svg.hashsalt": "fmnist-report",
    })


def save_figure(fig: mpl.figure.Figure, notebook: str, name: str, pdf: bool = True) -> Path:
    """Save ``fig`` as ``figures/<notebook>/<name>.png`` (and ``.pdf``); return the PNG path.

    First the same legend on several panels becomes one under the figure (``merge_repeated_legends``), and titles
    and axis labels longer than their axes are wrapped (``wrap_long_text``), so none widens the figure past its size.
    """
    merge_repeated_legends(fig)
    wrap_long_text(fig)
    folder = figures_dir() / notebook
    png = folder / f"{name}.png"
    atomic_write(png, lambda p: fig.savefig(p, format="png", metadata=PNG_METADATA))
    if pdf:
        atomic_write(folder / f"{name}.pdf", lambda p: fig.savefig(p, format="pdf", metadata=PDF_METADATA))
    return png


def merge_repeated_legends(fig: mpl.figure.Figure) -> None:
    """Where two or more panels carry the same legend, draw it once under the figure, in as many columns as fit
    the figure's width (constrained layout makes room for it)."""
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    labels = [tuple(t.get_text() for t in legend.get_texts()) for legend in legends]
    if len(legends) < 2 or len(set(labels)) > 1 or not labels[0]:
        return
    handles = legends[0].legend_handles
    for legend in legends:
        legend.remove()
    entry_points = 30 + 4.6 * max(len(label) for label in labels[0])  # a handle and the longest label, at 8 pt
    columns = max(1, min(len(handles), int(fig.get_figwidth() * 72 // entry_points)))
    fig.legend(handles, labels[0], loc="outside lower center", ncols=columns)


def wrap_long_text(fig: mpl.figure.Figure) -> None:
    """Break every axes title, axis label and the figure's title that is longer than the room it has (its axes'
    width or height, the figure's width) into lines that fit."""
    fig.canvas.draw()  # lay the figure out, so the axes have their final size
    renderer = fig.canvas.get_renderer()
    texts = [(fig._suptitle, fig.bbox.width)] if fig._suptitle is not None else []
    for ax in fig.axes:
        box = ax.get_window_extent(renderer)
        texts += [(ax.title, box.width), (ax.xaxis.label, box.width), (ax.yaxis.label, box.height)]
    wrapped = False
    for text, room in texts:
        content = text.get_text()
        length = max(text.get_window_extent(renderer).width, text.get_window_extent(renderer).height)
        if content and "\n" not in content and length > room > 0:
            text.set_text(textwrap.fill(content, max(8, int(len(content) * room / length * 0.95))))
            wrapped = True
    if wrapped:
        fig.canvas.draw()


def integer_epochs(ax: plt.Axes) -> None:
    """Whole-number ticks on the x axis (epochs), never 2.5."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_learning_curves(
    histories: dict[str, Sequence[dict]],
    metric: str = "accuracy",
    ax: plt.Axes | None = None,
    splits: Sequence[str] = ("train", "val"),
    colours: dict[str, str] | None = None,
) -> plt.Axes:
    """Per-epoch curves, mean ± std band over seeds, one colour per model and one line style per split.

    histories: label -> list of per-seed histories, each a dict with ``train_<metric>`` etc. lists, or of stored
    runs (records with a ``history``). colours: label -> colour (``FAMILY_COLOURS``), else the palette in order.
    The legend names each model once by its colour and each split once by its line style; epochs are integers.
    """
    ax = ax or plt.subplots()[1]
    drawn, shown_splits = {}, []
    for i, (label, runs) in enumerate(histories.items()):
        runs = [r["history"] if "history" in r else r for r in runs]
        colour = (colours or {}).get(label, f"C{i}")
        for split in splits:
            key = f"{split}_{metric}"
            curves = [r[key] for r in runs if key in r]
            if not curves:
                continue
            n = min(len(c) for c in curves)
            arr = np.array([c[:n] for c in curves], dtype=float)
            epochs = np.arange(1, n + 1)
            mean = arr.mean(axis=0)
            ax.plot(epochs, mean, SPLIT_STYLES[split], color=colour, label=f"{label} ({split})")
            drawn[label] = colour
            shown_splits += [split] if split not in shown_splits else []
            if len(arr) > 1:
                std = arr.std(axis=0, ddof=1)
                ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.15, linewidth=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy" if metric == "accuracy" else "cross-entropy loss")
    integer_epochs(ax)
    handles = [Line2D([], [], color=c, label=name) for name, c in drawn.items()
               if name and (len(drawn) > 1 or len(shown_splits) == 1)]
    if len(shown_splits) > 1:
        handles += [Line2D([], [], color="0.35", ls=SPLIT_STYLES[s], label=_SPLIT_NAMES[s]) for s in shown_splits]
    short = all(len(h.get_label()) <= 14 for h in handles)
    ax.legend(handles=handles, ncol=2 if len(handles) > 4 and short else 1)
    return ax


def plot_image_grid(
    images: np.ndarray, titles: Sequence[str], ncols: int = 10, size: float | None = None, cmap: str = "gray_r",
    title: str | None = None,
) -> mpl.figure.Figure:
    """A grid of 28x28 images with a title over each, ``size`` inches per image (at most ``MAX_WIDTH / ncols``,
    the default) and ``title`` over the whole grid."""
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    size = min(size or MAX_WIDTH, MAX_WIDTH / ncols)
    lines = max((t.count("\n") + 1 for t in titles if t), default=0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.14 * lines) + 0.3 * bool(title)),
                             squeeze=False, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, name in zip(axes.flat, images, titles):
        ax.imshow(np.asarray(img).reshape(28, 28), cmap=cmap, vmin=0, vmax=255 if img.dtype == np.uint8 else None)
        ax.set_title(name, fontsize=8, pad=2)
    if title:
        fig.suptitle(title)
    return fig


def plot_confident_mistakes(x: np.ndarray, y: np.ndarray, proba: np.ndarray, class_names: Sequence[str],
                            n: int = 20, title: str | None = None) -> mpl.figure.Figure:
    """The ``n`` most confident mistakes of a model with test probabilities ``proba: (N, C)`` on images ``x`` with
    labels ``y``, each titled true -> predicted (confidence), five to a row."""
    pred, confidence = proba.argmax(1), proba.max(1)
    wrong = np.flatnonzero(pred != y)
    worst = wrong[np.argsort(-confidence[wrong], kind="stable")][:n]
    titles = [f"{class_names[y[i]]}\n→ {class_names[pred[i]]} ({confidence[i]:.2f})" for i in worst]
    return plot_image_grid(x[worst], titles, ncols=5, size=1.0, title=title)


def plot_confusion_matrices(y_true: np.ndarray, predictions: dict[str, np.ndarray],
                            class_names: Sequence[str] = CLASS_NAMES) -> mpl.figure.Figure:
    """One confusion matrix per model, side by side at the full width: each cell the share of its true class
    (row) in percent, blank where it rounds to 0 %, its colour the same share."""
    import seaborn as sns

    k = len(class_names)
    fig, axes = plt.subplots(1, len(predictions), figsize=(MAX_WIDTH, 3.1), squeeze=False)
    for ax, (name, pred) in zip(axes[0], predictions.items()):
        counts = np.zeros((k, k))
        np.add.at(counts, (np.asarray(y_true), np.asarray(pred)), 1)
        shares = 100 * counts / counts.sum(axis=1, keepdims=True)
        labels = np.array([[f"{v:.0f}" if round(v) else "" for v in row] for row in shares])
        sns.heatmap(shares, annot=labels, fmt="", cmap="Blues", vmin=0, vmax=100, cbar=False, square=True,
                    xticklabels=class_names, yticklabels=class_names if ax is axes[0, 0] else False, ax=ax,
                    annot_kws={"fontsize": 7.5 if k > 10 else 8})
        accuracy = np.trace(counts) / counts.sum()
        ax.set(xlabel="predicted class", title=f"{name} ({accuracy:.4f})")
    axes[0, 0].set_ylabel("true class")
    fig.suptitle("Confusion matrices on the test set: % of each true class (accuracy in brackets)")
    return fig


def plot_heatmap(table: pd.DataFrame, ax: plt.Axes | None = None, label: str = "validation accuracy",
                 fmt: str = ".4f") -> plt.Axes:
    """A grid search's scores as an annotated heatmap (``table``: a pivot, rows by columns), tick labels upright,
    no grid lines, a colour bar named ``label``."""
    import seaborn as sns

    ax = ax or plt.subplots()[1]
    sns.heatmap(table, annot=True, fmt=fmt, cmap="viridis", ax=ax, cbar_kws={"label": label})
    ax.grid(False)
    ax.tick_params(axis="y", rotation=0)
    return ax


def plot_dots(table: pd.DataFrame, value: str, row: str, hue: str, ax: plt.Axes | None = None) -> plt.Axes:
    """A dot plot of ``table[value]``: one line per ``row`` (upright labels that never collide), one dot per
    ``hue`` level in its own colour and marker, nudged apart; no bars, so no baseline to choose."""
    ax = ax or plt.subplots()[1]
    rows, levels = list(dict.fromkeys(table[row])), list(dict.fromkeys(table[hue]))
    markers = "osD^v<>"
    for j, level in enumerate(levels):
        part = table[table[hue] == level]
        nudge = (j - (len(levels) - 1) / 2) * 0.18
        ax.plot(part[value], [rows.index(r) + nudge for r in part[row]], markers[j % len(markers)], color=f"C{j}",
                label=f"{hue} {level}", markersize=5, linestyle="none")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(value)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def plot_accuracy_vs_minutes(costs: pd.DataFrame, ours: Sequence[bool], target: float | None = None,
                             sizes: Sequence[float] = (1, 10, 40)) -> mpl.figure.Figure:
    """Test accuracy against training minutes (log scale) of a cost table (``cost_row`` rows): the reports'
    models in grey circles, ours as ``FAMILY_COLOURS["CNN"]`` squares, marker area by MFLOPs per image (a key of
    ``sizes``), each point numbered and named in a key beside the plot; a dotted line at ``target``."""
    fig, (ax, key) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.8), width_ratios=(1.25, 1))
    area = 8 + 3 * costs["MFLOPs per image"].to_numpy(dtype=float)
    for mine, colour, marker, label in [(False, FAMILY_COLOURS["reports"], "o", "the reports' models (our runs)"),
                                        (True, FAMILY_COLOURS["CNN"], "s", "ours")]:
        pick = np.asarray(ours, dtype=bool) == mine
        ax.scatter(costs["training minutes"][pick], costs["test acc"][pick], s=area[pick], color=colour,
                   marker=marker, alpha=0.8, label=label, edgecolor="white", linewidth=0.5)
    numbers = [str(i + 1) for i in range(len(costs))]
    place_point_labels(ax, costs["training minutes"].to_numpy(float), costs["test acc"].to_numpy(float), numbers)
    if target is not None:
        ax.axhline(target, color="grey", linestyle=":", label=f"target {target}")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(mpl.ticker.LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.set(xlabel="training time on the 2-core CPU (minutes)", ylabel="test accuracy")
    handles = ax.get_legend_handles_labels()[0] + [
        ax.scatter([], [], s=8 + 3 * v, color="0.6", label=f"{v:g} MFLOPs per image") for v in sizes]
    key.legend(handles=handles, loc="lower left", labelspacing=0.3, borderaxespad=0)
    key.axis("off")
    key.text(0, 1, "\n".join(f"{n:>2}  {m}" for n, m in zip(numbers, costs["model"])), va="top", fontsize=8,
             transform=key.transAxes, linespacing=1.25)
    fig.suptitle("Accuracy against training time")
    return fig


def place_point_labels(ax: plt.Axes, x: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> None:
    """Write each label beside its point, at the first of eight offsets whose box overlaps no label placed
    before it nor any point (in display space), else at the first offset."""
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    points = ax.transData.transform(np.column_stack([x, y]))
    taken = [mpl.transforms.Bbox.from_bounds(px - 3, py - 3, 6, 6) for px, py in points]
    offsets = [(4, 2), (4, -9), (-9, 2), (-9, -9), (0, 6), (0, -12), (7, -3), (-12, -3)]
    for xi, yi, label in zip(x, y, labels):
        for dx, dy in offsets:
            text = ax.annotate(label, (xi, yi), xytext=(dx, dy), textcoords="offset points", fontsize=8)
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(t) for t in taken):
                break
            text.remove()
        else:
            text = ax.annotate(label, (xi, yi), xytext=offsets[0], textcoords="offset points", fontsize=8)
            box = text.get_window_extent(renderer)
        taken.append(box)


def plot_iteration_loss(runs_by_label: dict[str, Sequence[dict]], ax: plt.Axes | None = None,
                        window: int = 50) -> plt.Axes:
    """Mini-batch training loss against iteration (moving average), one line per model (first seed).

    Each run is a stored record with ``batch_loss`` and ``batch_loss_every``.
    """
    ax = ax or plt.subplots()[1]
    for i, (label, runs) in enumerate(runs_by_label.items()):
        run = runs[0]
        loss = np.asarray(run["batch_loss"], dtype=float)
        every = run.get("batch_loss_every", 1)
        w = max(1, min(window // every, len(loss)))
        smooth = np.convolve(loss, np.ones(w) / w, mode="valid")
        ax.plot((np.arange(len(smooth)) + w) * every, smooth, color=f"C{i}", label=label)
    ax.set_xlabel("iteration (mini-batch)")
    ax.set_ylabel(f"training cross-entropy (moving mean of {window})")
    ax.set_yscale("log")
    ax.legend()
    return ax


def plot_cv_scores(cv_results: Sequence[dict], param: str, ax: plt.Axes | None = None, label: str | None = None,
                   log_x: bool = True) -> plt.Axes:
    """Mean cross-validation accuracy (± std over folds) against one hyperparameter."""
    ax = ax or plt.subplots()[1]
    rows = sorted(cv_results, key=lambda r: r["params"][param])
    x = [r["params"][param] for r in rows]
    ax.errorbar(x, [r["mean_score"] for r in rows], yerr=[r["std_score"] for r in rows], marker="o", capsize=3,
                label=label)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(param.replace("_", " "))
    ax.set_ylabel("mean CV accuracy")
    return ax
