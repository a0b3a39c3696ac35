"""Activations, softmax, losses and tensor arithmetic: forward against float64 numpy, backward
against finite differences (gradcheck.check_grad), broadcasting, scalars, Tensor operators, and
the errors bad arguments must raise."""

import numpy as np
import pytest
from gradcheck import check_grad

import pocketcnn as pc

RNG = np.random.default_rng(1234)


def randn(*shape):
    return np.asarray(RNG.standard_normal(shape))  # an array even for shape () (gradcheck needs it)


def positive(*shape):
    """Values in [0.5, 2.5): safe for log, division and fractional powers."""
    return np.asarray(RNG.uniform(0.5, 2.5, size=shape))


# ---- float64 numpy references -----------------------------------------------------------------


def softmax_np(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_np(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def cross_entropy_np(logits, labels):
    return -log_softmax_np(logits, 1)[np.arange(len(labels)), labels].mean()


def mse_np(a, b):
    return np.mean((a - b) ** 2)


# ---- activations ------------------------------------------------------------------------------

ACTIVATIONS = [
    (pc.ops.relu, lambda x: np.maximum(x, 0)),
    (pc.ops.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (pc.ops.tanh, np.tanh),
]


@pytest.mark.parametrize("fn,ref", ACTIVATIONS, ids=["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4, 5)])
def test_activation_forward_and_backward(fn, ref, shape):
    check_grad(fn, ref, [randn(*shape) * 3])


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-1e4, -100, 0, 100, 1e4], np.float32)
    y = pc.ops.sigmoid(x).numpy()
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, [0, 0, 0.5, 1, 1], atol=1e-30)


def test_relu_gradient_is_zero_at_zero_and_below():
    x = pc.Tensor(np.array([-1.0, 0.0, 2.0], np.float32), requires_grad=True)
    pc.ops.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 1])


# ---- softmax, log_softmax ---------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_softmax_and_log_softmax_along_any_dim(dim):
    x = randn(3, 4, 5) * 2
    check_grad(lambda t: pc.ops.softmax(t, dim), lambda a: softmax_np(a, dim), [x])
    check_grad(lambda t: pc.ops.log_softmax(t, dim), lambda a: log_softmax_np(a, dim), [x])


def test_softmax_default_dim_is_last_and_rows_sum_to_one():
    x = randn(4, 6)
    y = pc.ops.softmax(x).numpy()
    np.testing.assert_allclose(y, softmax_np(x, -1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(pc.ops.log_softmax(x).numpy(), log_softmax_np(x, -1), atol=1e-5)


def test_softmax_is_stable_for_huge_logits():
    x = np.array([[1e4, 0, -1e4], [1e4, 1e4, 1e4]], np.float32)
    y = pc.ops.softmax(x).numpy()
    ly = pc.ops.log_softmax(x).numpy()
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(ly))
    np.testing.assert_allclose(y, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)
    np.testing.assert_allclose(ly, [[0, -1e4, -2e4], [-np.log(3)] * 3], rtol=1e-6)


# ---- losses -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n,c", [(1, 1), (1, 10), (5, 3), (16, 10)])
def test_cross_entropy_forward_and_backward(n, c):
    logits = randn(n, c) * 2
    labels = RNG.integers(0, c, size=n)
    tensors, out = check_grad(
        lambda t: pc.ops.cross_entropy(t, labels), lambda a: cross_entropy_np(a, labels), [logits]
    )
    assert out.shape == ()


def test_cross_entropy_with_extreme_logits_is_finite_and_right():
    logits = np.array([[1e4, 0, -1e4], [-1e4, 1e4, 0]], np.float32)
    x = pc.Tensor(logits, requires_grad=True)
    loss = pc.ops.cross_entropy(x, np.array([2, 1]))
    loss.backward()
    np.testing.assert_allclose(loss.item(), (2e4 + 0) / 2, rtol=1e-6)
    g = x.grad.numpy()
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [[0.5, 0, -0.5], [0, 0, 0]], atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int8])
def test_cross_entropy_accepts_integer_label_dtypes_and_lists(dtype):
    logits = randn(3, 4)
    labels = np.array([0, 3, 1], dtype=dtype)
    expected = cross_entropy_np(logits, labels.astype(np.int64))
    assert pc.ops.cross_entropy(logits, labels).item() == pytest.approx(expected, rel=1e-5)
    assert pc.ops.cross_entropy(logits, [0, 3, 1]).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("shape", [(1,), (4, 3), (2, 3, 4)])
def test_mse_loss_forward_and_backward_to_both_inputs(shape):
    check_grad(pc.ops.mse_loss, mse_np, [randn(*shape), randn(*shape)])
    check_grad(pc.ops.mse_loss, mse_np, [randn(*shape), randn(*shape)], wrt=[0])


def test_custom_loss_matches_mse_loss_value_and_gradient():
    pred_np, y_np = randn(8, 3).astype(np.float32), randn(8, 3).astype(np.float32)
    a = pc.Tensor(pred_np.copy(), requires_grad=True)
    b = pc.Tensor(pred_np.copy(), requires_grad=True)
    custom = ((a - y_np) ** 2).mean()
    builtin = pc.ops.mse_loss(b, y_np)
    assert custom.shape == builtin.shape == ()
    assert custom.item() == pytest.approx(builtin.item(), rel=1e-6)
    custom.backward()
    builtin.backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_custom_cross_entropy_matches_cross_entropy():
    logits = randn(6, 5).astype(np.float32)
    labels = RNG.integers(0, 5, size=6)
    onehot = np.eye(5, dtype=np.float32)[labels]
    a = pc.Tensor(logits.copy(), requires_grad=True)
    b = pc.Tensor(logits.copy(), requires_grad=True)
    custom = -(pc.ops.log_softmax(a) * onehot).sum(dim=1).mean()
    builtin = pc.ops.cross_entropy(b, labels)
    assert custom.item() == pytest.approx(builtin.item(), rel=1e-5)
    custom.backward()
    builtin.backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-6)


# ---- elementwise arithmetic with broadcasting -------------------------------------------------

BINARY = [
    (pc.ops.add, np.add),
    (pc.ops.sub, np.subtract),
    (pc.ops.mul, np.multiply),
    (pc.ops.div, np.divide),
]
BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 3, 4)),
    ((2, 1, 4), (3, 1)),
    ((2, 3), ()),
    ((), (2, 3)),
    ((), ()),
    ((5,), (1,)),
    ((1, 1), (2, 3)),
]


@pytest.mark.parametrize("fn,ref", BINARY, ids=["add", "sub", "mul", "div"])
@pytest.mark.parametrize("sa,sb", BROADCAST_SHAPES)
def test_binary_ops_broadcast_like_numpy(fn, ref, sa, sb):
    a = randn(*sa)
    b = np.asarray(positive(*sb) * RNG.choice([-1, 1], size=sb))  # away from 0 for div
    tensors, out = check_grad(fn, ref, [a, b])
    assert tensors[0].grad.shape == sa and tensors[1].grad.shape == sb


@pytest.mark.parametrize("fn,ref", BINARY, ids=["add", "sub", "mul", "div"])
def test_binary_op_gradient_to_one_input_only(fn, ref):
    a, b = randn(3, 4), positive(4)
    check_grad(fn, ref, [a, b], wrt=[0])
    check_grad(fn, ref, [a, b], wrt=[1])


@pytest.mark.parametrize(
    "fn,ref",
    [
        (lambda t: t * t, lambda a: a * a),
        (lambda t: t + t, lambda a: a + a),
        (lambda t: t / (t * t + 1), lambda a: a / (a * a + 1)),
        (lambda t: pc.ops.mul(t, t.sum(dim=0)), lambda a: a * a.sum(axis=0)),
    ],
    ids=["x*x", "x+x", "x/(x*x+1)", "x*x.sum(0)"],
)
def test_tensor_used_more_than_once(fn, ref):
    check_grad(fn, ref, [randn(3, 4)])


SCALAR_CASES = [
    (lambda t: t + 2.5, lambda a: a + 2.5),
    (lambda t: 2.5 + t, lambda a: 2.5 + a),
    (lambda t: t - 1.5, lambda a: a - 1.5),
    (lambda t: 1.5 - t, lambda a: 1.5 - a),
    (lambda t: t * -3, lambda a: a * -3),
    (lambda t: -3 * t, lambda a: -3 * a),
    (lambda t: t / 4, lambda a: a / 4),
    (lambda t: 4 / t, lambda a: 4 / a),
    (lambda t: t**2, lambda a: a**2),
    (lambda t: t**3, lambda a: a**3),
    (lambda t: t**0.5, lambda a: a**0.5),
    (lambda t: t**-1.5, lambda a: a**-1.5),
    (lambda t: t**0, lambda a: a**0),
    (lambda t: 2**t, lambda a: 2**a),
    (lambda t: np.float32(2) * t, lambda a: 2 * a),
    (lambda t: t * np.float64(2), lambda a: 2 * a),
    (lambda t: np.int64(3) - t, lambda a: 3 - a),
    (lambda t: t + True, lambda a: a + 1),
    (lambda t: -t, lambda a: -a),
    (lambda t: pc.ops.neg(t), lambda a: -a),
    (lambda t: pc.ops.pow(t, 2), lambda a: a**2),
    (lambda t: pc.ops.exp(t), np.exp),
    (lambda t: pc.ops.log(t), np.log),
]


@pytest.mark.parametrize("case", range(len(SCALAR_CASES)))
def test_scalar_and_unary_ops(case):
    fn, ref = SCALAR_CASES[case]
    check_grad(fn, ref, [positive(3, 4)])


def test_scalar_ops_on_negative_inputs():
    x = -positive(2, 5)
    for fn, ref in [(lambda t: t**2, np.square), (lambda t: t**3, lambda a: a**3)]:
        check_grad(fn, ref, [x])
    check_grad(lambda t: 3 / t, lambda a: 3 / a, [x])


def test_pow_zero_has_zero_gradient_even_at_zero():
    x = pc.Tensor(np.array([0.0, 2.0], np.float32), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0])


def test_special_values_follow_numpy_without_crashing():
    x = np.array([0.0, -1.0, 2.0], np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(pc.ops.log(x).numpy(), np.log(x))
        np.testing.assert_array_equal((pc.Tensor(x) / 0).numpy(), x / np.float32(0))
        np.testing.assert_array_equal((1 / pc.Tensor(x)).numpy(), 1 / x)
        np.testing.assert_array_equal(
            pc.ops.div(x, np.zeros(3, np.float32)).numpy(), x / np.zeros(3, np.float32)
        )
        np.testing.assert_array_equal((pc.Tensor(x) ** 0.5).numpy(), x**0.5)
    # and the backward through them does not crash either
    t = pc.Tensor(x, requires_grad=True)
    pc.ops.log(t).sum().backward()
    assert t.grad.shape == (3,)


def test_ops_with_only_numbers_give_0d_tensors():
    for y, expected in [(pc.ops.add(2, 3), 5), (pc.ops.div(1, 4), 0.25), (pc.ops.pow(3, 2), 9)]:
        assert isinstance(y, pc.Tensor) and y.shape == () and y.item() == expected


# ---- Tensor operators and methods -------------------------------------------------------------


def test_operators_accept_tensors_numbers_and_arrays_on_either_side():
    a_np = positive(2, 3).astype(np.float32)
    b_np = positive(3).astype(np.float32)
    a, b = pc.Tensor(a_np), pc.Tensor(b_np)
    cases = [
        (a + b, a_np + b_np),
        (a - b_np, a_np - b_np),
        (b_np - a, b_np - a_np),
        (a_np * b, a_np * b_np),
        (b_np / a, b_np / a_np),
        (a / b_np, a_np / b_np),
        (2 - a, 2 - a_np),
        (1 / a, 1 / a_np),
        (a**2, a_np**2),
        ([1.0, 2.0, 3.0] + a, a_np + [1, 2, 3]),
        (a @ b_np, a_np @ b_np),
        (b_np @ a_np.T.copy() @ a, b_np @ a_np.T @ a_np),
    ]
    for got, expected in cases:
        assert isinstance(got, pc.Tensor), type(got)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


def test_tensor_methods_match_the_ops():
    x_np = randn(2, 3, 4).astype(np.float32)
    x = pc.Tensor(x_np)
    pairs = [
        (x.sum(), x_np.sum()),
        (x.sum(dim=1), x_np.sum(axis=1)),
        (x.sum(-1, keepdim=True), x_np.sum(axis=-1, keepdims=True)),
        (x.mean(), x_np.mean()),
        (x.mean(dim=(0, 2)), x_np.mean(axis=(0, 2))),
        (x.reshape(6, 4), x_np.reshape(6, 4)),
        (x.reshape((4, -1)), x_np.reshape(4, -1)),
        (x.relu(), np.maximum(x_np, 0)),
        (x.sigmoid(), 1 / (1 + np.exp(-x_np))),
        (x.tanh(), np.tanh(x_np)),
        (x.exp(), np.exp(x_np)),
        (pc.Tensor(abs(x_np) + 1).log(), np.log(abs(x_np) + 1)),
        (x.softmax(), softmax_np(x_np)),
        (x.softmax(dim=0), softmax_np(x_np, 0)),
        (x.log_softmax(1), log_softmax_np(x_np, 1)),
        (x.reshape(6, 4).matmul(np.ones((4, 2), np.float32)), x_np.reshape(6, 4) @ np.ones((4, 2))),
    ]
    for got, expected in pairs:
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-6)


def test_bool_of_tensors_is_like_numpy():
    assert bool(pc.Tensor(np.array([2.0], np.float32)))
    assert not bool(pc.Tensor(np.array(0.0, np.float32)))
    with pytest.raises(ValueError, match=r"ambiguous.*\(2, 2\)|\(2, 2\).*ambiguous"):
        bool(pc.Tensor(np.ones((2, 2), np.float32)))
    with pytest.raises(ValueError, match="ambiguous"):
        if pc.Tensor(np.zeros(0, np.float32)):
            pass


def test_unsupported_operands_raise_type_error():
    x = pc.Tensor(np.ones(3, np.float32))
    with pytest.raises(TypeError):
        x + "abc"
    with pytest.raises(TypeError):
        None * x
    with pytest.raises(TypeError, match="numeric"):
        x * np.array(["a", "b", "c"])
    with pytest.raises(TypeError, match="real number"):
        x * 1j
    with pytest.raises(TypeError, match="tensor \\*\\* tensor"):
        x**x
    with pytest.raises(ValueError, match="base > 0"):
        (-2) ** x


# ---- matmul -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sa,sb",
    [
        ((3, 4), (4, 5)),
        ((1, 1), (1, 1)),
        ((4,), (4, 5)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((7, 1), (1, 6)),
    ],
)
def test_matmul_forward_and_backward(sa, sb):
    tensors, out = check_grad(pc.ops.matmul, np.matmul, [randn(*sa), randn(*sb)])
    assert out.shape == np.matmul(np.ones(sa), np.ones(sb)).shape


def test_matmul_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        pc.ops.matmul(np.ones((3, 4)), np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        pc.ops.matmul(np.ones(4), np.ones(3))
    with pytest.raises(ValueError, match=r"1-D or 2-D.*\(2, 3, 4\)"):
        pc.ops.matmul(np.ones((2, 3, 4)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"1-D or 2-D.*\(\)"):
        pc.ops.matmul(np.ones(4), np.float32(2.0) * np.ones(()))


# ---- sum, mean, reshape -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "op,ref", [(pc.ops.sum, np.sum), (pc.ops.mean, np.mean)], ids=["sum", "mean"]
)
@pytest.mark.parametrize(
    "dim,keepdim",
    [
        (None, False),
        (None, True),
        (0, False),
        (-1, True),
        ((0, 2), False),
        ((2, 0), True),
        ((-1, -2, 0), False),
        ((), False),
        ([1], True),
        ((1, 2), True),  # trailing dims (a global average pool's): the row loop
        ((-1, -2), False),
    ],
)
def test_sum_and_mean_over_dims(op, ref, dim, keepdim):
    x = randn(2, 3, 4)
    axis = tuple(dim) if isinstance(dim, (tuple, list)) else dim
    check_grad(lambda t: op(t, dim, keepdim), lambda a: ref(a, axis=axis, keepdims=keepdim), [x])


def test_sum_of_0d_and_empty_tensors():
    assert pc.ops.sum(np.float32(3.0) * np.ones(())).item() == 3
    assert pc.ops.sum(np.zeros((0, 3), np.float32)).item() == 0
    np.testing.assert_array_equal(pc.ops.sum(np.zeros((0, 3)), 0).numpy(), np.zeros(3))
    with np.errstate(all="ignore"):
        assert np.isnan(pc.ops.mean(np.zeros((0, 3), np.float32)).item())


def test_sum_is_accurate_for_many_elements():
    x = np.full(1_000_001, 0.1, np.float32)
    assert pc.ops.sum(x).item() == pytest.approx(np.sum(x.astype(np.float64)), rel=1e-7)


def test_reshape_shares_data_and_has_gradient():
    x_np = randn(2, 3, 4).astype(np.float32)
    x = pc.Tensor(x_np, requires_grad=True)
    y = pc.ops.reshape(x, -1, 4)
    assert y.shape == (6, 4)
    assert np.shares_memory(y.numpy(), x_np)
    check_grad(lambda t: pc.ops.reshape(t, (4, 6)) * 2, lambda a: a.reshape(4, 6) * 2, [x_np])
    check_grad(lambda t: t.reshape(24), lambda a: a.reshape(24), [x_np])
    assert pc.ops.reshape(np.ones((1, 1), np.float32), ()).shape == ()
    assert pc.ops.reshape(np.ones((0, 3), np.float32), 3, 0).shape == (3, 0)


def test_leaf_gradient_never_aliases_a_tensor_the_caller_holds():
    # reshape's backward passes a view of the incoming gradient to the leaf: the tape adopts a
    # gradient only when nothing else can reach its data, so the caller's tensors stay as given
    # when the leaf's gradient accumulates (a second backward) or the optimiser scales it.
    w = pc.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    upstream = pc.Tensor(np.full((6,), 2.0, np.float32))
    for seed in (upstream, pc.ops.reshape(w, 6) * 0 + 2):  # foreign memory; pocketcnn memory
        w.grad = None
        seed_before = np.array(seed.numpy())
        pc.ops.reshape(w, 6).backward(seed)
        pc.ops.reshape(w, 6).backward(seed)
        np.testing.assert_array_equal(seed.numpy(), seed_before)
        np.testing.assert_array_equal(w.grad.numpy(), np.full((2, 3), 4.0, np.float32))
        assert not np.shares_memory(w.grad.numpy(), seed.numpy())


def test_leaf_gradients_accumulate_when_adopted():
    # conv2d's dw is a fresh tensor the tape adopts as w.grad; a second backward adds onto it.
    x = pc.Tensor(randn(2, 3, 6, 6).astype(np.float32))
    w = pc.Tensor(randn(4, 3, 3, 3).astype(np.float32), requires_grad=True)
    pc.ops.sum(pc.ops.conv2d(x, w)).backward()
    once = np.array(w.grad.numpy())
    pc.ops.sum(pc.ops.conv2d(x, w)).backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * once, rtol=1e-6)


@pytest.mark.parametrize(
    "shape,match",
    [
        ((4, 5), r"\(2, 3, 4\).*24 elements.*\(4, 5\).*20"),
        ((-1, -1), "only one dimension can be -1"),
        ((5, -1), "not a multiple"),
        ((-2, 12), "invalid size -2"),
    ],
)
def test_reshape_errors(shape, match):
    with pytest.raises(ValueError, match=match):
        pc.ops.reshape(np.ones((2, 3, 4), np.float32), shape)


def test_reshape_argument_types():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="int"):
        pc.ops.reshape(x, 2.0, 3)
    with pytest.raises(TypeError, match="missing shape"):
        pc.ops.reshape(x)
    with pytest.raises(ValueError, match="-1.*other sizes multiply to 0"):
        pc.ops.reshape(np.ones((0, 3), np.float32), -1, 0)
    assert pc.ops.reshape(x, np.array([3, 2])).shape == (3, 2)


# ---- errors -----------------------------------------------------------------------------------


def test_cross_entropy_errors_name_the_problem():
    logits = np.zeros((4, 10), np.float32)
    with pytest.raises(ValueError, match=r"target\[2\] = 10 .* 10 classes"):
        pc.ops.cross_entropy(logits, np.array([0, 1, 10, 2]))
    with pytest.raises(ValueError, match=r"target\[0\] = -1"):
        pc.ops.cross_entropy(logits, np.array([-1, 1, 2, 3]))
    with pytest.raises(TypeError, match="integer class labels.*float"):
        pc.ops.cross_entropy(logits, np.array([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="integer"):
        pc.ops.cross_entropy(logits, pc.Tensor(np.zeros(4, np.float32)))
    with pytest.raises(ValueError, match=r"batch size 4.*\(4, 10\).*3 labels"):
        pc.ops.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"empty batch.*\(0, 10\)"):
        pc.ops.cross_entropy(np.zeros((0, 10), np.float32), np.array([], np.int64))
    with pytest.raises(ValueError, match=r"2-D.*\(10,\)"):
        pc.ops.cross_entropy(np.zeros(10, np.float32), np.array([1]))
    with pytest.raises(ValueError, match="1-D"):
        pc.ops.cross_entropy(logits, np.zeros((4, 1), np.int64))


def test_mse_loss_errors():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\).*same shape"):
        pc.ops.mse_loss(np.zeros((4, 1), np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="empty"):
        pc.ops.mse_loss(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    with pytest.raises(TypeError, match="target"):
        pc.ops.mse_loss(np.zeros(3, np.float32), None)


def test_broadcast_errors_name_both_shapes():
    for fn in (pc.ops.add, pc.ops.sub, pc.ops.mul, pc.ops.div):
        with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\).*broadcast"):
            fn(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 3\)"):
        pc.Tensor(np.ones((2, 3), np.float32)) + np.ones((3, 3))


def test_dim_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"softmax: dim 2 .* \(2, 3\)"):
        pc.ops.softmax(x, 2)
    with pytest.raises(ValueError, match=r"log_softmax: dim -3"):
        pc.ops.log_softmax(x, -3)
    with pytest.raises(TypeError, match="dim must be an int"):
        pc.ops.softmax(x, 1.0)
    with pytest.raises(ValueError, match="dim"):
        pc.ops.softmax(np.float32(1) * np.ones(()))
    with pytest.raises(ValueError, match=r"sum: dim 2 .* \(2, 3\)"):
        pc.ops.sum(x, 2)
    with pytest.raises(ValueError, match="more than once"):
        pc.ops.mean(x, (1, -1))
    with pytest.raises(TypeError, match="int"):
        pc.ops.sum(x, dim=True)


@pytest.mark.parametrize(
    "call",
    [
        lambda: pc.ops.relu(np.array(["a", "b"])),
        lambda: pc.ops.relu(None),
        lambda: pc.ops.softmax(np.array([1 + 2j])),
        lambda: pc.ops.add(np.ones(3), None),
        lambda: pc.ops.mul(None, 2),
        lambda: pc.ops.mse_loss(np.array([object()]), np.ones(1)),
        lambda: pc.ops.sum({"a": 1}),
        lambda: pc.ops.matmul(np.ones(2), "x"),
    ],
)
def test_non_numeric_input_is_a_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_float64_and_non_contiguous_input_are_converted():
    x = randn(4, 6)[:, ::2]  # float64, not contiguous
    np.testing.assert_allclose(pc.ops.softmax(x).numpy(), softmax_np(x), rtol=1e-5)
    np.testing.assert_allclose((pc.Tensor(x) * x).numpy(), x * x, rtol=1e-6)


# ---- grad mode --------------------------------------------------------------------------------

ALL_OPS_ON_X = [
    lambda x: pc.ops.relu(x),
    lambda x: pc.ops.sigmoid(x),
    lambda x: pc.ops.tanh(x),
    lambda x: pc.ops.softmax(x),
    lambda x: pc.ops.log_softmax(x, 0),
    lambda x: pc.ops.cross_entropy(x, [0, 1]),
    lambda x: pc.ops.mse_loss(x, np.zeros((2, 3))),
    lambda x: x + x,
    lambda x: x - 1,
    lambda x: 1 - x,
    lambda x: x * x,
    lambda x: 2 / x,
    lambda x: x / x,
    lambda x: x**2,
    lambda x: -x,
    lambda x: x.exp(),
    lambda x: x.log(),
    lambda x: x @ np.ones(3),
    lambda x: x.sum(),
    lambda x: x.mean(1),
    lambda x: x.reshape(-1),
]


def test_no_grad_records_nothing_and_grad_mode_records_everything():
    x = pc.Tensor(positive(2, 3).astype(np.float32), requires_grad=True)
    with pc.no_grad():
        for fn in ALL_OPS_ON_X:
            y = fn(x)
            assert y.grad_fn is None and not y.requires_grad
    for fn in ALL_OPS_ON_X:
        y = fn(x)
        assert y.grad_fn is not None and y.requires_grad
    plain = pc.Tensor(np.ones((2, 3), np.float32))
    assert pc.ops.relu(plain).grad_fn is None
