"""Keras-style layers for ``pc.Sequential``, computed with ``pc.ops`` (NCHW, float32).

Shapes given to and reported by layers are per sample, without the batch axis: images are
``(channels, height, width)``, flat features ``(features,)``. Weights are ``pc.Tensor`` leaves
with ``requires_grad=True`` in PyTorch's layouts: conv kernels ``(K, C, R, S)``, dense kernels
``(out, in)``; ``get_weights()``/``set_weights()`` exchange them as numpy arrays.

Initialisation: kernels are He-uniform (``U(+-sqrt(6 / fan_in))``) when the layer's own
activation is ReLU, else Glorot-uniform (``U(+-sqrt(6 / (fan_in + fan_out)))``, Keras' default);
a separate ``ReLU()`` layer after it does not count (pass ``kernel_initializer='he_uniform'``).
Biases start at zero. The random numbers come from the model's seed and the layer's position, so
the same model definition gives the same weights.

The layer protocol
------------------
A new layer is one subclass of ``Layer`` in the module of its family (``conv``, ``pooling``,
``core``, ``normalization``, ``reshaping``; a new family gets a new module), re-exported here.
Nothing else needs to change: defining the class registers it by class name
(``Layer.registry``, which ``load_model`` reads), so the class name is the saved name and must
be unique. The subclass defines:

``default_name`` (class attribute)
    The base of the names ``Sequential`` gives unnamed layers: ``"dense"``, ``"dense_1"``, ...
``__init__(..., input_shape=None, name=None)``
    Checks every argument with ``pocketcnn._checks`` (messages name the argument and value) and
    calls ``super().__init__(name, input_shape)``. Set ``self.activation`` (via
    ``activation_name``) if the layer has a fused activation.
``compute_output_shape(input_shape) -> output_shape``
    Per-sample shapes; raises ``ShapeError`` when the input does not fit (``expect_image``
    checks for (C, H, W)). The model adds the layer's name and position.
``weight_names`` and ``_make_weights(input_shape, init, rng)`` (layers with weights)
    Creates ``self._weights``, a list of float32 ``Tensor`` s in ``weight_names`` order, drawn
    from ``rng`` (``init_array`` for kernels, ``init`` is the initialiser's name). ``build``
    marks them ``requires_grad``; the model's optimiser updates them.
``state_names`` and ``self._state`` (layers with non-trainable state)
    Tensors the layer updates itself, such as running statistics, made in ``_make_weights`` in
    ``state_names`` order. They are saved and loaded after the weights (``get_weights()`` is
    weights then state), counted as non-trainable in ``summary()``, never given to the
    optimiser. Update them in place (``np.asarray(t)[...] = ...``) so a compiled plan that
    holds them sees the new values.
``forward(x, training) -> Tensor``
    The batch computation with ``pc.ops`` (autograd records it); the activation is applied after
    it by ``Layer.__call__``. ``training`` is True in ``fit``/``train_on_batch``.
``get_config()`` / ``from_config(config)``
    ``get_config`` returns the constructor's keyword arguments as JSON values (extend
    ``super().get_config()``); the default ``from_config`` calls ``cls(**config)``.
``add_to_plan(plan, activation) -> bool``
    Appends the inference step(s) to the compiled C++ plan (``_core._InferencePlan``: see
    ``_inference.py``) followed by ``activation`` ('' for none; the model passes '' for the last
    layer when a final softmax is fused into the loss). Return False when the plan has no
    matching step; the model then runs layer by layer in Python. Layers that are the identity at
    inference (apart from their activation) return ``self._plan_activation(plan, activation)``.
    A subclass overriding ``forward`` must override ``add_to_plan`` too, or it runs in Python.
"""

from __future__ import annotations

from .activations import ELU, LeakyReLU
from .base import Layer, ShapeError, from_config
from .conv import Conv2D, DepthwiseConv2D, SeparableConv2D
from .core import Activation, Dense, Dropout, Flatten, ReLU, Softmax
from .merge import Add, Concatenate
from .normalization import BatchNormalization
from .pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    GlobalMaxPooling2D,
    MaxPool2D,
    MaxPooling2D,
)
from .reshaping import Reshape, ZeroPadding2D

__all__ = [
    "Activation",
    "Add",
    "AvgPool2D",
    "AveragePooling2D",
    "BatchNormalization",
    "Concatenate",
    "Conv2D",
    "DepthwiseConv2D",
    "Dense",
    "Dropout",
    "ELU",
    "Flatten",
    "GlobalAvgPool2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling2D",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "MaxPooling2D",
    "ShapeError",
    "ReLU",
    "SeparableConv2D",
    "Reshape",
    "Softmax",
    "ZeroPadding2D",
    "from_config",
]
