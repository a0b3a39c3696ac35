"""Layers and Sequential without real training: shapes, summary, weights, init, forward."""

import math

import numpy as np
import pytest
from models import blobs, compiled_tiny, lecture_model, tiny_model

import pocketcnn as pc

L = pc.layers


def test_lecture_summary_counts(capsys):
    model = lecture_model()
    model.summary()
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if "(None" in line}
    assert rows["conv2d"].rstrip().endswith(" 250") and "(None, 25, 26, 26)" in rows["conv2d"]
    assert rows["conv2d_1"].rstrip().endswith(" 11,300")
    assert rows["max_pool2d_1"].rstrip().endswith(" 0") and "(None, 50, 5, 5)" in out
    assert rows["dense"].rstrip().endswith(" 125,100") and "(None, 1250)" in out
    assert rows["dense_1"].rstrip().endswith(" 1,010")
    assert "Total params: 137,660" in out
    # weight sharing: a Dense layer 784 -> 16,900 would need 784*16,900 + 16,900 parameters
    assert "13,266,500 params as Dense, 250 as Conv2D" in out
    assert "25,567,300 params as Dense, 11,300 as Conv2D" in out
    assert [layer.count_params() for layer in model.layers] == [250, 0, 11300, 0, 0, 125100, 1010]
    assert model.count_params() == 137660 and model.output_shape == (None, 10)


def test_shapes_inferred_without_input_shape_and_built_on_first_use():
    model = pc.Sequential([L.Conv2D(2, 3, strides=2, padding="same"), L.Flatten(), L.Dense(3)])
    assert not model.built and model.input_shape is None
    with pytest.raises(ValueError, match="input shape is unknown"):
        model.summary()
    out = model.predict(np.zeros((2, 1, 7, 7), np.float32))
    assert out.shape == (2, 3) and model.layers[0].output_shape == (2, 4, 4)


@pytest.mark.parametrize(
    "layers,match",
    [
        (
            [L.Conv2D(4, 3, input_shape=(1, 10, 10)), L.Dense(5)],
            r"layer 1 'dense' \(Dense\) cannot take input of shape \(None, 4, 8, 8\).*Flatten",
        ),
        (
            [L.Conv2D(4, 3, input_shape=(1, 10, 10)), L.MaxPool2D(2), L.Conv2D(4, 7)],
            r"layer 2 'conv2d_1' \(Conv2D\) .*\(None, 4, 4, 4\).*7x7 kernel",
        ),
        (
            [L.Dense(4, input_shape=(16,)), L.Conv2D(2, 3)],
            r"layer 1 'conv2d' .*\(None, 4\).*channels, height, width",
        ),
        ([L.Conv2D(4, 3, input_shape=(1, 10, 10)), L.MaxPool2D(16)], r"16x16 window.*8x8"),
    ],
)
def test_first_misfit_layer_is_named_with_shapes(layers, match):
    with pytest.raises(ValueError, match=match):
        pc.Sequential(layers)


def test_add_builds_incrementally_and_rejects_misfits():
    model = pc.Sequential()
    model.add(L.Conv2D(3, 3, input_shape=(2, 6, 6)))
    assert model.layers[0].built and model.output_shape == (None, 3, 4, 4)
    with pytest.raises(ValueError, match="'dense'"):
        model.add(L.Dense(2))
    assert len(model.layers) == 1  # the misfit was not kept
    model.add(L.Flatten())
    model.add(L.Dense(2))
    assert model.output_shape == (None, 2)
    with pytest.raises(TypeError, match="layer"):
        model.add("dense")


def test_conv_padding_variants_match_the_op():
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32)
    for kwargs in [
        {"padding": "valid"},
        {"padding": "same"},
        {"padding": "same", "strides": 2},
        {"padding": 1, "strides": (2, 1)},
        {"padding": (2, 0), "kernel_size": (5, 3)},
    ]:
        kwargs = {"kernel_size": 3, **kwargs}
        layer = L.Conv2D(4, input_shape=(3, 9, 9), **kwargs)
        model = pc.Sequential([layer])
        out = model.predict(x)
        kernel, bias = layer.get_weights()
        want = pc.ops.conv2d(
            x, kernel, bias, stride=kwargs.get("strides", 1), padding=kwargs["padding"]
        )
        np.testing.assert_array_equal(out, np.asarray(want))
        assert out.shape[1:] == layer.output_shape


def test_initialisation_is_seeded_he_for_relu_glorot_otherwise():
    a, b, c = lecture_model(seed=1), lecture_model(seed=1), lecture_model(seed=2)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])
    k0 = a.layers[0].get_weights()[0]  # no activation: Glorot, fan_in 9, fan_out 225
    k1 = a.layers[2].get_weights()[0]  # relu: He, fan_in 225
    assert k0.shape == (25, 1, 3, 3) and k1.shape == (50, 25, 3, 3)
    assert np.abs(k0).max() <= math.sqrt(6 / (9 + 225)) and np.abs(k0).max() > 0.9 * math.sqrt(
        6 / (9 + 225)
    )
    assert np.abs(k1).max() <= math.sqrt(6 / 225) and np.abs(k1).max() > 0.9 * math.sqrt(6 / 225)
    assert np.all(a.layers[0].get_weights()[1] == 0)
    dense = a.layers[5].get_weights()[0]
    assert dense.shape == (100, 1250)
    assert all(w.requires_grad for w in a.weights)


def test_get_set_weights_shape_checked():
    model = tiny_model()
    conv = model.layers[0]
    kernel, bias = conv.get_weights()
    kernel[...] = 0.5
    conv.set_weights([kernel, bias])
    np.testing.assert_array_equal(np.asarray(conv.weights[0]), kernel)
    kernel[...] = 0.25  # get_weights returned a copy: the layer is unaffected
    assert np.asarray(conv.weights[0]).max() == 0.5
    with pytest.raises(ValueError, match=r"kernel must have shape \(4, 1, 3, 3\), got \(4, 1, 3\)"):
        conv.set_weights([kernel[..., 0], bias])
    with pytest.raises(ValueError, match="expected 2 arrays"):
        conv.set_weights([kernel])
    with pytest.raises(RuntimeError, match="not built"):
        L.Dense(3).set_weights([np.zeros((3, 3))])
    with pytest.raises(ValueError, match="expected 6 arrays"):
        model.set_weights(model.get_weights()[:-1])


def test_fused_softmax_loss_stays_finite_and_predict_returns_probabilities():
    model = pc.Sequential([L.Dense(3, activation="softmax", input_shape=(2,))])
    model.compile("sgd", "cross_entropy")
    model.layers[0].set_weights([np.array([[100, 0], [0, 0], [-100, 0]]), np.zeros(3)])
    x = np.array([[5.0, 0.0]], np.float32)  # logits 500, 0, -500: softmax underflows to 0
    p = model.predict(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert p[0, 2] == 0.0  # log(p[2]) would be -inf ...
    loss = model.evaluate(x, np.array([2]))["loss"]
    assert loss == pytest.approx(1000.0, rel=1e-5)  # ... the fused loss is exact: 500 - (-500)


def test_model_call_records_graph_and_predict_does_not():
    model = tiny_model()
    x, _ = blobs(5)
    out = model(x)
    assert out.grad_fn is not None
    with pc.no_grad():
        assert model(x).grad_fn is None
    np.testing.assert_allclose(model.predict(x, batch_size=2), np.asarray(out), rtol=1e-6)


def test_dropout_only_in_training():
    model = compiled_tiny(dropout=0.5)
    x, y = blobs(16)
    a, b = model.predict(x), model.predict(x)
    np.testing.assert_array_equal(a, b)
    train_out = np.asarray(model(x, training=True))
    assert not np.allclose(train_out, a)
    with pytest.raises(ValueError, match="rate"):
        L.Dropout(1.0)


def test_activation_layers():
    x = np.array([[-1.0, 0.0, 2.0]], np.float32)
    relu = pc.Sequential([L.ReLU(input_shape=(3,))]).predict(x)
    np.testing.assert_array_equal(relu, [[0, 0, 2]])
    sm = pc.Sequential([L.Softmax(input_shape=(3,))]).predict(x)
    np.testing.assert_allclose(sm, np.exp(x) / np.exp(x).sum(), rtol=1e-6)
    th = pc.Sequential([L.Activation("tanh", input_shape=(3,))]).predict(x)
    np.testing.assert_allclose(th, np.tanh(x), rtol=1e-6)
    with pytest.raises(ValueError, match="unknown activation 'mish'"):
        L.Activation("mish")


def test_avg_pool_layer():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    out = pc.Sequential([L.AvgPool2D(2, input_shape=(1, 4, 4))]).predict(x)
    np.testing.assert_allclose(out[0, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_metrics_top_k_and_mse_with_labels():
    from pocketcnn import losses

    name, top2 = losses.resolve_metric("top_2")
    assert name == "top_2_accuracy"
    out = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    assert top2(out, np.array([2, 2, 0])) == 1  # only the first: 2 is second largest there
    assert losses.resolve_metric("top_k")[0] == "top_5_accuracy"
    model = tiny_model()
    model.compile("adam", "mse", ["accuracy"])
    x, y = blobs(12)
    logs = model.evaluate(x, y)
    p = model.predict(x)
    assert logs["loss"] == pytest.approx(np.mean((p - np.eye(3)[y]) ** 2), rel=1e-5)
    with pytest.raises(ValueError, match="unknown metric"):
        model.compile("adam", "mse", ["f1"])
    with pytest.raises(ValueError, match="unknown loss"):
        model.compile("adam", "hinge")
