"""Activations, softmax, losses and the tensor arithmetic a custom loss needs.

Every function takes Tensors or anything numeric numpy understands (arrays are converted to
float32). The arithmetic follows numpy broadcasting, and a Python or numpy number on either side
goes to a scalar kernel (no broadcast tensor is built for it). Gradients flow to every input that
requires grad, summed back to the input's shape.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from .. import _core

Tensor = _core.Tensor

# ---- argument helpers -------------------------------------------------------------------------


def is_scalar(x) -> bool:
    """Whether x is a Python or numpy number (bool, int, float; complex too, to reject it)."""
    return isinstance(x, numbers.Number)


def _scalar(x, what: str) -> float:
    """x as a float; complex numbers are rejected (pocketcnn tensors are real)."""
    if not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(x).__name__} {x!r}")
    return float(x)


def _int(x, what: str) -> int:
    """x as an int; bools and floats are rejected so that dim=1.0 or dim=True is not a typo."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{what} must be an int, got {type(x).__name__} {x!r}")
    return int(x)


def _is_sequence(x) -> bool:
    """A tuple, list or 1-D array of dims/sizes (but not a string)."""
    return isinstance(x, (Sequence, np.ndarray)) and not isinstance(x, (str, bytes))


def _dims(dim, what: str) -> list[int] | None:
    """dim as a list of ints: None stays None (all dims), an int becomes [dim]."""
    if dim is None:
        return None
    if _is_sequence(dim):
        return [_int(d, what) for d in dim]
    return [_int(dim, what)]


def _scalar_tensor(x, what: str) -> Tensor:
    """A 0-d tensor holding the number x (for ops where both operands are numbers)."""
    return Tensor(np.asarray(_scalar(x, what), dtype=np.float32))


# ---- activations, softmax, losses -------------------------------------------------------------


def relu(input) -> Tensor:
    """``max(input, 0)`` elementwise (gradient 0 at 0, as PyTorch)."""
    return _core.relu(input)


def sigmoid(input) -> Tensor:
    """``1 / (1 + exp(-input))`` elementwise, computed without overflow."""
    return _core.sigmoid(input)


def tanh(input) -> Tensor:
    """``tanh(input)`` elementwise."""
    return _core.tanh(input)


def softmax(input, dim: int = -1) -> Tensor:
    """Softmax along ``dim`` (default: the last), stable for huge inputs (max subtracted)."""
    return _core.softmax(input, _int(dim, "softmax: dim"))


def log_softmax(input, dim: int = -1) -> Tensor:
    """``log(softmax(input, dim))``, computed stably (no log of an underflowed 0)."""
    return _core.log_softmax(input, _int(dim, "log_softmax: dim"))


def cross_entropy(input, target) -> Tensor:
    """Mean cross-entropy of logits ``input (N, C)`` against integer labels ``target (N,)``.

    Softmax is applied inside (pass raw scores, not probabilities), as in PyTorch. Labels must be
    integers in ``[0, C)``. Returns a 0-d tensor.
    """
    return _core.cross_entropy(input, target)


def mse_loss(input, target) -> Tensor:
    """Mean of ``(input - target) ** 2`` over all elements, as a 0-d tensor.

    The shapes must match exactly: unlike PyTorch, ``(N, 1)`` against ``(N,)`` is an error rather
    than a silent ``(N, N)`` broadcast.
    """
    return _core.mse_loss(input, target)


# ---- arithmetic -------------------------------------------------------------------------------


def add(input, other) -> Tensor:
    """``input + other`` with numpy broadcasting; either may be a number."""
    if is_scalar(other):
        if is_scalar(input):
            input = _scalar_tensor(input, "add: input")
        return _core.add_scalar(input, _scalar(other, "add: other"))
    if is_scalar(input):
        return _core.add_scalar(other, _scalar(input, "add: input"))
    return _core.add(input, other)


def sub(input, other) -> Tensor:
    """``input - other`` with numpy broadcasting; either may be a number."""
    if is_scalar(other):
        if is_scalar(input):
            input = _scalar_tensor(input, "sub: input")
        return _core.add_scalar(input, -_scalar(other, "sub: other"))
    if is_scalar(input):
        return _core.rsub_scalar(other, _scalar(input, "sub: input"))
    return _core.sub(input, other)


def mul(input, other) -> Tensor:
    """``input * other`` with numpy broadcasting; either may be a number."""
    if is_scalar(other):
        if is_scalar(input):
            input = _scalar_tensor(input, "mul: input")
        return _core.mul_scalar(input, _scalar(other, "mul: other"))
    if is_scalar(input):
        return _core.mul_scalar(other, _scalar(input, "mul: input"))
    return _core.mul(input, other)


def div(input, other) -> Tensor:
    """``input / other`` with numpy broadcasting; either may be a number.

    Division by a number multiplies by its reciprocal (within one float32 rounding of a true
    division); dividing by 0 gives ``inf``/``nan`` like numpy, not ``ZeroDivisionError``.
    """
    if is_scalar(other):
        if is_scalar(input):
            input = _scalar_tensor(input, "div: input")
        s = _scalar(other, "div: other")
        return _core.mul_scalar(input, 1.0 / s if s != 0 else math.copysign(math.inf, s))
    if is_scalar(input):
        return _core.rdiv_scalar(other, _scalar(input, "div: input"))
    return _core.div(input, other)


def pow(input, exponent) -> Tensor:  # noqa: A001 - PyTorch's name
    """``input ** exponent`` for a number ``exponent``, or ``base ** input`` for a number
    ``base > 0`` as the first argument (computed as ``exp(input * log(base))``).

    Tensor exponents of tensors are not supported: there is no exact formula for negative bases.
    """
    if is_scalar(exponent):
        if is_scalar(input):
            input = _scalar_tensor(input, "pow: input")
        return _core.pow_scalar(input, _scalar(exponent, "pow: exponent"))
    if is_scalar(input):
        base = _scalar(input, "pow: input")
        if not base > 0:
            raise ValueError(
                f"pow: a number raised to a tensor needs a base > 0, got {base!r} "
                "(use a tensor base with a number exponent instead)"
            )
        return _core.exp(_core.mul_scalar(exponent, math.log(base)))
    raise TypeError(
        f"pow: exponent must be a Python or numpy number, got {type(exponent).__name__} "
        "(tensor ** tensor is not supported)"
    )


def neg(input) -> Tensor:
    """``-input``."""
    return _core.neg(input)


def exp(input) -> Tensor:
    """``exp(input)`` elementwise."""
    return _core.exp(input)


def log(input) -> Tensor:
    """Natural logarithm elementwise; ``-inf`` at 0 and ``nan`` below, like numpy."""
    return _core.log(input)


def matmul(input, other) -> Tensor:
    """``input @ other`` for 1-D and 2-D operands, with numpy's rules for vectors."""
    return _core.matmul(input, other)


# ---- reductions, reshape ----------------------------------------------------------------------


def sum(input, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 - PyTorch's name
    """Sum over all elements (``dim=None``, a 0-d result) or over ``dim`` (an int or a tuple of
    ints, negative from the end). ``keepdim`` keeps reduced dims as size 1."""
    return _core.sum(input, _dims(dim, "sum: dim"), bool(keepdim))


def mean(input, dim=None, keepdim: bool = False) -> Tensor:
    """Mean over all elements (``dim=None``) or over ``dim``; see :func:`sum`. The mean of no
    elements is ``nan``, as numpy's."""
    return _core.mean(input, _dims(dim, "mean: dim"), bool(keepdim))


def reshape(input, *shape) -> Tensor:
    """The same data in a new shape: ``reshape(t, 2, 3)`` or ``reshape(t, (2, 3))``.

    One size may be -1 (inferred from the others). The result shares memory with ``input``.
    """
    if not shape:
        raise TypeError("reshape: missing shape (use reshape(t, ()) for a 0-d tensor)")
    if len(shape) == 1 and _is_sequence(shape[0]):
        shape = tuple(shape[0])
    return _core.reshape(input, [_int(s, "reshape: shape entry") for s in shape])


__all__ = [
    "add",
    "cross_entropy",
    "div",
    "exp",
    "log",
    "log_softmax",
    "matmul",
    "mean",
    "mse_loss",
    "mul",
    "neg",
    "pow",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "sub",
    "sum",
    "tanh",
]
