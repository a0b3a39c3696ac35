"""``pc.onnx.load``: an ONNX file -> a pocketcnn Sequential (a linear chain of supported ops)
or a functional Model (a graph with branches, ``_import_graph``).

The file is read with a size limit and decoded by ``_proto``; the graph must be one input and one
output. A chain is nodes each reading only the previous node's output (plus constants). The ops
themselves are in ``_import_ops`` (one entry per op in ``_chain.IMPORTERS``).
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np

from .. import _bounded_io, _checks
from .. import layers as L
from . import (
    _import_ops,  # noqa: F401  (fills IMPORTERS)
    _proto,
)
from ._chain import IMPORTERS, Chain, Node
from ._errors import OnnxError
from ._import_graph import GraphChain, import_node, to_model
from ._import_patterns import fuse_silu
from ._tensors import FLOAT, to_array

DEFAULT_MAX_BYTES = 1 << 30
MIN_OPSET, MAX_OPSET = 9, 25


def _read_bounded(path: str, max_bytes: int) -> bytes:
    try:
        # Regular files only (a FIFO would block, /dev/zero never end): the shared bounded reader.
        with _bounded_io.open_regular(path, max_bytes=None) as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise OnnxError(
                    f"pc.onnx.load: {path!r} has {size} bytes, more than the limit "
                    f"max_bytes={max_bytes}"
                )
            data = f.read(min(size, max_bytes) + 1)  # not a max_bytes buffer for a small file
    except (OSError, ValueError) as e:
        if isinstance(e, OnnxError):
            raise
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


def _is_linear(graph: dict, nodes: list[Node], consts) -> bool:
    """Whether every computed value has at most one reader and every node reads at most one
    (a chain: a Sequential model); else the graph has branches (a functional Model)."""
    uses = _uses(graph, nodes)
    constant = set(consts) | {n.outputs[0] for n in nodes if n.op_type == "Constant" and n.outputs}
    if any(count > 1 for name, count in uses.items() if name not in constant):
        return False
    return all(len([n for n in node.inputs if n and n not in constant]) <= 1 for node in nodes)


def _uses(graph: dict, nodes: list[Node]) -> Counter:
    uses = Counter(name for node in nodes for name in node.inputs if name)
    uses.update(v.get("name") for v in graph["output"])
    return uses


def _graph_parts(model: dict, model_dir: str | None):
    graph = model.get("graph")
    if graph is None:
        raise OnnxError("pc.onnx.load: the file holds no graph (is it an ONNX model?)")
    if graph["sparse_initializer"]:
        raise OnnxError("pc.onnx.load: sparse initializers are not supported")
    consts = {
        t.get("name", ""): to_array(t, "initializer", model_dir) for t in graph["initializer"]
    }
    name, shape = _input_shape(graph, consts)
    return graph, consts, name, shape


def _build_graph_model(model: dict, model_dir: str | None):
    """A graph with branches -> a functional Model (``_import_graph``)."""
    graph, consts, name, shape = _graph_parts(model, model_dir)
    probe = Chain(consts, shape, _opset(model), model_dir)
    nodes = [Node(i, proto, probe) for i, proto in enumerate(graph["node"])]
    chain = GraphChain(consts, shape, probe.opset, model_dir, name, _uses(graph, nodes))
    for node in nodes:
        node._chain = chain
        if node.op_type == "Constant":
            consts[node.outputs[0] if node.outputs else ""] = _constant_value(node)
        else:
            import_node(chain, node)
    outputs = [v.get("name") for v in graph["output"]]
    if len(outputs) != 1:
        raise OnnxError(f"pc.onnx.load: graph outputs {outputs}; pocketcnn models have one")
    return to_model(chain, outputs[0], graph.get("name", ""))


def _build_chain(model: dict, model_dir: str | None) -> tuple[Chain, str]:
    graph, consts, name, shape = _graph_parts(model, model_dir)
    chain = Chain(consts, shape, _opset(model), model_dir)
    nodes = [Node(i, proto, chain) for i, proto in enumerate(graph["node"])]
    _check_linear(graph, nodes)
    current = name
    for node in nodes:
        if node.op_type == "Constant":
            consts[node.outputs[0] if node.outputs else ""] = _constant_value(node)
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


_CONSTANT_FORMS = {"value": None, "value_float": np.float32, "value_floats": np.float32,
                   "value_int": np.int64, "value_ints": np.int64}  # fmt: skip


def _constant_value(node: Node) -> np.ndarray:
    """The tensor a Constant node holds (in any of its numeric attribute forms)."""
    given = {k: v for k, v in node.attributes(**dict.fromkeys(_CONSTANT_FORMS)).items()
             if v is not None}  # fmt: skip
    if len(given) != 1 or len(node.outputs) != 1:
        raise node.error(f"needs exactly one of {sorted(_CONSTANT_FORMS)} and one output")
    ((form, value),) = given.items()
    dtype = _CONSTANT_FORMS[form]
    return value if dtype is None else np.asarray(value, dtype=dtype)


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


def _branched(model: dict, model_dir: str | None) -> bool:
    graph = model.get("graph")
    if graph is None:
        return False  # _build_chain says what is wrong
    probe = Chain({}, (), 0, model_dir)
    nodes = [Node(i, proto, probe) for i, proto in enumerate(graph["node"])]
    consts = {t.get("name", "") for t in graph["initializer"]}
    return not _is_linear(graph, nodes, consts)


def load(path, max_bytes: int = DEFAULT_MAX_BYTES):
    """Reads an ONNX model (a path, or the file's bytes): a chain of ops into a
    ``pc.Sequential``, a graph with branches (Add / Concat of computed values, a value read by
    several nodes) into a functional ``pc.Model``."""
    max_bytes = _checks.int_at_least(max_bytes, "pc.onnx.load: max_bytes")
    if isinstance(path, (bytes, bytearray, memoryview)):
        data, model_dir = bytes(path), None
        if len(data) > max_bytes:
            raise OnnxError(f"pc.onnx.load: {len(data)} bytes, more than max_bytes={max_bytes}")
    else:
        path = os.fspath(path)
        data, model_dir = _read_bounded(path, max_bytes), os.path.dirname(os.path.abspath(path))
    proto = _proto.decode(data, "ModelProto")
    if proto.get("graph") is not None:
        fuse_silu(proto["graph"])
    if _branched(proto, model_dir):
        return _build_graph_model(proto, model_dir)
    chain, name = _build_chain(proto, model_dir)
    try:
        return _to_sequential(chain, name)
    except (ValueError, TypeError) as e:
        raise OnnxError(f"pc.onnx.load: the layers do not fit together: {e}") from None
