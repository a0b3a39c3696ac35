"""The layer protocol (pocketcnn/layers/__init__.py): a new layer is one class."""

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn import _inference
from pocketcnn.layers import Layer


def layer_by_layer(model, x):
    with pc.no_grad():
        return np.asarray(model._forward(pc.Tensor(x), training=False))


def test_a_new_layer_is_one_class(tmp_path):
    # Defining the class is all it takes: the model names it from default_name, saving and
    # loading find it by class name, and the plan takes it once it has a plan step.
    class Halve(Layer):
        default_name = "halve"

        def forward(self, x, training):
            return x * 0.5

    model = pc.Sequential([pc.layers.Dense(3, input_shape=(4,)), Halve(), Halve()])
    assert [layer.name for layer in model.layers] == ["dense", "halve", "halve_1"]
    assert _inference.build_plan(model.layers) is None  # no add_to_plan: runs in Python
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    model.save(tmp_path / "halve.pcnn")
    loaded = pc.load_model(tmp_path / "halve.pcnn")
    assert [type(layer) for layer in loaded.layers][1:] == [Halve, Halve]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with pc.no_grad():
        dense = np.asarray(model.layers[0](x))
    np.testing.assert_allclose(model.predict(x), 0.25 * dense, rtol=1e-6)

    class Identity(Layer):
        default_name = "identity"

        def add_to_plan(self, plan, activation):
            return self._plan_activation(plan, activation)

    model = pc.Sequential([pc.layers.Dense(3, input_shape=(4,)), Identity()])
    assert len(_inference.build_plan(model.layers)) == 1


def test_a_subclass_that_changes_forward_does_not_inherit_the_plan_step():
    class NegatedDense(pc.layers.Dense):
        def forward(self, x, training):
            return -super().forward(x, training)

    model = pc.Sequential([NegatedDense(3, input_shape=(4,))])
    assert _inference.build_plan(model.layers) is None
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(model.predict(x), layer_by_layer(model, x))


def test_a_layer_class_may_not_take_a_built_in_name():
    with pytest.raises(TypeError, match="'Dense' already exists"):

        class Dense(Layer):
            pass


class RunningMean(Layer):
    """Subtracts a running mean of its inputs, updated in training: non-trainable state."""

    default_name = "running_mean"
    state_names = ("mean",)

    def _make_weights(self, input_shape, init, rng):
        self._state = [pc.Tensor(np.zeros(input_shape, np.float32))]

    def forward(self, x, training):
        mean = np.asarray(self._state[0])
        if training:
            mean[...] = 0.5 * mean + 0.5 * np.asarray(x).mean(axis=0)
        return x - pc.Tensor(mean.copy())


def test_non_trainable_state_is_saved_counted_and_not_trained(tmp_path, capsys):
    model = pc.Sequential([pc.layers.Dense(3, input_shape=(4,)), RunningMean()])
    model.compile(pc.optim.SGD(0.1), "mse")
    x = np.random.default_rng(1).standard_normal((8, 4)).astype(np.float32)
    model.fit(x, np.zeros((8, 3), np.float32), batch_size=8, epochs=2, verbose=0)
    assert len(model.weights) == 2 and len(model.optimizer.state) <= 2
    assert not model.layers[1].non_trainable_weights[0].requires_grad
    state = np.asarray(model.layers[1].non_trainable_weights[0]).copy()
    assert np.any(state != 0)  # the layer updated it
    model.summary()
    out = capsys.readouterr().out
    assert "Trainable params: 15" in out and "Non-trainable params: 3" in out
    assert model.count_params() == 18 and len(model.get_weights()) == 3
    model.save(tmp_path / "state.pcnn")
    loaded = pc.load_model(tmp_path / "state.pcnn")
    np.testing.assert_array_equal(np.asarray(loaded.layers[1].non_trainable_weights[0]), state)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with pytest.raises(ValueError, match=r"expected 1 arrays \(mean\), got 0"):
        model.layers[1].set_weights([])
