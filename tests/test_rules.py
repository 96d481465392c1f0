"""Every elementwise rule, checked against sympy, central differences and the other mode.

The references here never come from the compiler: each primitive's meaning is
written out below as a sympy formula (independently of ``primitives.py``), its
derivative is taken with ``sympy.diff`` and evaluated to 30 digits; central
differences run the plain Python function.  Each case is one small function
compiled from source held in ``linecache``, in both the ``math`` and the ``numpy``
family where the function exists in both.
"""
from __future__ import annotations

import itertools
import linecache
import math
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp

import ad_compiler as adc
from ad_compiler import rules
from ad_compiler.primitives import PRIMITIVES, lookup_callable
from ad_compiler.registry.special import SPECIAL_PRIMITIVES  # tested in test_coverage_special.py

X, Y = sp.symbols("x y", real=True)


class Step(sp.Function):
    """floor with derivative zero: exact wherever floor is differentiable."""

    @classmethod
    def eval(cls, arg):
        if arg.is_Number:
            return sp.floor(arg)

    def fdiff(self, argindex=1):
        return sp.S.Zero


def real_cbrt(x):
    return sp.sign(x) * sp.Abs(x) ** sp.Rational(1, 3)


# ------------------------------------------------------------------ reference meanings
# prim -> sympy formula in its operands; written here independently of primitives.py.
REFERENCE: dict[str, Callable] = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "truediv": lambda x, y: x / y,
    "pow": lambda x, y: x**y,
    "power": lambda x, y: x**y,
    "power_slope": lambda x, y: y * x**(y - 1),
    "power_curve": lambda x, y: y * (y - 1) * x**(y - 2),
    "mod": lambda x, y: x - y * Step(x / y),
    "floordiv": lambda x, y: Step(x / y),
    "neg": lambda x: -x,
    "pos": lambda x: x,
    "copy": lambda x: x,
    "float": lambda x: x,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
    "asinh": sp.asinh, "acosh": sp.acosh, "atanh": sp.atanh,
    "exp": sp.exp,
    "exp2": lambda x: 2**x,
    "expm1": lambda x: sp.exp(x) - 1,
    "log": sp.log,
    "log2": lambda x: sp.log(x, 2),
    "log10": lambda x: sp.log(x, 10),
    "log1p": lambda x: sp.log(1 + x),
    "sqrt": sp.sqrt,
    "cbrt": real_cbrt,
    "square": lambda x: x * x,
    "reciprocal": lambda x: 1 / x,
    "abs": sp.Abs,
    "erf": sp.erf, "erfc": sp.erfc,
    "degrees": lambda x: x * 180 / sp.pi,
    "radians": lambda x: x * sp.pi / 180,
    "atan2": sp.atan2,
    "hypot": lambda x, y: sp.sqrt(x**2 + y**2),
    "logaddexp": lambda x, y: sp.log(sp.exp(x) + sp.exp(y)),
    "logaddexp2": lambda x, y: sp.log(2**x + 2**y) / sp.log(2),
    "maximum": sp.Max, "minimum": sp.Min,
    "xlogy": lambda x, y: x * sp.log(y),
    # piecewise constant: derivative zero wherever it exists
    "floor": Step,
    "ceil": lambda x: -Step(-x),
    "trunc": lambda x: sp.sign(x) * Step(sp.Abs(x)),
    "sign": sp.sign,
    "round": lambda x: Step(x + sp.Rational(1, 2)),
    "int": lambda x: sp.sign(x) * Step(sp.Abs(x)),
    "lt": lambda x, y: sp.Heaviside(y - x), "le": lambda x, y: sp.Heaviside(y - x),
    "gt": lambda x, y: sp.Heaviside(x - y), "ge": lambda x, y: sp.Heaviside(x - y),
    "eq": lambda x, y: sp.S.Zero, "ne": lambda x, y: sp.S.One,
}

# Points (inside each domain, away from kinks and jumps).
WIDE = (-2.3, -0.7, 0.0, 0.4, 1.9)
TAN = (-1.2, -0.4, 0.3, 1.1)
UNIT = (-0.9, -0.35, 0.0, 0.5, 0.85)
POSITIVE = (0.15, 0.8, 1.0, 2.5, 7.0)
ABOVE_ONE = (1.05, 1.6, 3.0, 10.0)
ABOVE_MINUS_ONE = (-0.6, -0.1, 0.0, 0.9, 4.0)
NONZERO = (-2.2, -0.3, 0.45, 1.7)
PAIRS = ((0.3, 1.2), (-1.1, 0.4), (0.8, -0.5), (-0.6, -1.3), (2.0, 0.7))
POSITIVE_PAIRS = ((0.3, 1.2), (1.7, 0.4), (2.5, -0.5), (0.9, -1.3), (4.0, 2.0))
MOD_PAIRS = ((7.3, 2.0), (-3.4, 1.5), (2.2, -0.9), (0.4, 3.1), (-5.1, -2.2))
LOG_BASE_PAIRS = ((2.0, 3.0), (0.5, 10.0), (7.0, 0.3), (1.3, 2.0))

# math functions newer than the oldest Python supported (3.10) -> the version adding them
MATH_ADDED_IN = {"exp2": (3, 11), "cbrt": (3, 11)}


def in_math(name: str | None) -> str | None:
    """`name` where this Python's math module has it (by the table above), else None."""
    if name is None or sys.version_info < MATH_ADDED_IN.get(name, (3, 0)):
        return None
    return name


# The deprecation NumPy >= 2.5 gives for the test's own calls of np.fix.
NP_FIX_DEPRECATED = "ignore:numpy.fix is deprecated:DeprecationWarning"

# prim, math name, numpy names, points
UNARY = [
    ("sin", "sin", ["sin"], WIDE),
    ("cos", "cos", ["cos"], WIDE),
    ("tan", "tan", ["tan"], TAN),
    ("asin", "asin", ["arcsin"], UNIT),
    ("acos", "acos", ["arccos"], UNIT),
    ("atan", "atan", ["arctan"], WIDE),
    ("sinh", "sinh", ["sinh"], WIDE),
    ("cosh", "cosh", ["cosh"], WIDE),
    ("tanh", "tanh", ["tanh"], WIDE),
    ("asinh", "asinh", ["arcsinh"], WIDE),
    ("acosh", "acosh", ["arccosh"], ABOVE_ONE),
    ("atanh", "atanh", ["arctanh"], UNIT),
    ("exp", "exp", ["exp"], WIDE),
    ("exp2", "exp2", ["exp2"], WIDE),
    ("expm1", "expm1", ["expm1"], WIDE),
    ("log", "log", ["log"], POSITIVE),
    ("log2", "log2", ["log2"], POSITIVE),
    ("log10", "log10", ["log10"], POSITIVE),
    ("log1p", "log1p", ["log1p"], ABOVE_MINUS_ONE),
    ("sqrt", "sqrt", ["sqrt"], POSITIVE),
    ("cbrt", "cbrt", ["cbrt"], NONZERO),
    ("square", None, ["square"], WIDE),
    ("reciprocal", None, ["reciprocal"], NONZERO),
    ("abs", "fabs", ["abs", "absolute", "fabs"], NONZERO),
    ("erf", "erf", [], WIDE),
    ("erfc", "erfc", [], WIDE),
    ("degrees", "degrees", ["degrees", "rad2deg"], WIDE),
    ("radians", "radians", ["radians", "deg2rad"], WIDE),
]
BINARY = [
    ("atan2", "atan2", ["arctan2"], PAIRS),
    ("hypot", "hypot", ["hypot"], PAIRS),
    ("logaddexp", None, ["logaddexp"], PAIRS),
    ("logaddexp2", None, ["logaddexp2"], PAIRS),
    ("power", "pow", ["power"], POSITIVE_PAIRS),
    ("maximum", None, ["maximum"], PAIRS),  # also builtin max(x, y)
    ("minimum", None, ["minimum"], PAIRS),  # also builtin min(x, y)
]
NONDIFF = [
    ("floor", "floor", ["floor"]),
    ("ceil", "ceil", ["ceil"]),
    ("trunc", "trunc", ["trunc", "fix"]),
    ("sign", None, ["sign"]),
    ("round", None, ["round", "rint"]),
]
NONDIFF_POINTS = (-2.3, -0.65, 0.4, 1.2, 2.6)


@dataclass(frozen=True)
class Case:
    id: str
    params: tuple[str, ...]
    expr: str  # Python expression, in terms of params, `math` and `np`
    ref: Callable  # sympy symbols -> sympy expression
    points: tuple[tuple[float, ...], ...]
    fd: bool = True  # compare with central differences

    @property
    def source(self) -> str:
        return f"def f({', '.join(self.params)}):\n    return {self.expr}\n"


def _points(points) -> tuple[tuple[float, ...], ...]:
    return tuple(p if isinstance(p, tuple) else (p,) for p in points)


def _cases() -> list[Case]:
    cases = []
    for prim, math_name, np_names, points in UNARY:
        spellings = ([f"math.{math_name}"] if in_math(math_name) else []) + [
            f"np.{n}" for n in np_names]
        for s in spellings:
            cases.append(Case(s, ("x",), f"{s}(x)", REFERENCE[prim], _points(points)))
            # the chain rule through the primitive, with a non-trivial inner function
            if prim not in ("acosh",):
                inner = "0.5 * x" if points in (UNIT, WIDE, TAN) else "x * x + 0.25"
                inner_ref = (lambda x: x / 2) if points in (UNIT, WIDE, TAN) else (
                    lambda x: x * x + sp.Rational(1, 4))
                if points in (NONZERO, ABOVE_MINUS_ONE):
                    inner, inner_ref = "0.5 * x", (lambda x: x / 2)
                ref = REFERENCE[prim]
                cases.append(Case(f"{s}-chain", ("x",), f"3.0 * {s}({inner}) * x",
                                  lambda x, ref=ref, inner_ref=inner_ref: 3 * ref(inner_ref(x)) * x,
                                  _points(points)))
    for prim, math_name, np_names, points in BINARY:
        spellings = ([f"math.{math_name}"] if math_name else []) + [f"np.{n}" for n in np_names]
        if prim == "power":
            spellings.append("pow")  # the builtin
        if prim in ("maximum", "minimum"):
            spellings.append(prim[:3])  # the builtins max and min
        for s in spellings:
            cases.append(Case(s, ("x", "y"), f"{s}(x, y)", REFERENCE[prim], points))
            cases.append(Case(f"{s}-same", ("x",), f"{s}(x, x)",
                              lambda x, r=REFERENCE[prim]: r(x, x),
                              _points(p[0] for p in points if p[0] > 0)))
        cases.append(Case(f"{spellings[0]}-const-right", ("x",), f"{spellings[0]}(x, 1.5)",
                          lambda x, r=REFERENCE[prim]: r(x, sp.Rational(3, 2)),
                          _points(abs(p[0]) for p in points)))
        cases.append(Case(f"{spellings[-1]}-const-left", ("y",), f"{spellings[-1]}(1.5, y)",
                          lambda y, r=REFERENCE[prim]: r(sp.Rational(3, 2), y),
                          _points(p[1] for p in points)))
    # math.log with a base
    cases.append(Case("math.log-base", ("x", "b"), "math.log(x, b)",
                      lambda x, b: sp.log(x) / sp.log(b), LOG_BASE_PAIRS))
    cases.append(Case("math.log-base-const", ("x",), "math.log(x, 2.0)",
                      lambda x: sp.log(x) / sp.log(2), _points(POSITIVE)))
    # builtins
    cases.append(Case("abs", ("x",), "abs(x)", sp.Abs, _points(NONZERO)))
    cases.append(Case("pow-3", ("x",), "pow(x, 3)", lambda x: x**3, _points(WIDE)))
    cases.append(Case("float", ("x",), "float(x)", lambda x: x, _points(WIDE)))
    cases.append(Case("float-mul", ("x",), "float(x) * x", lambda x: x * x, _points(WIDE)))

    # operators, both operands variable
    xy = ("x", "y")
    for expr, prim, points in [
        ("x + y", "add", PAIRS), ("x - y", "sub", PAIRS), ("x * y", "mul", PAIRS),
        ("x / y", "truediv", PAIRS), ("x ** y", "pow", POSITIVE_PAIRS),
        ("x % y", "mod", MOD_PAIRS),
    ]:
        cases.append(Case(f"op:{expr}", xy, expr, REFERENCE[prim], points))
    cases.append(Case("op:-x", ("x",), "-x", lambda x: -x, _points(WIDE)))
    cases.append(Case("op:-(x*y)", xy, "-(x * y)", lambda x, y: -(x * y), PAIRS))
    cases.append(Case("op:x - -y", xy, "x - -y", lambda x, y: x + y, PAIRS))
    cases.append(Case("op:-x*-y", xy, "-x * -y", lambda x, y: x * y, PAIRS))
    cases.append(Case("op:nested", xy, "(x + y) * (x - y) / (1.0 + x * x)",
                      lambda x, y: (x + y) * (x - y) / (1 + x * x), PAIRS))

    # constants on either side
    half, three_halves = sp.Rational(1, 2), sp.Rational(3, 2)
    for expr, ref, points in [
        ("x + 2.5", lambda x: x + sp.Rational(5, 2), WIDE),
        ("2.5 + x", lambda x: x + sp.Rational(5, 2), WIDE),
        ("x - 2.5", lambda x: x - sp.Rational(5, 2), WIDE),
        ("2.5 - x", lambda x: sp.Rational(5, 2) - x, WIDE),
        ("3.0 * x", lambda x: 3 * x, WIDE),
        ("x * 3", lambda x: 3 * x, WIDE),
        ("x / 3.0", lambda x: x / 3, WIDE),
        ("3.0 / x", lambda x: 3 / x, NONZERO),
        ("x ** 2", lambda x: x**2, WIDE),
        ("x ** 3", lambda x: x**3, WIDE),
        ("x ** 2.0", lambda x: x**2, WIDE),
        ("x ** 0.5", lambda x: sp.sqrt(x), POSITIVE),
        ("x ** -1.5", lambda x: x**-three_halves, POSITIVE),
        ("x ** -1", lambda x: 1 / x, NONZERO),
        ("x ** 1", lambda x: x, WIDE),
        ("x ** 0", lambda x: sp.S.One, WIDE),
        ("x ** 0 * x", lambda x: x, WIDE),
        ("2 ** x", lambda x: 2**x, WIDE),
        ("2.0 ** x", lambda x: 2**x, WIDE),
        ("0.5 ** x", lambda x: half**x, WIDE),
        ("x % 1.5", lambda x: x - three_halves * Step(x / three_halves), (-2.3, -0.7, 0.4, 1.9, 4.0)),
        ("7.0 % x", lambda x: 7 - x * Step(7 / x), (-2.2, 0.45, 1.7, 3.0)),
        ("-x * 2.0", lambda x: -2 * x, WIDE),
        ("1 - x", lambda x: 1 - x, WIDE),
        ("0 * x + 1", lambda x: sp.S.One, WIDE),
        ("x * 1 + 0", lambda x: x, WIDE),
    ]:
        cases.append(Case(f"const:{expr}", ("x",), expr, ref, _points(points)))

    # repeated operands
    for expr, ref, points in [
        ("x * x", lambda x: x * x, WIDE),
        ("x / x", lambda x: sp.S.One, NONZERO),
        ("x - x", lambda x: sp.S.Zero, WIDE),
        ("x + x", lambda x: 2 * x, WIDE),
        ("x ** x", lambda x: x**x, POSITIVE),
        ("x % x", lambda x: sp.S.Zero, POSITIVE),
        ("x * x * x", lambda x: x**3, WIDE),
        ("(x + x) * (x - x)", lambda x: sp.S.Zero, WIDE),
        ("np.sin(x) * np.sin(x)", lambda x: sp.sin(x) ** 2, WIDE),
    ]:
        cases.append(Case(f"same:{expr}", ("x",), expr, ref, _points(points)))

    # non-differentiable functions: zero derivative (and nothing else leaks through)
    for prim, math_name, np_names in NONDIFF:
        spellings = ([f"math.{math_name}"] if math_name else []) + [f"np.{n}" for n in np_names]
        for s in spellings:
            cases.append(Case(f"nondiff:{s}", ("x",), f"{s}(x)", REFERENCE[prim],
                              _points(NONDIFF_POINTS)))
            cases.append(Case(f"nondiff:{s}*x", ("x",), f"{s}(x) * x",
                              lambda x, r=REFERENCE[prim]: r(x) * x, _points(NONDIFF_POINTS)))
    for expr, ref in [
        ("round(x)", REFERENCE["round"]),
        ("round(x) + x", lambda x: REFERENCE["round"](x) + x),
        ("int(x) * x", lambda x: REFERENCE["int"](x) * x),
        ("x // 2.0", lambda x: Step(x / 2)),
        ("7.0 // x", lambda x: Step(7 / x)),
        ("(x // 0.5) * x", lambda x: Step(2 * x) * x),
    ]:
        cases.append(Case(f"nondiff:{expr}", ("x",), expr, ref, _points(NONDIFF_POINTS)))
    cases.append(Case("nondiff:x // y", xy, "x // y", REFERENCE["floordiv"], MOD_PAIRS))
    for op, prim in [("<", "lt"), ("<=", "le"), (">", "gt"), (">=", "ge"), ("==", "eq"),
                     ("!=", "ne")]:
        cases.append(Case(f"compare:x {op} y", xy, f"(x {op} y) * x * y",
                          lambda x, y, r=REFERENCE[prim]: r(x, y) * x * y, PAIRS))
    cases.append(Case("compare:x > 0.5", ("x",), "x * (x > 0.5)",
                      lambda x: x * sp.Heaviside(x - half), _points(NONDIFF_POINTS)))
    return cases


CASES = _cases()
_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), [i for i in _ids if _ids.count(i) > 1]



def case_param(case: Case):
    """A case as a test parameter; a call of np.fix in it may warn (NumPy >= 2.5)."""
    marks = [pytest.mark.filterwarnings(NP_FIX_DEPRECATED)] if "np.fix(" in case.expr else []
    return pytest.param(case, id=case.id, marks=marks)


CASE_PARAMS = [case_param(c) for c in CASES]

_counter = itertools.count()


def make_function(source: str, name: str = "f") -> Callable:
    """Compile `source` with its text in linecache, as if it were a file."""
    filename = f"<adc-test-rules-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"math": math, "np": np, "__name__": "adc_test_rules_generated"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


_functions: dict[str, Callable] = {}


def function_of(case: Case) -> Callable:
    if case.id not in _functions:
        _functions[case.id] = make_function(case.source)
    return _functions[case.id]


def sympy_gradient(case: Case, point: tuple[float, ...]) -> list[float]:
    symbols = sp.symbols(" ".join(case.params) + ",", real=True)
    expr = sp.sympify(case.ref(*symbols))
    subs = {s: sp.Float(v, 40) for s, v in zip(symbols, point)}
    return [float(sp.N(sp.diff(expr, s).subs(subs), 30)) for s in symbols]


def central_differences(f: Callable, point: tuple[float, ...]) -> list[float]:
    out = []
    for i, v in enumerate(point):
        h = 1e-6 * max(1.0, abs(v))
        hi = list(point)
        lo = list(point)
        hi[i] += h
        lo[i] -= h
        out.append((float(f(*hi)) - float(f(*lo))) / (2 * h))
    return out


def ad_gradient(case: Case, point, mode: str) -> list[float]:
    g = adc.grad(function_of(case), wrt=tuple(range(len(case.params))), mode=mode)
    result = g(*point)
    assert isinstance(result, tuple) and len(result) == len(case.params)
    return [float(r) for r in result]


# ------------------------------------------------------------------------- tests

@pytest.mark.parametrize("case", CASE_PARAMS)
def test_grad_matches_sympy(case):
    for point in case.points:
        expected = sympy_gradient(case, point)
        for mode in ("reverse", "forward"):
            got = ad_gradient(case, point, mode)
            assert got == pytest.approx(expected, rel=1e-12, abs=1e-13), (mode, point)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_grad_matches_central_differences(case):
    f = function_of(case)
    for point in case.points:
        numeric = central_differences(f, point)
        got = ad_gradient(case, point, "reverse")
        assert got == pytest.approx(numeric, rel=1e-6, abs=1e-6), point


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_forward_equals_reverse(case):
    f = function_of(case)
    for point in case.points:
        fwd = ad_gradient(case, point, "forward")
        rev = ad_gradient(case, point, "reverse")
        for a, b in zip(fwd, rev):
            assert abs(a - b) <= 1e-12 * max(1.0, abs(a)), (point, fwd, rev)
        # jvp and vjp agree with the gradient as well
        value, tangent = adc.jvp(f, point, [1.0] * len(point))
        assert float(tangent) == pytest.approx(sum(rev), rel=1e-12, abs=1e-13)
        value2, pullback = adc.vjp(f, *point)
        assert [float(c) for c in pullback(1.0)] == pytest.approx(rev, rel=1e-12, abs=1e-13)
        assert float(value) == pytest.approx(float(f(*point)), rel=1e-15, abs=0)
        assert float(value2) == pytest.approx(float(f(*point)), rel=1e-15, abs=0)


def test_every_primitive_and_callable_is_covered():
    """Each primitive with a rule has a reference formula; each math/NumPy callable a case."""
    for name, prim in PRIMITIVES.items():
        if (prim.expr is not None or prim.impls) and name not in SPECIAL_PRIMITIVES:
            assert name in REFERENCE, f"no reference formula for primitive {name!r}"
    spelled = {c.expr.split("(")[0] for c in CASES}
    for prim in PRIMITIVES.values():
        for family, attr in prim.impls.items():
            if prim.name in SPECIAL_PRIMITIVES or family == "scipy":
                continue
            spelling = f"{'math' if family == 'math' else 'np'}.{attr}"
            assert spelling in spelled, f"no case calls {spelling}"
    # and each spelling tested really denotes the primitive it is filed under
    for prim, math_name, np_names, _ in UNARY + BINARY:
        if in_math(math_name):
            assert lookup_callable(getattr(math, math_name)) == (prim, "math")
        for n in np_names:
            assert lookup_callable(getattr(np, n)) == (prim, "numpy")


def test_math_functions_are_there_from_the_python_that_added_them():
    """The table the cases follow matches this Python's math module, and so do the
    primitives: a math function the table lacks would go untested."""
    for name, version in MATH_ADDED_IN.items():
        assert hasattr(math, name) == (sys.version_info >= version), name
        assert ("math" in PRIMITIVES[name].impls) == hasattr(math, name), name


@pytest.mark.skipif(sys.version_info >= (3, 11), reason="math.exp2 and math.cbrt exist")
@pytest.mark.parametrize("name", ["exp2", "cbrt"])
def test_a_math_function_this_python_lacks_is_a_located_error(name):
    f = make_function(f"def f(x):\n    return 2.0 * math.{name}(x)\n")
    with pytest.raises(AttributeError):
        f(1.0)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(f)
    assert info.value.lineno == 2 and info.value.col == 17
    assert f"has no attribute '{name}'" in info.value.what


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_derivative_code_calls_np_trunc_for_the_deprecated_np_fix(mode):
    """np.fix is np.trunc (NumPy >= 2.5 deprecates it): the derivative code calls
    np.trunc, so it gives no warning of its own, and its values are np.fix's."""
    f = make_function("def f(x):\n    return np.fix(x) * x\n")
    source = adc.source(f, mode=mode)
    code = [line for line in source.splitlines() if not line.lstrip().startswith("#")]
    assert any("np.trunc(x)" in line for line in code) and "np.fix" not in "\n".join(code)
    d = adc.value_and_grad(f, mode=mode)
    for x in (-2.5, -0.4, 0.0, 0.7, 3.2, np.array([-1.5, 0.25, 2.75])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            expected_value = f(x)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value, derivative = d(x)
        assert np.array_equal(value, expected_value)
        assert np.array_equal(derivative, np.trunc(x))


# ------------------------------------------------------------------ rule templates

def _template_to_sympy(tree, operands, result):
    kind = tree[0]
    if kind == "arg":
        return operands[tree[1]]
    if kind == "res":
        return result
    if kind == "num":
        return sp.nsimplify(tree[1]) if isinstance(tree[1], int) else sp.Float(tree[1], 17)
    children = [_template_to_sympy(t, operands, result) for t in tree[1:]]
    return REFERENCE[kind](*children)


UNARY_DOMAINS = {prim: points for prim, _, _, points in UNARY}
UNARY_DOMAINS.update({"neg": WIDE, "pos": WIDE, "copy": WIDE, "float": WIDE})
BINARY_DOMAINS = {"add": PAIRS, "sub": PAIRS, "mul": PAIRS, "truediv": PAIRS,
                  "pow": POSITIVE_PAIRS, "power": POSITIVE_PAIRS, "mod": MOD_PAIRS,
                  "atan2": PAIRS, "hypot": PAIRS, "logaddexp": PAIRS, "logaddexp2": PAIRS, "maximum": PAIRS, "minimum": PAIRS,
                  "xlogy": POSITIVE_PAIRS, "power_slope": POSITIVE_PAIRS,
                  "power_curve": POSITIVE_PAIRS}
DIFFERENTIABLE = sorted(p for p, spec in PRIMITIVES.items()
                        if spec.expr is not None and p not in SPECIAL_PRIMITIVES)


_POWERS = ("pow", "power", "power_slope", "power_curve")


def _template_cases():
    out = []
    for prim in DIFFERENTIABLE:
        arity = PRIMITIVES[prim].arity
        if arity == 1:
            out.append((prim, 0, (None,)))
            continue
        for wrt in (0, 1):
            out.append((prim, wrt, (None, None)))
        consts = [(2,), (0.5,), (-1.5,), (3.0,)]
        for c in consts:
            if not (prim == "xlogy" and c[0] < 0):  # log(-1.5) is not real
                out.append((prim, 0, (None, c)))
            if not (prim in _POWERS and c[0] < 0):  # (-1.5)**y is not real
                out.append((prim, 1, (c, None)))
        same = (prim, 0, (None, ("same", 0)))
        out.append(same)
    return out


def _template_points(prim, pattern):
    if PRIMITIVES[prim].arity == 1:
        return [(p,) for p in UNARY_DOMAINS[prim]]
    points = list(BINARY_DOMAINS[prim])
    if prim in _POWERS:
        points = [(abs(a) + 0.1, b) for a, b in points]
    if pattern[1] == ("same", 0):
        points = [(abs(a) + 0.1, abs(a) + 0.1) for a, _ in points]
    return points


@pytest.mark.parametrize("prim, wrt, pattern", _template_cases(),
                         ids=lambda v: str(v).replace(" ", ""))
def test_partial_template_equals_sympy_diff(prim, wrt, pattern):
    tree = rules.partial_template(prim, wrt, pattern)
    arity = PRIMITIVES[prim].arity
    symbols = (X, Y)[:arity]
    operands = []
    for s, c in zip(symbols, pattern):
        if c is None:
            operands.append(s)
        elif c[0] == "same":
            operands.append(symbols[c[1]])
        else:
            operands.append(sp.nsimplify(c[0]))
    reference = sp.sympify(REFERENCE[prim](*operands))
    expected = sp.diff(reference, symbols[wrt])
    got = _template_to_sympy(tree, operands, reference)
    for point in _template_points(prim, pattern):
        subs = {s: sp.Float(v, 40) for s, v in zip(symbols, point)}
        e = complex(sp.N(expected.subs(subs), 30))
        g = complex(sp.N(got.subs(subs), 30))
        assert abs(g - e) <= 1e-13 * max(1.0, abs(e)), (tree, point, e, g)


def test_partial_templates_are_memoised():
    a = rules.partial_template("sin", 0, (None,))
    b = rules.partial_template("sin", 0, (None,))
    assert a is b
    # d sin = cos of the same operand (tree evaluates to cos(x))
    assert _template_to_sympy(a, [X], sp.sin(X)) == sp.cos(X)


# ------------------------------------------------------------------ families

NUMPY_CASES = [c for c in CASES if c.expr.startswith("np.") and len(c.params) == 1]
NUMPY_PARAMS = [case_param(c) for c in NUMPY_CASES]


@pytest.mark.parametrize("case", NUMPY_PARAMS)
def test_numpy_family_derivative_works_on_arrays(case):
    """np.* differentiates to np.* (never math.*), so tangents work elementwise on arrays."""
    f = function_of(case)
    for mode in ("reverse", "forward"):
        assert "math." not in adc.source(f, mode=mode)
    assert "math." not in adc.source(f, kind="jvp")
    xs = np.array([p[0] for p in case.points])
    value, tangent = adc.jvp(f, (xs,), (np.ones_like(xs),))
    expected = [sympy_gradient(case, (x,))[0] for x in xs]
    assert tangent == pytest.approx(expected, rel=1e-12, abs=1e-13)


ZERO_DERIVATIVE_SOURCES = ["np.floor(x)", "np.sign(x) * 2.0", "np.arctan2(x, x)", "x - x",
                           "np.sin(x) - np.sin(x) * 1.0 + np.floor(x)"]


@pytest.mark.parametrize("expr", ZERO_DERIVATIVE_SOURCES[:4])
def test_zero_derivative_has_the_shape_of_the_array(expr):
    f = make_function(f"def f(x):\n    return {expr}\n")
    xs = np.array([0.3, 1.7, 2.2])
    value, tangent = adc.jvp(f, (xs,), (np.ones_like(xs),))
    assert np.shape(tangent) == np.shape(value) == xs.shape
    _, pullback = adc.vjp(f, xs)
    (cotangent,) = pullback(np.ones_like(xs))
    assert np.shape(cotangent) == xs.shape


@pytest.mark.parametrize("expr", ZERO_DERIVATIVE_SOURCES)
def test_zero_derivative_values(expr):
    f = make_function(f"def f(x):\n    return {expr}\n")
    xs = np.array([0.3, 1.7, 2.2])
    _, tangent = adc.jvp(f, (xs,), (np.ones_like(xs),))
    assert np.all(np.asarray(tangent) == 0.0)
    for x in xs:
        assert adc.grad(f)(float(x)) == 0.0
        assert adc.grad(f, mode="forward")(float(x)) == 0.0


MATH_CASES = [c for c in CASES if c.expr.startswith("math.")]


@pytest.mark.parametrize("case", MATH_CASES, ids=[c.id for c in MATH_CASES])
def test_math_family_derivative_stays_in_math(case):
    """math.* differentiates to math.* (NumPy only for what math lacks: sign)."""
    src = adc.source(function_of(case), wrt=tuple(range(len(case.params))))
    for line in src.splitlines():
        if "np." in line:
            assert "np.sign(" in line and line.count("np.") == line.count("np.sign("), src


# ------------------------------------------------------------------ x ** k with k computed

def taylor_exp(x, n=6):
    """exp(x) by its Taylor series, the power's exponent a loop counter."""
    total, factorial = 0.0, 1.0
    for k in range(n):
        if k > 0:
            factorial = factorial * k
        total = total + x ** k / factorial
    return total


def polynomial(x, coefficients):
    return sum(c * x ** k for k, c in enumerate(coefficients))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_power_with_a_computed_exponent_at_zero(mode):
    """d(x**0)/dx is 0, also at x = 0, where k * x**(k - 1) would divide by zero: the
    gradient of a polynomial at 0 is its linear coefficient."""
    assert adc.grad(taylor_exp, mode=mode)(0.0) == pytest.approx(1.0, rel=1e-15)
    assert adc.grad(polynomial, mode=mode)(0.0, [1.0, 2.0, 3.0]) == pytest.approx(2.0)
    x = np.array([0.0, 0.5, -1.25])
    by_hand = sum(x ** j / math.factorial(j) for j in range(5))  # the series one shorter
    np.testing.assert_allclose(adc.grad(lambda v: np.sum(taylor_exp(v)), mode=mode)(x),
                               by_hand, rtol=1e-13)
    expected = 2.0 + 6.0 * 0.4  # d(1 + 2x + 3x**2)/dx at 0.4
    assert adc.grad(polynomial, mode=mode)(0.4, [1.0, 2.0, 3.0]) == pytest.approx(expected)


def test_second_derivative_of_a_power_with_a_computed_exponent_at_zero():
    """d2(x**0)/dx2 and d2(x**1)/dx2 are 0 at x = 0 too: the Taylor series' curvature at
    0 is 1 (its quadratic term)."""
    assert adc.hessian(taylor_exp)(0.0) == pytest.approx(1.0, rel=1e-15)
    assert adc.grad(adc.grad(taylor_exp))(0.0) == pytest.approx(1.0, rel=1e-15)
    # of arrays: forward over the reverse sweep, whose tape holds the loop counter (a
    # whole number, without a tangent: a tangent of it met the inf of d(x**k)/dk at 0)
    x = np.array([0.0, 0.5, -1.25])
    by_hand = np.diag(sum(x ** j / math.factorial(j) for j in range(4)))
    np.testing.assert_allclose(adc.hessian(summed_taylor_exp)(x), by_hand, rtol=1e-13)


def summed_taylor_exp(x):
    return np.sum(taylor_exp(x))


def test_a_constant_exponent_still_folds():
    text = adc.source(lambda_free_square)
    assert "2.0 * x" in text and "power_slope" not in text


def lambda_free_square(x):
    return x ** 2 + x ** 3
