"""Where a training step's time goes: wall-clock and CPU time per phase of ``Sequential.fit``.

``install()`` wraps the functions a step calls (the loader's next batch, the forward pass and
loss, ``Tensor.backward``, the gradient allreduce, the optimiser step with the gradient norm) with
timers; ``report()`` returns the totals, with ``other`` = the rest of fit (metrics, progress,
logs, zero_grad: Python per-step overhead). Wall time by ``perf_counter``, CPU time of the
calling thread by ``thread_time`` (the loader's prefetch thread runs beside it: fit's whole
process CPU time is reported as well). Used by bench_distributed.py's child processes.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict

PHASES = ("load", "forward", "backward", "allreduce", "step", "other")

_wall: dict[str, float] = defaultdict(float)
_cpu: dict[str, float] = defaultdict(float)
_calls: dict[str, int] = defaultdict(int)
_depth = [0]  # nested wrapped calls count once (e.g. backward inside the allreduce's hooks)


def _timed(phase: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _depth[0]:
            return fn(*args, **kwargs)
        _depth[0] += 1
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            _wall[phase] += time.perf_counter() - wall
            _cpu[phase] += time.thread_time() - cpu
            _calls[phase] += 1
            _depth[0] -= 1

    return wrapper


def _timed_iter(fn):
    """A loader's __iter__ whose every next() is timed as 'load' (waiting for the prefetcher)."""

    @functools.wraps(fn)
    def wrapper(self):
        it = fn(self)
        while True:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                _wall["load"] += time.perf_counter() - wall
                _cpu["load"] += time.thread_time() - cpu
            yield item

    return wrapper


def install() -> None:
    from pocketcnn import _core, distributed, losses, optim
    from pocketcnn.data import DataLoader
    from pocketcnn.model import Sequential

    DataLoader.__iter__ = _timed_iter(DataLoader.__iter__)
    Sequential._forward = _timed("forward", Sequential._forward)
    losses.compute = _timed("forward", losses.compute)
    _core.Tensor.backward = _timed("backward", _core.Tensor.backward)
    buckets = distributed.GradientBuckets  # its hooks run inside backward and count there
    buckets.finish = _timed("allreduce", buckets.finish)
    optim.Optimizer.step = _timed("step", optim.Optimizer.step)
    optim.global_grad_norm = _timed("step", optim.global_grad_norm)


def reset() -> None:
    _wall.clear()
    _cpu.clear()
    _calls.clear()


def report(fit_wall: float, fit_thread_cpu: float) -> dict[str, dict[str, float]]:
    """{'wall': {phase: s}, 'cpu': {phase: s}, 'steps': backward calls}; 'other' = the rest."""
    wall = {p: _wall.get(p, 0.0) for p in PHASES[:-1]}
    cpu = {p: _cpu.get(p, 0.0) for p in PHASES[:-1]}
    wall["other"] = fit_wall - sum(wall.values())
    cpu["other"] = fit_thread_cpu - sum(cpu.values())
    return {"wall": wall, "cpu": cpu, "steps": _calls.get("backward", 0)}
