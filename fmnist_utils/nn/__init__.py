"""The from-scratch NumPy network: ``layers`` (forward/backward pairs), ``losses`` (softmax cross-entropy),
``network`` (a stack of layers with penalties, ``build_network``), ``optim`` (SGD, Adam and their learning-rate
schedules) and ``gradcheck`` (finite-difference checks, imported on its own: it needs pandas).

It knows nothing of training loops (``fmnist_utils.training``) or of scikit-learn (``fmnist_utils.mlp``).
"""

from .layers import (
    ACTIVATIONS,
    BatchNorm,
    Buffers,
    Dense,
    Dropout,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
    init_weights,
)
from .losses import softmax, softmax_cross_entropy
from .network import Network, build_network
from .optim import SGD, Adam, Optimizer, scheduled_learning_rate

__all__ = [
    "ACTIVATIONS", "SGD", "Adam", "BatchNorm", "Buffers", "Dense", "Dropout", "Identity", "Layer", "LeakyReLU",
    "Network", "Optimizer", "ReLU", "Sigmoid", "Tanh", "build_network", "init_weights", "scheduled_learning_rate",
    "softmax", "softmax_cross_entropy",
]
