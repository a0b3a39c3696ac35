"""Where a suite network's inference time goes, step by step: model.predict of every prefix of
its layers (the same weights), each prefix's time minus the previous one's is what the next
layer adds (fused layers show up where the fusion ends: a conv's pool adds ~0).
A graph network (small_resnet) is timed per step of its graph plan instead (graph_plan_steps.py:
each chain / sum run alone on its real inputs).

    python benchmarks/plan_steps.py --network lenet5 --batch 256 --threads 1
    python benchmarks/plan_steps.py --network small_resnet --batch 1
"""

from __future__ import annotations

import argparse

import graph_plan_steps
from common import median_time
from networks import BY_NAME, Network, batch, forward_flops
from suite_pocketcnn import build

import pocketcnn as pc


def prefix(net: Network, k: int) -> Network:
    return Network(net.name, net.input_shape, net.train_batch, net.layers[:k], net.about)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--network", default="lenet5", choices=list(BY_NAME))
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=0.5)
    args = ap.parse_args()
    pc.set_num_threads(args.threads)
    net = BY_NAME[args.network]
    x, _ = batch(net, args.batch)
    if net.graph:
        graph_plan_steps.report(net, build(net), x, args.min_time)
        return
    print(f"{net.name}, batch {args.batch}, {args.threads} thread(s), us per image")
    before = 0.0
    for k in range(1, len(net.layers) + 1):
        sub = prefix(net, k)
        model = build(sub)
        t = median_time(lambda m=model: m.predict(x, batch_size=len(x)), args.min_time)
        per_image = t / args.batch * 1e6
        gflops = forward_flops(sub) * args.batch / t / 1e9
        print(
            f"{k:2d} {str(net.layers[k - 1]):40s} +{per_image - before:8.2f}  "
            f"total {per_image:8.2f}  ({gflops:.1f} GFLOP/s overall)"
        )
        before = per_image


if __name__ == "__main__":
    main()
