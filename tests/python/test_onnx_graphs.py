"""ONNX graphs with branches: pc.onnx.load of torch's residual block into a functional Model
(to 1e-5 of its stored outputs, on the graph plan), export of functional models (the checker and
onnxruntime are in test_onnx_export.py's zoo), folding only into values with one reader, clear
errors naming the node."""

import os

import numpy as np
import pytest
from onnx_helpers import assert_close, inputs, randomize

import pocketcnn as pc
from pocketcnn._graph_inference import build_graph_plan
from pocketcnn.onnx import _proto
from pocketcnn.onnx._export import model_proto

L = pc.layers
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "onnx")


def test_torch_residual_block_predicts_its_stored_outputs():
    # fixtures/onnx/make_fixtures.py: relu(stem); conv1-relu-conv2; relu(x + y); pool; linear
    model = pc.onnx.load(os.path.join(FIXTURES, "residual.onnx"))
    data = np.load(os.path.join(FIXTURES, "residual.npz"))
    assert isinstance(model, pc.Model)
    kinds = [layer.type_name for layer in model.layers]
    assert kinds.count("Add") == 1 and kinds.count("Conv2D") == 3
    assert build_graph_plan(model) is not None  # runs on the compiled graph plan
    assert_close(model.predict(data["x"]), data["y"])
    assert_close(model.predict(data["x"][:1]), data["y"][:1])


def _round_trip(model, x):
    loaded = load_proto(model_proto(model))
    assert isinstance(loaded, pc.Model)
    assert_close(loaded.predict(x), model.predict(x))
    return loaded


def load_proto(proto):
    return pc.onnx.load(_proto.encode(proto, "ModelProto"))


def test_nothing_folds_into_a_value_another_node_reads():
    # The conv's output is read by the BatchNormalization, the Relu and the Add: neither may
    # become part of the conv (the Add would then see the normalised / rectified values).
    x = pc.Input((2, 6, 6))
    c = L.Conv2D(3, 3)(x)
    out = L.Add()([c, L.BatchNormalization()(c), L.ReLU()(c)])
    model = randomize(pc.Model(x, L.Dense(2)(L.Flatten()(out))))
    loaded = _round_trip(model, inputs(model, 5))
    conv = next(layer for layer in loaded.layers if layer.type_name == "Conv2D")
    assert conv.activation is None
    assert any(layer.type_name == "BatchNormalization" for layer in loaded.layers)


def test_shared_layer_exports_its_weights_once_and_runs_in_onnxruntime(tmp_path):
    x = pc.Input((3, 5, 5))
    shared = L.Conv2D(3, 3, padding="same", activation="relu")
    out = L.Add()([x, shared(shared(x))])
    model = randomize(pc.Model(x, L.Dense(4)(L.GlobalAveragePooling2D()(out))))
    proto = model_proto(model)
    names = [t["name"] for t in proto["graph"]["initializer"]]
    assert sum(name.startswith(shared.name + ".weight") for name in names) == 1
    assert [n["op_type"] for n in proto["graph"]["node"]].count("Conv") == 2
    loaded = _round_trip(model, inputs(model, 3))
    convs = [layer for layer in loaded.layers if layer.type_name == "Conv2D"]
    assert len(convs) == 2  # one layer per call on import, with equal weights
    np.testing.assert_array_equal(convs[0].get_weights()[0], convs[1].get_weights()[0])
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "shared.onnx"
    pc.onnx.export(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 37):
        xs = inputs(model, batch)
        assert_close(session.run(["output"], {"input": xs})[0], model.predict(xs))


def _residual_proto():
    x = pc.Input((2, 4, 4))
    h = L.Conv2D(2, 3, padding="same", name="conv")(x)
    s = L.Add(name="add")([x, h])
    model = pc.Model(x, L.Concatenate(name="cat")([s, h]))
    return model_proto(randomize(model))


def _node(proto, name):
    return next(n for n in proto["graph"]["node"] if n["name"] == name)


def test_unsupported_op_in_a_branch_names_the_node():
    proto = _residual_proto()
    _node(proto, "add")["op_type"] = "Mul"
    with pytest.raises(pc.onnx.OnnxError, match=r"node 'add' \(Mul\): op 'Mul' is not supported"):
        load_proto(proto)


def test_concat_over_the_batch_axis_is_refused():
    proto = _residual_proto()
    _node(proto, "cat")["attribute"][0]["i"] = 0
    with pytest.raises(pc.onnx.OnnxError, match=r"node 'cat' \(Concat\): attribute 'axis' = 0"):
        load_proto(proto)


def test_add_of_mismatched_shapes_names_the_node():
    proto = _residual_proto()
    conv = _node(proto, "conv")
    conv["attribute"] = [a for a in conv["attribute"] if a["name"] != "pads"]  # 'valid': 2x2
    with pytest.raises(pc.onnx.OnnxError, match=r"node 'add' \(Add\): .*one shape"):
        load_proto(proto)


def test_a_node_reading_an_unwritten_value_is_refused():
    proto = _residual_proto()
    _node(proto, "add")["input"][1] = "nowhere"
    with pytest.raises(pc.onnx.OnnxError, match=r"node 'add' \(Add\): reads 'nowhere'"):
        load_proto(proto)
