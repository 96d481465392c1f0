"""Signals and sampled functions: np.convolve, correlate, trapezoid, gradient
(multilinear, through the adjoint helpers of runtime_npmath.py), np.interp and
np.polyval (nonlinear in x, whose helpers have tangent and adjoint rules of their own).
"""
from __future__ import annotations

import numpy as np

from .. import batched_products as bp
from .. import batched_signals as bsig
from .. import runtime_npmath as rt
from ..ir import Const, Op, Operand
from .core import array, helper, parse_signature
from .emit import Emit, nth, one_batched, param, position, replay
from .multilinear import Refused, linear_jvp, multilinear_array, refuse, replay_helper

multilinear_array("convolve", np.convolve, "a*, v*, mode='full'",
                  {"a": rt.convolve_adjoint_a, "v": rt.convolve_adjoint_v},
                  vector_mode=(bp.batched_convolve, {"a": bp.batched_convolve_adjoint_a,
                                                     "v": bp.batched_convolve_adjoint_v}))
multilinear_array("correlate", np.correlate, "a*, v*, mode='valid'",
                  {"a": rt.correlate_adjoint_a, "v": rt.correlate_adjoint_v},
                  vector_mode=(bp.batched_correlate, {"a": bp.batched_correlate_adjoint_a,
                                                      "v": bp.batched_correlate_adjoint_v}))
# np.trapz is NumPy 1's name (NumPy 2.0 deprecates it, 2.4 removes it): derivative code
# calls np.trapezoid where it exists
_TRAPZ = tuple(getattr(np, name) for name in ("trapz",) if hasattr(np, name))
multilinear_array("trapezoid", getattr(np, "trapezoid", None) or _TRAPZ[0],
                  "y*, x*=None, dx*=1.0, axis=-1",
                  {"y": rt.trapezoid_adjoint_y, "x": rt.trapezoid_adjoint_x,
                   "dx": rt.trapezoid_adjoint_dx}, aliases=_TRAPZ, unread_with={"dx": "x"},
                  vector_mode=(bsig.batched_trapezoid,
                               {"y": bsig.batched_trapezoid_adjoint_y,
                                "x": bsig.batched_trapezoid_adjoint_x,
                                "dx": bsig.batched_trapezoid_adjoint_dx}))
helper("unless_given", rt.unless_given, (1,), lambda e, g, a: [
    None, e.helper("unless_given", a[0], g)], batched=rt.unless_given)
# np.gradient(f, *varargs): the spacing is taken by position
multilinear_array("gradient", np.gradient, "f*, varargs*=None, axis=None, edge_order=1",
                  {"f": rt.gradient_adjoint_f}, positional=2,
                  refused={"varargs": "np.gradient has no derivative with respect to the "
                                      "spacing or the coordinates"},
                  batched=(rt.batched_gradient, ("f", "varargs", "axis", "edge_order")),
                  vector_mode=(None, {"f": bsig.batched_gradient_adjoint_f}))


# ------------------------------------------------------------------ np.interp

_INTERP_REFUSED = {
    "xp": "np.interp has no derivative with respect to the sample points xp (only with "
          "respect to the query points x and the values fp)",
    "left": "np.interp has no derivative with respect to left= (pass a constant)",
    "right": "np.interp has no derivative with respect to right= (pass a constant)",
}


def _interp_checks(op: Op, t: list | None = None) -> dict[int, str]:
    if not (isinstance(param(op, "period"), Const) and param(op, "period").value is None):
        raise NotImplementedError("np.interp with period= has no rule")
    return refuse(op, _INTERP_REFUSED, t)


def _zero_if_given(value: Operand) -> Operand:
    """left= or right= for the tangent: zero where the user gave a value, else None."""
    return Const(None) if isinstance(value, Const) and value.value is None else Const(0.0)


def _interp_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    _interp_checks(op, t)
    x, xp, fp = op.args[:3]
    terms = []
    x_dot, fp_dot = t[0], t[position(op, "fp")]
    if x_dot is not None:
        terms.append(e.mul(e.helper("interp_slope", x, xp, fp), x_dot))
    if fp_dot is not None:
        terms.append(e.array("interp", x, xp, fp_dot, left=_zero_if_given(param(op, "left")),
                             right=_zero_if_given(param(op, "right"))))
    return e.sum_terms(terms)


def _interp_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    refused = _interp_checks(op)
    x, xp, fp = op.args[:3]
    parts: list[Operand | None] = [None] * len(op.args)
    parts[0] = e.mul(g, e.helper("interp_slope", x, xp, fp))
    parts[position(op, "fp")] = e.helper("interp_adjoint_fp", g, x, xp, fp, param(op, "left"),
                                         param(op, "right"))
    return Refused(parts, refused)


def _interp_adjoint_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    """Linear in g; in x the weights move with the slopes: d/dx of the transpose is the
    slopes' transpose, applied to g times x's tangent."""
    g, x, xp, fp = op.args[:4]
    terms = []
    if t[0] is not None:
        terms.append(replay(e, op, {0: t[0]}))
    if len(t) > 1 and t[1] is not None:
        terms.append(replay_helper(e, "interp_slope_adjoint", e.mul(g, t[1]), x, xp, fp))
    return e.sum_terms(terms)


def _interp_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    g, x, xp, fp = a[:4]
    left, right = nth(a, 4, None), nth(a, 5, None)
    g_bar = e.array("interp", x, xp, h, left=_zero_if_given(left), right=_zero_if_given(right))
    x_bar = e.mul(g, e.helper("interp_slope", x, xp, h))
    return [g_bar, x_bar] + [None] * (len(a) - 2)


_INTERP = "x*, xp*, fp*, left*=None, right*=None, period=None"
array("interp", np.interp, _INTERP, jvp=_interp_jvp, vjp=_interp_vjp,
      batched=one_batched("interp", bsig.batched_interp, parse_signature(_INTERP)[0], ("fp",)))
# the slope is piecewise constant in x: its derivative is zero wherever it exists
helper("interp_slope", rt.interp_slope, (2,), lambda e, h, a: [
    None, None, e.helper("interp_slope_adjoint", h, *a[:3])], jvp=linear_jvp,
    batched=bsig.batched_interp_slope)
helper("interp_slope_adjoint", rt.interp_slope_adjoint, (0,), lambda e, k, a: [
    e.helper("interp_slope", a[1], a[2], k), None, None, None], jvp=linear_jvp,
    batched=bsig.batched_interp_slope_adjoint)
helper("interp_adjoint_fp", rt.interp_adjoint_fp, (0,), _interp_adjoint_vjp, nonlinear=(1,),
       jvp=_interp_adjoint_jvp, batched=bsig.batched_interp_adjoint_fp)


# ------------------------------------------------------------------ np.polyval


def _polyval_slope(e: Emit, p: Operand, x: Operand) -> Operand:
    return e.array("polyval", e.helper("polyder_coefficients", p), x)


def _polyval_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    p, x = op.args[:2]
    terms = []
    if t[0] is not None:
        terms.append(e.array("polyval", t[0], x))
    if t[1] is not None:
        terms.append(e.mul(_polyval_slope(e, p, x), t[1]))
    return e.sum_terms(terms)


def _polyval_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    p, x = op.args[:2]
    return [e.helper("polyval_adjoint_p", g, p, x),
            e.helper("unbroadcast", e.mul(g, _polyval_slope(e, p, x)), x)]


def _polyval_adjoint_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    """Linear in g; in x each coefficient's power of x moves: the derivative is the
    transpose of the derivative's coefficients, of one power less."""
    g, p, x = op.args[:3]
    terms = []
    if t[0] is not None:
        terms.append(replay(e, op, {0: t[0]}))
    if len(t) > 2 and t[2] is not None:
        lower = replay_helper(e, "polyval_adjoint_p", e.mul(g, t[2]),
                              e.helper("polyder_coefficients", p), x)
        terms.append(replay_helper(e, "polyder_t", lower, p))
    return e.sum_terms(terms)


def _polyval_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    g, p, x = a[:3]
    g_bar = e.helper("unbroadcast", e.array("polyval", h, x), g)
    x_bar = e.helper("unbroadcast", e.mul(g, _polyval_slope(e, h, x)), x)
    return [g_bar, None, x_bar]


array("polyval", np.polyval, "p*, x*", jvp=_polyval_jvp, vjp=_polyval_vjp,
      batched=one_batched("polyval", bsig.batched_polyval, ("p", "x"), ("p",)))
# both scale the coefficients along their first axis: a last axis of directions as it is
helper("polyder_coefficients", rt.polyder_coefficients, (0,), lambda e, h, a: [
    e.helper("polyder_t", h, a[0])], jvp=linear_jvp, batched=rt.polyder_coefficients)
helper("polyder_t", rt.polyder_t, (0,), lambda e, h, a: [
    e.helper("polyder_coefficients", h), None], jvp=linear_jvp, batched=rt.polyder_t)
helper("polyval_adjoint_p", rt.polyval_adjoint_p, (0,), _polyval_adjoint_vjp, nonlinear=(2,),
       jvp=_polyval_adjoint_jvp, batched=bsig.batched_polyval_adjoint_p)
