"""Compiled inference for functional (graph) models: ``_core._GraphPlan``.

The graph's layer calls become steps over numbered value slots (slot 0 is the input):

- a *chain*: the calls between two branch points (each value read by exactly one single-input
  layer) as one Sequential plan (``_inference``), so BatchNorm folds into the conv before it and
  conv + ReLU (+ 2x2 max pool) fuse exactly as in a Sequential model;
- a *sum* (``Add``), with an activation layer that is the sum's only reader fused into the same
  pass: a residual block's ``ReLU()(Add()([x, y]))`` is one step, written into the buffer of an
  input whose last reader it is;
- a *concat* (``Concatenate``).

The C++ plan releases each slot after its last reader. Results equal the layer-by-layer forward
pass (``Model._forward`` under ``no_grad``). A graph with a layer the plan does not know (or a
subclass whose forward the plan cannot trust) runs in Python, as before.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from . import _core
from .layers import Activation, Add, Concatenate
from .layers.base import plan_step_is_trusted


class _Builder:
    def __init__(self, model, logits: bool):
        self.calls = model._calls
        self.last = self.calls[-1]
        self.output = model._output_tensor
        self.logits = logits
        self.readers = Counter(id(t) for c in self.calls for t in c.inputs)
        self.slot: dict[int, int] = {id(model._input_tensor): 0}
        self.done: set[int] = set()
        self.plan: Any = _core._GraphPlan()  # type: ignore[attr-defined]  # not in the stub

    def activation(self, call) -> str:
        if self.logits and call is self.last:
            return ""
        return call.layer.activation or ""

    def sole_reader(self, tensor):
        """The call that is the only reader of ``tensor`` (None if it has several, or it is the
        model's output)."""
        if tensor is self.output or self.readers[id(tensor)] != 1:
            return None
        return next(c for c in self.calls if any(t is tensor for t in c.inputs))

    def run(self):
        for call in self.calls:
            if id(call) in self.done:
                continue
            if not self.add_call(call):
                return None
        self.plan.set_output(self.slot[id(self.output)])
        return self.plan

    def add_call(self, call) -> bool:
        layer = call.layer
        if not getattr(layer, "built", False):
            return False
        if call.multi:
            return self.add_merge(call)
        if isinstance(layer, (Add, Concatenate)) or not plan_step_is_trusted(layer):
            return False
        return self.add_chain(call)

    def add_chain(self, call) -> bool:
        """``call`` and the single-input calls that follow it through sole readers."""
        chain: Any = _core._InferencePlan()  # type: ignore[attr-defined]
        source = self.slot[id(call.inputs[0])]
        while True:
            if not call.layer.add_to_plan(chain, self.activation(call)):
                return False
            self.done.add(id(call))
            nxt = self.sole_reader(call.output)
            if nxt is None or nxt.multi or isinstance(nxt.layer, (Add, Concatenate)):
                break
            if not getattr(nxt.layer, "built", False) or not plan_step_is_trusted(nxt.layer):
                break  # it runs as its own step (or makes the graph fall back)
            call = nxt
        self.slot[id(call.output)] = self.plan.add_chain(source, chain)
        return True

    def add_merge(self, call) -> bool:
        layer = call.layer
        inputs = [self.slot[id(t)] for t in call.inputs]
        self.done.add(id(call))
        if type(layer) is Concatenate:
            rank = len(call.inputs[0].per_sample)
            self.slot[id(call.output)] = self.plan.add_concat(inputs, layer.axis % rank + 1)
            return True
        if type(layer) is not Add:
            return False
        out, act = call.output, self.activation(call)
        follower = self.sole_reader(out)
        fused = follower is not None and self._is_activation(follower)
        if not act and fused and self.activation(follower) in ("", "relu"):
            act = self.activation(follower)  # Add + ReLU: one pass
            self.done.add(id(follower))
            out = follower.output
        self.slot[id(out)] = self.plan.add_sum(inputs, act)
        return True

    @staticmethod
    def _is_activation(call) -> bool:
        layer = call.layer
        return (
            not call.multi
            and isinstance(layer, Activation)
            and type(layer).add_to_plan is Activation.add_to_plan
            and plan_step_is_trusted(layer)
            and getattr(layer, "built", False)
        )


def build_graph_plan(model, logits: bool = False):
    """A ``_core._GraphPlan`` for a functional ``Model``, or None when a layer has no plan step.
    With ``logits`` the last call's activation is left out (a softmax fused into the loss)."""
    return _Builder(model, logits).run()


class GraphPlanCache:
    """``PlanCache`` for graph models: rebuilds the plan only when a layer's weight or state
    tensors change (the plan holds the model's own tensors, so in-place updates need none)."""

    def __init__(self, model):
        self._model = model
        self._key: list[int] | None = None
        self._plans: dict[bool, Any] = {}

    def get(self, layers, logits: bool = False):
        key = [
            *map(id, layers),
            *[id(w) for layer in layers for w in layer._weights],
            *[id(w) for layer in layers for w in layer._state],
        ]
        if key != self._key:
            self._key, self._plans = key, {}
        if logits not in self._plans:
            self._plans[logits] = build_graph_plan(self._model, logits)
        return self._plans[logits]
