"""Train a depthwise-separable CNN (MobileNet-style blocks) on Fashion-MNIST.

    python examples/separable_cnn.py --threads 2            # the README's figure
    python examples/separable_cnn.py --epochs 1 --train-samples 3000   # a quick look

A 3x3 conv stem, then MobileNet v1 blocks -- a 3x3 DepthwiseConv2D (one filter per channel,
stride 1 or 2) + BatchNorm + ReLU, a 1x1 Conv2D mixing the channels + BatchNorm + ReLU -- at
32, 64 and 128 channels, global average pooling and a softmax. The depthwise convolutions run
the vectorised 3x3 depthwise kernels (cpp/src/kernels/depthwise/). Trained like small_resnet.py
(fashion_training.py): AdamW, one-cycle learning rate, random shifts / flips.
"""

from __future__ import annotations

from fashion_training import arguments, run, train

import pocketcnn as pc

L = pc.layers

__all__ = ["separable_cnn", "train"]

BN_MOMENTUM = 0.9  # as small_resnet.py: statistics that follow short runs


def bn_relu(x):
    return L.ReLU()(L.BatchNormalization(momentum=BN_MOMENTUM)(x))


def separable_block(x, filters: int, strides: int = 1):
    """Depthwise 3x3 (spatial, per channel) then pointwise 1x1 (across channels), each followed
    by BatchNorm + ReLU: MobileNet v1's block, ~8x fewer multiply-adds than a 3x3 Conv2D."""
    x = bn_relu(L.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x))
    return bn_relu(L.Conv2D(filters, 1, use_bias=False)(x))


def separable_cnn(widths=(32, 64, 128), input_shape=(1, 28, 28), classes: int = 10,
                  seed: int = 0):  # fmt: skip
    x = inputs = pc.Input(input_shape)
    x = bn_relu(L.Conv2D(widths[0], 3, padding="same", use_bias=False)(x))
    for stage, filters in enumerate(widths):
        x = separable_block(x, filters, strides=1 if stage == 0 else 2)
        x = separable_block(x, filters)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(classes, activation="softmax")(x)
    return pc.Model(inputs, outputs, name="separable_cnn", seed=seed)


if __name__ == "__main__":
    run(separable_cnn, arguments(__doc__.split("\n\n")[0], epochs=4, lr=4e-3))
