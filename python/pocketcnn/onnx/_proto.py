"""A small protobuf wire-format codec for the ONNX messages pocketcnn reads and writes.

Writing ONNX needs no dependency: the handful of messages involved (ModelProto, GraphProto,
NodeProto, TensorProto, AttributeProto, ValueInfoProto and the type messages) are described by the
tables below, and the codec turns plain dicts into bytes and back. Fields not in the tables are
skipped when reading (so files from newer exporters still load).

Reading treats the bytes as untrusted: every length is checked against the bytes present before
anything is sliced, varints are at most 10 bytes, nesting is bounded by ``MAX_DEPTH`` (the tables
have no recursive path: subgraph attributes are not decoded), and the number of decoded values is
bounded by a budget, so memory stays within a small multiple of the file size. Packed numeric
arrays stay numpy arrays (no Python object per element). Errors raise ``OnnxError``.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

import numpy as np

from ._errors import OnnxError

INT, FLOAT, STRING, BYTES, MESSAGE = "int", "float", "string", "bytes", "message"
MAX_DEPTH = 16


class Field(NamedTuple):
    number: int
    name: str
    kind: str
    repeated: bool = False
    message: str | None = None  # the schema of a MESSAGE field


def _fields(*fields: tuple) -> dict[int, Field]:
    return {f[0]: Field(*f) for f in fields}


# The subset of onnx.proto (field numbers as in onnx/onnx.proto3) pocketcnn uses.
SCHEMAS: dict[str, dict[int, Field]] = {
    "ModelProto": _fields(
        (1, "ir_version", INT),
        (2, "producer_name", STRING),
        (3, "producer_version", STRING),
        (4, "domain", STRING),
        (5, "model_version", INT),
        (6, "doc_string", STRING),
        (7, "graph", MESSAGE, False, "GraphProto"),
        (8, "opset_import", MESSAGE, True, "OperatorSetIdProto"),
    ),
    "OperatorSetIdProto": _fields((1, "domain", STRING), (2, "version", INT)),
    "GraphProto": _fields(
        (1, "node", MESSAGE, True, "NodeProto"),
        (2, "name", STRING),
        (5, "initializer", MESSAGE, True, "TensorProto"),
        (10, "doc_string", STRING),
        (11, "input", MESSAGE, True, "ValueInfoProto"),
        (12, "output", MESSAGE, True, "ValueInfoProto"),
        (13, "value_info", MESSAGE, True, "ValueInfoProto"),
        (15, "sparse_initializer", BYTES, True),  # only counted: sparse tensors are refused
    ),
    "NodeProto": _fields(
        (1, "input", STRING, True),
        (2, "output", STRING, True),
        (3, "name", STRING),
        (4, "op_type", STRING),
        (5, "attribute", MESSAGE, True, "AttributeProto"),
        (6, "doc_string", STRING),
        (7, "domain", STRING),
    ),
    "AttributeProto": _fields(
        (1, "name", STRING),
        (2, "f", FLOAT),
        (3, "i", INT),
        (4, "s", BYTES),
        (5, "t", MESSAGE, False, "TensorProto"),
        (7, "floats", FLOAT, True),
        (8, "ints", INT, True),
        (9, "strings", BYTES, True),
        (20, "type", INT),
        (21, "ref_attr_name", STRING),
    ),
    "TensorProto": _fields(
        (1, "dims", INT, True),
        (2, "data_type", INT),
        (4, "float_data", FLOAT, True),
        (5, "int32_data", INT, True),
        (7, "int64_data", INT, True),
        (8, "name", STRING),
        (9, "raw_data", BYTES),
        (10, "double_data", BYTES, True),  # refused when present (see _tensors)
        (12, "doc_string", STRING),
        (13, "external_data", MESSAGE, True, "StringStringEntryProto"),
        (14, "data_location", INT),
    ),
    "StringStringEntryProto": _fields((1, "key", STRING), (2, "value", STRING)),
    "ValueInfoProto": _fields(
        (1, "name", STRING), (2, "type", MESSAGE, False, "TypeProto"), (3, "doc_string", STRING)
    ),
    "TypeProto": _fields((1, "tensor_type", MESSAGE, False, "TypeProto.Tensor")),
    "TypeProto.Tensor": _fields(
        (1, "elem_type", INT), (2, "shape", MESSAGE, False, "TensorShapeProto")
    ),
    "TensorShapeProto": _fields((1, "dim", MESSAGE, True, "TensorShapeProto.Dimension")),
    "TensorShapeProto.Dimension": _fields((1, "dim_value", INT), (2, "dim_param", STRING)),
}

# AttributeProto.type values
ATTR_FLOAT, ATTR_INT, ATTR_STRING, ATTR_TENSOR, ATTR_GRAPH = 1, 2, 3, 4, 5
ATTR_FLOATS, ATTR_INTS, ATTR_STRINGS = 6, 7, 8

# ---- encoding -------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 two's complement, 10 bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint((number << 3) | wire_type)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _encode_packed(field: Field, values) -> bytes:
    if field.kind == FLOAT:
        payload = np.asarray(values, dtype="<f4").tobytes()
    else:
        payload = b"".join(_varint(int(v)) for v in values)
    return _length_delimited(field.number, payload)


def _encode_value(field: Field, value) -> bytes:
    if field.kind == INT:
        return _key(field.number, 0) + _varint(int(value))
    if field.kind == FLOAT:
        return _key(field.number, 5) + struct.pack("<f", float(value))
    if field.kind == STRING:
        return _length_delimited(field.number, str(value).encode("utf-8"))
    if field.kind == BYTES:
        return _length_delimited(field.number, bytes(value))
    assert field.message is not None  # a MESSAGE field names its schema
    return _length_delimited(field.number, encode(value, field.message))


def encode(message: dict[str, Any], schema: str) -> bytes:
    """Serialises a dict (field name -> value, or list of values for repeated fields)."""
    fields = {f.name: f for f in SCHEMAS[schema].values()}
    unknown = set(message) - set(fields)
    if unknown:
        raise ValueError(f"{schema}: unknown fields {sorted(unknown)}")
    parts = []
    for field in SCHEMAS[schema].values():
        value = message.get(field.name)
        if value is None:
            continue
        if not field.repeated:
            parts.append(_encode_value(field, value))
        elif field.kind in (INT, FLOAT):
            if len(value):
                parts.append(_encode_packed(field, value))
        else:
            parts.extend(_encode_value(field, v) for v in value)
    return b"".join(parts)


# ---- decoding -------------------------------------------------------------------------------


class _Reader:
    """Bounds shared by one decode: a budget of decoded values."""

    def __init__(self, max_values: int):
        self.budget = max_values

    def spend(self, n: int, schema: str) -> None:
        self.budget -= n
        if self.budget < 0:
            raise OnnxError(f"{schema}: too many fields or values (limit reached); not a model")


def _read_varint(data: memoryview, pos: int, schema: str) -> tuple[int, int]:
    if pos < len(data) and data[pos] < 0x80:  # the common one-byte case
        return data[pos], pos + 1
    result = shift = 0
    for i in range(10):
        if pos + i >= len(data):
            raise OnnxError(f"{schema}: truncated varint at byte {pos}")
        byte = data[pos + i]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result >= 1 << 63:
                result -= 1 << 64
            return result, pos + i + 1
        shift += 7
    raise OnnxError(f"{schema}: varint longer than 10 bytes at byte {pos}")


def _unpack_varints(data: memoryview, schema: str, reader: _Reader) -> np.ndarray:
    values, pos = [], 0
    while pos < len(data):
        reader.spend(1, schema)
        value, pos = _read_varint(data, pos, schema)
        values.append(value)
    return np.array(values, dtype=np.int64)


def _decode_packed(field: Field, payload: memoryview, schema: str, reader: _Reader):
    if field.kind == FLOAT:
        if len(payload) % 4:
            raise OnnxError(f"{schema}.{field.name}: packed floats of {len(payload)} bytes")
        return np.frombuffer(payload, dtype="<f4")
    return _unpack_varints(payload, schema, reader)


def _skip(data: memoryview, pos: int, wire_type: int, schema: str) -> int:
    if wire_type == 0:
        return _read_varint(data, pos, schema)[1]
    if wire_type in (1, 5):
        size = 8 if wire_type == 1 else 4
    elif wire_type == 2:
        size, pos = _read_varint(data, pos, schema)
    else:
        raise OnnxError(f"{schema}: unsupported protobuf wire type {wire_type} at byte {pos}")
    if size < 0 or pos + size > len(data):
        raise OnnxError(f"{schema}: field of {size} bytes at byte {pos} runs past the end")
    return pos + size


def _decode_field(field, wire_type, data, pos, schema, reader, depth):
    """(value, new position); value is a list chunk for packed repeated fields."""
    if wire_type == 2:
        size, pos = _read_varint(data, pos, schema)
        if size < 0 or pos + size > len(data):
            raise OnnxError(
                f"{schema}.{field.name}: {size} bytes declared at byte {pos}, "
                f"{len(data) - pos} present"
            )
        payload, end = data[pos : pos + size], pos + size
        if field.repeated and field.kind in (INT, FLOAT):
            return _decode_packed(field, payload, schema, reader), end
        if field.kind == STRING:
            try:
                return bytes(payload).decode("utf-8"), end
            except UnicodeDecodeError:
                raise OnnxError(f"{schema}.{field.name}: not valid UTF-8") from None
        if field.kind == BYTES:
            return payload, end
        if field.kind == MESSAGE:
            return _decode(payload, field.message, reader, depth + 1), end
    elif wire_type == 0 and field.kind == INT:
        return _read_varint(data, pos, schema)
    elif wire_type == 5 and field.kind == FLOAT:
        if pos + 4 > len(data):
            raise OnnxError(f"{schema}.{field.name}: truncated float at byte {pos}")
        return struct.unpack_from("<f", data, pos)[0], pos + 4
    raise OnnxError(f"{schema}.{field.name}: wrong protobuf wire type {wire_type}")


def _decode(data: memoryview, schema: str, reader: _Reader, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise OnnxError(f"{schema}: messages nested deeper than {MAX_DEPTH}")
    fields = SCHEMAS[schema]
    message: dict[str, Any] = {f.name: [] for f in fields.values() if f.repeated}
    pos = 0
    while pos < len(data):
        reader.spend(1, schema)
        key, pos = _read_varint(data, pos, schema)
        number, wire_type = key >> 3, key & 7
        if number < 1:
            raise OnnxError(f"{schema}: invalid field number {number}")
        field = fields.get(number)
        if field is None:
            pos = _skip(data, pos, wire_type, schema)
            continue
        value, pos = _decode_field(field, wire_type, data, pos, schema, reader, depth)
        if not field.repeated:
            message[field.name] = value
        elif isinstance(value, np.ndarray):
            message[field.name].append(value)
        else:
            message[field.name].append(value)
    for field in fields.values():  # packed chunks and single values -> one array per field
        if field.repeated and field.kind in (INT, FLOAT):
            message[field.name] = _join_numbers(message[field.name], field.kind)
    return message


def _join_numbers(chunks: list, kind: str) -> np.ndarray:
    dtype = np.float32 if kind == FLOAT else np.int64
    if not chunks:
        return np.zeros(0, dtype)
    arrays = [np.atleast_1d(np.asarray(c, dtype=dtype)) for c in chunks]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def decode(data: bytes | memoryview, schema: str, max_values: int = 1_000_000) -> dict[str, Any]:
    """Parses ``data`` as message ``schema``; repeated numeric fields become numpy arrays,
    bytes fields memoryviews into ``data``."""
    return _decode(memoryview(data).cast("B"), schema, _Reader(max_values), 0)
