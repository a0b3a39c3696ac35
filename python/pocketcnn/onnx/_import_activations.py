"""``pc.onnx.load`` of the activations after Relu / Sigmoid / Tanh: LeakyRelu, Elu, Softplus,
HardSigmoid (relu6(x + 3) / 6 only) and Gelu (opset 20, the exact form). A LeakyRelu / Elu with
the Keras activation's parameter (0.2 / 1.0) becomes the Conv2D / Dense layer's ``activation``;
other parameters a LeakyReLU / ELU layer."""

from __future__ import annotations

import numpy as np

from .. import layers as L
from ._chain import Chain, Node, importer


def _same_float32(a: float, b: float) -> bool:
    return bool(np.float32(a) == np.float32(b))


@importer("LeakyRelu")
def _leaky_relu(chain: Chain, node: Node) -> None:
    alpha = node.attributes(alpha=0.01)["alpha"]  # ONNX's default, as PyTorch's
    if _same_float32(alpha, 0.2):
        chain.activation(node, "leaky_relu")
    else:
        chain.append(node, L.LeakyReLU(negative_slope=alpha))


@importer("Elu")
def _elu(chain: Chain, node: Node) -> None:
    alpha = node.attributes(alpha=1.0)["alpha"]
    if _same_float32(alpha, 1.0):
        chain.activation(node, "elu")
    else:
        chain.append(node, L.ELU(alpha=alpha))


@importer("Softplus")
def _softplus(chain: Chain, node: Node) -> None:
    node.attributes()
    chain.activation(node, "softplus")


@importer("HardSigmoid")
def _hard_sigmoid(chain: Chain, node: Node) -> None:
    """max(0, min(1, alpha x + beta)): pocketcnn's hard_sigmoid is alpha = 1/6, beta = 0.5."""
    a = node.attributes(alpha=0.2, beta=0.5)
    if abs(a["alpha"] - 1.0 / 6.0) > 1e-6 or a["beta"] != 0.5:
        raise node.error(
            f"attributes alpha = {a['alpha']}, beta = {a['beta']}: only alpha = 1/6, beta = 0.5 "
            "(relu6(x + 3) / 6, Keras 3's and PyTorch's hard sigmoid) is supported; the defaults "
            "0.2 / 0.5 are Keras 2's"
        )
    chain.activation(node, "hard_sigmoid")


@importer("Gelu")
def _gelu(chain: Chain, node: Node) -> None:
    approximate = node.attributes(approximate="none")["approximate"]
    if approximate != "none":
        raise node.error(
            f"attribute 'approximate' = {approximate!r} is not supported (only 'none', the exact "
            "form that activation='gelu' computes)"
        )
    chain.activation(node, "gelu")
