"""Graph (non-sequential) networks of the suite, as data every library's builder reads: a list
of nodes ``(name, op, inputs, *params)`` in topological order; the input is ``"x"``.

    ("name", "conv", [input], filters, kernel, stride, padding)   # no bias (a BN follows)
    ("name", "bn", [input])                                      # eps BN_EPS, inference form
    ("name", "relu", [input])
    ("name", "add", [a, b])
    ("name", "gap", [input])                                     # global average pool -> (C,)
    ("name", "dense", [input], units)                            # with bias; the last: logits

The small ResNet is examples/small_resnet.py's (a conv-BN-ReLU stem, residual stages of 16, 32 and
64 channels, the second and third starting with a stride-2 block whose shortcut is a 1x1 conv +
BN, global average pooling, dense 10), with logits instead of its softmax;
suite_pocketcnn.py checks its parameter count against the example's.
"""

from __future__ import annotations

import numpy as np

BN_EPS = 1e-3  # pocketcnn's (Keras') default; the PyTorch builder passes it explicitly


def small_resnet_nodes(widths=(16, 32, 64)) -> tuple[tuple, ...]:
    nodes: list[tuple] = []

    def conv_bn(name, x, filters, kernel, stride, relu):
        nodes.append((name, "conv", [x], filters, kernel, stride, kernel // 2))
        nodes.append((f"{name}_bn", "bn", [name]))
        if not relu:
            return f"{name}_bn"
        nodes.append((f"{name}_relu", "relu", [f"{name}_bn"]))
        return f"{name}_relu"

    x, channels = conv_bn("stem", "x", widths[0], 3, 1, True), widths[0]
    for stage, filters in enumerate(widths):
        stride, b = 1 if stage == 0 else 2, f"b{stage}"
        y = conv_bn(f"{b}_conv1", x, filters, 3, stride, True)
        y = conv_bn(f"{b}_conv2", y, filters, 3, 1, False)
        shortcut = x
        if stride != 1 or channels != filters:
            shortcut = conv_bn(f"{b}_proj", x, filters, 1, stride, False)
        nodes.append((f"{b}_add", "add", [shortcut, y]))
        nodes.append((f"{b}_out", "relu", [f"{b}_add"]))
        x, channels = f"{b}_out", filters
    nodes.append(("gap", "gap", [x]))
    nodes.append(("fc", "dense", ["gap"], 10))
    return tuple(nodes)


def graph_shapes(input_shape, nodes) -> dict[str, tuple[int, ...]]:
    """Per-sample output shape of every node (and of "x")."""
    shapes: dict[str, tuple[int, ...]] = {"x": tuple(input_shape)}
    for name, op, inputs, *p in nodes:
        s = shapes[inputs[0]]
        if op == "conv":
            filters, k, stride, pad = p
            s = (filters, (s[1] + 2 * pad - k) // stride + 1, (s[2] + 2 * pad - k) // stride + 1)
        elif op == "gap":
            s = (s[0],)
        elif op == "dense":
            s = (p[0],)
        shapes[name] = s
    return shapes


def graph_forward_flops(input_shape, nodes) -> int:
    """Multiply-adds x 2 of the convs and the dense layer for one image."""
    shapes, flops = graph_shapes(input_shape, nodes), 0
    for name, op, inputs, *p in nodes:
        if op == "conv":
            flops += 2 * int(np.prod(shapes[name])) * shapes[inputs[0]][0] * p[1] ** 2
        elif op == "dense":
            flops += 2 * p[0] * shapes[inputs[0]][0]
    return flops


def graph_weights(input_shape, nodes, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """name -> arrays in PyTorch layouts: conv [kernel (K, C, R, S)] (He-normal), bn [gamma,
    beta, moving mean, moving var] (away from 1 / 0, so folding them is real work), dense
    [kernel (out, in), bias]."""
    rng, shapes, out = np.random.default_rng(seed), graph_shapes(input_shape, nodes), {}
    for name, op, inputs, *p in nodes:
        c = shapes[inputs[0]][0]
        if op == "conv":
            fan_in = c * p[1] ** 2
            kernel = rng.standard_normal((p[0], c, p[1], p[1])) * np.sqrt(2.0 / fan_in)
            out[name] = [kernel.astype(np.float32)]
        elif op == "bn":
            out[name] = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c),
                         rng.normal(0, 0.1, c), rng.uniform(0.5, 1.5, c)]  # fmt: skip
            out[name] = [a.astype(np.float32) for a in out[name]]
        elif op == "dense":
            kernel = rng.standard_normal((p[0], c)) * np.sqrt(2.0 / (c + p[0]))
            out[name] = [kernel.astype(np.float32), (rng.standard_normal(p[0]) * 0.01).astype(
                np.float32)]  # fmt: skip
    return out
