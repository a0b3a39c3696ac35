"""PyTorch's side of the benchmark (run by run.py in a subprocess with the tuned-malloc environment;
prints one RESULT line). ``--layout nchw`` or ``channels_last``: the same network and work as
bench_pocketcnn.py."""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from common import (
    CONV64,
    POOL_SHAPE,
    WORKLOADS,
    current_rss_mb,
    emit,
    lecture_batch,
    lecture_params,
    median_time,
    peak_rss_mb,
)


def build(channels_last: bool):
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 25, 3),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(25, 50, 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(1250, 100),
        torch.nn.ReLU(),
        torch.nn.Linear(100, 10),
    )
    p = lecture_params()
    with torch.no_grad():
        for layer, i in zip([net[0], net[2], net[6], net[8]], "1234"):
            layer.weight.copy_(torch.from_numpy(p["w" + i]))
            layer.bias.copy_(torch.from_numpy(p["b" + i]))
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


def as_input(x: np.ndarray, channels_last: bool) -> torch.Tensor:
    t = torch.from_numpy(x)
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t


def make_train_step(net, lr=0.01):
    opt = torch.optim.SGD(net.parameters(), lr=lr)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def run(workloads, threads: int, channels_last: bool) -> dict:
    torch.set_num_threads(threads)
    out = {}
    net = build(channels_last)
    if "train_b64" in workloads:
        step = make_train_step(net)
        x, y = lecture_batch(64)
        xt, yt = as_input(x, channels_last), torch.from_numpy(y)
        out["train_b64"] = median_time(lambda: step(xt, yt), min_time=1.0)
    with torch.inference_mode():
        if "infer_b256" in workloads:
            xt = as_input(lecture_batch(256)[0], channels_last)
            out["infer_b256"] = median_time(lambda: net(xt), min_time=1.0)
        if "latency_b1" in workloads:
            xt = as_input(lecture_batch(1)[0], channels_last)
            out["latency_b1"] = median_time(lambda: net(xt), min_time=0.5, min_runs=200)
    c = CONV64
    rng = np.random.default_rng(0)
    if {"conv_fwd", "conv_dgrad", "conv_wgrad"} & set(workloads):
        x = as_input(
            rng.standard_normal((c["N"], c["C"], c["H"], c["W"]), dtype=np.float32), channels_last
        )
        w = torch.from_numpy((rng.standard_normal((c["K"], c["C"], 3, 3)) * 0.05).astype("f"))
        if channels_last:
            w = w.contiguous(memory_format=torch.channels_last)
        b = torch.zeros(c["K"])
        dy = as_input(
            rng.standard_normal((c["N"], c["K"], c["H"], c["W"]), dtype=np.float32), channels_last
        )
        pad = c["pad"]

        def backward(mask):
            return torch.ops.aten.convolution_backward(
                dy, x, w, [c["K"]], [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, mask
            )

        with torch.inference_mode():
            if "conv_fwd" in workloads:
                out["conv_fwd"] = median_time(lambda: F.conv2d(x, w, b, padding=pad), 1.0)
            if "conv_dgrad" in workloads:
                out["conv_dgrad"] = median_time(lambda: backward([True, False, False]), 1.0)
            if "conv_wgrad" in workloads:
                out["conv_wgrad"] = median_time(lambda: backward([False, True, True]), 1.0)
    if "pool" in workloads:
        x = as_input(rng.standard_normal(POOL_SHAPE, dtype=np.float32), channels_last)
        with torch.inference_mode():
            out["pool"] = median_time(lambda: F.max_pool2d(x, 2), 1.0)
    return out


def memory(batch: int, steps: int, channels_last: bool) -> dict:
    torch.set_num_threads(1)
    net = build(channels_last)
    step = make_train_step(net)
    x, y = lecture_batch(batch)
    xt, yt = as_input(x, channels_last), torch.from_numpy(y)
    before = current_rss_mb()
    for _ in range(steps):
        step(xt, yt)
    return {"rss_before_mb": before, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layout", choices=["nchw", "channels_last"], default="nchw")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--memory", type=int, default=0)
    args = ap.parse_args()
    cl = args.layout == "channels_last"
    if args.memory:
        emit(memory(args.memory, 5, cl))
        return
    res = run(args.workloads.split(","), args.threads, cl)
    res["version"] = torch.__version__
    emit(res)


if __name__ == "__main__":
    main()
