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
    weight_tensor,
)


class Conv2D(Layer):
    """2-D convolution: ``filters`` kernels of ``kernel_size`` over (C, H, W) inputs.

    Args:
        filters: number of output channels K.
        kernel_size: int or (R, S).
        strides: int or pair.
        padding: ``'valid'`` (none), ``'same'`` (output ceil(H / stride), TensorFlow style) or an
            int / pair of zeros on each side (PyTorch style).
        activation: None/'linear' or a name: 'relu', 'sigmoid', 'tanh', 'softmax', 'leaky_relu',
            'elu', 'gelu', 'silu'/'swish', 'hard_sigmoid', 'softplus' (see layers.activations).
        use_bias: add a (K,) bias.
        kernel_initializer: None (He if the activation is ReLU, else Glorot), or 'he_uniform',
            'glorot_uniform', 'he_normal', 'glorot_normal'.
        dilation_rate: int or pair >= 1: kernel taps this far apart (a dilated / atrous conv).
        groups: input and output channels in this many groups, each output group convolving
            only its input group (kernel (K, C / groups, R, S)); must divide C and K.
        input_shape: (C, H, W) when this is the model's first layer.

    Grouped or dilated convolutions run plain reference loops, correct but not fast, except the
    3x3 depthwise ones (groups = C, stride 1 or 2, padding up to 2): those have vectorised
    kernels, in training and in the inference plan.
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
        dilation_rate=1,
        groups: int = 1,
    ):
        super().__init__(name, input_shape)
        self.filters = _checks.int_at_least(filters, "Conv2D: filters")
        self.dilation_rate = positive_pair(dilation_rate, f"{self.type_name}: dilation_rate")
        self.groups = _checks.int_at_least(groups, f"{self.type_name}: groups")
        if self.filters % self.groups:
            raise ValueError(
                f"{self.type_name}: groups {self.groups} must divide filters {self.filters}"
            )
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

    def _extent(self) -> tuple[int, int]:
        """The rows and columns the (dilated) kernel spans."""
        (r, s), (dh, dw) = self.kernel_size, self.dilation_rate
        return (r - 1) * dh + 1, (s - 1) * dw + 1

    def _pads(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right)."""
        (r, s), (sh, sw) = self._extent(), self.strides
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
        (r, s), (sh, sw) = self._extent(), self.strides
        if input_shape[0] % self.groups:
            raise ShapeError(
                f"{self.type_name}: groups {self.groups} must divide the {input_shape[0]} input "
                f"channels (input shape {input_shape})"
            )
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
        self.compute_output_shape(input_shape)  # DepthwiseConv2D takes groups, filters from it
        r, s = self.kernel_size
        kernel = (self.filters, input_shape[0] // self.groups, r, s)
        return [kernel, (self.filters,)] if self.use_bias else [kernel]

    def _make_weights(self, input_shape, init, rng):
        c = input_shape[0] // self.groups  # channels each filter sees
        r, s = self.kernel_size
        shape = (self.filters, c, r, s)
        kernel = init_array(init, shape, c * r * s, self.filters * r * s, rng)
        self._weights = [weight_tensor(kernel)]
        if self.use_bias:
            self._weights.append(weight_tensor(np.zeros(self.filters, np.float32)))

    def forward(self, x, training):
        h, w = x.shape[2], x.shape[3]
        top, bottom, left, right = self._pads(h, w)
        if top == bottom and left == right:
            padding: Any = (top, left)
        else:
            padding = "same"
        bias = self._weights[1] if self.use_bias else None
        if self.groups != 1 or self.dilation_rate != (1, 1):
            # The op pads unequal sides itself (no zero_pad2d copy; the depthwise 3x3 kernels
            # read the padding in place).
            (sh, sw), (dh, dw) = self.strides, self.dilation_rate
            return _core.conv2d_grouped(
                x, self._weights[0], bias, sh, sw, top, left, bottom, right, dh, dw, self.groups
            )
        return ops.conv2d(x, self._weights[0], bias, stride=self.strides, padding=padding)

    def add_to_plan(self, plan, activation):
        assert self.built_input_shape is not None
        _, h, w = self.built_input_shape
        top, bottom, left, right = self._pads(h, w)
        bias = self._weights[1] if self.use_bias else None
        (sh, sw), (dh, dw) = self.strides, self.dilation_rate
        plan.add_conv2d(
            self._weights[0], bias, sh, sw, top, left, bottom, right, activation, dh, dw,
            self.groups,
        )  # fmt: skip
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
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
        }


class DepthwiseConv2D(Conv2D):
    """One ``kernel_size`` filter (``depth_multiplier`` of them) per input channel: Conv2D with
    groups = C and C * depth_multiplier outputs (kernel (C * depth_multiplier, 1, R, S),
    PyTorch's layout). Keras' arguments; the channel count comes from the input."""

    default_name = "depthwise_conv2d"

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        depth_multiplier: int = 1,
        activation=None,
        use_bias: bool = True,
        kernel_initializer: str | None = None,
        dilation_rate=1,
        input_shape=None,
        name: str | None = None,
    ):
        self.depth_multiplier = _checks.int_at_least(
            depth_multiplier, "DepthwiseConv2D: depth_multiplier"
        )
        super().__init__(
            depth_multiplier, kernel_size, strides, padding, activation, use_bias,
            kernel_initializer, input_shape, name, dilation_rate,
        )  # fmt: skip

    def compute_output_shape(self, input_shape):
        expect_image(self, input_shape)
        self.groups = input_shape[0]
        self.filters = input_shape[0] * self.depth_multiplier
        return super().compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "groups"):  # from the input
            config.pop(key)
        return {**config, "depth_multiplier": self.depth_multiplier}


class SeparableConv2D(Layer):
    """A depthwise conv (``kernel_size``, ``depth_multiplier`` per channel, no bias) then a 1x1
    pointwise conv to ``filters`` channels with the bias and activation (Keras' layer; weights
    depthwise_kernel (C * m, 1, R, S), pointwise_kernel (filters, C * m, 1, 1), bias)."""

    default_name = "separable_conv2d"
    weight_names = ("depthwise_kernel", "pointwise_kernel", "bias")

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding="valid",
        depth_multiplier: int = 1,
        activation=None,
        use_bias: bool = True,
        kernel_initializer: str | None = None,
        dilation_rate=1,
        input_shape=None,
        name: str | None = None,
    ):
        super().__init__(name, input_shape)
        self.depthwise = DepthwiseConv2D(
            kernel_size, strides, padding, depth_multiplier, None, False, kernel_initializer,
            dilation_rate,
        )  # fmt: skip
        self.pointwise = Conv2D(
            filters, 1, use_bias=use_bias, kernel_initializer=kernel_initializer
        )
        self.filters, self.use_bias = self.pointwise.filters, self.pointwise.use_bias
        self.activation = activation_name(activation)
        self.kernel_initializer = check_initializer(kernel_initializer)

    def compute_output_shape(self, input_shape):
        return self.pointwise.compute_output_shape(self.depthwise.compute_output_shape(input_shape))

    def _make_weights(self, input_shape, init, rng):
        self.depthwise.name, self.pointwise.name = (
            f"{self.name}/depthwise",
            f"{self.name}/pointwise",
        )
        mid = self.depthwise.build(input_shape, rng)
        self.pointwise.build(mid, rng)
        self._weights = [*self.depthwise._weights, *self.pointwise._weights]

    def forward(self, x, training):
        return self.pointwise.forward(self.depthwise.forward(x, training), training)

    def add_to_plan(self, plan, activation):
        # Two conv steps; a BatchNormalization after this layer folds into the pointwise one.
        return self.depthwise.add_to_plan(plan, "") and self.pointwise.add_to_plan(plan, activation)

    def get_config(self):
        d = self.depthwise.get_config()
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": d["kernel_size"],
            "strides": d["strides"],
            "padding": d["padding"],
            "depth_multiplier": d["depth_multiplier"],
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "dilation_rate": d["dilation_rate"],
        }


__all__ = ["Conv2D", "DepthwiseConv2D", "SeparableConv2D"]
