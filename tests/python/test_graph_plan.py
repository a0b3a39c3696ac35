"""The inference plan of functional (graph) models: Model.predict / evaluate run _core._GraphPlan
(chains with BatchNorm folded, Add + ReLU in one pass, Concatenate), equal to the layer-by-layer
forward pass (the tape under no_grad) under every ISA and thread count; shared layers; graphs
with a layer the plan does not know fall back to Python."""

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn._graph_inference import build_graph_plan

L = pc.layers


def _randomize_bn(model, seed=0):
    """Moving statistics far from (0, 1), so folding them into the conv is really tested."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                               for w in layer.get_weights()])  # fmt: skip
    return model


def residual_net():
    """stem conv-BN-ReLU; a residual block; Add + ReLU; a 1x1 branch concatenated; head."""
    x = pc.Input((3, 10, 10))
    h = L.Conv2D(6, 3, padding="same", use_bias=False)(x)
    h = L.ReLU()(L.BatchNormalization()(h))
    y = L.Conv2D(6, 3, padding="same", activation="relu")(h)
    y = L.BatchNormalization()(L.Conv2D(6, 3, padding="same", use_bias=False)(y))
    h = L.ReLU()(L.Add()([h, y]))
    h = L.Concatenate()([h, L.Conv2D(2, 1)(h)])
    h = L.MaxPool2D(2)(h)
    out = L.Dense(4, activation="softmax")(L.GlobalAveragePooling2D()(h))
    return _randomize_bn(pc.Model(x, out))


def shared_and_wide_net():
    """A layer used twice (shared weights), an Add of three inputs, a Concatenate along the
    width, a stride-2 projection shortcut, an Add whose ReLU is also read by another layer."""
    x = pc.Input((4, 8, 8))
    shared = L.Conv2D(4, 3, padding="same", activation="relu")
    a = shared(x)
    b = shared(a)
    s = L.Add()([x, a, b])
    r = L.ReLU()(s)
    down = L.Conv2D(6, 3, strides=2, padding="same")(r)
    proj = L.BatchNormalization()(L.Conv2D(6, 1, strides=2, use_bias=False)(r))
    t = L.Add()([down, proj])  # no ReLU after it
    w = L.Concatenate(axis=-1)([t, L.Activation("tanh")(t)])  # (6, 4, 8)
    out = L.Dense(5)(L.Flatten()(w))
    return _randomize_bn(pc.Model(x, out), 1)


NETS = {"residual": residual_net, "shared_and_wide": shared_and_wide_net}


def _tape(model, x, logits=False):
    with pc.no_grad():
        return np.asarray(model._forward(pc.Tensor(x), training=False, logits=logits)).copy()


@pytest.mark.parametrize("name", sorted(NETS))
@pytest.mark.parametrize("threads", [1, 2])
def test_predict_equals_the_tape_under_every_isa(name, threads):
    model = NETS[name]()
    assert build_graph_plan(model) is not None
    x = np.random.default_rng(0).standard_normal((7, *model.input_shape[1:])).astype(np.float32)
    saved_threads, saved_isa = pc.get_num_threads(), pc.cpu_info()["isa_cap"]
    try:
        pc.set_num_threads(threads)
        for isa in pc.cpu_info()["supported_isas"]:
            pc._core.set_isa_cap(isa)
            want = _tape(model, x)
            x_before = x.copy()
            for batch_size in (7, 3):  # one call, and batches into the result array
                got = model.predict(x, batch_size=batch_size)
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=isa)
            np.testing.assert_allclose(model.predict(x[:1]), want[:1], rtol=1e-5, atol=1e-5)
            np.testing.assert_array_equal(x, x_before)  # the plan never writes into its input
    finally:
        pc.set_num_threads(saved_threads)
        pc._core.set_isa_cap(saved_isa)


def test_add_relu_is_one_step_and_chains_are_fused():
    # stem chain, block chain, Add+ReLU, the 1x1 branch, Concatenate, the head chain: 6 steps
    # for 13 layer calls (the ReLU after the Add is no step of its own).
    model = residual_net()
    plan = build_graph_plan(model)
    assert len(model._calls) == 13 and len(plan) == 6


def test_evaluate_uses_the_logits_plan():
    model = residual_net()
    model.compile("adam", "cross_entropy", ["accuracy"])
    rng = np.random.default_rng(2)
    x = rng.standard_normal((12, 3, 10, 10)).astype(np.float32)
    y = rng.integers(0, 4, 12)
    logits = _tape(model, x, logits=True)
    assert np.asarray(model._plans.get(model.layers, logits=True).run(x)).shape == (12, 4)
    np.testing.assert_allclose(
        np.asarray(model._plans.get(model.layers, logits=True).run(x)),
        logits,
        rtol=1e-5,
        atol=1e-6,
    )
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    want = -log_p[np.arange(12), y].mean()
    assert model.evaluate(x, y, batch_size=5)["loss"] == pytest.approx(want, rel=1e-5)


def test_weight_updates_show_without_a_rebuild():
    model = residual_net()
    x = np.random.default_rng(3).standard_normal((2, 3, 10, 10)).astype(np.float32)
    plan = model._plans.get(model.layers)
    before = model.predict(x)
    conv = model.layers[0]
    conv.set_weights([w * 0.5 for w in conv.get_weights()])  # in place
    assert model._plans.get(model.layers) is plan
    after = model.predict(x)
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, _tape(model, x), rtol=1e-5, atol=1e-6)


class _DoubledAdd(L.Add):
    """Overrides forward without a plan step of its own: the plan must not run it as Add."""

    def forward(self, x, training):
        y = super().forward(x, training)
        return pc.ops.add(y, y)


def _fallback_models():
    x = pc.Input((2, 5, 5))
    yield pc.Model(x, _DoubledAdd()([x, L.Conv2D(2, 3, padding="same")(x)]))
    x = pc.Input((2, 5, 5))
    yield pc.Model(x, L.Add()([x, L.Conv2D(2, 3, padding="same", groups=2)(x)]))  # no step


def test_graphs_the_plan_cannot_run_fall_back_to_python():
    xs = np.random.default_rng(4).standard_normal((3, 2, 5, 5)).astype(np.float32)
    for model in _fallback_models():
        assert build_graph_plan(model) is None
        np.testing.assert_array_equal(model.predict(xs), _tape(model, xs))


def test_an_add_read_by_two_layers_keeps_its_value_and_saved_models_plan(tmp_path):
    # The Add's output is read by a ReLU and by the Concatenate: the ReLU cannot be fused into
    # the sum; the saved model rebuilds the same plan.
    x = pc.Input((3, 6, 6))
    s = L.Add()([x, L.Conv2D(3, 3, padding="same")(x)])
    out = L.Dense(2)(L.Flatten()(L.Concatenate()([L.ReLU()(s), s])))
    model = pc.Model(x, out)
    xs = np.random.default_rng(5).standard_normal((4, 3, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(model.predict(xs), _tape(model, xs), rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.pcnn")
    loaded = pc.load_model(tmp_path / "m.pcnn")
    assert build_graph_plan(loaded) is not None
    np.testing.assert_array_equal(loaded.predict(xs), model.predict(xs))


def test_wrong_input_is_a_clear_error():
    model = residual_net()
    with pytest.raises(ValueError, match=r"model takes inputs of shape \(None, 3, 10, 10\)"):
        model.predict(np.zeros((2, 3, 9, 10), np.float32))
