"""pc.onnx.export: onnx's checker accepts the files and onnxruntime computes model.predict."""

import numpy as np
import pytest
from onnx_helpers import assert_close, inputs, zoo

import pocketcnn as pc

ZOO = zoo()


@pytest.fixture(scope="module", params=sorted(ZOO))
def exported(request, tmp_path_factory):
    model = ZOO[request.param]
    path = tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx"
    pc.onnx.export(model, path, opset=17)
    return model, path


def test_every_layer_type_is_in_the_zoo():
    used = {type(layer).__name__ for m in ZOO.values() for layer in m.layers}
    assert used >= {"Conv2D", "MaxPool2D", "AvgPool2D", "Flatten", "Dense", "Activation", "ReLU",
                    "Softmax", "Dropout"}  # fmt: skip
    assert used <= set(pc.onnx.EXPORTERS) | {"ReLU", "Softmax"}  # subclasses of Activation


def _layer_classes(cls=pc.layers.Layer):
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("pocketcnn.") and not sub.__name__.startswith("_"):
            yield sub
        yield from _layer_classes(sub)


def test_every_pocketcnn_layer_class_has_an_exporter():
    # A new layer needs one entry in pc.onnx.EXPORTERS (and a model in the zoo above).
    missing = [cls.__name__ for cls in _layer_classes()
               if not any(c.__name__ in pc.onnx.EXPORTERS for c in cls.__mro__)]  # fmt: skip
    assert not missing, f"layers without an ONNX exporter: {missing}"
    zoo_types = {type(layer) for m in ZOO.values() for layer in m.layers}
    # Add / Concatenate (several inputs) are in the zoo's functional model.
    assert set(_layer_classes()) <= zoo_types, "add the new layer to onnx_helpers.zoo()"


def test_checker_full_check(exported):
    onnx = pytest.importorskip("onnx")
    model, path = exported
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    graph = proto.graph
    assert [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim][:1] == ["batch"]
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim][1:]
    assert tuple(dims) == model.input_shape[1:]
    assert "Dropout" not in {n.op_type for n in graph.node}
    assert proto.opset_import[0].version == 17


@pytest.mark.parametrize("level", ["ORT_ENABLE_ALL", "ORT_DISABLE_ALL"])
@pytest.mark.parametrize("batch", [1, 37])
def test_onnxruntime_equals_predict(exported, level, batch):
    ort = pytest.importorskip("onnxruntime")
    model, path = exported
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = inputs(model, batch)
    (y,) = session.run(["output"], {"input": x})
    assert y.shape == (batch, *model.output_shape[1:])
    assert_close(y, model.predict(x, batch_size=64))


def test_export_then_load_predicts_the_same(exported):
    model, path = exported
    loaded = pc.onnx.load(path)
    x = inputs(model, 37)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    if any(isinstance(layer, pc.layers.BatchNormalization) for layer in model.layers):
        # a batch norm right after a conv/dense is folded into it on import
        assert loaded.count_params() < model.count_params()
    else:
        assert loaded.count_params() == model.count_params()


@pytest.mark.parametrize("opset", [13, 21])
def test_other_opsets(tmp_path, opset):
    onnx = pytest.importorskip("onnx")
    model = ZOO["lecture"]
    pc.onnx.export(model, tmp_path / "m.onnx", opset=opset)
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)


def test_model_export_keras_spelling(tmp_path):
    model = ZOO["dense_only"]
    model.export(tmp_path / "m.onnx", format="onnx")
    assert (tmp_path / "m.onnx").read_bytes() == _bytes_of(model, tmp_path / "n.onnx")
    with pytest.raises(ValueError, match="format must be 'onnx'"):
        model.export(tmp_path / "m.tflite", format="tflite")


def _bytes_of(model, path):
    pc.onnx.export(model, path)
    return path.read_bytes()


def test_export_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="opset must be one of"):
        pc.onnx.export(ZOO["lecture"], tmp_path / "m.onnx", opset=7)
    unbuilt = pc.Sequential([pc.layers.Dense(3)])
    with pytest.raises(ValueError, match="must be built"):
        pc.onnx.export(unbuilt, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_unknown_layer_is_named(tmp_path):
    class Custom(pc.layers.Layer):
        pass

    model = pc.Sequential([pc.layers.Dense(3, input_shape=(4,)), Custom(name="mine")])
    with pytest.raises(pc.onnx.OnnxError, match=r"'mine' \(Custom\) has no ONNX exporter"):
        pc.onnx.export(model, tmp_path / "m.onnx")
