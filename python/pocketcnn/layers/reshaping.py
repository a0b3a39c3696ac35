"""Reshaping layers: ZeroPadding2D, Reshape."""

from __future__ import annotations

import math

from .. import _checks, ops
from ..ops._nn import zero_padding_sides
from .base import Layer, ShapeError, expect_image


class ZeroPadding2D(Layer):
    """Zero rows and columns around each image plane (Keras' ZeroPadding2D, channels first).

    Args:
        padding: an int (all four sides), ``(pad_h, pad_w)`` (symmetric) or
            ``((top, bottom), (left, right))``; each >= 0.
    """

    default_name = "zero_padding2d"

    def __init__(self, padding=1, input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.sides = zero_padding_sides(padding, "ZeroPadding2D: padding")

    def compute_output_shape(self, input_shape):
        expect_image(self, input_shape)
        c, h, w = input_shape
        top, bottom, left, right = self.sides
        return c, h + top + bottom, w + left + right

    def forward(self, x, training):
        top, bottom, left, right = self.sides
        return ops.zero_pad2d(x, ((top, bottom), (left, right)))

    def add_to_plan(self, plan, activation):
        plan.add_zero_pad2d(*self.sides)
        return self._plan_activation(plan, activation)

    def get_config(self):
        top, bottom, left, right = self.sides
        return {**super().get_config(), "padding": [[top, bottom], [left, right]]}


class Reshape(Layer):
    """Each sample to ``target_shape`` (per sample, without the batch axis; one entry may be -1,
    inferred), as Keras' Reshape. The data is shared, not copied."""

    default_name = "reshape"

    def __init__(self, target_shape, input_shape=None, name=None):
        super().__init__(name, input_shape)
        if not isinstance(target_shape, (tuple, list)) or not target_shape:
            raise TypeError(
                f"Reshape: target_shape must be a non-empty tuple of ints, got {target_shape!r}"
            )
        dims = [_checks.integer(d, "Reshape: target_shape entry") for d in target_shape]
        if dims.count(-1) > 1 or any(d == 0 or d < -1 for d in dims):
            raise ValueError(
                f"Reshape: target_shape entries must be >= 1, with at most one -1, got "
                f"{tuple(target_shape)}"
            )
        self.target_shape = tuple(dims)

    def compute_output_shape(self, input_shape):
        n = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if n % known:
                raise ShapeError(
                    f"Reshape: cannot reshape {input_shape} ({n} values) to {self.target_shape}"
                )
            return tuple(n // known if d == -1 else d for d in self.target_shape)
        if known != n:
            raise ShapeError(
                f"Reshape: cannot reshape {input_shape} ({n} values) to {self.target_shape} "
                f"({known} values)"
            )
        return self.target_shape

    def forward(self, x, training):
        return ops.reshape(x, (x.shape[0], *self._built_output_shape()))

    def add_to_plan(self, plan, activation):
        plan.add_reshape(list(self._built_output_shape()))
        return self._plan_activation(plan, activation)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}
