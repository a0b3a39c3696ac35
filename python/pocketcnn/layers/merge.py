"""Layers of several inputs (functional API): Add, Concatenate."""

from __future__ import annotations

from .. import _core, ops
from .base import Layer, ShapeError


class _Merge(Layer):
    """Takes a list of inputs (per-sample shapes ``input_shapes``); no weights. No Sequential
    plan step: the graph plan (``_graph_inference``) runs Add and Concatenate itself."""

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        if len(shapes) < 2:
            raise ShapeError(f"{self.type_name} needs at least 2 inputs, got {len(shapes)}")
        return self._merged_shape(shapes)

    def _merged_shape(self, shapes):
        raise NotImplementedError

    def build(self, input_shape, rng):
        shapes = [tuple(int(d) for d in s) for s in input_shape]
        output_shape = self.compute_output_shape(shapes)
        # the list of input shapes (a merge layer has several inputs)
        self.built_input_shape = tuple(shapes)  # type: ignore[arg-type]
        self.output_shape = output_shape
        self.built = True
        return output_shape

    def __call__(self, x, training: bool = False, apply_activation: bool = True):
        from .. import _symbolic

        if _symbolic.is_symbolic(x):
            from ..functional import call_symbolic

            return call_symbolic(self, x)
        if not isinstance(x, (list, tuple)):
            raise TypeError(f"{self.type_name} takes a list of tensors, got {type(x).__name__}")
        xs = [t if isinstance(t, _core.Tensor) else _core.Tensor(t) for t in x]
        return self.forward(xs, training)  # type: ignore[arg-type]  # a list: several inputs


class Add(_Merge):
    """The elementwise sum of inputs of one shape (a residual connection)."""

    default_name = "add"

    def _merged_shape(self, shapes):
        if any(s != shapes[0] for s in shapes):
            raise ShapeError(
                f"Add needs inputs of one shape, got {', '.join(str(s) for s in shapes)}"
            )
        return shapes[0]

    def forward(self, x, training):
        y = x[0]
        for t in x[1:]:
            y = ops.add(y, t)
        return y

    def forward_relu(self, x, training):
        """``relu(self(x))`` of two inputs in one pass (``_core.add_relu``): how a Model runs a
        residual Add followed by a ReLU in training."""
        return _core.add_relu(x[0], x[1])


class Concatenate(_Merge):
    """The inputs joined along ``axis`` (per-sample axis 0 is the channels of NCHW images; as
    in Keras the batch axis is not counted, and negative axes count from the end)."""

    default_name = "concatenate"

    def __init__(self, axis: int = 0, name: str | None = None):
        super().__init__(name, None)
        from .. import _checks

        self.axis = _checks.integer(axis, "Concatenate: axis")

    def _merged_shape(self, shapes):
        rank = len(shapes[0])
        if not -rank <= self.axis < rank:
            raise ShapeError(
                f"Concatenate: axis {self.axis} is out of range for inputs {shapes[0]}"
            )
        k = self.axis % rank
        for s in shapes:
            if len(s) != rank or any(
                a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != k
            ):
                raise ShapeError(
                    f"Concatenate(axis={self.axis}) needs inputs that agree except on that axis, "
                    f"got {', '.join(str(s) for s in shapes)}"
                )
        out = list(shapes[0])
        out[k] = sum(s[k] for s in shapes)
        return tuple(out)

    def forward(self, x, training):
        rank = len(x[0].shape) - 1
        return _core.concat(x, (self.axis % rank) + 1)

    def get_config(self):
        config = super().get_config()
        config.pop("input_shape", None)
        return {**config, "axis": self.axis}
