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
