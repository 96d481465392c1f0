"""NumPy's products, statistics and signal functions: declarations and rules.

Most of these functions are multilinear in their operands (``np.tensordot``,
``np.kron``, ``np.cross``, ``np.vdot``, ``np.convolve``, ``np.correlate``,
``np.trapezoid``, ``np.gradient``): the tangent is one term per operand, the primitive
again with that operand's tangent, and the adjoint of each operand is a run-time
helper (runtime_npmath.py), the transpose of the primitive in that operand.  Those
helpers are linear in the cotangent and in the other operands, so their own adjoints
are the primitive and the other helpers again (as ``matmul_adjoint_a`` and
``matmul_adjoint_b`` are), and every derivative can be differentiated again.

The others are written with primitives that have rules: ``np.linalg.matrix_power``
with products of powers, ``np.average`` with sums, the nan-ignoring reductions with
``np.where`` and masks.  Quantiles (``np.median``, ``np.quantile``, ``np.percentile``,
linear method) are locally linear: each result interpolates two ranks, whose
positions do not move under a small change (at ties, the stable sort's order decides
which element has which rank).  Importing this module adds its entries to the tables
of primitives.py and tensor_rules.py, which imports it last.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import batched
from . import runtime_npmath as rt
from .ir import Const, Op, Operand
from .primitives import ARRAY_PRIMITIVES, _array
from .tensor_rules import (
    _BATCHED,
    HELPERS,
    NONLINEAR_JVPS,
    VJPS,
    Emit,
    Helper,
    _apply,
    _mask,
    _nth,
    _position,
    _replay,
    param,
    static,
)


class _Parts(list):
    """Partial adjoints of an op's arguments in which some positions are refused: asking
    for one (because a differentiated value reaches it) raises, which the transform
    reports at the user's line."""

    def __init__(self, parts: list, refused: dict[int, str]) -> None:
        super().__init__(parts)
        self.refused = refused

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, int) and k in self.refused:
            raise NotImplementedError(self.refused[k])
        return super().__getitem__(k)


def _refuse(op: Op, refused: dict[str, str], tangents: list | None = None) -> dict[int, str]:
    """Positions of the op's arguments that must not carry derivatives, with the reason;
    in forward mode (`tangents` given) refuse now if one does."""
    positions = {k: why for name, why in refused.items()
                 if (k := _position(op, name)) is not None}
    for k, why in positions.items():
        if tangents is not None and k < len(tangents) and tangents[k] is not None:
            raise NotImplementedError(why)
    return positions


def _all_params(op: Op) -> list[Operand]:
    """The op's arguments in NumPy's parameter order, defaults filled in."""
    return [param(op, p) for p in ARRAY_PRIMITIVES[op.prim].params]


def _linear_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    """Helpers linear in some arguments: the helper again on each tangent, summed
    (one direction at a time in vector mode)."""
    linear = HELPERS[op.prim].linear
    return e.sum_terms([_replay(e, op, {k: t[k]}) for k in linear
                        if k < len(t) and t[k] is not None])


def _multilinear(name: str, fn: Any, signature: str, adjoints: dict[str, Any],
                 refused: dict[str, str] | None = None, aliases: tuple = ()) -> None:
    """Declare a primitive multilinear in its operands (those marked ``*``): the tangent
    is the primitive with each operand's tangent in turn, the adjoint of operand ``p``
    is ``adjoints[p](g, *arguments in NumPy's order)``, whose operand parameters have no
    defaults (so that calls never leave out an argument the helper is linear in)."""
    refused = refused or {}
    _array(name, fn, signature, *aliases)
    params = ARRAY_PRIMITIVES[name].params
    index = {p: params.index(p) for p in adjoints}

    def jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
        _refuse(op, refused, t)
        positions = [(_position(op, p), p) for p in adjoints]
        return e.sum_terms([_apply(e, op, {k: t[k]}) for k, _ in positions
                            if k is not None and t[k] is not None])

    def vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
        parts: list[Operand | None] = [None] * len(op.args)
        for p in adjoints:
            k = _position(op, p)
            if k is not None:
                parts[k] = e.helper(f"{name}_adjoint_{p}", g, *_all_params(op))
        return _Parts(parts, _refuse(op, refused))

    def helper_vjp(mine: str) -> Callable:
        def rule(e: Emit, h: Operand, args: list[Operand]) -> list[Operand | None]:
            # <h, adj_mine(g, x)> = <g, P(x with mine := h)> = <adj_q(g, x with mine := h), x_q>
            g = args[0]
            values = [_nth(args, 1 + k, ARRAY_PRIMITIVES[name].defaults.get(p))
                      for k, p in enumerate(params)]
            swapped = [h if p == mine else v for p, v in zip(params, values)]
            parts: list[Operand | None] = [None] * (1 + len(params))
            parts[0] = e.array(name, **dict(zip(params, swapped)))
            for q in adjoints:
                if q != mine:
                    parts[1 + index[q]] = e.helper(f"{name}_adjoint_{q}", g, *swapped)
            return parts
        return rule

    NONLINEAR_JVPS[name] = jvp
    VJPS[name] = vjp
    for p, adjoint in adjoints.items():
        linear = (0, *(1 + index[q] for q in adjoints if q != p))
        HELPERS[f"{name}_adjoint_{p}"] = Helper(adjoint, linear, helper_vjp(p), jvp=_linear_jvp)


# ------------------------------------------------------------------ products

_multilinear("tensordot", np.tensordot, "a*, b*, axes=2",
             {"a": rt.tensordot_adjoint_a, "b": rt.tensordot_adjoint_b})
_multilinear("kron", np.kron, "a*, b*", {"a": rt.kron_adjoint_a, "b": rt.kron_adjoint_b})
_multilinear("cross", np.cross, "a*, b*, axisa=-1, axisb=-1, axisc=-1, axis=None",
             {"a": rt.cross_adjoint_a, "b": rt.cross_adjoint_b})
_multilinear("vdot", np.vdot, "a*, b*", {"a": rt.vdot_adjoint_a, "b": rt.vdot_adjoint_b})

# ------------------------------------------------------------------ signals

_multilinear("convolve", np.convolve, "a*, v*, mode='full'",
             {"a": rt.convolve_adjoint_a, "v": rt.convolve_adjoint_v})
_multilinear("correlate", np.correlate, "a*, v*, mode='valid'",
             {"a": rt.correlate_adjoint_a, "v": rt.correlate_adjoint_v})
# np.trapz is NumPy 1's name (NumPy 2.0 deprecates it, 2.4 removes it): derivative code
# calls np.trapezoid where it exists
_TRAPZ = tuple(getattr(np, name) for name in ("trapz",) if hasattr(np, name))
_multilinear("trapezoid", getattr(np, "trapezoid", None) or _TRAPZ[0],
             "y*, x*=None, dx*=1.0, axis=-1",
             {"y": rt.trapezoid_adjoint_y, "x": rt.trapezoid_adjoint_x,
              "dx": rt.trapezoid_adjoint_dx}, aliases=_TRAPZ)
_multilinear("gradient", np.gradient, "f*, varargs*=None, axis=None, edge_order=1",
             {"f": rt.gradient_adjoint_f},
             refused={"varargs": "np.gradient has no derivative with respect to the "
                                 "spacing or the coordinates"})
ARRAY_PRIMITIVES["gradient"].positional = 2  # np.gradient(f, *varargs): the spacing by position
_BATCHED["gradient"] = (rt.batched_gradient, ("f", "varargs", "axis", "edge_order"))


# ------------------------------------------------------------------ np.linalg.matrix_power


def _power(e: Emit, a: Operand, k: int) -> Operand | None:
    """a ** k as a matrix; None for the identity."""
    return None if k == 0 else a if k == 1 else e.array("matrix_power", a, n=k)


def _power_terms(e: Emit, a: Operand, n: int, middle: Operand, transpose: bool) -> Operand:
    """sum over k of P^k @ middle @ P^(n-1-k), P = a (or its transpose)."""
    base = e.swap_last(a) if transpose else a
    terms = []
    for k in range(n):
        term = middle
        left, right = _power(e, base, k), _power(e, base, n - 1 - k)
        if left is not None:
            term = e.matmul(left, term)
        if right is not None:
            term = e.matmul(term, right)
        terms.append(term)
    return e.sum_terms(terms)


def _matrix_power_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    n = int(static(op, "n"))
    if n == 0:
        return None
    if n > 0:
        return _power_terms(e, op.args[0], n, t[0], transpose=False)
    inverse = e.inv(op.args[0])  # A^n = inv(A)^|n|, and d inv(A) = -inv(A) dA inv(A)
    inverse_dot = e.neg(e.matmul(e.matmul(inverse, t[0]), inverse))
    return _power_terms(e, inverse, -n, inverse_dot, transpose=False)


def _matrix_power_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    n = int(static(op, "n"))
    if n == 0:
        return [None, None]
    if n > 0:
        return [_power_terms(e, op.args[0], n, g, transpose=True), None]
    inverse_t = e.swap_last(e.inv(op.args[0]))
    inverse_bar = _power_terms(e, e.inv(op.args[0]), -n, g, transpose=True)
    return [e.neg(e.matmul(e.matmul(inverse_t, inverse_bar), inverse_t)), None]


_array("matrix_power", np.linalg.matrix_power, "a*, n")
NONLINEAR_JVPS["matrix_power"] = _matrix_power_jvp
VJPS["matrix_power"] = _matrix_power_vjp


# ------------------------------------------------------------------ nan-ignoring reductions


def _numbers(e: Emit, a: Operand, x: Operand) -> Operand:
    """`x` where `a` holds a number, zero where it holds a nan."""
    return e.where(e.call(np.isnan, a), Const(0.0), x)


def _nan_count(e: Emit, op: Op) -> Operand:
    return e.call(rt.nan_count, op.args[0], param(op, "axis"), param(op, "keepdims"))


def _nan_spread(e: Emit, op: Op, g: Operand) -> Operand:
    spread = e.helper("sum_adjoint", g, op.args[0], param(op, "axis"), param(op, "keepdims"))
    return _numbers(e, op.args[0], spread)


def _nan_reduce(e: Emit, op: Op, t: Operand) -> Operand:
    return e.array("sum", _numbers(e, op.args[0], t), axis=param(op, "axis"),
                   keepdims=param(op, "keepdims"))


_REDUCE = "a*, axis=None, keepdims=False"
for _name in ("nansum", "nanmean", "nanmax", "nanmin"):
    _array(_name, getattr(np, _name), _REDUCE)
NONLINEAR_JVPS.update(
    nansum=lambda e, op, t: _nan_reduce(e, op, t[0]),
    nanmean=lambda e, op, t: e.truediv(_nan_reduce(e, op, t[0]), _nan_count(e, op)),
    # the mask of the places that attain the extremum is zero at nans; ties share equally
    nanmax=NONLINEAR_JVPS["max"], nanmin=NONLINEAR_JVPS["min"])
VJPS.update(
    nansum=lambda e, op, g: [_nan_spread(e, op, g)],
    nanmean=lambda e, op, g: [_nan_spread(e, op, e.truediv(g, _nan_count(e, op)))],
    nanmax=lambda e, op, g: [e.mul(e.helper("sum_adjoint", g, op.args[0], param(op, "axis"),
                                            param(op, "keepdims")), _mask(e, op))],
    nanmin=lambda e, op, g: [e.mul(e.helper("sum_adjoint", g, op.args[0], param(op, "axis"),
                                            param(op, "keepdims")), _mask(e, op))])


# ------------------------------------------------------------------ np.average


def _no_returned(op: Op) -> None:
    if static(op, "returned") is not False:
        raise NotImplementedError("np.average with returned=True has no rule (compute the "
                                  "sum of the weights separately)")


def _average_parts(e: Emit, op: Op) -> tuple[Operand, Operand, Operand]:
    """The weights shaped to broadcast against `a`, their sum (shaped like the result),
    and the average with the reduced axes kept."""
    a, w, axis = op.args[0], param(op, "weights"), param(op, "axis")
    wk = e.reshape(w, e.call(rt.weights_shape, w, a, axis))
    total_kept = e.sum(wk, axis=axis, keepdims=True)
    mean_kept = e.truediv(e.sum(e.mul(a, wk), axis=axis, keepdims=True), total_kept)
    return wk, e.sum(wk, axis=axis, keepdims=param(op, "keepdims")), mean_kept


def _average_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    _no_returned(op)
    axis, keepdims = param(op, "axis"), param(op, "keepdims")
    w_at = _position(op, "weights")
    if w_at is None or (isinstance(op.args[w_at], Const) and op.args[w_at].value is None):
        return e.mean(t[0], axis=axis, keepdims=keepdims)
    wk, total, mean_kept = _average_parts(e, op)
    terms = []
    if t[0] is not None:
        terms.append(e.mul(t[0], wk))
    if t[w_at] is not None:  # d(S/W) = (dS - avg dW) / W
        wk_dot = e.reshape(t[w_at], e.call(rt.weights_shape, op.args[w_at], op.args[0], axis))
        terms.append(e.mul(e.sub(op.args[0], mean_kept), wk_dot))
    return e.truediv(e.sum(e.sum_terms(terms), axis=axis, keepdims=keepdims), total)


def _average_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    _no_returned(op)
    a, axis, keepdims = op.args[0], param(op, "axis"), param(op, "keepdims")
    parts: list[Operand | None] = [None] * len(op.args)
    w_at = _position(op, "weights")
    if w_at is None or (isinstance(op.args[w_at], Const) and op.args[w_at].value is None):
        parts[0] = e.helper("mean_adjoint", g, a, axis, keepdims)
        return parts
    wk, total, mean_kept = _average_parts(e, op)
    spread = e.helper("sum_adjoint", e.truediv(g, total), a, axis, keepdims)
    parts[0] = e.mul(spread, wk)
    wk_bar = e.helper("unbroadcast", e.mul(spread, e.sub(a, mean_kept)), wk)
    parts[w_at] = e.reshape(wk_bar, e.shape(op.args[w_at]))
    return parts


_array("average", np.average, "a*, axis=None, weights*=None, returned=False, keepdims=False")
NONLINEAR_JVPS["average"] = _average_jvp
VJPS["average"] = _average_vjp


# ------------------------------------------------------------------ quantiles


def _linear_method(op: Op) -> None:
    if "method" in ARRAY_PRIMITIVES[op.prim].params and static(op, "method") != "linear":
        raise NotImplementedError("only the 'linear' method of quantiles has a rule")
    if not (isinstance(param(op, "out"), Const) and param(op, "out").value is None) or \
            static(op, "overwrite_input") is not False:
        raise NotImplementedError("quantiles with out= or overwrite_input=True have no rule")


_Q_REFUSED = {"q": "the derivative with respect to the probability or percent q is not "
                   "supported (only with respect to the data)"}


def _fraction(e: Emit, op: Op) -> Operand:
    """The probabilities: q of np.quantile, q / 100 of np.percentile, 0.5 for the median."""
    if op.prim == "median":
        return Const(0.5)
    q = param(op, "q")
    return e.call(np.divide, q, Const(100.0)) if op.prim == "percentile" else q


def _quantile_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    _linear_method(op)
    if op.prim != "median":
        _refuse(op, _Q_REFUSED, t)
    if t[0] is None:
        return None
    return _replay_helper(e, "quantile_tangent", t[0], op.args[0], _fraction(e, op),
                          param(op, "axis"), param(op, "keepdims"))


def _replay_helper(e: Emit, name: str, t: Operand, *rest: Operand) -> Operand:
    """A helper linear in its first argument, applied to a tangent that may be batched
    (then one direction at a time)."""
    if not e.is_batched(t):
        return e.helper(name, t, *rest)
    out = e.b.emit("call", [Const(HELPERS[name].fn), Const((0,)), t, *rest],
                   attrs={"fn": batched.vmap_last, "kwnames": ()}).result
    e.batched.add(out.uid)
    return out


def _quantile_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    _linear_method(op)
    parts: list[Operand | None] = [None] * len(op.args)
    parts[0] = e.helper("quantile_adjoint", g, op.args[0], _fraction(e, op), param(op, "axis"),
                        param(op, "keepdims"))
    return _Parts(parts, {} if op.prim == "median" else _refuse(op, _Q_REFUSED))


_array("median", np.median, "a*, axis=None, out=None, overwrite_input=False, keepdims=False")
for _name in ("quantile", "percentile"):
    _array(_name, getattr(np, _name), "a*, q*, axis=None, out=None, overwrite_input=False, "
                                      "method='linear', keepdims=False")
for _name in ("median", "quantile", "percentile"):
    NONLINEAR_JVPS[_name] = _quantile_jvp
    VJPS[_name] = _quantile_vjp


def _transposed(other: str) -> Callable:
    """The adjoint of a helper linear in its first argument whose transpose is `other`
    (the data `a` moves the ranks only where the derivative does not exist)."""
    return lambda e, h, a: [e.helper(other, h, *a[1:])] + [None] * (len(a) - 1)


HELPERS.update({
    "quantile_tangent": Helper(rt.quantile_tangent, (0,), _transposed("quantile_adjoint"),
                               jvp=_linear_jvp),
    "quantile_adjoint": Helper(rt.quantile_adjoint, (0,), _transposed("quantile_tangent"),
                               jvp=_linear_jvp),
})


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
    return _refuse(op, _INTERP_REFUSED, t)


def _zero_if_given(value: Operand) -> Operand:
    """left= or right= for the tangent: zero where the user gave a value, else None."""
    return Const(None) if isinstance(value, Const) and value.value is None else Const(0.0)


def _interp_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    _interp_checks(op, t)
    x, xp, fp = op.args[:3]
    terms = []
    x_dot, fp_dot = t[0], t[_position(op, "fp")]
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
    parts[_position(op, "fp")] = e.helper("interp_adjoint_fp", g, x, xp, fp, param(op, "left"),
                                          param(op, "right"))
    return _Parts(parts, refused)


def _interp_adjoint_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    """Linear in g; in x the weights move with the slopes: d/dx of the transpose is the
    slopes' transpose, applied to g times x's tangent."""
    g, x, xp, fp = op.args[:4]
    terms = []
    if t[0] is not None:
        terms.append(_replay(e, op, {0: t[0]}))
    if len(t) > 1 and t[1] is not None:
        terms.append(_replay_helper(e, "interp_slope_adjoint", e.mul(g, t[1]), x, xp, fp))
    return e.sum_terms(terms)


def _interp_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    g, x, xp, fp = a[:4]
    left, right = _nth(a, 4, None), _nth(a, 5, None)
    g_bar = e.array("interp", x, xp, h, left=_zero_if_given(left), right=_zero_if_given(right))
    x_bar = e.mul(g, e.helper("interp_slope", x, xp, h))
    return [g_bar, x_bar] + [None] * (len(a) - 2)


_array("interp", np.interp, "x*, xp*, fp*, left*=None, right*=None, period=None")
NONLINEAR_JVPS["interp"] = _interp_jvp
VJPS["interp"] = _interp_vjp
HELPERS.update({
    # the slope is piecewise constant in x: its derivative is zero wherever it exists
    "interp_slope": Helper(rt.interp_slope, (2,), lambda e, h, a: [
        None, None, e.helper("interp_slope_adjoint", h, *a[:3])], jvp=_linear_jvp),
    "interp_slope_adjoint": Helper(rt.interp_slope_adjoint, (0,), lambda e, k, a: [
        e.helper("interp_slope", a[1], a[2], k), None, None, None], jvp=_linear_jvp),
    "interp_adjoint_fp": Helper(rt.interp_adjoint_fp, (0,), _interp_adjoint_vjp,
                                nonlinear=(1,), jvp=_interp_adjoint_jvp),
})


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
        terms.append(_replay(e, op, {0: t[0]}))
    if len(t) > 2 and t[2] is not None:
        lower = _replay_helper(e, "polyval_adjoint_p", e.mul(g, t[2]),
                               e.helper("polyder_coefficients", p), x)
        terms.append(_replay_helper(e, "polyder_t", lower, p))
    return e.sum_terms(terms)


def _polyval_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    g, p, x = a[:3]
    g_bar = e.helper("unbroadcast", e.array("polyval", h, x), g)
    x_bar = e.helper("unbroadcast", e.mul(g, _polyval_slope(e, h, x)), x)
    return [g_bar, None, x_bar]


_array("polyval", np.polyval, "p*, x*")
NONLINEAR_JVPS["polyval"] = _polyval_jvp
VJPS["polyval"] = _polyval_vjp
HELPERS.update({
    "polyder_coefficients": Helper(rt.polyder_coefficients, (0,), lambda e, h, a: [
        e.helper("polyder_t", h, a[0])], jvp=_linear_jvp),
    "polyder_t": Helper(rt.polyder_t, (0,), lambda e, h, a: [
        e.helper("polyder_coefficients", h), None], jvp=_linear_jvp),
    "polyval_adjoint_p": Helper(rt.polyval_adjoint_p, (0,), _polyval_adjoint_vjp,
                                nonlinear=(2,), jvp=_polyval_adjoint_jvp),
})


# ------------------------------------------------------------------ np.einsum, again


def _einsum_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    """``einsum_adjoint(spec, k, g, *x)`` is linear in g and in every operand but x_k:
    its adjoint in g is the einsum with x_k := h, in x_j that einsum's adjoint in x_j."""
    spec, k, g, operands = a[0], a[1].value, a[2], list(a[3:])
    swapped = [h if j == k else x for j, x in enumerate(operands)]
    parts: list[Operand | None] = [None, None, e.einsum(spec, *swapped)]
    parts += [None if j == k else e.helper("einsum_adjoint", spec, j, g, *swapped)
              for j in range(len(operands))]
    return parts


def _einsum_vjp_checked(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    """Refuse, when compiling, an operand that repeats an index (``'ii->i'``): its
    adjoint would have to write a diagonal."""
    spec = static(op, "subscripts")
    for sub in spec.replace(" ", "").split("->")[0].split(","):
        letters = sub.replace("...", "")
        if len(set(letters)) != len(letters):
            raise NotImplementedError(f"np.einsum with an index repeated in one operand "
                                      f"({sub!r}) has no reverse-mode rule; use forward mode")
    return _einsum_vjp(e, op, g)


_einsum_vjp = VJPS["einsum"]
VJPS["einsum"] = _einsum_vjp_checked
HELPERS["einsum_adjoint"].vjp = _einsum_adjoint_vjp
