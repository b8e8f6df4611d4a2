"""Colab only: install what Colab lacks for the series; each notebook's setup cell runs it from the clone.

Colab's own NumPy, TensorFlow and pandas stay; scikit-learn and Keras are raised to the minimum the code needs
(``fmnist_utils.paths.MINIMUM_VERSIONS``), and keras-tuner and tabulate are added.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fmnist_utils.paths import MINIMUM_VERSIONS  # noqa: E402

#: What Colab does not ship.
COLAB_LACKS = ["keras-tuner", "tabulate"]


def main() -> None:
    minimum = [f"{package}>={version}" for package, version in MINIMUM_VERSIONS.items()]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *minimum, *COLAB_LACKS], check=True)


if __name__ == "__main__":
    main()
