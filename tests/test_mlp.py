"""MLPClassifier, the scikit-learn adapter: the estimator contract, parameters, bad input, divergence as the
estimator reports it, early stopping, histories, soft targets."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from fmnist_utils import mlp
from fmnist_utils.mlp import MLPClassifier
from fmnist_utils.nn import Dropout


def blobs(n=300, d=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, d))
    y = rng.integers(0, classes, n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def test_passes_check_estimator():
    # Only check_array_api_input is skipped, by sklearn itself (it needs SCIPY_ARRAY_API=1); nothing is excluded.
    results = check_estimator(MLPClassifier(random_state=0), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert not failed
    assert skipped <= {"check_array_api_input"}


def test_sklearn_tools_work_unchanged():
    X, y = blobs()
    pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), learning_rate_init=0.01, max_iter=50, random_state=0))
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.9
    grid = GridSearchCV(MLPClassifier((8,), max_iter=20, random_state=0),
                        {"learning_rate_init": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert grid.best_params_ == {"learning_rate_init": 1e-2}


def test_seeded_fit_is_reproducible_and_keeps_dtype():
    X, y = blobs()
    a = MLPClassifier((16,), max_iter=5, random_state=3, dropout=0.2).fit(X, y)
    b = MLPClassifier((16,), max_iter=5, random_state=3, dropout=0.2).fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert a.coefs_[0].dtype == np.float32
    assert MLPClassifier((4,), max_iter=1, dtype="float64").fit(X, y).coefs_[0].dtype == np.float64


@pytest.mark.parametrize("params, name", [
    ({"activation": "swish"}, "activation"),
    ({"learning_rate_init": -0.1}, "learning_rate_init"),
    ({"alpha": -1.0}, "alpha"),
    ({"dropout": 1.0}, "dropout"),
    ({"solver": "lbfgs"}, "solver"),
    ({"init": "zeros"}, "init"),
])
def test_invalid_parameters_name_the_argument(params, name):
    X, y = blobs(30)
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        MLPClassifier(**params).fit(X, y)


def test_bad_input_errors_name_the_problem():
    X, y = blobs(60)
    clf = MLPClassifier((4,), max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but MLPClassifier is expecting 8"):
        clf.predict(X[:, :5])
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier().fit(X_nan, y)
    with pytest.raises(ValueError, match="labels not seen in fit: \\[7\\]"):
        clf.log_loss(X[:2], [0, 7])
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)


def test_divergence_is_recorded_not_scored():
    X, y = blobs(200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # overflow inside the diverging run is expected, not noise
        with pytest.warns(ConvergenceWarning, match=r"diverged: non-finite or exploding training loss in epoch \d"):
            clf = MLPClassifier((32,), solver="sgd", momentum=0.0, learning_rate_init=1e3, max_iter=20,
                                random_state=0).fit(X * 1e4, y)
    assert clf.diverged_epoch_ is not None and clf.n_iter_ == clf.diverged_epoch_ - 1
    with pytest.raises(mlp.DivergedError, match=f"diverged in epoch {clf.diverged_epoch_}"):
        clf.score(X, y)


def test_divergence_in_the_last_update_is_flagged():
    # One mini-batch, one epoch: no later batch loss and no validation loss sees the huge weights the update left (a
    # refit on train+val has no validation data either), so the weights and their outputs are checked after it.
    rng = np.random.default_rng(0)
    X, y = rng.random((500, 784), dtype=np.float32), np.arange(500) % 10
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the check's overflow is expected: it must stay silent
        with pytest.warns(ConvergenceWarning, match="diverged.*in epoch 1"):
            clf = MLPClassifier((16,), solver="sgd", momentum=0, learning_rate_init=1e30, batch_size=1000,
                                max_iter=1, random_state=0).fit(X, y)
    assert clf.diverged_epoch_ == 1 and clf.n_iter_ == 0
    with pytest.raises(mlp.DivergedError, match="diverged in epoch 1"):
        clf.predict_proba(X)


def test_non_finite_outputs_raise_rather_than_return_nan():
    X, y = blobs(60)
    clf = MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
    clf.coefs_[1][0, 0] = np.nan  # a model that was not flagged, e.g. weights set by hand
    for predict in (clf.predict_proba, clf.predict):
        with pytest.raises(mlp.DivergedError, match="non-finite"):
            predict(X)


def test_early_stopping_restores_best_weights():
    X, y = blobs(400, seed=1)
    X_val, y_val = blobs(200, seed=1)
    X_val = X_val + np.random.default_rng(5).normal(0, 2.5, X_val.shape).astype(np.float32)  # noisy: val peaks early
    clf = MLPClassifier((64,), learning_rate_init=0.01, max_iter=300, early_stopping=True, n_iter_no_change=5,
                        early_stopping_monitor="val_loss", tol=0.0, random_state=0)
    clf.fit(X, y, validation_data=(X_val, y_val))
    losses = clf.history_["val_loss"]
    assert clf.n_iter_ < 300 and clf.n_iter_ == clf.best_epoch_ + 5
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1
    assert clf.log_loss(X_val, y_val) == pytest.approx(min(losses), rel=1e-5)


def test_fixed_epochs_and_histories():
    X, y = blobs(100)
    clf = MLPClassifier((8,), max_iter=7, batch_size=32, n_iter_no_change=None).fit(X, y, validation_data=(X, y))
    assert clf.n_iter_ == 7 and len(clf.loss_curve_) == 7 and len(clf.history_["val_accuracy"]) == 7
    assert len(clf.batch_loss_) == 7 * 4  # ceil(100 / 32) mini-batches per epoch


def test_partial_fit_and_warm_start_continue_training():
    X, y = blobs()
    clf = MLPClassifier((8,), random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 3
    warm = MLPClassifier((8,), max_iter=2, warm_start=True, n_iter_no_change=None, random_state=0).fit(X, y)
    first = warm.coefs_[0].copy()
    warm.fit(X, y)
    assert warm.n_iter_ == 4 and not np.array_equal(first, warm.coefs_[0])


def test_dropout_and_batch_norm_are_deterministic_at_inference():
    X, y = blobs()
    clf = MLPClassifier((16,), dropout=0.5, batch_norm=True, max_iter=10, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_allclose(clf.predict_proba(X[:5]), clf.predict_proba(X)[:5], rtol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1, rtol=1e-5)


def test_fit_on_soft_targets():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 5)), np.arange(60) % 3
    params = {"hidden_layer_sizes": (6,), "max_iter": 3, "n_iter_no_change": None, "random_state": 0}
    by_label = MLPClassifier(**params).fit(X, y)
    one_hot = MLPClassifier(**params).fit(X, y, soft_targets=np.eye(3)[y])
    np.testing.assert_allclose(one_hot.coefs_[0], by_label.coefs_[0], rtol=1e-5)
    flipped = MLPClassifier(**{**params, "max_iter": 30}).fit(X, y, soft_targets=np.eye(3)[(y + 1) % 3])
    assert (flipped.predict(X) == (y + 1) % 3).mean() > (flipped.predict(X) == y).mean()  # targets, not labels
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_classes\) = \(60, 3\)"):
        MLPClassifier(**params).fit(X, y, soft_targets=np.eye(4)[y])
    with pytest.raises(ValueError, match="must be probabilities"):
        MLPClassifier(**params).fit(X, y, soft_targets=2 * np.eye(3)[y])
    early = MLPClassifier(**params, early_stopping=True).fit(X, y, soft_targets=np.eye(3)[y])
    early_by_label = MLPClassifier(**params, early_stopping=True).fit(X, y)
    # the internal validation split must split the targets with the images, or training would drift from labels
    np.testing.assert_allclose(early.coefs_[0], early_by_label.coefs_[0], rtol=1e-5)


def test_l2_first_layer_only_penalises_one_matrix():
    X, y = blobs(50)
    clf = MLPClassifier((4,), max_iter=1, alpha=2.0, l2_first_layer_only=True).fit(X, y)
    w0 = clf.coefs_[0]
    assert clf.network_.penalty(10) == pytest.approx(0.5 * 2.0 * float((w0.astype(np.float64) ** 2).sum()) / 10,
                                                      rel=1e-5)


def test_no_convergence_warning_with_fixed_epochs():
    X, y = blobs(60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MLPClassifier((4,), max_iter=2, n_iter_no_change=None).fit(X, y)


def test_per_view_soft_targets_need_a_matching_augment_shift():
    X, y = blobs(60, d=784)
    soft = np.broadcast_to(np.eye(10)[:9], (len(y), 9, 10))
    with pytest.raises(ValueError, match="augment_shift > 0"):
        MLPClassifier((8,), max_iter=1, augment_flip=True).fit(np.abs(X), np.arange(60) % 10, soft_targets=soft)
    with pytest.raises(ValueError, match=r"\(60, 25, 10\)"):
        MLPClassifier((8,), max_iter=1, augment_shift=2).fit(np.abs(X), np.arange(60) % 10, soft_targets=soft)


def test_augmentation_changes_training_not_inference():
    X, y = blobs(64, d=784)
    X = np.abs(X)
    plain = MLPClassifier((8,), max_iter=2, random_state=0, n_iter_no_change=None).fit(X, y)
    augmented = MLPClassifier((8,), max_iter=2, random_state=0, n_iter_no_change=None, augment_shift=1,
                              augment_flip=True).fit(X, y)
    assert not np.allclose(plain.coefs_[0], augmented.coefs_[0])
    np.testing.assert_array_equal(augmented.predict_proba(X[:3]), augmented.predict_proba(X[:3]))


def test_exploding_loss_that_settles_on_dead_units_is_divergence():
    # Raw-pixel-like inputs at a large rate: the loss jumps by orders of magnitude, then every ReLU dies and the
    # loss sits at log(3), which is finite. That is a diverged run, not a classifier at chance.
    X, y = blobs(300)
    X = np.abs(X) * 100
    with pytest.warns(ConvergenceWarning, match="exploding"):
        clf = MLPClassifier((32,), solver="sgd", momentum=0.0, learning_rate_init=0.1, max_iter=5,
                            random_state=0).fit(X, y)
    assert clf.diverged_epoch_ is not None and clf.n_iter_ == clf.diverged_epoch_ - 1
    kept = MLPClassifier((32,), solver="sgd", momentum=0.0, learning_rate_init=0.1, max_iter=5, random_state=0,
                         divergence_factor=None, n_iter_no_change=None).fit(X, y)
    assert kept.diverged_epoch_ is None and kept.n_iter_ == 5


def test_input_dropout_drops_pixels_in_training_only():
    X, y = blobs()
    clf = MLPClassifier((16,), input_dropout=0.5, max_iter=2, random_state=0).fit(X, y)
    first = clf.network_.layers[0]
    assert isinstance(first, Dropout) and first.rate == 0.5
    dropped = first.forward(np.ones((200, 8), np.float32), train=True)
    assert 0.3 < (dropped == 0).mean() < 0.7
    np.testing.assert_array_equal(first.forward(X[:3]), X[:3])  # inference passes pixels unchanged
    assert clf.n_parameters_ == MLPClassifier((16,), max_iter=1, random_state=0).fit(X, y).n_parameters_


def test_penalty_over_training_set_divides_by_its_size_not_the_batch():
    X, y = blobs(60)
    params = {"hidden_layer_sizes": (4,), "max_iter": 2, "batch_size": 10, "random_state": 0, "dtype": "float64"}
    over_set = MLPClassifier(**params, alpha=6.0, penalty_over="training_set").fit(X, y)
    per_batch = MLPClassifier(**params, alpha=6.0 * 10 / 60).fit(X, y)  # the same decay per step: 6/60 = 1/10
    unpenalised = MLPClassifier(**params, alpha=0.0).fit(X, y)
    np.testing.assert_allclose(over_set.coefs_[0], per_batch.coefs_[0], rtol=1e-10)
    assert not np.allclose(over_set.coefs_[0], unpenalised.coefs_[0])
    with pytest.raises(ValueError, match="penalty_over"):
        MLPClassifier(penalty_over="dataset").fit(X, y)
