"""Convolution, pooling, flatten and dense ops (PyTorch names, NCHW)."""

from __future__ import annotations

from .. import _core
from ._args import as_tensor, optional_tensor


def linear(input, weight, bias=None) -> _core.Tensor:
    """``input (N, in) @ weight (out, in)^T + bias (out)`` -> ``(N, out)``."""
    return _core.linear(
        as_tensor(input, "linear: input"),
        as_tensor(weight, "linear: weight"),
        optional_tensor(bias, "linear: bias"),
    )


__all__ = ["linear"]
