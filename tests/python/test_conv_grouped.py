"""Conv2D(dilation_rate=, groups=), DepthwiseConv2D, SeparableConv2D: the grouped/dilated conv op
against an independent numpy convolution, gradients against float64 finite differences (the CI
runs this under every POCKETCNN_ISA and both thread counts below), layers, errors, saving."""

import numpy as np
import pytest
from gradcheck import check_grad

import pocketcnn as pc

L = pc.layers


def conv_numpy(x, w, b, stride, pads, dilation, groups):
    """Grouped, dilated cross-correlation by explicit windows (float64)."""
    (sh, sw), (top, bottom, left, right), (dh, dw) = stride, pads, dilation
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    eh, ew = (r - 1) * dh + 1, (s - 1) * dw + 1
    p, q = (h - eh) // sh + 1, (wd - ew) // sw + 1
    y = np.zeros((n, k, p, q))
    kg = k // groups
    for i in range(p):
        for j in range(q):
            win = x[:, :, i * sh : i * sh + eh : dh, j * sw : j * sw + ew : dw]  # (n, c, r, s)
            for g in range(groups):
                part = win[:, g * cg : (g + 1) * cg]
                wk = w[g * kg : (g + 1) * kg]
                y[:, g * kg : (g + 1) * kg, i, j] = np.einsum("ncrs,kcrs->nk", part, wk)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


CASES = [
    # (C, K, groups, kernel, stride, padding, dilation)
    (4, 6, 2, (3, 3), (1, 1), (1, 1), (1, 1)),
    (3, 3, 3, (3, 2), (2, 1), (0, 1), (1, 1)),  # depthwise
    (2, 4, 1, (3, 3), (1, 1), (2, 2), (2, 2)),  # dilated
    (6, 6, 3, (2, 3), (1, 2), (1, 0), (3, 1)),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES)
def test_grouped_dilated_conv_against_numpy(case, threads):
    c, k, groups, (r, s), stride, (ph, pw), dilation = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, c, 7, 8))
    w = rng.standard_normal((k, c // groups, r, s))
    b = rng.standard_normal(k)
    saved = pc.get_num_threads()
    pc.set_num_threads(threads)
    try:
        check_grad(
            lambda x_, w_, b_: pc.ops.conv2d(x_, w_, b_, stride, (ph, pw), dilation, groups),
            lambda x_, w_, b_: conv_numpy(x_, w_, b_, stride, (ph, ph, pw, pw), dilation, groups),
            [x, w, b],
        )
    finally:
        pc.set_num_threads(saved)


def test_same_padding_counts_the_dilated_extent():
    x = np.random.default_rng(1).standard_normal((1, 2, 9, 9)).astype(np.float32)
    w = np.random.default_rng(2).standard_normal((2, 2, 3, 3)).astype(np.float32)
    y = pc.ops.conv2d(x, w, padding="same", dilation=2)
    assert y.shape == (1, 2, 9, 9)
    want = conv_numpy(x, w, None, (1, 1), (2, 2, 2, 2), (2, 2), 1)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-5)


def mobile_net():
    return pc.Sequential(
        [
            L.Conv2D(4, 3, padding="same", dilation_rate=2, input_shape=(2, 9, 9)),
            L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="relu"),
            L.Conv2D(4, 1, groups=2),
            L.SeparableConv2D(5, 3, padding="same", activation="relu"),
            L.GlobalAveragePooling2D(),
            L.Dense(3),
        ]
    )


def test_layers_shapes_weights_forward_fit_and_save(tmp_path):
    model = mobile_net()
    dw, grouped, sep = model.layers[1], model.layers[2], model.layers[3]
    assert [layer.output_shape for layer in model.layers] == [
        (4, 9, 9), (8, 5, 5), (4, 5, 5), (5, 5, 5), (5,), (3,)
    ]  # fmt: skip
    assert dw.weights[0].shape == (8, 1, 3, 3) and grouped.weights[0].shape == (4, 4, 1, 1)
    assert [tuple(t.shape) for t in sep.weights] == [(4, 1, 3, 3), (5, 4, 1, 1), (5,)]
    x = np.random.default_rng(3).standard_normal((6, 2, 9, 9)).astype(np.float32)
    h = x.astype(np.float64)
    layer0 = model.layers[0]
    h = conv_numpy(h, *[a.astype(np.float64) for a in layer0.get_weights()], (1, 1),
                   (2, 2, 2, 2), (2, 2), 1)  # fmt: skip
    h = np.maximum(conv_numpy(h, *[a.astype(np.float64) for a in dw.get_weights()], (2, 2),
                              (1, 1, 1, 1), (1, 1), 4), 0)  # fmt: skip
    h = conv_numpy(h, *[a.astype(np.float64) for a in grouped.get_weights()], (1, 1),
                   (0, 0, 0, 0), (1, 1), 2)  # fmt: skip
    dk, pk, pb = (a.astype(np.float64) for a in sep.get_weights())
    h = conv_numpy(h, dk, None, (1, 1), (1, 1, 1, 1), (1, 1), 4)
    h = np.maximum(conv_numpy(h, pk, pb, (1, 1), (0, 0, 0, 0), (1, 1), 1), 0)
    dense_w, dense_b = model.layers[5].get_weights()
    want = h.mean(axis=(2, 3)) @ dense_w.T + dense_b
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-4, atol=1e-5)
    y = np.random.default_rng(4).integers(0, 3, 6)
    model.compile("adam", "cross_entropy")
    hist = model.fit(x, y, batch_size=3, epochs=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    model.save(tmp_path / "m.pcnn")
    loaded = pc.load_model(tmp_path / "m.pcnn")
    assert [a.get_config() for a in loaded.layers] == [a.get_config() for a in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_bad_groups_and_dilation_name_the_problem():
    with pytest.raises(ValueError, match="groups 3 must divide the 4 input channels"):
        pc.Sequential([L.Conv2D(6, 3, groups=3, input_shape=(4, 8, 8))])
    with pytest.raises(ValueError, match="groups 4 must divide filters 6"):
        L.Conv2D(6, 3, groups=4)
    with pytest.raises(ValueError, match="dilation_rate"):
        L.Conv2D(6, 3, dilation_rate=0)
    x = np.zeros((1, 4, 5, 5), np.float32)
    with pytest.raises(
        ValueError, match=r"groups 3 must divide the 4 input channels.*\(1, 4, 5, 5\)"
    ):
        pc.ops.conv2d(x, np.zeros((3, 1, 3, 3), np.float32), groups=3)
    with pytest.raises(ValueError, match=r"dilated kernel \(9, 9\) is larger"):
        pc.ops.conv2d(x, np.zeros((4, 4, 3, 3), np.float32), dilation=4)
