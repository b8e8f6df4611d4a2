import pytest


@pytest.fixture(autouse=True)
def isolated_from_runner_flags(monkeypatch):
    """`make test` sets FMNIST_CACHE_ONLY for the notebooks; unit tests decide the runner's flags themselves."""
    for name in ("FMNIST_CACHE_ONLY", "FMNIST_RETRAIN"):
        monkeypatch.delenv(name, raising=False)
