"""The ONNX ops ``pc.onnx.load`` understands, one ``@importer`` function each (see ``_chain``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import layers as L
from ._chain import Chain, Node, importer


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
    groups = a["group"]
    if not isinstance(groups, int) or groups < 1 or k % groups:
        raise node.error(f"attribute 'group' = {groups} must be >= 1 and divide {k} filters")
    dilations = a["dilations"] or [1, 1]
    if len(dilations) != 2 or min(dilations) < 1:
        raise node.error(f"attribute 'dilations' = {a['dilations']} must be 2 values >= 1")
    if a["kernel_shape"] not in (None, [r, s]):
        raise node.error(f"attribute 'kernel_shape' {a['kernel_shape']} != weight {w.shape}")
    if c * groups != chain.shape[0]:
        raise node.error(
            f"attribute 'group' = {groups}: weight {w.shape} expects {c * groups} channels, the "
            f"input has {chain.shape[0]}"
        )
    if b is not None and b.shape != (k,):
        raise node.error(f"bias of shape {b.shape}, expected ({k},)")
    strides = a["strides"] or [1, 1]
    top, left, bottom, right = _explicit_pads(node, a, (r, s), strides, chain.shape)
    padding: Any = (top, left)
    if (top, left) != (bottom, right):
        same = L.Conv2D(k, (r, s), strides, "same", dilation_rate=dilations)._pads(*chain.shape[1:])
        if same != (top, bottom, left, right):
            raise node.error(
                f"attribute 'pads' {[top, left, bottom, right]}: asymmetric pads "
                "other than 'same' padding are not supported"
            )
        padding = "same"
    layer = L.Conv2D(k, (r, s), strides=strides, padding=padding, use_bias=b is not None,
                     dilation_rate=dilations, groups=groups)  # fmt: skip
    chain.append(node, layer, [w] if b is None else [w, b])


def _keras_same(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of Keras' padding='same' along one axis."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pool_options(a) -> dict:
    return {"count_include_pad": bool(a["count_include_pad"])} if "count_include_pad" in a else {}


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
    same = [_keras_same(size, k, st) for size, k, st in zip(chain.shape[1:], kernel, strides)]
    keras_same = (top, left, bottom, right) == (same[0][0], same[1][0], same[0][1], same[1][1])
    if (top, left) != (bottom, right) and keras_same and not a["ceil_mode"]:
        try:  # the odd row / column at the bottom / right: Keras' padding='same'
            chain.append(node, layer_class(kernel, strides, "same", **_pool_options(a)))
        except (TypeError, ValueError) as e:
            raise node.error(str(e)) from None
        return
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
    try:
        layer = layer_class(kernel, strides, (top, left), **_pool_options(a))
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


@importer("Pad")
def _pad(chain, node):
    """Zero padding of H and W only: a ZeroPadding2D."""
    _expect_image(node, chain)
    mode = node.attributes(mode="constant")["mode"]
    if mode not in ("constant", b"constant"):
        raise node.error(f"attribute 'mode' = {mode!r}: only constant (zero) padding is supported")
    pads = [int(v) for v in node.constant(1, "pads").reshape(-1)]
    value = node.optional_constant(2, "constant_value")
    if value is not None and np.any(value != 0):
        raise node.error("only zero padding is supported")
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
        raise node.error(f"pads {pads}: only non-negative padding of H and W is supported")
    chain.append(node, L.ZeroPadding2D(((pads[2], pads[6]), (pads[3], pads[7]))))


@importer("Flatten")
def _flatten(chain, node):
    axis = node.attributes(axis=1)["axis"]
    rank = len(chain.shape) + 1
    if axis not in (1, 1 - rank):
        raise node.error(f"attribute 'axis' = {axis}: only flattening from axis 1 is supported")
    chain.append(node, L.Flatten())


def _reshaped(node: Node, rest: list[int], shape: tuple[int, ...], allowzero: int) -> list[int]:
    """The per-sample shape ``rest`` (the target after the batch entry) stands for."""
    rest = [shape[i] if d == 0 and not allowzero and i < len(shape) else d
            for i, d in enumerate(rest)]  # fmt: skip
    if rest.count(-1) > 1 or any(d < -1 for d in rest):
        raise node.error(f"shape {rest}: at most one -1 and no other negative size")
    if -1 in rest:
        known = math.prod(d for d in rest if d != -1)
        if known == 0 or math.prod(shape) % known:
            raise node.error(f"cannot reshape {shape} features to {rest}")
        rest[rest.index(-1)] = math.prod(shape) // known
    return rest


@importer("Reshape")
def _reshape(chain, node):
    """Reshapes that keep the batch: to (batch, features) (a Flatten) or to the same shape. A
    leading 1 counts as the batch: exporters tracing at batch 1 write it."""
    allowzero = node.attributes(allowzero=0)["allowzero"]
    target = [int(v) for v in node.constant(1, "shape").reshape(-1)]
    if len(target) < 2:
        raise node.error(f"reshape to {target} is not supported (only to (batch, features))")
    if target[0] == -1 and -1 not in target[1:]:
        rest = _reshaped(node, target[1:], chain.shape, allowzero)
        batch_kept = math.prod(rest) == math.prod(chain.shape)
    else:
        batch_kept = target[0] == 1 or (target[0] == 0 and not allowzero)
        rest = _reshaped(node, target[1:], chain.shape, allowzero)
    if batch_kept and len(rest) == 1 and rest[0] == math.prod(chain.shape):
        chain.append(node, L.Flatten())
    elif (
        batch_kept
        and tuple(rest) != tuple(chain.shape)
        and math.prod(rest) == math.prod(chain.shape)
    ):
        chain.append(node, L.Reshape(tuple(rest)))
    elif not (batch_kept and tuple(rest) == tuple(chain.shape)):
        raise node.error(
            f"reshape of {chain.shape} to {target} is not supported (only to (batch, features))"
        )


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


@importer("BatchNormalization")
def _batch_norm(chain, node):
    """Inference-form batch norm folded into the Conv / Gemm before it: W * g, (b - mean) * g +
    beta with g = scale / sqrt(var + eps), exact up to float rounding."""
    a = node.attributes(epsilon=1e-5, momentum=0.9, training_mode=0, spatial=1)
    if a["training_mode"]:
        raise node.error("attribute 'training_mode' = 1 is not supported (inference only)")
    if a["spatial"] != 1:
        raise node.error("attribute 'spatial' = 0 is not supported")
    if len([o for o in node.outputs if o]) > 1:
        raise node.error("the running-statistics outputs (training mode) are not supported")
    last = chain.last_weighted((L.Conv2D, L.Dense))
    if last is None:  # anywhere else: a BatchNormalization layer (ONNX's momentum is Keras')
        stats = [node.constant(i, what).reshape(-1) for i, what in
                 enumerate(["scale", "B", "mean", "var"], start=1)]  # fmt: skip
        channels = chain.shape[0] if chain.shape else 0
        if any(v.shape != (channels,) for v in stats):
            raise node.error(f"scale, B, mean and var must all have shape ({channels},)")
        layer = L.BatchNormalization(epsilon=a["epsilon"], momentum=a["momentum"])
        chain.append(node, layer, stats)
        return
    layer, weights = last
    units = layer.filters if isinstance(layer, L.Conv2D) else layer.units
    scale, beta, mean, var = (
        node.constant(i, what).astype(np.float64).reshape(-1)
        for i, what in enumerate(["scale", "B", "mean", "var"], start=1)
    )
    if any(v.shape != (units,) for v in (scale, beta, mean, var)):
        raise node.error(f"scale, B, mean and var must all have shape ({units},)")
    if np.any(var + a["epsilon"] <= 0):
        raise node.error("var + epsilon must be positive")
    g = scale / np.sqrt(var + a["epsilon"])
    kernel = weights[0].astype(np.float64)
    weights[0] = (kernel * g.reshape(-1, *[1] * (kernel.ndim - 1))).astype(np.float32)
    bias = weights[1].astype(np.float64) if layer.use_bias else np.zeros(units)
    folded = ((bias - mean) * g + beta).astype(np.float32)
    if layer.use_bias:
        weights[1] = folded
    else:
        layer.use_bias = True
        weights.append(folded)


from . import _import_activations  # noqa: E402, F401  (LeakyRelu, Elu, Softplus, ...: IMPORTERS)
