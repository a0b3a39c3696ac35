"""pocketcnn: a small, fast convolutional-neural-network library for CPUs.

The autograd level (``pc.Tensor``, ``pc.ops``) follows PyTorch's names and NCHW layout; the model
level (``pc.Sequential``, ``pc.layers``) follows Keras.
"""

from . import _tensor_methods, ops  # noqa: F401 - _tensor_methods installs Tensor operators
from ._core import Tensor, get_num_threads, set_num_threads
from .autograd import enable_grad, is_grad_enabled, no_grad

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "enable_grad",
    "get_num_threads",
    "is_grad_enabled",
    "no_grad",
    "ops",
    "set_num_threads",
]
