"""Central differences of a function of numbers, arrays and containers of them: each
number is moved where it sits, so a list stays a list and a dict a dict (what
`adc.check_grad` and `adc check` compare the AD gradient with)."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np


def relative_error(fn: Callable, values: tuple, i: int, gradient: Any,
                   step: float = 1e-6) -> float:
    """Largest difference between the AD gradient of input `i` and central differences
    over every real number in it, relative to the gradient's size (at least 1).  Each
    number is perturbed where it sits, so a list stays a list and a dict a dict."""
    worst, scale = 0.0, 1.0
    for path in _number_paths(values[i]):
        x = np.asarray(_at(values[i], path), dtype=np.float64)
        exact = np.asarray(_at(gradient, path), dtype=np.float64)
        numeric = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            h = step * max(1.0, abs(float(x[idx])))
            shifted = []
            for sign in (1.0, -1.0):
                moved = x.copy()
                moved[idx] += sign * h
                leaf = moved.item() if x.ndim == 0 else moved
                argument = _replaced(values[i], path, leaf)
                shifted.append(float(fn(*values[:i], argument, *values[i + 1:])))
            numeric[idx] = (shifted[0] - shifted[1]) / (2 * h)
        if exact.size:
            worst = max(worst, float(np.max(np.abs(exact - numeric))))
            scale = max(scale, float(np.max(np.abs(exact))))
    return worst / scale


def _number_paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Where the real numbers and real arrays in `value` sit: a key per level."""
    if isinstance(value, (list, tuple)):
        return [p for k, v in enumerate(value) for p in _number_paths(v, (*path, k))]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _number_paths(v, (*path, k))]
    real = (isinstance(value, np.ndarray) and value.dtype.kind in "iuf") or (
        isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)))
    return [path] if real else []


def _at(value: Any, path: tuple) -> Any:
    for key in path:
        value = value[key]
    return value


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    """`value` with the item at `path` replaced by `new`, in copies of the containers."""
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, key: _replaced(value[key], rest, new)}
    items = [_replaced(v, rest, new) if k == key else v for k, v in enumerate(value)]
    if isinstance(value, list):
        return items
    return type(value)(*items) if hasattr(type(value), "_fields") else tuple(items)


def by_parameter(f: Callable, args: tuple) -> tuple[Callable, tuple, tuple[int, ...]]:
    """`f` as a function of one value per parameter (``*args`` as one tuple, keyword-only
    parameters and ``**kwargs`` after it, as the derivative code takes them), the values
    a call with `args` binds, and the positions of the parameters that call gave."""
    signature = inspect.signature(f)
    bound = signature.bind(*args)
    given = tuple(k for k, name in enumerate(signature.parameters)
                  if name in bound.arguments)
    bound.apply_defaults()
    kinds = [p.kind for p in signature.parameters.values()]

    def call(*values: Any) -> Any:
        positional, keywords = [], {}
        for (name, kind), value in zip(zip(signature.parameters, kinds), values):
            if kind is inspect.Parameter.VAR_POSITIONAL:
                positional.extend(value)
            elif kind is inspect.Parameter.VAR_KEYWORD:
                keywords.update(value)
            elif kind is inspect.Parameter.KEYWORD_ONLY:
                keywords[name] = value
            else:
                positional.append(value)
        return f(*positional, **keywords)

    return call, tuple(bound.arguments.values()), given
