"""Optimisers (SGD, Adam, AdamW, RMSprop, Adagrad), learning-rate schedules and gradient clipping.

The update formulas are PyTorch's (``torch.optim.SGD/Adam/AdamW``) and run in C++
(``cpp/src/optim.cpp``), in place on each parameter and its state. Like Keras, an optimiser is
created without parameters and works on whatever list it is given::

    opt = pc.optim.Adam(1e-3)
    loss.backward()
    opt.step([w, b])          # state is kept per position in the list
    opt.zero_grad([w, b])

``model.compile(optimizer=opt)`` does this for a model's weights. ``lr`` may be a number or a
schedule (``StepDecay``, ``CosineDecay``) evaluated at the current epoch, which ``fit`` sets.
``clip_norm`` rescales all gradients together when their global L2 norm exceeds it.
State is plain float32 numpy arrays; ``state_dict()``/``load_state_dict()`` round-trip it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Callable, Union

import numpy as np

from . import _checks, _core

# ---- learning-rate schedules -----------------------------------------------------------------


class Schedule:
    """A learning rate as a function of the epoch (counting from 0)."""

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError


class StepDecay(Schedule):
    """``lr * gamma ** (epoch // step_size)``: divide the rate by 1/gamma every step_size epochs."""

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1):
        _check_positive("StepDecay: lr", lr)
        _checks.integer(step_size, "StepDecay: step_size", minimum=1)
        _check_positive("StepDecay: gamma", gamma)
        self.lr, self.step_size, self.gamma = float(lr), int(step_size), float(gamma)

    def __call__(self, epoch: int) -> float:
        return self.lr * self.gamma ** (epoch // self.step_size)

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "step_size": self.step_size, "gamma": self.gamma}


class CosineDecay(Schedule):
    """Cosine annealing from ``lr`` at epoch 0 to ``min_lr`` at epoch ``epochs`` (then flat)."""

    def __init__(self, lr: float, epochs: int, min_lr: float = 0.0):
        _check_positive("CosineDecay: lr", lr)
        _checks.int_at_least(epochs, "CosineDecay: epochs")
        if not 0 <= min_lr <= lr:
            raise ValueError(f"CosineDecay: min_lr must be in [0, lr={lr}], got {min_lr}")
        self.lr, self.epochs, self.min_lr = float(lr), int(epochs), float(min_lr)

    def __call__(self, epoch: int) -> float:
        t = min(epoch, self.epochs) / self.epochs
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * t)) / 2

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "epochs": self.epochs, "min_lr": self.min_lr}


_SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "StepDecay": StepDecay,
    "CosineDecay": CosineDecay,
}


def _check_positive(name: str, value) -> None:
    _checks.finite_number(value, name, positive=True)


def _check_nonneg(name: str, value) -> None:
    _checks.finite_number(value, name)


# ---- gradient clipping -------------------------------------------------------------------------


def clip_grad_norm(params: Sequence[_core.Tensor], max_norm: float) -> float:
    """Scales all gradients by ``max_norm / norm`` when their global L2 norm exceeds ``max_norm``.

    Returns the norm before clipping (like ``torch.nn.utils.clip_grad_norm_``). Parameters
    without a gradient are skipped.
    """
    _check_positive("clip_grad_norm: max_norm", max_norm)
    grads = [p.grad for p in params if p.grad is not None]
    norm = math.sqrt(_core.sum_of_squares(grads)) if grads else 0.0
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        for g in grads:
            _core.scale_in_place(g, coef)
    return norm


def global_grad_norm(params: Sequence[_core.Tensor]) -> float:
    """The L2 norm of all gradients together (inf or nan if any gradient is)."""
    grads = [p.grad for p in params if p.grad is not None]
    return math.sqrt(_core.sum_of_squares(grads)) if grads else 0.0


# ---- optimisers --------------------------------------------------------------------------------

LearningRate = Union[float, Schedule]


class Optimizer:
    """Base class: learning rate (or schedule), epoch, clipping, per-parameter state."""

    #: names of the per-parameter state arrays, in the order they are saved
    state_names: tuple[str, ...] = ()

    def __init__(self, lr: LearningRate, clip_norm: float | None = None):
        if isinstance(lr, Schedule):
            self.lr: LearningRate = lr
        else:
            _check_positive(f"{type(self).__name__}: lr", lr)
            self.lr = float(lr)
        if clip_norm is not None:
            _check_positive(f"{type(self).__name__}: clip_norm", clip_norm)
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        self.epoch = 0  # the schedule's input; fit sets it at the start of every epoch
        self.iterations = 0  # steps taken
        self.state: list[dict[str, Any]] = []  # one dict per parameter position

    # -- what subclasses provide --
    def _update(self, param: _core.Tensor, grad: _core.Tensor, state: dict, lr: float) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-serialisable (a schedule as {"schedule": ..., ...})."""
        lr: Any = self.lr
        if isinstance(self.lr, Schedule):
            lr = {"schedule": type(self.lr).__name__, **self.lr.get_config()}
        return {"lr": lr, "clip_norm": self.clip_norm}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        config = dict(config)
        lr = config.pop("lr")
        if isinstance(lr, dict):
            lr = dict(lr)
            name = lr.pop("schedule")
            if name not in _SCHEDULES:
                raise ValueError(f"unknown learning-rate schedule {name!r}")
            lr = _SCHEDULES[name](**lr)
        return cls(lr=lr, **config)

    # -- the loop --
    def set_epoch(self, epoch: int) -> None:
        """The epoch (from 0) at which the learning-rate schedule is evaluated."""
        self.epoch = int(epoch)

    @property
    def current_lr(self) -> float:
        """The learning rate the next step uses."""
        return self.lr(self.epoch) if isinstance(self.lr, Schedule) else self.lr

    def zero_grad(self, params: Sequence[_core.Tensor]) -> None:
        """Forgets the gradients (they accumulate across backward calls otherwise)."""
        for p in params:
            p.grad = None

    def step(self, params: Sequence[_core.Tensor]) -> None:
        """One update of every parameter that has a gradient (``clip_norm`` applied first)."""
        params = list(params)
        if self.state and len(self.state) != len(params):
            raise ValueError(
                f"{type(self).__name__}.step: got {len(params)} parameters, but the optimiser's "
                f"state is for {len(self.state)}; use one optimiser per model"
            )
        if not self.state:
            self.state = [{} for _ in params]
        if self.clip_norm is not None:
            clip_grad_norm(params, self.clip_norm)
        lr = self.current_lr
        for i, (p, state) in enumerate(zip(params, self.state)):
            g = p.grad
            if g is None:
                continue
            for name in self.state_names:
                if name in state and state[name].shape != tuple(p.shape):
                    raise ValueError(
                        f"{type(self).__name__}.step: parameter {i} has shape {tuple(p.shape)} "
                        f"but its state {name!r} has shape {state[name].shape}"
                    )
            self._update(p, g, state, lr)
        self.iterations += 1

    # -- state --
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: class, config, counters and copies of the state arrays."""
        return {
            "class": type(self).__name__,
            "config": self.get_config(),
            "iterations": self.iterations,
            "epoch": self.epoch,
            "state": [
                {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                for s in self.state
            ],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores counters and state arrays (from ``state_dict()`` of the same optimiser type)."""
        name = state_dict.get("class")
        if name != type(self).__name__:
            raise ValueError(f"load_state_dict: state is for {name!r}, not {type(self).__name__}")
        state = []
        for i, s in enumerate(state_dict["state"]):
            entry: dict[str, Any] = {}
            for k, v in s.items():
                if k == "step":
                    entry[k] = int(v)
                elif k in self.state_names:
                    entry[k] = np.ascontiguousarray(v, dtype=np.float32).copy()
                else:
                    raise ValueError(f"load_state_dict: unknown state {k!r} for parameter {i}")
            state.append(entry)
        self.state = state
        self.iterations = int(state_dict.get("iterations", 0))
        self.epoch = int(state_dict.get("epoch", 0))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    Per step (PyTorch's formula): ``g = grad + weight_decay * w``; with momentum
    ``buf = momentum * buf + (1 - dampening) * g`` (``buf = g`` on the first step) and
    ``g = buf`` (or ``g + momentum * buf`` with nesterov); then ``w -= lr * g``.
    """

    state_names = ("momentum_buffer",)

    def __init__(
        self,
        lr: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
        clip_norm: float | None = None,
    ):
        super().__init__(lr, clip_norm)
        _check_nonneg("SGD: momentum", momentum)
        _check_nonneg("SGD: weight_decay", weight_decay)
        _check_nonneg("SGD: dampening", dampening)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: nesterov needs momentum > 0 and dampening == 0, got momentum={momentum}, "
                f"dampening={dampening}"
            )
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.weight_decay, self.dampening = float(weight_decay), float(dampening)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
            "dampening": self.dampening,
        }

    def _update(self, param, grad, state, lr):
        buf = None
        first = False
        if self.momentum != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = np.zeros(tuple(param.shape), np.float32)
                first = True
            buf = state["momentum_buffer"]
        _core.sgd_update(
            param,
            grad,
            buf,
            lr,
            self.momentum,
            self.dampening,
            self.weight_decay,
            self.nesterov,
            first,
        )


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's bias correction; ``weight_decay`` is L2 in the gradient.

    Per step t: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``w -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps)``.
    """

    state_names = ("exp_avg", "exp_avg_sq")
    _decoupled = False

    def __init__(
        self,
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
    ):
        super().__init__(lr, clip_norm)
        name = type(self).__name__
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise TypeError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            _check_nonneg(f"{name}: betas[{i}]", b)
            if b >= 1:
                raise ValueError(f"{name}: betas[{i}] must be in [0, 1), got {b}")
        _check_nonneg(f"{name}: eps", eps)
        _check_nonneg(f"{name}: weight_decay", weight_decay)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "betas": list(self.betas),
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["betas"] = tuple(config["betas"])
        return super().from_config(config)

    def _update(self, param, grad, state, lr):
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros(tuple(param.shape), np.float32)
            state["exp_avg_sq"] = np.zeros(tuple(param.shape), np.float32)
            state["step"] = 0
        state["step"] += 1
        _core.adam_update(
            param,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            state["step"],
            lr,
            self.betas[0],
            self.betas[1],
            self.eps,
            self.weight_decay,
            self._decoupled,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w *= 1 - lr * weight_decay``
    before the Adam step, instead of adding ``weight_decay * w`` to the gradient."""

    _decoupled = True

    def __init__(
        self,
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        clip_norm: float | None = None,
    ):
        super().__init__(lr, betas, eps, weight_decay, clip_norm)


def _view(t: _core.Tensor) -> np.ndarray:
    """A writeable numpy view of a Tensor's data (the update runs in place on it)."""
    return np.asarray(t)


class RMSprop(Optimizer):
    """RMSprop with PyTorch's formula (``torch.optim.RMSprop``; Keras' ``rho`` is its alpha).

    Per step: ``g = grad + weight_decay * w``; ``v = rho v + (1 - rho) g^2``; centered also keeps
    ``a = rho a + (1 - rho) g`` and uses ``v - a^2``; ``d = g / (sqrt(v) + eps)``; with momentum
    ``buf = momentum buf + d``, ``w -= lr buf``, else ``w -= lr d``. (Keras puts eps inside the
    square root; the two differ only where v is tiny.) Vectorised numpy, in place.
    """

    state_names = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(
        self,
        lr: LearningRate = 1e-3,
        rho: float = 0.9,
        momentum: float = 0.0,
        eps: float = 1e-7,
        centered: bool = False,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
    ):
        super().__init__(lr, clip_norm)
        _check_nonneg("RMSprop: rho", rho)
        if rho >= 1:
            raise ValueError(f"RMSprop: rho must be in [0, 1), got {rho}")
        _check_nonneg("RMSprop: momentum", momentum)
        _check_positive("RMSprop: eps", eps)
        _check_nonneg("RMSprop: weight_decay", weight_decay)
        self.rho, self.momentum, self.eps = float(rho), float(momentum), float(eps)
        self.centered, self.weight_decay = bool(centered), float(weight_decay)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "eps": self.eps,
            "centered": self.centered,
            "weight_decay": self.weight_decay,
        }

    def _update(self, param, grad, state, lr):
        w, g = _view(param), np.asarray(grad, dtype=np.float32)
        if self.weight_decay:
            g = (g + np.float32(self.weight_decay) * w).astype(np.float32)
        shape = tuple(param.shape)
        v = state.setdefault("square_avg", np.zeros(shape, np.float32))
        v *= self.rho
        v += (1 - self.rho) * g * g
        if self.centered:
            a = state.setdefault("grad_avg", np.zeros(shape, np.float32))
            a *= self.rho
            a += (1 - self.rho) * g
            denom = np.sqrt(v - a * a) + self.eps
        else:
            denom = np.sqrt(v) + self.eps
        d = g / denom
        if self.momentum:
            buf = state.setdefault("momentum_buffer", np.zeros(shape, np.float32))
            buf *= self.momentum
            buf += d
            d = buf
        w -= np.float32(lr) * d


class Adagrad(Optimizer):
    """Adagrad with PyTorch's formula (``torch.optim.Adagrad``): ``g = grad + weight_decay * w``,
    ``sum += g^2``, ``w -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps)``. Vectorised
    numpy, in place."""

    state_names = ("sum",)

    def __init__(
        self,
        lr: LearningRate = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        clip_norm: float | None = None,
    ):
        super().__init__(lr, clip_norm)
        _check_nonneg("Adagrad: lr_decay", lr_decay)
        _check_nonneg("Adagrad: weight_decay", weight_decay)
        _check_nonneg("Adagrad: initial_accumulator_value", initial_accumulator_value)
        _check_positive("Adagrad: eps", eps)
        self.lr_decay, self.weight_decay = float(lr_decay), float(weight_decay)
        self.initial_accumulator_value, self.eps = float(initial_accumulator_value), float(eps)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
        }

    def _update(self, param, grad, state, lr):
        w, g = _view(param), np.asarray(grad, dtype=np.float32)
        if self.weight_decay:
            g = (g + np.float32(self.weight_decay) * w).astype(np.float32)
        if "sum" not in state:
            state["sum"] = np.full(tuple(param.shape), self.initial_accumulator_value, np.float32)
            state["step"] = 0
        state["step"] += 1
        state["sum"] += g * g
        clr = lr / (1 + (state["step"] - 1) * self.lr_decay)
        w -= np.float32(clr) * g / (np.sqrt(state["sum"]) + self.eps)


_OPTIMIZERS: dict[str, type[Optimizer]] = {
    "SGD": SGD,
    "Adam": Adam,
    "AdamW": AdamW,
    "RMSprop": RMSprop,
    "Adagrad": Adagrad,
}


def get(identifier: str | Optimizer) -> Optimizer:
    """An optimiser from a name (``'sgd'``, ``'adam'``, ``'adamw'``, default settings) or as is."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        by_lower = {k.lower(): v for k, v in _OPTIMIZERS.items()}
        if identifier.lower() in by_lower:
            return by_lower[identifier.lower()]()  # type: ignore[call-arg]  # lr has defaults
        raise ValueError(
            f"unknown optimizer {identifier!r}; use one of {sorted(by_lower)} or an instance"
        )
    raise TypeError(f"optimizer must be a name or a pocketcnn.optim.Optimizer, got {identifier!r}")


def from_state_dict(state_dict: dict[str, Any]) -> Optimizer:
    """A new optimiser of the saved class and config, with the saved state loaded."""
    name = state_dict.get("class")
    if name not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer class {name!r} (known: {sorted(_OPTIMIZERS)})")
    opt = _OPTIMIZERS[name].from_config(state_dict["config"])
    opt.load_state_dict(state_dict)
    return opt


__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineDecay",
    "RMSprop",
    "Optimizer",
    "Schedule",
    "StepDecay",
    "clip_grad_norm",
    "from_state_dict",
    "get",
    "global_grad_norm",
]
