"""pocketcnn's side of the benchmark (run by run.py in a subprocess; prints one RESULT line).

Training: the lecture network written directly on ``pc.ops`` -- the same layers, loss and plain
SGD step as bench_torch.py / bench_jax.py -- so every library does the same work per step.
Inference and latency: ``pc.Sequential.predict`` on the same network and weights (what a user
calls; it runs the compiled, fused inference plan).
"""

from __future__ import annotations

import argparse

import numpy as np
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

import pocketcnn as pc
from pocketcnn import _core

ops = pc.ops


def forward(p, x):
    """Logits of the lecture network."""
    h = ops.conv2d(x, p["w1"], p["b1"])
    h = ops.max_pool2d(h, 2)
    h = ops.relu(ops.conv2d(h, p["w2"], p["b2"]))
    h = ops.max_pool2d(h, 2)
    h = ops.relu(ops.linear(ops.flatten(h), p["w3"], p["b3"]))
    return ops.linear(h, p["w4"], p["b4"])


def make_train_step(p, lr=0.01):
    params = list(p.values())

    def step(x, y):
        loss = ops.cross_entropy(forward(p, pc.Tensor(x)), y)
        for t in params:
            t.grad = None
        loss.backward()
        for t in params:
            _core.sgd_update(t, t.grad, None, lr, 0.0, 0.0, 0.0, False, False)
        return loss

    return step


def lecture_model() -> pc.Sequential:
    """The lecture network as a Keras-style model with the benchmark's weights."""
    model = pc.Sequential(
        [
            pc.layers.Conv2D(25, 3, input_shape=(1, 28, 28)),
            pc.layers.MaxPool2D(2),
            pc.layers.Conv2D(50, 3, activation="relu"),
            pc.layers.MaxPool2D(2),
            pc.layers.Flatten(),
            pc.layers.Dense(100, activation="relu"),
            pc.layers.Dense(10),
        ]
    )
    p = lecture_params()
    model.set_weights([p[k] for k in ["w1", "b1", "w2", "b2", "w3", "b3", "w4", "b4"]])
    return model


def tensors(requires_grad: bool):
    return {k: pc.Tensor(v, requires_grad=requires_grad) for k, v in lecture_params().items()}


def run(workloads, threads: int) -> dict:
    pc.set_num_threads(threads)
    out = {}
    if "train_b64" in workloads:
        step = make_train_step(tensors(True))
        x, y = lecture_batch(64)
        out["train_b64"] = median_time(lambda: step(x, y), min_time=1.0)
    if "infer_b256" in workloads or "latency_b1" in workloads:
        model = lecture_model()
        if "infer_b256" in workloads:
            x, _ = lecture_batch(256)
            out["infer_b256"] = median_time(lambda: model.predict(x, batch_size=256), 1.0)
        if "latency_b1" in workloads:
            x, _ = lecture_batch(1)
            out["latency_b1"] = median_time(
                lambda: model.predict(x, batch_size=1), min_time=0.5, min_runs=200
            )
    c = CONV64
    rng = np.random.default_rng(0)
    if {"conv_fwd", "conv_dgrad", "conv_wgrad"} & set(workloads):
        x = rng.standard_normal((c["N"], c["C"], c["H"], c["W"]), dtype=np.float32)
        w = (rng.standard_normal((c["K"], c["C"], c["R"], c["S"])) * 0.05).astype(np.float32)
        b = np.zeros(c["K"], np.float32)
        dy = rng.standard_normal((c["N"], c["K"], c["H"], c["W"]), dtype=np.float32)
        with pc.no_grad():
            if "conv_fwd" in workloads:
                out["conv_fwd"] = median_time(lambda: ops.conv2d(x, w, b, padding=c["pad"]), 1.0)
            if "conv_dgrad" in workloads:
                out["conv_dgrad"] = median_time(
                    lambda: _core._conv2d_backward(x, w, dy, 1, c["pad"], True, False), 1.0
                )
            if "conv_wgrad" in workloads:
                out["conv_wgrad"] = median_time(
                    lambda: _core._conv2d_backward(x, w, dy, 1, c["pad"], False, True), 1.0
                )
    if "pool" in workloads:
        x = rng.standard_normal(POOL_SHAPE, dtype=np.float32)
        with pc.no_grad():
            out["pool"] = median_time(lambda: ops.max_pool2d(x, 2), 1.0)
    return out


def memory(batch: int, steps: int) -> dict:
    """Peak RSS growth while training the lecture net (1 thread) over its RSS before training."""
    pc.set_num_threads(1)
    step = make_train_step(tensors(True))
    x, y = lecture_batch(batch)
    before = current_rss_mb()
    for _ in range(steps):
        step(x, y)
    return {"rss_before_mb": before, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--memory", type=int, default=0, help="batch size: measure peak memory only")
    args = ap.parse_args()
    if args.memory:
        emit(memory(args.memory, steps=5))
        return
    res = run(args.workloads.split(","), args.threads)
    res["fma_peak_gflops"] = _core._fma_peak(args.threads, 0.3)
    res["cpu_info"] = pc.cpu_info()
    emit(res)


if __name__ == "__main__":
    main()
