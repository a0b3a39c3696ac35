"""Data-parallel training over MPI (Open MPI + mpi4py, the optional extra ``pocketcnn[mpi]``).

Launch the same script on K ranks, ``mpiexec -n K python train.py`` (or ``mpiexec -n K
pocketcnn train``), and train with ``model.fit(..., distributed=True)``: every rank starts from
rank 0's weights and optimiser state, trains on its own shard of every global batch, and the
gradients are averaged with an allreduce before each step, so all ranks keep the same weights.

On one process (no launcher, or ``mpiexec -n 1``) everything here is a no-op: ``init()`` returns
False, ``rank() == 0``, ``size() == 1`` and ``fit(distributed=True)`` is plain ``fit``. mpi4py is
only imported when a launcher started more than one rank; missing then, it is a clear ImportError
(K ranks each training alone and writing the same files would be silently wrong).

Buffers go to MPI through the buffer protocol (no pickling): ``allreduce_``/``broadcast_`` work in
place on a float32 Tensor's or array's memory. The gradients of a step are packed into a few flat
buckets of at most ``bucket_bytes`` (25 MB, as PyTorch DDP's buckets and Horovod's tensor fusion),
one non-blocking allreduce per bucket, started after the backward pass (or, with
``init(overlap=True)``, from its grad-ready hook as soon as the bucket is complete:
``_gradient_buckets.py``); a gradient larger than a bucket is reduced in
place on its own memory. Every wait polls its requests against a deadline (``timeout``, default
120 s, or ``POCKETCNN_DIST_TIMEOUT``): a rank that hangs or vanishes aborts the whole job with a
message naming what it waited for, since MPI cannot cancel a collective that another rank never
joins.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np

from . import _core
from ._distributed_env import default_threads_per_rank, launched_size
from ._gradient_buckets import GradientBuckets
from .data import DataLoader

_DEFAULT_BUCKET_BYTES = 25 * 2**20
_DEFAULT_TIMEOUT = 120.0
_SPIN_SECONDS = 0.002  # poll without sleeping this long: a balanced allreduce finishes in it


class _State:
    comm: Any = None  # mpi4py's COMM_WORLD once init() found more than one rank
    MPI: Any = None
    timeout: float = _DEFAULT_TIMEOUT
    bucket_bytes: int = _DEFAULT_BUCKET_BYTES
    overlap: bool = False  # reduce buckets from the backward pass's grad-ready hooks
    comm_seconds: float = 0.0  # time spent packing, reducing and unpacking gradients
    comm_cpu_seconds: float = 0.0  # CPU time of this process meanwhile (polling included)
    comm_wait_seconds: float = 0.0  # of comm_seconds: waiting for the allreduce after backward
    comm_calls: int = 0


_state = _State()


def init(
    timeout: float | None = None, bucket_bytes: int | None = None, overlap: bool | None = None
) -> bool:
    """Joins the MPI job when one was launched with more than one rank; returns whether it did.

    Args:
        timeout: seconds any rank waits for the others in a collective before aborting the
            job (default ``POCKETCNN_DIST_TIMEOUT`` or 120).
        bucket_bytes: the largest gradient bucket (default 25 MB).
        overlap: reduce gradients beside the backward pass (default False): buckets start
            from the backward's grad-ready hooks once they hold 64 KB (or ``bucket_bytes``).
            Off, every gradient is reduced after the backward pass in buckets of
            ``bucket_bytes``. On one 2-core host (shared memory, every core computing) the
            overlap measured slower: 1.60x one rank against 1.97x without it
            (benchmarks/bench_distributed.py); across hosts, where the transfer is longer and
            the network interface moves it, it can hide the transfer.

    Safe to call more than once (later calls only change the settings). Without a launcher
    (Open MPI, MPICH/Hydra, MVAPICH2 environment variables) nothing is imported and it returns
    False, unless the program imported ``mpi4py.MPI`` itself; with one rank it returns False.
    """
    if timeout is None:
        text = os.environ.get("POCKETCNN_DIST_TIMEOUT", str(_DEFAULT_TIMEOUT))
        try:
            timeout = float(text)
        except ValueError:
            raise ValueError(
                f"POCKETCNN_DIST_TIMEOUT must be a number of seconds, got {text!r}"
            ) from None
    if not timeout > 0:
        raise ValueError(f"distributed.init: timeout must be > 0 seconds, got {timeout}")
    _state.timeout = float(timeout)
    if bucket_bytes is not None:
        if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, int) or bucket_bytes < 4:
            raise ValueError(
                f"distributed.init: bucket_bytes must be an int >= 4, got {bucket_bytes!r}"
            )
        _state.bucket_bytes = bucket_bytes
    if overlap is not None:
        if not isinstance(overlap, bool):
            raise TypeError(f"distributed.init: overlap must be a bool, got {overlap!r}")
        _state.overlap = overlap
    if _state.comm is not None:
        return True
    if launched_size() < 2 and "mpi4py.MPI" not in sys.modules:
        return False  # no launcher we know of, and the program has not started MPI itself
    try:
        import mpi4py

        mpi4py.rc.thread_level = "funneled"  # only the main thread calls MPI
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            f"pocketcnn.distributed: this process is one of {launched_size()} MPI ranks, but "
            f"mpi4py cannot be imported ({e}); install it with pip install 'pocketcnn[mpi]' "
            "(it needs an MPI library, e.g. apt-get install openmpi-bin libopenmpi-dev)"
        ) from None
    _state.MPI, _state.comm = MPI, MPI.COMM_WORLD
    if _state.comm.Get_size() > 1:
        _install_excepthook()
        return True
    _state.comm = None
    return False


def is_initialized() -> bool:
    """Whether ``init()`` joined a job of more than one rank."""
    return _state.comm is not None


def rank() -> int:
    """This process's rank, 0 .. size() - 1 (0 when not distributed)."""
    return 0 if _state.comm is None else _state.comm.Get_rank()


def size() -> int:
    """The number of ranks (1 when not distributed)."""
    return 1 if _state.comm is None else _state.comm.Get_size()


def is_root() -> bool:
    """True on rank 0, the rank that prints, logs and saves."""
    return rank() == 0


def print0(*args, **kwargs) -> None:
    """``print`` on rank 0 only."""
    if is_root():
        print(*args, **kwargs)


def abort(message: str, code: int = 1) -> None:
    """Prints ``message`` to stderr and ends every rank of the job (``MPI_Abort``)."""
    print(f"pocketcnn.distributed: rank {rank()}/{size()}: {message}", file=sys.stderr, flush=True)
    if _state.comm is not None:
        _state.comm.Abort(code)
    raise SystemExit(code)


def _install_excepthook() -> None:
    """An exception that ends one rank ends the job: the others would wait for it forever.

    Errors that every rank raised together (marked by ``mark_all_ranks``) exit normally.
    """
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        if _state.comm is not None and not getattr(value, "_pocketcnn_all_ranks", False):
            abort(f"uncaught {kind.__name__}; aborting the other ranks", 1)

    sys.excepthook = hook


def mark_all_ranks(error: BaseException) -> BaseException:
    """Marks an exception that every rank raises at the same point (no abort needed)."""
    error._pocketcnn_all_ranks = True  # type: ignore[attr-defined]
    return error


# ---- waiting with a deadline -------------------------------------------------------------------


def _wait(requests: list, what: str) -> None:
    """Waits for non-blocking requests; aborts the job when they take longer than the timeout."""
    MPI = _state.MPI
    start = time.monotonic()
    while not MPI.Request.Testall(requests):
        waited = time.monotonic() - start
        if waited > _state.timeout:
            abort(
                f"waited {waited:.0f} s (timeout {_state.timeout:g} s, POCKETCNN_DIST_TIMEOUT) "
                f"for {what}; another rank has hung, died or stopped calling it. Aborting the job",
                1,
            )
        if waited > _SPIN_SECONDS:
            time.sleep(0.0002)


def _buffer(x, who: str) -> np.ndarray:
    """The float32 (or float64) memory of a Tensor or array, to be changed in place."""
    array = np.asarray(x) if isinstance(x, _core.Tensor) else x
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{who}: expected a pocketcnn Tensor or a numpy array, got {type(x)!r}")
    if array.dtype not in (np.float32, np.float64, np.int64, np.int32):
        raise TypeError(f"{who}: dtype {array.dtype} is not float32/float64/int32/int64")
    if not (array.flags.c_contiguous and array.flags.writeable):
        raise ValueError(
            f"{who}: the array must be C-contiguous and writeable (it is changed in place)"
        )
    return array


def allreduce_(x, op: str = "sum"):
    """Sums (``op='sum'``) or averages (``'mean'``) x over all ranks, in place; returns x."""
    if op not in ("sum", "mean"):
        raise ValueError(f"allreduce_: op must be 'sum' or 'mean', got {op!r}")
    buf = _buffer(x, "allreduce_")
    if op == "mean" and buf.dtype.kind != "f":
        raise TypeError(f"allreduce_: op='mean' needs a float array, got {buf.dtype}")
    if _state.comm is None:
        return x
    MPI = _state.MPI
    _wait([_state.comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM)], f"allreduce_ of {buf.shape}")
    if op == "mean":
        buf /= size()
    return x


def broadcast_(x, root: int = 0):
    """Overwrites x on every rank with rank ``root``'s x, in place; returns x."""
    buf = _buffer(x, "broadcast_")
    if _state.comm is None:
        return x
    _wait([_state.comm.Ibcast(buf, root=root)], f"broadcast_ of {buf.shape} from rank {root}")
    return x


def barrier() -> None:
    """Returns once every rank has called it (or aborts the job after the timeout)."""
    if _state.comm is not None:
        _wait([_state.comm.Ibarrier()], "barrier")


def broadcast_object(obj: Any, root: int = 0) -> Any:
    """Rank ``root``'s picklable obj on every rank (for small things: configs, optimiser state)."""
    if _state.comm is None:
        return obj
    import pickle

    payload = pickle.dumps(obj) if rank() == root else b""
    length = np.array([len(payload)], np.int64)
    broadcast_(length, root)
    data = (
        np.frombuffer(payload, np.uint8).copy() if rank() == root else np.empty(length[0], np.uint8)
    )
    _wait([_state.comm.Ibcast(data, root=root)], f"broadcast of {length[0]} bytes from rank {root}")
    return obj if rank() == root else pickle.loads(data.tobytes())  # noqa: S301 (our own ranks)


def allgather_object(obj: Any) -> list:
    """Every rank's picklable obj, in rank order, on every rank."""
    if _state.comm is None:
        return [obj]
    return [broadcast_object(obj, r) for r in range(size())]


def stats() -> dict[str, float]:
    """Reducing gradients (packing, allreduce, unpacking; in the backward pass's hooks and after
    it) since the last reset: wall-clock ``seconds``, this process's ``cpu_seconds`` meanwhile,
    ``wait_seconds`` of them waiting for the allreduce after the backward pass (for the slower
    rank, and what the backward did not hide), and the number of steps, ``calls``."""
    return {
        "seconds": _state.comm_seconds,
        "cpu_seconds": _state.comm_cpu_seconds,
        "wait_seconds": _state.comm_wait_seconds,
        "calls": _state.comm_calls,
    }


def reset_stats() -> None:
    _state.comm_seconds, _state.comm_cpu_seconds, _state.comm_calls = 0.0, 0.0, 0
    _state.comm_wait_seconds = 0.0


# ---- fit(distributed=True) ---------------------------------------------------------------------


class ShardedLoader(DataLoader):
    """Rank r's part of each global batch of ``batch_size * size`` samples: positions r, r + K,
    r + 2K ... of it (as PyTorch's DistributedSampler interleaves), so global batch k of a K-rank
    run holds exactly the samples of batch k of a 1-rank run with K times the batch size.

    Nothing is dropped or padded: the last global batch may split unevenly (a rank may even get
    no samples), and the gradients are weighted by samples, so every epoch sees every sample
    once, as on one rank.
    """

    def __init__(self, x, y, batch_size: int, rank: int, size: int, shuffle: bool, seed: int):
        super().__init__(x, y, batch_size=batch_size * size, shuffle=shuffle, seed=seed)
        self.rank, self.size = rank, size

    def _batch(self, order: np.ndarray, epoch: int, b: int):
        idx = order[b * self.batch_size : (b + 1) * self.batch_size][self.rank :: self.size]
        return self.x[idx], self.y[idx]


__all__ = [
    "GradientBuckets",
    "ShardedLoader",
    "abort",
    "allgather_object",
    "allreduce_",
    "barrier",
    "broadcast_",
    "broadcast_object",
    "default_threads_per_rank",
    "init",
    "is_initialized",
    "is_root",
    "launched_size",
    "print0",
    "rank",
    "reset_stats",
    "size",
    "stats",
]
