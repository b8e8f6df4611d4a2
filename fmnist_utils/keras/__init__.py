"""Keras models of the reports and their trainer.

- ``builders``: ``build_mlp``, ``build_cnn``, ``build_model`` (from a run configuration), optimizers, FLOP counts
- ``train``: ``train_keras``, the runner's trainer for Keras experiments (callbacks, test-time augmentation)

This package is named after the library it wraps; inside it, ``import keras`` is still the library (absolute
imports), which ``builders.import_keras`` loads lazily with TensorFlow's C++ log lines silenced.
"""
