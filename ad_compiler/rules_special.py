"""Elementwise functions of ``scipy.special``, and the ``math`` and NumPy ones the core
table (primitives.py) lacks.

Each is a primitive with a sympy meaning and its partials written out: sympy leaves
these derivatives in forms no library function computes (``polygamma(0, x)``,
``besseli(2, x)``), or in forms that are nan where the derivative exists.  The
partials name functions by sympy name or, where sympy has none, by primitive name
(``i1e(x)``); `TEMPLATE_REWRITES` turns orders that are whole numbers into the
functions SciPy has (``polygamma(0, x)`` is ``digamma(x)``, ``besseli(1, x)`` is
``i1(x)``), so derivative code calls ``scipy.special.digamma`` and never a polygamma
that returns float64 for float32 input.

A partial given as None refuses the derivative with respect to that operand (an
order, a shape parameter): `no_partial()` says why, at the user's line.

SciPy is not imported here: its functions are recognised by identity once the user's
module has imported ``scipy.special`` (`lookup_scipy()` builds its table on the first
lookup after that), so ``import ad_compiler`` stays fast.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from . import runtime
from .primitives import _ARRAY_CALLABLES, _CALLABLES, PRIMITIVES, Primitive

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

# The table: name, arity, meaning (sympy, in x and y), partials, and the attribute of
# each family's module that computes it.  `Y` in a partial is the primitive's result.
_SQRT_2PI = "sqrt(2*pi)"
_DECLARED: list[tuple[str, int, str, tuple[str | None, ...], dict[str, str]]] = [
    ("expit", 1, "1/(1 + exp(-x))", ("Y*(1 - Y)",), {"scipy": "expit"}),
    ("logit", 1, "log(x/(1 - x))", ("1/(x*(1 - x))",), {"scipy": "logit"}),
    ("erfinv", 1, "erfinv(x)", ("sqrt(pi)*exp(Y**2)/2",), {"scipy": "erfinv"}),
    ("erfcinv", 1, "erfcinv(x)", ("-sqrt(pi)*exp(Y**2)/2",), {"scipy": "erfcinv"}),
    ("gamma", 1, "gamma(x)", ("Y*polygamma(0, x)",), {"scipy": "gamma", "math": "gamma"}),
    # log|gamma(x)|, whose slope is digamma also where gamma(x) < 0
    ("gammaln", 1, "loggamma(x)", ("polygamma(0, x)",), {"scipy": "gammaln", "math": "lgamma"}),
    ("digamma", 1, "polygamma(0, x)", ("polygamma(1, x)",), {"scipy": "digamma"}),
    ("polygamma", 2, "polygamma(x, y)", (None, "polygamma(x + 1, y)"), {"scipy": "polygamma"}),
    # the Hurwitz zeta function: polygamma(n, x) = (-1)**(n+1) n! zeta(n + 1, x)
    ("zeta", 2, "zeta(x, y)", (None, "-x*zeta(x + 1, y)"), {"scipy": "zeta"}),
    ("beta", 2, "beta(x, y)", ("Y*(polygamma(0, x) - polygamma(0, x + y))",
                               "Y*(polygamma(0, y) - polygamma(0, x + y))"), {"scipy": "beta"}),
    ("betaln", 2, "log(beta(x, y))", ("polygamma(0, x) - polygamma(0, x + y)",
                                      "polygamma(0, y) - polygamma(0, x + y)"),
     {"scipy": "betaln"}),
    ("xlog1py", 2, "x*log(1 + y)", ("log(1 + y)", "x/(1 + y)"), {"scipy": "xlog1py"}),
    ("entr", 1, "-x*log(x)", ("-log(x) - 1",), {"scipy": "entr"}),
    ("ndtr", 1, "(1 + erf(x/sqrt(2)))/2", (f"exp(-x**2/2)/{_SQRT_2PI}",), {"scipy": "ndtr"}),
    # pdf/cdf as exp(log pdf - log cdf): finite far in the lower tail, where cdf underflows
    ("log_ndtr", 1, "log((1 + erf(x/sqrt(2)))/2)", (f"exp(-x**2/2 - Y)/{_SQRT_2PI}",),
     {"scipy": "log_ndtr"}),
    ("ndtri", 1, "sqrt(2)*erfinv(2*x - 1)", (f"{_SQRT_2PI}*exp(Y**2/2)",), {"scipy": "ndtri"}),
    ("i0", 1, "besseli(0, x)", ("besseli(1, x)",), {"scipy": "i0"}),
    ("i1", 1, "besseli(1, x)", ("(besseli(0, x) + besseli(2, x))/2",), {"scipy": "i1"}),
    ("iv", 2, "besseli(x, y)", (None, "(besseli(x - 1, y) + besseli(x + 1, y))/2"),
     {"scipy": "iv"}),
    # the exponentially scaled ones, exp(-|x|) I_v(x); at the kink of i0e at 0 the slope
    # is 0, with sign(0) = 0 as for abs
    ("i0e", 1, "exp(-Abs(x))*besseli(0, x)", ("i1e(x) - sign(x)*Y",), {"scipy": "i0e"}),
    ("i1e", 1, "exp(-Abs(x))*besseli(1, x)", ("(i0e(x) + ive(2, x))/2 - sign(x)*Y",),
     {"scipy": "i1e"}),
    ("ive", 2, "exp(-Abs(y))*besseli(x, y)",
     (None, "(ive(x - 1, y) + ive(x + 1, y))/2 - sign(y)*Y"), {"scipy": "ive"}),
    ("j0", 1, "besselj(0, x)", ("-besselj(1, x)",), {"scipy": "j0"}),
    ("j1", 1, "besselj(1, x)", ("(besselj(0, x) - besselj(2, x))/2",), {"scipy": "j1"}),
    ("jv", 2, "besselj(x, y)", (None, "(besselj(x - 1, y) - besselj(x + 1, y))/2"),
     {"scipy": "jv"}),
    ("y0", 1, "bessely(0, x)", ("-bessely(1, x)",), {"scipy": "y0"}),
    ("y1", 1, "bessely(1, x)", ("(bessely(0, x) - bessely(2, x))/2",), {"scipy": "y1"}),
    ("yv", 2, "bessely(x, y)", (None, "(bessely(x - 1, y) - bessely(x + 1, y))/2"),
     {"scipy": "yv"}),
    # regularised incomplete gamma functions; x**(a-1) as xlogy so that x = 0, a = 1 is 1
    ("gammainc", 2, "lowergamma(x, y)/gamma(x)",
     (None, "exp(xlogy(x - 1, y) - y - loggamma(x))"), {"scipy": "gammainc"}),
    ("gammaincc", 2, "uppergamma(x, y)/gamma(x)",
     (None, "-exp(xlogy(x - 1, y) - y - loggamma(x))"), {"scipy": "gammaincc"}),
    # np.mod, np.remainder: % of arrays, and of lists and scalars as NumPy takes them
    ("remainder", 2, "Mod(x, y)", ("1", "-floor(x/y)"), {"numpy": "remainder"}),
    # math and NumPy: fmod keeps the sign of x (x - y*trunc(x/y)), % that of y
    ("fmod", 2, "x - y*truncated(x/y)", ("1", "-truncated(x/y)"), {"math": "fmod", "numpy": "fmod"}),
    # |x| with the sign of y; at x = 0 the slope of the side x's sign bit gives
    ("copysign", 2, "Abs(x)*sign(y)", ("copysign(1, x)*copysign(1, y)", "0"),
     {"math": "copysign", "numpy": "copysign"}),
    # normalised sinc; its slope and curvature are finite at 0 (runtime.sinc_slope)
    ("sinc", 1, "sin(pi*x)/(pi*x)", ("sinc_slope(x)",), {"numpy": "sinc"}),
    ("sinc_slope", 1, "(cos(pi*x) - sin(pi*x)/(pi*x))/x", ("sinc_curve(x)",), {}),
    ("sinc_curve", 1, "-pi**2*sin(pi*x)/(pi*x) - 2*(cos(pi*x) - sin(pi*x)/(pi*x))/x**2",
     (None,), {}),
    # of real input: the identity, zero and the identity; complex input is refused when
    # the derivative runs (runtime.real_one)
    ("real", 1, "x", ("real_one(x)",), {"numpy": "real"}),
    ("imag", 1, "0*x", ("real_one(x) - 1",), {"numpy": "imag"}),  # 0, with the check
    ("conj", 1, "x", ("real_one(x)",), {"numpy": "conjugate"}),
]
# functions of derivative code only: no callable of the user's maps to them
_INTERNAL_FUNCTIONS = {"sinc_slope": runtime.sinc_slope, "sinc_curve": runtime.sinc_curve}

# SciPy's other names for the same function
_SCIPY_ALIASES = {"psi": "digamma"}


def _declare() -> None:
    for name, arity, expr, partials, impls in _DECLARED:
        if name in PRIMITIVES:  # already in the core table: another family for it
            PRIMITIVES[name].impls.update(impls)
            continue
        present = {f: a for f, a in impls.items()
                   if f == "scipy" or hasattr({"math": math, "numpy": np}[f], a)}
        PRIMITIVES[name] = Primitive(name, arity, expr, impls=present, partials=partials,
                                     fn=_INTERNAL_FUNCTIONS.get(name))
        for family, attr in present.items():
            if family != "scipy":
                obj = getattr(math if family == "math" else np, attr)
                _CALLABLES[id(obj)] = (obj, name, family)
    # trunc as a float (math.trunc gives an int), for fmod's partial in y
    PRIMITIVES["ftrunc"] = Primitive("ftrunc", 1, None, nondiff=True, fn=np.trunc)
    # `real_one(x)`: 1.0 for real input, a TypeError for complex; no derivative itself
    PRIMITIVES["real_one"] = Primitive("real_one", 1, None, nondiff=True, fn=runtime.real_one)
    # scipy.special.erf, erfc and xlogy are the core primitives of those names
    for name in ("erf", "erfc", "xlogy"):
        PRIMITIVES[name].impls["scipy"] = name
    # math.prod(xs) has np.prod's rule (exact at zeros), and its value is math.prod's
    # (lowering keeps the user's callable for the primal: OWN_PRIMAL)
    _ARRAY_CALLABLES[id(math.prod)] = (math.prod, "prod")


# library functions declared as an array primitive that compute its value themselves
OWN_PRIMAL = frozenset({id(math.prod)})


_declare()
# what this module declares (its tests: tests/test_coverage_special.py)
SPECIAL_PRIMITIVES = frozenset(name for name, *_ in _DECLARED) | {"real_one", "ftrunc"}

# sympy function names (and names of primitives that sympy lacks) -> primitive
SYMPY_NAMES = {
    "gamma": "gamma", "loggamma": "gammaln", "erfinv": "erfinv", "erfcinv": "erfcinv",
    "zeta": "zeta", "i0e": "i0e", "i1e": "i1e", "ive": "ive", "xlogy": "xlogy",
    "truncated": "ftrunc", "copysign": "copysign", "sinc_slope": "sinc_slope",
    "sinc_curve": "sinc_curve", "real_one": "real_one", "digamma": "digamma",
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


# sympy function name -> its template, given a function that makes subtemplates
TEMPLATE_REWRITES: dict[str, Callable[[Any, Callable], tuple | None]] = {
    "polygamma": _polygamma, "besseli": _bessel("iv", False),
    "besselj": _bessel("jv", True), "bessely": _bessel("yv", True), "ive": _bessel("ive", False),
}


def no_partial(prim: str, wrt: int) -> str:
    """Why the derivative of `prim` in operand `wrt` is refused."""
    params, why = _STATIC.get(prim, ((), ""))
    which = f"'{params[wrt]}'" if wrt < len(params) else f"operand {wrt + 1}"
    return f"no derivative with respect to {which}: {why}" if why else (
        f"no derivative with respect to {which}")


# ------------------------------------------------------------------ scipy.special

_SCIPY_TABLE: dict[int, tuple[object, str, str]] | None = None


def _scipy_special() -> ModuleType | None:
    return sys.modules.get("scipy.special")


def lookup_scipy(obj: object) -> tuple[str, str] | None:
    """(primitive, "scipy") for a function of scipy.special, by identity; None for any
    other object, and always while scipy.special has not been imported."""
    global _SCIPY_TABLE
    special = _scipy_special()
    if special is None:
        return None
    if _SCIPY_TABLE is None:
        table = {}
        for prim in PRIMITIVES.values():
            attr = prim.impls.get("scipy")
            if attr is not None and hasattr(special, attr):
                table[id(getattr(special, attr))] = (getattr(special, attr), prim.name, "scipy")
        for alias, attr in _SCIPY_ALIASES.items():
            fn = getattr(special, alias, None)
            if fn is not None and id(fn) not in table:
                table[id(fn)] = (fn, attr, "scipy")
        _SCIPY_TABLE = table
    hit = _SCIPY_TABLE.get(id(obj))
    return (hit[1], hit[2]) if hit is not None and hit[0] is obj else None


def scipy_function(attr: str) -> Any:
    """scipy.special's function `attr`, for derivative code (SciPy is imported here,
    when a derivative needs it, if the user's code has not done so)."""
    try:
        import scipy.special
    except ImportError:
        raise NotImplementedError(f"its derivative calls scipy.special.{attr}, and SciPy "
                                  "is not installed (pip install scipy)") from None
    return getattr(scipy.special, attr)


def scipy_modules() -> tuple[tuple[str, ModuleType], ...]:
    """The SciPy modules derivative code may name, once imported."""
    special = _scipy_special()
    return (("scipy.special", special),) if special is not None else ()
