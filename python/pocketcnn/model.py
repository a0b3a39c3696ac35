"""``Sequential``: a stack of layers with Keras' compile / fit / evaluate / predict.

Reproducibility: everything random derives from the model's ``seed`` (default 0): layer i's
initial weights from ``(seed, i)``; in ``fit`` (whose ``seed`` defaults to the model's) the
validation split, the shuffling of each epoch and the dropout masks from ``(seed, epoch)``,
where ``epoch`` counts all epochs this model has trained (saved with it). So the same seed and
thread count give the same losses, and training resumed from a saved model continues exactly as
if it had not stopped.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from . import _core, losses
from . import callbacks as callbacks_module
from . import optim as optim_module
from ._inference import PlanCache
from .autograd import no_grad
from .data import DataLoader
from .layers import Conv2D, Dropout, Layer, ShapeError
from .progress import EpochProgress

# Purposes of the random streams derived from a seed (so they never coincide).
_SHUFFLE, _DROPOUT, _SPLIT = 1, 2, 3
_FLOAT32 = np.dtype(np.float32)

_DEFAULT_NAMES = {
    "Conv2D": "conv2d",
    "MaxPool2D": "max_pool2d",
    "AvgPool2D": "avg_pool2d",
    "Flatten": "flatten",
    "Dense": "dense",
    "Activation": "activation",
    "ReLU": "relu",
    "Softmax": "softmax",
    "Dropout": "dropout",
}


def _seed_stream(seed: int, *keys: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, *keys])


def _shape_str(per_sample) -> str:
    return str((None, *per_sample))


def validation_split_indices(n: int, split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) sample indices for ``fit(validation_split=split, seed=seed)``.

    The last ``n - int(n * (1 - split))`` positions of a permutation seeded by ``seed`` are held
    out (Keras holds out the last samples unshuffled). Both index arrays are sorted.
    """
    n_train = int(n * (1.0 - split))
    if n_train < 1 or n_train >= n:
        raise ValueError(
            f"fit: validation_split={split} of {n} samples leaves {n_train} for training and "
            f"{n - n_train} for validation; both need >= 1"
        )
    order = np.random.default_rng(_seed_stream(seed, _SPLIT)).permutation(n)
    return np.sort(order[:n_train]), np.sort(order[n_train:])


class _NonFinite(Exception):
    def __init__(self, what: str, value: float):
        super().__init__(what)
        self.what, self.value = what, value


class Sequential:
    """A linear stack of layers: ``Sequential([Conv2D(...), ..., Dense(10)])`` or ``.add()``.

    Give the first layer ``input_shape=(C, H, W)`` (per sample, NCHW) so shapes and weights are
    known at once; otherwise they are inferred at the first ``build``/``fit``/``predict``. A
    layer that cannot take its input raises ``ValueError`` naming it and the shapes.
    """

    def __init__(
        self, layers: Sequence[Layer] | None = None, name: str | None = None, seed: int = 0
    ):
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"Sequential: seed must be an int >= 0, got {seed!r}")
        self.name = name or "sequential"
        self.seed = int(seed)
        self.layers: list[Layer] = []
        self._input_shape: tuple[int, ...] | None = None
        self.optimizer: optim_module.Optimizer | None = None
        self.loss: str | None = None
        self.metrics: list[str] = []
        self._metric_fns: list[tuple[str, Any]] = []
        self.stop_training = False
        self.history: callbacks_module.History | None = None
        self.epochs_trained = 0  # over all fit calls; seeds each epoch's shuffle and dropout
        # predict/evaluate run the layers as one fused C++ call when every layer is supported.
        self._plans = PlanCache()
        if layers is not None:
            if isinstance(layers, Layer):
                layers = [layers]
            for layer in layers:
                self.add(layer)

    # ---- structure ------------------------------------------------------------------------------

    def add(self, layer: Layer) -> None:
        """Appends a layer; builds it at once when the input shape is known."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a pocketcnn layer, got {layer!r}")
        if any(layer is other for other in self.layers):
            raise ValueError(f"Sequential.add: layer {layer.name!r} is already in the model")
        if layer.built:
            raise ValueError(
                f"Sequential.add: layer {layer.name!r} is already built (in another model?)"
            )
        index = len(self.layers)
        if layer.name is None:
            layer.name = self._unique_name(_DEFAULT_NAMES.get(layer.type_name, "layer"))
        elif any(layer.name == other.name for other in self.layers):
            raise ValueError(
                f"Sequential.add: a layer named {layer.name!r} is already in the model"
            )
        if index == 0 and layer.input_shape is not None:
            self._input_shape = layer.input_shape
        self.layers.append(layer)
        if self._input_shape is not None:
            try:
                self._build_from(index)
            except Exception:
                self.layers.pop()
                raise

    def _unique_name(self, base: str) -> str:
        names = {layer.name for layer in self.layers}
        if base not in names:
            return base
        i = 1
        while f"{base}_{i}" in names:
            i += 1
        return f"{base}_{i}"

    def _build_from(self, start: int) -> None:
        shape = self._input_shape if start == 0 else self.layers[start - 1].output_shape
        for i in range(start, len(self.layers)):
            layer = self.layers[i]
            if i > 0 and layer.input_shape is not None and layer.input_shape != shape:
                raise ValueError(
                    f"{self.name}: layer {i} {layer.name!r} ({layer.type_name}) was given "
                    f"input_shape={layer.input_shape}, but the layer before it outputs "
                    f"{_shape_str(shape)}"
                )
            rng = np.random.default_rng(_seed_stream(self.seed, i))
            try:
                shape = layer.build(shape, rng)
            except ShapeError as e:
                raise ValueError(
                    f"{self.name}: layer {i} {layer.name!r} ({layer.type_name}) cannot take input "
                    f"of shape {_shape_str(shape)}: {e}"
                ) from None

    def build(self, input_shape) -> None:
        """Fixes the per-sample input shape, e.g. ``(1, 28, 28)``, and creates all weights."""
        shape = tuple(int(d) for d in input_shape)
        if self._input_shape is not None:
            if shape != self._input_shape:
                raise ValueError(
                    f"{self.name}.build: the model is built for inputs "
                    f"{_shape_str(self._input_shape)}, not {_shape_str(shape)}"
                )
            return
        if not self.layers:
            raise ValueError(f"{self.name}.build: the model has no layers")
        self._input_shape = shape
        try:
            self._build_from(0)
        except Exception:
            self._input_shape = None
            for layer in self.layers:
                layer.built = False
            raise

    @property
    def built(self) -> bool:
        return self._input_shape is not None and all(layer.built for layer in self.layers)

    @property
    def input_shape(self):
        """``(None, C, H, W)`` once known, else None."""
        return None if self._input_shape is None else (None, *self._input_shape)

    @property
    def output_shape(self):
        if not self.built or not self.layers:
            return None
        return (None, *self.layers[-1].output_shape)

    @property
    def weights(self) -> list[_core.Tensor]:
        """All trainable Tensors, layer by layer (kernel, then bias)."""
        return [w for layer in self.layers for w in layer.weights]

    trainable_weights = weights

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights as numpy arrays, in ``weights`` order."""
        return [a for layer in self.layers for a in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Sets all weights from a list like ``get_weights()`` returns (shapes checked)."""
        weights = list(weights)
        total = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != total:
            raise ValueError(
                f"{self.name}.set_weights: expected {total} arrays, got {len(weights)}"
            )
        i = 0
        for layer in self.layers:
            n = len(layer.weights)
            layer.set_weights(weights[i : i + n])
            i += n

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "input_shape": None if self._input_shape is None else list(self._input_shape),
            "layers": [
                {"class_name": layer.type_name, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    # ---- summary --------------------------------------------------------------------------------

    def summary(self, print_fn=print) -> None:
        """Prints each layer's output shape and parameters, the totals, and for each Conv2D the
        parameters a Dense layer with the same input and output sizes would need."""
        self._require_built("summary")
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self.layers:
            rows.append(
                (
                    f"{layer.name} ({layer.type_name})",
                    _shape_str(layer.output_shape),
                    f"{layer.count_params():,}",
                )
            )
        w0 = max(len(r[0]) for r in rows) + 2
        w1 = max(len(r[1]) for r in rows) + 2
        w2 = max(len(r[2]) for r in rows)
        width = w0 + w1 + w2
        lines = [f'Model: "{self.name}"', "_" * width]
        for i, (a, b, c) in enumerate(rows):
            lines.append(f"{a:<{w0}}{b:<{w1}}{c:>{w2}}")
            if i == 0:
                lines.append("=" * width)
        total = self.count_params()
        lines += [
            "=" * width,
            f"Total params: {total:,}",
            f"Trainable params: {total:,}",
            "Non-trainable params: 0",
            "_" * width,
        ]
        convs = [layer for layer in self.layers if isinstance(layer, Conv2D)]
        if convs:
            lines.append(
                "Weight sharing: each Conv2D as a Dense layer with the same input and output sizes"
            )
            name_width = max(len(layer.name) for layer in convs)
            for layer in convs:
                shape_in = layer.built_input_shape
                n_in, n_out = math.prod(shape_in), math.prod(layer.output_shape)
                dense = n_in * n_out + (n_out if layer.use_bias else 0)
                conv = layer.count_params()
                lines.append(
                    f"  {layer.name:<{name_width}}  {shape_in} -> {layer.output_shape}: "
                    f"{dense:,} params as Dense, {conv:,} as Conv2D "
                    f"({dense / max(conv, 1):,.0f}x fewer)"
                )
        for line in lines:
            print_fn(line)

    # ---- compile --------------------------------------------------------------------------------

    def compile(self, optimizer="adam", loss="cross_entropy", metrics=None) -> None:
        """Chooses the optimiser (instance or 'adam'/'sgd'/'adamw'), the loss ('cross_entropy'
        on integer labels, or 'mse') and the metrics ('accuracy', 'top_k', 'top_3', ...)."""
        self.optimizer = optim_module.get(optimizer)
        self.loss = losses.resolve_loss(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, str):
            metrics = [metrics]
        self._metric_fns = [losses.resolve_metric(m) for m in metrics]
        self.metrics = [name for name, _ in self._metric_fns]
        if self.built:
            losses.check_output_shape(self.loss, self.layers[-1].output_shape)

    @property
    def _fused_softmax(self) -> bool:
        """Final softmax + cross-entropy: the loss is computed from the logits (stable)."""
        return (
            self.loss == "cross_entropy"
            and bool(self.layers)
            and self.layers[-1].activation == "softmax"
        )

    # ---- forward --------------------------------------------------------------------------------

    def _forward(self, x: _core.Tensor, training: bool, logits: bool = False) -> _core.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x, training=training, apply_activation=not (logits and i == last))
        return x

    def __call__(self, x, training: bool = False) -> _core.Tensor:
        """The forward pass as a Tensor (records the autograd graph unless under no_grad)."""
        t = x if isinstance(x, _core.Tensor) else _core.Tensor(self._check_x(x, "__call__"))
        self._require_built("__call__")
        return self._forward(t, training)

    # ---- input checks -------------------------------------------------------------------------

    def _require_built(self, who: str) -> None:
        if not self.layers:
            raise ValueError(f"{self.name}.{who}: the model has no layers")
        if not self.built:
            raise ValueError(
                f"{self.name}.{who}: the model's input shape is unknown; give the first layer "
                "input_shape=(C, H, W) or call model.build((C, H, W))"
            )

    def _check_x(self, x, who: str) -> np.ndarray:
        if x is None:
            raise TypeError(f"{self.name}.{who}: x is None")
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{self.name}.{who}: x must be numeric, got dtype {x.dtype}")
        if x.ndim < 2:
            raise ValueError(
                f"{self.name}.{who}: x must be a batch (N, ...) of samples, got shape {x.shape}"
            )
        if not self.built:
            self.build(x.shape[1:])
        if x.shape[1:] != self._input_shape:
            hint = ""
            if x.shape[1:] == self._input_shape[1:] and self._input_shape[0] == 1:
                hint = "; add the channel axis with x[:, None]"
            raise ValueError(
                f"{self.name}.{who}: x has shape {x.shape}, but the model takes inputs of shape "
                f"{_shape_str(self._input_shape)}{hint}"
            )
        return np.ascontiguousarray(x, dtype=np.float32)

    def _require_compiled(self, who: str) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(
                f"{self.name}.{who}: the model is not compiled; call model.compile(optimizer=..., "
                "loss=...) first"
            )

    def _prepare(self, x, y, who: str) -> tuple[np.ndarray, np.ndarray]:
        x = self._check_x(x, who)
        if len(x) == 0:  # a loss over no samples is undefined (it was reported as 0.0)
            raise ValueError(f"{self.name}.{who}: x has no samples (shape {x.shape})")
        losses.check_output_shape(self.loss, self.layers[-1].output_shape)
        targets = losses.prepare_targets(self.loss, y, len(x), self.layers[-1].output_shape, who)
        return x, targets

    # ---- training -------------------------------------------------------------------------------

    def _train_step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, np.ndarray]:
        params = self.weights
        out = self._forward(_core.Tensor(xb), training=True, logits=self._fused_softmax)
        loss = losses.compute(self.loss, out, yb)
        value = loss.item()
        if not math.isfinite(value):
            raise _NonFinite("loss", value)
        self.optimizer.zero_grad(params)
        loss.backward()
        norm = optim_module.global_grad_norm(params)
        if not math.isfinite(norm):
            raise _NonFinite("gradient norm", norm)
        self.optimizer.step(params)
        return value, np.asarray(out)

    def _metric_counts(self, out: np.ndarray, yb: np.ndarray) -> list[int]:
        return [fn(out, yb) for _, fn in self._metric_fns]

    def _seed_dropout(self, seed: int, epoch: int) -> None:
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dropout):
                base = seed if layer.seed is None else layer.seed
                layer.rng = np.random.default_rng(_seed_stream(base, _DROPOUT, epoch, i))

    def fit(
        self,
        x,
        y,
        batch_size: int = 32,
        epochs: int = 1,
        verbose="auto",
        callbacks=None,
        validation_split: float = 0.0,
        validation_data=None,
        shuffle: bool = True,
        seed: int | None = None,
        stream: TextIO | None = None,
    ) -> callbacks_module.History:
        """Trains for ``epochs`` epochs of mini-batches; returns a History.

        Args:
            x, y: inputs ``(N, C, H, W)`` (float; uint8 is converted, not scaled) and targets
                (integer labels for cross-entropy).
            batch_size: samples per step (the last batch of an epoch may be smaller).
            epochs: epochs to train in this call.
            verbose: 0 silent, 1 progress bar (one line per epoch when not on a terminal),
                2 one line per epoch, 'auto' = 1.
            callbacks: e.g. ``[EarlyStopping(...), ModelCheckpoint(...)]``.
            validation_split: fraction held out for validation. Unlike Keras (which takes the
                last samples), the held-out samples are drawn after a shuffle seeded by
                ``seed``, so sorted data still gives a representative split; the same seed holds
                out the same samples in every call.
            validation_data: ``(x_val, y_val)``; takes precedence over validation_split.
            shuffle: reshuffle the training samples every epoch (seeded).
            seed: seeds the split, the shuffles and dropout; default: the model's seed.
            stream: where progress goes (default sys.stdout).

        A loss or gradient that becomes NaN/inf stops training with FloatingPointError naming
        the epoch and batch; the weights stay as after the last finite step.
        """
        self._require_compiled("fit")
        for name, value in (("batch_size", batch_size), ("epochs", epochs)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{self.name}.fit: {name} must be an int, got {value!r}")
        if batch_size < 1:
            raise ValueError(f"{self.name}.fit: batch_size must be >= 1, got {batch_size}")
        if epochs < 0:
            raise ValueError(f"{self.name}.fit: epochs must be >= 0, got {epochs}")
        seed = self.seed if seed is None else int(seed)
        x, targets = self._prepare(x, y, "fit")

        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError(f"{self.name}.fit: validation_data must be a pair (x_val, y_val)")
            val = self._prepare(validation_data[0], validation_data[1], "fit (validation_data)")
        elif validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(
                    f"{self.name}.fit: validation_split must be in (0, 1), got {validation_split}"
                )
            train_idx, val_idx = validation_split_indices(len(x), validation_split, seed)
            val = (x[val_idx], targets[val_idx])
            x, targets = x[train_idx], targets[train_idx]

        loader_seed = int(_seed_stream(seed, _SHUFFLE).generate_state(1)[0])
        loader = DataLoader(x, targets, batch_size=batch_size, shuffle=shuffle, seed=loader_seed)
        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList([history, *(callbacks or [])], self)
        self.history = history
        self.stop_training = False
        cbs.on_train_begin()
        for epoch in range(epochs):
            global_epoch = self.epochs_trained
            loader.set_epoch(global_epoch)
            self.optimizer.set_epoch(global_epoch)
            self._seed_dropout(seed, global_epoch)
            cbs.on_epoch_begin(epoch)
            logs = self._train_epoch(loader, epoch, epochs, verbose, stream, val, batch_size, cbs)
            self.epochs_trained += 1
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end()
        return history

    def _train_epoch(self, loader, epoch, epochs, verbose, stream, val, batch_size, cbs):
        progress = EpochProgress(epoch, epochs, len(loader), verbose, stream)
        loss_sum, seen = 0.0, 0
        correct = [0] * len(self._metric_fns)
        batch = -1
        try:
            for batch, (xb, yb) in enumerate(loader):
                value, out = self._train_step(xb, yb)
                n = len(xb)
                loss_sum += value * n
                seen += n
                for k, c in enumerate(self._metric_counts(out, yb)):
                    correct[k] += c
                logs = self._logs(loss_sum, correct, seen)
                progress.update(batch, seen, logs)
                cbs.on_batch_end(batch, logs)
        except _NonFinite as e:
            progress.abort()
            raise FloatingPointError(
                f"{self.name}.fit: the {e.what} is {e.value} at epoch {epoch + 1}/{epochs}, batch "
                f"{batch + 1}/{len(loader)}; training stopped with the weights of the last finite "
                "step. Lower the learning rate, clip gradients (clip_norm=) or check the data "
                "for NaN/inf."
            ) from None
        except BaseException:
            progress.abort()
            raise
        logs = self._logs(loss_sum, correct, seen)
        if val is not None:
            val_logs = self._evaluate_arrays(val[0], val[1], batch_size)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        progress.end(logs)
        return logs

    def _logs(self, loss_sum: float, correct: list[int], seen: int) -> dict[str, float]:
        logs = {"loss": loss_sum / max(seen, 1)}
        for (name, _), c in zip(self._metric_fns, correct):
            logs[name] = c / max(seen, 1)
        return logs

    def train_on_batch(self, x, y) -> dict[str, float]:
        """One optimiser step on one batch; returns its loss and metrics (before the step)."""
        self._require_compiled("train_on_batch")
        x, targets = self._prepare(x, y, "train_on_batch")
        try:
            value, out = self._train_step(x, targets)
        except _NonFinite as e:
            raise FloatingPointError(
                f"{self.name}.train_on_batch: the {e.what} is {e.value}; no step was taken"
            ) from None
        return self._logs(value * len(x), self._metric_counts(out, targets), len(x))

    # ---- inference ------------------------------------------------------------------------------

    def _evaluate_arrays(self, x: np.ndarray, targets: np.ndarray, batch_size: int):
        loss_sum, seen = 0.0, 0
        correct = [0] * len(self._metric_fns)
        plan = self._plans.get(self.layers, logits=self._fused_softmax)
        with no_grad():
            for start in range(0, len(x), batch_size):
                xb, yb = x[start : start + batch_size], targets[start : start + batch_size]
                if plan is not None:
                    out = plan.run(xb)
                else:
                    out = self._forward(
                        _core.Tensor(xb), training=False, logits=self._fused_softmax
                    )
                loss_sum += losses.compute(self.loss, out, yb).item() * len(xb)
                seen += len(xb)
                for k, c in enumerate(self._metric_counts(np.asarray(out), yb)):
                    correct[k] += c
        return self._logs(loss_sum, correct, seen)

    def evaluate(self, x, y, batch_size: int = 32, verbose: int = 0) -> dict[str, float]:
        """Loss and metrics over (x, y), e.g. ``{'loss': 0.31, 'accuracy': 0.89}``."""
        self._require_compiled("evaluate")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"{self.name}.evaluate: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"{self.name}.evaluate: batch_size must be >= 1, got {batch_size}")
        x, targets = self._prepare(x, y, "evaluate")
        logs = self._evaluate_arrays(x, targets, batch_size)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return logs

    def predict(self, x, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """The model's outputs (probabilities after a final softmax) for x, in batches, without
        recording any graph."""
        if type(batch_size) is not int and (
            isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
        ):
            raise TypeError(f"{self.name}.predict: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"{self.name}.predict: batch_size must be >= 1, got {batch_size}")
        # One batch of float32 in the model's input shape (the batch-1 latency path): straight to
        # the compiled plan, and its own output array, not a copy into a preallocated result.
        # _check_x would pass it unchanged; skipping it saves ~4 of the ~13 us of Python a
        # prediction costs (on the cold caches the plan's weights leave behind).
        if (
            type(x) is np.ndarray
            and x.dtype is _FLOAT32
            and x.shape[1:] == self._input_shape
            and 0 < x.shape[0] <= batch_size
        ):
            plan = self._plans.get(self.layers)
            if plan is not None:
                return np.asarray(plan.run(x))
        x = self._check_x(x, "predict")
        plan = self._plans.get(self.layers)
        if plan is not None and 0 < len(x) <= batch_size:
            return np.asarray(plan.run(x))
        result = np.empty((len(x), *self.layers[-1].output_shape), np.float32)
        with no_grad():
            for start in range(0, len(x), batch_size):
                xb = x[start : start + batch_size]
                out = plan.run(xb) if plan is not None else self._forward(_core.Tensor(xb), False)
                result[start : start + batch_size] = np.asarray(out)
        return result

    # ---- saving ---------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Writes architecture, weights, compile settings and optimiser state to one file
        (atomically: a crash mid-save leaves any previous file intact). See ``pc.load_model``."""
        from .saving import save_model

        save_model(self, path)

    def __repr__(self) -> str:
        return f"Sequential(name={self.name!r}, layers={[layer.name for layer in self.layers]})"


__all__ = ["Sequential", "validation_split_indices"]
