"""OpenMP settings that must be in the environment before the OpenMP runtime loads.

libgomp reads its environment once, when the extension module (and with it libgomp) is loaded.
Kernels hand work to the other core between every layer; a worker that went to sleep costs
~50 us to wake on this kind of machine, while a spinning one answers in ~1 us. libgomp's default
(``OMP_WAIT_POLICY`` unset) spins ~300,000 iterations before sleeping, which covers the gaps
between layers and between training steps; we only make sure nobody disabled spinning by
accident by keeping the user's values when they set any.
"""

from __future__ import annotations

import os


def configure() -> None:
    """Set OpenMP defaults unless the user chose their own."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    # Spin about as long as a typical Python-side gap between two layers or two steps before
    # sleeping (libgomp counts iterations of a pause loop; 10^6 is a few ms on this machine).
    os.environ["GOMP_SPINCOUNT"] = "1000000"
