"""The functional API: pc.Input, layers on symbolic tensors, Add / Concatenate, pc.Model with
Sequential's compile / fit / evaluate / predict / summary / save / load; shared layers; errors."""

import numpy as np
import pytest
from gradcheck import check_grad

import pocketcnn as pc

L = pc.layers


def residual_net(seed=0):
    x = pc.Input((3, 8, 8))
    h = L.Conv2D(6, 3, padding="same", use_bias=False)(x)
    h = L.BatchNormalization()(h)
    h = L.ReLU()(h)
    y = L.Conv2D(6, 3, padding="same", activation="relu")(h)
    y = L.Conv2D(6, 3, padding="same")(y)
    h = L.ReLU()(L.Add()([h, y]))
    branch = L.Conv2D(2, 1)(h)
    h = L.Concatenate()([h, branch])  # 8 channels
    h = L.GlobalAveragePooling2D()(h)
    out = L.Dense(3, activation="softmax")(h)
    return pc.Model(x, out, seed=seed)


def test_forward_equals_the_same_computation_by_hand():
    model = residual_net()
    assert model.output_shape == (None, 3) and model.input_shape == (None, 3, 8, 8)
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    conv1, bn, relu, conv2, conv3, add, relu2, conv4, cat, gap, dense = model.layers
    with pc.no_grad():
        t = pc.Tensor(x)
        h = relu(bn(conv1(t)))
        y = conv3(conv2(h))
        h = relu2(add([h, y]))
        h = cat([h, conv4(h)])
        want = dense(gap(h)).numpy()
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-6, atol=1e-7)
    assert model.get_layer(index=-1) is dense


def test_fit_evaluate_summary_save_load(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((96, 3, 8, 8)).astype(np.float32)
    y = (x[:, 0].mean(axis=(1, 2)) > 0).astype(np.int64) + (x[:, 1].mean(axis=(1, 2)) > 0.1)
    model = residual_net()
    model.compile(pc.optim.Adam(1e-2), "cross_entropy", ["accuracy"])
    hist = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    lines = []
    model.summary(print_fn=lines.append)
    assert any("add (Add)" in line for line in lines)
    assert any("Non-trainable params: 12" in line for line in lines)  # the BN's statistics
    path = tmp_path / "res.pcnn"
    model.save(path)
    loaded = pc.load_model(path)
    assert isinstance(loaded, pc.Model)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.evaluate(x, y) == model.evaluate(x, y)
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0)  # resumes with the optimiser state


def test_a_layer_used_twice_shares_its_weights():
    x = pc.Input((4,))
    shared = L.Dense(4, activation="tanh")
    out = L.Dense(2)(shared(shared(x)))
    model = pc.Model(x, out)
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]
    assert len(model.weights) == 4  # the shared layer's two, once, and the head's
    w, b = (t.numpy().astype(np.float64) for t in shared.weights)
    hw, hb = (t.numpy().astype(np.float64) for t in model.layers[1].weights)
    a = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    h = np.tanh(np.tanh(a @ w.T + b) @ w.T + b)
    np.testing.assert_allclose(model.predict(a), h @ hw.T + hb, rtol=1e-5, atol=1e-6)


def test_shared_layer_gradient_sums_both_uses():
    x = pc.Input((3,))
    shared = L.Dense(3, use_bias=False)
    model = pc.Model(x, L.Add()([shared(x), shared(shared(x))]))
    w = shared.weights[0]
    wv = w.numpy().astype(np.float64)
    a = np.random.default_rng(3).standard_normal((2, 3))

    def loss(wm):
        return np.sum(a @ wm.T + (a @ wm.T) @ wm.T)

    out = model(a.astype(np.float32))
    pc.ops.sum(out).backward()
    eps, num = 1e-6, np.zeros_like(wv)
    for i in np.ndindex(wv.shape):
        p, m = wv.copy(), wv.copy()
        p[i] += eps
        m[i] -= eps
        num[i] = (loss(p) - loss(m)) / (2 * eps)
    np.testing.assert_allclose(w.grad.numpy(), num, rtol=1e-3, atol=1e-4)


def test_add_and_concatenate_against_numpy_with_gradients():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 2, 4, 5))
    cat = L.Concatenate()
    check_grad(lambda s, t: cat([s, t]), lambda s, t: np.concatenate([s, t], axis=1), [a, b])
    last = L.Concatenate(axis=-1)
    c = rng.standard_normal((2, 3, 4, 2))
    check_grad(lambda s, t: last([s, t]), lambda s, t: np.concatenate([s, t], axis=3), [a, c])
    add = L.Add()
    d = rng.standard_normal((2, 3, 4, 5))
    check_grad(lambda s, t: add([s, t]), lambda s, t: s + t, [a, d])


def test_errors_name_the_layer_and_the_shapes():
    x = pc.Input((3, 8, 8))
    a = L.Conv2D(4, 3)(x)
    b = L.Conv2D(5, 3)(x)
    with pytest.raises(
        ValueError, match=r"Add cannot take input of shape.*\(4, 6, 6\).*\(5, 6, 6\)"
    ):
        L.Add()([a, b])
    with pytest.raises(ValueError, match="Concatenate.*agree except"):
        L.Concatenate()([a, L.MaxPool2D(2)(x)])
    other = pc.Input((3, 8, 8))
    mixed = L.Add()([L.Conv2D(4, 3)(other), a])
    with pytest.raises(
        ValueError, match=r"depend on an input of shape \(None, 3, 8, 8\).*not among"
    ):
        pc.Model(x, mixed)
    unrelated = L.Dense(2)(L.Flatten()(other))
    with pytest.raises(ValueError, match="not connected to the outputs"):
        pc.Model(x, unrelated)
    shared = L.Dense(3)
    shared(pc.Input((4,)))
    with pytest.raises(
        ValueError, match=r"called on \(None, 5\) but was first called on \(None, 4\)"
    ):
        shared(pc.Input((5,)))
    with pytest.raises(ValueError, match="cannot take input of shape"):
        L.Dense(3)(pc.Input((3, 8, 8)))
    with pytest.raises(TypeError, match="use Sequential"):
        pc.Model(x, a).add(L.Dense(2))
    with pytest.raises(ValueError, match="several inputs or outputs"):
        pc.Model([x, other], a)


def test_cycle_is_an_error_not_a_hang():
    from pocketcnn import functional

    x = pc.Input((2,))
    y = L.Dense(2)(x)
    y.node.inputs.append(y)  # a cycle only a hand-edited graph can have
    y.node.multi = True
    with pytest.raises(ValueError, match="cycle"):
        functional._calls_in_order(y)
