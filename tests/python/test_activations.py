"""leaky_relu, elu, gelu (erf and tanh forms), silu/swish, hard_sigmoid, softplus: the ops against
independent float64 numpy formulas under every ISA and thread count (special values included),
backward against float64 finite differences, PyTorch's definitions (and torch itself when
installed), the layers and activation= strings (Keras 3 names and defaults), save/load and the
inference plan."""

import math

import numpy as np
import pytest
from gradcheck import check_grad

import pocketcnn as pc

L = pc.layers
RNG = np.random.default_rng(2026)
_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


# ---- float64 numpy references (the textbook definitions) ---------------------------------------


def sigmoid_np(x):
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def leaky_np(x, slope):
    return np.where(x > 0, x, slope * x)


def elu_np(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def gelu_np(x):
    return x * 0.5 * _erfc(-x / math.sqrt(2))  # = x (1 + erf(x / sqrt 2)) / 2, without cancelling


def gelu_tanh_np(x):
    """0.5 x (1 + tanh(u)) written as x sigmoid(2u), which does not cancel for u << 0."""
    return x * sigmoid_np(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))


def silu_np(x):
    return x * sigmoid_np(x)


def hard_sigmoid_np(x):
    return np.clip(x + 3, 0, 6) / 6


def softplus_np(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


OPS = {
    "leaky_relu(0.2)": (lambda t: pc.ops.leaky_relu(t, 0.2), lambda x: leaky_np(x, 0.2)),
    "leaky_relu": (pc.ops.leaky_relu, lambda x: leaky_np(x, 0.01)),  # PyTorch's default slope
    "elu": (pc.ops.elu, elu_np),
    "elu(0.7)": (lambda t: pc.ops.elu(t, 0.7), lambda x: elu_np(x, 0.7)),
    "gelu": (pc.ops.gelu, gelu_np),
    "gelu_tanh": (lambda t: pc.ops.gelu(t, approximate=True), gelu_tanh_np),
    "silu": (pc.ops.silu, silu_np),
    "hard_sigmoid": (pc.ops.hard_sigmoid, hard_sigmoid_np),
    "softplus": (pc.ops.softplus, softplus_np),
}

SPECIALS = np.array(
    [0.0, -0.0, 1e-40, -1e-40, 1e-30, -1e-30, 3.0, -3.0, 20.0, -20.0, 90.0, -90.0, 1e30, -1e30,
     np.finfo(np.float32).max, -np.finfo(np.float32).max, np.inf, -np.inf, np.nan],
    dtype=np.float32,
)  # fmt: skip


def _isas():
    return pc.cpu_info()["supported_isas"]


@pytest.fixture(params=["scalar", "avx2", "avx512"])
def isa(request):
    if request.param not in _isas():
        pytest.skip(f"this CPU has no {request.param}")
    saved = pc.cpu_info()["isa_cap"]
    pc._core.set_isa_cap(request.param)
    yield request.param
    pc._core.set_isa_cap(saved)


def _limit_ref(ref, x64):
    """ref(x) with the limits at +-inf where x * f(x) would be inf * 0 (gelu, silu: -0 at -inf)."""
    with np.errstate(all="ignore"):
        y = ref(x64)
    return np.where(np.isneginf(x64) & np.isnan(y), -0.0, y)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("threads", [1, 2])
def test_forward_matches_float64_numpy_under_every_isa(isa, name, threads):
    fn, ref = OPS[name]
    x = np.concatenate([SPECIALS, (RNG.standard_normal(20000) * 6).astype(np.float32)])
    saved = pc.get_num_threads()
    pc.set_num_threads(threads)
    try:
        y = fn(x).numpy()
    finally:
        pc.set_num_threads(saved)
    want = _limit_ref(ref, x.astype(np.float64))
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want), err_msg=f"{name}: NaN positions")
    finite = np.isfinite(want)
    np.testing.assert_array_equal(y[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    # a few float32 ulp (relative), absolute near 0 where the results are denormal; the tanh
    # form rounds its argument u to float32, which e^u turns into ~|u| ulp in the negative tail
    rtol = 3e-5 if name == "gelu_tanh" else 2e-6
    np.testing.assert_allclose(y[finite], want[finite], rtol=rtol, atol=1e-37, err_msg=name)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("shape", [(7,), (2, 3, 4, 5)])
def test_backward_matches_float64_finite_differences(name, shape):
    fn, ref = OPS[name]
    x = RNG.standard_normal(shape) * 3
    kinks = np.array([0.0, -3.0, 3.0])  # leaky_relu / elu at 0, hard_sigmoid at +-3
    near = np.abs(x[..., None] - kinks).min(axis=-1) < 1e-3
    x[near] += 0.01
    check_grad(fn, ref, [x])


def test_derivatives_at_the_kinks_follow_pytorch():
    x = pc.Tensor(np.array([0.0, -3.0, 3.0], np.float32), requires_grad=True)
    pc.ops.leaky_relu(x, 0.1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.1, 0.1, 1.0], rtol=1e-7)  # slope at 0
    x.grad = None
    pc.ops.elu(x, 0.5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[0], 0.5, rtol=1e-7)  # alpha e^0 at 0
    x.grad = None
    pc.ops.hard_sigmoid(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1 / np.float32(6), 0.0, 0.0])  # 0 at +-3


def test_large_and_infinite_inputs_give_the_limits():
    x = np.array([-np.inf, -1e30, -200, 200, 1e30, np.inf], np.float32)

    def want(*values):
        return np.array(values, np.float32)

    np.testing.assert_array_equal(pc.ops.gelu(x).numpy(), want(-0.0, -0.0, -0.0, *x[3:]))
    np.testing.assert_array_equal(pc.ops.silu(x).numpy(), want(-0.0, -0.0, -0.0, *x[3:]))
    np.testing.assert_array_equal(pc.ops.softplus(x).numpy(), want(0, 0, 0, *x[3:]))
    np.testing.assert_array_equal(pc.ops.elu(x).numpy(), want(-1, -1, -1, *x[3:]))
    np.testing.assert_array_equal(pc.ops.hard_sigmoid(x).numpy(), want(0, 0, 0, 1, 1, 1))
    t = pc.Tensor(x, requires_grad=True)
    pc.ops.gelu(t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0, 0, 0, 1, 1, 1])
    t.grad = None
    pc.ops.silu(t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0, 0, 0, 1, 1, 1])


def test_gelu_is_accurate_in_the_negative_tail():
    """x (1 + erf(x / sqrt 2)) / 2 cancels to 0 or garbage below x ~ -5 in float32; the kernel
    computes Phi through erfc and stays within float32 rounding of the true value."""
    x = np.linspace(-13, -5, 81).astype(np.float32)
    np.testing.assert_allclose(pc.ops.gelu(x).numpy(), gelu_np(x.astype(np.float64)), rtol=2e-6)


def test_pytorch_definitions_written_out():
    """PyTorch's documented formulas (torch.nn.functional), independent of the numpy ones above."""
    x = (RNG.standard_normal(5000) * 5).astype(np.float32)
    x64 = x.astype(np.float64)
    torch_hardsigmoid = np.where(x64 <= -3, 0, np.where(x64 >= 3, 1, x64 / 6 + 0.5))
    np.testing.assert_allclose(pc.ops.hardsigmoid(x).numpy(), torch_hardsigmoid, atol=1.2e-7)
    torch_gelu = 0.5 * x64 * (1 + _erf(x64 / math.sqrt(2)))
    np.testing.assert_allclose(pc.ops.gelu(x, approximate="none").numpy(), torch_gelu,
                               rtol=1e-5, atol=1e-7)  # fmt: skip
    near = x64 > -5  # where PyTorch's float32 1 + tanh(u) does not cancel yet
    torch_gelu_tanh = 0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3)))
    np.testing.assert_allclose(pc.ops.gelu(x, approximate="tanh").numpy()[near],
                               torch_gelu_tanh[near], rtol=1e-5, atol=1e-7)  # fmt: skip
    torch_softplus = np.where(x64 > 20, x64, np.log1p(np.exp(np.minimum(x64, 20))))
    np.testing.assert_allclose(pc.ops.softplus(x).numpy(), torch_softplus, rtol=2e-6)
    torch_silu = x64 / (1 + np.exp(-x64))
    np.testing.assert_allclose(pc.ops.swish(x).numpy(), torch_silu, rtol=2e-6, atol=1e-37)
    keras2_hard_sigmoid = np.clip(0.2 * x64 + 0.5, 0, 1)  # what old Keras computed: differs
    assert np.abs(pc.ops.hard_sigmoid(x).numpy() - keras2_hard_sigmoid).max() > 0.05


def test_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = (RNG.standard_normal((4, 3, 9, 9)) * 4).astype(np.float32)
    pairs = [
        (lambda t: pc.ops.leaky_relu(t, 0.2), lambda t: F.leaky_relu(t, 0.2)),
        (pc.ops.leaky_relu, F.leaky_relu),
        (lambda t: pc.ops.elu(t, 0.7), lambda t: F.elu(t, 0.7)),
        (pc.ops.gelu, F.gelu),
        (lambda t: pc.ops.gelu(t, "tanh"), lambda t: F.gelu(t, approximate="tanh")),
        (pc.ops.silu, F.silu),
        (pc.ops.hardsigmoid, F.hardsigmoid),
        (pc.ops.softplus, F.softplus),
    ]
    for ours, theirs in pairs:
        t = pc.Tensor(x, requires_grad=True)
        # torch in float64: its float32 gelu_tanh gradient is 1e-6 off near x = -5 (cancellation)
        tt = torch.tensor(x.astype(np.float64), requires_grad=True)
        y, yt = ours(t), theirs(tt)
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
        g = RNG.standard_normal(x.shape).astype(np.float32)
        y.backward(pc.Tensor(g))
        yt.backward(torch.tensor(g.astype(np.float64)))
        np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="negative_slope must be a finite number"):
        pc.ops.leaky_relu(np.ones(3, np.float32), float("nan"))
    with pytest.raises(TypeError, match="negative_slope must be a number"):
        pc.ops.leaky_relu(np.ones(3, np.float32), "0.1")
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        pc.ops.elu(np.ones(3, np.float32), float("inf"))
    with pytest.raises(ValueError, match="approximate must be"):
        pc.ops.gelu(np.ones(3, np.float32), approximate="fast")
    with pytest.raises(TypeError, match="input"):
        pc.ops.softplus(None)
    with pytest.raises(ValueError, match="negative_slope must be a finite number >= 0"):
        L.LeakyReLU(-0.1)
    with pytest.raises(ValueError, match="unknown activation 'mish'"):
        L.Dense(3, activation="mish")


# ---- layers, activation= strings, save / load, the inference plan -----------------------------


def test_keras3_names_and_defaults():
    assert L.LeakyReLU().negative_slope == 0.3  # keras.layers.LeakyReLU's default
    assert L.LeakyReLU(alpha=0.1).negative_slope == 0.1  # Keras 2's name
    assert L.ELU().alpha == 1.0
    assert L.Dense(3, activation="swish").activation == "silu"  # Keras' alias, saved as silu
    assert L.Activation("GELU").activation == "gelu"
    x = (RNG.standard_normal((5, 4)) * 3).astype(np.float32)
    # 'leaky_relu' is keras.activations.leaky_relu: slope 0.2
    keras_leaky = pc.ops.leaky_relu(x, 0.2).numpy()
    np.testing.assert_array_equal(L.Activation("leaky_relu")(x).numpy(), keras_leaky)
    np.testing.assert_array_equal(L.LeakyReLU()(x).numpy(), pc.ops.leaky_relu(x, 0.3).numpy())
    np.testing.assert_array_equal(L.ELU(0.5)(x).numpy(), pc.ops.elu(x, 0.5).numpy())


NAMES = ["leaky_relu", "elu", "gelu", "silu", "hard_sigmoid", "softplus"]


def activation_model(seed=0):
    return pc.Sequential([
        L.Conv2D(4, 3, padding="same", activation="gelu", input_shape=(2, 6, 6)),
        L.Conv2D(4, 3, activation="elu"),
        L.LeakyReLU(0.1),
        L.Conv2D(3, 1),
        L.ELU(0.5),
        L.Activation("hard_sigmoid"),
        L.Conv2D(3, 1, activation="silu"),
        L.Flatten(),
        L.Dense(8, activation="softplus"),
        L.Dense(6, activation="leaky_relu"),
        L.Activation("swish"),
        L.Dense(3, activation="softmax"),
    ], seed=seed)  # fmt: skip


def layer_by_layer(model, x):
    h = pc.Tensor(x)
    with pc.no_grad():
        for layer in model.layers:
            h = layer(h)
    return h.numpy()


@pytest.mark.parametrize("threads", [1, 2])
def test_plan_equals_the_layer_by_layer_forward(threads):
    model = activation_model()
    x = RNG.standard_normal((5, 2, 6, 6)).astype(np.float32)
    saved = pc.get_num_threads()
    pc.set_num_threads(threads)
    try:
        assert model._plans.get(model.layers) is not None  # every layer has a plan step
        np.testing.assert_array_equal(model.predict(x), layer_by_layer(model, x))
    finally:
        pc.set_num_threads(saved)


@pytest.mark.parametrize("name", NAMES)
def test_plan_activation_first_does_not_touch_the_input(name):
    model = pc.Sequential([L.Activation(name, input_shape=(7,)), L.Dense(2)])
    x = RNG.standard_normal((3, 7)).astype(np.float32)
    before = x.copy()
    np.testing.assert_array_equal(model.predict(x), layer_by_layer(model, before))
    np.testing.assert_array_equal(x, before)


def test_dense_with_each_activation_trains():
    for name in NAMES:
        model = pc.Sequential([L.Dense(4, activation=name, input_shape=(3,)), L.Dense(2)], seed=1)
        model.compile(optimizer="adam", loss="mse")
        x = RNG.standard_normal((16, 3)).astype(np.float32)
        y = RNG.standard_normal((16, 2)).astype(np.float32)
        history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
        assert np.isfinite(history.history["loss"]).all(), name


def test_save_and_load_keep_every_activation(tmp_path):
    model = activation_model(seed=3)
    x = RNG.standard_normal((4, 2, 6, 6)).astype(np.float32)
    model.save(tmp_path / "m.pcnn")
    loaded = pc.load_model(tmp_path / "m.pcnn")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    leaky = [layer for layer in loaded.layers if isinstance(layer, L.LeakyReLU)]
    assert leaky[0].negative_slope == 0.1
    assert [layer.get_config().get("activation") for layer in loaded.layers][:2] == ["gelu", "elu"]
