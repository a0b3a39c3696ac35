"""Writes the fuzzers' seed corpus (tests/fuzz/corpus/{idx,cifar,model}); committed, so run this
only to change it: small valid files of each format, raw and gzip, so mutations start from files
that get past the first checks."""

from __future__ import annotations

import gzip
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

import pocketcnn as pc

HERE = Path(__file__).parent / "corpus"


def idx(array: np.ndarray, code: int) -> bytes:
    big = array.astype(array.dtype.newbyteorder(">"))
    return (
        bytes([0, 0, code, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + big.tobytes()
    )


def write(kind: str, name: str, data: bytes) -> None:
    (HERE / kind).mkdir(parents=True, exist_ok=True)
    (HERE / kind / name).write_bytes(data)


def main() -> int:
    rng = np.random.default_rng(0)
    labels = idx(rng.integers(0, 10, 10).astype(np.uint8), 0x08)
    images = idx(rng.integers(0, 256, (2, 3, 3)).astype(np.uint8), 0x08)
    floats = idx(rng.standard_normal((2, 2)).astype(np.float32), 0x0D)
    for name, data in (("labels", labels), ("images", images), ("floats", floats)):
        write("idx", name, data)
        write("idx", name + ".gz", gzip.compress(data, mtime=0))
    records = np.zeros((2, 3073), np.uint8)
    records[:, 0] = [3, 9]
    records[:, 1:] = rng.integers(0, 256, (2, 3072))
    write("cifar", "batch", records.tobytes())
    write("cifar", "batch.gz", gzip.compress(records.tobytes(), mtime=0))

    with tempfile.TemporaryDirectory() as tmp:
        dense = pc.Sequential(
            [pc.layers.Dense(3, input_shape=(4,), activation="relu"), pc.layers.Dense(2)]
        )
        dense.compile(optimizer=pc.optim.Adam(1e-3), loss="cross_entropy", metrics=["accuracy"])
        dense.fit(np.ones((4, 4), "f4"), np.array([0, 1, 0, 1]), epochs=1, verbose=0)
        conv = pc.Sequential(
            [
                pc.layers.Conv2D(2, 3, padding="same", input_shape=(1, 6, 6), activation="relu"),
                pc.layers.MaxPool2D(2),
                pc.layers.AvgPool2D(1),
                pc.layers.Flatten(),
                pc.layers.Dropout(0.1),
                pc.layers.Dense(2, activation="softmax"),
            ]
        )
        conv.compile(optimizer=pc.optim.SGD(0.1, momentum=0.9), loss="mse")
        for name, model in (("dense", dense), ("conv", conv)):
            model.save(Path(tmp) / name)
            write("model", name + ".pcnn", (Path(tmp) / name).read_bytes())
            pc.onnx.export(model, Path(tmp) / (name + ".onnx"))
            write("onnx", name + ".onnx", (Path(tmp) / (name + ".onnx")).read_bytes())
        weights = {f"w{i}": w for i, w in enumerate(conv.get_weights())}
        write("safetensors", "conv.safetensors", pc.safetensors.dumps(weights))
    print(f"wrote {sum(1 for _ in HERE.rglob('*') if _.is_file())} seeds under {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
