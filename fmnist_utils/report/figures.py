"""One plot style for the series, shared plots, and export of figures.

Exports are byte-reproducible: PNG and PDF carry no date or software version.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from ..paths import atomic_write, figures_dir

PNG_METADATA = {"Software": None}


PDF_METADATA = {"CreationDate": None, "Creator": None, "Producer": None}


def set_style() -> None:
    """The series' plot style: readable sizes, light grid, colour-blind-safe palette."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        "axes.titlesize": "medium",
        "legend.frameon": False,
        "pdf.fonttype": 42,  # embed TrueType so LaTeX users can edit text
        "svg.hashsalt": "fmnist-report",
    })


def save_figure(fig: mpl.figure.Figure, notebook: str, name: str, pdf: bool = True) -> Path:
    """Save ``fig`` as ``figures/<notebook>/<name>.png`` (and ``.pdf``); return the PNG path."""
    folder = figures_dir() / notebook
    png = folder / f"{name}.png"
    atomic_write(png, lambda p: fig.savefig(p, format="png", metadata=PNG_METADATA))
    if pdf:
        atomic_write(folder / f"{name}.pdf", lambda p: fig.savefig(p, format="pdf", metadata=PDF_METADATA))
    return png


def plot_learning_curves(
    histories: dict[str, Sequence[dict]],
    metric: str = "accuracy",
    ax: plt.Axes | None = None,
    splits: Sequence[str] = ("train", "val"),
) -> plt.Axes:
    """Per-epoch curves, mean ± std band over seeds, one colour per model and one line style per split.

    histories: label -> list of per-seed histories, each a dict with ``train_<metric>`` etc. lists, or of stored
    runs (records with a ``history``).
    """
    ax = ax or plt.subplots()[1]
    styles = {"train": "-", "val": "--", "test": ":"}
    for i, (label, runs) in enumerate(histories.items()):
        runs = [r["history"] if "history" in r else r for r in runs]
        colour = f"C{i}"
        for split in splits:
            key = f"{split}_{metric}"
            curves = [r[key] for r in runs if key in r]
            if not curves:
                continue
            n = min(len(c) for c in curves)
            arr = np.array([c[:n] for c in curves], dtype=float)
            epochs = np.arange(1, n + 1)
            mean = arr.mean(axis=0)
            ax.plot(epochs, mean, styles[split], color=colour, label=f"{label} ({split})")
            if len(arr) > 1:
                std = arr.std(axis=0, ddof=1)
                ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.15, linewidth=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy" if metric == "accuracy" else "cross-entropy loss")
    ax.legend(fontsize="small")
    return ax


def plot_image_grid(
    images: np.ndarray, titles: Sequence[str], ncols: int = 10, size: float = 1.2, cmap: str = "gray_r"
) -> mpl.figure.Figure:
    """A grid of 28x28 images with a title under each."""
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.25)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title in zip(axes.flat, images, titles):
        ax.imshow(np.asarray(img).reshape(28, 28), cmap=cmap, vmin=0, vmax=255 if img.dtype == np.uint8 else None)
        ax.set_title(title, fontsize=7)
    fig.tight_layout()
    return fig


def plot_confident_mistakes(x: np.ndarray, y: np.ndarray, proba: np.ndarray, class_names: Sequence[str],
                            n: int = 20) -> mpl.figure.Figure:
    """The ``n`` most confident mistakes of a model with test probabilities ``proba: (N, C)`` on images ``x`` with
    labels ``y``, each titled true -> predicted (confidence)."""
    pred, confidence = proba.argmax(1), proba.max(1)
    wrong = np.flatnonzero(pred != y)
    worst = wrong[np.argsort(-confidence[wrong], kind="stable")][:n]
    titles = [f"{class_names[y[i]]}\n→ {class_names[pred[i]]} ({confidence[i]:.2f})" for i in worst]
    return plot_image_grid(x[worst], titles, ncols=10, size=1.5)


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
    ax.legend(fontsize="small")
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
