"""Gradient buckets reduced while the backward pass still runs (as DDP's reducer, Horovod).

The parameters are grouped, in reverse order (the order a backward pass finishes their
gradients), into flat float32 buckets of at most ``bucket_bytes``, each started once it holds 64
KB (``MIN_BUCKET_BYTES``); a gradient larger than ``bucket_bytes`` is reduced in place on its own
memory, as its own bucket. ``Tensor.backward(watch=params,
on_grad_ready=buckets.grad_ready)`` reports each gradient the moment it is final: it is packed
into its bucket, and a full bucket's non-blocking ``Iallreduce`` starts at once, so the reduction
of the last layers' gradients overlaps the backward of the first layers. ``finish()`` then
starts what is left, waits for everything and unpacks.

Every rank must start the same collectives in the same order: buckets are started strictly in
bucket order (a bucket complete before an earlier one waits for it), so a rank whose backward
reported in another order, or a rank that ran no backward at all (no samples this step, or a
non-finite loss), still matches the others. Open MPI's nonblocking collectives move only while
MPI is called, so every report also tests the requests in flight (``Testall``: progress).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from . import _core

# A bucket is started once it holds this much (or bucket_bytes, if smaller): small enough that
# a small network's last layers are reduced while its first layers' backward runs (DDP's 25 MB,
# or its 1 MB first bucket, would put the whole lecture network, 551 KB, in one bucket started
# at the very end), large enough that tiny layers (biases) share one message.
MIN_BUCKET_BYTES = 64 * 2**10


def _group(
    sizes: list[int], extras: int, bucket_bytes: int, min_bytes: int | None = None
) -> tuple[list[list[int]], list[bool]]:
    """Parameter indices per bucket, in reverse parameter order, and which are in place.

    Bucket 0 carries the extras (never in place). A gradient above bucket_bytes is a bucket of
    its own, reduced on its own memory; the others share flat buckets of at most bucket_bytes,
    each closed once it holds min_bytes (MIN_BUCKET_BYTES when None).
    """
    limit = max(1, bucket_bytes // 4)
    enough = max(1, min(limit, (MIN_BUCKET_BYTES if min_bytes is None else min_bytes) // 4))
    groups: list[list[int]] = [[]]
    in_place = [False]
    used = extras

    def close() -> None:
        nonlocal used
        groups.append([])
        in_place.append(False)
        used = 0

    for i in reversed(range(len(sizes))):
        n = sizes[i]
        big = n > limit
        if (big or used + n > limit) and groups[-1]:
            close()
        groups[-1].append(i)
        used += n
        if big:
            in_place[-1] = True
        if big or used >= enough:
            close()
    if not groups[-1] and len(groups) > 1:
        groups.pop()
        in_place.pop()
    if in_place[0]:  # the extras need a flat bucket of their own before it
        groups.insert(0, [])
        in_place.insert(0, False)
    return groups, in_place


class GradientBuckets:
    """Averages the gradients of ``params`` over the ranks, weighted by each rank's samples.

    Per step: ``start(params, weight, extras)`` before the backward pass, ``grad_ready(i)`` from
    its hook for each final gradient, ``finish()`` after it: grad <- sum over ranks of
    (weight * grad) / sum of weights; returns the summed extras. ``reduce`` does all three for
    gradients computed already. The first bucket started also carries ``extras`` floats (the
    sample count, per-rank flags), summed with the gradients; extras[0] must be the weight.
    """

    def __init__(
        self,
        params: Sequence[_core.Tensor],
        extras: int,
        bucket_bytes: int,
        min_bytes: int | None = None,
    ):
        self.sizes = [int(np.prod(p.shape)) for p in params]
        self.extras = extras
        self.groups, self.in_place = _group(self.sizes, extras, bucket_bytes, min_bytes)
        self.bucket_of = {i: k for k, g in enumerate(self.groups) for i in g}
        self.offset = [0] * len(self.sizes)  # where each gradient goes in its bucket
        for k, group in enumerate(self.groups):
            at = self.extras if k == 0 else 0
            for i in group:
                self.offset[i], at = at, at + self.sizes[i]
        self.buffers = [
            np.empty(0 if own else (extras if k == 0 else 0) + sum(self.sizes[i] for i in g), "f4")
            for k, (g, own) in enumerate(zip(self.groups, self.in_place))
        ]
        self._params: Sequence[_core.Tensor] = ()

    # ---- one step ------------------------------------------------------------------------------

    def start(self, params: Sequence[_core.Tensor], weight: float, extras: np.ndarray) -> None:
        """Before the backward pass: this rank's weight (its samples) and the extras to sum."""
        self._params, self._weight = params, np.float32(weight)
        self._missing = [len(g) for g in self.groups]  # gradients still to be packed, per bucket
        self._packed = [False] * len(self.sizes)
        self._started = 0  # buckets started, in order
        self._requests: list = []
        self.buffers[0][: self.extras] = extras

    def grad_ready(self, i: int) -> None:
        """The hook: params[i].grad is final. Packs it; starts every bucket now complete."""
        from .distributed import _state

        start, start_cpu = time.perf_counter(), time.process_time()
        self._pack(i)
        k = self._started
        while k < len(self.groups) and self._missing[k] == 0:
            k += 1
        if k > self._started:
            self._start_buckets(k)
        if self._requests:
            _state.MPI.Request.Testall(self._requests)  # progress for those in flight
        self._account(start, start_cpu)

    def finish(self) -> np.ndarray:
        """After the backward pass: starts what is left, waits, unpacks; the summed extras."""
        from .distributed import _state, _wait

        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(len(self.sizes)):
            if not self._packed[i]:  # not reached by the graph (or no backward ran): zeros
                self._pack(i)
        self._start_buckets(len(self.groups))
        waited = time.perf_counter()
        _wait(self._requests, "the gradient allreduce")
        _state.comm_wait_seconds += time.perf_counter() - waited
        total = np.float32(self.buffers[0][0])
        for k, group in enumerate(self.groups):
            if self.in_place[k]:
                self._own_gradient(self._params[group[0]])[:] /= total
                continue
            for i in group:
                part = self.buffers[k][self.offset[i] : self.offset[i] + self.sizes[i]]
                np.divide(part, total, out=self._own_gradient(self._params[i]))
        self._account(start, start_cpu, finished=True)
        self._params = ()
        return self.buffers[0][: self.extras].copy()

    def reduce(
        self, params: Sequence[_core.Tensor], weight: float, extras: np.ndarray
    ) -> np.ndarray:
        """start + finish, for gradients already computed (no overlap)."""
        self.start(params, weight, extras)
        return self.finish()

    # ---- parts ---------------------------------------------------------------------------------

    def _pack(self, i: int) -> None:
        """weight * params[i].grad into its bucket (or in place on a lone one); None: zeros."""
        if self._packed[i]:
            return
        self._packed[i] = True
        k = self.bucket_of[i]
        self._missing[k] -= 1
        grad = self._params[i].grad
        if self.in_place[k]:
            self._own_gradient(self._params[i])[:] *= self._weight
            return
        part = self.buffers[k][self.offset[i] : self.offset[i] + self.sizes[i]]
        if grad is None:
            part.fill(0)
        else:
            np.multiply(np.asarray(grad).reshape(-1), self._weight, out=part)

    def _start_buckets(self, end: int) -> None:
        """Starts the allreduce of buckets self._started .. end - 1 (all complete), in order."""
        from .distributed import _state

        MPI, comm = _state.MPI, _state.comm
        for k in range(self._started, end):
            if self.in_place[k]:
                buf = self._own_gradient(self._params[self.groups[k][0]])
            else:
                buf = self.buffers[k]
            self._requests.append(comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM))
        self._started = max(self._started, end)

    @staticmethod
    def _account(start: float, start_cpu: float, finished: bool = False) -> None:
        """Adds the time since start to distributed.stats() (and a call when a step finished)."""
        from .distributed import _state

        _state.comm_seconds += time.perf_counter() - start
        _state.comm_cpu_seconds += time.process_time() - start_cpu
        _state.comm_calls += int(finished)

    @staticmethod
    def _own_gradient(param: _core.Tensor) -> np.ndarray:
        """The flat view of param's gradient (zeros made for a parameter without one)."""
        if param.grad is None:
            param.grad = _core.Tensor(np.zeros(tuple(param.shape), np.float32))
        return np.asarray(param.grad).reshape(-1)


__all__ = ["GradientBuckets"]
