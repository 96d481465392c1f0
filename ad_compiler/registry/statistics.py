"""Statistics: the nan-ignoring reductions, np.average with weights, and quantiles.

The nan-ignoring reductions are written with ``np.where`` and masks, np.average with
sums.  Quantiles (``np.median``, ``np.quantile``, ``np.percentile``, linear method) are
locally linear: each result interpolates two ranks, whose positions do not move under
a small change (at ties, the stable sort's order decides which element has which
rank); their helpers (runtime_npmath.py) are each other's transposes.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import batched_statistics as bs
from .. import runtime_npmath as rt
from ..ir import Const, Op, Operand
from .core import REGISTRY, array, helper
from .emit import Emit, param, position, static
from .multilinear import Refused, linear_jvp, refuse, replay_helper
from .reductions import sum_back

# ------------------------------------------------------------------ nan-ignoring reductions


def _numbers(e: Emit, a: Operand, x: Operand) -> Operand:
    """`x` where `a` holds a number, zero where it holds a nan."""
    return e.where(e.call(np.isnan, a), Const(0.0), x)


def _nan_count(e: Emit, op: Op) -> Operand:
    return e.call(rt.nan_count, op.args[0], param(op, "axis"), param(op, "keepdims"))


def _nan_spread(e: Emit, op: Op, g: Operand) -> Operand:
    return _numbers(e, op.args[0], sum_back(e, op, g))


def _nan_reduce(e: Emit, op: Op, t: Operand) -> Operand:
    return e.array("sum", _numbers(e, op.args[0], t), axis=param(op, "axis"),
                   keepdims=param(op, "keepdims"))


_REDUCE = "a*, axis=None, keepdims=False"
array("nansum", np.nansum, _REDUCE,
      jvp=lambda e, op, t: _nan_reduce(e, op, t[0]),
      vjp=lambda e, op, g: [_nan_spread(e, op, g)])
array("nanmean", np.nanmean, _REDUCE,
      jvp=lambda e, op, t: e.truediv(_nan_reduce(e, op, t[0]), _nan_count(e, op)),
      vjp=lambda e, op, g: [_nan_spread(e, op, e.truediv(g, _nan_count(e, op)))])
# the mask of the places that attain the extremum is zero at nans; ties share equally
array("nanmax", np.nanmax, _REDUCE, jvp=REGISTRY["max"].jvp,
      vjp=REGISTRY["max"].vjp)
array("nanmin", np.nanmin, _REDUCE, jvp=REGISTRY["min"].jvp,
      vjp=REGISTRY["min"].vjp)


# ------------------------------------------------------------------ np.average


def _no_returned(op: Op) -> None:
    if static(op, "returned") is not False:
        raise NotImplementedError("np.average with returned=True has no rule (compute the "
                                  "sum of the weights separately)")


def _unweighted(op: Op) -> bool:
    w_at = position(op, "weights")
    return w_at is None or (isinstance(op.args[w_at], Const) and op.args[w_at].value is None)


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
    if _unweighted(op):
        return e.mean(t[0], axis=axis, keepdims=keepdims)
    w_at = position(op, "weights")
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
    if _unweighted(op):
        parts[0] = e.helper("mean_adjoint", g, a, axis, keepdims)
        return parts
    w_at = position(op, "weights")
    wk, total, mean_kept = _average_parts(e, op)
    spread = e.helper("sum_adjoint", e.truediv(g, total), a, axis, keepdims)
    parts[0] = e.mul(spread, wk)
    wk_bar = e.helper("unbroadcast", e.mul(spread, e.sub(a, mean_kept)), wk)
    parts[w_at] = e.reshape(wk_bar, e.shape(op.args[w_at]))
    return parts


array("average", np.average, "a*, axis=None, weights*=None, returned=False, keepdims=False",
      jvp=_average_jvp, vjp=_average_vjp)


# ------------------------------------------------------------------ quantiles


def _linear_method(op: Op) -> None:
    if "method" in REGISTRY[op.prim].params and static(op, "method") != "linear":
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
        refuse(op, _Q_REFUSED, t)
    if t[0] is None:
        return None
    return replay_helper(e, "quantile_tangent", t[0], op.args[0], _fraction(e, op),
                         param(op, "axis"), param(op, "keepdims"))


def _quantile_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    _linear_method(op)
    parts: list[Operand | None] = [None] * len(op.args)
    parts[0] = e.helper("quantile_adjoint", g, op.args[0], _fraction(e, op), param(op, "axis"),
                        param(op, "keepdims"))
    return Refused(parts, {} if op.prim == "median" else refuse(op, _Q_REFUSED))


def _transposed(other: str) -> Callable:
    """The adjoint of a helper linear in its first argument whose transpose is `other`
    (the data `a` moves the ranks only where the derivative does not exist)."""
    return lambda e, h, a: [e.helper(other, h, *a[1:])] + [None] * (len(a) - 1)


_QUANTILE = "q*, axis=None, out=None, overwrite_input=False, method='linear', keepdims=False"
array("median", np.median, "a*, axis=None, out=None, overwrite_input=False, keepdims=False",
      jvp=_quantile_jvp, vjp=_quantile_vjp)
array("quantile", np.quantile, f"a*, {_QUANTILE}", jvp=_quantile_jvp, vjp=_quantile_vjp)
array("percentile", np.percentile, f"a*, {_QUANTILE}", jvp=_quantile_jvp, vjp=_quantile_vjp)
helper("quantile_tangent", rt.quantile_tangent, (0,), _transposed("quantile_adjoint"),
       jvp=linear_jvp, batched=bs.batched_quantile_tangent)
helper("quantile_adjoint", rt.quantile_adjoint, (0,), _transposed("quantile_tangent"),
       jvp=linear_jvp, batched=bs.batched_quantile_adjoint)


# ------------------------------------------------------------------ np.cov, np.corrcoef
# lowered to the products, means and square roots they compute (lower_covariance), so
# every mode and order follows from those rules

def lower_covariance(e: Emit, name: str, bound: dict[str, Operand]) -> Operand:
    """``np.cov`` / ``np.corrcoef`` as NumPy computes them: the variables as rows,
    centred, their products divided by the degrees of freedom (for np.cov) or by the
    products of their standard deviations (np.corrcoef, clipped to [-1, 1])."""
    rowvar = _static_flag(bound, "rowvar", True)
    for weights in ("fweights", "aweights"):
        if not _is_none(bound.get(weights, Const(None))):
            raise NotImplementedError(
                f"np.cov with {weights}= has no rule (weight the centred observations "
                "and write the products out: d = x - np.average(x, axis=1, weights=w, "
                "keepdims=True); (d * w) @ d.T / np.sum(w))")
    first = bound["m" if name == "cov" else "x"]
    rows = e.helper("cov_rows", first, Const(rowvar))
    second = bound.get("y", Const(None))
    if not _is_none(second):
        pair = e.b.emit("pack", [rows, e.helper("cov_rows", second, Const(rowvar))],
                        attrs={"kind": "tuple"}).result
        rows = e.vstack(pair)
    centred = e.sub(rows, e.mean(rows, axis=1, keepdims=True))
    products = e.matmul(centred, e.array("transpose", centred))
    if name == "cov":
        dof = e.call(rt.cov_dof, rows, Const(_static_flag(bound, "bias", False)),
                     bound.get("ddof", Const(None)))
        return e.squeeze(e.truediv(products, dof))
    scale = _numpy(e, np.sqrt, e.diagonal(products))
    ratio = e.truediv(e.truediv(products, e.expand_dims(scale, axis=1)),
                      e.expand_dims(scale, axis=0))
    clipped = _numpy(e, np.minimum, _numpy(e, np.maximum, ratio, Const(-1.0)), Const(1.0))
    return e.squeeze(clipped)


def _numpy(e: Emit, fn: Any, *args: Operand) -> Operand:
    """An elementwise NumPy function (np.sqrt, np.maximum) applied as the user's code would."""
    return e.b.emit(fn.__name__, list(args), attrs={"fn": fn, "family": "numpy"}).result


def _is_none(value: Operand) -> bool:
    return isinstance(value, Const) and value.value is None


def _static_flag(bound: dict[str, Operand], name: str, default: bool) -> bool:
    value = bound.get(name, Const(default))
    if not isinstance(value, Const):
        raise NotImplementedError(f"np.cov and np.corrcoef need {name}= as a constant "
                                  "(True or False written in the call)")
    return bool(value.value)


array("cov", np.cov, "m*, y*=None, rowvar=True, bias=False, ddof=None, fweights=None, "
      "aweights=None")
array("corrcoef", np.corrcoef, "x*, y*=None, rowvar=True")
helper("cov_rows", rt.cov_rows, (0,), lambda e, g, a: [
    e.helper("cov_rows_adjoint", g, *a), None], jvp=linear_jvp, batched=bs.batched_cov_rows)
helper("cov_rows_adjoint", rt.cov_rows_adjoint, (0,), lambda e, g, a: [
    e.helper("cov_rows", g, a[2]), None, None], jvp=linear_jvp,
    batched=bs.batched_cov_rows_adjoint)
