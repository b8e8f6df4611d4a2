import os
import shutil
import subprocess
import sys

import pytest


@pytest.fixture(autouse=True)
def isolated_from_runner_flags(monkeypatch):
    """`make test` sets FMNIST_CACHE_ONLY for the notebooks; unit tests decide the runner's flags themselves."""
    for name in ("FMNIST_CACHE_ONLY", "FMNIST_RETRAIN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def figures_in_tmp(tmp_path, monkeypatch):
    """Exports (``save_figure``, ``save_table``, summary rows) go to a temporary folder, never into figures/."""
    monkeypatch.setenv("FMNIST_FIGURES_DIR", str(tmp_path))
    return tmp_path


# Dropping these from the bounding set before exec takes them from root's permitted and effective sets too.
NO_DAC_OVERRIDE = ["--bounding-set", "-dac_override,-dac_read_search"]


@pytest.fixture(scope="session")
def _permission_prefix(tmp_path_factory) -> list[str]:
    """The command prefix under which chmod binds this process's children (checked once, on an unreadable file)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("tests run as root, whom file permissions do not stop, and setpriv (util-linux) is missing")
    probe = tmp_path_factory.mktemp("permission_probe") / "unreadable"
    probe.write_text("secret")
    probe.chmod(0o000)
    result = subprocess.run([setpriv, *NO_DAC_OVERRIDE, "cat", str(probe)], capture_output=True, text=True)
    if result.returncode == 0 or "Permission denied" not in result.stderr:
        pytest.skip(f"setpriv {' '.join(NO_DAC_OVERRIDE)} does not make root obey file permissions here "
                    f"(rc {result.returncode}: {result.stderr.strip()})")
    return [setpriv, *NO_DAC_OVERRIDE]


@pytest.fixture
def run_without_dac_override(_permission_prefix):
    """Run Python code in a subprocess that file permissions bind (tests run as root, who ignores chmod bits
    unless CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH are dropped); returns the CompletedProcess (text output)."""
    def run(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*_permission_prefix, sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=120)

    return run
