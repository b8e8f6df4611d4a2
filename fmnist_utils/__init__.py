"""fmnist_utils: the machinery of the fmnist-report notebooks, in layers that import one way (ARCHITECTURE.md).

- ``paths``: where things live; atomic writes
- ``data``: load and verify Fashion-MNIST, preprocessing, the 48k/12k split
- ``augment``: flips and shifts of images, fixed and random (both trainers use them)
- ``nn``: the from-scratch NumPy network: layers, losses, optimizers with their schedules, ``nn.gradcheck``
- ``training``: the NumPy training loop, early stopping, the divergence guard
- ``mlp``: ``MLPClassifier``, the NumPy network as a scikit-learn estimator
- ``keras``: Keras builders for the reports' MLPs and CNNs, and their trainer
- ``runs``: the run store in ``results/``, the trainers it calls, selection, searches, distillation
- ``report``: tables, figures, the series summary, evaluation (calibration, McNemar), the export check
"""

from .data import CLASS_NAMES, load_fashion_mnist, load_splits
from .paths import REPO_URL

__all__ = ["CLASS_NAMES", "REPO_URL", "load_fashion_mnist", "load_splits"]
__version__ = "0.1.0"
