"""The model file archive: bounded, validated reading and atomic writing of a ``.pcnn`` file.

This module knows the container, not the model: ``Sequential.save`` builds the header and the
arrays and ``pc.load_model`` (in model.py) rebuilds the model from what ``read_archive`` returns.

The file is a zip archive that ``numpy.load(path, allow_pickle=False)`` can open (an ``.npz``):

* first member ``header.json``: format name and version, the architecture (layer classes and
  configs), compile settings, optimiser class/config/counters, the model's epoch count and the
  last fit's per-epoch metrics (the History), and for
  every array its member name, shape, dtype and SHA-256;
* then one ``.npy`` member per array: the weights (``weights/<i>``) and the optimiser state
  (``optimizer/<param>/<name>``), all little-endian float32.

Nothing is pickled, so loading a file never runs code from it. Saving writes a temporary file in
the target's directory, fsyncs it and renames it over the target (``os.replace`` is atomic), so a
crash mid-save leaves the previous file intact. Loading checks the header, the version, every
array's shape and checksum, and the architecture against the weights; a truncated, corrupted or
foreign file raises ``ValueError`` saying so. Reads are bounded: the header may be at most
``MAX_HEADER_BYTES``, and each array member's size must match the shape its own ``.npy`` header
and the archive's header give before anything is allocated for it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import stat
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import _bounded_io

FORMAT = "pocketcnn.model"
VERSION = 1
HEADER = "header.json"
# An architecture description is a few kB; 16 MiB (limits.h: kMaxFileHeaderBytes) is generous.
MAX_HEADER_BYTES = _bounded_io.MAX_HEADER_BYTES
_NPY_HEADER_MAX = 1 << 16  # numpy writes format-1.0 headers (< 64 KiB) for these arrays


class ModelFileError(ValueError):
    """A file that is not a (readable) pocketcnn model."""


def le_float32(array) -> np.ndarray:
    """The array as contiguous little-endian float32, the only dtype the archive stores."""
    return np.ascontiguousarray(array, dtype="<f4")


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


# ---- writing -----------------------------------------------------------------------------------


def write_archive(path: str | os.PathLike, header: dict[str, Any], arrays: dict[str, Any]) -> None:
    """Writes ``header`` (JSON values; the array table is added here) and ``arrays`` (name ->
    float32 array) to ``path`` atomically: a temporary file beside it, fsynced, then renamed."""
    path = Path(os.fspath(path))
    arrays = {name: le_float32(a) for name, a in arrays.items()}
    members = {name: _npy_bytes(a) for name, a in arrays.items()}
    header = {
        **header,
        "arrays": {
            name: {
                "member": name + ".npy",
                "shape": list(a.shape),
                "dtype": "<f4",
                "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
            }
            for name, a in arrays.items()
        },
    }
    _atomic_write(path, lambda f: _write_archive(f, header, members))


def _write_archive(f: IO[bytes], header: dict[str, Any], members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(HEADER, json.dumps(header, indent=1, sort_keys=True))
        for name, data in members.items():
            z.writestr(name + ".npy", data)


# Temporary files of a save in progress: a short, recognisable name (a 255-byte target name still
# fits), locked while written, so the next save in that directory can remove those of killed saves
# (unlocked) and leave those of saves still running (locked) alone.
_TEMP_PREFIX = ".pocketcnn-save-"


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Writes through ``write(file)`` to a temporary file beside the real target (through a
    symlink: the link stays, the file it points to is replaced), keeps an existing target's
    permission bits, and renames it over the target. On failure the temporary file is removed
    and the error names the target."""
    target = Path(os.path.realpath(path))
    directory = target.parent
    try:
        old_mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        old_mode = None
    try:
        _remove_stale_temporaries(directory)
        fd, tmp = _create_temporary(directory)
    except OSError as e:
        raise _naming(e, path) from e
    try:
        with os.fdopen(fd, "wb") as f:
            _lock(f.fileno())
            if old_mode is not None:
                os.fchmod(f.fileno(), old_mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, target)  # while still locked: no cleanup can take it first
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise _naming(e, path) from e
        raise
    _fsync_directory(directory)


def _naming(e: OSError, path: Path) -> OSError:
    """The same kind of OSError, naming the target instead of the temporary file."""
    return type(e)(e.errno, f"could not save the model to {path}: {e.strerror or e}", str(path))


def _lock(fd: int, blocking: bool = True) -> bool:
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking, and no stale-file cleanup either
        return blocking
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        return True
    except OSError:
        return False


def _remove_stale_temporaries(directory: Path) -> None:
    """Removes temporary files of killed saves (their lock died with them) in ``directory``."""
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return
    try:
        names = [n for n in os.listdir(directory) if n.startswith(_TEMP_PREFIX)]
    except OSError:
        return
    for name in names:
        stale = directory / name
        try:
            fd = os.open(stale, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            # Young files may belong to a save that has not taken its lock yet.
            old = time.time() - st.st_mtime > 60
            if stat.S_ISREG(st.st_mode) and old and _lock(fd, blocking=False):
                os.unlink(stale)
        except OSError:
            pass
        finally:
            os.close(fd)


def _create_temporary(directory: Path) -> tuple[int, str]:
    """A new file beside the target. Unlike tempfile.mkstemp (always 0600) it gets the usual
    permissions (0666 minus the umask), which a new saved model keeps after the rename."""
    for _ in range(100):
        tmp = str(directory / f"{_TEMP_PREFIX}{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {directory}")


def _fsync_directory(directory: Path) -> None:
    """Makes the rename durable (best effort: not every platform can open directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- reading -----------------------------------------------------------------------------------


def read_archive(
    path: str | os.PathLike, check: Callable[[dict[str, Any]], object] | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The checked header and the arrays (name -> float32) of the model file at ``path``.

    Only a regular file is read (a FIFO or /dev/zero is refused without blocking), bounded by
    ``_bounded_io``'s limits. ``check(header)``, if given, runs after the header is read and
    before any array is: ``load_model`` checks the whole architecture there, so nothing is
    allocated for a file whose arrays do not fit it. Raises FileNotFoundError for a missing file
    and ModelFileError (a ValueError) for anything else that is not an intact pocketcnn model
    archive of a version this code reads (whatever a hostile file provokes).
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        with _bounded_io.open_regular(path) as f:
            if not zipfile.is_zipfile(f):
                raise ModelFileError(
                    f"{path}: not a pocketcnn model file, or truncated (it does not end with a "
                    "zip directory)"
                )
            with zipfile.ZipFile(f) as z:
                header = _read_header(z, path)
                if check is not None:
                    try:
                        check(header)
                    except Exception as e:
                        raise ModelFileError(
                            f"{path}: corrupted model file: the header does not describe a "
                            f"valid model ({type(e).__name__}: {e})"
                        ) from None
                arrays = _read_arrays(z, header, path)
    except (ModelFileError, FileNotFoundError, PermissionError):
        raise
    except Exception as e:  # anything a hostile file can provoke is a ModelFileError
        raise ModelFileError(
            f"{path}: truncated or corrupted model file ({type(e).__name__}: {e})"
        ) from None
    return header, arrays


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number a model file may hold")


def _read_header(z: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    infos = z.infolist()
    if not infos or infos[0].filename != HEADER:
        raise ModelFileError(
            f"{path}: not a pocketcnn model file (a zip/npz without a {HEADER} first member)"
        )
    if infos[0].file_size > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"{path}: not a pocketcnn model file ({HEADER} is {infos[0].file_size:,} bytes, more "
            f"than the {MAX_HEADER_BYTES:,} a model header may have)"
        )
    raw = _bounded_io.read_member(z, HEADER, MAX_HEADER_BYTES, path)
    try:
        # NaN/Infinity are not JSON (an Infinity count overflowed int()); deep nesting is a
        # RecursionError in the parser.
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelFileError(
            f"{path}: corrupted model file: the header is not valid JSON ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise ModelFileError(f"{path}: not a pocketcnn model file (format {found!r})")
    version = header.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: corrupted model file: bad version {version!r}")
    if version > VERSION:
        raise ModelFileError(
            f"{path}: model file version {version} is newer than this pocketcnn reads "
            f"(version {VERSION}); upgrade pocketcnn"
        )
    if header.get("byteorder") != "little":
        raise ModelFileError(f"{path}: unsupported byte order {header.get('byteorder')!r}")
    return header


def _read_arrays(z: zipfile.ZipFile, header: dict[str, Any], path: Path) -> dict[str, np.ndarray]:
    table = header.get("arrays")
    if not isinstance(table, dict):
        raise ModelFileError(f"{path}: corrupted model file: no array table in the header")
    members = {info.filename: info for info in z.infolist()}
    arrays = {}
    for name, info in table.items():
        member = info.get("member") if isinstance(info, dict) else None
        if member not in members:
            raise ModelFileError(f"{path}: truncated or corrupted model file: {member} is missing")
        with z.open(members[member]) as f:
            a = _read_member(f, members[member].file_size, name, info, path)
        if hashlib.sha256(a.tobytes()).hexdigest() != info.get("sha256"):
            raise ModelFileError(f"{path}: corrupted model file: checksum mismatch in {name}")
        arrays[name] = a.astype(np.float32)
    return arrays


def _read_member(f: IO[bytes], size: int, name: str, info: dict, path: Path) -> np.ndarray:
    """One ``.npy`` member, checked against the array table before its data is allocated."""
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise ModelFileError(f"{path}: corrupted model file: {name} has .npy version {version}")
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = read_header(f, max_header_size=_NPY_HEADER_MAX)
    if list(shape) != info.get("shape") or dtype != np.dtype("<f4") or fortran:
        raise ModelFileError(
            f"{path}: corrupted model file: {name} has shape {shape} and dtype {dtype}, "
            f"the header says {info.get('shape')} and <f4"
        )
    nbytes = 4 * int(np.prod(shape, dtype=np.int64))
    if size - f.tell() != nbytes:
        raise ModelFileError(
            f"{path}: truncated or corrupted model file: {name} holds {size - f.tell():,} bytes "
            f"of data, its shape {tuple(shape)} needs {nbytes:,}"
        )
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise ModelFileError(f"{path}: truncated or corrupted model file: {name} is cut short")
    return np.frombuffer(data, dtype="<f4").reshape(shape)


def save_model(model, path: str | os.PathLike) -> None:
    """``model.save(path)``, kept for code that called it from here."""
    model.save(path)


__all__ = ["ModelFileError", "read_archive", "save_model", "write_archive"]
