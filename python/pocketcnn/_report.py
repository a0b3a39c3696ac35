"""``pc.viz.report``: one self-contained HTML page of what a trained model learned.

Each section is one function returning HTML; ``report`` runs them in order under a progress bar
and writes the page atomically to the one path it is given.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import time
from pathlib import Path
from typing import IO

import numpy as np

from . import viz
from ._html import esc, figure, page, section, table

_SPATIAL = ("Conv2D", "MaxPool2D", "AvgPool2D")


class _Progress:
    """A bar on a terminal (one line per step otherwise); silent with verbose=0."""

    def __init__(self, total: int, verbose, stream=None):
        self.total, self.done, self.verbose = max(total, 1), 0, verbose
        self.stream = sys.stderr if stream is None else stream
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()

    def step(self, what: str) -> None:
        self.done += 1
        if not self.verbose:
            return
        filled = int(24 * self.done / self.total)
        line = (
            f"report [{'=' * filled}{'.' * (24 - filled)}] {self.done}/{self.total} "
            f"{time.perf_counter() - self.start:5.1f}s {what}"
        )
        if self.live:
            self.stream.write("\r" + line[:100].ljust(100))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _check_data(model, x, y, class_names):
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"report: x must be a numeric array, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    want = viz._sample_shape(model)
    if x.ndim != 4 or (want and tuple(x.shape[1:]) != want) or len(x) == 0:
        raise ValueError(f"report: x must be test images (N, *{want}), got shape {x.shape}")
    y = np.asarray(y)
    if y.shape != (len(x),) or y.dtype.kind not in "iu":
        raise ValueError(f"report: y must be {len(x)} integer labels, got {y.dtype} {y.shape}")
    n_classes = int(model.layers[-1].output_shape[-1])
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"report: labels must be in 0..{n_classes - 1}, got {y.min()}..{y.max()}")
    if class_names is None:
        class_names = [str(k) for k in range(n_classes)]
    class_names = [str(c) for c in class_names]
    if len(class_names) != n_classes:
        raise ValueError(
            f"report: {len(class_names)} class names for a model with {n_classes} outputs"
        )
    return x, y.astype(np.int64), class_names


def _probabilities(model, x) -> np.ndarray:
    out = np.asarray(model.predict(x, batch_size=256), dtype=np.float64)
    if getattr(model.layers[-1], "activation", None) != "softmax":
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    return out


# ---- sections -----------------------------------------------------------------------------------


def _summary(model) -> str:
    rows, total = [], 0
    for lay in model.layers:
        params = lay.count_params()
        total += params
        dense = ""
        if type(lay).__name__ == "Conv2D":
            n_in, n_out = math.prod(lay.built_input_shape), math.prod(lay.output_shape)
            as_dense = n_in * n_out + (n_out if getattr(lay, "use_bias", True) else 0)
            dense = f"{as_dense:,} ({as_dense / max(params, 1):,.0f}x more)"
        rows.append(
            [
                esc(lay.name),
                esc(type(lay).__name__),
                esc(tuple(lay.output_shape)),
                f"{params:,}",
                dense,
            ]
        )
    rows.append(["<b>total</b>", "", "", f"<b>{total:,}</b>", ""])
    header = ["layer", "type", "output shape", "params", "as a Dense layer"]
    note = (
        '<p class="note">Weight sharing: a conv layer uses the same small kernel at every '
        "position; a Dense layer connecting the same input and output would need the "
        "parameters in the last column.</p>"
    )
    return section("summary", "Summary", table(header, rows) + note)


def _conv_dense(model, input_size) -> str:
    convs = [i for i, lay in enumerate(model.layers) if type(lay).__name__ == "Conv2D"]
    if not convs:
        return section("conv-as-dense", "The conv as a dense layer", "<p>No conv.</p>")
    kh, kw = model.layers[convs[0]].kernel_size
    # At least two output positions per side, so the shared weights repeat in the picture.
    input_size = (max(int(input_size[0]), kh + 1), max(int(input_size[1]), kw + 1))
    res = viz.conv_as_dense(model, convs[0], input_size=input_size)
    k, c, r, s = res.kernel_shape
    shown = min(k, 4)  # the first kernels' rows: the band structure, not a wall of colour
    rows = shown * res.output_shape[1] * res.output_shape[2]
    picture = res.image[:rows]
    facts = table(
        ["on a " + esc(f"{c}x{input_size[0]}x{input_size[1]}") + " input", "count"],
        [
            ["dense matrix entries (rows x columns)", f"{res.matrix.size:,}"],
            ["connected entries (non-zero)", f"{res.connections:,}"],
            ["distinct weights (the kernel, bias aside)", f"{k * c * r * s:,}"],
        ],
    )
    caption = (
        f"{res.layer_name}: rows are output units (first {shown} of {k} kernels), columns the "
        f"{res.matrix.shape[1]} input pixels; white = not connected, one colour per shared weight"
    )
    body = figure(picture, caption, scale=max(1, min(6, 400 // max(picture.shape[:2])))) + facts
    return section("conv-as-dense", "The conv as a dense layer", body)


def _curves(history) -> str:
    h = getattr(history, "history", history)
    if not h:
        body = '<p class="note">No training history in this model (it was never fit).</p>'
    else:
        last = ", ".join(f"{esc(k)} {v[-1]:.4f}" for k, v in h.items() if v)
        body = figure(viz.curves(history), f"loss (left), accuracy (right); last epoch: {last}", 1)
        body += '<p class="note">Training in blue, validation in orange.</p>'
    return section("curves", "Training curves", body)


def _accuracy(probs, y, names) -> str:
    pred = probs.argmax(axis=1)
    n = len(names)
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (y, pred), 1)
    peak = max(int(cm.max()), 1)
    rows = []
    for t in range(n):
        cells: list = [f"<b>{esc(names[t])}</b>"]
        for p in range(n):
            alpha = cm[t, p] / peak
            colour = "40,120,200" if t == p else "220,60,40"
            cells.append((str(cm[t, p]), f"background: rgba({colour}, {alpha:.2f})"))
        rows.append(cells)
    accuracy = float((pred == y).mean())
    head = f"<p>Test accuracy: <b>{accuracy:.2%}</b> on {len(y):,} images.</p>"
    matrix = table(["true \\ predicted", *(esc(c) for c in names)], rows, cls="confusion")
    return section("accuracy", "Test accuracy and confusion matrix", head + matrix)


def _misclassified(x, y, probs, names, count) -> str:
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    order = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:count]
    if len(order) == 0:
        body = "<p>No test image is misclassified.</p>"
    else:
        body = "".join(
            figure(
                viz.display_image(x[i]),
                f"#{i}: {names[y[i]]}, taken for {names[pred[i]]} ({probs[i, pred[i]]:.0%})",
            )
            for i in order
        )
    return section("misclassified", "Most confidently misclassified", body)


def _filters(model) -> str:
    convs = [i for i, lay in enumerate(model.layers) if type(lay).__name__ == "Conv2D"]
    if not convs:
        return section("filters", "First-layer filters", "<p>The model has no conv layer.</p>")
    lay = model.layers[convs[0]]
    grid = viz.filters(model, convs[0])
    caption = f"{lay.name}: {lay.filters} kernels; grey 0, white positive, black negative"
    return section("filters", "First-layer filters", figure(grid, caption, _fit_scale(grid)))


def _fit_scale(image, width: int = 480) -> int:
    return int(max(1, min(12, width // max(np.asarray(image).shape[:2]))))


def _feature_maps(model, images, progress) -> str:
    body = ""
    for n, img in enumerate(images):
        body += "<div>" + figure(viz.display_image(img), f"test image {n}")
        for i, lay in enumerate(model.layers):
            if type(lay).__name__ in _SPATIAL or len(getattr(lay, "output_shape", ())) == 3:
                grid = viz.feature_maps(model, img, i)
                body += figure(grid, f"{lay.name} ({type(lay).__name__})", _fit_scale(grid, 240))
        body += "</div>"
        progress.step(f"feature maps of image {n}")
    return section("feature-maps", "Feature maps", body)


def _saliency(model, images, names, samples, progress) -> str:
    body = ""
    for n, img in enumerate(images):
        plain = viz.saliency(model, img)
        smooth = viz.saliency(model, img, samples=samples, noise=0.15)
        label = names[smooth.class_index]
        body += "<div>" + figure(viz.display_image(img), f"test image {n}: {label}")
        body += figure(plain.map, "plain gradient") + figure(smooth.map, f"SmoothGrad ({samples})")
        body += figure(smooth.overlay, "SmoothGrad overlay") + "</div>"
        progress.step(f"saliency of image {n}")
    note = (
        '<p class="note">|d class score / d pixel| for the predicted class; SmoothGrad '
        "averages it over noisy copies of the image (Smilkov et al. 2017).</p>"
    )
    return section("saliency", "Saliency", note + body)


def _maximize_classes(model, names, steps, opts, progress) -> str:
    body = ""
    for k, name in enumerate(names):
        res = viz.maximize(model, -1, k, steps=steps, seed=k, **opts)
        body += figure(np.asarray(res), f"{k}: {name}")
        progress.step(f"maximise class {k}")
    return section("maximize-classes", "Activation maximisation: classes", body)


def _maximize_filters(model, per_layer, steps, opts, progress) -> str:
    body = ""
    for i, lay in enumerate(model.layers):
        if type(lay).__name__ != "Conv2D":
            continue
        tiles = []
        if per_layer == 0:
            break
        for f in range(min(per_layer, lay.filters)):
            res = viz.maximize(model, i, f, steps=steps, seed=f, **opts)
            tiles.append(np.asarray(res))
            progress.step(f"maximise {lay.name} filter {f}")
        grid = viz.make_grid(np.stack(tiles), cols=len(tiles), normalise="each")
        body += figure(grid, f"{lay.name}: filters 0..{len(tiles) - 1}", _fit_scale(grid, 640))
    return section("maximize-filters", "Activation maximisation: conv filters", body)


# ---- the page -----------------------------------------------------------------------------------


def _count(value, name, lo=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo:
        raise ValueError(f"report: {name} must be an int >= {lo}, got {value!r}")
    return int(value)


def _write_atomically(path: Path, text: str) -> None:
    # The same atomic write as a saved model: a temporary file beside the target, renamed over it.
    from .saving import _atomic_write

    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"report: the directory {directory} does not exist")
    data = text.encode("utf-8")

    def write(f: IO[bytes]) -> None:
        f.write(data)

    _atomic_write(path, write)


def report(
    model,
    x,
    y,
    path,
    class_names=None,
    history=None,
    title: str | None = None,
    images: int = 3,
    misclassified: int = 8,
    saliency_samples: int = 32,
    maximize_steps: int = 120,
    filters_per_layer: int = 8,
    input_size=(6, 6),
    verbose=1,
) -> str:
    """Writes one self-contained HTML page of what ``model`` learned, judged on the test images
    ``x`` (N, C, H, W) float32 and labels ``y``, to ``path`` (atomically; nothing else is
    written) and returns the path.

    Sections: the summary table with the weight-sharing numbers; the first conv layer as its
    dense matrix (``conv_as_dense`` on an ``input_size`` input); training curves from
    ``history`` (default ``model.history``, saved with the model); test accuracy and the
    confusion matrix; the ``misclassified`` most confidently wrong test images; the first
    layer's filters; feature maps of every conv/pool layer and plain vs SmoothGrad saliency for
    the first ``images`` test images; activation maximisation for every class and
    ``filters_per_layer`` filters of each conv layer. ``class_names`` label the classes (text is
    HTML-escaped). A progress bar goes to stderr unless ``verbose=0``.
    """
    x, y, names = _check_data(model, x, y, class_names)
    images = _count(images, "images")
    misclassified = _count(misclassified, "misclassified", 0)
    samples = _count(saliency_samples, "saliency_samples", 2)
    steps = _count(maximize_steps, "maximize_steps")
    per_layer = _count(filters_per_layer, "filters_per_layer", 0)
    shown = x[:images]
    convs = [lay for lay in model.layers if type(lay).__name__ == "Conv2D"]
    total = 2 + 2 * len(shown) + len(names) + sum(min(per_layer, c.filters) for c in convs)
    progress = _Progress(total, verbose)
    # Maximised images stay in the data's range and are pulled towards its mean pixel.
    opts = {"value_range": (float(x.min()), float(x.max())), "center": float(x.mean())}
    probs = _probabilities(model, x)
    # The dense-matrix picture sits beside the parameter counts it explains.
    parts = ['<div class="row">', _summary(model), _conv_dense(model, input_size), "</div>"]
    parts.append(_curves(model.history if history is None else history))
    parts.append(_accuracy(probs, y, names))
    parts.append(_misclassified(x, y, probs, names, misclassified))
    parts.append(_filters(model))
    progress.step("summary, accuracy, filters")
    parts.append(_feature_maps(model, shown, progress))
    parts.append(_saliency(model, shown, names, samples, progress))
    parts.append(_maximize_classes(model, names, steps, opts, progress))
    parts.append(_maximize_filters(model, per_layer, steps, opts, progress))
    name = title or f"What {getattr(model, 'name', 'the model')} learned"
    path = Path(os.fspath(path))
    _write_atomically(path, page(name, "".join(parts)))
    progress.step(f"wrote {path}")
    return str(path)
