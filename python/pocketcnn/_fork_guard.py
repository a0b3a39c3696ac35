"""Fork safety: OpenMP's thread pool (libgomp) does not survive ``fork()``.

A child forked after a threaded op (Python's default multiprocessing start method on Linux) would
hang forever in its first parallel region, waiting for pool threads that only exist in the parent.
The C++ core therefore drops such a child to 1 thread (its kernels then open no OpenMP region) and
refuses ``set_num_threads(n > 1)`` there; this module tells the user, once per child.
"""

from __future__ import annotations

import os
import warnings

from . import _core


def _after_fork_in_child() -> None:
    if _core.forked_after_threads():
        warnings.warn(
            "pocketcnn: this process was forked after threaded work; OpenMP's thread pool does "
            "not survive fork(), so pocketcnn runs on 1 thread here. Use multiprocessing's "
            "'spawn' or 'forkserver' start method to use threads in worker processes.",
            RuntimeWarning,
            stacklevel=2,
        )


def install() -> None:
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
