"""pc.cpu_info() and the POCKETCNN_ISA cap: chosen once at import, invalid values fail loudly."""

import os
import subprocess
import sys

import numpy as np
import pytest

import pocketcnn as pc

ISAS = ["scalar", "avx2", "avx512"]


def run_with_isa(value, code):
    """Run `code` in a fresh interpreter with POCKETCNN_ISA=value; returns the completed process."""
    env = dict(os.environ, POCKETCNN_ISA=value)
    return subprocess.run(
        [sys.executable, "-c", "import pocketcnn as pc\n" + code],
        env=env,
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
    )


def test_cpu_info_describes_the_kernels():
    info = pc.cpu_info()
    assert info["isa"] in ISAS
    assert info["cpu_best_isa"] in info["supported_isas"]
    assert "scalar" in info["supported_isas"] and "scalar" in info["compiled_isas"]
    assert set(info["supported_isas"]) <= set(ISAS)
    # The ISA in use is the cap clamped to what the CPU has.
    assert ISAS.index(info["isa"]) == min(
        ISAS.index(info["isa_cap"]), ISAS.index(info["cpu_best_isa"])
    )
    assert info["num_threads"] == pc.get_num_threads() >= 1
    assert isinstance(info["openmp"], bool)


@pytest.mark.parametrize("isa", ISAS)
def test_environment_caps_the_isa(isa):
    proc = run_with_isa(isa, "i = pc.cpu_info(); print(i['isa'], i['cpu_best_isa'])")
    assert proc.returncode == 0, proc.stderr
    used, best = proc.stdout.split()
    assert used == ISAS[min(ISAS.index(isa), ISAS.index(best))]


def test_invalid_isa_fails_the_import_clearly():
    proc = run_with_isa("avx-512", "pass")
    assert proc.returncode != 0
    assert "ValueError" in proc.stderr
    assert "POCKETCNN_ISA" in proc.stderr and "avx-512" in proc.stderr


def test_set_isa_cap_switches_kernels_with_equal_results():
    """The same dense layer under every supported ISA agrees (the cap applies immediately)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 37)).astype(np.float32)
    w = rng.standard_normal((11, 37)).astype(np.float32)
    saved = pc.cpu_info()["isa_cap"]
    try:
        results = {}
        for isa in pc.cpu_info()["supported_isas"]:
            assert pc._core.set_isa_cap(isa) == isa
            results[isa] = np.asarray(pc.ops.linear(x, w)).copy()
        for y in results.values():
            np.testing.assert_allclose(y, x @ w.T, rtol=1e-4, atol=1e-4)
    finally:
        pc._core.set_isa_cap(saved)
    with pytest.raises(ValueError, match="isa"):
        pc._core.set_isa_cap("mmx")


def test_memory_cache_reuses_tensor_memory():
    """A second tensor of the same size comes from the cache, not the OS."""
    pc.empty_cache()
    assert pc.memory_stats()["cached_bytes"] == 0
    a = pc.ops.relu(np.ones((64, 1024), np.float32))  # 256 KiB, allocated by the library
    del a
    before = pc.memory_stats()
    assert before["cached_bytes"] >= 64 * 1024 * 4
    b = pc.ops.relu(np.ones((64, 1024), np.float32))
    after = pc.memory_stats()
    assert after["hits"] == before["hits"] + 1
    assert after["misses"] == before["misses"]
    del b
    pc.empty_cache()
    assert pc.memory_stats()["cached_bytes"] == 0
