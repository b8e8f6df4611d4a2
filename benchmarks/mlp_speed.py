"""Seconds per epoch of our NumPy MLP against Keras and PyTorch on this CPU, idle and with one core busy.

The same run in each framework: 784-128-128-10 ReLU, softmax cross-entropy, plain SGD (lr 0.1), batch 128, float32,
Glorot-uniform weights and zero biases, all 60,000 training images shuffled each epoch, EPOCHS epochs for each of
seeds 0, 1, 2. "Busy" starts a process that spins on one core for the whole measurement, as another program on a
shared laptop or CI machine would. The seeds run one after another, each through every framework in turn. Reported:
the median seconds per epoch over every seed's epochs (Keras's first epoch, which builds its graph, left out) and
test accuracy after the same epochs (mean and std over seeds), so a faster setting is seen to be no worse a one.
PyTorch runs at 1 and 2 threads (``torch.set_num_threads``); ours under its thread policy (``training.blas_threads``:
one BLAS thread for this network) and at OpenBLAS's default 2.

Needs PyTorch (``pip install torch==2.13.0``, the CPU build on this machine's disk; `make bench` installs the bench
extra). Writes results/benchmarks/mlp_speed.csv and the README's speed table. Run it on an otherwise idle machine.

Usage: python benchmarks/mlp_speed.py [EPOCHS]   (or `make bench`)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fmnist_utils.data import flatten, load_fashion_mnist, scale_pixels  # noqa: E402
from fmnist_utils.mlp import MLPClassifier  # noqa: E402
from fmnist_utils.paths import REPO_ROOT  # noqa: E402
from fmnist_utils.report.summary import BENCH_END, BENCH_START, bench_markdown, replace_between_markers  # noqa: E402

SIZES = [784, 128, 128, 10]
BATCH, LR = 128, 0.1
SEEDS = (0, 1, 2)
OUT = Path(__file__).resolve().parent.parent / "results" / "benchmarks" / "mlp_speed.csv"
Bench = Callable[..., tuple[list[float], float]]


def bench_numpy(x, y, x_test, y_test, epochs: int, seed: int, threads: int | str | None = "auto"):
    """Our MLP (its trainer's thread policy unless ``threads`` is given): seconds per epoch, test accuracy."""
    clf = MLPClassifier(SIZES[1:-1], solver="sgd", momentum=0.0, learning_rate_init=LR, batch_size=BATCH,
                        max_iter=epochs, n_iter_no_change=None, alpha=0.0, init="glorot", random_state=seed)
    if threads != "auto":
        os.environ["FMNIST_BLAS_THREADS"] = str(threads)
    try:
        clf.fit(x, y)
    finally:
        os.environ.pop("FMNIST_BLAS_THREADS", None)
    return clf.history_["seconds"], float(clf.score(x_test, y_test))


def bench_keras(x, y, x_test, y_test, epochs: int, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((784,))] + [keras.layers.Dense(h, activation="relu") for h in SIZES[1:-1]]
                             + [keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.SGD(LR), "sparse_categorical_crossentropy", metrics=["accuracy"])
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[Timer()])
    return times[1:], float(model.evaluate(x_test, y_test, verbose=0)[1])


def bench_torch(x, y, x_test, y_test, epochs: int, seed: int, threads: int = 1):
    """The same network in PyTorch, eager mode, mini-batches by index as our trainer takes them."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    layers: list = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        linear = torch.nn.Linear(fan_in, fan_out)
        torch.nn.init.xavier_uniform_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    generator, times = torch.Generator().manual_seed(seed), []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(yt), generator=generator)
        for lo in range(0, len(yt), BATCH):
            idx = order[lo:lo + BATCH]
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    with torch.no_grad():
        accuracy = float((model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean())
    return times, accuracy


def measure(load: str, data: tuple, epochs: int) -> list[dict]:
    """Every candidate over every seed, seed by seed with the candidates in turn (so that a drift in the machine's
    speed, a shared virtual machine's neighbours, hits them alike): per candidate the median seconds per epoch and
    test accuracy (mean, std)."""
    runs: dict[str, list[tuple[list[float], float]]] = {name: [] for name, _, _ in CANDIDATES}
    for seed in SEEDS:
        for name, bench, options in CANDIDATES:
            runs[name].append(bench(*data, epochs, seed, **options))
    rows = []
    for name, results in runs.items():
        accuracy = np.array([acc for _, acc in results])
        rows.append({"framework": name, "load": load,
                     "s_per_epoch": round(float(np.median([t for times, _ in results for t in times])), 3),
                     "test_accuracy_mean": round(float(accuracy.mean()), 4),
                     "test_accuracy_std": round(float(accuracy.std(ddof=1)), 4)})
        print(rows[-1], flush=True)
    return rows


CANDIDATES: list[tuple[str, Bench, dict]] = [
    ("ours, NumPy (thread policy: 1 BLAS thread)", bench_numpy, {}),
    ("ours, NumPy (OpenBLAS default, 2 threads)", bench_numpy, {"threads": 2}),
    ("PyTorch, 1 thread", bench_torch, {"threads": 1}),
    ("PyTorch, 2 threads", bench_torch, {"threads": 2}),
    ("Keras (TensorFlow)", bench_keras, {}),
]


def main(epochs: int = 5) -> None:
    (x, y), (x_test, y_test) = load_fashion_mnist()
    data = (flatten(scale_pixels(x)), y, flatten(scale_pixels(x_test)), y_test)
    rows = []
    for load in ("idle", "one core busy"):
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "idle" else None
        try:
            rows += measure(load, data, epochs)
        finally:
            if spinner is not None:
                spinner.kill()
    table = pd.DataFrame(rows)
    torch_best = table[table["framework"].str.startswith("PyTorch")].groupby("load")["s_per_epoch"].min()
    table["x PyTorch's best"] = (table["s_per_epoch"] / table["load"].map(torch_best)).round(2)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT, index=False, lineterminator="\n")
    replace_between_markers(REPO_ROOT / "README.md", BENCH_START, BENCH_END, bench_markdown(table))
    print(f"784-128-128-10 ReLU, SGD lr {LR}, batch {BATCH}, float32, {len(y)} images, {epochs} epochs, seeds "
          f"{list(SEEDS)}, {os.cpu_count()} CPU cores\n{table.to_string(index=False)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
