"""The README's autograd example runs as printed, and its sample error message is the real one."""

import pathlib
import re

import numpy as np
import pytest

import pocketcnn as pc

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks():
    if not README.is_file():
        pytest.skip("README.md is not beside the tests (installed without the source tree)")
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_autograd_example_runs(capsys):
    block = next(b for b in _python_blocks() if "pc.ops.conv2d" in b)
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)
    assert namespace["y"].shape == (8, 25, 14, 14)
    assert namespace["w"].grad.shape == (25, 1, 3, 3)
    assert np.isfinite(namespace["loss"].item())
    np.testing.assert_allclose(np.asarray(namespace["probs"]).sum(axis=1), 1.0, rtol=1e-5)


def test_quoted_error_message_is_real():
    quoted = re.search(r"`(conv2d: input has .*?)`", README.read_text()).group(1)
    x = np.zeros((8, 3, 28, 28), np.float32)
    w = np.zeros((25, 1, 3, 3), np.float32)
    with pytest.raises(ValueError) as info:
        pc.ops.conv2d(x, w)
    assert quoted in str(info.value)
