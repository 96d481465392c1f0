"""Rules of ``scipy.special``'s reductions: logsumexp (axis, b, keepdims), softmax and
log_softmax (its elementwise functions are not here).

Declared lazily: this module is imported (by `core.declare_imported_libraries`) once
the user's code has imported scipy.special, so importing ad_compiler imports no SciPy.
"""
from __future__ import annotations

from scipy import special

from ..ir import Const, Op, Operand
from .core import array
from .emit import Emit, param, position, static
from .reductions import reduce_like


def _exp(e: Emit, x: Operand) -> Operand:
    return e._mark(e.b.apply("exp", [x], family="numpy"), [x])


def _logsumexp_parts(e: Emit, op: Op) -> tuple[Operand, Operand | None, Operand]:
    """a, b (None if not given) and ``exp(a - y)`` with y spread over the reduced axes."""
    if static(op, "return_sign"):
        raise NotImplementedError("scipy.special.logsumexp with return_sign=True has no rule")
    a = op.args[0]
    b = param(op, "b")
    b = None if isinstance(b, Const) and b.value is None else b
    spread = e.helper("sum_adjoint", op.result, a, param(op, "axis"), param(op, "keepdims"))
    return a, b, _exp(e, e.sub(a, spread))


def _logsumexp_jvp(e: Emit, op: Op, t: list) -> Operand:
    a, b, p = _logsumexp_parts(e, op)
    ta, tb = t[0], t[position(op, "b")] if b is not None else None
    terms = []
    if ta is not None:
        terms.append(e.mul(p if b is None else e.mul(b, p), ta))
    if tb is not None:
        terms.append(e.mul(p, tb))
    return reduce_like(e, op, e.sum_terms(terms))


def _logsumexp_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    a, b, p = _logsumexp_parts(e, op)
    spread = e.helper("sum_adjoint", g, a, param(op, "axis"), param(op, "keepdims"))
    parts: list[Operand | None] = [None] * len(op.args)
    if b is None:
        parts[0] = e.mul(spread, p)
    else:
        parts[0] = e.helper("unbroadcast", e.mul(spread, e.mul(b, p)), a)
        parts[position(op, "b")] = e.helper("unbroadcast", e.mul(spread, p), b)
    return parts


def _over_axis(e: Emit, op: Op, x: Operand) -> Operand:
    return e.sum(x, axis=param(op, "axis"), keepdims=True)


def _softmax_jvp(e: Emit, op: Op, t: list) -> Operand:
    s = op.result
    return e.mul(s, e.sub(t[0], _over_axis(e, op, e.mul(s, t[0]))))


def _softmax_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    s = op.result
    return [e.mul(s, e.sub(g, _over_axis(e, op, e.mul(g, s))))]


def _log_softmax_jvp(e: Emit, op: Op, t: list) -> Operand:
    return e.sub(t[0], _over_axis(e, op, e.mul(_exp(e, op.result), t[0])))


def _log_softmax_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    return [e.sub(g, e.mul(_exp(e, op.result), _over_axis(e, op, g)))]


array("logsumexp", special.logsumexp, "a*, axis=None, b*=None, keepdims=False, "
      "return_sign=False", jvp=_logsumexp_jvp, vjp=_logsumexp_vjp)
array("softmax", special.softmax, "x*, axis=None", jvp=_softmax_jvp, vjp=_softmax_vjp)
array("log_softmax", special.log_softmax, "x*, axis=None", jvp=_log_softmax_jvp,
      vjp=_log_softmax_vjp)
