"""Data-parallel training over MPI: ``mpiexec -n K`` ranks of mpi_worker.py, checked here.

Skipped when mpi4py or mpiexec is missing (``.ci/run`` installs openmpi-bin and mpi4py). Every
launch has a timeout, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import pocketcnn as pc
from pocketcnn import distributed as dist

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "mpi_worker.py")
MPIEXEC = shutil.which("mpiexec")


def _have_mpi4py() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def requires_mpi(test):
    """Needs mpiexec and mpi4py; slow (a job of several processes), so .ci/run runs it once."""
    skip = pytest.mark.skipif(
        MPIEXEC is None or not _have_mpi4py(),
        reason="needs Open MPI (apt-get install openmpi-bin libopenmpi-dev) and pip install mpi4py",
    )
    return skip(pytest.mark.slow(test))


def mpiexec_args(ranks: int) -> list[str]:
    args = [MPIEXEC, "-n", str(ranks), "--oversubscribe"]
    if os.geteuid() == 0:
        args.append("--allow-run-as-root")
    return args


def launch(ranks: int, *worker_args: str, timeout: float = 90, prefix=None, env=None):
    """Runs mpi_worker.py on `ranks` ranks; returns (CompletedProcess, seconds)."""
    cmd = [*(prefix or mpiexec_args(ranks)), sys.executable, WORKER, *worker_args]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    start = time.monotonic()
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=HERE
    )
    return result, time.monotonic() - start


def check_ok(result) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


# ---- one process: everything is a no-op ---------------------------------------------------------


def test_one_process_is_a_no_op():
    assert not dist.init()
    assert (dist.rank(), dist.size(), dist.is_root(), dist.is_initialized()) == (0, 1, True, False)
    a = np.arange(4, dtype=np.float32)
    assert dist.allreduce_(a, op="mean") is a and a.tolist() == [0, 1, 2, 3]
    t = pc.Tensor(np.ones(3, np.float32))
    assert dist.broadcast_(t) is t
    dist.barrier()
    assert dist.allgather_object({"x": 1}) == [{"x": 1}]


def test_fit_distributed_on_one_process_is_plain_fit():
    sys.path.insert(0, HERE)
    import mpi_worker

    x, y = mpi_worker.data()
    histories, weights = [], []
    for distributed in (False, True):
        model = mpi_worker.build_model(seed=3)
        h = model.fit(x, y, batch_size=16, epochs=1, verbose=0, distributed=distributed)
        histories.append(h.history)
        weights.append(mpi_worker.flat_weights(model))
    assert histories[0] == histories[1]
    np.testing.assert_array_equal(weights[0], weights[1])


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="allreduce_: op must be 'sum' or 'mean'"):
        dist.allreduce_(np.zeros(2, np.float32), op="max")
    with pytest.raises(ValueError, match="C-contiguous and writeable"):
        dist.allreduce_(np.zeros((4, 4), np.float32)[:, ::2])
    with pytest.raises(TypeError, match="dtype uint8"):
        dist.broadcast_(np.zeros(2, np.uint8))
    with pytest.raises(TypeError, match="op='mean' needs a float array"):
        dist.allreduce_(np.zeros(2, np.int64), op="mean")
    with pytest.raises(ValueError, match="timeout must be > 0"):
        dist.init(timeout=0)
    with pytest.raises(TypeError, match="overlap must be a bool, got 'yes'"):
        dist.init(overlap="yes")


def test_threads_per_rank_default_to_cores_over_local_ranks(monkeypatch):
    from pocketcnn import _distributed_env as env

    for name in env._LOCAL_SIZE_VARS:
        monkeypatch.delenv(name, raising=False)
    assert env.default_threads_per_rank() is None  # no launcher: OpenMP's own default
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    for local, threads in ((1, None), (2, 4), (3, 2), (8, 1), (16, 1)):
        monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", str(local))
        assert env.default_threads_per_rank() == threads
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})  # mpiexec bound it to a core
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2")
    assert env.default_threads_per_rank() == 1


def test_sharded_loader_batches_are_the_one_rank_batches_interleaved():
    x = np.arange(23, dtype=np.float32)[:, None]
    y = np.arange(23)
    for shuffle in (False, True):
        one = pc.DataLoader(x, y, batch_size=8, shuffle=shuffle, seed=4, prefetch=0)
        shards = [dist.ShardedLoader(x, y, 4, r, 2, shuffle, seed=4) for r in range(2)]
        for loader in (one, *shards):
            loader.set_epoch(3)
        per_rank = [list(s) for s in shards]
        assert all(len(batches) == len(one) == 3 for batches in per_rank)
        for k, (_, yb) in enumerate(one):
            parts = [per_rank[r][k][1] for r in range(2)]
            np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.sort(yb))
            np.testing.assert_array_equal(parts[0], yb[0::2])
        # the last batch of 7 splits 4 + 3; with 3 ranks and batch 3, the last 5 split 2 + 2 + 1
        assert [len(per_rank[r][-1][1]) for r in range(2)] == [4, 3]


def test_buckets_follow_the_backward_order_and_start_small_networks_early():
    from pocketcnn._gradient_buckets import _group

    lecture = [225, 25, 11250, 50, 125000, 100, 1000, 10]  # conv1, conv2, dense1, dense2 (w, b)
    groups, in_place = _group(lecture, 3, 25 * 2**20)
    # the dense layers' bucket (504 KB, with the extras) starts before the convs' backward
    assert groups == [[7, 6, 5, 4], [3, 2, 1, 0]] and in_place == [False, False]
    groups, in_place = _group(lecture, 3, 4096)  # gradients above 4 KB reduced on themselves
    assert sorted(i for g in groups for i in g) == list(range(8))
    assert [g for g, own in zip(groups, in_place) if own] == [[4], [2]]
    assert not in_place[0]
    assert _group([5000], 3, 4096) == ([[], [0]], [False, True])  # the extras' own bucket first


# ---- under mpiexec ---------------------------------------------------------------------------


@requires_mpi
def test_weights_bitwise_identical_on_every_rank_after_every_step(tmp_path):
    out = tmp_path / "bitwise.npz"
    result, _ = launch(2, "bitwise", str(out))
    check_ok(result)
    saved = np.load(out)
    assert int(saved["steps"]) == 2 * 22  # 2 epochs of ceil(700 / 32) = 22 global batches
    written = sorted(p.name for p in tmp_path.glob("*.pcnn"))
    assert written == ["ckpt-rank0-1.pcnn", "ckpt-rank0-2.pcnn", "saved-rank0.pcnn"]
    final = pc.load_model(tmp_path / "saved-rank0.pcnn")
    final_weights = np.concatenate([w.ravel() for w in final.get_weights()])
    np.testing.assert_array_equal(final_weights, saved["weights"])


@requires_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_k_ranks_of_batch_b_equal_one_rank_of_batch_kb(tmp_path, ranks):
    """2 x 16 and 3 x 10 (uneven: 30 = 3 x 10) against 1 x 32 and 1 x 30, 20 steps of Adam."""
    sys.path.insert(0, HERE)
    import mpi_worker

    out = tmp_path / "multi.npz"
    result, _ = launch(ranks, "equivalence", str(out))
    check_ok(result)
    got = np.load(out)
    threads = pc.get_num_threads()
    pc.set_num_threads(1)
    try:
        x, y = mpi_worker.data()
        model = mpi_worker.build_model(seed=3)
        per_rank = mpi_worker.GLOBAL_BATCH // ranks
        h = model.fit(
            x,
            y,
            batch_size=per_rank * ranks,
            epochs=mpi_worker.EPOCHS,
            seed=9,
            verbose=0,
            validation_split=0.1,
        )
    finally:
        pc.set_num_threads(threads)
    assert int(got["steps"]) == model.optimizer.iterations >= 20
    np.testing.assert_allclose(got["weights"], mpi_worker.flat_weights(model), rtol=0, atol=1e-5)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(got[key], h.history[key], rtol=1e-5, atol=1e-6)
    if ranks == 2:  # the same ranks and threads: the same bits run to run
        again = tmp_path / "again.npz"
        check_ok(launch(ranks, "equivalence", str(again))[0])
        np.testing.assert_array_equal(np.load(again)["weights"], got["weights"])


@requires_mpi
def test_gradients_reduced_beside_backward_equal_those_reduced_after_it(tmp_path):
    """The backward's grad-ready hooks start buckets early: the same bits as reducing after."""
    out = tmp_path / "overlap.npz"
    check_ok(launch(2, "overlap", str(out))[0])
    got = np.load(out)
    assert int(got["differ"]) == 0
    assert bool(got["same_on_all_ranks"])
    # every bucket was started by the hooks, the last with the first layer's gradients, while
    # the backward pass ran (finish() only waits)
    assert int(got["buckets"]) >= 3
    assert (got["started_in_backward"] == int(got["buckets"])).all()


@requires_mpi
def test_nan_on_one_rank_stops_every_rank_at_the_same_step():
    result, _ = launch(2, "nan")
    check_ok(result)
    lines = sorted(line for line in result.stdout.splitlines() if line.startswith("rank "))
    assert len(lines) == 2, result.stdout + result.stderr
    assert all("batch 7/22" in line and "loss (on rank" in line for line in lines), lines
    assert lines[0].split(":", 1)[1] == lines[1].split(":", 1)[1]  # the same message on both


@requires_mpi
@pytest.mark.parametrize(
    "how, message",
    [
        ("kill", r"exited on signal 9|killed"),
        ("raise", r"RuntimeError in fit: a failure on rank 1 only; aborting the other ranks"),
        ("hang", r"waited \d+ s \(timeout 5 s"),
    ],
)
def test_a_failing_rank_ends_the_job_with_a_message_in_bounded_time(how, message):
    result, seconds = launch(2, how, timeout=60)
    text = result.stdout + result.stderr
    assert result.returncode != 0, text
    assert f"rank 1 at batch 5: {how}" in text
    assert re.search(message, text), text
    assert "finished training" not in text
    assert seconds < 60


@requires_mpi
def test_pocketcnn_train_under_mpiexec_matches_one_rank_accuracy(fashion_mnist, tmp_path):
    """2 ranks x batch 32 vs 1 rank x batch 64 on a Fashion-MNIST subset: same test accuracy."""
    common = ["train", "--epochs", "1", "--limit-train", "3000", "--limit-test", "1000"]
    cli = [sys.executable, "-m", "pocketcnn.cli"]
    # OMP_NUM_THREADS unset under mpiexec: each rank defaults to cores / 2 (unbound ranks)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    cores = len(os.sched_getaffinity(0))
    threads = max(1, min(cores, (os.cpu_count() or 1) // 2))
    accuracies = []
    for prefix, batch in ((mpiexec_args(2), "32"), ([], "64")):
        model = tmp_path / f"m{batch}.pcnn"
        args = [*prefix, *cli, *common, "--batch-size", batch, "--out", str(model)]
        if not prefix:
            args += ["--threads", str(threads)]
        result = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        check_ok(result)
        accuracies.append(float(re.search(r"Test accuracy: ([0-9.]+)", result.stdout).group(1)))
        assert model.exists()
        if prefix:
            assert f"2 MPI ranks x {threads} thread(s)" in result.stdout
            assert result.stdout.count("Test accuracy") == 1  # rank 0 prints, not rank 1
            assert "Gradient allreduce" in result.stdout
    assert accuracies[0] > 0.6
    assert abs(accuracies[0] - accuracies[1]) <= 0.005, accuracies


# ---- two "machines": network namespaces joined by a veth pair, MPI over TCP only -------------

NETNS_RSH = """#!/bin/sh
# Open MPI's rsh agent for the test: starts the daemon on "host" $1 inside the namespace that owns
# that address (what ssh would do on a real second machine).
host=$1; shift
case "$host" in
{cases}
  *) echo "netns-rsh: unknown host $host" >&2; exit 1 ;;
esac
exec ip netns exec "$ns" /bin/sh -c "$*"
"""


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=20)


def _make_namespaces(names: list[str], addresses: list[str]) -> None:
    for ns in names:
        _run("ip", "netns", "add", ns)
    veth = ["link", "add", "pcnnveth", "type", "veth", "peer", "name", "pcnnveth"]
    _run("ip", "-n", names[0], *veth, "netns", names[1])
    for ns, address in zip(names, addresses):
        _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "pcnnveth")
        _run("ip", "-n", ns, "link", "set", "pcnnveth", "up")
        _run("ip", "-n", ns, "link", "set", "lo", "up")


@pytest.fixture
def two_hosts(tmp_path):
    """Namespaces A and B, each with one end of a veth pair named pcnnveth (10.231.7.1 / .2).

    Yields (mpiexec prefix run inside A, read_tx_bytes()). Skipped when namespaces cannot be made.
    """
    if MPIEXEC is None or not _have_mpi4py() or shutil.which("ip") is None:
        pytest.skip("needs mpiexec, mpi4py and iproute2 (ip)")
    tag = f"pcnn{os.getpid() % 100000}"
    names = [f"{tag}a", f"{tag}b"]
    addresses = ["10.231.7.1", "10.231.7.2"]
    try:
        try:
            _make_namespaces(names, addresses)
        except (subprocess.CalledProcessError, OSError) as e:
            what = " ".join(e.cmd) if isinstance(e, subprocess.CalledProcessError) else ""
            reason = (getattr(e, "stderr", "") or str(e)).strip()
            needs = "root with CAP_SYS_ADMIN and CAP_NET_ADMIN, and veth support"
            pytest.skip(f"cannot make two network namespaces (needs {needs}): {what}: {reason}")
        agent = tmp_path / "netns-rsh"
        cases = "\n".join(f"  {a}) ns={n} ;;" for a, n in zip(addresses, names))
        agent.write_text(NETNS_RSH.format(cases=cases))
        agent.chmod(0o755)
        hostfile = tmp_path / "hosts"
        hostfile.write_text("".join(f"{a} slots=1\n" for a in addresses))
        prefix = ["ip", "netns", "exec", names[0], MPIEXEC, "--allow-run-as-root", "-n", "2"]
        prefix += ["--hostfile", str(hostfile), "--mca", "plm_rsh_agent", str(agent)]
        # TCP only (no shared memory), on the veth only (daemons and ranks)
        prefix += ["--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "pcnnveth"]
        prefix += ["--mca", "oob_tcp_if_include", "pcnnveth"]

        def tx_bytes() -> int:
            path = "/sys/class/net/pcnnveth/statistics/tx_bytes"
            cmd = ["ip", "netns", "exec", names[1], "cat", path]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=True)
            return int(out.stdout)

        yield prefix, tx_bytes
    finally:
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


@requires_mpi
def test_two_hosts_over_tcp_bitwise_and_equal_to_one_rank(two_hosts, tmp_path):
    sys.path.insert(0, HERE)
    import mpi_worker

    prefix, tx_bytes = two_hosts
    before = tx_bytes()
    out = tmp_path / "bitwise.npz"
    result, _ = launch(2, "bitwise", str(out), prefix=prefix)
    check_ok(result)
    assert int(np.load(out)["steps"]) == 2 * 22
    # B's rank sent its gradients (2,478 floats, 9.9 KB) at each of the 44 steps through the veth
    assert tx_bytes() - before > 44 * 8_000
    out = tmp_path / "multi.npz"
    result, _ = launch(2, "equivalence", str(out), prefix=prefix)
    check_ok(result)
    threads = pc.get_num_threads()
    pc.set_num_threads(1)
    try:
        x, y = mpi_worker.data()
        model = mpi_worker.build_model(seed=3)
        model.fit(x, y, batch_size=32, seed=9, verbose=0, validation_split=0.1)
    finally:
        pc.set_num_threads(threads)
    got = np.load(out)["weights"]
    np.testing.assert_allclose(got, mpi_worker.flat_weights(model), rtol=0, atol=1e-5)


@requires_mpi
def test_two_hosts_a_rank_killed_ends_the_job(two_hosts):
    prefix, _ = two_hosts
    result, seconds = launch(2, "kill", prefix=prefix, timeout=60)
    text = result.stdout + result.stderr
    assert result.returncode != 0 and "rank 1 at batch 5: kill" in text, text
    assert re.search(r"exited on signal 9|killed", text), text
    assert seconds < 60
