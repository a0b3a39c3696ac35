"""What every benchmark process shares: the workloads, their FLOP counts, the timer, and how the
drivers start the library processes.

Each library runs in its own subprocess (``bench_<library>.py`` for run.py, ``suite_<library>.py``
for suite.py) so that thread pools, allocator settings and imports cannot influence one another;
``run.py`` and ``suite.py`` start them and print the tables.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
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


# ---- process handling, shared by run.py and suite.py --------------------------------------------
HERE = os.path.dirname(os.path.abspath(__file__))
# PyTorch's fastest setting on these machines (ANCHORS.md): no page faults from glibc's mmap/trim.
TORCH_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "4294967296"}


def run_bench(
    script: str, args: list[str], extra_env: dict | None = None, python: str | None = None
) -> dict | None:
    """Runs benchmarks/<script> in a subprocess (under ``python``, default this interpreter) and
    returns its RESULT dict (None if it failed)."""
    env = dict(os.environ)
    env.update(extra_env or {})
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS threads must not compete
    proc = subprocess.run(
        [python or sys.executable, os.path.join(HERE, script), *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    sys.stderr.write(f"{script} {' '.join(args)} failed:\n{proc.stderr[-2000:]}\n")
    return None


def have(module: str) -> bool:
    """Whether `module` imports in a fresh interpreter (without importing it here)."""
    probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return probe.returncode == 0


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# ---- the suite (suite.py): one loop over networks and workloads for every library --------------
SUITE_WORKLOADS = ("infer_b256", "latency_b1", "train")


def measure_suite(networks, build_infer, build_train, min_time: float) -> dict:
    """{network: {workload: median seconds | "n/a: why" | "error: what", "check": logits}}.

    build_infer(net) -> f(x) giving the logits as numpy; build_train(net) -> f(x, y) doing one
    optimiser step, or None for a library that does not train. A builder that raises means the
    library cannot express the network (n/a); a workload that raises while timed is an error.
    Both are reported, neither stops the other networks.
    """
    from networks import CHECK_BATCH, batch

    out = {}
    for net in networks:
        r: dict = {}
        try:
            infer = build_infer(net)
            r["check"] = np.asarray(infer(batch(net, CHECK_BATCH)[0])).tolist()
            for key, n in (("infer_b256", 256), ("latency_b1", 1)):
                x = batch(net, n)[0]
                r[key] = _timed(infer, (x,), min_time, min_runs=5 if n > 1 else 200)
        except Exception as e:  # noqa: BLE001 -- any failure to build is "n/a", with its reason
            r.update({k: f"n/a: {type(e).__name__}: {e}" for k in ("infer_b256", "latency_b1")})
        try:
            step = build_train(net)
            if step is not None:
                x, y = batch(net, net.train_batch)
                r["train"] = _timed(step, (x, y), min_time, min_runs=5)
        except Exception as e:  # noqa: BLE001
            r["train"] = f"n/a: {type(e).__name__}: {e}"
        out[net.name] = r
    return out


def _timed(fn, args: tuple, min_time: float, min_runs: int):
    try:
        return median_time(lambda: fn(*args), min_time=min_time, min_runs=min_runs)
    except Exception as e:  # noqa: BLE001 -- reported in the table, the run goes on
        return f"error: {type(e).__name__}: {e}"


def suite_args(description: str):
    """The command line every suite_<library>.py takes."""
    import argparse

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--networks", default="", help="comma-separated names (default: all)")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds timed per figure")
    return ap


def suite_networks(names: str):
    from networks import BY_NAME, NETWORKS

    return [BY_NAME[n] for n in names.split(",")] if names else NETWORKS
