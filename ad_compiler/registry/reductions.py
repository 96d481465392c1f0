"""Reductions: np.sum, mean, prod, max, min, ptp, var, std, and the helpers of their rules.

``np.prod``'s partial with respect to an element is the product of the others, which
``y / x`` gives only where no element is zero: its rules call runtime helpers that
have rules of their own, so Jacobians and Hessians differentiate them again.
"""
from __future__ import annotations

import math

import numpy as np

from .. import batched, batched_statistics, runtime_arrays, runtime_products
from ..ir import Const, Op, Operand
from .core import array, helper
from .emit import Emit, nth, param, replay

_REDUCE = "a*, axis=None, keepdims=False"


def reduce_like(e: Emit, op: Op, x: Operand) -> Operand:
    """`x` summed as the reduction `op` sums (its axis and keepdims)."""
    return e.sum(x, axis=param(op, "axis"), keepdims=param(op, "keepdims"))


def sum_back(e: Emit, op: Op, g: Operand) -> Operand:
    """The adjoint `g` of a reduction's result spread back over its operand."""
    return e.helper("sum_adjoint", g, op.args[0], param(op, "axis"), param(op, "keepdims"))


def _mask(e: Emit, op: Op) -> Operand:
    return e.helper("extremum_mask", op.args[0], op.result, param(op, "axis"),
                    param(op, "keepdims"))


def _variance_parts(e: Emit, op: Op) -> tuple[Operand, Operand]:
    """``x - mean(x)`` and ``count - ddof`` for var and std."""
    x, axis = op.args[0], param(op, "axis")
    centred = e.sub(x, e.mean(x, axis=axis, keepdims=True))
    dof = e.sub(e.helper("reduced_count", x, axis), param(op, "ddof"))
    return centred, dof


def _variance_vjp(e: Emit, op: Op, g: Operand, std: bool) -> list[Operand]:
    centred, dof = _variance_parts(e, op)
    if std:
        return [e.truediv(e.mul(sum_back(e, op, e.truediv(g, op.result)), centred), dof)]
    return [e.truediv(e.mul(e.mul(Const(2.0), sum_back(e, op, g)), centred), dof)]


array("sum", np.sum, _REDUCE, math.fsum, methods=("sum",), linear=True, reduction=True,
      vjp=lambda e, op, g: [sum_back(e, op, g)],
      batched=(batched.batched_sum, ("a", "axis", "keepdims")))
array("mean", np.mean, _REDUCE, methods=("mean",), linear=True, reduction=True,
      vjp=lambda e, op, g: [e.helper("mean_adjoint", g, op.args[0], param(op, "axis"),
                                     param(op, "keepdims"))],
      batched=(batched.batched_mean, ("a", "axis", "keepdims")))
array("max", np.max, _REDUCE, np.amax, methods=("max",), reduction=True,
      jvp=lambda e, op, t: reduce_like(e, op, e.mul(t[0], _mask(e, op))),
      vjp=lambda e, op, g: [e.mul(sum_back(e, op, g), _mask(e, op))])
array("min", np.min, _REDUCE, np.amin, methods=("min",), reduction=True,
      jvp=lambda e, op, t: reduce_like(e, op, e.mul(t[0], _mask(e, op))),
      vjp=lambda e, op, g: [e.mul(sum_back(e, op, g), _mask(e, op))])
def _ptp_weights(e: Emit, op: Op) -> Operand:
    """``max mask - min mask``: np.ptp is np.max minus np.min, each place of a tie
    sharing its extremum's derivative equally, as their rules do."""
    x, axis = op.args[0], param(op, "axis")
    masks = [e.helper("extremum_mask", x, extremum(x, axis=axis, keepdims=True), axis, True)
             for extremum in (e.max, e.min)]
    return e.sub(*masks)


array("ptp", np.ptp, "a*, axis=None, out=None, keepdims=False", reduction=True,
      jvp=lambda e, op, t: reduce_like(e, op, e.mul(t[0], _ptp_weights(e, op))),
      vjp=lambda e, op, g: [e.mul(sum_back(e, op, g), _ptp_weights(e, op))])

array("var", np.var, "a*, axis=None, ddof=0, keepdims=False", methods=("var",), reduction=True,
      jvp=lambda e, op, t: (lambda c, n: e.truediv(e.mul(Const(2.0), reduce_like(
          e, op, e.mul(c, t[0]))), n))(*_variance_parts(e, op)),
      vjp=lambda e, op, g: _variance_vjp(e, op, g, std=False))
array("std", np.std, "a*, axis=None, ddof=0, keepdims=False", methods=("std",), reduction=True,
      jvp=lambda e, op, t: (lambda c, n: e.truediv(reduce_like(e, op, e.mul(c, t[0])),
                                                   e.mul(n, op.result)))(*_variance_parts(e, op)),
      vjp=lambda e, op, g: _variance_vjp(e, op, g, std=True))

helper("sum_adjoint", runtime_arrays.sum_adjoint, (0,), lambda e, g, a: [
    e.sum(g, axis=nth(a, 2, None), keepdims=nth(a, 3, False))],
    batched=batched.batched_sum_adjoint, shaped_like=1, specializable=True)
helper("mean_adjoint", runtime_arrays.mean_adjoint, (0,), lambda e, g, a: [
    e.mean(g, axis=nth(a, 2, None), keepdims=nth(a, 3, False))],
    batched=batched.batched_mean_adjoint, shaped_like=1, specializable=True)
helper("reduced_count", runtime_arrays.reduced_count, (), nondiff=True)
helper("extremum_mask", runtime_arrays.extremum_mask, (), nondiff=True, elementwise=True)


# ------------------------------------------------------------------ np.prod

def _prod_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    others = e.helper("prod_others", op.args[0], op.result, param(op, "axis"),
                      param(op, "keepdims"))
    return reduce_like(e, op, e.mul(t[0], others))


def _prod_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    return [e.helper("prod_adjoint", g, op.args[0], op.result, param(op, "axis"),
                     param(op, "keepdims"))]


def _prod_hessian(e: Emit, x: Operand, t: Operand | None, axis: Operand) -> Operand | None:
    """The Hessian of ``np.prod(x, axis)`` applied to `t` (elementwise in x's shape):
    the tangent of each element's product of the others.  The Hessian is symmetric, so
    this is also the adjoint of `prod_others`."""
    if t is None:
        return None
    return e._mark(e.helper("prod_others_jvp", x, t, axis), [t])


def _prod_adjoint_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    g, x = op.args[:2]
    axis, keepdims = nth(op.args, 3, None), nth(op.args, 4, False)
    terms = []
    if t[0] is not None:  # linear in g: the adjoint again, of g's tangent
        terms.append(replay(e, op, {0: t[0]}))
    if t[1] is not None:
        spread = e.helper("sum_adjoint", g, x, axis, keepdims)
        terms.append(e.mul(spread, _prod_hessian(e, x, t[1], axis)))
    return e.sum_terms(terms)


def _prod_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    """Adjoints of `g` and `x` in ``prod_adjoint(g, x, y, ...)`` given the adjoint `h`
    of its result (reverse over reverse)."""
    g, x, y = a[:3]
    axis, keepdims = nth(a, 3, None), nth(a, 4, False)
    others = e.helper("prod_others", x, y, axis, keepdims)
    g_bar = e.sum(e.mul(h, others), axis=axis, keepdims=keepdims)
    x_bar = _prod_hessian(e, x, e.mul(h, e.helper("sum_adjoint", g, x, axis, keepdims)), axis)
    return [g_bar, x_bar, None]


# math.prod(xs) has np.prod's rule (exact at zeros), and its value is math.prod's
array("prod", np.prod, _REDUCE, math.prod, methods=("prod",), reduction=True, jvp=_prod_jvp,
      vjp=_prod_vjp)
# aliases that compute the primal themselves (lowering keeps the user's callable)
OWN_PRIMAL = frozenset({id(math.prod), id(math.fsum)})
# y = prod(x) is passed to save computing it again; as a function of x it carries no
# derivative of its own (the rules take all of it through x)
helper("prod_others", runtime_products.prod_others, (), nonlinear=(0,), jvp=lambda e, op, t: (
    _prod_hessian(e, op.args[0], t[0], nth(op.args, 2, None))), vjp=lambda e, g, a: [
    _prod_hessian(e, a[0], g, nth(a, 2, None)), None])
helper("prod_adjoint", runtime_products.prod_adjoint, (0,), nonlinear=(1,), jvp=_prod_adjoint_jvp,
       vjp=_prod_adjoint_vjp, shaped_like=1, batched=batched_statistics.batched_prod_adjoint)
helper("prod_others_jvp", runtime_products.prod_others_jvp, (1,), nonlinear=(0,),
       jvp=lambda e, op, t: _prod_hessian(e, op.args[0], t[1], nth(op.args, 2, None)),
       vjp=lambda e, g, a: [None, _prod_hessian(e, a[0], g, nth(a, 2, None))],
       unsupported="third derivatives of np.prod")
