"""Normalisation layers: BatchNormalization."""

from __future__ import annotations

import numpy as np

from .. import _checks, ops
from .base import Layer, ShapeError, weight_tensor


class BatchNormalization(Layer):
    """Batch normalisation over the channel axis 1 (NCHW images or flat features).

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` per channel. In ``fit`` (training)
    mean and var are the batch's, over N, H, W (the biased variance, as PyTorch's BatchNorm2d and
    Keras normalise); at inference they are the moving statistics, which each training batch
    updates as Keras does: ``moving = momentum * moving + (1 - momentum) * batch``, i.e. PyTorch's
    ``momentum = 1 - momentum`` here. The moving variance takes the batch's unbiased variance
    (PyTorch's choice; Keras takes the biased one, a factor m / (m - 1) apart for m values per
    channel). In the inference plan it is folded into the conv/dense layer before it.

    Args:
        axis: the channel axis; only 1 (channels first, pocketcnn's NCHW) is supported.
        momentum: Keras' momentum of the moving statistics, in [0, 1] (default 0.99).
        epsilon: added to the variance, > 0 (Keras' default 1e-3; PyTorch's is 1e-5).
        center: learn a shift ``beta`` (else 0).
        scale: learn a scale ``gamma`` (else 1).
    """

    default_name = "batch_normalization"
    state_names = ("moving_mean", "moving_variance")

    def __init__(
        self,
        axis: int = 1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        input_shape=None,
        name: str | None = None,
    ):
        super().__init__(name, input_shape)
        axis = _checks.integer(axis, "BatchNormalization: axis")
        if axis != 1:
            raise ValueError(
                f"BatchNormalization: axis must be 1 (the channel axis of NCHW inputs), got {axis}"
            )
        self.axis = axis
        self.momentum = _checks.number(momentum, "BatchNormalization: momentum")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        self.epsilon = _checks.finite_number(epsilon, "BatchNormalization: epsilon", positive=True)
        # The value computed with: float32, as PyTorch and ONNX store it (so a model folded on
        # ONNX import computes the same bits as this layer's plan step).
        self._eps = float(np.float32(self.epsilon))
        for flag, what in ((center, "center"), (scale, "scale")):
            if not isinstance(flag, bool):
                raise TypeError(f"BatchNormalization: {what} must be a bool, got {flag!r}")
        self.center, self.scale = center, scale

    @property
    def weight_names(self):  # type: ignore[override]  # depends on center / scale
        return (*(("gamma",) if self.scale else ()), *(("beta",) if self.center else ()))

    def compute_output_shape(self, input_shape):
        if len(input_shape) not in (1, 3):
            raise ShapeError(
                f"BatchNormalization expects (channels, height, width) or (features,) inputs, "
                f"got {input_shape}"
            )
        return input_shape

    def _make_weights(self, input_shape, init, rng):
        c = input_shape[0]
        self._weights = []
        if self.scale:
            self._weights.append(weight_tensor(np.ones(c, np.float32)))
        if self.center:
            self._weights.append(weight_tensor(np.zeros(c, np.float32)))
        self._state = [
            weight_tensor(np.zeros(c, np.float32)),
            weight_tensor(np.ones(c, np.float32)),
        ]

    def _gamma_beta(self):
        gamma = self._weights[0] if self.scale else None
        beta = self._weights[-1] if self.center else None
        return gamma, beta

    def forward(self, x, training, relu: bool = False):
        gamma, beta = self._gamma_beta()
        mean, var = self._state
        return ops.batch_norm(
            x, mean, var, gamma, beta, training=bool(training) and self.trainable,
            momentum=1.0 - self.momentum, eps=self._eps, relu=relu,
        )  # fmt: skip

    def forward_relu(self, x, training):
        """``relu(self(x))`` in one op: how a Model runs this layer followed by a ReLU."""
        return self.forward(x, training, relu=True)

    def add_to_plan(self, plan, activation):
        gamma, beta = self._gamma_beta()
        plan.add_batch_norm(gamma, beta, *self._state, self._eps, activation)
        return True

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }
