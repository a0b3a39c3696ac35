"""Nothing reachable from Python may crash the interpreter.

Every case runs in a fresh interpreter (``sys.executable -c``), so a segfault, an abort or a C++
exception escaping the bindings shows up as a non-zero exit instead of taking pytest down.
Two lists, one per style; add cases for new ops to either:

- BAD_CALLS / EDGE_CALLS (lambda sources, activations, losses, arithmetic): a bad call must raise
  ValueError, TypeError or RuntimeError; an edge value (nan, inf, empty) must simply return.
- CASES (zero-argument lambdas, convolution, pooling, flatten, linear): each may return or raise
  one of EXPECTED_ERRORS; a crash or any other exception type fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import pocketcnn as pc

# Calls with bad arguments: each must raise ValueError or TypeError (nothing else).
BAD_CALLS = [
    # activations, softmax, losses
    "lambda: pc.ops.relu(None)",
    "lambda: pc.ops.sigmoid(np.array(['a', 'b']))",
    "lambda: pc.ops.tanh(np.array([1 + 2j]))",
    "lambda: pc.ops.softmax(np.ones((2, 3)), 5)",
    "lambda: pc.ops.softmax(np.ones((2, 3)), -3)",
    "lambda: pc.ops.log_softmax(np.ones(()), -1)",
    "lambda: pc.ops.softmax(np.ones(3), 1.5)",
    "lambda: pc.ops.cross_entropy(np.zeros((2, 3)), [0, 3])",
    "lambda: pc.ops.cross_entropy(np.zeros((2, 3)), [-1, 0])",
    "lambda: pc.ops.cross_entropy(np.zeros((2, 3)), [0, 2**62])",
    "lambda: pc.ops.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))",
    "lambda: pc.ops.cross_entropy(np.zeros((2, 3)), [0])",
    "lambda: pc.ops.cross_entropy(np.zeros((0, 3)), np.array([], np.int64))",
    "lambda: pc.ops.cross_entropy(np.zeros((2, 0)), [0, 0])",
    "lambda: pc.ops.cross_entropy(np.zeros(3), [0, 0, 0])",
    "lambda: pc.ops.cross_entropy(np.zeros((2, 3)), None)",
    "lambda: pc.ops.cross_entropy(np.zeros((2, 3)), [[0], [1]])",
    "lambda: pc.ops.cross_entropy(None, [0])",
    "lambda: pc.ops.mse_loss(np.zeros((4, 1)), np.zeros(4))",
    "lambda: pc.ops.mse_loss(np.zeros((0, 2)), np.zeros((0, 2)))",
    "lambda: pc.ops.mse_loss(np.zeros(2), None)",
    # arithmetic
    "lambda: pc.ops.add(np.ones((2, 3)), np.ones(4))",
    "lambda: pc.ops.mul(np.ones((2, 1)), np.ones((3, 1)))",
    "lambda: pc.ops.div(None, 1)",
    "lambda: pc.ops.sub(1, None)",
    "lambda: pc.Tensor(np.ones(3, np.float32)) + 'a'",
    "lambda: pc.Tensor(np.ones(3, np.float32)) * 1j",
    "lambda: pc.Tensor(np.ones(3, np.float32)) ** pc.Tensor(np.ones(3, np.float32))",
    "lambda: (-1) ** pc.Tensor(np.ones(3, np.float32))",
    "lambda: pc.ops.matmul(np.ones((2, 3)), np.ones((2, 3)))",
    "lambda: pc.ops.matmul(np.ones((2, 2, 2)), np.ones((2, 2)))",
    "lambda: pc.ops.matmul(np.ones(()), np.ones(3))",
    "lambda: pc.ops.exp({'a': 1})",
    "lambda: pc.ops.log([object()])",
    "lambda: bool(pc.Tensor(np.ones(2, np.float32)))",
    # reductions, reshape
    "lambda: pc.ops.sum(np.ones((2, 3)), 2)",
    "lambda: pc.ops.mean(np.ones((2, 3)), (0, 0))",
    "lambda: pc.ops.sum(np.ones((2, 3)), 0.5)",
    "lambda: pc.ops.sum(np.ones(()), 0)",
    "lambda: pc.ops.reshape(np.ones((2, 3)), 4, -1)",
    "lambda: pc.ops.reshape(np.ones((2, 3)), -1, -1)",
    "lambda: pc.ops.reshape(np.ones((2, 3)), -2, -3)",
    "lambda: pc.ops.reshape(np.ones((2, 3)), 2**62, 2**62)",
    "lambda: pc.ops.reshape(np.ones((0, 3)), -1, 0)",
    "lambda: pc.ops.reshape(np.ones((2, 3)), 'a')",
    "lambda: pc.ops.reshape(np.ones((2, 3)))",
    # autograd misuse
    "lambda: (pc.Tensor(np.ones(3, np.float32), requires_grad=True) * 2).backward()",
    "lambda: pc.ops.relu(np.ones(3)).backward()",
]

# Edge values: each must return normally (the result may hold inf or nan, as numpy's would).
EDGE_CALLS = [
    "lambda: pc.ops.log(np.array([0.0, -1.0]))",
    "lambda: pc.Tensor(np.array([0.0, 1.0, -1.0], np.float32)) / 0",
    "lambda: 1 / pc.Tensor(np.zeros(2, np.float32))",
    "lambda: pc.ops.div(np.ones(2), np.zeros(2))",
    "lambda: pc.Tensor(np.array([-1.0], np.float32)) ** 0.5",
    "lambda: pc.ops.softmax(np.array([[np.inf, 0.0], [np.nan, 1.0], [-np.inf, -np.inf]]))",
    "lambda: pc.ops.cross_entropy(np.array([[1e4, -1e4], [np.inf, 0.0]]), [1, 0])",
    "lambda: pc.ops.sigmoid(np.array([-1e30, 1e30, np.nan]))",
    "lambda: pc.ops.exp(np.array([1e4]))",
    "lambda: pc.ops.mean(np.zeros((0, 3)))",
    "lambda: pc.ops.sum(np.zeros((0, 3)), 1)",
    "lambda: pc.ops.softmax(np.zeros((0, 3)))",
    "lambda: pc.ops.softmax(np.zeros((2, 0)))",
    "lambda: pc.ops.add(np.zeros((0, 1)), np.zeros((1, 5)))",
    "lambda: pc.ops.matmul(np.zeros((0, 3)), np.zeros((3, 2)))",
    "lambda: pc.ops.matmul(np.zeros((2, 0)), np.zeros((0, 2)))",
    "lambda: pc.ops.reshape(np.zeros((0, 3)), 3, 0)",
    "lambda: grad_of(lambda t: pc.ops.log(t).sum(), np.array([0.0, -1.0]))",
    "lambda: grad_of(lambda t: (1 / t).sum(), np.zeros(3))",
    "lambda: grad_of(lambda t: (t ** 0.5).sum(), np.array([0.0, -1.0]))",
    "lambda: grad_of(lambda t: pc.ops.softmax(t, 0).sum(), np.zeros((0, 3)))",
    "lambda: grad_of(lambda t: pc.ops.mean(t), np.zeros((0, 3)))",
]

_RUNNER = """
import sys
import numpy as np
import pocketcnn as pc

def grad_of(fn, x):
    t = pc.Tensor(np.asarray(x, np.float32), requires_grad=True)
    fn(t).backward()
    return t.grad

bad, edge = {bad!r}, {edge!r}
failures = []
with np.errstate(all="ignore"):
    for src in bad:
        try:
            eval(src)()
        except (ValueError, TypeError, RuntimeError):
            pass
        except Exception as e:
            failures.append(f"{{src}}: raised {{type(e).__name__}}: {{e}}")
        else:
            failures.append(f"{{src}}: raised nothing")
    for src in edge:
        try:
            eval(src)()
        except Exception as e:
            failures.append(f"{{src}}: raised {{type(e).__name__}}: {{e}}")
if failures:
    sys.exit("\\n".join(failures))
"""


def test_bad_calls_raise_and_edge_values_return_without_crashing():
    script = _RUNNER.format(bad=BAD_CALLS, edge=EDGE_CALLS)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (
        f"exit code {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )


# ---- convolution, pooling, flatten, linear ----------------------------------------------------

ops = pc.ops
f32 = np.float32
X = np.ones((2, 3, 5, 5), f32)
W = np.ones((4, 3, 3, 3), f32)
NAN = np.full((1, 1, 4, 4), np.nan, f32)
INF = np.full((1, 1, 4, 4), -np.inf, f32)
BIG = 2**63 - 1  # the largest int the core accepts
HUGE = 10**30  # does not fit int64 at all


def backward_of(fn, *arrays):
    """fn on tensors that require grad, then backward with ones: reaches the backward kernels."""
    ts = [pc.Tensor(np.asarray(a, dtype=f32), requires_grad=True) for a in arrays]
    y = fn(*ts)
    y.backward(pc.Tensor(np.ones(y.shape, f32)))
    return [t.grad for t in ts]


def backward_twice(fn, *arrays):
    ts = [pc.Tensor(np.asarray(a, dtype=f32), requires_grad=True) for a in arrays]
    y = fn(*ts)
    ones = pc.Tensor(np.ones(y.shape, f32))
    y.backward(ones)
    y.backward(ones)


NOT_ARRAYS = [None, "abc", ["a", "b"], {"a": 1}, np.array([None]), np.ones((1, 1, 3, 3), complex)]
NOT_INTS = [None, "2", 1.5, float("nan"), [1], (1, 2, 3), (1,), (1, None), True, HUGE, -HUGE]

CASES = [
    # ---- conv2d: shapes ----
    lambda: ops.conv2d(X[0], W),
    lambda: ops.conv2d(X, W[0]),
    lambda: ops.conv2d(X[None], W),
    lambda: ops.conv2d(np.float32(1), W),
    lambda: ops.conv2d(np.array([]), W),
    lambda: ops.conv2d(X, np.array([])),
    lambda: ops.conv2d(X, W[:, :2]),
    lambda: ops.conv2d(X, np.ones((4, 3, 6, 6), f32)),
    lambda: ops.conv2d(X, np.ones((1, 3, 1, 200), f32)),
    lambda: ops.conv2d(X[:0], W),
    lambda: ops.conv2d(X[:, :0], W[:, :0]),
    lambda: ops.conv2d(X[:, :, :0], W),
    lambda: ops.conv2d(X, W[:0]),
    lambda: ops.conv2d(X, W[:, :, :0]),
    lambda: ops.conv2d(np.zeros((0, 3, 2**40, 2**40), f32), W),
    lambda: ops.conv2d(np.zeros((1, 3, 0, 2**62), f32), W),
    lambda: ops.conv2d(X, np.zeros((2**40, 3, 0, 3), f32)),
    # ---- conv2d: strides and padding ----
    *[lambda v=v: ops.conv2d(X, W, stride=v) for v in [0, -1, (0, 1), (1, -2), BIG, 2**62]],
    *[lambda v=v: ops.conv2d(X, W, stride=v) for v in NOT_INTS],
    *[lambda v=v: ops.conv2d(X, W, padding=v) for v in [-1, (0, -5), 2**31, 2**62, BIG]],
    *[lambda v=v: ops.conv2d(X, W, padding=v) for v in NOT_INTS + ["full", "", "SAME"]],
    lambda: ops.conv2d(X, W, padding="same", stride=BIG),
    lambda: ops.conv2d(X[0], W, padding="same"),
    lambda: ops.conv2d(X, W[0], padding="same"),
    lambda: ops.conv2d(X, np.ones((1, 3, 40, 1), f32), padding="same", stride=3),
    lambda: pc._core.conv2d(X, W, None, 1, 1, -1, 0, 0, 0),
    lambda: pc._core.conv2d(X, W, None, BIG, BIG, BIG, BIG, BIG, BIG),
    lambda: pc._core.conv2d(X, W, None, 0, 0, 0, 0, 0, 0),
    lambda: pc._core.conv2d(X, W, None, -BIG - 1, 1, 0, 0, 0, 0),
    # ---- conv2d: bias and input types ----
    lambda: ops.conv2d(X, W, np.ones(3, f32)),
    lambda: ops.conv2d(X, W, np.ones((4, 1), f32)),
    lambda: ops.conv2d(X, W, np.float32(1)),
    *[lambda v=v: ops.conv2d(v, W) for v in NOT_ARRAYS],
    *[lambda v=v: ops.conv2d(X, v) for v in NOT_ARRAYS],
    *[lambda v=v: ops.conv2d(X, W, v) for v in NOT_ARRAYS[1:]],
    # ---- conv2d: values and backward ----
    lambda: ops.conv2d(NAN, np.ones((1, 1, 3, 3), f32)),
    lambda: backward_of(lambda x, w: ops.conv2d(x, w, padding=1), NAN, np.ones((2, 1, 3, 3))),
    lambda: backward_of(lambda x, w: ops.conv2d(x, w, stride=BIG, padding=1), X, W),
    lambda: backward_of(lambda x: ops.conv2d(x, x), np.ones((2, 2, 3, 3))),
    lambda: backward_twice(lambda x, w: ops.conv2d(x, w), X, W),
    lambda: pc.Tensor(X, requires_grad=True).backward(),
    lambda: ops.conv2d(pc.Tensor(X, requires_grad=True), W).backward(pc.Tensor(X)),
    lambda: ops.conv2d(X.astype(bool), W.astype(np.int8)),
    lambda: ops.conv2d(X[:, :, ::-1, ::2], W.transpose(0, 1, 3, 2)),
    # ---- max_pool2d and avg_pool2d ----
    *[
        case
        for pool in (ops.max_pool2d, ops.avg_pool2d)
        for case in [
            lambda pool=pool: pool(X[0], 2),
            lambda pool=pool: pool(X[None], 2),
            lambda pool=pool: pool(np.array([]), 2),
            lambda pool=pool: pool(X[:0], 2),
            lambda pool=pool: pool(X[:, :, :0], 2),
            lambda pool=pool: pool(np.zeros((1, 1, 0, 2**62), f32), 2),
            lambda pool=pool: pool(X, 2, padding=2),
            lambda pool=pool: pool(X, 6),
            lambda pool=pool: pool(X, BIG, padding=2**62),
            lambda pool=pool: pool(X, BIG, padding=BIG // 2),
            lambda pool=pool: pool(X, 1, stride=BIG),
            lambda pool=pool: pool(X, 3, stride=BIG, padding=1),
            lambda pool=pool: pool(np.ones((1, 1, 1, 1), f32), 2, padding=1),
            lambda pool=pool: pool(np.ones((1, 1, 1, 1), f32), 3, stride=1, padding=1),
            *[lambda pool=pool, v=v: pool(X, v) for v in NOT_INTS + [0, -1, (2, 0)]],
            *[lambda pool=pool, v=v: pool(X, 2, stride=v) for v in NOT_INTS + [0, -3]],
            *[lambda pool=pool, v=v: pool(X, 2, padding=v) for v in NOT_INTS + [-1, 2**62]],
            *[lambda pool=pool, v=v: pool(v, 2) for v in NOT_ARRAYS],
            lambda pool=pool: pool(NAN, 2, padding=1),
            lambda pool=pool: pool(INF, 3, stride=1, padding=1),
            lambda pool=pool: backward_of(lambda x: pool(x, 2, padding=1), NAN),
            lambda pool=pool: backward_of(lambda x: pool(x, 3, stride=1, padding=1), INF),
            lambda pool=pool: backward_of(lambda x: pool(x, 3, stride=BIG, padding=1), X),
            lambda pool=pool: backward_twice(lambda x: pool(x, 2), X),
        ]
    ],
    lambda: pc._core.max_pool2d(X, 0, 2, 1, 1, 0, 0),
    lambda: pc._core.max_pool2d(X, 2, 2, 2, 2, -1, 0),
    lambda: pc._core.avg_pool2d(X, BIG, 1, 1, 1, 0, 0, True),
    lambda: pc._core.avg_pool2d(X, 2, 2, 0, 0, 1, 1, False),
    *[lambda v=v: ops.avg_pool2d(X, 2, count_include_pad=v) for v in [None, "yes", 2, np.nan]],
    # ---- flatten ----
    *[lambda v=v: ops.flatten(X, v) for v in [4, -5, BIG, -BIG - 1, *NOT_INTS]],
    *[lambda v=v: ops.flatten(v) for v in NOT_ARRAYS],
    lambda: ops.flatten(np.float32(3)),
    lambda: ops.flatten(np.zeros((0,), f32)),
    lambda: ops.flatten(np.zeros((0, 0, 0), f32), 1),
    lambda: ops.flatten(np.zeros((3, 0, 2**62), f32), 1),
    lambda: pc._core.flatten(X, 2**62),
    lambda: backward_of(lambda x: ops.flatten(x, -2), NAN),
    lambda: backward_twice(lambda x: ops.flatten(x), X),
    # ---- linear ----
    lambda: ops.linear(X, W),
    lambda: ops.linear(np.ones((2, 3), f32), np.ones((4, 2), f32)),
    lambda: ops.linear(np.ones((0, 3), f32), np.ones((4, 3), f32)),
    lambda: ops.linear(np.ones((2, 3), f32), np.ones((4, 3), f32), np.ones(5, f32)),
    *[lambda v=v: ops.linear(v, np.ones((4, 3), f32)) for v in NOT_ARRAYS],
]

# Exceptions a bad argument may legitimately raise. Anything else is reported as a failure.
EXPECTED_ERRORS = (ValueError, TypeError, RuntimeError, MemoryError, OverflowError)


def run_all() -> int:
    """Calls every case; returns 0 if each returned or raised an expected error."""
    unexpected = []
    for i, case in enumerate(CASES):
        print(f"case {i}", flush=True)  # the last line printed names a case that crashed
        try:
            case()
        except EXPECTED_ERRORS:
            pass
        except Exception as e:  # noqa: BLE001 - reporting it is the point
            unexpected.append(f"case {i}: unexpected {type(e).__name__}: {e}")
    print("\n".join(unexpected))
    print(f"ran {len(CASES)} cases", flush=True)
    return 1 if unexpected else 0


def test_bad_arguments_never_crash_the_interpreter():
    here = os.path.dirname(os.path.abspath(__file__))
    code = f"import sys; sys.path.insert(0, {here!r}); import test_no_crash; "
    code += "sys.exit(test_no_crash.run_all())"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=here
    )
    tail = "\n".join(proc.stdout.splitlines()[-15:]) + "\n" + proc.stderr[-3000:]
    assert proc.returncode == 0, f"subprocess exited with {proc.returncode}:\n{tail}"
    assert f"ran {len(CASES)} cases" in proc.stdout, tail


def test_the_case_list_is_long():
    assert len(CASES) > 150
