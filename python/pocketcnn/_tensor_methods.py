"""Operators and methods of ``pc.Tensor``, installed on the compiled class at import.

``a + b``, ``2 - t``, ``np_array * t``, ``t ** 2``, ``x @ w``, ``-t`` and ``t.sum()``,
``t.softmax()``, ... all call the differentiable ops in :mod:`pocketcnn.ops`, so they record the
autograd graph like the functions do. They live in Python (not in the C++ binding) because the
scalar routing and argument parsing are already written there once.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core
from .ops import _math as ops

Tensor = _core.Tensor

# Operands the operators accept. Anything else returns NotImplemented, so that Python can try the
# other operand's reflected method and otherwise raise its usual TypeError naming both types.
_OPERAND_TYPES = (Tensor, numbers.Number, np.ndarray, np.generic, list, tuple)


def _binary(op, reflected: bool = False):
    """A binary operator method from an op ``op(input, other)``; reflected swaps the operands."""

    def method(self, other):
        if not isinstance(other, _OPERAND_TYPES):
            return NotImplemented
        return op(other, self) if reflected else op(self, other)

    method.__name__ = f"__{'r' if reflected else ''}{op.__name__}__"
    method.__doc__ = (
        f"{'other' if reflected else 'self'} {op.__name__} ... (see pc.ops.{op.__name__})"
    )
    return method


def _bool(self) -> bool:
    """Truth value of a one-element tensor; ambiguous (ValueError) otherwise, as in numpy."""
    if self.size != 1:
        raise ValueError(
            f"the truth value of a tensor of shape {tuple(self.shape)} is ambiguous; "
            "use t.numpy().any() or t.numpy().all()"
        )
    return bool(self.item())


def _sum(self, dim=None, keepdim: bool = False) -> Tensor:
    """Sum over all elements or over ``dim``; see :func:`pocketcnn.ops.sum`."""
    return ops.sum(self, dim, keepdim)


def _mean(self, dim=None, keepdim: bool = False) -> Tensor:
    """Mean over all elements or over ``dim``; see :func:`pocketcnn.ops.mean`."""
    return ops.mean(self, dim, keepdim)


def _reshape(self, *shape) -> Tensor:
    """The same data in a new shape: ``t.reshape(2, -1)`` or ``t.reshape((2, -1))``."""
    return ops.reshape(self, *shape)


def _softmax(self, dim: int = -1) -> Tensor:
    """Softmax along ``dim`` (default: the last)."""
    return ops.softmax(self, dim)


def _log_softmax(self, dim: int = -1) -> Tensor:
    """log_softmax along ``dim`` (default: the last)."""
    return ops.log_softmax(self, dim)


def _install() -> None:
    methods = {
        "__add__": _binary(ops.add),
        "__radd__": _binary(ops.add, reflected=True),
        "__sub__": _binary(ops.sub),
        "__rsub__": _binary(ops.sub, reflected=True),
        "__mul__": _binary(ops.mul),
        "__rmul__": _binary(ops.mul, reflected=True),
        "__truediv__": _binary(ops.div),
        "__rtruediv__": _binary(ops.div, reflected=True),
        "__pow__": _binary(ops.pow),
        "__rpow__": _binary(ops.pow, reflected=True),
        "__matmul__": _binary(ops.matmul),
        "__rmatmul__": _binary(ops.matmul, reflected=True),
        "__neg__": ops.neg,
        "__bool__": _bool,
        "sum": _sum,
        "mean": _mean,
        "reshape": _reshape,
        "softmax": _softmax,
        "log_softmax": _log_softmax,
        "relu": ops.relu,
        "sigmoid": ops.sigmoid,
        "tanh": ops.tanh,
        "exp": ops.exp,
        "log": ops.log,
        "neg": ops.neg,
        "pow": ops.pow,
        "matmul": ops.matmul,
    }
    for name, fn in methods.items():
        setattr(Tensor, name, fn)


_install()
