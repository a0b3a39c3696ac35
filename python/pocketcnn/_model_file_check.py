"""Validation of a whole model file against its declared shapes, before anything is allocated.

``load_model`` used to build and randomly initialise the declared architecture first (a 90 KB
file with ``units=2**19`` cost 4 GB and 11 s) and compare it with the stored arrays afterwards.
Here the architecture is only *planned*: layer objects are made from their configs (which
allocates nothing), the per-sample shapes are propagated with ``compute_output_shape``, and the
weight shapes that ``build`` would create come from ``weight_shapes``. They must match the
header's array table, each within the tensor limit, and so must the optimiser state; only then
are the arrays read (bounded by those shapes) and the model built.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from . import _bounded_io


class PlanError(ValueError):
    """The header's architecture, array table or optimiser state do not agree."""


def _int(value, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise PlanError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _shape(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > 8:
        raise PlanError(f"{what} must be a list of at most 8 sizes, got {value!r}")
    shape = tuple(_int(d, what) for d in value)
    if math.prod(shape) > _bounded_io.MAX_ARRAY_ELEMENTS:
        raise PlanError(
            f"{what} {shape} has more elements than the largest tensor "
            f"({_bounded_io.MAX_ARRAY_ELEMENTS}, pocketcnn._core.limits()['max_tensor_elements'])"
        )
    return shape


def array_table(header: dict[str, Any]) -> dict[str, tuple[str, tuple[int, ...], str]]:
    """name -> (member, shape, sha256), every entry checked for type and size."""
    table = header.get("arrays")
    if not isinstance(table, dict):
        raise PlanError("no array table in the header")
    out = {}
    total = 0
    for name, info in table.items():
        if not isinstance(info, dict):
            raise PlanError(f"array {name!r}: entry is not an object")
        member, digest = info.get("member"), info.get("sha256")
        if not isinstance(member, str) or not member.endswith(".npy"):
            raise PlanError(f"array {name!r}: bad member name {member!r}")
        if not isinstance(digest, str):
            raise PlanError(f"array {name!r}: no checksum")
        if info.get("dtype") != "<f4":
            raise PlanError(f"array {name!r}: dtype {info.get('dtype')!r}, expected '<f4'")
        shape = _shape(info.get("shape"), f"array {name!r}: shape")
        total += math.prod(shape) * 4
        if total > _bounded_io.MAX_DATA_BYTES:
            raise PlanError(
                f"the arrays declare more than {_bounded_io.MAX_DATA_BYTES} bytes "
                "(pocketcnn._bounded_io.MAX_DATA_BYTES)"
            )
        out[name] = (member, shape, digest)
    return out


Shapes = list[tuple[int, ...]]


def planned_weight_shapes(model_config: Any) -> tuple[Shapes, Shapes, bool]:
    """The weight shapes the architecture in ``model_config`` would build, in order, without
    creating any weights, and those of them that are trainable (the optimiser's parameters);
    every per-sample activation and weight within the tensor limit. The flag says whether that
    is all of them (False from the first layer that does not describe its weights, see
    Layer.weight_shapes: its file is then checked after building)."""
    from . import layers as layers_module

    if not isinstance(model_config, dict) or not isinstance(model_config.get("layers"), list):
        raise PlanError("the header has no list of layers")
    layers = []
    for i, spec in enumerate(model_config["layers"]):
        if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
            raise PlanError(f"layer {i}: not a {{class_name, config}} object")
        if not isinstance(spec.get("class_name"), str):
            raise PlanError(f"layer {i}: bad class name {spec.get('class_name')!r}")
        layers.append(layers_module.from_config(spec["class_name"], dict(spec["config"])))
    shape = model_config.get("input_shape")
    if shape is None and layers:
        shape = layers[0].input_shape
    if shape is None:
        return [], [], False
    shape = _shape(list(shape), "input_shape")
    if model_config.get("graph") is not None:  # a functional Model: shapes flow along its calls
        return _planned_graph_shapes(layers, shape, model_config["graph"])
    shapes: Shapes = []
    trainable: Shapes = []
    for i, layer in enumerate(layers):
        described = layer.weight_shapes(shape)
        if described is None:
            return shapes, trainable, False
        weights = [tuple(int(d) for d in s) for s in described]
        for w in weights:
            _shape(list(w), f"layer {i} ({layer.type_name}) weight shape")
        shapes += weights
        trainable += weights[: len(weights) - len(layer.state_names)]  # weights, then state
        shape = _shape(
            list(layer.compute_output_shape(shape)), f"layer {i} ({layer.type_name}) output shape"
        )
    return shapes, trainable, True


def _graph_call_inputs(graph: Any, n_layers: int) -> list[tuple[int, list[int], bool]]:
    """(layer index, input tensor indices, multi) of every call of a Model's saved graph, each
    index checked: tensor 0 is the input, call k writes tensor k + 1."""
    calls = graph.get("calls") if isinstance(graph, dict) else None
    if not isinstance(calls, list):
        raise PlanError("the graph has no list of calls")
    out = []
    for k, c in enumerate(calls):
        if not isinstance(c, dict) or not isinstance(c.get("inputs"), list) or not c["inputs"]:
            raise PlanError(f"graph call {k}: not a {{layer, inputs, multi}} object")
        layer = _int(c.get("layer"), f"graph call {k}: layer")
        inputs = [_int(i, f"graph call {k}: input") for i in c["inputs"]]
        if layer >= n_layers or max(inputs) > k:
            raise PlanError(f"graph call {k}: layer {layer} or inputs {inputs} out of range")
        out.append((layer, inputs, bool(c.get("multi"))))
    return out


def _planned_graph_shapes(layers, shape, graph) -> tuple[Shapes, Shapes, bool]:
    """planned_weight_shapes of a functional Model: each layer's weights from its first call's
    input shapes, in the order of ``layers`` (the order weights are saved in)."""
    tensors: list[Any] = [shape]
    per_layer: dict[int, list[tuple[int, ...]] | None] = {}
    for k, (index, inputs, multi) in enumerate(_graph_call_inputs(graph, len(layers))):
        layer = layers[index]
        arg = [tensors[i] for i in inputs] if multi else tensors[inputs[0]]
        if index not in per_layer:
            described = layer.weight_shapes(arg)
            per_layer[index] = (
                None if described is None else [tuple(int(d) for d in w) for w in described]
            )
        out = layer.compute_output_shape(arg)
        tensors.append(_shape(list(out), f"graph call {k} ({layer.type_name}) output shape"))
    shapes: Shapes = []
    trainable: Shapes = []
    for index, layer in enumerate(layers):
        weights = per_layer.get(index, [])
        if weights is None:
            return shapes, trainable, False
        for w in weights:
            _shape(list(w), f"layer {index} ({layer.type_name}) weight shape")
        shapes += weights
        trainable += weights[: len(weights) - len(layer.state_names)]
    return shapes, trainable, True


def check_plan(header: dict[str, Any]) -> dict[str, tuple[str, tuple[int, ...], str]]:
    """Checks the architecture and the optimiser state against the array table; returns the
    table. Raises PlanError saying what disagrees."""
    table = array_table(header)
    model = header.get("model")
    if not isinstance(model, dict):
        raise PlanError("the header has no model")
    weights, trainable, complete = planned_weight_shapes(model.get("config"))
    for i, shape in enumerate(weights):
        entry = table.get(f"weights/{i}")
        if entry is None or entry[1] != shape:
            found = None if entry is None else entry[1]
            raise PlanError(
                f"weights/{i} has shape {found} in the file, the architecture's needs {shape}"
            )
    if complete and f"weights/{len(weights)}" in table:
        raise PlanError(f"the architecture has {len(weights)} weight arrays, the file has more")
    if complete:
        _check_optimizer(header.get("optimizer"), table, trainable)
    for key in ("epochs_trained",):
        if key in header:
            _int(header[key], key)
    return table


def _check_optimizer(opt: Any, table, weights: list[tuple[int, ...]]) -> None:
    """The optimiser state must be one entry per weight (or none), each array of its weight's
    shape: otherwise it loaded and failed only later inside fit."""
    if opt is None:
        return
    if not isinstance(opt, dict) or not isinstance(opt.get("state"), list):
        raise PlanError("optimizer: not an object with a state list")
    if not isinstance(opt.get("class"), str) or not isinstance(opt.get("config"), dict):
        raise PlanError("optimizer: no class name or config")
    _int(opt.get("iterations", 0), "optimizer iterations")
    _int(opt.get("epoch", 0), "optimizer epoch")
    state = opt["state"]
    if state and len(state) != len(weights):
        raise PlanError(
            f"optimizer: state for {len(state)} parameters, the model has {len(weights)}"
        )
    for i, entry in enumerate(state):
        if not isinstance(entry, dict):
            raise PlanError(f"optimizer: state {i} is not an object")
        for key, ref in entry.items():
            if key == "step":
                _int(ref, f"optimizer: state {i} step")
                continue
            if not isinstance(ref, str) or ref not in table:
                raise PlanError(f"optimizer: state {i} {key!r} refers to no array ({ref!r})")
            if table[ref][1] != weights[i]:
                raise PlanError(
                    f"optimizer: state {i} {key!r} has shape {table[ref][1]}, its parameter "
                    f"{weights[i]}"
                )
