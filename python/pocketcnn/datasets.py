"""Real image data sets, read from files already on the machine (no downloads).

* ``fashion_mnist(path=None)``: Zalando's Fashion-MNIST in the IDX format; by default from
  ``/usr/share/datasets/fashion-mnist/`` where Debian's ``dataset-fashion-mnist`` package puts it.
* ``mnist(path)``: the same four IDX files for MNIST.
* ``cifar10(path)``: the CIFAR-10 *binary* batches (``data_batch_1.bin`` .. ``test_batch.bin``).
* ``read_idx(file)``: the IDX reader underneath (raw or gzip-compressed).

Images come back as ``uint8`` arrays (``(N, 28, 28)`` for the MNISTs, NCHW ``(N, 3, 32, 32)`` for
CIFAR-10) and labels as ``int64`` ``(N,)``: scaling and layout are the caller's choice. Every
reader checks the file against its own header (magic number, element type, dimensions, exact
size) so a truncated download or a wrong file gives a clear ``ValueError`` instead of garbage.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import Union

import numpy as np

from . import _bounded_io

PathLike = Union[str, "os.PathLike[str]"]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

# IDX element-type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def read_idx(file: PathLike) -> np.ndarray:
    """Reads one IDX file (raw or ``.gz``) into a native-endian numpy array.

    The IDX format: two zero bytes, an element-type code, the number of dimensions, then each
    dimension as a big-endian uint32, then the data (big-endian). Raises ``ValueError`` naming the
    file when the magic number, the type code, the dimensions or the file size are wrong. The
    header is read and checked (against ``_bounded_io``'s limits too) before the data is read or
    decompressed, and never more than the header declares is decompressed.
    """
    path = Path(file)
    with _bounded_io.DataStream(path) as stream:
        magic = stream.read_upto(4)
        if len(magic) < 4:
            raise ValueError(
                f"{path}: not an IDX file: {len(magic)} bytes, shorter than the header"
            )
        zero1, zero2, code, ndim = magic
        if zero1 != 0 or zero2 != 0:
            raise ValueError(
                f"{path}: not an IDX file: magic number starts with {bytes(magic[:2]).hex()}, "
                "expected 0000"
            )
        if code not in _IDX_DTYPES:
            known = ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES)
            raise ValueError(f"{path}: unknown IDX element type 0x{code:02x} (known: {known})")
        if ndim == 0:
            raise ValueError(f"{path}: IDX header has 0 dimensions")
        header_size = 4 + 4 * ndim
        dims = stream.read_upto(4 * ndim)
        if len(dims) < 4 * ndim:
            raise ValueError(
                f"{path}: truncated IDX header: {ndim} dimensions need {header_size} bytes, "
                f"the file has {4 + len(dims)}"
            )
        shape = struct.unpack(f">{ndim}I", dims)
        dtype = _IDX_DTYPES[code]
        numel = math.prod(shape)
        expected = header_size + numel * dtype.itemsize
        if numel > _bounded_io.MAX_ARRAY_ELEMENTS or expected > _bounded_io.MAX_DATA_BYTES:
            raise ValueError(
                f"{path}: IDX header claims an implausible shape {shape} ({expected} bytes; "
                f"the limit is {_bounded_io.MAX_DATA_BYTES} bytes, "
                "pocketcnn._bounded_io.MAX_DATA_BYTES)"
            )
        data = stream.read_upto(expected - header_size)
        if len(data) != expected - header_size or not stream.at_end():
            found = header_size + len(data)
            what = "truncated" if found < expected else "has trailing bytes"
            size = f"{found} bytes" if found < expected else "more bytes"
            raise ValueError(
                f"{path}: {what}: IDX header says shape {shape} of {dtype.name} "
                f"({expected} bytes with the header), the file has {size}"
            )
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find(directory: Path, stem: str) -> Path:
    """``stem.gz`` or ``stem`` in directory (or the ``.idx3-ubyte`` spelling of some mirrors)."""
    candidates = [
        stem + ".gz",
        stem,
        stem.replace("-idx", ".idx") + ".gz",
        stem.replace("-idx", ".idx"),
    ]
    for name in candidates:
        p = directory / name
        if p.is_file():
            return p
    raise FileNotFoundError(f"{directory}: no {stem}.gz or {stem}")


def _load_mnist_like(directory: Path, what: str):
    arrays = {key: read_idx(_find(directory, stem)) for key, stem in _MNIST_FILES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"{directory}: {what} {split} images {x.shape} and labels {y.shape} do not match "
                "(expected (N, H, W) images and N labels)"
            )
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise ValueError(f"{directory}: {what} files must hold unsigned bytes")
    return (
        (arrays["x_train"], arrays["y_train"].astype(np.int64)),
        (arrays["x_test"], arrays["y_test"].astype(np.int64)),
    )


def fashion_mnist(path: PathLike | None = None):
    """Fashion-MNIST: ``(x_train, y_train), (x_test, y_test)``.

    Images are ``uint8`` ``(N, 28, 28)`` (60,000 train, 10,000 test), labels ``int64`` in 0..9
    (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot).
    ``path`` is a directory with the four IDX files (``.gz`` or raw); by default Debian's
    ``/usr/share/datasets/fashion-mnist/``.
    """
    directory = Path(path) if path is not None else Path(FASHION_MNIST_DIR)
    try:
        return _load_mnist_like(directory, "Fashion-MNIST")
    except FileNotFoundError as e:
        hint = (
            "install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu) or "
            "pass path= a directory holding train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
        )
        raise FileNotFoundError(f"Fashion-MNIST not found ({e}); {hint}") from None


def mnist(path: PathLike):
    """MNIST from a directory with its four IDX files: ``(x_train, y_train), (x_test, y_test)``."""
    directory = Path(path)
    try:
        return _load_mnist_like(directory, "MNIST")
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"MNIST not found ({e}); pass path= a directory holding train-images-idx3-ubyte(.gz), "
            "train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz), t10k-labels-idx1-ubyte(.gz)"
        ) from None


_CIFAR_RECORD = 1 + 3 * 32 * 32  # one label byte, then 32x32 R, G, B planes


def read_cifar10_batch(file: PathLike):
    """One CIFAR-10 binary batch: ``uint8 (N, 3, 32, 32)`` images and ``int64 (N,)`` labels."""
    path = Path(file)
    with _bounded_io.DataStream(path) as stream:
        data = stream.read_upto(stream.max_bytes + 1)  # one past the limit: an error
    if len(data) == 0 or len(data) % _CIFAR_RECORD != 0:
        raise ValueError(
            f"{path}: not a CIFAR-10 binary batch: {len(data)} bytes is not a positive multiple "
            f"of the {_CIFAR_RECORD}-byte record (1 label byte + 3x32x32 pixels); truncated?"
        )
    records = np.frombuffer(data, np.uint8).reshape(-1, _CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"{path}: label {int(labels.max())} out of range 0..9; not CIFAR-10?")
    images = records[:, 1:].reshape(-1, 3, 32, 32).copy()
    return images, labels


def cifar10(path: PathLike):
    """CIFAR-10 from its binary version: ``(x_train, y_train), (x_test, y_test)``.

    ``path`` is the directory holding ``data_batch_1.bin`` .. ``data_batch_5.bin`` and
    ``test_batch.bin`` (``cifar-10-batches-bin``). Images are NCHW ``uint8 (N, 3, 32, 32)``,
    labels ``int64`` in 0..9.
    """
    directory = Path(path)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    missing = [n for n in names if not (directory / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 not found in {directory}: missing {', '.join(missing)}; pass path= the "
            "cifar-10-batches-bin directory of the binary version"
        )
    train = [read_cifar10_batch(directory / n) for n in names[:5]]
    x_test, y_test = read_cifar10_batch(directory / names[5])
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train), (x_test, y_test)


__all__ = ["cifar10", "fashion_mnist", "mnist", "read_cifar10_batch", "read_idx"]
