"""Metrics for ``Sequential.compile(metrics=...)``: numbers of correct samples per batch.

``'accuracy'`` (``'acc'``) and ``'top_k'`` (k = 5) or ``'top_3'`` etc. (the label is among the
k largest outputs), reported as ``'accuracy'`` / ``'top_5_accuracy'``. Each metric is a function
of the batch's output (N, ...) and targets (labels (N,) or one-hot / float targets) returning how
many samples it counts as correct; the model divides by the samples seen.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

# (output (N, ...), targets) -> number of correct samples in the batch
MetricFn = Callable[[np.ndarray, np.ndarray], int]


def _class_labels(targets: np.ndarray) -> np.ndarray:
    if targets.ndim == 1:
        return targets
    return targets.reshape(len(targets), -1).argmax(axis=1)


def _accuracy(output: np.ndarray, targets: np.ndarray) -> int:
    flat = output.reshape(len(output), -1)
    if flat.shape[1] == 1:  # one output: a binary decision at 0.5
        return int(np.sum((flat[:, 0] > 0.5) == (targets.reshape(-1) > 0.5)))
    return int(np.sum(flat.argmax(axis=1) == _class_labels(targets)))


def _top_k(k: int) -> MetricFn:
    def top_k(output: np.ndarray, targets: np.ndarray) -> int:
        flat = output.reshape(len(output), -1)
        labels = _class_labels(targets)
        if k >= flat.shape[1]:
            return len(flat)
        # the label is in the top k iff fewer than k outputs are strictly larger than its own
        own = flat[np.arange(len(flat)), labels]
        return int(np.sum((flat > own[:, None]).sum(axis=1) < k))

    return top_k


def resolve_metric(metric) -> tuple[str, MetricFn]:
    """(name in logs, function) for 'accuracy', 'top_k' (k=5) or 'top_<k>'."""
    if not isinstance(metric, str):
        raise TypeError(f"metrics must be names like 'accuracy' or 'top_5', got {metric!r}")
    key = metric.lower()
    if key in ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy"):
        return "accuracy", _accuracy
    if key in ("top_k", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"):
        return "top_5_accuracy", _top_k(5)
    m = re.fullmatch(r"top_(\d+)(_accuracy)?", key)
    if m and int(m.group(1)) >= 1:
        k = int(m.group(1))
        return f"top_{k}_accuracy", _top_k(k)
    raise ValueError(f"unknown metric {metric!r}; use 'accuracy', 'top_k' (k=5) or 'top_<k>'")


__all__ = ["MetricFn", "resolve_metric"]
