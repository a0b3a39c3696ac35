"""What the CNN learned, as pictures: filters, feature maps, saliency, activation maximisation,
training curves.

Every function returns numpy arrays (images are float32 in [0, 1], shaped (H, W) for grey or
(H, W, 3) for colour); the result objects (saliency, maximisation, a conv as its dense matrix) keep
named fields and convert to their picture with ``np.asarray`` (so ``plt.imshow`` takes them).
``save_png`` writes a PNG file (pocketcnn's own zlib encoder, no Pillow needed) and ``report``
writes one self-contained HTML page of all of them. Gradients come from the autograd tape: the
input is a leaf Tensor with ``requires_grad=True`` and the model's layers are applied to it one by
one.
"""

from __future__ import annotations

import numbers
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from . import ops
from ._core import Tensor
from ._png import encode_png, to_pixels
from .autograd import no_grad

__all__ = [
    "ConvAsDense",
    "MaximizeResult",
    "SaliencyResult",
    "conv_as_dense",
    "curves",
    "feature_maps",
    "filters",
    "make_grid",
    "maximize",
    "report",
    "saliency",
    "save_png",
]


# ---- helpers ------------------------------------------------------------------------------------


def _layer_index(model, layer) -> int:
    """A layer given by index (negative allowed), by name, or as the layer object itself."""
    layers = getattr(model, "layers", None)
    if not layers:
        raise ValueError("the model has no layers")
    names = [getattr(lay, "name", None) for lay in layers]
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"no layer named {layer!r}; the model's layers are {names}")
        return names.index(layer)
    if isinstance(layer, numbers.Integral) and not isinstance(layer, bool):
        i = int(layer)
        if not -len(layers) <= i < len(layers):
            raise ValueError(f"layer index {i} out of range for a model with {len(layers)} layers")
        return i % len(layers)
    for i, lay in enumerate(layers):
        if lay is layer:
            return i
    raise TypeError(f"layer must be an index, a layer name or a layer of the model, got {layer!r}")


def _sample_shape(model) -> tuple:
    """The model's per-sample input shape (C, H, W), or () when unknown."""
    shape = tuple(getattr(model, "input_shape", None) or ())
    return shape[1:] if shape and shape[0] is None else shape


def _one_image(model, x, who: str) -> np.ndarray:
    """x as one float32 sample (C, H, W) matching the model's input shape; (1, C, H, W) allowed."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{who}: x must be a numeric array, got dtype {a.dtype}")
    a = a.astype(np.float32)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    want = _sample_shape(model)
    if a.ndim == 2 and len(want) == 3 and want[0] == 1:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{who}: x must be one image (C, H, W), got shape {np.shape(x)}")
    if want and tuple(a.shape) != want:
        raise ValueError(f"{who}: x has shape {a.shape} but the model takes {want}")
    return np.ascontiguousarray(a)


def _forward_to(model, x: Tensor, index: int, *, logits: bool) -> Tensor:
    """Applies layers 0..index in inference mode. With logits=True the last applied layer skips
    its activation (a class score before softmax, as in Simonyan et al. 2014). A functional
    (graph) model runs the calls its layer ``index`` depends on (of a layer used twice: its last
    call)."""
    if getattr(model, "_calls", None) is not None:
        return model._forward_to_layer(x, model.layers[index], logits=logits)
    for i, lay in enumerate(model.layers[: index + 1]):
        x = lay(x, training=False, apply_activation=not (logits and i == index))
    return x


def _normalise(a: np.ndarray) -> np.ndarray:
    """Linearly to [0, 1]; a constant array becomes 0.5 (not a division by zero)."""
    a = np.asarray(a, dtype=np.float32)
    if a.size == 0:
        return a
    lo, hi = float(a.min()), float(a.max())
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise ValueError("cannot draw an array holding NaN or inf")
    if hi - lo < 1e-12:
        return np.full(a.shape, 0.5, np.float32)
    return (a - lo) / (hi - lo)


def make_grid(tiles, cols: int | None = None, pad: int = 1, normalise: str = "each") -> np.ndarray:
    """Arranges tiles (n, h, w) or (n, h, w, 3) into one image with ``pad`` pixels between them.

    normalise: ``'each'`` scales every tile to [0, 1] on its own, ``'all'`` uses one scale for all
    (so tiles can be compared), ``'none'`` leaves values (expected in [0, 1]).
    """
    t = np.asarray(tiles, dtype=np.float32)
    if t.ndim not in (3, 4) or (t.ndim == 4 and t.shape[-1] != 3) or t.shape[0] == 0:
        raise ValueError(f"make_grid: tiles must be (n, h, w) or (n, h, w, 3), got {t.shape}")
    if normalise == "each":
        t = np.stack([_normalise(tile) for tile in t])
    elif normalise == "all":
        t = _normalise(t)
    elif normalise != "none":
        raise ValueError(f"make_grid: normalise must be 'each', 'all' or 'none', got {normalise!r}")
    n, h, w = t.shape[:3]
    cols = int(cols) if cols else int(np.ceil(np.sqrt(n)))
    if cols < 1:
        raise ValueError(f"make_grid: cols must be >= 1, got {cols}")
    rows = -(-n // cols)
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad) + t.shape[3:], np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        y0, x0 = pad + r * (h + pad), pad + c * (w + pad)
        grid[y0 : y0 + h, x0 : x0 + w] = t[i]
    return grid


# ---- filters and feature maps -------------------------------------------------------------------


def filters(model, layer=0) -> np.ndarray:
    """A grid image of a conv layer's kernels (K, C, R, S).

    A first layer with 1 or 3 input channels shows each kernel as one grey or colour image (K
    tiles). Deeper layers show every kernel per input channel: row k holds kernel k's C slices.
    All tiles share one scale, so mid-grey is zero and the strong weights stand out.
    """
    i = _layer_index(model, layer)
    lay = model.layers[i]
    weights = getattr(lay, "weights", [])
    if not weights or len(weights[0].shape) != 4:
        raise ValueError(
            f"filters: layer {i} ({type(lay).__name__} {getattr(lay, 'name', '')!r}) is not a conv "
            "layer with (K, C, R, S) kernels"
        )
    k = np.asarray(weights[0], dtype=np.float32)
    K, C = k.shape[:2]
    # Symmetric scale around zero: the sign of a weight is what the picture should show.
    m = float(np.abs(k).max()) or 1.0
    scaled = 0.5 + 0.5 * k / m
    if i == 0 and C == 1:
        return make_grid(scaled[:, 0], normalise="none")
    if i == 0 and C == 3:
        return make_grid(scaled.transpose(0, 2, 3, 1), normalise="none")
    return make_grid(scaled.reshape(K * C, *k.shape[2:]), cols=C, normalise="none")


def feature_maps(model, x, layer) -> np.ndarray:
    """A grid of one input's activations (each channel scaled to [0, 1]) at a layer's output."""
    i = _layer_index(model, layer)
    img = _one_image(model, x, "feature_maps")
    with no_grad():
        out = np.asarray(_forward_to(model, Tensor(img[None]), i, logits=False))[0]
    if out.ndim == 1:  # a dense or flatten layer: show the vector as one row of pixels
        return _normalise(out)[None, :]
    return make_grid(out, normalise="each")


# ---- saliency -----------------------------------------------------------------------------------


def _as_array(image: np.ndarray, dtype=None, copy=None) -> np.ndarray:
    """The ``__array__`` protocol (numpy 1 and 2 signatures) for a result's picture."""
    a = np.asarray(image, dtype=dtype)
    return a.copy() if copy else a


def display_image(chw: np.ndarray) -> np.ndarray:
    """An input-shaped array (C, H, W) as a picture: (H, W) for one channel, (H, W, 3) for three,
    the channel mean otherwise; scaled to [0, 1] only when it leaves that range."""
    a = np.asarray(chw, dtype=np.float32)
    if a.ndim != 3:
        raise ValueError(f"display_image: expected (C, H, W), got shape {a.shape}")
    img = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0) if a.shape[0] == 3 else a.mean(0)
    if img.size and (img.min() < 0.0 or img.max() > 1.0):
        img = _normalise(img)
    return np.ascontiguousarray(img)


@dataclass
class SaliencyResult:
    """gradient: d score / d input (C, H, W) (with SmoothGrad, the mean over the noisy copies);
    map: max over channels of |gradient| (SmoothGrad: of the mean |gradient|) scaled to [0, 1]
    (H, W); overlay: the input in grey with the map in red (H, W, 3); the class and its score
    (the logit of the unperturbed input, before any softmax); samples and noise as used.
    ``np.asarray(result)`` is the map."""

    gradient: np.ndarray
    map: np.ndarray
    overlay: np.ndarray
    class_index: int
    score: float
    samples: int = 1
    noise: float = 0.0

    def __array__(self, dtype=None, copy=None):
        return _as_array(self.map, dtype, copy)


def _class_score(model, x: Tensor, class_index: int | None) -> tuple[Tensor, int]:
    """The summed class score over the batch (the gradient of each sample is its own), and the
    class: by default the one predicted for the first sample."""
    logits = _forward_to(model, x, len(model.layers) - 1, logits=True)
    if len(logits.shape) != 2:
        raise ValueError(f"saliency: the model's output must be (N, classes), got {logits.shape}")
    n_classes = logits.shape[1]
    if class_index is None:
        class_index = int(np.argmax(np.asarray(logits)[0]))
    if isinstance(class_index, bool) or not isinstance(class_index, numbers.Integral):
        raise TypeError(f"class_index must be an int, got {class_index!r}")
    if not 0 <= class_index < n_classes:
        raise ValueError(f"class_index {class_index} out of range for {n_classes} classes")
    onehot = np.zeros((1, n_classes), np.float32)
    onehot[0, class_index] = 1.0
    return ops.sum(ops.mul(logits, onehot)), int(class_index)


def _input_gradients(model, batch: np.ndarray, class_index) -> tuple[np.ndarray, int, float]:
    """d score / d input for every sample of a batch (one backward pass), the class and the
    first sample's score."""
    xt = Tensor(np.ascontiguousarray(batch, dtype=np.float32), requires_grad=True)
    score, class_index = _class_score(model, xt, class_index)
    score.backward()
    first = float(score.item()) if len(batch) == 1 else float("nan")
    return np.array(xt.grad, dtype=np.float32), class_index, first


def saliency(
    model,
    x,
    class_index: int | None = None,
    samples: int = 1,
    noise: float = 0.15,
    seed: int = 0,
) -> SaliencyResult:
    """|d class score / d input| for one input (Simonyan et al. 2014); class_index defaults to the
    predicted class.

    ``samples`` > 1 is SmoothGrad (Smilkov et al. 2017): the mean |gradient| over ``samples``
    copies of the input with Gaussian noise of standard deviation ``noise`` times the input's
    value range (0.1-0.2 is the paper's advice), which averages away the speckle of a single
    gradient. ``samples=1`` is the plain gradient (``noise`` unused).
    """
    img = _one_image(model, x, "saliency")
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"saliency: samples must be an int >= 1, got {samples!r}")
    if not (isinstance(noise, numbers.Real) and 0 <= noise < np.inf):
        raise ValueError(f"saliency: noise must be a finite number >= 0, got {noise!r}")
    grad, class_index, score = _input_gradients(model, img[None], class_index)
    if samples == 1:
        gradient, magnitude = grad[0], np.abs(grad[0])
    else:
        spread = float(img.max() - img.min()) or 1.0
        rng = np.random.default_rng(seed)
        chunks, total = [], np.zeros_like(img)
        for start in range(0, int(samples), 32):  # bounded batches: memory stays flat
            n = min(32, int(samples) - start)
            noisy = img[None] + (noise * spread) * rng.standard_normal((n, *img.shape))
            g, _, _ = _input_gradients(model, noisy.astype(np.float32), class_index)
            chunks.append(np.abs(g).sum(axis=0))
            total += g.sum(axis=0)
        gradient, magnitude = total / samples, sum(chunks) / samples
    smap = _normalise(magnitude.max(axis=0))
    base = _normalise(img.mean(axis=0))
    overlay = np.stack([base, base, base], axis=-1) * 0.6
    overlay[..., 0] = np.clip(overlay[..., 0] + smap, 0.0, 1.0)
    return SaliencyResult(
        gradient.astype(np.float32),
        smap,
        overlay.astype(np.float32),
        class_index,
        score,
        int(samples),
        float(noise) if samples > 1 else 0.0,
    )


# ---- activation maximisation --------------------------------------------------------------------


@dataclass
class MaximizeResult:
    """image: the input found (C, H, W); activation: the target's value there; history: the
    target's value after each step. ``np.asarray(result)`` is the image as a picture ((H, W)
    grey, (H, W, 3) colour)."""

    image: np.ndarray
    activation: float
    history: list[float] = field(default_factory=list)

    def __array__(self, dtype=None, copy=None):
        return _as_array(display_image(self.image), dtype, copy)


def _target(model, x: Tensor, index_layer: int, index: int) -> Tensor:
    """A filter's mean activation (conv-like output) or a unit's value (vector output); the last
    layer's unit is its class score before softmax."""
    last = index_layer == len(model.layers) - 1
    out = _forward_to(model, x, index_layer, logits=last)
    shape = out.shape
    if not 0 <= index < shape[1]:
        raise ValueError(f"maximize: index {index} out of range for layer output shape {shape}")
    mask = np.zeros((1,) + tuple(shape[1:]), np.float32)
    mask[0, index] = 1.0 / (int(np.prod(shape[2:])) if len(shape) > 2 else 1)
    return ops.sum(ops.mul(out, mask))


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of (C, H, W), edges repeated."""
    radius = max(1, int(np.ceil(2 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-(t**2) / (2 * sigma**2))
    k /= k.sum()
    p = np.pad(img, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    h = sum(k[i] * p[:, :, i : i + img.shape[2]] for i in range(len(k)))
    return sum(k[i] * h[:, i : i + img.shape[1], :] for i in range(len(k))).astype(np.float32)


def _tv_gradient(img: np.ndarray, eps: float = 0.05) -> np.ndarray:
    """Gradient of the smoothed total variation sum sqrt(d^2 + eps^2) over the horizontal and
    vertical neighbour differences d of (C, H, W): pulls each pixel towards its neighbours, so
    flat regions stay flat while edges survive (the square root grows only linearly)."""
    g = np.zeros_like(img)
    for axis in (1, 2):
        d = np.diff(img, axis=axis)
        t = d / np.sqrt(d * d + eps * eps)
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        g[tuple(lo)] -= t
        g[tuple(hi)] += t
    return g


def _check_maximize_args(steps, blur_every, jitter, lr, l2, l1, tv, blur_sigma) -> None:
    for name, v, least in (
        ("steps", steps, 1),
        ("blur_every", blur_every, 0),
        ("jitter", jitter, 0),
    ):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < least:
            raise ValueError(f"maximize: {name} must be an int >= {least}, got {v!r}")
    if not lr > 0 or not blur_sigma > 0 or not all(r >= 0 for r in (l2, l1, tv)):
        raise ValueError(
            "maximize: need lr > 0, l2, l1, tv >= 0 and blur_sigma > 0 "
            f"(got lr={lr}, l2={l2}, l1={l1}, tv={tv}, blur_sigma={blur_sigma})"
        )


def maximize(
    model,
    layer=-1,
    index: int = 0,
    steps: int = 200,
    lr: float = 0.05,
    l2: float = 1e-3,
    l1: float = 0.1,
    tv: float = 0.3,
    blur_every: int = 8,
    blur_sigma: float = 0.5,
    jitter: int = 1,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    center: float | None = None,
    seed: int = 0,
) -> MaximizeResult:
    """The input that maximises a filter's mean activation (conv/pool layer) or a unit (dense
    layer; for the last layer the class score before softmax), by gradient ascent on the input
    through the autograd tape.

    Regularisation keeps the image natural: an L2 penalty (``l2``) pulls it towards the middle of
    ``value_range``, an L1 penalty (``l1``, the lecture's sparsity prior) pulls every pixel there
    by a constant amount so only the pixels the target really needs move, a total-variation
    penalty (``tv``) makes neighbouring pixels agree (smooth strokes instead of speckle), a
    Gaussian blur every ``blur_every`` steps (in the first three quarters of the run) removes
    high-frequency noise, a random shift of up to ``jitter`` pixels per step avoids pixel-exact
    tricks, and values are kept in ``value_range`` (the training data's range; None to disable).
    The penalties pull towards ``center`` (default: the middle of ``value_range``; the report
    passes the data's mean pixel, the background of a typical image). ``l1=tv=0`` gives the
    images of earlier releases (about 60% of the pixels at 0 or 1 on Fashion-MNIST; the defaults
    cut that to about 30% and a second model still recognises every class, see test_viz.py).
    Steps are normalised (Adam-like RMS scaling), so ``lr`` is in input units per step; with l1
    or tv the target's gradient is first scaled to unit RMS, so their weights mean the same for
    any model.
    """
    i = _layer_index(model, layer)
    shape = _sample_shape(model)
    if len(shape) != 3:
        raise ValueError("maximize: the model needs a known (C, H, W) input shape")
    _check_maximize_args(steps, blur_every, jitter, lr, l2, l1, tv, blur_sigma)
    rng = np.random.default_rng(seed)
    lo, hi = value_range if value_range is not None else (-np.inf, np.inf)
    mid = 0.5 * (lo + hi) if value_range is not None else 0.0
    if center is not None:
        if not np.isfinite(center) or not lo <= center <= hi:
            raise ValueError(f"maximize: center {center!r} must be finite and in {value_range}")
        mid = float(center)
    img = (mid + 0.05 * rng.standard_normal(shape)).astype(np.float32)
    sq = np.zeros_like(img)
    history: list[float] = []
    for step in range(int(steps)):
        dy, dx = rng.integers(-jitter, jitter + 1, size=2) if jitter else (0, 0)
        shifted = np.roll(img, (dy, dx), axis=(1, 2))
        xt = Tensor(shifted[None].copy(), requires_grad=True)
        value = _target(model, xt, i, index)
        value.backward()
        g = np.roll(np.asarray(xt.grad)[0], (-dy, -dx), axis=(1, 2))
        if l1 or tv:  # penalties relative to a unit-RMS target gradient
            g = g / (float(np.sqrt(np.mean(g * g))) + 1e-12)
            g = g - l1 * np.sign(img - mid) - tv * _tv_gradient(img)
        g = g - l2 * (img - mid)
        sq = 0.9 * sq + 0.1 * g * g
        img = img + lr * g / (np.sqrt(sq / (1 - 0.9 ** (step + 1))) + 1e-8)
        # Blur shapes the image early on; the last quarter of the steps refines without it, so
        # the result is smooth but still a true (local) maximiser.
        if blur_every and (step + 1) % blur_every == 0 and step < 0.75 * steps:
            img = _blur(img, blur_sigma)
        if value_range is not None:
            img = np.clip(img, lo, hi)
        history.append(float(value.item()))
    with no_grad():
        final = float(_target(model, Tensor(img[None].copy()), i, index).item())
    return MaximizeResult(img.astype(np.float32), final, history)


# ---- training curves ----------------------------------------------------------------------------


def _history_dict(history) -> dict[str, list[float]]:
    h = getattr(history, "history", history)
    if not isinstance(h, dict) or not h:
        raise ValueError("curves: need a History (from fit) or a dict of per-epoch lists")
    return {k: [float(v) for v in vals] for k, vals in h.items()}


def _draw_line(img: np.ndarray, xs, ys, color) -> None:
    """Draws a polyline (pixel coordinates) into img (H, W, 3) by dense sampling."""
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        n = int(max(abs(x1 - x0), abs(y1 - y0))) * 2 + 2
        for t in np.linspace(0.0, 1.0, n):
            x, y = int(round(x0 + t * (x1 - x0))), int(round(y0 + t * (y1 - y0)))
            img[max(y - 1, 0) : y + 1, max(x - 1, 0) : x + 1] = color
        if len(xs) == 1:
            break
    for x, y in zip(xs, ys):  # a dot per epoch, so a single epoch is still visible
        x, y = int(round(x)), int(round(y))
        img[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3] = color


def curves(history, width: int = 320, height: int = 200) -> np.ndarray:
    """Training curves as an image (H, 2W, 3): loss on the left, accuracy on the right; training
    in blue, validation in orange; one dot per epoch. Axes span each panel's data range (loss
    from 0, accuracy 0..1)."""
    h = _history_dict(history)
    colours = {"train": (0.12, 0.47, 0.71), "val": (1.0, 0.5, 0.05)}
    panels = []
    for metric in ("loss", "accuracy"):
        panel = np.ones((height, width, 3), np.float32)
        m, pad = 12, 12
        panel[height - pad, pad : width - m] = 0.0  # x axis
        panel[m : height - pad + 1, pad] = 0.0  # y axis
        series = [(k, v) for k, v in h.items() if k in (metric, "val_" + metric) and v]
        if series:
            top = 1.0 if metric == "accuracy" else max(max(v) for _, v in series) * 1.05 or 1.0
            epochs = max(len(v) for _, v in series)
            for key, vals in series:
                xs = [pad + (width - pad - m) * (e + 0.5) / epochs for e in range(len(vals))]
                ys = [height - pad - (height - pad - m) * min(max(v / top, 0), 1) for v in vals]
                _draw_line(panel, xs, ys, colours["val" if key.startswith("val_") else "train"])
        panels.append(panel)
    return np.concatenate(panels, axis=1)


# ---- PNG output ---------------------------------------------------------------------------------


def save_png(image, path, scale: int = 1) -> str:
    """Writes an image from this module ((H, W) or (H, W, 3), values in [0, 1]; a viz result is
    taken through its ``__array__``) as a PNG file, enlarged ``scale`` times (nearest neighbour).
    The encoder is pocketcnn's own (zlib only, no Pillow needed); the file is written atomically
    (a temporary file renamed into place)."""
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or scale < 1:
        raise ValueError(f"save_png: scale must be an int >= 1, got {scale!r}")
    try:
        data = encode_png(to_pixels(image, int(scale)))
    except ValueError as e:
        raise ValueError(f"save_png: {e}") from None
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# Defined in their own modules (they build on the helpers above); imported last for that reason.
from ._report import report  # noqa: E402
from ._viz_dense import ConvAsDense, conv_as_dense  # noqa: E402
