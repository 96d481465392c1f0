"""Vector mode of sampled functions: np.interp and np.polyval in the values (their
tangents in fp and p) and the run-time helpers of their derivatives, and np.gradient's
adjoint.

Each takes a batched tangent or adjoint (its last axis carries the directions) and
equals the function applied to each direction in turn, the results stacked on a last
axis: the knots' segments and the powers of x are found once for all directions.
Declared as the `batched=` forms of the entries of registry/signals.py.  Like
`runtime`, this module needs nothing but NumPy.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .runtime_npmath import _interp_parts, gradient_adjoint_f

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
