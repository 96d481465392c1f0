"""Rules of ``scipy.linalg``: solve_triangular, cho_factor, cho_solve, expm (the block
Fréchet derivative), sqrtm and solve_sylvester.

Declared lazily: this module is imported (by `core.declare_imported_libraries`) once
the user's code has imported scipy.linalg, so importing ad_compiler imports no SciPy.
The rules follow decompositions.py: written with primitives that have rules, so that
derivative code can be differentiated again.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

from .. import batched_products
from ..ir import Const, Op, Operand
from ..runtime_linalg import block_basis, factor_weight, real_one, triangle_mask
from .core import array, parse_signature
from .decompositions import (  # the transposes and products of stacks rules share
    _mm,
    _t,
    cholesky_adjoint,
    cholesky_tangent,
    constant,
    from_triangle,
    to_triangle,
    tuple_tangent,
)
from .emit import Emit, apply_again, one_batched, position, static

# ------------------------------------------------------------------ solve_triangular


def _triangular_flags(op: Op) -> tuple[bool, bool, bool]:
    """Whether the system is transposed, the matrix lower triangular, its diagonal ones."""
    trans = static(op, "trans")
    if trans not in (0, 1, 2, "N", "T", "C"):
        raise ValueError(f"trans must be 0, 1, 2, 'N', 'T' or 'C', not {trans!r}")
    return trans in (1, 2, "T", "C"), bool(static(op, "lower")), bool(static(op, "unit_diagonal"))


def _read_triangle(e: Emit, a: Operand, lower: bool, unit: bool) -> Operand:
    """The mask of the elements solve_triangular reads (not a unit diagonal)."""
    return constant(e, triangle_mask, a, lower, (-1 if lower else 1) if unit else 0)


def _solve_triangular_jvp(e: Emit, op: Op, t: list) -> Operand:
    transposed, lower, unit = _triangular_flags(op)
    a, b = position(op, "a"), position(op, "b")
    terms = [t[b]] if t[b] is not None else []
    if t[a] is not None:
        dt = e.mul(t[a], _read_triangle(e, op.args[a], lower, unit))
        terms.append(e.neg(e.matmul(_t(e, dt) if transposed else dt, op.result)))
    return apply_again(e, op, {b: e.sum_terms(terms)})


def _solve_triangular_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    transposed, lower, unit = _triangular_flags(op)
    a = op.args[position(op, "a")]
    b_bar = e.solve_triangular(a, g, trans=0 if transposed else 1, lower=lower,
                               unit_diagonal=unit)
    op_bar = e.neg(e.helper("matmul_adjoint_a", b_bar, a, op.result))
    a_bar = e.mul(_t(e, op_bar) if transposed else op_bar, _read_triangle(e, a, lower, unit))
    parts: list[Operand | None] = [None] * len(op.args)
    parts[position(op, "a")], parts[position(op, "b")] = a_bar, b_bar
    return parts


# ------------------------------------------------------------------ cho_factor, cho_solve
# cho_factor returns (c, lower): the factor in one triangle of c, the other triangle
# a's own entries.  cho_solve reads the factor of c alone; which triangle holds it is
# known only when the code runs, so its rules write L = w K + (1 - w) K^T, where K is
# the triangle and w is 1.0 for a lower factor, 0.0 for an upper one.


def _copies_other_triangle() -> bool:
    """Whether this SciPy's cho_factor leaves the input in the other triangle of c (up
    to 1.17), or zeros it (1.18 on): its derivative there is 1 or 0 accordingly."""
    c, _ = linalg.cho_factor(np.array([[4.0, 1.0], [1.0, 3.0]]), lower=True)
    return bool(c[0, 1] == 1.0)


_COPIES_OTHER_TRIANGLE = _copies_other_triangle()


def _cho_factor_jvp(e: Emit, op: Op, t: list) -> Operand:
    lower = bool(static(op, "lower"))
    a, c = op.args[0], e.b.emit("getitem", [op.result, Const(0)]).result
    keep = constant(e, triangle_mask, a, lower, 0)
    low = e.mul(c, keep) if lower else _t(e, e.mul(c, keep))
    dl = cholesky_tangent(e, low, from_triangle(e, t[0], a, lower))
    dc = dl if lower else _t(e, dl)
    if _COPIES_OTHER_TRIANGLE:
        dc = e.add(dc, e.mul(t[0], constant(e, triangle_mask, a, not lower, 1 if lower else -1)))
    return tuple_tangent(e, op, [dc, Const(0.0)])


def _cho_factor_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    lower = bool(static(op, "lower"))
    a, c = op.args[0], e.b.emit("getitem", [op.result, Const(0)]).result
    c_bar = e.helper("result_item", g, 0, op.result)
    keep = constant(e, triangle_mask, a, lower, 0)
    low = e.mul(c, keep) if lower else _t(e, e.mul(c, keep))
    factor_bar = e.mul(c_bar, keep)
    q = cholesky_adjoint(e, low, factor_bar if lower else _t(e, factor_bar))
    a_bar = to_triangle(e, q, a, lower)
    if _COPIES_OTHER_TRIANGLE:
        a_bar = e.add(a_bar, e.mul(c_bar, constant(e, triangle_mask, a, not lower,
                                                    1 if lower else -1)))
    return [a_bar]


def _factor_parts(e: Emit, pair: Operand) -> tuple[Operand, Operand, Operand]:
    """c, the mask of the triangle holding the factor, and w (see above)."""
    c = e.b.emit("getitem", [pair, Const(0)]).result
    return c, constant(e, factor_weight, pair, "mask"), constant(e, factor_weight, pair, "weight")


def _lower_factor(e: Emit, k: Operand, w: Operand) -> Operand:
    return e.add(e.mul(k, w), e.mul(_t(e, k), e.sub(Const(1.0), w)))


def _cho_solve_jvp(e: Emit, op: Op, t: list) -> Operand:
    pair, x = op.args[0], op.result
    terms = [t[1]] if t[1] is not None else []
    if t[0] is not None:
        c, keep, w = _factor_parts(e, pair)
        low = _lower_factor(e, e.mul(c, keep), w)
        dc = e._mark(e.b.emit("getitem", [t[0], Const(0)]).result, [t[0]])
        dl = _lower_factor(e, e.mul(dc, keep), w)
        moved = e.add(e.matmul(dl, e.matmul(_t(e, low), x)), e.matmul(low, e.matmul(_t(e, dl), x)))
        terms.append(e.neg(moved))
    return e.array("cho_solve", pair, e.sum_terms(terms))


def _cho_solve_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    pair, x = op.args[0], op.result
    b_bar = e.array("cho_solve", pair, g)
    c, keep, w = _factor_parts(e, pair)
    low = _lower_factor(e, e.mul(c, keep), w)
    a_bar = e.neg(e.helper("matmul_adjoint_a", b_bar, c, x))
    low_bar = e.matmul(e.add(a_bar, _t(e, a_bar)), low)
    c_bar = e.mul(_lower_factor(e, low_bar, w), keep)
    pack = e.b.emit("pack", [c_bar, Const(0.0)], attrs={"kind": "tuple"}).result
    return [pack, b_bar]


# ------------------------------------------------------------------ expm, sqrtm, sylvester


def _frechet(e: Emit, a: Operand, direction: Operand) -> Operand:
    """The derivative of expm at `a` along `direction`: the upper right block of
    ``expm([[a, direction], [0, a]])``."""
    first, second = constant(e, block_basis, a, 0), constant(e, block_basis, a, 1)
    big = e.add(e.add(_mm(e, first, a, _t(e, first)), _mm(e, first, direction, _t(e, second))),
                _mm(e, second, a, _t(e, second)))
    return _mm(e, _t(e, first), e.expm(big), second)


def _sylvester_jvp(e: Emit, op: Op, t: list) -> Operand:
    a, b, _ = op.args
    terms = [t[2]] if t[2] is not None else []
    if t[0] is not None:
        terms.append(e.neg(e.matmul(t[0], op.result)))
    if t[1] is not None:
        terms.append(e.neg(e.matmul(op.result, t[1])))
    return e.solve_sylvester(a, b, e.sum_terms(terms))


def _sylvester_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    a, b, _ = op.args
    q_bar = e.solve_sylvester(_t(e, a), _t(e, b), g)
    return [e.neg(e.matmul(q_bar, _t(e, op.result))), e.neg(e.matmul(_t(e, op.result), q_bar)),
            q_bar]


def _real(e: Emit, op: Op, x: Operand) -> Operand:
    """`x`, after refusing a complex square root (multiplied in, so it comes first)."""
    return e.mul(x, constant(e, real_one, op.result, "scipy.linalg.sqrtm"))


_TRIANGULAR = ("a*, b*, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, "
               "check_finite=True")
_CHO_SOLVE = "c_and_lower*, b*, overwrite_b=False, check_finite=True"
array("solve_triangular", linalg.solve_triangular, _TRIANGULAR,
      jvp=_solve_triangular_jvp, vjp=_solve_triangular_vjp,
      batched=one_batched("solve_triangular", batched_products.batched_solve_triangular,
                          parse_signature(_TRIANGULAR)[0], ("b",)))
array("cho_factor", linalg.cho_factor, "a*, lower=False, overwrite_a=False, check_finite=True",
      container_result=True, jvp=_cho_factor_jvp, vjp=_cho_factor_vjp)
array("cho_solve", linalg.cho_solve, _CHO_SOLVE, jvp=_cho_solve_jvp, vjp=_cho_solve_vjp,
      batched=one_batched("cho_solve", batched_products.batched_cho_solve,
                          parse_signature(_CHO_SOLVE)[0], ("b",)))
array("expm", linalg.expm, "A*", jvp=lambda e, op, t: _frechet(e, op.args[0], t[0]),
      vjp=lambda e, op, g: [_frechet(e, _t(e, op.args[0]), g)],
      batched=one_batched("expm", batched_products.batched_expm, ("A",), ("A",)))
array("sqrtm", linalg.sqrtm, "A*",
      jvp=lambda e, op, t: e.solve_sylvester(op.result, op.result, _real(e, op, t[0])),
      vjp=lambda e, op, g: [e.solve_sylvester(_t(e, op.result), _t(e, op.result),
                                              _real(e, op, g))])
array("solve_sylvester", linalg.solve_sylvester, "a*, b*, q*", jvp=_sylvester_jvp,
      vjp=_sylvester_vjp, batched=one_batched("solve_sylvester",
                                              batched_products.batched_solve_sylvester,
                                              ("a", "b", "q"), ("q",)))
