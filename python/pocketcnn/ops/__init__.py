"""Differentiable operations on ``pc.Tensor`` (PyTorch names and conventions, NCHW float32).

Every op accepts Tensors or numpy arrays, checks its arguments (``ValueError``/``TypeError``
naming the argument and the shapes) and records the autograd graph unless under ``pc.no_grad()``.
"""

from . import _activations, _math, _nn, _norm
from ._activations import *  # noqa: F403
from ._math import *  # noqa: F403
from ._nn import *  # noqa: F403
from ._norm import *  # noqa: F403

__all__ = list(_nn.__all__) + list(_math.__all__) + list(_norm.__all__) + list(_activations.__all__)
