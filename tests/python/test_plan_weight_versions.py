"""The inference plan keeps what it derives from the weights (a batch norm folded into the conv or
dense layer before it) across predictions, keyed on the tensors' versions. Every way a user can
change a weight must show in the next prediction: each test changes the weights one way and
compares predict with the layer-by-layer ops, which keep nothing (a stale fold or pack would
differ: every change below moves the outputs)."""

import numpy as np
import pytest

import pocketcnn as pc

L = pc.layers
X = np.random.default_rng(0).standard_normal((3, 3, 10, 10)).astype(np.float32)
Y = np.array([0, 1, 2])


def sequential():
    return pc.Sequential(
        [
            L.Conv2D(6, 3, input_shape=(3, 10, 10), use_bias=False),
            L.BatchNormalization(),
            L.ReLU(),
            L.Flatten(),
            L.Dense(8),
            L.BatchNormalization(),
            L.Dense(3),
        ]
    )


def graph():
    x = inp = pc.Input((3, 10, 10))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(6, 3, padding="same", use_bias=False)(x)))
    y = L.BatchNormalization()(L.Conv2D(6, 3, padding="same")(x))
    x = L.ReLU()(L.Add()([x, y]))
    return pc.Model(inp, L.Dense(3)(L.GlobalAveragePooling2D()(x)))


def plain_convs():
    """No batch norm: the kernels' own kept packs (direct, strided, 1x1, Winograd, fused pool)."""
    return pc.Sequential(
        [
            L.Conv2D(8, 3, input_shape=(3, 10, 10), padding="same", activation="relu"),
            L.Conv2D(16, 3, padding="same", activation="relu"),  # Winograd (C, K >= 8)
            L.MaxPool2D(2),
            L.Conv2D(16, 3, strides=2, padding="same"),
            L.Conv2D(12, 1, activation="relu"),
            L.Flatten(),
            L.Dense(3),
        ]
    )


@pytest.fixture(params=[sequential, graph, plain_convs], ids=["sequential", "graph", "plain"])
def make(request):
    return request.param


def compiled(make, seed=1):
    model = make()
    # BN statistics away from (0, 1) so that a fold of stale ones is visibly wrong.
    rng = np.random.default_rng(seed)
    model.set_weights(
        [(w + rng.uniform(0.1, 0.5, w.shape)).astype(np.float32) for w in model.get_weights()]
    )
    model.compile(optimizer=pc.optim.SGD(0.05, momentum=0.9), loss="cross_entropy")
    return model


def assert_current(model, before):
    """predict (the plan, with what it kept) equals the layer-by-layer ops on the current weights
    (no plan, nothing kept)."""
    got = model.predict(X)
    assert not np.allclose(got, before, atol=1e-5), "the change did not move the outputs"
    with pc.no_grad():
        want = np.asarray(model(X))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_fit_and_train_on_batch(make):
    model = compiled(make)
    before = model.predict(X)
    model.fit(X, Y, epochs=1, batch_size=3, verbose=0)
    assert_current(model, before)
    before = model.predict(X)
    model.train_on_batch(X, Y)
    assert_current(model, before)


def test_set_weights_and_load_state_dict(make):
    model = compiled(make)
    before = model.predict(X)
    model.set_weights([w * 1.5 for w in model.get_weights()])
    assert_current(model, before)
    before = model.predict(X)
    model.load_state_dict({k: v * 0.5 for k, v in model.state_dict().items()})
    assert_current(model, before)


def test_optimizer_step_on_the_layer_tensors(make):
    model = compiled(make)
    before = model.predict(X)
    params = [w for layer in model.layers for w in layer._weights]
    for p in params:
        p.grad = pc.Tensor(np.ones(p.shape, np.float32))
    pc.optim.Adam(0.1).step(params)
    assert_current(model, before)


def test_numpy_views_temporary_and_kept(make):
    model = compiled(make)
    if make is plain_convs:
        conv = model.layers[1]
        before = model.predict(X)
        kept = np.asarray(conv._weights[0])
        kept *= 1.5
        assert_current(model, before)
        before = model.predict(X)
        kept *= -1.0
        assert_current(model, before)
        return
    bn = next(layer for layer in model.layers if isinstance(layer, L.BatchNormalization))
    before = model.predict(X)
    np.asarray(bn._state[1])[...] = 4.0  # moving variance, through a view dropped at once
    assert_current(model, before)
    kept = np.asarray(bn._state[0])  # a view kept alive: written between predictions
    for value in (0.7, -0.3):
        before = model.predict(X)
        kept[...] = value
        assert_current(model, before)
    del kept
    before = model.predict(X)
    bn._weights[0].numpy()[...] *= 2.0  # gamma
    assert_current(model, before)


def test_dlpack_consumer_writes(make):
    model = compiled(make)
    target = next(layer for layer in model.layers if layer._state or layer._weights)
    shared = np.from_dlpack((target._state or target._weights)[0])
    before = model.predict(X)
    shared[...] = 2.5
    assert_current(model, before)


def test_a_cached_fold_is_reused_and_still_equal():
    """Unchanged weights: repeated predictions give the same floats (the kept fold is the fold)."""
    model = compiled(sequential)
    first = model.predict(X)
    for _ in range(3):
        np.testing.assert_array_equal(model.predict(X), first)


def test_tensor_versions_and_tracking():
    t = pc.Tensor(np.zeros(4, np.float32)).clone()  # owned memory
    assert t._writes_tracked and t._version == 0
    view = np.asarray(t)
    assert not t._writes_tracked  # a live view can write unseen
    view[0] = 1.0
    del view
    assert t._writes_tracked and t._version == 1  # its release counts as a write
    t.grad = pc.Tensor(np.ones(4, np.float32))
    pc.optim.SGD(0.1).step([t])
    assert t._version == 2
    assert t.detach()._version == 2  # handles on the same data share the version
    wrapped = pc.Tensor(np.zeros(4, np.float32))  # numpy's memory: writes are never seen
    assert not wrapped._writes_tracked
    capsule_user = np.from_dlpack(t)
    assert not t._writes_tracked
    del capsule_user
    assert t._writes_tracked and t._version == 3
