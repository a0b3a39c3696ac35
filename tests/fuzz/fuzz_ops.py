"""Mutation fuzzer over pocketcnn's Python entry points (issue 17).

Generates ``--cases`` random calls (op, argument shapes, dtypes, options; seeded, so a run is
reproducible) and runs them in worker subprocesses, ``--batch`` cases per worker. A case passes
when the call returns, or raises one of the documented error types: ``ValueError``,
``TypeError`` (bad arguments) and ``MemoryError`` (a size within the limits that this machine
cannot hold). Anything else is counted:

* crash: the worker died (signal, abort, sanitizer report) during the case;
* hang: the case did not finish within ``--timeout`` seconds;
* escape: another exception type escaped.

A crashing or hanging case is reported with its number and arguments, and the run continues in a
new worker after it. Prints ``cases N crashes C hangs H escapes E``; exits 1 unless all are 0.

    python tests/fuzz/fuzz_ops.py --cases 2000 --seed 1
    python tests/fuzz/fuzz_ops.py --replay 1234 --seed 1      # one case, in this process
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import subprocess
import sys
import threading
import time

ALLOWED = (ValueError, TypeError, MemoryError)

# Sizes and options: small ones (the ops must compute them) and boundary ones (they must be
# refused). The middle range (results of gigabytes that are still within the limits) is left out
# so that the fuzzer tests the checks, not the machine's memory.
SMALL = [0, 1, 2, 3, 4, 5]
BOUNDARY = [-1, -(2**31), 2**31 - 1, 2**31, 2**32 - 2, 2**32, 2**62, 2**63 - 1, 2**63, 10**9]
ODD = [None, 1.5, float("nan"), True, "same", "valid", "x", (1,), (1, 2, 3), [2, 2], (0, 1)]
DTYPES = ["float32", "float32", "float32", "float64", "int32", "int64", "bool", "uint8", "f2"]

OPS = [
    "conv2d", "max_pool2d", "avg_pool2d", "flatten", "linear", "relu", "sigmoid", "tanh",
    "softmax", "log_softmax", "cross_entropy", "mse_loss", "add", "sub", "mul", "div", "pow",
    "neg", "exp", "log", "matmul", "sum", "mean", "reshape", "leaky_relu", "elu", "gelu", "silu",
    "hard_sigmoid", "softplus",
]  # fmt: skip


def _int(rng: random.Random):
    r = rng.random()
    if r < 0.75:
        return rng.choice(SMALL)
    if r < 0.93:
        return rng.choice(BOUNDARY)
    return rng.choice(ODD)


def _shape(rng: random.Random, ndim: int | None = None) -> list[int]:
    ndim = rng.choice([0, 1, 2, 3, 4, 4, 4, 5]) if ndim is None else ndim
    return [rng.choice([0, 1, 1, 2, 2, 3, 4, 5, 7]) for _ in range(ndim)]


def _array(rng: random.Random, shape=None) -> dict:
    """A JSON description of an argument array (made in the worker)."""
    return {
        "shape": _shape(rng) if shape is None else shape,
        "dtype": rng.choice(DTYPES),
        "fill": rng.choice(["normal", "zeros", "ones", "inf", "nan", "big", "int"]),
        "transposed": rng.random() < 0.1,
        "tensor": rng.random() < 0.3,
        "grad": rng.random() < 0.3,
    }


def make_case(seed: int, index: int) -> dict:
    rng = random.Random(seed * 1_000_003 + index)
    op = rng.choice(OPS)
    x = _array(rng)
    # Mostly shapes the op accepts, so the fuzzer gets past the rank checks into the kernels.
    if rng.random() < 0.85:
        if op in ("conv2d", "max_pool2d", "avg_pool2d"):
            x["shape"] = [rng.choice([1, 2, 3]) for _ in range(2)] + [rng.randint(1, 9)] * 2
        elif op in ("linear", "cross_entropy", "matmul"):
            x["shape"] = [rng.randint(1, 6), rng.randint(1, 6)]
        if rng.random() < 0.7:
            x["dtype"] = "float32"
    args: list = [x]
    kwargs: dict = {}
    if op == "conv2d":
        c = x["shape"][1] if len(x["shape"]) > 1 else 1
        w = _array(rng, [rng.choice([1, 2, 3]), c if rng.random() < 0.8 else 2, *_shape(rng, 2)])
        args.append(w)
        if rng.random() < 0.6:
            args.append(_array(rng, [w["shape"][0]] if rng.random() < 0.8 else _shape(rng)))
        kwargs = {"stride": _int(rng), "padding": _int(rng) if rng.random() < 0.7 else 0}
    elif op in ("max_pool2d", "avg_pool2d"):
        args.append(_int(rng) if rng.random() < 0.7 else rng.choice([[2, 3], (1, 2**32 - 2)]))
        kwargs = {"stride": _int(rng), "padding": _int(rng) if rng.random() < 0.7 else 0}
        if op == "avg_pool2d" and rng.random() < 0.5:
            kwargs["count_include_pad"] = rng.random() < 0.5
    elif op == "flatten":
        kwargs = {"start_dim": _int(rng)}
    elif op == "linear":
        fin = x["shape"][-1] if x["shape"] else 1
        w = _array(rng, [rng.choice([1, 2, 3]), fin if rng.random() < 0.8 else 3])
        args += [w, _array(rng, [w["shape"][0]]) if rng.random() < 0.5 else None]
    elif op in ("softmax", "log_softmax"):
        kwargs = {"dim": _int(rng)}
    elif op == "cross_entropy":
        n = x["shape"][0] if x["shape"] else 1
        labels = _array(rng, [n] if rng.random() < 0.8 else _shape(rng))
        labels["dtype"] = rng.choice(["int64", "int32", "int64", "float32", "bool", "uint8"])
        labels["fill"] = rng.choice(["int", "zeros", "big", "nan"])
        args.append(labels)
    elif op in ("mse_loss", "add", "sub", "mul", "div", "matmul"):
        other = _array(rng, list(x["shape"]) if rng.random() < 0.6 else None)
        args.append(other if rng.random() < 0.85 else rng.choice([2.0, 0, -1, float("inf"), "x"]))
    elif op == "pow":
        args.append(rng.choice([2, 0.5, -1, 0, 3, float("nan"), 1e30, "x", None]))
    elif op in ("sum", "mean"):
        kwargs = {"dim": rng.choice([None, _int(rng), [0, 1], [0, 0], (-1,)])}
        if rng.random() < 0.3:
            kwargs["keepdim"] = rng.random() < 0.5
    elif op in ("leaky_relu", "elu"):
        args.append(rng.choice([0.2, 0, -1, 1e30, float("nan"), float("inf"), "x", None, True]))
    elif op == "gelu":
        kwargs = {"approximate": rng.choice([False, True, "tanh", "none", "x", None, 1])}
    elif op == "reshape":
        args += [_int(rng) if rng.random() < 0.7 else -1 for _ in range(rng.choice([1, 2, 3]))]
    return {"op": op, "args": args, "kwargs": kwargs, "backward": rng.random() < 0.4}


# ---- the worker ---------------------------------------------------------------------------------


def _materialise(desc, np, pc):
    if not isinstance(desc, dict):
        return desc
    rng = np.random.default_rng(len(desc["shape"]))
    shape = tuple(desc["shape"])
    fills = {
        "normal": lambda: rng.standard_normal(shape),
        "zeros": lambda: np.zeros(shape),
        "ones": lambda: np.ones(shape),
        "inf": lambda: np.full(shape, np.inf),
        "nan": lambda: np.full(shape, np.nan),
        "big": lambda: np.full(shape, 3e38),
        "int": lambda: rng.integers(-2, 6, shape),
    }
    with np.errstate(all="ignore"):
        a = fills[desc["fill"]]().astype(desc["dtype"])
    if desc["transposed"] and a.ndim >= 2:
        a = np.swapaxes(a, 0, 1)
    if desc["tensor"] and a.dtype == np.float32 and a.flags.c_contiguous:
        return pc.Tensor(a, requires_grad=desc["grad"])
    return a


def run_case(case: dict) -> str | None:
    """None if the case passed, else the escaped exception as text."""
    import numpy as np

    import pocketcnn as pc

    args = [_materialise(a, np, pc) for a in case["args"]]
    try:
        y = getattr(pc.ops, case["op"])(*args, **case["kwargs"])
        if case["backward"] and getattr(y, "requires_grad", False):
            pc.ops.sum(y).backward()
        if y is not None:
            np.asarray(y)
    except ALLOWED:
        return None
    except Exception as e:  # noqa: BLE001 - that is what the fuzzer looks for
        return f"{type(e).__name__}: {e}"[:500]
    return None


def worker(seed: int, start: int, stop: int) -> None:
    import warnings

    warnings.simplefilter("ignore")
    for i in range(start, stop):
        print(f"start {i}", flush=True)
        escaped = run_case(make_case(seed, i))
        print(f"escape {i} {escaped}" if escaped else f"ok {i}", flush=True)


# ---- the driver ---------------------------------------------------------------------------------


def _run_worker(args, start: int, stop: int):
    """Runs cases [start, stop) in one worker; returns (finished cases, escapes, the case it
    died or hung in or None, "hang"/"crash", the worker's stderr tail)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(start), str(stop)]
    cmd += ["--seed", str(args.seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put(None)], daemon=True
    ).start()
    err_tail: list[str] = []
    threading.Thread(target=lambda: [err_tail.append(x) for x in proc.stderr], daemon=True).start()
    finished, escapes, current, failure = 0, [], None, None
    while True:
        try:
            line = lines.get(timeout=args.timeout)
        except queue.Empty:  # no progress for a whole case's time: a hang
            proc.kill()
            failure = "hang"
            break
        if line is None:
            break
        kind, _, rest = line.rstrip("\n").partition(" ")
        num, _, msg = rest.partition(" ")
        if kind == "start":
            current = int(num)
        elif kind in ("ok", "escape"):
            finished += 1
            if kind == "escape":
                escapes.append((int(num), msg))
            current = None
    proc.wait()
    if failure is None and current is not None:
        failure = "crash"
    if failure is None and proc.returncode != 0 and finished == 0:
        failure = "start"
    return finished, escapes, current, failure, proc.returncode, "".join(err_tail)[-1500:]


def drive(args) -> int:
    counts = {"cases": 0, "crashes": 0, "hangs": 0, "escapes": 0}
    began = time.monotonic()
    i = 0
    while i < args.cases:
        stop = min(i + args.batch, args.cases)
        finished, escapes, current, failure, rc, err = _run_worker(args, i, stop)
        counts["cases"] += finished
        counts["escapes"] += len(escapes)
        for num, msg in escapes:
            _report("escape", num, args.seed, msg)
        if failure == "start":
            print(f"worker failed to start (rc {rc}): {err}", file=sys.stderr)
            return 2
        if failure is not None and current is not None:
            counts["cases"] += 1
            counts["hangs" if failure == "hang" else "crashes"] += 1
            _report(failure, current, args.seed, f"rc {rc}: {err}")
            i = current + 1
        else:
            i = stop
    took = time.monotonic() - began
    print(" ".join(f"{k} {v}" for k, v in counts.items()) + f" ({took:.0f} s, seed {args.seed})")
    return 0 if counts["crashes"] == counts["hangs"] == counts["escapes"] == 0 else 1


def _report(kind: str, index: int, seed: int, msg: str) -> None:
    case = json.dumps(make_case(seed, index))[:800]
    print(f"{kind.upper()} case {index} (--replay {index} --seed {seed}): {case}\n  {msg}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=2000)
    p.add_argument("--batch", type=int, default=250, help="cases per worker process")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per case")
    p.add_argument("--worker", nargs=2, type=int, metavar=("START", "STOP"))
    p.add_argument("--replay", type=int, metavar="CASE")
    args = p.parse_args()
    if args.worker:
        worker(args.seed, *args.worker)
        return 0
    if args.replay is not None:
        case = make_case(args.seed, args.replay)
        print(json.dumps(case))
        print(run_case(case) or "passed")
        return 0
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
