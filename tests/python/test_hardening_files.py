"""Issue 17, files half: bounded readers, model-file validation before allocation, exception
types, saving that keeps what the user had, viz output names, and 0-sample / bool-label fits."""

from __future__ import annotations

import gzip
import json
import os
import stat
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn import _bounded_io, datasets
from pocketcnn.saving import HEADER, ModelFileError


def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    except Exception:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def gzip_of_zeros(prefix: bytes, zeros: int, level: int = 9) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    out = [c.compress(prefix)]
    block = bytes(1 << 20)
    for _ in range(zeros >> 20):
        out.append(c.compress(block))
    out.append(c.flush())
    return b"".join(out)


# ---- data files ---------------------------------------------------------------------------------


def test_idx_gzip_bomb_is_refused_after_the_header(tmp_path):
    # A valid header declaring 10 bytes, then 1 GiB of zeros (1 MB compressed): the whole file
    # used to be gunzipped first (2 GB for the stream).
    p = tmp_path / "bomb-idx1-ubyte.gz"
    p.write_bytes(gzip_of_zeros(b"\x00\x00\x08\x01" + struct.pack(">I", 10), 1 << 30))
    assert p.stat().st_size < 2 << 20
    with pytest.raises(ValueError, match="trailing bytes"):
        datasets.read_idx(p)
    assert peak_bytes(lambda: datasets.read_idx(p)) < 64 << 20


def test_idx_gzip_with_a_bad_header_stops_at_once(tmp_path):
    p = tmp_path / "zeros.gz"
    p.write_bytes(gzip_of_zeros(b"", 1 << 30))
    assert peak_bytes(lambda: datasets.read_idx(p)) < 16 << 20
    with pytest.raises(ValueError, match="unknown IDX element type"):
        datasets.read_idx(p)


def test_idx_header_over_the_limit_names_it(tmp_path):
    p = tmp_path / "huge"
    p.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 2**31, 2**31, 2))
    with pytest.raises(ValueError, match="MAX_DATA_BYTES"):
        datasets.read_idx(p)


def test_idx_still_reads_valid_files(tmp_path):
    a = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    raw = b"\x00\x00\x0c\x03" + struct.pack(">3I", 2, 3, 4) + a.tobytes()
    for name, data in (("a", raw), ("a.gz", gzip.compress(raw))):
        (tmp_path / name).write_bytes(data)
        np.testing.assert_array_equal(datasets.read_idx(tmp_path / name), a)
    (tmp_path / "t").write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="truncated"):
        datasets.read_idx(tmp_path / "t")


@pytest.mark.parametrize(
    "reader",
    [
        datasets.read_idx,
        datasets.read_cifar10_batch,
        pc.load_model,
        pc.onnx.load,
        pc.safetensors.load_file,
    ],
)
def test_dev_zero_is_refused(reader):
    with pytest.raises(ValueError, match="not a regular file"):
        reader("/dev/zero")


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code = f"""
        import pocketcnn as pc
        readers = (pc.datasets.read_idx, pc.datasets.read_cifar10_batch, pc.load_model,
                   pc.onnx.load, pc.safetensors.load_file)
        for f in readers:
            try:
                f({str(fifo)!r})
            except ValueError as e:
                assert "regular file" in str(e), e
            else:
                raise SystemExit("no error")
        print("ok")
    """
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_cifar_gzip_bomb_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(_bounded_io, "MAX_DATA_BYTES", 64 << 20)
    p = tmp_path / "data_batch_1.bin"
    p.write_bytes(gzip_of_zeros(b"", 1 << 30))
    with pytest.raises(ValueError, match="MAX_DATA_BYTES"):
        datasets.read_cifar10_batch(p)


def test_cifar_reads_valid_batches(tmp_path):
    rec = np.zeros((2, 3073), np.uint8)
    rec[:, 0] = [3, 7]
    p = tmp_path / "b.bin"
    p.write_bytes(gzip.compress(rec.tobytes()))
    x, y = datasets.read_cifar10_batch(p)
    assert x.shape == (2, 3, 32, 32) and list(y) == [3, 7]


# ---- model files --------------------------------------------------------------------------------


def small_model(compiled: bool = True):
    m = pc.Sequential([pc.layers.Dense(3, input_shape=(4,)), pc.layers.Dense(2)])
    if compiled:
        m.compile(optimizer=pc.optim.Adam(1e-3), loss="cross_entropy")
        m.fit(np.ones((4, 4), "f4"), np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    return m


def rewrite(path: Path, out: Path, header_fn=None, header_bytes=None, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    header = json.loads(members.pop(HEADER))
    if header_fn:
        header_fn(header)
    raw = header_bytes if header_bytes is not None else json.dumps(header).encode()
    with zipfile.ZipFile(out, "w", compression=compress) as z:
        z.writestr(HEADER, raw)
        for n, d in members.items():
            z.writestr(n, d)
    return out


@pytest.fixture
def saved(tmp_path):
    p = tmp_path / "m.pcnn"
    small_model().save(p)
    return p


def test_huge_declared_architecture_is_refused_before_building(saved, tmp_path):
    # Was: the architecture was built and initialised (4 GB, 11 s) before the comparison.
    def grow(h):
        h["model"]["config"]["layers"][0]["config"]["units"] = 2**19

    bad = rewrite(saved, tmp_path / "bad.pcnn", grow)
    with pytest.raises(ModelFileError, match="weights/0 has shape"):
        pc.load_model(bad)
    assert peak_bytes(lambda: pc.load_model(bad)) < 16 << 20


def test_model_with_huge_padding_is_refused_at_load(tmp_path):
    m = pc.Sequential([pc.layers.Conv2D(1, 1, padding=3, input_shape=(1, 1, 1))])
    m.save(tmp_path / "c.pcnn")

    def pad(h):
        h["model"]["config"]["layers"][0]["config"]["padding"] = [900_000_000, 900_000_000]

    bad = rewrite(tmp_path / "c.pcnn", tmp_path / "pad.pcnn", pad)
    with pytest.raises(ModelFileError, match="largest tensor"):
        pc.load_model(bad)


def test_header_deflate_bomb_is_refused(saved, tmp_path):
    raw = b'{"format": "pocketcnn.model", "pad": "' + b" " * (64 << 20) + b'"}'
    bad = rewrite(saved, tmp_path / "bomb.pcnn", header_bytes=raw, compress=zipfile.ZIP_DEFLATED)
    assert bad.stat().st_size < 1 << 20
    with pytest.raises(ModelFileError, match="more than the 16,777,216"):
        pc.load_model(bad)
    assert peak_bytes(lambda: pc.load_model(bad)) < 40 << 20


@pytest.mark.parametrize(
    "raw",
    [
        b'{"format": "pocketcnn.model", "version": 1, "byteorder": "little", "epochs_trained": '
        b"Infinity}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"format": "pocketcnn.model", "version": 1, "byteorder": "little", "model": 3}',
        b'{"format": "pocketcnn.model", "version": 1, "byteorder": "little", "arrays": {"a": 1}}',
        b'{"format": "pocketcnn.model", "version": true, "byteorder": "little"}',
        b"\xff\xfe",
    ],
)
def test_malformed_headers_raise_model_file_error(saved, tmp_path, raw):
    bad = rewrite(saved, tmp_path / "bad.pcnn", header_bytes=raw)
    with pytest.raises(ModelFileError):
        pc.load_model(bad)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h: h["model"]["config"]["layers"][0]["config"].update(activation="x" * 10),
        lambda h: h["model"]["config"]["layers"][0].update(class_name="__class__"),
        lambda h: h["model"]["config"]["layers"][0]["config"].update(units=1e308),
        lambda h: h["model"]["config"]["layers"].append({"class_name": "Dense", "config": []}),
        lambda h: h["model"]["config"].update(input_shape=[4, "x"]),
        lambda h: h.update(epochs_trained=-1),
        lambda h: h["history"].update(epoch=None),
        lambda h: h["compile"].update(loss=["x"]),
    ],
)
def test_malformed_architectures_raise_model_file_error(saved, tmp_path, mutate):
    bad = rewrite(saved, tmp_path / "bad.pcnn", mutate)
    with pytest.raises(ModelFileError):
        pc.load_model(bad)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h: h["optimizer"]["state"].pop(),  # state for fewer parameters
        lambda h: h["optimizer"]["state"][0].update(exp_avg="weights/1"),  # wrong shape
        lambda h: h["optimizer"]["state"][0].update(step=-3),
        lambda h: h["optimizer"].update(iterations="many"),
        lambda h: h["optimizer"]["state"][0].update(exp_avg="nowhere"),
    ],
)
def test_bad_optimizer_state_is_rejected_at_load(saved, tmp_path, mutate):
    bad = rewrite(saved, tmp_path / "bad.pcnn", mutate)
    with pytest.raises(ModelFileError, match="optimizer"):
        pc.load_model(bad)


def test_valid_model_still_round_trips(saved):
    m = pc.load_model(saved)
    x = np.ones((2, 4), "f4")
    np.testing.assert_array_equal(m.predict(x), pc.load_model(saved).predict(x))
    m.fit(x, np.array([0, 1]), epochs=1, verbose=0)  # the optimiser state fits the weights


def test_load_model_of_a_directory_or_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        pc.load_model(tmp_path / "missing.pcnn")
    with pytest.raises(ModelFileError, match="directory"):
        pc.load_model(tmp_path)


# ---- saving ----------------------------------------------------------------------------------


def test_resave_keeps_the_file_mode(tmp_path):
    p = tmp_path / "m.pcnn"
    m = small_model(compiled=False)
    m.save(p)
    os.chmod(p, 0o600)
    m.save(p)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_save_through_a_symlink_writes_the_real_file(tmp_path):
    real = tmp_path / "real.pcnn"
    link = tmp_path / "link.pcnn"
    m = small_model(compiled=False)
    m.save(real)
    link.symlink_to(real)
    before = real.stat().st_mtime_ns
    m.layers[0].set_weights([np.zeros((3, 4), "f4"), np.zeros(3, "f4")])
    m.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.stat().st_mtime_ns >= before
    np.testing.assert_array_equal(pc.load_model(real).layers[0].get_weights()[0], 0)


def test_save_to_a_255_byte_name(tmp_path):
    p = tmp_path / ("m" * 250 + ".pcnn")
    assert len(p.name) == 255
    small_model(compiled=False).save(p)
    assert pc.load_model(p).count_params() == 23


def test_failed_save_removes_its_temporary_and_names_the_target(tmp_path, monkeypatch):
    from pocketcnn import saving

    def boom(f, header, members):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(saving, "_write_archive", boom)
    target = tmp_path / "m.pcnn"
    with pytest.raises(OSError, match=str(target)) as e:
        small_model(compiled=False).save(target)
    assert ".pocketcnn-save-" not in str(e.value)
    assert os.listdir(tmp_path) == []


def test_stale_temporaries_of_killed_saves_are_removed(tmp_path):
    stale = tmp_path / ".pocketcnn-save-0123456789ab.tmp"
    stale.write_bytes(b"x" * 1000)
    os.utime(stale, (1, 1))  # old, and no save holds its lock
    young = tmp_path / ".pocketcnn-save-ba9876543210.tmp"
    young.write_bytes(b"y")  # may belong to a save that has not locked it yet
    small_model(compiled=False).save(tmp_path / "m.pcnn")
    assert not stale.exists() and young.exists()


def test_killed_save_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path):
    p = tmp_path / "m.pcnn"
    small_model(compiled=False).save(p)
    code = f"""
        import os, numpy as np, pocketcnn as pc
        from pocketcnn import saving
        def die(f, header, members):
            f.write(b"partial")
            f.flush()
            os._exit(9)
        saving._write_archive = die
        m = pc.Sequential([pc.layers.Dense(3, input_shape=(4,)), pc.layers.Dense(2)])
        m.save({str(p)!r})
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], timeout=60)
    temps = [n for n in os.listdir(tmp_path) if n.startswith(".pocketcnn-save-")]
    assert len(temps) == 1
    pc.load_model(p)  # the previous file is intact
    os.utime(tmp_path / temps[0], (1, 1))
    small_model(compiled=False).save(p)
    assert [n for n in os.listdir(tmp_path) if n.startswith(".pocketcnn-save-")] == []


# ---- viz, fit, evaluate ------------------------------------------------------------------------


def test_viz_output_names_stay_inside_out(tmp_path):
    pytest.importorskip("PIL")
    m = pc.Sequential([pc.layers.Conv2D(2, 3, input_shape=(1, 8, 8), name="x/../../../../escaped")])
    m.save(tmp_path / "m.pcnn")
    out = tmp_path / "a" / "b" / "out"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pocketcnn.cli",
            "viz",
            str(tmp_path / "m.pcnn"),
            "--what",
            "filters",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert not list(tmp_path.rglob("escaped*.png")) or all(
        out in f.parents for f in tmp_path.rglob("*.png")
    )
    assert all(f.parent == out for f in tmp_path.rglob("*.png"))
    assert len(list(out.glob("*.png"))) == 1


def test_viz_inside_refuses_what_it_cannot_sanitise(tmp_path):
    from pocketcnn.cli import _inside

    assert Path(_inside(str(tmp_path), "../../x.png")).parent == tmp_path.resolve()
    assert Path(_inside(str(tmp_path), "..")).parent == tmp_path.resolve()
    assert Path(_inside(str(tmp_path), "/etc/passwd")).parent == tmp_path.resolve()


def test_evaluate_and_fit_on_zero_samples_raise():
    m = small_model()
    x, y = np.ones((0, 4), "f4"), np.zeros(0, np.int64)
    with pytest.raises(ValueError, match="no samples"):
        m.evaluate(x, y)
    epochs = m.epochs_trained
    with pytest.raises(ValueError, match="no samples"):
        m.fit(x, y, epochs=1, verbose=0)
    assert m.epochs_trained == epochs


def test_fit_rejects_bool_labels_like_cross_entropy():
    m = small_model()
    y = np.array([True, False, True, False])
    with pytest.raises(TypeError):
        pc.ops.cross_entropy(np.ones((4, 2), "f4"), y)
    with pytest.raises(TypeError, match="bool"):
        m.fit(np.ones((4, 4), "f4"), y, epochs=1, verbose=0)
