"""Train a small ResNet (BatchNorm, residual blocks, global average pooling) on Fashion-MNIST.

    python examples/small_resnet.py --epochs 10
    python examples/small_resnet.py --epochs 1 --train-samples 3000   # a quick look

Built with the functional API (pc.Input, layers called on tensors, pc.layers.Add, pc.Model):
a 3x3 conv stem, then residual stages of 16, 32 and 64 channels (the second and third start
with a stride-2 block whose shortcut is a 1x1 conv), global average pooling and a softmax.
Prints the test accuracy and the training time; --out saves the model.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import pocketcnn as pc

L = pc.layers


# Moving statistics: 0.9 (PyTorch's 0.1) rather than Keras' 0.99, so that short runs (the CI's
# few hundred steps) end with statistics that describe the trained network.
BN_MOMENTUM = 0.9


def conv_bn(x, filters: int, strides: int = 1, relu: bool = True):
    """Conv (no bias: the batch norm's beta is the shift) + BatchNorm (+ ReLU)."""
    x = L.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = L.BatchNormalization(momentum=BN_MOMENTUM)(x)
    return L.ReLU()(x) if relu else x


def residual_block(x, filters: int, strides: int = 1):
    """Two conv-BN layers added to the input (or to a 1x1 projection when the shape changes),
    then ReLU: the basic block of ResNet-20's family."""
    y = conv_bn(x, filters, strides)
    y = conv_bn(y, filters, relu=False)
    shortcut = x
    if strides != 1 or x.shape[1] != filters:
        shortcut = L.Conv2D(filters, 1, strides=strides, use_bias=False)(x)
        shortcut = L.BatchNormalization(momentum=BN_MOMENTUM)(shortcut)
    return L.ReLU()(L.Add()([shortcut, y]))


def small_resnet(widths=(16, 32, 64), input_shape=(1, 28, 28), classes: int = 10, seed: int = 0):
    x = inputs = pc.Input(input_shape)
    x = conv_bn(x, widths[0])
    for stage, filters in enumerate(widths):
        x = residual_block(x, filters, strides=1 if stage == 0 else 2)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(classes, activation="softmax")(x)
    return pc.Model(inputs, outputs, name="small_resnet", seed=seed)


def load(data_dir, train_samples: int | None):
    (x_train, y_train), (x_test, y_test) = pc.datasets.fashion_mnist(data_dir)
    x_train = x_train[:train_samples, None].astype(np.float32) / 255
    x_test = x_test[:, None].astype(np.float32) / 255
    return (x_train, y_train[:train_samples]), (x_test, y_test)


def train(model, x, y, epochs: int, batch_size: int, lr: float, verbose=2):
    """Adam with a cosine-decayed learning rate; returns the History."""
    model.compile(pc.optim.Adam(pc.optim.CosineDecay(lr, max(epochs, 1), lr / 50)),
                  "cross_entropy", ["accuracy"])  # fmt: skip
    return model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--train-samples", type=int, default=None, help="default: all 60,000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="Fashion-MNIST directory (Debian's default)")
    parser.add_argument("--out", default=None, help="save the trained model here")
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    args = parser.parse_args()
    if args.threads:
        pc.set_num_threads(args.threads)

    (x_train, y_train), (x_test, y_test) = load(args.data, args.train_samples)
    model = small_resnet(seed=args.seed)
    model.summary()
    start = time.perf_counter()
    train(model, x_train, y_train, args.epochs, args.batch_size, args.lr)
    seconds = time.perf_counter() - start
    logs = model.evaluate(x_test, y_test, batch_size=256)
    print(f"test accuracy {logs['accuracy']:.4f} after {args.epochs} epochs on {len(x_train)} "
          f"images in {seconds:.0f} s ({pc.get_num_threads()} threads)")  # fmt: skip
    if args.out:
        model.save(args.out)


if __name__ == "__main__":
    main()
