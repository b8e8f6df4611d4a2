"""Computations that are not training but are stored like runs, because their digits are round-off.

A t-SNE embedding or a finite-difference error at ε = 1e-10 changes with the CPU, the BLAS kernel and the thread
count; computed at replay, it would redraw a committed figure differently on every machine. So notebooks ask
``run_experiment`` for them like for a training run: computed once, stored in ``results/``, replayed everywhere.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from ..data import flatten, load_fashion_mnist, scale_pixels, stratified_subset
from ..mlp import MLPClassifier
from ..nn import Network, gradcheck


def first_image_of_each_class() -> tuple[np.ndarray, np.ndarray]:
    """The first training image of each class, as float64 pixels in [0, 1]: x (10, 784), y (10,) = 0..9.

    The gradient checks' inputs: real images, few enough for finite differences over every weight.
    """
    (x_all, y_all), _ = load_fashion_mnist()
    first = [int(np.flatnonzero(y_all == k)[0]) for k in range(10)]
    return flatten(scale_pixels(x_all[first], "float64")), y_all[first].astype(np.int64)


def small_network(x: np.ndarray, y: np.ndarray, hidden: tuple[int, ...] = (16, 16), **params) -> Network:
    """A float64 network after one epoch on ``(x, y)`` (seed 0), so its weights are not the initial ones;
    ``params`` are further ``MLPClassifier`` keyword arguments (activation, batch norm, penalties...)."""
    clf = MLPClassifier(hidden, dtype="float64", max_iter=1, random_state=0, n_iter_no_change=None, **params)
    return clf.fit(x, y).network_


def perturbation_curves(config: dict) -> dict:
    """Relative error of centered differences against ε for single elements of the first layer's parameters.

    config: ``network`` (``small_network`` keyword arguments), ``eps_values`` and ``elements`` (parameter name ->
    list of element indices of layer 0). Returns ``errors``: parameter name -> one relative error per ε.
    """
    x, y = first_image_of_each_class()
    net = small_network(x, y, **config["network"])
    errors = {name: gradcheck.perturbation_errors(net, x, y, 0, name, [tuple(e) for e in elements],
                                                  config["eps_values"])
              for name, elements in config["elements"].items()}
    return {"errors": errors}


def single_weight_check(config: dict) -> dict:
    """Report 003's Figure 3: backprop against a centered difference with a large ε for single parameters.

    config: ``network`` (``small_network`` keyword arguments), ``picks`` (``[layer index, parameter name, element
    index]`` triples) and ``eps``. Returns ``rows`` (parameter, numerical, backprop, difference, as
    ``gradcheck.check_single_weights``) and ``differences``, their absolute differences.
    """
    x, y = first_image_of_each_class()
    net = small_network(x, y, **config["network"])
    picks = [(layer, name, tuple(element)) for layer, name, element in config["picks"]]
    table = gradcheck.check_single_weights(net, x, y, picks, eps=config["eps"])
    return {"rows": table.to_dict("records"), "differences": [float(d) for d in table["difference"]]}


def embedding_2d(config: dict) -> dict:
    """PCA and t-SNE (initialised with PCA) of a stratified subset of scaled training images.

    config: ``n`` images, ``seed``, ``pca_components`` (t-SNE runs on these) and ``perplexity``. Returns the
    variance the first 2 and all components explain, and ``arrays``: ``pca`` and ``tsne`` (n, 2) coordinates and
    the images' ``labels``.
    """
    (x_train, y_train), _ = load_fashion_mnist()
    x_sub, y_sub = stratified_subset(flatten(scale_pixels(x_train)), y_train, n=config["n"], seed=config["seed"])
    pca = PCA(n_components=config["pca_components"], random_state=config["seed"]).fit(x_sub)
    z_pca = pca.transform(x_sub)
    z_tsne = TSNE(n_components=2, init=z_pca[:, :2], random_state=config["seed"],
                  perplexity=config["perplexity"]).fit_transform(z_pca)
    ratio = pca.explained_variance_ratio_
    return {"explained_variance_first_2": round(float(ratio[:2].sum()), 6),
            "explained_variance_all": round(float(ratio.sum()), 6),
            "arrays": {"pca": z_pca[:, :2].astype(np.float32), "tsne": z_tsne.astype(np.float32),
                       "labels": y_sub.astype(np.uint8)}}
