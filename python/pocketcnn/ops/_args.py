"""Argument normalisation shared by the op wrappers: ints vs pairs, tensors vs arrays."""

from __future__ import annotations

from .. import _checks, _core


def as_tensor(x, name: str) -> _core.Tensor:
    """A Tensor from a Tensor (as is) or anything numeric numpy understands (copied if needed)."""
    if isinstance(x, _core.Tensor):
        return x
    if x is None:
        raise TypeError(f"{name} must be a Tensor or a numeric array, got None")
    try:
        return _core.Tensor(x)
    except TypeError as e:  # the core's message calls the argument "data"; name it properly
        raise TypeError(f"{name}: {e}") from None


def optional_tensor(x, name: str):
    return None if x is None else as_tensor(x, name)


def pair(value, name: str, *, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as (h, w); each must be >= minimum."""
    return _checks.int_pair(value, name, minimum=minimum)
