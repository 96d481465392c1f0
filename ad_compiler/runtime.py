"""The few helpers generated code calls: accumulating adjoints of containers.

Adjoints of numbers and arrays add with ``+``; adjoints of lists and tuples add
item by item.  The partial adjoint of ``xs[i]`` is sparse (`IndexUpdate`), and is
added into the accumulated adjoint in place, so a loop over a list of n items
costs O(n) in reverse mode, not O(n^2).  Only lists made here are ever updated in
place, never the caller's.  This module needs nothing but NumPy, so an exported
derivative can carry a copy of it.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class AdjointList(list):
    """A list this module made to accumulate adjoints in; it may be updated in place."""


class AdjointArray(np.ndarray):
    """An array this module made to accumulate adjoints in; it may be updated in place."""


class IndexUpdate:
    """The partial adjoint of ``base[index]``: zero but ``value`` at ``index``."""

    __slots__ = ("base", "index", "value")

    def __init__(self, base: Any, index: Any, value: Any) -> None:
        self.base, self.index, self.value = base, index, value


def index_update(base: Any, index: Any, value: Any) -> IndexUpdate:
    return IndexUpdate(base, index, value)


def _is_zero(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == 0


def zeros_like(x: Any) -> Any:
    if isinstance(x, (list, tuple)) and all(type(v) is float for v in x):
        return AdjointList([0.0] * len(x))
    if isinstance(x, (list, tuple)):
        return AdjointList([zeros_like(v) if isinstance(v, (list, tuple, np.ndarray)) else 0.0
                            for v in x])
    if isinstance(x, np.ndarray):
        dtype = np.float64 if x.dtype.kind in "biu" else x.dtype
        return np.zeros_like(x, dtype=dtype).view(AdjointArray)
    return 0.0


def densify(a: Any, like: Any) -> Any:
    """`a` as an adjoint shaped like `like`, owned by this module."""
    if isinstance(a, IndexUpdate):
        return add(zeros_like(like), a)
    if _is_zero(a) and isinstance(like, (list, tuple, np.ndarray)):
        return zeros_like(like)
    if isinstance(a, (list, tuple)) and not isinstance(a, AdjointList):
        return AdjointList(densify(v, w) for v, w in zip(a, like))
    if isinstance(a, np.ndarray) and not isinstance(a, AdjointArray):
        return a.astype(np.result_type(a.dtype, np.float64)).view(AdjointArray)
    return a


def add(a: Any, b: Any) -> Any:
    """``a + b`` for adjoints of any shape: numbers, arrays, lists and tuples of them."""
    if isinstance(a, IndexUpdate) and not isinstance(b, IndexUpdate):
        a, b = b, a
    if isinstance(b, IndexUpdate):
        a = densify(a, b.base)
        if isinstance(a, np.ndarray):
            np.add.at(a, b.index, b.value)
        else:
            a[b.index] = add(a[b.index], b.value)
        return a
    if _is_zero(a):
        return b
    if _is_zero(b):
        return a
    if isinstance(a, (list, tuple)):
        return AdjointList(add(x, y) for x, y in zip(a, b))
    return a + b


def index_add(acc: Any, index: Any, value: Any) -> None:
    """``acc[index] += value`` for adjoints that are themselves lists."""
    acc[index] = add(acc[index], value)
