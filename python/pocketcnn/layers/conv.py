"""Convolution layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _checks, _core, ops
from .base import (
    Layer,
    Shape,
    ShapeError,
    activation_name,
    check_initializer,
    expect_image,
    init_array,
    pad_pair,
    positive_pair,
)


class Conv2D(Layer):
    """2-D convolution: ``filters`` kernels of ``kernel_size`` over (C, H, W) inputs.

    Args:
        filters: number of output channels K.
        kernel_size: int or (R, S).
        strides: int or pair.
        padding: ``'valid'`` (none), ``'same'`` (output ceil(H / stride), TensorFlow style) or an
            int / pair of zeros on each side (PyTorch style).
        activation: None/'linear', 'relu', 'sigmoid', 'tanh' or 'softmax'.
        use_bias: add a (K,) bias.
        kernel_initializer: None (He if the activation is ReLU, else Glorot), or 'he_uniform',
            'glorot_uniform', 'he_normal', 'glorot_normal'.
        input_shape: (C, H, W) when this is the model's first layer.
    """

    default_name = "conv2d"
    weight_names = ("kernel", "bias")

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding="valid",
        activation=None,
        use_bias: bool = True,
        kernel_initializer: str | None = None,
        input_shape=None,
        name: str | None = None,
    ):
        super().__init__(name, input_shape)
        self.filters = _checks.int_at_least(filters, "Conv2D: filters")
        self.kernel_size = positive_pair(kernel_size, "Conv2D: kernel_size")
        self.strides = positive_pair(strides, "Conv2D: strides")
        if isinstance(padding, str):
            if padding.lower() not in ("valid", "same"):
                raise ValueError(
                    f"Conv2D: padding must be 'valid', 'same', an int or a pair, got {padding!r}"
                )
            self.padding: Any = padding.lower()
        else:
            self.padding = pad_pair(padding, "Conv2D: padding")
        self.activation = activation_name(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = check_initializer(kernel_initializer)

    def _pads(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right)."""
        (r, s), (sh, sw) = self.kernel_size, self.strides
        if self.padding == "valid":
            return 0, 0, 0, 0
        if self.padding == "same":
            th = max((-(-h // sh) - 1) * sh + r - h, 0)
            tw = max((-(-w // sw) - 1) * sw + s - w, 0)
            return th // 2, th - th // 2, tw // 2, tw - tw // 2
        ph, pw = self.padding
        return ph, ph, pw, pw

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        expect_image(self, input_shape)
        _, h, w = input_shape
        top, bottom, left, right = self._pads(h, w)
        (r, s), (sh, sw) = self.kernel_size, self.strides
        if h + top + bottom < r or w + left + right < s:
            raise ShapeError(
                f"Conv2D: the {r}x{s} kernel does not fit in the {h}x{w} input "
                f"(input shape {input_shape}, padding {self.padding!r})"
            )
        return (
            self.filters,
            (h + top + bottom - r) // sh + 1,
            (w + left + right - s) // sw + 1,
        )

    def weight_shapes(self, input_shape):
        r, s = self.kernel_size
        kernel = (self.filters, input_shape[0], r, s)
        return [kernel, (self.filters,)] if self.use_bias else [kernel]

    def _make_weights(self, input_shape, init, rng):
        c = input_shape[0]
        r, s = self.kernel_size
        shape = (self.filters, c, r, s)
        kernel = init_array(init, shape, c * r * s, self.filters * r * s, rng)
        self._weights = [_core.Tensor(kernel)]
        if self.use_bias:
            self._weights.append(_core.Tensor(np.zeros(self.filters, np.float32)))

    def forward(self, x, training):
        h, w = x.shape[2], x.shape[3]
        top, bottom, left, right = self._pads(h, w)
        if top == bottom and left == right:
            padding: Any = (top, left)
        else:
            padding = "same"
        bias = self._weights[1] if self.use_bias else None
        return ops.conv2d(x, self._weights[0], bias, stride=self.strides, padding=padding)

    def add_to_plan(self, plan, activation):
        assert self.built_input_shape is not None
        _, h, w = self.built_input_shape
        top, bottom, left, right = self._pads(h, w)
        bias = self._weights[1] if self.use_bias else None
        sh, sw = self.strides
        plan.add_conv2d(self._weights[0], bias, sh, sw, top, left, bottom, right, activation)
        return True

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
        }


__all__ = ["Conv2D"]
