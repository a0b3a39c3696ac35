"""Small helpers Keras users expect: ``to_categorical``."""

from __future__ import annotations

import numpy as np

from . import _checks


def to_categorical(y, num_classes: int | None = None, dtype=np.float32) -> np.ndarray:
    """One-hot rows for integer class labels: ``(N,)`` -> ``(N, num_classes)`` (Keras' name).

    ``num_classes`` defaults to ``max(y) + 1``; labels must be integers in ``[0, num_classes)``.
    """
    a = _checks.numeric_array(y, "to_categorical: y")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise TypeError("to_categorical: y must hold integer class labels")
    labels = a.astype(np.int64).reshape(-1)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    num_classes = _checks.int_at_least(num_classes, "to_categorical: num_classes", 1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"to_categorical: labels must be in 0..{num_classes - 1}, got values in "
            f"{labels.min()}..{labels.max()}"
        )
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out.reshape(*a.shape, num_classes) if a.ndim > 1 else out


__all__ = ["to_categorical"]
