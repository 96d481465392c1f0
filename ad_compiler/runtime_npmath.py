"""Run-time adjoints of NumPy's products, statistics and signal functions.

Each ``<name>_adjoint_<operand>(g, *args)`` is the transpose of the primitive as a
linear function of that operand (the others fixed), called with the primitive's
arguments in NumPy's parameter order.  Their registry entries (registry/products.py,
signals.py, statistics.py) give these helpers rules of their own, so derivative code
can be differentiated again.  This
module needs nothing but NumPy, so an exported derivative can carry a copy of it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .runtime import unbroadcast

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


# ------------------------------------------------------------------ np.tensordot


def _tensordot_subscripts(ndim_a: int, ndim_b: int, axes: Any) -> tuple[str, str, str]:
    """einsum subscripts of a, b and the result of ``np.tensordot(a, b, axes)``."""
    if isinstance(axes, (int, np.integer)):
        pairs_a, pairs_b = list(range(ndim_a - axes, ndim_a)), list(range(axes))
    else:
        pairs_a, pairs_b = ([axes_k] if isinstance(axes_k, (int, np.integer)) else
                            list(axes_k) for axes_k in axes)
    pairs_a = [k % ndim_a for k in pairs_a]
    pairs_b = [k % ndim_b for k in pairs_b]
    sub_a = list(_LETTERS[:ndim_a])
    sub_b = list(_LETTERS[ndim_a:ndim_a + ndim_b])
    for ka, kb in zip(pairs_a, pairs_b):
        sub_b[kb] = sub_a[ka]
    out = [c for k, c in enumerate(sub_a) if k not in pairs_a]
    out += [c for k, c in enumerate(sub_b) if k not in pairs_b]
    return "".join(sub_a), "".join(sub_b), "".join(out)


def tensordot_adjoint_a(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    sa, sb, so = _tensordot_subscripts(np.ndim(a), np.ndim(b), axes)
    return np.einsum(f"{so},{sb}->{sa}", g, b)


def tensordot_adjoint_b(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    sa, sb, so = _tensordot_subscripts(np.ndim(a), np.ndim(b), axes)
    return np.einsum(f"{so},{sa}->{sb}", g, a)


# ------------------------------------------------------------------ np.kron


def _kron_adjoint(g: Any, x: Any, other: Any, x_first: bool) -> Any:
    """The adjoint of one factor of ``np.kron``: `g` seen as the outer product of the two
    factors' axes interleaved, contracted with the other factor."""
    x, other = np.asarray(x), np.asarray(other)
    nd = max(x.ndim, other.ndim)
    sx = (1,) * (nd - x.ndim) + x.shape
    so = (1,) * (nd - other.ndim) + other.shape
    pairs = zip(sx, so) if x_first else zip(so, sx)
    grid = np.reshape(g, [n for pair in pairs for n in pair])
    mine = list(range(0, 2 * nd, 2)) if x_first else list(range(1, 2 * nd, 2))
    theirs = list(range(1, 2 * nd, 2)) if x_first else list(range(0, 2 * nd, 2))
    return np.reshape(np.einsum(grid, list(range(2 * nd)), np.reshape(other, so), theirs,
                                mine), x.shape)


def kron_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    return _kron_adjoint(g, a, b, True)


def kron_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    return _kron_adjoint(g, b, a, False)


# ------------------------------------------------------------------ np.cross


def _as_3(v: Any) -> Any:
    """Vectors along the last axis, 2-vectors given a zero third component."""
    if v.shape[-1] == 3:
        return v
    return np.concatenate([v, np.zeros(v.shape[:-1] + (1,), v.dtype)], axis=-1)


def _cross_adjoint(g: Any, a: Any, b: Any, axisa: int, axisb: int, axisc: int,
                   axis: Any, which: int) -> Any:
    """``g . (a x b) = a . (b x g) = b . (g x a)``, on vectors moved to the last axis."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a_last = np.moveaxis(np.asarray(a), axisa, -1)
    b_last = np.moveaxis(np.asarray(b), axisb, -1)
    if a_last.shape[-1] == 2 and b_last.shape[-1] == 2:  # the result is the z component
        g = np.asarray(g)
        g3 = np.stack([np.zeros_like(g), np.zeros_like(g), g], axis=-1)
    else:
        g3 = np.moveaxis(np.asarray(g), axisc, -1)
    a3, b3 = _as_3(a_last), _as_3(b_last)
    mine = a_last if which == 0 else b_last
    part = np.cross(b3, g3) if which == 0 else np.cross(g3, a3)
    part = unbroadcast(part[..., :mine.shape[-1]], mine)
    return np.moveaxis(part, -1, axisa if which == 0 else axisb)


def cross_adjoint_a(g: Any, a: Any, b: Any, axisa: int = -1, axisb: int = -1,
                    axisc: int = -1, axis: Any = None) -> Any:
    return _cross_adjoint(g, a, b, axisa, axisb, axisc, axis, 0)


def cross_adjoint_b(g: Any, a: Any, b: Any, axisa: int = -1, axisb: int = -1,
                    axisc: int = -1, axis: Any = None) -> Any:
    return _cross_adjoint(g, a, b, axisa, axisb, axisc, axis, 1)


# ------------------------------------------------------------------ np.vdot


def vdot_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    return g * np.reshape(b, np.shape(a))


def vdot_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    return g * np.reshape(a, np.shape(b))


# ------------------------------------------------------------------ np.convolve, np.correlate


def _full_from_mode(g: Any, n: int, m: int, mode: str, correlate: bool) -> Any:
    """The adjoint of the full result, given that of the `mode` result (a slice of it)."""
    if mode == "full":
        return g
    short = min(n, m)
    if mode == "valid":
        start = short - 1
    elif correlate and m > n:  # np.correlate swaps its operands and reverses the result
        start = n - 1 - (n - 1) // 2
    else:
        start = (short - 1) // 2
    full = np.zeros(n + m - 1, dtype=np.result_type(g, np.float32))
    full[start:start + np.shape(g)[0]] = g
    return full


def convolve_adjoint_a(g: Any, a: Any, v: Any, mode: str = "full") -> Any:
    full = _full_from_mode(g, np.size(a), np.size(v), mode, correlate=False)
    return np.correlate(full, np.ravel(v), "valid")


def convolve_adjoint_v(g: Any, a: Any, v: Any, mode: str = "full") -> Any:
    full = _full_from_mode(g, np.size(a), np.size(v), mode, correlate=False)
    return np.correlate(full, np.ravel(a), "valid")


def correlate_adjoint_a(g: Any, a: Any, v: Any, mode: str = "valid") -> Any:
    full = _full_from_mode(g, np.size(a), np.size(v), mode, correlate=True)
    return np.convolve(full, np.ravel(v), "valid")


def correlate_adjoint_v(g: Any, a: Any, v: Any, mode: str = "valid") -> Any:
    full = _full_from_mode(g, np.size(a), np.size(v), mode, correlate=True)
    return np.correlate(full, np.ravel(a), "valid")[::-1]


# ------------------------------------------------------------------ np.trapezoid


def _along(x: Any, axis: int, start: int | None, stop: int | None) -> Any:
    index = [slice(None)] * np.ndim(x)
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def _pad_along(x: Any, axis: int, before: int, after: int) -> Any:
    widths = [(0, 0)] * np.ndim(x)
    widths[axis] = (before, after)
    return np.pad(x, widths)


def _spacing(y: Any, x: Any, dx: Any, axis: int) -> Any:
    """The interval widths ``np.trapezoid`` multiplies by, shaped as it does."""
    if x is None:
        return dx
    x = np.asarray(x)
    if x.ndim == 1:
        d = np.diff(x)
        shape = [1] * np.ndim(y)
        shape[axis] = d.shape[0]
        return d.reshape(shape)
    return np.diff(x, axis=axis)


def _midpoints(y: Any, axis: int) -> Any:
    return (_along(y, axis, 1, None) + _along(y, axis, None, -1)) / 2.0


def _expanded(g: Any, y: Any, widths: Any, axis: int) -> tuple[Any, int]:
    """`g` with the summed axis put back, and where that axis is among the product's
    (whose shape may have more axes than `y`'s, where the widths broadcast it)."""
    product_ndim = max(np.ndim(y), np.ndim(widths))
    k = axis + product_ndim - np.ndim(y)
    return np.expand_dims(g, k), k


def unless_given(given: Any, term: Any) -> Any:
    """`term` where `given` is None, else zeros like it (linear in `term`): np.trapezoid
    reads its dx only where no x is given."""
    if given is None:
        return term
    return np.zeros(np.shape(term)) if np.ndim(term) else 0.0


def trapezoid_adjoint_y(g: Any, y: Any, x: Any, dx: Any, axis: int = -1) -> Any:
    y = np.asarray(y)
    widths = _spacing(y, x, dx, axis)
    axis = axis % y.ndim
    g_k, k = _expanded(g, y, widths, axis)
    spread = g_k * widths / 2.0
    upper = _along(y, axis, 1, None)
    spread = np.broadcast_to(spread, np.broadcast_shapes(np.shape(spread), upper.shape))
    total = _pad_along(spread, k, 1, 0) + _pad_along(spread, k, 0, 1)
    return unbroadcast(total, y)


def trapezoid_adjoint_x(g: Any, y: Any, x: Any, dx: Any, axis: int = -1) -> Any:
    y, x = np.asarray(y), np.asarray(x)
    widths = _spacing(y, x, dx, axis)
    axis = axis % y.ndim
    g_k, k = _expanded(g, y, widths, axis)
    widths_bar = g_k * _midpoints(y, axis)
    if x.ndim == 1:
        widths_bar = np.sum(widths_bar, axis=tuple(j for j in range(widths_bar.ndim) if j != k))
        return _pad_along(widths_bar, 0, 1, 0) - _pad_along(widths_bar, 0, 0, 1)
    widths_bar = np.broadcast_to(widths_bar, np.broadcast_shapes(widths_bar.shape, widths.shape))
    x_axis = k - (widths_bar.ndim - x.ndim)
    full = unbroadcast(widths_bar, widths)
    return _pad_along(full, x_axis, 1, 0) - _pad_along(full, x_axis, 0, 1)


def trapezoid_adjoint_dx(g: Any, y: Any, x: Any, dx: Any,
                         axis: int = -1) -> Any:
    if x is not None:  # the widths come from x: dx is not read
        return np.zeros(np.shape(dx))
    y = np.asarray(y)
    axis = axis % y.ndim
    g_k, _ = _expanded(g, y, dx, axis)
    return unbroadcast(g_k * _midpoints(y, axis), dx)


# ------------------------------------------------------------------ np.gradient


def gradient_adjoint_f(g: Any, f: Any, spacing: Any = None, axis: Any = None,
                       edge_order: int = 1) -> Any:
    """The transpose of ``np.gradient`` along one axis.  Each result reads at most five
    neighbours, so the operator's columns five apart never share a row: five calls of
    np.gradient on combs of ones give every coefficient, and the transpose is exact."""
    f = np.asarray(f)
    if isinstance(g, (list, tuple)) or (axis is None and f.ndim > 1):
        # one result per axis (np.gradient(f) of an array with several axes)
        parts = [gradient_adjoint_f(g_k, f, spacing, k, edge_order)
                 for k, g_k in enumerate(g) if np.ndim(g_k) or g_k != 0]
        return sum(parts) if parts else np.zeros(f.shape, np.result_type(f, np.float32))
    axis = 0 if axis is None else axis % f.ndim
    n = f.shape[axis]
    args = () if spacing is None else (spacing,)
    g_last = np.moveaxis(np.asarray(g), axis, -1)
    out = np.zeros(g_last.shape, dtype=np.result_type(g_last, np.float32))
    for r in range(5):
        comb = np.zeros(n)
        comb[r::5] = 1.0
        column_of = np.gradient(comb, *args, edge_order=edge_order)  # row i, column j = r mod 5
        for shift in range(-2, 3):
            # out[j] += coef(j + shift, j) * g[j + shift] for the columns j = r mod 5
            j = np.arange(r, n, 5)
            i = j + shift
            keep = (i >= 0) & (i < n)
            j, i = j[keep], i[keep]
            out[..., j] += column_of[i] * g_last[..., i]
    return np.moveaxis(out, -1, axis).astype(np.result_type(f, g_last, np.float32), copy=False)


# ------------------------------------------------------------------ nan-ignoring reductions


def nan_count(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """How many numbers (not nans) each result of a nan-ignoring reduction combines."""
    return np.sum(~np.isnan(a), axis=axis, keepdims=keepdims)


# ------------------------------------------------------------------ quantiles


def quantile_parts(a: Any, q: Any, axis: Any, keepdims: bool) -> tuple[Any, Any, Any, Any]:
    """The two ranks' positions in `a` (moved to the last axis) and their weights, for
    the linear method: ``(1 - f) * sorted[lo] + f * sorted[hi]``.  Sorting is stable,
    so among equal values the one that comes first in `a` has the lower rank."""
    a = np.asarray(a)
    if axis is None:
        a_last = a.reshape(-1)
    else:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        axes = tuple(k % a.ndim for k in axes)
        rest = [k for k in range(a.ndim) if k not in axes]
        a_last = np.transpose(a, rest + list(axes)).reshape(
            [a.shape[k] for k in rest] + [-1])
    order = np.argsort(a_last, axis=-1, kind="stable")
    n = a_last.shape[-1]
    rank = np.asarray(q, dtype=np.float64) * (n - 1)
    lo = np.clip(np.floor(rank).astype(np.intp), 0, n - 1)
    hi = np.clip(lo + 1, 0, n - 1)
    frac = rank - lo
    return a_last, order, (lo, hi), frac


def quantile_tangent(t: Any, a: Any, q: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The tangent of ``np.quantile(a, q, axis, keepdims=keepdims)`` (linear method)
    given the tangent `t` of `a`, shaped like the result."""
    a = np.asarray(a)
    t_last, _, _, _ = quantile_parts(np.broadcast_to(t, a.shape), q, axis, keepdims)
    a_last, order, (lo, hi), frac = quantile_parts(a, q, axis, keepdims)
    qshape = np.shape(q)
    flat_lo, flat_hi, flat_frac = (np.ravel(v) for v in (lo, hi, frac))
    taken_lo = np.take_along_axis(t_last, order[..., flat_lo], axis=-1)
    taken_hi = np.take_along_axis(t_last, order[..., flat_hi], axis=-1)
    value = (1.0 - flat_frac) * taken_lo + flat_frac * taken_hi  # (..., len(q))
    value = np.moveaxis(value, -1, 0).reshape(qshape + a_last.shape[:-1])
    value = value.astype(np.result_type(a, t), copy=False)
    if keepdims:
        return value.reshape(qshape + _kept_shape(a.shape, axis))
    return value


def _kept_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    if axis is None:
        return (1,) * len(shape)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = {k % len(shape) for k in axes}
    return tuple(1 if k in axes else n for k, n in enumerate(shape))


def quantile_adjoint(g: Any, a: Any, q: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The transpose of `quantile_tangent` in its tangent: `g` (shaped like the result)
    sent back to the two ranks each result interpolates."""
    a = np.asarray(a)
    a_last, order, (lo, hi), frac = quantile_parts(a, q, axis, keepdims)
    qshape = np.shape(q)
    count = int(np.prod(qshape))
    g_rows = np.reshape(g, (count,) + a_last.shape[:-1])
    g_rows = np.moveaxis(g_rows, 0, -1)  # (..., len(q))
    flat_lo, flat_hi, flat_frac = (np.ravel(v) for v in (lo, hi, frac))
    ranks = np.argsort(order, axis=-1)  # the rank of each element of a_last
    out = np.zeros(a_last.shape, dtype=np.result_type(a, g_rows, np.float32))
    for k in range(count):
        weights = (1.0 - flat_frac[k]) * (ranks == flat_lo[k]) + flat_frac[k] * (ranks == flat_hi[k])
        out += g_rows[..., k, None] * weights
    if axis is None:
        return out.reshape(a.shape)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(k % a.ndim for k in axes)
    rest = [k for k in range(a.ndim) if k not in axes]
    moved = out.reshape([a.shape[k] for k in rest] + [a.shape[k] for k in axes])
    return np.transpose(moved, np.argsort(rest + list(axes)))


# ------------------------------------------------------------------ shapes and vector mode


def weights_shape(w: Any, a: Any, axis: Any = None) -> tuple[int, ...]:
    """The shape ``np.average`` gives its weights to broadcast against `a`: their own
    where it is `a`'s, else ones but along `axis`."""
    if np.shape(w) == np.shape(a):
        return np.shape(w)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(k % np.ndim(a) for k in axes)
    shape = [1] * np.ndim(a)
    for k, n in zip(axes, np.shape(w)):
        shape[k] = n
    return tuple(shape)


def batched_gradient(t: Any, spacing: Any = None, axis: Any = None, edge_order: int = 1) -> Any:
    """``np.gradient`` of each direction of `t` (its directions on the last axis)."""
    args = () if spacing is None else (spacing,)
    if axis is None and np.ndim(t) > 2:  # one result per axis of the primal
        return [np.gradient(t, *args, axis=k, edge_order=edge_order)
                for k in range(np.ndim(t) - 1)]
    axis = 0 if axis is None else axis % (np.ndim(t) - 1)
    return np.gradient(t, *args, axis=axis, edge_order=edge_order)


# ------------------------------------------------------------------ np.interp


def _interp_parts(x: Any, xp: Any) -> tuple[Any, Any, Any, Any]:
    """For each query point: its segment j (closed on the left, the last one closed on
    both sides), where it lies in it (0 at xp[j], 1 at xp[j + 1]), and whether it is left
    of xp[0] or right of xp[-1]."""
    x, xp = np.asarray(x, dtype=float), np.asarray(xp, dtype=float)
    n = xp.shape[0]
    below, above = x < xp[0], x > xp[-1]
    if n == 1:
        zero = np.zeros(x.shape, dtype=np.intp)
        return zero, np.zeros(x.shape), below, above
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, n - 2)
    where = (x - xp[j]) / (xp[j + 1] - xp[j])
    where = np.where(below, 0.0, np.where(above, 1.0, where))
    return j, where, below, above


def interp_slope(x: Any, xp: Any, fp: Any) -> Any:
    """d np.interp(x, xp, fp) / dx: the slope of the segment `x` lies in (at a knot, the
    segment to its right; at the last knot, the one to its left); zero outside."""
    xp, fp = np.asarray(xp, dtype=float), np.asarray(fp)
    if xp.shape[0] == 1:
        return np.zeros(np.shape(x))
    j, _, below, above = _interp_parts(x, xp)
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    return np.where(below | above, 0.0, slope)


def interp_slope_adjoint(h: Any, x: Any, xp: Any, fp: Any) -> Any:
    """The transpose of `interp_slope` in `fp`."""
    xp = np.asarray(xp, dtype=float)
    n = xp.shape[0]
    if n == 1:
        return np.zeros(np.shape(fp))
    j, _, below, above = _interp_parts(x, xp)
    weight = np.where(below | above, 0.0, np.broadcast_to(h, j.shape) / (xp[j + 1] - xp[j]))
    return (np.bincount(j.ravel() + 1, weight.ravel(), minlength=n)
            - np.bincount(j.ravel(), weight.ravel(), minlength=n))[:n]


def interp_adjoint_fp(g: Any, x: Any, xp: Any, fp: Any, left: Any = None,
                      right: Any = None) -> Any:
    """The transpose of ``np.interp(x, xp, fp, left, right)`` in `fp`: each query point
    sends its cotangent to the two knots it lies between (to the end knot outside them,
    unless `left` or `right` give the value there)."""
    xp = np.asarray(xp, dtype=float)
    n = xp.shape[0]
    j, where, below, above = _interp_parts(x, xp)
    g = np.broadcast_to(g, j.shape)
    keep = np.ones(j.shape)
    if left is not None:
        keep = np.where(below, 0.0, keep)
    if right is not None:
        keep = np.where(above, 0.0, keep)
    if n == 1:
        return np.array([np.sum(g * keep)])
    low = np.bincount(j.ravel(), (g * keep * (1.0 - where)).ravel(), minlength=n)
    high = np.bincount(j.ravel() + 1, (g * keep * where).ravel(), minlength=n)
    return (low + high)[:n]


# ------------------------------------------------------------------ np.polyval


def polyder_coefficients(p: Any) -> Any:
    """The coefficients of the derivative of the polynomial `p` (highest power first)."""
    p = np.asarray(p)
    n = p.shape[0]
    return p[:-1] * np.arange(n - 1, 0, -1).reshape((-1,) + (1,) * (p.ndim - 1))


def polyder_t(q: Any, p: Any) -> Any:
    """The transpose of `polyder_coefficients`, shaped like `p`."""
    q, n = np.asarray(q), np.shape(p)[0]
    scaled = q * np.arange(n - 1, 0, -1).reshape((-1,) + (1,) * (q.ndim - 1))
    return np.concatenate([scaled, np.zeros((1,) + q.shape[1:], dtype=scaled.dtype)])


def polyval_adjoint_p(g: Any, p: Any, x: Any) -> Any:
    """The transpose of ``np.polyval(p, x)`` in the coefficients `p` (1-D): each
    coefficient gets the cotangent times its power of x, summed."""
    if np.ndim(p) != 1:
        raise ValueError("the reverse-mode derivative of np.polyval needs 1-D coefficients "
                         "(use forward mode for coefficients with more axes)")
    n = np.shape(p)[0]
    g, x = np.broadcast_arrays(np.asarray(g), np.asarray(x))
    out = np.zeros(n, dtype=np.result_type(g, x, np.float32))
    power = np.ones(x.shape, dtype=out.dtype)
    for i in range(n - 1, -1, -1):
        out[i] = np.sum(g * power)
        power = power * x
    return out


def cov_rows(x: Any, rowvar: bool) -> np.ndarray:
    """The variables of ``np.cov(x, rowvar=rowvar)`` as rows of a matrix: a 1-D `x` is
    one variable, a 2-D one is transposed when its columns are the variables."""
    rows = np.atleast_2d(np.asarray(x, dtype=np.result_type(x, np.float64)))
    if rows.ndim > 2:
        raise ValueError("np.cov takes 1-D or 2-D arrays, but this one has shape "
                         f"{np.shape(x)}")
    return rows if rowvar or rows.shape[0] == 1 else rows.T


def cov_rows_adjoint(g: Any, x: Any, rowvar: bool) -> np.ndarray:
    """The transpose of `cov_rows`: rows of variables laid out as `x` is."""
    g = np.asarray(g)
    shape = np.shape(x)
    if not rowvar and len(shape) == 2 and shape[0] != 1:
        g = g.T
    return g.reshape(shape)


def cov_dof(rows: Any, bias: bool, ddof: Any) -> float:
    """What ``np.cov`` divides the sums of products by: observations minus ddof (0 with
    bias=True and 1 without when ddof is not given)."""
    if ddof is None:
        ddof = 0 if bias else 1
    return float(np.shape(rows)[1] - ddof)


# ------------------------------------------------------------------ np.insert


def insert_sources(arr_shape: tuple, obj: Any, values_shape: tuple, axis: Any) -> np.ndarray:
    """For ``np.insert(arr, obj, values, axis)``, which element each element of the
    result is: the flat position in `arr`, or the size of `arr` plus that in `values`
    (NumPy's own placement of positions, values broadcast and moved as it does)."""
    size = int(np.prod(arr_shape, dtype=np.int64))
    positions = np.arange(size, dtype=np.intp).reshape(arr_shape)
    inserted = np.arange(size, size + int(np.prod(values_shape, dtype=np.int64)),
                         dtype=np.intp).reshape(values_shape)
    return np.insert(positions, obj, inserted, axis)


def insert_adjoint(g: Any, arr: Any, obj: Any, values: Any, axis: Any, which: int) -> Any:
    """The adjoint of `arr` (`which` 0) or `values` (1) in ``np.insert(arr, obj, values,
    axis)``: `g` added back where each element of the result came from
    (`insert_sources()`; a value broadcast into several places gets their sum)."""
    g = np.asarray(g)
    dtype = g.dtype if g.dtype.kind in "fc" else np.float64
    sources = insert_sources(np.shape(arr), obj, np.shape(values), axis)
    first = int(np.size(arr))
    start, size = (0, first) if which == 0 else (first, int(np.size(values)))
    taken = (sources >= start) & (sources < start + size)
    out = np.bincount(sources[taken] - start, weights=g[taken], minlength=size)
    return out.astype(dtype, copy=False).reshape(np.shape(values if which else arr))


# ------------------------------------------------------------------ running extremes


def running_source(y: Any, axis: int) -> np.ndarray:
    """For ``y = np.maximum.accumulate(x, axis)`` (or minimum), the position along
    `axis` of the element of `x` each element of `y` is: where `y` changes, the new
    element; where it stays, the one before it (the first of tied elements, as
    ``np.maximum(acc, x)`` keeps `acc` at a tie)."""
    y = np.asarray(y)
    axis = axis % y.ndim
    before = [slice(None)] * y.ndim
    after = [slice(None)] * y.ndim
    before[axis], after[axis] = slice(None, -1), slice(1, None)
    new = np.ones(y.shape, dtype=bool)
    new[tuple(after)] = y[tuple(after)] != y[tuple(before)]
    shape = [1] * y.ndim
    shape[axis] = y.shape[axis]
    steps = np.arange(y.shape[axis]).reshape(shape)
    return np.maximum.accumulate(np.where(new, steps, 0), axis=axis)
