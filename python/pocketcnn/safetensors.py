"""Read and write ``.safetensors`` files (Hugging Face's tensor archive) with numpy only.

Layout: an 8-byte little-endian header length n, n bytes of JSON
``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}``,
then the tensor bytes. The file is untrusted: its size is limited (``max_bytes``), the header
is at most 100 MB and must be a JSON object, each tensor's dtype, shape and offsets must agree
with each other and with the bytes present, and tensors may not overlap; nothing is allocated
before that is checked. Errors raise ``SafetensorsError`` (a ValueError).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from . import _checks

MAX_HEADER_BYTES = 100_000_000  # the reference implementation's limit
DEFAULT_MAX_BYTES = 1 << 32
_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}  # fmt: skip
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items() if k != "BF16"}


class SafetensorsError(ValueError):
    """A .safetensors file is malformed or exceeds a limit."""


def _sizes(value) -> bool:
    return isinstance(value, list) and all(type(d) is int and d >= 0 for d in value)


def _tensor(name: str, entry, data: memoryview) -> np.ndarray:
    where = f"safetensors: tensor {name!r}"
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise SafetensorsError(f"{where}: needs exactly dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPES:
        raise SafetensorsError(f"{where}: unsupported dtype {dtype!r}")
    if not _sizes(shape) or len(shape) > 8:
        raise SafetensorsError(f"{where}: shape {shape!r} must be at most 8 sizes >= 0")
    if not _sizes(offsets) or len(offsets) != 2 or not offsets[0] <= offsets[1] <= len(data):
        raise SafetensorsError(
            f"{where}: data_offsets {offsets!r} outside the {len(data)} data bytes"
        )
    itemsize = np.dtype(_DTYPES[dtype]).itemsize
    if offsets[1] - offsets[0] != math.prod(shape) * itemsize:
        raise SafetensorsError(
            f"{where}: shape {shape} of {dtype} needs "
            f"{math.prod(shape) * itemsize} bytes, offsets give "
            f"{offsets[1] - offsets[0]}"
        )
    raw = np.frombuffer(data[offsets[0] : offsets[1]], dtype=_DTYPES[dtype]).reshape(shape)
    if dtype == "BF16":  # the high half of a float32
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(raw.dtype.newbyteorder("="))


def loads(data: bytes) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file's bytes, as numpy arrays (copies), in file order."""
    view = memoryview(data).cast("B")
    if len(view) < 8:
        raise SafetensorsError(f"safetensors: {len(view)} bytes, too short for a header")
    n = int.from_bytes(view[:8], "little")
    if n > MAX_HEADER_BYTES or 8 + n > len(view):
        raise SafetensorsError(
            f"safetensors: header of {n} bytes declared, "
            f"{len(view) - 8} bytes present (limit {MAX_HEADER_BYTES})"
        )
    try:
        header = json.loads(bytes(view[8 : 8 + n]).decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise SafetensorsError(f"safetensors: the header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError("safetensors: the header must be a JSON object")
    header.pop("__metadata__", None)
    body = view[8 + n :]
    tensors = {name: _tensor(name, entry, body) for name, entry in header.items()}
    spans = sorted(tuple(header[k]["data_offsets"]) for k in header)
    for (_, end), (begin, _) in zip(spans, spans[1:]):
        if begin < end:
            raise SafetensorsError("safetensors: tensors overlap in the data section")
    return tensors


def load_file(path, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, np.ndarray]:
    """Reads a .safetensors file (at most ``max_bytes``)."""
    max_bytes = _checks.int_at_least(max_bytes, "safetensors.load_file: max_bytes")
    with open(os.fspath(path), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise SafetensorsError(
                f"safetensors: {path!r} has {size} bytes, more than max_bytes={max_bytes}"
            )
        return loads(f.read(max_bytes + 1))


def dumps(tensors: dict, metadata: dict[str, str] | None = None) -> bytes:
    """The .safetensors bytes of ``{name: array}`` (dtypes as given; bfloat16 not written)."""
    header: dict = {"__metadata__": dict(metadata)} if metadata else {}
    chunks, offset = [], 0
    for name, value in tensors.items():
        a = np.ascontiguousarray(value)
        if a.dtype not in _NAMES:
            raise TypeError(f"safetensors: tensor {name!r} has unsupported dtype {a.dtype}")
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[str(name)] = {
            "dtype": _NAMES[a.dtype],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # aligns the data, as the reference writer does
    return len(text).to_bytes(8, "little") + text + b"".join(chunks)


def save_file(tensors: dict, path, metadata: dict[str, str] | None = None) -> None:
    """Writes ``{name: array}`` to ``path`` as .safetensors."""
    with open(os.fspath(path), "wb") as f:
        f.write(dumps(tensors, metadata))


__all__ = ["SafetensorsError", "dumps", "load_file", "loads", "save_file"]
