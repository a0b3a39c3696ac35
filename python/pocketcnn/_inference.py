"""Compiled inference for Sequential models: the layers as one C++ call (``_core._InferencePlan``).

Running a model layer by layer from Python costs a few microseconds per layer and writes every
intermediate to memory; the plan runs them in C++ and fuses conv + bias + ReLU + 2x2 max pool into
one kernel (the conv output never reaches memory). Its results equal the layer-by-layer forward
pass exactly. Each layer appends its own step (``Layer.add_to_plan``); models with a layer the
plan does not know fall back to the Python path.
"""

from __future__ import annotations

from . import _core
from .layers.base import plan_step_is_trusted


def build_plan(layers, logits: bool = False) -> _core._InferencePlan | None:
    """A plan for `layers` (built Sequential layers), or None if one of them is not supported.

    With ``logits``, the last layer's activation is left out (for a loss fused with softmax).
    """
    plan = _core._InferencePlan()
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        if not getattr(layer, "built", False) or not plan_step_is_trusted(layer):
            return None
        act = "" if logits and i == last else (layer.activation or "")
        if not layer.add_to_plan(plan, act):
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
