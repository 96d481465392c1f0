"""Run-time helpers of the linear-algebra rules (registry/linalg.py, decompositions.py,
scipy_linalg.py): constant masks, the items of decompositions' tuple results, and the
weights of ``np.linalg.norm``.

Like `runtime`, this module needs nothing but NumPy: generated code imports from it,
and exported modules copy what they call.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .runtime import IndexUpdate, _is_zero

# ---------------------------------------------------------------- constants


def _float_dtype(a: Any) -> Any:
    dtype = np.asarray(a).dtype
    return dtype if dtype.kind == "f" else np.float64


def triangle_mask(a: Any, lower: bool = True, k: int = 0) -> np.ndarray:
    """Ones on and below (`lower`) or above the `k`-th diagonal of `a`'s last two axes,
    zeros elsewhere: multiplying by it keeps one triangle of a matrix."""
    n, m = np.shape(a)[-2:]
    ones = np.ones((n, m), dtype=_float_dtype(a))
    return np.tril(ones, k) if lower else np.triu(ones, k)


def identity_like(a: Any) -> np.ndarray:
    """The identity matrix of `a`'s last axis (the size of a square matrix, or of a
    vector of eigenvalues or singular values)."""
    return np.eye(np.shape(a)[-1], dtype=_float_dtype(a))


def rows_identity(a: Any) -> np.ndarray:
    """The identity matrix with as many rows as `a` has (its second last axis)."""
    return np.eye(np.shape(a)[-2], dtype=_float_dtype(a))


def half_lower_mask(a: Any) -> np.ndarray:
    """The lower triangle with a half diagonal: ``Phi`` of the Cholesky rules."""
    mask = triangle_mask(a)
    return mask - 0.5 * identity_like(a)


def off_diagonal_mask(w: Any) -> np.ndarray:
    """Ones off the diagonal of the square matrix of `w`'s last axis."""
    return 1.0 - identity_like(w)


def block_basis(a: Any, which: int) -> np.ndarray:
    """``[I; 0]`` (`which` 0) or ``[0; I]`` (1): the columns that put an n x n block of
    a 2n x 2n matrix in place, ``E_i @ X @ E_j.T``."""
    n = np.shape(a)[-1]
    out = np.zeros((2 * n, n), dtype=_float_dtype(a))
    out[which * n:(which + 1) * n] = np.eye(n)
    return out


def factor_weight(pair: Any, what: str) -> Any:
    """For the result ``(c, lower)`` of ``scipy.linalg.cho_factor``: the mask of the
    triangle of c holding the factor (`what` "mask"), or 1.0 for a lower factor and 0.0
    for an upper one ("weight")."""
    c, lower = pair
    if what == "mask":
        return triangle_mask(c, bool(lower), 0)
    return 1.0 if lower else 0.0


def real_one(y: Any, what: str) -> float:
    """1.0, after refusing a complex result (`what`'s of a matrix with negative
    eigenvalues): complex values have no derivative here."""
    if np.iscomplexobj(y):
        raise TypeError(f"{what} returned a complex matrix (its argument has negative "
                        "eigenvalues): complex values are not differentiated")
    return 1.0


def _require_tall(a: Any, what: str) -> None:
    shape = np.shape(a)
    if shape[-2] < shape[-1]:
        raise ValueError(f"{what} is differentiated for matrices with at least as many rows "
                         f"as columns, but this one has shape {shape}; differentiate the "
                         "function of the transposed matrix instead")


def svd_identity(a: Any, full_matrices: bool) -> np.ndarray:
    """The identity of the size of `a`'s singular values, after refusing the SVD rule a
    matrix it does not cover: full U and V of a matrix that is not square."""
    shape = np.shape(a)
    if full_matrices and shape[-1] != shape[-2]:
        raise ValueError(f"np.linalg.svd with full_matrices=True is differentiated for "
                         f"square matrices only, but this one has shape {shape}; pass "
                         "full_matrices=False for the reduced SVD")
    return np.eye(min(shape[-2:]), dtype=_float_dtype(a))


def condition_signs(s: Any, inverse: bool) -> np.ndarray:
    """+1 at the largest singular value and -1 at the smallest (the other way round for
    ``p=-2``): the slope of ``log(cond)`` in ``log(s)``, zero when there is only one."""
    signs = np.zeros_like(s)
    signs[..., 0] += -1.0 if inverse else 1.0
    signs[..., -1] -= -1.0 if inverse else 1.0
    return signs


def qr_strict_lower(a: Any) -> np.ndarray:
    """Ones below the diagonal of R's shape."""
    return triangle_mask(np.empty((np.shape(a)[-1],) * 2), True, -1)


def tall_one(a: Any, what: str) -> float:
    """1.0, after refusing a matrix with fewer rows than columns (a factor to multiply
    into the rule's first product, so that the refusal comes first)."""
    _require_tall(a, what)
    return 1.0


def full_rank_one(a: Any, rank: Any, what: str) -> float:
    """1.0, after refusing (as `tall_one`) a matrix lstsq found of lower rank than its
    count of columns: rcond cut singular values, and the rule is that of full rank."""
    _require_tall(a, what)
    if np.any(np.asarray(rank) < np.shape(a)[-1]):
        raise ValueError(f"{what} is differentiated for matrices of full column rank, but "
                         f"this one has rank {rank} of {np.shape(a)[-1]} columns at this "
                         "rcond (singular values below rcond times the largest were "
                         "dropped); pass a smaller rcond, or regularise the problem "
                         "(ridge: np.linalg.solve(A.T @ A + lam * np.eye(n), A.T @ b))")
    return 1.0


def untruncated_one(a: Any, pseudo_inverse: Any, what: str) -> float:
    """1.0, after refusing a pseudo-inverse that dropped nonzero singular values of `a`
    (rcond): the rule is that of the exact pseudo-inverse, for which A A+ A = A."""
    a = np.asarray(a)
    size = np.max(np.abs(a)) if a.size else 0.0
    tolerance = np.sqrt(np.finfo(np.result_type(a, np.float16)).eps) * size  # (roundoff)
    if size and np.max(np.abs(a @ pseudo_inverse @ a - a)) > tolerance:
        raise ValueError(f"{what} is differentiated where rcond drops no singular value "
                         "but exact zeros, and here it dropped some (A @ pinv(A) @ A != A); "
                         "pass a smaller rcond, or regularise the problem")
    return 1.0


def not_differentiated(x: Any, directions: Any = None) -> Any:
    """NaN shaped like `x`: the tangent of a result no rule differentiates (the
    singular values of ``np.linalg.lstsq``), visible rather than zero; with the
    directions' count on a last axis in vector mode (`directions`, a batched tangent)."""
    return np.full(_tangent_shape(x, directions), np.nan)


def constant_tangent(x: Any, directions: Any = None) -> Any:
    """Zeros shaped like `x` (as `not_differentiated`): the tangent of a whole number
    a rule returns beside its result, lstsq's rank."""
    return np.zeros(_tangent_shape(x, directions))


def _tangent_shape(x: Any, directions: Any) -> tuple:
    return np.shape(x) + (() if directions is None else np.shape(directions)[-1:])


_LSTSQ_VALUES = ("np.linalg.lstsq is differentiated in its solution and residuals, not its "
                 "singular values; take them from np.linalg.svd(a, compute_uv=False)")


def solution_adjoint(g: Any, like: Any) -> Any:
    """The adjoint of the solution of ``np.linalg.lstsq`` (item 0 of `g`), after
    refusing an adjoint of the singular values, which have no rule."""
    if np.any(result_item(g, 3, like) != 0):
        raise ValueError(_LSTSQ_VALUES)
    return result_item(g, 0, like)


def solution_adjoint_batched(g: Any, like: Any) -> Any:
    """`solution_adjoint` of a `g` whose items carry directions on a last axis."""
    if np.any(result_item_batched(g, 3, like) != 0):
        raise ValueError(_LSTSQ_VALUES)
    return result_item_batched(g, 0, like)


def residuals_tangent(slope: Any, residuals: Any) -> Any:
    """The tangent of lstsq's residuals, shaped as NumPy gives them: one number per
    column of b ((1,) for a vector b), none where the fit is exact or A lacks rank."""
    if np.size(residuals) == 0:
        return np.zeros(np.shape(residuals))
    return np.reshape(slope, np.shape(residuals))


def residuals_tangent_batched(slope: Any, residuals: Any) -> Any:
    """`residuals_tangent` of directions on a last axis (vector mode)."""
    shape = np.shape(residuals) + np.shape(slope)[-1:]
    if np.size(residuals) == 0:
        return np.zeros(shape)
    return np.reshape(slope, shape)


def residuals_tangent_batched_twice(slope: Any, residuals: Any) -> Any:
    """`residuals_tangent_batched` of two last axes of directions (vector-mode code
    differentiated in vector mode again)."""
    shape = np.shape(residuals) + np.shape(slope)[-2:]
    if np.size(residuals) == 0:
        return np.zeros(shape)
    return np.reshape(slope, shape)


def residuals_weight(residuals_bar: Any, r: Any) -> Any:
    """The residuals' share of b's adjoint, 2 r res_bar (each column's r by its
    residual's adjoint); nothing where NumPy gave no residuals."""
    if np.size(residuals_bar) == 0:
        return np.zeros(np.shape(r))
    return 2.0 * r * residuals_bar


def residuals_weight_batched(residuals_bar: Any, r: Any, directions_in: int = 0) -> Any:
    """`residuals_weight` where its argument at `directions_in` (0: `residuals_bar`, 1:
    `r`) carries the directions on a last axis."""
    if directions_in == 1:
        if np.size(residuals_bar) == 0:
            return np.zeros(np.shape(r))
        return 2.0 * r * np.expand_dims(residuals_bar, -1)
    if np.size(residuals_bar) == 0:
        return np.zeros(np.shape(r) + np.shape(residuals_bar)[-1:])
    return 2.0 * np.expand_dims(r, -1) * residuals_bar


# ---------------------------------------------------------------- np.linalg.solve
# NumPy's solve takes b as a vector only when it is 1-d (even beside a stack of
# matrices); its rules work on columns, these helpers make and unmake them.


def as_column(x: Any, b: Any) -> Any:
    """`x` (shaped like solve's result or right-hand side) as a column where `b` is a
    vector."""
    return np.expand_dims(x, -1) if np.ndim(b) == 1 else x


def from_column(x: Any, b: Any) -> Any:
    """The inverse of `as_column` (and its adjoint)."""
    return x[..., 0] if np.ndim(b) == 1 else x


def as_column_batched(t: Any, b: Any) -> Any:
    """`as_column` of a tangent carrying directions on a last axis."""
    return np.expand_dims(t, -2) if np.ndim(b) == 1 else t


def from_column_batched(t: Any, b: Any) -> Any:
    """`from_column` of a tangent carrying directions on a last axis."""
    return t[..., 0, :] if np.ndim(b) == 1 else t


def as_column_batched_twice(t: Any, b: Any) -> Any:
    """`as_column_batched` of a tangent carrying two last axes of directions (vector-mode
    code differentiated in vector mode again)."""
    return np.expand_dims(t, -3) if np.ndim(b) == 1 else t


def from_column_batched_twice(t: Any, b: Any) -> Any:
    """`from_column_batched` of a tangent carrying two last axes of directions."""
    return t[..., 0, :, :] if np.ndim(b) == 1 else t


def batched_solve_columns(a: Any, t: Any) -> Any:
    """``np.linalg.solve(a, t)`` for a right-hand side carrying directions on a last
    axis: the directions join the columns (of a vector, they are the columns)."""
    t = np.asarray(t)
    if t.ndim == 2:
        return np.linalg.solve(a, t)
    shape = t.shape
    out = np.linalg.solve(a, t.reshape(shape[:-2] + (shape[-2] * shape[-1],)))
    return out.reshape(out.shape[:-1] + shape[-2:])


# ---------------------------------------------------------------- tuple results


def result_like(items: Any, like: Any) -> Any:
    """`items` as a tuple of the type of the result `like` (``EighResult``, ``SVDResult``,
    or a plain tuple), so that field reads (``res.eigenvalues``) work on derivatives."""
    fields = getattr(type(like), "_fields", None)
    return type(like)(*items) if fields is not None else tuple(items)


def result_item(g: Any, k: int, like: Any) -> Any:
    """Item `k` of the adjoint of a tuple result `like`, sparse or not: zeros shaped
    like ``like[k]`` where nothing flowed back into it."""
    if isinstance(g, IndexUpdate):
        g = g.value if g.index == k else None
    elif _is_zero(g):
        g = None
    else:
        g = g[k]
    if g is None or _is_zero(g):
        return np.zeros(np.shape(like[k]), dtype=_float_dtype(like[k]))
    return g


def result_item_batched(t: Any, k: int, like: Any) -> Any:
    """`result_item` of a tangent that carries directions on a last axis (vector mode):
    a missing item is zero with a last axis of length one, which broadcasts."""
    if isinstance(t, IndexUpdate):
        t = t.value if t.index == k else None
    elif _is_zero(t):
        t = None
    else:
        t = t[k]
    if t is None or _is_zero(t):
        return np.zeros(np.shape(like[k]) + (1,), dtype=_float_dtype(like[k]))
    return t


# ---------------------------------------------------------------- np.linalg.norm


def _norm_axes(x: np.ndarray, order: Any, axis: Any) -> tuple[int, ...]:
    """The axes one norm is taken over: one for a vector norm, two for a matrix norm."""
    if axis is None:  # all of them: NumPy takes an order only for 1-d and 2-d arrays
        return tuple(range(x.ndim))
    if isinstance(axis, int):
        return (axis % x.ndim,)
    return tuple(a % x.ndim for a in axis)


def _spread(y: Any, x: np.ndarray, axes: tuple[int, ...], keepdims: bool, explicit: bool) -> Any:
    if explicit and not keepdims:
        y = np.expand_dims(y, axes)
    elif not explicit and not keepdims:
        y = np.reshape(y, (1,) * x.ndim)
    return y


def _ties(hit: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """A mask of the elements attaining an extremum, ties sharing equally."""
    hit = hit.astype(np.float64)
    return hit / np.sum(hit, axis=axes, keepdims=True)


def _matrix_last(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.moveaxis(x, axes, (-2, -1))


def _matrix_back(w: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.moveaxis(w, (-2, -1), axes)


def norm_weight(x: Any, y: Any, order: Any = None, axis: Any = None,
                keepdims: bool = False) -> np.ndarray:
    """The gradient of each norm ``np.linalg.norm(x, order, axis, keepdims)`` (whose
    value is `y`) with respect to the elements it is taken over, shaped like `x`.

    Where a norm is not differentiable, the weight chosen is that of autograd: ties of
    an extremum (``inf``, the 1-norm of a matrix) share it equally, the sign of zero is
    zero, and a repeated largest singular value takes NumPy's first singular vectors."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    axes = _norm_axes(x, order, axis)
    ys = _spread(np.asarray(y), x, axes, keepdims, axis is not None)
    if order in (None, "fro") or (order == 2 and len(axes) == 1):
        w = np.where(ys == 0, 0.0, x / np.where(ys == 0, 1.0, ys))
    elif len(axes) == 1:
        w = _vector_weight(x, ys, order, axes)
    else:
        w = _matrix_weight(x, order, axes)
    return w.astype(dtype, copy=False)


def _vector_weight(x: np.ndarray, ys: Any, order: Any, axes: tuple[int, ...]) -> np.ndarray:
    if order == 0:
        return np.zeros(x.shape)
    if order == 1:
        return np.sign(x)
    if order in (np.inf, -np.inf):
        return np.sign(x) * _ties(np.abs(x) == ys, axes)
    p = float(order)
    return np.sign(x) * np.abs(x) ** (p - 1) / ys ** (p - 1)


def _matrix_weight(x: np.ndarray, order: Any, axes: tuple[int, ...]) -> np.ndarray:
    m = _matrix_last(x, axes)
    if order == "nuc":
        u, _, vt = np.linalg.svd(m, full_matrices=False)
        w = u @ vt
    elif order in (2, -2):
        u, _, vt = np.linalg.svd(m, full_matrices=False)
        i = 0 if order == 2 else -1
        w = u[..., :, [i]] @ vt[..., [i], :]
    elif order in (1, -1, np.inf, -np.inf):
        along = -2 if order in (1, -1) else -1  # columns sum over rows, rows over columns
        sums = np.sum(np.abs(m), axis=along, keepdims=True)
        pick = np.max if order in (1, np.inf) else np.min
        best = pick(sums, axis=-1 if along == -2 else -2, keepdims=True)
        w = np.sign(m) * _ties(sums == best, (-1,) if along == -2 else (-2,))
    else:
        raise ValueError(f"invalid norm order {order!r} for matrices")
    return _matrix_back(w, axes)


def _svd_tangents(u: np.ndarray, s: np.ndarray, vt: np.ndarray,
                  da: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tangents of U and V of a reduced SVD ``a = U diag(s) V^T`` along `da`, for
    distinct nonzero singular values."""
    v = np.swapaxes(vt, -1, -2)
    dp = np.swapaxes(u, -1, -2) @ da @ v
    s_row, s_col = s[..., None, :], s[..., :, None]
    gap = s_row ** 2 - s_col ** 2
    eye = np.eye(s.shape[-1], dtype=bool)
    f = np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, gap))
    du = u @ (f * (dp * s_row + s_col * np.swapaxes(dp, -1, -2)))
    du = du + (da - u @ (np.swapaxes(u, -1, -2) @ da)) @ v / s_row
    dv = v @ (f * (s_col * dp + np.swapaxes(dp, -1, -2) * s_row))
    dat_u = np.swapaxes(da, -1, -2) @ u
    dv = dv + (dat_u - v @ (vt @ dat_u)) / s_row
    return du, dv


def _weight_tangent(x: np.ndarray, t: np.ndarray, order: Any, axes: tuple[int, ...],
                    ys: Any) -> np.ndarray:
    if order in (None, "fro") or (order == 2 and len(axes) == 1):
        w = x / ys
        return (t - w * np.sum(w * t, axis=axes, keepdims=True)) / ys
    if order in (0, 1, np.inf, -np.inf) or (order == -1 and len(axes) == 2):
        return np.zeros(x.shape)  # piecewise linear: the weight is piecewise constant
    if len(axes) == 1:
        p = float(order)
        w = _vector_weight(x, ys, order, axes)
        y_dot = np.sum(w * t, axis=axes, keepdims=True)
        return (p - 1) * (np.abs(x) ** (p - 2) * t / ys ** (p - 1) - w * y_dot / ys)
    m, dm = _matrix_last(x, axes), _matrix_last(t, axes)
    u, s, vt = np.linalg.svd(m, full_matrices=False)
    du, dv = _svd_tangents(u, s, vt, dm)
    if order == "nuc":
        dw = du @ vt + u @ np.swapaxes(dv, -1, -2)
    else:
        i = 0 if order == 2 else -1
        dw = du[..., :, [i]] @ vt[..., [i], :] + u[..., :, [i]] @ np.swapaxes(dv[..., :, [i]], -1, -2)
    return _matrix_back(dw, axes)


def norm_weight_jvp(x: Any, y: Any, t: Any, order: Any = None, axis: Any = None,
                    keepdims: bool = False) -> np.ndarray:
    """The tangent of `norm_weight` along `t` (the Hessian of the norm applied to `t`,
    which is symmetric, so also the adjoint of `norm_weight`).  `t` may carry
    directions on a last, extra axis (vector mode)."""
    x, t = np.asarray(x), np.asarray(t)
    if t.ndim > x.ndim:
        return np.stack([norm_weight_jvp(x, y, t[..., k], order, axis, keepdims)
                         for k in range(t.shape[-1])], axis=-1)
    axes = _norm_axes(x, order, axis)
    ys = _spread(np.asarray(y), x, axes, keepdims, axis is not None)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    return _weight_tangent(x, np.broadcast_to(t, x.shape), order, axes, ys).astype(
        dtype, copy=False)
