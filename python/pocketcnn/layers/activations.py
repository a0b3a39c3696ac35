"""The activation layers with a parameter, as Keras 3 spells them: ``LeakyReLU(negative_slope=0.3)``
and ``ELU(alpha=1.0)``. The parameter-free ones are ``Activation(name)`` (or an ``activation=``
string on Conv2D / Dense):

=================  ==========================================================================
``'leaky_relu'``   ``x > 0 ? x : 0.2 x`` (keras.activations.leaky_relu's slope; the LeakyReLU
                   layer's default is 0.3, PyTorch's F.leaky_relu's 0.01)
``'elu'``          ``x > 0 ? x : e^x - 1``
``'gelu'``         ``x Phi(x)``, the exact (erf) form, as Keras 3 and PyTorch by default
                   (``pc.ops.gelu(x, approximate=True)`` is the tanh form)
``'silu'``         ``x sigmoid(x)``; ``'swish'`` is the same (saved as ``'silu'``)
``'hard_sigmoid'`` ``relu6(x + 3) / 6`` (Keras 3 and PyTorch's hardsigmoid; Keras 2's was
                   ``clip(0.2 x + 0.5, 0, 1)``, ONNX HardSigmoid's default too)
``'softplus'``     ``log(1 + e^x)``
=================  ==========================================================================

Each runs a vectorised C++ kernel forward and backward; in the inference plan it is applied to
the conv / dense output in place.
"""

from __future__ import annotations

import math

from .. import _checks, ops
from .base import Layer


def _plan_parameter(value: float) -> str:
    """The plan's spelling of a parameter (``repr`` round-trips the float exactly)."""
    return repr(float(value))


class LeakyReLU(Layer):
    """``x > 0 ? x : negative_slope * x`` (Keras 3: ``negative_slope`` >= 0, default 0.3;
    Keras 2's ``alpha`` is accepted as its old name)."""

    default_name = "leaky_re_lu"

    def __init__(self, negative_slope: float = 0.3, input_shape=None, name=None, **kwargs):
        if "alpha" in kwargs:  # Keras 2's name, deprecated in Keras 3
            negative_slope = kwargs.pop("alpha")
        if kwargs:
            raise TypeError(f"LeakyReLU: unexpected arguments {sorted(kwargs)}")
        super().__init__(name, input_shape)
        self.negative_slope = _checks.finite_number(negative_slope, "LeakyReLU: negative_slope")

    def forward(self, x, training):
        return ops.leaky_relu(x, self.negative_slope)

    def add_to_plan(self, plan, activation):
        plan.add_activation(f"leaky_relu:{_plan_parameter(self.negative_slope)}")
        return self._plan_activation(plan, activation)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(Layer):
    """``x > 0 ? x : alpha * (exp(x) - 1)`` (Keras 3's ELU, default alpha 1.0)."""

    default_name = "elu"

    def __init__(self, alpha: float = 1.0, input_shape=None, name=None):
        super().__init__(name, input_shape)
        value = _checks.number(alpha, "ELU: alpha")
        if not math.isfinite(value):
            raise ValueError(f"ELU: alpha must be a finite number, got {alpha!r}")
        self.alpha = value

    def forward(self, x, training):
        return ops.elu(x, self.alpha)

    def add_to_plan(self, plan, activation):
        plan.add_activation(f"elu:{_plan_parameter(self.alpha)}")
        return self._plan_activation(plan, activation)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


__all__ = ["ELU", "LeakyReLU"]
