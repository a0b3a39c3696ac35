"""``pc.from_dlpack``: a Tensor sharing the memory of any DLPack producer (numpy >= 1.22,
PyTorch, JAX, CuPy on the host, ...). The producer side is ``Tensor.__dlpack__`` (C++)."""

from __future__ import annotations

import numpy as np

from ._core import Tensor


def _as_numpy(obj, copy) -> np.ndarray:
    try:
        return np.from_dlpack(obj)
    except (BufferError, RuntimeError, TypeError, ValueError) as e:
        # numpy < 2 refuses to export read-only arrays (DLPack 0.x cannot flag them).
        if isinstance(obj, np.ndarray) and copy is not False:
            return np.array(obj, copy=True)
        raise BufferError(
            f"pc.from_dlpack: {type(obj).__name__} could not be shared through DLPack: {e}"
        ) from None


def from_dlpack(obj, *, copy: bool | None = None) -> Tensor:
    """A ``pc.Tensor`` on the data of ``obj`` (anything with ``__dlpack__``) without a copy.

    Sources pocketcnn cannot use in place are copied to a new C-contiguous float32 tensor:
    other dtypes, non-contiguous views and read-only memory (a tensor may be written to, e.g. by
    an optimiser). ``copy=False`` refuses them with ``BufferError`` instead; ``copy=True``
    always copies. Device memory is refused (pocketcnn computes on the CPU).
    """
    if copy not in (None, True, False):
        raise TypeError(f"pc.from_dlpack: copy must be None, True or False, got {copy!r}")
    if not hasattr(obj, "__dlpack__"):
        raise TypeError(
            f"pc.from_dlpack: expected an object with __dlpack__ (a numpy array, torch tensor, "
            f"...), got {type(obj).__name__}"
        )
    array = _as_numpy(obj, copy)
    problems = []
    if array.dtype != np.float32:
        problems.append(f"dtype {array.dtype} (not float32)")
    if not array.flags.c_contiguous:
        problems.append("not C-contiguous")
    if not array.flags.writeable:
        problems.append("read-only")
    if problems and copy is False:
        raise BufferError(
            f"pc.from_dlpack: cannot share memory with a source that is {', '.join(problems)} "
            "(copy=False); pass copy=None to copy it"
        )
    if array.dtype.kind not in "fiub":
        raise TypeError(f"pc.from_dlpack: dtype {array.dtype} is not a real number type")
    if problems or copy:
        return Tensor(np.array(array, dtype=np.float32, order="C", copy=True))
    return Tensor(array)
