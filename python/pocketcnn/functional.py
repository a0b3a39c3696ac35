"""Keras' functional API: ``x = pc.Input((3, 32, 32))``, layers called on symbolic tensors,
``pc.Model(inputs, outputs)``. A residual block::

    x = pc.Input((16, 8, 8))
    y = pc.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    y = pc.layers.Conv2D(16, 3, padding="same")(y)
    out = pc.layers.ReLU()(pc.layers.Add()([x, y]))

``Model`` is a ``Sequential`` whose forward pass walks the graph, so compile / fit / evaluate /
predict / summary / save / load are the same code. A layer called twice is one layer (its weights
are shared; both calls must see the same input shape). One input and one output. predict and
evaluate run the graph as one compiled plan (``_graph_inference``: BatchNorm folded, a residual
Add fused with the ReLU after it) when every layer has a plan step, else layer by layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks, _core
from ._graph_inference import GraphPlanCache
from ._symbolic import LayerCall, SymbolicTensor, is_symbolic
from .layers import Activation, Add, BatchNormalization, Layer, ShapeError
from .layers import from_config as layer_from_config
from .model import Sequential, _seed_stream, _shape_str


def Input(shape, name: str | None = None) -> SymbolicTensor:  # noqa: N802 - Keras' name
    """A model input of per-sample ``shape`` (e.g. ``(C, H, W)``), without the batch axis."""
    return SymbolicTensor(_checks.shape(shape, "Input: shape"), None, name)


def _label(layer: Layer) -> str:
    return f"{layer.type_name} {layer.name!r}" if layer.name else layer.type_name


def call_symbolic(layer: Layer, x) -> SymbolicTensor:
    """Records ``layer(x)`` on symbolic tensors; checks the shapes now (errors name the layer)."""
    multi = isinstance(x, (list, tuple))
    inputs = list(x) if multi else [x]
    shapes = [t.per_sample for t in inputs]
    shape_arg: Any = shapes if multi else shapes[0]
    seen = getattr(layer, "_symbolic_input", None)
    if seen is not None and seen != shape_arg:
        raise ValueError(
            f"{_label(layer)} is called on {_shape_str(shape_arg)} but was first called on "
            f"{_shape_str(seen)}; a layer used twice shares its weights and needs one input shape"
        )
    if seen is None and layer.built:
        raise ValueError(f"{_label(layer)} is already built (in another model?)")
    try:
        out_shape = layer.compute_output_shape(shape_arg)
    except ShapeError as e:
        raise ValueError(
            f"{_label(layer)} cannot take input of shape {_shape_str(shape_arg)}: {e}"
        ) from None
    layer._symbolic_input = shape_arg  # type: ignore[attr-defined]
    call = LayerCall(layer, inputs, multi)
    call.output = SymbolicTensor(out_shape, call)
    return call.output


def _single(value, what: str) -> SymbolicTensor:
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(
                f"Model: {what} must be one symbolic tensor (models of several inputs or outputs "
                f"are not supported yet), got {len(value)}"
            )
        value = value[0]
    if not isinstance(value, SymbolicTensor):
        raise TypeError(f"Model: {what} must come from pc.Input / a layer call, got {value!r}")
    return value


def _calls_in_order(output: SymbolicTensor) -> tuple[list[LayerCall], list[SymbolicTensor]]:
    """The layer calls that make ``output``, each after its inputs' calls, and the inputs reached.
    Iterative depth-first walk with an on-path set, so a cycle is an error, not a hang."""
    order: list[LayerCall] = []
    inputs: list[SymbolicTensor] = []
    done: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[SymbolicTensor, int]] = [(output, 0)]
    while stack:
        t, i = stack.pop()
        if t.node is None:
            if all(t is not s for s in inputs):
                inputs.append(t)
            continue
        call = t.node
        if i == 0:
            if id(call) in done:
                continue
            if id(call) in on_path:
                raise ValueError(f"Model: the graph has a cycle through {_label(call.layer)}")
            on_path.add(id(call))
        if i < len(call.inputs):
            stack.append((t, i + 1))
            stack.append((call.inputs[i], 0))
        else:
            on_path.discard(id(call))
            done.add(id(call))
            order.append(call)
    return order, inputs


class Model(Sequential):
    """A model from a graph of layer calls: ``pc.Model(inputs, outputs)`` (see the module doc).

    ``layers`` lists each layer once, in the order the graph first calls them, the output layer
    last; weights, saving and ``summary`` follow that order.
    """

    def __init__(self, inputs, outputs, name: str | None = None, seed: int = 0):
        super().__init__(None, name=name or "model", seed=seed)
        x, y = _single(inputs, "inputs"), _single(outputs, "outputs")
        calls, reached = _calls_in_order(y)
        if not any(t is x for t in reached):
            raise ValueError(
                f"Model: the input of shape {_shape_str(x.per_sample)} is not connected to the "
                "outputs"
            )
        for t in reached:
            if t is not x:
                user = next(c for c in calls if any(i is t for i in c.inputs))
                raise ValueError(
                    f"Model: the outputs depend on an input of shape {_shape_str(t.per_sample)} "
                    f"(used by {_label(user.layer)}) that is not among the model's inputs"
                )
        if not calls:
            raise ValueError("Model: the outputs are the inputs; add a layer")
        self._input_tensor, self._output_tensor, self._calls = x, y, calls
        self._relu_fused: set[int] | None = None  # _relu_fused_calls, on first use
        self._plans = GraphPlanCache(self)  # type: ignore[assignment]
        layers: list[Layer] = []
        for c in calls:
            if all(c.layer is not other for other in layers):
                layers.append(c.layer)
        out_layer = calls[-1].layer
        layers.remove(out_layer)
        layers.append(out_layer)
        for layer in layers:
            if layer.name is None:
                layer.name = self._unique_name(layer.default_name, layers)
            elif sum(other.name == layer.name for other in layers) > 1:
                raise ValueError(f"Model: two layers are named {layer.name!r}")
        self.layers = layers
        self._input_shape = x.per_sample
        for c in calls:
            if not c.layer.built:
                shape: Any = [t.per_sample for t in c.inputs] if c.multi else c.inputs[0].per_sample
                rng = np.random.default_rng(_seed_stream(self.seed, layers.index(c.layer)))
                c.layer.build(shape, rng)

    def _unique_name(self, base: str, layers: list[Layer] | None = None) -> str:
        names = {layer.name for layer in (layers if layers is not None else self.layers)}
        if base not in names:
            return base
        i = 1
        while f"{base}_{i}" in names:
            i += 1
        return f"{base}_{i}"

    def add(self, layer: Layer) -> None:
        raise TypeError("Model.add: a functional Model is fixed by its graph; use Sequential")

    def build(self, input_shape) -> None:
        shape = tuple(int(d) for d in input_shape)
        if shape != self._input_shape:
            raise ValueError(
                f"{self.name}.build: the model takes inputs {_shape_str(self._input_shape)}, "
                f"not {_shape_str(shape)}"
            )

    @property
    def _fused_softmax(self) -> bool:
        return super()._fused_softmax and self._calls[-1].layer is self.layers[-1]

    def _forward(self, x: _core.Tensor, training: bool, logits: bool = False) -> _core.Tensor:
        return self._run_calls(x, len(self._calls) - 1, training, logits)

    @staticmethod
    def _fuses_relu(call) -> bool:
        """Whether ``call``'s layer has a one-op form with the ReLU after it (``forward_relu``):
        a BatchNormalization without activation, or an Add of two inputs (not a subclass, whose
        forward may differ)."""
        layer = call.layer
        if isinstance(layer, BatchNormalization):
            return layer.activation is None
        return type(layer) is Add and call.multi and len(call.inputs) == 2

    def _relu_fused_calls(self) -> set[int]:
        """Calls i of a BatchNormalization or a two-input Add whose output only call i + 1, a
        ReLU, reads: the two run as one op (batch_norm with relu, add_relu; the ReLU's passes
        over memory were 5% of the small ResNet's training step, the residual Add's 3%)."""
        if self._relu_fused is None:
            readers: dict[int, int] = {}
            for c in self._calls:
                for t in c.inputs:
                    readers[id(t)] = readers.get(id(t), 0) + 1
            fused = set()
            for i, (c, nxt) in enumerate(zip(self._calls, self._calls[1:])):
                if (
                    self._fuses_relu(c)
                    and isinstance(nxt.layer, Activation)
                    and nxt.layer.activation == "relu"
                    and len(nxt.inputs) == 1
                    and nxt.inputs[0] is c.output
                    and readers.get(id(c.output)) == 1
                    and c.output is not self._output_tensor
                ):
                    fused.add(i)
            self._relu_fused = fused
        return self._relu_fused

    def _run_calls(self, x: _core.Tensor, stop: int, training: bool, logits: bool) -> _core.Tensor:
        """The output of call ``stop`` (calls 0..stop run; with ``logits`` call ``stop`` leaves
        out its activation). A BatchNormalization or Add and the ReLU after it run as one op
        (_relu_fused_calls) unless the BatchNormalization's or Add's own output is asked for."""
        values: dict[int, Any] = {id(self._input_tensor): x}
        fused = self._relu_fused_calls()
        skip = -1
        for i, c in enumerate(self._calls[: stop + 1]):
            if i == skip:
                continue
            args = [values[id(t)] for t in c.inputs]
            if i in fused and (i + 1 < stop or (i + 1 == stop and not logits)):
                nxt = self._calls[i + 1]
                values[id(nxt.output)] = c.layer.forward_relu(
                    args if c.multi else args[0], training
                )
                skip = i + 1
                continue
            values[id(c.output)] = c.layer(
                args if c.multi else args[0],
                training=training,
                apply_activation=not (logits and i == stop),
            )
        return values[id(self._calls[stop].output)]

    def _forward_to_layer(self, x: _core.Tensor, layer: Layer, logits: bool = False):
        """The output of ``layer`` in inference mode (for pc.viz): of its last call when it is
        called more than once, so the output layer gives the model's output."""
        calls = [i for i, c in enumerate(self._calls) if c.layer is layer]
        if not calls:
            raise ValueError(f"{self.name}: {_label(layer)} is not a layer of this model")
        return self._run_calls(x, calls[-1], False, logits)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        tensors: dict[int, int] = {id(self._input_tensor): 0}
        calls = []
        for k, c in enumerate(self._calls):
            index = next(i for i, layer in enumerate(self.layers) if layer is c.layer)
            calls.append({"layer": index, "inputs": [tensors[id(t)] for t in c.inputs],
                          "multi": c.multi})  # fmt: skip
            tensors[id(c.output)] = k + 1
        config["graph"] = {"calls": calls, "output": tensors[id(self._output_tensor)]}
        return config

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, layers={[layer.name for layer in self.layers]})"


def model_from_config(config: dict[str, Any]) -> Model:
    """The graph of ``Model.get_config()`` rebuilt (used by ``load_model``)."""
    layers = [layer_from_config(s["class_name"], dict(s["config"])) for s in config["layers"]]
    tensors: list[SymbolicTensor] = [Input(config["input_shape"])]
    for c in config["graph"]["calls"]:
        ins = [tensors[int(i)] for i in c["inputs"]]
        tensors.append(call_symbolic(layers[int(c["layer"])], ins if c["multi"] else ins[0]))
    model = Model(tensors[0], tensors[int(config["graph"]["output"])], config["name"],
                  int(config["seed"]))  # fmt: skip
    if [id(a) for a in model.layers] != [id(b) for b in layers]:
        raise ValueError("the saved layer order does not match the graph")
    return model


__all__ = ["Input", "Model", "is_symbolic"]
