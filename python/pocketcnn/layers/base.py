"""The layer base class, its class registry, and what the layer families share: activations,
weight initialisers, argument checks. The layer protocol is described in ``layers/__init__.py``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import numpy as np

from .. import _checks, _core, _symbolic, ops

if TYPE_CHECKING:  # _inference imports this module
    from .._inference import InferencePlan

Shape = tuple[int, ...]

# name -> function of a Tensor; softmax is over the feature/channel axis (axis 1). Keras 3's
# definitions and defaults: leaky_relu's slope is 0.2 (keras.activations.leaky_relu), gelu the
# exact erf form, hard_sigmoid relu6(x + 3) / 6.
_ACTIVATIONS: dict[str, Callable[[_core.Tensor], _core.Tensor]] = {
    "relu": lambda x: ops.relu(x),
    "sigmoid": lambda x: ops.sigmoid(x),
    "tanh": lambda x: ops.tanh(x),
    "softmax": lambda x: ops.softmax(x, dim=1),
    "leaky_relu": lambda x: ops.leaky_relu(x, 0.2),
    "elu": lambda x: ops.elu(x),
    "gelu": lambda x: ops.gelu(x),
    "silu": lambda x: ops.silu(x),
    "hard_sigmoid": lambda x: ops.hard_sigmoid(x),
    "softplus": lambda x: ops.softplus(x),
}
# Other spellings Keras accepts -> the canonical name (what get_config saves).
_ACTIVATION_ALIASES = {"swish": "silu"}
_INITIALIZERS = ("he_uniform", "glorot_uniform", "he_normal", "glorot_normal", "zeros")


def activation_name(activation) -> str | None:
    """The canonical activation name, or None for no activation (``None`` or ``'linear'``)."""
    if activation is None:
        return None
    if not isinstance(activation, str):
        raise TypeError(
            f"activation must be a name ({', '.join(sorted(_ACTIVATIONS))} or 'linear') or None, "
            f"got {activation!r}"
        )
    name = activation.lower()
    name = _ACTIVATION_ALIASES.get(name, name)
    if name == "linear":
        return None
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; "
            f"use one of {sorted([*_ACTIVATIONS, *_ACTIVATION_ALIASES])}, 'linear' or None"
        )
    return name


def positive_pair(value, what: str) -> tuple[int, int]:
    """A kernel size or stride: an int or a pair of ints, each >= 1."""
    return _checks.int_pair(value, what, minimum=1)


def pad_pair(value, what: str) -> tuple[int, int]:
    """Explicit padding: ``'valid'`` (0, 0), or an int or pair of ints >= 0."""
    if isinstance(value, str) and value.lower() == "valid":
        return 0, 0
    try:
        return _checks.int_pair(value, what, minimum=0)
    except (TypeError, ValueError):
        raise ValueError(
            f"{what} must be 'valid', an int >= 0 or a pair of them, got {value!r}"
        ) from None


def check_initializer(init) -> str | None:
    if init is not None and init not in _INITIALIZERS:
        raise ValueError(f"kernel_initializer must be one of {_INITIALIZERS} or None, got {init!r}")
    return init


def init_array(init: str, shape: Shape, fan_in: int, fan_out: int, rng) -> np.ndarray:
    """Initial weights of ``shape`` drawn by the named initialiser."""
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


class ShapeError(ValueError):
    """A layer cannot take an input of the given shape (the model names the layer)."""


def weight_tensor(array: np.ndarray) -> _core.Tensor:
    """A layer's weight: a Tensor owning a copy of `array`. A Tensor wrapping the array would
    share memory that numpy can write without pocketcnn knowing, so the inference plan could not
    keep what it derives from the weight (its version would not be tracked)."""
    return _core.Tensor(array).clone()


def expect_image(layer: Layer, input_shape: Shape) -> None:
    """Raises ShapeError unless ``input_shape`` is (channels, height, width)."""
    if len(input_shape) != 3:
        hint = " (flat features cannot be convolved or pooled)" if len(input_shape) == 1 else ""
        raise ShapeError(
            f"{layer.type_name} expects (channels, height, width) inputs, got {input_shape}{hint}"
        )


class Layer:
    """Base class. Subclasses define the output shape, the weights and the forward computation
    (see the protocol in ``pocketcnn.layers``).

    The forward pass is ``activation(forward(x))``; keeping the activation separate lets the
    model fuse a final softmax into the cross-entropy loss.
    """

    # class name -> class, for from_config / load_model; filled by __init_subclass__.
    registry: ClassVar[dict[str, type[Layer]]] = {}
    # The base of the names Sequential gives unnamed layers ("dense", "dense_1", ...).
    default_name: ClassVar[str] = "layer"
    # Names of the trainable tensors in self._weights and of the non-trainable ones in
    # self._state (running statistics, say), in order.
    weight_names: ClassVar[tuple[str, ...]] = ()
    state_names: ClassVar[tuple[str, ...]] = ()

    activation: str | None = None
    kernel_initializer: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("_"):  # private bases (_Pool2D) cannot be saved
            return
        known = Layer.registry.get(cls.__name__)
        if known is not None and known.__module__.startswith(__package__ + "."):
            if known.__qualname__ != cls.__qualname__ or known.__module__ != cls.__module__:
                raise TypeError(
                    f"a layer class named {cls.__name__!r} already exists in pocketcnn.layers; "
                    "saved models name layers by class, so pick another name"
                )
        Layer.registry[cls.__name__] = cls

    def __init__(self, name: str | None = None, input_shape=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.name = name
        self.input_shape = (
            None if input_shape is None else _checks.shape(input_shape, "input_shape")
        )
        self.built = False
        self.built_input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self._weights: list[_core.Tensor] = []
        self._state: list[_core.Tensor] = []
        self._trainable = True

    # -- what subclasses define --

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The per-sample output shape; raises ShapeError when the input does not fit."""
        return input_shape

    def _make_weights(self, input_shape: Shape, init: str, rng: np.random.Generator) -> None:
        """Creates ``self._weights`` (in ``weight_names`` order) and, for a layer with
        non-trainable state, ``self._state`` (in ``state_names`` order)."""

    def weight_shapes(self, input_shape: Shape) -> list[Shape] | None:
        """The shapes ``build(input_shape)`` gives ``_tensors()`` (weights, then state), without
        creating them: ``load_model`` checks a file against them before allocating anything.
        None: not described (a layer with weights that does not override this; its file is then
        checked after building, as before)."""
        if type(self)._make_weights is Layer._make_weights:
            return []  # no weights, no state
        return None

    def forward(self, x: _core.Tensor, training: bool) -> _core.Tensor:
        return x

    def add_to_plan(self, plan: InferencePlan, activation: str) -> bool:
        """Appends this layer's inference step, followed by ``activation`` ('' for none), to the
        compiled plan; False when the plan has no such step (the model then runs in Python)."""
        return False

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable); ``from_config`` rebuilds the layer."""
        config: dict[str, Any] = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if not self._trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        config = dict(config)
        trainable = config.pop("trainable", True)
        layer = cls(**config)
        layer.trainable = trainable
        return layer

    # -- common machinery --

    @staticmethod
    def _plan_activation(plan: InferencePlan, activation: str) -> bool:
        """For layers whose plan step is only their activation (or nothing)."""
        if activation:
            plan.add_activation(activation)
        return True

    def _built_output_shape(self) -> Shape:
        """``output_shape`` where the layer must be built (the callers checked)."""
        assert self.output_shape is not None, f"{self.type_name} {self.name!r} is not built"
        return self.output_shape

    @property
    def type_name(self) -> str:
        return type(self).__name__

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        """Checks the input shape, creates the weights; returns the output shape.

        Kernels start He-uniform when this layer's own activation is ReLU, else Glorot-uniform,
        unless the layer was given a ``kernel_initializer``.
        """
        input_shape = tuple(int(d) for d in input_shape)
        output_shape = self.compute_output_shape(input_shape)
        init = self.kernel_initializer or (
            "he_uniform" if self.activation == "relu" else "glorot_uniform"
        )
        self._make_weights(input_shape, init, rng)
        for w in self._weights:
            w.requires_grad = self._trainable
        for w in self._state:
            w.requires_grad = False
        self.built_input_shape, self.output_shape = input_shape, output_shape
        self.built = True
        return output_shape

    def __call__(self, x, training: bool = False, apply_activation: bool = True) -> _core.Tensor:
        if _symbolic.is_symbolic(x):  # the functional API: record the call, compute nothing
            from ..functional import call_symbolic

            return call_symbolic(self, x)  # type: ignore[return-value]
        y = self.forward(x if isinstance(x, _core.Tensor) else _core.Tensor(x), training)
        if apply_activation and self.activation is not None:
            y = _ACTIVATIONS[self.activation](y)
        return y

    @property
    def trainable(self) -> bool:
        """False freezes the layer: its weights get no gradient and no updates (compile the model
        again after changing it, as in Keras); a frozen BatchNormalization also normalises with
        its moving statistics in fit, as Keras' does."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"{self.type_name}.trainable must be a bool, got {value!r}")
        self._trainable = value
        for w in self._weights:
            w.requires_grad = value

    @property
    def weights(self) -> list[_core.Tensor]:
        """The weight Tensors the optimiser may train, in ``weight_names`` order (frozen or not;
        ``trainable_weights`` leaves out a frozen layer's)."""
        return list(self._weights)

    @property
    def trainable_weights(self) -> list[_core.Tensor]:
        return list(self._weights) if self._trainable else []

    @property
    def non_trainable_weights(self) -> list[_core.Tensor]:
        """The state Tensors the optimiser does not update, in ``state_names`` order."""
        return list(self._state)

    def _tensors(self) -> list[_core.Tensor]:
        """Every tensor the layer saves: the weights, then the state."""
        return [*self._weights, *self._state]

    def count_params(self) -> int:
        """Trainable and non-trainable parameters (as Keras counts them)."""
        return sum(int(np.prod(w.shape)) for w in self._tensors())

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights, then the state, as float32 numpy arrays (kernel, bias, ...)."""
        return [np.array(w, dtype=np.float32, copy=True) for w in self._tensors()]

    def set_weights(self, weights) -> None:
        """Overwrites the weights in place from numpy arrays of exactly the current shapes."""
        label = f"{self.type_name} {self.name!r}" if self.name else self.type_name
        if not self.built:
            raise RuntimeError(
                f"{label}.set_weights: the layer is not built yet; give the model an "
                "input_shape (first layer) or call model.build(input_shape) first"
            )
        weights = list(weights)
        tensors = self._tensors()
        names = (*self.weight_names[: len(self._weights)], *self.state_names[: len(self._state)])
        if len(weights) != len(tensors):
            raise ValueError(
                f"{label}.set_weights: expected {len(tensors)} arrays "
                f"({', '.join(names) or 'none'}), got {len(weights)}"
            )
        arrays = []
        for name, new, old in zip(names, weights, tensors):
            a = _checks.numeric_array(new, f"{label}.set_weights: {name}")
            if a.shape != tuple(old.shape):
                raise ValueError(
                    f"{label}.set_weights: {name} must have shape {tuple(old.shape)}, got {a.shape}"
                )
            arrays.append(a)
        for a, old in zip(arrays, tensors):
            np.asarray(old)[...] = a  # in place: optimisers keep tracking the same Tensors

    def __repr__(self) -> str:
        return f"{self.type_name}(name={self.name!r})"


def plan_step_is_trusted(layer: Layer) -> bool:
    """Whether ``layer``'s ``add_to_plan`` describes its ``forward``: a subclass that overrides
    ``forward`` (or ``__call__``) but inherits the plan step of its base would get its base's
    computation in the plan, so it runs in Python instead."""
    mro = type(layer).__mro__

    def owner(attr: str) -> int:
        return next(i for i, c in enumerate(mro) if attr in c.__dict__)

    return owner("add_to_plan") <= min(owner("forward"), owner("__call__"))


def from_config(class_name: str, config: dict[str, Any]) -> Layer:
    """A layer from its class name and ``get_config()`` (used by ``load_model``)."""
    if class_name not in Layer.registry:
        raise ValueError(f"unknown layer class {class_name!r} (known: {sorted(Layer.registry)})")
    return Layer.registry[class_name].from_config(config)
