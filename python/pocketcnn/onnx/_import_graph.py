"""``pc.onnx.load`` of graphs with branches (a residual block, an Inception-style concat) into a
functional ``pc.Model``.

The ops are the same importers as for chains (``_import_ops``); ``GraphChain`` gives them the
``Chain`` interface for the value each node reads, so a Conv's bias Add, a BatchNormalization
and a Relu still fold into the layer before them -- but only when that layer's output has no
other reader (folding into a value two nodes read would change what the other one sees). An Add
of two computed values becomes ``pc.layers.Add``, a Concat ``pc.layers.Concatenate``; a value
used by several nodes is one symbolic tensor read by several layer calls.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .. import layers as L
from ._chain import IMPORTERS, Chain, Node
from ._errors import OnnxError


class GraphChain(Chain):
    """The ``Chain`` the importers see, positioned at one node's input; the symbolic tensor of
    every value name so far."""

    def __init__(self, consts, shape, opset, model_dir, input_name: str, uses: Counter):
        super().__init__(consts, shape, opset, model_dir)
        from ..functional import Input

        self.input = Input(shape)
        self.values = {input_name: self.input}  # ONNX value name -> SymbolicTensor
        self.uses = uses  # ONNX value name -> nodes (and graph outputs) reading it
        self.readers: Counter = Counter({id(self.input): uses[input_name]})
        self.made_by: dict[int, tuple[L.Layer, list[np.ndarray]]] = {}
        self.current = self.input

    def at(self, tensor) -> None:
        self.current, self.shape = tensor, tensor.per_sample

    def call(self, node: Node, layer: L.Layer, inputs, weights=()) -> None:
        """``layer`` called on ``inputs`` (one tensor or a list); the result becomes current."""
        try:
            out = layer(inputs)
        except ValueError as e:
            raise node.error(str(e)) from None
        self.layers.append(layer)
        self.weights.append([np.ascontiguousarray(w, dtype=np.float32) for w in weights])
        self.made_by[id(out)] = (layer, self.weights[-1])
        self.at(out)

    def append(self, node: Node, layer: L.Layer, weights=()) -> None:
        self.call(node, layer, self.current, weights)

    def last_weighted(self, classes):
        """The layer that makes the current value, if one of ``classes`` without an activation,
        and the node being imported is the value's only reader."""
        made = self.made_by.get(id(self.current))
        if made is None or self.readers[id(self.current)] != 1:
            return None
        layer, weights = made
        if type(layer) in classes and layer.activation is None:
            return layer, weights
        return None

    def name_output(self, name: str, reads_passed_through: int) -> None:
        """Maps the node's output ``name`` to the current tensor. A node that made no layer (an
        Identity, a folded bias) passed its input through: its own read no longer counts."""
        tensor = self.current
        if name in self.values:
            raise OnnxError(f"pc.onnx.load: value {name!r} is written by two nodes")
        self.values[name] = tensor
        self.readers[id(tensor)] += self.uses[name] - reads_passed_through


def _merge(chain: GraphChain, node: Node, dynamic: list[str]) -> None:
    tensors = [chain.values[n] for n in dynamic]
    if node.op_type == "Add":
        node.attributes()
        chain.call(node, L.Add(), tensors)
        return
    axis = node.attributes(axis=None)["axis"]
    rank = len(tensors[0].per_sample) + 1
    if axis is None:
        raise node.error("attribute 'axis' is required")
    axis = axis + rank if axis < 0 else axis
    if not 1 <= axis < rank:
        raise node.error(f"attribute 'axis' = {axis}: only axes after the batch (1..{rank - 1})")
    chain.call(node, L.Concatenate(axis=axis - 1), tensors)


def import_node(chain: GraphChain, node: Node) -> None:
    """Imports one node (not a Constant) at the value(s) it reads."""
    if node.domain not in ("", "ai.onnx"):
        raise node.error(f"domain {node.domain!r} is not supported (only the default ai.onnx)")
    if node.op_type not in IMPORTERS and node.op_type != "Concat":
        raise node.error(
            f"op {node.op_type!r} is not supported (supported: "
            f"{', '.join(sorted([*IMPORTERS, 'Concat']))})"
        )
    if not node.outputs or not node.outputs[0]:
        raise node.error("has no output")
    dynamic = [n for n in node.inputs if n and n not in chain.consts]
    unknown = [n for n in dynamic if n not in chain.values]
    if unknown:
        raise node.error(f"reads {unknown[0]!r}, which no earlier node writes (nodes must be in "
                         "topological order, as ONNX requires)")  # fmt: skip
    for i, extra in enumerate(node.outputs[1:], start=1):
        if extra and chain.uses[extra] and node.op_type != "Constant":
            raise node.error(f"output {i} ({extra!r}) is used; only the first is supported")
    made = len(chain.layers)
    merge = len(dynamic) > 1 or node.op_type == "Concat"
    if merge and (node.op_type not in ("Add", "Concat") or not dynamic):
        raise node.error(f"reads {len(dynamic)} computed values; only Add and Concat may")
    if not dynamic:
        raise node.error("reads only constants (constant folding is not supported)")
    try:
        if merge:
            _merge(chain, node, dynamic)
        else:
            chain.at(chain.values[dynamic[0]])
            IMPORTERS[node.op_type](chain, node)
    except OnnxError:
        raise
    except (ValueError, TypeError, ArithmeticError) as e:  # a layer refused the values
        raise node.error(str(e)) from None
    chain.name_output(node.outputs[0], 0 if len(chain.layers) > made else 1)


def to_model(chain: GraphChain, output_name: str, name: str):
    """The functional ``pc.Model`` of the imported graph, with the file's weights."""
    from ..functional import Model

    output = chain.values.get(output_name)
    if output is None:
        raise OnnxError(f"pc.onnx.load: the graph output {output_name!r} is not computed")
    if output is chain.input:
        raise OnnxError("pc.onnx.load: the graph's output is its input (no op to run)")
    try:
        model = Model(chain.input, output, name=name or "onnx_model")
        for layer, weights in zip(chain.layers, chain.weights):
            layer.set_weights(weights)
    except (ValueError, TypeError) as e:
        raise OnnxError(f"pc.onnx.load: the layers do not fit together: {e}") from None
    return model
