"""Metrics for ``Sequential.compile(metrics=...)``: numbers of correct samples per batch.

``'accuracy'`` (``'acc'``) and ``'top_k'`` (k = 5) or ``'top_3'`` etc. (the label is among the
k largest outputs), reported as ``'accuracy'`` / ``'top_5_accuracy'``; ``'precision'`` and
``'recall'``: for one output, of the positive class (output > 0.5); for several, of each class
(the predicted class is the largest output), averaged over the classes (macro average; a class
never predicted / never present is left out of precision / recall). Each metric is a function of
the batch's output (N, ...) and targets (labels (N,) or one-hot / float targets) returning how
many samples it counts as correct (the model divides by the samples seen), or an array of
(numerators, denominators) per class that the model sums over batches and divides at the end.

``confusion_matrix(model, x, y)`` counts (true class, predicted class) pairs.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

# (output (N, ...), targets) -> number of correct samples in the batch, or per-class counts
MetricFn = Callable[[np.ndarray, np.ndarray], Any]


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


def _predicted_and_true(
    output: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """(predicted classes, true classes, number of classes) of a batch."""
    flat = output.reshape(len(output), -1)
    if flat.shape[1] == 1:
        return (flat[:, 0] > 0.5).astype(np.int64), (targets.reshape(-1) > 0.5).astype(np.int64), 2
    return flat.argmax(axis=1), _class_labels(targets).astype(np.int64), flat.shape[1]


def _per_class(output: np.ndarray, targets: np.ndarray, of_predicted: bool) -> np.ndarray:
    """(true positives per class, predicted (precision) or actual (recall) count per class)."""
    pred, true, classes = _predicted_and_true(output, targets)
    tp = np.bincount(true[pred == true], minlength=classes)
    den = np.bincount(pred if of_predicted else true, minlength=classes)
    if classes == 2 and output.reshape(len(output), -1).shape[1] == 1:
        tp, den = tp[1:], den[1:]  # a binary output: the positive class only
    return np.stack([tp, den]).astype(np.float64)


def _precision(output: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return _per_class(output, targets, of_predicted=True)


def _recall(output: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return _per_class(output, targets, of_predicted=False)


def ratio(counts) -> float:
    """The metric value from counts summed over batches: a count over ``seen`` is the caller's;
    a (numerators, denominators) array gives the mean ratio over classes with a denominator."""
    num, den = np.asarray(counts, dtype=np.float64)
    have = den > 0
    return float(np.mean(num[have] / den[have])) if have.any() else 0.0


def confusion_matrix(model, x, y, batch_size: int = 32) -> np.ndarray:
    """``(classes, classes)`` int64 counts of (true class, predicted class) over ``(x, y)``:
    rows are the true classes, columns the predicted ones (scikit-learn's convention). y holds
    integer labels or one-hot rows; a single-output model is read as binary (output > 0.5)."""
    out = np.asarray(model.predict(x, batch_size=batch_size))
    targets = np.asarray(y)
    if len(targets) != len(out):
        raise ValueError(
            f"confusion_matrix: x has {len(out)} samples but y has shape {targets.shape}"
        )
    pred, true, classes = _predicted_and_true(out, targets)
    if true.size and (true.min() < 0 or true.max() >= classes):
        raise ValueError(
            f"confusion_matrix: labels must be in 0..{classes - 1} for a model with {classes} "
            f"outputs, got values in {true.min()}..{true.max()}"
        )
    m = np.zeros((classes, classes), np.int64)
    np.add.at(m, (true, pred), 1)
    return m


def resolve_metric(metric) -> tuple[str, MetricFn]:
    """(name in logs, function) for 'accuracy', 'top_k' (k=5) or 'top_<k>'."""
    if not isinstance(metric, str):
        raise TypeError(f"metrics must be names like 'accuracy' or 'top_5', got {metric!r}")
    key = metric.lower()
    if key in ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy"):
        return "accuracy", _accuracy
    if key in ("top_k", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"):
        return "top_5_accuracy", _top_k(5)
    if key == "precision":
        return "precision", _precision
    if key == "recall":
        return "recall", _recall
    m = re.fullmatch(r"top_(\d+)(_accuracy)?", key)
    if m and int(m.group(1)) >= 1:
        k = int(m.group(1))
        return f"top_{k}_accuracy", _top_k(k)
    raise ValueError(
        f"unknown metric {metric!r}; use 'accuracy', 'precision', 'recall', 'top_k' (k=5) or "
        "'top_<k>'"
    )


__all__ = ["MetricFn", "confusion_matrix", "ratio", "resolve_metric"]
