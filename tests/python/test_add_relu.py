"""Training's residual Add + ReLU as one op (``_core.add_relu``, the functional Model's fusion):
the op against numpy and float64 finite differences, the fused model against the layer-by-layer
one, and the graphs where the fusion must not happen."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_grad

import pocketcnn as pc
from pocketcnn import _core


def test_add_relu_equals_relu_of_the_sum_bit_for_bit():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 2, 3, 37, 41)).astype(np.float32)
    a[0, 0, 0, :3] = [np.nan, -0.0, 0.0]
    want = pc.ops.relu(pc.ops.add(pc.Tensor(a), pc.Tensor(b))).numpy()
    got = _core.add_relu(pc.Tensor(a), pc.Tensor(b)).numpy()
    np.testing.assert_array_equal(got, want)
    assert 0 < (got == 0).mean() < 1


def test_add_relu_gradients_against_float64_finite_differences():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 3, 2, 5, 7))
    # Away from the kink (a + b = 0), where central differences are not the derivative.
    b += np.where(a + b > 0, 0.1, -0.1)
    check_grad(_core.add_relu, lambda a, b: np.maximum(a + b, 0.0), [a, b])


def test_add_relu_gives_both_inputs_the_gradient():
    a = pc.Tensor(np.array([[1.0, -2.0, 3.0]], np.float32), requires_grad=True)
    b = pc.Tensor(np.array([[1.0, 1.0, -4.0]], np.float32), requires_grad=True)
    pc.ops.sum(_core.add_relu(a, b)).backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(b.grad.numpy(), [[1.0, 0.0, 0.0]])


def test_add_relu_rejects_mismatched_shapes():
    a, b = pc.Tensor(np.zeros((2, 3), np.float32)), pc.Tensor(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"add_relu: input has shape \(2, 3\), other has \(3, 2\)"):
        _core.add_relu(a, b)


def _residual_model(add=pc.layers.Add, extra_reader=False, seed=0):
    x = inputs = pc.Input((2, 6, 6))
    x = pc.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = pc.layers.BatchNormalization()(pc.layers.Conv2D(4, 3, padding="same")(x))
    s = add(name="add")([x, y])
    out = pc.layers.ReLU()(s)
    if extra_reader:  # the sum itself is read again: it must exist, un-ReLU'd
        out = pc.layers.Add()([out, pc.layers.Conv2D(4, 1)(s)])
    out = pc.layers.Dense(3, activation="softmax")(pc.layers.GlobalAveragePooling2D()(out))
    return pc.Model(inputs, out, seed=seed)


def _train_alike(fused, plain, steps=3):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 2, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    plain._relu_fused = set()  # layer by layer
    for m in (fused, plain):
        m.compile(pc.optim.SGD(0.1, momentum=0.9), "cross_entropy")
    for _ in range(steps):
        a, b = fused.train_on_batch(x, y), plain.train_on_batch(x, y)
        np.testing.assert_allclose(list(a.values()), list(b.values()), rtol=1e-5, atol=1e-6)
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    return x


def test_model_trains_add_and_relu_as_one_op_with_the_layer_by_layer_results():
    fused, plain = _residual_model(), _residual_model()
    add_call = next(i for i, c in enumerate(fused._calls) if c.layer.name == "add")
    assert add_call in fused._relu_fused_calls()
    x = _train_alike(fused, plain)
    # The Add's own output (pc.viz) is still the sum before the ReLU.
    s = fused._forward_to_layer(pc.Tensor(x), fused.get_layer("add")).numpy()
    assert (s < 0).any()


class _MyAdd(pc.layers.Add):
    pass


@pytest.mark.parametrize("case", ["extra_reader", "subclass"])
def test_no_fusion_where_the_sum_is_read_again_or_the_add_is_a_subclass(case):
    kw = {"extra_reader": True} if case == "extra_reader" else {"add": _MyAdd}
    fused = _residual_model(**kw)
    names = {fused._calls[i].layer.name for i in fused._relu_fused_calls()}
    assert "add" not in names
    _train_alike(fused, _residual_model(**kw), steps=1)


def test_no_fusion_for_three_inputs_or_a_relu_that_is_not_the_only_reader():
    x = inputs = pc.Input((4,))
    a, b = pc.layers.Dense(4)(x), pc.layers.Dense(4)(x)
    three = pc.layers.Add()([x, a, b])  # add_relu takes two
    r3 = pc.layers.ReLU()(three)
    two = pc.layers.Add()([a, b])  # read by the ReLU and by the Concatenate
    r2 = pc.layers.ReLU()(two)
    out = pc.layers.Dense(2)(pc.layers.Concatenate()([r3, r2, two]))
    model = pc.Model(inputs, out)
    assert not any(model._calls[i].multi for i in model._relu_fused_calls())
