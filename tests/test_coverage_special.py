"""Elementwise functions of scipy.special, math and NumPy: values, derivatives of every
order the compiler builds, float32 and broadcasting.

Each case is a function of one array called the way people write it (``sc.expit(x)``,
``sc.beta(x, 1.7)``), with its derivative written out here by hand from the textbook
identities (``d gammaln = digamma``, ``i1' = i0 - i1/x``), never from the compiler's
own rules, which use other identities (``i1' = (i0 + iv(2, x))/2``).  The checks, one
parametrised test each, run on ``loss(x) = np.sum(fn(x) * W)`` with fixed weights `W`:
the value equals the library's; the reverse gradient equals central differences and
the hand-written derivative; forward mode equals reverse mode; the forward and
reverse Jacobians of ``fn(x) * W`` agree; the Hessian (forward over reverse) equals
central differences of the reverse gradient; float32 in gives NumPy's dtype out.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy
import scipy.special as sc
from scipy import special
from support import TESTS, load_fixture, numeric_grad

import ad_compiler as adc
from ad_compiler.export import export
from ad_compiler.rules_special import SPECIAL_PRIMITIVES

ROOT = TESTS.parent

SQRT_PI = math.sqrt(math.pi)
SQRT_2PI = math.sqrt(2 * math.pi)


# ------------------------------------------------------------------ the user's functions
# (module functions: the compiler reads their source; each calls the library as written)

def beta_a(x):
    return sc.beta(x, 1.7)


def beta_b(x):
    return special.beta(0.8, x)


def betaln_a(x):
    return sc.betaln(x, 2.5)


def betaln_b(x):
    return sc.betaln(1.2, x)


def polygamma_2(x):
    return sc.polygamma(2, x)


def xlogy_x(x):
    return sc.xlogy(x, 2.5)


def xlogy_y(x):
    return sc.xlogy(1.5, x)


def xlog1py_x(x):
    return sc.xlog1py(x, 0.5)


def xlog1py_y(x):
    return sc.xlog1py(1.5, x)


def gammainc_x(x):
    return sc.gammainc(1.5, x)


def gammaincc_x(x):
    return scipy.special.gammaincc(2.5, x)


def iv_order(x):
    return sc.iv(2.5, x)


def ive_order(x):
    return sc.ive(1.5, x)


def jv_order(x):
    return sc.jv(2.5, x)


def yv_order(x):
    return sc.yv(1.5, x)


def zeta_q(x):
    return sc.zeta(3.0, x)


def fmod_x(x):
    return np.fmod(x, 0.7)


def fmod_y(x):
    return np.fmod(2.3, x)


def mod_x(x):
    return np.mod(x, 0.7)


def remainder_y(x):
    return np.remainder(2.3, x)


def copysign_x(x):
    return np.copysign(x, SIGNS)


def copysign_y(x):
    return np.copysign(1.5, x)


def nan_to_num_kw(x):
    return np.nan_to_num(np.log(x), nan=0.0, neginf=-5.0)


def hypot_x(x):
    return np.hypot(x, 0.8)


def arctan2_y(x):
    return np.arctan2(0.6, x)


# ------------------------------------------------------------------ hand-written derivatives

def _ratio_at_zero(num: Callable, x: np.ndarray, limit: float) -> np.ndarray:
    """num(x) / x, and its limit where x is 0."""
    safe = np.where(x == 0, 1.0, x)
    return np.where(x == 0, limit, num(safe) / safe)


def d_i1(x):
    return sc.i0(x) - _ratio_at_zero(sc.i1, x, 0.5)


def d_i1e(x):
    return sc.i0e(x) - _ratio_at_zero(sc.i1e, x, 0.5) - np.sign(x) * sc.i1e(x)


def d_j1(x):
    return sc.j0(x) - _ratio_at_zero(sc.j1, x, 0.5)


def d_sinc(x):
    return _ratio_at_zero(lambda s: np.cos(np.pi * s) - np.sinc(s), x, 0.0)


def d_gammainc(a):
    return lambda x: x ** (a - 1) * np.exp(-x) / sc.gamma(a)


def d_iv(v):  # I_v' = I_{v-1} - v I_v / x
    return lambda x: sc.iv(v - 1, x) - v * sc.iv(v, x) / x


def d_jv(v):
    return lambda x: sc.jv(v - 1, x) - v * sc.jv(v, x) / x


def d_yv(v):
    return lambda x: sc.yv(v - 1, x) - v * sc.yv(v, x) / x


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable  # elementwise, of one array
    points: tuple[float, ...]
    slope: Callable  # its derivative, by hand
    float32: bool = True  # the library keeps float32
    hessian: bool = True


WIDE = (-2.3, -0.7, 0.0, 0.4, 1.9, 3.1)
POSITIVE = (0.15, 0.8, 1.0, 2.5, 7.0)
SIGNS = np.array([1.0, -1.0, -0.0, 2.0, -3.0, 1.0])[:5]

CASES = [
    Case("sc.expit", sc.expit, (-30.0, -2.0, -0.3, 0.0, 0.5, 3.0, 25.0),
         lambda x: sc.expit(x) * sc.expit(-x)),
    Case("sc.logit", sc.logit, (0.01, 0.2, 0.5, 0.9, 0.999), lambda x: 1 / x + 1 / (1 - x)),
    Case("sc.erf", sc.erf, WIDE, lambda x: 2 / SQRT_PI * np.exp(-x * x)),
    Case("sc.erfc", sc.erfc, WIDE, lambda x: -2 / SQRT_PI * np.exp(-x * x)),
    Case("sc.erfinv", sc.erfinv, (-0.99, -0.5, 0.0, 0.3, 0.9),
         lambda x: SQRT_PI / 2 * np.exp(sc.erfinv(x) ** 2)),
    Case("sc.erfcinv", sc.erfcinv, (0.01, 0.5, 1.0, 1.5, 1.99),
         lambda x: -SQRT_PI / 2 * np.exp(sc.erfcinv(x) ** 2)),
    Case("sc.gamma", sc.gamma, (-2.5, -0.5, 0.3, 1.0, 2.5, 6.0),
         lambda x: sc.gamma(x) * sc.digamma(x)),
    Case("sc.gammaln", sc.gammaln, (-2.5, -0.5, 0.3, 1.0, 2.5, 30.0), sc.digamma),
    Case("sc.digamma", sc.digamma, (-0.5, 0.3, 1.0, 2.5, 10.0), lambda x: sc.polygamma(1, x)),
    Case("sc.psi", sc.psi, (0.3, 1.0, 2.5), lambda x: sc.polygamma(1, x)),
    Case("sc.polygamma(2, x)", polygamma_2, (0.3, 1.0, 2.5, 6.0), lambda x: sc.polygamma(3, x),
         float32=False),
    Case("sc.beta(x, 1.7)", beta_a, (0.3, 1.0, 2.5),
         lambda x: sc.beta(x, 1.7) * (sc.digamma(x) - sc.digamma(x + 1.7))),
    Case("special.beta(0.8, x)", beta_b, (0.3, 1.0, 2.5),
         lambda x: sc.beta(0.8, x) * (sc.digamma(x) - sc.digamma(x + 0.8))),
    Case("sc.betaln(x, 2.5)", betaln_a, (0.3, 1.0, 4.5),
         lambda x: sc.digamma(x) - sc.digamma(x + 2.5)),
    Case("sc.betaln(1.2, x)", betaln_b, (0.3, 1.0, 4.5),
         lambda x: sc.digamma(x) - sc.digamma(x + 1.2)),
    Case("sc.xlogy(x, 2.5)", xlogy_x, WIDE, lambda x: np.log(2.5) + 0 * x),
    Case("sc.xlogy(1.5, x)", xlogy_y, POSITIVE, lambda x: 1.5 / x),
    Case("sc.xlog1py(x, 0.5)", xlog1py_x, WIDE, lambda x: np.log1p(0.5) + 0 * x),
    Case("sc.xlog1py(1.5, x)", xlog1py_y, (-0.6, 0.0, 0.8, 3.0), lambda x: 1.5 / (1 + x)),
    Case("sc.entr", sc.entr, (0.1, 0.5, 1.0, 3.0), lambda x: -np.log(x) - 1),
    Case("sc.ndtr", sc.ndtr, WIDE, lambda x: np.exp(-x * x / 2) / SQRT_2PI),
    # far in the lower tail pdf/cdf underflows to 0/0; -x is its asymptote there
    Case("sc.log_ndtr", sc.log_ndtr, (-30.0, -5.0, -1.0, 0.0, 2.0, 8.0),
         lambda x: np.exp(-x * x / 2 - sc.log_ndtr(x)) / SQRT_2PI),
    Case("sc.ndtri", sc.ndtri, (0.001, 0.1, 0.5, 0.8, 0.999),
         lambda x: SQRT_2PI * np.exp(sc.ndtri(x) ** 2 / 2)),
    Case("sc.i0", sc.i0, WIDE, sc.i1),
    Case("sc.i1", sc.i1, WIDE, d_i1),
    Case("sc.i0e", sc.i0e, (-2.3, -0.7, 0.4, 1.9, 3.1), lambda x: sc.i1e(x) - np.sign(x) * sc.i0e(x)),
    Case("sc.i1e", sc.i1e, (-2.3, -0.7, 0.4, 1.9, 3.1), d_i1e),
    Case("sc.j0", sc.j0, WIDE, lambda x: -sc.j1(x)),
    Case("sc.j1", sc.j1, WIDE, d_j1),
    Case("sc.y0", sc.y0, POSITIVE, lambda x: -sc.y1(x)),
    Case("sc.y1", sc.y1, POSITIVE, lambda x: sc.y0(x) - sc.y1(x) / x),
    Case("sc.iv(2.5, x)", iv_order, POSITIVE, d_iv(2.5)),
    Case("sc.ive(1.5, x)", ive_order, POSITIVE, lambda x: d_iv(1.5)(x) * np.exp(-x)
         - sc.ive(1.5, x)),
    Case("sc.jv(2.5, x)", jv_order, POSITIVE, d_jv(2.5)),
    Case("sc.yv(1.5, x)", yv_order, POSITIVE, d_yv(1.5)),
    Case("sc.gammainc(1.5, x)", gammainc_x, POSITIVE, d_gammainc(1.5)),
    Case("sc.gammaincc(2.5, x)", gammaincc_x, POSITIVE, lambda x: -d_gammainc(2.5)(x)),
    Case("sc.zeta(3.0, x)", zeta_q, POSITIVE, lambda x: -3 * sc.zeta(4.0, x)),
    Case("np.sinc", np.sinc, (-1.3, -1e-5, 0.0, 2e-4, 1e-3, 0.5, 2.0), d_sinc),
    Case("np.fmod(x, 0.7)", fmod_x, (-2.3, -0.9, 0.4, 1.9, 3.1), lambda x: 1 + 0 * x),
    Case("np.fmod(2.3, x)", fmod_y, (-2.0, -0.9, 0.4, 1.9, 3.1), lambda x: -np.trunc(2.3 / x)),
    Case("np.mod(x, 0.7)", mod_x, (-2.3, -0.9, 0.4, 1.9, 3.1), lambda x: 1 + 0 * x),
    Case("np.remainder(2.3, x)", remainder_y, (-2.0, -0.9, 0.4, 1.9, 3.1),
         lambda x: -np.floor(2.3 / x)),
    Case("np.copysign(x, s)", copysign_x, (-2.3, -0.7, 0.4, 1.9, 3.1),
         lambda x: np.sign(x) * np.copysign(1.0, SIGNS)),
    Case("np.copysign(1.5, x)", copysign_y, (-2.3, -0.7, 0.4, 1.9, 3.1), lambda x: 0 * x),
    Case("np.real", np.real, WIDE, lambda x: 1 + 0 * x),
    Case("np.conj", np.conj, WIDE, lambda x: 1 + 0 * x),
    Case("np.conjugate", np.conjugate, WIDE, lambda x: 1 + 0 * x),
    Case("np.imag", np.imag, WIDE, lambda x: 0 * x),
    Case("np.hypot(x, 0.8)", hypot_x, WIDE, lambda x: x / np.hypot(x, 0.8)),
    Case("np.arctan2(0.6, x)", arctan2_y, WIDE, lambda x: -0.6 / (x * x + 0.36)),
    # 1 where finite; here log(x) is finite wherever its own derivative is
    Case("np.nan_to_num(np.log(x), nan=0.0, neginf=-5.0)", nan_to_num_kw, POSITIVE,
         lambda x: 1 / x),
]
IDS = [c.id for c in CASES]


def weights(n: int) -> np.ndarray:
    return np.linspace(0.5, 1.7, n) * np.where(np.arange(n) % 2, -1.0, 1.0)


def points(case: Case, dtype: Any = np.float64) -> np.ndarray:
    return np.array(case.points, dtype=dtype)


def loss_of(fn: Callable, w: np.ndarray) -> Callable:
    def loss(x):
        return np.sum(fn(x) * w)
    return loss


def vector_of(fn: Callable, w: np.ndarray) -> Callable:
    def vector(x):
        return fn(x) * w
    return vector


def richardson_jacobian(g: Callable, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """d g / d x by central differences with a step relative to each x, extrapolated
    (error O(h**4))."""
    columns = []
    for j in range(len(x)):
        step = h * max(1.0, abs(x[j])) * min(1.0, 0.1 + abs(x[j]))
        def diff(s, j=j):
            hi, lo = x.copy(), x.copy()
            hi[j] += s
            lo[j] -= s
            return (g(hi) - g(lo)) / (2 * s)
        columns.append((4 * diff(step / 2) - diff(step)) / 3)
    return np.stack(columns, axis=-1)


def _close(got: Any, want: Any, rtol: float) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=rtol, atol=rtol)


# ------------------------------------------------------------------ the checks

@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_value_equals_the_library_and_gradient_the_hand_written_derivative(case):
    x = points(case)
    loss = loss_of(case.fn, weights(len(x)))
    value, gradient = adc.value_and_grad(loss)(x)
    assert value == loss(x)
    _close(gradient, case.slope(x) * weights(len(x)), 1e-9)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reverse_gradient_equals_central_differences(case):
    x = points(case)
    loss = loss_of(case.fn, weights(len(x)))
    gradient = adc.grad(loss)(x)
    _close(gradient, numeric_grad(loss, [x], 0, eps=1e-6), 2e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_mode_equals_reverse_mode(case):
    x = points(case)
    loss = loss_of(case.fn, weights(len(x)))
    _close(adc.grad(loss, mode="forward")(x), adc.grad(loss)(x), 1e-12)
    w = weights(len(x))
    value, tangent = adc.jvp(vector_of(case.fn, w), (x,), (np.ones_like(x),))
    assert np.array_equal(value, case.fn(x) * w)
    _close(tangent, case.slope(x) * w, 1e-9)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_and_reverse_jacobians_agree(case):
    x = points(case)
    vector = vector_of(case.fn, weights(len(x)))
    forward = adc.jacobian(vector, mode="forward")(x)
    reverse = adc.jacobian(vector, mode="reverse")(x)
    _close(forward, reverse, 1e-12)
    _close(reverse, np.diag(case.slope(x) * weights(len(x))), 1e-9)


@pytest.mark.parametrize("case", [c for c in CASES if c.hessian], ids=lambda c: c.id)
def test_hessian_equals_central_differences_of_the_gradient(case):
    x = points(case)
    loss = loss_of(case.fn, weights(len(x)))
    gradient = adc.grad(loss)
    hessian = adc.hessian(loss)(x)
    _close(hessian, richardson_jacobian(gradient, x), 1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if c.float32], ids=lambda c: c.id)
def test_float32_in_gives_the_library_s_dtype_and_value(case):
    x = points(case, np.float32)
    loss = loss_of(case.fn, weights(len(x)).astype(np.float32))
    value, gradient = adc.value_and_grad(loss)(x)
    expected = loss(x)
    assert value.dtype == expected.dtype  # SciPy's binary functions of a float give float64
    assert value == expected
    assert gradient.dtype == np.float32
    _close(gradient, case.slope(x.astype(float)) * weights(len(x)), 2e-3)


def test_every_function_declared_has_a_case():
    """A primitive this coverage adds is called by some case (or the math tests)."""
    called = {c.id.split("(")[0].split(".")[-1] for c in CASES} | set(MATH_NAMES)
    internal = {"sinc_slope", "sinc_curve", "real_one", "ftrunc"}
    renamed = {"gammaln": "lgamma", "conj": "conjugate"}
    for name in SPECIAL_PRIMITIVES - internal:
        assert name in called or renamed.get(name) in called, name


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


def uses_logsumexp(x):
    y = x * 2.0
    return sc.logsumexp(y) + 1.0


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
    """sc.logsumexp is not inlined from SciPy's source (whose internals the user never
    wrote): the error names the call as written, with the three ways out."""
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(uses_logsumexp)
    error = info.value
    assert error.lineno == uses_logsumexp.__code__.co_firstlineno + 2
    assert error.filename == __file__
    assert error.what.startswith("sc.logsumexp(y) has no derivative rule")
    assert "adc.defpartials(sc.logsumexp" in error.hint
    assert "sc.logsumexp(adc.stop_gradient(y))" in error.hint
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
