"""Pooling layers: maximum and mean over windows."""

from __future__ import annotations

from typing import Callable, ClassVar

from .. import _core, ops
from .base import Layer, ShapeError, expect_image, pad_pair, positive_pair


class _Pool2D(Layer):
    """What max and average pooling share: window, strides, padding and the output shape."""

    _op: Callable[..., _core.Tensor]
    # The plan's pool2d step takes is_max first.
    _plan_is_max: ClassVar[bool]

    def __init__(self, pool_size=2, strides=None, padding=0, input_shape=None, name=None):
        super().__init__(name, input_shape)
        label = self.type_name
        self.pool_size = positive_pair(pool_size, f"{label}: pool_size")
        self.strides = (
            self.pool_size if strides is None else positive_pair(strides, f"{label}: strides")
        )
        self.padding: tuple[int, int] | str
        if isinstance(padding, str) and padding.lower() == "same":
            self.padding = "same"  # Keras: ceil(size / stride) outputs
            return
        self.padding = pad_pair(padding, f"{label}: padding")
        if any(2 * p > k for p, k in zip(self.padding, self.pool_size)):
            raise ValueError(
                f"{label}: padding {self.padding} must be at most half the pool size "
                f"{self.pool_size}"
            )

    def _explicit_padding(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(pad_h, pad_w, extra_h, extra_w) for an h x w input (the core's pooling arguments)."""
        if not isinstance(self.padding, str):
            ph, pw = self.padding
            return ph, pw, 0, 0
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        top, bottom = ops._nn._same_padding(h, kh, sh)
        left, right = ops._nn._same_padding(w, kw, sw)
        return top, left, bottom - top, right - left

    def compute_output_shape(self, input_shape):
        expect_image(self, input_shape)
        c, h, w = input_shape
        if isinstance(self.padding, str):  # 'same'
            (sh, sw) = self.strides
            return c, -(-h // sh), -(-w // sw)
        (kh, kw), (sh, sw), (ph, pw) = self.pool_size, self.strides, self.padding
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise ShapeError(
                f"{self.type_name}: the {kh}x{kw} window does not fit in the {h}x{w} input "
                f"(input shape {input_shape})"
            )
        return c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def _add_pool_to_plan(self, plan, activation: str, include_pad: bool) -> bool:
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        assert self.built_input_shape is not None  # build_plan takes built layers only
        ph, pw, eh, ew = self._explicit_padding(*self.built_input_shape[1:])
        plan.add_pool2d(self._plan_is_max, kh, kw, sh, sw, ph, pw, include_pad, eh, ew)
        return self._plan_activation(plan, activation)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
        }


class MaxPool2D(_Pool2D):
    """Maximum over ``pool_size`` windows (stride = pool_size unless given; padding counts -inf;
    ``padding='same'`` as in Keras: ceil(size / stride) outputs)."""

    default_name = "max_pool2d"
    _plan_is_max = True

    def forward(self, x, training):
        return ops.max_pool2d(x, self.pool_size, self.strides, self.padding)

    def add_to_plan(self, plan, activation):
        return self._add_pool_to_plan(plan, activation, include_pad=True)


class AvgPool2D(_Pool2D):
    """Mean over ``pool_size`` windows; ``count_include_pad`` as in PyTorch (padded zeros count).

    With ``padding='same'`` pass ``count_include_pad=False`` for Keras' AveragePooling2D numerics
    (the divisor counts only real inputs at the borders)."""

    default_name = "avg_pool2d"
    _plan_is_max = False

    def __init__(
        self,
        pool_size=2,
        strides=None,
        padding=0,
        count_include_pad: bool = True,
        input_shape=None,
        name=None,
    ):
        super().__init__(pool_size, strides, padding, input_shape, name)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x, training):
        return ops.avg_pool2d(
            x, self.pool_size, self.strides, self.padding, count_include_pad=self.count_include_pad
        )

    def add_to_plan(self, plan, activation):
        return self._add_pool_to_plan(plan, activation, include_pad=self.count_include_pad)

    def get_config(self):
        return {**super().get_config(), "count_include_pad": self.count_include_pad}


MaxPooling2D = MaxPool2D  # Keras' longer names
AveragePooling2D = AvgPool2D


class _GlobalPool2D(Layer):
    """(C, H, W) -> (C,) (or (C, 1, 1) with ``keepdims``): one window over the whole plane."""

    _plan_is_max: ClassVar[bool]

    def __init__(self, keepdims: bool = False, input_shape=None, name=None):
        super().__init__(name, input_shape)
        if not isinstance(keepdims, bool):
            raise TypeError(f"{self.type_name}: keepdims must be a bool, got {keepdims!r}")
        self.keepdims = keepdims

    def compute_output_shape(self, input_shape):
        expect_image(self, input_shape)
        return (input_shape[0], 1, 1) if self.keepdims else (input_shape[0],)

    def _pool(self, x) -> _core.Tensor:
        raise NotImplementedError

    def forward(self, x, training):
        y = self._pool(x)
        return y if self.keepdims else ops.flatten(y, 1)

    def add_to_plan(self, plan, activation):
        assert self.built_input_shape is not None
        _, h, w = self.built_input_shape
        plan.add_pool2d(self._plan_is_max, h, w, h, w, 0, 0, True, 0, 0)
        if not self.keepdims:
            plan.add_flatten()
        return self._plan_activation(plan, activation)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPool2D):
    """The mean of each channel's plane (Keras' GlobalAveragePooling2D, channels first)."""

    default_name = "global_average_pooling2d"
    _plan_is_max = False

    def _pool(self, x):
        # A mean over (H, W), not avg_pool2d with the plane as its window: the same values, and
        # its backward is about half the time of the pooling one (measured on (128, 64, 7, 7)).
        return ops.mean(x, (2, 3), keepdim=True)


class GlobalMaxPooling2D(_GlobalPool2D):
    """The maximum of each channel's plane (Keras' GlobalMaxPooling2D, channels first)."""

    default_name = "global_max_pooling2d"
    _plan_is_max = True

    def _pool(self, x):
        return ops.max_pool2d(x, tuple(x.shape[2:]), 1)


GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D

__all__ = [
    "AvgPool2D",
    "AveragePooling2D",
    "GlobalAvgPool2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling2D",
    "MaxPool2D",
    "MaxPooling2D",
]
