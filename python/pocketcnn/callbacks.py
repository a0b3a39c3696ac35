"""Hooks into ``model.fit``: ``History`` (always on), ``EarlyStopping``, ``ModelCheckpoint``,
``ReduceLROnPlateau``, ``LearningRateScheduler``, ``CSVLogger``, ``TerminateOnNaN``.

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


def _float_lr(model, who: str) -> float:
    """The model optimiser's learning rate, which must be a number (not a schedule) to change."""
    opt = getattr(model, "optimizer", None)
    if opt is None:
        raise RuntimeError(f"{who}: the model is not compiled")
    if not isinstance(opt.lr, (int, float)):
        raise ValueError(
            f"{who}: the optimiser's lr is a schedule ({type(opt.lr).__name__}); give it a "
            "number to let this callback change it"
        )
    return float(opt.lr)


def _set_lr(model, lr: float, who: str) -> None:
    if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr)):
        raise ValueError(f"{who}: the learning rate must be a finite number, got {lr!r}")
    if lr <= 0:
        raise ValueError(f"{who}: the learning rate must be > 0, got {lr}")
    model.optimizer.lr = float(lr)


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when ``monitor`` has not improved by
    ``min_delta`` for ``patience`` epochs (Keras' callback): then waits ``cooldown`` epochs
    before counting again, and never goes below ``min_lr``. Logs the rate as ``lr``."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        verbose: int = 0,
    ):
        if not 0.0 < float(factor) < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        if patience < 0 or cooldown < 0:
            raise ValueError(
                f"ReduceLROnPlateau: patience and cooldown must be >= 0, got {patience}, {cooldown}"
            )
        if min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: min_lr must be >= 0, got {min_lr}")
        self.monitor, self.factor = monitor, float(factor)
        self.patience, self.cooldown = int(patience), int(cooldown)
        self.mode = _mode_better(monitor, mode)
        self.min_delta, self.min_lr, self.verbose = abs(float(min_delta)), float(min_lr), verbose

    def on_train_begin(self, logs=None):
        _float_lr(self.model, "ReduceLROnPlateau")
        self.wait, self.cooldown_counter = 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        lr = _float_lr(self.model, "ReduceLROnPlateau")
        if logs is not None:
            logs["lr"] = lr
        better = (
            value < self.best - self.min_delta
            if self.mode == "min"
            else value > self.best + self.min_delta
        )
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if better:
            self.best, self.wait = value, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience and lr > self.min_lr:
            new_lr = max(lr * self.factor, self.min_lr)
            _set_lr(self.model, new_lr, "ReduceLROnPlateau")
            if self.verbose:
                print(f"ReduceLROnPlateau: epoch {epoch + 1}: learning rate {lr:g} -> {new_lr:g}")
            self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch to ``schedule(epoch, lr)`` (epochs from
    0 within this ``fit`` call; ``lr`` is the current rate), or ``schedule(epoch)`` for a
    function of one argument, as Keras does."""

    def __init__(self, schedule, verbose: int = 0):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = _float_lr(self.model, "LearningRateScheduler")
        try:
            new_lr = self.schedule(epoch, lr)
        except TypeError:  # a schedule of the epoch alone
            new_lr = self.schedule(epoch)
        if isinstance(new_lr, np.generic):
            new_lr = new_lr.item()
        _set_lr(self.model, new_lr, "LearningRateScheduler")
        if self.verbose:
            print(f"LearningRateScheduler: epoch {epoch + 1}: learning rate {float(new_lr):g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(self.model.optimizer.lr)


class CSVLogger(Callback):
    """Writes one CSV row per epoch (``epoch`` from 0, then the logs' keys in sorted order) to
    ``filename``; ``append`` continues an existing file (without a second header)."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be one character, got {separator!r}")
        self.filename, self.separator, self.append = os.fspath(filename), separator, bool(append)
        self._file: Any = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename)
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self._keys = None
        self._header_written = bool(exists)

    def on_epoch_end(self, epoch, logs=None):
        import csv

        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
        writer = csv.writer(self._file, delimiter=self.separator, lineterminator="\n")
        if not self._header_written:
            writer.writerow(["epoch", *self._keys])
            self._header_written = True
        writer.writerow([epoch, *(logs.get(k, "") for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class TerminateOnNaN(Callback):
    """Ends ``fit`` quietly when the loss or the gradient norm becomes NaN/inf, instead of the
    FloatingPointError fit raises otherwise; the weights stay as after the last finite step.
    ``terminated_at`` is (epoch, batch) from 0, or None."""

    def on_train_begin(self, logs=None):
        self.terminated_at: tuple[int, int] | None = None

    def on_non_finite(self, epoch: int, batch: int, what: str, value: float) -> None:
        self.terminated_at = (epoch, batch)
        self.model.stop_training = True
        print(f"TerminateOnNaN: epoch {epoch + 1}, batch {batch + 1}: the {what} is {value}")


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


__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
