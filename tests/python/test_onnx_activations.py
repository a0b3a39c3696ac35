"""ONNX export of silu (Sigmoid + Mul) and gelu (Gelu from opset 20, the Erf decomposition
before): onnx's full check, onnxruntime equal to model.predict; import of Gelu, the Keras-default
LeakyRelu / Elu as fused activations and the errors for what import does not take. (The
single-op activations and the LeakyReLU / ELU layers are in onnx_helpers.zoo(), checked by
test_onnx_export.py.)"""

import numpy as np
import pytest
from onnx_helpers import assert_close, inputs, randomize

import pocketcnn as pc

L = pc.layers


def smooth_model():
    return randomize(pc.Sequential([
        L.Conv2D(4, 3, padding="same", activation="gelu", input_shape=(2, 6, 6)),
        L.Conv2D(3, 3, activation="silu"),
        L.Flatten(),
        L.Dense(6, activation="swish"),
        L.Activation("gelu"),
        L.Dense(3),
    ]), seed=5)  # fmt: skip


def _ort_predict(path, x, level):
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


@pytest.mark.parametrize("opset", [17, 20])
def test_checker_and_onnxruntime(tmp_path, opset):
    onnx = pytest.importorskip("onnx")
    model = smooth_model()
    path = tmp_path / "m.onnx"
    pc.onnx.export(model, path, opset=opset)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    assert ("Gelu" in ops) == (opset >= 20) and ("Erf" in ops) == (opset < 20)
    assert {"Sigmoid", "Mul"} <= ops
    for level in ("ORT_ENABLE_ALL", "ORT_DISABLE_ALL"):
        for batch in (1, 37):
            x = inputs(model, batch)
            assert_close(_ort_predict(path, x, level), model.predict(x))


def test_gelu_at_opset_20_loads_back(tmp_path):
    model = randomize(pc.Sequential([
        L.Conv2D(3, 3, activation="gelu", input_shape=(1, 5, 5)),
        L.Flatten(),
        L.Dense(4, activation="leaky_relu"),
        L.Activation("gelu"),
    ]))  # fmt: skip
    pc.onnx.export(model, tmp_path / "m.onnx", opset=20)
    loaded = pc.onnx.load(tmp_path / "m.onnx")
    assert [layer.activation for layer in loaded.layers] == ["gelu", None, "leaky_relu", "gelu"]
    x = inputs(model, 9)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_silu_written_as_sigmoid_times_x_loads_as_silu(tmp_path):
    model = randomize(pc.Sequential([
        L.Conv2D(2, 3, activation="silu", input_shape=(1, 5, 5)),
        L.Flatten(),
        L.Dense(3, activation="silu"),
    ]))  # fmt: skip
    pc.onnx.export(model, tmp_path / "m.onnx")
    loaded = pc.onnx.load(tmp_path / "m.onnx")
    assert isinstance(loaded, pc.Sequential)
    assert [layer.activation for layer in loaded.layers] == ["silu", None, "silu"]
    x = inputs(model, 7)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_a_product_other_than_silu_is_refused_naming_the_node(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Sigmoid", ["input"], ["s"], name="sig"),
        helper.make_node("Mul", ["s", "two"], ["output"], name="square"),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0])],
    )  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(pc.onnx.OnnxError, match=r"node 'square' \(Mul\).*x \* Sigmoid\(x\)"):
        pc.onnx.load(path)


def _single_node_model(op_type, **attributes):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node(op_type, ["input"], ["output"], **attributes)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 5])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 5])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


@pytest.mark.parametrize(
    "op_type,attributes,layer_class,value",
    [
        ("LeakyRelu", {}, "LeakyReLU", 0.01),  # ONNX's (and PyTorch's) default slope
        ("LeakyRelu", {"alpha": 0.2}, "Activation", "leaky_relu"),
        ("Elu", {"alpha": 0.5}, "ELU", 0.5),
        ("Elu", {}, "Activation", "elu"),
        ("Softplus", {}, "Activation", "softplus"),
        ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}, "Activation", "hard_sigmoid"),
        ("Gelu", {}, "Activation", "gelu"),
    ],
)
def test_import_of_each_op(op_type, attributes, layer_class, value):
    ort = pytest.importorskip("onnxruntime")
    data = _single_node_model(op_type, **attributes)
    model = pc.onnx.load(data)
    (layer,) = model.layers
    assert type(layer).__name__ == layer_class
    attribute = {"LeakyReLU": "negative_slope", "ELU": "alpha"}.get(layer_class, "activation")
    got = getattr(layer, attribute)
    assert got == (value if isinstance(value, str) else pytest.approx(value))
    x = np.random.default_rng(0).normal(0, 3, (11, 5)).astype(np.float32)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert_close(model.predict(x), session.run(["output"], {"input": x})[0])


def test_import_errors_name_the_attribute():
    with pytest.raises(pc.onnx.OnnxError, match="HardSigmoid.*alpha = 0.2.*Keras 2"):
        pc.onnx.load(_single_node_model("HardSigmoid"))
    with pytest.raises(pc.onnx.OnnxError, match="Gelu.*'approximate' = 'tanh'"):
        pc.onnx.load(_single_node_model("Gelu", approximate="tanh"))
    with pytest.raises(pc.onnx.OnnxError, match="LeakyRelu.*negative_slope"):
        pc.onnx.load(_single_node_model("LeakyRelu", alpha=-0.5))
