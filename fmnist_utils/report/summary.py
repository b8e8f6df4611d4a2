"""The series summary: every number of the reports beside ours, read from ``results/``.

Each notebook, after loading its runs, builds one ``summary_row`` per reported figure it regenerates (or lets
``comparison_table(..., inventory_id=...)`` build them) and saves them with ``record_summary``
(``figures/<notebook>/summary_rows.csv``). Notebook 05 joins those rows with the
inventory (``series_summary``), so no reproduced number is ever typed by hand.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..paths import REPO_ROOT, atomic_write, figures_dir
from .claims import evaluate_claims, verdict_counts, verdicts_by_inventory_id

#: Columns of a notebook's summary rows (``summary_rows.csv``).
ROW_COLUMNS = ["inventory_id", "what", "split", "reported", "reproduced_mean", "reproduced_std", "n_runs", "budget",
               "notes"]
#: Columns of the series summary: the rows with their report and notebook, and the claims engine's verdicts.
COLUMNS = ["inventory_id", "report", "notebook", "what", "split", "reported", "reproduced_mean", "reproduced_std",
           "n_runs", "budget", "verdicts", "notes"]
#: Inventory kinds that carry a number (the rest are figures or methods).
NUMERIC_KINDS = ("number", "table", "row")
ROWS_FILE = "summary_rows.csv"


def load_inventory(path: Path | None = None) -> pd.DataFrame:
    """``inventory.csv``: every figure, table and number of the reports, with its id and notebook."""
    path = path or REPO_ROOT / "inventory.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def is_numeric(kind: str) -> bool:
    """Whether an inventory row of this kind reports a number (``numbers+figure``, ``table``, ``row+figure``...)."""
    return any(part.startswith(NUMERIC_KINDS) for part in kind.split("+"))


def summary_row(inventory_id: str, what: str, split: str, reported: float | None, values: Sequence[float],
                budget: str = "as reported", *, notes: str = "") -> dict:
    """One summary row: the report's figure (a fraction, or None where it gave none) and ours as mean and
    sample std over ``values`` (one per run, read from results/). Whether the report's claim holds is the claims
    engine's to say (``series_summary`` adds its verdicts), not a row's."""
    values = np.asarray([float(v) for v in values], dtype=float)
    decimals = _decimals(values.mean()) if len(values) else 4
    return {"inventory_id": inventory_id, "what": what, "split": split,
            "reported": None if reported is None else float(reported),
            "reproduced_mean": round(float(values.mean()), decimals) if len(values) else None,
            "reproduced_std": round(float(values.std(ddof=1)), decimals) if len(values) > 1 else None,
            "n_runs": len(values), "budget": budget, "notes": notes}


def _decimals(mean: float) -> int:
    """4 decimals, or as many as keep 4 significant digits of a mean that 4 would round to 0 (an error of 1e-8)."""
    if mean == 0 or abs(mean) >= 5e-5:
        return 4
    return 3 - int(np.floor(np.log10(abs(mean))))


def leading_number(figure: object) -> float | None:
    """A report's figure as a number: ``0.8487`` -> 0.8487, ``"0.7507 (val)"`` -> 0.7507, text -> None."""
    if isinstance(figure, (int, float, np.number)) and not isinstance(figure, bool):
        return float(figure)
    match = re.match(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)", str(figure or ""))
    return float(match.group(1)) if match else None


def record_summary(source: pd.DataFrame | Sequence[dict], notebook: str) -> Path:
    """Add summary rows to ``figures/<notebook>/summary_rows.csv``, replacing earlier rows of the same ids.

    source: rows from ``summary_row``, or a table from ``comparison_table(..., inventory_id=...)``.
    """
    if isinstance(source, pd.DataFrame):
        rows = [row for _, row in source.attrs.get("summary_rows", [])]
        if not rows:
            raise ValueError("record_summary: the table has no summary rows; pass inventory_id= to "
                             "comparison_table, or pass rows made with summary_row")
    else:
        rows = list(source)
    new = pd.DataFrame(rows, columns=ROW_COLUMNS)
    duplicated = new.duplicated(["inventory_id", "what"])
    if duplicated.any():
        raise ValueError(f"summary rows repeat (inventory_id, what): {new[duplicated].values.tolist()}")
    path = figures_dir() / notebook / ROWS_FILE
    if path.exists():
        # only today's columns: a file written by an older version keeps no column of its own
        old = pd.read_csv(path, keep_default_na=False, na_values=[""]).reindex(columns=ROW_COLUMNS)
        new = pd.concat([old[~old["inventory_id"].isin(new["inventory_id"])], new], ignore_index=True)
    new = new.sort_values("inventory_id", kind="stable", ignore_index=True)
    atomic_write(path, lambda p: new.to_csv(p, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL))
    return path


def series_summary(inventory: pd.DataFrame | None = None, figures: Path | None = None,
                   claims: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every notebook's summary rows joined with the inventory, in inventory order, each with the claims engine's
    verdicts of its inventory row's claims (``claims``: an ``evaluate_claims`` table, evaluated if not given).

    Numeric inventory rows without a saved summary row raise (a notebook has not produced it); figure-only
    rows get one row that points to their exported figure files.
    """
    inventory = load_inventory() if inventory is None else inventory
    verdicts = verdicts_by_inventory_id(evaluate_claims() if claims is None else claims)
    figures = figures or figures_dir()
    saved = [pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in sorted(figures.glob(f"*/{ROWS_FILE}"))]
    rows = pd.concat(saved, ignore_index=True) if saved else pd.DataFrame(columns=ROW_COLUMNS)
    unknown = sorted(set(rows["inventory_id"]) - set(inventory["id"]))
    if unknown:
        raise ValueError(f"summary rows name ids that are not in inventory.csv: {unknown}")
    out, missing = [], []
    for item in inventory.itertuples():
        found = rows[rows["inventory_id"] == item.id].to_dict("records")
        if not found and is_numeric(item.kind):
            missing.append(item.id)
        elif not found:
            prefix = item.id.replace(".", "_").lower() + "_"  # figures are named after their id: 000_CNN_curves
            pngs = sorted(f"{p.parent.name}/{p.name}" for p in figures.glob("*/*.png")
                          if p.name.lower().startswith(prefix))
            found = [{"inventory_id": item.id, "what": item.what, "split": "", "n_runs": 0, "budget": "",
                      "notes": "figures/" + ", figures/".join(pngs) if pngs else "method (no number)"}]
        out += [{**row, "report": item.report[:3], "notebook": item.notebook, "verdicts": verdicts.get(item.id, "")}
                for row in found]
    if missing:
        raise ValueError(f"no summary row for numeric inventory rows {missing}: run their notebooks "
                         "(make report) so they save figures/<notebook>/summary_rows.csv")
    frame = pd.DataFrame(out, columns=COLUMNS)
    frame["n_runs"] = frame["n_runs"].astype(int)
    text = ["what", "split", "budget", "verdicts", "notes"]
    frame[text] = frame[text].fillna("")
    return frame


#: The summary rows the README's headline table shows: (inventory id, start of ``what``).
#: (inventory id, start of the summary row's ``what``, short label) of the README's table of the reports' finals.
HEADLINE_ROWS = [("001.FINAL", "test acc", "001: final MLP (from scratch)"),
                 ("004.MLPFINAL", "test acc", "004: final Keras MLP"),
                 ("000.CNN", "model: tuned", "000: tuned CNN"),
                 ("001.CNN", "model", "001: deep CNN"),
                 ("004.CNNFINAL", "test acc", "004: final CNN (5 fold models)")]
README_START, README_END = "<!-- headline:start -->", "<!-- headline:end -->"


def _headline_sentence(rows: list[dict], best_models: pd.DataFrame) -> str:
    """Our best NumPy MLP and best CNN (test accuracy, training minutes) against the reports' best of each kind."""
    best = best_models.set_index("model")
    parts = []
    for family, ours in (("MLP", "NumPy MLP"), ("CNN", "CNN")):
        reported = max((r for r in rows if ("CNN" in r["row"]) == (family == "CNN")), key=lambda r: r["report"])
        minutes = best.loc[ours, "training minutes"] if "training minutes" in best else float("nan")
        parts.append(f"our best {ours} reaches **{best.loc[ours, 'test acc']:.4f}** test accuracy"
                     + (f" after {minutes:g} minutes of training on the 2-core CPU" if pd.notna(minutes) else "")
                     + f" (the reports' best {family}: {reported['report']:.4f}, report {reported['row'][:3]})")
    return ("Chosen on validation, " + "; ".join(parts) + ". Each was picked on validation alone, but from candidates "
            "some of which were proposed after earlier test scores had been seen (the selection protocols of notebooks "
            "03 and 04), so read both test accuracies as possibly optimistic.")


def readme_headline(summary: pd.DataFrame, best_models: pd.DataFrame, claims: pd.DataFrame) -> str:
    """The README's headline (Markdown): a sentence on our best NumPy MLP and CNN against the reports' best, the
    claims engine's verdict counts, then the reports' final results beside ours (from the series summary) and
    the contradicted claims (from ``claims``, ``claims.evaluate_claims``'s table). ``best_models``: notebook 05's
    table (``model``, ``test acc``, ``training minutes``)."""
    rows = []
    for inventory_id, what, label in HEADLINE_ROWS:
        match = summary[(summary["inventory_id"] == inventory_id) & summary["what"].str.startswith(what)]
        if match.empty:
            raise ValueError(f"series summary has no row {inventory_id} '{what}...'")
        row = match.iloc[0]
        ours = f"{row['reproduced_mean']:.4f}" + (f" ± {row['reproduced_std']:.4f}"
                                                 if pd.notna(row["reproduced_std"]) else "")
        rows.append({"row": label, "report": float(row["reported"]), "ours": ours, "runs": int(row["n_runs"]),
                     "budget": row["budget"]})
    table = pd.DataFrame(rows).rename(columns={"row": "report's final result", "report": "report (test)",
                                               "ours": "ours (test)"})
    contradicted = claims[claims["verdict"] == "contradicted"]
    listed = "\n".join(f"- {c.claim_id} ({c.inventory_id}): {c.claim} ({c.test}, p = {float(c.p_value):.2g})"
                       for c in contradicted.itertuples())
    return (_headline_sentence(rows, best_models) + " Does each report's claim hold? The claims engine decides "
            f"every claim once, with a named test over seeds at alpha 0.05: **{verdict_counts(claims)}** "
            "(`figures/05_confusion_analysis/claims.csv`).\n\n" + table.to_markdown(index=False, floatfmt=".4f")
            + "\n\nContradicted:\n\n" + listed)


def write_readme_headline(summary: pd.DataFrame, best_models: pd.DataFrame, claims: pd.DataFrame,
                          readme: Path | None = None) -> None:
    """Replace the README's text between the headline markers with ``readme_headline`` (atomically).

    Without ``readme``, the repository's README, unless exports go to a folder other than the committed
    ``figures/`` (``FMNIST_FIGURES_DIR``, as under ``make test``): a test run leaves the committed tree as it is.
    """
    if readme is None:
        if figures_dir().resolve() != (REPO_ROOT / "figures").resolve():
            return
        readme = REPO_ROOT / "README.md"
    replace_between_markers(readme, README_START, README_END, readme_headline(summary, best_models, claims))


def replace_between_markers(path: Path, start: str, end: str, block: str) -> None:
    """Put ``block`` between the lines ``start`` and ``end`` of the file at ``path`` (atomically; only if it
    changes); a file without both markers is an error naming them."""
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} lacks the markers {start} and {end} around the generated text")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{block}\n{end}{tail}"
    if new != text:
        atomic_write(path, lambda p: Path(p).write_text(new))


#: Markers of the README's speed table, which ``make bench`` writes from results/benchmarks/mlp_speed.csv.
BENCH_START, BENCH_END = "<!-- bench:start -->", "<!-- bench:end -->"


def bench_markdown(table: pd.DataFrame) -> str:
    """The README's speed table from ``benchmarks/mlp_speed.py``'s CSV: seconds per epoch idle and busy, test
    accuracy, and the ratio to PyTorch's best thread count under the same load."""
    wide = table.pivot(index="framework", columns="load", values=["s_per_epoch", "x PyTorch's best"])
    accuracy = table.groupby("framework").first()
    rows = [{"": name, "s/epoch idle": wide.loc[name, ("s_per_epoch", "idle")],
             "× PyTorch's best, idle": wide.loc[name, ("x PyTorch's best", "idle")],
             "s/epoch, one core busy": wide.loc[name, ("s_per_epoch", "one core busy")],
             "× PyTorch's best, busy": wide.loc[name, ("x PyTorch's best", "one core busy")],
             "test acc (idle runs)": f"{accuracy.loc[name, 'test_accuracy_mean']:.4f} ± "
                                     f"{accuracy.loc[name, 'test_accuracy_std']:.4f}"}
            for name in table["framework"].drop_duplicates()]
    return pd.DataFrame(rows).to_markdown(index=False, floatfmt="g")
