"""Runs: the typed record of a training (or of a stored computation), its cache in ``results/``, the trainers the
runner calls, selection among stored runs, searches and distillation.

Notebooks import from here: ``from fmnist_utils.runs import run_experiment, run_seeds, train_numpy_mlp, ...``.

- ``store``: ``run_experiment`` and the cache (atomic, checked before training, JSON and .npz as a pair)
- ``trainers``: ``train_numpy_mlp`` and ``train_keras``
- ``selection``: metrics over seeds, test-time augmentation, the best stored run on validation
- ``search``: scikit-learn's grid search over our MLP, keras-tuner's grid over Keras configurations, report
  000's two CNN grids
- ``distill``: a stored teacher's probabilities as the MLP's targets
- ``analyses``: non-training computations stored like runs (the t-SNE embedding, the perturbation curve)
"""

from .analyses import (
    embedding_2d,
    first_image_of_each_class,
    perturbation_curves,
    single_weight_check,
    small_network,
)
from .configs import (
    ADAM,
    AS_REPORTED,
    REPORT_BUDGET,
    Budget,
    budget,
    doubling_filters,
    keras_cnn_config,
    keras_mlp_config,
    subset_budget,
)
from .distill import distillation_targets, student_config
from .search import cnn_grids_000, grid_search_numpy_mlp, keras_grid_search
from .selection import (
    best_stored_run,
    first_epoch_reaching,
    flip_tta_helps,
    mean_metric,
    metric_values,
    stored_test_proba,
    summarize,
    test_accuracy,
    tta_scores,
)
from .store import ResultsCacheError, load_arrays, load_run, run_experiment, run_seeds, stored_runs
from .trainers import mlp_runs, refit_config, train_keras, train_numpy_mlp

__all__ = ["ADAM", "AS_REPORTED", "Budget", "REPORT_BUDGET", "ResultsCacheError", "best_stored_run", "budget",
           "cnn_grids_000", "distillation_targets", "doubling_filters", "embedding_2d", "first_epoch_reaching",
           "first_image_of_each_class", "flip_tta_helps", "grid_search_numpy_mlp", "keras_cnn_config",
           "keras_grid_search", "keras_mlp_config", "load_arrays", "load_run", "mean_metric", "metric_values",
           "mlp_runs", "perturbation_curves", "refit_config", "run_experiment", "run_seeds", "single_weight_check",
           "small_network",
           "stored_runs", "stored_test_proba", "student_config", "subset_budget", "summarize", "test_accuracy",
           "train_keras", "train_numpy_mlp", "tta_scores"]
