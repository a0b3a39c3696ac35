"""What an MPI launcher tells a process through its environment (read before MPI or OpenMP load).

Open MPI sets OMPI_COMM_WORLD_*, MPICH / Intel MPI (Hydra) PMI_*, MVAPICH2 MV2_COMM_WORLD_*.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
_LOCAL_SIZE_VARS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_LOCAL_SIZE")


def _env_int(names: Sequence[str]) -> int | None:
    for name in names:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return None


def launched_size() -> int:
    """The number of ranks the MPI launcher says it started (1 without a launcher)."""
    return _env_int(_SIZE_VARS) or 1


def default_threads_per_rank() -> int | None:
    """cores / ranks on this node when a launcher put several ranks here, else None.

    Capped by the cores this process may run on (its affinity mask), so a rank that ``mpiexec``
    bound to one core gets one thread.
    """
    local = _env_int(_LOCAL_SIZE_VARS)
    if not local or local < 2:
        return None
    cpus = os.cpu_count() or 1
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    return max(1, min(allowed, cpus // local))
