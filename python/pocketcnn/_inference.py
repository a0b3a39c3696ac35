"""Compiled inference for Sequential models: the layers as one C++ call (``_core._InferencePlan``).

Running a model layer by layer from Python costs a few microseconds per layer and writes every
intermediate to memory; the plan runs them in C++ and fuses conv + bias + ReLU + 2x2 max pool into
one kernel (the conv output never reaches memory). Its results equal the layer-by-layer forward
pass exactly. Each layer appends its own step (``Layer.add_to_plan``); models with a layer the
plan does not know fall back to the Python path.
"""

from __future__ import annotations

from typing import Any, Protocol

from . import _core
from .layers.base import plan_step_is_trusted


class InferencePlan(Protocol):
    """The steps ``_core._InferencePlan`` offers a layer's ``add_to_plan`` (the class is private
    to the extension, so the generated stub does not show it). ``activation`` is '' or a name
    from layers.base's activations, or ``'leaky_relu:<slope>'`` / ``'elu:<alpha>'`` (the
    LeakyReLU / ELU layers' own parameter; cpp/src/ops/plan_activation.h); weights and biases
    are the layer's own Tensors (the plan keeps them, so in-place optimiser updates need no
    rebuild)."""

    def add_conv2d(
        self,
        weight: _core.Tensor,
        bias: _core.Tensor | None,
        stride_h: int,
        stride_w: int,
        pad_top: int,
        pad_left: int,
        pad_bottom: int,
        pad_right: int,
        activation: str,
    ) -> None: ...
    def add_linear(
        self, weight: _core.Tensor, bias: _core.Tensor | None, activation: str
    ) -> None: ...
    def add_pool2d(
        self,
        is_max: bool,
        kernel_h: int,
        kernel_w: int,
        stride_h: int,
        stride_w: int,
        pad_h: int,
        pad_w: int,
        count_include_pad: bool,
    ) -> None: ...
    def add_flatten(self) -> None: ...
    def add_activation(self, activation: str) -> None: ...
    def run(self, x: Any) -> _core.Tensor: ...
    def __len__(self) -> int: ...


def build_plan(layers, logits: bool = False) -> InferencePlan | None:
    """A plan for `layers` (built Sequential layers), or None if one of them is not supported.

    With ``logits``, the last layer's activation is left out (for a loss fused with softmax).
    """
    plan: InferencePlan = _core._InferencePlan()  # type: ignore[attr-defined]  # not in the stub
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
        self._plans: dict[bool, InferencePlan | None] = {}

    def get(self, layers, logits: bool = False) -> InferencePlan | None:
        # A flat list of ids: the layers, then every layer's weight tensors (a nested tuple per
        # layer cost half of this call's ~4 us, a generator over (layer, *weights) 2.2 us, this
        # 1.3 us; it runs on every batch-1 prediction).
        key = [
            *map(id, layers),
            *[id(w) for layer in layers for w in layer._weights],
            *[id(w) for layer in layers for w in layer._state],
        ]
        if key != self._key:
            self._key, self._plans = key, {}
        if logits not in self._plans:
            self._plans[logits] = build_plan(layers, logits)
        return self._plans[logits]
