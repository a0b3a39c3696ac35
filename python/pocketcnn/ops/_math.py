"""Activations, softmax, losses and the tensor arithmetic a custom loss needs."""

from __future__ import annotations

__all__: list[str] = []
