"""One rank of the MPI tests (test_distributed.py launches it under mpiexec): ``SCENARIO OUT``.

Each scenario trains a small model with ``fit(distributed=True)`` and writes what the test
checks (weights, per-step hashes, errors) to OUT (rank 0, .npz) or stdout.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time

import numpy as np

import pocketcnn as pc
from pocketcnn import distributed as dist

# 700 samples; with validation_split=0.1, 630 train in 20 steps of global batch 32 (the last one
# 22: 11 + 11 on 2 ranks) or 21 of 30 (10 + 10 + 10 on 3 ranks).
SAMPLES, GLOBAL_BATCH, EPOCHS = 700, 32, 1


def data(n: int = SAMPLES):
    rng = np.random.default_rng(123)
    x = rng.standard_normal((n, 2, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 1, 4:].mean(axis=(1, 2))).astype(np.int64)
    y += 2 * (x[:, :, 2:6, 2:6].std(axis=(1, 2, 3)) > 1.0)
    return x, y


class RunningInputMean(pc.layers.Layer):
    """Subtracts a running mean of its inputs, updated in training: non-trainable state that
    each rank updates from its own samples and fit must keep equal on every rank."""

    default_name = "running_input_mean"
    state_names = ("mean",)

    def _make_weights(self, input_shape, init, rng):
        self._state = [pc.Tensor(np.zeros(input_shape, np.float32))]

    def forward(self, x, training):
        mean = np.asarray(self._state[0])
        if training:
            mean[...] = 0.5 * mean + 0.5 * np.asarray(x).mean(axis=0)
        return x - pc.Tensor(mean.copy())


def build_model(seed: int, dropout: bool = False, state: bool = False):
    layers = [
        pc.layers.Conv2D(6, 3, input_shape=(2, 8, 8), activation="relu"),
        pc.layers.MaxPool2D(2),
        pc.layers.Flatten(),
        pc.layers.Dense(40, activation="relu"),
    ]
    if state:  # its forward uses each rank's own batch mean: no 1-rank equivalence
        layers.append(RunningInputMean())
    if dropout:
        layers.append(pc.layers.Dropout(0.3))
    layers.append(pc.layers.Dense(4, activation="softmax"))
    model = pc.Sequential(layers, seed=seed)
    model.compile(pc.optim.Adam(3e-3), metrics=["accuracy"])
    return model


def flat_weights(model) -> np.ndarray:
    return np.concatenate([w.ravel() for w in model.get_weights()])


class HashEveryStep(pc.callbacks.Callback):
    """After every step: every rank's weights hashed, gathered, and required identical."""

    def __init__(self):
        self.steps = 0

    def on_batch_end(self, batch, logs=None):
        digest = hashlib.sha256(flat_weights(self.model).tobytes()).hexdigest()
        everyone = dist.allgather_object(digest)
        if len(set(everyone)) != 1:
            raise AssertionError(f"step {self.steps}: weights differ between ranks: {everyone}")
        self.steps += 1


def scenario_bitwise(out: str) -> None:
    # Small buckets so the gradients span several buckets, and the Dense(40) kernel (2,160
    # floats) is reduced alone on its own memory; reduced beside the backward pass (the
    # equivalence scenario runs the default, after it).
    dist.init(bucket_bytes=4096, overlap=True)
    x, y = data()
    # Different seeds per rank: the broadcast of rank 0's weights must make them equal.
    model = build_model(seed=dist.rank() * 11, dropout=True, state=True)
    hashes = HashEveryStep()
    # rank-specific names, to see which ranks write: rank 0 only
    directory = os.path.dirname(os.path.abspath(out))
    checkpoint = pc.callbacks.ModelCheckpoint(
        os.path.join(directory, f"ckpt-rank{dist.rank()}-{{epoch}}.pcnn")
    )
    model.fit(
        x,
        y,
        batch_size=GLOBAL_BATCH // dist.size(),
        epochs=2,
        seed=5,
        verbose=0,
        callbacks=[hashes, checkpoint],
        distributed=True,
    )
    model.save(os.path.join(directory, f"saved-rank{dist.rank()}.pcnn"))
    if dist.rank() == 0:
        np.savez(out, steps=hashes.steps, weights=flat_weights(model))


def scenario_equivalence(out: str) -> None:
    dist.init(bucket_bytes=4096)
    x, y = data()
    model = build_model(seed=3)
    history = model.fit(
        x,
        y,
        batch_size=GLOBAL_BATCH // dist.size(),
        epochs=EPOCHS,
        seed=9,
        verbose=0,
        validation_split=0.1,
        distributed=True,
    )
    if dist.rank() == 0:
        logs = {k: np.array(v) for k, v in history.history.items()}
        np.savez(out, weights=flat_weights(model), steps=model.optimizer.iterations, **logs)


def scenario_overlap(out: str) -> None:
    """Gradients reduced beside the backward pass (hooks) against reduce() after it, per batch."""
    from pocketcnn import _core, losses

    dist.init(bucket_bytes=4096)
    x, y = data()
    model = build_model(seed=3)
    params = model.trainable_weights
    buckets = dist.GradientBuckets(params, 1, 4096)
    started_in_backward, differ, rank_hashes = [], 0, []
    per_rank = GLOBAL_BATCH // dist.size()
    for b in range(8):
        lo = b * GLOBAL_BATCH + dist.rank() * per_rank
        xb, yb = x[lo : lo + per_rank], y[lo : lo + per_rank]
        results = []
        for hooked in (True, False):
            model.optimizer.zero_grad(params)
            out_t = model._forward(_core.Tensor(xb), training=True, logits=True)
            loss = losses.compute(model.loss, out_t, yb)
            extras = np.array([len(xb)], np.float32)
            if hooked:
                buckets.start(params, len(xb), extras)
                loss.backward(watch=params, on_grad_ready=buckets.grad_ready)
                started_in_backward.append(buckets._started)
                summed = buckets.finish()
            else:
                loss.backward()
                summed = buckets.reduce(params, len(xb), extras)
            results.append(np.concatenate([summed, *(np.asarray(p.grad).ravel() for p in params)]))
        differ += int(np.count_nonzero(results[0] != results[1]))
        rank_hashes.append(hashlib.sha256(results[0].tobytes()).hexdigest())
    everyone = dist.allgather_object(rank_hashes)
    if dist.rank() == 0:
        np.savez(
            out,
            differ=differ,
            same_on_all_ranks=all(h == everyone[0] for h in everyone),
            started_in_backward=np.array(started_in_backward),
            buckets=len(buckets.groups),
        )


def scenario_nan(out: str) -> None:
    dist.init()
    x, y = data()
    x[200, 0, 0, 0] = np.nan  # in global batch 200 // 32 = 6, on one rank only
    model = build_model(seed=3)
    try:
        model.fit(
            x,
            y,
            batch_size=GLOBAL_BATCH // dist.size(),
            epochs=1,
            shuffle=False,
            verbose=0,
            distributed=True,
        )
    except FloatingPointError as e:
        say(f"rank {dist.rank()} stopped: {e}")
        return
    say(f"rank {dist.rank()} did not stop")


def say(line: str) -> None:
    """One write of the whole line: mpiexec merges the ranks' output, and print's separate write
    of the newline let another rank's line land in between (two lines read as one)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Fail(pc.callbacks.Callback):
    """On rank 1, at batch 5 of the first epoch: die, raise or hang."""

    def __init__(self, how: str):
        self.how = how

    def on_batch_end(self, batch, logs=None):
        if dist.rank() != 1 or batch != 5:
            return
        print(f"rank 1 at batch {batch}: {self.how}", flush=True)
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif self.how == "raise":
            raise RuntimeError("a failure on rank 1 only")
        elif self.how == "hang":
            time.sleep(300)


def scenario_fault(how: str) -> None:
    dist.init(timeout=5.0)
    x, y = data(20000)
    model = build_model(seed=3)
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[Fail(how)], distributed=True)
    print(f"rank {dist.rank()} finished training", flush=True)


def main(argv) -> int:
    scenario, out = argv[1], argv[2] if len(argv) > 2 else ""
    pc.set_num_threads(1)
    if scenario in ("kill", "raise", "hang"):
        scenario_fault(scenario)
    else:
        globals()[f"scenario_{scenario}"](out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
