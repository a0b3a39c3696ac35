"""Normalisation ops (PyTorch names and conventions)."""

from __future__ import annotations

from .. import _checks, _core
from ._args import as_tensor, optional_tensor


def batch_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    relu: bool = False,
) -> _core.Tensor:
    """PyTorch's ``F.batch_norm``: normalises ``input`` (N, C, ...) per channel (axis 1).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``. With ``training`` the batch's mean and
    biased variance (over N and the trailing axes) are used, and ``running_mean`` /
    ``running_var`` (Tensors of shape (C,), if given) are updated in place as PyTorch does:
    ``running = (1 - momentum) * running + momentum * batch`` with the unbiased variance
    (``* m / (m - 1)``, m values per channel). Without ``training`` the running statistics
    normalise (both are then required). ``momentum`` here is PyTorch's (the weight of the new
    batch); Keras' ``BatchNormalization(momentum=0.99)`` is ``1 - 0.99`` of it. ``relu``:
    ``relu()`` of the result in the same op (one pass over memory less, forward and backward).
    """
    x = as_tensor(input, "batch_norm: input")
    if not isinstance(training, bool):
        raise TypeError(f"batch_norm: training must be a bool, got {training!r}")
    if not isinstance(relu, bool):
        raise TypeError(f"batch_norm: relu must be a bool, got {relu!r}")
    momentum = _checks.number(momentum, "batch_norm: momentum")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"batch_norm: momentum must be in [0, 1], got {momentum}")
    eps = _checks.finite_number(eps, "batch_norm: eps", positive=True)
    stats = []
    for t, what in ((running_mean, "running_mean"), (running_var, "running_var")):
        if t is not None and not isinstance(t, _core.Tensor):
            raise TypeError(
                f"batch_norm: {what} must be a pc.Tensor (it is updated in place), got "
                f"{type(t).__name__}"
            )
        stats.append(t)
    return _core.batch_norm(
        x,
        stats[0],
        stats[1],
        optional_tensor(weight, "batch_norm: weight"),
        optional_tensor(bias, "batch_norm: bias"),
        training,
        momentum,
        eps,
        relu,
    )


__all__ = ["batch_norm"]
