"""examples/separable_cnn.py on a Fashion-MNIST subset: DepthwiseConv2D (the vectorised 3x3
kernels, stride 1 and 2) + BatchNorm + pointwise Conv2D blocks train with the example's recipe.
Two epochs over 3,000 training images at a quarter of the width, scored on 2,000 test images:
>= 57% (measured 65.5%, ~21 s on one busy core; chance is 10%). The full run's figure
is in the README."""

import os
import sys

import numpy as np
import pytest

import pocketcnn as pc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
separable_cnn = pytest.importorskip("separable_cnn")


@pytest.mark.slow  # model training: once, not again per ISA
def test_separable_cnn_learns_fashion_mnist_subset(fashion_mnist):
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    x = x_train[:3000, None].astype(np.float32) / 255
    xt = x_test[:2000, None].astype(np.float32) / 255
    saved = pc.get_num_threads()
    pc.set_num_threads(1)
    try:
        model = separable_cnn.separable_cnn(widths=(8, 16, 32))
        kinds = [type(layer) for layer in model.layers]
        assert kinds.count(pc.layers.DepthwiseConv2D) == 6
        separable_cnn.train(model, x, y_train[:3000], epochs=2, batch_size=32, lr=4e-3, verbose=0)
        accuracy = model.evaluate(xt, y_test[:2000], batch_size=256)["accuracy"]
    finally:
        pc.set_num_threads(saved)
    assert accuracy >= 0.57, accuracy
