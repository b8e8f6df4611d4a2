"""Execute notebooks in place, reproducibly (no timing metadata), from the repository root.

Usage: python scripts/run_notebooks.py notebooks/01_data_exploration.ipynb [...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def run(path: Path, timeout: int = 4 * 3600) -> None:
    nb = nbformat.read(path, as_version=4)
    # C-level writes to stderr (TensorFlow's start-up log lines) stay out of the notebook, as under nbval, whose
    # kernels run under pytest and so never capture them: the committed outputs are what nbval compares against.
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            extra_arguments=["--IPKernelApp.capture_fd_output=False"],
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    for cell in nb.cells:  # keep the committed notebook free of run-dependent metadata
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


def main(paths: list[str]) -> None:
    for p in paths:
        start = time.perf_counter()
        print(f"executing {p} ...", flush=True)
        run(ROOT / p if not Path(p).is_absolute() else Path(p))
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
