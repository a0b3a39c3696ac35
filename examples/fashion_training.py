"""What the Fashion-MNIST examples (small_resnet.py, separable_cnn.py) share: the data with a
validation split, light augmentation in numpy, a one-cycle learning rate per step, the training
loop and the command line.

Choices (learning rate, epochs, widths) are made on the validation split, held out of the training
images; the test set is scored once, at the end.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import pocketcnn as pc


def load(data_dir=None, train_samples: int | None = None, validation: int = 5000, seed: int = 0):
    """(x_train, y_train), (x_val, y_val), (x_test, y_test): float32 (N, 1, 28, 28) in [0, 1];
    ``validation`` images drawn at random (seeded) from the training set, the rest train."""
    (x, y), (x_test, y_test) = pc.datasets.fashion_mnist(data_dir)
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:validation], order[validation:]
    if train_samples is not None:
        train = train[:train_samples]

    def prep(images):
        return images[:, None].astype(np.float32) / 255

    return (prep(x[train]), y[train]), (prep(x[val]), y[val]), (prep(x_test), y_test)


def augment(x: np.ndarray, rng: np.random.Generator, pad: int = 2) -> np.ndarray:
    """A random shift of up to ``pad`` pixels (crop of the zero-padded image) and a random
    left-right flip per image: a new copy for every epoch (clothes stay clothes when mirrored)."""
    n, _, h, w = x.shape
    out = np.empty_like(x)
    for start in range(0, n, 4096):  # in chunks: the padded copy stays small
        part = x[start : start + 4096, 0]
        m = len(part)
        padded = np.pad(part, ((0, 0), (pad, pad), (pad, pad)))
        rows = rng.integers(0, 2 * pad + 1, m)[:, None] + np.arange(h)  # (m, h)
        cols = rng.integers(0, 2 * pad + 1, m)[:, None] + np.arange(w)  # (m, w)
        flip = rng.random(m) < 0.5
        cols[flip] = cols[flip, ::-1]
        out[start : start + m, 0] = padded[np.arange(m)[:, None, None], rows[:, :, None],
                                           cols[:, None, :]]  # fmt: skip
    return out


class OneCycle(pc.callbacks.Callback):
    """The learning rate per step: a linear warm-up from peak / 10 over the first ``warmup`` of
    the steps, then a cosine down to peak / 1000 at the last step (Smith's one-cycle policy)."""

    def __init__(self, peak: float, total_steps: int, warmup: float = 0.15):
        self.peak, self.total = float(peak), max(int(total_steps), 1)
        self.warm = max(int(warmup * self.total), 1)
        self.step = 0

    def lr(self, step: int) -> float:
        if step < self.warm:
            return self.peak * (0.1 + 0.9 * step / self.warm)
        t = min((step - self.warm) / max(self.total - self.warm, 1), 1.0)
        low = self.peak / 1000
        return low + (self.peak - low) * (1 + math.cos(math.pi * t)) / 2

    def on_batch_end(self, batch, logs=None):
        self.step += 1
        self.model.optimizer.lr = self.lr(self.step)


def train(model, x, y, epochs: int, batch_size: int, lr: float, val=None, augmentation=True,
          seed: int = 0, verbose=2, weight_decay: float = 5e-4):  # fmt: skip
    """AdamW with a one-cycle learning rate per step; each epoch sees a freshly augmented copy of
    the training images. Returns the validation accuracy after every epoch (empty without
    ``val``)."""
    steps = epochs * math.ceil(len(x) / batch_size)
    cycle = OneCycle(lr, steps)
    model.compile(pc.optim.AdamW(cycle.lr(0), weight_decay=weight_decay), "cross_entropy",
                  ["accuracy"])  # fmt: skip
    rng = np.random.default_rng(seed)
    val_accuracy = []
    for epoch in range(epochs):
        xe = augment(x, rng) if augmentation else x
        model.fit(xe, y, batch_size=batch_size, epochs=1, verbose=verbose, callbacks=[cycle],
                  seed=seed + epoch)  # fmt: skip
        if val is not None:
            val_accuracy.append(model.evaluate(val[0], val[1], batch_size=500)["accuracy"])
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}: validation accuracy {val_accuracy[-1]:.4f}")
    return val_accuracy


def arguments(description: str, epochs: int, lr: float) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=lr, help="the one-cycle peak")
    parser.add_argument("--train-samples", type=int, default=None, help="default: all 55,000")
    parser.add_argument("--validation", type=int, default=5000, help="held-out training images")
    parser.add_argument("--no-augmentation", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="Fashion-MNIST directory (Debian's default)")
    parser.add_argument("--out", default=None, help="save the trained model here")
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    return parser.parse_args()


def run(build, args: argparse.Namespace) -> None:
    """Trains build(seed=) as the command line says, prints validation and test accuracy."""
    if args.threads:
        pc.set_num_threads(args.threads)
    (x, y), val, (x_test, y_test) = load(args.data, args.train_samples, args.validation, args.seed)
    model = build(seed=args.seed)
    model.summary()
    start = time.perf_counter()
    train(model, x, y, args.epochs, args.batch_size, args.lr, val if len(val[0]) else None,
          not args.no_augmentation, args.seed)  # fmt: skip
    seconds = time.perf_counter() - start
    test = model.evaluate(x_test, y_test, batch_size=500)["accuracy"]
    print(f"test accuracy {test:.4f} after {args.epochs} epochs on {len(x)} images in "
          f"{seconds:.0f} s ({pc.get_num_threads()} threads)")  # fmt: skip
    if args.out:
        model.save(args.out)
