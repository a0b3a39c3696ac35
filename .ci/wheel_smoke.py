"""Smoke test of an installed pocketcnn wheel (run by .ci/wheel-check in a fresh venv, outside the
checkout): it imports from site-packages, reports its CPU, and a conv forward and backward agree
with numpy."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import pocketcnn as pc

if "site-packages" not in pc.__file__:
    raise SystemExit(f"pocketcnn imported from {pc.__file__}, not from the installed wheel")
print("pocketcnn", pc.__version__, "from", pc.__file__)
print("cpu_info:", pc.cpu_info())

rng = np.random.default_rng(0)
x_np = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
w_np = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
b_np = rng.standard_normal(4).astype(np.float32)
g_np = rng.standard_normal((2, 4, 9, 8)).astype(np.float32)  # d loss / d output

x = pc.Tensor(x_np, requires_grad=True)
w = pc.Tensor(w_np, requires_grad=True)
b = pc.Tensor(b_np, requires_grad=True)
y = pc.ops.conv2d(x, w, b, padding=1)
(y * pc.Tensor(g_np)).sum().backward()

# The same in float64 numpy: windows of the padded input, (N, C, H, W, R, S).
win = sliding_window_view(
    np.pad(x_np.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), (2, 3)
)
y_ref = np.einsum("nchwrs,kcrs->nkhw", win, w_np) + b_np[:, None, None]
dw_ref = np.einsum("nchwrs,nkhw->kcrs", win, g_np)
dx_pad = np.zeros((2, 3, 11, 10))
for r in range(3):
    for s in range(3):
        dx_pad[:, :, r : r + 9, s : s + 8] += np.einsum("nkhw,kc->nchw", g_np, w_np[:, :, r, s])
checks = {
    "forward": (np.asarray(y), y_ref),
    "d/dx": (np.asarray(x.grad), dx_pad[:, :, 1:-1, 1:-1]),
    "d/dw": (np.asarray(w.grad), dw_ref),
    "d/db": (np.asarray(b.grad), g_np.sum(axis=(0, 2, 3))),
}
for name, (got, want) in checks.items():
    err = float(np.max(np.abs(got - want)))
    print(f"conv2d {name}: max |error| {err:.2e}")
    if not err < 1e-4 * max(1.0, float(np.max(np.abs(want)))):
        raise SystemExit(f"conv2d {name} disagrees with numpy")
print("wheel smoke test passed")
