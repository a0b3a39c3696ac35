"""Grad mode: ``with pc.no_grad(): ...`` records no graph (per thread, like PyTorch)."""

from __future__ import annotations

import functools

from . import _core


def is_grad_enabled() -> bool:
    """Whether ops on this thread record the autograd graph."""
    return _core.is_grad_enabled()


class _GradMode:
    _enabled: bool

    def __enter__(self):
        self._previous = _core.is_grad_enabled()
        _core.set_grad_enabled(self._enabled)
        return self

    def __exit__(self, *exc):
        _core.set_grad_enabled(self._previous)
        return False

    def __call__(self, func):
        """Use as a decorator: the function runs in this grad mode."""

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Context manager (or decorator) under which no op records the autograd graph."""

    _enabled = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Context manager (or decorator) that turns recording back on inside ``no_grad``."""

    _enabled = True
