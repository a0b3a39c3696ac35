"""Optional cross-check of conv2d and pooling against torch.nn.functional (skipped without torch).

A second, independent implementation of the same conventions: PyTorch's cross-correlation, weight
layout (K, C, R, S), -inf padding for max pooling and count_include_pad for average pooling.
"""

import numpy as np
import pytest

import pocketcnn as pc

torch = pytest.importorskip("torch")
F = torch.nn.functional


def run_both(pc_fn, torch_fn, arrays, seed):
    """Forward and gradients (for a random output cotangent) of both libraries."""
    rng = np.random.default_rng(seed)
    ours = [pc.Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    y, ty = pc_fn(*ours), torch_fn(*theirs)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    cot = rng.standard_normal(tuple(ty.shape))
    y.backward(pc.Tensor(cot.astype(np.float32)))
    ty.backward(torch.tensor(cot))
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(
    "xs,ws,stride,padding",
    [
        ((2, 3, 9, 8), (4, 3, 3, 2), (2, 1), (1, 2)),
        ((1, 2, 7, 7), (3, 2, 5, 5), 3, 2),
        ((3, 1, 6, 5), (2, 1, 3, 3), 1, "same"),  # stride 1: TF's 'same' equals torch's
        ((2, 2, 6, 7), (3, 2, 2, 4), 1, "same"),  # even kernels too (extra pad at the end)
        ((2, 25, 13, 13), (50, 25, 3, 3), 1, 0),
    ],
)
def test_conv2d_matches_torch(xs, ws, stride, padding):
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    run_both(
        lambda x, w, b: pc.ops.conv2d(x, w, b, stride=stride, padding=padding),
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding),
        [x, w, b],
        seed=1,
    )


@pytest.mark.parametrize(
    "xs,kernel,stride,padding",
    [((2, 3, 7, 6), 2, None, 0), ((1, 2, 9, 8), 3, 2, 1), ((2, 1, 6, 9), (2, 3), (1, 2), (1, 1))],
)
def test_pooling_matches_torch(xs, kernel, stride, padding):
    rng = np.random.default_rng(sum(xs))
    x = rng.permutation(int(np.prod(xs))).reshape(xs) / 10.0  # distinct: no max ties
    run_both(
        lambda x: pc.ops.max_pool2d(x, kernel, stride, padding),
        lambda x: F.max_pool2d(x, kernel, stride, padding),
        [x],
        seed=2,
    )
    for include in (True, False):
        run_both(
            lambda x, include=include: pc.ops.avg_pool2d(
                x, kernel, stride, padding, count_include_pad=include
            ),
            lambda x, include=include: F.avg_pool2d(
                x, kernel, stride, padding, count_include_pad=include
            ),
            [x],
            seed=3,
        )
