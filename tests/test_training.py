"""The NumPy training loop apart from the estimator: Trainer, its log, the divergence guard and the callbacks."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from fmnist_utils import training
from fmnist_utils.nn import SGD, Adam, Network, build_network
from fmnist_utils.training import (
    Callback,
    EarlyStopping,
    LossPlateau,
    ProgressBar,
    Trainer,
    TrainingLog,
    loss_diverged,
    unusable_after_update,
)


def blobs(n=120, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, d))
    y = rng.integers(0, classes, n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def make_trainer(optimizer=None, callbacks=(), hidden=(8,), d=6, classes=3, **kwargs):
    rng = np.random.default_rng(0)
    net = build_network(d, classes, hidden, rng=rng)
    kwargs.setdefault("batch_size", 32)
    return Trainer(net, optimizer or SGD(0.05), rng, TrainingLog(), callbacks=callbacks, **kwargs)


class StopAfter(Callback):
    def __init__(self, epochs):
        self.epochs, self.seen, self.ended = epochs, 0, None

    def on_epoch_end(self, trainer):
        self.seen += 1
        return trainer.log.n_iter >= self.epochs

    def on_train_end(self, trainer, diverged):
        self.ended = diverged


def test_fit_records_every_epoch_and_mini_batch():
    X, y = blobs()
    trainer = make_trainer()
    assert trainer.fit(X, y, epochs=3, X_val=X[:30], y_val=y[:30])
    log = trainer.log
    assert log.n_iter == 3 and log.t == 3 * len(y) and len(log.batch_loss) == 3 * 4  # ceil(120 / 32) batches
    assert all(len(log.history[k]) == 3 for k in training.HISTORY_KEYS)
    assert log.history["train_loss"][-1] < log.history["train_loss"][0]
    assert log.diverged_epoch is None and log.first_batch_loss == log.batch_loss[0]


def test_a_callback_stops_training_and_every_callback_still_runs():
    X, y = blobs()
    stop, watcher = StopAfter(2), StopAfter(99)
    trainer = make_trainer(callbacks=[stop, watcher])
    assert trainer.fit(X, y, epochs=10)
    assert trainer.log.n_iter == 2 and watcher.seen == 2  # the stop did not skip the callback after it
    assert stop.ended is False and watcher.ended is False


def test_the_optimizer_moves_its_rate_when_the_trainer_ends_an_epoch():
    X, y = blobs()
    trainer = make_trainer(SGD(0.1, schedule="step", step_size=1, step_factor=0.5))
    trainer.fit(X, y, epochs=3)
    assert trainer.log.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert trainer.optimizer.learning_rate == pytest.approx(0.0125)  # ready for a fourth epoch (warm start)


def test_early_stopping_restores_the_best_epoch():
    X, y = blobs(200, seed=1)
    X_val = X[:80] + np.random.default_rng(5).normal(0, 4, (80, 6)).astype(np.float32)  # noisy: val peaks early
    stopping = EarlyStopping(patience=3, tol=0.0, monitor="val_loss")
    trainer = make_trainer(Adam(0.05), [stopping], hidden=(64,))
    trainer.fit(X, y, epochs=200, X_val=X_val, y_val=y[:80])
    losses = trainer.log.history["val_loss"]
    assert trainer.log.n_iter == stopping.best_epoch + 3 < 200
    assert stopping.best_epoch == int(np.argmin(losses)) + 1
    assert trainer.evaluate(X_val, y[:80])[0] == pytest.approx(min(losses), rel=1e-5)
    assert stopping.best_validation_score == max(trainer.log.history["val_accuracy"])


def test_early_stopping_needs_validation_data():
    X, y = blobs()
    with pytest.raises(ValueError, match="needs validation data"):
        make_trainer(callbacks=[EarlyStopping(3, 0.0)]).fit(X, y, epochs=2)
    with pytest.raises(ValueError, match="monitor"):
        EarlyStopping(3, 0.0, monitor="accuracy")


def test_loss_plateau_stops_when_the_training_loss_stalls():
    X, y = blobs()
    plateau = LossPlateau(patience=2, tol=10.0)  # only the first epoch improves (on inf) by 10: two more, stop
    trainer = make_trainer(callbacks=[plateau])
    trainer.fit(X, y, epochs=50)
    assert trainer.log.n_iter == 3 and plateau.best_loss == min(trainer.log.history["train_loss"])
    carried = LossPlateau(patience=1, tol=0.0, best_loss=0.0)  # a best loss from an earlier fit carries over
    trainer = make_trainer(callbacks=[carried])
    trainer.fit(X, y, epochs=50)
    assert carried.best_loss == 0.0 and trainer.log.n_iter == 1


def test_divergence_guard():
    assert loss_diverged(float("nan"), 1.0, None) and loss_diverged(float("inf"), 1.0, 1e3)
    assert loss_diverged(2000.0, 1.0, 1e3) and not loss_diverged(2000.0, 1.0, None)
    net = build_network(3, 2, (), rng=np.random.default_rng(0))
    x = np.ones((2, 3), np.float32)
    assert not unusable_after_update(net, x)
    net.dense_layers[0].params["W"][...] = 3e38  # finite, but their sums overflow float32
    assert unusable_after_update(net, x)
    net.dense_layers[0].params["b"][0] = np.nan
    assert unusable_after_update(net, x)


@pytest.mark.parametrize("validation", [False, True])
def test_diverging_fit_stops_and_says_when(validation):
    X, y = blobs()
    stop = StopAfter(99)
    trainer = make_trainer(SGD(1e30), [stop], batch_size=1000)  # one mini-batch: its update is the epoch's last
    with np.errstate(over="ignore", invalid="ignore"):
        finished = trainer.fit(X, y, epochs=3, **({"X_val": X, "y_val": y} if validation else {}))
    assert not finished and trainer.log.diverged_epoch == 1 and trainer.log.n_iter == 0
    assert stop.seen == 0 and stop.ended is True


def test_per_view_soft_targets_follow_the_view_each_image_got(monkeypatch):
    rng = np.random.default_rng(0)
    X, y = rng.random((60, 784), dtype=np.float32), np.arange(60) % 10
    soft = np.broadcast_to(np.eye(10)[:9], (len(y), 9, 10))  # view v's target: class v
    seen = []
    augment, loss_and_grads = training.augment_batch, Network.loss_and_grads

    def spy_augment(*args, **kwargs):
        out = augment(*args, **kwargs)
        seen.append([out[1]])
        return out

    def spy_loss(self, x, targets):
        seen[-1].append(targets)
        return loss_and_grads(self, x, targets)

    monkeypatch.setattr(training, "augment_batch", spy_augment)
    monkeypatch.setattr(Network, "loss_and_grads", spy_loss)
    make_trainer(d=784, classes=10, batch_size=60, augment_shift=1).fit(X, y, epochs=1, soft_targets=soft)
    assert len(seen) == 1 and len(set(seen[0][0])) > 1
    np.testing.assert_array_equal(seen[0][1].argmax(axis=1), seen[0][0])


def test_progress_bar_shows_epochs_only_when_verbose(capsys):
    X, y = blobs()
    make_trainer(callbacks=[ProgressBar(2, verbose=False)]).fit(X, y, epochs=2)
    assert capsys.readouterr().err == ""
    bar = ProgressBar(2, verbose=True)
    make_trainer(callbacks=[bar]).fit(X, y, epochs=2, X_val=X, y_val=y)
    assert bar.bar.n == 2 and "val_acc" in str(bar.bar.postfix)


@pytest.mark.parametrize(("hidden", "batch", "threads"), [((16,), 32, 1), ((128, 128), 128, 1),
                                                          ((1024, 1024), 128, None)])
def test_blas_threads_follow_the_size_of_the_largest_product(hidden, batch, threads):
    net = build_network(784, 10, hidden, rng=np.random.default_rng(0))
    assert training.blas_threads(net, batch) == threads


@pytest.mark.parametrize("threads", ["auto", 2])
def test_trainer_trains_under_its_blas_thread_count(threads):
    seen = []

    class Record(Callback):
        def on_epoch_end(self, trainer):
            seen.append({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})
            return False

    x, y = blobs()
    net = build_network(6, 3, (8,), rng=np.random.default_rng(0))
    before = {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
    Trainer(net, SGD(0.1), np.random.default_rng(0), TrainingLog(), batch_size=16, callbacks=[Record()],
            threads=threads).fit(x, y, 1)
    assert seen == [{1 if threads == "auto" else 2}]
    assert {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"} == before


def test_blas_threads_from_the_environment(monkeypatch):
    net = build_network(784, 10, (1024, 1024), rng=np.random.default_rng(0))
    monkeypatch.setenv("FMNIST_BLAS_THREADS", "1")
    assert training.blas_threads(net, 128) == 1
    monkeypatch.setenv("FMNIST_BLAS_THREADS", "two")
    with pytest.raises(ValueError, match="FMNIST_BLAS_THREADS must be a positive whole number"):
        training.blas_threads(net, 128)
