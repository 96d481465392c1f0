"""symbolic(): the formula-and-sympy.diff view of a function, checked against AD."""
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy
from support import load_module

import ad_compiler as adc
from ad_compiler.symbolic import symbolic

seeds = load_module(Path(__file__).parent.parent / "examples" / "seeds.py", "adc_test_seeds",
                    shared=True)
K = 1.5


def sines(a, b, c, d, e, g):
    return math.sin(a) * math.sin(b) * math.sin(c) * math.sin(d) * math.sin(e) * math.sin(g)


def swell(x):
    """Each line reuses the last twice: the formula doubles, the trace grows by two ops."""
    a = math.sin(x) * x
    b = a * a + x
    c = b * b * a
    d = c * c + b
    return d * d


def cone(r, h=2):
    return math.pi * r ** 2 * h / 3 + K * r + 0.5


def branch(x):
    if x > 0:
        return x
    return -x


def loop(x):
    for _ in range(3):
        x = x * x
    return x


def array_sum(x):
    return np.sum(x * 2.0)


def dot(x, y):
    return np.dot(x, y)


def listed(x):
    return np.sum([x, 2 * x])


def pair(x):
    return x, x


def opaque(x):
    return np.float32(2.0) * x  # (np.float64 is the identity, which has a formula)


def _sym(name):
    return sympy.Symbol(name, real=True)


def test_seed_001_derivatives_match_hand_written_ones():
    x1, x2 = _sym("x1"), _sym("x2")
    r = symbolic(seeds.f)
    assert sympy.simplify(r.function - (x1 * x2 + sympy.sin(x1))) == 0
    assert list(r.derivatives) == ["x1", "x2"]
    assert sympy.simplify(r.derivatives["x1"] - (x2 + sympy.cos(x1))) == 0
    assert sympy.simplify(r.derivatives["x2"] - x1) == 0


def test_seed_000_and_002_derivatives():
    x, v1 = _sym("x"), _sym("v1")
    gauss = symbolic(seeds.gaussian).derivatives["x"]
    assert sympy.simplify(gauss - (-2 * x * sympy.exp(-x**2))) == 0
    fan = symbolic(seeds.fan_out).derivatives["v1"]
    assert sympy.simplify(fan - (2 * sympy.exp(2 * v1) + sympy.exp(v1))) == 0


@pytest.mark.parametrize("f, point", [
    (seeds.f, (0.7, -1.3)), (seeds.fan_out, (0.4,)), (sines, (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)),
    (swell, (0.8,)), (cone, (1.2, 0.9)),
])
def test_values_match_grad(f, point):
    r = symbolic(f)
    names = list(r.derivatives)
    at = {_sym(n): v for n, v in zip(names, point)}
    expected = adc.grad(f, wrt=tuple(range(len(names))))(*point)
    for name, want in zip(names, expected):
        assert float(r.derivatives[name].evalf(subs=at)) == pytest.approx(want, rel=1e-10)
    assert float(r.function.evalf(subs=at)) == pytest.approx(f(*point), rel=1e-12)


def test_constants_and_wrt():
    r = _sym("r")
    res = symbolic(cone, wrt="h")
    assert list(res.derivatives) == ["h"]
    assert sympy.simplify(res.derivatives["h"] - sympy.pi * r**2 / 3) == 0
    assert res.function.has(sympy.pi) and res.function.has(sympy.Float(1.5))
    assert list(symbolic(cone, wrt=[1, "r"]).derivatives) == ["h", "r"]
    with pytest.raises(adc.ADCompileError, match="no input 'z'"):
        symbolic(cone, wrt="z")


def test_text_shows_function_then_cse_derivatives():
    text = symbolic(seeds.f).text()
    assert text.splitlines() == ["f(x1, x2) = x1*x2 + sin(x1)",
                                 "df/dx1 = x2 + cos(x1)", "df/dx2 = x1"]
    lines = symbolic(sines).text().splitlines()
    assert any(line.startswith("t0 = ") for line in lines)
    assert lines[-1].startswith("dsines/dg = ")


def test_cse_pulls_out_shared_factors():
    r = symbolic(sines)
    replacements, reduced = r.cse()
    assert replacements and len(reduced) == 6
    for (name, expr), short in zip(r.derivatives.items(), reduced):
        full = short.subs(list(reversed(replacements)))
        assert sympy.simplify(full - expr) == 0, name


def test_latex():
    tex = symbolic(seeds.f).latex()
    assert r"\frac{\partial f}{\partial x_{1}}" in tex
    assert r"\cos" in tex and r"\sin" in tex


def test_sizes_show_swell():
    sizes = symbolic(seeds.f).sizes()
    assert set(sizes) == {"symbolic_ops", "symbolic_nodes", "cse_ops", "cse_nodes",
                          "trace_ops", "ad_ops"}
    assert sizes["trace_ops"] == 3  # seed 001's trace: w1_1, w1_2, w2_1
    for f in (sines, swell):
        s = symbolic(f).sizes()
        assert s["cse_ops"] < s["symbolic_ops"] and s["cse_nodes"] < s["symbolic_nodes"]
        assert s["trace_ops"] < s["ad_ops"] < s["symbolic_nodes"]
    s = symbolic(swell).sizes()
    assert s["symbolic_nodes"] > 4 * s["ad_ops"]
    table = symbolic(swell).sizes_table()
    assert "symbolic derivatives" in table and "AD reverse-mode code" in table


@pytest.mark.parametrize("f, message", [
    (branch, "control flow"), (loop, "control flow"), (array_sum, "arrays"),
    (dot, "arrays"), (listed, "lists and tuples"), (pair, "one scalar output"),
    (opaque, "np.float32"),
])
def test_refused(f, message):
    with pytest.raises(adc.ADCompileError, match=message) as info:
        symbolic(f)
    assert "grad(f)" in str(info.value)


def test_import_does_not_load_sympy():
    code = "import sys, ad_compiler, ad_compiler.symbolic; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
