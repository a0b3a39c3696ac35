"""Issue 17, runtime half: sizes, limits, threads, fork, exit and the ISA cap under load.

Each reproducer from the issue is a test here; the ones that used to hang or abort the process run
in a subprocess with a timeout so a regression fails instead of stalling the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn import _core

LIMITS = _core.limits()


def run_python(code: str, timeout: float = 120, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_limits_are_documented_constants():
    assert LIMITS["max_tensor_elements"] == 2**34
    assert LIMITS["max_tensor_bytes"] == 4 * 2**34
    assert LIMITS["max_threads"] == 256
    assert LIMITS["max_file_header_bytes"] == 16 * 2**20


def test_huge_padding_is_a_value_error_not_a_hang():
    # Was: 100% CPU forever in the allocator's size-class loop (sizes >= 2^63).
    with pytest.raises(ValueError, match="padding must be at most 4096"):
        pc.ops.conv2d(np.ones((1, 1, 1, 1), "f4"), np.ones((1, 1, 1, 1), "f4"), padding=900_000_000)


def test_tensor_larger_than_the_limit_names_it():
    with pytest.raises(ValueError, match="largest tensor.*kMaxTensorElements"):
        pc.ops.reshape(np.zeros(4, "f4"), (2**20, 2**20, 2**20))


def test_conv_workspace_is_checked():
    # Within the padding bound (4096) the output (1, 1, 8191, 8191) is only 6.7e7 elements, but
    # its im2col of C*R*S = 576 per output element is 3.9e10, over the 2^34 limit.
    x = np.ones((1, 64, 1, 1), "f4")
    with pytest.raises(ValueError, match="workspace"):
        pc.ops.conv2d(x, np.ones((1, 64, 3, 3), "f4"), padding=4096)


def test_avg_pool_divisor_does_not_overflow():
    # kernel_h * kernel_w = (2^32 - 2)^2 wrapped int64; the mean was inf.
    k = 2**32 - 2
    y = np.asarray(pc.ops.avg_pool2d(np.ones((1, 1, 1, 1), "f4"), k, padding=2**31 - 1))
    assert y.shape == (1, 1, 1, 1)
    np.testing.assert_allclose(y, 1.0 / (float(k) * float(k)), rtol=1e-6)


def test_set_num_threads_has_a_limit():
    saved = pc.get_num_threads()
    with pytest.raises(ValueError, match="kMaxThreads"):
        pc.set_num_threads(10**9)
    with pytest.raises(ValueError, match="256"):
        pc.set_num_threads(LIMITS["max_threads"] + 1)
    pc.set_num_threads(LIMITS["max_threads"])
    pc.set_num_threads(saved)
    assert pc.get_num_threads() == saved


@pytest.mark.parametrize("value", ["9e15", "9000000000000000", "-1", "12abc", "99999999999"])
def test_bad_cache_mb_fails_the_import(value):
    r = run_python("import pocketcnn", env={"POCKETCNN_CACHE_MB": value})
    assert r.returncode != 0
    assert "ValueError" in r.stderr and "POCKETCNN_CACHE_MB" in r.stderr
    assert "kMaxCacheBytes" in r.stderr


def test_good_cache_mb_sets_the_cap():
    r = run_python(
        "import pocketcnn as pc; print(pc.memory_stats()['cap_bytes'])",
        env={"POCKETCNN_CACHE_MB": "3"},
    )
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == 3 << 20


def test_exit_with_a_daemon_thread_inside_an_op_exits_0():
    # Was: SIGABRT ("terminate called without an active exception"): the daemon thread took the
    # GIL back after finalisation began. Three runs, as in the issue.
    code = """
        import threading, time
        import numpy as np
        import pocketcnn as pc
        pc.set_num_threads(2)
        x = np.ones((8, 16, 96, 96), "f4"); w = np.ones((32, 16, 3, 3), "f4")
        started = threading.Event()
        def work():
            while True:
                started.set()
                pc.ops.conv2d(x, w, padding=1)
        threading.Thread(target=work, daemon=True).start()
        started.wait(); time.sleep(0.05)
        print("exiting")
    """
    for _ in range(3):
        r = run_python(code, timeout=120)
        assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
        assert "exiting" in r.stdout


def test_fork_after_threaded_op_works_on_one_thread_with_a_warning():
    # Was: the child hung forever in its first threaded op (libgomp is not fork-safe).
    code = """
        import os, warnings
        import numpy as np
        import pocketcnn as pc
        pc.set_num_threads(2)
        x = np.random.default_rng(0).standard_normal((8, 32, 64, 64)).astype("f4")
        w = np.ones((32, 32, 3, 3), "f4")  # large enough to use both threads
        ref = np.asarray(pc.ops.conv2d(x, w))
        pid = os.fork()
        if pid == 0:
            ok = np.array_equal(np.asarray(pc.ops.conv2d(x, w)), ref) or np.allclose(
                np.asarray(pc.ops.conv2d(x, w)), ref, atol=1e-4)
            try:
                pc.set_num_threads(2)
                refused = False
            except RuntimeError as e:
                refused = "fork" in str(e)
            os._exit(0 if ok and refused and pc.get_num_threads() == 1 else 3)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
    """
    r = run_python(code, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "child 0" in r.stdout, r.stdout + r.stderr
    assert "1 thread" in r.stderr  # the warning, printed by the child


def test_multiprocessing_fork_pool_after_threaded_op_does_not_hang():
    code = """
        import multiprocessing as mp
        import numpy as np
        import pocketcnn as pc
        pc.set_num_threads(2)
        x = np.ones((8, 32, 64, 64), "f4"); w = np.ones((32, 32, 3, 3), "f4")
        pc.ops.conv2d(x, w)
        def child(_):
            return float(np.asarray(pc.ops.conv2d(x, w)).sum())
        if __name__ == "__main__":
            with mp.get_context("fork").Pool(2) as p:
                print(p.map(child, range(4)))
    """
    r = run_python(code, timeout=120)
    assert r.returncode == 0, r.stderr


def test_fork_without_threaded_work_keeps_threads():
    code = """
        import os
        import pocketcnn as pc
        pc.set_num_threads(1)
        pid = os.fork()
        if pid == 0:
            pc.set_num_threads(2)
            os._exit(0 if pc.get_num_threads() == 2 else 3)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
    """
    r = run_python(code, timeout=60)
    assert "child 0" in r.stdout, r.stdout + r.stderr
    assert "1 thread" not in r.stderr


def test_set_isa_cap_while_training_on_another_thread():
    # Was: heap corruption (rc -11, munmap_chunk(): invalid pointer) or wrong gradients: one op
    # sized its Winograd workspace under one ISA and ran the kernel of another.
    code = """
        import threading
        import numpy as np
        import pocketcnn as pc
        from pocketcnn import _core
        isas = _core.cpu_info()["supported_isas"]
        rng = np.random.default_rng(0)
        x = rng.standard_normal((4, 16, 24, 24)).astype("f4")
        w = (rng.standard_normal((16, 16, 3, 3)) * 0.1).astype("f4")
        def grads():
            wt = pc.Tensor(w.copy(), requires_grad=True)
            pc.ops.sum(pc.ops.conv2d(x, wt, padding=1)).backward()
            return np.asarray(wt.grad).copy()
        ref = {}
        for isa in isas:
            _core.set_isa_cap(isa); ref[isa] = grads()
        stop = False; bad = 0; runs = 0
        def train():
            global bad, runs
            while not stop:
                g = grads(); runs += 1
                if not any(np.allclose(g, r, rtol=1e-3, atol=1e-3) for r in ref.values()):
                    bad += 1
        t = threading.Thread(target=train); t.start()
        for i in range(3000):
            _core.set_isa_cap(isas[i % len(isas)])
        stop = True; t.join()
        print("runs", runs, "bad", bad)
        assert bad == 0 and runs > 0
    """
    r = run_python(code, timeout=300)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-2000:])
