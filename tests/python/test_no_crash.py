"""Nothing reachable from Python may crash the interpreter.

Each case is a lambda's source, run in a fresh interpreter (``sys.executable -c``) so that a
segfault, an abort or a C++ exception escaping the bindings shows up as a non-zero exit instead
of taking pytest down. Bad calls must raise ValueError or TypeError; edge values (nan, inf, empty
tensors, huge logits) must simply return. Add cases for new ops to the lists below.
"""

from __future__ import annotations

import subprocess
import sys

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
