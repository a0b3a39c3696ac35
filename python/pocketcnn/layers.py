"""Keras-style layers for ``pc.Sequential``, computed with ``pc.ops`` (NCHW, float32).

Shapes given to and reported by layers are per sample, without the batch axis: images are
``(channels, height, width)``, flat features ``(features,)``. Weights are ``pc.Tensor`` leaves
with ``requires_grad=True`` in PyTorch's layouts: conv kernels ``(K, C, R, S)``, dense kernels
``(out, in)``; ``get_weights()``/``set_weights()`` exchange them as numpy arrays.

Initialisation: kernels are He-uniform (``U(+-sqrt(6 / fan_in))``) when a ReLU follows, else
Glorot-uniform (``U(+-sqrt(6 / (fan_in + fan_out)))``, Keras' default); biases start at zero.
The random numbers come from the model's seed and the layer's position, so the same model
definition gives the same weights.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np

from . import _core, ops

Shape = tuple[int, ...]

# name -> function of a Tensor; softmax is over the feature/channel axis (axis 1).
_ACTIVATIONS: dict[str, Callable[[_core.Tensor], _core.Tensor]] = {
    "relu": lambda x: ops.relu(x),
    "sigmoid": lambda x: ops.sigmoid(x),
    "tanh": lambda x: ops.tanh(x),
    "softmax": lambda x: ops.softmax(x, dim=1),
}
_INITIALIZERS = ("he_uniform", "glorot_uniform", "he_normal", "glorot_normal", "zeros")


def _activation_name(activation) -> str | None:
    if activation is None:
        return None
    if not isinstance(activation, str):
        raise TypeError(
            f"activation must be a name ({', '.join(sorted(_ACTIVATIONS))} or 'linear') or None, "
            f"got {activation!r}"
        )
    name = activation.lower()
    if name == "linear":
        return None
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; "
            f"use one of {sorted(_ACTIVATIONS)}, 'linear' or None"
        )
    return name


def _positive_pair(value, what: str) -> tuple[int, int]:
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, numbers.Integral):
        value = (value, value)
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        raise TypeError(f"{what} must be an int or a pair of ints, got {value!r}")
    if min(value) < 1:
        raise ValueError(f"{what} must be >= 1, got {value!r}")
    return int(value[0]), int(value[1])


def _pad_pair(value, what: str) -> tuple[int, int]:
    if isinstance(value, str) and value.lower() == "valid":
        return 0, 0
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
        or min(value) < 0
    ):
        raise ValueError(f"{what} must be 'valid', an int >= 0 or a pair of them, got {value!r}")
    return int(value[0]), int(value[1])


def _input_shape_arg(input_shape) -> Shape | None:
    if input_shape is None:
        return None
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    try:
        shape = tuple(int(d) for d in input_shape)
    except TypeError:
        raise TypeError(f"input_shape must be a tuple of ints, got {input_shape!r}") from None
    if not shape or min(shape) < 1:
        raise ValueError(f"input_shape must be non-empty with all sizes >= 1, got {input_shape!r}")
    return shape


class ShapeError(ValueError):
    """A layer cannot take an input of the given shape (the model names the layer)."""


class Layer:
    """Base class. Subclasses define the output shape, the weights and the forward computation.

    The forward pass is ``activation(forward(x))``; keeping the activation separate lets the
    model fuse a final softmax into the cross-entropy loss.
    """

    activation: str | None = None

    def __init__(self, name: str | None = None, input_shape=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.name = name
        self.input_shape = _input_shape_arg(input_shape)
        self.built = False
        self.built_input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self._weights: list[_core.Tensor] = []

    # -- what subclasses define --
    weight_names: tuple[str, ...] = ()

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The per-sample output shape; raises ShapeError when the input does not fit."""
        return input_shape

    def _make_weights(self, input_shape: Shape, init: str, rng: np.random.Generator) -> None:
        """Creates ``self._weights`` (in ``weight_names`` order)."""

    def weight_shapes(self, input_shape: Shape) -> list[Shape]:
        """The shapes ``build(input_shape)`` would give the weights, without creating them (a
        model file is checked against them before anything is allocated)."""
        return []

    def forward(self, x: _core.Tensor, training: bool) -> _core.Tensor:
        return x

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable); ``from_config`` rebuilds the layer."""
        config: dict[str, Any] = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    # -- common machinery --
    @property
    def type_name(self) -> str:
        return type(self).__name__

    def build(self, input_shape: Shape, rng: np.random.Generator, relu_follows: bool = False):
        """Checks the input shape, creates the weights; returns the output shape."""
        input_shape = tuple(int(d) for d in input_shape)
        output_shape = self.compute_output_shape(input_shape)
        wants_he = self.activation == "relu" or relu_follows
        init = getattr(self, "kernel_initializer", None) or (
            "he_uniform" if wants_he else "glorot_uniform"
        )
        self._make_weights(input_shape, init, rng)
        for w in self._weights:
            w.requires_grad = True
        self.built_input_shape, self.output_shape = input_shape, output_shape
        self.built = True
        return output_shape

    def __call__(self, x, training: bool = False, apply_activation: bool = True) -> _core.Tensor:
        y = self.forward(x if isinstance(x, _core.Tensor) else _core.Tensor(x), training)
        if apply_activation and self.activation is not None:
            y = _ACTIVATIONS[self.activation](y)
        return y

    @property
    def weights(self) -> list[_core.Tensor]:
        """The trainable Tensors (``requires_grad=True``), in ``weight_names`` order."""
        return list(self._weights)

    def count_params(self) -> int:
        return sum(int(np.prod(w.shape)) for w in self._weights)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as float32 numpy arrays (kernel first, then bias)."""
        return [np.array(w, dtype=np.float32, copy=True) for w in self._weights]

    def set_weights(self, weights) -> None:
        """Overwrites the weights in place from numpy arrays of exactly the current shapes."""
        label = f"{self.type_name} {self.name!r}" if self.name else self.type_name
        if not self.built:
            raise RuntimeError(
                f"{label}.set_weights: the layer is not built yet; give the model an "
                "input_shape (first layer) or call model.build(input_shape) first"
            )
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(
                f"{label}.set_weights: expected {len(self._weights)} arrays "
                f"({', '.join(self.weight_names[: len(self._weights)]) or 'none'}), "
                f"got {len(weights)}"
            )
        arrays = []
        for name, new, old in zip(self.weight_names, weights, self._weights):
            a = np.asarray(new)
            if a.dtype.kind not in "fiub":
                raise TypeError(f"{label}.set_weights: {name} must be numeric, got {a.dtype}")
            if a.shape != tuple(old.shape):
                raise ValueError(
                    f"{label}.set_weights: {name} must have shape {tuple(old.shape)}, got {a.shape}"
                )
            arrays.append(a)
        for a, old in zip(arrays, self._weights):
            np.asarray(old)[...] = a  # in place: optimisers keep tracking the same Tensors

    def __repr__(self) -> str:
        return f"{self.type_name}(name={self.name!r})"


def _init_array(init: str, shape: Shape, fan_in: int, fan_out: int, rng) -> np.ndarray:
    if init == "he_uniform":
        limit = math.sqrt(6.0 / fan_in)
        a = rng.uniform(-limit, limit, shape)
    elif init == "glorot_uniform":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        a = rng.uniform(-limit, limit, shape)
    elif init == "he_normal":
        a = rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
    elif init == "glorot_normal":
        a = rng.standard_normal(shape) * math.sqrt(2.0 / (fan_in + fan_out))
    elif init == "zeros":
        a = np.zeros(shape)
    else:  # checked in the constructors
        raise ValueError(f"unknown initializer {init!r}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _check_initializer(init) -> str | None:
    if init is not None and init not in _INITIALIZERS:
        raise ValueError(f"kernel_initializer must be one of {_INITIALIZERS} or None, got {init!r}")
    return init


def _expect_image(layer: Layer, input_shape: Shape) -> None:
    if len(input_shape) != 3:
        hint = " (flat features cannot be convolved or pooled)" if len(input_shape) == 1 else ""
        raise ShapeError(
            f"{layer.type_name} expects (channels, height, width) inputs, got {input_shape}{hint}"
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
        kernel_initializer: None (He if ReLU follows, else Glorot), or 'he_uniform',
            'glorot_uniform', 'he_normal', 'glorot_normal'.
        input_shape: (C, H, W) when this is the model's first layer.
    """

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
        if isinstance(filters, bool) or not isinstance(filters, numbers.Integral) or filters < 1:
            raise ValueError(f"Conv2D: filters must be an int >= 1, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = _positive_pair(kernel_size, "Conv2D: kernel_size")
        self.strides = _positive_pair(strides, "Conv2D: strides")
        if isinstance(padding, str):
            if padding.lower() not in ("valid", "same"):
                raise ValueError(
                    f"Conv2D: padding must be 'valid', 'same', an int or a pair, got {padding!r}"
                )
            self.padding: Any = padding.lower()
        else:
            self.padding = _pad_pair(padding, "Conv2D: padding")
        self.activation = _activation_name(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _check_initializer(kernel_initializer)

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
        _expect_image(self, input_shape)
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
        kernel = _init_array(init, shape, c * r * s, self.filters * r * s, rng)
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


class _Pool2D(Layer):
    _op: Callable[..., _core.Tensor]

    def __init__(self, pool_size=2, strides=None, padding=0, input_shape=None, name=None):
        super().__init__(name, input_shape)
        label = self.type_name
        self.pool_size = _positive_pair(pool_size, f"{label}: pool_size")
        self.strides = (
            self.pool_size if strides is None else _positive_pair(strides, f"{label}: strides")
        )
        self.padding = _pad_pair(padding, f"{label}: padding")
        if any(2 * p > k for p, k in zip(self.padding, self.pool_size)):
            raise ValueError(
                f"{label}: padding {self.padding} must be at most half the pool size "
                f"{self.pool_size}"
            )

    def compute_output_shape(self, input_shape):
        _expect_image(self, input_shape)
        c, h, w = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.pool_size, self.strides, self.padding
        if h + 2 * ph < kh or w + 2 * pw < kw:
            raise ShapeError(
                f"{self.type_name}: the {kh}x{kw} window does not fit in the {h}x{w} input "
                f"(input shape {input_shape})"
            )
        return c, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": list(self.padding),
        }


class MaxPool2D(_Pool2D):
    """Maximum over ``pool_size`` windows (stride = pool_size unless given; padding counts -inf)."""

    def forward(self, x, training):
        return ops.max_pool2d(x, self.pool_size, self.strides, self.padding)


class AvgPool2D(_Pool2D):
    """Mean over ``pool_size`` windows; ``count_include_pad`` as in PyTorch (padded zeros count)."""

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

    def get_config(self):
        return {**super().get_config(), "count_include_pad": self.count_include_pad}


MaxPooling2D = MaxPool2D  # Keras' longer names
AveragePooling2D = AvgPool2D


class Flatten(Layer):
    """(C, H, W) -> (C*H*W,): what a Dense layer after convolutions needs."""

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training):
        return ops.flatten(x, 1)


class Dense(Layer):
    """Fully connected: ``y = x W^T + b`` with W of shape (units, features).

    Args:
        units: output features.
        activation: None/'linear', 'relu', 'sigmoid', 'tanh' or 'softmax'.
        use_bias: add a (units,) bias.
        kernel_initializer: None (He if ReLU follows, else Glorot) or a name as for Conv2D.
        input_shape: (features,) when this is the model's first layer.
    """

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
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1:
            raise ValueError(f"Dense: units must be an int >= 1, got {units!r}")
        self.units = int(units)
        self.activation = _activation_name(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _check_initializer(kernel_initializer)

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
        kernel = _init_array(init, (self.units, fan_in), fan_in, self.units, rng)
        self._weights = [_core.Tensor(kernel)]
        if self.use_bias:
            self._weights.append(_core.Tensor(np.zeros(self.units, np.float32)))

    def forward(self, x, training):
        return ops.linear(x, self._weights[0], self._weights[1] if self.use_bias else None)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
        }


class Activation(Layer):
    """An activation as a layer: 'relu', 'sigmoid', 'tanh', 'softmax' (over axis 1) or 'linear'."""

    def __init__(self, activation, input_shape=None, name=None):
        super().__init__(name, input_shape)
        self.activation = _activation_name(activation)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation or "linear"}


class ReLU(Activation):
    """``max(x, 0)``."""

    def __init__(self, input_shape=None, name=None):
        super().__init__("relu", input_shape, name)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return config


class Softmax(Activation):
    """Softmax over the feature (or channel) axis: outputs sum to 1."""

    def __init__(self, input_shape=None, name=None):
        super().__init__("softmax", input_shape, name)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        return config


class Dropout(Layer):
    """Sets a random ``rate`` fraction of the inputs to zero during training and scales the rest
    by ``1 / (1 - rate)``; does nothing in inference. The mask is drawn from a generator seeded
    by the model (per epoch), or from ``seed`` when given."""

    def __init__(self, rate: float, seed: int | None = None, input_shape=None, name=None):
        super().__init__(name, input_shape)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def forward(self, x, training):
        if not training or self.rate == 0:
            return x
        keep = self.rng.random(tuple(x.shape), dtype=np.float32) >= self.rate
        mask = keep.astype(np.float32) * np.float32(1.0 / (1.0 - self.rate))
        return ops.mul(x, _core.Tensor(mask))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


_LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Conv2D, MaxPool2D, AvgPool2D, Flatten, Dense, Activation, ReLU, Softmax, Dropout)
}


def from_config(class_name: str, config: dict[str, Any]) -> Layer:
    """A layer from its class name and ``get_config()`` (used by ``load_model``)."""
    if class_name not in _LAYERS:
        raise ValueError(f"unknown layer class {class_name!r} (known: {sorted(_LAYERS)})")
    return _LAYERS[class_name].from_config(config)


__all__ = [
    "Activation",
    "AvgPool2D",
    "AveragePooling2D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool2D",
    "MaxPooling2D",
    "ShapeError",
    "ReLU",
    "Softmax",
    "from_config",
]
