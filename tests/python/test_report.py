"""pc.viz.report in a real browser (headless Chromium), its HTML, escaping and output path;
conv_as_dense against the conv itself; the result objects as arrays."""

import html
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import pocketcnn as pc

L = pc.layers
FASHION = "/usr/share/datasets/fashion-mnist"
EVIL = '<script>alert("x")</script>&\'"'  # a layer / class name from an untrusted file
SECTIONS = (
    "summary",
    "conv-as-dense",
    "curves",
    "accuracy",
    "misclassified",
    "filters",
    "feature-maps",
    "saliency",
    "maximize-classes",
    "maximize-filters",
)


def small_cnn(seed, channels=1, size=28, classes=10, evil_names=False):
    return pc.Sequential(
        [
            L.Conv2D(
                6,
                3,
                activation="relu",
                input_shape=(channels, size, size),
                name=EVIL if evil_names else None,
            ),
            L.MaxPool2D(2),
            L.Conv2D(8, 3, padding="same", activation="relu"),
            L.AvgPool2D(2),
            L.Flatten(),
            L.Dense(classes, activation="softmax"),
        ],
        seed=seed,
    )


@pytest.fixture(scope="module")
def fashion():
    if not os.path.isdir(FASHION):
        pytest.skip(
            f"Fashion-MNIST not installed at {FASHION} (apt-get install dataset-fashion-mnist)"
        )
    (x, y), (xt, yt) = pc.datasets.fashion_mnist()
    prep = lambda a: a[:, None].astype(np.float32) / 255  # noqa: E731
    return prep(x[:6000]), y[:6000], prep(xt[:500]), yt[:500]


@pytest.fixture(scope="module")
def trained(fashion):
    x, y, _, _ = fashion
    model = small_cnn(1, evil_names=True)
    model.compile(optimizer=pc.optim.Adam(3e-3), loss="cross_entropy", metrics=["accuracy"])
    model.fit(
        x[:2500],
        y[:2500],
        batch_size=64,
        epochs=2,
        verbose=0,
        validation_data=(x[2500:3000], y[2500:3000]),
    )
    return model


def _chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("POCKETCNN_REQUIRE_CHROMIUM"):
            pytest.fail("POCKETCNN_REQUIRE_CHROMIUM is set but chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return exe


def _run_chromium(exe, *args):
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-extensions",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


# Appended to a test copy of the page (the report itself has no script): after load, writes
# what the browser made of it into the DOM, which --dump-dom prints.
_PROBE = """<script>window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var out = {images: imgs.length,
             broken: imgs.filter(function (i) {
               return !(i.complete && i.naturalWidth > 0); }).length,
             sections: Array.prototype.map.call(document.querySelectorAll("section"),
                                                function (s) { return s.id; }),
             scripts: document.scripts.length, title: document.title};
  var pre = document.createElement("pre"); pre.id = "probe";
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});</script>"""


@pytest.mark.slow
def test_report_renders_in_chromium_with_every_section_and_image(trained, fashion, tmp_path):
    html5lib = pytest.importorskip("html5lib")
    _, _, xt, yt = fashion
    names = [
        "T-shirt",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        EVIL,
    ]
    out = tmp_path / "report.html"
    assert pc.viz.report(
        trained,
        xt,
        yt,
        out,
        class_names=names,
        maximize_steps=40,
        filters_per_layer=3,
        images=2,
        verbose=0,
    ) == str(out)
    assert os.listdir(tmp_path) == ["report.html"]  # nothing else written, no temporary left
    text = out.read_text("utf-8")
    # Valid HTML (html5lib's strict mode raises on any parse error) and self-contained.
    html5lib.HTMLParser(strict=True).parse(text)
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert html.escape(EVIL, quote=True) in text  # the names, escaped
    probe_copy = tmp_path / "probe.html"
    probe_copy.write_text(text.replace("</body>", _PROBE + "</body>"), "utf-8")
    exe = _chromium()
    dom = _run_chromium(exe, "--dump-dom", probe_copy.as_uri())
    found = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom).group(1)))
    assert found["sections"] == list(SECTIONS)
    assert found["scripts"] == 1  # only the probe: the escaped names did not become scripts
    # One picture each for the dense matrix, the curves and the filters; 8 misclassified; per
    # test image 1 + 4 conv/pool feature maps and 1 + 3 saliency pictures; 10 classes; one grid
    # per conv layer.
    assert found["images"] == 3 + 8 + 2 * (5 + 4) + 10 + 2, found
    assert found["broken"] == 0, found
    shot = tmp_path / "shot.png"
    _run_chromium(exe, f"--screenshot={shot}", "--window-size=1000,2000", out.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a page, not a blank


def test_report_checks_arguments_and_writes_only_the_given_path(tmp_path, capsys):
    model = small_cnn(0, channels=3, size=12, classes=3)
    x = np.random.default_rng(0).uniform(0, 1, (20, 3, 12, 12)).astype(np.float32)
    y = np.arange(20) % 3
    with pytest.raises(ValueError, match="class names"):
        pc.viz.report(model, x, y, tmp_path / "r.html", class_names=["a"], verbose=0)
    with pytest.raises(ValueError, match="labels"):
        pc.viz.report(model, x, y + 5, tmp_path / "r.html", verbose=0)
    with pytest.raises(ValueError, match="shape"):
        pc.viz.report(model, x[:, :1], y, tmp_path / "r.html", verbose=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pc.viz.report(model, x, y, tmp_path / "no" / "r.html", verbose=0)
    assert os.listdir(tmp_path) == []
    # A colour model with 3 classes that was never fit: the page says there is no history.
    path = pc.viz.report(model, x, y, tmp_path / "r.html", maximize_steps=5, verbose=1)
    assert "report [========================] " in capsys.readouterr().err  # the progress bar
    text = open(path, encoding="utf-8").read()
    assert "No training history" in text and text.count("<section") == len(SECTIONS)
    assert os.listdir(tmp_path) == ["r.html"]


@pytest.mark.slow
def test_cli_report_and_train_report(tmp_path, fashion, capsys):
    from pocketcnn.cli import main

    model_path, page = tmp_path / "m.pcnn", tmp_path / "train.html"
    code = main(
        [
            "train",
            "--limit-train",
            "300",
            "--limit-test",
            "100",
            "--epochs",
            "1",
            "--out",
            str(model_path),
            "--report",
            str(page),
        ]
    )
    assert code == 0 and page.is_file()
    assert "Most confidently misclassified" in page.read_text("utf-8")
    out = tmp_path / "again.html"
    assert (
        main(["report", str(model_path), "--limit-test", "50", "--out", str(out), "--steps", "5"])
        == 0
    )
    text = out.read_text("utf-8")
    assert "Ankle boot" in text and "Test accuracy" in text and "on 50 images" in text
    assert "No training history" not in text  # the History saved in the model file is drawn
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"<b>class {k}</b>" for k in range(10)), "utf-8")
    assert (
        main(
            [
                "report",
                str(model_path),
                "--steps",
                "5",
                "--limit-test",
                "20",
                "--class-names",
                str(names),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "&lt;b&gt;class 9&lt;/b&gt;" in out.read_text("utf-8")
    assert main(["report", str(model_path), "--dataset", "cifar10", "--out", str(out)]) == 2
    assert "needs --data" in capsys.readouterr().err


# ---- conv_as_dense ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "channels,kernel,strides,padding,size",
    [
        (1, 3, 1, "valid", (6, 6)),
        (3, 3, 2, "same", (7, 6)),
        (2, (2, 3), 1, 1, (5, 6)),
        (4, 3, (1, 2), "same", (6, 6)),
    ],
)
def test_conv_as_dense_is_the_conv(channels, kernel, strides, padding, size):
    model = pc.Sequential(
        [
            L.Conv2D(5, kernel, strides=strides, padding=padding, input_shape=(channels, 9, 9)),
            L.Flatten(),
            L.Dense(2),
        ],
        seed=3,
    )
    conv = model.layers[0]
    rng = np.random.default_rng(0)
    k = rng.standard_normal(conv.weights[0].shape).astype(np.float32)  # distinct, non-zero
    conv.set_weights([k, rng.standard_normal(5).astype(np.float32)])
    res = pc.viz.conv_as_dense(model, 0, input_size=size)
    m = np.asarray(res)
    assert m is not None and m.shape == (np.prod(res.output_shape), channels * size[0] * size[1])
    for _ in range(3):
        x = rng.standard_normal((1, channels, *size)).astype(np.float32)
        out = np.asarray(conv(pc.Tensor(x), apply_activation=False))[0]
        out -= np.asarray(conv.weights[1])[:, None, None]  # bias aside
        assert out.shape == res.output_shape
        np.testing.assert_allclose(m @ x.ravel(), out.ravel(), rtol=1e-4, atol=1e-4)
    assert np.array_equal(np.unique(m[m != 0]), np.unique(k))  # only the shared kernel weights
    assert res.connections == np.count_nonzero(m)
    assert res.image.shape == m.shape + (3,)


def test_conv_as_dense_checks_its_arguments():
    model = small_cnn(0)
    with pytest.raises(ValueError, match="not a Conv2D"):
        pc.viz.conv_as_dense(model, 1)
    with pytest.raises(ValueError, match="1..64"):
        pc.viz.conv_as_dense(model, 0, input_size=(0, 6))
    with pytest.raises(ValueError, match="does not fit"):
        pc.viz.conv_as_dense(model, 0, input_size=(2, 2))


# ---- every viz result is array-like -------------------------------------------------------------


def test_viz_results_convert_to_their_picture():
    grey, colour = small_cnn(0, size=12), small_cnn(0, channels=3, size=12)
    x = np.random.default_rng(0).uniform(0, 1, (3, 12, 12)).astype(np.float32)
    s = pc.viz.saliency(grey, x[:1])
    assert np.asarray(s).shape == (12, 12) and np.array_equal(np.asarray(s), s.map)
    assert s.class_index >= 0  # the named fields stay
    m = pc.viz.maximize(grey, -1, 1, steps=3)
    assert np.asarray(m).shape == (12, 12) and np.array_equal(np.asarray(m), m.image[0])
    mc = pc.viz.maximize(colour, -1, 1, steps=3)
    assert np.asarray(mc, dtype=np.float64).shape == (12, 12, 3)
    assert np.asarray(pc.viz.saliency(colour, x)).shape == (12, 12)
    plt = pytest.importorskip("matplotlib.pyplot")
    for result in (s, m, mc):
        assert plt.imshow(result).get_array().shape[:2] == (12, 12)
    plt.close("all")


# ---- pictures worth looking at ------------------------------------------------------------------


def _roughness(a):
    """Mean |difference| between neighbouring pixels relative to the mean value: speckle."""
    return (np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean()) / a.mean()


def test_smoothgrad_removes_speckle_and_keeps_the_mass_on_the_object(trained, fashion):
    """Fraction of |map| on the garment's pixels (> 0.1) and the speckle of the map, for plain
    saliency vs SmoothGrad over 20 test images.

    Measured (this model; the lecture model of the README gives about the same): on-object
    mass plain 0.49 vs SmoothGrad 0.48, with the object covering about 0.42 of the pixels:
    SmoothGrad does not move mass onto the object. The background's gradient is real (ink
    there would change the class), not noise; what SmoothGrad removes is the speckle."""
    _, _, xt, _ = fashion
    area, mass, rough = [], {"plain": [], "smooth": []}, {"plain": [], "smooth": []}
    for img in xt[:20]:
        on_object = img[0] > 0.1
        area.append(on_object.mean())
        for key, kw in (("plain", {}), ("smooth", {"samples": 32, "noise": 0.15})):
            res = pc.viz.saliency(trained, img, **kw)
            magnitude = np.abs(res.gradient).max(axis=0) if key == "plain" else res.map
            mass[key].append(magnitude[on_object].sum() / magnitude.sum())
            rough[key].append(_roughness(res.map))
    m = {k: float(np.mean(v)) for k, v in mass.items()}
    r = {k: float(np.mean(v)) for k, v in rough.items()}
    print(
        f"on-object share of the pixels {np.mean(area):.3f}; mass of |map| on the object: "
        f"plain {m['plain']:.3f}, SmoothGrad {m['smooth']:.3f}; roughness plain "
        f"{r['plain']:.3f}, SmoothGrad {r['smooth']:.3f}"
    )
    assert m["plain"] > np.mean(area) and m["smooth"] > np.mean(area)  # not uniform
    assert m["smooth"] > m["plain"] - 0.05  # SmoothGrad keeps the mass where it was
    assert r["smooth"] < 0.7 * r["plain"], r  # and removes the speckle
    with pytest.raises(ValueError, match="samples"):
        pc.viz.saliency(trained, xt[0], samples=0)
    with pytest.raises(ValueError, match="noise"):
        pc.viz.saliency(trained, xt[0], samples=4, noise=-1)


@pytest.mark.slow
def test_maximised_classes_are_recognised_by_another_model(fashion):
    """Natural, not adversarial: the class images maximised (defaults) on one model are the
    classes for a model trained from another seed. Fashion-MNIST: MNIST is not packaged for
    offline use (apt-cache search mnist finds only dataset-fashion-mnist)."""
    x, y, xt, yt = fashion
    models = []
    for seed in (0, 1):
        model = small_cnn(seed)
        model.compile(optimizer=pc.optim.Adam(3e-3), loss="cross_entropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=64, epochs=2, verbose=0, seed=seed)
        assert model.evaluate(xt, yt)["accuracy"] > 0.75
        models.append(model)
    images = np.stack([pc.viz.maximize(models[0], -1, k, seed=k).image for k in range(10)])
    recognised = int((models[1].predict(images).argmax(axis=1) == np.arange(10)).sum())
    saturated = float(np.mean((images <= 1e-3) | (images >= 1 - 1e-3)))
    print(f"second model recognises {recognised}/10 classes; {saturated:.0%} of pixels at 0 or 1")
    assert recognised >= 8


@pytest.mark.parametrize(
    "layers,shape,classes",
    [
        # 4 channels, a kernel larger than the 6x6 dense-matrix input, logits out, 13 classes
        (lambda: [L.Conv2D(3, 7, input_shape=(4, 9, 9)), L.Flatten(), L.Dense(13)], (4, 9, 9), 13),
        # no conv layer at all
        (
            lambda: [L.Flatten(input_shape=(1, 5, 5)), L.Dense(3, activation="softmax")],
            (1, 5, 5),
            3,
        ),
    ],
)
def test_report_works_for_any_model(layers, shape, classes, tmp_path):
    html5lib = pytest.importorskip("html5lib")
    model = pc.Sequential(layers(), seed=0)
    x = np.random.default_rng(0).uniform(0, 1, (30, *shape)).astype(np.float32)
    y = np.arange(30) % classes
    path = pc.viz.report(model, x, y, tmp_path / "r.html", maximize_steps=3, verbose=0)
    text = open(path, encoding="utf-8").read()
    html5lib.HTMLParser(strict=True).parse(text)
    assert text.count("<section") == len(SECTIONS)
    classes_section = text[
        text.index('id="maximize-classes"') : text.index('id="maximize-filters"')
    ]
    assert classes_section.count("<img ") == classes
