"""Keras run configurations: the exact dictionaries the stored runs of notebooks 03b and 04 were trained with."""

import importlib.util
from pathlib import Path

import pytest

from fmnist_utils.runs import configs, search
from fmnist_utils.runs.store import run_path

SCALED_12 = {"epochs": 12, "early_stopping": {"patience": 5},
             "reduce_lr": {"patience": 3, "factor": 0.1, "cooldown": 1}}
FULL = {"epochs": 300, "early_stopping": {"patience": 20},
        "reduce_lr": {"patience": 10, "factor": 0.1, "cooldown": 2}}


@pytest.mark.parametrize(("full", "report_note", "config", "text"), [
    (False, False, SCALED_12, "≤ 12 epochs, early stopping 5, LR plateau 3"),
    (False, True, SCALED_12, "≤ 12 epochs, early stopping 5, LR plateau 3 (report: ≤ 300, 20, 10)"),
    (True, False, FULL, "≤ 300 epochs, early stopping 20"),
    (True, True, FULL, "as reported (≤ 300 epochs, early stopping 20, LR plateau 10)"),
])
def test_budget_config_and_text(full, report_note, config, text):
    got = configs.budget(12, full=full, report_note=report_note)
    assert got == (config, text)
    assert (got.config, got.text) == (config, text)


def test_budget_returns_fresh_dictionaries():
    configs.budget(5, full=True).config["reduce_lr"]["patience"] = 99
    configs.budget(5, full=False).config["early_stopping"]["patience"] = 99
    assert configs.REPORT_BUDGET["reduce_lr"]["patience"] == 10
    assert configs.SCALED_CALLBACKS["early_stopping"]["patience"] == 5


def test_subset_budget():
    assert configs.subset_budget(3, full=False) == {"train_subset": 12000, "epochs": 3}
    assert configs.subset_budget(3, full=True) == FULL


def test_keras_mlp_config():
    sgd = {"name": "sgd", "learning_rate": 0.01}
    assert configs.keras_mlp_config((768,), full=False, max_epochs=12) == {
        "model": {"kind": "mlp", "hidden": [768], "dropout": 0.0}, "optimizer": {"name": "adam", "learning_rate": 1e-3},
        "batch_size": 128, **SCALED_12}
    assert configs.keras_mlp_config([768], 0.3, full=True, optimizer=sgd, batch_size=256) == {
        "model": {"kind": "mlp", "hidden": [768], "dropout": 0.3}, "optimizer": sgd, "batch_size": 256, **FULL}


def test_keras_cnn_config():
    assert configs.keras_cnn_config(12, full=False, filters=[8], batch_norm=True) == {
        "model": {"kind": "cnn", "filters": [8], "batch_norm": True},
        "optimizer": {"name": "adam", "learning_rate": 1e-3}, "batch_size": 128, **SCALED_12}
    assert configs.keras_cnn_config(3, full=True, batch_size=256, filters=[8])["batch_size"] == 256
    assert configs.keras_cnn_config(3, full=False, subset=True, filters=[8]) == {
        "model": {"kind": "cnn", "filters": [8]}, "optimizer": {"name": "adam", "learning_rate": 1e-3},
        "batch_size": 128, "train_subset": 12000, "epochs": 3}
    assert configs.keras_cnn_config(3, full=True, subset=True, filters=[8])["epochs"] == 300


@pytest.mark.parametrize(("experiment", "config"), [
    ("03b_capacity_as_reported_004", configs.cap_004_as_reported_configs()["1 x 256"]),
    ("03b_optimizer_as_reported_004", configs.opt_004_as_reported_configs()["SGD + Nesterov, batch 256"]),
    ("04_cnn_000", configs.cnn_000_configs(full=False)["tuned: 8 filters of 3 x 3"]),
    ("04_cnn_base_004", configs.cnn_base_004_configs(full=False)["+ batch norm + dropout 0.25"]),
    ("04_cnn_grid_000", configs.cnn_grid_000_base(full=False)),
    ("03b_optimizer_004", {**configs.keras_mlp_config([768], dropout=0.3, full=False, max_epochs=12,
                                                      optimizer=configs.REPORT_004_OPTIMIZERS["SGD + Nesterov"])}),
    ("03b_architecture_004", {**configs.arch_004_screen_config(full=False), "model": {
        "kind": "mlp", "hidden": configs.ARCH_004_GRID["model.hidden"][-1], "dropout": 0.25}}),
])
def test_configs_find_their_stored_runs(experiment, config):
    """The configurations hash to runs committed in results/ (seed 0): a changed dictionary would retrain."""
    assert run_path(experiment, {**config, "seed": 0}).is_file()


def test_doubling_filters():
    assert configs.doubling_filters(8, 3) == [8, 16, 32]
    assert configs.doubling_filters(128, 1) == [128]


def test_converged_budget():
    assert configs.converged_budget(100, full=False, lr_plateau=False) == (
        {"epochs": 100, "early_stopping": {"patience": 10}},
        "until val loss stops improving (early stopping 10, cap 100 epochs)")
    got = configs.converged_budget(150, full=False, lr_plateau=True)
    assert got.config["reduce_lr"] == {"patience": 5, "factor": 0.1, "cooldown": 2}
    assert got.text == "until val loss stops improving (early stopping 10, LR plateau 5, cap 150 epochs)"
    assert configs.converged_budget(100, full=True, lr_plateau=False).config == FULL


def test_converged_cnn_configs():
    cnn_000 = configs.cnn_000_configs(full=False)
    assert [c["model"]["filters"] for c in cnn_000.values()] == [[32, 32], [8, 8]]
    assert all(c["early_stopping"] == {"patience": 10} and "reduce_lr" not in c for c in cnn_000.values())
    base = configs.cnn_base_004_configs(full=False)
    assert list(base) == ["plain", "+ batch norm", "+ batch norm + dropout 0.25"]
    assert base["+ batch norm + dropout 0.25"]["model"] == {
        "kind": "cnn", "filters": [8], "batch_norm": True, "dropout": 0.25, **configs.REPORT_004_BLOCKS}
    assert all(c["epochs"] == 300 for c in configs.cnn_base_004_configs(full=True).values())
    depth = configs.cnn_depth_004_configs(full=False)
    assert [c["model"]["filters"] for c in depth.values()] == [[8, 16], [8, 16, 32], [8, 16, 32, 64]]
    # one block is the last baseline: the same model and schedule, so notebook 04 reuses that run
    one_block = {**depth["2 blocks: 8-16"], "model": {**depth["2 blocks: 8-16"]["model"], "filters": [8]}}
    assert one_block == base["+ batch norm + dropout 0.25"]


def test_report_004_mlp_configs_at_its_budget():
    opt = configs.opt_004_as_reported_configs()
    assert list(opt) == ["Adam, batch 128", "Adam, batch 512", "Nadam, batch 256", "SGD + momentum, batch 256",
                         "SGD + Nesterov, batch 256"]
    assert all(c["epochs"] == 300 and c["model"] == {"kind": "mlp", "hidden": [768], "dropout": 0.3}
               for c in opt.values())
    assert opt["SGD + Nesterov, batch 256"]["optimizer"]["nesterov"] is True
    # the report's pick itself (Adam, batch 256) is notebook 03b's final recipe, not trained again
    assert configs.keras_mlp_config([768], 0.3, optimizer=configs.ADAM, batch_size=256, full=True) not in opt.values()
    arch = configs.arch_004_as_reported_configs(([768, 768], 0.2))
    assert list(arch) == ["768 d0.3", "512-512 d0.25", "768-768 d0.2"]
    assert arch["512-512 d0.25"] == configs.keras_mlp_config([512, 512], 0.25, full=True)
    assert list(configs.arch_004_as_reported_configs(([768], 0.3))) == ["768 d0.3", "512-512 d0.25"]
    assert len(configs.ARCH_004_GRID["model.hidden"]) * len(configs.ARCH_004_GRID["model.dropout"]) == 30
    cap = configs.cap_004_as_reported_configs()
    assert list(cap) == ["1 x 32", "1 x 128", "1 x 256", "128-64", "256-128"]
    assert cap["256-128"] == configs.keras_mlp_config([256, 128], 0.2, full=True)
    assert cap["1 x 32"]["early_stopping"]["patience"] == 20  # the report's budget: it stops early, never at a cap


def load_train_queue():
    """scripts/train_queue.py as a module (scripts/ is no package)."""
    path = Path(__file__).parents[1] / "scripts" / "train_queue.py"
    spec = importlib.util.spec_from_file_location("train_queue", path)
    queue = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(queue)
    return queue


def test_train_queue_groups_name_their_runs():
    queue = load_train_queue()
    experiment, make_configs, seeds = queue.GROUPS["004arch"]
    # report 004's two picks, then the best of notebook 03b's committed 12-epoch screen
    assert experiment == "03b_architecture_as_reported_004" and seeds == (0, 1, 2)
    assert list(make_configs()) == ["768 d0.3", "512-512 d0.25", "768-768 d0.2"]
    assert queue.GROUPS["004depth"][1]() == configs.cnn_depth_004_configs(full=False)
    assert queue.GROUPS["001"][1]()["deep CNN (001)"]["model"]["filters"] == [16, 32]  # narrowed to fit an hour
    assert configs.cnn_001_config(full=True)["model"]["filters"] == [32, 64]
    with pytest.raises(SystemExit, match="unknown or no group"):
        queue.main(["004nothing"])


def test_grid_plateau_budget_trains_fewer_images_to_a_plateau():
    got = configs.grid_plateau_budget(full=False)
    assert got.config == {"train_subset": configs.PLATEAU_SUBSET_IMAGES, "epochs": 100,
                          "early_stopping": {"patience": configs.CONVERGED_PATIENCE}}
    assert got.text.startswith("6,000 images, until val loss stops improving")
    assert configs.grid_plateau_budget(full=True).config == FULL  # the report's, on the whole split


def test_cnn_grid_bases_and_grids():
    base_000 = configs.cnn_grid_000_base(full=False)
    assert base_000["model"] == {"kind": "cnn", "filters": [8, 8], "kernel_size": 3, "dense": [128, 128]}
    assert base_000["seed"] == 0 and base_000["train_subset"] == configs.PLATEAU_SUBSET_IMAGES
    base_004 = configs.cnn_grid_004_base(full=True)
    assert base_004["batch_size"] == 256 and base_004["epochs"] == 300 and "train_subset" not in base_004
    assert configs.CNN_GRID_004["model.filters"][-1] == [128, 256, 512]
    assert len(configs.CNN_GRID_004["model.filters"]) * len(configs.CNN_GRID_004["model.dropout"]) == 15


def test_cnn_grids_000_picks_the_dropout_grids_filters_on_mean_validation_over_seeds(monkeypatch):
    calls = []

    def fake_search(experiment, base, grid):  # seed 0 favours 8 filters of 3 x 3, the mean 16 filters of 5 x 5
        calls.append((experiment, base, grid))
        best = (5, 16) if base["seed"] else (3, 8)
        return [{"config": {**base, "model": {**base["model"], "kernel_size": k, "filters": [f, f]}},
                 "status": "ok", "val_accuracy": 0.9 if (k, f) == best else 0.8, "val_loss": 0.3}
                for k in (3, 5) for f in (8, 16)]

    monkeypatch.setattr(search, "keras_grid_search", fake_search)
    filter_runs, dropout_runs = search.cnn_grids_000(full=False, seeds=(0, 1, 2))
    assert len(filter_runs) == len(dropout_runs) == 12
    assert [base["seed"] for _, base, _ in calls] == [0, 1, 2, 0, 1, 2]
    first, second = calls[0][1], calls[3][1]
    assert first == configs.cnn_grid_000_base(full=False) and calls[0][2] == configs.CNN_GRID_000_FILTERS
    assert second["model"]["kernel_size"] == 5 and second["model"]["filters"] == [16, 16]
    assert all(grid == configs.CNN_GRID_000_DROPOUT for _, _, grid in calls[3:])


def test_train_queue_grid_groups(monkeypatch):
    queue = load_train_queue()
    monkeypatch.setattr(queue, "cnn_grids_000", lambda full: ([{"trial": "a"}], [{"trial": "b"}]))
    assert queue.GRIDS["000grid"]() == [{"trial": "a"}, {"trial": "b"}]  # both grids, in order
