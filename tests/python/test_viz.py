"""pc.viz: saliency is the input gradient, maximisation works, grids and PNGs are right."""

import os

import numpy as np
import pytest

import pocketcnn as pc

L = pc.layers
FASHION = "/usr/share/datasets/fashion-mnist"


def smooth_model(seed=0):
    """tanh and average pooling only: smooth, so finite differences are accurate."""
    return pc.Sequential(
        [
            L.Conv2D(4, 3, activation="tanh", input_shape=(1, 10, 10)),
            L.AvgPool2D(2),
            L.Flatten(),
            L.Dense(6, activation="tanh"),
            L.Dense(3, activation="softmax"),
        ],
        seed=seed,
    )


@pytest.fixture(scope="module")
def trained():
    """A small CNN trained briefly on real Fashion-MNIST (or skipped without the data)."""
    if not os.path.isdir(FASHION):
        pytest.skip(
            f"Fashion-MNIST not installed at {FASHION} (apt-get install dataset-fashion-mnist)"
        )
    (x, y), (xt, yt) = pc.datasets.fashion_mnist()
    x, y = x[:3000, None].astype("float32") / 255, y[:3000]
    model = pc.Sequential(
        [
            L.Conv2D(8, 3, activation="relu", input_shape=(1, 28, 28)),
            L.MaxPool2D(2),
            L.Conv2D(8, 3, activation="relu"),
            L.MaxPool2D(2),
            L.Flatten(),
            L.Dense(10, activation="softmax"),
        ],
        seed=1,
    )
    model.compile(optimizer=pc.optim.Adam(3e-3), loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(
        x[:2500], y[:2500], batch_size=64, epochs=2, verbose=0, validation_data=(x[2500:], y[2500:])
    )
    return model, history, xt[:200, None].astype("float32") / 255, yt[:200]


def test_saliency_is_the_autograd_input_gradient_and_matches_finite_differences():
    model = smooth_model()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (1, 10, 10)).astype(np.float32)
    res = pc.viz.saliency(model, x, class_index=2)
    assert res.gradient.shape == (1, 10, 10) and res.map.shape == (10, 10)
    assert res.overlay.shape == (10, 10, 3) and res.class_index == 2

    # The same gradient computed by hand through the model's layers.
    xt = pc.Tensor(x[None].copy(), requires_grad=True)
    h = xt
    for i, layer in enumerate(model.layers):
        h = layer(h, apply_activation=i < len(model.layers) - 1)
    (h * np.array([[0, 0, 1]], np.float32)).sum().backward()
    np.testing.assert_allclose(res.gradient, np.asarray(xt.grad)[0], rtol=1e-6, atol=1e-7)

    def score(img):
        with pc.no_grad():
            return float(np.asarray(model._forward(pc.Tensor(img[None]), False, logits=True))[0, 2])

    assert res.score == pytest.approx(score(x), rel=1e-5)
    eps = 1e-2
    flat = x.reshape(-1)
    for p in rng.choice(flat.size, 12, replace=False):
        plus, minus = flat.copy(), flat.copy()
        plus[p] += eps
        minus[p] -= eps
        fd = (score(plus.reshape(x.shape)) - score(minus.reshape(x.shape))) / (2 * eps)
        assert res.gradient.reshape(-1)[p] == pytest.approx(fd, rel=2e-2, abs=2e-4)
    # The map is |gradient| scaled to [0, 1], its largest pixel is where |gradient| is largest.
    assert res.map.max() == pytest.approx(1.0)
    assert np.argmax(res.map) == np.argmax(np.abs(res.gradient[0]))


def test_saliency_defaults_to_the_predicted_class_and_checks_arguments():
    model = smooth_model()
    x = np.random.default_rng(1).uniform(0, 1, (1, 10, 10)).astype(np.float32)
    predicted = int(np.argmax(model.predict(x[None])[0]))
    assert pc.viz.saliency(model, x).class_index == predicted
    with pytest.raises(ValueError, match="out of range"):
        pc.viz.saliency(model, x, class_index=3)
    with pytest.raises(ValueError, match=r"\(1, 9, 10\)"):
        pc.viz.saliency(model, np.zeros((1, 9, 10), np.float32))
    with pytest.raises(TypeError, match="numeric"):
        pc.viz.saliency(model, np.array([["a"]]))


def test_filter_grid_shapes():
    model = smooth_model()
    grid = pc.viz.filters(model, 0)  # 4 kernels 1x3x3 -> 2x2 tiles of 3x3 with 1-px gaps
    assert grid.shape == (2 * 4 + 1, 2 * 4 + 1)
    assert 0.0 <= grid.min() and grid.max() <= 1.0
    deep = pc.Sequential([L.Conv2D(3, 3, input_shape=(1, 8, 8)), L.Conv2D(5, (3, 2))])
    grid = pc.viz.filters(deep, 1)  # rows: 5 kernels, cols: 3 input channels, tiles 3x2
    assert grid.shape == (5 * 4 + 1, 3 * 3 + 1)
    with pytest.raises(ValueError, match="not a conv layer"):
        pc.viz.filters(model, 2)
    with pytest.raises(ValueError, match="no layer named"):
        pc.viz.filters(model, "nope")


def test_feature_map_grid_shows_each_channel():
    model = smooth_model()
    x = np.random.default_rng(2).uniform(0, 1, (1, 10, 10)).astype(np.float32)
    grid = pc.viz.feature_maps(model, x, 0)  # 4 channels of 8x8
    assert grid.shape == (2 * 9 + 1, 2 * 9 + 1)
    with pc.no_grad():
        act = np.asarray(model.layers[0](pc.Tensor(x[None])))[0, 3]
    tile = grid[1 + 9 : 1 + 9 + 8, 1 + 9 : 1 + 9 + 8]
    np.testing.assert_allclose(tile, (act - act.min()) / (act.max() - act.min()), atol=1e-5)
    assert pc.viz.feature_maps(model, x, 3).shape == (1, 6)  # a dense layer: one row


def test_maximize_beats_real_and_random_inputs(trained):
    model, _, xt, _ = trained
    for layer, index in ((2, 3), (-1, 7)):  # a filter of the second conv layer; class 7
        with pc.no_grad():
            real = max(
                pc.viz._target(model, pc.Tensor(img[None].copy()), layer % 6, index).item()
                for img in xt[:100]
            )
            rnd = np.random.default_rng(0).uniform(0, 1, (20, 1, 28, 28)).astype(np.float32)
            rand = max(
                pc.viz._target(model, pc.Tensor(r[None].copy()), layer % 6, index).item()
                for r in rnd
            )
        # Without the L1 / TV priors the ascent goes far beyond any real image; with them (the
        # defaults) it trades some activation for a natural image but still beats every one.
        for priors, factor in (({"l1": 0.0, "tv": 0.0}, 1.5), ({}, 1.0)):
            res = pc.viz.maximize(model, layer, index, steps=60, lr=0.05, seed=0, **priors)
            assert res.image.shape == (1, 28, 28)
            assert res.image.min() >= 0.0 and res.image.max() <= 1.0
            best = factor * max(real, rand, 1e-3)
            assert res.activation > best, (layer, priors, res.activation, real, rand)
            assert res.history[-1] > res.history[0]


def test_curves_image_from_history(trained):
    _, history, _, _ = trained
    img = pc.viz.curves(history, width=200, height=120)
    assert img.shape == (120, 400, 3)
    blue = np.all(np.isclose(img, (0.12, 0.47, 0.71), atol=1e-3), axis=-1)
    orange = np.all(np.isclose(img, (1.0, 0.5, 0.05), atol=1e-3), axis=-1)
    assert blue[:, :200].any() and orange[:, :200].any()  # training and validation loss
    assert blue[:, 200:].any() and orange[:, 200:].any()  # training and validation accuracy
    with pytest.raises(ValueError, match="History"):
        pc.viz.curves({})


def test_save_png_round_trip(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    model = smooth_model()
    path = pc.viz.save_png(pc.viz.filters(model, 0), tmp_path / "filters.png", scale=4)
    with Image.open(path) as im:
        assert im.size == (9 * 4, 9 * 4) and im.mode == "L"
        a = np.asarray(im)
    assert a.std() > 0  # not blank
    rgb = pc.viz.save_png(np.random.default_rng(0).uniform(0, 1, (5, 7, 3)), tmp_path / "c.png")
    with Image.open(rgb) as im:
        assert im.size == (7, 5) and im.mode == "RGB"
    with pytest.raises(ValueError, match="NaN"):
        pc.viz.save_png(np.full((2, 2), np.nan), tmp_path / "nan.png")
    with pytest.raises(ValueError, match="shape"):
        pc.viz.save_png(np.zeros((2, 2, 4)), tmp_path / "bad.png")
    assert sorted(os.listdir(tmp_path)) == ["c.png", "filters.png"]  # no temp files left
