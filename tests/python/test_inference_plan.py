"""Sequential.predict/evaluate run a compiled, fused plan; it must equal the layer-by-layer pass."""

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn import _inference
from pocketcnn.layers import Layer


def lecture_net(**conv_kwargs):
    model = pc.Sequential(
        [
            pc.layers.Conv2D(25, 3, input_shape=(1, 28, 28), **conv_kwargs),
            pc.layers.MaxPool2D(2),
            pc.layers.Conv2D(50, 3, activation="relu"),
            pc.layers.MaxPool2D(2),
            pc.layers.Flatten(),
            pc.layers.Dense(100, activation="relu"),
            pc.layers.Dropout(0.5),
            pc.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=pc.optim.SGD(0.1), loss="cross_entropy", metrics=["accuracy"])
    return model


def layer_by_layer(model, x, logits=False):
    with pc.no_grad():
        return np.asarray(model._forward(pc.Tensor(x), training=False, logits=logits))


@pytest.mark.parametrize("threads", [1, 2])
def test_predict_equals_the_layer_by_layer_forward(threads):
    saved = pc.get_num_threads()
    pc.set_num_threads(threads)
    try:
        model = lecture_net()
        x = np.random.default_rng(0).random((37, 1, 28, 28), dtype=np.float32)
        plan = _inference.build_plan(model.layers)
        assert plan is not None and len(plan) == 7  # the Dropout is the identity at inference
        # Batches of 16, 16 and 5. An image's outputs do not depend on its batch as long as the
        # batch has at least one block of image lanes (<= 16 on every ISA: F(4x4) Winograd for
        # conv 2); smaller batches (F(2x2)) agree with the layers run on the same batch.
        got, want = model.predict(x, batch_size=16), layer_by_layer(model, x)
        np.testing.assert_array_equal(got[:32], want[:32])
        np.testing.assert_array_equal(got[32:], layer_by_layer(model, x[32:]))
        np.testing.assert_allclose(got[32:], want[32:], rtol=1e-5, atol=1e-6)
        # evaluate uses the logits plan (softmax fused into the loss)
        logits = np.asarray(_inference.build_plan(model.layers, logits=True).run(x))
        np.testing.assert_array_equal(logits, layer_by_layer(model, x, logits=True))
    finally:
        pc.set_num_threads(saved)


def test_one_batch_fast_path_takes_any_input_form_and_still_checks_it():
    # predict sends a float32 array of the input shape in one batch straight to the plan; every
    # other form goes through the checks first. All must give the same outputs.
    model = lecture_net()
    x = np.random.default_rng(3).random((3, 1, 28, 28), dtype=np.float32)
    expected = layer_by_layer(model, x)
    wide = np.zeros((3, 1, 28, 56), np.float32)
    wide[..., ::2] = x
    for form in (x, x.astype(np.float64), x.tolist(), wide[..., ::2], x.astype(">f4")):
        np.testing.assert_array_equal(model.predict(form, batch_size=3), expected)
    np.testing.assert_array_equal(model.predict(x[:1], batch_size=1), expected[:1])
    np.testing.assert_array_equal(model.predict(x, batch_size=2), expected)  # two batches
    with pytest.raises(ValueError, match=r"add the channel axis"):
        model.predict(x[:, 0], batch_size=3)
    with pytest.raises(ValueError, match=r"x has shape \(3, 1, 28, 27\)"):
        model.predict(x[..., :27], batch_size=3)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        model.predict(x, batch_size=True)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        model.predict(x, batch_size=0)
    assert model.predict(x[:0], batch_size=1).shape == (0, 10)


def test_predict_propagates_nan_like_the_layer_by_layer_pass():
    # A NaN pixel reaches only one of the four outputs of conv 2's Winograd tile under it; the
    # fused pool must still return NaN there, as the separate max pool does.
    model = lecture_net()
    x = np.random.default_rng(4).random((2, 1, 28, 28), dtype=np.float32)
    x[0, 0, 0, 0] = np.nan
    got, want = model.predict(x, batch_size=2), layer_by_layer(model, x)
    assert np.isnan(want[0]).all() and not np.isnan(want[1]).any()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "hard_sigmoid"])
def test_monotone_activations_fuse_with_the_max_pool_and_keep_the_floats(activation, threads):
    # conv + sigmoid / tanh / hard_sigmoid + 2x2 max pool runs as one kernel that pools first and
    # activates a quarter of the outputs: the same floats (NaN and infinities included) as the
    # layers one by one. Odd conv outputs (25x27, 10x11); batch 1 and 3 (conv 2: F(2x2)), 17
    # (F(4x4) blocks of image lanes).
    saved = pc.get_num_threads()
    pc.set_num_threads(threads)
    try:
        model = pc.Sequential(
            [
                pc.layers.Conv2D(25, 3, activation=activation, input_shape=(1, 27, 29)),
                pc.layers.MaxPool2D(2),
                pc.layers.Conv2D(50, 3, activation=activation),
                pc.layers.MaxPool2D(2),
                pc.layers.Flatten(),
                pc.layers.Dense(10, activation=activation),
            ]
        )
        rng = np.random.default_rng(5)
        for n in (1, 3, 17):
            x = rng.standard_normal((n, 1, 27, 29)).astype(np.float32) * 3
            x[0, 0, 3, 4], x[-1, 0, 10, 11], x[-1, 0, 20, 5] = np.nan, np.inf, -np.inf
            x[:, 0, 12, 12:16] = 1e20
            got, want = model.predict(x, batch_size=n), layer_by_layer(model, x)
            assert np.isnan(want[0]).any()
            np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    finally:
        pc.set_num_threads(saved)


def test_plan_sees_training_updates_and_new_weights():
    model = lecture_net()
    rng = np.random.default_rng(1)
    x, y = rng.random((8, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 8)
    before = model.predict(x)
    model.train_on_batch(x, y)  # in-place updates of the same weight tensors
    after = model.predict(x)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, layer_by_layer(model, x))
    model.set_weights([w * 0.5 for w in model.get_weights()])
    np.testing.assert_array_equal(model.predict(x), layer_by_layer(model, x))


def test_same_padding_and_other_activations():
    model = pc.Sequential(
        [
            pc.layers.Conv2D(4, 3, padding="same", activation="tanh", input_shape=(2, 9, 8)),
            pc.layers.MaxPool2D(2),
            pc.layers.Conv2D(3, 2, padding="same", activation="relu"),
            pc.layers.MaxPool2D(2),
            pc.layers.AvgPool2D(1),
            pc.layers.Flatten(),
            pc.layers.Dense(5, activation="sigmoid"),
        ]
    )
    x = np.random.default_rng(2).standard_normal((6, 2, 9, 8)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), layer_by_layer(model, x))


def test_unknown_layers_fall_back_to_python():
    class Double(Layer):
        def forward(self, x, training):
            return x * 2

    model = pc.Sequential([pc.layers.Dense(3, input_shape=(4,)), Double()])
    assert _inference.build_plan(model.layers) is None
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(model.predict(x), layer_by_layer(model, x))


def test_plan_rejects_bad_input_with_value_error():
    plan = _inference.build_plan(lecture_net().layers)
    with pytest.raises(ValueError):
        plan.run(np.zeros((2, 3, 28, 28), np.float32))
    with pytest.raises(ValueError):
        plan.run(np.zeros((28, 28), np.float32))
    with pytest.raises(ValueError, match="activation"):
        pc._core._InferencePlan().add_activation("mish")
