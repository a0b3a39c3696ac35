"""fit / evaluate / train_on_batch: real data, validation, callbacks, determinism, bad input."""

import io

import numpy as np
import pytest
from models import blobs, compiled_tiny, tiny_model

import pocketcnn as pc
from pocketcnn.model import validation_split_indices

L = pc.layers


def test_one_epoch_on_fashion_mnist_subset_reaches_75_percent(fashion_mnist):
    """A small CNN, one epoch over 3,000 training images: >= 75% on 2,000 test images
    (measured: ~81%; chance is 10%)."""
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    x_train = x_train[:3000, None].astype(np.float32) / 255
    x_test = x_test[:2000, None].astype(np.float32) / 255
    model = pc.Sequential(
        [
            L.Conv2D(8, 3, activation="relu", input_shape=(1, 28, 28)),
            L.MaxPool2D(2),
            L.Flatten(),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.compile(pc.optim.Adam(3e-3), "cross_entropy", ["accuracy"])
    history = model.fit(x_train, y_train[:3000], batch_size=32, epochs=1, verbose=0)
    result = model.evaluate(x_test, y_test[:2000])
    assert result["accuracy"] >= 0.75, result
    assert history.history["loss"][0] < 1.2
    assert set(result) == {"loss", "accuracy"}


def test_fit_learns_and_history_has_every_metric():
    x, y = blobs(96)
    model = tiny_model()
    model.compile(pc.optim.Adam(1e-2), "cross_entropy", ["accuracy", "top_2"])
    history = model.fit(x, y, batch_size=16, epochs=4, validation_data=blobs(32, seed=1), verbose=0)
    h = history.history
    assert set(h) == {
        "loss",
        "accuracy",
        "top_2_accuracy",
        "val_loss",
        "val_accuracy",
        "val_top_2_accuracy",
    }
    assert history.epoch == [0, 1, 2, 3] and model.history is history
    assert h["loss"][-1] < h["loss"][0] and h["accuracy"][-1] > 0.8
    assert h["val_accuracy"][-1] > 0.8
    assert model.epochs_trained == 4


def test_validation_split_is_seeded_shuffled_and_held_out():
    x, y = blobs(50)
    train_idx, val_idx = validation_split_indices(50, 0.2, seed=5)
    assert len(val_idx) == 10 and len(train_idx) == 40
    assert sorted(np.concatenate([train_idx, val_idx])) == list(range(50))
    assert not np.array_equal(val_idx, np.arange(40, 50))  # not Keras' "last 20%"
    np.testing.assert_array_equal(validation_split_indices(50, 0.2, seed=5)[1], val_idx)
    assert not np.array_equal(validation_split_indices(50, 0.2, seed=6)[1], val_idx)

    model = compiled_tiny()
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, seed=5, verbose=0)
    # The last epoch's validation metrics are those of the held-out samples with final weights.
    held_out = model.evaluate(x[val_idx], y[val_idx], batch_size=8)
    assert history.history["val_loss"][-1] == pytest.approx(held_out["loss"], rel=1e-6)
    assert history.history["val_accuracy"][-1] == held_out["accuracy"]
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="leaves 0 for training and 2 for validation"):
        model.fit(x[:2], y[:2], validation_split=0.9, verbose=0)


def test_determinism_same_seed_same_losses_every_epoch():
    x, y = blobs(64)
    runs = []
    for _ in range(2):
        model = compiled_tiny(seed=3, dropout=0.25)
        h = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0)
        runs.append((h.history, model.get_weights()))
    assert runs[0][0] == runs[1][0]  # every loss and metric, every epoch, bit for bit
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    other = compiled_tiny(seed=4, dropout=0.25)
    h = other.fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0)
    assert h.history["loss"] != runs[0][0]["loss"]


def test_two_fits_equal_one_fit_of_both_epochs():
    x, y = blobs(40)
    a = compiled_tiny(dropout=0.2)
    ha = a.fit(x, y, batch_size=8, epochs=2, verbose=0)
    b = compiled_tiny(dropout=0.2)
    hb = [b.fit(x, y, batch_size=8, epochs=1, verbose=0).history["loss"][0] for _ in range(2)]
    assert ha.history["loss"] == hb
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_early_stopping():
    x, y = blobs(32)
    model = compiled_tiny()
    # Demanding an improvement of 100 per epoch: never met, so stop after patience + 1 epochs.
    stop = pc.callbacks.EarlyStopping(monitor="loss", min_delta=100, patience=2, baseline=0.0)
    history = model.fit(x, y, batch_size=8, epochs=20, callbacks=[stop], verbose=0)
    assert len(history.epoch) == 3 and stop.stopped_epoch == 2
    assert model.epochs_trained == 3

    model = compiled_tiny(optimizer=pc.optim.SGD(0.5))
    best = pc.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    snapshots = []

    class Snap(pc.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=8,
        validation_data=blobs(16, seed=2),
        callbacks=[best, Snap()],
        verbose=0,
    )
    losses = history.history["val_loss"]
    assert best.best_epoch == int(np.argmin(losses))
    for w, want in zip(model.get_weights(), snapshots[best.best_epoch]):
        np.testing.assert_array_equal(w, want)

    with pytest.raises(ValueError, match="'val_loss' is not among.*validation"):
        compiled_tiny().fit(x, y, callbacks=[pc.callbacks.EarlyStopping()], verbose=0)


def test_model_checkpoint(tmp_path):
    x, y = blobs(32)
    model = compiled_tiny()
    every = pc.callbacks.ModelCheckpoint(tmp_path / "m-{epoch:02d}.pcnn", monitor="loss")
    best = pc.callbacks.ModelCheckpoint(tmp_path / "best.pcnn", monitor="loss", save_best_only=True)
    history = model.fit(x, y, batch_size=8, epochs=3, callbacks=[every, best], verbose=0)
    assert sorted(p.name for p in tmp_path.glob("m-*")) == ["m-01.pcnn", "m-02.pcnn", "m-03.pcnn"]
    final = pc.load_model(tmp_path / "m-03.pcnn")
    np.testing.assert_array_equal(final.predict(x), model.predict(x))
    assert final.epochs_trained == 3
    if history.history["loss"][-1] == min(history.history["loss"]):
        np.testing.assert_array_equal(
            pc.load_model(tmp_path / "best.pcnn").predict(x), model.predict(x)
        )


def test_train_on_batch():
    x, y = blobs(16)
    model = compiled_tiny()
    before = model.get_weights()
    logs = model.train_on_batch(x, y)
    assert set(logs) == {"loss", "accuracy"} and logs["loss"] > 0
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.optimizer.iterations == 1


def test_learning_rate_schedule_follows_epochs():
    x, y = blobs(16)
    opt = pc.optim.SGD(pc.optim.StepDecay(0.1, step_size=1, gamma=0.5))
    model = compiled_tiny(optimizer=opt)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert opt.epoch == 2 and opt.current_lr == pytest.approx(0.025)


def test_progress_output_modes():
    x, y = blobs(32)
    model = compiled_tiny()
    quiet = io.StringIO()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, stream=quiet)
    assert quiet.getvalue() == ""
    log = io.StringIO()  # not a terminal: one line per epoch
    model.fit(x, y, batch_size=8, epochs=2, verbose=1, stream=log)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 4/4")
    assert "img/s" in lines[0] and "loss: " in lines[0] and "accuracy: " in lines[0]
    assert "\r" not in log.getvalue()

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    model.fit(x, y, batch_size=1, epochs=1, verbose=1, stream=tty)
    text = tty.getvalue()
    assert text.startswith("\rEpoch 1/1 1/32 [") and "ETA" in text and text.endswith("\n")
    assert text.count("\n") == 1


# ---- bad input -----------------------------------------------------------------------------------


def test_fit_before_compile():
    x, y = blobs(8)
    with pytest.raises(RuntimeError, match="not compiled.*compile"):
        tiny_model().fit(x, y)
    with pytest.raises(RuntimeError, match="not compiled"):
        tiny_model().evaluate(x, y)


def test_x_and_y_of_different_lengths():
    x, y = blobs(8)
    with pytest.raises(ValueError, match="x has 8, y has shape \\(7,\\)"):
        compiled_tiny().fit(x, y[:7], verbose=0)
    with pytest.raises(ValueError, match="different numbers of samples"):
        compiled_tiny().evaluate(x[:3], y)


def test_input_shape_not_the_models():
    x, y = blobs(8)
    model = compiled_tiny()
    with pytest.raises(
        ValueError, match=r"x has shape \(8, 8, 8\).*\(None, 1, 8, 8\).*x\[:, None\]"
    ):
        model.fit(x[:, 0], y, verbose=0)
    with pytest.raises(ValueError, match=r"\(8, 1, 7, 7\)"):
        model.predict(x[:, :, :7, :7])
    with pytest.raises(TypeError, match="numeric"):
        model.predict(np.array([["a"]]))


def test_labels_out_of_range_or_wrong_kind():
    x, y = blobs(8)
    model = compiled_tiny()
    bad = y.copy()
    bad[3] = 3
    with pytest.raises(ValueError, match="label 3 is out of range for 3 classes"):
        model.fit(x, bad, verbose=0)
    bad[3] = -1
    with pytest.raises(ValueError, match="label -1 is out of range"):
        model.evaluate(x, bad)
    with pytest.raises(ValueError, match="one-hot"):
        model.fit(x, np.eye(3)[y], verbose=0)
    with pytest.raises(TypeError, match="integer class labels"):
        model.fit(x, y + 0.5, verbose=0)


def test_nan_loss_names_epoch_and_batch_and_keeps_last_good_weights():
    x, y = blobs(40)
    x[26] = np.nan  # sample 26 is in batch 4 (1-based) of the unshuffled second epoch
    model = compiled_tiny()
    model.fit(x[:24], y[:24], batch_size=8, epochs=1, shuffle=False, verbose=0)
    reference = compiled_tiny()
    reference.fit(x[:24], y[:24], batch_size=8, epochs=1, shuffle=False, verbose=0)
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 1/2, batch 4/5"):
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    weights = model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in weights)
    # the weights are those after batch 3: replay the same three steps on the reference model
    for b in range(3):
        reference.train_on_batch(x[b * 8 : (b + 1) * 8], y[b * 8 : (b + 1) * 8])
    for w, want in zip(weights, reference.get_weights()):
        np.testing.assert_array_equal(w, want)


def test_diverging_training_stops_with_finite_weights():
    x, y = blobs(64)
    model = compiled_tiny(optimizer=pc.optim.SGD(1e30))
    with pytest.raises(FloatingPointError, match=r"(loss|gradient norm) is (nan|inf).*epoch 1/"):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_training_steps_match_torch_when_available():
    """Same weights, same batches: three Adam steps of the tiny model agree with PyTorch (layer
    semantics, fused softmax cross-entropy, backward and the optimiser together)."""
    torch = pytest.importorskip("torch")
    x, y = blobs(24)
    model = compiled_tiny(optimizer=pc.optim.Adam(1e-2))
    w = model.get_weights()
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 3),
    )
    params = [net[0].weight, net[0].bias, net[4].weight, net[4].bias, net[6].weight, net[6].bias]
    with torch.no_grad():
        for p, a in zip(params, w):
            p.copy_(torch.from_numpy(a))
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for b in range(3):
        xb, yb = x[b * 8 : (b + 1) * 8], y[b * 8 : (b + 1) * 8]
        ours = model.train_on_batch(xb, yb)["loss"]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(xb)), torch.from_numpy(yb))
        loss.backward()
        opt.step()
        assert ours == pytest.approx(loss.item(), rel=1e-5)
    for a, p in zip(model.get_weights(), params):
        np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-4, atol=1e-5)
