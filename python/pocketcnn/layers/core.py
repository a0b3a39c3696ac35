"""Core layers: Flatten, Dense, activations as layers, Dropout."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .. import _checks, _core, ops
from .base import (
    Layer,
    ShapeError,
    activation_name,
    check_initializer,
    init_array,
    weight_tensor,
)


class Flatten(Layer):
    """(C, H, W) -> (C*H*W,): what a Dense layer after convolutions needs."""

    default_name = "flatten"

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training):
        return ops.flatten(x, 1)

    def add_to_plan(self, plan, activation):
        plan.add_flatten()
        return self._plan_activation(plan, activation)


class Dense(Layer):
    """Fully connected: ``y = x W^T + b`` with W of shape (units, features).

    Args:
        units: output features.
        activation: None/'linear' or a name: 'relu', 'sigmoid', 'tanh', 'softmax', 'leaky_relu',
            'elu', 'gelu', 'silu'/'swish', 'hard_sigmoid', 'softplus' (see layers.activations).
        use_bias: add a (units,) bias.
        kernel_initializer: None (He if the activation is ReLU, else Glorot) or a name as for
            Conv2D.
        input_shape: (features,) when this is the model's first layer.
    """

    default_name = "dense"
    weight_names = ("kernel", "bias")

    def __init__(
        self,
        units: int,
        activation=None,
        use_bias: bool = True,
        kernel_initializer: str | None = None,
        input_shape=None,
        name: str | None = None,
    ):
        super().__init__(name, input_shape)
        self.units = _checks.int_at_least(units, "Dense: units")
        self.activation = activation_name(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = check_initializer(kernel_initializer)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ShapeError(
                f"Dense expects flat inputs (features,), got {input_shape}; "
                "add a Flatten() layer before it"
            )
        return (self.units,)

    def weight_shapes(self, input_shape):
        kernel = (self.units, input_shape[0])
        return [kernel, (self.units,)] if self.use_bias else [kernel]

    def _make_weights(self, input_shape, init, rng):
        fan_in = input_shape[0]
        kernel = init_array(init, (self.units, fan_in), fan_in, self.units, rng)
        self._weights = [weight_tensor(kernel)]
        if self.use_bias:
            self._weights.append(weight_tensor(np.zeros(self.units, np.float32)))

    def forward(self, x, training):
        return ops.linear(x, self._weights[0], self._weights[1] if self.use_bias else None)

    def add_to_plan(self, plan, activation):
        plan.add_linear(self._weights[0], self._weights[1] if self.use_bias else None, activation)
        return True

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
        }


class Activation(Layer):
    """An activation as a layer: 'relu', 'sigmoid', 'tanh', 'softmax' (over axis 1), 'linear', or
    one of the Keras 3 activations 'leaky_relu' (slope 0.2), 'elu', 'gelu', 'silu'/'swish',
    'hard_sigmoid', 'softplus'."""

    default_name = "activation"

    def __init__(self, activation, input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.activation = activation_name(activation)

    def add_to_plan(self, plan, activation):
        return self._plan_activation(plan, activation)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation or "linear"}


class _FixedActivation(Activation):
    """An Activation whose function is fixed by the class (so it takes no ``activation``)."""

    _function: ClassVar[str]

    def __init__(self, input_shape=None, name=None):
        super().__init__(self._function, input_shape, name)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return config


class ReLU(_FixedActivation):
    """``max(x, 0)``."""

    default_name = "relu"
    _function = "relu"


class Softmax(_FixedActivation):
    """Softmax over the feature (or channel) axis: outputs sum to 1."""

    default_name = "softmax"
    _function = "softmax"


class Dropout(Layer):
    """Sets a random ``rate`` fraction of the inputs to zero during training and scales the rest
    by ``1 / (1 - rate)``; does nothing in inference. The mask is drawn from a generator seeded
    by the model (per epoch), or from ``seed`` when given."""

    default_name = "dropout"

    def __init__(self, rate: float, seed: int | None = None, input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.rate = _checks.number_in_unit_interval(rate, "Dropout: rate")
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def forward(self, x, training):
        if not training or self.rate == 0:
            return x
        keep = self.rng.random(tuple(x.shape), dtype=np.float32) >= self.rate
        mask = keep.astype(np.float32) * np.float32(1.0 / (1.0 - self.rate))
        return ops.mul(x, _core.Tensor(mask))

    def add_to_plan(self, plan, activation):  # the identity at inference
        return self._plan_activation(plan, activation)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


__all__ = ["Activation", "Dense", "Dropout", "Flatten", "ReLU", "Softmax"]
