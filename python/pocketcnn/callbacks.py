"""Hooks into ``model.fit``: ``History`` (always on), ``EarlyStopping``, ``ModelCheckpoint``.

A callback gets ``set_model(model)`` once, then ``on_train_begin``, ``on_epoch_begin(epoch)``,
``on_batch_end(batch, logs)``, ``on_epoch_end(epoch, logs)`` and ``on_train_end``. Epochs count
from 0 within one ``fit`` call; ``logs`` maps metric names (``loss``, ``accuracy``, ``val_loss``
...) to floats. Setting ``model.stop_training = True`` ends ``fit`` after the current epoch.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np


class Callback:
    """Base class: every hook does nothing."""

    model: Any = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None:
        pass

    def on_train_end(self, logs: dict | None = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        pass


class History(Callback):
    """Per-epoch metrics: ``history.history['loss'][e]``; ``history.epoch`` lists the epochs."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


def _mode_better(monitor: str, mode: str):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("top_k")) else "min"
    return mode


def _monitored(logs: dict | None, monitor: str, who: str) -> float:
    logs = logs or {}
    if monitor not in logs:
        raise ValueError(
            f"{who}: monitor {monitor!r} is not among this epoch's metrics {sorted(logs)}; "
            "monitoring val_* needs validation_split or validation_data"
        )
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``mode`` 'min'/'max'/'auto' (max for accuracies, else min). With ``restore_best_weights``
    the model gets the weights of the best epoch back when training stops (or ends).
    ``stopped_epoch`` is the epoch (from 0) at which it stopped, or None.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
    ):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.mode = _mode_better(monitor, mode)
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)

    def _improved(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = None
        self.best_epoch = None
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self.best = float(self.baseline)
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if self._improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Saves the model (``model.save``) after every epoch, or only when ``monitor`` improved.

    ``filepath`` may contain ``{epoch}`` (from 1) and metric names, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.3f}.pcnn"``. Files are written atomically, so a crash never
    leaves a half-written checkpoint behind.
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        verbose: int = 0,
    ):
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.mode = _mode_better(monitor, mode)
        self.verbose = verbose
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            better = value < self.best if self.mode == "min" else value > self.best
            if not better or not np.isfinite(value):
                return
            self.best = value
        self.model.save(path)
        if self.verbose:
            print(f"ModelCheckpoint: saved {path}")


class CallbackList:
    """Calls each hook on every callback in order."""

    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks)
        for c in self.callbacks:
            if not isinstance(c, Callback):
                raise TypeError(f"callbacks must be pocketcnn.callbacks.Callback, got {c!r}")
            c.set_model(model)

    def __getattr__(self, hook):
        def call(*args, **kwargs):
            for c in self.callbacks:
                getattr(c, hook)(*args, **kwargs)

        return call


__all__ = ["Callback", "EarlyStopping", "History", "ModelCheckpoint"]
