"""Forward and backward time of the activations after relu / sigmoid / tanh, pocketcnn against
PyTorch (when installed) in the same process, 1 thread, on a (32, 64, 56, 56) float32 tensor
(6.4 M floats): what one activation layer of a mid-size CNN costs.

    python benchmarks/bench_activations.py [--threads 1] [--repeats 15]

Prints the median of ``--repeats`` runs per op; min/median spread is shown so a noisy, shared
machine is visible in the figures.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import pocketcnn as pc


def _time(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up: allocations, page faults
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return min(runs), statistics.median(runs)


def _ops():
    ours = {
        "leaky_relu": lambda t: pc.ops.leaky_relu(t, 0.2),
        "elu": pc.ops.elu,
        "gelu": pc.ops.gelu,
        "gelu_tanh": lambda t: pc.ops.gelu(t, approximate=True),
        "silu": pc.ops.silu,
        "hard_sigmoid": pc.ops.hard_sigmoid,
        "softplus": pc.ops.softplus,
        "sigmoid (existing)": pc.ops.sigmoid,
    }
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return ours, {}, None
    theirs = {
        "leaky_relu": lambda t: F.leaky_relu(t, 0.2),
        "elu": F.elu,
        "gelu": F.gelu,
        "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
        "silu": F.silu,
        "hard_sigmoid": F.hardsigmoid,
        "softplus": F.softplus,
        "sigmoid (existing)": torch.sigmoid,
    }
    return ours, theirs, torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    pc.set_num_threads(args.threads)
    ours, theirs, torch = _ops()
    if torch is not None:
        torch.set_num_threads(args.threads)
    x = (np.random.default_rng(0).standard_normal((32, 64, 56, 56)) * 3).astype(np.float32)
    g = np.ones_like(x)
    print(f"pocketcnn {pc.__version__}, isa {pc.cpu_info()['isa']}, {args.threads} thread(s), "
          f"{x.size / 1e6:.1f} M floats; ms (min / median)")  # fmt: skip
    header = f"{'op':<20}{'pc fwd':>16}{'pc fwd+bwd':>16}"
    if torch is not None:
        header += f"{'torch fwd':>16}{'torch fwd+bwd':>16}"
    print(header)
    for name, op in ours.items():
        row = f"{name:<20}" + _row(
            op, pc.Tensor, x, g, args.repeats, pc.Tensor(x, requires_grad=True)
        )
        if torch is not None:
            tt = torch.from_numpy(x).clone().requires_grad_(True)
            row += _row(theirs[name], torch.from_numpy, x, g, args.repeats, tt)
        print(row)


def _row(op, wrap, x, g, repeats: int, leaf) -> str:
    """Forward and forward + backward times of op, in the table's format."""
    xt, gt = wrap(x), wrap(g)
    fwd = _time(lambda: op(xt), repeats)
    both = _time(lambda: op(leaf).backward(gt), repeats)
    return "".join(f"{a * 1e3:7.1f} /{b * 1e3:7.1f}" for a, b in (fwd, both))


if __name__ == "__main__":
    main()
