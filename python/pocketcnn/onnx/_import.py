"""``pc.onnx.load``: an ONNX file (a linear chain of supported ops) -> a pocketcnn Sequential.

One entry per ONNX op in ``IMPORTERS`` (``@importer("Conv")``): a function of the ``Chain``
being built and the node, which appends layers (``chain.append``), turns the current value
into an activation (``chain.activation``) or folds constants into the layer before it. Each
function reads its attributes with ``node.attributes(name=default, ...)``, which refuses any
attribute it does not list, so an unsupported attribute is an error naming node, op and
attribute, never silently ignored.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any, Callable

import numpy as np

from .. import layers as L
from . import _proto
from ._errors import OnnxError
from ._tensors import FLOAT, to_array

DEFAULT_MAX_BYTES = 1 << 30
MIN_OPSET, MAX_OPSET = 9, 25


class Node:
    """A NodeProto with its attributes decoded, for error messages and attribute checks."""

    def __init__(self, index: int, proto: dict, chain: Chain):
        self.op_type = proto.get("op_type", "")
        self.name = proto.get("name", "") or f"#{index}"
        self.inputs = list(proto["input"])
        self.outputs = list(proto["output"])
        self.domain = proto.get("domain", "")
        self.label = f"node {self.name!r} ({self.op_type})"
        self._raw = {a.get("name", ""): a for a in proto["attribute"]}
        self._chain = chain

    def error(self, message: str) -> OnnxError:
        return OnnxError(f"pc.onnx.load: {self.label}: {message}")

    def attributes(self, **defaults) -> dict[str, Any]:
        """The node's attributes, ``defaults`` filling the absent ones; unknown -> error."""
        for name in self._raw:
            if name not in defaults:
                raise self.error(f"attribute {name!r} is not supported")
        return {name: self._value(name, d) for name, d in defaults.items()}

    def _value(self, name: str, default):
        if name not in self._raw:
            return default
        a = self._raw[name]
        kind = a.get("type", 0)
        if kind == _proto.ATTR_INT or (kind == 0 and "i" in a):
            return int(a.get("i", 0))
        if kind == _proto.ATTR_FLOAT or (kind == 0 and "f" in a):
            return float(a.get("f", 0.0))
        if kind == _proto.ATTR_INTS:
            return [int(v) for v in a["ints"]]
        if kind == _proto.ATTR_FLOATS:
            return [float(v) for v in a["floats"]]
        if kind == _proto.ATTR_STRING:
            return bytes(a.get("s", b"")).decode("utf-8", "replace")
        if kind == _proto.ATTR_TENSOR and "t" in a:
            return to_array(a["t"], f"{self.label} attribute {name!r}", self._chain.model_dir)
        raise self.error(f"attribute {name!r} has unsupported type {kind}")

    def constant(self, i: int, what: str) -> np.ndarray:
        if i >= len(self.inputs) or not self.inputs[i]:
            raise self.error(f"missing input {i} ({what})")
        value = self._chain.consts.get(self.inputs[i])
        if value is None:
            raise self.error(f"input {i} ({what}) {self.inputs[i]!r} must be a constant")
        return value

    def optional_constant(self, i: int, what: str) -> np.ndarray | None:
        if i >= len(self.inputs) or not self.inputs[i]:
            return None
        return self.constant(i, what)


class Chain:
    """The layers built so far and the per-sample shape of the current value."""

    def __init__(
        self,
        consts: dict[str, np.ndarray],
        shape: tuple[int, ...],
        opset: int,
        model_dir: str | None,
    ):
        self.consts, self.shape, self.opset, self.model_dir = consts, shape, opset, model_dir
        self.input_shape = shape
        self.layers: list[L.Layer] = []
        self.weights: list[list[np.ndarray]] = []

    def append(self, node: Node, layer: L.Layer, weights: list[np.ndarray] = ()) -> None:
        try:
            self.shape = layer.compute_output_shape(self.shape)
        except L.ShapeError as e:
            raise node.error(str(e)) from None
        self.layers.append(layer)
        self.weights.append([np.ascontiguousarray(w, dtype=np.float32) for w in weights])

    def last_weighted(self, classes) -> tuple[L.Layer, list[np.ndarray]] | None:
        """The last layer if it is one of ``classes`` and nothing follows its weights."""
        if self.layers and type(self.layers[-1]) in classes and self.layers[-1].activation is None:
            return self.layers[-1], self.weights[-1]
        return None

    def activation(self, node: Node, name: str) -> None:
        """Fuses the activation into the Conv2D/Dense before it when it has none."""
        last = self.last_weighted((L.Conv2D, L.Dense))
        if last is not None:
            last[0].activation = name
        else:
            self.append(node, L.Activation(name))


IMPORTERS: dict[str, Callable[[Chain, Node], None]] = {}


def importer(*op_types: str):
    """Registers ``fn(chain, node)`` for ONNX op types."""

    def register(fn):
        for op in op_types:
            IMPORTERS[op] = fn
        return fn

    return register


# ---- ops ------------------------------------------------------------------------------------


def _explicit_pads(node: Node, attrs, kernel, strides, shape) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from pads / auto_pad."""
    auto = attrs["auto_pad"]
    if auto in ("NOTSET", ""):
        pads = attrs["pads"] or [0, 0, 0, 0]
        if len(pads) != 4 or min(pads) < 0:
            raise node.error(f"attribute 'pads' {pads} must be 4 values >= 0")
        return tuple(pads)
    if auto == "VALID":
        return 0, 0, 0, 0
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for size, k, s in zip(shape[1:], kernel, strides):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            small = total // 2
            out.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
        return out[0][0], out[1][0], out[0][1], out[1][1]
    raise node.error(f"attribute 'auto_pad' {auto!r} is not supported")


def _expect_image(node: Node, chain: Chain) -> None:
    if len(chain.shape) != 3:
        raise node.error(f"expects an NCHW input, got per-sample shape {chain.shape}")


@importer("Conv")
def _conv(chain: Chain, node: Node) -> None:
    _expect_image(node, chain)
    a = node.attributes(
        auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None, strides=None
    )
    w = node.constant(1, "W")
    b = node.optional_constant(2, "B")
    if w.ndim != 4:
        raise node.error(f"weight of shape {w.shape}: only 2-D convolutions are supported")
    k, c, r, s = w.shape
    if a["group"] != 1:
        raise node.error(f"attribute 'group' = {a['group']} is not supported (only 1)")
    if a["dilations"] not in (None, [1, 1]):
        raise node.error(f"attribute 'dilations' = {a['dilations']} is not supported (only 1)")
    if a["kernel_shape"] not in (None, [r, s]):
        raise node.error(f"attribute 'kernel_shape' {a['kernel_shape']} != weight {w.shape}")
    if c != chain.shape[0]:
        raise node.error(f"weight {w.shape} expects {c} channels, the input has {chain.shape[0]}")
    if b is not None and b.shape != (k,):
        raise node.error(f"bias of shape {b.shape}, expected ({k},)")
    strides = a["strides"] or [1, 1]
    top, left, bottom, right = _explicit_pads(node, a, (r, s), strides, chain.shape)
    padding: Any = (top, left)
    if (top, left) != (bottom, right):
        same = L.Conv2D(k, (r, s), strides, "same")._pads(*chain.shape[1:])
        if same != (top, bottom, left, right):
            raise node.error(
                f"attribute 'pads' {[top, left, bottom, right]}: asymmetric pads "
                "other than 'same' padding are not supported"
            )
        padding = "same"
    layer = L.Conv2D(k, (r, s), strides=strides, padding=padding, use_bias=b is not None)
    chain.append(node, layer, [w] if b is None else [w, b])


def _pool(chain: Chain, node: Node, layer_class, **extra) -> None:
    _expect_image(node, chain)
    a = node.attributes(
        auto_pad="NOTSET",
        ceil_mode=0,
        dilations=None,
        kernel_shape=None,
        pads=None,
        strides=None,
        **extra,
    )
    kernel = a["kernel_shape"]
    if not kernel or len(kernel) != 2:
        raise node.error(f"attribute 'kernel_shape' {kernel} must be 2 values")
    if a["dilations"] not in (None, [1, 1]):
        raise node.error(f"attribute 'dilations' = {a['dilations']} is not supported (only 1)")
    strides = a["strides"] or [1, 1]
    top, left, bottom, right = _explicit_pads(node, a, kernel, strides, chain.shape)
    if (top, left) != (bottom, right):
        raise node.error(
            f"attribute 'pads' {[top, left, bottom, right]}: asymmetric pads are not supported"
        )
    if a["ceil_mode"]:
        for size, k, s, p in zip(chain.shape[1:], kernel, strides, (top, left)):
            if (size + 2 * p - k) % s:
                raise node.error(
                    "attribute 'ceil_mode' = 1 changes the output size here; "
                    "only floor mode is supported"
                )
    options = (
        {"count_include_pad": bool(a["count_include_pad"])} if "count_include_pad" in a else {}
    )
    try:
        layer = layer_class(kernel, strides, (top, left), **options)
    except (TypeError, ValueError) as e:
        raise node.error(str(e)) from None
    chain.append(node, layer)


@importer("MaxPool")
def _max_pool(chain, node):
    if len(node.outputs) > 1 and node.outputs[1]:
        raise node.error("the Indices output is not supported")
    _pool(chain, node, L.MaxPool2D, storage_order=0)


@importer("AveragePool")
def _average_pool(chain, node):
    _pool(chain, node, L.AvgPool2D, count_include_pad=0)


@importer("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(chain, node):  # a pool over the whole image: (C, 1, 1), as ONNX's
    _expect_image(node, chain)
    node.attributes()
    cls = L.AvgPool2D if node.op_type == "GlobalAveragePool" else L.MaxPool2D
    chain.append(node, cls(chain.shape[1:]))


@importer("Flatten")
def _flatten(chain, node):
    axis = node.attributes(axis=1)["axis"]
    rank = len(chain.shape) + 1
    if axis not in (1, 1 - rank):
        raise node.error(f"attribute 'axis' = {axis}: only flattening from axis 1 is supported")
    chain.append(node, L.Flatten())


@importer("Reshape")
def _reshape(chain, node):
    allowzero = node.attributes(allowzero=0)["allowzero"]
    target = [int(v) for v in node.constant(1, "shape").reshape(-1)]
    features = math.prod(chain.shape)
    keep = [0] * (allowzero == 0)
    if len(target) == 2 and target[0] in [*keep, -1, 1] and target[1] in (-1, features):
        if target[0] == -1 and target[1] == -1:
            raise node.error(f"shape {target} has two -1")
        chain.append(node, L.Flatten())
        return
    batch_kept = target[:1] in ([-1], [*keep])
    if batch_kept and [d if d != -1 else math.prod(chain.shape) for d in target[1:]] == list(
        chain.shape
    ):
        return  # the same shape: the identity
    raise node.error(f"reshape to {target} is not supported (only to (batch, features))")


def _dense(chain: Chain, node: Node, kernel: np.ndarray, bias) -> None:
    if len(chain.shape) != 1:
        raise node.error(f"expects (batch, features) input, got per-sample shape {chain.shape}")
    if kernel.ndim != 2 or kernel.shape[1] != chain.shape[0]:
        raise node.error(
            f"weight of shape {kernel.shape[::-1]} does not fit {chain.shape[0]} input features"
        )
    units = kernel.shape[0]
    if bias is not None:
        bias = _as_bias(node, bias, units, (units,))
    layer = L.Dense(units, use_bias=bias is not None)
    chain.append(node, layer, [kernel] if bias is None else [kernel, bias])


def _as_bias(node: Node, value: np.ndarray, units: int, shape: tuple[int, ...]) -> np.ndarray:
    """A (units,) bias from a constant broadcast to the per-sample ``shape``."""
    if value.size not in (1, units) or value.ndim > len(shape) + 1:
        raise node.error(f"constant of shape {value.shape} is not a per-channel bias for {shape}")
    full = np.ones((1, *shape), dtype=np.float32)
    try:
        expanded = np.broadcast_to(value.astype(np.float32), full.shape)
    except ValueError:
        raise node.error(f"constant of shape {value.shape} does not broadcast to {shape}") from None
    per_unit = expanded.reshape(units, -1)[:, 0] if len(shape) == 3 else expanded.reshape(units)
    if len(shape) == 3 and not np.all(expanded.reshape(units, -1) == per_unit[:, None]):
        raise node.error(f"constant of shape {value.shape} varies inside a channel")
    return per_unit


@importer("Gemm")
def _gemm(chain, node):
    a = node.attributes(alpha=1.0, beta=1.0, transA=0, transB=0)
    if a["transA"]:
        raise node.error("attribute 'transA' = 1 is not supported")
    b = node.constant(1, "B")
    c = node.optional_constant(2, "C")
    if b.ndim != 2:
        raise node.error(f"B of shape {b.shape} must be 2-D")
    kernel = (b if a["transB"] else b.T) * np.float32(a["alpha"])
    _dense(chain, node, kernel, None if c is None else c * np.float32(a["beta"]))


@importer("MatMul")
def _matmul(chain, node):
    node.attributes()
    b = node.constant(1, "B")
    if b.ndim != 2:
        raise node.error(f"B of shape {b.shape} must be 2-D")
    _dense(chain, node, b.T, None)


@importer("Add")
def _add(chain, node):  # a constant added after a Dense / Conv: its bias
    node.attributes()
    consts = [i for i, name in enumerate(node.inputs) if name in chain.consts]
    if len(consts) != 1:
        raise node.error("needs one constant input (adding two tensors is a branch)")
    value = chain.consts[node.inputs[consts[0]]]
    last = chain.last_weighted((L.Conv2D, L.Dense))
    if last is None:
        raise node.error("adding a constant is supported only right after a Conv or Gemm/MatMul")
    layer, weights = last
    units = layer.filters if isinstance(layer, L.Conv2D) else layer.units
    bias = _as_bias(node, value, units, chain.shape)
    if layer.use_bias:
        weights[1] = weights[1] + bias
    else:
        layer.use_bias = True
        weights.append(bias)


@importer("Relu", "Sigmoid", "Tanh")
def _activation(chain, node):
    node.attributes()
    chain.activation(node, node.op_type.lower())


@importer("Softmax")
def _softmax(chain, node):
    rank = len(chain.shape) + 1
    axis = node.attributes(axis=-1 if chain.opset >= 13 else 1)["axis"]
    axis = axis + rank if axis < 0 else axis
    if axis != 1 or (chain.opset < 13 and rank != 2):
        raise node.error(
            f"attribute 'axis': softmax over axis {axis} of a rank-{rank} input is "
            "not supported (only over the channel/feature axis 1)"
        )
    chain.activation(node, "softmax")


@importer("Dropout", "Identity")
def _identity(chain, node):
    node.attributes(
        **({"seed": 0, "ratio": 0.5, "is_test": 0} if node.op_type == "Dropout" else {})
    )


# ---- the graph --------------------------------------------------------------------------------


def _read_bounded(path: str, max_bytes: int) -> bytes:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise OnnxError(
                    f"pc.onnx.load: {path!r} has {size} bytes, more than the limit "
                    f"max_bytes={max_bytes}"
                )
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise OnnxError(f"pc.onnx.load: cannot read {path!r}: {e}") from None
    if len(data) > max_bytes:
        raise OnnxError(f"pc.onnx.load: {path!r} is larger than max_bytes={max_bytes}")
    return data


def _opset(model: dict) -> int:
    versions = {e.get("domain", ""): e.get("version", 0) for e in model["opset_import"]}
    opset = versions.get("", versions.get("ai.onnx"))
    if opset is None:
        raise OnnxError("pc.onnx.load: the model imports no default (ai.onnx) opset")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise OnnxError(f"pc.onnx.load: opset {opset} is not supported ({MIN_OPSET}-{MAX_OPSET})")
    return opset


def _input_shape(graph: dict, consts) -> tuple[str, tuple[int, ...]]:
    inputs = [v for v in graph["input"] if v.get("name") not in consts]
    if len(inputs) != 1:
        raise OnnxError(
            f"pc.onnx.load: the graph has {len(inputs)} inputs; pocketcnn models take one"
        )
    value = inputs[0]
    tensor = value.get("type", {}).get("tensor_type", {})
    if tensor.get("elem_type", FLOAT) != FLOAT:
        raise OnnxError(
            f"pc.onnx.load: input {value['name']!r} has element type "
            f"{tensor.get('elem_type')}; only float32 is supported"
        )
    dims = tensor.get("shape", {}).get("dim", [])
    sizes = [d.get("dim_value", 0) for d in dims[1:]]
    if len(dims) not in (2, 4) or min(sizes) < 1:
        raise OnnxError(
            f"pc.onnx.load: input {value['name']!r} must be (batch, C, H, W) or "
            "(batch, features) with fixed sizes after the batch dimension"
        )
    return value["name"], tuple(sizes)


def _check_linear(graph: dict, nodes: list[Node]) -> None:
    uses = Counter(name for node in nodes for name in node.inputs if name)
    uses.update(v.get("name") for v in graph["output"])
    for node in nodes:
        for i, name in enumerate(node.outputs):
            if name and uses[name] > 1:
                raise OnnxError(
                    f"pc.onnx.load: {node.label}: its output {name!r} is used "
                    f"{uses[name]} times; branches are not supported (pocketcnn "
                    "loads linear chains into a Sequential model)"
                )
            if i > 0 and name and uses[name] and node.op_type != "Constant":
                raise node.error(f"output {i} ({name!r}) is used; only the first is supported")


def _build_chain(model: dict, model_dir: str | None) -> tuple[Chain, str]:
    graph = model.get("graph")
    if graph is None:
        raise OnnxError("pc.onnx.load: the file holds no graph (is it an ONNX model?)")
    if graph["sparse_initializer"]:
        raise OnnxError("pc.onnx.load: sparse initializers are not supported")
    consts = {
        t.get("name", ""): to_array(t, "initializer", model_dir) for t in graph["initializer"]
    }
    name, shape = _input_shape(graph, consts)
    chain = Chain(consts, shape, _opset(model), model_dir)
    nodes = [Node(i, proto, chain) for i, proto in enumerate(graph["node"])]
    _check_linear(graph, nodes)
    current = name
    for node in nodes:
        if node.op_type == "Constant":
            value = node.attributes(value=None)["value"]
            if value is None or len(node.outputs) != 1:
                raise node.error("only Constant with a 'value' tensor is supported")
            consts[node.outputs[0]] = value
            continue
        _apply(chain, node, current)
        current = node.outputs[0]
    outputs = [v.get("name") for v in graph["output"]]
    if outputs != [current]:
        raise OnnxError(
            f"pc.onnx.load: graph outputs {outputs}; expected the one output of "
            f"the chain, {current!r}"
        )
    return chain, graph.get("name", "")


def _apply(chain: Chain, node: Node, current: str) -> None:
    if node.domain not in ("", "ai.onnx"):
        raise node.error(f"domain {node.domain!r} is not supported (only the default ai.onnx)")
    if node.op_type not in IMPORTERS:
        raise node.error(
            f"op {node.op_type!r} is not supported (supported: {', '.join(sorted(IMPORTERS))})"
        )
    dynamic = [n for n in node.inputs if n and n not in chain.consts]
    if dynamic != [current]:
        raise node.error(
            f"reads {dynamic}, not only the previous value {current!r}: branches "
            "are not supported (pocketcnn loads linear chains into a Sequential)"
        )
    if not node.outputs or not node.outputs[0]:
        raise node.error("has no output")
    try:
        IMPORTERS[node.op_type](chain, node)
    except OnnxError:
        raise
    except (ValueError, TypeError, ArithmeticError) as e:  # a layer refused the values
        raise node.error(str(e)) from None


def _to_sequential(chain: Chain, name: str):
    from ..model import Sequential

    layers = chain.layers or [L.Activation("linear")]
    weights = chain.weights or [[]]
    model = Sequential(name=name or "onnx_model")
    for layer in layers:
        model.add(layer)
    model.build(chain.input_shape)
    for layer, w in zip(layers, weights):
        layer.set_weights(w)
    return model


def load(path, max_bytes: int = DEFAULT_MAX_BYTES):
    """Reads an ONNX model (a path, or the file's bytes) into a ``pc.Sequential``."""
    if isinstance(path, (bytes, bytearray, memoryview)):
        data, model_dir = bytes(path), None
        if len(data) > max_bytes:
            raise OnnxError(f"pc.onnx.load: {len(data)} bytes, more than max_bytes={max_bytes}")
    else:
        path = os.fspath(path)
        data, model_dir = _read_bounded(path, max_bytes), os.path.dirname(os.path.abspath(path))
    chain, name = _build_chain(_proto.decode(data, "ModelProto"), model_dir)
    try:
        return _to_sequential(chain, name)
    except (ValueError, TypeError) as e:
        raise OnnxError(f"pc.onnx.load: the layers do not fit together: {e}") from None
