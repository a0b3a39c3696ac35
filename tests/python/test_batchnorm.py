"""pc.ops.batch_norm and pc.layers.BatchNormalization: PyTorch BatchNorm2d numerics (checked
against numpy formulas), gradients against float64 finite differences, the Keras momentum
convention, non-trainable state in summary(), saving, and folding into the inference plan.
The CI runs this file under every POCKETCNN_ISA."""

import numpy as np
import pytest
from gradcheck import check_grad

import pocketcnn as pc
from pocketcnn import _inference


def bn_numpy(x, gamma, beta, mean, var, eps):
    """Independent numpy batch norm over axis 1 of (N, C) or (N, C, H, W), float64."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(
        shape
    ) + beta.reshape(shape)


def batch_stats(x):
    axes = (0, *range(2, x.ndim))
    return x.mean(axes), x.var(axes), x.var(axes, ddof=1)


@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (6, 5), (2, 2, 1, 33), (3, 4, 16, 16)])
@pytest.mark.parametrize("threads", [1, 2])
def test_training_forward_and_running_stats_follow_pytorch(shape, threads):
    saved = pc.get_num_threads()
    pc.set_num_threads(threads)
    try:
        rng = np.random.default_rng(1)
        x = (rng.standard_normal(shape) * 3 + 5).astype(np.float32)
        c = shape[1]
        gamma, beta = rng.random(c) + 0.5, rng.standard_normal(c)
        rm0, rv0 = rng.standard_normal(c), rng.random(c) + 0.5
        rm, rv = pc.Tensor(rm0.astype(np.float32)), pc.Tensor(rv0.astype(np.float32))
        y = pc.ops.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=0.1, eps=1e-5)
        x64 = x.astype(np.float64)
        mean, var, var_unbiased = batch_stats(x64)
        want = bn_numpy(x64, gamma, beta, mean, var, 1e-5)
        np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=2e-5)
        np.testing.assert_allclose(rm.numpy(), 0.9 * rm0 + 0.1 * mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rv.numpy(), 0.9 * rv0 + 0.1 * var_unbiased, rtol=1e-5)
        # Inference normalises with the running statistics and leaves them alone.
        before = rm.numpy().copy(), rv.numpy().copy()
        y_eval = pc.ops.batch_norm(x, rm, rv, gamma, beta, training=False, eps=1e-5)
        want_eval = bn_numpy(x64, gamma, beta, before[0], before[1], 1e-5)
        np.testing.assert_allclose(y_eval.numpy(), want_eval, rtol=1e-5, atol=2e-5)
        np.testing.assert_array_equal(rm.numpy(), before[0])
        np.testing.assert_array_equal(rv.numpy(), before[1])
    finally:
        pc.set_num_threads(saved)


def test_matches_torch_batchnorm2d_when_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 3, 6, 6)).astype(np.float32) * 2 + 1
    bn = torch.nn.BatchNorm2d(3, momentum=0.1, eps=1e-5)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([0.5, 1.5, 2.0]))
        bn.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    layer = pc.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, input_shape=(3, 6, 6))
    model = pc.Sequential([layer])
    layer.set_weights([np.array([0.5, 1.5, 2.0]), np.array([0.1, -0.2, 0.3]), np.zeros(3),
                       np.ones(3)])  # fmt: skip
    for _ in range(3):
        want = bn.train()(torch.from_numpy(x)).detach().numpy()
        got = layer(pc.Tensor(x), training=True).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[2], bn.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[3], bn.running_var.numpy(), rtol=1e-5)
    want = bn.eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(3, 2, 4, 5), (7, 3)])
def test_gradients_against_float64_finite_differences(training, shape):
    rng = np.random.default_rng(3)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.random(c) + 0.5, rng.standard_normal(c)
    rm, rv = rng.standard_normal(c).astype(np.float32), (rng.random(c) + 0.5).astype(np.float32)
    eps = 1e-3

    def pc_fn(x, g, b):
        stats = (pc.Tensor(rm.copy()), pc.Tensor(rv.copy()))
        return pc.ops.batch_norm(x, *stats, g, b, training=training, eps=eps)

    def np_fn(x, g, b):
        if training:
            mean, var, _ = batch_stats(x)
        else:
            mean, var = rm.astype(np.float64), rv.astype(np.float64)
        return bn_numpy(x, g, b, mean, var, eps)

    check_grad(pc_fn, np_fn, [x, gamma, beta])


def test_gradient_without_gamma_and_beta():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3, 3, 3))

    def np_fn(x):
        mean, var, _ = batch_stats(x)
        return bn_numpy(x, np.ones(3), np.zeros(3), mean, var, 1e-5)

    check_grad(lambda x: pc.ops.batch_norm(x, training=True), np_fn, [x])


def test_bad_arguments_raise_clear_errors():
    x = np.zeros((2, 3, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\).*\(2, 3, 4, 4\)"):
        pc.ops.batch_norm(x, weight=np.ones(4), training=True)
    with pytest.raises(ValueError, match="more than one value per channel"):
        pc.ops.batch_norm(np.zeros((1, 3)), training=True)
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        pc.ops.batch_norm(x)
    with pytest.raises(ValueError, match="momentum"):
        pc.ops.batch_norm(x, training=True, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        pc.ops.batch_norm(x, training=True, eps=0)
    with pytest.raises(TypeError, match="running_mean must be a pc.Tensor"):
        pc.ops.batch_norm(x, np.zeros(3), np.ones(3), training=True)
    with pytest.raises(ValueError, match="axis must be 1"):
        pc.layers.BatchNormalization(axis=-1)
    with pytest.raises(ValueError, match="momentum"):
        pc.layers.BatchNormalization(momentum=2)
    with pytest.raises(ValueError, match=r"batch_normalization.*\(2, 3\)"):
        pc.Sequential([pc.layers.BatchNormalization(input_shape=(2, 3))])


def bn_net(seed=0, with_dense=True):
    layers = [
        pc.layers.Conv2D(6, 3, padding="same", use_bias=False, input_shape=(2, 10, 10)),
        pc.layers.BatchNormalization(),
        pc.layers.ReLU(),
        pc.layers.MaxPool2D(2),
        pc.layers.Conv2D(4, 3),
        pc.layers.BatchNormalization(center=False),
        pc.layers.Activation("relu"),
        pc.layers.Flatten(),
    ]
    if with_dense:
        layers += [pc.layers.Dense(5), pc.layers.BatchNormalization(scale=False)]
    return pc.Sequential(layers, seed=seed)


def randomise_state(model, rng):
    for layer in model.layers:
        if isinstance(layer, pc.layers.BatchNormalization):
            w = layer.get_weights()
            w = [rng.random(a.shape) + 0.5 for a in w]
            layer.set_weights(w)


def test_summary_counts_the_moving_statistics_as_non_trainable():
    model = bn_net()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    # 6 + 4 + 5 channels, two moving statistics each; gamma 6 + 4, beta 6 + 5.
    assert "Non-trainable params: 30" in text
    bn = model.layers[1]
    assert bn.count_params() == 24 and len(bn.weights) == 2 and len(bn.non_trainable_weights) == 2
    assert model.layers[5].weight_names == ("gamma",)
    assert model.layers[9].weight_names == ("beta",)


@pytest.mark.parametrize("threads", [1, 2])
def test_plan_folds_batchnorm_and_equals_the_layer_by_layer_forward(threads):
    saved = pc.get_num_threads()
    pc.set_num_threads(threads)
    try:
        model = bn_net()
        randomise_state(model, np.random.default_rng(5))
        plan = _inference.build_plan(model.layers)
        # conv+bn+relu (fused with the pool), conv+bn+relu, flatten, dense+bn
        assert plan is not None and len(plan) == 5
        x = np.random.default_rng(6).standard_normal((9, 2, 10, 10)).astype(np.float32)
        with pc.no_grad():
            want = model._forward(pc.Tensor(x), training=False).numpy()
        np.testing.assert_allclose(model.predict(x), want, rtol=1e-4, atol=1e-5)
        # The plan folds the current statistics on every run: an update shows without a rebuild.
        randomise_state(model, np.random.default_rng(7))
        with pc.no_grad():
            want = model._forward(pc.Tensor(x), training=False).numpy()
        np.testing.assert_allclose(plan.run(x).numpy(), want, rtol=1e-4, atol=1e-5)
    finally:
        pc.set_num_threads(saved)


def test_standalone_batchnorm_step_in_the_plan():
    model = pc.Sequential(
        [
            pc.layers.MaxPool2D(2, input_shape=(3, 4, 4)),
            pc.layers.BatchNormalization(),
            pc.layers.Activation("tanh"),
        ]
    )
    randomise_state(model, np.random.default_rng(8))
    x = np.random.default_rng(9).standard_normal((5, 3, 4, 4)).astype(np.float32)
    plan = _inference.build_plan(model.layers)
    assert plan is not None and len(plan) == 2
    with pc.no_grad():
        want = model._forward(pc.Tensor(x), training=False).numpy()
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-5, atol=1e-6)


def test_fit_updates_moving_statistics_and_saves_them(tmp_path):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((64, 2, 10, 10)).astype(np.float32) + 2
    y = rng.integers(0, 5, 64)
    model = bn_net()
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    moving_mean = model.layers[1].get_weights()[2]
    assert np.all(moving_mean != 0)  # updated in place by the training batches
    path = tmp_path / "bn.pcnn"
    model.save(path)
    loaded = pc.load_model(path)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[5].get_config() == model.layers[5].get_config()
    assert loaded.layers[5].get_config()["center"] is False


def test_keras_momentum_convention():
    layer = pc.layers.BatchNormalization(momentum=0.75, input_shape=(2,))
    pc.Sequential([layer])
    x = np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)
    layer(pc.Tensor(x), training=True)
    mean, var = layer.get_weights()[2:]
    # moving = momentum * moving + (1 - momentum) * batch (variance unbiased)
    np.testing.assert_allclose(mean, 0.25 * np.array([2.0, 4.0]), rtol=1e-6)
    np.testing.assert_allclose(var, 0.75 + 0.25 * np.array([2.0, 8.0]), rtol=1e-6)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softmax"])
def test_plan_folds_batchnorm_before_a_fused_activation(activation):
    model = pc.Sequential(
        [
            pc.layers.Conv2D(3, 3, input_shape=(2, 6, 6)),
            pc.layers.BatchNormalization(),
            pc.layers.Activation(activation),
            pc.layers.Flatten(),
            pc.layers.Dense(4),
            pc.layers.BatchNormalization(),
            pc.layers.Activation(activation),
        ]
    )
    randomise_state(model, np.random.default_rng(11))
    plan = _inference.build_plan(model.layers)
    assert plan is not None and len(plan) == 3  # conv+bn+act, flatten, dense+bn+act
    x = np.random.default_rng(12).standard_normal((5, 2, 6, 6)).astype(np.float32)
    with pc.no_grad():
        want = model._forward(pc.Tensor(x), training=False).numpy()
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_fused_relu_gradients_against_float64_finite_differences(training):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 4, 5)) * 2 + 1
    gamma, beta = rng.random(2) + 0.5, rng.standard_normal(2) * 0.5
    rm, rv = rng.standard_normal(2).astype(np.float32), (rng.random(2) + 0.5).astype(np.float32)
    eps = 1e-3

    def pc_fn(x, g, b):
        stats = (pc.Tensor(rm.copy()), pc.Tensor(rv.copy()))
        return pc.ops.batch_norm(x, *stats, g, b, training=training, eps=eps, relu=True)

    def np_fn(x, g, b):
        if training:
            mean, var, _ = batch_stats(x)
        else:
            mean, var = rm.astype(np.float64), rv.astype(np.float64)
        return np.maximum(bn_numpy(x, g, b, mean, var, eps), 0.0)

    out = pc_fn(x.astype(np.float32), gamma.astype(np.float32), beta.astype(np.float32)).numpy()
    assert 0 < (out == 0).mean() < 1  # the ReLU cuts some values, not all
    check_grad(pc_fn, np_fn, [x, gamma, beta])


def _conv_bn_relu_model(seed=0):
    x = inputs = pc.Input((2, 6, 6))
    x = pc.layers.Conv2D(4, 3, padding="same", use_bias=False)(x)
    x = pc.layers.ReLU()(pc.layers.BatchNormalization(momentum=0.9, name="bn")(x))
    y = pc.layers.BatchNormalization()(pc.layers.Conv2D(4, 3, padding="same")(x))
    x = pc.layers.Activation("relu")(pc.layers.Add()([x, y]))
    out = pc.layers.Dense(3, activation="softmax")(pc.layers.GlobalAveragePooling2D()(x))
    return pc.Model(inputs, out, seed=seed)


def test_model_runs_batchnorm_and_relu_as_one_op_with_the_layer_by_layer_results():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((8, 2, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    fused, plain = _conv_bn_relu_model(), _conv_bn_relu_model()
    # The first BatchNormalization + ReLU (calls 1, 2) fuse, and so do the Add and its ReLU
    # (calls 5, 6); the second BatchNormalization feeds the Add, not a ReLU.
    assert fused._relu_fused_calls() == {1, 5}
    plain._relu_fused = set()  # layer by layer
    for m in (fused, plain):
        m.compile(pc.optim.SGD(0.1, momentum=0.9), "cross_entropy")
    for _ in range(3):
        a, b = fused.train_on_batch(x, y), plain.train_on_batch(x, y)
        assert a.keys() == b.keys()
        np.testing.assert_allclose(list(a.values()), list(b.values()), rtol=1e-5, atol=1e-6)
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The BatchNormalization's own output (pc.viz) is still the one before the ReLU.
    bn_out = fused._forward_to_layer(pc.Tensor(x), fused.get_layer("bn")).numpy()
    assert (bn_out < 0).any()
