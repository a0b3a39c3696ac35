"""conv2d, max_pool2d, avg_pool2d, flatten: forward against plain float64 numpy, backward against
finite differences (gradcheck.check_grad), shapes, views, and the errors bad arguments raise."""

import math

import numpy as np
import pytest
from gradcheck import check_grad

import pocketcnn as pc

# ---- independent float64 numpy implementations -------------------------------------------------


def windows(xp, kh, kw, sh, sw):
    """(N, C, Hp, Wp) -> (N, C, P, Q, kh, kw): every kh x kw window at the given strides."""
    v = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return v[:, :, ::sh, ::sw]


def conv2d_np(x, w, b=None, stride=(1, 1), pads=(0, 0, 0, 0)):
    """pads = (top, bottom, left, right). Cross-correlation over zero-padded windows."""
    top, bottom, left, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    y = np.einsum("ncpqrs,kcrs->nkpq", windows(xp, w.shape[2], w.shape[3], *stride), w)
    return y if b is None else y + b[None, :, None, None]


def conv2d_loops_np(x, w, b, stride, pads):
    """The same convolution as explicit loops, gathering each output (a second, dumber opinion)."""
    n_, c_, h_, w_ = x.shape
    k_, _, r_, s_ = w.shape
    top, bottom, left, right = pads
    p_ = (h_ + top + bottom - r_) // stride[0] + 1
    q_ = (w_ + left + right - s_) // stride[1] + 1
    y = np.zeros((n_, k_, p_, q_))
    for n in range(n_):
        for k in range(k_):
            for p in range(p_):
                for q in range(q_):
                    acc = 0.0 if b is None else b[k]
                    for c in range(c_):
                        for r in range(r_):
                            for s in range(s_):
                                h, v = p * stride[0] - top + r, q * stride[1] - left + s
                                if 0 <= h < h_ and 0 <= v < w_:
                                    acc += x[n, c, h, v] * w[k, c, r, s]
                    y[n, k, p, q] = acc
    return y


def max_pool2d_np(x, kernel, stride, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0],) * 2, (pad[1],) * 2), constant_values=-np.inf)
    return windows(xp, *kernel, *stride).max(axis=(4, 5))


def avg_pool2d_np(x, kernel, stride, pad, count_include_pad=True):
    widths = ((0, 0), (0, 0), (pad[0],) * 2, (pad[1],) * 2)
    sums = windows(np.pad(x, widths), *kernel, *stride).sum(axis=(4, 5))
    if count_include_pad:
        return sums / (kernel[0] * kernel[1])
    real = np.pad(np.ones(x.shape), widths)
    return sums / windows(real, *kernel, *stride).sum(axis=(4, 5))


def same_pads(size, kernel, stride):
    """TensorFlow's 'same': output ceil(size / stride), extra padding at the end."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_pads(x_shape, w_shape, stride, padding):
    """pocketcnn's conv2d padding argument as (top, bottom, left, right)."""
    if padding == "same":
        return same_pads(x_shape[2], w_shape[2], stride[0]) + same_pads(
            x_shape[3], w_shape[3], stride[1]
        )
    if padding == "valid":
        return (0, 0, 0, 0)
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return (ph, ph, pw, pw)


def as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def distinct_values(shape, rng):
    """Well-separated values in random order, so max-pool ties cannot flip under rounding."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * (4.0 / n) - 2.0).reshape(shape)


# ---- conv2d ------------------------------------------------------------------------------------

# (N, C, H, W), (K, R, S), stride, padding, bias
CONV_CASES = [
    ((1, 1, 5, 5), (1, 3, 3), 1, 0, True),
    ((2, 3, 7, 6), (4, 3, 2), (2, 1), 1, True),  # non-square kernel, odd sizes
    ((3, 2, 9, 8), (2, 2, 3), 3, 2, False),  # stride 3, padding 2
    ((2, 2, 6, 7), (3, 4, 4), 2, "same", True),  # even kernel, 'same' with a stride
    ((1, 3, 8, 8), (2, 2, 2), 1, "same", False),  # even kernel, stride 1: pad 0 top, 1 bottom
    ((2, 1, 7, 9), (2, 3, 5), (3, 2), "same", True),
    ((1, 2, 5, 5), (3, 5, 5), 1, "valid", True),  # kernel == input
    ((2, 2, 4, 5), (3, 1, 1), 1, 0, True),  # 1x1 convolution
    ((1, 2, 5, 6), (2, 3, 2), 2, (1, 2), True),  # padding as a pair
    ((2, 1, 3, 3), (2, 4, 4), 1, 1, False),  # kernel larger than the unpadded input
    ((1, 1, 6, 6), (1, 2, 2), 2, 2, True),  # taps entirely in the padding at the border
    # 3x3 stride 1 with >= 8 channels in and out: the Winograd kernels (forward, weight grad).
    ((2, 8, 6, 7), (9, 3, 3), 1, 1, True),
    ((1, 9, 5, 6), (8, 3, 3), 1, "valid", False),
    ((1, 8, 33, 30), (8, 3, 3), 1, 1, True),  # big enough for the Winograd input gradient
    # A whole block of 8 images (AVX2, portable): Winograd F(4x4) forward and both gradients.
    ((8, 8, 7, 6), (9, 3, 3), 1, 1, True),
    ((16, 9, 6, 9), (8, 3, 3), 1, "valid", False),  # two blocks (one with AVX-512)
    ((13, 8, 5, 6), (8, 3, 3), 1, 1, True),  # two blocks of 8, the last padded (AVX-512: F(2x2))
    # Strided first layers: the forward on phase planes, both gradients through them.
    ((2, 3, 12, 11), (8, 3, 3), 2, 1, True),
    ((1, 3, 13, 12), (4, 7, 7), 2, 3, True),
    ((2, 1, 11, 10), (3, 5, 4), (2, 3), "same", False),
    # Stride 1 with >= 16 filters and >= 64 rows C*R*S: the broadcast-GEMM weight gradient.
    ((2, 3, 8, 9), (16, 5, 5), 1, 2, True),  # a first layer, 5x5 'same'
    ((3, 4, 7, 6), (17, 7, 7), 1, 3, False),  # 7x7, K past a vector, uneven blocks
    ((1, 6, 6, 8), (18, 5, 3), 1, (1, 2), True),  # non-square kernel, unequal padding
]


@pytest.mark.parametrize("xs,ks,stride,padding,bias", CONV_CASES)
def test_conv2d_forward_and_backward(xs, ks, stride, padding, bias):
    rng = np.random.default_rng(hash((xs, ks)) % 2**32)
    k, r, s = ks
    x = rng.standard_normal(xs)
    w = rng.standard_normal((k, xs[1], r, s))
    b = rng.standard_normal(k)
    st = as_pair(stride)
    pads = conv_pads(xs, w.shape, st, padding)

    def ref(x, w, b=None):
        return conv2d_np(x, w, b, st, pads)

    # The einsum reference agrees with the plain loops (so it is itself right).
    np.testing.assert_allclose(
        ref(x, w, b if bias else None), conv2d_loops_np(x, w, b if bias else None, st, pads)
    )
    if bias:
        check_grad(
            lambda x, w, b: pc.ops.conv2d(x, w, b, stride=stride, padding=padding), ref, [x, w, b]
        )
    else:
        check_grad(lambda x, w: pc.ops.conv2d(x, w, stride=stride, padding=padding), ref, [x, w])


def test_conv2d_gradient_of_bias_only():
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s) for s in [(2, 2, 5, 5), (3, 2, 3, 3), (3,)])
    check_grad(
        lambda x, w, b: pc.ops.conv2d(x, w, b, padding=1),
        lambda x, w, b: conv2d_np(x, w, b, pads=(1, 1, 1, 1)),
        [x, w, b],
        wrt=[2],
    )


@pytest.mark.parametrize("size", [1, 2, 5, 6, 7, 28])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv2d_same_output_size(size, kernel, stride):
    x = np.ones((1, 1, size, size + 1), np.float32)
    w = np.ones((1, 1, kernel, kernel), np.float32)
    y = pc.ops.conv2d(x, w, padding="same", stride=stride)
    assert y.shape == (1, 1, math.ceil(size / stride), math.ceil((size + 1) / stride))
    if stride == 1:
        assert y.shape[2:] == x.shape[2:]


def test_conv2d_same_even_kernel_pads_bottom_right():
    # All-ones 2x2 kernel, stride 1, 'same': one row/column of zeros at the bottom/right only, so
    # the last row and column sum fewer input elements.
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    y = pc.ops.conv2d(x, np.ones((1, 1, 2, 2), np.float32), padding="same").numpy()[0, 0]
    xp = np.pad(x[0, 0], ((0, 1), (0, 1)))
    expected = xp[:-1, :-1] + xp[1:, :-1] + xp[:-1, 1:] + xp[1:, 1:]
    np.testing.assert_array_equal(y, expected)


def test_conv2d_padding_is_case_insensitive_and_valid_is_zero():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        pc.ops.conv2d(x, w, padding="VALID").numpy(), pc.ops.conv2d(x, w).numpy()
    )
    np.testing.assert_array_equal(
        pc.ops.conv2d(x, w, padding="Same").numpy(), pc.ops.conv2d(x, w, padding=1).numpy()
    )


# ---- pooling -----------------------------------------------------------------------------------

# (N, C, H, W), kernel, stride, padding
POOL_CASES = [
    ((1, 1, 4, 4), 2, None, 0),
    ((2, 3, 7, 5), 2, None, 0),  # odd sizes: the last row/column is dropped (floor)
    ((2, 2, 7, 7), 3, 2, 1),  # overlapping windows with padding
    ((1, 2, 6, 9), (2, 3), (1, 2), (1, 1)),  # non-square everything
    ((3, 1, 9, 8), 3, 3, 0),  # stride 3
    ((1, 1, 5, 5), 4, 1, 2),  # padding 2 = kernel / 2
    ((2, 2, 3, 4), 1, 1, 0),  # 1x1 windows
    ((1, 1, 3, 3), 3, 2, 1),  # windows that are mostly padding
    # column stride 2 (pool_s2_impl.h): the stems' 3x3 / 2 with padding 1 and 0, odd sizes,
    # wider kernels, another row stride, planes narrower and wider than a vector
    ((2, 3, 16, 16), 3, 2, 1),
    ((1, 2, 17, 13), 3, 2, 0),
    ((1, 2, 5, 11), (3, 5), 2, (1, 2)),
    ((1, 1, 9, 20), (2, 4), (1, 2), (1, 2)),
    ((1, 2, 2, 3), 3, 2, 1),
]


@pytest.mark.parametrize("xs,kernel,stride,padding", POOL_CASES)
def test_max_pool2d_forward_and_backward(xs, kernel, stride, padding):
    rng = np.random.default_rng(sum(xs))
    x = distinct_values(xs, rng)
    k, p = as_pair(kernel), as_pair(padding)
    st = k if stride is None else as_pair(stride)
    check_grad(
        lambda x: pc.ops.max_pool2d(x, kernel, stride, padding),
        lambda x: max_pool2d_np(x, k, st, p),
        [x],
    )


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("xs,kernel,stride,padding", POOL_CASES)
def test_avg_pool2d_forward_and_backward(xs, kernel, stride, padding, count_include_pad):
    rng = np.random.default_rng(sum(xs) + 1)
    x = rng.standard_normal(xs)
    k, p = as_pair(kernel), as_pair(padding)
    st = k if stride is None else as_pair(stride)
    check_grad(
        lambda x: pc.ops.avg_pool2d(x, kernel, stride, padding, count_include_pad),
        lambda x: avg_pool2d_np(x, k, st, p, count_include_pad),
        [x],
    )


def test_max_pool2d_gradient_goes_to_the_first_maximum_of_ties():
    x = pc.Tensor(np.ones((1, 1, 2, 4), np.float32), requires_grad=True)
    pc.ops.max_pool2d(x, 2).backward(pc.Tensor(np.array([[[[1.0, 2.0]]]], np.float32)))
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 0, 2, 0], [0, 0, 0, 0]])


def test_max_pool2d_overlapping_ties_go_to_each_windows_first_element():
    # 3x3 / stride 2 / padding 1 on a constant plane: every window's first real element (row-major)
    # gets its window's gradient; elements shared by windows sum them.
    x = pc.Tensor(np.ones((1, 1, 7, 6), np.float32), requires_grad=True)
    y = pc.ops.max_pool2d(x, 3, 2, 1)
    dy = np.arange(1, 1 + y.shape[2] * y.shape[3], dtype=np.float32).reshape(y.shape)
    y.backward(pc.Tensor(dy))
    want = np.zeros((7, 6), np.float32)
    for p in range(y.shape[2]):
        for q in range(y.shape[3]):
            want[max(2 * p - 1, 0), max(2 * q - 1, 0)] += dy[0, 0, p, q]
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], want)


def test_max_pool2d_overlapping_nan_in_one_channel():
    # A NaN makes its channel take the NaN-aware kernel; the other channels must be unaffected.
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    x[1, 2, 3, 3] = np.nan
    y = pc.ops.max_pool2d(pc.Tensor(x), 3, 2, 1).numpy()
    want = max_pool2d_np(x.astype(np.float64), (3, 3), (2, 2), (1, 1))
    nan = np.isnan(y)
    assert nan.sum() == 4 and nan[1, 2, 1:3, 1:3].all()
    np.testing.assert_array_equal(y[~nan], want[~nan].astype(np.float32))


def test_max_pool2d_propagates_nan_and_handles_inf():
    x = np.array([[[[1.0, np.nan, -np.inf, -np.inf], [2.0, 3.0, -np.inf, -np.inf]]]], np.float32)
    y = pc.ops.max_pool2d(x, 2).numpy()[0, 0, 0]
    assert np.isnan(y[0]) and y[1] == -np.inf
    t = pc.Tensor(x, requires_grad=True)
    pc.ops.max_pool2d(t, 2).backward(pc.Tensor(np.ones((1, 1, 1, 2), np.float32)))
    np.testing.assert_array_equal(t.grad.numpy()[0, 0], [[0, 1, 1, 0], [0, 0, 0, 0]])


def test_pool_stride_defaults_to_kernel_size():
    x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    assert pc.ops.max_pool2d(x, 3).shape == (1, 1, 2, 2)
    assert pc.ops.avg_pool2d(x, (2, 3)).shape == (1, 1, 3, 2)
    np.testing.assert_array_equal(pc.ops.max_pool2d(x, 3).numpy()[0, 0], [[14, 17], [32, 35]])


# ---- flatten -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,start_dim,out",
    [
        ((2, 3, 4, 5), 1, (2, 60)),
        ((2, 3, 4, 5), 2, (2, 3, 20)),
        ((2, 3, 4, 5), -1, (2, 3, 4, 5)),
        ((2, 3, 4, 5), 0, (120,)),
        ((2, 3, 4, 5), -3, (2, 60)),
        ((7,), 0, (7,)),
    ],
)
def test_flatten_forward_and_backward(shape, start_dim, out):
    x = np.random.default_rng(3).standard_normal(shape)
    _, y = check_grad(lambda x: pc.ops.flatten(x, start_dim), lambda x: x.reshape(out), [x])
    assert y.shape == out


def test_flatten_shares_the_input_data():
    a = np.zeros((2, 3, 2, 2), np.float32)
    y = pc.ops.flatten(a)
    np.asarray(y)[1, 5] = 7.0
    assert a[1, 1, 0, 1] == 7.0


def test_flatten_of_an_empty_batch_is_fine():
    assert pc.ops.flatten(np.zeros((0, 3, 4), np.float32)).shape == (0, 12)


# ---- composition -------------------------------------------------------------------------------


def test_lecture_network_shape_chain_and_gradients():
    """1x28x28 -> 25x26x26 -> 25x13x13 -> 50x11x11 -> 50x5x5 -> 1250 -> 100 -> 10."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 1, 28, 28))
    w1, b1 = rng.standard_normal((25, 1, 3, 3)) / 3, rng.standard_normal(25) * 0.1
    w2, b2 = rng.standard_normal((50, 25, 3, 3)) / 15, rng.standard_normal(50) * 0.1
    w3, b3 = rng.standard_normal((100, 1250)) / 35, rng.standard_normal(100) * 0.1
    w4, b4 = rng.standard_normal((10, 100)) / 10, rng.standard_normal(10) * 0.1
    shapes = []

    def net_pc(x, w1, b1, w2, b2, w3, b3, w4, b4):
        h = x
        for step in (
            lambda h: pc.ops.conv2d(h, w1, b1),
            lambda h: pc.ops.max_pool2d(h, 2),
            lambda h: pc.ops.conv2d(h, w2, b2),
            lambda h: pc.ops.max_pool2d(h, 2),
            pc.ops.flatten,
            lambda h: pc.ops.linear(h, w3, b3),
            lambda h: pc.ops.linear(h, w4, b4),
        ):
            h = step(h)
            shapes.append(h.shape[1:])
        return h

    def net_np(x, w1, b1, w2, b2, w3, b3, w4, b4):
        h = max_pool2d_np(conv2d_np(x, w1, b1), (2, 2), (2, 2), (0, 0))
        h = max_pool2d_np(conv2d_np(h, w2, b2), (2, 2), (2, 2), (0, 0))
        h = h.reshape(len(h), -1) @ w3.T + b3
        return h @ w4.T + b4

    check_grad(net_pc, net_np, [x, w1, b1, w2, b2, w3, b3, w4, b4], max_points=25)
    assert shapes == [(25, 26, 26), (25, 13, 13), (50, 11, 11), (50, 5, 5), (1250,), (100,), (10,)]


def test_conv2d_backward_after_the_isa_changed():
    """The forward keeps Winograd's transform of x for the weight gradient, laid out for the ISA
    in use; a backward under another ISA (set_isa_cap in between) gives the same gradient. (Where
    the layouts differ -- AVX-512's 16-float vectors against 8 -- the backward transforms x again;
    without AVX-512 the ISAs share the layout and this checks the gradient across them.)"""
    from pocketcnn import _core

    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 9, 8, 8)).astype(np.float32)
    w = (rng.standard_normal((10, 9, 3, 3)) / 9).astype(np.float32)
    dy = rng.standard_normal((3, 10, 8, 8)).astype(np.float32)
    xw = windows(np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1))), 3, 3, 1, 1)
    want_dw = np.einsum("nkpq,ncpqrs->kcrs", dy.astype(np.float64), xw)
    cap = _core.cpu_info()["isa_cap"]
    try:
        for backward_isa in ("scalar", "avx2", cap):
            wt = pc.Tensor(w, requires_grad=True)
            y = pc.ops.conv2d(x, wt, padding=1)
            _core.set_isa_cap(backward_isa)
            y.backward(pc.Tensor(dy))
            _core.set_isa_cap(cap)
            np.testing.assert_allclose(wt.grad.numpy(), want_dw, rtol=1e-4, atol=1e-4)
    finally:
        _core.set_isa_cap(cap)


def test_a_tensor_used_twice_accumulates_its_gradient():
    # a = conv2d(x, w) feeds both operands of a second conv2d: a diamond in the graph, so a's
    # gradient is the sum of two contributions.
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 2, 2))

    def twice_np(x, w):
        a = conv2d_np(x, w)  # (2, 2, 4, 3): usable as input (N=2, C=2) and weight (K=2, C=2)
        return conv2d_np(a, a)

    def twice_pc(x, w):
        a = pc.ops.conv2d(x, w)
        return pc.ops.conv2d(a, a)

    check_grad(twice_pc, twice_np, [x, w])
    # And a leaf used as both operands directly.
    check_grad(lambda x: pc.ops.conv2d(x, x), lambda x: conv2d_np(x, x), [x[:, :2, :3, :3]])


def test_two_backwards_into_the_same_leaf_add_up():
    rng = np.random.default_rng(6)
    x = pc.Tensor(rng.standard_normal((1, 2, 5, 5)).astype(np.float32), requires_grad=True)
    w1, w2 = (rng.standard_normal((3, 2, 3, 3)).astype(np.float32) for _ in range(2))
    g = np.ones((1, 3, 3, 3), np.float32)
    pc.ops.conv2d(x, w1).backward(pc.Tensor(g))
    pc.ops.conv2d(x, w2).backward(pc.Tensor(g))
    x64 = np.asarray(x, dtype=np.float64)
    expected = np.zeros(x64.shape)
    for w in (w1, w2):  # d<conv(x), g>/dx by the adjoint: correlate the padded g with w flipped
        gp = np.pad(g.astype(np.float64), ((0, 0), (0, 0), (2, 2), (2, 2)))
        expected += conv2d_np(gp, w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).astype(np.float64))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not hasattr(pc.Tensor, "__add__"), reason="tensor + tensor not there yet")
def test_sum_of_two_convolutions_of_one_input():
    rng = np.random.default_rng(7)
    x, w1, w2 = (rng.standard_normal(s) for s in [(2, 2, 6, 5), (3, 2, 3, 3), (3, 2, 3, 3)])
    check_grad(
        lambda x, w1, w2: pc.ops.conv2d(x, w1) + pc.ops.conv2d(x, w2, padding=0),
        lambda x, w1, w2: conv2d_np(x, w1) + conv2d_np(x, w2),
        [x, w1, w2],
    )


def test_no_grad_records_nothing():
    x = pc.Tensor(np.ones((1, 1, 4, 4), np.float32), requires_grad=True)
    w = np.ones((1, 1, 3, 3), np.float32)
    with pc.no_grad():
        for y in (
            pc.ops.conv2d(x, w),
            pc.ops.max_pool2d(x, 2),
            pc.ops.avg_pool2d(x, 2),
            pc.ops.flatten(x),
        ):
            assert y.grad_fn is None and not y.requires_grad
    assert pc.ops.max_pool2d(x, 2).grad_fn == "max_pool2d"


# ---- input conversion --------------------------------------------------------------------------


def test_float64_and_non_contiguous_inputs_are_converted():
    rng = np.random.default_rng(8)
    big = rng.standard_normal((2, 3, 10, 12))
    x = big[:, :, ::2, 1::3]  # non-contiguous float64 view, (2, 3, 5, 4)
    w = rng.standard_normal((4, 3, 3, 2))[:, :, :, ::-1]
    b = rng.standard_normal(4)
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    np.testing.assert_allclose(
        pc.ops.conv2d(x, w, b, padding=1).numpy(),
        conv2d_np(x, w, b, pads=(1, 1, 1, 1)),
        rtol=1e-4,
        atol=1e-4,
    )
    np.testing.assert_allclose(
        pc.ops.max_pool2d(x, 2).numpy(), max_pool2d_np(x, (2, 2), (2, 2), (0, 0)), rtol=1e-6
    )
    np.testing.assert_allclose(
        pc.ops.avg_pool2d(x, 2).numpy(), avg_pool2d_np(x, (2, 2), (2, 2), (0, 0)), rtol=1e-5
    )
    np.testing.assert_allclose(pc.ops.flatten(x).numpy(), x.reshape(2, -1), rtol=1e-6)
    assert pc.ops.max_pool2d(x.astype(np.int64), 2).shape == (2, 3, 2, 2)


def test_numpy_integer_arguments_are_accepted():
    x = np.ones((1, 1, 6, 6), np.float32)
    w = np.ones((1, 1, 3, 3), np.float32)
    assert pc.ops.conv2d(x, w, stride=np.int64(2), padding=(np.int32(1), 1)).shape == (1, 1, 3, 3)
    assert pc.ops.max_pool2d(x, np.int64(2)).shape == (1, 1, 3, 3)
    assert pc.ops.flatten(x, np.int64(2)).shape == (1, 1, 36)


# ---- errors ------------------------------------------------------------------------------------

X = np.zeros((2, 3, 5, 5), np.float32)
W = np.zeros((4, 3, 3, 3), np.float32)
XS = r"\(2, 3, 5, 5\)"  # the input's shape, as every message must name it


@pytest.mark.parametrize(
    "call,error,pattern",
    [
        (lambda: pc.ops.conv2d(X[0], W), ValueError, r"input.*4-D.*\(3, 5, 5\)"),
        (lambda: pc.ops.conv2d(X, W[0]), ValueError, r"weight.*4-D.*\(3, 3, 3\).*" + XS),
        (lambda: pc.ops.conv2d(X, W[:, :2]), ValueError, r"channels.*" + XS + r".*\(4, 2, 3, 3\)"),
        (
            lambda: pc.ops.conv2d(X, np.zeros((4, 3, 6, 2), np.float32)),
            ValueError,
            r"kernel \(6, 2\) is larger than the padded input \(5, 5\).*" + XS,
        ),
        (
            lambda: pc.ops.conv2d(X, np.zeros((4, 3, 8, 8), np.float32), padding=1),
            ValueError,
            r"larger than the padded input \(7, 7\).*" + XS,
        ),
        (lambda: pc.ops.conv2d(X, W, stride=0), ValueError, r"stride.*>= 1.*" + XS),
        (lambda: pc.ops.conv2d(X, W, stride=(1, -2)), ValueError, r"stride.*" + XS),
        (lambda: pc.ops.conv2d(X, W, padding=-1), ValueError, r"padding.*>= 0.*" + XS),
        (lambda: pc.ops.conv2d(X, W, padding="full"), ValueError, r"padding.*'full'"),
        (lambda: pc.ops.conv2d(X, W, stride=1.5), TypeError, r"stride"),
        (lambda: pc.ops.conv2d(X, W, padding=(1, 2, 3)), TypeError, r"padding"),
        (lambda: pc.ops.conv2d(X[:0], W), ValueError, r"empty batch.*\(0, 3, 5, 5\)"),
        (lambda: pc.ops.conv2d(X, W, np.zeros(3)), ValueError, r"bias.*\(4,\).*\(3,\).*" + XS),
        (lambda: pc.ops.conv2d(X, W, np.zeros((4, 1))), ValueError, r"bias.*\(4, 1\)"),
        (lambda: pc.ops.conv2d(X, W[:0]), ValueError, r"weight.*\(0, 3, 3, 3\)"),
        (lambda: pc.ops.conv2d(X[:, :, :0], W), ValueError, r"\(2, 3, 0, 5\)"),
        (lambda: pc.ops.conv2d(None, W), TypeError, r"conv2d: input.*None"),
        (lambda: pc.ops.conv2d(X, None), TypeError, r"conv2d: weight.*None"),
        (lambda: pc.ops.conv2d(X, "abc"), TypeError, r"conv2d: weight.*numeric"),
        (lambda: pc.ops.max_pool2d(X[0], 2), ValueError, r"max_pool2d: input.*4-D.*\(3, 5, 5\)"),
        (lambda: pc.ops.max_pool2d(X, 2, padding=2), ValueError, r"half the kernel.*" + XS),
        (lambda: pc.ops.max_pool2d(X, 3, padding=(1, 2)), ValueError, r"half.*" + XS),
        (lambda: pc.ops.max_pool2d(X, 6), ValueError, r"larger than the padded input.*" + XS),
        (lambda: pc.ops.max_pool2d(X, 2, stride=0), ValueError, r"stride.*>= 1.*" + XS),
        (lambda: pc.ops.max_pool2d(X, 0), ValueError, r"kernel_size.*>= 1.*" + XS),
        (lambda: pc.ops.max_pool2d(X, 2, padding=-1), ValueError, r"padding.*>= 0.*" + XS),
        (lambda: pc.ops.max_pool2d(X[:0], 2), ValueError, r"empty batch.*\(0, 3, 5, 5\)"),
        (lambda: pc.ops.max_pool2d(X, None), TypeError, r"kernel_size"),
        (lambda: pc.ops.avg_pool2d(X, 2, padding=2), ValueError, r"avg_pool2d.*half.*" + XS),
        (lambda: pc.ops.avg_pool2d(X, 8, padding=1), ValueError, r"larger.*\(7, 7\).*" + XS),
        (lambda: pc.ops.avg_pool2d(X[:0], 2), ValueError, r"empty batch"),
        (lambda: pc.ops.avg_pool2d(X, 2, count_include_pad="no"), TypeError, r"count_include"),
        (lambda: pc.ops.flatten(X, 4), ValueError, r"start_dim 4.*" + XS),
        (lambda: pc.ops.flatten(X, -5), ValueError, r"start_dim -5.*" + XS),
        (lambda: pc.ops.flatten(np.float32(3)), ValueError, r"flatten.*at least 1.*\(\)"),
        (lambda: pc.ops.flatten(X, 1.0), TypeError, r"start_dim"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_core_checks_arguments_the_wrappers_normally_catch():
    # The C++ op checks again what the Python wrappers check, for callers of pocketcnn._core.
    core = pc._core
    with pytest.raises(ValueError, match=r"stride.*\(0, 1\).*" + XS):
        core.conv2d(X, W, None, 0, 1, 0, 0, 0, 0)
    with pytest.raises(ValueError, match=r"padding.*>= 0.*" + XS):
        core.conv2d(X, W, None, 1, 1, 0, 0, -1, 0)
    with pytest.raises(ValueError, match=r"padding must be at most"):
        core.conv2d(X, W, None, 1, 1, 2**40, 0, 0, 0)
    with pytest.raises(ValueError, match=r"kernel_size.*\(0, 2\).*" + XS):
        core.max_pool2d(X, 0, 2, 1, 1, 0, 0)
    with pytest.raises(ValueError, match=r"half the kernel.*" + XS):
        core.avg_pool2d(X, 2**62, 2**62, 1, 1, 2**61 + 1, 0, True)


def test_ints_beyond_int64_are_value_errors():
    with pytest.raises(ValueError, match=r"padding.*too large.*" + XS):
        pc.ops.conv2d(X, W, padding=10**30)
    with pytest.raises(ValueError, match=r"stride.*too large.*" + XS):
        pc.ops.max_pool2d(X, 2, stride=(1, 10**30))
    with pytest.raises(ValueError, match=r"start_dim.*out of range.*\(2, 3, 5, 5\)"):
        pc.ops.flatten(X, -(10**30))
