"""JAX/XLA's side of the benchmark (run by run.py in a subprocess pinned to `threads` CPUs, since
XLA sizes its thread pool from the CPUs it may use; prints one RESULT line). NHWC, jit-compiled,
the same network and work as bench_pocketcnn.py."""

from __future__ import annotations

import argparse
import os

from common import WORKLOADS, emit, lecture_batch, lecture_params, median_time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    args = ap.parse_args()
    os.sched_setaffinity(0, set(range(args.threads)))
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_platforms", "cpu")
    p = {k: jnp.asarray(v) for k, v in lecture_params().items()}
    # NHWC / HWIO, XLA's preferred CPU layouts.
    p["w1"] = jnp.transpose(p["w1"], (2, 3, 1, 0))
    p["w2"] = jnp.transpose(p["w2"], (2, 3, 1, 0))

    def conv(x, w, b):
        y = jax.lax.conv_general_dilated(
            x, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return y + b

    def pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def forward(p, x):
        h = pool(conv(x, p["w1"], p["b1"]))
        h = pool(jax.nn.relu(conv(h, p["w2"], p["b2"])))
        h = h.reshape(h.shape[0], -1)
        h = jax.nn.relu(h @ p["w3"].T + p["b3"])
        return h @ p["w4"].T + p["b4"]

    def loss_fn(p, x, y):
        logits = forward(p, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    @jax.jit
    def train_step(p, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        return jax.tree_util.tree_map(lambda a, b: a - 0.01 * b, p, g), loss

    infer = jax.jit(forward)
    workloads = args.workloads.split(",")
    out = {}

    def nhwc(x):
        return jnp.asarray(x.transpose(0, 2, 3, 1))

    if "train_b64" in workloads:
        x, y = lecture_batch(64)
        xj, yj = nhwc(x), jnp.asarray(y.astype("int32"))
        state = {"p": p}

        def step():
            state["p"], loss = train_step(state["p"], xj, yj)
            loss.block_until_ready()

        out["train_b64"] = median_time(step, min_time=1.0)
    if "infer_b256" in workloads:
        xj = nhwc(lecture_batch(256)[0])
        out["infer_b256"] = median_time(lambda: infer(p, xj).block_until_ready(), min_time=1.0)
    if "latency_b1" in workloads:
        xj = nhwc(lecture_batch(1)[0])
        out["latency_b1"] = median_time(
            lambda: infer(p, xj).block_until_ready(), min_time=0.5, min_runs=200
        )
    out["version"] = jax.__version__
    emit(out)


if __name__ == "__main__":
    main()
