"""``pc.onnx.export``: a built Sequential or functional model -> an ONNX file (NCHW, dynamic
batch). A functional model's layer calls become nodes in the graph's order (Add as a chain of
ONNX Add, Concatenate as Concat; a layer called twice shares its initializers).

One entry per layer class in ``EXPORTERS`` (``@exporter("Conv2D")``): a function that adds the
layer's nodes to a ``GraphBuilder`` and returns the name of its output. A layer's activation is
added after it from ``ACTIVATION_OPS``. New layers need one entry each; subclasses (ReLU of
Activation) use their base class's entry unless they have their own.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from . import _proto
from ._errors import OnnxError
from ._tensors import FLOAT, to_proto

# opset -> the IR version that introduced it (onnx/helper.py VERSION_TABLE); 13 is the first
# opset whose Softmax normalises one axis, as pocketcnn's does.
OPSET_IR_VERSION = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
BATCH_DIM = "batch"

# activation name -> (op_type, attributes); softmax is over the feature/channel axis, axis 1.
ACTIVATION_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "relu": ("Relu", {}),
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "softmax": ("Softmax", {"axis": 1}),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.2}),
    "elu": ("Elu", {"alpha": 1.0}),
    "softplus": ("Softplus", {}),
    # relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1) (ONNX's defaults 0.2 / 0.5 are Keras 2's)
    "hard_sigmoid": ("HardSigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}),
}
# Activations without a single ONNX op at every opset (silu; gelu before opset 20): a function
# adding their nodes (see _export_activations).
COMPOSITE_ACTIVATIONS: dict[str, Callable[[GraphBuilder, str, str], str]] = {}


def _attribute(name: str, value) -> dict[str, Any]:
    if isinstance(value, bool) or isinstance(value, (int, np.integer)):
        return {"name": name, "type": _proto.ATTR_INT, "i": int(value)}
    if isinstance(value, (float, np.floating)):
        return {"name": name, "type": _proto.ATTR_FLOAT, "f": float(value)}
    if isinstance(value, str):
        return {"name": name, "type": _proto.ATTR_STRING, "s": value.encode()}
    values = list(value)
    if all(isinstance(v, (int, np.integer)) for v in values):
        return {"name": name, "type": _proto.ATTR_INTS, "ints": [int(v) for v in values]}
    return {"name": name, "type": _proto.ATTR_FLOATS, "floats": [float(v) for v in values]}


class GraphBuilder:
    """Collects nodes and initializers with unique names."""

    def __init__(self, opset: int = 17):
        self.opset = opset  # the activations' exporters choose ops by it
        self.nodes: list[dict[str, Any]] = []
        self.initializers: list[dict[str, Any]] = []
        self._names: set[str] = {"input", "output"}
        self.layer_weights: dict[int, list[str]] = {}  # id(layer) -> its weight initializers

    def unique(self, base: str) -> str:
        name, i = base, 1
        while name in self._names:
            name, i = f"{base}_{i}", i + 1
        self._names.add(name)
        return name

    def constant(self, base: str, array) -> str:
        name = self.unique(base)
        self.initializers.append(to_proto(name, np.asarray(array)))
        return name

    def node(self, op_type: str, inputs: list[str], base: str, **attributes) -> str:
        """Adds a node with one output; returns the output's name."""
        output = self.unique(base)
        self.nodes.append(
            {
                "op_type": op_type,
                "name": output,
                "input": list(inputs),
                "output": [output],
                "attribute": [_attribute(k, v) for k, v in attributes.items()],
            }
        )
        return output


EXPORTERS: dict[str, Callable[[GraphBuilder, Any, str], str]] = {}


def exporter(*class_names: str):
    """Registers ``fn(graph, layer, input_name) -> output_name`` for layer classes."""

    def register(fn):
        for name in class_names:
            EXPORTERS[name] = fn
        return fn

    return register


def _weights(graph: GraphBuilder, layer) -> list[str]:
    known = graph.layer_weights.get(id(layer))  # a layer called twice in a graph: one copy
    if known is not None:
        return known
    names = [graph.constant(f"{layer.name}.weight", np.asarray(layer.weights[0]))]
    if getattr(layer, "use_bias", False):
        names.append(graph.constant(f"{layer.name}.bias", np.asarray(layer.weights[1])))
    graph.layer_weights[id(layer)] = names
    return names


@exporter("Conv2D", "DepthwiseConv2D")
def _conv2d(graph, layer, x):
    _, h, w = layer.built_input_shape
    top, bottom, left, right = layer._pads(h, w)
    return graph.node(
        "Conv",
        [x, *_weights(graph, layer)],
        layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        pads=[top, left, bottom, right],
        dilations=list(getattr(layer, "dilation_rate", (1, 1))),
        group=int(getattr(layer, "groups", 1)),
    )


def _pool_attributes(layer) -> dict[str, Any]:
    # 'same' pads as Keras: (pad_h, pad_w) on top/left, one more at the bottom/right if odd.
    ph, pw, eh, ew = layer._explicit_padding(*layer.built_input_shape[1:])
    return {
        "kernel_shape": list(layer.pool_size),
        "strides": list(layer.strides),
        "pads": [ph, pw, ph + eh, pw + ew],
    }


@exporter("MaxPool2D")
def _max_pool2d(graph, layer, x):
    return graph.node("MaxPool", [x], layer.name, **_pool_attributes(layer))


@exporter("AvgPool2D")
def _avg_pool2d(graph, layer, x):
    include_pad = int(getattr(layer, "count_include_pad", True))
    return graph.node(
        "AveragePool", [x], layer.name, **_pool_attributes(layer), count_include_pad=include_pad
    )


@exporter("BatchNormalization")
def _batch_norm(graph, layer, x):
    gamma, beta = layer._gamma_beta()
    mean, var = layer._state
    c = int(np.asarray(mean).shape[0])
    scale = np.ones(c, np.float32) if gamma is None else np.asarray(gamma)
    shift = np.zeros(c, np.float32) if beta is None else np.asarray(beta)
    inputs = [
        graph.constant(f"{layer.name}.{what}", array)
        for what, array in (("scale", scale), ("bias", shift), ("mean", mean), ("var", var))
    ]
    return graph.node("BatchNormalization", [x, *inputs], layer.name, epsilon=float(layer.epsilon))


@exporter("GlobalAveragePooling2D", "GlobalMaxPooling2D")
def _global_pool(graph, layer, x):
    op = "GlobalMaxPool" if layer._plan_is_max else "GlobalAveragePool"
    y = graph.node(op, [x], layer.name)
    return y if layer.keepdims else graph.node("Flatten", [y], f"{layer.name}/flatten", axis=1)


@exporter("ZeroPadding2D")
def _zero_padding(graph, layer, x):
    top, bottom, left, right = layer.sides
    pads = np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)
    return graph.node("Pad", [x, graph.constant(f"{layer.name}.pads", pads)], layer.name)


@exporter("Reshape")
def _reshape(graph, layer, x):
    shape = np.array([0, *layer.output_shape], np.int64)  # 0: the batch size, as it comes
    return graph.node("Reshape", [x, graph.constant(f"{layer.name}.shape", shape)], layer.name)


@exporter("SeparableConv2D")
def _separable(graph, layer, x):
    return _conv2d(graph, layer.pointwise, _conv2d(graph, layer.depthwise, x))


def _merge_inputs(layer, x) -> list[str]:
    if isinstance(x, str):  # a Sequential model: a merge layer has one input there
        raise OnnxError(
            f"pc.onnx.export: layer {layer.name!r} ({type(layer).__name__}) takes several inputs; "
            "it exists only in functional models (pc.Model)"
        )
    return list(x)


@exporter("Add")
def _add(graph, layer, x):  # ONNX Add takes two inputs: a chain of them, left to right
    names = _merge_inputs(layer, x)
    y = names[0]
    for k, other in enumerate(names[1:], start=2):
        y = graph.node("Add", [y, other], layer.name if k == len(names) else f"{layer.name}/{k}")
    return y


@exporter("Concatenate")
def _concatenate(graph, layer, x):
    rank = len(layer.built_input_shape[0])
    return graph.node("Concat", _merge_inputs(layer, x), layer.name, axis=layer.axis % rank + 1)


@exporter("Flatten")
def _flatten(graph, layer, x):
    return graph.node("Flatten", [x], layer.name, axis=1)


@exporter("Dense")
def _dense(graph, layer, x):
    return graph.node("Gemm", [x, *_weights(graph, layer)], layer.name, transB=1)


@exporter("Dropout")
def _dropout(graph, layer, x):  # inference: the identity
    return graph.node("Identity", [x], layer.name)


@exporter("Activation")
def _activation(graph, layer, x):
    if layer.activation is None:  # 'linear'
        return graph.node("Identity", [x], layer.name)
    return x  # added by _add_activation


def _layer_exporter(layer):
    for cls in type(layer).__mro__:
        if cls.__name__ in EXPORTERS:
            return EXPORTERS[cls.__name__]
    raise OnnxError(
        f"pc.onnx.export: layer {layer.name!r} ({type(layer).__name__}) has no ONNX exporter "
        f"(supported: {', '.join(sorted(EXPORTERS))})"
    )


def _add_activation(graph: GraphBuilder, layer, x: str) -> str:
    if layer.activation is None:
        return x
    if layer.activation in COMPOSITE_ACTIVATIONS:
        return COMPOSITE_ACTIVATIONS[layer.activation](graph, x, f"{layer.name}/{layer.activation}")
    if layer.activation not in ACTIVATION_OPS:
        raise OnnxError(
            f"pc.onnx.export: layer {layer.name!r}: activation {layer.activation!r} has no ONNX op"
        )
    op_type, attributes = ACTIVATION_OPS[layer.activation]
    return graph.node(op_type, [x], f"{layer.name}/{layer.activation}", **attributes)


def _value_info(name: str, per_sample_shape) -> dict[str, Any]:
    dims = [{"dim_param": BATCH_DIM}, *({"dim_value": int(d)} for d in per_sample_shape)]
    return {"name": name, "type": {"tensor_type": {"elem_type": FLOAT, "shape": {"dim": dims}}}}


def _graph_body(graph: GraphBuilder, model) -> str:
    """The nodes of a functional model's layer calls, in the graph's order; the output's name."""
    names = {id(model._input_tensor): "input"}
    for call in model._calls:
        inputs = [names[id(t)] for t in call.inputs]
        layer = call.layer
        y = _layer_exporter(layer)(graph, layer, inputs if call.multi else inputs[0])
        names[id(call.output)] = _add_activation(graph, layer, y)
    return names[id(model._output_tensor)]


def model_proto(model, opset: int = 17) -> dict[str, Any]:
    """The ModelProto (as a dict) for a built Sequential or functional model."""
    if isinstance(opset, bool) or not isinstance(opset, int) or opset not in OPSET_IR_VERSION:
        raise ValueError(
            f"pc.onnx.export: opset must be one of {sorted(OPSET_IR_VERSION)}, got {opset!r}"
        )
    if not getattr(model, "built", False) or not model.layers:
        raise ValueError(
            "pc.onnx.export: the model must be built (give the first layer an "
            "input_shape or call model.build(input_shape))"
        )
    graph = GraphBuilder(opset)
    if getattr(model, "_calls", None) is not None:
        x = _graph_body(graph, model)
    else:
        x = "input"
        for layer in model.layers:
            x = _add_activation(graph, layer, _layer_exporter(layer)(graph, layer, x))
    if not graph.nodes or graph.nodes[-1]["output"] != [x]:  # the output needs its own node
        x = graph.node("Identity", [x], "identity")
    graph.nodes[-1]["output"] = ["output"]
    from .. import __version__

    return {
        "ir_version": OPSET_IR_VERSION[opset],
        "producer_name": "pocketcnn",
        "producer_version": __version__,
        "opset_import": [{"domain": "", "version": opset}],
        "graph": {
            "name": model.name,
            "node": graph.nodes,
            "initializer": graph.initializers,
            "input": [_value_info("input", model.input_shape[1:])],
            "output": [_value_info("output", model.output_shape[1:])],
        },
    }


def export(model, path: str | os.PathLike, opset: int = 17) -> None:
    """Writes ``model`` as ONNX (opset 13-21, default 17) to ``path``: input ``"input"``
    (batch, C, H, W) with a dynamic batch dimension, output ``"output"``; Dropout becomes
    Identity, 'same' padding explicit pads. Written atomically (temporary file + rename)."""
    data = _proto.encode(model_proto(model, opset), "ModelProto")
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


from . import _export_activations  # noqa: E402, F401  (fills COMPOSITE_ACTIVATIONS, EXPORTERS)
