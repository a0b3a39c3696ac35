"""Compiled inference for Sequential models: the layers as one C++ call (``_core._InferencePlan``).

Running a model layer by layer from Python costs a few microseconds per layer and writes every
intermediate to memory; the plan runs them in C++ and fuses conv + bias + ReLU + 2x2 max pool into
one kernel (the conv output never reaches memory). Its results equal the layer-by-layer forward
pass exactly. Models with layers the plan does not know fall back to the Python path.
"""

from __future__ import annotations

from . import _core
from .layers import (
    Activation,
    AvgPool2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
)


def build_plan(layers, logits: bool = False) -> _core._InferencePlan | None:
    """A plan for `layers` (built Sequential layers), or None if one of them is not supported.

    With ``logits``, the last layer's activation is left out (for a loss fused with softmax).
    """
    plan = _core._InferencePlan()
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        if not getattr(layer, "built", False):
            return None
        act = layer.activation or ""
        if logits and i == last:
            act = ""
        kind = type(layer)
        if kind is Conv2D:
            _, h, w = layer.built_input_shape
            top, bottom, left, right = layer._pads(h, w)
            weights = layer._weights
            bias = weights[1] if layer.use_bias else None
            sh, sw = layer.strides
            plan.add_conv2d(weights[0], bias, sh, sw, top, left, bottom, right, act)
        elif kind is Dense:
            weights = layer._weights
            plan.add_linear(weights[0], weights[1] if layer.use_bias else None, act)
        elif kind in (MaxPool2D, AvgPool2D):
            (kh, kw), (sh, sw), (ph, pw) = layer.pool_size, layer.strides, layer.padding
            include_pad = getattr(layer, "count_include_pad", True)
            plan.add_pool2d(kind is MaxPool2D, kh, kw, sh, sw, ph, pw, include_pad)
            if act:
                plan.add_activation(act)
        elif kind is Flatten:
            plan.add_flatten()
            if act:
                plan.add_activation(act)
        elif kind is Dropout:  # the identity at inference
            if act:
                plan.add_activation(act)
        elif isinstance(layer, Activation):  # Activation, ReLU, Softmax
            if act:
                plan.add_activation(act)
        else:
            return None
    return plan


class PlanCache:
    """Rebuilds the plan only when the layers or their weight tensors change (the plan holds the
    model's own weight tensors, so in-place updates by an optimiser need no rebuild)."""

    def __init__(self):
        self._key = None
        self._plans: dict[bool, _core._InferencePlan | None] = {}

    def get(self, layers, logits: bool = False) -> _core._InferencePlan | None:
        # A flat list of ids: the layers, then every layer's weight tensors (a nested tuple per
        # layer cost half of this call's ~4 us, a generator over (layer, *weights) 2.2 us, this
        # 1.3 us; it runs on every batch-1 prediction).
        key = [*map(id, layers), *[id(w) for layer in layers for w in layer._weights]]
        if key != self._key:
            self._key, self._plans = key, {}
        if logits not in self._plans:
            self._plans[logits] = build_plan(layers, logits)
        return self._plans[logits]
