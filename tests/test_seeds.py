"""The worked examples of the seed documents (shared/seeds/000-002), tested exactly.

Every expected number here is computed independently of the compiler: from the
seeds' hand derivations (written out below), from sympy, or from central
differences.  The compiler's output is never used as its own reference.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import sympy

import ad_compiler as adc

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "seeds.py"


def _load_examples() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("adc_seed_examples", EXAMPLES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seeds = _load_examples()

POINTS = [(0.7, 1.3), (-1.25, 0.5), (0.0, -2.0), (2.5, 3.75), (-0.3, 0.0), (1e-3, 1e3)]

# sympy stand-ins for math/numpy, to run Python source on symbols.
SYM = types.SimpleNamespace(
    sin=sympy.sin, cos=sympy.cos, tan=sympy.tan, exp=sympy.exp, log=sympy.log,
    sqrt=sympy.sqrt, tanh=sympy.tanh, sinh=sympy.sinh, cosh=sympy.cosh,
    pi=sympy.pi, e=sympy.E,
)


def run_symbolically(source: str, *symbols: sympy.Symbol):
    """Run the (single) function defined in `source` on sympy symbols."""
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert len(defs) == 1, source
    body = ast.Module([n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))], [])
    namespace = {"math": SYM, "np": SYM, "numpy": SYM}
    exec(compile(body, "<symbolic>", "exec"), namespace)
    return namespace[defs[0].name](*symbols)


def same_expression(a, b) -> bool:
    return sympy.simplify(sympy.nsimplify(a - b, rational=True)) == 0


# --------------------------------------------------------------------- seed 001

def test_seed001_trace_levels():
    lines = [line.strip() for line in str(adc.trace(seeds.f)).splitlines()]
    for expected in ["w0_1 = x1", "w0_2 = x2", "w1_1 = w0_1 * w0_2", "w1_2 = sin(w0_1)",
                     "w2_1 = w1_1 + w1_2"]:
        assert expected in lines, (expected, lines)
    assert "return w2_1" in lines


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("x1, x2", POINTS)
def test_seed001_gradient_exact(mode, x1, x2):
    expected = (x2 + math.cos(x1), x1)
    assert adc.grad(seeds.f, wrt=(0, 1), mode=mode)(x1, x2) == expected
    assert adc.grad(seeds.f, wrt=("x1", "x2"), mode=mode)(x1, x2) == expected
    assert adc.grad(seeds.f, wrt=("x2", "x1"), mode=mode)(x1, x2) == expected[::-1]
    assert adc.grad(seeds.f, wrt="x2", mode=mode)(x1, x2) == x1
    assert adc.grad(seeds.f, mode=mode)(x1, x2) == expected[0]
    value, gradient = adc.value_and_grad(seeds.f, wrt=(0, 1), mode=mode)(x1, x2)
    assert value == x1 * x2 + math.sin(x1)
    assert gradient == expected


@pytest.mark.parametrize("x1, x2", POINTS)
def test_seed001_jvp_vjp(x1, x2):
    df = (x2 + math.cos(x1), x1)
    for xdot in [(1.0, 0.0), (0.0, 1.0), (0.5, -2.0)]:
        value, tangent = adc.jvp(seeds.f, (x1, x2), xdot)
        assert value == x1 * x2 + math.sin(x1)
        assert tangent == pytest.approx(df[0] * xdot[0] + df[1] * xdot[1], rel=1e-15, abs=1e-300)
    value, pullback = adc.vjp(seeds.f, x1, x2)
    assert value == x1 * x2 + math.sin(x1)
    assert pullback(1.0) == pytest.approx(df, rel=1e-15, abs=1e-300)
    assert pullback(-3.0) == pytest.approx((-3.0 * df[0], -3.0 * df[1]), rel=1e-15, abs=1e-300)


def test_seed001_decorator_forms():
    @adc.grad
    def bare(x1, x2):
        return x1 * x2 + math.sin(x1)

    @adc.grad(wrt=("x1", "x2"), mode="forward")
    def both(x1, x2):
        return x1 * x2 + math.sin(x1)

    assert bare(0.7, 1.3) == 1.3 + math.cos(0.7)
    assert both(0.7, 1.3) == (1.3 + math.cos(0.7), 0.7)


def test_seed001_forward_walk_table():
    """Seed 001's forward sweep: w-dot = d w / d x1 at (x1, x2) = (0.7, 1.3)."""
    x1, x2 = 0.7, 1.3
    table = adc.trace(seeds.f).table(x1=x1, x2=x2, seed="x1")
    value = table.column("value")
    tangent = table.column("tangent")
    assert value == pytest.approx({"w0_1": x1, "w0_2": x2, "w1_1": x1 * x2,
                                   "w1_2": math.sin(x1), "w2_1": x1 * x2 + math.sin(x1)},
                                  rel=1e-15)
    # w0_1 dot = 1, w0_2 dot = 0 (the seed), then the chain rule level by level
    assert tangent == pytest.approx({"w0_1": 1.0, "w0_2": 0.0, "w1_1": x2,
                                     "w1_2": math.cos(x1), "w2_1": x2 + math.cos(x1)},
                                    rel=1e-15, abs=0)


def test_seed001_forward_walk_table_seed_x2():
    """'When we need the derivative with respect to x2 we set w0_1 dot = 0, w0_2 dot = 1'."""
    x1, x2 = 0.7, 1.3
    tangent = adc.trace(seeds.f).table(x1, x2, seed="x2").column("tangent")
    assert tangent == pytest.approx({"w0_1": 0.0, "w0_2": 1.0, "w1_1": x1, "w1_2": 0.0,
                                     "w2_1": x1}, rel=1e-15, abs=0)
    # seed by index means the same parameter
    assert adc.trace(seeds.f).table(x1, x2, seed=1).column("tangent") == tangent


def test_seed001_reverse_walk_table():
    x1, x2 = 0.7, 1.3
    adjoint = adc.trace(seeds.f).table(x1=x1, x2=x2, seed="x1").column("adjoint")
    # w2 bar = 1; + passes it to both summands; * and sin apply their local partials
    assert adjoint == pytest.approx({"w2_1": 1.0, "w1_1": 1.0, "w1_2": 1.0,
                                     "w0_1": x2 + math.cos(x1), "w0_2": x1},
                                    rel=1e-15, abs=0)


def test_seed001_symbolic():
    x1, x2 = sympy.symbols("x1 x2", real=True)
    for mode in ("reverse", "forward"):
        src = adc.source(seeds.f, mode=mode, wrt=(0, 1))
        g1, g2 = run_symbolically(src, x1, x2)
        assert same_expression(g1, x2 + sympy.cos(x1))
        assert same_expression(g2, x1)


# --------------------------------------------------------------------- seed 000

def gaussian_math(x):
    return math.exp(-x**2)


GAUSSIANS = {"np.exp": seeds.gaussian, "math.exp": gaussian_math}
XS = [-2.5, -1.0, -0.3, 0.0, 1e-8, 0.5, 1.0, 1.7, 3.0]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("which", sorted(GAUSSIANS))
def test_seed000_chain_rule(which, mode):
    f = GAUSSIANS[which]
    g = adc.grad(f, mode=mode)
    for x in XS:
        expected = -2 * x * math.exp(-x**2)  # f'(x) = e^{y(x)} * (-2x), y = -x^2
        assert float(g(x)) == pytest.approx(expected, rel=1e-15, abs=1e-300)
        value, slope = adc.value_and_grad(f, mode=mode)(x)
        assert float(value) == pytest.approx(math.exp(-x**2), rel=1e-15)
        assert float(slope) == pytest.approx(expected, rel=1e-15, abs=1e-300)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("which", sorted(GAUSSIANS))
def test_seed000_symbolic(which, mode):
    x = sympy.Symbol("x", real=True)
    f = GAUSSIANS[which]
    derivative = run_symbolically(adc.source(f, mode=mode), x)
    assert same_expression(derivative, -2 * x * sympy.exp(-x**2))
    # and the same as sympy differentiating the user's own source
    original = run_symbolically(inspect.getsource(f), x)
    assert same_expression(derivative, sympy.diff(original, x))


@pytest.mark.parametrize("which", sorted(GAUSSIANS))
def test_seed000_central_differences(which):
    f = GAUSSIANS[which]
    g = adc.grad(f)
    for x in XS:
        h = 1e-6
        numeric = (f(x + h) - f(x - h)) / (2 * h)
        assert float(g(x)) == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    assert adc.check_grad(f, 0.8) < 1e-7


# --------------------------------------------------------------------- seed 002

def fan_out_by_hand(v1):
    """Seed 002's partial adjoints, summed by hand."""
    v2 = math.exp(v1)
    v3 = v2 + 1.0
    v4_bar = 1.0
    v3_bar = v4_bar * v2                    # v4 = v2 * v3
    v2_to_v4 = v4_bar * v3                  # partial adjoint v2 -> v4
    v2_to_v3 = v3_bar * 1.0                 # partial adjoint v2 -> v3
    v2_bar = v2_to_v4 + v2_to_v3            # v2 bar = sum over next(v2)
    v1_bar = v2_bar * math.exp(v1)
    return {"v1": v1_bar, "v2": v2_bar, "v3": v3_bar, "v4": v4_bar}, (v2_to_v4, v2_to_v3)


V1S = [-1.5, -0.2, 0.0, 0.3, 1.0, 2.25]


@pytest.mark.parametrize("v1", V1S)
def test_seed002_fan_out_adjoint(v1):
    hand, _ = fan_out_by_hand(v1)
    closed_form = 2 * math.exp(2 * v1) + math.exp(v1)  # d/dv1 of e^v1 (e^v1 + 1)
    for mode in ("reverse", "forward"):
        g = adc.grad(seeds.fan_out, mode=mode)(v1)
        assert g == pytest.approx(hand["v1"], rel=1e-15)
        assert g == pytest.approx(closed_form, rel=1e-14)
    value, pullback = adc.vjp(seeds.fan_out, v1)
    assert value == pytest.approx(math.exp(v1) * (math.exp(v1) + 1.0), rel=1e-15)
    (v1_bar,) = pullback(0.25)
    assert v1_bar == pytest.approx(0.25 * hand["v1"], rel=1e-15)


@pytest.mark.parametrize("v1", V1S)
def test_seed002_trace_adjoints_sum_partials(v1):
    table = adc.trace(seeds.fan_out).table(v1=v1)
    by_name = {var: w for w, var in table.column("variable").items() if var}
    assert sorted(by_name) == ["v1", "v2", "v3", "v4"]
    adjoint = table.column("adjoint")
    hand, (v2_to_v4, v2_to_v3) = fan_out_by_hand(v1)
    for name in ("v4", "v3", "v2", "v1"):
        assert adjoint[by_name[name]] == pytest.approx(hand[name], rel=1e-15), name
    # v2 feeds two ops, so its adjoint is the sum of its two partial adjoints
    assert adjoint[by_name["v2"]] == pytest.approx(v2_to_v4 + v2_to_v3, rel=1e-15)
    assert v2_to_v3 != 0 and v2_to_v4 != 0
    # levels: v2 = exp(v1) one above v1, v3 above v2, v4 = v2 * v3 above v3
    assert [by_name[n] for n in ("v1", "v2", "v3", "v4")] == ["w0_1", "w1_1", "w2_1", "w3_1"]


def test_seed002_symbolic():
    v1 = sympy.Symbol("v1", real=True)
    original = run_symbolically(inspect.getsource(seeds.fan_out), v1)
    for mode in ("reverse", "forward"):
        derivative = run_symbolically(adc.source(seeds.fan_out, mode=mode), v1)
        assert same_expression(derivative, sympy.diff(original, v1))


@pytest.mark.parametrize("v1", V1S)
def test_seed002_central_differences(v1):
    h = 1e-6 * max(1.0, abs(v1))
    numeric = (seeds.fan_out(v1 + h) - seeds.fan_out(v1 - h)) / (2 * h)
    assert adc.grad(seeds.fan_out)(v1) == pytest.approx(numeric, rel=1e-7)


def test_examples_functions_run_with_numpy_arrays_of_points():
    """The examples are plain functions: the gradient works on NumPy scalars too."""
    x = np.float64(0.4)
    assert float(adc.grad(seeds.gaussian)(x)) == pytest.approx(-2 * 0.4 * math.exp(-0.16),
                                                               rel=1e-15)
