"""What every benchmark process shares: the workloads, their FLOP counts, and the timer.

Each library runs in its own subprocess (``bench_<library>.py``) so that thread pools, allocator
settings and imports cannot influence one another; ``run.py`` starts them and prints the table.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import numpy as np

# ---- the lecture network: Conv 1->25 3x3, MaxPool 2, Conv 25->50 3x3, ReLU, MaxPool 2, Flatten,
# Dense 1250->100, ReLU, Dense 100->10 (softmax folded into the cross-entropy loss) ----------------
CONV1 = 2 * 26 * 26 * 25 * 1 * 9  # multiply-adds x 2, per image
CONV2 = 2 * 11 * 11 * 50 * 25 * 9
DENSE1 = 2 * 1250 * 100
DENSE2 = 2 * 100 * 10
LECTURE_FORWARD_FLOPS = CONV1 + CONV2 + DENSE1 + DENSE2  # 3.28 MFLOP / image
# Training: forward + weight gradients of every layer + input gradients of every layer but the
# first (nobody needs d loss / d image). Pooling, ReLU and the loss are not counted.
LECTURE_TRAIN_FLOPS = (
    LECTURE_FORWARD_FLOPS + (CONV1 + CONV2 + DENSE1 + DENSE2) + (CONV2 + DENSE1 + DENSE2)
)

# ---- the single-layer targets -------------------------------------------------------------------
CONV64 = dict(N=32, C=64, H=56, W=56, K=64, R=3, S=3, pad=1)
CONV64_FLOPS = 2 * 32 * 64 * 56 * 56 * 64 * 9  # 7.4 GFLOP per pass (fwd, input grad, weight grad)
POOL_SHAPE = (32, 64, 56, 56)
POOL_BYTES = 4 * (32 * 64 * 56 * 56 + 32 * 64 * 28 * 28)  # read the input, write the output


def lecture_params(seed: int = 0) -> dict[str, np.ndarray]:
    """He-initialised float32 parameters, PyTorch layouts (conv (K, C, R, S), dense (out, in))."""
    rng = np.random.default_rng(seed)

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    return {
        "w1": he((25, 1, 3, 3), 9),
        "b1": np.zeros(25, np.float32),
        "w2": he((50, 25, 3, 3), 225),
        "b2": np.zeros(50, np.float32),
        "w3": he((100, 1250), 1250),
        "b3": np.zeros(100, np.float32),
        "w4": he((10, 100), 100),
        "b4": np.zeros(10, np.float32),
    }


def lecture_batch(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A Fashion-MNIST-shaped batch: images (n, 1, 28, 28) in [0, 1) and labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


def median_time(fn, min_time: float = 0.4, min_runs: int = 5, warmup: int = 3) -> float:
    """Median seconds per call of fn() after `warmup` calls, over >= min_runs calls and >= min_time
    seconds of calls."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) > 100000:
            break
    return float(np.median(times))


def current_rss_mb() -> float:
    """Resident set size now (Linux /proc), in MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (getrusage; KiB on Linux), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(results: dict) -> None:
    """The subprocess's answer: one JSON line on stdout."""
    sys.stdout.write("RESULT " + json.dumps(results) + "\n")
    sys.stdout.flush()


WORKLOADS = [
    "train_b64",
    "infer_b256",
    "latency_b1",
    "conv_fwd",
    "conv_dgrad",
    "conv_wgrad",
    "pool",
]
