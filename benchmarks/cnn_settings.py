"""What makes CPU training of a CNN faster at equal accuracy (not part of CI; `make bench-cnn-settings`).

The 32-64-128 network of report 004's grid (batch norm, dropout 0.25) trains two epochs on the full 48,000-image
training split under each setting, each in a fresh process (thread counts, oneDNN and the Keras backend are fixed
when the library loads). The first epoch builds the graph and is reported apart; the second is the cost of an epoch.
Validation accuracy after the two epochs checks that a faster setting is not a worse one. Run it on an idle machine:
a timing taken while something else runs is no benchmark.

Usage: python benchmarks/cnn_settings.py [SETTING ...]   (default: all; writes results/benchmarks/cnn_settings.csv)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

#: name -> (environment, batch size). Threads: TensorFlow's intra-op / inter-op pools (default: one per core).
SETTINGS: dict[str, tuple[dict[str, str], int]] = {
    "TensorFlow, defaults, batch 128": ({}, 128),
    "TensorFlow, intra 2 / inter 1 threads": ({"TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "1"}, 128),
    "TensorFlow, 1 thread": ({"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}, 128),
    "TensorFlow, oneDNN off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, 128),
    "TensorFlow, batch 64": ({}, 64),
    "TensorFlow, batch 256": ({}, 256),
    "JAX backend, batch 128": ({"KERAS_BACKEND": "jax"}, 128),
    "JAX backend, batch 256": ({"KERAS_BACKEND": "jax"}, 256),
}
MODEL = {"kind": "cnn", "filters": [32, 64, 128], "kernel_size": 3, "dense": [], "pool_padding": "same",
         "batch_norm": True, "dropout": 0.25}
OUT = Path(__file__).resolve().parent.parent / "results" / "benchmarks" / "cnn_settings.csv"


def measure(batch_size: int) -> dict:
    """Two epochs in this process: seconds of each and validation accuracy after them (channels last, Adam)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from fmnist_utils.data import load_splits
    from fmnist_utils.keras.builders import build_model, make_optimizer

    keras.utils.set_random_seed(0)
    data = load_splits("scale", flat=False)
    model = build_model(MODEL)
    model.compile(make_optimizer("adam"), "sparse_categorical_crossentropy", metrics=["accuracy"])
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        model.fit(data.x_train, data.y_train, batch_size=batch_size, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - start)
    _, accuracy = model.evaluate(data.x_val, data.y_val, batch_size=1024, verbose=0)
    return {"backend": keras.backend.backend(), "first_epoch_s": round(seconds[0], 1),
            "epoch_s": round(seconds[1], 1), "val_accuracy": round(float(accuracy), 4)}


def main(names: list[str]) -> None:
    import pandas as pd

    rows = []
    for name in names or SETTINGS:
        env, batch = SETTINGS[name]
        result = subprocess.run([sys.executable, __file__, "--one", str(batch)], env={**os.environ, **env},
                                capture_output=True, text=True, check=True)
        rows.append({"setting": name, "batch": batch, **json.loads(result.stdout.strip().splitlines()[-1])})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["speed-up"] = (table["epoch_s"].iloc[0] / table["epoch_s"]).round(2)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT, index=False, lineterminator="\n")
    print(table.to_string(index=False))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main(sys.argv[1:])
