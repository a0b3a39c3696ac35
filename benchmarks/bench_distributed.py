"""Data-parallel training throughput: ``pocketcnn train`` on 1 rank vs ``mpiexec -n 2``.

    python benchmarks/bench_distributed.py [--rounds 3] [--samples 12000] [--markdown]

Runs the lecture CNN for one epoch on a Fashion-MNIST subset in these configurations, in
interleaved rounds (this host's speed changes for seconds at a time), and reports the median
images/s of each (from fit's epoch line, which counts all ranks' images):

    1 rank x 1 thread, batch 64        the baseline
    1 rank x 2 threads, batch 64       the same two cores used by OpenMP instead of MPI
    2 ranks x 1 thread, batch 2 x 32   the same global batch (and updates) as the baseline
    2 ranks x 1 thread, batch 2 x 64   the same per-rank work as the baseline
    2 processes x 1 thread, no MPI     two independent 1-rank runs of half the images started
                                       together, img/s summed: what the host gives 2 processes

Then where a step's time goes, per rank, in ms per step (benchmarks/fit_phases.py: the loader's
next batch, forward + loss, backward, the gradient allreduce, the optimiser step, the rest of fit
= Python per-step overhead), wall-clock and CPU time of the main thread; and last, one line each,
the ratio the issue asks for (2 ranks x 1 thread, batch 2 x 64 vs 1 rank x 1 thread, >= 1.8x)
and the allreduce's share of a step.

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
import json
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
    ("2 processes x 1 thread, no MPI, batch 64", 2, 1, 64),  # what the host gives two processes
]
# --variants: the target configuration with the gradients reduced beside the backward pass
# (init(overlap=True): grad-ready hooks, 64 KB buckets), one bucket with hooks, 16 KB buckets with
# hooks, and ranks not bound to a core, in the same rounds
ONE_BUCKET = {"BENCH_MIN_BUCKET_BYTES": str(25 * 2**20)}
OVERLAP = {"BENCH_OVERLAP": "1"}
VARIANTS = [
    ("2 x 64, overlap (hooks, 64 KB buckets)", 2, 1, 64, OVERLAP),
    ("2 x 64, overlap, one bucket", 2, 1, 64, {**OVERLAP, **ONE_BUCKET}),
    (
        "2 x 64, overlap, 16 KB buckets",
        2,
        1,
        64,
        {**OVERLAP, "BENCH_BUCKET_BYTES": str(16 * 2**10)},
    ),
    ("2 x 64, mpiexec --bind-to none", 2, 1, 64, {"MPIEXEC_ARGS": "--bind-to none"}),
]
TARGET = "2 ranks x 1 thread, batch 2 x 64"
PAIR = "2 processes x 1 thread, no MPI, batch 64"


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
    """`pocketcnn train ARGS`; every rank prints fit's CPU time and its phase timers."""
    import json
    import time

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fit_phases

    from pocketcnn import cli, distributed
    from pocketcnn.model import Sequential

    fit_phases.install()
    if os.environ.get("BENCH_MIN_BUCKET_BYTES"):
        from pocketcnn import _gradient_buckets

        _gradient_buckets.MIN_BUCKET_BYTES = int(os.environ["BENCH_MIN_BUCKET_BYTES"])
    if os.environ.get("BENCH_BUCKET_BYTES"):
        distributed.init(bucket_bytes=int(os.environ["BENCH_BUCKET_BYTES"]))
    if os.environ.get("BENCH_OVERLAP"):
        distributed.init(overlap=True)
    fit = Sequential.fit

    def timed_fit(self, *args, **kwargs):
        fit_phases.reset()
        start, start_cpu = time.process_time(), time.thread_time()
        start_wall = time.perf_counter()
        history = fit(self, *args, **kwargs)
        wall, thread_cpu = time.perf_counter() - start_wall, time.thread_time() - start_cpu
        cpu = time.process_time() - start
        comm = distributed.stats()["cpu_seconds"]
        phases = fit_phases.report(wall, thread_cpu)
        phases["wait"] = distributed.stats().get("wait_seconds", 0.0)
        line = f"FIT_CPU_SECONDS {cpu:.4f} {comm:.4f}\nFIT_PHASES {json.dumps(phases)}\n"
        sys.stdout.write(line)  # one write: the other rank's lines must not land in between
        sys.stdout.flush()
        return history

    Sequential.fit = timed_fit  # type: ignore[method-assign]
    return cli.main(argv)


def _train_cmd(batch: int, samples: int, out: str) -> list[str]:
    cli = [sys.executable, os.path.abspath(__file__), "--child", "train", "--epochs", "1"]
    cli += ["--limit-train", str(samples), "--limit-test", "256", "--batch-size", str(batch)]
    return cli + ["--out", out]


def _parse(stdout: str, samples: int, threads: int) -> dict:
    rates = re.findall(r"- ([\d,]+) img/s - loss", stdout)
    share = re.search(r"Gradient allreduce .*: ([\d.]+)% of the training time", stdout)
    cpu = [
        (float(fit), float(comm))
        for fit, comm in re.findall(r"FIT_CPU_SECONDS ([\d.]+) ([\d.]+)", stdout)
    ]
    busiest = max(cpu)
    return {
        "img_s": float(rates[-1].replace(",", "")),
        "allreduce_pct": float(share.group(1)) if share else None,
        "img_per_cpu_s": samples / busiest[0] if threads == 1 else None,
        "allreduce_cpu_pct": 100 * busiest[1] / busiest[0] if share else None,
        "phases": [json.loads(p) for p in re.findall(r"FIT_PHASES (.*)", stdout)],
    }


def train_once(
    ranks: int, threads: int, batch: int, samples: int, out: str, pair: bool, extra_env: dict
) -> dict:
    """One `pocketcnn train` epoch: img/s, (2 ranks) the allreduce's share, fit's CPU time.

    pair: two independent 1-rank processes at once (no MPI), img/s summed: what the host gives.
    """
    extra_env = dict(extra_env)
    launcher_args = extra_env.pop("MPIEXEC_ARGS", "").split()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1", **extra_env)
    if pair:
        procs = [
            subprocess.Popen(
                [*_train_cmd(batch, samples // 2, f"{out}.{k}"), "--threads", str(threads)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for k in range(2)
        ]
        outs = [p.communicate(timeout=600) for p in procs]
        if any(p.returncode for p in procs):
            raise RuntimeError(f"independent pair failed:\n{outs}")
        each = [_parse(o[0], samples // 2, threads) for o in outs]
        return {
            "img_s": sum(e["img_s"] for e in each),
            "allreduce_pct": None,
            "img_per_cpu_s": min(e["img_per_cpu_s"] for e in each),
            "allreduce_cpu_pct": None,
            "phases": [e["phases"][0] for e in each],
        }
    cli = _train_cmd(batch, samples, out)
    launcher = mpiexec(ranks) + launcher_args + [a for k in extra_env for a in ("-x", k)]
    cmd = [*launcher, *cli] if ranks > 1 else [*cli, "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return _parse(proc.stdout, samples, threads)


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


def _median_phases(runs: list[dict]) -> dict[str, dict[str, float]]:
    """ms per step of each phase, averaged over a run's ranks, median over the runs."""
    from fit_phases import PHASES

    out: dict[str, dict[str, float]] = {"wall": {}, "cpu": {}}
    for kind in out:
        for phase in PHASES:
            per_run = [
                statistics.mean(1e3 * r[kind][phase] / max(r["steps"], 1) for r in run["phases"])
                for run in runs
            ]
            out[kind][phase] = statistics.median(per_run)
    return out


def _print_phases(results: dict[str, list[dict]], names: list[str]) -> None:
    from fit_phases import PHASES

    print("\nms per step and rank, wall-clock / main thread CPU (median of rounds):")
    header = "".join(f"{p:>14}" for p in (*PHASES, "total"))
    print(f"{'configuration':<42}{header}  allreduce's wait after backward")
    for name in names:
        med = _median_phases(results[name])
        cells = [f"{med['wall'][p]:6.2f}/{med['cpu'][p]:<6.2f}" for p in PHASES]
        total = f"{sum(med['wall'].values()):6.2f}/{sum(med['cpu'].values()):<6.2f}"
        waits = [
            statistics.mean(1e3 * r.get("wait", 0.0) / max(r["steps"], 1) for r in run["phases"])
            for run in results[name]
        ]
        row = "".join(f"{c:>14}" for c in (*cells, total))
        print(f"{name:<42}{row}  {statistics.median(waits):.2f}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=12000)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also the overlap with backward and other bucket sizes",
    )
    args = parser.parse_args()
    configs = [(*c, {}) for c in CONFIGS] + (VARIANTS if args.variants else [])
    results: dict[str, list[dict]] = {name: [] for name, *_ in configs}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, ranks, threads, batch, extra_env in configs:
                out = os.path.join(tmp, "m.pcnn")
                res = train_once(ranks, threads, batch, args.samples, out, name == PAIR, extra_env)
                results[name].append(res)
                brief = {k: v for k, v in res.items() if k != "phases"}
                print(f"round {r + 1}: {name}: {brief}", file=sys.stderr, flush=True)
    alone = allreduce_alone()
    load_after = os.getloadavg()[0]
    loaded = " (a loaded machine)" if max(load_before, load_after) > 0.5 else ""
    base = statistics.median(x["img_s"] for x in results[CONFIGS[0][0]])
    base_cpu = statistics.median(x["img_per_cpu_s"] for x in results[CONFIGS[0][0]])
    two_threads = statistics.median(x["img_s"] for x in results[CONFIGS[1][0]])
    rows = []
    for name, *_ in configs:
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
            print(f"{row[0]:<42} {row[1]:>8} {row[2]:>8} {row[3]:>15} {row[4]:>24} {row[5]:>23}")
    _print_phases(results, [name for name, *_ in configs])
    print(
        f"\none allreduce of 551 KB on 2 ranks alone: blocking {alone['blocking']:,.0f} us, "
        f"pocketcnn's polled {alone['polled']:,.0f} us; {args.rounds} rounds of "
        f"{args.samples:,} images; load average {load_before:.1f} before, {load_after:.1f} after "
        f"on {os.cpu_count()} CPUs{loaded}"
    )
    target = statistics.median(x["img_s"] for x in results[TARGET])
    pair = statistics.median(x["img_s"] for x in results[PAIR])
    print(
        f"2 ranks x 1 thread vs 1 rank x 1 thread (batch 2 x 64 vs 64): {target / base:.2f}x "
        f"(target >= 1.8x; two independent processes: {pair / base:.2f}x)"
    )
    shares = [x["allreduce_pct"] for x in results[TARGET]]
    cpu_shares = [x["allreduce_cpu_pct"] for x in results[TARGET]]
    print(
        f"allreduce share of a 2-rank step (batch 2 x 64): {statistics.median(shares):.1f}% of "
        f"the wall-clock time, {statistics.median(cpu_shares):.1f}% of the CPU time"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
