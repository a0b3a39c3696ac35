"""The machinery of ``pc.onnx.load``: ``Node`` (a NodeProto with checked attributes), ``Chain``
(the layers built so far) and the ``IMPORTERS`` table that ``_import_ops`` fills.

One entry per ONNX op (``@importer("Conv")``): a function of the ``Chain`` being built and the
node, which appends layers (``chain.append``), turns the current value into an activation
(``chain.activation``) or folds constants into the layer before it. Each function reads its
attributes with ``node.attributes(name=default, ...)``, which refuses any attribute it does not
list, so an unsupported attribute is an error naming node, op and attribute, never ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from .. import layers as L
from . import _proto
from ._errors import OnnxError
from ._tensors import to_array


class Node:
    """A NodeProto with its attributes decoded, for error messages and attribute checks."""

    def __init__(self, index: int, proto: dict, chain: Chain):
        self.op_type = proto.get("op_type", "")
        self.name = proto.get("name", "") or f"#{index}"
        self.inputs = list(proto["input"])
        self.outputs = list(proto["output"])
        self.domain = proto.get("domain", "")
        self.silu = bool(proto.get("_pocketcnn_silu"))  # _import_patterns: Mul(x, Sigmoid(x))
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

    def append(self, node: Node, layer: L.Layer, weights: Sequence[np.ndarray] = ()) -> None:
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
