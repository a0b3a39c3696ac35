"""pc.viz on functional (graph) models: feature maps of any layer of a residual net (by name,
index or object), saliency through the branches, maximisation of a layer inside a block."""

import numpy as np
import pytest

import pocketcnn as pc

L = pc.layers


def residual_net():
    x = pc.Input((1, 10, 10))
    h = L.Conv2D(4, 3, padding="same", activation="tanh", name="stem")(x)
    y = L.Conv2D(4, 3, padding="same", activation="tanh", name="inner")(h)
    h = L.ReLU(name="out_relu")(L.Add(name="add")([h, y]))
    h = L.Concatenate(name="cat")([h, L.Conv2D(2, 1, name="side")(h)])
    out = L.Dense(3, activation="softmax", name="head")(L.GlobalAveragePooling2D()(h))
    return pc.Model(x, out, seed=3)


def by_hand(model, img):
    """Every layer's output for one image, computed layer by layer (no graph walking)."""
    g = model.get_layer
    with pc.no_grad():
        t = pc.Tensor(img[None])
        out = {"stem": g("stem")(t)}
        out["inner"] = g("inner")(out["stem"])
        out["add"] = g("add")([out["stem"], out["inner"]])
        out["out_relu"] = g("out_relu")(out["add"])
        out["side"] = g("side")(out["out_relu"])
        out["cat"] = g("cat")([out["out_relu"], out["side"]])
    return {k: np.asarray(v)[0] for k, v in out.items()}


@pytest.fixture(scope="module")
def model_and_image():
    return residual_net(), np.random.default_rng(0).uniform(0, 1, (1, 10, 10)).astype(np.float32)


@pytest.mark.parametrize("name", ["stem", "inner", "add", "out_relu", "side", "cat"])
def test_feature_maps_of_every_layer_of_the_graph(model_and_image, name):
    model, img = model_and_image
    want = pc.viz.make_grid(by_hand(model, img)[name], normalise="each")
    np.testing.assert_allclose(pc.viz.feature_maps(model, img, name), want, atol=1e-6)
    index = [layer.name for layer in model.layers].index(name)
    np.testing.assert_array_equal(
        pc.viz.feature_maps(model, img, index), pc.viz.feature_maps(model, img, name)
    )
    layer = model.get_layer(name)
    assert pc.viz.feature_maps(model, img[None], layer).shape == want.shape


def test_feature_maps_of_a_shared_layer_show_its_last_call():
    x = pc.Input((2, 6, 6))
    shared = L.Conv2D(2, 3, padding="same", activation="tanh", name="shared")
    first = shared(x)
    model = pc.Model(x, L.Flatten()(shared(first)))
    img = np.random.default_rng(1).uniform(0, 1, (2, 6, 6)).astype(np.float32)
    with pc.no_grad():
        twice = np.asarray(shared(shared(pc.Tensor(img[None]))))[0]
    np.testing.assert_allclose(
        pc.viz.feature_maps(model, img, "shared"), pc.viz.make_grid(twice, normalise="each"),
        atol=1e-6,
    )  # fmt: skip


def test_saliency_flows_through_both_branches(model_and_image):
    model, img = model_and_image
    res = pc.viz.saliency(model, img, class_index=1)
    assert res.gradient.shape == (1, 10, 10) and np.abs(res.gradient).max() > 0
    # finite differences of the class score (the logit) at one pixel, in float64 by hand
    eps, (i, j) = 1e-2, (4, 5)

    def score(a):
        with pc.no_grad():
            logits = model._forward(pc.Tensor(a[None]), training=False, logits=True)
        return float(np.asarray(logits)[0, 1])

    up, down = img.copy(), img.copy()
    up[0, i, j] += eps
    down[0, i, j] -= eps
    fd = (score(up) - score(down)) / (2 * eps)
    assert res.gradient[0, i, j] == pytest.approx(fd, rel=2e-2, abs=1e-4)


def test_maximize_a_filter_inside_the_residual_block(model_and_image):
    model, img = model_and_image
    res = pc.viz.maximize(model, "inner", index=2, steps=30, l1=0.0, tv=0.0, seed=0)
    assert np.asarray(res).shape == (10, 10)
    assert res.activation > res.history[0]  # the start image's mean activation of filter 2
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        pc.viz.feature_maps(model, img, "nope")
