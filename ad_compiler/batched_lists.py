"""Vector mode of code that may join, repeat or walk lists: the tangents of ``a + b``
and ``a * n`` where only the running code tells lists from numbers (the batched forms
of `runtime_lists.sum_tangent` and `runtime_lists.product_tangent`), and of a loop's items.

Every tangent carries the directions on a last axis; a list's tangent is the list of
its items' tangents, so joining or repeating the list joins or repeats them, and a
missing one is zeros with the directions of `seed` (`batch_zeros`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .batched import batch_zeros, batched_broadcast_like


def _sequence(items: list, whole: Any) -> Any:
    """The tangent items of a joined or repeated `whole`, as a tuple where it is one."""
    return tuple(items) if isinstance(whole, tuple) else items


def _array(t: Any) -> Any:
    """A tangent NumPy took for an array (a list of numbers' tangents): one array, the
    directions last."""
    return np.asarray(t) if isinstance(t, (list, tuple)) else t


def batched_sum_tangent(a: Any, b: Any, a_dot: Any, b_dot: Any, whole: Any,
                        seed: Any) -> Any:
    """The tangent of ``whole = a + b`` (None: no tangent): the tangents joined where `+`
    joined lists or tuples, else added and spread over `whole`'s shape."""
    if isinstance(whole, (list, tuple)):
        head = batch_zeros(a, seed) if a_dot is None else a_dot
        tail = batch_zeros(b, seed) if b_dot is None else b_dot
        return _sequence([*head, *tail], whole)
    total = _array(a_dot) if b_dot is None else _array(b_dot) if a_dot is None else \
        _array(a_dot) + _array(b_dot)  # (each with the directions last: they broadcast)
    return batched_broadcast_like(total, whole)


def batched_product_tangent(a: Any, b: Any, a_dot: Any, b_dot: Any, whole: Any,
                            seed: Any) -> Any:
    """The tangent of ``whole = a * b``: the list's tangent repeated where `*` repeated
    a list (its count carries no derivative), else the product rule, spread over
    `whole`'s shape."""
    if isinstance(whole, (list, tuple)):
        items, items_dot, count = (a, a_dot, b) if isinstance(a, (list, tuple)) else \
            (b, b_dot, a)
        return _sequence(list(batch_zeros(items, seed) if items_dot is None else items_dot)
                         * count, whole)
    terms = []
    if a_dot is not None:
        terms.append(_array(a_dot) * np.expand_dims(_array(b), -1))
    if b_dot is not None:
        terms.append(np.expand_dims(_array(a), -1) * _array(b_dot))
    return batched_broadcast_like(terms[0] if len(terms) == 1 else terms[0] + terms[1], whole)


def batched_product_tangent_cross(a_dot: Any, b_dot: Any, a_t: Any, b_t: Any,
                                  whole: Any, linear: Any = None) -> Any:
    """`runtime_lists.product_tangent_cross` where the tangents `a_t`, `b_t` and `linear`
    carry the directions last (a Hessian taken by forward mode over forward-mode code)."""
    if isinstance(whole, (list, tuple)):
        return batch_zeros(whole, a_t if a_t is not None else b_t) if linear is None \
            else linear
    terms = [] if linear is None else [linear]
    if a_dot is not None and b_t is not None:
        terms.append(np.expand_dims(_array(a_dot), -1) * _array(b_t))
    if a_t is not None and b_dot is not None:
        terms.append(_array(a_t) * np.expand_dims(_array(b_dot), -1))
    if not terms:
        return batch_zeros(whole, a_t if a_t is not None else b_t)
    return batched_broadcast_like(sum(terms[1:], terms[0]), whole)


def batched_items_of_dot(t: Any, x: Any) -> Any:
    """`runtime_lists.items_of_dot` of a batched tangent: what ``for item in x`` visits has
    the tangent of `x`, but a dict's keys carry none (zeros with the directions)."""
    return batch_zeros(list(x), t) if isinstance(x, dict) else t
