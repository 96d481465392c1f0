"""Vector mode of the run-time helpers of statistics: np.prod's adjoint, the tangent
and adjoint of quantiles, np.cov's rows of variables and multivariate_normal's
covariance matrix.

Each takes a batched tangent or adjoint (its last axis carries the directions) and
equals the helper applied to each direction in turn, the results stacked on a last
axis.  Declared as the `batched=` forms of the helpers' entries (registry/reductions.py,
statistics.py, stats.py).  Like `runtime`, this module needs nothing but NumPy.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .batched import batched_sum_adjoint
from .batched_shaping import batched_tril, primal_axis
from .runtime_npmath import _kept_shape, quantile_parts
from .runtime_products import prod_others


def batched_prod_adjoint(g: Any, x: Any, y: Any, axis: Any = None,
                         keepdims: bool = False) -> Any:
    """`runtime_products.prod_adjoint` of a batched `g`: each direction spread back over `x`,
    times each element's product of the others (exact at zeros)."""
    others = prod_others(x, y, axis, keepdims)
    return batched_sum_adjoint(g, x, axis, keepdims) * np.expand_dims(others, -1)


# ------------------------------------------------------------------ quantiles
# The directions moved first: quantile_parts then puts the reduced axes last, after
# them, in the same order as it puts those of the data.


def _shifted_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """The reduced axes of data of `ndim` axes, counted after a first axis of directions."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(primal_axis(k, ndim) + 1 for k in axes)


def batched_quantile_tangent(t: Any, a: Any, q: Any, axis: Any = None,
                             keepdims: bool = False) -> Any:
    """`runtime_npmath.quantile_tangent` of a batched tangent `t` of the data `a`."""
    a = np.asarray(a)
    t = np.broadcast_to(t, a.shape + np.shape(t)[-1:])
    count = t.shape[-1]
    t_last, _, _, _ = quantile_parts(np.moveaxis(t, -1, 0), q, _shifted_axes(axis, a.ndim),
                                     keepdims)
    a_last, order, (lo, hi), frac = quantile_parts(a, q, axis, keepdims)
    qshape = np.shape(q)
    flat_lo, flat_hi, flat_frac = (np.ravel(v) for v in (lo, hi, frac))
    order = order[np.newaxis]
    taken_lo = np.take_along_axis(t_last, order[..., flat_lo], axis=-1)
    taken_hi = np.take_along_axis(t_last, order[..., flat_hi], axis=-1)
    value = (1.0 - flat_frac) * taken_lo + flat_frac * taken_hi  # (n, ..., len(q))
    value = np.moveaxis(value, -1, 0).reshape(qshape + (count,) + a_last.shape[:-1])
    value = np.moveaxis(value, len(qshape), -1).astype(np.result_type(a, t), copy=False)
    if keepdims:
        return value.reshape(qshape + _kept_shape(a.shape, axis) + (count,))
    return value


def batched_quantile_adjoint(g: Any, a: Any, q: Any, axis: Any = None,
                             keepdims: bool = False) -> Any:
    """`runtime_npmath.quantile_adjoint` of a batched `g`: each direction sent back to
    the two ranks each result interpolates."""
    a = np.asarray(a)
    g = np.asarray(g)
    count = g.shape[-1]
    a_last, order, (lo, hi), frac = quantile_parts(a, q, axis, keepdims)
    qshape = np.shape(q)
    results = int(np.prod(qshape))
    g_rows = np.reshape(g, (results,) + a_last.shape[:-1] + (count,))
    g_rows = np.moveaxis(g_rows, (0, -1), (-1, 0))  # (n, ..., len(q))
    flat_lo, flat_hi, flat_frac = (np.ravel(v) for v in (lo, hi, frac))
    ranks = np.argsort(order, axis=-1)
    out = np.zeros((count,) + a_last.shape, dtype=np.result_type(a, g_rows, np.float32))
    for k in range(results):  # (one pass per probability, as the helper takes)
        weights = (1.0 - flat_frac[k]) * (ranks == flat_lo[k]) + flat_frac[k] * (ranks == flat_hi[k])
        out += g_rows[..., k, None] * weights
    if axis is None:
        return np.moveaxis(out.reshape((count,) + a.shape), 0, -1)
    axes = [k - 1 for k in _shifted_axes(axis, a.ndim)]
    rest = [k for k in range(a.ndim) if k not in axes]
    moved = out.reshape([count] + [a.shape[k] for k in rest] + [a.shape[k] for k in axes])
    order_back = [0] + [k + 1 for k in np.argsort(rest + axes)]
    return np.moveaxis(np.transpose(moved, order_back), 0, -1)


# ------------------------------------------------------------------ np.cov's rows


def batched_cov_rows(t: Any, rowvar: bool) -> Any:
    """`runtime_npmath.cov_rows` of a batched tangent: the variables as rows."""
    t = np.asarray(t, dtype=np.result_type(t, np.float64))
    primal = t.shape[:-1]
    if len(primal) > 2:
        raise ValueError(f"np.cov takes 1-D or 2-D arrays, but this one has shape {primal}")
    rows = np.reshape(t, (1,) * (2 - len(primal)) + t.shape)
    return rows if rowvar or rows.shape[0] == 1 else np.swapaxes(rows, 0, 1)


def batched_cov_rows_adjoint(g: Any, x: Any, rowvar: bool) -> Any:
    """`runtime_npmath.cov_rows_adjoint` of a batched `g`: laid out as `x` is."""
    g = np.asarray(g)
    shape = np.shape(x)
    if not rowvar and len(shape) == 2 and shape[0] != 1:
        g = np.swapaxes(g, 0, 1)
    return g.reshape(shape + g.shape[-1:])


# ------------------------------------------------------------------ multivariate_normal


def batched_covariance_matrix(t: Any, dimension: int) -> Any:
    """`runtime_stats.covariance_matrix` of a batched tangent of `cov`."""
    t = np.asarray(t)
    if t.ndim == 1:  # a number: times the identity
        return np.expand_dims(np.eye(dimension), -1) * t
    if t.ndim == 2:  # a vector: on the diagonal
        out = np.zeros((t.shape[0], t.shape[0], t.shape[1]), dtype=t.dtype)
        i = np.arange(t.shape[0])
        out[i, i] = t
        return out
    return batched_tril(t) + np.swapaxes(batched_tril(t, -1), 0, 1)


def batched_covariance_adjoint(g: Any, cov: Any) -> Any:
    """`runtime_stats.covariance_adjoint` of a batched adjoint `g` of the matrix."""
    g = np.asarray(g)
    ndim = np.ndim(cov)
    if ndim == 0:
        return np.trace(g, axis1=0, axis2=1)
    if ndim == 1:
        return np.diagonal(g, 0, 0, 1).T.copy()
    return batched_tril(g) + batched_tril(np.swapaxes(g, 0, 1), -1)
