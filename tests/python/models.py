"""Small models and data shared by the model/training/saving tests (kept tiny: the reference
kernels are slow)."""

import numpy as np

import pocketcnn as pc


def lecture_model(seed=0):
    """The DESIGN.md lecture network."""
    return pc.presets.lecture(seed)


def tiny_model(seed=0, input_shape=(1, 8, 8), classes=3, dropout=0.0):
    """Conv - pool - dense - (dropout) - dense softmax: every layer kind, milliseconds per step."""
    L = pc.layers
    layers = [
        L.Conv2D(4, 3, padding="same", activation="relu", input_shape=input_shape),
        L.MaxPool2D(2),
        L.Flatten(),
        L.Dense(8, activation="relu"),
    ]
    if dropout:
        layers.append(L.Dropout(dropout))
    layers.append(L.Dense(classes, activation="softmax"))
    return pc.Sequential(layers, seed=seed)


def blobs(n=96, input_shape=(1, 8, 8), classes=3, seed=0):
    """Images whose class is written into their mean brightness in one quadrant: learnable."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(0, 0.3, (n, *input_shape)).astype(np.float32)
    h, w = input_shape[1] // 2, input_shape[2] // 2
    for c in range(classes):
        r, s = divmod(c, 2)
        x[y == c, :, r * h : (r + 1) * h, s * w : (s + 1) * w] += 1.0
    return x, y


def compiled_tiny(seed=0, optimizer=None, **kwargs):
    model = tiny_model(seed, **kwargs)
    model.compile(optimizer or pc.optim.Adam(1e-2), "cross_entropy", ["accuracy"])
    return model
