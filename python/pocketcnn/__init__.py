"""pocketcnn: a small, fast convolutional-neural-network library for CPUs.

The autograd level (``pc.Tensor``, ``pc.ops``) follows PyTorch's names and NCHW layout; the model
level (``pc.Sequential``, ``pc.layers``) follows Keras.
"""

# _tensor_methods installs the Tensor operators and methods (t + 1, t.sum(), ...) on import.
from . import _tensor_methods, callbacks, data, datasets, layers, losses, ops, optim, viz  # noqa: F401
from ._core import Tensor, get_num_threads, set_num_threads
from .autograd import enable_grad, is_grad_enabled, no_grad
from .data import DataLoader
from .model import Sequential
from .saving import load_model

__version__ = "0.1.0"

__all__ = [
    "DataLoader",
    "Sequential",
    "Tensor",
    "callbacks",
    "data",
    "datasets",
    "enable_grad",
    "get_num_threads",
    "is_grad_enabled",
    "layers",
    "load_model",
    "losses",
    "no_grad",
    "ops",
    "optim",
    "set_num_threads",
    "viz",
]
