"""Symbolic tensors of the functional API (``pc.Input``, layers called on them): a shape and the
layer call that produces it, no data. ``pocketcnn.functional`` builds models from them."""

from __future__ import annotations

from typing import Any


class SymbolicTensor:
    """The output of ``pc.Input(shape)`` or of a layer called on symbolic tensors.

    ``shape`` is ``(None, *per_sample)`` as in Keras; ``node`` is the layer call that makes it
    (None for an input).
    """

    def __init__(self, per_sample: tuple[int, ...], node: Any = None, name: str | None = None):
        self.per_sample = tuple(int(d) for d in per_sample)
        self.node = node
        self.name = name

    @property
    def shape(self) -> tuple[Any, ...]:
        return (None, *self.per_sample)

    def __repr__(self) -> str:
        made_by = "input" if self.node is None else f"output of {self.node.layer.type_name}"
        return f"SymbolicTensor(shape={self.shape}, {made_by})"


class LayerCall:
    """One call of a layer on symbolic inputs."""

    def __init__(self, layer, inputs: list[SymbolicTensor], multi: bool):
        self.layer, self.inputs, self.multi = layer, inputs, multi
        self.output: SymbolicTensor | None = None


def is_symbolic(x) -> bool:
    if isinstance(x, SymbolicTensor):
        return True
    return (
        isinstance(x, (list, tuple)) and bool(x) and all(isinstance(t, SymbolicTensor) for t in x)
    )
