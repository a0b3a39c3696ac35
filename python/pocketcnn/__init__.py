"""pocketcnn: a small, fast convolutional-neural-network library for CPUs.

The autograd level (``pc.Tensor``, ``pc.ops``) follows PyTorch's names and NCHW layout; the model
level (``pc.Sequential``, ``pc.layers``) follows Keras.
"""

from . import _openmp_env

_openmp_env.configure()  # before the extension (and with it the OpenMP runtime) loads

# _tensor_methods installs the Tensor operators and methods (t + 1, t.sum(), ...) on import.
from . import (  # noqa: E402,F401
    _tensor_methods,
    callbacks,
    data,
    datasets,
    distributed,
    layers,
    losses,
    metrics,
    onnx,
    ops,
    optim,
    presets,
    safetensors,
    utils,
    viz,
)
from ._core import Tensor, get_num_threads, set_num_threads  # noqa: E402
from ._cpu import check_isa_environment, cpu_info, empty_cache, memory_stats  # noqa: E402
from ._dlpack import from_dlpack  # noqa: E402
from ._fork_guard import install as _install_fork_guard  # noqa: E402
from ._weights_io import load_keras_weights  # noqa: E402
from .autograd import enable_grad, is_grad_enabled, no_grad  # noqa: E402
from .data import DataLoader  # noqa: E402
from .functional import Input, Model  # noqa: E402
from .model import Sequential, load_model  # noqa: E402

check_isa_environment()  # an invalid POCKETCNN_ISA fails the import with a clear ValueError
_install_fork_guard()  # a child forked after threaded work runs on 1 thread, with a warning

__version__ = "0.1.0"

__all__ = [
    "DataLoader",
    "Input",
    "Model",
    "Sequential",
    "Tensor",
    "callbacks",
    "cpu_info",
    "data",
    "datasets",
    "distributed",
    "empty_cache",
    "enable_grad",
    "from_dlpack",
    "get_num_threads",
    "is_grad_enabled",
    "layers",
    "load_keras_weights",
    "load_model",
    "losses",
    "memory_stats",
    "metrics",
    "no_grad",
    "onnx",
    "ops",
    "optim",
    "presets",
    "safetensors",
    "set_num_threads",
    "utils",
    "viz",
]
