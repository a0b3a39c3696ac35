"""Losses for ``Sequential.compile``: checking targets, computing the loss per batch.

Losses:
    ``'cross_entropy'`` (or ``'sparse_categorical_crossentropy'``, ``'categorical_crossentropy'``):
        integer class labels ``(N,)`` in ``[0, classes)``; the model output is read as logits,
        except that a final softmax is folded into the loss (log-softmax of the logits, which
        stays finite where ``log(softmax)`` would underflow to ``-inf``).
    ``'categorical_crossentropy'``: as cross_entropy, and also one-hot (or any probability)
        targets ``(N, classes)``; ``CategoricalCrossentropy(label_smoothing=a)`` mixes the
        targets with the uniform distribution (``t (1 - a) + a / classes``, Keras' formula).
    ``'binary_crossentropy'``: targets in [0, 1] of the output's shape (one per sigmoid output:
        binary or multi-label); the output is read as probabilities (end with a sigmoid), and
        ``-t log(p + 1e-7) - (1 - t) log(1 - p + 1e-7)`` is averaged over every element
        (Keras clips p to [1e-7, 1 - 1e-7] instead; the two agree to ~1e-7).
    ``'mse'`` (alias ``'mean_squared_error'``): targets of the output's shape; integer labels
        ``(N,)`` for a ``(classes,)`` output are one-hot encoded.
The metrics are in ``pocketcnn.metrics``.
"""

from __future__ import annotations

import numpy as np

from . import _checks, _core, ops
from .metrics import resolve_metric  # re-exported: it lived here before metrics.py

_LOSS_ALIASES = {
    "cross_entropy": "cross_entropy",
    "crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "binary_crossentropy": "binary_crossentropy",
    "bce": "binary_crossentropy",
    "mse": "mse",
    "mean_squared_error": "mse",
    "mse_loss": "mse",
}


_SOFTMAX_LOSSES = ("cross_entropy", "categorical_crossentropy")
_NAMES = "'cross_entropy', 'categorical_crossentropy', 'binary_crossentropy' or 'mse'"


class Loss:
    """A loss with options, for ``compile(loss=...)``: its canonical name and options."""

    name: str = ""

    def __init__(self, label_smoothing: float = 0.0):
        label_smoothing = _checks.number(label_smoothing, f"{type(self).__name__}: label_smoothing")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"{type(self).__name__}: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.options = {"label_smoothing": float(label_smoothing)} if label_smoothing else {}


class CategoricalCrossentropy(Loss):
    """``'categorical_crossentropy'`` with ``label_smoothing``."""

    name = "categorical_crossentropy"


class BinaryCrossentropy(Loss):
    """``'binary_crossentropy'`` with ``label_smoothing`` (``t (1 - a) + a / 2``)."""

    name = "binary_crossentropy"


def resolve_loss(loss) -> str:
    """The canonical loss name (see the module docstring)."""
    if isinstance(loss, Loss):
        return loss.name
    if not isinstance(loss, str):
        raise TypeError(f"loss must be {_NAMES} or a pocketcnn.losses.Loss, got {loss!r}")
    key = loss.lower()
    if key not in _LOSS_ALIASES:
        raise ValueError(f"unknown loss {loss!r}; use {_NAMES}")
    return _LOSS_ALIASES[key]


def loss_options(loss) -> dict:
    """The options of a Loss instance ({} for a name)."""
    return dict(loss.options) if isinstance(loss, Loss) else {}


def uses_softmax(loss: str) -> bool:
    """Whether the loss reads the output as logits and folds a final softmax into itself."""
    return loss in _SOFTMAX_LOSSES


def check_output_shape(loss: str, output_shape) -> None:
    """Cross-entropy needs a (classes,) output of at least 2 classes."""
    if uses_softmax(loss) and (len(output_shape) != 1 or output_shape[0] < 2):
        raise ValueError(
            f"loss {loss!r} needs a model output of shape (classes,) with >= 2 classes, "
            f"got {tuple(output_shape)}; end the model with Dense(classes)"
        )


def prepare_targets(loss: str, y, n: int, output_shape, who: str) -> np.ndarray:
    """y checked against the loss, the sample count and the output shape.

    Returns int64 labels (cross-entropy) or float32 targets of shape (n, *output_shape) (mse).
    """
    if y is None:
        raise TypeError(f"{who}: y is required (the targets for loss {loss!r})")
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != n:
        raise ValueError(
            f"{who}: x and y have different numbers of samples: x has {n}, y has shape {y.shape}"
        )
    y = _checks.numeric_array(y, f"{who}: y")
    output_shape = tuple(output_shape)
    if loss == "categorical_crossentropy" and y.ndim == 2:
        return _probability_targets(loss, y, n, output_shape, who)
    if loss == "binary_crossentropy":
        if y.ndim == 1 and output_shape == (1,):
            y = y.reshape(n, 1)
        return _probability_targets(loss, y, n, output_shape, who)
    if uses_softmax(loss):
        classes = output_shape[0]
        if y.ndim != 1:
            raise ValueError(
                f"{who}: cross_entropy needs integer class labels of shape (N,), got y of shape "
                f"{y.shape}; for one-hot targets pass y.argmax(axis=1)"
            )
        if y.dtype.kind == "b":  # as ops.cross_entropy: True is not a class index
            raise TypeError(f"{who}: cross_entropy needs integer class labels, got dtype bool")
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise TypeError(
                    f"{who}: cross_entropy needs integer class labels, got non-integer floats"
                )
        labels = y.astype(np.int64)
        if n and (labels.min() < 0 or labels.max() >= classes):
            bad = labels[(labels < 0) | (labels >= classes)][0]
            raise ValueError(
                f"{who}: label {bad} is out of range for {classes} classes (labels must be in "
                f"0..{classes - 1}; the model outputs {output_shape})"
            )
        return labels
    # mse
    if y.ndim == 1 and y.dtype.kind in "iub" and len(output_shape) == 1 and output_shape[0] > 1:
        classes = output_shape[0]
        labels = y.astype(np.int64)
        if n and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(
                f"{who}: integer labels for mse are one-hot encoded and must be in "
                f"0..{classes - 1}, got values in {labels.min()}..{labels.max()}"
            )
        return np.eye(classes, dtype=np.float32)[labels]
    target = np.ascontiguousarray(y, dtype=np.float32)
    if target.shape[1:] != output_shape:
        if target.ndim == 1 and output_shape == (1,):
            return target.reshape(n, 1)
        raise ValueError(
            f"{who}: mse targets must have shape (N, *output) = {(n, *output_shape)}, got {y.shape}"
        )
    return target


def _probability_targets(loss: str, y: np.ndarray, n: int, output_shape, who: str) -> np.ndarray:
    """Float targets in [0, 1] of shape (n, *output_shape)."""
    target = np.ascontiguousarray(y, dtype=np.float32)
    if target.shape[1:] != output_shape:
        raise ValueError(
            f"{who}: {loss} targets must have shape (N, *output) = {(n, *output_shape)}, got "
            f"{y.shape}"
        )
    if target.size and not (np.all(np.isfinite(target)) and 0 <= target.min() <= target.max() <= 1):
        raise ValueError(f"{who}: {loss} targets must be probabilities in [0, 1]")
    return target


def compute(
    loss: str, output: _core.Tensor, targets: np.ndarray, label_smoothing: float = 0.0
) -> _core.Tensor:
    """The 0-d mean loss over the batch (records the graph)."""
    if loss in _SOFTMAX_LOSSES and targets.ndim == 1 and not label_smoothing:
        return ops.cross_entropy(output, targets)
    if loss in _SOFTMAX_LOSSES:
        classes = output.shape[1]
        t = np.eye(classes, dtype=np.float32)[targets] if targets.ndim == 1 else targets
        if label_smoothing:
            t = t * (1 - label_smoothing) + label_smoothing / classes
        per_sample = ops.sum(ops.mul(ops.log_softmax(output, dim=1), t), 1)
        return ops.neg(ops.mean(per_sample))
    if loss == "binary_crossentropy":
        t = targets
        if label_smoothing:
            t = t * (1 - label_smoothing) + label_smoothing / 2
        eps = 1e-7
        pos = ops.mul(ops.log(ops.add(output, eps)), t)
        neg = ops.mul(ops.log(ops.sub(1.0 + eps, output)), 1 - t)
        return ops.neg(ops.mean(ops.add(pos, neg)))
    return ops.mse_loss(output, _core.Tensor(targets))


__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Loss",
    "compute",
    "prepare_targets",
    "resolve_loss",
    "resolve_metric",
]
