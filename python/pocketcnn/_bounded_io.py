"""Bounded reading of untrusted files: the one reader under every file format pocketcnn parses
(IDX, CIFAR-10 batches, the ``.pcnn`` model archive and its members).

Files are untrusted, so a reader here

* opens only regular files: a FIFO would block forever, ``/dev/zero`` never ends (the open does
  not block: ``O_NONBLOCK``, and the type is checked on the open descriptor, not the name);
* checks sizes against documented limits before allocating anything they declare;
* streams gzip: the caller reads and checks a header before the rest is decompressed, and never
  decompresses more than the header declared (plus one byte, to detect trailing data);
* reads a zip member only up to its declared size and a limit.

Limits (``ValueError`` naming the limit when exceeded):
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import zipfile
import zlib
from pathlib import Path

from . import _core

_LIMITS = _core.limits()
#: Largest file header parsed (model ``header.json``, ``.npy`` headers): 16 MiB (limits.h).
MAX_HEADER_BYTES: int = _LIMITS["max_file_header_bytes"]
#: Largest array read from a file: the largest tensor, 2^34 elements (limits.h).
MAX_ARRAY_ELEMENTS: int = _LIMITS["max_tensor_elements"]
#: Largest data file content (IDX, CIFAR-10; after decompression) and model archive: 16 GiB.
MAX_DATA_BYTES: int = 1 << 34

__doc__ += f"""
* ``MAX_HEADER_BYTES`` = {MAX_HEADER_BYTES} (a model's ``header.json``, an ``.npy`` header);
* ``MAX_ARRAY_ELEMENTS`` = {MAX_ARRAY_ELEMENTS} (any array a file declares);
* ``MAX_DATA_BYTES`` = {MAX_DATA_BYTES} (a data file after decompression, a model file).
"""

_CHUNK = 1 << 22
_GZIP_MAGIC = b"\x1f\x8b"
# What decompressing or reading a corrupt stream raises.
STREAM_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, ValueError)


def open_regular(path: str | os.PathLike, max_bytes: int | None = None) -> io.BufferedReader:
    """``path`` opened for reading, if it is a regular file of at most ``max_bytes`` (default
    MAX_DATA_BYTES)."""
    max_bytes = MAX_DATA_BYTES if max_bytes is None else max_bytes
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)  # FileNotFoundError / PermissionError pass through
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise ValueError(
                f"{path}: {kind} (a FIFO, device or socket is refused: it could block or never "
                "end); pocketcnn reads data and model files only from regular files"
            )
        if st.st_size > max_bytes:
            raise ValueError(
                f"{path}: {st.st_size} bytes is larger than the limit of {max_bytes} bytes "
                "(pocketcnn._bounded_io.MAX_DATA_BYTES)"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class DataStream:
    """A regular file's content, gunzipped on the fly when it starts with the gzip magic (by
    content, not by name). Reads are bounded: ``read_exact`` never returns or buffers more than
    asked, so a header can be checked before the rest is decompressed."""

    def __init__(self, path: Path, max_bytes: int | None = None):
        self.path = path
        self.max_bytes = MAX_DATA_BYTES if max_bytes is None else max_bytes
        self._file = open_regular(path, self.max_bytes)
        self.compressed = self._file.peek(2)[:2] == _GZIP_MAGIC
        self._stream = gzip.GzipFile(fileobj=self._file) if self.compressed else self._file
        self.position = 0

    def __enter__(self) -> DataStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._stream is not self._file:
            self._stream.close()
        self._file.close()

    def _read(self, n: int) -> bytes:
        try:
            return self._stream.read(n)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(
                f"{self.path}: corrupt or truncated gzip file ({e}); delete it and reinstall "
                "the data"
            ) from None

    def read_upto(self, n: int) -> bytearray:
        """At most ``n`` bytes (fewer only at the end), read in chunks."""
        if self.position + n > self.max_bytes:
            n = max(self.max_bytes - self.position + 1, 0)  # one more, to see the limit is hit
        out = bytearray()
        while len(out) < n:
            chunk = self._read(min(_CHUNK, n - len(out)))
            if not chunk:
                break
            out += chunk
        self.position += len(out)
        if self.position > self.max_bytes:
            raise ValueError(
                f"{self.path}: more than {self.max_bytes} bytes of content (after "
                "decompression); the limit is pocketcnn._bounded_io.MAX_DATA_BYTES"
            )
        return out

    def read_exact(self, n: int, what: str) -> bytearray:
        """Exactly ``n`` bytes of ``what``, else ValueError saying the file is truncated."""
        data = self.read_upto(n)
        if len(data) != n:
            raise ValueError(
                f"{self.path}: truncated: {what} needs {n} bytes, the file has {len(data)} "
                f"(at offset {self.position - len(data)})"
            )
        return data

    def at_end(self) -> bool:
        """Whether the content ends here (reads at most one byte more)."""
        return not self._read(1)


def read_member(archive: zipfile.ZipFile, name: str, max_bytes: int, path: Path) -> bytes:
    """A zip member's content, refused before reading if it declares more than ``max_bytes``
    (zipfile then enforces the declared size and CRC while decompressing)."""
    info = archive.getinfo(name)
    if info.file_size > max_bytes:
        raise ValueError(
            f"{path}: member {name} declares {info.file_size} bytes, more than the limit of "
            f"{max_bytes} bytes"
        )
    with archive.open(info) as member:
        data = member.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path}: member {name} is larger than the limit of {max_bytes} bytes")
    return data
