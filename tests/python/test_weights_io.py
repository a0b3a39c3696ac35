"""state_dict / load_state_dict (PyTorch names), .safetensors, and Keras-layout weights."""

import json

import numpy as np
import pytest
from models import lecture_model
from onnx_helpers import randomize

import pocketcnn as pc

L = pc.layers


def test_state_dict_names_and_layouts():
    model = lecture_model()
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias", "5.weight", "5.bias",
                        "6.weight", "6.bias"]  # fmt: skip
    assert sd["0.weight"].shape == (25, 1, 3, 3) and sd["5.weight"].shape == (100, 1250)
    sd["0.weight"][...] = 7  # a copy
    assert not np.any(model.get_weights()[0] == 7)


def test_state_dict_round_trip_through_safetensors(tmp_path):
    source, target = randomize(lecture_model(seed=1)), lecture_model(seed=2)
    pc.safetensors.save_file(source.state_dict(), tmp_path / "w.safetensors")
    target.load_state_dict(str(tmp_path / "w.safetensors"))
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(target.predict(x), source.predict(x))


def test_layer_names_as_prefixes():
    source, target = randomize(lecture_model(seed=1)), lecture_model(seed=2)
    by_name = {f"{layer.name}.{k.split('.')[1]}": v
               for layer in source.layers for k, v in source.state_dict().items()
               if k.split(".")[0] == str(source.layers.index(layer))}  # fmt: skip
    assert "conv2d.weight" in by_name and "dense_1.bias" in by_name
    target.load_state_dict(by_name)
    for a, b in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_strict_errors_name_the_problem():
    model = lecture_model()
    sd = model.state_dict()
    with pytest.raises(ValueError, match=r"5.weight has shape \(1250, 100\).*needs \(100, 1250\)"):
        model.load_state_dict({**sd, "5.weight": sd["5.weight"].T})
    with pytest.raises(ValueError, match="no weights given for layers"):
        model.load_state_dict({k: v for k, v in sd.items() if not k.startswith("6.")})
    with pytest.raises(ValueError, match=r"no layer with weights for \['1'\]"):
        model.load_state_dict({**sd, "1.weight": np.zeros(1)})
    before = model.get_weights()
    model.load_state_dict({"0.weight": np.ones((25, 1, 3, 3))}, strict=False)
    after = model.get_weights()
    assert np.all(after[0] == 1) and all(
        np.array_equal(a, b) for a, b in zip(after[1:], before[1:])
    )


def test_torch_state_dict_loads_by_order():
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 25, 3), nn.MaxPool2d(2), nn.Conv2d(25, 50, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1250, 100), nn.ReLU(), nn.Linear(100, 10), nn.Softmax(dim=1),
    ).eval()  # fmt: skip
    model = lecture_model()
    with pytest.raises(ValueError, match="match='order'"):  # torch counts its ReLU modules too
        model.load_state_dict(net.state_dict())
    model.load_state_dict(net.state_dict(), match="order")  # torch tensors accepted as they are
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)


# ---- safetensors ---------------------------------------------------------------------------


def test_safetensors_dtypes_and_metadata():
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -2], np.int64),
               "c": np.zeros((0, 4), np.float16)}  # fmt: skip
    data = pc.safetensors.dumps(tensors, metadata={"format": "pt"})
    out = pc.safetensors.loads(data)
    assert list(out) == ["a", "b", "c"]
    for k in tensors:
        assert out[k].dtype == tensors[k].dtype
        np.testing.assert_array_equal(out[k], tensors[k])


def test_safetensors_bfloat16():
    values = np.array([1.5, -2.0, 3.140625], np.float32)
    raw = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = json.dumps({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    out = pc.safetensors.loads(len(header).to_bytes(8, "little") + header + raw)
    np.testing.assert_array_equal(out["x"], values)


def test_safetensors_matches_the_reference_implementation(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    tensors = {"w": np.random.default_rng(0).random((3, 4), dtype=np.float32),
               "i": np.arange(5, dtype=np.int32)}  # fmt: skip
    st.save_file(tensors, str(tmp_path / "ref.safetensors"))
    ours = pc.safetensors.load_file(tmp_path / "ref.safetensors")
    pc.safetensors.save_file(tensors, tmp_path / "ours.safetensors")
    theirs = st.load_file(str(tmp_path / "ours.safetensors"))
    for k in tensors:
        np.testing.assert_array_equal(ours[k], tensors[k])
        np.testing.assert_array_equal(theirs[k], tensors[k])


def with_header(header, body=b""):
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return len(text).to_bytes(8, "little") + text + body


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x01\x02", "too short"),
        ((1 << 62).to_bytes(8, "little") + b"{}", "header of"),
        (with_header(b"{not json"), "not valid JSON"),
        (with_header(b"[" * 100_000 + b"]" * 100_000), "JSON"),
        (with_header([1, 2]), "JSON object"),
        (with_header({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}), "outside"),
        (with_header({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
         "needs 12 bytes"),
        (with_header({"x": {"dtype": "F32", "shape": [1 << 60, 1 << 60],
                            "data_offsets": [0, 8]}}, b"\0" * 8), "needs"),
        (with_header({"x": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8),
         "shape"),
        (with_header({"x": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
         "unsupported dtype"),
        (with_header({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                      "y": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
         "overlap"),
    ],
)  # fmt: skip
def test_safetensors_refuses_bad_files(data, message):
    with pytest.raises(pc.safetensors.SafetensorsError, match=message):
        pc.safetensors.loads(data)


# ---- Keras layouts -------------------------------------------------------------------------


def keras_conv(x, kernel, bias, padding="valid"):
    """Keras Conv2D on NHWC input with an HWIO kernel, stride 1."""
    r, s = kernel.shape[:2]
    if padding == "same":
        x = np.pad(x, ((0, 0), ((r - 1) // 2, r // 2), ((s - 1) // 2, s // 2), (0, 0)))
    n, h, w, _ = x.shape
    out = np.zeros((n, h - r + 1, w - s + 1, kernel.shape[3]))
    for i in range(r):
        for j in range(s):
            out += x[:, i : i + out.shape[1], j : j + out.shape[2], :] @ kernel[i, j]
    return out + bias


def keras_max_pool(x):
    n, h, w, c = x.shape
    return x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def keras_forward(x_nhwc, ws):
    """The Keras formula of the model below, in numpy float64 on NHWC images."""
    y = np.maximum(keras_conv(x_nhwc, ws[0], ws[1]), 0)
    y = keras_max_pool(y)
    y = keras_conv(y, ws[2], ws[3], padding="same")
    y = y.reshape(len(y), -1)  # Keras flattens (h, w, c)
    y = np.maximum(y @ ws[4] + ws[5], 0)
    return softmax(y @ ws[6] + ws[7])


def keras_weights(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 3, 2, 4), (4,), (3, 3, 4, 3), (3,), (27, 5), (5,), (5, 3), (3,)]
    return [rng.normal(0, 0.5, s).astype(np.float32) for s in shapes]


def pocketcnn_twin():
    return pc.Sequential([
        L.Conv2D(4, 3, activation="relu", input_shape=(2, 8, 8)), L.MaxPool2D(2),
        L.Conv2D(3, 3, padding="same"), L.Flatten(), L.Dropout(0.3),
        L.Dense(5, activation="relu"), L.Dense(3, activation="softmax"),
    ])  # fmt: skip


@pytest.mark.parametrize("how", ["set_weights", "helper"])
def test_keras_weights_give_keras_predictions(how):
    ws = keras_weights()
    x_nhwc = np.random.default_rng(1).normal(size=(6, 8, 8, 2)).astype(np.float32)
    model = pocketcnn_twin()
    if how == "set_weights":
        model.set_weights(ws, layout="keras")
    else:
        pc.load_keras_weights(model, ws)
    got = model.predict(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(got, keras_forward(x_nhwc.astype(np.float64), ws), rtol=1e-5,
                               atol=1e-6)  # fmt: skip


def test_without_the_flatten_permutation_predictions_are_wrong():
    # The classic bug: transposing the kernels but keeping Keras' (h, w, c) row order.
    ws = keras_weights()
    x_nhwc = np.random.default_rng(1).normal(size=(6, 8, 8, 2)).astype(np.float32)
    naive = pocketcnn_twin()
    naive.set_weights([ws[0].transpose(3, 2, 0, 1), ws[1], ws[2].transpose(3, 2, 0, 1), ws[3],
                       ws[4].T, ws[5], ws[6].T, ws[7]])  # fmt: skip
    got = naive.predict(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)))
    assert np.abs(got - keras_forward(x_nhwc.astype(np.float64), ws)).max() > 1e-2


def test_keras_shapes_are_checked():
    ws = keras_weights()
    model = pocketcnn_twin()
    with pytest.raises(ValueError, match=r"Keras kernel of shape \(3, 3, 2, 4\) \(HWIO\)"):
        model.set_weights([ws[0].transpose(3, 2, 0, 1), *ws[1:]], layout="keras")
    with pytest.raises(ValueError, match=r"Keras kernel of shape \(27, 5\) \(in, out\)"):
        model.set_weights([*ws[:4], ws[4].T, *ws[5:]], layout="keras")
    with pytest.raises(ValueError, match="layout must be"):
        model.set_weights(ws, layout="tf")


def test_readme_interop_example_runs(tmp_path, monkeypatch):
    import pathlib
    import re

    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    if not readme.is_file():
        pytest.skip("README.md is not beside the tests")
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    block = next(b for b in blocks if "pc.onnx.load" in b)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, str(readme), "exec"), namespace)
    assert set(namespace["weights"]) == {"0.weight", "0.bias", "3.weight", "3.bias"}
    assert (tmp_path / "model.onnx").is_file()
