import numpy as np
import pytest
from gradcheck import check_grad

import pocketcnn as pc


def linear_np(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


@pytest.mark.parametrize("n,fin,fout", [(1, 1, 1), (3, 7, 5), (8, 33, 10)])
def test_linear_forward_and_backward(n, fin, fout):
    rng = np.random.default_rng(n * 100 + fin)
    x, w, b = (
        rng.standard_normal((n, fin)),
        rng.standard_normal((fout, fin)),
        rng.standard_normal(fout),
    )
    check_grad(pc.ops.linear, linear_np, [x, w, b])
    check_grad(lambda x, w: pc.ops.linear(x, w), linear_np, [x, w])


def test_linear_shape_errors_name_the_shapes():
    x = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(3, 4\)"):
        pc.ops.linear(x, np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        pc.ops.linear(np.zeros((4, 5, 1), np.float32), np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="bias"):
        pc.ops.linear(x, np.zeros((3, 5), np.float32), np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="None"):
        pc.ops.linear(x, None)
