"""DLPack: Tensor.__dlpack__ / __dlpack_device__ and pc.from_dlpack share memory with numpy and
PyTorch (same address); what cannot be shared is copied, or refused with copy=False."""

import gc

import numpy as np
import pytest

import pocketcnn as pc


def address(obj):
    return np.asarray(obj).__array_interface__["data"][0]


class Capsule:
    """Hands numpy a capsule made by a given ``__dlpack__`` call."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)


def test_numpy_reads_a_tensor_without_a_copy():
    t = pc.Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    a = np.from_dlpack(t)
    assert a.shape == (3, 4) and a.dtype == np.float32
    assert address(a) == address(t)
    a[1, 2] = -5  # writes show through
    assert np.asarray(t)[1, 2] == -5


def test_the_capsule_keeps_the_tensor_alive():
    t = pc.ops.relu(pc.Tensor(np.full((64, 64), 3.0, np.float32)))  # memory pocketcnn owns
    a = np.from_dlpack(t)
    del t
    gc.collect()
    np.full((64, 64), 9.0, np.float32)  # would reuse freed memory
    assert np.all(a == 3.0)


def in_use():
    return pc.memory_stats()["in_use_bytes"]


@pytest.mark.parametrize("max_version", [None, (1, 0)])
def test_capsules_free_the_tensor_once_released(max_version):
    base = in_use()
    t = pc.ops.relu(pc.Tensor(np.ones((256, 256), np.float32)))  # 256 KiB pocketcnn owns
    capsules = [t.__dlpack__(max_version=max_version) for _ in range(10)]  # never consumed
    if max_version is None or int(np.__version__.split(".")[0]) >= 2:
        consumed = np.from_dlpack(Capsule(t.__dlpack__(max_version=max_version)))
    else:
        consumed = np.from_dlpack(Capsule(t.__dlpack__()))
    del t
    gc.collect()
    assert in_use() > base  # the capsules and the numpy array keep the data
    del capsules
    gc.collect()
    assert in_use() > base  # numpy still uses it
    assert np.all(consumed == 1)
    del consumed
    gc.collect()
    assert in_use() == base  # the consumer's deleter freed it


def test_protocol_arguments():
    t = pc.Tensor(np.ones(3, np.float32))
    assert t.__dlpack_device__() == (1, 0)
    assert "dltensor_versioned" in repr(t.__dlpack__(max_version=(1, 0)))
    assert '"dltensor"' in repr(t.__dlpack__(max_version=(0, 8)))
    with pytest.raises(BufferError, match="device"):
        t.__dlpack__(dl_device=(2, 0))
    with pytest.raises(BufferError, match="stream"):
        t.__dlpack__(stream=1)


@pytest.mark.parametrize("max_version", [None, (1, 0)])
def test_consumers_take_both_capsule_kinds(max_version):
    if max_version and int(np.__version__.split(".")[0]) < 2:
        pytest.skip("numpy < 2 reads only the legacy capsule")
    t = pc.Tensor(np.arange(5, dtype=np.float32))
    shared = np.from_dlpack(Capsule(t.__dlpack__(max_version=max_version)))
    assert address(shared) == address(t)
    copied = np.from_dlpack(Capsule(t.__dlpack__(max_version=max_version, copy=True)))
    assert address(copied) != address(t)
    np.testing.assert_array_equal(copied, np.asarray(t))


def test_from_dlpack_numpy_zero_copy():
    a = np.arange(10, dtype=np.float32)
    t = pc.from_dlpack(a)
    assert address(t) == address(a)
    a[0] = 42
    assert np.asarray(t)[0] == 42


@pytest.mark.parametrize(
    "source, reason",
    [
        (np.arange(10, dtype=np.float64), "dtype float64"),
        (np.arange(20, dtype=np.float32)[::2], "not C-contiguous"),
    ],
)
def test_from_dlpack_copies_or_refuses(source, reason):
    t = pc.from_dlpack(source)
    np.testing.assert_array_equal(np.asarray(t), source.astype(np.float32))
    assert address(t) != address(source)
    with pytest.raises(BufferError, match=reason):
        pc.from_dlpack(source, copy=False)


def test_from_dlpack_read_only_is_copied():
    a = np.arange(4, dtype=np.float32)
    a.flags.writeable = False
    t = pc.from_dlpack(a)
    assert address(t) != address(a)
    np.asarray(t)[0] = 7  # a tensor is writeable: it must not alias read-only memory
    assert a[0] == 0
    with pytest.raises(BufferError, match="read-only"):
        pc.from_dlpack(a, copy=False)


def test_from_dlpack_copy_true_and_bad_input():
    a = np.ones(3, np.float32)
    assert address(pc.from_dlpack(a, copy=True)) != address(a)
    with pytest.raises(TypeError, match="__dlpack__"):
        pc.from_dlpack([1.0, 2.0])


def test_torch_round_trip_shares_memory():
    torch = pytest.importorskip("torch")
    t = pc.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    tt = torch.from_dlpack(t)
    assert tt.data_ptr() == address(t) and tt.shape == (2, 3) and tt.dtype == torch.float32
    back = pc.from_dlpack(tt)
    assert address(back) == tt.data_ptr()
    tt[0, 0] = 100
    assert np.asarray(t)[0, 0] == 100 and np.asarray(back)[0, 0] == 100
    del t, back
    gc.collect()
    assert tt[0, 0].item() == 100


def test_torch_non_contiguous_and_grad():
    torch = pytest.importorskip("torch")
    view = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()
    t = pc.from_dlpack(view)
    np.testing.assert_array_equal(np.asarray(t), view.numpy())
    with pytest.raises(BufferError, match="not C-contiguous"):
        pc.from_dlpack(view, copy=False)
    with pytest.raises(BufferError, match="could not be shared"):
        pc.from_dlpack(torch.ones(2, requires_grad=True))


def test_torch_keeps_a_tensor_alive_and_releases_it():
    torch = pytest.importorskip("torch")
    base = in_use()
    t = pc.ops.relu(pc.Tensor(np.full((128, 128), 2.0, np.float32)))
    tt = torch.from_dlpack(t)
    del t
    gc.collect()
    assert in_use() > base and tt.sum().item() == 2.0 * 128 * 128
    del tt
    gc.collect()
    assert in_use() == base


def test_jax():
    jnp = pytest.importorskip("jax.numpy")
    # XLA shares only 64-byte aligned CPU buffers: the ones pocketcnn allocates are.
    t = pc.ops.relu(pc.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)))
    j = jnp.from_dlpack(t)
    assert j.unsafe_buffer_pointer() == address(t)
    np.testing.assert_array_equal(np.asarray(j), np.asarray(t))
    # JAX arrays are immutable (exported read-only), so pocketcnn copies them
    back = pc.from_dlpack(jnp.arange(4.0, dtype=jnp.float32))
    np.testing.assert_array_equal(np.asarray(back), np.arange(4.0))
    with pytest.raises(BufferError, match="read-only"):
        pc.from_dlpack(jnp.arange(4.0, dtype=jnp.float32), copy=False)
