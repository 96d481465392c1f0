"""Rules that are exact where the obvious formula is not.

``np.prod``'s partial with respect to an element is the product of the others, which
``y / x`` gives only where no element is zero; ``np.linspace`` and ``np.arange`` are
not constants but linear in their endpoints, start and step.  Their rules call
runtime helpers (runtime.py) that have rules of their own here, so Jacobians and
Hessians differentiate them again.  Importing this module adds its entries to the
tables of tensor_rules.py, which imports it last.
"""
from __future__ import annotations

import numpy as np

from . import batched, runtime
from .ir import Const, Op, Operand
from .tensor_rules import (
    HELPERS,
    NONLINEAR_JVPS,
    VJPS,
    Emit,
    Helper,
    _nth,
    _position,
    _reduce_like,
    _replaced,
    _replay,
    param,
)

# ------------------------------------------------------------------ np.prod


def _prod_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    others = e.helper("prod_others", op.args[0], op.result, param(op, "axis"),
                      param(op, "keepdims"))
    return _reduce_like(e, op, e.mul(t[0], others))


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
    axis, keepdims = _nth(op.args, 3, None), _nth(op.args, 4, False)
    terms = []
    if t[0] is not None:  # linear in g: the adjoint again, of g's tangent
        terms.append(_replay(e, op, {0: t[0]}))
    if t[1] is not None:
        spread = e.helper("sum_adjoint", g, x, axis, keepdims)
        terms.append(e.mul(spread, _prod_hessian(e, x, t[1], axis)))
    return e.sum_terms(terms)


def _prod_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    """Adjoints of `g` and `x` in ``prod_adjoint(g, x, y, ...)`` given the adjoint `h`
    of its result (reverse over reverse)."""
    g, x, y = a[:3]
    axis, keepdims = _nth(a, 3, None), _nth(a, 4, False)
    others = e.helper("prod_others", x, y, axis, keepdims)
    g_bar = e.sum(e.mul(h, others), axis=axis, keepdims=keepdims)
    x_bar = _prod_hessian(e, x, e.mul(h, e.helper("sum_adjoint", g, x, axis, keepdims)), axis)
    return [g_bar, x_bar, None]


# ------------------------------------------------------------------ np.linspace, np.arange


def _linspace_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    """np.linspace is linear in its two endpoints together: the same samples of their
    tangents (zeros shaped like an endpoint that has none)."""
    _no_retstep(op)
    if t[0] is None and t[1] is None:
        return None
    ends: list[Operand] = []
    for k in (0, 1):
        if t[k] is not None:
            ends.append(t[k])
        elif isinstance(op.args[k], Const) and np.ndim(op.args[k].value) == 0:
            ends.append(Const(0.0))
        else:
            zero = e.helper("zeros_of", op.args[k])
            ends.append(zero if e.batched is None else e.expand_dims(zero, axis=-1))
    if e.batched is None:
        return _replaced(e.b, op, {0: ends[0], 1: ends[1]})
    return e.batched_call(batched.batched_linspace, *ends, param(op, "num"),
                          param(op, "endpoint"), param(op, "axis"))


def _linspace_adjoint(e: Emit, op: Op, g: Operand, which: int) -> Operand:
    _no_retstep(op)
    return e.helper("linspace_adjoint", g, which, op.args[0], op.args[1], param(op, "num"),
                    param(op, "endpoint"), param(op, "axis"))


def _no_retstep(op: Op) -> None:
    retstep = param(op, "retstep")
    if not (isinstance(retstep, Const) and retstep.value is False):
        raise NotImplementedError("np.linspace with retstep has no rule (compute the step "
                                  "as (stop - start) / (num - 1) instead)")


def _arange_steps(e: Emit, op: Op) -> Operand:
    """0, 1, 2, ... as many as the values of an np.arange op."""
    return e.call(np.arange, e.call(len, op.result))


def _arange_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    start, step = _position(op, "start"), _position(op, "step")
    start_dot = t[start]
    step_dot = t[step] if step is not None else None
    if step_dot is None:
        return None if start_dot is None else e.broadcast_like(start_dot, op.result)
    moved = e.mul(step_dot, _arange_steps(e, op))
    return moved if start_dot is None else e.add(moved, start_dot)


def _arange_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    """``np.arange(a, b, s)`` is ``a + s * [0, 1, 2, ...]`` with a length that is
    piecewise constant in a, b and s: a gets the sum of the adjoint, s its sum weighted
    by the steps, b nothing."""
    parts: list[Operand | None] = [None] * len(op.args)
    start, step = _position(op, "start"), _position(op, "step")
    parts[start] = e.sum(g)
    if step is not None:
        parts[step] = e.sum(e.mul(g, _arange_steps(e, op)))
    return parts


# ------------------------------------------------------------------ the tables

NONLINEAR_JVPS.update(prod=_prod_jvp, linspace=_linspace_jvp, arange=_arange_jvp)
VJPS.update(prod=_prod_vjp, arange=_arange_vjp,
            linspace=lambda e, op, g: [_linspace_adjoint(e, op, g, k) for k in (0, 1)])
HELPERS.update({
    # np.prod: y = prod(x) is passed to save computing it again; as a function of x it
    # carries no derivative of its own (the rules take all of it through x)
    "prod_others": Helper(runtime.prod_others, (), nonlinear=(0,), jvp=lambda e, op, t: (
        _prod_hessian(e, op.args[0], t[0], _nth(op.args, 2, None))), vjp=lambda e, g, a: [
        _prod_hessian(e, a[0], g, _nth(a, 2, None)), None]),
    "prod_adjoint": Helper(runtime.prod_adjoint, (0,), nonlinear=(1,), jvp=_prod_adjoint_jvp,
                           vjp=_prod_adjoint_vjp),
    "prod_others_jvp": Helper(
        runtime.prod_others_jvp, (1,), nonlinear=(0,),
        jvp=lambda e, op, t: _prod_hessian(e, op.args[0], t[1], _nth(op.args, 2, None)),
        vjp=lambda e, g, a: [None, _prod_hessian(e, a[0], g, _nth(a, 2, None))],
        unsupported="third derivatives of np.prod"),
    "linspace_adjoint": Helper(runtime.linspace_adjoint, (0,)),
})
