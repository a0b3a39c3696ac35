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
import os
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from . import _checks, _core, _distributed_fit, _model_file_check, losses, saving
from . import callbacks as callbacks_module
from . import distributed as distributed_module
from . import layers as layers_module
from . import metrics as metrics_module
from . import optim as optim_module
from ._inference import PlanCache
from .autograd import no_grad
from .data import DataLoader
from .layers import Conv2D, Dropout, Layer, ShapeError
from .progress import EpochProgress

# Purposes of the random streams derived from a seed (so they never coincide).
_SHUFFLE, _DROPOUT, _SPLIT = 1, 2, 3
_FLOAT32 = np.dtype(np.float32)


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
        self.name = name or "sequential"
        self.seed = _checks.int_at_least(seed, "Sequential: seed", 0)
        self.layers: list[Layer] = []
        self._input_shape: tuple[int, ...] | None = None
        self.optimizer: optim_module.Optimizer | None = None
        self.loss: str | None = None
        self.loss_options: dict[str, Any] = {}  # label_smoothing of a losses.Loss instance
        self.metrics: list[str] = []
        self._metric_fns: list[tuple[str, Any]] = []
        self.stop_training = False
        self.history: callbacks_module.History | None = None
        self.epochs_trained = 0  # over all fit calls; seeds each epoch's shuffle and dropout
        self._session = None  # a _distributed_fit.FitSession during fit(distributed=True)
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
            layer.name = self._unique_name(layer.default_name)
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
        assert shape is not None  # the model's input shape is known, layers before are built
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
        return (None, *self.layers[-1]._built_output_shape())

    @property
    def weights(self) -> list[_core.Tensor]:
        """All weight Tensors (not the layers' state), layer by layer (kernel, then bias)."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[_core.Tensor]:
        """The weights the optimiser updates: those of the layers with ``trainable`` True."""
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def trainable(self) -> bool:
        """True while any layer is trainable; setting it sets every layer's ``trainable``."""
        return any(layer.trainable for layer in self.layers)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for layer in self.layers:
            layer.trainable = value

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name``, or at position ``index`` (Keras' get_layer)."""
        if (name is None) == (index is None):
            raise ValueError(f"{self.name}.get_layer: give exactly one of name or index")
        if index is not None:
            index = _checks.integer(index, f"{self.name}.get_layer: index")
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"{self.name}.get_layer: index {index} is out of range for "
                    f"{len(self.layers)} layers"
                )
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"{self.name}.get_layer: no layer named {name!r} "
            f"(layers: {', '.join(str(layer.name) for layer in self.layers)})"
        )

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights as numpy arrays, in ``weights`` order."""
        return [a for layer in self.layers for a in layer.get_weights()]

    def set_weights(self, weights, layout: str = "pocketcnn") -> None:
        """Sets all weights from a list like ``get_weights()`` returns (shapes checked).
        ``layout="keras"`` takes a Keras ``get_weights()`` list (HWIO conv kernels, (in, out)
        dense kernels in NHWC flatten order) and converts it; see ``pc.load_keras_weights``."""
        if layout == "keras":
            from ._weights_io import keras_to_pocketcnn

            weights = keras_to_pocketcnn(self, weights)
        elif layout != "pocketcnn":
            raise ValueError(
                f"{self.name}.set_weights: layout must be 'pocketcnn' or 'keras', got {layout!r}"
            )
        weights = list(weights)
        total = sum(len(layer._tensors()) for layer in self.layers)
        if len(weights) != total:
            raise ValueError(
                f"{self.name}.set_weights: expected {total} arrays, got {len(weights)}"
            )
        i = 0
        for layer in self.layers:
            n = len(layer._tensors())
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
        trainable = sum(int(np.prod(w.shape)) for w in self.trainable_weights)
        lines += [
            "=" * width,
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            "_" * width,
        ]
        convs = [layer for layer in self.layers if isinstance(layer, Conv2D)]
        if convs:
            lines.append(
                "Weight sharing: each Conv2D as a Dense layer with the same input and output sizes"
            )
            name_width = max(len(str(layer.name)) for layer in convs)
            for layer in convs:
                shape_in = layer.built_input_shape
                assert shape_in is not None and layer.output_shape is not None  # built
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
        self.loss_options = losses.loss_options(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, str):
            metrics = [metrics]
        self._metric_fns = [metrics_module.resolve_metric(m) for m in metrics]
        self.metrics = [name for name, _ in self._metric_fns]
        if self.built:
            losses.check_output_shape(self.loss, self.layers[-1].output_shape)

    @property
    def _fused_softmax(self) -> bool:
        """Final softmax + cross-entropy: the loss is computed from the logits (stable)."""
        return (
            self.loss is not None
            and losses.uses_softmax(self.loss)
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
        x = _checks.numeric_array(x, f"{self.name}.{who}: x")
        if x.ndim < 2:
            raise ValueError(
                f"{self.name}.{who}: x must be a batch (N, ...) of samples, got shape {x.shape}"
            )
        if not self.built:
            self.build(x.shape[1:])
        assert self._input_shape is not None
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

    def _compiled(self) -> tuple[optim_module.Optimizer, str]:
        """The optimiser and loss of a compiled model (the callers ran _require_compiled)."""
        assert self.optimizer is not None and self.loss is not None
        return self.optimizer, self.loss

    def _prepare(self, x, y, who: str) -> tuple[np.ndarray, np.ndarray]:
        x = self._check_x(x, who)
        if len(x) == 0:  # a loss over no samples is undefined (it was reported as 0.0)
            raise ValueError(f"{self.name}.{who}: x has no samples (shape {x.shape})")
        _, loss = self._compiled()
        output_shape = self.layers[-1]._built_output_shape()
        losses.check_output_shape(loss, output_shape)
        targets = losses.prepare_targets(loss, y, len(x), output_shape, who)
        return x, targets

    # ---- training -------------------------------------------------------------------------------

    def _train_step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, np.ndarray]:
        if self._session is not None:
            return self._session.train_step(xb, yb)
        params = self.trainable_weights
        out = self._forward(_core.Tensor(xb), training=True, logits=self._fused_softmax)
        optimizer, loss_name = self._compiled()
        loss = losses.compute(loss_name, out, yb, **self.loss_options)
        value = loss.item()
        if not math.isfinite(value):
            raise _NonFinite("loss", value)
        optimizer.zero_grad(params)
        loss.backward()
        norm = optim_module.global_grad_norm(params)
        if not math.isfinite(norm):
            raise _NonFinite("gradient norm", norm)
        optimizer.step(params)
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
        distributed: bool = False,
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
            distributed: data-parallel over the ranks of an MPI job (``mpiexec -n K``; see
                ``pocketcnn.distributed``): rank 0's weights and optimiser state go to every
                rank, each trains on its share of every global batch of ``K * batch_size``
                samples, gradients and logs are averaged over ranks; progress and
                ModelCheckpoint on rank 0 only. The learning rate is not rescaled. Plain
                ``fit`` on one process.

        A loss or gradient that becomes NaN/inf stops training with FloatingPointError naming
        the epoch and batch; the weights stay as after the last finite step.
        """
        self._require_compiled("fit")
        _checks.integer(batch_size, f"{self.name}.fit: batch_size", minimum=1)
        _checks.integer(epochs, f"{self.name}.fit: epochs", minimum=0)
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
        session = None
        if distributed:
            session = _distributed_fit.fit_session(
                self, x, targets, val, batch_size, epochs, shuffle, seed
            )
        if session is not None:
            loader = session.loader(x, targets, batch_size, shuffle, loader_seed)
            callbacks, verbose = session.rank0_only(callbacks, verbose)
        else:
            loader = DataLoader(
                x, targets, batch_size=batch_size, shuffle=shuffle, seed=loader_seed
            )
        self._session = session
        try:
            return self._fit_epochs(
                loader, epochs, verbose, callbacks, stream, val, batch_size, seed
            )
        except BaseException as e:
            if session is not None:
                session.fail(e)
            raise
        finally:
            self._session = None

    def _fit_epochs(self, loader, epochs, verbose, callbacks, stream, val, batch_size, seed):
        history = callbacks_module.History()
        # History last, as in Keras: it records what the other callbacks add to the logs (lr).
        cbs = callbacks_module.CallbackList([*(callbacks or []), history], self)
        self.history = history
        self.stop_training = False
        cbs.on_train_begin()
        for epoch in range(epochs):
            global_epoch = self.epochs_trained
            loader.set_epoch(global_epoch)
            self._compiled()[0].set_epoch(global_epoch)
            self._seed_dropout(seed, global_epoch)
            if self._session is not None:
                self._session.reseed_dropout(seed, global_epoch)
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
                if self._session is not None:  # all ranks' samples, for the img/s shown
                    progress.update(batch, self._session.samples_done(batch), logs)
                else:
                    progress.update(batch, seen, logs)
                cbs.on_batch_end(batch, logs)
        except _NonFinite as e:
            progress.abort()
            stoppers = [c for c in cbs.callbacks if isinstance(c, callbacks_module.TerminateOnNaN)]
            for stopper in stoppers:
                stopper.on_non_finite(epoch, batch, e.what, e.value)
            if stoppers:
                return self._logs(loss_sum, correct, seen)
            raise FloatingPointError(
                f"{self.name}.fit: the {e.what} is {e.value} at epoch {epoch + 1}/{epochs}, batch "
                f"{batch + 1}/{len(loader)}; training stopped with the weights of the last finite "
                "step. Lower the learning rate, clip gradients (clip_norm=) or check the data "
                "for NaN/inf."
            ) from None
        except BaseException:
            progress.abort()
            raise
        if self._session is not None:
            loss_sum, correct, seen = self._session.epoch_totals(loss_sum, correct, seen)
        logs = self._logs(loss_sum, correct, seen)
        if val is not None:
            evaluate = self._evaluate_arrays if self._session is None else self._session.evaluate
            val_logs = evaluate(val[0], val[1], batch_size)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        progress.end(logs)
        return logs

    def _logs(self, loss_sum: float, correct: list[int], seen: int) -> dict[str, float]:
        logs = {"loss": loss_sum / max(seen, 1)}
        for (name, _), c in zip(self._metric_fns, correct):
            per_class = isinstance(c, np.ndarray)  # (numerators, denominators): precision, recall
            logs[name] = metrics_module.ratio(c) if per_class else c / max(seen, 1)
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
                loss = losses.compute(self._compiled()[1], out, yb, **self.loss_options)
                loss_sum += loss.item() * len(xb)
                seen += len(xb)
                for k, c in enumerate(self._metric_counts(np.asarray(out), yb)):
                    correct[k] += c
        return self._logs(loss_sum, correct, seen)

    def evaluate(self, x, y, batch_size: int = 32, verbose: int = 0) -> dict[str, float]:
        """Loss and metrics over (x, y), e.g. ``{'loss': 0.31, 'accuracy': 0.89}``."""
        self._require_compiled("evaluate")
        _checks.integer(batch_size, f"{self.name}.evaluate: batch_size", minimum=1)
        x, targets = self._prepare(x, y, "evaluate")
        logs = self._evaluate_arrays(x, targets, batch_size)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return logs

    def predict(self, x, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """The model's outputs (probabilities after a final softmax) for x, in batches, without
        recording any graph."""
        if type(batch_size) is not int or batch_size < 1:  # the check costs ~0.3 us at batch 1
            _checks.integer(batch_size, f"{self.name}.predict: batch_size", minimum=1)
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
        result = np.empty((len(x), *self.layers[-1]._built_output_shape()), np.float32)
        with no_grad():
            for start in range(0, len(x), batch_size):
                xb = x[start : start + batch_size]
                out = plan.run(xb) if plan is not None else self._forward(_core.Tensor(xb), False)
                result[start : start + batch_size] = np.asarray(out)
        return result

    # ---- saving ---------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Writes architecture, weights, compile settings and optimiser state to one file
        (atomically: a crash mid-save leaves any previous file intact). See ``pc.load_model``
        and ``pocketcnn.saving`` for the format."""
        if not self.built:
            raise ValueError(
                f"{self.name}.save: the model is not built (its input shape is unknown), so it has "
                "no weights to save yet; give input_shape or call build() first"
            )
        if not distributed_module.is_root():
            return  # in an MPI job only rank 0 writes (every rank holds the same weights)
        saving.write_archive(path, *self._file_contents())

    def _file_contents(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The model file's header (without the array table) and its arrays."""
        from . import __version__

        arrays = {f"weights/{i}": w for i, w in enumerate(self.get_weights())}
        optimizer = None
        if self.optimizer is not None:
            sd = self.optimizer.state_dict()
            state_refs = []
            for i, s in enumerate(sd["state"]):
                ref: dict[str, Any] = {}
                for k, v in s.items():
                    if isinstance(v, np.ndarray):
                        arrays[f"optimizer/{i}/{k}"] = v
                        ref[k] = f"optimizer/{i}/{k}"
                    else:
                        ref[k] = int(v)
                state_refs.append(ref)
            optimizer = {k: sd[k] for k in ("class", "config", "iterations", "epoch")}
            optimizer["state"] = state_refs
        history = None
        if self.history is not None:  # so `pocketcnn viz MODEL --what curves` can draw them
            history = {
                "epoch": [int(e) for e in self.history.epoch],
                "history": {k: [float(v) for v in vs] for k, vs in self.history.history.items()},
            }
        header = {
            "format": saving.FORMAT,
            "version": saving.VERSION,
            "byteorder": "little",
            "pocketcnn_version": __version__,
            "model": {"class_name": type(self).__name__, "config": self.get_config()},
            "compile": None
            if self.loss is None
            else {
                "loss": self.loss,
                "metrics": list(self.metrics),
                **({"loss_options": self.loss_options} if self.loss_options else {}),
            },
            "optimizer": optimizer,
            "epochs_trained": self.epochs_trained,
            "history": history,
        }
        return header, arrays

    def export(self, path: str | os.PathLike, format: str = "onnx", opset: int = 17) -> None:
        """Writes the model for other runtimes (Keras 3's name); ``format="onnx"``: see
        ``pc.onnx.export``."""
        if format != "onnx":
            raise ValueError(f"{self.name}.export: format must be 'onnx', got {format!r}")
        from .onnx import export

        export(self, path, opset=opset)

    def state_dict(self) -> dict[str, np.ndarray]:
        """PyTorch-style ``{"0.weight": ..., "0.bias": ...}`` by layer index (copies)."""
        from ._weights_io import state_dict

        return state_dict(self)

    def load_state_dict(self, mapping, strict: bool = True, match: str = "name") -> None:
        """Weights from ``{name: array}`` or a ``.safetensors`` path; names are
        ``"{layer index or name}.weight|bias"``, or ``match="order"`` assigns layer by layer.
        See ``pocketcnn._weights_io``."""
        from ._weights_io import load_state_dict

        load_state_dict(self, mapping, strict=strict, match=match)

    def __repr__(self) -> str:
        return f"Sequential(name={self.name!r}, layers={[layer.name for layer in self.layers]})"


def load_model(path: str | os.PathLike, compile: bool = True) -> Sequential:
    """The model saved at ``path``, with its weights, and (if it was compiled and ``compile``)
    its loss, metrics and optimiser state, ready to ``predict`` or to continue ``fit``."""
    # The whole architecture is planned and checked against the file's arrays (and the optimiser
    # state) before any array is read or anything is built or initialised.
    header, arrays = saving.read_archive(path, check=_model_file_check.check_plan)
    try:
        model = _rebuild(header, arrays, path)
        if compile and header.get("compile") is not None:
            opt_header = header.get("optimizer")
            optimizer: Any = "adam"
            if opt_header is not None:
                state = [
                    {k: (arrays[v] if isinstance(v, str) else v) for k, v in s.items()}
                    for s in opt_header["state"]
                ]
                optimizer = optim_module.from_state_dict({**opt_header, "state": state})
            model.compile(
                optimizer=optimizer,
                loss=header["compile"]["loss"],
                metrics=header["compile"]["metrics"],
            )
            options = dict(header["compile"].get("loss_options", {}))
            if "label_smoothing" in options:
                model.loss_options = {"label_smoothing": float(options["label_smoothing"])}
    except saving.ModelFileError:
        raise
    except Exception as e:  # anything a hostile header can provoke is a ModelFileError
        raise saving.ModelFileError(
            f"{os.fspath(path)}: corrupted model file: the header does not describe a valid model "
            f"({type(e).__name__}: {e})"
        ) from None
    return model


def _rebuild(header: dict[str, Any], arrays: dict[str, np.ndarray], path) -> Sequential:
    """The architecture, weights, epoch count and history from a model file."""
    config = header["model"]["config"]
    model: Sequential
    if header["model"].get("class_name", "Sequential") == "Model":  # the functional API
        from .functional import model_from_config

        model = model_from_config(config)
    else:
        model = Sequential(name=config["name"], seed=config["seed"])
        for spec in config["layers"]:
            model.add(layers_module.from_config(spec["class_name"], dict(spec["config"])))
        if config["input_shape"] is not None and not model.built:
            model.build(config["input_shape"])
    n_weights = sum(len(layer._tensors()) for layer in model.layers)
    weights = [arrays.get(f"weights/{i}") for i in range(n_weights)]
    if any(w is None for w in weights) or f"weights/{n_weights}" in arrays:
        raise saving.ModelFileError(
            f"{os.fspath(path)}: corrupted model file: the architecture has {n_weights} weight "
            "arrays, the file does not"
        )
    model.set_weights(weights)
    model.epochs_trained = int(header.get("epochs_trained", 0))
    if header.get("history") is not None:
        model.history = callbacks_module.History()
        model.history.epoch = [int(e) for e in header["history"]["epoch"]]
        model.history.history = {
            str(k): [float(v) for v in vals] for k, vals in header["history"]["history"].items()
        }
    return model


__all__ = ["Sequential", "load_model", "validation_split_indices"]
