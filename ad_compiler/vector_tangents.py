"""Tangents of vector-mode code's own functions: forward mode over a vector-mode JVP.

A vector-mode JVP carries every direction of its input on a last axis of its tangents,
through the batched forms of batched.py (``batched_sum(t, axis)``: ``np.sum`` of each
direction).  Each is linear in its batched arguments together, and applies the same
function to every index of that last axis.  Differentiating such code once more in
vector mode (the Hessian of a function with an array output, in one sweep) gives those
arguments a second axis of directions after the first: the function applied to the
two axes merged into one is the same function applied to each pair (`merged()`), so
its tangent through the batched arguments costs one call (zeros for one without a
tangent; for the joins, the batched argument is a list, and each item is merged).  A
function of two arrays (``batched_matmul(t, b)``) is linear in each: its tangent
through the primal one (`b`) takes the function once per outer direction
(`each_outer()`).  `OUTER_RULES` says, for each function, where its batched arguments
are (for a product told by its `directions_in` argument, or einsum's operand k, where
the call says), which other arguments carry values it is linear in, and which it reads
for their shape only (`SHAPE_OR_ORDER_ONLY`: or the order of their numbers, locally
constant).  A function nonlinear in an argument that is no tangent (a solve in its
matrix, np.interp in its points, expm of each direction's matrix) has its tangent
through it in `THROUGH`, written out from the function's derivative.  A function
missing there, or an argument no rule follows, is refused, and the Hessian takes
another way.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from . import (
    batched,
    batched_products,
    batched_shaping,
    batched_signals,
    batched_statistics,
    runtime_linalg,
    runtime_npmath,
)
from .ir import Const, Operand
from .registry import REGISTRY

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


def _one_at_a_time_rule(args: list[Operand]) -> Rule | None:
    """``vmap_last(fn, positions, *rest)``, each direction in turn: of a NumPy function
    the registry declares linear in its operands together (np.insert applied to its
    tangents), batched at some of them.  Other functions it applies are refused."""
    fn, positions = args[0], args[1]
    if not (isinstance(fn, Const) and isinstance(positions, Const)
            and isinstance(positions.value, tuple) and positions.value):
        return None
    operands = next((set(record.operands) for record in list(REGISTRY.values())
                     if record.is_array and record.linear and not record.variadic
                     and record.fn is fn.value), None)
    if operands is None or not set(positions.value) <= operands:
        return None
    return tuple(2 + p for p in positions.value), ()


def _append_rule(args: list[Operand]) -> Rule | None:
    """``batched_append(arr, values, axis, directions_in)``: `arr` (0), `values` (1) or
    both (2) batched; a part that is not is a zero tangent without directions."""
    given = args[3] if len(args) > 3 else Const(0)
    if not isinstance(given, Const) or given.value not in (0, 1, 2):
        return None
    return ((0, 1) if given.value == 2 else (given.value,)), ()


def _insert_rule(args: list[Operand]) -> Rule | None:
    """``batched_insert(arr, obj, values, axis, directions_in)``: `arr` (0), `values`
    (1) or both (2) batched; a part that is not is a zero tangent without directions."""
    given = args[4] if len(args) > 4 else Const(0)
    if not isinstance(given, Const) or given.value not in (0, 1, 2):
        return None
    return {0: (0,), 1: (2,), 2: (0, 2)}[given.value], ()


def _diff_rule(args: list[Operand]) -> Rule | None:
    """``batched_diff(positions, a, n, axis, prepend, append)``: the arguments at
    `positions` (counted from `a`) batched together, the others zero tangents."""
    if not (isinstance(args[0], Const) and isinstance(args[0].value, tuple)):
        return None
    return tuple(1 + p for p in args[0].value), ()


_LINEAR_PAD_MODES = ("constant", "edge", "wrap", "reflect", "symmetric")


def _pad_rule(args: list[Operand]) -> Rule | None:
    """``batched_pad(t, pad_width, mode)``: linear in `t` in the modes that pad with
    zeros or copies (not 'maximum', 'mean', ...)."""
    mode = args[2] if len(args) > 2 else Const("constant")
    if not (isinstance(mode, Const) and mode.value in _LINEAR_PAD_MODES):
        return None
    return (0,), ()


def _fill_rule(args: list[Operand]) -> Rule | None:
    """``batched_full(shape, t, dtype)`` and ``batched_full_like(a, t, dtype)``: linear in
    the fill value `t` unless cast to whole numbers."""
    dtype = args[2] if len(args) > 2 else Const(None)
    if not isinstance(dtype, Const):
        return None
    if dtype.value is not None:
        try:
            kind = np.dtype(dtype.value).kind
        except TypeError:
            return None
        if kind not in "fc":
            return None
    return (1,), ()


def _trapezoid_rule(args: list[Operand]) -> Rule | None:
    """``batched_trapezoid(y, x, dx, axis, directions_in)``: the samples times the
    steps, bilinear.  With `y` batched, linear in `x` where it is given, else in `dx`
    (the one it reads); with `x` or `dx` batched, linear in `y`."""
    given = args[4] if len(args) > 4 else Const(0)
    if not isinstance(given, Const) or given.value not in (0, 1, 2):
        return None
    x_given = not (len(args) < 2 or isinstance(args[1], Const) and args[1].value is None)
    if given.value == 0:
        return (0,), ((1,) if x_given else (2,))
    if given.value == 2 and x_given:  # (dx unread: its directions would be lost)
        return None
    return (given.value,), (0,)


# function -> (position of the batched argument(s), positions of arrays it is linear in
# besides; every other argument is read for its shape or is a constant), or a function
# of the call's arguments that says so (None: it cannot tell).  Several batched
# arguments: the function is linear in them together (a list of them, in the joins).
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
    # joins of a list of batched arrays (each item carries the directions), splits of
    # one into a list, paddings, differences and fills (the other arguments constants)
    **{fn: ((0,), ()) for fn in (
        batched.batched_concatenate, batched.batched_stack, batched.batched_hstack,
        batched.batched_vstack, batched.batched_split, batched.batched_array_split,
        batched.batched_hsplit, batched.batched_vsplit, runtime_npmath.batched_gradient)},
    batched.batched_pad: _pad_rule,
    batched_statistics.batched_cov_rows: ((0,), ()),
    batched_statistics.batched_covariance_matrix: ((0,), ()),
    batched_statistics.batched_quantile_tangent: ((0,), ()),
    batched.batched_index_join: ((1,), ()),
    batched.batched_full: _fill_rule,
    batched.batched_full_like: _fill_rule,
    batched.batched_linspace: ((0, 1), ()),
    batched_shaping.batched_append: _append_rule,
    batched_shaping.batched_insert: _insert_rule,
    batched_shaping.batched_insert_adjoint: ((0,), ()),
    batched_shaping.batched_diff: _diff_rule,
    batched.vmap_last: _one_at_a_time_rule,
    batched.vmap_last_items: _one_at_a_time_rule,
    # products of two arrays, one of them batched
    **{fn: _told_which(fn) for fn in (
        batched.batched_outer, batched.batched_inner, batched_products.batched_tensordot,
        batched_products.batched_kron, batched_products.batched_vdot,
        batched_products.batched_convolve, batched_products.batched_correlate,
        batched_products.batched_cross)},
    batched.batched_einsum: _einsum_rule,
    batched_signals.batched_trapezoid: _trapezoid_rule,
    # solves, linear in the right-hand side (batched), and through the matrices by
    # `THROUGH`; interpolations, linear in the values, and through the points
    runtime_linalg.batched_solve_columns: ((1,), ()),
    batched_products.batched_solve_triangular: ((1,), ()),
    batched_products.batched_cho_solve: ((1,), ()),
    batched_products.batched_solve_sylvester: ((2,), ()),
    batched_signals.batched_interp: lambda args: ((2,), ()) if len(args) < 6 or (
        isinstance(args[5], Const) and args[5].value is None) else None,
    batched_signals.batched_polyval: ((0,), ()),
    batched_products.batched_expm: ((), ()),  # nonlinear: through its matrices by THROUGH
}

# functions that read an argument for what does not change with small changes of its
# value: its shape and dtype, or the order of its numbers (the ranks a quantile takes)
SHAPE_OR_ORDER_ONLY: dict[Callable, int] = {
    batched.batched_broadcast_like: 1,
    batched.batched_full_like: 0,
    batched_statistics.batched_quantile_tangent: 1,
}


def rule_of(fn: Callable, args: list[Operand]) -> Rule | None:
    """Where `fn`'s batched argument is and which arrays it is linear in besides, for
    a call with `args`; None where that is not known."""
    rule = OUTER_RULES[fn]
    return rule(args) if callable(rule) else rule


ZERO_TANGENT = frozenset({batched.batch_zeros})


def merged(fn: Callable, positions: int | tuple[int, ...], *args: Any) -> Any:
    """``fn(*args)`` where the arguments at `positions` (a list of arrays, for the
    joins) carry two last axes of directions (the inner ones `fn` knows, and outer
    ones): applied to them merged into one axis, the result's last axis (or each
    item's, for a list) split again.  An axis of one direction is the same in each."""
    at = (positions,) if isinstance(positions, int) else tuple(positions)
    shapes = [np.shape(t) for p in at for t in _items(args[p])]
    inner = max((shape[-2] for shape in shapes if len(shape) > 1), default=1)
    outer = max((shape[-1] for shape in shapes if shape), default=1)
    flat = list(args)
    for p in at:
        items = [_merge_axes(t, inner, outer) for t in _items(args[p])]
        flat[p] = items if isinstance(args[p], (list, tuple)) else items[0]
    out = fn(*flat)
    if isinstance(out, (list, tuple)):
        return [_split_axis(t, inner, outer) for t in out]
    return _split_axis(out, inner, outer)


def _items(t: Any) -> list:
    return list(t) if isinstance(t, (list, tuple)) else [t]


def _merge_axes(t: Any, inner: int, outer: int) -> Any:
    t = np.asarray(t)
    t = np.broadcast_to(t, t.shape[:-2] + (inner, outer))
    return t.reshape(t.shape[:-2] + (inner * outer,))


def _split_axis(t: Any, inner: int, outer: int) -> Any:
    t = np.asarray(t)
    return t.reshape(t.shape[:-1] + (inner, outer))


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


# ---------------------------------------------------------------- through arguments
# a function nonlinear in an argument that is no tangent (a matrix solved with, the
# points interpolated at): its tangent through it, given the function's result, the
# argument's tangent (outer directions last) and the call's arguments, shaped like
# the result with the outer directions after the inner ones


def _outer_tangent(t: Any, like: Any) -> Any:
    """A tangent of `like` with outer directions last, broadcast to its full shape."""
    t = np.asarray(t)
    return np.broadcast_to(t, np.shape(like) + t.shape[-1:])


def solve_through_matrix(solved: Any, a_dot: Any, a: Any, t: Any) -> Any:
    """``batched_solve_columns(a, t)`` (x = a^-1 t, for a matrix or a stack of them)
    through `a`: -a^-1 a_dot x, every column, direction and outer direction of x solved
    as the columns of one right-hand side (a matrix `t` is the columns themselves)."""
    columns = np.asarray(solved)
    if np.ndim(t) == 2:  # (n, directions): one column per direction
        columns = columns[..., None, :]
    product = np.einsum("...ijo,...jms->...imso", _outer_tangent(a_dot, a), columns)
    shape = product.shape
    flat = shape[:-3] + (shape[-3] * shape[-2] * shape[-1],)
    out = np.linalg.solve(a, product.reshape(flat)).reshape(shape)
    return -(out[..., 0, :, :] if np.ndim(t) == 2 else out)


def triangular_through_matrix(solved: Any, a_dot: Any, a: Any, b: Any, trans: Any = 0,
                              lower: bool = False, unit_diagonal: bool = False,
                              *rest: Any) -> Any:
    """``batched_solve_triangular(a, b, ...)`` (x = op(T)^-1 b, T the triangle of `a` it
    reads, op a transpose where `trans` says) through `a`: -op(T)^-1 op(T_dot) x, T_dot
    the same triangle of a_dot (without the diagonal where that is taken as ones)."""
    n = np.shape(a)[-1]
    skip = 1 if unit_diagonal else 0
    read = np.tril(np.ones((n, n)), -skip) if lower else np.triu(np.ones((n, n)), skip)
    t_dot = _outer_tangent(a_dot, a) * read[..., None]
    if trans in (1, 2, "T", "C"):
        t_dot = np.swapaxes(t_dot, 0, 1)
        if trans in (2, "C"):
            t_dot = t_dot.conj()
    product = np.einsum("ijo,j...->i...o", t_dot, solved)
    return -merged(batched_products.batched_solve_triangular, 1, a, product, trans, lower,
                   unit_diagonal, *rest)


def cho_solve_through_factor(solved: Any, factor_dot: Any, c_and_lower: Any, b: Any,
                             *rest: Any) -> Any:
    """``batched_cho_solve((c, lower), b)`` (x = A^-1 b, A = L L^T for L the triangle of
    `c` it reads, or U^T U) through the factor: -A^-1 A_dot x, A_dot = L_dot L^T +
    L L_dot^T (U_dot^T U + U^T U_dot) for the same triangle of the factor's tangent."""
    c, lower = np.asarray(c_and_lower[0]), c_and_lower[1]
    n = c.shape[-1]
    read = np.tril(np.ones((n, n))) if lower else np.triu(np.ones((n, n)))
    f = c * read
    f_dot = _outer_tangent(factor_dot[0], c) * read[..., None]
    if lower:
        a_dot = np.einsum("ijo,kj->iko", f_dot, f) + np.einsum("ij,kjo->iko", f, f_dot)
    else:
        a_dot = np.einsum("jio,jk->iko", f_dot, f) + np.einsum("ji,jko->iko", f, f_dot)
    product = np.einsum("ijo,j...->i...o", a_dot, solved)
    return -merged(batched_products.batched_cho_solve, 1, c_and_lower, product, *rest)


def sylvester_through_a(solved: Any, a_dot: Any, a: Any, b: Any, q: Any) -> Any:
    """``batched_solve_sylvester(a, b, q)`` (a x + x b = q) through `a`: the solution
    for -a_dot x."""
    product = np.einsum("ijo,jks->ikso", _outer_tangent(a_dot, a), solved)
    return merged(batched_products.batched_solve_sylvester, 2, a, b, -product)


def sylvester_through_b(solved: Any, b_dot: Any, a: Any, b: Any, q: Any) -> Any:
    """``batched_solve_sylvester(a, b, q)`` through `b`: the solution for -x b_dot."""
    product = np.einsum("ijs,jko->ikso", solved, _outer_tangent(b_dot, b))
    return merged(batched_products.batched_solve_sylvester, 2, a, b, -product)


def interp_through_points(values: Any, x_dot: Any, x: Any, xp: Any, fp: Any,
                          *rest: Any) -> Any:
    """``batched_interp(x, xp, fp, ...)`` through the points `x`: each direction's slope
    there (zero outside the knots, where the value is an end's or left/right's)."""
    slope = batched_signals.batched_interp_slope(x, xp, fp)
    return slope[..., None] * _outer_tangent(x_dot, x)[..., None, :]


def polyval_through_points(values: Any, x_dot: Any, p: Any, x: Any) -> Any:
    """``batched_polyval(p, x)`` through the points `x`: each direction's derivative
    polynomial there."""
    slope = batched_signals.batched_polyval(runtime_npmath.polyder_coefficients(p), x)
    return slope[..., None] * _outer_tangent(x_dot, x)[..., None, :]


def expm_through_stack(values: Any, m_dot: Any, m: Any) -> Any:
    """``batched_expm(m)`` (expm of each inner direction's matrix M) through `m`: for
    each outer direction E of M's tangent, the Frechet derivative of expm at M along E,
    the upper right block of ``expm([[M, E], [0, M]])``: one call of expm on the stack
    of those block matrices, in as many calls as keep each stack within `_BLOCKS_BYTES`."""
    from scipy.linalg import expm

    m = np.asarray(m)
    m_dot = _outer_tangent(m_dot, m)  # (..., n, n, inner, outer)
    size = m.shape[-2]
    inner = np.moveaxis(m, -1, 0)  # (inner, ..., n, n)
    along = np.moveaxis(m_dot, (-2, -1), (0, 1))  # (inner, outer, ..., n, n)
    dtype = np.result_type(m, m_dot, np.float64)
    out = np.empty(along.shape, dtype=dtype)
    per_inner = along[0].size * 4 * dtype.itemsize  # one inner direction's blocks
    step = max(1, _BLOCKS_BYTES // max(per_inner, 1))
    for start in range(0, inner.shape[0], step):
        chunk = slice(start, start + step)
        blocks = np.zeros(along[chunk].shape[:-2] + (2 * size, 2 * size), dtype=dtype)
        blocks[..., :size, :size] = blocks[..., size:, size:] = inner[chunk, None]
        blocks[..., :size, size:] = along[chunk]
        out[chunk] = expm(blocks)[..., :size, size:]
    return np.moveaxis(out, (0, 1), (-2, -1))


_BLOCKS_BYTES = 1 << 26  # 64 MiB of block matrices per call of expm


THROUGH: dict[Callable, dict[int, Callable] | Callable[[list[Operand]], dict[int, Callable]]] = {
    runtime_linalg.batched_solve_columns: {0: solve_through_matrix},
    batched_products.batched_solve_triangular: {0: triangular_through_matrix},
    batched_products.batched_cho_solve: {0: cho_solve_through_factor},
    batched_products.batched_solve_sylvester: {0: sylvester_through_a, 1: sylvester_through_b},
    batched_signals.batched_interp: {0: interp_through_points},
    batched_signals.batched_polyval: {1: polyval_through_points},
    batched_products.batched_expm: {0: expm_through_stack},
}


def through_of(fn: Callable, args: list[Operand]) -> dict[int, Callable]:
    """The arguments of a call of `fn` with `args` that it is nonlinear in and has a
    tangent through (`THROUGH`), each with the function giving it."""
    through = THROUGH.get(fn, {})
    return through(args) if callable(through) else through
