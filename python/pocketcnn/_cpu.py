"""What the kernels run on: instruction set (ISA) and threads."""

from __future__ import annotations

from . import _core


def cpu_info() -> dict:
    """The kernels' view of the CPU.

    Keys: ``isa`` (the instruction set in use: ``'scalar'``, ``'avx2'`` or ``'avx512'``),
    ``isa_cap`` (``POCKETCNN_ISA`` or the last ``set_isa_cap``), ``cpu_best_isa``,
    ``supported_isas``, ``compiled_isas``, ``num_threads`` and ``openmp``.
    Set the environment variable ``POCKETCNN_ISA`` before importing pocketcnn to cap the ISA
    (e.g. to compare variants or to test the portable code).
    """
    return dict(_core.cpu_info())


def check_isa_environment() -> None:
    """Raise ``ValueError`` now (at import) if ``POCKETCNN_ISA`` is invalid, not at the first op."""
    _core.cpu_info()
    _core.memory_stats()  # and an invalid POCKETCNN_CACHE_MB (it sets the cache cap)


def memory_stats() -> dict:
    """The tensor memory cache: ``cached_bytes`` (free blocks kept for reuse), ``in_use_bytes``,
    ``cap_bytes``, and ``hits``/``misses`` (allocations served from the cache / from the OS).

    Tensors of 16 KiB and more are recycled instead of being returned to the OS, so a training
    loop takes no page faults after its first step. The cap defaults to 2 GiB
    (``POCKETCNN_CACHE_MB`` overrides it).
    """
    return dict(_core.memory_stats())


def empty_cache() -> None:
    """Return the cached (free) tensor memory to the operating system."""
    _core.empty_cache()
