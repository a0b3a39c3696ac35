"""padding='same' pooling, ZeroPadding2D, GlobalAverage/MaxPooling2D, Reshape: forward against
independent numpy code, gradients against float64 finite differences, layers in the inference
plan equal to their layer-by-layer forward, configs and saving. Run under every POCKETCNN_ISA by
the CI."""

import numpy as np
import pytest
from gradcheck import check_grad

import pocketcnn as pc
from pocketcnn import _inference


def tf_same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def pool_same_numpy(x, k, s, is_max):
    """Keras/TensorFlow padding='same' pooling: windows clipped to the input (max ignores the
    padding, the mean divides by the real elements)."""
    n, c, h, w = x.shape
    p, top, _ = tf_same_pads(h, k[0], s[0])
    q, left, _ = tf_same_pads(w, k[1], s[1])
    y = np.empty((n, c, p, q))
    for i in range(p):
        for j in range(q):
            h0, w0 = i * s[0] - top, j * s[1] - left
            win = x[:, :, max(h0, 0) : h0 + k[0], max(w0, 0) : w0 + k[1]]
            y[:, :, i, j] = win.max(axis=(2, 3)) if is_max else win.mean(axis=(2, 3))
    return y


CASES = [((5, 5), (2, 2), (2, 2)), ((7, 6), (3, 3), (2, 2)), ((6, 6), (3, 3), (1, 1)),
         ((5, 8), (2, 3), (1, 2)), ((4, 4), (2, 2), (2, 2))]  # fmt: skip


@pytest.mark.parametrize("hw,k,s", CASES)
@pytest.mark.parametrize("is_max", [True, False])
def test_same_pooling_matches_numpy_and_its_gradient(hw, k, s, is_max):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, *hw))

    def pc_fn(t):
        if is_max:
            return pc.ops.max_pool2d(t, k, s, padding="same")
        return pc.ops.avg_pool2d(t, k, s, padding="same", count_include_pad=False)

    check_grad(pc_fn, lambda a: pool_same_numpy(a, k, s, is_max), [x])


@pytest.mark.parametrize("padding", [1, (2, 0), ((0, 3), (1, 2))])
def test_zero_pad2d_matches_np_pad_and_its_gradient(padding):
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5))
    if isinstance(padding, int):
        widths = ((padding, padding), (padding, padding))
    elif isinstance(padding[0], int):
        widths = ((padding[0],) * 2, (padding[1],) * 2)
    else:
        widths = padding
    check_grad(
        lambda t: pc.ops.zero_pad2d(t, padding),
        lambda a: np.pad(a, ((0, 0), (0, 0), *widths)),
        [x],
    )


def test_bad_padding_arguments():
    x = np.zeros((1, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        pc.ops.zero_pad2d(x, -1)
    with pytest.raises(ValueError, match="must be 4-D"):
        pc.ops.zero_pad2d(np.zeros((3, 3)), 1)
    with pytest.raises(ValueError, match="'same' or 'valid'"):
        pc.ops.max_pool2d(x, 2, padding="full")
    with pytest.raises(ValueError, match="target_shape"):
        pc.layers.Reshape((2, -1, -1))
    with pytest.raises(ValueError, match=r"cannot reshape \(2, 3, 3\)"):
        pc.Sequential([pc.layers.Reshape((4, 4), input_shape=(2, 3, 3))])
    with pytest.raises(ValueError, match="GlobalAveragePooling2D expects"):
        pc.Sequential([pc.layers.GlobalAveragePooling2D(input_shape=(4,))])


def graph_net():
    return pc.Sequential(
        [
            pc.layers.ZeroPadding2D(((1, 0), (2, 1)), input_shape=(2, 7, 7)),
            pc.layers.Conv2D(4, 3, activation="relu"),
            pc.layers.MaxPool2D(2, padding="same"),
            pc.layers.AvgPool2D(3, strides=1, padding="same", count_include_pad=False),
            pc.layers.Reshape((4, 12)),
            pc.layers.Reshape((4, 3, 4)),
            pc.layers.GlobalMaxPooling2D(keepdims=True),
            pc.layers.Reshape((-1,)),
            pc.layers.Dense(3),
        ]
    )


def test_output_shapes_and_the_plan_equal_the_layer_by_layer_forward():
    model = graph_net()
    shapes = [layer.output_shape for layer in model.layers]
    assert shapes == [(2, 8, 10), (4, 6, 8), (4, 3, 4), (4, 3, 4), (4, 12), (4, 3, 4),
                      (4, 1, 1), (4,), (3,)]  # fmt: skip
    plan = _inference.build_plan(model.layers)
    assert plan is not None
    x = np.random.default_rng(2).standard_normal((5, 2, 7, 7)).astype(np.float32)
    with pc.no_grad():
        want = model._forward(pc.Tensor(x), training=False).numpy()
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-5, atol=1e-6)


def test_global_pooling_against_numpy():
    x = np.random.default_rng(3).standard_normal((4, 3, 5, 6)).astype(np.float32)
    for layer, ref in (
        (pc.layers.GlobalAveragePooling2D(input_shape=(3, 5, 6)), x.mean(axis=(2, 3))),
        (pc.layers.GlobalMaxPooling2D(input_shape=(3, 5, 6)), x.max(axis=(2, 3))),
    ):
        model = pc.Sequential([layer])
        assert layer.output_shape == (3,)
        np.testing.assert_allclose(model.predict(x), ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer(pc.Tensor(x)).numpy(), ref, rtol=1e-5, atol=1e-6)


def test_global_average_pooling_gradient():
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5))
    layer = pc.layers.GlobalAveragePooling2D(input_shape=(3, 4, 5))
    pc.Sequential([layer])
    check_grad(lambda t: layer(t), lambda a: a.mean(axis=(2, 3)), [x])


def test_trains_and_saves_with_the_new_layers(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 2, 7, 7)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    model = graph_net()
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.pcnn")
    loaded = pc.load_model(tmp_path / "m.pcnn")
    assert [a.get_config() for a in loaded.layers] == [a.get_config() for a in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
