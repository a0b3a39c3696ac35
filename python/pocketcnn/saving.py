"""One-file models: ``model.save(path)`` and ``pc.load_model(path)``.

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
foreign file raises ``ValueError`` saying so.
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
from pathlib import Path
from typing import Any

import numpy as np

from . import _bounded_io, _model_file_check

FORMAT = "pocketcnn.model"
VERSION = 1
HEADER = "header.json"


class ModelFileError(ValueError):
    """A file that is not a (readable) pocketcnn model."""


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def _le_float32(array) -> np.ndarray:
    return np.ascontiguousarray(array, dtype="<f4")


def _collect(model) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header (without the array table) and the arrays to store."""
    from . import __version__

    arrays: dict[str, np.ndarray] = {}
    for i, w in enumerate(model.get_weights()):
        arrays[f"weights/{i}"] = _le_float32(w)
    optimizer = None
    if model.optimizer is not None:
        sd = model.optimizer.state_dict()
        state_refs = []
        for i, s in enumerate(sd["state"]):
            ref: dict[str, Any] = {}
            for k, v in s.items():
                if isinstance(v, np.ndarray):
                    name = f"optimizer/{i}/{k}"
                    arrays[name] = _le_float32(v)
                    ref[k] = name
                else:
                    ref[k] = int(v)
            state_refs.append(ref)
        optimizer = {
            "class": sd["class"],
            "config": sd["config"],
            "iterations": sd["iterations"],
            "epoch": sd["epoch"],
            "state": state_refs,
        }
    header = {
        "format": FORMAT,
        "version": VERSION,
        "byteorder": "little",
        "pocketcnn_version": __version__,
        "model": {"class_name": "Sequential", "config": model.get_config()},
        "compile": None
        if model.loss is None
        else {"loss": model.loss, "metrics": list(model.metrics)},
        "optimizer": optimizer,
        "epochs_trained": model.epochs_trained,
        # The last fit's per-epoch metrics, so `pocketcnn viz MODEL --what curves` can draw them.
        "history": None
        if model.history is None
        else {
            "epoch": [int(e) for e in model.history.epoch],
            "history": {k: [float(v) for v in vals] for k, vals in model.history.history.items()},
        },
    }
    return header, arrays


def save_model(model, path: str | os.PathLike) -> None:
    """Writes ``model`` to ``path`` atomically (see the module docstring for the format)."""
    if not model.built:
        raise ValueError(
            f"{model.name}.save: the model is not built (its input shape is unknown), so it has no "
            "weights to save yet; give input_shape or call build() first"
        )
    path = Path(os.fspath(path))
    header, arrays = _collect(model)
    members = {name: _npy_bytes(a) for name, a in arrays.items()}
    header["arrays"] = {
        name: {
            "member": name + ".npy",
            "shape": list(arrays[name].shape),
            "dtype": "<f4",
            "sha256": hashlib.sha256(arrays[name].tobytes()).hexdigest(),
        }
        for name in arrays
    }
    _atomic_write(path, lambda f: _write_archive(f, header, members))


def _write_archive(f, header: dict[str, Any], members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(HEADER, json.dumps(header, indent=1, sort_keys=True))
        for name, data in members.items():
            z.writestr(name + ".npy", data)


# Temporary files of a save in progress: a short, recognisable name (a 255-byte target name still
# fits), locked while written, so the next save in that directory can remove those of killed saves
# (unlocked) and leave those of saves still running (locked) alone.
_TEMP_PREFIX = ".pocketcnn-save-"


def _atomic_write(path: Path, write) -> None:
    """Writes through ``write(file)`` to a temporary file beside the real target (through a
    symlink: the link stays, the file it points to is replaced), keeps an existing target's
    permission bits, and renames it over the target. On failure the temporary file is removed
    and the error names the target."""
    target = Path(os.path.realpath(path))
    directory = target.parent
    try:
        old_mode = stat.S_IMODE(os.stat(target).st_mode)
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


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number a model file may hold")


def _read_header(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    names = archive.namelist()
    if not names or names[0] != HEADER:
        raise ModelFileError(
            f"{path}: not a pocketcnn model file (a zip/npz without a {HEADER} first member)"
        )
    raw = _bounded_io.read_member(archive, HEADER, _bounded_io.MAX_HEADER_BYTES, path)
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


def _read_arrays(archive: zipfile.ZipFile, table, path: Path) -> dict[str, np.ndarray]:
    """The arrays of the (already checked) table, each read bounded by its declared shape."""
    arrays = {}
    members = set(archive.namelist())
    for name, (member, shape, digest) in table.items():
        if member not in members:
            raise ModelFileError(f"{path}: truncated or corrupted model file: {member} is missing")
        a = _bounded_io.read_npy_member(archive, member, shape, path)
        if hashlib.sha256(a.tobytes()).hexdigest() != digest:
            raise ModelFileError(f"{path}: corrupted model file: checksum mismatch in {name}")
        arrays[name] = a.astype(np.float32)
    return arrays


def _read_model_file(path: Path):
    """(header, arrays) of the file at ``path``: bounded reads, the whole file checked against
    its declared architecture before any array is read. Raises ModelFileError."""
    try:
        with _bounded_io.open_regular(path) as f:
            if not zipfile.is_zipfile(f):
                raise ModelFileError(
                    f"{path}: not a pocketcnn model file, or truncated (it does not end with a "
                    "zip directory)"
                )
            with zipfile.ZipFile(f) as archive:
                header = _read_header(archive, path)
                try:
                    table = _model_file_check.check_plan(header, path)
                except Exception as e:
                    raise ModelFileError(
                        f"{path}: corrupted model file: the header does not describe a valid "
                        f"model ({type(e).__name__}: {e})"
                    ) from None
                arrays = _read_arrays(archive, table, path)
    except (ModelFileError, FileNotFoundError, PermissionError):
        raise
    except Exception as e:
        raise ModelFileError(
            f"{path}: truncated or corrupted model file ({type(e).__name__}: {e})"
        ) from None
    return header, arrays


def load_model(path: str | os.PathLike, compile: bool = True):
    """The model saved at ``path``, with its weights, and (if it was compiled and ``compile``)
    its loss, metrics and optimiser state, ready to ``predict`` or to continue ``fit``."""
    from . import layers as layers_module
    from . import optim as optim_module
    from .model import Sequential

    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file")
    header, arrays = _read_model_file(path)

    try:
        config = header["model"]["config"]
        model = Sequential(name=config["name"], seed=config["seed"])
        for spec in config["layers"]:
            model.add(layers_module.from_config(spec["class_name"], dict(spec["config"])))
        if config["input_shape"] is not None and not model.built:
            model.build(config["input_shape"])
        n_weights = len(model.weights)
        weights = [arrays.get(f"weights/{i}") for i in range(n_weights)]
        if any(w is None for w in weights) or f"weights/{n_weights}" in arrays:
            raise ModelFileError(
                f"{path}: corrupted model file: the architecture has {n_weights} weight arrays, "
                "the file does not"
            )
        model.set_weights(weights)
        model.epochs_trained = int(header.get("epochs_trained", 0))
        if header.get("history") is not None:
            from .callbacks import History

            model.history = History()
            model.history.epoch = [int(e) for e in header["history"]["epoch"]]
            model.history.history = {
                str(k): [float(v) for v in vals] for k, vals in header["history"]["history"].items()
            }
        if compile and header.get("compile") is not None:
            opt_header = header.get("optimizer")
            optimizer: Any = "adam"
            if opt_header is not None:
                state = [
                    {k: (arrays[v] if isinstance(v, str) else v) for k, v in s.items()}
                    for s in opt_header["state"]
                ]
                optimizer = optim_module.from_state_dict({**opt_header, "state": state})
            model.compile(
                optimizer=optimizer,
                loss=header["compile"]["loss"],
                metrics=header["compile"]["metrics"],
            )
    except ModelFileError:
        raise
    except Exception as e:  # anything a hostile header can provoke is a ModelFileError
        raise ModelFileError(
            f"{path}: corrupted model file: the header does not describe a valid model "
            f"({type(e).__name__}: {e})"
        ) from None
    return model


__all__ = ["ModelFileError", "load_model", "save_model"]
