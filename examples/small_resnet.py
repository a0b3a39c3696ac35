"""Train a small ResNet (BatchNorm, residual blocks, global average pooling) on Fashion-MNIST.

    python examples/small_resnet.py --threads 2             # the README's figure
    python examples/small_resnet.py --epochs 1 --train-samples 3000   # a quick look

Built with the functional API (pc.Input, layers called on tensors, pc.layers.Add, pc.Model):
a 3x3 conv stem, then residual stages of 16, 32 and 64 channels (the second and third start
with a stride-2 block whose shortcut is a 1x1 conv), global average pooling and a softmax.
Trained with AdamW, a one-cycle learning rate and random shifts / flips (fashion_training.py);
prints the validation accuracy per epoch, then the test accuracy and the training time.
"""

from __future__ import annotations

from fashion_training import arguments, run, train

import pocketcnn as pc

L = pc.layers

__all__ = ["small_resnet", "train"]

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


if __name__ == "__main__":
    run(small_resnet, arguments(__doc__.split("\n\n")[0], epochs=4, lr=4e-3))
