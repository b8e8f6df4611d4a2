"""Keras run configurations of notebooks 03b and 04: the reports' training budget, the scaled-down one these
notebooks run by default (``FMNIST_FULL_BUDGET=1`` restores the reports'), and the MLP and CNN configurations on it.

The store finds a run by the hash of its configuration (``store.config_key``), so these functions must keep
producing exactly the dictionaries the stored runs were trained with; ``tests/test_configs.py`` pins them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, NamedTuple

#: Adam at Keras's default learning rate, the reports' optimizer.
ADAM = {"name": "adam", "learning_rate": 1e-3}
#: Report 004's callbacks: early stopping (patience 20, best weights restored) and ReduceLROnPlateau.
REPORT_CALLBACKS = {"early_stopping": {"patience": 20}, "reduce_lr": {"patience": 10, "factor": 0.1, "cooldown": 2}}
#: Report 004's budget: up to 300 epochs with its callbacks.
REPORT_BUDGET = {"epochs": 300, **REPORT_CALLBACKS}
#: The callbacks scaled down with the epochs: early stopping patience 5, ReduceLROnPlateau patience 3.
SCALED_CALLBACKS = {"early_stopping": {"patience": 5}, "reduce_lr": {"patience": 3, "factor": 0.1, "cooldown": 1}}
#: The budget column of a run trained as report 004 trained.
AS_REPORTED = "as reported (≤ 300 epochs, early stopping 20, LR plateau 10)"
#: Early-stopping patience of the reports' CNNs trained to convergence (issue 25): report 000's patience; report
#: 004's 20 (with an LR plateau of 10) would double the cost of every run on this CPU.
CONVERGED_PATIENCE = 10
#: Seeds of the converged CNN runs whose claims compare close models.
CNN_SEEDS = (0, 1, 2)
#: Report 004's CNN blocks: 3 x 3 convolutions, no dense layer before the softmax, 'same'-padded max pooling.
REPORT_004_BLOCKS = {"kernel_size": 3, "dense": [], "pool_padding": "same"}
#: Images of the class-balanced part of the training split that the scaled-down CNN grids train on.
SUBSET_IMAGES = 12000
#: Seeds of report 004's MLP settings rerun at its budget to test its optimizer and architecture claims.
MLP_004_SEEDS = (0, 1, 2)
#: Report 004's optimizers. It gives no SGD learning rate: Keras's default 0.01, with momentum 0.9.
REPORT_004_OPTIMIZERS = {"Adam": ADAM, "Nadam": {"name": "nadam", "learning_rate": 1e-3},
                         "SGD + momentum": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9},
                         "SGD + Nesterov": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True},
                         "AMSGrad": {"name": "amsgrad", "learning_rate": 1e-3}}
#: Report 004's architecture x dropout grid (its 30 Talos models).
ARCH_004_GRID = {"model.hidden": [[256, 256], [384], [384, 256, 128], [512], [512, 256], [512, 512], [768],
                                  [768, 768], [768, 512], [768, 512, 256]],
                 "model.dropout": [0.2, 0.25, 0.3]}
#: Report 004's two tied picks of that grid: hidden layers and dropout.
ARCH_004_REPORT_PICKS = (([768], 0.3), ([512, 512], 0.25))


class Budget(NamedTuple):
    """A training budget: what it adds to a run's configuration, and what the tables' budget column says."""

    config: dict[str, Any]
    text: str


def budget(max_epochs: int, *, full: bool, report_note: bool = False) -> Budget:
    """The report's budget (``full``: ≤ 300 epochs, its callbacks) or ``max_epochs`` with the scaled callbacks.

    report_note: the text names report 004's budget beside ours (notebook 03b, whose runs all follow one report;
    ``AS_REPORTED`` under ``full``); without it, the text gives ours only (notebook 04, several reports).
    """
    if full:
        return Budget(copy.deepcopy(REPORT_BUDGET), AS_REPORTED if report_note else "≤ 300 epochs, early stopping 20")
    text = f"≤ {max_epochs} epochs, early stopping 5, LR plateau 3"
    return Budget({"epochs": max_epochs, **copy.deepcopy(SCALED_CALLBACKS)},
                  text + (" (report: ≤ 300, 20, 10)" if report_note else ""))


def subset_budget(epochs: int, *, full: bool) -> dict[str, Any]:
    """A CNN grid's budget: ``epochs`` on ``SUBSET_IMAGES`` training images, or (``full``) the report's budget on
    the whole training split."""
    return budget(epochs, full=True).config if full else {"train_subset": SUBSET_IMAGES, "epochs": epochs}


def keras_mlp_config(hidden: Sequence[int], dropout: float = 0.0, *, full: bool, optimizer: dict | None = None,
                     batch_size: int = 128, max_epochs: int = 20) -> dict[str, Any]:
    """Report 004's MLP (``build_mlp``: Dense ReLU layers, each followed by dropout; softmax), Adam 1e-3 unless
    ``optimizer`` says otherwise, on ``budget(max_epochs, full=full)``."""
    return {"model": {"kind": "mlp", "hidden": list(hidden), "dropout": dropout},
            "optimizer": copy.deepcopy(ADAM if optimizer is None else optimizer), "batch_size": batch_size,
            **budget(max_epochs, full=full).config}


def converged_budget(max_epochs: int, *, full: bool, lr_plateau: bool) -> Budget:
    """Training until validation loss stops improving: early stopping ``CONVERGED_PATIENCE`` (best weights
    restored), with ``lr_plateau`` a learning-rate plateau of half that patience, and ``max_epochs`` only as a
    safety cap that a converged run never reaches. ``full``: the report's budget."""
    if full:
        return budget(max_epochs, full=True)
    config: dict[str, Any] = {"epochs": max_epochs, "early_stopping": {"patience": CONVERGED_PATIENCE}}
    text = f"until val loss stops improving (early stopping {CONVERGED_PATIENCE}"
    if lr_plateau:
        config["reduce_lr"] = {"patience": CONVERGED_PATIENCE // 2, "factor": 0.1, "cooldown": 2}
        text += f", LR plateau {CONVERGED_PATIENCE // 2}"
    return Budget(config, text + f", cap {max_epochs} epochs)")


def keras_cnn_config(max_epochs: int, *, full: bool, subset: bool = False, batch_size: int = 128,
                     optimizer: dict | None = None, schedule: Budget | None = None, **model: Any) -> dict[str, Any]:
    """A Keras CNN run: ``build_cnn``'s arguments (``model``), Adam 1e-3 unless ``optimizer`` says otherwise, on
    ``budget(max_epochs, full=full)``, or with ``subset`` (a grid's trials) on ``subset_budget(max_epochs, full=full)``,
    or on the given ``schedule`` (a ``Budget``, e.g. ``converged_budget``).
    """
    if schedule is not None:
        epochs = copy.deepcopy(schedule.config)
    else:
        epochs = subset_budget(max_epochs, full=full) if subset else budget(max_epochs, full=full).config
    return {"model": {"kind": "cnn", **model}, "optimizer": copy.deepcopy(ADAM if optimizer is None else optimizer),
            "batch_size": batch_size, **epochs}


def doubling_filters(first: int, blocks: int) -> list[int]:
    """Filters per convolutional block, doubling from block to block as in report 004's CNNs: ``(8, 3)`` ->
    ``[8, 16, 32]``."""
    return [first * 2**i for i in range(blocks)]


def cnn_000_budget(*, full: bool) -> Budget:
    """Report 000's CNNs: until val loss stops improving, with report 000's patience and no LR schedule."""
    return converged_budget(100, full=full, lr_plateau=False)


def cnn_base_004_budget(*, full: bool) -> Budget:
    """Report 004's baselines: until val loss stops improving, with its callbacks scaled to ``CONVERGED_PATIENCE``
    (the plain baseline took 76 epochs in the report, hence the higher cap)."""
    return converged_budget(150, full=full, lr_plateau=True)


def cnn_000_configs(*, full: bool) -> dict[str, dict[str, Any]]:
    """Report 000's CNN (two 3 x 3 convolution blocks, two dense layers of 128): untuned 32 filters, tuned 8, trained
    to convergence with Adam and report 000's patience."""
    schedule = cnn_000_budget(full=full)
    return {f"{name}: {n} filters of 3 x 3": keras_cnn_config(0, full=full, schedule=schedule, filters=[n, n],
                                                              kernel_size=3, dense=[128, 128])
            for name, n in (("untuned", 32), ("tuned", 8))}


def cnn_base_004_configs(*, full: bool) -> dict[str, dict[str, Any]]:
    """Report 004's three 8-filter baselines (plain, + batch norm, + batch norm + dropout 0.25), trained to
    convergence with its callbacks scaled to ``CONVERGED_PATIENCE``."""
    schedule = cnn_base_004_budget(full=full)
    extras = {"plain": {}, "+ batch norm": {"batch_norm": True},
              "+ batch norm + dropout 0.25": {"batch_norm": True, "dropout": 0.25}}
    return {name: keras_cnn_config(0, full=full, schedule=schedule, filters=[8], **extra, **REPORT_004_BLOCKS)
            for name, extra in extras.items()}


def cnn_001_budget(*, full: bool) -> Budget:
    """Report 001's deep CNN: until val loss stops improving, no LR schedule (its guide's Adam at a fixed rate)."""
    return converged_budget(100, full=full, lr_plateau=False)


def cnn_001_config(*, full: bool) -> dict[str, Any]:
    """Report 001's deep CNN in the spirit of its Kaggle guide: two blocks of two 3 x 3 convolutions with batch norm,
    2 x 2 max pooling and dropout 0.25, a dense layer of 256 with dropout 0.5; Adam 1e-3, batch 128, until val loss
    stops improving. Its 32-64 filters unless ``full`` is False: then 16-32, the widest that converges within an
    hour here (the 32-64 network takes about 136 s per epoch on the 2-core CPU, and the report ran 30+ epochs)."""
    return keras_cnn_config(0, full=full, schedule=cnn_001_budget(full=full), filters=[32, 64] if full else [16, 32],
                            convs_per_block=2, batch_norm=True, dropout=0.25, dense=[256], dense_dropout=0.5)


def cnn_depth_004_configs(*, full: bool) -> dict[str, dict[str, Any]]:
    """Report 004's deeper CNNs: 2, 3 and 4 blocks of 8 filters doubling (8-16, 8-16-32, 8-16-32-64), with batch
    norm and dropout 0.25, on the baselines' schedule. One block is the last baseline of ``cnn_base_004_configs``
    (the same configuration), so it is not trained twice."""
    schedule = cnn_base_004_budget(full=full)
    return {f"{n} blocks: {'-'.join(map(str, doubling_filters(8, n)))}": keras_cnn_config(
                0, full=full, schedule=schedule, filters=doubling_filters(8, n), batch_norm=True, dropout=0.25,
                **REPORT_004_BLOCKS) for n in (2, 3, 4)}


def mlp_004_label(hidden: Sequence[int], dropout: float) -> str:
    """``"768-768 d0.2"``: a report-004 MLP as the claims table names it."""
    return f"{'-'.join(map(str, hidden))} d{dropout:g}"


def arch_004_screen_config(*, full: bool) -> dict[str, Any]:
    """The base run of notebook 03b's architecture screen (one seed, 12 epochs unless ``full``)."""
    return {**keras_mlp_config([768], full=full, max_epochs=12), "seed": 0}


def arch_004_as_reported_configs(screen_best: tuple[Sequence[int], float]) -> dict[str, dict[str, Any]]:
    """Report 004's two tied picks and the best network of our screen (``screen_best``: its hidden layers and
    dropout) at the report's budget (Adam 1e-3, batch 128, up to 300 epochs, early stopping 20): the settings its
    architecture claim compares, each to be run over ``MLP_004_SEEDS``."""
    return {mlp_004_label(hidden, dropout): keras_mlp_config(hidden, dropout=dropout, full=True)
            for hidden, dropout in (*ARCH_004_REPORT_PICKS, screen_best)}


#: Report 004's capacity comparison: name -> hidden layers, each followed by dropout 0.2.
CAP_004_CAPACITIES: dict[str, list[int]] = {"1 x 32": [32], "1 x 128": [128], "1 x 256": [256], "128-64": [128, 64],
                                            "256-128": [256, 128]}


def cap_004_as_reported_configs() -> dict[str, dict[str, Any]]:
    """Report 004's capacity networks (``CAP_004_CAPACITIES``, dropout 0.2) at its budget: Adam 1e-3, batch 128, up
    to 300 epochs with early stopping 20 and an LR plateau of 10, each to be run over ``MLP_004_SEEDS``."""
    return {name: keras_mlp_config(hidden, dropout=0.2, full=True) for name, hidden in CAP_004_CAPACITIES.items()}


def opt_004_as_reported_configs() -> dict[str, dict[str, Any]]:
    """[768] + dropout 0.3 at report 004's budget with every setting one step from its pick (Adam, batch 256):
    Adam at batch 128 and 512, and Nadam, SGD + momentum and SGD + Nesterov at 256. The pick itself and AMSGrad
    at 256 are notebook 03b's final runs (the same recipe), so they are not trained twice."""
    settings = {"Adam, batch 128": ("Adam", 128), "Adam, batch 512": ("Adam", 512),
                **{f"{name}, batch 256": (name, 256) for name in ("Nadam", "SGD + momentum", "SGD + Nesterov")}}
    return {label: keras_mlp_config([768], dropout=0.3, optimizer=REPORT_004_OPTIMIZERS[name], batch_size=batch,
                                    full=True) for label, (name, batch) in settings.items()}


# ---------------------------------------------------------------- the CNN grids, trained to a plateau (issue 25)

#: Images of the class-balanced part of the training split that the converged CNN grids train on: fewer images
#: rather than fewer epochs, so that report 004's widest trial (128-256-512) still plateaus within an hour.
PLATEAU_SUBSET_IMAGES = 6000


def grid_plateau_budget(*, full: bool) -> Budget:
    """A CNN grid's trials trained to a plateau: on ``PLATEAU_SUBSET_IMAGES`` class-balanced training images until
    val loss stops improving (early stopping ``CONVERGED_PATIENCE``, best weights kept, cap 100 epochs); ``full``:
    the report's budget on the whole training split."""
    if full:
        return budget(0, full=True)
    schedule = converged_budget(100, full=False, lr_plateau=False)
    return Budget({"train_subset": PLATEAU_SUBSET_IMAGES, **schedule.config},
                  f"{PLATEAU_SUBSET_IMAGES:,} images, {schedule.text}")


def cnn_grid_000_base(*, full: bool) -> dict[str, Any]:
    """Report 000's grids' base trial (two convolution blocks of 8 filters of 3 x 3, two dense layers of 128), on
    ``grid_plateau_budget``; its grids vary ``model.kernel_size`` and ``model.filters``, then ``model.dropout``."""
    return {**keras_cnn_config(0, full=full, schedule=grid_plateau_budget(full=full), filters=[8, 8],
                               kernel_size=3, dense=[128, 128]), "seed": 0}


#: Report 000's first grid (its Figure 21): filter size x number of filters.
CNN_GRID_000_FILTERS = {"model.kernel_size": [3, 5, 7], "model.filters": [[8, 8], [16, 16], [32, 32]]}
#: Report 000's second grid (its Figure 22): dropout, with the first grid's best filters.
CNN_GRID_000_DROPOUT = {"model.dropout": [0.0, 0.2, 0.4]}


def cnn_grid_004_base(*, full: bool) -> dict[str, Any]:
    """Report 004's Talos grid's base trial (its blocks with batch norm, Adam, batch 256), on
    ``grid_plateau_budget``; ``CNN_GRID_004`` gives the [blocks, first filters] x dropout it varies."""
    return {**keras_cnn_config(0, full=full, schedule=grid_plateau_budget(full=full), batch_size=256,
                               filters=[32, 64, 128], batch_norm=True, dropout=0.25, **REPORT_004_BLOCKS), "seed": 0}


#: Report 004's grid: [blocks, first filters] in [3, 32], [4, 32], [3, 64], [4, 64], [3, 128] x dropout.
CNN_GRID_004 = {"model.filters": [doubling_filters(32, 3), doubling_filters(32, 4), doubling_filters(64, 3),
                                  doubling_filters(64, 4), doubling_filters(128, 3)],
                "model.dropout": [0.2, 0.25, 0.3]}
