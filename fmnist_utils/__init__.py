"""fmnist_utils: what the fmnist-report notebooks share.

- ``data``: load and verify Fashion-MNIST, preprocessing, the 48k/12k split
- ``augment``: flips and shifts of images, fixed and random (both trainers use them)
- ``nn``: the from-scratch NumPy network: layers, losses, optimizers with their schedules, ``nn.gradcheck``
- ``training``: the NumPy training loop, early stopping, the divergence guard
- ``mlp``: ``MLPClassifier``, the NumPy network as a scikit-learn estimator
- ``keras_models``: Keras builders for the reports' MLPs and CNNs, their trainer, keras-tuner grids
- ``experiments``: the runner and its cache in ``results/``
- ``evaluation``: confused pairs, calibration, McNemar's test
- ``summary``: the series summary (reports' numbers beside ours) and the README's headline table
- ``plotting``: plot style, shared plots, export of figures and tables
"""

from .data import CLASS_NAMES, load_fashion_mnist, load_splits
from .paths import REPO_URL

__all__ = ["CLASS_NAMES", "REPO_URL", "load_fashion_mnist", "load_splits"]
__version__ = "0.1.0"
