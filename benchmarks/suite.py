"""The small-CNN suite (issue 16): every network of networks.py in pocketcnn, PyTorch
channels_last, onnxruntime and OpenVINO, one table with ratios.

    python benchmarks/suite.py                      # 3 rounds, 1 and 2 threads (~15 minutes)
    python benchmarks/suite.py --rounds 1 --threads 1 --networks lenet5,lecture
    python benchmarks/suite.py --markdown           # the table as Markdown

Workloads: inference at batch 256 (img/s) and batch 1 (latency, us), and one training step
(forward + backward + SGD with momentum 0.9, cross-entropy) at the network's training batch
(64 or 128; img/s). PyTorch and ONNX engines are optional: whatever is not installed is left out.
The ONNX files are exported once per run by torch.onnx.export (opset 17, dynamic batch) from the
same PyTorch model and weights. Each library runs in its own process per thread count; the
processes run in rounds, the order of the libraries rotating from round to round, and every
figure is the median over the rounds. Every library's logits for the same 4 images are compared
with pocketcnn's, so a table cannot compare different computations unnoticed. Ratios are
pocketcnn's advantage: > 1 means pocketcnn is faster (higher img/s, lower latency).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import tempfile

import numpy as np
from common import SUITE_WORKLOADS, TORCH_ENV, cpu_name, have, run_bench
from networks import BY_NAME, NETWORKS, forward_flops, train_flops

LIBRARIES = ["pocketcnn", "torch", "ort", "openvino"]
LABELS = {"pocketcnn": "pocketcnn", "torch": "torch CL", "ort": "ORT", "openvino": "OpenVINO"}
CHECK_TOLERANCE = 1e-3  # max |logit difference| / max |logit| beyond which a row is flagged


def library_process(lib: str, threads: int, common_args: list[str], models: str):
    """(script, arguments, extra environment) of one library's process."""
    args = ["--threads", str(threads), *common_args]
    env = {"OMP_NUM_THREADS": str(threads)}
    if lib == "pocketcnn":
        return "suite_pocketcnn.py", args, env
    if lib == "torch":
        return "suite_torch.py", args, {**env, **TORCH_ENV}
    return "suite_onnx.py", [*args, "--engine", lib, "--models", models], env


def run_rounds(libs, threads, rounds, common_args, models) -> dict:
    """{(lib, threads): [result of each round]}; the library order rotates every round."""
    runs: dict = {}
    for r in range(rounds):
        order = libs[r % len(libs) :] + libs[: r % len(libs)]
        for t in threads:
            for lib in order:
                result = run_bench(*library_process(lib, t, common_args, models))
                if result:
                    runs.setdefault((lib, t), []).append(result)
    return runs


def median_over_rounds(results: list[dict]) -> dict:
    """{network: {workload: median seconds, or the first round's "n/a"/"error" text}}."""
    out: dict = {}
    for net, first in results[0]["suite"].items():
        out[net] = {"check": first.get("check")}
        for w in SUITE_WORKLOADS:
            values = [r["suite"].get(net, {}).get(w) for r in results]
            times = [v for v in values if isinstance(v, float)]
            texts = [v for v in values if isinstance(v, str)]
            out[net][w] = texts[0] if texts else (statistics.median(times) if times else None)
    return out


def check_outputs(combined: dict, t: int) -> list[str]:
    """Notes for every library whose logits differ from pocketcnn's."""
    notes, base = [], combined.get(("pocketcnn", t), {})
    for (lib, tt), per_net in combined.items():
        if tt != t or lib == "pocketcnn":
            continue
        for net, r in per_net.items():
            ref = base.get(net, {}).get("check")
            if ref is None or r.get("check") is None:
                continue
            a, b = np.asarray(ref), np.asarray(r["check"])
            err = float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a))), 1e-30))
            if err > CHECK_TOLERANCE:
                notes.append(f"{net}, {LABELS[lib]}, {t} thr: logits differ (rel. {err:.1e})")
    return notes


def speed(seconds, items: float, latency: bool):
    """img/s (or us for latency) of a median time; the text itself for n/a / error."""
    if not isinstance(seconds, float):
        return seconds
    return seconds * 1e6 if latency else items / seconds


def ratio(ours, theirs, latency: bool) -> str:
    if not isinstance(ours, float) or not isinstance(theirs, float):
        return "-"
    return f"{(theirs / ours if latency else ours / theirs):.2f}x"


def cell(v, latency: bool) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return "n/a" if v.startswith("n/a") else "error"
    return f"{v:,.1f}" if latency else f"{v:,.0f}"


def table_rows(combined, threads, peaks, nets, notes) -> list[list[str]]:
    rows = []
    for name in nets:
        net = BY_NAME[name]
        work = {
            "infer_b256": ("infer b256 img/s", 256, 256 * forward_flops(net), False),
            "latency_b1": ("latency b1 us", 1, forward_flops(net), True),
            "train": (
                f"train b{net.train_batch} img/s",
                net.train_batch,
                net.train_batch * train_flops(net),
                False,
            ),
        }
        for w, (label, items, flops, latency) in work.items():
            for t in threads:
                vals = {}
                for lib in LIBRARIES:
                    raw = combined.get((lib, t), {}).get(name, {}).get(w)
                    vals[lib] = speed(raw, items, latency)
                    if isinstance(raw, str):
                        notes.append(f"{name}, {LABELS[lib]}, {label}, {t} thr: {raw}")
                pc_raw = combined.get(("pocketcnn", t), {}).get(name, {}).get(w)
                pct = "-"
                if isinstance(pc_raw, float) and peaks.get(t):
                    pct = f"{flops / pc_raw / 1e9 / peaks[t] * 100:.0f}"
                engines = [v for v in (vals["ort"], vals["openvino"]) if isinstance(v, float)]
                best = (min(engines) if latency else max(engines)) if engines else None
                rows.append(
                    [name, label, str(t)]
                    + [cell(vals[lib], latency) for lib in LIBRARIES]
                    + [pct, ratio(vals["pocketcnn"], best, latency)]
                    + [ratio(vals["pocketcnn"], vals["torch"], latency)]
                )
    return rows


HEAD = [
    "network",
    "workload",
    "thr",
    *LABELS.values(),
    "pc % peak",
    "vs best ORT/OV",
    "vs torch CL",
]


def render(rows, markdown: bool) -> list[str]:
    if markdown:
        lines = ["| " + " | ".join(HEAD) + " |", "|" + "|".join("---" for _ in HEAD) + "|"]
        return lines + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEAD)]

    def line(cells):
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    return [line(HEAD)] + [line(r) for r in rows]


def header(runs, threads, peaks, rounds) -> list[str]:
    pc1 = (runs.get(("pocketcnn", threads[0])) or [{}])[0]
    info = pc1.get("cpu_info", {})
    versions = ", ".join(
        f"{LABELS[lib]} {rs[0].get('version')}"
        for lib in LIBRARIES
        for (name, t), rs in runs.items()
        if name == lib and t == threads[0]
    )
    lines = [
        f"pocketcnn suite, {datetime.date.today().isoformat()}, {cpu_name()}, {os.cpu_count()} "
        f"CPUs, ISA {info.get('isa')}; medians of {rounds} round(s); {versions}",
        "FMA peak (measured now, best round): "
        + ", ".join(f"{peaks[t]:.1f} GFLOP/s on {t} thread(s)" for t in threads if peaks.get(t)),
    ]
    if peaks.get(1) and peaks.get(2):
        r = peaks[2] / peaks[1]
        ok = "both cores available" if r > 1.8 else "WARNING: 2 threads do not get 2 cores"
        lines.append(f"2-thread / 1-thread peak: {r:.2f} ({ok})")
    return lines


def scaling(combined, nets) -> str:
    """pocketcnn's 2-thread speed-up per network (issue 16 asks >= 1.8x)."""
    parts = []
    for name in nets:
        one = combined.get(("pocketcnn", 1), {}).get(name, {})
        two = combined.get(("pocketcnn", 2), {}).get(name, {})
        ups = [
            f"{w} {one[w] / two[w]:.2f}x"
            for w in ("infer_b256", "train")
            if isinstance(one.get(w), float) and isinstance(two.get(w), float)
        ]
        if ups:
            parts.append(f"{name} " + " ".join(ups))
    return "pocketcnn 2 threads vs 1: " + "; ".join(parts)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="thread counts, e.g. 1 or 1,2")
    ap.add_argument(
        "--networks", default="", help="comma-separated, default all: " + ", ".join(BY_NAME)
    )
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds timed per figure")
    ap.add_argument(
        "--libraries", default=",".join(LIBRARIES), help="subset of " + ",".join(LIBRARIES)
    )
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--raw", help="also write every round's results to this JSON file")
    return ap.parse_args()


def available(wanted: list[str]) -> list[str]:
    modules = {"torch": "torch", "ort": "onnxruntime", "openvino": "openvino"}
    libs = ["pocketcnn"]
    onnx_ok = have("torch") and have("onnx")  # the engines need the file torch exports
    for lib in LIBRARIES[1:]:
        if lib in wanted and have(modules[lib]) and (lib == "torch" or onnx_ok):
            libs.append(lib)
    return libs


def main() -> None:
    args = parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    nets = args.networks.split(",") if args.networks else [n.name for n in NETWORKS]
    unknown = [n for n in nets if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown network(s) {unknown}; the suite has {list(BY_NAME)}")
    libs = available(args.libraries.split(","))
    common_args = ["--networks", ",".join(nets), "--min-time", str(args.min_time)]
    models = tempfile.mkdtemp(prefix="pocketcnn-suite-")
    try:
        if {"ort", "openvino"} & set(libs):
            if not run_bench("suite_torch.py", ["--export", models, "--networks", ",".join(nets)]):
                libs = [lib for lib in libs if lib not in ("ort", "openvino")]
        runs = run_rounds(libs, threads, max(1, args.rounds), common_args, models)
    finally:
        shutil.rmtree(models, ignore_errors=True)
    if ("pocketcnn", threads[0]) not in runs:
        raise SystemExit("the pocketcnn process failed (see above)")
    if args.raw:
        with open(args.raw, "w") as f:
            json.dump({f"{k[0]}_t{k[1]}": v for k, v in runs.items()}, f, indent=1)
    combined = {key: median_over_rounds(rs) for key, rs in runs.items()}
    peaks = {
        t: max(r.get("fma_peak_gflops", 0.0) for r in runs.get(("pocketcnn", t), [{}]))
        for t in threads
    }
    notes: list[str] = []
    rows = table_rows(combined, threads, peaks, nets, notes)
    for t in threads:
        notes += check_outputs(combined, t)
    lines = header(runs, threads, peaks, max(1, args.rounds)) + [""]
    lines += render(rows, args.markdown)
    if 2 in threads and 1 in threads:
        lines += ["", scaling(combined, nets)]
    if notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in dict.fromkeys(notes)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
