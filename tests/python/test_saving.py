"""model.save / pc.load_model: round trips, resuming, atomic writes, damaged and foreign files."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from models import blobs, compiled_tiny, lecture_model, tiny_model

import pocketcnn as pc
from pocketcnn import saving


@pytest.fixture
def trained(tmp_path):
    x, y = blobs(48)
    model = compiled_tiny(optimizer=pc.optim.AdamW(1e-2, weight_decay=0.05), dropout=0.1)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "model.pcnn"
    model.save(path)
    return model, path, x, y


def test_round_trip_predict_is_bit_identical(trained):
    model, path, x, y = trained
    loaded = pc.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [type(a) for a in loaded.layers] == [type(a) for a in model.layers]
    assert [a.get_config() for a in loaded.layers] == [a.get_config() for a in model.layers]
    assert loaded.loss == "cross_entropy" and loaded.metrics == ["accuracy"]
    assert isinstance(loaded.optimizer, pc.optim.AdamW)
    assert loaded.optimizer.weight_decay == 0.05 and loaded.optimizer.iterations == 6
    assert loaded.evaluate(x, y) == model.evaluate(x, y)


def test_file_is_an_npz_with_a_json_header_first_and_no_pickle(trained):
    _, path, _, _ = trained
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        header = json.loads(z.read(names[0]))
    assert names[0] == "header.json"
    assert header["format"] == "pocketcnn.model" and header["version"] == 1
    assert header["byteorder"] == "little"
    with np.load(path, allow_pickle=False) as npz:
        kernel = npz["weights/0"]
    assert kernel.dtype == np.dtype("<f4") and kernel.shape == (4, 1, 3, 3)


def test_training_resumes_from_a_checkpoint_exactly(tmp_path):
    x, y = blobs(48)
    straight = compiled_tiny(dropout=0.2)
    h = straight.fit(x, y, batch_size=8, epochs=3, verbose=0)

    first = compiled_tiny(dropout=0.2)
    first.fit(x, y, batch_size=8, epochs=1, verbose=0)
    first.save(tmp_path / "ckpt.pcnn")
    resumed = pc.load_model(tmp_path / "ckpt.pcnn")
    assert resumed.epochs_trained == 1
    h2 = resumed.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert h2.history["loss"] == h.history["loss"][1:]
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_lecture_model_round_trip(tmp_path):
    model = lecture_model()
    model.compile("sgd", "cross_entropy", ["accuracy"])
    model.save(tmp_path / "lecture.pcnn")
    loaded = pc.load_model(tmp_path / "lecture.pcnn")
    assert loaded.count_params() == 137660
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_uncompiled_model_round_trip(tmp_path):
    model = tiny_model()
    model.save(tmp_path / "m")
    loaded = pc.load_model(tmp_path / "m")
    assert loaded.optimizer is None and loaded.loss is None
    x, _ = blobs(4)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="not built"):
        pc.Sequential([pc.layers.Dense(2)]).save(tmp_path / "unbuilt")


def test_crash_mid_save_leaves_the_previous_file_intact(trained, monkeypatch):
    model, path, x, _ = trained
    before = path.read_bytes()
    model.fit(x, blobs(48)[1], batch_size=8, epochs=1, verbose=0)  # weights change

    real_writestr = zipfile.ZipFile.writestr
    calls = []

    def crash_after_two_members(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise OSError("disk full (simulated)")
        return real_writestr(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash_after_two_members)
    with pytest.raises(OSError, match="simulated"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]  # the temporary file is gone
    pc.load_model(path)


def test_truncated_files(trained):
    _, path, _, _ = trained
    data = path.read_bytes()
    for cut in (len(data) - 10, len(data) // 2, 100, 0):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated"):
            pc.load_model(path)


def test_corrupted_weights_are_detected(trained):
    _, path, _, _ = trained
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("weights/0.npy")
    # flip a byte inside the stored kernel data (past the local header and the .npy header)
    offset = info.header_offset + 30 + len(info.filename) + info.file_size - 8
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted|CRC"):
        pc.load_model(path)


def rewrite_header(path, change):
    with zipfile.ZipFile(path) as z:
        members = [(n, z.read(n)) for n in z.namelist()]
    header = json.loads(members[0][1])
    change(header)
    members[0] = ("header.json", json.dumps(header).encode())
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            z.writestr(name, data)


def test_unknown_version_and_bad_headers(trained):
    _, path, _, _ = trained
    original = path.read_bytes()
    rewrite_header(path, lambda h: h.update(version=2))
    with pytest.raises(ValueError, match="version 2 is newer.*version 1.*upgrade"):
        pc.load_model(path)
    path.write_bytes(original)
    rewrite_header(path, lambda h: h["arrays"]["weights/1"].update(shape=[5]))
    with pytest.raises(ValueError, match="weights/1 has shape"):
        pc.load_model(path)
    path.write_bytes(original)
    rewrite_header(path, lambda h: h["model"]["config"]["layers"][0].update(class_name="Conv3D"))
    with pytest.raises(ValueError, match="unknown layer class 'Conv3D'"):
        pc.load_model(path)
    path.write_bytes(original)
    rewrite_header(path, lambda h: h["model"]["config"]["layers"][0]["config"].update(filters=5))
    # Found before anything is built: the planned architecture against the file's array table.
    with pytest.raises(ValueError, match=r"corrupted.*weights/0 has shape.*needs \(5, 1, 3, 3\)"):
        pc.load_model(path)


def test_files_that_are_not_models(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a pocketcnn model file"):
        pc.load_model(text)
    npz = tmp_path / "arrays.npz"
    np.savez(npz, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a pocketcnn model file"):
        pc.load_model(npz)
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="not a pocketcnn model file"):
        pc.load_model(npy)
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("header.json", json.dumps({"format": "something.else"}))
    with pytest.raises(ValueError, match="not a pocketcnn model file.*something.else"):
        pc.load_model(foreign)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        pc.load_model(tmp_path / "missing.pcnn")
    assert issubclass(saving.ModelFileError, ValueError)


def test_saved_file_gets_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        tiny_model().save(tmp_path / "m.pcnn")
    finally:
        os.umask(old)
    assert (tmp_path / "m.pcnn").stat().st_mode & 0o777 == 0o644


def test_sizes_claimed_by_a_file_are_checked_before_anything_is_allocated(trained):
    # A member whose .npy header (and the archive's table) claims 10**12 floats, but holds 9:
    # reading must fail on the size, not try to allocate 4 TB.
    _, path, _, _ = trained
    original = path.read_bytes()
    with zipfile.ZipFile(path) as z:
        members = [(n, z.read(n)) for n in z.namelist()]
    header = json.loads(members[0][1])
    header["arrays"]["weights/1"]["shape"] = [10**12]
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        npy, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)}
    )
    npy.write(np.zeros(9, "<f4").tobytes())
    replaced = {"header.json": json.dumps(header).encode(), "weights/1.npy": npy.getvalue()}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            z.writestr(name, replaced.get(name, data))
    with pytest.raises(
        ValueError, match=r"weights/1 holds 36 bytes of data.*needs 4,000,000,000,000"
    ):
        saving.read_archive(path)  # the archive alone
    with pytest.raises(ValueError, match="more elements than the largest tensor"):
        pc.load_model(path)  # the model's plan check refuses the shape before reading
    path.write_bytes(original)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", b" " * (saving.MAX_HEADER_BYTES + 1))
    with pytest.raises(ValueError, match="more than the"):
        pc.load_model(path)
