"""Rules users give for their own functions.

A function without source (a C extension, ``scipy.special.expit``), or one whose
derivative the user knows better than its code, gets its local partials here, in
the vocabulary of the built-in rules: ``partials(y, *args)`` returns
``d y / d args[i]`` given the result ``y = fn(*args)`` (a tuple when `fn` takes
several arguments).  The compiler then calls `fn` as it is, and `partials` where
the sum, product and chain rules need them::

    adc.defpartials(scipy.special.expit, lambda y, x: y * (1 - y))

    @adc.defpartials(softplus)
    def softplus_partials(y, x):
        return 1 / (1 + math.exp(-x))
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

_PARTIALS: dict[int, tuple[Callable, Callable]] = {}
version = 0  # bumped by every registration; compiled derivatives remember it


def defpartials(fn: Callable, partials: Callable | None = None) -> Any:
    """Register `partials` as the local derivative of `fn`; also a decorator.

    Returns `partials` (so the decorated function keeps its name).
    """
    if not callable(fn):
        raise TypeError(f"defpartials needs a callable, not {fn!r}")
    if partials is None:
        return lambda p: defpartials(fn, p)
    if not callable(partials):
        raise TypeError(f"the partials of {fn!r} must be callable, not {partials!r}")
    global version
    _PARTIALS[id(fn)] = (fn, partials)
    version += 1
    return partials


def partials_of(fn: Any) -> Callable | None:
    hit = _PARTIALS.get(id(fn))
    return hit[1] if hit is not None and hit[0] is fn else None


def stop_gradient(x: Any) -> Any:
    """`x` unchanged, but treated as a constant: no derivative flows through it."""
    return x
