"""Decompositions and least squares of ``np.linalg``: cholesky, eigh, eigvalsh, svd,
cond, qr, pinv and lstsq, the helpers reading their tuple results, and the building
blocks the SciPy rules share (scipy_linalg.py).

Every rule is written with array primitives that have rules themselves (products,
solves, the decompositions again) and constant masks, so derivative code can be
differentiated again: Hessians are forward over reverse through these same rules.

Conventions where a derivative is not unique:

- ``cholesky``, ``eigh`` and ``eigvalsh`` read one triangle of their argument (the
  lower one, or the upper for ``upper=True`` / ``UPLO='U'``), and their derivative is
  that of the function NumPy computes: the other triangle gets a zero adjoint, and an
  element of the triangle read stands for both itself and its mirror image.
- Eigenvectors and singular vectors are differentiated where the eigenvalues (singular
  values) are distinct; at a repeated one the derivative is infinite or nan.
  Functions invariant to the vectors' signs (``V @ diag(w) @ V.T``) are the ones with
  a derivative.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Const, Op, Operand
from ..runtime_linalg import (
    condition_signs,
    constant_tangent,
    full_rank_one,
    half_lower_mask,
    identity_like,
    not_differentiated,
    off_diagonal_mask,
    qr_strict_lower,
    residuals_tangent,
    residuals_tangent_batched,
    residuals_tangent_batched_twice,
    residuals_weight,
    residuals_weight_batched,
    result_item,
    result_item_batched,
    result_like,
    solution_adjoint,
    solution_adjoint_batched,
    svd_identity,
    tall_one,
    triangle_mask,
    untruncated_one,
)
from .core import array, helper
from .emit import Emit, param, static

# ------------------------------------------------------------------ building blocks


def _t(e: Emit, x: Operand) -> Operand:
    return e.swap_last(x)


def _mm(e: Emit, *factors: Operand) -> Operand:
    out = factors[0]
    for f in factors[1:]:
        out = e.matmul(out, f)
    return out


def constant(e: Emit, fn: Any, *args: Any) -> Operand:
    """A constant array made from primal values (a mask, an identity matrix)."""
    return e.call(fn, *[a if isinstance(a, Operand) else Const(a) for a in args])


def _item(e: Emit, x: Operand, k: int) -> Operand:
    """Item `k` of a primal tuple result."""
    return e.b.emit("getitem", [x, Const(k)]).result


def _diag(e: Emit, m: Operand, eye: Operand) -> Operand:
    return e.sum(e.mul(m, eye), axis=-1)


def _diag_matrix(e: Emit, v: Operand, eye: Operand) -> Operand:
    return e.mul(e.expand_dims(v, axis=-1), eye)


def _row(e: Emit, v: Operand) -> Operand:
    return e.expand_dims(v, axis=-2)


def _col(e: Emit, v: Operand) -> Operand:
    return e.expand_dims(v, axis=-1)


def from_triangle(e: Emit, t: Operand, a: Operand, lower: bool) -> Operand:
    """The symmetric matrix a routine reading one triangle of `t` sees."""
    keep = constant(e, triangle_mask, a, lower, 0)
    strict = constant(e, triangle_mask, a, lower, -1 if lower else 1)
    return e.add(e.mul(t, keep), _t(e, e.mul(t, strict)))


def to_triangle(e: Emit, g: Operand, a: Operand, lower: bool) -> Operand:
    """The adjoint of `from_triangle`: the triangle read gets `g` and its mirror image."""
    keep = constant(e, triangle_mask, a, lower, 0)
    strict = constant(e, triangle_mask, a, lower, -1 if lower else 1)
    return e.add(e.mul(g, keep), e.mul(_t(e, g), strict))


def tuple_tangent(e: Emit, op: Op, items: list[Operand]) -> Operand:
    """The tangent of a tuple result: the items' tangents in a tuple of its type."""
    pack = e._mark(e.b.emit("pack", items, attrs={"kind": "tuple"}).result, items)
    return e._mark(e.helper("result_like", pack, op.result), [pack])


def _adjoint_items(e: Emit, op: Op, g: Operand, n: int) -> list[Operand]:
    return [e.helper("result_item", g, k, op.result) for k in range(n)]


def _inverse_gaps(e: Emit, w: Operand, eye: Operand) -> Operand:
    """``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal, 0 on it."""
    gaps = e.sub(_row(e, w), _col(e, w))
    return e.truediv(constant(e, off_diagonal_mask, w), e.add(gaps, eye))


def _gap_term(e: Emit, f: Operand, x: Operand) -> Operand:
    """``F * X`` in an adjoint, zero where X is: the vectors' adjoint X is zero when only
    the eigenvalues (singular values) are used, whose derivative exists also where they
    repeat and F is infinite."""
    return e.where(e.call(np.not_equal, x, Const(0.0)), e.mul(f, x), Const(0.0))


# ------------------------------------------------------------------ np.linalg.cholesky


def _cholesky_factor(e: Emit, op: Op) -> tuple[Operand, bool]:
    """The lower factor L (``A = L L^T``) and whether NumPy read the lower triangle."""
    upper = static(op, "upper")
    return (_t(e, op.result), False) if upper else (op.result, True)


def cholesky_tangent(e: Emit, low: Operand, s: Operand) -> Operand:
    """The tangent of the lower factor L of ``A = L L^T`` along a symmetric `s`:
    ``L Phi(L^-1 S L^-T)``, Phi keeping the lower triangle and half the diagonal."""
    x = e.solve(low, _t(e, e.solve(low, s)))
    return e.matmul(low, e.mul(x, constant(e, half_lower_mask, low)))


def cholesky_adjoint(e: Emit, low: Operand, low_bar: Operand) -> Operand:
    """The adjoint of the symmetric matrix A given that of its lower factor L:
    ``L^-T Phi(L^T L_bar) L^-1`` (to be folded onto the triangle read)."""
    p = e.mul(e.matmul(_t(e, low), low_bar), constant(e, half_lower_mask, low))
    return e.solve(_t(e, low), _t(e, e.solve(_t(e, low), _t(e, p))))


def _cholesky_jvp(e: Emit, op: Op, t: list) -> Operand:
    low, lower = _cholesky_factor(e, op)
    dl = cholesky_tangent(e, low, from_triangle(e, t[0], op.args[0], lower))
    return dl if lower else _t(e, dl)


def _cholesky_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    low, lower = _cholesky_factor(e, op)
    q = cholesky_adjoint(e, low, g if lower else _t(e, g))
    return [to_triangle(e, q, op.args[0], lower)]


# ------------------------------------------------------------------ eigh, eigvalsh


def _lower(op: Op) -> bool:
    uplo = static(op, "UPLO")
    if uplo not in ("L", "U"):
        raise ValueError(f"UPLO must be 'L' or 'U', not {uplo!r}")
    return uplo == "L"


def _eigh_jvp(e: Emit, op: Op, t: list) -> Operand:
    w, v = _item(e, op.result, 0), _item(e, op.result, 1)
    eye = constant(e, identity_like, w)
    m = _mm(e, _t(e, v), from_triangle(e, t[0], op.args[0], _lower(op)), v)
    return tuple_tangent(e, op, [_diag(e, m, eye), e.matmul(v, e.mul(_inverse_gaps(e, w, eye), m))])


def _eigh_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    w, v = _item(e, op.result, 0), _item(e, op.result, 1)
    w_bar, v_bar = _adjoint_items(e, op, g, 2)
    eye = constant(e, identity_like, w)
    inner = e.add(_diag_matrix(e, w_bar, eye),
                  _gap_term(e, _inverse_gaps(e, w, eye), e.matmul(_t(e, v), v_bar)))
    return [to_triangle(e, _mm(e, v, inner, _t(e, v)), op.args[0], _lower(op))]


def _eigvalsh_vectors(e: Emit, op: Op) -> Operand:
    return _item(e, e.eigh(op.args[0], UPLO=static(op, "UPLO")), 1)


def _eigvalsh_jvp(e: Emit, op: Op, t: list) -> Operand:
    v = _eigvalsh_vectors(e, op)
    s = from_triangle(e, t[0], op.args[0], _lower(op))
    return e.sum(e.mul(v, e.matmul(s, v)), axis=-2)


def _eigvalsh_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    v = _eigvalsh_vectors(e, op)
    return [to_triangle(e, e.matmul(e.mul(v, _row(e, g)), _t(e, v)), op.args[0], _lower(op))]


# ------------------------------------------------------------------ svd


def _svd_flags(op: Op) -> tuple[bool, bool]:
    if static(op, "hermitian"):
        raise NotImplementedError("np.linalg.svd with hermitian=True has no rule (use "
                                  "np.linalg.eigh for a symmetric matrix)")
    return bool(static(op, "full_matrices")), bool(static(op, "compute_uv"))


def _svd_parts(e: Emit, op: Op) -> tuple[Operand, Operand, Operand, Operand]:
    """U, s, V (not V^T) of the reduced SVD, and the identity of s's size."""
    full, compute_uv = _svd_flags(op)
    a = op.args[0]
    parts = op.result if compute_uv else e.svd(a, full_matrices=False)
    u, s, vh = (_item(e, parts, k) for k in range(3))
    eye = constant(e, svd_identity, a, full and compute_uv)
    return u, s, _t(e, vh), eye


def _svd_jvp(e: Emit, op: Op, t: list) -> Operand:
    u, s, v, eye = _svd_parts(e, op)
    da = t[0]
    da_v = e.matmul(da, v)
    dp = e.matmul(_t(e, u), da_v)
    ds = _diag(e, dp, eye)
    if not _svd_flags(op)[1]:
        return ds
    s_row, s_col = _row(e, s), _col(e, s)
    f = _inverse_gaps(e, e.mul(s, s), eye)  # 1 / (s_j^2 - s_i^2)
    du = e.add(e.matmul(u, e.mul(f, e.add(e.mul(dp, s_row), e.mul(s_col, _t(e, dp))))),
               e.truediv(e.sub(da_v, e.matmul(u, dp)), s_row))
    dat_u = e.matmul(_t(e, da), u)
    dv = e.add(e.matmul(v, e.mul(f, e.add(e.mul(s_col, dp), e.mul(_t(e, dp), s_row)))),
               e.truediv(e.sub(dat_u, e.matmul(v, _t(e, dp))), s_row))
    return tuple_tangent(e, op, [du, ds, _t(e, dv)])


def _svd_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    u, s, v, eye = _svd_parts(e, op)
    if not _svd_flags(op)[1]:
        return [_mm(e, e.mul(u, _row(e, g)), _t(e, v))]
    u_bar, s_bar, vh_bar = _adjoint_items(e, op, g, 3)
    v_bar = _t(e, vh_bar)
    s_row, s_col = _row(e, s), _col(e, s)
    f = _inverse_gaps(e, e.mul(s, s), eye)
    j = _gap_term(e, f, e.matmul(_t(e, u), u_bar))
    k = _gap_term(e, f, e.matmul(_t(e, v), v_bar))
    p_bar = e.add(e.add(e.mul(e.add(j, _t(e, j)), s_row), _diag_matrix(e, s_bar, eye)),
                  e.mul(s_col, e.add(k, _t(e, k))))
    u_out = e.truediv(e.sub(u_bar, e.matmul(u, e.matmul(_t(e, u), u_bar))), s_row)
    v_out = e.truediv(e.sub(v_bar, e.matmul(v, e.matmul(_t(e, v), v_bar))), s_row)
    a_bar = e.add(_mm(e, u, p_bar, _t(e, v)), e.matmul(u_out, _t(e, v)))
    return [e.add(a_bar, e.matmul(u, _t(e, v_out)))]


# ------------------------------------------------------------------ qr


def _qr_parts(e: Emit, op: Op) -> tuple[Operand, Operand, Operand, Operand]:
    """Q, R, the mask below R's diagonal, and 1.0 after refusing a wide matrix."""
    mode = static(op, "mode")
    if mode != "reduced":
        raise NotImplementedError(f"np.linalg.qr with mode={mode!r} has no rule (the "
                                  "reduced QR, the default, has)")
    q, r = _item(e, op.result, 0), _item(e, op.result, 1)
    one = constant(e, tall_one, op.args[0], "np.linalg.qr")
    return q, r, constant(e, qr_strict_lower, op.args[0]), one


def _qr_jvp(e: Emit, op: Op, t: list) -> Operand:
    q, r, strict, one = _qr_parts(e, op)
    m = _t(e, e.solve(_t(e, r), _t(e, e.mul(t[0], one))))  # dA R^-1
    c = e.matmul(_t(e, q), m)
    low = e.mul(c, strict)
    omega = e.sub(low, _t(e, low))
    dr = e.matmul(e.sub(c, omega), r)
    dq = e.add(e.matmul(q, e.sub(omega, c)), m)
    return tuple_tangent(e, op, [dq, dr])


def _qr_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    q, r, strict, one = _qr_parts(e, op)
    q_bar, r_bar = _adjoint_items(e, op, g, 2)
    direct = e.sub(e.matmul(e.mul(r_bar, one), _t(e, r)), e.matmul(_t(e, q), q_bar))
    c_bar = e.sub(direct, e.mul(e.sub(direct, _t(e, direct)), strict))
    m_bar = e.add(e.matmul(q, c_bar), q_bar)
    return [_t(e, e.solve(r, _t(e, m_bar)))]  # M_bar R^-T


# ------------------------------------------------------------------ pinv, lstsq


def _exact_pinv(e: Emit, op: Op) -> Operand:
    """pinv(A), after refusing one that rcond truncated (the rule's formula is that of
    the exact pseudo-inverse)."""
    return e.mul(op.result, constant(e, untruncated_one, op.args[0], op.result,
                                     "np.linalg.pinv"))


def _pinv_jvp(e: Emit, op: Op, t: list) -> Operand:
    a, x, da = op.args[0], _exact_pinv(e, op), t[0]
    dat = _t(e, da)
    first = e.neg(_mm(e, x, da, x))
    second = _mm(e, x, _t(e, x), e.sub(dat, _mm(e, dat, a, x)))
    third = _mm(e, e.sub(dat, _mm(e, x, a, dat)), _t(e, x), x)
    return e.add(e.add(first, second), third)


def _pinv_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    a, x = op.args[0], _exact_pinv(e, op)
    xt, gt = _t(e, x), _t(e, g)
    first = e.neg(_mm(e, xt, g, xt))
    second = _mm(e, e.sub(gt, _mm(e, a, x, gt)), x, xt)
    third = _mm(e, xt, x, e.sub(gt, _mm(e, gt, x, a)))
    return [e.add(e.add(first, second), third)]


def _lstsq_parts(e: Emit, op: Op) -> tuple[Operand, Operand, Operand, Operand]:
    """A, the solution x, the residual b - A x and the Gram matrix A^T A (the rule is
    that of a matrix of full column rank, refused at run time for a wide one)."""
    a, b = op.args[0], op.args[1]
    x = _item(e, op.result, 0)
    gram = e.mul(e.matmul(_t(e, a), a), constant(e, full_rank_one, a, _item(e, op.result, 2),
                                                 "np.linalg.lstsq"))
    return a, x, e.sub(b, e.matmul(a, x)), gram


def _lstsq_jvp(e: Emit, op: Op, t: list) -> Operand:
    a, x, r, gram = _lstsq_parts(e, op)
    terms = []
    if t[0] is not None:
        terms += [e.matmul(_t(e, t[0]), r), e.neg(e.matmul(_t(e, a), e.matmul(t[0], x)))]
    if t[1] is not None:
        terms.append(e.matmul(_t(e, a), t[1]))
    dx = e.solve(gram, e.sum_terms(terms))
    # residuals ||b - A x||^2 per column: d = 2 r.(db - dA x - A dx), where A^T r = 0
    moved = [e.neg(e.matmul(t[0], x))] if t[0] is not None else []
    moved += [t[1]] if t[1] is not None else []
    residuals = _item(e, op.result, 1)
    slope = e.mul(Const(2.0), e.sum(e.mul(r, e.sum_terms(moved)), axis=0))
    batched = e.is_batched(slope)
    fit = "residuals_tangent_batched" if batched else "residuals_tangent"
    directions = (dx,) if batched else ()  # NaN and zeros get the directions' axis
    rank, values = _item(e, op.result, 2), _item(e, op.result, 3)
    return tuple_tangent(e, op, [dx, e._mark(e.helper(fit, slope, residuals), [slope]),
                                 constant(e, constant_tangent, rank, *directions),
                                 constant(e, not_differentiated, values, *directions)])


def _lstsq_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    a, x, r, gram = _lstsq_parts(e, op)
    y = e.solve(gram, e.helper("solution_adjoint", g, op.result))
    # b_bar = A y + 2 r res_bar (the residuals' share); A_bar = r y^T - b_bar x^T
    b_bar = e.add(e.matmul(a, y), e.helper("residuals_weight", e.helper(
        "result_item", g, 1, op.result), r))
    a_bar = e.sub(e.helper("matmul_adjoint_a", r, a, y),
                  e.helper("matmul_adjoint_a", b_bar, a, x))
    return [a_bar, b_bar]


def _returns_vectors(op: Op) -> bool:
    """svd returns a tuple unless ``compute_uv=False`` (or a computed flag) is passed."""
    flag = param(op, "compute_uv")
    return isinstance(flag, Const) and bool(flag.value)


# ------------------------------------------------------------------ cond


def _cond_parts(e: Emit, op: Op) -> tuple[Operand, Operand, Operand, Operand]:
    """U, V and the identity of the reduced SVD, and d cond / d s (the 2-norm condition
    number is the largest singular value over the smallest, or its inverse for p=-2)."""
    p = static(op, "p")
    if p is not None and not (isinstance(p, (int, float)) and p in (2, -2)):
        raise NotImplementedError(
            f"np.linalg.cond with p={p!r} has no rule (the 2-norm condition number, p=None, "
            "2 or -2, is differentiated; write another norm's as np.linalg.norm(a, p) * "
            "np.linalg.norm(np.linalg.inv(a), p))")
    a = op.args[0]
    u, s, vh = (_item(e, e.svd(a, full_matrices=False), k) for k in range(3))
    signs = constant(e, condition_signs, s, p is not None and p == -2)
    slope = e.mul(_col(e, op.result), e.truediv(signs, s))
    return u, _t(e, vh), constant(e, svd_identity, a, False), slope


def _cond_jvp(e: Emit, op: Op, t: list) -> Operand:
    u, v, eye, slope = _cond_parts(e, op)
    ds = _diag(e, _mm(e, _t(e, u), t[0], v), eye)
    return e.sum(e.mul(slope, ds), axis=-1)


def _cond_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    u, v, _, slope = _cond_parts(e, op)
    return [e.matmul(e.mul(u, _row(e, e.mul(_col(e, g), slope))), _t(e, v))]


array("cholesky", np.linalg.cholesky, "a*, upper=False", jvp=_cholesky_jvp, vjp=_cholesky_vjp)
array("eigh", np.linalg.eigh, "a*, UPLO='L'", container_result=True, float_items=True,
      jvp=_eigh_jvp, vjp=_eigh_vjp)
array("eigvalsh", np.linalg.eigvalsh, "a*, UPLO='L'", jvp=_eigvalsh_jvp, vjp=_eigvalsh_vjp)
array("svd", np.linalg.svd, "a*, full_matrices=True, compute_uv=True, hermitian=False",
      container_result=_returns_vectors, float_items=True, jvp=_svd_jvp, vjp=_svd_vjp)
array("cond", np.linalg.cond, "x*, p=None", jvp=_cond_jvp, vjp=_cond_vjp)
array("qr", np.linalg.qr, "a*, mode='reduced'", container_result=True, float_items=True,
      jvp=_qr_jvp, vjp=_qr_vjp)
array("pinv", np.linalg.pinv, "a*, rcond=None, hermitian=False", jvp=_pinv_jvp, vjp=_pinv_vjp)
array("lstsq", np.linalg.lstsq, "a*, b*, rcond=None", container_result=True, jvp=_lstsq_jvp,
      vjp=_lstsq_vjp)

# a tuple result's tangent in the result's own type, and one item of its adjoint
helper("result_like", result_like, (0,), lambda e, g, a: [g, None], container_result=True,
       jvp=lambda e, op, t: None if t[0] is None else e._mark(
           e.helper("result_like", t[0], op.args[1]), [t[0]]))
helper("result_item", result_item, (0,), lambda e, g, a: [
    e.helper("index_update", a[2], a[1], g), None, None], jvp=lambda e, op, t: (
    None if t[0] is None else e._mark(e.helper(
        "result_item_batched" if e.is_batched(t[0]) else "result_item", t[0], *op.args[1:]),
        [t[0]])), float_result=True)  # (an item's adjoint: zeros where none flowed back)
helper("result_item_batched", result_item_batched, (0,))
helper("solution_adjoint", solution_adjoint, (0,), batched=solution_adjoint_batched)
helper("residuals_tangent", residuals_tangent, (0,), batched=residuals_tangent_batched)
helper("residuals_tangent_batched", residuals_tangent_batched, (0,),
       batched=residuals_tangent_batched_twice)
helper("residuals_weight", residuals_weight, (0, 1), batched=residuals_weight_batched)
