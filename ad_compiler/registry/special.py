"""Elementwise functions of ``scipy.special``, the ``math`` and NumPy ones declared with
them (fmod, copysign, fmax, heaviside, sinc, real, float64, ...), and ``np.nan_to_num``
and ``math.dist``.

Each elementwise one has a sympy meaning and its partials written out: sympy leaves
these derivatives in forms no library function computes (``polygamma(0, x)``,
``besseli(2, x)``), or in forms that are nan where the derivative exists.  The
partials name functions by sympy name or, where sympy has none, by primitive name
(``i1e(x)``); `TEMPLATE_REWRITES` turns orders that are whole numbers into the
functions SciPy has (``polygamma(0, x)`` is ``digamma(x)``, ``besseli(1, x)`` is
``i1(x)``), so derivative code calls ``scipy.special.digamma`` and never a polygamma
that returns float64 for float32 input.

A partial given as None refuses the derivative with respect to that operand (an
order, a shape parameter): `no_partial()` says why, at the user's line.

SciPy is not imported here: ``scipy`` is a lazy family (core.LAZY_FAMILY_MODULES), its
functions recognised by identity once the user's code has imported ``scipy.special``,
so ``import ad_compiler`` stays fast.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import runtime_slopes
from ..ir import Const, Op, Operand
from .core import REGISTRY, Primitive, array, elementwise, piecewise_constant
from .emit import Emit


def _scipy(name: str, arity: int, expr: str, *partials: str | None, **more: Any) -> Primitive:
    """``scipy.special.<name>``, with its partials in x (and y)."""
    return elementwise(name, arity, expr, scipy=name, partials=partials, **more)


_SQRT_2PI = "sqrt(2*pi)"
_scipy("expit", 1, "1/(1 + exp(-x))", "Y*(1 - Y)")
_scipy("logit", 1, "log(x/(1 - x))", "1/(x*(1 - x))")
_scipy("erfinv", 1, "erfinv(x)", "sqrt(pi)*exp(Y**2)/2")
_scipy("erfcinv", 1, "erfcinv(x)", "-sqrt(pi)*exp(Y**2)/2")
_scipy("gamma", 1, "gamma(x)", "Y*polygamma(0, x)", math="gamma")
# log|gamma(x)|, whose slope is digamma also where gamma(x) < 0
_scipy("gammaln", 1, "loggamma(x)", "polygamma(0, x)", math="lgamma")
_scipy("digamma", 1, "polygamma(0, x)", "polygamma(1, x)", scipy_aliases=("psi",))
_scipy("polygamma", 2, "polygamma(x, y)", None, "polygamma(x + 1, y)")
# the Hurwitz zeta function: polygamma(n, x) = (-1)**(n+1) n! zeta(n + 1, x)
_scipy("zeta", 2, "zeta(x, y)", None, "-x*zeta(x + 1, y)")
_scipy("beta", 2, "beta(x, y)", "Y*(polygamma(0, x) - polygamma(0, x + y))",
       "Y*(polygamma(0, y) - polygamma(0, x + y))")
_scipy("betaln", 2, "log(beta(x, y))", "polygamma(0, x) - polygamma(0, x + y)",
       "polygamma(0, y) - polygamma(0, x + y)")
_scipy("xlog1py", 2, "x*log(1 + y)", "log(1 + y)", "x/(1 + y)")
_scipy("entr", 1, "-x*log(x)", "-log(x) - 1")
_scipy("ndtr", 1, "(1 + erf(x/sqrt(2)))/2", f"exp(-x**2/2)/{_SQRT_2PI}")
# pdf/cdf as exp(log pdf - log cdf): finite far in the lower tail, where cdf underflows
_scipy("log_ndtr", 1, "log((1 + erf(x/sqrt(2)))/2)", f"exp(-x**2/2 - Y)/{_SQRT_2PI}")
_scipy("ndtri", 1, "sqrt(2)*erfinv(2*x - 1)", f"{_SQRT_2PI}*exp(Y**2/2)")
_scipy("i0", 1, "besseli(0, x)", "besseli(1, x)")
_scipy("i1", 1, "besseli(1, x)", "(besseli(0, x) + besseli(2, x))/2")
_scipy("iv", 2, "besseli(x, y)", None, "(besseli(x - 1, y) + besseli(x + 1, y))/2")
# the exponentially scaled ones, exp(-|x|) I_v(x); at the kink of i0e at 0 the slope
# is 0, with sign(0) = 0 as for abs
_scipy("i0e", 1, "exp(-Abs(x))*besseli(0, x)", "i1e(x) - sign(x)*Y")
_scipy("i1e", 1, "exp(-Abs(x))*besseli(1, x)", "(i0e(x) + ive(2, x))/2 - sign(x)*Y")
_scipy("ive", 2, "exp(-Abs(y))*besseli(x, y)", None,
       "(ive(x - 1, y) + ive(x + 1, y))/2 - sign(y)*Y")
_scipy("j0", 1, "besselj(0, x)", "-besselj(1, x)")
_scipy("j1", 1, "besselj(1, x)", "(besselj(0, x) - besselj(2, x))/2")
_scipy("jv", 2, "besselj(x, y)", None, "(besselj(x - 1, y) - besselj(x + 1, y))/2")
_scipy("y0", 1, "bessely(0, x)", "-bessely(1, x)")
_scipy("y1", 1, "bessely(1, x)", "(bessely(0, x) - bessely(2, x))/2")
_scipy("yv", 2, "bessely(x, y)", None, "(bessely(x - 1, y) - bessely(x + 1, y))/2")
# regularised incomplete gamma functions; x**(a-1) as xlogy so that x = 0, a = 1 is 1
_scipy("gammainc", 2, "lowergamma(x, y)/gamma(x)", None,
       "exp(xlogy(x - 1, y) - y - loggamma(x))")
_scipy("gammaincc", 2, "uppergamma(x, y)/gamma(x)", None,
       "-exp(xlogy(x - 1, y) - y - loggamma(x))")

# np.mod, np.remainder: % of arrays, and of lists and scalars as NumPy takes them
elementwise("remainder", 2, "Mod(x, y)", numpy="remainder", partials=("1", "-floor(x/y)"))
# math and NumPy: fmod keeps the sign of x (x - y*trunc(x/y)), % that of y
elementwise("fmod", 2, "x - y*truncated(x/y)", "fmod", "fmod", partials=("1", "-truncated(x/y)"))
# |x| with the sign of y; at x = 0 the slope of the side x's sign bit gives
elementwise("copysign", 2, "Abs(x)*sign(y)", "copysign", "copysign",
            partials=("copysign(1, x)*copysign(1, y)", "0"))
# normalised sinc; its slope and curvature are finite at 0 (runtime_slopes.sinc_slope), and
# those two are functions of derivative code only
elementwise("sinc", 1, "sin(pi*x)/(pi*x)", numpy="sinc", partials=("sinc_slope(x)",))
elementwise("sinc_slope", 1, "(cos(pi*x) - sin(pi*x)/(pi*x))/x", partials=("sinc_curve(x)",),
            fn=runtime_slopes.sinc_slope)
elementwise("sinc_curve", 1,
            "-pi**2*sin(pi*x)/(pi*x) - 2*(cos(pi*x) - sin(pi*x)/(pi*x))/x**2",
            partials=(None,), fn=runtime_slopes.sinc_curve)
# of real input: the identity, zero and the identity; complex input is refused when
# the derivative runs (runtime_slopes.real_one)
elementwise("real", 1, "x", numpy="real", partials=("real_one(x)",))
elementwise("imag", 1, "0*x", numpy="imag", partials=("real_one(x) - 1",))  # 0, with the check
elementwise("conj", 1, "x", numpy="conjugate", partials=("real_one(x)",))
# NumPy's maximum and minimum that ignore a nan operand: the derivative of the operand
# they return (fmax_first says which, a nan's other operand included)
elementwise("fmax", 2, "Max(x, y)", numpy="fmax",
            partials=("fmax_first(x, y)", "1 - fmax_first(x, y)"))
elementwise("fmin", 2, "Min(x, y)", numpy="fmin",
            partials=("fmin_first(x, y)", "1 - fmin_first(x, y)"))
piecewise_constant("fmax_first", 2, fn=runtime_slopes.fmax_first)
piecewise_constant("fmin_first", 2, fn=runtime_slopes.fmin_first)
# the step 0, h, 1 for x < 0, x == 0, x > 0: flat in x, and h where x == 0
elementwise("heaviside", 2, "Heaviside(x, y)", numpy="heaviside",
            partials=("0", "heaviside(x, 1) - heaviside(x, 0)"))
# np.float64(x): the number or array as float64, its derivative the identity's
elementwise("float64", 1, "x", numpy="float64")
# trunc as a float (math.trunc gives an int), for fmod's partial in y
piecewise_constant("ftrunc", 1, fn=np.trunc)
# `real_one(x)`: 1.0 for real input, a TypeError for complex; no derivative itself
piecewise_constant("real_one", 1, fn=runtime_slopes.real_one)

# primitive -> (its parameters, why a derivative in the ones with no partial is refused)
_STATIC = {
    "polygamma": (("n", "x"), "the order n is a whole number"),
    "zeta": (("s", "q"), "only the derivative in q is supported"),
    "iv": (("v", "x"), "the order v has no derivative rule"),
    "ive": (("v", "x"), "the order v has no derivative rule"),
    "jv": (("v", "x"), "the order v has no derivative rule"),
    "yv": (("v", "x"), "the order v has no derivative rule"),
    "gammainc": (("a", "x"), "only the derivative in x is supported"),
    "gammaincc": (("a", "x"), "only the derivative in x is supported"),
    "sinc_curve": (("x",), "third derivatives of np.sinc are not supported"),
}


def no_partial(prim: str, wrt: int) -> str:
    """Why the derivative of `prim` in operand `wrt` is refused."""
    params, why = _STATIC.get(prim, ((), ""))
    which = f"'{params[wrt]}'" if wrt < len(params) else f"operand {wrt + 1}"
    return f"no derivative with respect to {which}: {why}" if why else (
        f"no derivative with respect to {which}")


# sympy function names (and names of primitives that sympy lacks) -> primitive
SYMPY_NAMES = {
    "gamma": "gamma", "loggamma": "gammaln", "erfinv": "erfinv", "erfcinv": "erfcinv",
    "zeta": "zeta", "i0e": "i0e", "i1e": "i1e", "ive": "ive", "xlogy": "xlogy",
    "truncated": "ftrunc", "copysign": "copysign", "sinc_slope": "sinc_slope",
    "sinc_curve": "sinc_curve", "real_one": "real_one", "digamma": "digamma",
    "power_slope": "power_slope", "power_curve": "power_curve",
    "fmax_first": "fmax_first", "fmin_first": "fmin_first", "heaviside": "heaviside",
}


def _whole(order: Any) -> int | None:
    return int(order) if order.is_Integer else None


def _polygamma(expr: Any, sub: Callable) -> tuple | None:
    n = _whole(expr.args[0])
    if n is None or n < 0:
        return ("polygamma", sub(expr.args[0]), sub(expr.args[1]))
    if n == 0:
        return ("digamma", sub(expr.args[1]))
    coefficient = float((-1) ** (n + 1) * math.factorial(n))
    return ("mul", ("num", coefficient), ("zeta", ("num", float(n + 1)), sub(expr.args[1])))


def _bessel(kind: str, parity: bool) -> Callable:
    """besseli/besselj/bessely(n, x) with n whole: the order-0 and order-1 functions SciPy
    has by name, else `kind` (iv, jv, yv) of |n|; `parity`: J and Y of order -n are
    (-1)**n those of order n (I's are equal)."""
    def rewrite(expr: Any, sub: Callable) -> tuple:
        n = _whole(expr.args[0])
        if n is None:
            return (kind, sub(expr.args[0]), sub(expr.args[1]))
        order, x = abs(n), sub(expr.args[1])
        named = {"iv": ("i0", "i1"), "jv": ("j0", "j1"), "yv": ("y0", "y1"),
                 "ive": ("i0e", "i1e")}[kind]
        tree = (named[order], x) if order < 2 else (kind, ("num", float(order)), x)
        return ("neg", tree) if parity and n < 0 and n % 2 else tree
    return rewrite


def _power_factor(order: int) -> Callable:
    """power_slope(x, k) (order 1) and power_curve(x, k) (order 2) of a number k: the
    product itself, k * x**(k - 1) (0 where it is 0), as the derivative of x**k reads."""
    def rewrite(expr: Any, sub: Callable) -> tuple | None:
        x, k = expr.args
        if not k.is_Number:
            return None
        factor = k * (k - 1) if order == 2 else k
        return sub(factor * x ** (k - order) if factor != 0 else factor)
    return rewrite


# sympy function name -> its template, given a function that makes subtemplates
TEMPLATE_REWRITES: dict[str, Callable[[Any, Callable], tuple | None]] = {
    "polygamma": _polygamma, "besseli": _bessel("iv", False),
    "besselj": _bessel("jv", True), "bessely": _bessel("yv", True), "ive": _bessel("ive", False),
    "power_slope": _power_factor(1), "power_curve": _power_factor(2),
}


# ------------------------------------------------------------------ np.nan_to_num
# it takes keyword arguments (nan=, posinf=, neginf=); its derivative is 1 where x is
# finite and 0 where a value was replaced

def _kept(e: Emit, op: Op, d: Operand) -> Operand:
    """`d` where nan_to_num's argument is finite (kept as it is), else 0."""
    return e.where(e.call(np.isfinite, op.args[0]), d, Const(0.0))


array("nan_to_num", np.nan_to_num, "x*, copy=True, nan=0.0, posinf=None, neginf=None",
      jvp=lambda e, op, t: _kept(e, op, t[0]), vjp=lambda e, op, g: [_kept(e, op, g)])


# ------------------------------------------------------------------ math.dist

def _norm_or_one(e: Emit, op: Op) -> Operand:
    """A norm's result (math.dist, math.hypot) where it is not 0, else 1: where it is 0
    (and has no derivative) the rules give 0, the subgradient there that is smallest."""
    return e.where(e.call(np.equal, op.result, Const(0.0)), Const(1.0), op.result)


def _dist_parts(e: Emit, op: Op) -> tuple[Operand, Operand]:
    """``p - q`` as an array, and the distance where it is not 0, else 1."""
    p, q = (e.array("array", a) for a in op.args)
    return e.sub(p, q), _norm_or_one(e, op)


def _dist_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    difference, distance = _dist_parts(e, op)
    moved = [e.array("array", d) if k == 0 else e.neg(e.array("array", d))
             for k, d in enumerate(t) if d is not None]
    return e.truediv(e.sum(e.mul(difference, e.sum_terms(moved))), distance)


def _dist_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    difference, distance = _dist_parts(e, op)
    p_bar = e.mul(g, e.truediv(difference, distance))
    return [p_bar, e.neg(p_bar)]


array("dist", math.dist, "p*, q*", jvp=_dist_jvp, vjp=_dist_vjp)


def _hypot_n_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    terms = [e.mul(x, d) for x, d in zip(op.args, t) if d is not None]
    return e.truediv(e.sum_terms(terms), _norm_or_one(e, op))


def _hypot_n_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    scale = e.truediv(g, _norm_or_one(e, op))
    return [e.mul(scale, x) for x in op.args]


# math.hypot with other than two coordinates (two are the elementwise "hypot")
array("hypot_n", math.hypot, "coordinates*", variadic=True, looked_up=False,
      jvp=_hypot_n_jvp, vjp=_hypot_n_vjp)

# the elementwise primitives this module declares (tests/test_coverage_special*.py)
SPECIAL_PRIMITIVES = frozenset(name for name, record in REGISTRY.items()
                               if record.module == "special" and not record.is_array)
