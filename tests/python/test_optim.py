"""Optimisers against a numpy implementation of PyTorch's formulas (and torch itself if present)."""

import math

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn import optim


def sgd_np(p, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0):
    p = p.astype(np.float64)
    buf = None
    for g in grads:
        d = g + weight_decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
    return p


def adam_np(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    p = p.astype(np.float64)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    b1, b2 = betas
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (np.sqrt(v) / math.sqrt(1 - b2**t) + eps)
    return p


def run(opt, p0, grads):
    w = pc.Tensor(p0.copy(), requires_grad=True)
    for g in grads:
        w.grad = g.astype(np.float32)
        opt.step([w])
        opt.zero_grad([w])
        assert w.grad is None
    return np.asarray(w).copy()


def problem(seed=0, shape=(4, 3), steps=5):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(steps)]
    return p0, grads


SGD_CASES = [
    {},
    {"momentum": 0.9},
    {"momentum": 0.9, "nesterov": True},
    {"momentum": 0.9, "dampening": 0.3},
    {"weight_decay": 0.01},
    {"momentum": 0.5, "nesterov": True, "weight_decay": 0.1},
]


@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_sgd_matches_numpy(kwargs):
    p0, grads = problem()
    got = run(optim.SGD(0.1, **kwargs), p0, grads)
    np.testing.assert_allclose(got, sgd_np(p0, grads, 0.1, **kwargs), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        (optim.Adam, {}),
        (optim.Adam, {"weight_decay": 0.1}),
        (optim.Adam, {"betas": (0.5, 0.9), "eps": 1e-3}),
        (optim.AdamW, {}),
        (optim.AdamW, {"weight_decay": 0.2}),
    ],
)
def test_adam_and_adamw_match_numpy(cls, kwargs):
    p0, grads = problem(1)
    got = run(cls(0.01, **kwargs), p0, grads)
    decoupled = cls is optim.AdamW
    kw = dict(kwargs)
    kw.setdefault("weight_decay", 1e-2 if decoupled else 0.0)
    want = adam_np(p0, grads, 0.01, decoupled=decoupled, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_matches_torch_when_available():
    torch = pytest.importorskip("torch")
    p0, grads = problem(2, shape=(7,), steps=6)
    pairs = [
        (
            optim.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
            lambda ps: torch.optim.SGD(ps, 0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        ),
        (
            optim.Adam(0.01, weight_decay=0.1),
            lambda ps: torch.optim.Adam(ps, 0.01, weight_decay=0.1),
        ),
        (optim.AdamW(0.01), lambda ps: torch.optim.AdamW(ps, 0.01)),
    ]
    for ours, make in pairs:
        tp = torch.tensor(p0.copy(), requires_grad=True)
        topt = make([tp])
        for g in grads:
            tp.grad = torch.tensor(g)
            topt.step()
        np.testing.assert_allclose(run(ours, p0, grads), tp.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_step_skips_parameters_without_gradient_and_keeps_state_per_position():
    a = pc.Tensor(np.ones(2, np.float32), requires_grad=True)
    b = pc.Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD(0.5, momentum=0.9)
    a.grad = np.ones(2, np.float32)
    opt.step([a, b])
    np.testing.assert_array_equal(np.asarray(a), [0.5, 0.5])
    np.testing.assert_array_equal(np.asarray(b), [1, 1, 1])
    assert "momentum_buffer" not in opt.state[1]
    with pytest.raises(ValueError, match="3 parameters.*state is for 2"):
        opt.step([a, b, a])


def test_schedules():
    s = optim.StepDecay(0.1, step_size=2, gamma=0.5)
    assert [s(e) for e in range(5)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    c = optim.CosineDecay(1.0, epochs=4, min_lr=0.2)
    assert c(0) == pytest.approx(1.0)
    assert c(2) == pytest.approx(0.6)
    assert c(4) == pytest.approx(0.2) and c(9) == pytest.approx(0.2)
    opt = optim.SGD(s)
    w = pc.Tensor(np.zeros(1, np.float32), requires_grad=True)
    opt.set_epoch(2)
    w.grad = np.ones(1, np.float32)
    opt.step([w])
    assert np.asarray(w)[0] == pytest.approx(-0.05)
    restored = optim.from_state_dict(opt.state_dict())
    assert isinstance(restored.lr, optim.StepDecay) and restored.current_lr == pytest.approx(0.05)


def test_clip_grad_norm_scales_all_gradients_together():
    a = pc.Tensor(np.zeros(2, np.float32), requires_grad=True)
    b = pc.Tensor(np.zeros(1, np.float32), requires_grad=True)
    a.grad = np.array([3.0, 0.0], np.float32)
    b.grad = np.array([4.0], np.float32)
    assert optim.clip_grad_norm([a, b], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(np.asarray(a.grad), [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(b.grad), [0.8], rtol=1e-5)
    assert optim.clip_grad_norm([a, b], 10.0) == pytest.approx(1.0, rel=1e-5)  # unchanged
    np.testing.assert_allclose(np.asarray(b.grad), [0.8], rtol=1e-5)
    # through the optimiser: plain SGD with lr 1 moves by exactly the clipped gradient
    a.grad = np.array([3.0, 0.0], np.float32)
    b.grad = np.array([4.0], np.float32)
    optim.SGD(1.0, clip_norm=0.5).step([a, b])
    np.testing.assert_allclose(np.asarray(b), [-0.4], rtol=1e-5)


def test_state_dict_round_trip_continues_identically():
    p0, grads = problem(3, steps=6)
    full = run(optim.Adam(0.01), p0, grads)
    first = optim.Adam(0.01)
    w = pc.Tensor(p0.copy(), requires_grad=True)
    for g in grads[:3]:
        w.grad = g
        first.step([w])
    second = optim.from_state_dict(first.state_dict())
    assert second.iterations == 3
    for g in grads[3:]:
        w.grad = g
        second.step([w])
    np.testing.assert_array_equal(np.asarray(w), full)


def test_bad_arguments():
    with pytest.raises(ValueError, match="lr"):
        optim.SGD(-1)
    with pytest.raises(TypeError, match="lr"):
        optim.Adam("fast")
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        optim.Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="unknown optimizer"):
        optim.get("lion")
    assert isinstance(optim.get("adamw"), optim.AdamW)
    with pytest.raises(ValueError, match="SGD"):
        optim.Adam().load_state_dict(optim.SGD().state_dict())


def test_core_update_rejects_arrays_it_could_not_update_in_place():
    p = np.ones(4, np.float64)
    with pytest.raises(TypeError, match="in place"):
        pc._core.sgd_update(p, np.ones(4, np.float32), None, 0.1)
    p32 = np.ones(8, np.float32)[::2]  # not contiguous
    with pytest.raises(TypeError, match="in place"):
        pc._core.sgd_update(p32, np.ones(4, np.float32), None, 0.1)
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        pc._core.sgd_update(np.ones(4, np.float32), np.ones(3, np.float32), None, 0.1)
