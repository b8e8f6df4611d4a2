"""Fashion-MNIST: find, verify and load the four IDX files; preprocessing helpers.

The loader parses the standard IDX ``.gz`` files itself and checks each one
(gzip integrity, magic number, shape, SHA-256 of the decompressed payload), so a
bad file gives an error that names it and says what to do, never a traceback from
deep inside NumPy.

Search order for the files:

1. ``$FMNIST_DATA_DIR``
2. the Keras cache, ``~/.keras/datasets/fashion-mnist/``
3. ``/usr/share/datasets/fashion-mnist/`` (Debian/Ubuntu package ``dataset-fashion-mnist``)
4. a download of the official files into the Keras cache, when the network allows.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.request
import warnings
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Seed of the stratified 48,000 / 12,000 split (report 004's split, our seed).
SPLIT_SEED = 4
VALIDATION_SIZE = 12_000

DOWNLOAD_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class IdxFile:
    """What one of the four published files must contain."""

    name: str
    magic: int  # 2051 for images (ubyte, 3 dims), 2049 for labels (ubyte, 1 dim)
    shape: tuple[int, ...]
    sha256: str  # of the decompressed payload: re-gzipped copies keep it


FILES: dict[str, IdxFile] = {
    f.name: f
    for f in (
        IdxFile("train-images-idx3-ubyte.gz", 2051, (60000, 28, 28),
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        IdxFile("train-labels-idx1-ubyte.gz", 2049, (60000,),
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        IdxFile("t10k-images-idx3-ubyte.gz", 2051, (10000, 28, 28),
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        IdxFile("t10k-labels-idx1-ubyte.gz", 2049, (10000,),
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    )
}

REMEDY = (
    "Install the data with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
    "or put the four official .gz files in a folder and set FMNIST_DATA_DIR to it, "
    f"or allow network access so they can be downloaded from {DOWNLOAD_URL}."
)


class DataError(ValueError):
    """A Fashion-MNIST file is missing, corrupt or not what was published."""


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "fashion-mnist"


def search_dirs() -> list[Path]:
    """The folders searched for the four files, in order."""
    dirs = []
    if os.environ.get("FMNIST_DATA_DIR"):
        dirs.append(Path(os.environ["FMNIST_DATA_DIR"]))
    dirs += [keras_cache_dir(), DEBIAN_DIR]
    return dirs


def find_data_dir(download: bool = True) -> Path:
    """Return the first folder holding all four files; download them if none does.

    ``$FMNIST_DATA_DIR`` is the user's choice: if it cannot be read, that is an error (DataError); if it is missing
    or incomplete, a warning says so before the other places are tried. An unreadable default place is skipped
    with a warning.
    """
    dirs = search_dirs()
    chosen = Path(os.environ["FMNIST_DATA_DIR"]) if os.environ.get("FMNIST_DATA_DIR") else None
    notes = {}
    for d in dirs:
        try:
            missing = [name for name in FILES if not (d / name).is_file()]
        except PermissionError as exc:  # a folder without search permission: stat of its files fails
            if d == chosen:
                raise DataError(f"FMNIST_DATA_DIR={d}: {_permission_problem(d, exc)}, or unset FMNIST_DATA_DIR to "
                                "use the other places.") from None
            warnings.warn(f"Skipping {d}: {_permission_problem(d, exc)}.", stacklevel=2)
            notes[d] = " (permission denied)"
            continue
        if not missing:
            return d
        if d == chosen:
            what = "does not exist" if not d.exists() else f"lacks {', '.join(missing)}"
            warnings.warn(f"FMNIST_DATA_DIR={d} {what}; looking for the files in the other places.", stacklevel=2)
    if download:
        try:
            return download_fashion_mnist(keras_cache_dir())
        except OSError as exc:
            reason = f"The download failed too ({exc})."
    else:
        reason = "Downloading was not allowed."
    searched = "\n".join(f"  - {d}{notes.get(d, '')}" for d in dirs)
    raise DataError(
        f"Fashion-MNIST files not found. Searched, in order:\n{searched}\n{reason}\n{REMEDY}"
    )


def _permission_problem(folder: Path, exc: OSError) -> str:
    return (f"{folder} cannot be read by this user ({exc.strerror}). This is a permission problem, not missing or "
            f"corrupt files: give read and search permission on the folder and read permission on its files (e.g. "
            f"`chmod a+rx {folder}` and `chmod a+r {folder}/*.gz`), or run as a user who has them")


def download_fashion_mnist(target: Path) -> Path:
    """Download the four official files into ``target``, verifying each one."""
    target.mkdir(parents=True, exist_ok=True)
    for name, spec in FILES.items():
        if (target / name).is_file():
            continue
        url = DOWNLOAD_URL + name
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                payload = response.read()
        except http.client.HTTPException as exc:  # e.g. IncompleteRead: a dropped connection, but not an OSError
            raise DataError(f"The download of {url} broke off ({type(exc).__name__}: {exc}); nothing was saved as "
                            f"{target / name}. Try again (a dropped connection is usually transient); otherwise: "
                            f"{REMEDY}") from None
        fd, tmp = tempfile.mkstemp(dir=target, prefix=".download-")
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        try:
            _parse_idx(Path(tmp), spec, shown_as=DOWNLOAD_URL + name)
        except DataError:
            os.unlink(tmp)
            raise
        os.replace(tmp, target / name)
    return target


def _parse_idx(path: Path, spec: IdxFile, shown_as: str | Path | None = None) -> np.ndarray:
    """Read one IDX .gz file and check it against ``spec``; DataError if it does not match."""
    shown = shown_as or path
    redo = f"Delete {shown} and install or download it again. {REMEDY}"
    try:
        with gzip.open(path, "rb") as f:
            payload = f.read()
    except PermissionError as exc:  # an OSError too, but deleting the file would not help
        raise DataError(f"{shown} cannot be read by this user ({exc.strerror}). This is a permission problem, not a "
                        f"corrupt file, so do not delete it: make it readable (e.g. `chmod a+r {shown}`) or run as a "
                        "user who may read it.") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{shown} is not a readable gzip file ({exc}); it is truncated or corrupt. {redo}") from None
    if len(payload) < 8:
        raise DataError(f"{shown} holds only {len(payload)} bytes after decompression, too few for an IDX header. "
                        f"{redo}")
    magic = int.from_bytes(payload[:4], "big")
    if magic != spec.magic:
        raise DataError(f"{shown} has IDX magic number {magic}, expected {spec.magic} for {spec.name}. {redo}")
    ndim = payload[3]
    shape = tuple(int.from_bytes(payload[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if shape != spec.shape:
        raise DataError(f"{shown} declares shape {shape}, expected {spec.shape}. {redo}")
    header = 4 + 4 * ndim
    if len(payload) - header != int(np.prod(shape)):
        raise DataError(
            f"{shown} holds {len(payload) - header} data bytes, expected {int(np.prod(shape))} for shape {shape}. "
            f"{redo}"
        )
    digest = hashlib.sha256(payload).hexdigest()
    if digest != spec.sha256:
        raise DataError(f"{shown} fails its checksum (SHA-256 {digest}, expected {spec.sha256}). {redo}")
    return np.frombuffer(payload, dtype=np.uint8, offset=header).reshape(shape)


@lru_cache(maxsize=2)
def _load_cached(data_dir: Path) -> tuple[np.ndarray, ...]:
    arrays = tuple(_parse_idx(data_dir / name, spec) for name, spec in FILES.items())
    for a in arrays:
        a.flags.writeable = False
    return arrays


def load_fashion_mnist(
    data_dir: str | Path | None = None, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST exactly as published.

    Returns ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shape
    (60000, 28, 28), (60000,), (10000, 28, 28), (10000,). They are fresh,
    writable copies; the verified files are parsed once per process.
    """
    folder = Path(data_dir) if data_dir is not None else find_data_dir(download=download)
    for name in FILES:
        try:
            found = (folder / name).is_file()
        except PermissionError as exc:
            raise DataError(f"{_permission_problem(folder, exc)}.") from None
        if not found:
            raise DataError(f"{folder / name} does not exist. {REMEDY}")
    x_train, y_train, x_test, y_test = (a.copy() for a in _load_cached(folder.resolve()))
    return (x_train, y_train), (x_test, y_test)


# ---------------------------------------------------------------- preprocessing

def scale_pixels(x: np.ndarray, dtype: str = "float32") -> np.ndarray:
    """Map uint8 pixels 0..255 to [0, 1]."""
    return x.astype(dtype) / np.asarray(255, dtype=dtype)


def flatten(x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 784)."""
    return x.reshape(len(x), -1)


def center(x_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Subtract the per-pixel training mean from every array (statistics from ``x_train`` only)."""
    mean = x_train.mean(axis=0, dtype=np.float64).astype(x_train.dtype)
    return [x_train - mean] + [x - mean for x in others]


def standardize(x_train: np.ndarray, *others: np.ndarray, eps: float = 1e-8) -> list[np.ndarray]:
    """Subtract the training mean and divide by the training standard deviation (one scalar each)."""
    mean, std = float(x_train.mean()), float(x_train.std())
    return [((x - mean) / (std + eps)).astype(x_train.dtype) for x in (x_train, *others)]


def one_hot(y: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Integer labels (N,) -> one-hot float32 (N, n_classes)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"one_hot expects integer labels in 0..{n_classes - 1} of shape (N,), got shape {y.shape}")
    return np.eye(n_classes, dtype=np.float32)[y]


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_size: int | float = VALIDATION_SIZE, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified split of the training set: ``x_train, x_val, y_train, y_val`` (48,000 / 12,000 by default)."""
    return train_test_split(x, y, test_size=val_size, stratify=y, random_state=seed)


def stratified_subset(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A class-balanced random subset of ``n`` samples."""
    if not 0 < n < len(y):
        raise ValueError(f"stratified_subset: n must be between 1 and {len(y) - 1}, got {n}")
    _, xs, _, ys = train_test_split(x, y, test_size=n, stratify=y, random_state=seed)
    return xs, ys


@dataclass
class Splits:
    """Train / validation / test arrays prepared for a model."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


NORMALIZATIONS = ("scale", "center", "standardize", "raw")


@lru_cache(maxsize=4)
def load_splits(normalize: str = "scale", flat: bool = True, dtype: str = "float32") -> Splits:
    """The series' standard data: stratified 48k/12k split of train, plus test.

    Cached per process: the arrays are shared and read-only (copy before changing them).

    normalize: ``scale`` ([0, 1]), ``center`` (scaled, minus the training mean),
    ``standardize`` (scaled, zero mean and unit variance from training), ``raw`` (0..255 as floats).
    flat: (N, 784) for MLPs, else (N, 28, 28, 1) for CNNs.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    (x, y), (x_test, y_test) = load_fashion_mnist()
    x_train, x_val, y_train, y_val = train_val_split(x, y)
    arrays = [a.astype(dtype) if normalize == "raw" else scale_pixels(a, dtype) for a in (x_train, x_val, x_test)]
    if normalize == "center":
        arrays = center(*arrays)
    elif normalize == "standardize":
        arrays = standardize(*arrays)
    shape = (-1, 784) if flat else (-1, 28, 28, 1)
    x_train, x_val, x_test = (a.reshape(shape) for a in arrays)
    for a in (x_train, x_val, x_test):
        a.flags.writeable = False
    return Splits(x_train, y_train.astype(np.int64), x_val, y_val.astype(np.int64), x_test, y_test.astype(np.int64))
