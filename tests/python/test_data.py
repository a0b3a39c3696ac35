"""IDX/CIFAR readers (on small files written here) and the DataLoader and its transforms."""

import gzip
import struct

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn import data, datasets


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "dtype,code", [(np.uint8, 0x08), (np.int16, 0x0B), (np.int32, 0x0C), (np.float32, 0x0D)]
)
def test_read_idx_round_trip(tmp_path, compress, dtype, code):
    a = (np.arange(24).reshape(2, 3, 4) * 3).astype(dtype)
    raw = idx_bytes(a, code)
    f = tmp_path / "a.idx"
    f.write_bytes(gzip.compress(raw) if compress else raw)
    got = datasets.read_idx(f)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, a)


@pytest.mark.parametrize(
    "content,match",
    [
        (b"\x00\x00", "shorter than the header"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x01x", "magic number"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01x", "unknown IDX element type 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", r"truncated: .*\(5,\).*13 bytes.*has 11 bytes"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x02abc", "trailing bytes"),
    ],
)
def test_read_idx_header_errors_name_the_file_and_the_problem(tmp_path, content, match):
    f = tmp_path / "bad-idx1-ubyte"
    f.write_bytes(content)
    with pytest.raises(ValueError, match=match) as e:
        datasets.read_idx(f)
    assert "bad-idx1-ubyte" in str(e.value)


def test_read_idx_truncated_gzip(tmp_path):
    full = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8)))
    f = tmp_path / "x.gz"
    f.write_bytes(full[: len(full) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        datasets.read_idx(f)


def write_mnist_like(directory, n_train=5, n_test=3, compress=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, a in arrays.items():
        raw = idx_bytes(a)
        (directory / (name + (".gz" if compress else ""))).write_bytes(
            gzip.compress(raw) if compress else raw
        )
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_from_a_directory(tmp_path, compress):
    arrays = write_mnist_like(tmp_path, compress=compress)
    (x_train, y_train), (x_test, y_test) = datasets.mnist(tmp_path)
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert y_train.dtype == np.int64 and x_test.shape == (3, 28, 28)


def test_mismatched_images_and_labels(tmp_path):
    write_mnist_like(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(4, np.uint8)))
    )
    with pytest.raises(ValueError, match=r"train images \(5, 28, 28\) and labels \(4,\)"):
        datasets.mnist(tmp_path)


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist.*path="):
        datasets.fashion_mnist(tmp_path)


def test_fashion_mnist_from_debian_package(fashion_mnist):
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28)
    assert y_train.dtype == np.int64 and set(np.unique(y_test)) == set(range(10))
    assert np.bincount(y_train).tolist() == [6000] * 10


def test_cifar10_binary_batches(tmp_path):
    rng = np.random.default_rng(1)
    batches = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, 4, dtype=np.uint8)
        images = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
        records = np.concatenate([labels[:, None], images.reshape(4, -1)], axis=1)
        (tmp_path / name).write_bytes(records.tobytes())
        batches[name] = (images, labels)
    (x_train, y_train), (x_test, y_test) = datasets.cifar10(tmp_path)
    assert x_train.shape == (20, 3, 32, 32) and y_train.shape == (20,)
    np.testing.assert_array_equal(x_train[4:8], batches["data_batch_2.bin"][0])
    np.testing.assert_array_equal(y_test, batches["test_batch.bin"][1])
    (tmp_path / "test_batch.bin").write_bytes(b"\x01" * 3000)
    with pytest.raises(ValueError, match="not a positive multiple of the 3073-byte record"):
        datasets.cifar10(tmp_path)
    (tmp_path / "data_batch_3.bin").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3.bin"):
        datasets.cifar10(tmp_path)


# ---- DataLoader ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_batches_cover_the_data_in_order(prefetch):
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    loader = data.DataLoader(x, y, batch_size=4, prefetch=prefetch)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    loader = data.DataLoader(x, batch_size=4, drop_last=True, prefetch=prefetch)
    assert len(loader) == 2 and [len(b) for b in loader] == [4, 4]


def test_loader_shuffle_is_seeded_and_differs_per_epoch():
    x = np.arange(100)
    a = data.DataLoader(x, batch_size=10, shuffle=True, seed=7)
    b = data.DataLoader(x, batch_size=10, shuffle=True, seed=7)
    ea1, ea2 = np.concatenate(list(a)), np.concatenate(list(a))
    eb1 = np.concatenate(list(b))
    np.testing.assert_array_equal(ea1, eb1)
    assert not np.array_equal(ea1, ea2) and sorted(ea1) == sorted(ea2) == list(range(100))
    b.set_epoch(1)
    np.testing.assert_array_equal(np.concatenate(list(b)), ea2)
    c = data.DataLoader(x, batch_size=10, shuffle=True, seed=8)
    assert not np.array_equal(np.concatenate(list(c)), ea1)


def test_loader_early_break_and_worker_errors():
    loader = data.DataLoader(np.zeros((50, 2)), batch_size=1, prefetch=2)
    for i, _ in enumerate(loader):
        if i == 3:
            break  # the worker thread must stop, not hang

    def boom(xb, rng):
        raise RuntimeError("transform failed")

    with pytest.raises(RuntimeError, match="transform failed"):
        list(data.DataLoader(np.zeros((4, 1, 2, 2)), batch_size=2, transform=boom))


def test_loader_bad_arguments():
    with pytest.raises(ValueError, match=r"x \(5, 2\), y \(4,\)"):
        data.DataLoader(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(np.zeros(5), batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        data.DataLoader(np.zeros(5), batch_size=2.5)


def test_transforms():
    x = np.arange(2 * 2 * 3 * 3, dtype=np.float32).reshape(2, 2, 3, 3)
    norm = data.Normalize([1.0, 2.0], [2.0, 4.0])(x)
    np.testing.assert_allclose(norm[:, 1], (x[:, 1] - 2) / 4)
    with pytest.raises(ValueError, match="3 values.*2 channels"):
        data.Normalize([0, 0, 0], [1, 1, 1])(x)
    flipped = data.RandomHorizontalFlip(p=1.0)(x)
    np.testing.assert_array_equal(flipped, x[..., ::-1])
    np.testing.assert_array_equal(data.RandomHorizontalFlip(p=0.0)(x), x)
    crop = data.RandomCrop(3, padding=1, seed=0)
    out = crop(x)
    assert out.shape == x.shape
    # every crop is a shifted window of the zero-padded image
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(2):
        assert any(
            np.array_equal(out[i], padded[i, :, t : t + 3, s : s + 3])
            for t in range(3)
            for s in range(3)
        )
    same_seed = [data.RandomCrop(3, padding=1, seed=5)(x) for _ in range(2)]
    np.testing.assert_array_equal(*same_seed)


def test_loader_transforms_are_reproducible_across_runs():
    x = np.random.default_rng(0).standard_normal((16, 1, 4, 4)).astype(np.float32)
    t = data.Compose([data.RandomCrop(4, padding=2), data.RandomHorizontalFlip()])
    runs = [
        np.concatenate(list(data.DataLoader(x, batch_size=4, shuffle=True, seed=3, transform=t)))
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*runs)
    assert not np.array_equal(runs[0], x)


def test_dataloader_exported():
    assert pc.DataLoader is data.DataLoader
