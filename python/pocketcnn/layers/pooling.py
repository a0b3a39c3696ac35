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
        self.padding = pad_pair(padding, f"{label}: padding")
        if any(2 * p > k for p, k in zip(self.padding, self.pool_size)):
            raise ValueError(
                f"{label}: padding {self.padding} must be at most half the pool size "
                f"{self.pool_size}"
            )

    def compute_output_shape(self, input_shape):
        expect_image(self, input_shape)
        c, h, w = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.pool_size, self.strides, self.padding
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise ShapeError(
                f"{self.type_name}: the {kh}x{kw} window does not fit in the {h}x{w} input "
                f"(input shape {input_shape})"
            )
        return c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def _add_pool_to_plan(self, plan, activation: str, include_pad: bool) -> bool:
        (kh, kw), (sh, sw), (ph, pw) = self.pool_size, self.strides, self.padding
        plan.add_pool2d(self._plan_is_max, kh, kw, sh, sw, ph, pw, include_pad)
        return self._plan_activation(plan, activation)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": list(self.padding),
        }


class MaxPool2D(_Pool2D):
    """Maximum over ``pool_size`` windows (stride = pool_size unless given; padding counts -inf)."""

    default_name = "max_pool2d"
    _plan_is_max = True

    def forward(self, x, training):
        return ops.max_pool2d(x, self.pool_size, self.strides, self.padding)

    def add_to_plan(self, plan, activation):
        return self._add_pool_to_plan(plan, activation, include_pad=True)


class AvgPool2D(_Pool2D):
    """Mean over ``pool_size`` windows; ``count_include_pad`` as in PyTorch (padded zeros count)."""

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

__all__ = ["AvgPool2D", "AveragePooling2D", "MaxPool2D", "MaxPooling2D"]
