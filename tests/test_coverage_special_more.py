"""Elementwise functions of scipy.special, math and NumPy, continued: math functions of
numbers, broadcasting, np.nan_to_num, math.prod and math.dist, how generated code
spells scipy.special, what is refused, and the points where a function has no
derivative.  The references are written by hand or are central differences, as in
test_coverage_special.py, whose table and helpers this module shares."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
import scipy.special as sc
from support import TESTS, load_fixture, numeric_grad
from test_coverage_special import CASES, Case, _close, d_gammainc

import ad_compiler as adc
from ad_compiler.export import export
from ad_compiler.registry.special import SPECIAL_PRIMITIVES

ROOT = TESTS.parent


# ------------------------------------------------------------------ math, on numbers

def math_lgamma(x):
    return math.lgamma(x)


def math_gamma(x):
    return math.gamma(x)


def math_fmod_x(x):
    return math.fmod(x, 0.7)


def math_fmod_y(x):
    return math.fmod(2.3, x)


def math_copysign_x(x):
    return math.copysign(x, -1.0)


def math_copysign_y(x):
    return math.copysign(1.5, x) * x


MATH_CASES = [
    Case("math.lgamma", math_lgamma, (-2.5, -0.5, 0.3, 1.0, 2.5, 30.0), sc.digamma),
    Case("math.gamma", math_gamma, (-2.5, -0.5, 0.3, 1.0, 2.5, 6.0),
         lambda x: sc.gamma(x) * sc.digamma(x)),
    Case("math.fmod(x, 0.7)", math_fmod_x, (-2.3, -0.9, 0.4, 1.9), lambda x: 1.0),
    Case("math.fmod(2.3, x)", math_fmod_y, (-2.0, -0.9, 0.4, 1.9), lambda x: -math.trunc(2.3 / x)),
    Case("math.copysign(x, -1.0)", math_copysign_x, (-2.3, -0.7, 0.4, 1.9),
         lambda x: -math.copysign(1.0, x)),
    Case("math.copysign(1.5, x) * x", math_copysign_y, (-2.3, -0.7, 0.4, 1.9),
         lambda x: math.copysign(1.5, x)),
]
MATH_NAMES = [c.id.split("(")[0].split(".")[1] for c in MATH_CASES]


def central(f: Callable, x: float, h: float = 1e-5) -> float:
    def diff(s):
        return (f(x + s) - f(x - s)) / (2 * s)
    step = h * max(1.0, abs(x))
    return (4 * diff(step / 2) - diff(step)) / 3


@pytest.mark.parametrize("case", MATH_CASES, ids=lambda c: c.id)
def test_math_functions_of_numbers(case):
    reverse, forward = adc.value_and_grad(case.fn), adc.grad(case.fn, mode="forward")
    second = adc.grad(adc.grad(case.fn))
    for x in case.points:
        value, slope = reverse(x)
        assert value == case.fn(x) and type(slope) in (float, np.float64)
        assert slope == pytest.approx(case.slope(x), rel=1e-10, abs=1e-12)
        assert slope == pytest.approx(central(case.fn, x), rel=1e-7, abs=1e-9)
        assert forward(x) == pytest.approx(slope, rel=1e-13, abs=1e-15)
        assert second(x) == pytest.approx(central(lambda v: reverse(v)[1], x), rel=1e-6,
                                          abs=1e-8)
        assert adc.hessian(case.fn)(x) == pytest.approx(second(x), rel=1e-12, abs=1e-14)


# ------------------------------------------------------------------ broadcasting

W34 = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.75, -0.5, 1.0], [-2.0, 1.25, 0.5, -0.75]])


def broadcast_loss(fn: Callable) -> Callable:
    def loss(a, b):
        return np.sum(fn(a[:, None], b[None, :]) * W34)
    return loss


BROADCAST = [
    ("sc.beta", sc.beta, (0.4, 1.1, 2.6), (0.3, 0.9, 1.7, 3.2)),
    ("sc.betaln", sc.betaln, (0.4, 1.1, 2.6), (0.3, 0.9, 1.7, 3.2)),
    ("sc.xlogy", sc.xlogy, (-0.4, 1.1, 2.6), (0.3, 0.9, 1.7, 3.2)),
    ("sc.xlog1py", sc.xlog1py, (-0.4, 1.1, 2.6), (-0.3, 0.9, 1.7, 3.2)),
    ("np.fmod", np.fmod, (-2.3, 1.1, 2.6), (0.7, -0.9, 1.7, 3.2)),
    ("np.mod", np.mod, (-2.3, 1.1, 2.6), (0.7, -0.9, 1.7, 3.2)),
    ("np.copysign", np.copysign, (-2.3, 1.1, 2.6), (0.7, -0.9, 1.7, -3.2)),
]


@pytest.mark.parametrize("name, fn, a, b", BROADCAST, ids=[row[0] for row in BROADCAST])
def test_binary_functions_broadcast(name, fn, a, b):
    loss = broadcast_loss(fn)
    a, b = np.array(a), np.array(b)
    value, (a_bar, b_bar) = adc.value_and_grad(loss, wrt=(0, 1))(a, b)
    assert value == loss(a, b)
    assert a_bar.shape == a.shape and b_bar.shape == b.shape
    _close(a_bar, numeric_grad(loss, [a, b], 0), 2e-6)
    _close(b_bar, numeric_grad(loss, [a, b], 1), 2e-6)
    forward = adc.grad(loss, wrt=(0, 1), mode="forward")(a, b)
    _close(forward[0], a_bar, 1e-12)
    _close(forward[1], b_bar, 1e-12)


def gammainc_broadcast(x):
    return np.sum(sc.gammainc(np.array([[0.5], [1.0], [2.5]]), x) * W34)


def test_gammainc_broadcasts_its_shape_parameter_against_x():
    x = np.array([0.3, 0.9, 1.7, 3.2])
    gradient = adc.grad(gammainc_broadcast)(x)
    _close(gradient, numeric_grad(gammainc_broadcast, [x], 0), 2e-6)
    by_hand = sum(d_gammainc(a)(x) * W34[k] for k, a in enumerate((0.5, 1.0, 2.5)))
    _close(gradient, by_hand, 1e-10)


# ------------------------------------------------------------------ np.nan_to_num

def nan_to_num_plain(x):
    return np.sum(np.nan_to_num(x) * W4)


def nan_to_num_keywords(x):
    return np.sum(np.nan_to_num(x * 2.0, nan=1.5, posinf=7.0, neginf=-7.0) * W4)


W4 = np.array([1.0, -2.0, 0.5, 3.0])


@pytest.mark.parametrize("fn, scale", [(nan_to_num_plain, 1.0), (nan_to_num_keywords, 2.0)])
def test_nan_to_num_has_slope_one_where_finite_and_zero_where_replaced(fn, scale):
    """Its derivative is 1 where x is finite and 0 where a value is replaced."""
    x = np.array([0.5, np.nan, np.inf, -1.25])
    value, gradient = adc.value_and_grad(fn)(x)
    assert value == fn(x)
    expected = np.array([scale, 0.0, 0.0, scale]) * W4
    assert np.array_equal(gradient, expected)
    assert np.array_equal(adc.grad(fn, mode="forward")(x), expected)
    assert np.array_equal(adc.hessian(fn)(x), np.zeros((4, 4)))
    x32 = x.astype(np.float32)
    value32, gradient32 = adc.value_and_grad(fn)(x32)
    assert value32 == fn(x32) and value32.dtype == fn(x32).dtype
    assert gradient32.dtype == np.float32


# ------------------------------------------------------------------ spellings, export

SPELLINGS = load_fixture("special_spellings")
PACKAGE = load_fixture("special_package")


@pytest.mark.parametrize("name, x", [("from_import", 2.5), ("package_path", np.array(
    [0.4, 1.3, 6.0])), ("math_lgamma", 1.7)])
def test_derivative_code_names_scipy_special_as_the_module_can(name, x):
    f = getattr(PACKAGE if name == "package_path" else SPELLINGS, name)
    source = adc.grad(f).source
    if name == "package_path":
        assert "scipy.special.psi(" in source  # `import scipy`: the full path
    else:
        assert "import scipy.special as special" in source and "special.psi(" in source
    gradient = adc.grad(f)(x)
    _close(gradient, numeric_grad(f, [x], 0), 2e-6)
    text = export(f, [adc.grad(f)])
    namespace: dict = {}
    exec(compile(text, "<exported>", "exec"), namespace)
    _close(namespace[f"{name}_grad"](x), gradient, 1e-15)


def test_import_ad_compiler_does_not_import_scipy():
    code = "import sys, ad_compiler; print('scipy' in sys.modules, 'sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert out.split() == ["False", "False"]


# ------------------------------------------------------------------ refused, at the line

def gammainc_in_a(a, x):
    return sc.gammainc(a, x) * 2.0


def polygamma_in_n(n, x):
    return sc.polygamma(n, x)


def real_of(z):
    return np.real(z) * 2.0


def imag_of(z):
    return np.imag(z) * 2.0


def uses_multigammaln(x):
    y = x * 2.0
    return sc.multigammaln(y, 3) + 1.0


def logsumexp_of_a_constant(x):
    return x * sc.logsumexp(W4)


@pytest.mark.parametrize("fn, wrt, param, line", [
    (gammainc_in_a, 0, "a", "return sc.gammainc(a, x) * 2.0"),
    (polygamma_in_n, 0, "n", "return sc.polygamma(n, x)"),
])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_derivative_in_an_order_or_shape_parameter_is_refused_at_the_line(fn, wrt, param,
                                                                          line, mode):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn, wrt=wrt, mode=mode)
    assert info.value.lineno == fn.__code__.co_firstlineno + 1
    assert f"no derivative with respect to '{param}'" in info.value.what
    assert line in str(info.value) and "adc.stop_gradient" in str(info.value)
    # with respect to x alone it differentiates
    point = (1.5, 0.8) if fn is gammainc_in_a else (2, 0.8)
    assert adc.grad(fn, wrt=1, mode=mode)(*point) == pytest.approx(
        numeric_grad(fn, list(point), 1), rel=1e-6)


@pytest.mark.parametrize("fn", [real_of, imag_of])
def test_real_and_imag_of_a_complex_number_are_refused(fn):
    assert adc.grad(fn)(1.5) == pytest.approx(2.0 if fn is real_of else 0.0)
    with pytest.raises(TypeError, match="complex"):
        adc.grad(fn)(1.5 + 0.5j)


def test_a_scipy_function_without_a_rule_is_refused_at_the_user_s_call():
    """sc.multigammaln is not inlined from SciPy's source (whose internals the user never
    wrote): the error names the call as written, with the three ways out (not a ufunc:
    adc.defvjp/defjvp, never defpartials, which would treat it as elementwise)."""
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(uses_multigammaln)
    error = info.value
    assert error.lineno == uses_multigammaln.__code__.co_firstlineno + 2
    assert error.filename == __file__
    assert error.what.startswith("sc.multigammaln(y, 3) has no derivative rule")
    assert "adc.defvjp(sc.multigammaln" in error.hint and "adc.defpartials(sc." not in error.hint
    assert "sc.multigammaln(adc.stop_gradient(y), 3)" in error.hint
    assert "array_namespace" not in str(error)


def test_a_library_function_of_constants_is_called_as_it_is():
    x = 0.75
    assert adc.grad(logsumexp_of_a_constant)(x) == pytest.approx(sc.logsumexp(W4), rel=1e-15)


# ------------------------------------------------------------------ math.prod

def prod_of_list(xs):
    return math.prod(xs) * 2.0


def prod_of_display(a, b):
    return math.prod([a, b, a + 1.0]) - b


@pytest.mark.parametrize("xs", [[1.5, -0.5, 2.0], [1.5, 0.0, 2.0], [0.0, 3.0, 0.0], [2, 3]])
def test_math_prod_of_a_list_is_exact_at_zeros(xs):
    """Each partial is the product of the other items (not y / x, which is nan at 0)."""
    value, gradient = adc.value_and_grad(prod_of_list)(xs)
    assert value == prod_of_list(xs) and type(value) is type(prod_of_list(xs))
    expected = [2.0 * math.prod(xs[:k] + xs[k + 1:]) for k in range(len(xs))]
    assert isinstance(gradient, list) and gradient == pytest.approx(expected, rel=1e-15)
    assert adc.grad(prod_of_list, mode="forward")(xs) == pytest.approx(expected, rel=1e-15)
    _close(adc.jacobian(prod_of_list, mode="forward")(xs),
           adc.jacobian(prod_of_list, mode="reverse")(xs), 1e-15)


def test_math_prod_of_a_display_and_its_second_derivative():
    a, b = 1.5, 2.0
    value, (a_bar, b_bar) = adc.value_and_grad(prod_of_display, wrt=(0, 1))(a, b)
    assert value == prod_of_display(a, b)
    assert (a_bar, b_bar) == pytest.approx((b * (2 * a + 1), a * (a + 1) - 1), rel=1e-15)
    assert adc.hessian(prod_of_display, wrt=0)(a, b) == pytest.approx(2 * b, rel=1e-15)
    assert adc.grad(prod_of_display, wrt=(0, 1), mode="forward")(a, b) == pytest.approx(
        (a_bar, b_bar), rel=1e-15)


# ------------------------------------------------------------------ math.dist

def dist_of_lists(p, q):
    return math.dist(p, q) * 2.0


def dist_of_numbers(a, b):
    return math.dist([a, b], [1.0, -0.5])


def test_math_dist_of_two_lists():
    p, q = [0.5, 2.0, -1.0], [1.5, 0.25, 0.5]
    value, (p_bar, q_bar) = adc.value_and_grad(dist_of_lists, wrt=(0, 1))(p, q)
    assert value == dist_of_lists(p, q)
    difference = np.subtract(p, q)
    expected = 2.0 * difference / math.sqrt(np.sum(difference ** 2))
    assert p_bar == pytest.approx(list(expected), rel=1e-14)
    assert q_bar == pytest.approx(list(-expected), rel=1e-14)
    assert p_bar == pytest.approx(numeric_grad(dist_of_lists, [p, q], 0), rel=1e-7)
    forward = adc.grad(dist_of_lists, wrt=(0, 1), mode="forward")(p, q)
    assert forward[0] == pytest.approx(p_bar, rel=1e-14)
    assert forward[1] == pytest.approx(q_bar, rel=1e-14)


def test_math_dist_at_equal_points_gives_the_zero_subgradient():
    """The distance has no derivative where p == q: both gradients are 0 there."""
    p = [0.5, 2.0]
    assert adc.grad(dist_of_lists, wrt=(0, 1))(p, list(p)) == ([0.0, 0.0], [0.0, 0.0])


def test_math_dist_second_derivative():
    a, b = 0.3, 0.7
    value, gradient = adc.value_and_grad(dist_of_numbers, wrt=(0, 1))(a, b)
    r = math.hypot(a - 1.0, b + 0.5)
    assert value == dist_of_numbers(a, b)
    assert gradient == pytest.approx(((a - 1.0) / r, (b + 0.5) / r), rel=1e-14)
    assert adc.hessian(dist_of_numbers, wrt=0)(a, b) == pytest.approx((b + 0.5) ** 2 / r ** 3,
                                                                      rel=1e-13)
    assert adc.hessian(dist_of_numbers, wrt=1)(a, b) == pytest.approx((a - 1.0) ** 2 / r ** 3,
                                                                      rel=1e-13)


# ------------------------------------------------------------------ math.hypot, any count

PARTICLE_MASS = 1.7


def kinetic_energy(vx, vy, vz):
    return 0.5 * PARTICLE_MASS * math.hypot(vx, vy, vz) ** 2 + math.hypot(vx) * 0.1


def norm_of_four(a, b, c, d):
    return math.hypot(a, 2.0 * b, c * d, 1.5)


def test_math_hypot_of_three_coordinates_against_differences_and_by_hand():
    v = (0.3, -0.4, 1.2)
    value, gradient = adc.value_and_grad(kinetic_energy, wrt=(0, 1, 2))(*v)
    assert value == kinetic_energy(*v)
    by_hand = (PARTICLE_MASS * v[0] + 0.1 * math.copysign(1.0, v[0]),
               PARTICLE_MASS * v[1], PARTICLE_MASS * v[2])
    assert gradient == pytest.approx(by_hand, rel=1e-13)
    for k in range(3):
        assert gradient[k] == pytest.approx(numeric_grad(kinetic_energy, list(v), k), rel=1e-7)
    forward = adc.grad(kinetic_energy, wrt=(0, 1, 2), mode="forward")(*v)
    assert forward == pytest.approx(gradient, rel=1e-14)


def test_math_hypot_of_four_second_derivatives():
    point = [0.7, -0.2, 1.1, 0.4]
    r = norm_of_four(*point)
    for k in range(4):
        g = adc.grad(norm_of_four, wrt=k)(*point)
        assert g == pytest.approx(numeric_grad(norm_of_four, point, k), rel=1e-7)
    # d2r/da2 = (r^2 - a^2) / r^3
    assert adc.hessian(norm_of_four, wrt=0)(*point) == pytest.approx(
        (r ** 2 - point[0] ** 2) / r ** 3, rel=1e-12)
    twice = adc.grad(adc.grad(norm_of_four, wrt=0), wrt=0)(*point)
    assert twice == pytest.approx((r ** 2 - point[0] ** 2) / r ** 3, rel=1e-12)


def test_math_hypot_at_the_origin_gives_the_zero_subgradient():
    assert adc.grad(kinetic_energy, wrt=(1, 2))(0.0, 0.0, 0.0) == (0.0, 0.0)
    assert adc.grad(kinetic_energy, wrt=(1, 2), mode="forward")(0.0, 0.0, 0.0) == (0.0, 0.0)


def test_math_hypot_prints_as_written():
    text = adc.source(norm_of_four)
    assert "math.hypot(a, 2.0 * b, c * d, 1.5)" in text


def test_a_derivative_needing_scipy_without_scipy_is_a_located_error(monkeypatch):
    """d math.lgamma = digamma, which only SciPy has: without SciPy the derivative is
    refused at the user's line, saying what to install."""
    monkeypatch.setitem(sys.modules, "scipy.special", None)  # `import scipy.special` fails
    f = SPELLINGS.lgamma_only
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(f)
    assert info.value.lineno == f.__code__.co_firstlineno + 1
    assert "scipy.special.digamma" in info.value.what and "pip install scipy" in info.value.what


# ------------------------------------------------------------------ at the awkward points

def sinc_sum(x):
    return np.sum(np.sinc(x))


def i0e_sum(x):
    return np.sum(sc.i0e(x))


def test_sinc_at_zero_has_slope_zero_and_curvature_minus_pi_squared_over_three():
    x = np.array([0.0, 1e-9, -1e-9])
    assert np.array_equal(adc.grad(sinc_sum)(x)[:1], [0.0])
    _close(adc.grad(sinc_sum)(x), -np.pi ** 2 / 3 * x, 1e-15)
    _close(np.diag(adc.hessian(sinc_sum)(x)), [-np.pi ** 2 / 3] * 3, 1e-12)


def test_i0e_at_its_kink_has_slope_zero_as_abs_does():
    """exp(-|x|) I0(x) has slopes -1 and 1 either side of 0; as for abs, 0 is given."""
    assert adc.grad(i0e_sum)(np.array([0.0])) == pytest.approx([0.0], abs=0)
    assert adc.grad(i0e_sum)(np.array([1e-12])) == pytest.approx([-1.0], rel=1e-9)


def mod_of_a_list(xs):
    return np.sum(np.mod(xs, 0.7) * W4[:2])


def test_np_mod_of_a_list_is_numpy_s_not_python_s_percent():
    """np.mod takes a list; `xs % 0.7` would not."""
    xs = [1.0, -2.0]
    value, gradient = adc.value_and_grad(mod_of_a_list)(xs)
    assert value == mod_of_a_list(xs) and gradient == list(W4[:2])


def test_every_function_declared_has_a_case():
    """A primitive this coverage adds is called by some case (or the math tests)."""
    called = {c.id.split("(")[0].split(".")[-1] for c in CASES} | set(MATH_NAMES)
    internal = {"sinc_slope", "sinc_curve", "real_one", "ftrunc", "fmax_first", "fmin_first"}
    renamed = {"gammaln": "lgamma", "conj": "conjugate"}
    for name in SPECIAL_PRIMITIVES - internal:
        assert name in called or renamed.get(name) in called, name


def riemann_zeta_of_a_constant(x):
    return x * sc.zeta(3.0)


def riemann_zeta_of_x(x):
    return sc.zeta(x) * 2.0


def test_sc_zeta_with_one_argument_is_a_call_refused_only_where_it_varies():
    """zeta(s) is Riemann's: no rule (zeta(s, q) has one, in q), but a constant is fine."""
    assert adc.grad(riemann_zeta_of_a_constant)(0.5) == sc.zeta(3.0)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(riemann_zeta_of_x)
    assert info.value.lineno == riemann_zeta_of_x.__code__.co_firstlineno + 1
    assert info.value.what.startswith("sc.zeta(x) has no derivative rule with 1 argument")
