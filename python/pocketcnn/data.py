"""Feeding numpy arrays to a model: ``DataLoader`` and batch transforms.

``DataLoader`` cuts arrays into batches, optionally shuffled with a seed, and prepares the next
batches on a background thread (gathering rows and running transforms) while the model trains on
the current one. Everything random is derived from ``(seed, epoch, batch index)``, so the batches
are the same however the threads are scheduled.

Transforms work on a whole NCHW batch and take the ``numpy.random.Generator`` to use:
``Normalize``, ``RandomCrop`` (with zero padding), ``RandomHorizontalFlip``, chained by
``Compose``. Called without a generator they use their own, seeded at construction.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Callable

import numpy as np

from . import _checks

Transform = Callable[..., np.ndarray]


def _fresh_seed() -> int:
    """A seed from the OS's entropy (SeedSequence() draws 128 bits of it), as an int64."""
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)
    return entropy % (2**63)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    """A generator for one (seed, keys...) tuple: independent streams for each epoch and batch."""
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


class _SeededTransform:
    """Base for random transforms: a fallback generator for standalone calls."""

    def __init__(self, seed: int | None):
        self._own_rng = np.random.default_rng(seed)

    def _generator(self, rng: np.random.Generator | None) -> np.random.Generator:
        return self._own_rng if rng is None else rng


def _check_batch(x: np.ndarray, who: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{who}: expects an NCHW batch (4-D), got shape {x.shape}")
    return x


class Normalize:
    """``(x - mean) / std`` per channel (NCHW batches); mean/std are scalars or one per channel."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, np.float32).reshape(-1)
        self.std = np.asarray(std, np.float32).reshape(-1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be > 0, got {self.std}")
        if self.mean.size != self.std.size and 1 not in (self.mean.size, self.std.size):
            raise ValueError(
                f"Normalize: mean has {self.mean.size} values, std {self.std.size}; "
                "give one value or one per channel"
            )

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = _check_batch(x, "Normalize")
        channels = x.shape[1]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, channels):
                raise ValueError(
                    f"Normalize: {name} has {v.size} values but the batch {x.shape} has "
                    f"{channels} channels"
                )
        shape = (1, -1, 1, 1)
        return ((x.astype(np.float32) - self.mean.reshape(shape)) / self.std.reshape(shape)).astype(
            np.float32
        )


class RandomCrop(_SeededTransform):
    """Pads each image with ``padding`` zeros on every side and crops a random ``size`` window.

    The standard CIFAR augmentation: ``RandomCrop(32, padding=4)``. ``size`` is an int or (h, w).
    """

    def __init__(self, size, padding: int = 0, seed: int | None = None):
        super().__init__(seed)
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"RandomCrop: size must be a positive int or (h, w), got {size!r}")
        if padding < 0:
            raise ValueError(f"RandomCrop: padding must be >= 0, got {padding}")
        self.padding = int(padding)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = _check_batch(x, "RandomCrop")
        rng = self._generator(rng)
        p = self.padding
        h, w = self.size
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
        H, W = padded.shape[2], padded.shape[3]
        if h > H or w > W:
            raise ValueError(
                f"RandomCrop: crop {self.size} larger than the padded images {(H, W)} "
                f"(batch {x.shape}, padding {p})"
            )
        tops = rng.integers(0, H - h + 1, size=len(x))
        lefts = rng.integers(0, W - w + 1, size=len(x))
        out = np.empty(x.shape[:2] + (h, w), dtype=x.dtype)
        for i, (t, left) in enumerate(zip(tops, lefts)):
            out[i] = padded[i, :, t : t + h, left : left + w]
        return out


class RandomHorizontalFlip(_SeededTransform):
    """Mirrors each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5, seed: int | None = None):
        super().__init__(seed)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = _check_batch(x, "RandomHorizontalFlip")
        flip = self._generator(rng).random(len(x)) < self.p
        out = x.copy()
        out[flip] = out[flip][..., ::-1]
        return out


class Compose:
    """Applies transforms in order, all drawing from the same generator."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        for t in self.transforms:
            x = t(x, rng)
        return x


class _Stop:
    """Marks the end of an epoch in the prefetch queue."""


class DataLoader:
    """Batches of ``(x, y)`` (or just ``x``) from numpy arrays, prepared on a background thread.

    Args:
        x: samples, first axis = samples (e.g. NCHW float32 images).
        y: labels or targets with ``len(y) == len(x)``, or None.
        batch_size: samples per batch; the last batch is smaller unless ``drop_last``.
        shuffle: a new order every epoch, drawn from ``(seed, epoch)``.
        seed: makes shuffling and random transforms reproducible; None picks a random seed once.
        drop_last: skip the last, incomplete batch.
        transform: called as ``transform(x_batch, rng)`` on each batch (see ``Compose``).
        prefetch: batches prepared ahead (0 = no background thread).

    Each ``iter()`` is one epoch; epochs count up from 0, or set one with ``set_epoch``.
    """

    def __init__(
        self,
        x,
        y=None,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        transform: Transform | None = None,
        prefetch: int = 2,
    ):
        x = np.asarray(x)
        if x.ndim == 0:
            raise ValueError("DataLoader: x must have a samples axis, got a scalar")
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 0 or len(y) != len(x):
                raise ValueError(
                    f"DataLoader: x and y have different numbers of samples: x {x.shape}, "
                    f"y {y.shape}"
                )
        _checks.integer(batch_size, "DataLoader: batch_size", minimum=1)
        if prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be >= 0, got {prefetch}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = _fresh_seed() if seed is None else int(seed)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.prefetch = int(prefetch)
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order (and transforms) the next ``iter()`` uses."""
        self.epoch = int(epoch)

    def _order(self, epoch: int) -> np.ndarray:
        n = len(self.x)
        return _rng(self.seed, epoch).permutation(n) if self.shuffle else np.arange(n)

    def _batch(self, order: np.ndarray, epoch: int, b: int):
        idx = order[b * self.batch_size : (b + 1) * self.batch_size]
        if not self.shuffle:
            xb = self.x[idx[0] : idx[-1] + 1]  # a slice: no gather needed
            yb = None if self.y is None else self.y[idx[0] : idx[-1] + 1]
        else:
            xb = self.x[idx]
            yb = None if self.y is None else self.y[idx]
        if self.transform is not None:
            xb = self.transform(xb, _rng(self.seed, epoch, b, 1))
        return xb if yb is None else (xb, yb)

    def __iter__(self) -> Iterator:
        epoch = self.epoch
        self.epoch += 1
        order = self._order(epoch)
        n_batches = len(self)
        if self.prefetch == 0:
            for b in range(n_batches):
                yield self._batch(order, epoch, b)
            return
        yield from self._prefetched(order, epoch, n_batches)

    def _prefetched(self, order: np.ndarray, epoch: int, n_batches: int) -> Iterator:
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def work():
            try:
                for b in range(n_batches):
                    if not put(self._batch(order, epoch, b)):
                        return
                put(_Stop)
            except BaseException as e:  # handed to the consumer, raised there
                put(e)

        thread = threading.Thread(target=work, name="pocketcnn-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is _Stop:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:  # also when the consumer stops early (break, exception)
            stop.set()
            thread.join()


__all__ = [
    "Compose",
    "DataLoader",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
]
