"""examples/small_resnet.py on a Fashion-MNIST subset: the functional API, BatchNorm, residual
Adds and global average pooling train together with the example's own recipe (AdamW, one-cycle
learning rate, random shifts / flips). Two epochs over 3,000 training images at half the
width, scored on 2,000 test images: >= 62% (measured 70.3%, ~25 s on one busy core; chance is
10%). The full run's figure is in the README."""

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
        small_resnet.train(model, x, y_train[:3000], epochs=2, batch_size=32, lr=4e-3, verbose=0)
        accuracy = model.evaluate(xt, y_test[:2000], batch_size=256)["accuracy"]
    finally:
        pc.set_num_threads(saved)
    assert accuracy >= 0.62, accuracy


def test_augmentation_shifts_and_flips_within_bounds():
    import fashion_training

    x = np.zeros((64, 1, 28, 28), np.float32)
    x[:, 0, 10:18, 4:9] = 1.0  # an off-centre block: shifts and mirror images are visible
    out = fashion_training.augment(x, np.random.default_rng(0), pad=2)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.all(out.sum(axis=(1, 2, 3)) == 40)  # the block never leaves the image
    cols = [set(np.nonzero(img[0].any(axis=0))[0]) for img in out]
    assert any(min(c) < 12 for c in cols) and any(min(c) > 14 for c in cols)  # kept and mirrored
    assert len({(min(c), min(np.nonzero(img[0].any(axis=1))[0])) for c, img in zip(cols, out)}) > 5


def test_one_cycle_warms_up_then_anneals():
    import fashion_training

    cycle = fashion_training.OneCycle(1e-2, 100)
    lrs = [cycle.lr(s) for s in range(101)]
    assert lrs[0] == pytest.approx(1e-3) and max(lrs) == pytest.approx(1e-2)
    peak = lrs.index(max(lrs))
    assert 10 <= peak <= 20
    assert all(a <= b for a, b in zip(lrs[:peak], lrs[1 : peak + 1]))
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1 :]))
    assert lrs[-1] == pytest.approx(1e-5)
