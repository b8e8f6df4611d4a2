"""Seconds per epoch of our NumPy MLP and the same Keras model, on this machine, in one run.

784-128-128-10 ReLU, softmax cross-entropy, plain SGD (lr 0.1), batch 128, float32, Glorot-uniform
initialisation, all 60,000 training images, EPOCHS epochs each, for seeds 0, 1, 2. Prints the median
time per epoch (the first Keras epoch of each seed, which builds the graph, is left out), test accuracy
after the same epochs (mean +- std over seeds: one seed after a few SGD epochs moves by about a point),
their ratio, and achieved GFLOP/s against a large float32 matmul.

Usage: python benchmarks/mlp_speed.py [EPOCHS]   (or `make bench`)
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from fmnist_utils.data import flatten, load_fashion_mnist, scale_pixels  # noqa: E402
from fmnist_utils.mlp import MLPClassifier  # noqa: E402

SIZES = [784, 128, 128, 10]
BATCH, LR = 128, 0.1
SEEDS = (0, 1, 2)


def train_flops_per_epoch(n: int) -> float:
    """Multiply-adds x 2 of forward and backward passes (the first layer computes no input gradient)."""
    fwd = sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:]))
    bwd = 2 * fwd - SIZES[0] * SIZES[1]
    return 2.0 * n * (fwd + bwd)


def matmul_gflops(size: int = 4096, repeats: int = 5) -> float:
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def bench_numpy(x, y, x_test, y_test, epochs: int, seed: int) -> tuple[list[float], float]:
    clf = MLPClassifier(SIZES[1:-1], solver="sgd", momentum=0.0, learning_rate_init=LR, batch_size=BATCH,
                        max_iter=epochs, n_iter_no_change=None, alpha=0.0, init="glorot", random_state=seed)
    clf.fit(x, y)
    return clf.history_["seconds"], float(clf.score(x_test, y_test))


def bench_keras(x, y, x_test, y_test, epochs: int, seed: int) -> tuple[list[float], float]:
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((784,))] + [keras.layers.Dense(h, activation="relu") for h in SIZES[1:-1]]
                             + [keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.SGD(LR), "sparse_categorical_crossentropy", metrics=["accuracy"])
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[Timer()])
    return times[1:], float(model.evaluate(x_test, y_test, verbose=0)[1])


def run_seeds(bench, *args) -> tuple[float, np.ndarray]:
    """Median seconds per epoch over all seeds' epochs, and the test accuracy of each seed."""
    runs = [bench(*args, seed) for seed in SEEDS]
    return float(np.median([t for times, _ in runs for t in times])), np.array([acc for _, acc in runs])


def main(epochs: int = 5) -> None:
    (x, y), (x_test, y_test) = load_fashion_mnist()
    x, x_test = flatten(scale_pixels(x)), flatten(scale_pixels(x_test))
    print(f"784-128-128-10 ReLU, SGD lr {LR}, batch {BATCH}, float32, {len(x)} images, {epochs} epochs, "
          f"{os.cpu_count()} CPU cores")
    ours_s, ours_acc = run_seeds(bench_numpy, x, y, x_test, y_test, epochs)
    keras_s, keras_acc = run_seeds(bench_keras, x, y, x_test, y_test, epochs)
    peak = matmul_gflops()
    flops = train_flops_per_epoch(len(x))
    for name, sec, acc in [("NumPy MLP", ours_s, ours_acc), ("Keras", keras_s, keras_acc)]:
        print(f"{name:10s}: {sec:.3f} s/epoch, test accuracy {acc.mean():.4f} +- {acc.std(ddof=1):.4f} "
              f"(seeds {list(SEEDS)}), {flops / sec / 1e9:.1f} GFLOP/s")
    print(f"ratio     : ours / Keras = {ours_s / keras_s:.2f} (target <= 0.6); mean accuracy difference "
          f"{100 * (ours_acc.mean() - keras_acc.mean()):+.2f} points (target within +-0.5)")
    share = flops / ours_s / 1e9 / peak
    print(f"float32 4096x4096 matmul: {peak:.1f} GFLOP/s; the NumPy MLP reaches {share:.0%} of it")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
