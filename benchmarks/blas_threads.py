"""Which BLAS thread count trains our NumPy MLP fastest, idle and with one core busy (not part of CI).

For each network and batch size: the median seconds per epoch of epochs 2 to ``EPOCHS`` on the 48,000-image
training split (the first is left out: buffers and BLAS warm up) at 1 and at 2 OpenBLAS threads, idle and with a
process spinning on one core. This is what ``training.ONE_THREAD_MAX_MACS`` is read from: the largest mini-batch
product below which one thread is as fast idle and much faster busy. Then notebook 03's best MLP (3 x 1024, batch
norm, Adam, shifts and flips) under the code of an earlier commit (``--before COMMIT``, checked out into a temporary
git worktree) and under this one, each at its own thread choice, in ``PAIRED_REPEATS`` alternating pairs of fresh
processes: the median of each side, so that a drift in the machine's speed (a shared virtual machine's neighbours)
hits both alike. Writes results/benchmarks/blas_threads.csv. Run it on an otherwise idle machine.

Usage: python benchmarks/blas_threads.py [--before COMMIT]   (or `make bench-threads`)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "benchmarks" / "blas_threads.csv"
#: name -> (hidden layers, MLPClassifier options, training images, batch sizes). The big network trains on a
#: class-balanced quarter of the split: its epoch would take minutes busy, and only ratios are read from it.
NETWORKS = {
    "784-128-128-10, SGD": ((128, 128), {"solver": "sgd", "momentum": 0.0, "learning_rate_init": 0.1}, 48000,
                            (32, 128, 256)),
    "3 x 1024 + batch norm, Adam, shifts and flips (notebook 03's best)": ((1024, 1024, 1024), {
        "solver": "adam", "learning_rate_init": 5e-4, "batch_norm": True, "dropout": 0.025, "augment_shift": 2,
        "augment_flip": True}, 12000, (128, 256)),
}
CASES = [(name, batch) for name, (*_, batches) in NETWORKS.items() for batch in batches]
EPOCHS = 4
PAIRED_REPEATS = 3


def epoch_seconds(name: str, batch: int, threads: int | None) -> float:
    """The median seconds of epochs 2 to ``EPOCHS`` of ``NETWORKS[name]`` at ``batch`` under ``threads`` BLAS threads
    (None: the trainer's own choice, or the library default for code without a thread policy)."""
    from threadpoolctl import threadpool_limits

    from fmnist_utils.data import load_splits, stratified_subset
    from fmnist_utils.mlp import MLPClassifier

    if threads is not None:
        os.environ["FMNIST_BLAS_THREADS"] = str(threads)  # honoured by the trainer; harmless for older code
    data = load_splits("scale")
    hidden, options, images, _ = NETWORKS[name]
    x, y = stratified_subset(data.x_train, data.y_train, images, seed=0) if images < len(data.y_train) else (
        data.x_train, data.y_train)
    clf = MLPClassifier(hidden, batch_size=batch, max_iter=EPOCHS, n_iter_no_change=None, alpha=0.0, random_state=0,
                        **options)
    with threadpool_limits(threads, user_api="blas"):
        clf.fit(x, y)
    return float(np.median(clf.history_["seconds"][1:]))


def in_fresh_process(args: list[str], env: dict[str, str] | None = None) -> float:
    result = subprocess.run([sys.executable, __file__, "--one", *args], capture_output=True, text=True, check=True,
                            env={**os.environ, **(env or {})})
    return json.loads(result.stdout.strip().splitlines()[-1])


def rows_for(load: str, before: Path | None) -> list[dict]:
    rows = []
    for name, batch in CASES:
        for threads in (1, 2):
            rows.append({"code": "this commit", "network": name, "train_images": NETWORKS[name][2], "batch": batch,
                         "threads": threads, "load": load,
                         "epoch_s": round(in_fresh_process([name, str(batch), str(threads)]), 3)})
            print(rows[-1], flush=True)
    if before is not None:  # notebook 03's best MLP under the older code and this one, alternately
        name = list(NETWORKS)[1]
        seconds: dict[str, list[float]] = {"this commit": [], "before": []}
        for _ in range(PAIRED_REPEATS):
            seconds["this commit"].append(in_fresh_process([name, "128", "0"]))
            seconds["before"].append(in_fresh_process([name, "128", "0"], {"FMNIST_BENCH_CODE": str(before)}))
        for code, values in seconds.items():
            rows.append({"code": f"{code}, paired", "network": name, "train_images": NETWORKS[name][2], "batch": 128,
                         "threads": "its own", "load": load, "epoch_s": round(float(np.median(values)), 3),
                         "each run": " ".join(f"{v:.3f}" for v in values)})
            print(rows[-1], flush=True)
    return rows


def main(before_commit: str | None) -> None:
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        before = None
        if before_commit:
            before = Path(tmp) / "before"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), before_commit],
                           check=True, capture_output=True)
        try:
            rows = rows_for("idle", before)
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                rows += rows_for("one core busy", before)
            finally:
                spinner.kill()
        finally:
            if before is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=True)
    table = pd.DataFrame(rows)
    table.insert(0, "before_commit", before_commit or "")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT, index=False, lineterminator="\n")
    print(table.to_string(index=False))


def use_code_from(folder: str) -> None:
    """Import ``fmnist_utils`` from ``folder`` (an older commit's worktree), not from the editable install, whose
    import hook would otherwise win over ``sys.path``."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if "__editable__" not in type(finder).__module__
                        and "__editable__" not in getattr(finder, "__name__", "")]
    sys.path.insert(0, folder)


if __name__ == "__main__":
    if os.environ.get("FMNIST_BENCH_CODE"):
        use_code_from(os.environ["FMNIST_BENCH_CODE"])
    if sys.argv[1:2] == ["--one"]:
        name, batch, threads = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(epoch_seconds(name, batch, threads or None)))
    else:
        main(sys.argv[2] if sys.argv[1:2] == ["--before"] else None)
