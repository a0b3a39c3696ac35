"""Convolution, pooling, flatten and dense ops (PyTorch names, NCHW).

The wrappers turn PyTorch/Keras-style arguments (an int or an ``(h, w)`` pair, ``'same'`` /
``'valid'``, ``stride=None``) into the explicit values the C++ core takes; the core checks them
again and computes forward and backward with its fast kernels (chosen per ISA at import; the
reference kernels are only the tests' oracle).
"""

from __future__ import annotations

from .. import _checks, _core
from ._args import as_tensor, optional_tensor, pair

_INT64_MAX = 2**63 - 1


def _pair(value, op: str, arg: str, minimum: int, x: _core.Tensor) -> tuple[int, int]:
    """``pair()`` whose ValueError also names the input's shape (the shape usually explains it)."""
    try:
        h, w = pair(value, f"{op}: {arg}", minimum=minimum)
    except ValueError as e:
        raise ValueError(f"{e} (input shape {tuple(x.shape)})") from None
    if max(h, w) > _INT64_MAX:  # would not even reach the core's own checks
        raise ValueError(f"{op}: {arg} {value!r} is too large (input shape {tuple(x.shape)})")
    return h, w


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow/Keras 'same' padding along one axis: (before, after).

    The output has ceil(size / stride) positions; the total padding is whatever that needs, split
    evenly with the odd one at the end (bottom/right). With stride 1 and an odd kernel this is the
    symmetric (kernel - 1) / 2 that PyTorch's padding='same' uses.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> _core.Tensor:
    """2-D convolution (cross-correlation, as in PyTorch and Keras) of a batch of images.

    Args:
        input: (N, C, H, W) Tensor or array.
        weight: (K, C, R, S) filters: K output channels, R x S kernels.
        bias: (K,) or None.
        stride: int or (stride_h, stride_w), each >= 1.
        padding: int or (pad_h, pad_w) zeros added on both sides; ``'valid'`` (= 0); or
            ``'same'``: for stride 1 the output keeps H x W, in general it has
            ceil(H / stride) x ceil(W / stride) positions (TensorFlow/Keras semantics; an even
            kernel or a stride may pad one more at the bottom/right).

    Returns:
        (N, K, P, Q) with P = (H + pad_top + pad_bottom - R) // stride_h + 1, Q likewise.
    """
    x = as_tensor(input, "conv2d: input")
    w = as_tensor(weight, "conv2d: weight")
    b = optional_tensor(bias, "conv2d: bias")
    sh, sw = _pair(stride, "conv2d", "stride", 1, x)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            top = bottom = left = right = 0
        elif mode == "same":
            if len(x.shape) != 4 or len(w.shape) != 4:  # let the core name the bad shape
                top = bottom = left = right = 0
            else:
                dh, dw = _pair(dilation, "conv2d", "dilation", 1, x)
                top, bottom = _same_padding(x.shape[2], (w.shape[2] - 1) * dh + 1, sh)
                left, right = _same_padding(x.shape[3], (w.shape[3] - 1) * dw + 1, sw)
        else:
            raise ValueError(
                f"conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
            )
    else:
        top, left = _pair(padding, "conv2d", "padding", 0, x)
        bottom, right = top, left
    dh, dw = _pair(dilation, "conv2d", "dilation", 1, x)
    groups = _checks.integer(groups, "conv2d: groups", minimum=1)
    if (dh, dw) != (1, 1) or groups != 1:
        return _core.conv2d_grouped(x, w, b, sh, sw, top, left, bottom, right, dh, dw, groups)
    return _core.conv2d(x, w, b, sh, sw, top, left, bottom, right)


def _pool_args(op: str, x: _core.Tensor, kernel_size, stride, padding) -> tuple[int, ...]:
    """(kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, extra_h, extra_w) for the core:
    'same' pads as TensorFlow/Keras do, the odd row/column at the bottom/right (``extra``)."""
    kh, kw = _pair(kernel_size, op, "kernel_size", 1, x)
    sh, sw = (kh, kw) if stride is None else _pair(stride, op, "stride", 1, x)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return kh, kw, sh, sw, 0, 0, 0, 0
        if mode != "same":
            raise ValueError(
                f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
            )
        if len(x.shape) != 4:  # let the core name the bad shape
            return kh, kw, sh, sw, 0, 0, 0, 0
        top, bottom = _same_padding(x.shape[2], kh, sh)
        left, right = _same_padding(x.shape[3], kw, sw)
        return kh, kw, sh, sw, top, left, bottom - top, right - left
    ph, pw = _pair(padding, op, "padding", 0, x)
    return kh, kw, sh, sw, ph, pw, 0, 0


def max_pool2d(input, kernel_size, stride=None, padding=0) -> _core.Tensor:
    """Maximum over each kernel_size window of (N, C, H, W) -> (N, C, P, Q).

    kernel_size, stride, padding: an int or an (h, w) pair; stride None means kernel_size
    (non-overlapping windows, Keras' MaxPooling2D default). Padding counts as -inf and may be at
    most half the kernel; ``'same'`` gives ceil(H / stride) x ceil(W / stride) outputs, padded as
    Keras does (an odd total padding puts the extra row/column at the bottom/right).
    P = (H + 2 pad_h - kernel_h) // stride_h + 1, Q likewise. The gradient
    goes to the first maximum of each window; a NaN in a window makes its output NaN.
    """
    x = as_tensor(input, "max_pool2d: input")
    kh, kw, sh, sw, ph, pw, eh, ew = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    return _core.max_pool2d(x, kh, kw, sh, sw, ph, pw, eh, ew)


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, count_include_pad: bool = True
) -> _core.Tensor:
    """Mean over each kernel_size window of (N, C, H, W) -> (N, C, P, Q).

    Arguments as for ``max_pool2d``; padding adds zeros. count_include_pad=True (PyTorch's
    default) divides by the full window size, False by the number of real input elements in the
    window (what Keras' AveragePooling2D(padding='same') does at the borders).
    """
    x = as_tensor(input, "avg_pool2d: input")
    if not isinstance(count_include_pad, bool):
        raise TypeError(f"avg_pool2d: count_include_pad must be a bool, got {count_include_pad!r}")
    kh, kw, sh, sw, ph, pw, eh, ew = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    return _core.avg_pool2d(x, kh, kw, sh, sw, ph, pw, count_include_pad, eh, ew)


def zero_pad2d(input, padding) -> _core.Tensor:
    """Zeros around each (H, W) plane of (N, C, H, W), as Keras' ZeroPadding2D.

    padding: an int (all sides), ``(pad_h, pad_w)`` (top = bottom, left = right) or
    ``((top, bottom), (left, right))``; each >= 0.
    """
    x = as_tensor(input, "zero_pad2d: input")
    top, bottom, left, right = zero_padding_sides(padding, "zero_pad2d: padding")
    return _core.zero_pad2d(x, top, bottom, left, right)


def zero_padding_sides(padding, what: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from Keras' ZeroPadding2D forms."""
    if (
        isinstance(padding, (tuple, list))
        and len(padding) == 2
        and all(isinstance(p, (tuple, list)) for p in padding)
    ):
        top, bottom = _checks.int_pair(padding[0], what, minimum=0)
        left, right = _checks.int_pair(padding[1], what, minimum=0)
        return top, bottom, left, right
    h, w = _checks.int_pair(padding, what, minimum=0)
    return h, h, w, w


def flatten(input, start_dim: int = 1) -> _core.Tensor:
    """Merges the dims from start_dim on: (N, C, H, W) -> (N, C*H*W) by default.

    start_dim may be negative (counted from the end). The result shares the input's data; its
    gradient is the output gradient reshaped back.
    """
    x = as_tensor(input, "flatten: input")
    start_dim = _checks.integer(start_dim, "flatten: start_dim")
    if not -(2**63) <= start_dim <= _INT64_MAX:
        raise ValueError(f"flatten: start_dim {start_dim} is out of range for shape {x.shape}")
    return _core.flatten(x, int(start_dim))


def linear(input, weight, bias=None) -> _core.Tensor:
    """``input (N, in) @ weight (out, in)^T + bias (out)`` -> ``(N, out)``."""
    return _core.linear(
        as_tensor(input, "linear: input"),
        as_tensor(weight, "linear: weight"),
        optional_tensor(bias, "linear: bias"),
    )


__all__ = ["avg_pool2d", "conv2d", "flatten", "linear", "max_pool2d", "zero_pad2d"]
