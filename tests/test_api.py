"""The public API, checked against hand-written derivatives and central differences."""
from __future__ import annotations

import ast
import gc
import linecache
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import load_fixture

import ad_compiler as adc
from ad_compiler import build, cache, frontend

FIXTURES = Path(__file__).parent / "fixtures"


F = load_fixture("api_funcs")
AL = load_fixture("aliased")
BARE = load_fixture("bare_sin")


def central(f, args, i, h=1e-6):
    """d f / d args[i] by central differences."""
    hi, lo = list(args), list(args)
    hi[i] += h
    lo[i] -= h
    return (f(*hi) - f(*lo)) / (2 * h)


def approx(x):
    return pytest.approx(x, rel=1e-9, abs=1e-12)


# ------------------------------------------------------------------ hand-written derivatives


def df_f(x1, x2):
    return (x2 + math.cos(x1), x1)


def df_three(a, b, c):
    return (b * b + math.exp(c), 2 * a * b, math.exp(c) * a)


def df_poly(x, y):  # f = x (y+1)^2 - y/x
    return ((y + 1) ** 2 + y / x ** 2, 2 * x * (y + 1) - 1 / x)


# ------------------------------------------------------------------ wrt forms


@pytest.mark.parametrize("mode", ["reverse", "forward"])
class TestWrt:
    def test_default_is_first_argument(self, mode):
        assert adc.grad(F.f, mode=mode)(0.7, 1.3) == approx(df_f(0.7, 1.3)[0])

    @pytest.mark.parametrize("wrt,k", [(0, 0), (1, 1), (2, 2), (-1, 2), (-2, 1), (-3, 0)])
    def test_index_and_negative_index(self, mode, wrt, k):
        args = (0.3, -1.1, 0.4)
        assert adc.grad(F.three, wrt=wrt, mode=mode)(*args) == approx(df_three(*args)[k])

    @pytest.mark.parametrize("name,k", [("a", 0), ("b", 1), ("c", 2)])
    def test_name(self, mode, name, k):
        args = (0.3, -1.1, 0.4)
        assert adc.grad(F.three, wrt=name, mode=mode)(*args) == approx(df_three(*args)[k])

    def test_tuple_of_mixed_forms_keeps_the_order_given(self, mode):
        args = (0.3, -1.1, 0.4)
        exact = df_three(*args)
        out = adc.grad(F.three, wrt=("c", 0, -2), mode=mode)(*args)
        assert isinstance(out, tuple) and len(out) == 3
        assert out == approx((exact[2], exact[0], exact[1]))

    def test_one_element_tuple_gives_a_tuple(self, mode):
        out = adc.grad(F.f, wrt=("x2",), mode=mode)(0.7, 1.3)
        assert isinstance(out, tuple) and out == approx((0.7,))

    def test_single_name_gives_a_scalar_not_a_tuple(self, mode):
        out = adc.grad(F.f, wrt="x2", mode=mode)(0.7, 1.3)
        assert not isinstance(out, tuple) and out == approx(0.7)

    def test_against_central_differences(self, mode):
        args = [0.8, 0.45]
        out = adc.grad(F.poly, wrt=(0, 1), mode=mode)(*args)
        for i in range(2):
            assert out[i] == pytest.approx(central(F.poly, args, i), rel=1e-6)
        assert out == approx(df_poly(*args))


# ------------------------------------------------------------------ decorators


def test_bare_decorator():
    @adc.grad
    def d(x):
        return x ** 3 + math.sin(x)

    assert d(0.5) == approx(3 * 0.25 + math.cos(0.5))


def test_decorator_with_empty_parentheses():
    @adc.grad()
    def d(x, y):
        return x * y * y

    assert d(2.0, 3.0) == approx(9.0)


def test_parametrised_decorator():
    @adc.grad(wrt=("x", "y"), mode="forward")
    def d(x, y):
        return x * y * y + math.exp(x)

    assert d(0.5, 3.0) == approx((9.0 + math.exp(0.5), 2 * 0.5 * 3.0))


def test_decorator_spread_over_several_lines():
    @adc.grad(
        wrt="y",
        mode="forward",
    )
    def d(x, y):
        return x * y * y

    assert d(2.0, 3.0) == approx(12.0)


def test_parametrised_value_and_grad_decorator():
    @adc.value_and_grad(wrt="y")
    def vg(x, y):
        return x * y * y

    assert vg(2.0, 3.0) == approx((18.0, 12.0))


def test_plain_call_form():
    assert adc.grad(F.f, 1)(0.7, 1.3) == approx(0.7)
    assert adc.grad(F.f, "x1", "forward")(0.7, 1.3) == approx(df_f(0.7, 1.3)[0])


# ------------------------------------------------------------------ modes agree


FORWARD_REVERSE = [
    (F.f, (0.7, 1.3)),
    (F.f, (-2.0, 0.1)),
    (F.three, (0.3, -1.1, 0.4)),
    (F.poly, (0.8, 0.45)),
    (F.mixed, (1.2, -0.7)),
    (AL.two_args, (0.6, 1.7)),
]


@pytest.mark.parametrize("fn,args", FORWARD_REVERSE)
def test_forward_equals_reverse(fn, args):
    wrt = tuple(range(len(args)))
    rev = adc.grad(fn, wrt=wrt, mode="reverse")(*args)
    fwd = adc.grad(fn, wrt=wrt, mode="forward")(*args)
    assert fwd == pytest.approx(rev, rel=1e-12)
    for i in range(len(args)):
        assert rev[i] == pytest.approx(central(fn, list(args), i), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_value_and_grad(mode):
    value, grads = adc.value_and_grad(F.three, wrt=(2, "a"), mode=mode)(0.3, -1.1, 0.4)
    assert value == approx(F.three(0.3, -1.1, 0.4))
    exact = df_three(0.3, -1.1, 0.4)
    assert grads == approx((exact[2], exact[0]))
    value, g = adc.value_and_grad(F.f, mode=mode)(0.7, 1.3)
    assert (value, g) == approx((F.f(0.7, 1.3), df_f(0.7, 1.3)[0]))


# ------------------------------------------------------------------ jvp / vjp


def test_jvp_scalar_output():
    value, tangent = adc.jvp(F.f, (0.7, 1.3), (0.25, -2.0))
    assert value == approx(F.f(0.7, 1.3))
    d1, d2 = df_f(0.7, 1.3)
    assert tangent == approx(0.25 * d1 - 2.0 * d2)


def test_jvp_tuple_output():
    x, y = 0.6, 1.4
    value, tangent = adc.jvp(F.pair, (x, y), (1.0, 3.0))
    assert value == approx((x * y, x + math.sin(y)))
    # J = [[y, x], [1, cos y]]
    assert tangent == approx((y * 1.0 + x * 3.0, 1.0 + math.cos(y) * 3.0))


def test_vjp_scalar_output_pullback_gives_one_cotangent_per_input():
    value, pullback = adc.vjp(F.f, 0.7, 1.3)
    assert value == approx(F.f(0.7, 1.3))
    ct = pullback(2.0)
    assert isinstance(ct, tuple) and len(ct) == 2
    assert ct == approx(tuple(2.0 * d for d in df_f(0.7, 1.3)))
    assert pullback(1.0) == approx(df_f(0.7, 1.3))  # the pullback can be called again


def test_vjp_single_input_still_returns_a_tuple():
    value, pullback = adc.vjp(F.gauss, 0.5)
    ct = pullback(1.0)
    assert isinstance(ct, tuple) and len(ct) == 1
    assert ct[0] == approx(-2 * 0.5 * math.exp(-0.25))


def test_vjp_tuple_output_pullback_takes_a_tuple():
    x, y = 0.6, 1.4
    value, pullback = adc.vjp(F.pair, x, y)
    assert value == approx((x * y, x + math.sin(y)))
    xbar, ybar = pullback((2.0, -1.0))
    # J^T ybar with J = [[y, x], [1, cos y]]
    assert (xbar, ybar) == approx((2.0 * y - 1.0, 2.0 * x - math.cos(y)))


def test_dot_product_jvp_vjp():
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = tuple(rng.normal(size=2))
        xdot = tuple(rng.normal(size=2))
        ybar = tuple(rng.normal(size=2))
        _, tangent = adc.jvp(F.pair, x, xdot)
        _, pullback = adc.vjp(F.pair, *x)
        cot = pullback(ybar)
        assert np.dot(ybar, tangent) == pytest.approx(np.dot(cot, xdot), rel=1e-12)


def test_jvp_length_mismatch():
    with pytest.raises(ValueError):
        adc.jvp(F.f, (0.7, 1.3), (1.0,))


# ------------------------------------------------------------------ defaults


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_default_argument_is_used(mode):
    # f(x, y=3) = x y + x^3
    assert adc.grad(F.with_default, mode=mode)(2.0) == approx(3.0 + 12.0)
    assert adc.grad(F.with_default, mode=mode)(2.0, 5.0) == approx(5.0 + 12.0)
    assert adc.grad(F.with_default, wrt="y", mode=mode)(2.0) == approx(2.0)
    value, g = adc.value_and_grad(F.with_default, mode=mode)(2.0)
    assert (value, g) == approx((6.0 + 8.0, 15.0))


def test_several_defaults():
    # x y z + z^2 with y=2, z=5
    d = adc.grad(F.two_defaults, wrt=("x", "y", "z"))
    assert d(1.5) == approx((10.0, 7.5, 3.0 + 10.0))
    assert d(1.5, 4.0) == approx((20.0, 7.5, 6.0 + 10.0))


def test_default_written_as_an_expression_of_a_global():
    assert adc.grad(F.default_from_global)(1.0) == approx(4.0)


# ------------------------------------------------------------------ aliases


def test_aliases_resolved_by_identity_keep_the_user_spelling():
    d = adc.grad(AL.mixed)
    x = 0.9
    assert d(x) == approx(math.exp(x) * math.sin(x) + math.exp(x) * math.cos(x) - math.sin(x))
    assert "xp." in d.source and "s(" in d.source
    for forbidden in ("np.", "numpy."):
        assert forbidden not in d.source
    dfwd = adc.grad(AL.mixed, mode="forward")
    assert dfwd(x) == approx(d(x))
    assert "xp." in dfwd.source


def test_numpy_alias_only():
    d = adc.grad(AL.np_only)
    x = 1.7
    t = math.tanh(x)
    assert d(x) == approx((1 - t * t) * math.log(x) + t / x)
    assert "xp." in d.source and "np." not in d.source
    xs = np.array([0.5, 1.0, 2.0])
    assert np.allclose(d(xs), (1 - np.tanh(xs) ** 2) * np.log(xs) + np.tanh(xs) / xs)


def test_two_argument_alias_rules():
    d = adc.grad(AL.two_args, wrt=(0, 1))
    x, y = 0.6, 1.7
    r2 = x * x + y * y
    assert d(x, y) == approx((-y / r2 + y * math.cos(x * y), x / r2 + x * math.cos(x * y)))
    assert "m." in d.source or "s(" in d.source


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_helper_the_user_did_not_import(mode):
    # bare_sin only does `from math import sin`, and binds `math` to a string
    d = adc.grad(BARE.f, mode=mode)
    x = 0.8
    assert d(x) == approx(math.sin(x) + x * math.cos(x))
    assert "sin(" in d.source
    g = adc.grad(BARE.g, mode=mode)
    assert g(1.3) == approx(math.cos(math.log(1.3)) / 1.3 + math.exp(1.3))
    assert "nexp(" in g.source


def test_derivatives_take_keyword_arguments_like_the_original():
    x1, x2 = 0.7, 1.3
    assert adc.grad(F.f)(x2=x2, x1=x1) == approx(x2 + math.cos(x1))
    assert adc.grad(F.f, mode="forward")(x1, x2=x2) == approx(x2 + math.cos(x1))
    assert adc.value_and_grad(F.with_default)(x=2.0, y=5.0) == approx((18.0, 17.0))
    assert adc.grad(BARE.f)(x=0.8) == approx(math.sin(0.8) + 0.8 * math.cos(0.8))


def test_parameter_named_like_the_helper_alias():
    x = 0.5
    d = adc.grad(BARE.param_clash)
    assert d(x) == approx(math.sin(x) + x * math.cos(x))
    assert d(math_=x) == approx(math.sin(x) + x * math.cos(x))


# ------------------------------------------------------------------ globals and closures


def test_globals_are_read_at_call_time(monkeypatch):
    d = adc.grad(F.scaled)
    assert d(3.0) == approx(2 * 2.0 * 3.0)
    monkeypatch.setattr(F, "scale", 5.0)
    assert F.scaled(3.0) == approx(45.0)  # the original sees the new value ...
    assert d(3.0) == approx(2 * 5.0 * 3.0)  # ... and so does its derivative
    assert adc.grad(F.scaled, mode="forward")(3.0) == approx(30.0)


def test_closures_from_the_same_code_keep_their_own_cells():
    h2, h3 = F.make_scaled(2.0), F.make_scaled(3.0)
    assert h2.__code__ is h3.__code__
    x = 0.5
    assert adc.grad(h2)(x) == approx(2.0 * math.cos(x))
    assert adc.grad(h3)(x) == approx(3.0 * math.cos(x))
    assert adc.grad(h2)(x) == approx(2.0 * math.cos(x))  # still its own after h3
    l2, l3 = F.make_lambda(2.0), F.make_lambda(3.0)
    assert (adc.grad(l2)(1.5), adc.grad(l3)(1.5)) == approx((6.0, 9.0))


def test_nonlocal_rebinding_is_seen_at_call_time():
    h, set_k = F.make_counter()
    d = adc.grad(h)
    assert d(2.0) == approx(4.0)
    set_k(10.0)
    assert h(2.0) == approx(40.0)
    assert d(2.0) == approx(40.0)
    assert adc.grad(h, mode="forward")(2.0) == approx(40.0)


def test_closures_capturing_different_functions():
    hs, hc = F.make_applier(math.sin), F.make_applier(math.cos)
    x = 0.5
    assert adc.grad(hs)(x) == approx(2.0 * math.cos(x))
    assert adc.grad(hc)(x) == approx(-2.0 * math.sin(x))


# ------------------------------------------------------------------ lambdas


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_two_lambdas_on_one_line(mode):
    x = 1.7
    assert adc.grad(F.sq, mode=mode)(x) == approx(2 * x)
    assert adc.grad(F.cube, mode=mode)(x) == approx(3 * x * x)
    assert adc.grad(F.lin2, mode=mode)(x) == approx(4.0 * x)
    assert adc.grad(F.lin3, mode=mode)(x) == approx(9.0 * x * x)
    assert adc.grad(F.ident, mode=mode)(x) == approx(1.0)
    assert adc.grad(F.negate, mode=mode)(x) == approx(-1.0)
    first, second = F.pair_of_lambdas
    assert adc.grad(first, mode=mode)(x) == approx(math.cos(x))
    assert adc.grad(second, mode=mode)(x) == approx(math.cos(x) - x * math.sin(x))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_closures_made_by_lambdas_on_one_line_are_told_apart(mode):
    """Lambdas on one line that read a closure variable: on Python 3.10, whose code has
    no columns, each is found by compiling it in its place (alone it would read a global)."""
    x, k = 0.7, 3.0
    square, sine = F.lambdas_over(k)
    assert adc.grad(square, mode=mode)(x) == approx(2 * k * x)
    assert adc.grad(sine, mode=mode)(x) == approx(k * math.cos(x))
    assert adc.grad(F.curried_cube(k), mode=mode)(x) == approx(3 * k * x * x)


def test_each_lambda_on_a_line_compiles_in_its_place_to_its_own_code():
    """How Python 3.10, without columns, tells lambdas on one line apart; checked on
    every Python against the text of the lambda each function was made from."""
    k = 3.0
    square, sine = F.lambdas_over(k)
    cases = [(square, "lambda x: k * x * x"), (sine, "lambda x: k * math.sin(x)"),
             (F.curried_cube, "lambda k: lambda x: k * x ** 3"),
             (F.curried_cube(k), "lambda x: k * x ** 3"),
             (F.lin2, "lambda x: 2.0 * x * x"), (F.lin3, "lambda x: 3.0 * x * x * x"),
             (F.pair_of_lambdas[1], "lambda y: math.cos(y) * y")]
    for fn, expected in cases:
        code = fn.__code__
        text = "".join(linecache.getlines(code.co_filename))
        tree = ast.parse(text)
        lambdas = [n for n in ast.walk(tree)
                   if isinstance(n, ast.Lambda) and n.lineno == code.co_firstlineno]
        assert len(lambdas) == 2
        found = frontend._lambda_compiled_as(code.co_filename, tree, lambdas, code)
        assert found is not None and ast.get_source_segment(text, found) == expected


# ------------------------------------------------------------------ IPython cells


def _ipython_cell(monkeypatch, name: str, src: str) -> dict:
    monkeypatch.setitem(linecache.cache, name, (len(src), None, src.splitlines(True), name))
    namespace = {"__name__": "__main__"}
    exec(compile(src, name, "exec"), namespace)
    return namespace


def test_code_typed_in_ipython(monkeypatch):
    ns = _ipython_cell(monkeypatch, "<ipython-input-1-abc>", (
        "import math\n"
        "def cell(x, y):\n"
        "    z = x * math.exp(y)\n"
        "    return z * z\n"
        "sq, cu = (lambda t: t * t * 3.0), (lambda t: t ** 3)\n"
    ))
    x, y = 0.3, 0.4
    d = adc.grad(ns["cell"], wrt=(0, 1))
    e2 = math.exp(2 * y)
    assert d(x, y) == approx((2 * x * e2, 2 * x * x * e2))
    assert "def " in d.source
    assert adc.grad(ns["sq"])(2.0) == approx(12.0)
    assert adc.grad(ns["cu"])(2.0) == approx(12.0)


# ------------------------------------------------------------------ caching


def _spy_build(monkeypatch) -> list:
    calls = []
    real = build._build

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "_build", spy)
    return calls


def test_grad_twice_does_not_transform_twice(monkeypatch):
    ns = _ipython_cell(monkeypatch, "<ipython-input-2-cache>",
                       "def f(x):\n    return x * x * x\n")
    calls = _spy_build(monkeypatch)
    gc.collect()  # entries die with their code objects; keep other tests' garbage out
    gc.disable()
    try:
        size = cache.size()
        d1 = adc.grad(ns["f"])
        d2 = adc.grad(ns["f"])
        grew = cache.size() - size
    finally:
        gc.enable()
    assert len(calls) == 1
    assert grew == 1
    assert d1(2.0) == d2(2.0) == approx(12.0)
    adc.grad(ns["f"], mode="forward")  # other options: a new transform
    assert len(calls) == 2


def test_redefined_function_is_transformed_again(monkeypatch):
    # (bodies unique to this test: code objects compare by value)
    ns = _ipython_cell(monkeypatch, "<ipython-input-3-old>", "def f(x):\n    return x * x * 0.5\n")
    calls = _spy_build(monkeypatch)
    assert adc.grad(ns["f"])(3.0) == approx(3.0)
    ns2 = _ipython_cell(monkeypatch, "<ipython-input-4-new>",
                        "def f(x):\n    return x * x * x * 0.25\n")
    assert adc.grad(ns2["f"])(3.0) == approx(6.75)
    assert len(calls) == 2
    # the same file name with new text (a module edited and reloaded)
    ns3 = _ipython_cell(monkeypatch, "<ipython-input-4-new>", "def f(x):\n    return 5.5 * x\n")
    assert adc.grad(ns3["f"])(3.0) == approx(5.5)
    assert len(calls) == 3


def test_equal_code_in_two_cells_with_different_callees(monkeypatch):
    src = "def f(x):\n    return act(x) * x\n"
    a = _ipython_cell(monkeypatch, "<ipython-input-5-sin>", "act = None\n" + src)
    b = _ipython_cell(monkeypatch, "<ipython-input-6-cos>", "act = None\n" + src)
    a["act"], b["act"] = math.sin, math.cos
    x = 0.5
    assert adc.grad(a["f"])(x) == approx(math.sin(x) + x * math.cos(x))
    assert adc.grad(b["f"])(x) == approx(math.cos(x) - x * math.sin(x))


def test_grad_twice_returns_the_same_object():
    assert adc.grad(F.cube_sin) is adc.grad(F.cube_sin)


# ------------------------------------------------------------------ higher order


def test_second_derivative_of_cube_sin():
    x = 1.3
    exact = 6 * x * math.sin(x) + 6 * x * x * math.cos(x) - x ** 3 * math.sin(x)
    for outer in ("reverse", "forward"):
        for inner in ("reverse", "forward"):
            dd = adc.grad(adc.grad(F.cube_sin, mode=inner), mode=outer)
            assert dd(x) == approx(exact), (inner, outer)


def test_second_and_third_derivatives_of_gaussian():
    x = 0.6
    g = math.exp(-x * x)
    d2 = adc.grad(adc.grad(F.gauss))
    d3 = adc.grad(d2)
    assert d2(x) == approx((4 * x * x - 2) * g)
    assert d3(x) == approx((-8 * x ** 3 + 12 * x) * g)


def test_mixed_second_partial():
    x1, x2 = 0.7, 1.3
    exact = 1 + 2 * x2 * math.cos(x1)
    assert adc.grad(adc.grad(F.mixed, wrt=0), wrt=1)(x1, x2) == approx(exact)
    assert adc.grad(adc.grad(F.mixed, wrt="x1"), wrt="x2", mode="forward")(x1, x2) == approx(exact)
    # d2/dx1^2 = -sin(x1) x2^2
    assert adc.grad(adc.grad(F.mixed))(x1, x2) == approx(-math.sin(x1) * x2 * x2)


# ------------------------------------------------------------------ tuple outputs


@pytest.mark.parametrize("fn", [F.pair, F.single_tuple], ids=["pair", "single_tuple"])
@pytest.mark.parametrize("entry", [adc.grad, adc.value_and_grad])
def test_grad_of_tuple_output_points_to_vjp(fn, entry):
    with pytest.raises(adc.ADCompileError) as info:
        entry(fn)
    text = str(info.value)
    assert "vjp" in text or "jacobian" in text


# ------------------------------------------------------------------ check_grad, source, trace


@pytest.mark.parametrize("fn,args", FORWARD_REVERSE + [(AL.mixed, (0.9,)), (F.gauss, (0.3,))])
def test_check_grad_is_small_for_correct_functions(fn, args):
    assert 0.0 <= adc.check_grad(fn, *args) < 1e-6
    assert adc.check_grad(fn, *args, mode="forward") < 1e-6


def weighted_energy(x, *springs, scale=1.0):
    """A sum of spring energies with the stiffnesses passed as extra arguments."""
    energy = 0.5 * x * x
    for k in springs:
        energy = energy + 0.5 * k * (x - k) ** 2
    return energy * scale


@pytest.mark.parametrize("wrt", [None, 0, (0, 1), "scale", (0, 1, 2)])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_check_grad_moves_star_args_and_keyword_only_values_where_they_bind(wrt, mode):
    # *springs is one parameter (a tuple) and scale keyword-only: each number is moved
    # in its own place, not by its position in the call
    assert adc.check_grad(weighted_energy, 1.5, 2.0, 3.0, wrt=wrt, mode=mode) < 1e-6
    assert adc.check_grad(weighted_energy, -0.7, wrt=wrt if wrt != (0, 1) else 0,
                          mode=mode) < 1e-6


def test_source_function_matches_the_derivative_source():
    assert adc.source(F.f) == adc.grad(F.f).source
    assert adc.source(F.f, mode="forward", wrt=("x1", "x2")) == \
        adc.grad(F.f, wrt=("x1", "x2"), mode="forward").source
    assert "def " in adc.source(F.pair, kind="jvp")
    assert "def " in adc.source(F.pair, kind="vjp")
    assert adc.value_and_grad(F.f).source == adc.source(F.f, kind="value_and_grad")
    _, pullback = adc.vjp(F.f, 0.7, 1.3)
    assert pullback.source == adc.source(F.f, kind="vjp")


def test_trace_prints_levels_and_tabulates():
    tr = adc.trace(F.f)
    text = str(tr)
    for w in ("w0_1", "w0_2", "w1_1", "w1_2", "w2_1"):
        assert w in text
    assert repr(tr) == text
    x1, x2 = 0.7, 1.3
    table = tr.table(x1=x1, x2=x2)
    value, tangent, adjoint = (table.column(c) for c in ("value", "tangent", "adjoint"))
    assert value["w2_1"] == approx(F.f(x1, x2))
    assert value["w1_2"] == approx(math.sin(x1))
    assert adjoint["w0_1"] == approx(x2 + math.cos(x1))
    assert adjoint["w0_2"] == approx(x1)
    assert tangent["w2_1"] == approx(x2 + math.cos(x1))  # seeded on x1 by default
    seeded = tr.table(x1, x2, seed="x2")
    assert seeded.column("tangent")["w2_1"] == approx(x1)
    assert "d/dx2" in str(seeded)


# ------------------------------------------------------------------ import cost


def test_import_does_not_import_sympy():
    code = "import sys, ad_compiler; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
