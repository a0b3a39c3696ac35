"""Malformed ONNX files: pc.onnx.load raises OnnxError (a ValueError) and nothing else, quickly
and within bounded memory. Seeded, so a failure reproduces."""

import pathlib
import time
import tracemalloc

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn.onnx import _proto
from pocketcnn.onnx._export import model_proto

L = pc.layers
FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "onnx"
MEMORY_LIMIT = 64 << 20  # bytes Python/numpy may allocate while reading one small bad file


def small_model_bytes():
    model = pc.Sequential([
        L.Conv2D(3, 3, padding="same", activation="relu", input_shape=(2, 6, 6)),
        L.AvgPool2D(2, count_include_pad=False), L.Flatten(), L.Dropout(0.1),
        L.Dense(4, activation="softmax"),
    ])  # fmt: skip
    return _proto.encode(model_proto(model), "ModelProto")


def torch_file_bytes():
    """A file torch.onnx.export wrote (value_info, doc strings, names as torch writes them)."""
    return (FIXTURES / "residual.onnx").read_bytes()


SOURCES = {"pocketcnn": small_model_bytes, "torch": torch_file_bytes}


def load_or_error(data: bytes):
    """Loads ``data``; only OnnxError may escape. Returns the model or None; checks bounds."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        model = pc.onnx.load(data)
    except pc.onnx.OnnxError as e:
        assert str(e)  # a message, not a bare exception
        model = None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"{peak} bytes allocated"
    assert time.perf_counter() - start < 5.0
    return model


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_truncated_files(source):
    data = SOURCES[source]()
    failures = sum(load_or_error(data[:cut]) is None for cut in range(0, len(data), 7))
    assert failures == len(range(0, len(data), 7))  # no prefix of the file is a whole model


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_bit_flips(source):
    data = SOURCES[source]()
    rng = np.random.default_rng(0)
    loaded = 0
    for _ in range(250):
        flipped = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            flipped[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        model = load_or_error(bytes(flipped))
        if model is not None:  # a flip inside a weight's bytes still gives a valid model
            loaded += 1
            x = np.zeros((2, *model.input_shape[1:]), np.float32)
            assert model.predict(x).shape[0] == 2
    assert loaded < 250


def tensor(dims, raw=b"", data_type=1):
    return {"name": "t", "dims": dims, "data_type": data_type, "raw_data": raw}


def with_initializer(t):
    proto = model_proto(pc.Sequential([L.Dense(2, input_shape=(3,))]))
    proto["graph"]["initializer"][0] = dict(t, name=proto["graph"]["initializer"][0]["name"])
    return _proto.encode(proto, "ModelProto")


@pytest.mark.parametrize("dims", [[1 << 40, 1 << 40], [40000, 40000], [-1, 3], [1] * 40, [2, 3]])
def test_absurd_dims_are_checked_before_allocation(dims):
    with pytest.raises(pc.onnx.OnnxError, match="large|needs|negative|dimensions"):
        load_or_error_strict(with_initializer(tensor(dims, b"\0" * 8)))


def load_or_error_strict(data):
    assert load_or_error(data) is None
    pc.onnx.load(data)  # raises the OnnxError for pytest.raises


def varint(value):
    return _proto._varint(value)


def test_huge_declared_lengths():
    # ModelProto.graph (field 7) declaring 2**60 bytes, then a few
    bogus = varint((7 << 3) | 2) + varint(1 << 60) + b"\0" * 16
    with pytest.raises(pc.onnx.OnnxError, match="declared"):
        load_or_error_strict(bogus)
    # a varint that never ends
    with pytest.raises(pc.onnx.OnnxError, match="varint"):
        load_or_error_strict(varint(8) + b"\xff" * 64)
    # raw_data claiming more bytes than exist inside a valid envelope
    with pytest.raises(pc.onnx.OnnxError, match="needs 24 bytes"):
        load_or_error_strict(with_initializer(tensor([2, 3], b"\0" * 4)))


def nested(depth, field_number, inner=b""):
    """``depth`` length-delimited fields ``field_number``, each holding the next."""
    key, headers, size = varint((field_number << 3) | 2), [], len(inner)
    for _ in range(depth):
        header = key + varint(size)
        headers.append(header)
        size += len(header)
    return b"".join(reversed(headers)) + inner


@pytest.mark.parametrize("field_number", [7, 6, 1])
def test_deep_nesting(field_number):
    # 100000 levels: graph-in-graph (skipped: unknown in GraphProto), subgraph attributes
    # (AttributeProto.g is never decoded), or field 1 everywhere.
    data = nested(100_000, field_number)
    with pytest.raises(pc.onnx.OnnxError):
        load_or_error_strict(data)


def test_deep_subgraph_attribute_is_refused():
    proto = model_proto(pc.Sequential([L.Dense(2, input_shape=(3,))]))
    attribute = _proto.encode({"name": "body", "type": _proto.ATTR_GRAPH}, "AttributeProto")
    attribute += nested(50_000, 6)  # field 6, AttributeProto.g, nested in itself
    node = _proto.encode(proto["graph"]["node"][0], "NodeProto") + (
        varint((5 << 3) | 2) + varint(len(attribute)) + attribute
    )
    proto["graph"]["node"] = []
    graph = _proto.encode(proto["graph"], "GraphProto") + varint((1 << 3) | 2)
    graph += varint(len(node)) + node
    del proto["graph"]
    data = _proto.encode(proto, "ModelProto") + varint((7 << 3) | 2) + varint(len(graph)) + graph
    with pytest.raises(pc.onnx.OnnxError, match="attribute 'body' is not supported"):
        load_or_error_strict(data)


def test_many_tiny_fields_hit_the_value_budget():
    # 1.2 million two-byte fields of an unknown varint: over the decoder's budget of 1 million
    data = (varint((9 << 3) | 0) + b"\x00") * 1_200_000
    with pytest.raises(pc.onnx.OnnxError, match="too many"):
        pc.onnx.load(data)


def test_random_bytes():
    rng = np.random.default_rng(1)
    for size in [1, 2, 5, 17, 100, 1000, 10000]:
        for _ in range(20):
            load_or_error(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
