"""Gradient checking shared by the op tests.

The analytic gradient (pocketcnn's C++ backward, float32) is compared with central finite
differences of an *independent* float64 numpy implementation of the same forward, so an error in
either the forward or the backward kernel shows up. A second, looser check differentiates
pocketcnn's own float32 forward numerically, to catch a backward that matches numpy's maths but
not the forward we actually compute.
"""

from __future__ import annotations

import numpy as np

import pocketcnn as pc


def numeric_grad(f, arrays, index, eps, max_points, rng):
    """d sum(f(*arrays) * g) / d arrays[index] by central differences at up to max_points points.

    Returns (flat indices checked, gradient values there).
    """
    x = arrays[index]
    n = x.size
    points = np.arange(n) if n <= max_points else rng.choice(n, size=max_points, replace=False)
    grads = np.empty(len(points))
    flat = x.reshape(-1)
    for j, p in enumerate(points):
        old = flat[p]
        flat[p] = old + eps
        plus = f(*arrays)
        flat[p] = old - eps
        minus = f(*arrays)
        flat[p] = old
        grads[j] = (plus - minus) / (2 * eps)
    return points, grads


def check_grad(pc_fn, np_fn, inputs, *, wrt=None, seed=0, max_points=150, rtol=2e-3, atol=2e-3):
    """Checks pocketcnn's backward of pc_fn against numpy's np_fn (same signature, float64).

    inputs: list of float64 numpy arrays (the point of evaluation). wrt: indices of inputs to
    differentiate (default: all). Extra non-array arguments should be bound into the functions.
    """
    rng = np.random.default_rng(seed)
    wrt = list(range(len(inputs))) if wrt is None else list(wrt)
    tensors = [
        pc.Tensor(a.astype(np.float32), requires_grad=(i in wrt)) for i, a in enumerate(inputs)
    ]
    out = pc_fn(*tensors)
    ref_out = np.asarray(np_fn(*inputs), dtype=np.float64)
    assert out.shape == ref_out.shape, f"forward shape {out.shape} != numpy's {ref_out.shape}"
    np.testing.assert_allclose(
        out.numpy(), ref_out, rtol=1e-4, atol=1e-4 * (1 + np.abs(ref_out).max(initial=0))
    )
    cot = rng.standard_normal(ref_out.shape)
    out.backward(pc.Tensor(cot.astype(np.float32)))

    def loss64(*arrays):
        return float(np.sum(np.asarray(np_fn(*arrays), dtype=np.float64) * cot))

    for i in wrt:
        analytic = tensors[i].grad
        assert analytic is not None, f"input {i} got no gradient"
        analytic = analytic.numpy().astype(np.float64).reshape(-1)
        arrays = [a.astype(np.float64).copy() for a in inputs]
        points, numeric = numeric_grad(loss64, arrays, i, 1e-6, max_points, rng)
        scale = max(1.0, np.abs(numeric).max(initial=0))
        np.testing.assert_allclose(
            analytic[points],
            numeric,
            rtol=rtol,
            atol=atol * scale,
            err_msg=f"gradient of input {i} disagrees with float64 finite differences",
        )
    return tensors, out
