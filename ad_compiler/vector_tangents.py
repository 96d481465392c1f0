"""Tangents of vector-mode code's own functions: forward mode over a vector-mode JVP.

A vector-mode JVP carries every direction of its input on a last axis of its tangents,
through the batched forms of batched.py (``batched_sum(t, axis)``: ``np.sum`` of each
direction).  Each is linear in its batched argument, and applies the same function to
every index of that last axis.  Differentiating such code once more in vector mode (the
Hessian of a function with an array output, in one sweep) gives that argument a second
axis of directions after the first: the function applied to the two axes merged into
one is the same function applied to each pair (`merged()`), so its tangent through the
batched argument costs one call.  A function of two arrays (``batched_matmul(t, b)``)
is linear in each: its tangent through the primal one (`b`) takes the function once
per outer direction (`each_outer()`).  `OUTER_RULES` says, for each function, where
its batched argument is (for a product told by its `directions_in` argument, or
einsum's operand k, where the call says), which other arguments carry values it is
linear in, and which it reads for their shape only; a function missing there is
refused, and the Hessian takes another way.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from . import batched, batched_products, batched_shaping
from .ir import Const, Operand

Rule = tuple[tuple[int, ...], tuple[int, ...]]


def _told_which(fn: Callable) -> Callable[[list[Operand]], Rule | None]:
    """The rule of a product of two arrays told which of them is batched by its
    `directions_in` argument (left out of the call where it is 0, its default)."""
    at = list(inspect.signature(fn).parameters).index("directions_in")

    def rule(args: list[Operand]) -> Rule | None:
        given = args[at] if len(args) > at else Const(0)
        if not isinstance(given, Const) or given.value not in (0, 1):
            return None
        return (given.value,), (1 - given.value,)

    return rule


def _einsum_rule(args: list[Operand]) -> Rule | None:
    """``batched_einsum(spec, k, *operands)``: operand k batched, linear in every other."""
    if not isinstance(args[1], Const):
        return None
    batched_at = 2 + args[1].value
    return (batched_at,), tuple(j for j in range(2, len(args)) if j != batched_at)


# function -> (position of the batched argument(s), positions of arrays it is linear in
# besides; every other argument is read for its shape or is a constant), or a function
# of the call's arguments that says so (None: it cannot tell)
OUTER_RULES: dict[Callable, Rule | Callable[[list[Operand]], Rule | None]] = {
    batched.batched_sum: ((0,), ()),
    batched.batched_mean: ((0,), ()),
    batched.batched_transpose: ((0,), ()),
    batched.batched_swapaxes: ((0,), ()),
    batched.batched_reshape: ((0,), ()),
    batched.batched_squeeze: ((0,), ()),
    batched.batched_expand_dims: ((0,), ()),
    batched.batched_broadcast_to: ((0,), ()),
    batched.batched_broadcast_like: ((0,), ()),
    batched.batched_trace: ((0,), ()),
    batched.batched_where: ((1, 2), ()),
    batched.batched_matmul: ((0,), (1,)),
    batched.batched_rmatmul: ((1,), (0,)),
    # reorderings, triangles, diagonals, gathers and repetitions of one batched array,
    # the other arguments constants (axes, counts, indices)
    **{fn: ((0,), ()) for fn in (
        batched_shaping.batched_flip, batched_shaping.batched_fliplr,
        batched_shaping.batched_flipud, batched_shaping.batched_rot90,
        batched_shaping.batched_roll, batched_shaping.batched_moveaxis,
        batched_shaping.batched_rollaxis, batched_shaping.batched_tril,
        batched_shaping.batched_triu, batched_shaping.batched_diag,
        batched_shaping.batched_diagflat, batched_shaping.batched_diagonal,
        batched_shaping.batched_atleast_1d, batched_shaping.batched_atleast_2d,
        batched_shaping.batched_atleast_3d, batched_shaping.batched_take,
        batched_shaping.batched_take_along_axis, batched_shaping.batched_repeat,
        batched_shaping.batched_tile, batched_shaping.batched_cumsum)},
    # products of two arrays, one of them batched
    **{fn: _told_which(fn) for fn in (
        batched.batched_outer, batched.batched_inner, batched_products.batched_tensordot,
        batched_products.batched_kron, batched_products.batched_vdot,
        batched_products.batched_convolve, batched_products.batched_correlate,
        batched_products.batched_cross)},
    batched.batched_einsum: _einsum_rule,
}


def rule_of(fn: Callable, args: list[Operand]) -> Rule | None:
    """Where `fn`'s batched argument is and which arrays it is linear in besides, for
    a call with `args`; None where that is not known."""
    rule = OUTER_RULES[fn]
    return rule(args) if callable(rule) else rule
ZERO_TANGENT = frozenset({batched.batch_zeros})


def merged(fn: Callable, position: int, *args: Any) -> Any:
    """``fn(*args)`` where ``args[position]`` carries two last axes of directions (the
    inner one `fn` knows, and an outer one): applied to them merged into one axis, the
    result's last axis split again."""
    t = np.asarray(args[position])
    inner, outer = t.shape[-2:]
    flat = list(args)
    flat[position] = t.reshape(t.shape[:-2] + (inner * outer,))
    out = np.asarray(fn(*flat))
    return out.reshape(out.shape[:-1] + (inner, outer))


def each_outer(fn: Callable, position: int, *args: Any) -> Any:
    """``fn(*args)`` where ``args[position]``, an array `fn` is linear in beside its
    batched argument, carries a last axis of outer directions: `fn` once per outer
    direction, the results stacked on a new last axis."""
    tangent = np.asarray(args[position])
    results = []
    for k in range(tangent.shape[-1]):
        one = list(args)
        one[position] = tangent[..., k]
        results.append(np.asarray(fn(*one)))
    return np.stack(results, axis=-1)
