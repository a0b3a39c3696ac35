"""Losses for ``Sequential.compile``: checking targets, computing the loss per batch.

Losses:
    ``'cross_entropy'`` (or ``'sparse_categorical_crossentropy'``, ``'categorical_crossentropy'``):
        integer class labels ``(N,)`` in ``[0, classes)``; the model output is read as logits,
        except that a final softmax is folded into the loss (log-softmax of the logits, which
        stays finite where ``log(softmax)`` would underflow to ``-inf``).
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
    "categorical_crossentropy": "cross_entropy",
    "mse": "mse",
    "mean_squared_error": "mse",
    "mse_loss": "mse",
}


def resolve_loss(loss) -> str:
    """The canonical loss name (``'cross_entropy'`` or ``'mse'``)."""
    if not isinstance(loss, str):
        raise TypeError(f"loss must be 'cross_entropy' or 'mse', got {loss!r}")
    key = loss.lower()
    if key not in _LOSS_ALIASES:
        raise ValueError(f"unknown loss {loss!r}; use 'cross_entropy' or 'mse'")
    return _LOSS_ALIASES[key]


def check_output_shape(loss: str, output_shape) -> None:
    """Cross-entropy needs a (classes,) output of at least 2 classes."""
    if loss == "cross_entropy" and (len(output_shape) != 1 or output_shape[0] < 2):
        raise ValueError(
            f"loss 'cross_entropy' needs a model output of shape (classes,) with >= 2 classes, "
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
    if loss == "cross_entropy":
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


def compute(loss: str, output: _core.Tensor, targets: np.ndarray) -> _core.Tensor:
    """The 0-d mean loss over the batch (records the graph)."""
    if loss == "cross_entropy":
        return ops.cross_entropy(output, targets)
    return ops.mse_loss(output, _core.Tensor(targets))


__all__ = ["compute", "prepare_targets", "resolve_loss", "resolve_metric"]
