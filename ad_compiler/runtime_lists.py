"""Run-time helpers of ``+`` and ``*`` on values that may be lists or tuples (joined
or repeated) or numbers and arrays (added or multiplied): the adjoints and tangents
of each operand, decided by the values met at run time; and what a loop over the
items of a list, tuple or dict visits (items_of, keys_of, sort_order).  NumPy only,
so an exported derivative can carry a copy."""
from __future__ import annotations

from typing import Any

import numpy as np

from .runtime import (
    AdjointList,
    Adjoints,
    _floats,
    _is_zero,
    add,
    broadcast_like,
    densify,
    unbroadcast,
    zeros_like,
    zeros_of,
)


def list_head(g: Any, a: Any, whole: Any) -> Any:
    """The part of the adjoint `g` of ``whole = a + b`` that belongs to `a`: its first
    items where `+` joined lists or tuples, else `g` summed to `a`'s shape."""
    if isinstance(whole, (list, tuple)):
        if type(g) in (AdjointList, Adjoints) and len(g) == len(whole):
            head = g[:len(a)]  # (a list's slice is a copy made at C speed)
            if type(g) is AdjointList or _floats(head):
                return AdjointList(head)
        return AdjointList(densify(g, whole)[:len(a)])
    return unbroadcast(g, a)


def list_tail(g: Any, a: Any, whole: Any, b: Any = None) -> Any:
    """The part of the adjoint `g` of ``whole = a + b`` that belongs to `b`."""
    if isinstance(whole, (list, tuple)):
        if type(g) in (AdjointList, Adjoints) and len(g) == len(whole):
            tail = g[len(a):]  # ys + [v]: one item, whatever the length of ys
            if type(g) is AdjointList or _floats(tail):
                return AdjointList(tail)
        return AdjointList(densify(g, whole)[len(a):])
    return g if b is None else unbroadcast(g, b)


def list_head_t(c: Any, a: Any, whole: Any) -> Any:
    """The transpose of `list_head`: `c` at the head of an adjoint shaped like `whole`."""
    if isinstance(whole, (list, tuple)):
        return Adjoints([*densify(c, a), *(zeros_of(v) for v in whole[len(a):])])
    return broadcast_like(c, whole)


def list_tail_t(c: Any, a: Any, whole: Any, b: Any = None) -> Any:
    """The transpose of `list_tail`: `c` at the tail of an adjoint shaped like `whole`."""
    if isinstance(whole, (list, tuple)):
        return Adjoints([*(zeros_of(v) for v in a), *densify(c, whole[len(a):])])
    return broadcast_like(c, whole)


def repeat_adjoint_t(c: Any, a: Any, n: Any, whole: Any) -> Any:
    """The transpose of `repeat_adjoint_of` in its cotangent: `c` repeated n times
    where `*` repeated a list, else ``c * n`` spread over `whole`'s shape."""
    if isinstance(whole, (list, tuple)) and isinstance(a, (list, tuple)):
        return Adjoints(list(densify(c, a)) * (len(whole) // max(len(a), 1)))
    if isinstance(whole, (list, tuple)):
        return zeros_of(whole)
    return broadcast_like(c, whole) * n


def repeat_count_t(c: Any, g: Any, n: Any, whole: Any) -> Any:
    """The transpose of `repeat_adjoint_of` in its factor `n` (numbers and arrays)."""
    if isinstance(whole, (list, tuple)):
        return 0.0
    return unbroadcast(broadcast_like(c, whole) * g, n)


def sum_tangent(a: Any, b: Any, a_dot: Any, b_dot: Any, whole: Any) -> Any:
    """The tangent of ``whole = a + b`` (None: no tangent): the tangents joined where
    `+` joined lists or tuples, else added and spread over `whole`'s shape."""
    if isinstance(whole, (list, tuple)):  # (a zero number: a list's zero tangent too)
        return (zeros_of(a) if _is_zero(a_dot) else a_dot) + (zeros_of(b) if _is_zero(b_dot)
                                                              else b_dot)
    total = a_dot if b_dot is None else b_dot if a_dot is None else \
        _as_array(a_dot) + _as_array(b_dot)  # lists that np.add added item by item
    return broadcast_like(total, whole)


def _as_array(x: Any) -> Any:
    return np.asarray(x) if isinstance(x, (list, tuple)) else x


def product_tangent(a: Any, b: Any, a_dot: Any, b_dot: Any, whole: Any) -> Any:
    """The tangent of ``whole = a * b``: the list's tangent repeated where `*` repeated
    a list, else the product rule, spread over `whole`'s shape."""
    if isinstance(whole, (list, tuple)):
        if isinstance(a, (list, tuple)):
            return (zeros_of(a) if a_dot is None else a_dot) * b
        return a * (zeros_of(b) if b_dot is None else b_dot)
    a, b, a_dot, b_dot = (_as_array(v) for v in (a, b, a_dot, b_dot))  # np.multiply's lists
    terms = [t for t in (None if a_dot is None else a_dot * b,
                         None if b_dot is None else a * b_dot) if t is not None]
    total = terms[0] if len(terms) == 1 else terms[0] + terms[1]
    return broadcast_like(total, whole)


def product_tangent_cross(a_dot: Any, b_dot: Any, a_t: Any, b_t: Any, whole: Any,
                          linear: Any = None) -> Any:
    """The tangent of ``product_tangent(a, b, a_dot, b_dot, whole)``: `linear`, its part
    through the tangents (None where absent), plus the part through the factors `a` and
    `b` themselves (tangents `a_t`, `b_t`), ``a_dot * b_t + a_t * b_dot``; `linear`
    alone where `*` repeated a list, whose tangent reads no factor (the two parts are
    added here: `+` would join two lists)."""
    if isinstance(whole, (list, tuple)):
        return zeros_of(whole) if linear is None else linear
    a_dot, b_dot, a_t, b_t = (_as_array(v) for v in (a_dot, b_dot, a_t, b_t))
    terms = [x * y for x, y in ((a_dot, b_t), (a_t, b_dot)) if x is not None and y is not None]
    if linear is not None:
        terms.append(linear)
    if not terms:
        return zeros_of(whole)
    return broadcast_like(sum(terms[1:], terms[0]), whole)


def product_tangent_cross_t(c: Any, other_dot: Any, factor: Any, whole: Any) -> Any:
    """The adjoint of one factor of ``product_tangent`` (or of its tangent in
    `product_tangent_cross`): `c` times the other factor's tangent, summed to the
    factor's shape; zeros where `*` repeated a list."""
    if isinstance(whole, (list, tuple)) or other_dot is None:
        return zeros_of(factor)
    return unbroadcast(broadcast_like(c, whole) * _as_array(other_dot), factor)


def repeat_adjoint_of(g: Any, a: Any, n: Any, whole: Any) -> Any:
    """The adjoint of `a` in ``whole = a * n``: where `*` repeated a list n times, the
    copies' adjoints added up; where it multiplied numbers, ``g * n`` summed to `a`'s shape."""
    if isinstance(whole, (list, tuple)) and isinstance(a, (list, tuple)):
        g = densify(g, whole)
        total: Any = zeros_like(a)
        for start in range(0, len(g), max(len(a), 1)):
            total = add(total, AdjointList(g[start:start + len(a)]))
        return total
    if isinstance(whole, (list, tuple)):  # the count of a repetition: no derivative
        return 0.0
    return unbroadcast(g * n, a)


def items_of(x: Any) -> Any:
    """What ``for item in x`` visits, as something indexed by position: a dict's keys,
    anything else itself."""
    return list(x) if isinstance(x, dict) else x


def items_of_dot(t: Any, x: Any) -> Any:
    """The tangent of ``items_of(x)``: a dict's keys carry none (zeros, one per key)."""
    return [0.0] * len(x) if isinstance(x, dict) else t


def items_of_t(c: Any, x: Any) -> Any:
    """The adjoint of `x` in ``items_of(x)``: a dict's keys carry no derivative."""
    return 0.0 if isinstance(x, dict) else c


def keys_of(d: Any) -> list:
    """A dict's keys in its order (``for k, v in d.items()`` visits them)."""
    return list(d.keys())


def sort_order(xs: Any, descending: bool = False) -> list[int]:
    """The positions of the items of `xs` in sorted order (``for x in sorted(xs)``);
    ties keep their order, as ``sorted`` keeps it."""
    return sorted(range(len(xs)), key=xs.__getitem__, reverse=descending)

