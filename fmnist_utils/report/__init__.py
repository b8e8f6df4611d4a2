"""Report: what turns stored runs into the series' tables, figures and summary.

Notebooks import from here: ``from fmnist_utils.report import comparison_table, save_figure, save_table, ...``.

- ``tables``: the report's number beside ours, export as CSV, Markdown and LaTeX
- ``figures``: plot style, shared plots, export as PNG and PDF
- ``summary``: the series summary (every number of the reports beside ours) and the README's headline table
- ``evaluation``: confused pairs, calibration, McNemar's test
- ``claims``: every claim of the five reports (``claims.csv``) and the engine that decides its verdict
- ``exports``: a fresh export against the committed one (``make test``)
"""

from .claims import evaluate_claims, load_claims, verdict_counts, verdict_of
from .evaluation import confused_pairs, expected_calibration_error, mcnemar_test, reliability_curve, welch_p
from .figures import (
    CLASS_COLOURS,
    FAMILY_COLOURS,
    SINGLE,
    WIDE,
    WIDE_TALL,
    integer_epochs,
    plot_accuracy_vs_minutes,
    plot_confident_mistakes,
    plot_confusion_matrices,
    plot_cv_scores,
    plot_dots,
    plot_heatmap,
    plot_image_grid,
    plot_iteration_loss,
    plot_learning_curves,
    save_figure,
    set_style,
)
from .summary import record_summary, series_summary, summary_row, write_readme_headline
from .tables import (
    comparison_table,
    convergence_columns,
    cost_columns,
    cost_row,
    formatted,
    mean_std,
    mflops_per_image,
    save_table,
    seconds_per_epoch,
    splits_table,
    test_loss_columns,
)

__all__ = ["CLASS_COLOURS", "FAMILY_COLOURS", "SINGLE", "WIDE", "WIDE_TALL", "comparison_table", "confused_pairs",
           "convergence_columns",
           "cost_columns", "cost_row", "evaluate_claims", "test_loss_columns",
           "expected_calibration_error", "formatted", "integer_epochs", "load_claims",
           "mcnemar_test", "mean_std", "mflops_per_image", "plot_accuracy_vs_minutes", "plot_confident_mistakes",
           "plot_confusion_matrices", "plot_cv_scores", "plot_dots", "plot_heatmap",
           "plot_image_grid", "plot_iteration_loss", "plot_learning_curves", "record_summary", "reliability_curve",
           "save_figure", "save_table", "seconds_per_epoch", "series_summary", "set_style", "splits_table",
           "summary_row", "verdict_counts", "verdict_of", "welch_p", "write_readme_headline"]
