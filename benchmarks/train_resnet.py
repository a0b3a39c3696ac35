"""Training-step speed of the Fashion-MNIST examples' networks (examples/small_resnet.py,
examples/separable_cnn.py): pocketcnn's ``Model.train_on_batch`` against the same network in
PyTorch (channels_last, the faster PyTorch layout here), same batch, loss and optimiser (SGD with
momentum 0.9, cross-entropy), BatchNorm in training mode. (The graph branch adds the ResNet to the
inference suite, benchmarks/suite.py; this file is training only.)

    python benchmarks/train_resnet.py                     # 3 rounds, 1 thread, both networks
    python benchmarks/train_resnet.py --rounds 5 --threads 2 --networks resnet
    python benchmarks/train_resnet.py --breakdown         # where pocketcnn's step time goes

Each library runs in its own process; the processes alternate (the order rotating every round)
so machine load hits both alike, and each figure is the median over rounds of per-process median
step times. Ratio = torch time / pocketcnn time (> 1: pocketcnn is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

NETWORKS = ("resnet", "separable")


def batch(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


# ---- pocketcnn ----------------------------------------------------------------------------------
def pocketcnn_model(name: str):
    import pocketcnn as pc

    if name == "resnet":
        from small_resnet import small_resnet

        model = small_resnet()
    else:
        from separable_cnn import separable_cnn

        model = separable_cnn()
    model.compile(pc.optim.SGD(0.01, momentum=0.9), "cross_entropy")
    return model


def pocketcnn_step(name: str, threads: int, batch_size: int):
    import pocketcnn as pc

    pc.set_num_threads(threads)
    model = pocketcnn_model(name)
    x, y = batch(batch_size)
    return lambda: model.train_on_batch(x, y)


def breakdown(name: str, threads: int, batch_size: int, min_time: float) -> None:
    """Each layer alone on its input shape in the network: forward (training mode) and forward +
    backward, summed by layer type."""
    import pocketcnn as pc

    pc.set_num_threads(threads)
    model = pocketcnn_model(name)
    x, y = batch(batch_size)
    model.train_on_batch(x, y)
    totals: dict[str, list[float]] = {}
    for layer in model.layers:
        shape = getattr(layer, "built_input_shape", None)
        if not shape:
            continue
        shapes = list(shape) if isinstance(shape[0], tuple) else [shape]  # Add: one per input
        inputs = [pc.Tensor(np.random.default_rng(1).standard_normal((batch_size, *s))
                            .astype(np.float32), requires_grad=True) for s in shapes]  # fmt: skip
        arg = inputs if len(inputs) > 1 else inputs[0]

        def fwd(layer=layer, arg=arg):
            return layer(arg, training=True)

        # The output gradient is made once: a fresh array per call would time its page faults.
        dy = pc.Tensor(np.ones(fwd().shape, np.float32))

        def fwd_bwd(fwd=fwd, dy=dy):
            fwd().backward(dy)

        t_f, t_fb = median(fwd, min_time), median(fwd_bwd, min_time)
        kind = type(layer).__name__
        row = totals.setdefault(kind, [0.0, 0.0, 0])
        row[0] += t_f
        row[1] += t_fb
        row[2] += 1
    step = median(lambda: model.train_on_batch(x, y), min_time)
    print(f"{name}, batch {batch_size}, {threads} thread(s): train_on_batch {step * 1e3:.1f} ms")
    print(f"{'layer type':<24}{'count':>6}{'fwd ms':>10}{'fwd+bwd ms':>12}{'share':>8}")
    for kind, (f, fb, n) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
        print(f"{kind:<24}{n:>6}{f * 1e3:>10.2f}{fb * 1e3:>12.2f}{fb / step:>8.0%}")


# ---- PyTorch ------------------------------------------------------------------------------------
def torch_model(name: str):
    import torch
    from torch import nn

    def conv_bn(c_in, c_out, stride=1, relu=True, k=3, groups=1):
        layers = [nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False, groups=groups),
                  nn.BatchNorm2d(c_out, momentum=0.1)]  # fmt: skip
        return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.body = nn.Sequential(conv_bn(c_in, c_out, stride), conv_bn(c_out, c_out, 1, False))
            self.short = (conv_bn(c_in, c_out, stride, False, k=1)
                          if stride != 1 or c_in != c_out else nn.Identity())  # fmt: skip

        def forward(self, x):
            return torch.relu(self.short(x) + self.body(x))

    if name == "resnet":
        layers, c = [conv_bn(1, 16)], 16
        for stage, w in enumerate((16, 32, 64)):
            layers.append(Block(c, w, 1 if stage == 0 else 2))
            c = w
    else:
        layers, c = [conv_bn(1, 32)], 32
        for stage, w in enumerate((32, 64, 128)):
            for stride in (1 if stage == 0 else 2, 1):
                # Keras' 'same' pads stride-2 convs at the bottom/right only; the cost is alike.
                layers += [conv_bn(c, c, stride, groups=c), conv_bn(c, w, k=1)]
                c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)


def torch_step(name: str, threads: int, batch_size: int):
    import torch

    torch.set_num_threads(threads)
    model = torch_model(name).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xn, yn = batch(batch_size)
    x = torch.from_numpy(xn).contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(yn)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


# ---- driver -------------------------------------------------------------------------------------
def median(fn, min_time: float, warmup: int = 3, min_runs: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def worker(args) -> None:
    make = pocketcnn_step if args.worker == "pocketcnn" else torch_step
    seconds = median(make(args.network, args.threads, args.batch), args.min_time)
    print(f"RESULT {seconds:.6f}")


def run_worker(lib: str, network: str, args) -> float | None:
    import subprocess

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(args.threads))
    if lib == "torch":  # PyTorch's fastest allocator setting here (ANCHORS.md)
        env.update(MALLOC_MMAP_THRESHOLD_="33554432", MALLOC_TRIM_THRESHOLD_="4294967296")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", lib, "--network", network,
           "--threads", str(args.threads), "--batch", str(args.batch),
           "--min-time", str(args.min_time)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return float(line.split()[1])
    sys.stderr.write(f"{lib} {network} failed:\n{proc.stderr[-2000:]}\n")
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128, help="the examples' batch size")
    ap.add_argument("--networks", default=",".join(NETWORKS))
    ap.add_argument("--min-time", type=float, default=3.0, help="seconds timed per process")
    ap.add_argument("--breakdown", action="store_true", help="per layer type, pocketcnn only")
    ap.add_argument("--worker", choices=("pocketcnn", "torch"), help=argparse.SUPPRESS)
    ap.add_argument("--network", default="resnet", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    networks = [n for n in args.networks.split(",") if n]
    if args.breakdown:
        for net in networks:
            breakdown(net, args.threads, args.batch, args.min_time / 3)
        return None
    libs = ["pocketcnn", "torch"]
    times: dict = {(lib, net): [] for lib in libs for net in networks}
    for r in range(args.rounds):
        for net in networks:
            for lib in libs[r % 2 :] + libs[: r % 2]:
                t = run_worker(lib, net, args)
                if t is not None:
                    times[lib, net].append(t)
    print(f"training step, batch {args.batch}, {args.threads} thread(s), {args.rounds} rounds "
          "(median ms per step; ratio = torch / pocketcnn)")  # fmt: skip
    for net in networks:
        pcs, tcs = times["pocketcnn", net], times["torch", net]
        p = statistics.median(pcs) if pcs else float("nan")
        t = statistics.median(tcs) if tcs else float("nan")
        print(f"{net:<10} pocketcnn {p * 1e3:8.1f} ms   torch CL {t * 1e3:8.1f} ms   "
              f"ratio {t / p:5.2f}x   (rounds: pocketcnn {[round(v * 1e3, 1) for v in pcs]}, "
              f"torch {[round(v * 1e3, 1) for v in tcs]})")  # fmt: skip
    return None


if __name__ == "__main__":
    main()
