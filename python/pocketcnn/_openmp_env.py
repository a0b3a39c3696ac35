"""OpenMP settings that must be in the environment before the OpenMP runtime loads.

libgomp reads its environment once, when the extension module (and with it libgomp) is loaded.
Kernels hand work to the other core in every layer; a worker that went to sleep costs ~50 us to
wake on this kind of machine, while a spinning one answers in ~1 us. Measured on the lecture net,
2 threads, training batch 64: sleeping workers (OMP_WAIT_POLICY=passive) 3,700-5,000 img/s,
spinning workers (GOMP_SPINCOUNT 300,000 or 1,000,000, or OMP_WAIT_POLICY=active) 5,100-7,400.
Spinning forever (active) would burn the second core whenever Python works alone, so we spin a
bounded 10^6 iterations (a few ms, longer than the Python gap between two layers or two steps)
and keep the user's settings when they made any.

Under an MPI launcher that put K ranks on this node, each rank defaults to cores / K threads
(``OMP_NUM_THREADS``, unless the user set it), so the ranks do not oversubscribe the cores.
"""

from __future__ import annotations

import os


def configure() -> None:
    """Set OpenMP defaults unless the user chose their own."""
    if "OMP_NUM_THREADS" not in os.environ:
        from ._distributed_env import default_threads_per_rank

        threads = default_threads_per_rank()
        if threads is not None:
            os.environ["OMP_NUM_THREADS"] = str(threads)
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    os.environ["GOMP_SPINCOUNT"] = "1000000"
