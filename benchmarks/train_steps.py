"""Where a suite network's training step goes, op by op (as plan_steps.py does for inference).

    python benchmarks/train_steps.py --networks conv7x7_rgb,conv5x5_rgb --threads 1

Each layer of the suite's model runs alone on a tensor of its input shape, through the autograd
tape, with the layer's weights and input marked as the step marks them (the first layer's input
needs no gradient). Per layer:
  fwd    the forward pass in training mode (what the tape saves included)
  dgrad  forward + backward with only the input needing a gradient, minus fwd (conv, dense)
  wgrad  forward + backward with only the weights needing gradients, minus fwd (conv, dense)
  bwd    forward + backward minus fwd (layers without weights: pooling, flatten)
then the loss (cross-entropy forward + backward) and the optimiser (SGD with momentum on every
parameter), and, to compare with their sum, the whole ``train_on_batch`` step. The differences
of medians are noisy on a loaded machine: take several runs.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import median_time
from networks import BY_NAME, batch
from suite_pocketcnn import LR, MOMENTUM, build

import pocketcnn as pc


def _backward(out) -> None:
    out.backward(pc.Tensor(np.ones(out.shape, np.float32)))


def _timed_pass(layer, x: np.ndarray, grad_x: bool, grad_w: bool, min_time: float):
    """(forward, forward + backward) seconds with the given tensors needing gradients."""
    for w in layer.weights:
        w.requires_grad = grad_w
    xt = pc.Tensor(x, requires_grad=grad_x)
    t_f = median_time(lambda: layer(xt, training=True), min_time)
    if not (grad_x or grad_w):
        return t_f, t_f
    t_fb = median_time(lambda: _backward(layer(xt, training=True)), min_time)
    for w in layer.weights:
        w.grad = None
    return t_f, t_fb


def layer_rows(model, x: np.ndarray, min_time: float) -> list[tuple[str, str, float]]:
    """(layer, part, seconds) for every layer of the model on its input shape."""
    rows = []
    h = x
    for i, layer in enumerate(model.layers):
        name = f"{i} {layer.type_name}"
        with pc.no_grad():
            out = np.array(layer(pc.Tensor(h), training=True))
        rng = np.random.default_rng(i)
        inp = rng.standard_normal(h.shape).astype(np.float32)
        if layer.weights:
            t_f, t_x = _timed_pass(layer, inp, True, False, min_time)
            _, t_w = _timed_pass(layer, inp, False, True, min_time)
            rows.append((name, "fwd", t_f))
            if i > 0:  # the step needs no gradient of the images
                rows.append((name, "dgrad", max(t_x - t_f, 0.0)))
            rows.append((name, "wgrad", max(t_w - t_f, 0.0)))
            for w in layer.weights:
                w.requires_grad = True
        else:
            t_f, t_fb = _timed_pass(layer, inp, True, False, min_time)
            rows.append((name, "fwd", t_f))
            rows.append((name, "bwd", max(t_fb - t_f, 0.0)))
        h = out
    return rows


def loss_and_optimiser_rows(model, logits: np.ndarray, y: np.ndarray, min_time: float):
    lt = pc.Tensor(logits, requires_grad=True)
    t_loss = median_time(lambda: pc.ops.cross_entropy(lt, y).backward(), min_time)
    params = [w for layer in model.layers for w in layer.weights]
    for p in params:
        p.grad = pc.Tensor(np.full(p.shape, 1e-6, np.float32))
    opt = pc.optim.SGD(LR, momentum=MOMENTUM)
    t_opt = median_time(lambda: opt.step(params), min_time)
    return [("loss", "fwd+bwd", t_loss), ("optimiser", "SGD momentum", t_opt)]


def report(net_name: str, batch_size: int | None, min_time: float) -> None:
    net = BY_NAME[net_name]
    n = batch_size or net.train_batch
    x, y = batch(net, n)
    model = build(net)
    model.compile(optimizer=pc.optim.SGD(LR, momentum=MOMENTUM), loss="cross_entropy")
    step = median_time(lambda: model.train_on_batch(x, y), min_time)
    with pc.no_grad():
        logits = np.array(model.predict(x, batch_size=n))
    rows = layer_rows(model, x, min_time) + loss_and_optimiser_rows(model, logits, y, min_time)
    total = sum(t for _, _, t in rows)
    print(f"\n{net.name}, batch {n}, {pc.get_num_threads()} thread(s)")
    print(f"train_on_batch: {step * 1e3:.2f} ms per step; the parts below sum to {total * 1e3:.2f}")
    print("| layer | part | ms | share of the sum |")
    print("|---|---|---|---|")
    for name, part, t in rows:
        print(f"| {name} | {part} | {t * 1e3:.2f} | {100 * t / total:.0f}% |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--networks", default="conv7x7_rgb,conv5x5_rgb,keras_cifar10")
    ap.add_argument("--batch", type=int, default=None, help="default: the network's train_batch")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=0.3)
    args = ap.parse_args()
    pc.set_num_threads(args.threads)
    for name in args.networks.split(","):
        if name not in BY_NAME:
            raise SystemExit(f"unknown network {name!r}; the suite has {list(BY_NAME)}")
        report(name, args.batch, args.min_time)


if __name__ == "__main__":
    main()
