"""The loader on small IDX files the tests write, every bad-input case, and the preprocessing helpers."""

import gzip
import hashlib
import http.client
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from fmnist_utils import data
from fmnist_utils.data import DataError, IdxFile


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    magic = magic if magic is not None else 0x800 + arr.ndim
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()


@pytest.fixture
def tiny_files(tmp_path, monkeypatch):
    """Four tiny, valid IDX files (5 train, 3 test images of 28x28) registered as the expected ones."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": np.array([0, 1, 2, 3, 9], dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.array([4, 5, 6], dtype=np.uint8),
    }
    specs = {}
    for name, arr in arrays.items():
        payload = idx_bytes(arr)
        (tmp_path / name).write_bytes(gzip.compress(payload))
        specs[name] = IdxFile(name, 0x800 + arr.ndim, arr.shape, hashlib.sha256(payload).hexdigest())
    monkeypatch.setattr(data, "FILES", specs)
    data._load_cached.cache_clear()
    yield tmp_path, arrays
    data._load_cached.cache_clear()


def test_loads_valid_files_exactly(tiny_files):
    folder, arrays = tiny_files
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist(folder)
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert x_train.dtype == np.uint8 and x_train.flags.writeable


def test_regzipped_copy_passes_checksum(tiny_files):
    """Debian re-gzips the files: different compressed bytes, same payload, same digest."""
    folder, _ = tiny_files
    f = folder / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(gzip.compress(gzip.decompress(f.read_bytes()), compresslevel=1, mtime=12345))
    data.load_fashion_mnist(folder)


def test_search_order_prefers_env_var(tiny_files, monkeypatch, tmp_path_factory):
    folder, _ = tiny_files
    monkeypatch.setenv("FMNIST_DATA_DIR", str(folder))
    assert data.find_data_dir(download=False) == folder


def test_missing_everywhere_lists_places_and_remedies(monkeypatch, tmp_path):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    with pytest.raises(DataError) as err, pytest.warns(UserWarning, match="nowhere"):
        data.find_data_dir(download=False)
    msg = str(err.value)
    for place in ("nowhere", "keras", "debian"):
        assert place in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "FMNIST_DATA_DIR" in msg


def test_failed_download_is_reported(monkeypatch, tmp_path):
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")

    def no_network(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(data.urllib.request, "urlopen", no_network)
    with pytest.raises(DataError, match="download failed too.*network unreachable"):
        data.find_data_dir(download=True)


def test_missing_data_dir_from_env_warns_and_falls_back(tiny_files, monkeypatch, tmp_path_factory):
    folder, _ = tiny_files
    missing = tmp_path_factory.mktemp("empty") / "nowhere"
    monkeypatch.setenv("FMNIST_DATA_DIR", str(missing))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras")))
    monkeypatch.setattr(data, "DEBIAN_DIR", folder)
    with pytest.warns(UserWarning, match=f"FMNIST_DATA_DIR={re.escape(str(missing))} does not exist"):
        assert data.find_data_dir(download=False) == folder


def _find_data_dir_code(debian: Path | None = None) -> str:
    """A subprocess that looks for the data (no download) and prints the folder or the DataError."""
    return f"""
import warnings
from pathlib import Path
from fmnist_utils import data
warnings.simplefilter("always")
{f"data.DEBIAN_DIR = Path({str(debian)!r})" if debian else ""}
try:
    print("found:", data.find_data_dir(download=False))
except data.DataError as exc:
    print("DataError:", exc)
"""


def test_unreadable_data_dir_from_env_is_a_permission_error(tiny_files, run_without_dac_override, tmp_path_factory):
    folder, _ = tiny_files
    folder.chmod(0o000)
    try:
        result = run_without_dac_override(_find_data_dir_code(), env={
            "FMNIST_DATA_DIR": str(folder), "KERAS_HOME": str(tmp_path_factory.mktemp("keras"))})
    finally:
        folder.chmod(0o755)
    assert "DataError:" in result.stdout, result.stderr
    assert str(folder) in result.stdout and "permission" in result.stdout.lower() and "chmod" in result.stdout


def test_searchable_but_unlistable_data_dir_works(tiny_files, run_without_dac_override, tmp_path_factory):
    folder, _ = tiny_files
    folder.chmod(0o311)  # no read bit: the folder cannot be listed, yet files of known names can be opened
    try:
        result = run_without_dac_override(_find_data_dir_code(), env={
            "FMNIST_DATA_DIR": str(folder), "KERAS_HOME": str(tmp_path_factory.mktemp("keras"))})
    finally:
        folder.chmod(0o755)
    assert f"found: {folder}" in result.stdout, result.stdout + result.stderr


def test_unreadable_keras_cache_warns_and_the_next_place_is_tried(tiny_files, run_without_dac_override,
                                                                  tmp_path_factory):
    folder, _ = tiny_files
    keras_home = tmp_path_factory.mktemp("keras")
    cache = keras_home / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    cache.chmod(0o000)
    env = {"KERAS_HOME": str(keras_home), "FMNIST_DATA_DIR": ""}
    try:
        result = run_without_dac_override(_find_data_dir_code(debian=folder), env=env)
    finally:
        cache.chmod(0o755)
    assert f"found: {folder}" in result.stdout, result.stdout + result.stderr
    assert str(cache) in result.stderr and "permission" in result.stderr.lower()


def test_unreadable_file_is_a_permission_problem_not_corruption(tiny_files, run_without_dac_override):
    folder, _ = tiny_files
    unreadable = folder / "train-images-idx3-ubyte.gz"  # the first file parsed
    unreadable.chmod(0o000)
    code = f"""
from fmnist_utils import data
try:
    data.load_fashion_mnist({str(folder)!r})
except data.DataError as exc:
    print("DataError:", exc)
"""
    result = run_without_dac_override(code)
    assert "DataError:" in result.stdout, result.stderr
    assert str(unreadable) in result.stdout and "permission" in result.stdout.lower()
    assert "truncated or corrupt" not in result.stdout and "Delete" not in result.stdout


def test_broken_off_download_names_the_file(monkeypatch, tmp_path):
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")

    class BrokenOff:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            raise http.client.IncompleteRead(b"\x1f\x8b partial", 1000)

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *args, **kwargs: BrokenOff())
    with pytest.raises(DataError, match=re.escape(data.DOWNLOAD_URL + "train-images-idx3-ubyte.gz")) as err:
        data.find_data_dir(download=True)
    assert "again" in str(err.value) and "FMNIST_DATA_DIR" in str(err.value)
    assert not list((tmp_path / "keras").rglob("*.gz"))


def test_missing_single_file_named(tiny_files):
    folder, _ = tiny_files
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz does not exist"):
        data.load_fashion_mnist(folder)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "not a readable gzip file"),  # truncated
    (lambda b: b"not gzip at all" + b, "not a readable gzip file"),  # corrupt
])
def test_truncated_or_corrupt_gzip(tiny_files, damage, message):
    folder, _ = tiny_files
    f = folder / "train-images-idx3-ubyte.gz"
    f.write_bytes(damage(f.read_bytes()))
    with pytest.raises(DataError, match=message) as err:
        data.load_fashion_mnist(folder)
    assert "train-images-idx3-ubyte.gz" in str(err.value) and "Delete" in str(err.value)


def test_wrong_magic_number(tiny_files):
    folder, arrays = tiny_files
    arr = arrays["train-labels-idx1-ubyte.gz"]
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(arr, magic=2051)))
    with pytest.raises(DataError, match="magic number 2051, expected 2049"):
        data.load_fashion_mnist(folder)


def test_wrong_shape(tiny_files):
    folder, _ = tiny_files
    arr = np.zeros((4, 28, 28), dtype=np.uint8)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    with pytest.raises(DataError, match=r"declares shape \(4, 28, 28\), expected \(3, 28, 28\)"):
        data.load_fashion_mnist(folder)


def test_payload_shorter_than_header_says(tiny_files):
    folder, arrays = tiny_files
    payload = idx_bytes(arrays["t10k-labels-idx1-ubyte.gz"])[:-1]
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(payload))
    with pytest.raises(DataError, match="holds 2 data bytes, expected 3"):
        data.load_fashion_mnist(folder)


def test_checksum_mismatch(tiny_files):
    folder, arrays = tiny_files
    arr = arrays["train-labels-idx1-ubyte.gz"].copy()
    arr[0] = 7
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    with pytest.raises(DataError, match="fails its checksum"):
        data.load_fashion_mnist(folder)


def test_published_digests_are_recorded():
    assert len(data.FILES) == 4
    assert all(len(f.sha256) == 64 for f in data.FILES.values())
    assert data.FILES["train-images-idx3-ubyte.gz"].shape == (60000, 28, 28)


# ------------------------------------------------------------ preprocessing

def test_scale_flatten_one_hot():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    s = data.scale_pixels(x)
    assert s.dtype == np.float32 and s.min() == 0 and s.max() == 1
    assert data.flatten(s).shape == (1, 4)
    np.testing.assert_array_equal(data.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="labels in 0..2"):
        data.one_hot(np.array([3]), 3)


def test_center_and_standardize_use_training_statistics():
    rng = np.random.default_rng(1)
    train, test = rng.normal(3, 2, (100, 5)).astype(np.float32), rng.normal(3, 2, (10, 5)).astype(np.float32)
    c_train, c_test = data.center(train, test)
    np.testing.assert_allclose(c_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(c_test, test - train.mean(axis=0), rtol=1e-5)
    s_train, s_test = data.standardize(train, test)
    assert abs(s_train.mean()) < 1e-5 and abs(s_train.std() - 1) < 1e-4
    np.testing.assert_allclose(s_test, (test - train.mean()) / train.std(), rtol=1e-4)


def test_train_val_split_is_stratified_and_seeded():
    y = np.repeat(np.arange(10), 50)
    x = np.arange(len(y))
    x_tr, x_val, y_tr, y_val = data.train_val_split(x, y, val_size=100)
    assert np.bincount(y_val).tolist() == [10] * 10 and len(y_tr) == 400
    assert set(x_tr).isdisjoint(x_val)
    np.testing.assert_array_equal(x_val, data.train_val_split(x, y, val_size=100)[1])


def test_stratified_subset():
    y = np.repeat(np.arange(10), 30)
    xs, ys = data.stratified_subset(np.arange(len(y)), y, n=50)
    assert np.bincount(ys).tolist() == [5] * 10
    np.testing.assert_array_equal(y[xs], ys)
    with pytest.raises(ValueError, match="n must be between"):
        data.stratified_subset(np.arange(len(y)), y, n=0)


def test_load_splits_rejects_unknown_normalization():
    with pytest.raises(ValueError, match="normalize must be one of"):
        data.load_splits(normalize="minmax")


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir() and not data.keras_cache_dir().is_dir(),
                    reason="the real Fashion-MNIST files are not installed")
def test_real_data_as_published():
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    splits = data.load_splits()
    assert splits.x_train.shape == (48000, 784) and splits.x_val.shape == (12000, 784)
    assert np.bincount(splits.y_val).tolist() == [1200] * 10

