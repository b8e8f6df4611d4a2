"""Comparison tables (the report's number beside ours) and their export as CSV, Markdown and LaTeX."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fmnist_utils.report.summary import leading_number, summary_row

from ..keras.builders import build_model, flops_per_image
from ..paths import atomic_write, figures_dir
from ..runs.selection import curve_fluctuation

#: Characters pdflatex cannot typeset as text, and the LaTeX that does.
LATEX_SYMBOLS = {"±": r"$\pm$", "≤": r"$\leq$", "≥": r"$\geq$", "×": r"$\times$", "→": r"$\rightarrow$",
                 "←": r"$\leftarrow$", "·": r"$\cdot$", "−": "-", "–": "--", "—": "---", "…": r"\ldots{}",
                 "λ": r"$\lambda$", "α": r"$\alpha$", "β": r"$\beta$", "ε": r"$\varepsilon$", "μ": r"$\mu$",
                 "µ": r"$\mu$", "σ": r"$\sigma$", "η": r"$\eta$", "γ": r"$\gamma$", "≈": r"$\approx$",
                 "<": r"$<$", ">": r"$>$", "ø": r"\o{}", "Ø": r"\O{}", "ß": r"\ss{}", "’": "'", "‘": "`",
                 "“": "``", "”": "''", "\u00a0": "~"}
#: Accents that NFKD splits off a letter, and the LaTeX accent command for each.
_LATEX_ACCENTS = {"\u0301": "'", "\u0300": "`", "\u0308": '"', "\u0302": "^", "\u0303": "~", "\u0327": "c",
                  "\u030c": "v"}
#: A cell made by ``mean_std``: ``0.8555 ± 0.0010`` or a single ``0.8555``.
_MEAN_STD = re.compile(r"(-?\d+(?:\.\d+)?)(?: ± (\d+(?:\.\d+)?))?")


def save_table(df: pd.DataFrame, notebook: str, name: str, index: bool = False, float_format: str = "%.4f",
               caption: str | None = None) -> Path:
    """Save ``df`` as ``figures/<notebook>/<name>.csv``, ``.md`` and ``.tex``; return the CSV path.

    Float columns are written with ``float_format``; a fixed-point one (``"%.4f"``) is trimmed per column to the
    decimals its values need, so counts read ``10`` and one-decimal minutes ``6.7`` beside accuracies' ``0.9079``,
    and a nonzero value it would round to zero (a gradient check's 1.4e-11) is written in scientific notation.
    Headers are flat (a MultiIndex's levels joined by " / "). A column of ``mean_std`` cells ("0.8555 ± 0.0010")
    becomes two numeric CSV columns, "<column> mean" and "<column> std" (blank for a single value); Markdown and
    LaTeX keep the "±" text. The LaTeX is a booktabs ``table`` through pandas' Styler, escaped for pdflatex, with
    ``caption`` (by default the name in words) and the label ``tab:<notebook>:<name>``.
    """
    df = df.set_axis([_flat(c) for c in df.columns], axis=1)
    shown = df.copy()
    numeric = [pd.api.types.is_numeric_dtype(column) for _, column in df.items()]
    for column in df.columns[[pd.api.types.is_float_dtype(c) for _, c in df.items()]]:
        fmt = _column_format(df[column], float_format)
        shown[column] = [_format_value(v, fmt) for v in df[column]]
    folder = figures_dir() / notebook
    csv = folder / f"{name}.csv"
    atomic_write(csv, lambda p: split_mean_std(shown).to_csv(p, index=index, lineterminator="\n"))
    align = ["left"] * index + ["right" if is_number else "left" for is_number in numeric]
    atomic_write(folder / f"{name}.md", lambda p: Path(p).write_text(
        shown.to_markdown(index=index, disable_numparse=True, colalign=align) + "\n"))
    tex = latex_table(shown, "".join(a[0] for a in align), caption or name.replace("_", " "),
                      f"tab:{notebook}:{name}", index=index)
    atomic_write(folder / f"{name}.tex", lambda p: Path(p).write_text(tex))
    return csv


def _flat(column: object) -> str:
    """A header as one string: a MultiIndex tuple's non-empty levels joined by " / "."""
    if isinstance(column, tuple):
        return " / ".join(str(level) for level in column if str(level) != "")
    return str(column)


def split_mean_std(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with each column of ``mean_std`` cells ("0.8555 ± 0.0010", "0.8555" or blank; at least one with
    "±") replaced by "<column> mean" and "<column> std", the numbers as written (std blank for a single value)."""
    parts = []
    for column, values in df.items():
        cells = ["" if pd.isna(v) else str(v) for v in values]
        matches = [_MEAN_STD.fullmatch(c) for c in cells]
        if any("±" in c for c in cells) and all(m or c == "" for m, c in zip(matches, cells)):
            parts += [pd.Series([m[1] if m else "" for m in matches], index=df.index, name=f"{column} mean"),
                      pd.Series([m[2] or "" if m else "" for m in matches], index=df.index, name=f"{column} std")]
        else:
            parts.append(values)
    return pd.concat(parts, axis=1)


def latex_text(value: object) -> str:
    """Already latex-escaped text (Styler's ``escape="latex"``) made safe for pdflatex: symbols and accented
    letters as LaTeX commands (``LATEX_SYMBOLS``), a leading "[" braced (after ``\\\\`` or ``\\toprule`` it
    would open an optional argument); ValueError on a character with no LaTeX here."""
    text = "".join(LATEX_SYMBOLS.get(ch) or _latex_letter(ch) for ch in str(value))
    return "{[}" + text[1:] if text.startswith("[") else text


def _latex_letter(ch: str) -> str:
    """An ASCII character as itself, an accented letter as its LaTeX accent (é -> \\'{e})."""
    if ch.isascii():
        return ch
    base, *marks = unicodedata.normalize("NFKD", ch)
    if base.isascii() and len(marks) == 1 and marks[0] in _LATEX_ACCENTS:
        return f"\\{_LATEX_ACCENTS[marks[0]]}{{{base}}}"
    raise ValueError(f"no LaTeX for {ch!r} (U+{ord(ch):04X}): add it to tables.LATEX_SYMBOLS")


def latex_table(shown: pd.DataFrame, column_format: str, caption: str, label: str, index: bool = False) -> str:
    """``shown`` as a booktabs LaTeX ``table`` through pandas' Styler: escaped cells and headers, caption, label."""
    styler = shown.style.format(latex_text, escape="latex", na_rep="")
    styler = styler.format_index(latex_text, escape="latex", axis=1).format_index(latex_text, escape="latex", axis=0)
    if not index:
        styler = styler.hide(axis="index")
    return styler.to_latex(column_format=column_format, hrules=True, caption=latex_text(_escape(caption)),
                           label=label, position_float="centering")


def _escape(text: str) -> str:
    """LaTeX's special characters escaped as Styler's ``escape="latex"`` escapes cells (for the caption)."""
    specials = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(specials.get(ch, ch) for ch in text)


def _format_value(value: float, fmt: str) -> str:
    """``fmt % value``; empty for NaN, ``%.2e`` where ``fmt`` would show a nonzero value as zero."""
    if pd.isna(value):
        return ""
    text = fmt % value
    if value != 0 and float(text) == 0:
        return f"{value:.2e}"
    return text


def _column_format(column: pd.Series, float_format: str) -> str:
    """``float_format``, or for ``"%.Nf"`` the fewest decimals (at most N) that show every value as N would."""
    fixed = re.fullmatch(r"%\.(\d+)f", float_format)
    if fixed is None:
        return float_format
    most, values = int(fixed[1]), column.dropna().to_numpy(dtype=float)
    exact = (d for d in range(most) if np.all(np.abs(np.round(values, d) - values) < 0.5 * 10.0 ** -most))
    decimals = next(exact, most)  # a value halfway between two N-decimal ones (0.00075) gets N
    return f"%.{decimals}f"


def mean_std(values: Sequence[float], digits: int = 4) -> str:
    """``0.8798 ± 0.0012`` (sample std, ddof=1); a single value has no ± part."""
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def formatted(df: pd.DataFrame, formats: dict[str, str | Callable[[float], str]]) -> pd.DataFrame:
    """A copy of ``df`` with some columns rendered as strings, by a format (``{"error": "{:.0e}"}``) or a function.

    Unlike ``df.style``, the result displays the same on every run (Styler's HTML carries a random id).
    """
    return df.assign(**{col: df[col].map(fmt if callable(fmt) else fmt.format) for col, fmt in formats.items()})


def comparison_table(
    runs: dict[str, Sequence[dict]],
    reported: dict[str, object],
    metric: str = "test_accuracy",
    label: str = "setting",
    report_column: str = "report",
    budget: str | dict[str, str] = "as reported",
    inventory_id: str | dict[str, str] | None = None,
) -> pd.DataFrame:
    """Report's number beside ours (mean ± std over seeds) for each setting.

    runs: setting -> stored runs (one per seed); diverged runs are counted, never averaged.
    reported: setting -> the report's figure (a number, or text such as "(figure only)").
    budget: one budget for all rows, or one per setting.
    inventory_id: also build the series-summary rows of this inventory row (``attrs["summary_rows"]``, saved
    with ``summary.record_summary``); a dict gives each setting its own id (settings left out get no row).
    """
    rows, summary_rows = [], []
    for name, records in runs.items():
        ok = [r for r in records if r.get("status") == "ok"]
        diverged = [r for r in records if r.get("status") == "diverged"]
        if ok:
            ours = mean_std([r[metric] for r in ok])
        else:
            ours = "diverged (epoch " + ", ".join(str(r["diverged_epoch"]) for r in diverged) + ")"
        rows.append({
            label: name,
            report_column: reported.get(name, ""),
            f"ours: {metric.replace('_', ' ')}": ours,
            "runs (seeds)": f"{len(ok)}" + (f" + {len(diverged)} diverged" if diverged and ok else ""),
            "budget": budget if isinstance(budget, str) else budget[name],
        })
        row_id = inventory_id.get(name) if isinstance(inventory_id, dict) else inventory_id
        if row_id:
            summary_rows.append((name, summary_row(
                row_id, f"{label}: {name}", metric.split("_")[0], leading_number(reported.get(name)),
                [r[metric] for r in ok], rows[-1]["budget"], notes=f"{len(diverged)} diverged" if diverged else "")))
    table = pd.DataFrame(rows)
    table.attrs["summary_rows"] = summary_rows  # (setting, row) pairs: record_summary matches them by setting
    table.attrs["summary_label"] = label
    return table


def splits_table(runs: Sequence[dict], reported: dict[tuple[str, str], object], report_column: str) -> pd.DataFrame:
    """Train / validation / test accuracy and loss: the report's figure beside ours (mean ± std over ``runs``).

    reported: ``(split, metric)`` -> the report's figure, e.g. ``{("test", "accuracy"): 0.9035}``; blank where absent.
    """
    return pd.DataFrame([{"split": split, "metric": metric, report_column: reported.get((split, metric), ""),
                          "ours": mean_std([r[f"{split}_{metric}"] for r in runs])}
                         for split in ("train", "val", "test") for metric in ("accuracy", "loss")])


def test_loss_columns(runs_by_name: dict[str, Sequence[dict]], reported: dict[str, float | None],
                      report_column: str = "report test loss") -> dict[str, list]:
    """The report's test loss beside ours (mean ± std over each name's runs, three decimals; diverged runs left
    out); ``table.assign(**test_loss_columns(runs, reported))``. reported: name -> the report's loss, or None."""
    return {report_column: ["" if reported.get(name) is None else reported[name] for name in runs_by_name],
            "ours: test loss": [mean_std([r["test_loss"] for r in runs if r.get("status", "ok") == "ok"], 3)
                                for runs in runs_by_name.values()]}


def mflops_per_image(run: dict) -> float:
    """Millions of FLOPs of one forward pass of a Keras run's model (``flops_per_image``), to two decimals."""
    return round(flops_per_image(build_model(run["config"]["model"])) / 1e6, 2)


def seconds_per_epoch(runs: Sequence[dict]) -> float:
    """Median seconds per epoch over every epoch of ``runs`` (as timed on the machine that trained them), to 0.1 s."""
    return round(float(np.median([s for r in runs for s in r["history"]["seconds"]])), 1)


def cost_columns(runs_by_name: dict[str, Sequence[dict]]) -> dict[str, list]:
    """Columns for a table of Keras models: parameters, MFLOPs per image (of each name's first run) and median
    seconds per epoch (over all its runs); ``table.assign(**cost_columns(runs))``."""
    return {"parameters": [runs[0]["n_parameters"] for runs in runs_by_name.values()],
            "MFLOPs per image": [mflops_per_image(runs[0]) for runs in runs_by_name.values()],
            "s per epoch": [seconds_per_epoch(runs) for runs in runs_by_name.values()]}


def convergence_columns(runs_by_name: dict[str, Sequence[dict]]) -> dict[str, list]:
    """Columns saying how each name's runs ended: ``epochs (best)`` per run (``"18 (8)"``: stopped after 18 epochs,
    the weights of epoch 8 kept) and ``minutes per run`` (mean wall-clock minutes of the whole fit, validation
    included); ``table.assign(**convergence_columns(runs))``."""
    return {"epochs (best)": [", ".join(f"{r['epochs']} ({r.get('best_epoch', '?')})" for r in runs)
                              for runs in runs_by_name.values()],
            "minutes per run": [minutes_per_run(runs) for runs in runs_by_name.values()]}


def fluctuation_column(runs_by_name: dict[str, Sequence[dict]], curve: str = "val_accuracy") -> list[str]:
    """Each name's ``curve_fluctuation`` of its runs' ``curve`` (mean ± std): how much the curve moves back and
    forth per epoch beyond its net change, the measure the claims engine tests "fluctuates less" with."""
    return [mean_std([curve_fluctuation(r["history"][curve]) for r in runs]) for runs in runs_by_name.values()]


def minutes_per_run(runs: Sequence[dict]) -> float:
    """Mean wall-clock minutes of whole runs (training, validation after each epoch, final evaluation)."""
    return round(float(np.mean([r["seconds"] / 60 for r in runs])), 1)


def cost_row(name: str, runs: Sequence[dict], test_accuracy: float | None = None) -> dict:
    """A row of the accuracy-against-cost table: size, FLOPs, seconds per epoch, epochs, minutes, test accuracy.

    Minutes are of whole runs (training, validation after each epoch, final evaluation), averaged over ``runs``
    like the epochs; test accuracy is their mean unless ``test_accuracy`` gives it (a test-time-augmented score).
    """
    return {"model": name, "parameters": runs[0]["n_parameters"], "MFLOPs per image": mflops_per_image(runs[0]),
            "s per epoch": seconds_per_epoch(runs),
            "epochs": round(float(np.mean([r["epochs"] for r in runs])), 1),
            "training minutes": minutes_per_run(runs),
            "test acc": round(float(np.mean([r["test_accuracy"] for r in runs]) if test_accuracy is None
                                    else test_accuracy), 4)}
