"""Keras builders for the reports' MLPs and CNNs.

One small builder per architecture family, parameterised the way the reports varied it:

- ``build_mlp(hidden, dropout, batch_norm, ...)``: report 004's dense networks and the
  side-by-side check against our NumPy MLP;
- ``build_cnn(filters, kernel_size, dense, ...)``: conv blocks (conv, optional batch norm, ReLU,
  max pool, optional dropout) with the filters of each block, then dense layers.

TensorFlow is imported lazily (``import_keras``), with its C++ log lines silenced, so ``fmnist_utils`` stays light.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


def import_keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow's ops deterministic (same machine, same history)."""
    keras = import_keras()
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build_mlp(hidden: Sequence[int] = (128, 128), activation: str = "relu", dropout: float = 0.0,
              batch_norm: bool = False, init: str = "glorot_uniform", n_inputs: int = 784, n_classes: int = 10):
    """Dense -> activation [-> batch norm] [-> dropout] per hidden layer (our NumPy MLP's order), softmax output."""
    keras = import_keras()
    layers = [keras.Input((n_inputs,))]
    for units in hidden:
        layers += [keras.layers.Dense(units, kernel_initializer=init), keras.layers.Activation(activation)]
        if batch_norm:
            layers.append(keras.layers.BatchNormalization())
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=init))
    return keras.Sequential(layers)


def build_cnn(filters: Sequence[int] = (32, 64, 128), kernel_size: int = 3, dense: Sequence[int] = (128,),
              batch_norm: bool = False, dropout: float = 0.0, pool: bool = True, padding: str = "same",
              pool_padding: str = "valid", convs_per_block: int | Sequence[int] = 1, global_pool: bool = False,
              dense_dropout: float | None = None, flip: bool = False, shift: float = 0.0, erase: float = 0.0,
              bn_momentum: float = 0.99, input_shape: tuple[int, int, int] = (28, 28, 1), n_classes: int = 10):
    """Conv blocks (``convs_per_block`` × (conv [-> batch norm] -> ReLU) [-> 2x2 max pool] [-> dropout]), flatten
    (or global average pooling), dense ReLU layers [-> dropout], softmax. ``convs_per_block`` is one count for
    every block or one per block.

    ``filters`` gives each block's filter count, e.g. (8, 16, 32) for report 004's doubling; ``pool_padding="same"``
    pools 7x7 to 4x4 as report 004 did (``"valid"``: to 3x3). ``dense_dropout`` defaults to ``dropout``.
    ``bn_momentum`` is batch norm's moving-average momentum (Keras's 0.99 by default); runs of a few hundred steps
    need a lower one (0.9), or the statistics used at inference are still far from the data's and accuracy collapses.
    Augmentation layers, active only while training: ``flip`` (random horizontal flips), ``shift`` (random
    translations up to that fraction of the image) and ``erase`` (Keras's ``RandomErasing`` factor: about
    ``erase / 2`` of the images are erased, each with a blank rectangle of about 2-20 % of its area).
    """
    keras = import_keras()
    layers = [keras.Input(input_shape)]
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal"))
    if shift:
        layers.append(keras.layers.RandomTranslation(shift, shift, fill_mode="constant"))
    if erase:
        layers.append(keras.layers.RandomErasing(factor=erase, scale=(0.02, 0.2), fill_value=0.0))
    counts = [convs_per_block] * len(filters) if isinstance(convs_per_block, int) else list(convs_per_block)
    if len(counts) != len(filters):
        raise ValueError(f"convs_per_block needs one count per block ({len(filters)}), got {convs_per_block}")
    for f, n_convs in zip(filters, counts):
        for _ in range(n_convs):
            layers.append(keras.layers.Conv2D(f, kernel_size, padding=padding, use_bias=not batch_norm))
            if batch_norm:
                layers.append(keras.layers.BatchNormalization(momentum=bn_momentum))
            layers.append(keras.layers.Activation("relu"))
        if pool:
            layers.append(keras.layers.MaxPooling2D(padding=pool_padding))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.GlobalAveragePooling2D() if global_pool else keras.layers.Flatten())
    dense_dropout = dropout if dense_dropout is None else dense_dropout
    for units in dense:
        layers.append(keras.layers.Dense(units, activation="relu"))
        if dense_dropout:
            layers.append(keras.layers.Dropout(dense_dropout))
    if global_pool and dense_dropout and not dense:
        layers.append(keras.layers.Dropout(dense_dropout))
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(layers)


BUILDERS = {"mlp": build_mlp, "cnn": build_cnn}


def build_model(model_config: dict):
    """The model a run configuration describes: ``{"kind": "mlp" | "cnn", ...builder arguments}``."""
    arguments = dict(model_config)
    kind = arguments.pop("kind")
    if kind not in BUILDERS:
        raise ValueError(f"model kind must be one of {sorted(BUILDERS)}, got {kind!r}")
    return BUILDERS[kind](**arguments)


def make_optimizer(name: str = "adam", learning_rate: float = 1e-3, **kwargs):
    """Keras optimizer by name: sgd (with momentum / nesterov keywords), adam, nadam, amsgrad, adamw."""
    keras = import_keras()
    if name == "amsgrad":
        return keras.optimizers.Adam(learning_rate, amsgrad=True, **kwargs)
    optimizers = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam, "nadam": keras.optimizers.Nadam,
                  "adamw": keras.optimizers.AdamW}
    if name not in optimizers:
        raise ValueError(f"optimizer name must be one of {sorted(optimizers) + ['amsgrad']}, got {name!r}")
    return optimizers[name](learning_rate, **kwargs)


def flops_per_image(model) -> int:
    """Multiply-adds × 2 of one forward pass through the model's Conv2D and Dense layers (the rest is negligible).

    Conv2D: 2 · H_out · W_out · k_h · k_w · C_in · C_out; Dense: 2 · inputs · units.
    """
    keras = import_keras()
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            k_h, k_w = layer.kernel_size
            total += 2 * h * w * k_h * k_w * layer.input.shape[-1] * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return int(total)
