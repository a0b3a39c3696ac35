"""A minimal PNG encoder (8-bit grey or RGB, no interlace) on zlib alone, so pictures can be
written and inlined into the HTML report without Pillow (numpy is pocketcnn's only run-time
dependency)."""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_SIDE = 1 << 15  # far beyond any picture pc.viz draws; a larger one is a caller's mistake


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(pixels: np.ndarray) -> bytes:
    """The PNG file bytes of a uint8 image (H, W) (grey) or (H, W, 3) (RGB)."""
    a = np.asarray(pixels)
    if a.dtype != np.uint8:
        raise TypeError(f"encode_png: pixels must be uint8, got {a.dtype}")
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or a.size == 0:
        raise ValueError(f"encode_png: pixels must be (H, W) or (H, W, 3), got shape {a.shape}")
    h, w = a.shape[:2]
    if h > _MAX_SIDE or w > _MAX_SIDE:
        raise ValueError(f"encode_png: {h}x{w} exceeds the {_MAX_SIDE} pixel limit per side")
    colour_type = 0 if a.ndim == 2 else 2
    rows = np.ascontiguousarray(a).reshape(h, -1)
    # Filter type 0 (none) on every scanline: a leading zero byte per row.
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def to_pixels(image, scale: int = 1) -> np.ndarray:
    """A pc.viz image ((H, W) or (H, W, 3), floats in [0, 1]) as uint8, enlarged ``scale`` times
    (nearest neighbour)."""
    a = np.asarray(image, dtype=np.float32)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or a.size == 0:
        raise ValueError(f"image must be (H, W) or (H, W, 3), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("image holds NaN or inf")
    if scale > 1:
        a = np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)
    return (np.clip(a, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
