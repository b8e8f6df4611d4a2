"""Where things live, and writes that no reader ever sees half done."""

from pathlib import Path

import pytest

from fmnist_utils import paths
from fmnist_utils.paths import REPO_ROOT, atomic_write, figures_dir, results_dir, staged_write


def test_folders_default_to_the_repository_and_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("FMNIST_FIGURES_DIR", raising=False)
    monkeypatch.delenv("FMNIST_RESULTS_DIR", raising=False)
    assert figures_dir() == REPO_ROOT / "figures" and results_dir() == REPO_ROOT / "results"
    monkeypatch.setenv("FMNIST_FIGURES_DIR", str(tmp_path / "f"))
    monkeypatch.setenv("FMNIST_RESULTS_DIR", str(tmp_path / "r"))
    assert figures_dir() == tmp_path / "f" and results_dir() == tmp_path / "r"


def test_atomic_write_temporary_name_is_not_a_run_file(tmp_path):
    names = []
    atomic_write(tmp_path / "abc.json", lambda tmp: names.append(tmp) or Path(tmp).write_text("{}"))
    assert Path(names[0]).name.startswith(".") and not names[0].endswith((".json", ".npz"))
    assert [p.name for p in tmp_path.iterdir()] == ["abc.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")

    def failing(tmp):
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, failing)
    with pytest.raises(OSError, match="disk full"):
        staged_write(target, failing)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_staged_write_returns_a_shared_readable_temporary_file(tmp_path):
    tmp = staged_write(tmp_path / "sub" / "run.json", lambda t: Path(t).write_text("{}"))
    assert Path(tmp).parent == tmp_path / "sub" and Path(tmp).stat().st_mode & 0o777 == 0o644


def test_check_versions_names_the_package_and_the_remedy():
    paths.check_versions()  # the installed versions are new enough
    with pytest.raises(ImportError, match=r'keras >= 99\.1 is needed, found 3.*pip install -U "keras>=99\.1"'):
        paths.check_versions({"keras": "99.1"})
    with pytest.raises(ImportError, match="no-such-package >= 1 is needed, found none"):
        paths.check_versions({"no-such-package": "1"})
    assert paths._version_tuple("1.10.0rc1") > paths._version_tuple("1.9")


def test_colab_cells_clone_the_pinned_tag_and_open_the_notebook_there():
    setup = paths.colab_setup_source()
    assert f"!git clone -q --depth 1 -b {paths.REPO_REF} {paths.REPO_URL} {paths.COLAB_CLONE}" in setup
    assert setup.count("github.com") == 1 and "check_versions()" in setup
    badge = paths.colab_badge("01_data_exploration")
    assert f"/blob/{paths.REPO_REF}/notebooks/01_data_exploration.ipynb" in badge and "Open In Colab" in badge
