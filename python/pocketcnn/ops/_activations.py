"""The activations after relu / sigmoid / tanh: leaky_relu, elu, gelu, silu (swish), hard_sigmoid
(hardsigmoid), softplus. PyTorch names and defaults (``torch.nn.functional``), vectorised C++
kernels forward and backward; the layers' ``activation=`` strings use Keras 3's defaults instead
(``'leaky_relu'`` has slope 0.2; see ``pocketcnn.layers``).
"""

from __future__ import annotations

import math

from .. import _checks, _core

Tensor = _core.Tensor


def _finite(value, what: str) -> float:
    x = _checks.number(value, what)
    if not math.isfinite(x):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return x


def leaky_relu(input, negative_slope: float = 0.01) -> Tensor:
    """``input > 0 ? input : negative_slope * input`` (PyTorch's default slope 0.01; Keras'
    ``'leaky_relu'`` activation uses 0.2). The gradient at 0 is ``negative_slope``, as PyTorch."""
    return _core.leaky_relu(input, _finite(negative_slope, "leaky_relu: negative_slope"))


def elu(input, alpha: float = 1.0) -> Tensor:
    """``input > 0 ? input : alpha * (exp(input) - 1)`` (expm1, accurate near 0)."""
    return _core.elu(input, _finite(alpha, "elu: alpha"))


def gelu(input, approximate=False) -> Tensor:
    """``input * Phi(input)`` with Phi the standard normal CDF (exact, the erf form; accurate in
    the negative tail, where ``1 + erf`` would cancel), or with ``approximate=True`` (Keras) /
    ``approximate='tanh'`` (PyTorch) the tanh form
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``. ``gelu(-inf)`` is -0 (the limit)."""
    if isinstance(approximate, str) and approximate in ("none", "tanh"):
        approximate = approximate == "tanh"
    if not isinstance(approximate, bool):
        raise ValueError(
            f"gelu: approximate must be True/False or PyTorch's 'none'/'tanh', got {approximate!r}"
        )
    return _core.gelu(input, approximate)


def silu(input) -> Tensor:
    """``input * sigmoid(input)`` (Keras calls it swish). ``silu(-inf)`` is -0 (the limit)."""
    return _core.silu(input)


swish = silu


def hard_sigmoid(input) -> Tensor:
    """``relu6(input + 3) / 6``: 0 below -3, 1 above 3, linear between (Keras 3's hard_sigmoid and
    PyTorch's hardsigmoid, the same function; Keras 2 used ``clip(0.2 x + 0.5, 0, 1)``). The
    gradient is 1/6 strictly inside (-3, 3), 0 at and outside the kinks, as PyTorch."""
    return _core.hard_sigmoid(input)


hardsigmoid = hard_sigmoid


def softplus(input) -> Tensor:
    """``log(1 + exp(input))``, as ``max(x, 0) + log1p(exp(-|x|))`` (no overflow, accurate for
    large negative inputs). PyTorch's beta=1; its threshold (x > 20 -> x) changes nothing in
    float32 precision there."""
    return _core.softplus(input)


__all__ = [
    "elu",
    "gelu",
    "hard_sigmoid",
    "hardsigmoid",
    "leaky_relu",
    "silu",
    "softplus",
    "swish",
]
