"""Argument checks shared by the layers, ops, model, optimisers and data loaders.

Each check takes the value and ``name``, the label the message starts with (``"Conv2D: filters"``,
``"fit: batch_size"``), and returns the normalised value or raises with a message naming the
argument and the value it got. Wrong kinds raise ``TypeError``, wrong values ``ValueError``, as
Python does; ``bool`` is never accepted as an int (``True`` as a size or stride is a typo).
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def is_int(value) -> bool:
    """A Python or numpy integer, but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(value, name: str, *, minimum: int | None = None) -> int:
    """``value`` as an int: TypeError if it is not one, ValueError if it is below ``minimum``."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def int_at_least(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; anything else (a float, a bool, too small) is one
    ValueError ``"<name> must be an int >= <minimum>"`` (the layers' and schedules' style)."""
    if not is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def int_pair(value, name: str, *, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as ``(h, w)``; each must be >= ``minimum``."""
    if is_int(value):
        h = w = int(value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value):
        h, w = (int(v) for v in value)
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if h < minimum or w < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return h, w


def number(value, name: str) -> float:
    """A real number (not a bool) as a float; TypeError otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def finite_number(value, name: str, *, positive: bool = False) -> float:
    """A finite real number, ``> 0`` with ``positive`` else ``>= 0``."""
    x = number(value, name)
    if positive and not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    if not positive and not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return x


def number_in_unit_interval(value, name: str) -> float:
    """A real number in ``[0, 1)`` (a dropout rate, a fraction to hold out); one ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def shape(value, name: str) -> tuple[int, ...]:
    """A non-empty shape of sizes >= 1 from an int or an iterable of ints."""
    if is_int(value):
        value = (value,)
    try:
        dims = tuple(int(d) for d in value)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of ints, got {value!r}") from None
    if not dims or min(dims) < 1:
        raise ValueError(f"{name} must be non-empty with all sizes >= 1, got {value!r}")
    return dims


def numeric_array(value, name: str) -> np.ndarray:
    """``np.asarray(value)``, which must hold numbers (float, int, unsigned or bool)."""
    a = np.asarray(value)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    return a


__all__ = [
    "finite_number",
    "int_at_least",
    "int_pair",
    "integer",
    "is_int",
    "number",
    "number_in_unit_interval",
    "numeric_array",
    "shape",
]
