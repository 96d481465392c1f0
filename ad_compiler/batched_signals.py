"""Vector mode of sampled functions: np.interp and np.polyval in the values (their
tangents in fp and p) and the run-time helpers of their derivatives, np.trapezoid and
its adjoints, and np.gradient's adjoint.

Each takes a batched tangent or adjoint (its last axis carries the directions) and
equals the function applied to each direction in turn, the results stacked on a last
axis: the knots' segments and the powers of x are found once for all directions.
Declared as the `batched=` forms of the entries of registry/signals.py.  Like
`runtime`, this module needs nothing but NumPy.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .batched_shaping import primal_axis
from .runtime_npmath import (
    _interp_parts,
    gradient_adjoint_f,
    trapezoid_adjoint_dx,
    trapezoid_adjoint_x,
    trapezoid_adjoint_y,
)

# ------------------------------------------------------------------ np.interp


def batched_interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
                   period: Any = None) -> Any:
    """``np.interp(x, xp, fp, left, right)`` of batched values `fp` (the knots' values,
    each direction's on the last axis): NumPy's ``fp[j] + slope * (x - xp[j])`` in
    each segment, `left` and `right` (or the end values) outside."""
    fp = np.asarray(fp)
    if period is not None:  # (its rules refuse a period; applied as it is, per direction)
        return np.stack([np.interp(x, xp, fp[..., k], left, right, period)
                         for k in range(fp.shape[-1])], axis=-1)
    xp = np.asarray(xp, dtype=float)
    x = np.asarray(x, dtype=float)
    j, _, below, above = _interp_parts(x, xp)
    if xp.shape[0] == 1:
        inside = np.broadcast_to(fp[0], x.shape + fp.shape[-1:])
    else:
        slope = (fp[j + 1] - fp[j]) / np.expand_dims(xp[j + 1] - xp[j], -1)
        inside = slope * np.expand_dims(x - xp[j], -1) + fp[j]
        inside = np.where(np.expand_dims(x == xp[-1], -1), fp[-1], inside)
    below, above = np.expand_dims(below, -1), np.expand_dims(above, -1)
    out = np.where(below, fp[0] if left is None else left, inside)
    out = np.where(above, fp[-1] if right is None else right, out)
    return out.astype(np.result_type(fp, x, np.float64), copy=False)


def batched_interp_slope(x: Any, xp: Any, fp: Any) -> Any:
    """`runtime_npmath.interp_slope` of batched values `fp`."""
    xp, fp = np.asarray(xp, dtype=float), np.asarray(fp)
    if xp.shape[0] == 1:
        return np.zeros(np.shape(x) + fp.shape[-1:])
    j, _, below, above = _interp_parts(x, xp)
    slope = (fp[j + 1] - fp[j]) / np.expand_dims(xp[j + 1] - xp[j], -1)
    return np.where(np.expand_dims(below | above, -1), 0.0, slope)


def _to_knots(j: Any, weights: Any, n: int) -> Any:
    """Each query's batched weights added at knot j (rows: knots, directions across)."""
    out = np.zeros((n + 1, weights.shape[-1]), dtype=np.result_type(weights, np.float64))
    np.add.at(out, j.ravel(), weights.reshape(-1, weights.shape[-1]))
    return out


def batched_interp_slope_adjoint(h: Any, x: Any, xp: Any, fp: Any) -> Any:
    """`runtime_npmath.interp_slope_adjoint` of a batched `h`."""
    xp = np.asarray(xp, dtype=float)
    h = np.asarray(h)
    n = xp.shape[0]
    if n == 1:
        return np.zeros(np.shape(fp) + h.shape[-1:])
    j, _, below, above = _interp_parts(x, xp)
    h = np.broadcast_to(h, j.shape + h.shape[-1:])
    weight = np.where(np.expand_dims(below | above, -1), 0.0,
                      h / np.expand_dims(xp[j + 1] - xp[j], -1))
    return (_to_knots(j + 1, weight, n) - _to_knots(j, weight, n))[:n]


def batched_interp_adjoint_fp(g: Any, x: Any, xp: Any, fp: Any, left: Any = None,
                              right: Any = None) -> Any:
    """`runtime_npmath.interp_adjoint_fp` of a batched `g`: each direction sent to the
    two knots each query lies between."""
    xp = np.asarray(xp, dtype=float)
    g = np.asarray(g)
    n = xp.shape[0]
    j, where, below, above = _interp_parts(x, xp)
    g = np.broadcast_to(g, j.shape + g.shape[-1:])
    keep = np.ones(j.shape)
    if left is not None:
        keep = np.where(below, 0.0, keep)
    if right is not None:
        keep = np.where(above, 0.0, keep)
    kept = g * np.expand_dims(keep, -1)
    if n == 1:
        return np.sum(kept.reshape(-1, g.shape[-1]), axis=0, keepdims=True)
    low = _to_knots(j, kept * np.expand_dims(1.0 - where, -1), n)
    high = _to_knots(j + 1, kept * np.expand_dims(where, -1), n)
    return (low + high)[:n]


# ------------------------------------------------------------------ np.polyval


def batched_polyval(p: Any, x: Any) -> Any:
    """``np.polyval(p, x)`` of batched coefficients `p` (Horner's rule, as NumPy's)."""
    p = np.asarray(p)
    x = np.expand_dims(np.asarray(x), -1)
    y = np.zeros(np.broadcast_shapes(x.shape, p.shape[1:]), dtype=x.dtype)
    for coefficient in p:
        y = y * x + coefficient
    return y


def batched_polyval_adjoint_p(g: Any, p: Any, x: Any) -> Any:
    """`runtime_npmath.polyval_adjoint_p` of a batched `g`: each coefficient gets each
    direction of the cotangent times its power of x, summed."""
    if np.ndim(p) != 1:
        raise ValueError("the reverse-mode derivative of np.polyval needs 1-D coefficients "
                         "(use forward mode for coefficients with more axes)")
    n = np.shape(p)[0]
    g, x = np.broadcast_arrays(np.asarray(g), np.expand_dims(np.asarray(x), -1))
    out = np.zeros((n, g.shape[-1]), dtype=np.result_type(g, x, np.float32))
    power = np.ones(x.shape, dtype=out.dtype)
    summed = tuple(range(g.ndim - 1))
    for i in range(n - 1, -1, -1):
        out[i] = np.sum(g * power, axis=summed)
        power = power * x
    return out


# ------------------------------------------------------------------ np.trapezoid
# The directions moved to a first axis, and every operand that decides a shape given
# it (the samples y, and the adjoint's own operand, broadcast along it), the axis
# counted from the end: NumPy and the helpers then broadcast the directions with
# nothing else.  Coordinates x given as a vector and carrying directions are laid
# along y's axis, as NumPy lays their differences.


def _trapezoid_layout(g: Any, y: Any, x: Any, dx: Any, axis: int, directions_in: int,
                      mine: int | None) -> tuple | None:
    """(g, y, x, dx, axis) with a first axis of directions on `g`, `y`, the batched
    argument and `mine` (the one an adjoint is shaped like: 2 x, 3 dx), the others'
    shapes broadcast along it; None where x or dx have more axes than y (then one
    direction at a time)."""
    args = [g, np.asarray(y), x if x is None else np.asarray(x), np.asarray(dx)]
    n = np.shape(args[directions_in])[-1]
    y_ndim = args[1].ndim - (directions_in == 1)
    if any(a is not None and k > 1 and a.ndim - (k == directions_in) > y_ndim
           for k, a in enumerate(args)):
        return None
    axis = primal_axis(axis, y_ndim) - y_ndim  # from the end
    rank = 1 + y_ndim  # the directions and y's axes
    for k in sorted({0, 1, directions_in, mine} - {None}):
        a = args[k]
        if a is None:
            continue
        a = np.moveaxis(np.asarray(a), -1, 0) if k == directions_in else \
            np.broadcast_to(a, (n,) + np.shape(a))
        if k == 2 and a.ndim == 2:  # a vector of coordinates, laid along y's axis
            shape = [1] * rank
            shape[0], shape[axis] = n, a.shape[1]
            a = np.reshape(a, shape)
        elif k != 1:  # g has y's axes but the summed one; dx broadcasts against y
            target = rank - 1 if k == 0 else rank
            a = np.reshape(a, a.shape[:1] + (1,) * (target - a.ndim) + a.shape[1:])
        args[k] = a
    return (*args, axis)


def _per_direction(fn: Any, args: list, k: int) -> Any:
    n = np.shape(args[k])[-1]
    return np.stack([fn(*(np.asarray(a)[..., d] if j == k else a for j, a in enumerate(args)))
                     for d in range(n)], axis=-1)


def batched_trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1,
                      directions_in: int = 0) -> Any:
    """``np.trapezoid(y, x, dx, axis)`` with `y` (0), `x` (1) or `dx` (2) batched; with
    `x` given, `dx` is not read, and each direction's result is the same."""
    k = directions_in + 1
    laid = _trapezoid_layout(None, y, x, dx, axis, k, None)
    if laid is None:
        return _per_direction(lambda *a: np.trapezoid(*a[1:4], axis=axis), [None, y, x, dx], k)
    _, y, x, dx, axis = laid
    return np.moveaxis(np.asarray(np.trapezoid(y, x, dx, axis=axis)), 0, -1)


def _trapezoid_adjoint(helper: Any, mine: int, g: Any, y: Any, x: Any, dx: Any, axis: int,
                       directions_in: int) -> Any:
    args = [g, y, x, dx]
    laid = _trapezoid_layout(g, y, x, dx, axis, directions_in, mine)
    if laid is None:
        return _per_direction(lambda *a: helper(*a, axis), args, directions_in)
    out = np.asarray(helper(*laid))
    own = np.shape(args[mine])
    return np.moveaxis(np.reshape(out, out.shape[:1] + own), 0, -1)


def batched_trapezoid_adjoint_y(g: Any, y: Any, x: Any, dx: Any, axis: int = -1,
                                directions_in: int = 0) -> Any:
    """`runtime_npmath.trapezoid_adjoint_y` with `g` (0), `x` (2) or `dx` (3) batched."""
    return _trapezoid_adjoint(trapezoid_adjoint_y, 1, g, y, x, dx, axis, directions_in)


def batched_trapezoid_adjoint_x(g: Any, y: Any, x: Any, dx: Any, axis: int = -1,
                                directions_in: int = 0) -> Any:
    """`runtime_npmath.trapezoid_adjoint_x` with `g` (0), `y` (1) or `dx` (3) batched."""
    return _trapezoid_adjoint(trapezoid_adjoint_x, 2, g, y, x, dx, axis, directions_in)


def batched_trapezoid_adjoint_dx(g: Any, y: Any, x: Any, dx: Any, axis: int = -1,
                                 directions_in: int = 0) -> Any:
    """`runtime_npmath.trapezoid_adjoint_dx` with `g` (0), `y` (1) or `x` (2) batched."""
    if x is not None:  # the widths come from x: dx is not read
        n = np.shape((g, y, x)[directions_in])[-1]
        return np.zeros(np.shape(dx) + (n,))
    return _trapezoid_adjoint(trapezoid_adjoint_dx, 3, g, y, x, dx, axis, directions_in)


# ------------------------------------------------------------------ np.gradient


def batched_gradient_adjoint_f(g: Any, f: Any, spacing: Any = None, axis: Any = None,
                               edge_order: int = 1) -> Any:
    """`runtime_npmath.gradient_adjoint_f` of a batched `g`: the directions moved first,
    where the transpose takes any leading axes."""
    f = np.asarray(f)
    if isinstance(g, (list, tuple)) or (axis is None and f.ndim > 1):
        parts = [batched_gradient_adjoint_f(g_k, f, spacing, k, edge_order)
                 for k, g_k in enumerate(g) if np.ndim(g_k) or g_k != 0]
        return sum(parts) if parts else np.zeros(f.shape, np.result_type(f, np.float32))
    axis = 0 if axis is None else axis % f.ndim
    first = np.moveaxis(np.asarray(g), -1, 0)
    out = gradient_adjoint_f(first, np.broadcast_to(f, first.shape[:1] + f.shape), spacing,
                             axis + 1, edge_order)
    return np.moveaxis(out, 0, -1)
