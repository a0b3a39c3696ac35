"""pc.onnx.load: torch.onnx.export fixtures and clear errors for what pocketcnn cannot load.

The fixtures were written by fixtures/onnx/make_fixtures.py (torch 2.13: the TorchScript
exporter at opset 17, and torch.export for lenet5_dynamo); CI needs no torch. Hand-made graphs
below are written with pocketcnn's own encoder (``_proto.encode``), so these tests need no onnx
package either.
"""

import os

import numpy as np
import pytest
from onnx_helpers import assert_close

import pocketcnn as pc
from pocketcnn.onnx import _proto
from pocketcnn.onnx._export import model_proto
from pocketcnn.onnx._tensors import to_proto

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "onnx")


def fixture(name):
    data = np.load(os.path.join(FIXTURES, f"{name}.npz"))
    return os.path.join(FIXTURES, f"{name}.onnx"), data["x"], data["y"]


@pytest.mark.parametrize("name", ["lecture", "lenet5", "lenet5_dynamo"])
def test_torch_fixture_predicts_stored_outputs(name):
    # lenet5_dynamo (torch.export, opset 20) keeps its weights in lenet5_dynamo.onnx.data:
    # external data inside the model's folder.
    path, x, y = fixture(name)
    model = pc.onnx.load(path)
    assert_close(model.predict(x), y)
    assert_close(model.predict(x[:1]), y[:1])  # batch 1 takes the compiled plan's fast path


def test_lecture_fixture_has_the_lecture_structure():
    model = pc.onnx.load(fixture("lecture")[0])
    kinds = [(layer.type_name, layer.activation) for layer in model.layers]
    assert kinds == [
        ("Conv2D", None), ("MaxPool2D", None), ("Conv2D", "relu"), ("MaxPool2D", None),
        ("Flatten", None), ("Dense", "relu"), ("Dense", "softmax"),
    ]  # fmt: skip
    assert model.count_params() == 250 + 11_300 + 125_100 + 1_010


def test_lenet5_uses_average_pooling_and_tanh():
    model = pc.onnx.load(fixture("lenet5")[0])
    assert [layer.type_name for layer in model.layers].count("AvgPool2D") == 2
    assert model.layers[0].padding == (2, 2) and model.layers[0].activation == "tanh"


def test_load_from_bytes():
    path, x, y = fixture("lenet5")
    with open(path, "rb") as f:
        assert_close(pc.onnx.load(f.read()).predict(x), y)


# ---- hand-made graphs ------------------------------------------------------------------------


def small_proto():
    model = pc.Sequential([pc.layers.Conv2D(2, 3, input_shape=(1, 6, 6)), pc.layers.Flatten(),
                           pc.layers.Dense(3)])  # fmt: skip
    return model, model_proto(model)


def load_proto(proto):
    return pc.onnx.load(_proto.encode(proto, "ModelProto"))


def attr(name, **value):
    return {"name": name, **value}


def test_unsupported_op_names_node_and_op():
    _, proto = small_proto()
    proto["graph"]["node"][1]["op_type"] = "LpNormalization"
    with pytest.raises(
        pc.onnx.OnnxError,
        match=r"node 'flatten' \(LpNormalization\).*not "
        "supported",
    ):
        load_proto(proto)


def test_unsupported_attribute_names_node_op_and_attribute():
    _, proto = small_proto()
    conv = proto["graph"]["node"][0]
    conv["attribute"] = [a for a in conv["attribute"] if a["name"] != "group"]
    conv["attribute"].append(attr("group", type=_proto.ATTR_INT, i=2))
    with pytest.raises(pc.onnx.OnnxError, match=r"node 'conv2d' \(Conv\): attribute 'group'"):
        load_proto(proto)
    conv["attribute"][-1] = attr("fancy", type=_proto.ATTR_INT, i=1)
    with pytest.raises(pc.onnx.OnnxError, match=r"\(Conv\): attribute 'fancy' is not supported"):
        load_proto(proto)


def test_matmul_add_and_reshape_load_as_dense():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(32, 4)).astype(np.float32)  # 2 channels x 4 x 4 features in
    b = rng.normal(size=(4,)).astype(np.float32)
    model, proto = small_proto()
    graph = proto["graph"]
    conv_out = graph["node"][0]["output"][0]
    graph["initializer"] = graph["initializer"][:2] + [
        to_proto("shape", np.array([0, -1], np.int64)),
        to_proto("w", w),
        to_proto("b", b),
    ]
    graph["node"] = graph["node"][:1] + [
        {"op_type": "Reshape", "name": "r", "input": [conv_out, "shape"], "output": ["f"]},
        {"op_type": "MatMul", "name": "mm", "input": ["f", "w"], "output": ["m"]},
        {"op_type": "Add", "name": "add", "input": ["m", "b"], "output": ["a"]},
        {"op_type": "Relu", "name": "relu", "input": ["a"], "output": ["output"]},
    ]  # fmt: skip
    graph["output"][0]["type"]["tensor_type"]["shape"]["dim"][1]["dim_value"] = 4
    loaded = load_proto(proto)
    x = np.random.default_rng(1).normal(size=(3, 1, 6, 6)).astype(np.float32)
    conv = model.layers[0](pc.Tensor(x)).numpy().reshape(3, -1)
    expected = np.maximum(conv @ w + b, 0)
    assert_close(loaded.predict(x), expected)
    assert [layer.type_name for layer in loaded.layers] == ["Conv2D", "Flatten", "Dense"]


def test_gemm_alpha_beta_and_constant_node():
    rng = np.random.default_rng(2)
    b_mat = rng.normal(size=(5, 3)).astype(np.float32)
    c = rng.normal(size=(1, 3)).astype(np.float32)
    proto = model_proto(pc.Sequential([pc.layers.Dense(3, input_shape=(5,))]))
    graph = proto["graph"]
    graph["initializer"] = [to_proto("B", b_mat)]
    graph["node"] = [
        {"op_type": "Constant", "name": "c", "input": [], "output": ["C"],
         "attribute": [attr("value", type=_proto.ATTR_TENSOR, t=to_proto("", c))]},
        {"op_type": "Gemm", "name": "gemm", "input": ["input", "B", "C"], "output": ["output"],
         "attribute": [attr("alpha", type=_proto.ATTR_FLOAT, f=0.5),
                       attr("beta", type=_proto.ATTR_FLOAT, f=2.0)]},
    ]  # fmt: skip
    x = rng.normal(size=(4, 5)).astype(np.float32)
    assert_close(load_proto(proto).predict(x), 0.5 * x @ b_mat + 2.0 * c)


def test_asymmetric_pads_other_than_same_are_refused():
    _, proto = small_proto()
    conv = proto["graph"]["node"][0]
    for a in conv["attribute"]:
        if a["name"] == "pads":
            a["ints"] = [0, 0, 1, 0]
    with pytest.raises(pc.onnx.OnnxError, match=r"\(Conv\): attribute 'pads' \[0, 0, 1, 0\]"):
        load_proto(proto)


def test_two_inputs_and_missing_graph_are_refused():
    _, proto = small_proto()
    proto["graph"]["input"].append(dict(proto["graph"]["input"][0], name="second"))
    with pytest.raises(pc.onnx.OnnxError, match="2 inputs"):
        load_proto(proto)
    with pytest.raises(pc.onnx.OnnxError, match="no graph"):
        pc.onnx.load(b"")


def with_external(proto, location, tmp_path, offset=0):
    """The conv kernel moved to external data at ``location``."""
    kernel = proto["graph"]["initializer"][0]
    raw = kernel.pop("raw_data")
    kernel["data_location"] = 1
    kernel["external_data"] = [{"key": "location", "value": location},
                               {"key": "offset", "value": str(offset)}]  # fmt: skip
    path = tmp_path / "model" / "m.onnx"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(_proto.encode(proto, "ModelProto"))
    return path, raw


def test_external_data_inside_the_folder_loads(tmp_path):
    model, proto = small_proto()
    path, raw = with_external(proto, "weights.bin", tmp_path, offset=8)
    (path.parent / "weights.bin").write_bytes(b"\0" * 8 + raw)
    loaded = pc.onnx.load(path)
    np.testing.assert_array_equal(loaded.layers[0].get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "link.bin", "sub/../x"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    _, proto = small_proto()
    path, raw = with_external(proto, location, tmp_path)
    (tmp_path / "outside.bin").write_bytes(raw)
    os.symlink(tmp_path / "outside.bin", path.parent / "link.bin")
    with pytest.raises(pc.onnx.OnnxError, match="external data"):
        pc.onnx.load(path)
    with pytest.raises(pc.onnx.OnnxError, match="refused"):
        pc.onnx.load(path.read_bytes())  # from bytes there is no folder to read from


def test_external_data_of_the_wrong_size_is_refused(tmp_path):
    _, proto = small_proto()
    path, raw = with_external(proto, "w.bin", tmp_path)
    (path.parent / "w.bin").write_bytes(raw[:-4])
    with pytest.raises(pc.onnx.OnnxError, match="has 68 bytes, needs 72"):
        pc.onnx.load(path)


def test_file_size_limit(tmp_path):
    path, _, _ = fixture("lenet5")
    with pytest.raises(pc.onnx.OnnxError, match="max_bytes=1000"):
        pc.onnx.load(path, max_bytes=1000)


@pytest.mark.parametrize("use_bias", [True, False])
def test_batch_norm_after_conv_is_folded_into_it(use_bias):
    rng = np.random.default_rng(3)
    model = pc.Sequential([pc.layers.Conv2D(3, 3, use_bias=use_bias, input_shape=(2, 5, 5))])
    model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])
    proto = model_proto(model)
    graph = proto["graph"]
    stats = {"scale": rng.uniform(0.5, 2, 3), "beta": rng.normal(size=3),
             "mean": rng.normal(size=3), "var": rng.uniform(0.1, 2, 3)}  # fmt: skip
    graph["initializer"] += [to_proto(k, v.astype(np.float32)) for k, v in stats.items()]
    graph["node"][0]["output"] = ["conv"]
    graph["node"].append({
        "op_type": "BatchNormalization", "name": "bn", "input": ["conv", *stats],
        "output": ["output"], "attribute": [attr("epsilon", type=_proto.ATTR_FLOAT, f=1e-3)],
    })  # fmt: skip
    x = rng.normal(size=(4, 2, 5, 5)).astype(np.float32)
    conv = model.predict(x)
    s = {k: v.reshape(1, 3, 1, 1) for k, v in stats.items()}
    expected = (conv - s["mean"]) / np.sqrt(s["var"] + 1e-3) * s["scale"] + s["beta"]
    loaded = load_proto(proto)
    assert len(loaded.layers) == 1 and loaded.layers[0].use_bias
    assert_close(loaded.predict(x), expected)


def test_batch_norm_not_after_a_conv_becomes_a_batchnormalization_layer():
    _, proto = small_proto()
    graph = proto["graph"]
    graph["initializer"] += [to_proto(k, np.full(2, v, np.float32)) for k, v in
                             zip("sbmv", (2.0, 0.5, 0.25, 4.0))]  # fmt: skip
    flatten = graph["node"][1]
    graph["node"].insert(1, {"op_type": "Relu", "name": "relu", "input": flatten["input"],
                             "output": ["r"]})  # fmt: skip
    graph["node"].insert(2, {"op_type": "BatchNormalization", "name": "bn",
                             "input": ["r", *"sbmv"], "output": ["n"]})  # fmt: skip
    flatten["input"] = ["n"]
    loaded = load_proto(proto)
    bn = [layer for layer in loaded.layers if isinstance(layer, pc.layers.BatchNormalization)]
    assert len(bn) == 1
    gamma, beta, mean, var = bn[0].get_weights()
    np.testing.assert_array_equal(np.stack([gamma, beta, mean, var])[:, 0], [2.0, 0.5, 0.25, 4.0])
    assert bn[0].epsilon == pytest.approx(1e-5)


@pytest.mark.parametrize(
    "target, ok",
    [([0, -1], True), ([-1, 32], True), ([1, -1], True), ([0, 32], True), ([-1, 2, 4, 4], True),
     ([0, -1, 4, 4], True), ([0, 0, 0, 0], True), ([-1, 16], False), ([0, 2, 15], False),
     ([32], False), ([0, -1, -1], False), ([2, -1], False)],
)  # fmt: skip
def test_reshape_targets(target, ok):
    model, proto = small_proto()  # conv output (2, 4, 4) = 32 features, then Flatten, Dense
    graph = proto["graph"]
    graph["initializer"].append(to_proto("shape", np.array(target, np.int64)))
    graph["node"][1] = {"op_type": "Reshape", "name": "r", "output": graph["node"][1]["output"],
                        "input": [*graph["node"][1]["input"], "shape"]}  # fmt: skip
    if ok and len(target) == 4:  # the identity, then a Flatten for the Dense
        graph["node"][1]["output"] = ["same"]
        graph["node"].insert(2, {"op_type": "Flatten", "name": "f", "input": ["same"],
                                 "output": graph["node"][2]["input"][:1]})  # fmt: skip
    if not ok:
        with pytest.raises(pc.onnx.OnnxError, match=r"node 'r' \(Reshape\)"):
            load_proto(proto)
        return
    x = np.random.default_rng(0).normal(size=(3, 1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(load_proto(proto).predict(x), model.predict(x))


def test_loaded_model_trains_and_saves(tmp_path):
    path, x, _ = fixture("lenet5")
    model = pc.onnx.load(path)
    before = model.get_weights()
    model.compile(pc.optim.SGD(0.1), "cross_entropy")
    loss = model.train_on_batch(x, np.arange(len(x)) % 10)["loss"]
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.save(tmp_path / "lenet5.pcnn")
    np.testing.assert_array_equal(pc.load_model(tmp_path / "lenet5.pcnn").predict(x),
                                  model.predict(x))  # fmt: skip


def chain_proto(nodes, initializers, input_shape, output_shape):
    """A graph ``input -> nodes[0] -> ... -> output`` (each node one op dict)."""
    proto = model_proto(pc.Sequential([pc.layers.Flatten(input_shape=input_shape)]))
    graph = proto["graph"]
    graph["initializer"] = [to_proto(k, v) for k, v in initializers.items()]
    graph["node"], previous = [], "input"
    for i, node in enumerate(nodes):
        output = "output" if i == len(nodes) - 1 else f"v{i}"
        graph["node"].append({"name": f"n{i}", **node, "input": [previous, *node.get("input", [])],
                              "output": [output, *node.get("extra_outputs", [])]})  # fmt: skip
        graph["node"][-1].pop("extra_outputs", None)
        previous = output
    dims = graph["output"][0]["type"]["tensor_type"]["shape"]["dim"]
    dims[1:] = [{"dim_value": d} for d in output_shape]
    return proto


def test_global_pools_identity_and_dropout():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 6)).astype(np.float32)
    proto = chain_proto(
        [{"op_type": "Identity"}, {"op_type": "GlobalAveragePool"},
         {"op_type": "Dropout", "extra_outputs": [""]}, {"op_type": "Flatten"},
         {"op_type": "Gemm", "input": ["w"], "attribute": [attr("transB", type=2, i=1)]},
         {"op_type": "Softmax", "attribute": [attr("axis", type=2, i=1)]}],
        {"w": w}, (6, 5, 7), (4,))  # fmt: skip
    x = rng.normal(size=(3, 6, 5, 7)).astype(np.float32)
    logits = x.mean(axis=(2, 3)) @ w.T
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert_close(load_proto(proto).predict(x), expected)
    proto["graph"]["node"][1]["op_type"] = "GlobalMaxPool"
    logits = x.max(axis=(2, 3)) @ w.T
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert_close(load_proto(proto).predict(x), expected)


@pytest.mark.parametrize("size, ok", [(7, True), (6, False)])
def test_ceil_mode_only_where_it_changes_nothing(size, ok):
    ints = _proto.ATTR_INTS
    pool = {"op_type": "MaxPool", "attribute": [attr("kernel_shape", type=ints, ints=[3, 3]),
            attr("strides", type=ints, ints=[2, 2]), attr("ceil_mode", type=2, i=1)]}  # fmt: skip
    out = (size - 3 + 1) // 2 + 1
    proto = chain_proto([pool], {}, (1, size, size), (1, out, out))
    if not ok:
        with pytest.raises(pc.onnx.OnnxError, match=r"\(MaxPool\): attribute 'ceil_mode'"):
            load_proto(proto)
        return
    x = np.random.default_rng(0).normal(size=(2, 1, size, size)).astype(np.float32)
    expected = np.asarray(pc.ops.max_pool2d(pc.Tensor(x), 3, 2))
    np.testing.assert_array_equal(load_proto(proto).predict(x), expected)


def test_softmax_over_another_axis_is_refused():
    proto = chain_proto([{"op_type": "Softmax"}], {}, (2, 3, 3), (2, 3, 3))  # default axis -1
    with pytest.raises(pc.onnx.OnnxError, match=r"\(Softmax\): attribute 'axis'.*axis 3"):
        load_proto(proto)


def test_custom_domain_is_refused():
    proto = chain_proto([{"op_type": "Relu", "domain": "com.example"}], {}, (4,), (4,))
    with pytest.raises(pc.onnx.OnnxError, match="domain 'com.example'"):
        load_proto(proto)


@pytest.mark.parametrize("form", ["value", "value_ints"])
def test_constant_node_forms(form):
    if form == "value":
        a = attr("value", type=_proto.ATTR_TENSOR, t=to_proto("", np.array([0, -1], np.int64)))
    else:
        a = attr("value_ints", type=_proto.ATTR_INTS, ints=[0, -1])
    proto = chain_proto([{"op_type": "Reshape", "input": ["shape"]}], {}, (2, 3, 3), (18,))
    graph = proto["graph"]
    graph["node"].insert(0, {"op_type": "Constant", "name": "c", "input": [],
                             "output": ["shape"], "attribute": [a]})  # fmt: skip
    x = np.random.default_rng(0).normal(size=(2, 2, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(load_proto(proto).predict(x), x.reshape(2, -1))
    graph["node"][0]["attribute"].append(attr("value_float", type=_proto.ATTR_FLOAT, f=1.0))
    with pytest.raises(pc.onnx.OnnxError, match=r"'c' \(Constant\): needs exactly one of"):
        load_proto(proto)
