"""Measure every target of issue 4 for pocketcnn and, when installed, PyTorch and JAX, in one run.

    python benchmarks/run.py                 # everything, 3 rounds (~15 minutes)
    python benchmarks/run.py --quick         # 1 thread, 1 round, no memory runs
    python benchmarks/run.py --markdown      # the table as Markdown (for the README)

Each library runs in its own subprocess: pocketcnn with its defaults, PyTorch with the tuned
malloc environment (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_, its fastest setting) in NCHW and
channels_last, JAX/XLA jit-compiled in NHWC, pinned to as many CPUs as threads. Times are medians
after warm-up; the whole set of processes runs in several rounds, interleaving the libraries, and
each figure is the median over the rounds (this machine's speed changes for seconds at a time when
the host is busy, so one library must not get all the slow periods). The FMA peak is measured in
the same runs with a register-only FMA kernel (the best round), and two threads are checked to
really get two cores (the host sometimes squeezes both vCPUs onto one). Peak memory: peak RSS
growth over RSS before training, 5 steps at batch 256.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics

from common import (
    CONV64_FLOPS,
    LECTURE_FORWARD_FLOPS,
    LECTURE_TRAIN_FLOPS,
    POOL_BYTES,
    TORCH_ENV,
    cpu_name,
    have,
    run_bench,
)

LECTURE = ["train_b64", "infer_b256", "latency_b1"]
KERNELS = ["conv_fwd", "conv_dgrad", "conv_wgrad", "pool"]


def combine(rounds: list[dict]) -> dict:
    """Median over rounds of every timing; the best FMA peak; the rest from the first round."""
    out = dict(rounds[0])
    for key, value in rounds[0].items():
        if isinstance(value, float) and key != "fma_peak_gflops":
            out[key] = statistics.median(r[key] for r in rounds if key in r)
    if "fma_peak_gflops" in out:
        out["fma_peak_gflops"] = max(r["fma_peak_gflops"] for r in rounds)
    return out


def per_second(items: float, seconds: float | None) -> float | None:
    return None if not seconds else items / seconds


def fmt(v, digits=0) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 thread only, no memory runs")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="thread counts to measure, e.g. 1 or 1,2")
    ap.add_argument("--raw", help="also write every round's numbers to this JSON file")
    args = ap.parse_args()
    rounds = 1 if args.quick else max(1, args.rounds)
    threads = [1] if args.quick else [int(t) for t in args.threads.split(",")]
    use_torch = not args.no_torch and have("torch")
    use_jax = not args.no_jax and have("jax")

    runs: dict = {}  # (library, threads) -> list of result dicts, one per round
    for _ in range(rounds):
        for t in threads:
            configs = [("pocketcnn", "bench_pocketcnn.py", [], None)]
            if use_torch:
                for layout in ["nchw", "channels_last"]:
                    configs.append(
                        (f"torch_{layout}", "bench_torch.py", ["--layout", layout], TORCH_ENV)
                    )
            if use_jax:
                configs.append(("jax", "bench_jax.py", ["--workloads", ",".join(LECTURE)], None))
            for name, script, extra, env in configs:
                r = run_bench(script, ["--threads", str(t), *extra], env)
                if r:
                    runs.setdefault((name, t), []).append(r)
    results = {key: combine(rs) for key, rs in runs.items()}
    if args.raw:
        with open(args.raw, "w") as f:
            json.dump({f"{k[0]}_t{k[1]}": v for k, v in runs.items()}, f, indent=1)
    memory = {}
    if not args.quick:
        memory["pocketcnn"] = run_bench("bench_pocketcnn.py", ["--memory", "256"])
        if use_torch:
            for layout in ["nchw", "channels_last"]:
                memory[f"torch_{layout}"] = run_bench(
                    "bench_torch.py", ["--memory", "256", "--layout", layout], TORCH_ENV
                )

    pc1 = results[("pocketcnn", 1)] or {}
    peak = {t: (results.get(("pocketcnn", t)) or {}).get("fma_peak_gflops") for t in threads}
    info = pc1.get("cpu_info", {})
    lines = []
    out = lines.append
    out(
        f"pocketcnn benchmark, {datetime.date.today().isoformat()}, {platform.machine()} "
        f"{cpu_name()}, {os.cpu_count()} CPUs, ISA {info.get('isa')}, "
        f"medians of {rounds} round(s)"
    )
    out(
        f"FMA peak (measured now): {fmt(peak.get(1), 1)} GFLOP/s on 1 thread"
        + (f", {fmt(peak.get(2), 1)} on 2" if 2 in peak else "")
    )
    if 2 in peak and peak.get(1) and peak.get(2):
        ratio = peak[2] / peak[1]
        note = "both cores available" if ratio > 1.8 else "WARNING: 2 threads do not get 2 cores"
        out(f"2-thread / 1-thread peak: {ratio:.2f} ({note})")
    peers = ["torch_nchw", "torch_channels_last", "jax"]
    head = [
        "workload",
        "thr",
        "pocketcnn",
        "GFLOP/s",
        "% peak",
        "torch NCHW",
        "torch CL",
        "JAX",
        "vs best torch",
        "vs JAX",
    ]
    rows = []

    def row(name, key, t, unit_items, flops, unit, lower_better=False):
        r = results.get(("pocketcnn", t)) or {}
        s = r.get(key)
        if s is None:
            return
        val = (s * 1e6) if lower_better else unit_items / s
        gf = flops / s / 1e9 if flops else None
        pk = peak.get(t)
        peer_vals = {}
        for p in peers:
            pr = results.get((p, t)) or {}
            ps = pr.get(key)
            peer_vals[p] = None if ps is None else ((ps * 1e6) if lower_better else unit_items / ps)
        torch_best = [peer_vals[p] for p in peers[:2] if peer_vals[p] is not None]
        best_t = (min(torch_best) if lower_better else max(torch_best)) if torch_best else None

        def ratio(peer):
            if peer is None:
                return "-"
            return f"{(peer / val if lower_better else val / peer):.2f}x"

        rows.append(
            [
                f"{name} ({unit})",
                str(t),
                fmt(val, 1 if lower_better else 0),
                fmt(gf, 1),
                fmt(gf / pk * 100 if gf and pk else None, 0),
                fmt(peer_vals["torch_nchw"], 1 if lower_better else 0),
                fmt(peer_vals["torch_channels_last"], 1 if lower_better else 0),
                fmt(peer_vals["jax"], 1 if lower_better else 0),
                ratio(best_t),
                ratio(peer_vals["jax"]),
            ]
        )

    for t in threads:
        row("lecture train b64", "train_b64", t, 64, 64 * LECTURE_TRAIN_FLOPS, "img/s")
        row("lecture infer b256", "infer_b256", t, 256, 256 * LECTURE_FORWARD_FLOPS, "img/s")
    row("lecture latency b1", "latency_b1", 1, 1, LECTURE_FORWARD_FLOPS, "us", lower_better=True)
    for t in threads:
        for key, name in [
            ("conv_fwd", "conv 64->64 56x56 fwd"),
            ("conv_dgrad", "conv 64->64 input grad"),
            ("conv_wgrad", "conv 64->64 weight grad"),
        ]:
            row(name, key, t, 32, CONV64_FLOPS, "img/s")
        row("max-pool 2x2 32x64x56x56", "pool", t, POOL_BYTES / 1e9, 0, "GB/s")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    if args.markdown:
        out("")
        out("| " + " | ".join(head) + " |")
        out("|" + "|".join("---" for _ in head) + "|")
        for r in rows:
            out("| " + " | ".join(r) + " |")
    else:
        out("")
        out("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for r in rows:
            out(
                "  ".join(
                    c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))
                )
            )
    if 2 in threads:
        scaling = []
        for key in ["conv_fwd", "conv_dgrad", "conv_wgrad", "train_b64", "infer_b256"]:
            a = (results.get(("pocketcnn", 1)) or {}).get(key)
            b = (results.get(("pocketcnn", 2)) or {}).get(key)
            if a and b:
                scaling.append(f"{key} {a / b:.2f}x")
        out("")
        out("pocketcnn 2 threads vs 1: " + ", ".join(scaling))
    if memory:
        out("")
        parts = []
        for name, m in memory.items():
            if m:
                parts.append(
                    f"{name} +{m['peak_rss_mb'] - m['rss_before_mb']:.0f} MiB "
                    f"(peak RSS {m['peak_rss_mb']:.0f} MiB)"
                )
        out(
            "peak memory, training the lecture net at batch 256 (growth over RSS before "
            "training): " + "; ".join(parts)
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
