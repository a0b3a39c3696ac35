"""Networks defined once and shared by the command line, the examples, the tests and the docs."""

from __future__ import annotations

from . import layers
from .model import Sequential


def lecture(seed: int = 0, name: str = "lecture_cnn") -> Sequential:
    """The lecture's network on (1, 28, 28) images (Fashion-MNIST), 137,660 parameters:

    Conv(25, 3x3) - MaxPool 2 - Conv(50, 3x3) ReLU - MaxPool 2 - Flatten - Dense(100) ReLU -
    Dense(10) softmax.
    """
    return Sequential(
        [
            layers.Conv2D(25, 3, input_shape=(1, 28, 28)),
            layers.MaxPool2D(2),
            layers.Conv2D(50, 3, activation="relu"),
            layers.MaxPool2D(2),
            layers.Flatten(),
            layers.Dense(100, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name=name,
        seed=seed,
    )


__all__ = ["lecture"]
