"""ONNX export of the activations beyond one op: silu (Sigmoid, Mul), gelu (Gelu from opset 20,
its Erf decomposition before), and the LeakyReLU / ELU layers (their own slope / alpha)."""

from __future__ import annotations

import math

import numpy as np

from ._export import COMPOSITE_ACTIVATIONS, GraphBuilder, exporter

GELU_OPSET = 20  # Gelu joined the default domain in opset 20


def _scalar(graph: GraphBuilder, base: str, value: float) -> str:
    return graph.constant(base, np.array(value, dtype=np.float32))


def silu_nodes(graph: GraphBuilder, x: str, base: str) -> str:
    """x * Sigmoid(x)."""
    s = graph.node("Sigmoid", [x], f"{base}/sigmoid")
    return graph.node("Mul", [x, s], base)


def gelu_nodes(graph: GraphBuilder, x: str, base: str) -> str:
    """Gelu (exact) from opset 20; before it 0.5 * x * (1 + Erf(x / sqrt 2))."""
    if graph.opset >= GELU_OPSET:
        return graph.node("Gelu", [x], base, approximate="none")
    scaled = graph.node("Mul", [x, _scalar(graph, f"{base}/inv_sqrt2", 1 / math.sqrt(2))],
                        f"{base}/scaled")  # fmt: skip
    erf = graph.node("Erf", [scaled], f"{base}/erf")
    one_plus = graph.node("Add", [erf, _scalar(graph, f"{base}/one", 1.0)], f"{base}/one_plus")
    half_x = graph.node("Mul", [x, _scalar(graph, f"{base}/half", 0.5)], f"{base}/half_x")
    return graph.node("Mul", [half_x, one_plus], base)


COMPOSITE_ACTIVATIONS["silu"] = silu_nodes
COMPOSITE_ACTIVATIONS["gelu"] = gelu_nodes


@exporter("LeakyReLU")
def _leaky_relu(graph, layer, x):
    return graph.node("LeakyRelu", [x], layer.name, alpha=float(layer.negative_slope))


@exporter("ELU")
def _elu(graph, layer, x):
    return graph.node("Elu", [x], layer.name, alpha=float(layer.alpha))
