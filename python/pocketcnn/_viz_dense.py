"""A conv layer as the fully connected matrix it equals on a small input: the lecture's point
that a convolution is a sparse dense layer whose weights are shared."""

from __future__ import annotations

import colorsys
import numbers
from dataclasses import dataclass

import numpy as np

from .viz import _as_array, _layer_index


@dataclass
class ConvAsDense:
    """matrix: (K*P*Q, C*H*W) float32, rows the output units and columns the input pixels, both
    in NCHW flattening order, so ``matrix @ x.ravel()`` is the layer's output without its bias;
    weight_index: same shape, int64, the flat index into the (K, C, R, S) kernel of the weight
    each entry holds, -1 where an output unit is not connected to that pixel; image: the matrix
    as a picture (H, W, 3), white where unconnected and one colour per kernel tap (c, r, s), so
    the shared weights show as repeated diagonal bands. ``np.asarray(result)`` is ``matrix``."""

    matrix: np.ndarray
    weight_index: np.ndarray
    input_shape: tuple
    output_shape: tuple
    kernel_shape: tuple
    layer_name: str

    def __array__(self, dtype=None, copy=None):
        return _as_array(self.matrix, dtype, copy)

    @property
    def connections(self) -> int:
        """Non-zero entries: the multiply-adds a dense layer would keep."""
        return int((self.weight_index >= 0).sum())

    @property
    def image(self) -> np.ndarray:
        taps = int(np.prod(self.kernel_shape[1:]))  # C * R * S weights per kernel
        tap = np.where(self.weight_index >= 0, self.weight_index % taps, -1)
        palette = np.array(
            [colorsys.hsv_to_rgb(t / taps, 0.8, 0.85) for t in range(taps)], np.float32
        )
        img = np.ones(tap.shape + (3,), np.float32)
        img[tap >= 0] = palette[tap[tap >= 0]]
        return img


def _input_size(input_size) -> tuple[int, int]:
    if isinstance(input_size, numbers.Integral) and not isinstance(input_size, bool):
        input_size = (input_size, input_size)
    try:
        h, w = (int(v) for v in input_size)
    except (TypeError, ValueError):
        raise TypeError(f"conv_as_dense: input_size must be (H, W), got {input_size!r}") from None
    if not (1 <= h <= 64 and 1 <= w <= 64):  # the matrix grows as (H*W)^2: keep it a picture
        raise ValueError(f"conv_as_dense: input_size must be in 1..64 per side, got {(h, w)}")
    return h, w


def conv_as_dense(model, layer=0, input_size=(6, 6)) -> ConvAsDense:
    """The fully connected matrix a Conv2D layer equals on an ``input_size`` (H, W) input with
    the layer's own channels, stride and padding (see ConvAsDense)."""
    i = _layer_index(model, layer)
    lay = model.layers[i]
    weights = getattr(lay, "weights", [])
    if type(lay).__name__ != "Conv2D" or not weights or len(weights[0].shape) != 4:
        raise ValueError(
            f"conv_as_dense: layer {i} ({type(lay).__name__} {getattr(lay, 'name', '')!r}) is not "
            "a Conv2D layer"
        )
    h, w = _input_size(input_size)
    kernel = np.asarray(weights[0], dtype=np.float32)
    K, C, R, S = kernel.shape
    (p, q) = lay.compute_output_shape((C, h, w))[1:]  # raises if the kernel does not fit
    top, _, left, _ = lay._pads(h, w)
    sh, sw = lay.strides
    index = np.full((K, p, q, C, h, w), -1, np.int64)
    flat = np.arange(K * C * R * S).reshape(K, C, R, S)
    for oy in range(p):
        for ox in range(q):
            for r in range(R):
                iy = oy * sh - top + r
                if not 0 <= iy < h:
                    continue
                for s in range(S):
                    ix = ox * sw - left + s
                    if 0 <= ix < w:
                        index[:, oy, ox, :, iy, ix] = flat[:, :, r, s]
    index = index.reshape(K * p * q, C * h * w)
    matrix = np.where(index >= 0, kernel.ravel()[np.maximum(index, 0)], 0.0).astype(np.float32)
    return ConvAsDense(
        matrix, index, (C, h, w), (K, p, q), (K, C, R, S), str(getattr(lay, "name", ""))
    )
