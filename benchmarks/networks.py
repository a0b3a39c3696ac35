"""The benchmark suite's networks, each defined once, as data every library's builder reads.

A network is an input shape (C, H, W), a training batch size and a list of layers:

    ("conv", filters, kernel, stride, padding, activation)   # square kernel; padding in pixels
    ("maxpool", kernel, stride, padding)
    ("avgpool", kernel, stride, padding)                      # padded zeros count (PyTorch default)
    ("flatten",)
    ("dense", units, activation)

activation is None, "relu", "tanh" or "sigmoid". Padding is explicit (PyTorch style) so that
every library pads the same way, also for stride 2 where Keras' 'same' pads asymmetrically.
The last layer gives 10 logits; the training loss is cross-entropy on them (no dropout anywhere,
so training does the same work in every library).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from graph_networks import graph_forward_flops, small_resnet_nodes


@dataclass(frozen=True)
class Network:
    name: str
    input_shape: tuple[int, int, int]
    train_batch: int
    layers: tuple[tuple, ...]
    about: str
    graph: tuple[tuple, ...] = ()  # instead of layers: graph_networks.py's nodes


def _lecture(act1, act2) -> tuple[tuple, ...]:
    return (
        ("conv", 25, 3, 1, 0, act1),
        ("maxpool", 2, 2, 0),
        ("conv", 50, 3, 1, 0, act2),
        ("maxpool", 2, 2, 0),
        ("flatten",),
        ("dense", 100, act2),
        ("dense", 10, None),
    )


def _colour(kernel: int) -> tuple[tuple, ...]:
    """Two kxk 'same' convs with max pooling on 3x32x32."""
    return (
        ("conv", 32, kernel, 1, kernel // 2, "relu"),
        ("maxpool", 2, 2, 0),
        ("conv", 64, kernel, 1, kernel // 2, "relu"),
        ("maxpool", 2, 2, 0),
        ("flatten",),
        ("dense", 10, None),
    )


NETWORKS = [
    Network("lecture", (1, 28, 28), 64, _lecture(None, "relu"), "the lecture network"),
    Network(
        "lenet5",
        (1, 28, 28),
        64,
        (
            ("conv", 6, 5, 1, 2, "tanh"),
            ("avgpool", 2, 2, 0),
            ("conv", 16, 5, 1, 0, "tanh"),
            ("avgpool", 2, 2, 0),
            ("flatten",),
            ("dense", 120, "tanh"),
            ("dense", 84, "tanh"),
            ("dense", 10, None),
        ),
        "LeNet-5: 5x5 convs, average pooling, tanh",
    ),
    Network(
        "keras_cifar10",
        (3, 32, 32),
        128,
        (
            ("conv", 32, 3, 1, 1, "relu"),
            ("conv", 32, 3, 1, 1, "relu"),
            ("maxpool", 2, 2, 0),
            ("conv", 64, 3, 1, 1, "relu"),
            ("conv", 64, 3, 1, 1, "relu"),
            ("maxpool", 2, 2, 0),
            ("flatten",),
            ("dense", 512, "relu"),
            ("dense", 10, None),
        ),
        "the Keras CIFAR-10 example's shape: 3x3 'same' pairs, max pooling, dense 512",
    ),
    Network(
        "allconv_s2",
        (3, 32, 32),
        128,
        (
            ("conv", 32, 3, 2, 1, "relu"),
            ("conv", 64, 3, 2, 1, "relu"),
            ("conv", 128, 3, 2, 1, "relu"),
            ("flatten",),
            ("dense", 10, None),
        ),
        "all-convolutional: 3x3 stride-2 convs, no pooling",
    ),
    Network("conv5x5_rgb", (3, 32, 32), 128, _colour(5), "5x5 convs on 3x32x32, max pooling"),
    Network("conv7x7_rgb", (3, 32, 32), 128, _colour(7), "7x7 convs on 3x32x32, max pooling"),
    Network(
        "conv1x1",
        (3, 32, 32),
        128,
        (
            ("conv", 32, 3, 1, 1, "relu"),
            ("maxpool", 2, 2, 0),
            ("conv", 64, 1, 1, 0, "relu"),
            ("conv", 64, 1, 1, 0, "relu"),
            ("maxpool", 2, 2, 0),
            ("conv", 16, 1, 1, 0, "relu"),
            ("flatten",),
            ("dense", 10, None),
        ),
        "1x1 convs (network-in-network style) after a 3x3 conv",
    ),
    Network("sigmoid", (1, 28, 28), 64, _lecture("sigmoid", "sigmoid"), "lecture, sigmoid"),
    Network("tanh", (1, 28, 28), 64, _lecture("tanh", "tanh"), "lecture, tanh"),
    Network(
        "stem_s2pool",
        (3, 64, 64),
        64,
        (
            ("conv", 32, 7, 2, 3, "relu"),
            ("maxpool", 3, 2, 1),
            ("conv", 64, 3, 1, 1, "relu"),
            ("maxpool", 3, 2, 1),
            ("flatten",),
            ("dense", 10, None),
        ),
        "ResNet/AlexNet stem: 7x7 stride-2 conv, 3x3 stride-2 max pooling (padding 1)",
    ),
]
NETWORKS.append(
    Network(
        "small_resnet",
        (1, 28, 28),
        64,
        (),
        "examples/small_resnet.py: BatchNorm, residual blocks (Add + ReLU), global avg pool",
        graph=small_resnet_nodes(),
    )
)
BY_NAME = {n.name: n for n in NETWORKS}


def shapes(net: Network) -> list[tuple[int, ...]]:
    """The per-sample output shape of every layer (PyTorch's floor rule for conv and pooling)."""
    shape: tuple[int, ...] = net.input_shape
    out = []
    for layer in net.layers:
        kind = layer[0]
        if kind in ("conv", "maxpool", "avgpool"):
            c, h, w = shape
            k, s, p = (layer[2], layer[3], layer[4]) if kind == "conv" else layer[1:4]
            c = layer[1] if kind == "conv" else c
            shape = (c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
        elif kind == "dense":
            shape = (layer[1],)
        else:
            raise ValueError(f"{net.name}: unknown layer {layer!r}")
        out.append(shape)
    return out


def forward_flops(net: Network) -> int:
    """Multiply-adds x 2 of the convs and dense layers for one image."""
    if net.graph:
        return graph_forward_flops(net.input_shape, net.graph)
    flops, shape = 0, net.input_shape
    for layer, out in zip(net.layers, shapes(net)):
        if layer[0] == "conv":
            flops += 2 * int(np.prod(out)) * shape[0] * layer[2] ** 2
        elif layer[0] == "dense":
            flops += 2 * out[0] * shape[0]
        shape = out
    return flops


def train_flops(net: Network) -> int:
    """Forward, weight gradients of every layer, input gradients of every layer but the first
    (nobody needs d loss / d image); pooling, activations, the loss and the update not counted."""
    if net.graph:  # the stem conv needs no input gradient
        stem = net.graph[:1]
        return 3 * forward_flops(net) - graph_forward_flops(net.input_shape, stem)
    first = next(i for i, spec in enumerate(net.layers) if spec[0] in ("conv", "dense"))
    first_layer = Network(net.name, net.input_shape, 1, net.layers[: first + 1], "")
    return 3 * forward_flops(net) - forward_flops(first_layer)


def weights(net: Network, seed: int = 0) -> list[np.ndarray]:
    """[kernel, bias] per conv / dense layer in PyTorch layouts (conv (K, C, R, S), dense
    (out, in)): Glorot-normal kernels (He-normal before a ReLU), small nonzero biases."""
    rng = np.random.default_rng(seed)
    arrays, shape = [], net.input_shape
    for layer, out in zip(net.layers, shapes(net)):
        if layer[0] in ("conv", "dense"):
            if layer[0] == "conv":
                kshape = (layer[1], shape[0], layer[2], layer[2])
                fan_in, fan_out = shape[0] * layer[2] ** 2, layer[1] * layer[2] ** 2
            else:
                kshape, fan_in, fan_out = (out[0], shape[0]), shape[0], out[0]
            act = layer[-1]
            std = np.sqrt(2.0 / fan_in) if act == "relu" else np.sqrt(2.0 / (fan_in + fan_out))
            arrays.append((rng.standard_normal(kshape) * std).astype(np.float32))
            arrays.append((rng.standard_normal(kshape[0]) * 0.01).astype(np.float32))
        shape = out
    return arrays


def batch(net: Network, n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, C, H, W) in [0, 1) and labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *net.input_shape), dtype=np.float32)
    return x, rng.integers(0, 10, n).astype(np.int64)


CHECK_BATCH = 4  # images whose logits every library reports, compared with pocketcnn's
