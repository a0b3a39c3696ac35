"""Tensor.backward(watch=..., on_grad_ready=...): each watched gradient reported once, final."""

from __future__ import annotations

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn import losses


def model_and_loss(seed: int = 0):
    model = pc.Sequential(
        [
            pc.layers.Conv2D(4, 3, input_shape=(2, 8, 8), activation="relu"),
            pc.layers.MaxPool2D(2),
            pc.layers.Flatten(),
            pc.layers.Dense(5, activation="relu"),
            pc.layers.Dense(3),
        ],
        seed=seed,
    )
    x = np.random.default_rng(seed).standard_normal((3, 2, 8, 8)).astype(np.float32)
    out = model._forward(pc.Tensor(x), training=True)
    return model, losses.compute("cross_entropy", out, np.array([0, 2, 1]))


def test_reports_every_weight_once_last_layer_first_with_its_final_gradient():
    model, loss = model_and_loss()
    params = model.trainable_weights
    seen = []

    def ready(i):
        seen.append((i, np.asarray(params[i].grad).copy()))

    loss.backward(watch=params, on_grad_ready=ready)
    order = [i for i, _ in seen]
    assert sorted(order) == list(range(len(params)))
    layer_of = [i // 2 for i in order]  # (kernel, bias) per layer
    assert layer_of == sorted(layer_of, reverse=True)  # the last layer's gradients are final first
    for i, at_report in seen:
        np.testing.assert_array_equal(at_report, np.asarray(params[i].grad))  # nothing added later

    model2, loss2 = model_and_loss()  # the same model and data without a hook: the same bits
    loss2.backward()
    for p, q in zip(params, model2.trainable_weights):
        np.testing.assert_array_equal(np.asarray(p.grad), np.asarray(q.grad))


def test_a_weight_used_twice_is_reported_after_its_last_contribution():
    w = pc.Tensor(np.full((3,), 2.0, np.float32), requires_grad=True)
    x = pc.Tensor(np.arange(3, dtype=np.float32))
    loss = (x * w).sum() + (x * w * w).sum()  # d/dw = x + 2 x w
    seen = []
    loss.backward(watch=[w], on_grad_ready=lambda i: seen.append(np.asarray(w.grad).copy()))
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], np.arange(3) * 5.0)


def test_watched_tensors_outside_the_graph_are_not_reported():
    model, loss = model_and_loss()
    other = pc.Tensor(np.zeros((2,), np.float32), requires_grad=True)
    seen = []
    loss.backward(watch=[other, model.trainable_weights[-1]], on_grad_ready=seen.append)
    assert seen == [1]
    assert other.grad is None


def test_an_exception_in_the_hook_ends_backward_and_reaches_the_caller():
    model, loss = model_and_loss()
    params = model.trainable_weights

    def fail(i):
        raise KeyError(f"hook saw {i}")

    with pytest.raises(KeyError, match="hook saw"):
        loss.backward(watch=params, on_grad_ready=fail)
    assert params[0].grad is None  # the first layer's gradients were never computed


def test_bad_hook_arguments_are_clear_errors():
    model, loss = model_and_loss()
    with pytest.raises(TypeError, match="on_grad_ready must be callable"):
        loss.backward(watch=model.trainable_weights, on_grad_ready=3)
    with pytest.raises(TypeError):
        loss.backward(watch=[1, 2], on_grad_ready=print)
