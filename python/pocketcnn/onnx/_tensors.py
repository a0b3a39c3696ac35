"""TensorProto <-> numpy, validated: declared sizes are checked against the bytes present before
anything is allocated, and external data is read only from inside the model's folder."""

from __future__ import annotations

import math
import os
import stat
from typing import Any

import numpy as np

from ._errors import OnnxError

# TensorProto.DataType -> numpy little-endian dtype (the numeric types pocketcnn can use).
FLOAT, INT32, INT64, FLOAT16, DOUBLE = 1, 6, 7, 10, 11
_DTYPES: dict[int, np.dtype] = {
    FLOAT: np.dtype("<f4"),
    2: np.dtype("u1"),
    3: np.dtype("i1"),
    4: np.dtype("<u2"),
    5: np.dtype("<i2"),
    INT32: np.dtype("<i4"),
    INT64: np.dtype("<i8"),
    9: np.dtype("?"),
    FLOAT16: np.dtype("<f2"),
    DOUBLE: np.dtype("<f8"),
    12: np.dtype("<u4"),
    13: np.dtype("<u8"),
}
_NP_TO_ONNX: dict[np.dtype, int] = {np.dtype("float32"): FLOAT, np.dtype("int64"): INT64}
MAX_DIMS = 8
MAX_ELEMENTS = 1 << 31


def to_proto(name: str, array: np.ndarray) -> dict[str, Any]:
    """A TensorProto dict holding ``array`` (float32 or int64) as little-endian raw_data."""
    array = np.asarray(array)
    code = _NP_TO_ONNX[array.dtype]
    return {
        "name": name,
        "dims": list(array.shape),
        "data_type": code,
        "raw_data": np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes(),
    }


def _checked_shape(proto: dict, label: str) -> tuple[tuple[int, ...], int]:
    dims = [int(d) for d in proto["dims"]]
    if len(dims) > MAX_DIMS:
        raise OnnxError(f"{label}: {len(dims)} dimensions (at most {MAX_DIMS} supported)")
    if any(d < 0 for d in dims):
        raise OnnxError(f"{label}: negative dimension in {dims}")
    count = 1
    for d in dims:
        count *= d
        if count > MAX_ELEMENTS:
            raise OnnxError(f"{label}: declared shape {dims} is too large")
    return tuple(dims), count


def to_array(proto: dict, label: str, model_dir: str | None) -> np.ndarray:
    """The tensor as a numpy array (a copy, native byte order)."""
    label = f"{label} {proto.get('name', '')!r}".rstrip()
    code = proto.get("data_type", 0)
    if code not in _DTYPES:
        raise OnnxError(f"{label}: unsupported tensor data type {code}")
    dtype = _DTYPES[code]
    shape, count = _checked_shape(proto, label)
    if proto.get("data_location", 0) == 1 or proto["external_data"]:
        raw = _external_bytes(proto, label, model_dir, count * dtype.itemsize)
    elif "raw_data" in proto:
        raw = proto["raw_data"]
    else:
        return _typed_data(proto, code, dtype, shape, count, label)
    if len(raw) != count * dtype.itemsize:
        raise OnnxError(
            f"{label}: shape {list(shape)} of {dtype.name} needs {count * dtype.itemsize} bytes, "
            f"the file holds {len(raw)}"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _typed_data(proto, code, dtype, shape, count, label) -> np.ndarray:
    if code == FLOAT:
        values = proto["float_data"]
    elif code == INT64:
        values = proto["int64_data"]
    elif code in (INT32, 2, 3, 4, 5, 9, FLOAT16):
        values = proto["int32_data"]  # these types are stored in int32_data
    else:
        raise OnnxError(f"{label}: data type {code} outside raw_data is not supported")
    if len(values) != count:
        raise OnnxError(
            f"{label}: shape {list(shape)} needs {count} values, the file holds {len(values)}"
        )
    if code == FLOAT16:
        return values.astype(np.uint16).view(np.float16).reshape(shape)
    return values.astype(dtype.newbyteorder("=")).reshape(shape)


def _external_bytes(proto: dict, label: str, model_dir: str | None, nbytes: int):
    """The bytes of an external-data tensor, from a regular file inside the model's folder."""
    info = {e.get("key", ""): e.get("value", "") for e in proto["external_data"]}
    location = info.get("location", "")
    if model_dir is None:
        raise OnnxError(f"{label}: external data {location!r} refused (loading from bytes)")
    if not location or os.path.isabs(location) or ".." in location.replace("\\", "/").split("/"):
        raise OnnxError(
            f"{label}: external data location {location!r} must be a relative path "
            "inside the model's folder"
        )
    base = os.path.realpath(model_dir)
    path = os.path.join(base, location)
    if os.path.realpath(path) != os.path.normpath(path):
        raise OnnxError(f"{label}: external data {location!r} goes through a symbolic link")
    try:
        offset = int(info.get("offset", 0))
        length = int(info.get("length", nbytes))
    except ValueError:
        raise OnnxError(f"{label}: external data offset/length are not integers") from None
    if offset < 0 or length != nbytes:
        raise OnnxError(
            f"{label}: external data needs {nbytes} bytes, offset {offset} length {length} declared"
        )
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        raise OnnxError(f"{label}: cannot open external data {location!r}: {e}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or offset + length > st.st_size:
            raise OnnxError(
                f"{label}: external data {location!r} has {st.st_size} bytes, "
                f"needs {offset + length}"
            )
        f.seek(offset)
        return f.read(length)


def numel(shape) -> int:
    return math.prod(shape)
