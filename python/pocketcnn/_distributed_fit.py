"""What ``Sequential.fit(distributed=True)`` does differently on K ranks (model.py's hooks).

See ``pocketcnn.distributed`` for the collectives, the gradient buckets and the sharded loader
this uses, and the README's MPI section for the behaviour as a whole.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import numpy as np

from . import _core
from .distributed import (
    GradientBuckets,
    ShardedLoader,
    _state,
    abort,
    allgather_object,
    allreduce_,
    broadcast_,
    broadcast_object,
    init,
    mark_all_ranks,
    rank,
    size,
)


def fit_session(model, x, targets, val, batch_size: int, epochs: int, shuffle: bool, seed: int):
    """A ``FitSession`` for ``model.fit(distributed=True)``, or None on one process."""
    init(timeout=_state.timeout)
    if size() < 2:
        return None
    session = FitSession(model)
    session.check_same_everywhere(x, targets, val, batch_size, epochs, shuffle, seed)
    session.broadcast_model()
    return session


class FitSession:
    """What ``Sequential.fit`` does differently on K ranks (the hooks in model.py call these)."""

    def __init__(self, model):
        self.model = model
        self.rank, self.size = rank(), size()
        # extras in the first bucket: this rank's samples, then one non-finite flag per rank
        # the trainable weights only: a frozen layer's get no gradient (and stay as broadcast)
        # without the overlap, buckets as large as allowed: fewest allreduces after the backward
        min_bytes = None if _state.overlap else _state.bucket_bytes
        self.buckets = GradientBuckets(
            model.trainable_weights, 1 + self.size, _state.bucket_bytes, min_bytes
        )
        # non-trainable state (running statistics): kept the same on every rank
        self.state = [t for layer in model.layers for t in layer.non_trainable_weights]
        self._coordinated = False

    def check_same_everywhere(self, x, targets, val, batch_size, epochs, shuffle, seed) -> None:
        """Every rank must train the same model on the same data with the same settings."""
        m = self.model
        mine = {
            "training samples": (len(x), tuple(x.shape[1:])),
            "validation samples": None if val is None else len(val[0]),
            "batch_size": batch_size,
            "epochs": epochs,
            "shuffle": shuffle,
            "seed": seed,
            "weights": [tuple(w.shape) for w in m.weights],
            "optimizer": (type(m.optimizer).__name__, repr(m.optimizer.get_config())),
            "loss": m.loss,
            "metrics": list(m.metrics),
        }
        everyone = allgather_object(mine)
        for key in mine:
            values = [other[key] for other in everyone]
            if any(v != values[0] for v in values):
                listed = ", ".join(f"rank {r}: {v}" for r, v in enumerate(values))
                raise mark_all_ranks(
                    ValueError(
                        f"{m.name}.fit(distributed=True): {key} differ between ranks ({listed})"
                    )
                )

    def broadcast_model(self) -> None:
        """Rank 0's weights, optimiser state and epoch counter on every rank."""
        m = self.model
        for w in [*m.weights, *self.state]:
            broadcast_(w, 0)
        state = broadcast_object((m.optimizer.state_dict(), m.epochs_trained), 0)
        if self.rank != 0:
            m.optimizer.load_state_dict(state[0])
            m.epochs_trained = state[1]

    def loader(self, x, targets, batch_size: int, shuffle: bool, seed: int) -> ShardedLoader:
        self.samples, self.global_batch = len(x), batch_size * self.size
        return ShardedLoader(x, targets, batch_size, self.rank, self.size, shuffle, seed)

    def samples_done(self, batch: int) -> int:
        """Samples all ranks together have trained on after global batch ``batch`` (from 0)."""
        return min((batch + 1) * self.global_batch, self.samples)

    def rank0_only(self, callbacks, verbose):
        """Rank 0 shows progress and writes checkpoints; every rank runs the other callbacks
        (their decisions, e.g. EarlyStopping's, use the same averaged logs everywhere)."""
        from .callbacks import ModelCheckpoint

        if self.rank == 0:
            return callbacks, verbose
        kept = [c for c in callbacks or [] if not isinstance(c, ModelCheckpoint)]
        return kept, 0

    def reseed_dropout(self, seed: int, epoch: int) -> None:
        """Each rank draws its own dropout masks (the same masks on every rank would correlate)."""
        from .layers import Dropout
        from .model import _DROPOUT, _seed_stream

        for i, layer in enumerate(self.model.layers):
            if isinstance(layer, Dropout):
                base = seed if layer.seed is None else layer.seed
                stream = _seed_stream(base, _DROPOUT, epoch, i, self.rank)
                layer.rng = np.random.default_rng(stream)

    def train_step(self, xb: np.ndarray, yb: np.ndarray):
        """Forward and backward on this rank's samples, averaged gradients, one step everywhere.

        A non-finite loss or gradient on any rank stops every rank at the same step.
        """
        from . import losses
        from .model import _NonFinite

        m = self.model
        params = m.trainable_weights
        m.optimizer.zero_grad(params)
        n = len(xb)
        value, finite = 0.0, True
        out = np.empty((0, *m.layers[-1].output_shape), np.float32)
        loss = None
        if n:
            out_t = m._forward(_core.Tensor(xb), training=True, logits=m._fused_softmax)
            loss = losses.compute(m.loss, out_t, yb, **m.loss_options)
            value = loss.item()
            finite = bool(np.isfinite(value))
            out = np.asarray(out_t)
        extras = np.zeros(1 + self.size, np.float32)
        extras[0] = n
        extras[1 + self.rank] = 0.0 if finite else 1.0
        self.buckets.start(params, n, extras)
        if loss is not None and finite and _state.overlap:
            # each gradient's bucket is reduced as soon as it is final, beside the backward pass
            loss.backward(watch=params, on_grad_ready=self.buckets.grad_ready)
        elif loss is not None and finite:
            loss.backward()  # finish() packs and reduces every gradient after it
        summed = self.buckets.finish()
        bad = [r for r in range(self.size) if summed[1 + r] != 0]
        if bad:
            self._coordinated = True
            raise _NonFinite(
                f"loss (on rank {', '.join(map(str, bad))} of {self.size})", float("nan")
            )
        from .optim import global_grad_norm

        norm = global_grad_norm(params)  # the same averaged gradients, so the same on all ranks
        if not np.isfinite(norm):
            self._coordinated = True
            raise _NonFinite("averaged gradient norm", norm)
        m.optimizer.step(params)
        self._average_state(n, float(summed[0]))
        return value, out

    def _average_state(self, samples: int, total: float) -> None:
        """Each state tensor <- its average over the ranks weighted by their samples this step.

        The ranks held the same state before the step and each layer updated it from its own
        samples; for an update linear in the batch's statistics (a running mean) the weighted
        average is the update a 1-rank run makes from the whole global batch.
        """
        if not self.state:
            return
        sizes = [int(np.prod(t.shape)) for t in self.state]
        flat = np.concatenate([np.asarray(t, np.float32).reshape(-1) for t in self.state])
        flat *= np.float32(samples)
        allreduce_(flat)
        flat /= np.float32(total)
        offset = 0
        for t, n in zip(self.state, sizes):
            np.asarray(t).reshape(-1)[:] = flat[offset : offset + n]
            offset += n

    def _sum(self, values: Sequence[float]) -> np.ndarray:
        totals = np.array(values, np.float64)
        allreduce_(totals)
        return totals

    def epoch_totals(self, loss_sum: float, correct: list[int], seen: int):
        """The epoch's loss sum, metric counts and samples over all ranks."""
        totals = self._sum([loss_sum, seen, *correct])
        return float(totals[0]), [int(round(c)) for c in totals[2:]], int(round(totals[1]))

    def evaluate(self, x: np.ndarray, targets: np.ndarray, batch_size: int) -> dict[str, float]:
        """Validation on this rank's share (every K-th sample), averaged over all samples."""
        m = self.model
        xs, ts = x[self.rank :: self.size], targets[self.rank :: self.size]
        n = len(xs)
        logs = (
            m._evaluate_arrays(xs, ts, batch_size) if n else {k: 0.0 for k in ["loss", *m.metrics]}
        )
        totals = self._sum([n, *(v * n for v in logs.values())])
        return {k: float(t / totals[0]) for k, t in zip(logs, totals[1:])}

    def fail(self, error: BaseException) -> None:
        """An exception left fit on this rank: re-raised when every rank raised it at the same
        step (NaN), else the job is aborted so the other ranks do not wait for this one."""
        if self._coordinated or getattr(error, "_pocketcnn_all_ranks", False):
            mark_all_ranks(error)
            return
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        abort(f"{type(error).__name__} in fit: {error}; aborting the other ranks", 1)


__all__ = ["FitSession", "fit_session"]
