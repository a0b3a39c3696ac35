"""What Keras users type: RMSprop / Adagrad (PyTorch's formulas, checked against float64 numpy
steps written out here), optimizers by name, pc.utils.to_categorical."""

import numpy as np
import pytest

import pocketcnn as pc


def run_steps(opt, w0, grads):
    w = pc.Tensor(w0.astype(np.float32).copy(), requires_grad=True)
    for g in grads:
        w.grad = pc.Tensor(g.astype(np.float32))
        opt.step([w])
    return w.numpy()


def rmsprop_ref(w, grads, lr, rho, eps, momentum=0.0, centered=False, wd=0.0):
    w = w.astype(np.float64).copy()
    v, a, buf = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        g = g + wd * w
        v = rho * v + (1 - rho) * g * g
        avg = v
        if centered:
            a = rho * a + (1 - rho) * g
            avg = v - a * a
        d = g / (np.sqrt(avg) + eps)
        if momentum:
            buf = momentum * buf + d
            d = buf
        w = w - lr * d
    return w


def adagrad_ref(w, grads, lr, lr_decay, wd, init, eps):
    w = w.astype(np.float64).copy()
    s = np.full_like(w, init)
    for t, g in enumerate(grads, 1):
        g = g + wd * w
        s = s + g * g
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
    return w


@pytest.mark.parametrize(
    "kw", [{}, {"momentum": 0.9}, {"centered": True, "weight_decay": 0.1}, {"rho": 0.5}]
)
def test_rmsprop_follows_the_formula(kw):
    rng = np.random.default_rng(0)
    w0, grads = rng.standard_normal((4, 3)), [rng.standard_normal((4, 3)) for _ in range(5)]
    opt = pc.optim.RMSprop(0.01, **kw)
    want = rmsprop_ref(
        w0, grads, 0.01, kw.get("rho", 0.9), 1e-7, kw.get("momentum", 0.0),
        kw.get("centered", False), kw.get("weight_decay", 0.0),
    )  # fmt: skip
    np.testing.assert_allclose(run_steps(opt, w0, grads), want, rtol=1e-5, atol=1e-6)


def test_adagrad_follows_the_formula():
    rng = np.random.default_rng(1)
    w0, grads = rng.standard_normal(7), [rng.standard_normal(7) for _ in range(6)]
    opt = pc.optim.Adagrad(0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1)
    want = adagrad_ref(w0, grads, 0.1, 0.01, 0.05, 0.1, 1e-10)
    np.testing.assert_allclose(run_steps(opt, w0, grads), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,cls", [("rmsprop", pc.optim.RMSprop), ("adagrad", pc.optim.Adagrad)])
def test_by_name_state_round_trip_and_training(name, cls):
    assert isinstance(pc.optim.get(name), cls)
    rng = np.random.default_rng(2)
    w0, grads = rng.standard_normal(5), [rng.standard_normal(5) for _ in range(4)]
    opt = cls(0.05)
    run_steps(opt, w0, grads[:2])
    clone = pc.optim.from_state_dict(opt.state_dict())
    w_mid = run_steps(cls(0.05), w0, grads[:2])
    np.testing.assert_array_equal(
        run_steps(clone, w_mid, grads[2:]), run_steps(opt, w_mid, grads[2:])
    )
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = pc.Sequential(
        [pc.layers.Dense(8, activation="relu", input_shape=(4,)), pc.layers.Dense(2)]
    )
    model.compile(optimizer=name, loss="cross_entropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_bad_optimizer_arguments():
    with pytest.raises(ValueError, match="rho"):
        pc.optim.RMSprop(rho=1.0)
    with pytest.raises(ValueError, match="eps"):
        pc.optim.Adagrad(eps=0)


def test_to_categorical():
    np.testing.assert_array_equal(
        pc.utils.to_categorical([0, 2, 1]), np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], np.float32)
    )
    assert pc.utils.to_categorical(np.array([1, 0]), num_classes=4).shape == (2, 4)
    assert pc.utils.to_categorical([[0], [1]], 2).shape == (2, 1, 2)
    with pytest.raises(ValueError, match=r"labels must be in 0..2"):
        pc.utils.to_categorical([0, 3], num_classes=3)
    with pytest.raises(TypeError, match="integer class labels"):
        pc.utils.to_categorical([0.5])


def log_softmax_np(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_categorical_crossentropy_one_hot_and_label_smoothing(smoothing):
    from gradcheck import check_grad

    rng = np.random.default_rng(3)
    z = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    onehot = pc.utils.to_categorical(labels, 4)
    t = onehot * (1 - smoothing) + smoothing / 4

    def pc_fn(zt):
        return pc.losses.compute("categorical_crossentropy", zt, onehot, label_smoothing=smoothing)

    check_grad(pc_fn, lambda a: -np.mean(np.sum(t * log_softmax_np(a), axis=1)), [z])
    # integer labels give the same loss as their one-hot rows
    a = pc.losses.compute("categorical_crossentropy", pc.Tensor(z.astype(np.float32)), labels,
                          label_smoothing=smoothing).item()  # fmt: skip
    b = pc.losses.compute("categorical_crossentropy", pc.Tensor(z.astype(np.float32)), onehot,
                          label_smoothing=smoothing).item()  # fmt: skip
    assert a == pytest.approx(b, rel=1e-5)


def test_binary_crossentropy_against_numpy():
    from gradcheck import check_grad

    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, (5, 3))
    t = (rng.random((5, 3)) > 0.5).astype(np.float32)

    def np_fn(a):
        return -np.mean(t * np.log(a + 1e-7) + (1 - t) * np.log(1 - a + 1e-7))

    check_grad(lambda pt: pc.losses.compute("binary_crossentropy", pt, t), np_fn, [p])


def test_compile_fit_save_with_the_keras_losses(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((96, 4)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    model = pc.Sequential(
        [pc.layers.Dense(16, activation="relu", input_shape=(4,)),
         pc.layers.Dense(3, activation="softmax")]
    )  # fmt: skip
    loss = pc.losses.CategoricalCrossentropy(label_smoothing=0.1)
    model.compile("adam", loss, metrics=["accuracy", "precision", "recall"])
    hist = model.fit(x, pc.utils.to_categorical(labels, 3), batch_size=16, epochs=20, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    logs = model.evaluate(x, labels)
    assert 0 <= logs["precision"] <= 1 and 0 <= logs["recall"] <= 1
    model.save(tmp_path / "m.pcnn")
    loaded = pc.load_model(tmp_path / "m.pcnn")
    assert loaded.loss == "categorical_crossentropy"
    assert loaded.loss_options == {"label_smoothing": 0.1}
    assert loaded.evaluate(x, labels) == logs
    # multi-label with sigmoid outputs
    y2 = np.stack([x[:, 0] > 0, x[:, 1] > 0], axis=1).astype(np.float32)
    m2 = pc.Sequential([pc.layers.Dense(2, activation="sigmoid", input_shape=(4,))])
    m2.compile("adam", "binary_crossentropy")
    h2 = m2.fit(x, y2, batch_size=16, epochs=10, verbose=0)
    assert h2.history["loss"][-1] < h2.history["loss"][0]
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        m2.fit(x, y2 * 2, epochs=1, verbose=0)


def test_precision_recall_and_confusion_matrix_against_hand_counts():
    from pocketcnn import metrics

    out = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    labels = np.array([0, 1, 0, 2])
    _, precision = metrics.resolve_metric("precision")
    _, recall = metrics.resolve_metric("recall")
    # predicted 0, 1, 1, 2: class 0 precision 1/1, class 1 1/2, class 2 1/1
    assert metrics.ratio(precision(out, labels)) == pytest.approx((1 + 0.5 + 1) / 3)
    # class 0 recall 1/2, class 1 1/1, class 2 1/1
    assert metrics.ratio(recall(out, labels)) == pytest.approx((0.5 + 1 + 1) / 3)
    binary = np.array([[0.9], [0.6], [0.2], [0.4]])
    assert metrics.ratio(precision(binary, np.array([1, 0, 0, 1]))) == pytest.approx(0.5)
    assert metrics.ratio(recall(binary, np.array([1, 0, 0, 1]))) == pytest.approx(0.5)

    class Fixed:
        def predict(self, x, batch_size=32):
            return out

    m = metrics.confusion_matrix(Fixed(), np.zeros((4, 1)), labels)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        metrics.confusion_matrix(Fixed(), np.zeros((4, 1)), np.array([0, 1, 5, 2]))


def test_frozen_layers_get_no_updates_and_summary_counts_them(tmp_path):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 2, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model = pc.Sequential(
        [
            pc.layers.Conv2D(4, 3, input_shape=(2, 6, 6), name="conv"),
            pc.layers.BatchNormalization(name="bn"),
            pc.layers.ReLU(),
            pc.layers.GlobalAveragePooling2D(),
            pc.layers.Dense(3, name="head"),
        ]
    )
    conv, bn = model.get_layer("conv"), model.get_layer(index=1)
    assert model.get_layer(index=-1) is model.layers[4]
    conv.trainable = False
    bn.trainable = False
    frozen = [conv.get_weights(), bn.get_weights()]
    head_before = model.get_layer("head").get_weights()
    model.compile("adam", "cross_entropy")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    for layer, before in zip((conv, bn), frozen):
        for a, b in zip(layer.get_weights(), before):  # moving statistics too (Keras' rule)
            np.testing.assert_array_equal(a, b)
    assert any(
        not np.array_equal(a, b) for a, b in zip(model.get_layer("head").get_weights(), head_before)
    )
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    # conv 4*2*9 + 4 = 76 and bn 16 frozen; head 4*3 + 3 = 15 trainable
    assert "Trainable params: 15" in text and "Non-trainable params: 92" in text
    model.save(tmp_path / "f.pcnn")
    loaded = pc.load_model(tmp_path / "f.pcnn")
    assert [layer.trainable for layer in loaded.layers] == [False, False, True, True, True]
    assert model.trainable
    model.trainable = False
    assert not any(layer.trainable for layer in model.layers) and not model.trainable
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="out of range"):
        model.get_layer(index=5)
