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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy
import scipy.special as sc
from scipy import special
from support import TESTS, numeric_grad

import ad_compiler as adc

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


def fmax_x(x):
    return np.fmax(x, OTHER)


def fmax_y(x):
    return np.fmax(OTHER, x)


def fmin_x(x):
    return np.fmin(x, OTHER)


def heaviside_x(x):
    return np.heaviside(x, 0.5)


def heaviside_h(x):
    return np.heaviside(STEPS, x)


def float64_x(x):
    return np.float64(x)


def select_x(x):
    return np.select([x < -1, x > 1], [x ** 2, np.sin(x)], 3.0 * x)


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
OTHER = np.array([0.5, np.nan, -1.0, 2.0, np.nan, 0.0])  # beside WIDE: nan is ignored
STEPS = np.array([-1.0, 0.0, 2.0, 0.0, -0.0])  # beside POSITIVE: h where a step is 0

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
    # the operand fmax or fmin returns, a nan's other operand included
    Case("np.fmax(x, other)", fmax_x, WIDE, lambda x: np.array([0.0, 1, 1, 0, 1, 1])),
    Case("np.fmax(other, x)", fmax_y, WIDE, lambda x: np.array([0.0, 1, 1, 0, 1, 1])),
    Case("np.fmin(x, other)", fmin_x, WIDE, lambda x: np.array([1.0, 1, 0, 1, 1, 0])),
    Case("np.heaviside(x, 0.5)", heaviside_x, (-2.3, -0.7, 0.4, 1.9, 3.1), lambda x: 0 * x),
    Case("np.heaviside(steps, h)", heaviside_h, POSITIVE,
         lambda x: np.array([0.0, 1, 0, 1, 1])),
    Case("np.float64", float64_x, WIDE, lambda x: 1 + 0 * x, float32=False),
    Case("np.select", select_x, WIDE,
         lambda x: np.array([-4.6, 3.0, 3.0, 3.0, np.cos(1.9), np.cos(3.1)])),
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
