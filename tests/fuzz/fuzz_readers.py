"""Coverage-guided fuzzing (atheris, i.e. libFuzzer for Python) of pocketcnn's file readers.

    python tests/fuzz/fuzz_readers.py idx   tests/fuzz/corpus/idx   -max_total_time=40
    python tests/fuzz/fuzz_readers.py cifar tests/fuzz/corpus/cifar -max_total_time=40
    python tests/fuzz/fuzz_readers.py model tests/fuzz/corpus/model -max_total_time=40
    (and onnx, safetensors likewise)

Each input is written to a file and read with ``read_idx`` / ``read_cifar10_batch`` /
``load_model`` / ``pc.onnx.load`` / ``pc.safetensors.load_file`` (a model that loads is also
run on one zero input, so the C++ core sees what a hostile file can build). A reader may only
raise ``ValueError`` (``ModelFileError`` is one); any other exception, a crash (run it under
ASan+UBSan, see .ci/run) or an input slower than libFuzzer's ``-timeout`` is a failure, saved by
libFuzzer as ``crash-*`` / ``timeout-*``.

For the model target a structure-aware mutator keeps the zip valid: it mutates the header.json
(or one array member) with libFuzzer's byte mutations and re-zips it with correct CRCs, so the
fuzzer explores the header parser and the architecture checks instead of bad CRCs.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import zipfile

import atheris
import numpy as np

import pocketcnn as pc
from pocketcnn import datasets


def _instrument_pocketcnn() -> int:
    """Adds coverage instrumentation to every function of pocketcnn's Python modules, in place
    (atheris.instrument_imports misses modules loaded by an editable install's custom loader,
    and instrument_all would take minutes over numpy)."""
    import inspect

    done = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("pocketcnn") or name == "pocketcnn._core":
            continue
        for obj in list(vars(module).values()):
            funcs = [obj] if inspect.isfunction(obj) else []
            if inspect.isclass(obj) and obj.__module__ == name:
                funcs = [f for f in vars(obj).values() if inspect.isfunction(f)]
            for f in funcs:
                if f.__module__ == name:
                    atheris.instrument_func(f)
                    done += 1
    return done


TARGETS = ("idx", "cifar", "model", "onnx", "safetensors")
_DIR = tempfile.mkdtemp(
    prefix="pocketcnn-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
)
_PATH = os.path.join(_DIR, "input")
_MAX_PREDICT_ELEMENTS = 1 << 20


def _exercise_model(model) -> None:
    shape = getattr(model, "_input_shape", None)
    if not model.built or shape is None or int(np.prod(shape)) > _MAX_PREDICT_ELEMENTS:
        return
    try:
        model.predict(np.zeros((1, *shape), np.float32))
    except (ValueError, MemoryError):
        pass  # a size beyond the limits or this machine: refused, as documented


def one_input(target: str, data: bytes) -> None:
    with open(_PATH, "wb") as f:
        f.write(data)
    try:
        if target == "idx":
            datasets.read_idx(_PATH)
        elif target == "cifar":
            datasets.read_cifar10_batch(_PATH)
        elif target == "model":
            _exercise_model(pc.load_model(_PATH))
        elif target == "onnx":
            _exercise_model(pc.onnx.load(_PATH))
        else:
            pc.safetensors.load_file(_PATH)
    except ValueError:
        pass


def mutate_model(data: bytes, max_size: int, seed: int) -> bytes:
    """libFuzzer's mutation of the header (3 in 4) or of one member, re-zipped."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = [(i.filename, z.read(i)) for i in z.infolist()]
    except Exception:  # not a zip (any more): plain byte mutation
        return atheris.Mutate(data, max_size)
    if not members:
        return atheris.Mutate(data, max_size)
    k = 0 if seed % 4 else 1 + seed % max(len(members) - 1, 1)
    k = min(k, len(members) - 1)
    name, content = members[k]
    if k == 0 and seed % 8 == 1:  # a structural edit: replace one JSON value
        content = _replace_json_value(content, seed)
    else:
        content = atheris.Mutate(content, max(len(content) * 2, 64))
    members[k] = (name, content)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        for n, c in members:
            z.writestr(n, c)
    return out.getvalue()[:max_size] if len(out.getvalue()) > max_size else out.getvalue()


_VALUES = [0, -1, 1, 2**31, 2**63, 1e308, -1e308, None, True, "", "x", [], {}, [0], [2**40, 2]]


def _replace_json_value(raw: bytes, seed: int) -> bytes:
    try:
        doc = json.loads(raw)
    except Exception:
        return raw
    slots = []

    def walk(node):
        if isinstance(node, dict):
            for key in node:
                slots.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for i in range(len(node)):
                slots.append((node, i))
                walk(node[i])

    walk(doc)
    if not slots:
        return raw
    parent, key = slots[seed % len(slots)]
    parent[key] = _VALUES[(seed // len(slots)) % len(_VALUES)]
    return json.dumps(doc).encode()


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [corpus dir] [libFuzzer flags]")
    target = sys.argv.pop(1)
    print(f"instrumented {_instrument_pocketcnn()} pocketcnn functions", flush=True)
    kwargs = {"custom_mutator": mutate_model} if target == "model" else {}
    atheris.Setup(sys.argv, lambda data: one_input(target, data), **kwargs)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
