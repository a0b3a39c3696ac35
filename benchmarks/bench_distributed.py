"""Data-parallel training throughput: ``pocketcnn train`` on 1 rank vs ``mpiexec -n 2``.

    python benchmarks/bench_distributed.py [--rounds 3] [--samples 12000] [--markdown]

Runs the lecture CNN for one epoch on a Fashion-MNIST subset in these configurations, in
interleaved rounds (this host's speed changes for seconds at a time), and reports the median
images/s of each (from fit's epoch line, which counts all ranks' images):

    1 rank x 1 thread, batch 64        the baseline
    1 rank x 2 threads, batch 64       the same two cores used by OpenMP instead of MPI
    2 ranks x 1 thread, batch 2 x 32   the same global batch (and updates) as the baseline
    2 ranks x 1 thread, batch 2 x 64   the same per-rank work as the baseline

For the 2-rank runs it also reports the share of the training time spent in the gradient
allreduce (packing, reducing, unpacking, and waiting for the slower rank), and separately the
time of one allreduce of the lecture network's 137,660 gradients (551 KB) alone, blocking
``MPI_Allreduce`` and pocketcnn's polled non-blocking one. Needs Open MPI and mpi4py.

On a busy host wall-clock figures mostly measure the other processes, so the 1-thread
configurations also report images per CPU-second of fit on the busiest rank (``process_time``
around ``Sequential.fit``; a rank's polling for the allreduce counts, its sleeping does not):
their ratio estimates what two idle cores would give, if nothing but this job ran. The
allreduce's share is given both of the wall-clock time and of that CPU time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

CONFIGS = [
    ("1 rank x 1 thread, batch 64", 1, 1, 64),
    ("1 rank x 2 threads, batch 64", 1, 2, 64),
    ("2 ranks x 1 thread, batch 2 x 32", 2, 1, 32),
    ("2 ranks x 1 thread, batch 2 x 64", 2, 1, 64),
]

ALLREDUCE_SCRIPT = """
import time, numpy as np
from mpi4py import MPI
from pocketcnn import distributed as dist
dist.init()
comm = MPI.COMM_WORLD
a = np.ones(137660, np.float32)
def blocking(): comm.Allreduce(MPI.IN_PLACE, a)
def polled(): dist.allreduce_(a)
for name, f in (("blocking", blocking), ("polled", polled)) * 2:
    for _ in range(20): f()
    dist.barrier(); t = time.perf_counter()
    for _ in range(300): f()
    if dist.rank() == 0: print(name, (time.perf_counter() - t) / 300 * 1e6, flush=True)
"""


def mpiexec(ranks: int) -> list[str]:
    exe = shutil.which("mpiexec")
    if exe is None:
        sys.exit("bench_distributed: mpiexec not found (apt-get install openmpi-bin)")
    args = [exe, "-n", str(ranks)]
    return args + (["--allow-run-as-root"] if os.geteuid() == 0 else [])


def child(argv: list[str]) -> int:
    """`pocketcnn train ARGS` with Sequential.fit's CPU time printed by every rank."""
    import time

    from pocketcnn import cli, distributed
    from pocketcnn.model import Sequential

    fit = Sequential.fit

    def timed_fit(self, *args, **kwargs):
        start = time.process_time()
        history = fit(self, *args, **kwargs)
        cpu = time.process_time() - start
        comm = distributed.stats()["cpu_seconds"]
        print(f"FIT_CPU_SECONDS {cpu:.4f} {comm:.4f}", flush=True)
        return history

    Sequential.fit = timed_fit  # type: ignore[method-assign]
    return cli.main(argv)


def train_once(ranks: int, threads: int, batch: int, samples: int, out: str) -> dict:
    """One `pocketcnn train` epoch: img/s, (2 ranks) the allreduce's share, fit's CPU time."""
    cli = [sys.executable, os.path.abspath(__file__), "--child", "train", "--epochs", "1"]
    cli += ["--limit-train", str(samples), "--limit-test", "256", "--batch-size", str(batch)]
    cli += ["--out", out]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1")
    cmd = [*mpiexec(ranks), *cli] if ranks > 1 else [*cli, "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    rates = re.findall(r"- ([\d,]+) img/s - loss", proc.stdout)
    share = re.search(r"Gradient allreduce .*: ([\d.]+)% of the training time", proc.stdout)
    cpu = [
        (float(fit), float(comm))
        for fit, comm in re.findall(r"FIT_CPU_SECONDS ([\d.]+) ([\d.]+)", proc.stdout)
    ]
    busiest = max(cpu)
    return {
        "img_s": float(rates[-1].replace(",", "")),
        "allreduce_pct": float(share.group(1)) if share else None,
        "img_per_cpu_s": samples / busiest[0] if threads == 1 else None,
        "allreduce_cpu_pct": 100 * busiest[1] / busiest[0] if share else None,
    }


def allreduce_alone() -> dict[str, float]:
    """Microseconds per allreduce of 551 KB on 2 ranks (median of two passes each)."""
    cmd = [*mpiexec(2), sys.executable, "-c", ALLREDUCE_SCRIPT]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout + proc.stderr)
    times: dict[str, list[float]] = {}
    for line in proc.stdout.splitlines():
        name, us = line.split()
        times.setdefault(name, []).append(float(us))
    return {name: statistics.median(v) for name, v in times.items()}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=12000)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {name: [] for name, *_ in CONFIGS}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, ranks, threads, batch in CONFIGS:
                out = os.path.join(tmp, "m.pcnn")
                res = train_once(ranks, threads, batch, args.samples, out)
                results[name].append(res)
                print(f"round {r + 1}: {name}: {res}", file=sys.stderr, flush=True)
    alone = allreduce_alone()
    load_after = os.getloadavg()[0]
    base = statistics.median(x["img_s"] for x in results[CONFIGS[0][0]])
    base_cpu = statistics.median(x["img_per_cpu_s"] for x in results[CONFIGS[0][0]])
    two_threads = statistics.median(x["img_s"] for x in results[CONFIGS[1][0]])
    rows = []
    for name, *_ in CONFIGS:
        rate = statistics.median(x["img_s"] for x in results[name])
        shares = [x["allreduce_pct"] for x in results[name] if x["allreduce_pct"] is not None]
        share = f"{statistics.median(shares):.0f}%" if shares else "-"
        cpu_shares = [x["allreduce_cpu_pct"] for x in results[name] if shares]
        if shares:
            share += f" ({statistics.median(cpu_shares):.0f}% of CPU)"
        cpu_rates = [x["img_per_cpu_s"] for x in results[name] if x["img_per_cpu_s"] is not None]
        cpu = f"{statistics.median(cpu_rates):,.0f}" if cpu_rates else "-"
        if cpu_rates:
            cpu += f" ({statistics.median(cpu_rates) / base_cpu:.2f}x)"
        ratios = (f"{rate / base:.2f}x", f"{rate / two_threads:.2f}x")
        rows.append((name, f"{rate:,.0f}", *ratios, share, cpu))
    header = ("configuration", "img/s", "vs 1x1", "vs 1x2 threads", "allreduce share")
    header += ("img per CPU-s (vs 1x1)",)
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for row in (header, *rows):
            print(f"{row[0]:<34} {row[1]:>8} {row[2]:>8} {row[3]:>15} {row[4]:>24} {row[5]:>23}")
    print(
        f"\none allreduce of 551 KB on 2 ranks alone: blocking {alone['blocking']:,.0f} us, "
        f"pocketcnn's polled {alone['polled']:,.0f} us; {args.rounds} rounds of "
        f"{args.samples:,} images; load average {load_before:.1f} before, {load_after:.1f} after "
        f"on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
