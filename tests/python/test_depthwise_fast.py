"""The vectorised 3x3 depthwise kernels (DepthwiseConv2D, SeparableConv2D, Conv2D(groups=C)) through
the public API: the op against the independent numpy convolution and float64 finite differences
(the CI runs this file under every POCKETCNN_ISA), unequal 'same' padding at stride 2, and the
inference plan (with a folded BatchNormalization) against the layer-by-layer forward. The kernels
themselves are compared with the reference loops in tests/cpp/test_depthwise_fast.cpp."""

import numpy as np
import pytest
from gradcheck import check_grad
from test_conv_grouped import conv_numpy

import pocketcnn as pc

L = pc.layers

CASES = [
    # (C, multiplier, (H, W), stride, (top, bottom, left, right))
    (3, 1, (7, 8), (1, 1), (1, 1, 1, 1)),  # 'same'
    (2, 2, (8, 9), (2, 2), (0, 1, 1, 1)),  # 'same' at stride 2 (TensorFlow's unequal sides)
    (4, 1, (6, 19), (1, 2), (2, 2, 0, 0)),  # mixed strides, width above a vector
    (2, 3, (5, 5), (2, 1), (0, 0, 0, 0)),  # 'valid'
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES)
def test_depthwise3x3_against_numpy_and_finite_differences(case, threads):
    c, mult, (h, w), (sh, sw), pads = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, c, h, w))
    k = rng.standard_normal((c * mult, 1, 3, 3))
    b = rng.standard_normal(c * mult)
    top, bottom, left, right = pads

    def op(x_, k_, b_):
        return pc._core.conv2d_grouped(x_, k_, b_, sh, sw, top, left, bottom, right, 1, 1, c)

    saved = pc.get_num_threads()
    pc.set_num_threads(threads)
    try:
        check_grad(
            op,
            lambda x_, k_, b_: conv_numpy(x_, k_, b_, (sh, sw), pads, (1, 1), c),
            [x, k, b],
        )
    finally:
        pc.set_num_threads(saved)


def depthwise_net():
    return pc.Sequential(
        [
            L.Conv2D(6, 3, padding="same", input_shape=(1, 12, 12)),
            L.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False),
            L.BatchNormalization(),
            L.ReLU(),
            L.SeparableConv2D(8, 3, padding="same", activation="relu"),
            L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu"),
            L.GlobalAveragePooling2D(),
            L.Dense(3),
        ]
    )


def test_plan_and_training_forward_agree_with_numpy():
    model = depthwise_net()
    x = np.random.default_rng(1).standard_normal((5, 1, 12, 12)).astype(np.float32)
    y = np.random.default_rng(2).integers(0, 3, 5)
    model.compile("adam", "cross_entropy")
    model.fit(x, y, batch_size=5, epochs=2, verbose=0)  # moving statistics away from 0 / 1
    assert model._plans.get(model.layers) is not None, "the model should run as one plan"
    h = x.astype(np.float64)
    conv0, dw1, bn, _, sep, dw2 = model.layers[:6]
    h = conv_numpy(h, *[a.astype(np.float64) for a in conv0.get_weights()], (1, 1),
                   (1, 1, 1, 1), (1, 1), 1)  # fmt: skip
    h = conv_numpy(h, dw1.get_weights()[0].astype(np.float64), None, (2, 2), (0, 1, 0, 1),
                   (1, 1), 6)  # fmt: skip
    gamma, beta, mean, var = (a.astype(np.float64) for a in bn.get_weights())
    h = (h - mean[:, None, None]) / np.sqrt(var[:, None, None] + bn.epsilon)
    h = np.maximum(h * gamma[:, None, None] + beta[:, None, None], 0)
    dk, pk, pb = (a.astype(np.float64) for a in sep.get_weights())
    h = conv_numpy(h, dk, None, (1, 1), (1, 1, 1, 1), (1, 1), 6)
    h = np.maximum(conv_numpy(h, pk, pb, (1, 1), (0, 0, 0, 0), (1, 1), 1), 0)
    h = np.maximum(conv_numpy(h, *[a.astype(np.float64) for a in dw2.get_weights()], (1, 1),
                              (1, 1, 1, 1), (1, 1), 8), 0)  # fmt: skip
    dense_w, dense_b = model.layers[7].get_weights()
    want = h.mean(axis=(2, 3)) @ dense_w.T + dense_b
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-4, atol=1e-4)
    layer_by_layer = model._forward(pc.Tensor(x), False).numpy()
    np.testing.assert_allclose(layer_by_layer, want, rtol=1e-4, atol=1e-4)
