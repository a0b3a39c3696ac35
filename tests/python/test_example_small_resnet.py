"""examples/small_resnet.py on a Fashion-MNIST subset: the functional API, BatchNorm, residual
Adds and global average pooling train together. Two epochs over 3,000 training images, scored
on 2,000 test images: >= 70% (measured 74.5%, ~30 s on one busy core; chance is 10%). The full
run's figure is in the README."""

import os
import sys

import numpy as np
import pytest

import pocketcnn as pc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
small_resnet = pytest.importorskip("small_resnet")


@pytest.mark.slow  # model training: once, not again per ISA
def test_small_resnet_learns_fashion_mnist_subset(fashion_mnist):
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    x = x_train[:3000, None].astype(np.float32) / 255
    xt = x_test[:2000, None].astype(np.float32) / 255
    saved = pc.get_num_threads()
    pc.set_num_threads(1)
    try:
        model = small_resnet.small_resnet(widths=(8, 16, 32))
        assert isinstance(model, pc.Model)
        assert sum(isinstance(layer, pc.layers.Add) for layer in model.layers) == 3
        small_resnet.train(model, x, y_train[:3000], epochs=2, batch_size=32, lr=3e-3, verbose=0)
        accuracy = model.evaluate(xt, y_test[:2000], batch_size=256)["accuracy"]
    finally:
        pc.set_num_threads(saved)
    assert accuracy >= 0.70, accuracy
