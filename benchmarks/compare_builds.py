"""Two pocketcnn builds on the suite's networks, alternating processes in one run (the machine is
shared and noisy: only figures from the same run compare). Each build is the pocketcnn a Python
interpreter imports, e.g. a venv with main installed and the current one with a branch:

    python benchmarks/compare_builds.py --base-python /path/to/main-venv/bin/python \\
        --rounds 3 --networks lenet5,allconv_s2

Prints, per network and workload, the median of each build and the speed-up of the current
interpreter's build over the base (> 1: faster). Runs benchmarks/suite_pocketcnn.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from common import SUITE_WORKLOADS, run_bench
from networks import BY_NAME, NETWORKS


def run_build(python: str, args: list[str], threads: int) -> dict | None:
    """suite_pocketcnn.py under the interpreter that imports one build."""
    env = {"OMP_NUM_THREADS": str(threads)}
    return run_bench("suite_pocketcnn.py", ["--threads", str(threads), *args], env, python)


def medians(results: list[dict]) -> dict:
    out: dict = {}
    for net in results[0]["suite"]:
        for w in SUITE_WORKLOADS:
            times = [r["suite"][net].get(w) for r in results]
            times = [t for t in times if isinstance(t, float)]
            out[(net, w)] = statistics.median(times) if times else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--base-python", required=True, help="interpreter importing the base build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--networks", default="", help="comma-separated, default all")
    ap.add_argument("--min-time", type=float, default=0.5)
    args = ap.parse_args()
    nets = args.networks.split(",") if args.networks else [n.name for n in NETWORKS]
    if any(n not in BY_NAME for n in nets):
        raise SystemExit(f"unknown network in {nets}; the suite has {list(BY_NAME)}")
    common = ["--networks", ",".join(nets), "--min-time", str(args.min_time)]
    builds = {"base": args.base_python, "new": sys.executable}
    runs: dict = {"base": [], "new": []}
    for r in range(max(1, args.rounds)):
        for name in ("base", "new") if r % 2 == 0 else ("new", "base"):
            result = run_build(builds[name], common, args.threads)
            if result is None:
                raise SystemExit(f"the {name} build failed")
            runs[name].append(result)
    base, new = medians(runs["base"]), medians(runs["new"])
    peaks = {k: max(r["fma_peak_gflops"] for r in v) for k, v in runs.items()}
    print(
        f"{args.threads} thread(s), medians of {args.rounds} alternating round(s); FMA peak "
        f"base {peaks['base']:.1f}, new {peaks['new']:.1f} GFLOP/s"
    )
    print("| network | workload | base | new | new vs base |")
    print("|---|---|---|---|---|")
    for net in nets:
        for w in SUITE_WORKLOADS:
            b, n = base.get((net, w)), new.get((net, w))
            if b is None or n is None:
                continue
            unit, scale = ("us", 1e6) if w == "latency_b1" else ("ms", 1e3)
            print(
                f"| {net} | {w} | {b * scale:.1f} {unit} | {n * scale:.1f} {unit} | {b / n:.2f}x |"
            )


if __name__ == "__main__":
    main()
