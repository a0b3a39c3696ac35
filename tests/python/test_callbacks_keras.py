"""ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TerminateOnNaN in model.fit."""

import csv

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn import callbacks


def small_model(lr=0.01):
    model = pc.Sequential(
        [pc.layers.Dense(8, activation="relu", input_shape=(4,)), pc.layers.Dense(2)]
    )
    model.compile(pc.optim.SGD(lr), "cross_entropy", ["accuracy"])
    return model


def data(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


class Feed(callbacks.Callback):
    """Overwrites the monitored value with a scripted sequence (so the test controls plateaus)."""

    def __init__(self, values):
        self.values = list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs["loss"] = self.values[epoch]


def test_reduce_lr_on_plateau_patience_cooldown_and_min_lr():
    model = small_model(1.0)
    x, y = data()
    rlr = callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2, min_delta=0
    )
    # improves twice, then flat: a reduction after every 2 flat epochs (the cooldown epoch after
    # a reduction counts as flat once it has passed, as in Keras); "lr" is logged before it.
    feed = Feed([1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    hist = model.fit(x, y, epochs=9, verbose=0, callbacks=[feed, rlr])
    assert hist.history["lr"] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2]
    assert model.optimizer.lr == 0.2  # clipped at min_lr (0.25 * 0.5 < 0.2)


def test_reduce_lr_needs_a_numeric_rate():
    model = small_model()
    model.compile(pc.optim.SGD(pc.optim.StepDecay(0.1, 2)), "cross_entropy")
    x, y = data()
    with pytest.raises(ValueError, match="schedule"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ReduceLROnPlateau("loss")])
    with pytest.raises(ValueError, match="factor"):
        callbacks.ReduceLROnPlateau(factor=1.5)


def test_learning_rate_scheduler_both_signatures():
    x, y = data()
    model = small_model(0.1)
    hist = model.fit(
        x, y, epochs=3, verbose=0,
        callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)],
    )  # fmt: skip
    assert hist.history["lr"] == [0.05, 0.025, 0.0125]
    model = small_model(0.1)
    hist = model.fit(
        x, y, epochs=2, verbose=0,
        callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))],
    )  # fmt: skip
    assert hist.history["lr"] == [0.01, 0.02]
    with pytest.raises(ValueError, match="must be > 0"):
        small_model().fit(
            x, y, epochs=1, verbose=0, callbacks=[callbacks.LearningRateScheduler(lambda e: 0.0)]
        )


def test_csv_logger_writes_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data()
    model = small_model()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
              callbacks=[callbacks.CSVLogger(path)])  # fmt: skip
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25,
              callbacks=[callbacks.CSVLogger(path, append=True)])  # fmt: skip
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "0"]
    assert all(np.isfinite(float(v)) for r in rows[1:] for v in r)


def test_terminate_on_nan_stops_quietly():
    x, y = data()
    x[40] = np.nan  # the batch holding it has a NaN loss
    model = small_model()
    with pytest.raises(FloatingPointError):
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    model = small_model()
    before = model.get_weights()
    stop = callbacks.TerminateOnNaN()
    hist = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, callbacks=[stop])
    assert stop.terminated_at == (0, 2) and hist.epoch == [0]
    after = model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in after)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))  # two finite steps
