"""Keras builders and the Keras trainer, on small arrays the tests make."""

import numpy as np
import pytest

from fmnist_utils import augment, data, keras_models
from fmnist_utils.experiments import run_experiment


def test_softmax_baseline_has_report_004s_parameter_count():
    assert keras_models.build_mlp(hidden=()).count_params() == 7850


def test_mlp_layer_order_matches_numpy_mlp():
    model = keras_models.build_mlp(hidden=(16,), activation="relu", batch_norm=True, dropout=0.2)
    names = [type(layer).__name__ for layer in model.layers]
    assert names == ["Dense", "Activation", "BatchNormalization", "Dropout", "Dense"]


def test_cnn_shapes_and_filters():
    model = keras_models.build_cnn(filters=(8, 16), dense=(32,), batch_norm=True, dropout=0.25)
    assert model.output_shape == (None, 10)
    convs = [layer.filters for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert convs == [8, 16]


@pytest.mark.parametrize("momentum", [0.99, 0.9])
def test_cnn_batch_norm_momentum(momentum):
    kwargs = {} if momentum == 0.99 else {"bn_momentum": momentum}  # 0.99 is the default, as in Keras
    model = keras_models.build_cnn(filters=(8, 16), batch_norm=True, **kwargs)
    norms = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    assert len(norms) == 2 and all(layer.momentum == momentum for layer in norms)


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="optimizer name must be one of"):
        keras_models.make_optimizer("rmsprop2")


@pytest.fixture
def tiny_splits(monkeypatch):
    pixels = np.random.default_rng(0).random((100, 784), dtype=np.float32)
    labels = np.arange(100) % 10

    def fake_load_splits(normalize="scale", flat=True, dtype="float32"):
        x = pixels.reshape((-1, 784) if flat else (-1, 28, 28, 1))
        return data.Splits(x[:60], labels[:60], x[60:80], labels[60:80], x[80:], labels[80:])

    monkeypatch.setattr(data, "load_splits", fake_load_splits)


def test_train_keras_is_deterministic_and_stores_what_the_runner_needs(tiny_splits, tmp_path):
    config = {"model": {"kind": "mlp", "hidden": [8]}, "optimizer": {"name": "sgd", "learning_rate": 0.1},
              "batch_size": 16, "epochs": 3, "seed": 0, "early_stopping": {"patience": 1}, "store_test_proba": True}
    first = keras_models.train_keras(config)
    second = keras_models.train_keras(config)
    without_timing = lambda out: {k: v for k, v in out["history"].items() if k != "seconds"}
    assert without_timing(first) == without_timing(second)
    assert set(first["history"]) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert first["arrays"]["test_proba"].shape == (20, 10)
    record = run_experiment("keras", config, keras_models.train_keras, root=tmp_path)
    assert record["status"] == "ok" and 1 <= record["best_epoch"] <= record["epochs"] <= 3
    assert "tensorflow" in record["versions"]


def test_train_keras_cnn_runs(tiny_splits):
    out = keras_models.train_keras({"model": {"kind": "cnn", "filters": [4], "dense": []},
                                    "optimizer": {"name": "adam"}, "batch_size": 32, "epochs": 1, "seed": 1,
                                    "reduce_lr": {"patience": 1, "factor": 0.5}})
    assert out["epochs"] == 1 and 0 <= out["test_accuracy"] <= 1


def test_grid_search_runs_every_combination_once_and_replays(tiny_splits, tmp_path):
    base = {"model": {"kind": "mlp", "hidden": [4]}, "optimizer": {"name": "adam"}, "batch_size": 20, "epochs": 1,
            "seed": 0}
    grid = {"model.hidden": [[4], [8, 4]], "model.dropout": [0.0, 0.2], "batch_size": [20, 30]}
    runs = keras_models.keras_grid_search("grid", base, grid, root=tmp_path)
    assert len(runs) == 8 and len(list((tmp_path / "grid").glob("*.json"))) == 8
    assert {(tuple(r["trial"]["model.hidden"]), r["trial"]["model.dropout"], r["trial"]["batch_size"])
            for r in runs} == {(h, d, b) for h in [(4,), (8, 4)] for d in [0.0, 0.2] for b in [20, 30]}
    assert all(r["config"]["model"]["hidden"] == r["trial"]["model.hidden"] for r in runs)
    assert runs[0]["config"]["optimizer"] == {"name": "adam"}  # untouched keys survive
    replay = keras_models.keras_grid_search("grid", base, grid, root=tmp_path)
    assert [r["config"] for r in replay] == [r["config"] for r in runs]


def test_exploding_loss_is_recorded_as_diverged(tiny_splits):
    out = keras_models.train_keras({"model": {"kind": "mlp", "hidden": [64, 64]},
                                    "optimizer": {"name": "sgd", "learning_rate": 1e6}, "batch_size": 10,
                                    "epochs": 3, "seed": 0, "divergence_factor": 10.0})
    assert out["status"] == "diverged" and out["diverged_epoch"] == 1
    assert "test_accuracy" not in out


@pytest.mark.parametrize("batch_norm", [False, True])
def test_one_sgd_step_matches_keras_from_the_same_weights(batch_norm):
    """Our NumPy network and Keras, same weights and mini-batch: one SGD step leaves the same parameters."""
    import tensorflow as tf

    from fmnist_utils.nn import SGD, BatchNorm, Dense, Network, ReLU

    rng = np.random.default_rng(0)
    x, y = rng.random((32, 20), dtype=np.float32), rng.integers(0, 10, 32)
    keras_models.set_seed(0)
    model = keras_models.build_mlp(hidden=(16, 16), batch_norm=batch_norm, n_inputs=20)
    kernels = [w.numpy().copy() for w in model.weights if w.path.endswith("kernel")]
    layers = []
    for i, W in enumerate(kernels):
        layers.append(Dense(W.copy(), np.zeros(W.shape[1], np.float32), input_grad=i > 0))
        if i < len(kernels) - 1:
            layers += [ReLU()] + ([BatchNorm(W.shape[1], np.float32)] if batch_norm else [])
    net = Network(layers)
    net.loss_and_grads(x, y)
    SGD(0.1).step(net)
    with tf.GradientTape() as tape:
        loss = keras_models._keras().losses.SparseCategoricalCrossentropy()(y, model(x, training=True))
    optimizer = keras_models.make_optimizer("sgd", 0.1)
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights))
    keras_values = {w.path.split("/")[-1] + str(i): w.numpy() for i, w in enumerate(model.weights)}
    ours = []
    for layer in layers:
        if isinstance(layer, Dense):
            ours += [layer.params["W"], layer.params["b"]]
        elif isinstance(layer, BatchNorm):
            ours += [layer.params["gamma"], layer.params["beta"], layer.running_mean, layer.running_var]
    assert len(ours) == len(keras_values)
    for mine, (name, theirs) in zip(ours, keras_values.items()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6, err_msg=name)


def test_flops_per_image_counts_convolutions_and_dense_layers():
    cnn = keras_models.build_cnn(filters=(8,), kernel_size=3, dense=(16,))  # 28x28x8 conv, pool to 14x14x8
    conv = 2 * 28 * 28 * 3 * 3 * 1 * 8
    dense = 2 * 14 * 14 * 8 * 16 + 2 * 16 * 10
    assert keras_models.flops_per_image(cnn) == conv + dense
    assert keras_models.flops_per_image(keras_models.build_mlp(hidden=())) == 2 * 784 * 10


def test_train_subset_is_class_balanced_and_recorded(tiny_splits):
    out = keras_models.train_keras({"model": {"kind": "mlp", "hidden": [4]}, "optimizer": {"name": "adam"},
                                    "batch_size": 10, "epochs": 1, "seed": 0, "train_subset": 30, "verbose": False})
    assert out["n_train"] == 30
    with pytest.raises(ValueError, match="n must be between"):
        keras_models.train_keras({"model": {"kind": "mlp", "hidden": [4]}, "optimizer": {"name": "adam"},
                                  "batch_size": 10, "epochs": 1, "seed": 0, "train_subset": 600})


def test_report_004_cnn_pools_seven_to_four():
    model = keras_models.build_cnn(filters=(8, 16, 32), dense=(), batch_norm=True, dropout=0.25, pool_padding="same")
    assert model.layers[-2].output.shape == (None, 4 * 4 * 32)  # the flatten before the softmax


def test_grid_search_needs_a_seed(tmp_path):
    with pytest.raises(ValueError, match="needs a 'seed'"):
        keras_models.keras_grid_search("grid", {"model": {"kind": "mlp"}}, {"batch_size": [8]}, root=tmp_path)


def test_cnn_blocks_global_pooling_and_augmentation_layers():
    model = keras_models.build_cnn(filters=(4, 8), convs_per_block=2, batch_norm=True, global_pool=True, dense=(),
                                   dropout=0.1, dense_dropout=0.3, flip=True, shift=0.1, erase=0.5)
    names = [type(layer).__name__ for layer in model.layers]
    assert names[:3] == ["RandomFlip", "RandomTranslation", "RandomErasing"]
    assert names.count("Conv2D") == 4 and "GlobalAveragePooling2D" in names and "Flatten" not in names
    assert [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"] == [0.1, 0.1, 0.3]
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))  # augmentation off at inference
    per_block = keras_models.build_cnn(filters=(4, 8, 16), convs_per_block=[1, 2, 2], dense=())
    assert [layer.filters for layer in per_block.layers if type(layer).__name__ == "Conv2D"] == [4, 8, 8, 16, 16]
    with pytest.raises(ValueError, match="one count per block"):
        keras_models.build_cnn(filters=(4, 8), convs_per_block=[1, 2, 2])


def test_cosine_label_smoothing_tta_and_folds(tiny_splits):
    config = {"model": {"kind": "cnn", "filters": [4], "dense": [], "flip": True}, "batch_size": 16, "epochs": 2,
              "optimizer": {"name": "adamw", "learning_rate": 0.01, "schedule": "cosine"}, "seed": 0,
              "label_smoothing": 0.1, "flip_tta": True, "store_test_proba": True, "cv_fold": [1, 3],
              "store_train_proba": True, "store_train_proba_shifts": 1}
    out = keras_models.train_keras(config)
    assert out["n_train"] == 40  # two of three folds of the 60 training images
    train_proba = out["arrays"]["train_proba"].astype(np.float32)
    assert train_proba.shape == (60, 10)  # a teacher's targets cover the whole standard training split
    np.testing.assert_allclose(train_proba.sum(axis=1), 1, atol=1e-2)
    per_view = out["arrays"]["train_proba_shifts"].astype(np.float32)
    assert per_view.shape == (60, 9, 10)  # one row per translation of augment.shift_views(1)
    np.testing.assert_array_equal(per_view[:, augment.shift_views(1).index((0, 0))], train_proba)
    assert not np.allclose(per_view[:, 0], train_proba)
    assert 0 <= out["fold_accuracy"] <= 1 and set(out["tta"]) == {"val_accuracy", "test_accuracy"}
    assert out["history"]["lr"][-1] < out["history"]["lr"][0] < 0.01  # decays within the first epoch already
    proba = out["arrays"]["test_proba_tta"].astype(np.float32)
    assert proba.shape == (20, 10)
    assert out["tta"]["test_accuracy"] == pytest.approx((proba.argmax(1) == np.arange(80, 100) % 10).mean())
    with pytest.raises(ValueError, match="cv_fold must be"):
        keras_models.train_keras({**config, "cv_fold": [3, 3]})
    with pytest.raises(ValueError, match="schedule must be"):
        keras_models.train_keras({**config, "cv_fold": None, "optimizer": {"name": "adam", "schedule": "step"}})


def test_random_erasing_blanks_about_half_the_factor_of_images():
    # build_cnn's docstring promises this rate; Keras draws the probability from [0, factor]
    keras_models._keras().utils.set_random_seed(0)
    model = keras_models.build_cnn(filters=(4,), dense=(), erase=0.5)
    erase = next(layer for layer in model.layers if type(layer).__name__ == "RandomErasing")
    x = np.full((2000, 28, 28, 1), 0.5, dtype=np.float32)
    changed = (np.asarray(erase(x, training=True)) == 0).reshape(len(x), -1)
    erased = changed.any(axis=1)
    assert 0.2 < erased.mean() < 0.3
    areas = changed[erased].mean(axis=1)
    assert 0.02 <= areas.min() and areas.max() <= 0.22  # 2-20 % of the area, rounded to whole pixels


def test_refit_on_train_and_val_trains_on_both_and_reports_no_validation(tiny_splits):
    config = {"model": {"kind": "cnn", "filters": [4], "dense": [], "flip": True}, "batch_size": 16, "epochs": 2,
              "optimizer": {"name": "adamw", "learning_rate": 0.01, "schedule": "cosine"}, "seed": 0,
              "flip_tta": True, "store_test_proba": True, "fit_on": "train+val", "verbose": False, "tta_shifts": [1]}
    out = keras_models.train_keras(config)
    assert out["n_train"] == 80  # the 60 training images and the 20 validation images
    assert "val_accuracy" not in out and "val_accuracy" not in out["history"] and set(out["tta"]) == {"test_accuracy"}
    assert out["best_epoch"] == out["epochs"] == 2 and out["arrays"]["test_proba_tta"].shape == (20, 10)
    assert set(out["tta_views"]) == {"flip+shift1"} and set(out["tta_views"]["flip+shift1"]) == {"test_accuracy"}
    assert out["arrays"]["test_proba_flip+shift1"].shape == (20, 10)
    with pytest.raises(ValueError, match="drop early_stopping"):
        keras_models.train_keras({**config, "early_stopping": {"patience": 3}})
    with pytest.raises(ValueError, match="fit_on must be"):
        keras_models.train_keras({**config, "fit_on": "val"})


def test_shift_tta_averages_ten_views():
    class Recorder:  # a stand-in model: the k-th view it is shown scores k for every class
        views: list = []

        def predict(self, x, **kwargs):
            self.views.append(x.copy())
            return np.full((len(x), 10), float(len(self.views)))

    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    model = Recorder()
    proba = keras_models.shift_tta_proba(model, x, 2)
    assert len(model.views) == 10 and np.allclose(proba, 5.5)
    assert (model.views[0] == x).all() and (model.views[2] == augment.shift_images(x, 2, 0)).all()
    assert (model.views[5] == augment.flip_horizontal(x)).all()
    assert (model.views[9] == augment.flip_horizontal(augment.shift_images(x, 0, 2))).all()
