"""Containers of numbers and arrays (pytrees), as the public API sees them.

A differentiated argument or a result may be any nesting of list, tuple, namedtuple,
dict and dataclass around numbers and arrays.  Its *leaves* are the numbers and
arrays, in order: lists and tuples by position, dicts by their own key order,
dataclasses by field.  Anything else (a string, None, a function) is static data:
it is not a leaf, and a derivative has None in its place.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .runtime import fields_of


def is_leaf(x: Any) -> bool:
    """A number or an array: something a derivative is taken of (a bool is not)."""
    return isinstance(x, (int, float, complex, np.number, np.ndarray)) \
        and not isinstance(x, (bool, np.bool_))


def is_tree(x: Any) -> bool:
    """A container the API looks into (rather than a leaf or static data)."""
    return isinstance(x, (list, tuple, dict)) or fields_of(x) is not None


def leaves(x: Any) -> list[Any]:
    """The numbers and arrays in `x`, in order."""
    out: list[Any] = []
    _collect(x, out)
    return out


# leaves by exact type: a list of thousands of numbers is walked without asking each
# whether it is a dataclass
_PLAIN_LEAVES = frozenset({float, int, np.float64, np.float32, np.ndarray})


def _collect(x: Any, out: list[Any]) -> None:
    if type(x) in _PLAIN_LEAVES:
        out.append(x)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _collect(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _collect(v, out)
    elif fields_of(x) is not None:
        for name in fields_of(x):
            _collect(getattr(x, name), out)
    elif is_leaf(x):
        out.append(x)


def rebuild(like: Any, values: Iterable[Any]) -> Any:
    """`like`'s structure with its leaves replaced by `values`, in order (static data
    becomes None)."""
    return _rebuild(like, iter(values))


def _rebuild(x: Any, values: Iterator[Any]) -> Any:
    if isinstance(x, list):
        return [_rebuild(v, values) for v in x]
    if isinstance(x, tuple):
        items = [_rebuild(v, values) for v in x]
        return type(x)(*items) if hasattr(type(x), "_fields") else tuple(items)
    if isinstance(x, dict):
        return {k: _rebuild(v, values) for k, v in x.items()}
    names = fields_of(x)
    if names is not None:
        out = copy.copy(x)
        for name in names:
            object.__setattr__(out, name, _rebuild(getattr(x, name), values))
        return out
    if is_leaf(x):
        return next(values)
    return None


def size(x: Any) -> int:
    """How many numbers `x` holds (the elements of its arrays, one per number)."""
    return sum(int(np.size(v)) for v in leaves(x))
