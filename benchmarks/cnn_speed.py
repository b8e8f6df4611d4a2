"""Seconds per training epoch of the reports' CNNs on this machine, for planning CNN budgets (not part of CI).

Each model trains (Adam, batch 128) on a class-balanced part of the training split for two epochs; the first
builds the graph and is left out, the second is scaled up to the 48,000 training images. Prints parameters,
forward FLOPs per image and the extrapolated seconds per epoch; validation is not included.

Usage: python benchmarks/cnn_speed.py [IMAGES]   (default 4,800; `make bench-cnn`)
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fmnist_utils.data import load_splits, stratified_subset  # noqa: E402
from fmnist_utils.keras.builders import build_model, flops_per_image, make_optimizer, set_seed

REPORT_004 = {"kernel_size": 3, "dense": [], "pool_padding": "same", "batch_norm": True, "dropout": 0.25}
MODELS = {
    "000 tuned: 8-8 filters, dense 128-128": {"filters": [8, 8], "dense": [128, 128]},
    "000 untuned: 32-32 filters, dense 128-128": {"filters": [32, 32], "dense": [128, 128]},
    "004 baseline: 8 filters, BN, dropout": {"filters": [8], **REPORT_004},
    "004 depth: 8-16-32-64, BN, dropout": {"filters": [8, 16, 32, 64], **REPORT_004},
    "32-64-128, dense 128": {"filters": [32, 64, 128], "dense": [128]},
    "004 grid [3, 32]: 32-64-128, BN, dropout": {"filters": [32, 64, 128], **REPORT_004},
    "004 grid [3, 64]: 64-128-256, BN, dropout": {"filters": [64, 128, 256], **REPORT_004},
    "004 final: 128-256-512, BN, dropout": {"filters": [128, 256, 512], **REPORT_004},
}


def seconds_per_epoch(model_args: dict, x, y, n_full: int = 48_000) -> float:
    set_seed(0)
    model = build_model({"kind": "cnn", **model_args})
    model.compile(make_optimizer("adam"), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    return (time.perf_counter() - start) * n_full / len(y)


def main(n_images: int = 4_800) -> None:
    data = load_splits("scale", flat=False)
    x, y = stratified_subset(data.x_train, data.y_train, n_images)
    print(f"{'model':45s} {'parameters':>10s} {'MFLOPs/image':>12s} {'s/epoch (48k)':>13s}")
    for name, args in MODELS.items():
        model = build_model({"kind": "cnn", **args})
        print(f"{name:45s} {model.count_params():>10,d} {flops_per_image(model) / 1e6:>12.2f} "
              f"{seconds_per_epoch(args, x, y):>13.1f}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4_800)
