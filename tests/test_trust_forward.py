"""Forward mode: inputs that carry no tangent have no tangent term at all, and the
exponent's term of ``x ** k`` exists only where the exponent moves.

Every derivative is checked against central differences or a hand-written formula.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from support import load_fixture, numeric_grad

import ad_compiler as adc
from ad_compiler.build import derivative

T = load_fixture("forward_trust")
X = np.array([1.0, 2.0, 4.0, -0.5])
RNG = np.random.default_rng(7)


def directional(f, primals, tangents, i_moving, eps=1e-6):
    """d/dh f(primals + h * tangents) at 0, moving only the inputs in `i_moving`."""
    def at(h):
        args = [p + h * t if i in i_moving else p
                for i, (p, t) in enumerate(zip(primals, tangents))]
        return f(*args)
    return (np.asarray(at(eps)) - np.asarray(at(-eps))) / (2 * eps)


# ------------------------------------------------------------------ the active set

def test_int_exponent_has_no_tangent_term():
    xdot = np.array([0.3, -1.0, 0.5, 2.0])
    for k in (2, 3, 4):
        value, tangent = adc.jvp(T.skew, (X, k), (xdot, 0))
        assert value == pytest.approx(T.skew(X, k), rel=1e-15)
        assert np.isfinite(tangent)
        assert tangent == pytest.approx(directional(T.skew, (X, k), (xdot, 0), {0}), rel=1e-7)
        # hand-written: d mean(c^k) = mean(k c^(k-1) (xdot - mean xdot))
        c = X - X.mean()
        hand = np.mean(k * c ** (k - 1) * (xdot - xdot.mean()))
        assert tangent == pytest.approx(hand, rel=1e-12)
    source = derivative(T.skew, "jvp", (0,), "forward").source
    assert "k_dot" not in source and "log" not in source


def test_jvp_agrees_with_reverse_mode_with_an_int_input():
    """The dot-product test <ybar, J xdot> = <J^T ybar, xdot> with k an int."""
    for _ in range(3):
        xdot = RNG.normal(size=4)
        _, tangent = adc.jvp(T.skew, (X, 3), (xdot, 0))
        g = adc.grad(T.skew, wrt=0)(X, 3)
        assert tangent == pytest.approx(float(g @ xdot), rel=1e-12)


def test_none_tangent_means_no_tangent():
    """A float input with tangent None is left out: no nan from log(negative base)."""
    value, tangent = adc.jvp(T.power, (-2.0, 3.0), (1.0, None))
    assert (value, tangent) == (-8.0, pytest.approx(12.0, rel=1e-15))
    assert "k_dot" not in derivative(T.power, "jvp", (0,), "forward").source
    value, tangent = adc.jvp(T.power, (-2.0, 3.0), (None, None))
    assert value == -8.0 and tangent == 0.0


def test_integer_and_bool_inputs_with_zero_tangents():
    x = np.array([0.4, -1.1, 2.0])
    w = np.array([3, -1, 2])
    xdot = np.array([1.0, 0.5, -2.0])
    for n in (1, 2, 3):
        value, tangent = adc.jvp(T.weighted, (x, w, n), (xdot, np.zeros(3, dtype=int), 0))
        assert value == pytest.approx(T.weighted(x, w, n), rel=1e-14)
        hand = sum(np.sum(w * n * np.sin(x) ** (n - 1) * np.cos(x) * xdot) / (i + 1)
                   for i in range(n))
        assert tangent == pytest.approx(hand, rel=1e-12)
    source = derivative(T.weighted, "jvp", (0,), "forward").source
    assert "w_dot" not in source and "n_dot" not in source
    for negate in (False, True):
        value, tangent = adc.jvp(T.flagged, (1.5, negate), (2.0, False))
        sign = -1.0 if negate else 1.0
        assert (value, tangent) == (T.flagged(1.5, negate), pytest.approx(sign * 3 * 1.5 ** 2 * 2.0))
        assert "negate_dot" not in derivative(T.flagged, "jvp", (0,), "forward").source


def test_int_with_a_nonzero_tangent_is_differentiated():
    """f(3) with tangent 1.0 is the derivative at 3: an int point is not dropped."""
    assert adc.jvp(T.square, (3,), (1.0,)) == (9, 6.0)
    value, tangent = adc.jvp(T.power, (2.0, 3), (0.0, 1.0))  # d/dk 2**k = 2**k log 2
    assert tangent == pytest.approx(8.0 * math.log(2.0), rel=1e-15)


def test_nothing_carries_a_tangent():
    assert adc.jvp(T.counts, (3, 4), (0, 0)) == (13, 0.0)
    value, tangent = adc.jvp(T.pair, (X, 2), (None, 0))
    assert np.array_equal(value[0], X ** 2) and np.array_equal(value[1], 2 * X)
    assert [np.shape(t) for t in tangent] == [X.shape, X.shape]
    assert all(np.all(t == 0) for t in tangent)


def test_tuple_output_with_an_int_input():
    xdot = RNG.normal(size=4)
    value, (t_moment, t_mean) = adc.jvp(T.stats, (X, 3), (xdot, 0))
    assert value == pytest.approx(T.stats(X, 3), rel=1e-14)
    assert t_moment == pytest.approx(directional(lambda x, k: T.stats(x, k)[0], (X, 3),
                                                 (xdot, 0), {0}), rel=1e-7)
    assert t_mean == pytest.approx(np.mean(xdot), rel=1e-14)


def test_defaults_carry_no_tangent():
    x = np.array([0.1, -0.3])
    xdot = np.array([1.0, 2.0])
    value, tangent = adc.jvp(T.scaled, (x,), (xdot,))
    assert value == pytest.approx(T.scaled(x), rel=1e-15)
    assert tangent == pytest.approx(float(np.sum(2 * np.exp(x) * xdot)), rel=1e-14)


def test_each_active_set_is_built_once():
    a = derivative(T.power, "jvp", (0,), "forward")
    assert derivative(T.power, "jvp", (0,), "forward") is a
    b = derivative(T.power, "jvp", (1,), "forward")
    assert b is not a and "x_dot" not in b.source and "k_dot" in b.source
    every = derivative(T.power, "jvp", 0, "forward")
    assert "x_dot" in every.source and "k_dot" in every.source
    # both active: the call shares the every-parameter build
    assert adc.jvp(T.power, (2.0, 3.0), (1.0, 1.0))[1] == pytest.approx(
        12.0 + 8.0 * math.log(2.0), rel=1e-15)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_grad_with_int_parameters(mode):
    for k in (2, 3):
        g = adc.grad(T.skew, wrt=0, mode=mode)(X, k)
        assert np.all(np.isfinite(g))
        assert g == pytest.approx(numeric_grad(T.skew, [X, k], 0), rel=1e-7, abs=1e-9)
        value, g2 = adc.value_and_grad(T.skew, wrt=0, mode=mode)(X, k)
        assert value == pytest.approx(T.skew(X, k), rel=1e-15)
        assert np.array_equal(g, g2)
    x, w = np.array([0.4, -1.1, 2.0]), np.array([3, -1, 2])
    g = adc.grad(T.weighted, wrt=0, mode=mode)(x, w, 3)
    assert g == pytest.approx(numeric_grad(T.weighted, [x, w, 3], 0), rel=1e-7)
    assert adc.grad(T.flagged, mode=mode)(1.5, True) == pytest.approx(-3 * 1.5 ** 2)


# ------------------------------------------------------------------ x ** k, k differentiated

@pytest.mark.parametrize("f", [T.power, T.np_power, T.math_pow])
def test_exponent_term_vanishes_where_the_exponent_does_not_move(f):
    """At a negative base with an integral float exponent, d/dx exists, d/dk does not."""
    for x, k in ((-2.0, 3.0), (-1.5, 2.0), (-0.7, 4.0)):
        value, tangent = adc.jvp(f, (x, k), (1.0, 0.0))
        assert value == f(x, k)
        assert tangent == pytest.approx(k * x ** (k - 1), rel=1e-15)
        _, tangent = adc.jvp(f, (x, k), (1.0, 1.0))
        assert math.isnan(tangent)  # the derivative in k does not exist there
        for mode in ("reverse", "forward"):
            gx, gk = adc.grad(f, wrt=(0, 1), mode=mode)(x, k)
            assert gx == pytest.approx(k * x ** (k - 1), rel=1e-15) and math.isnan(gk)
            assert adc.grad(f, wrt=0, mode=mode)(x, k) == pytest.approx(k * x ** (k - 1))


def test_math_pow_exponent():
    x, k = 1.7, 2.5
    for mode in ("reverse", "forward"):
        gx, gk = adc.grad(T.math_pow, wrt=(0, 1), mode=mode)(x, k)
        assert gx == pytest.approx(numeric_grad(T.math_pow, [x, k], 0), rel=1e-8)
        assert gk == pytest.approx(x ** k * math.log(x), rel=1e-14)
    assert adc.jvp(T.math_pow, (x, k), (0.5, -1.0))[1] == pytest.approx(
        0.5 * k * x ** (k - 1) - x ** k * math.log(x), rel=1e-14)


def test_exponent_derivative_at_a_positive_base_and_its_hessian():
    for x, k in ((1.7, 2.5), (0.3, -1.2), (4.0, 0.5)):
        for mode in ("reverse", "forward"):
            gx, gk = adc.grad(T.power, wrt=(0, 1), mode=mode)(x, k)
            assert gx == pytest.approx(numeric_grad(T.power, [x, k], 0), rel=1e-8)
            assert gk == pytest.approx(numeric_grad(T.power, [x, k], 1), rel=1e-8)
        # d2/dk2 x**k = x**k log(x)**2, by forward over reverse
        h = adc.jvp(adc.grad(T.power, wrt=1), (x, k), (0.0, 1.0))[1]
        assert h == pytest.approx(x ** k * math.log(x) ** 2, rel=1e-12)


def test_zero_base():
    """0 ** k is 0 for every k > 0: its derivative in k is 0 (not 0 * log 0 = nan)."""
    assert numeric_grad(T.power, [0.0, 2.5], 1) == 0.0
    for mode in ("reverse", "forward"):
        assert adc.grad(T.power, wrt=1, mode=mode)(0.0, 2.5) == 0.0
    assert adc.jvp(T.power, (0.0, 2.5), (0.0, 1.0))[1] == 0.0


def test_negative_constant_base():
    assert adc.jvp(T.negative_base, (3.0,), (0.0,))[1] == 0.0
    assert math.isnan(adc.grad(T.negative_base)(3.0))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_elementwise_jacobian_in_the_exponent(mode):
    """d (x_i ** k_i) / d k_j is 0 for i != j even where x_i < 0; nan on the diagonal
    only where the base is negative."""
    x = np.array([-2.0, 1.5, 0.0, 3.0])
    k = np.array([3.0, 2.0, 2.0, 0.5])
    jac = adc.jacobian(T.power, wrt=1, mode=mode)(x, k)
    expected = np.diag([math.nan, 1.5 ** 2 * math.log(1.5), 0.0, 3.0 ** 0.5 * math.log(3.0)])
    assert np.array_equal(np.isnan(jac), np.isnan(expected))
    assert jac[1:, 1:] == pytest.approx(expected[1:, 1:], rel=1e-14)
    assert np.all(jac[0, 1:] == 0) and np.all(jac[1:, 0] == 0)
    jx = adc.jacobian(T.power, wrt=0, mode=mode)(x, k)
    assert jx == pytest.approx(np.diag(k * x ** (k - 1)), rel=1e-14)
    # a broadcast scalar exponent: its adjoint sums the elements' terms
    gk = adc.grad(lambda_sum_power, wrt=1, mode=mode)(np.array([1.5, 2.0]), 2.0)
    assert gk == pytest.approx(numeric_grad(lambda_sum_power, [np.array([1.5, 2.0]), 2.0], 1),
                               rel=1e-8)


def lambda_sum_power(x, k):
    return np.sum(x ** k)


def test_jvp_with_an_array_tangent_partly_zero():
    x = np.array([-2.0, 1.5])
    k = np.array([3.0, 2.0])
    _, tangent = adc.jvp(T.power, (x, k), (np.ones(2), np.array([0.0, 1.0])))
    assert tangent == pytest.approx([3 * 4.0, 2 * 1.5 + 1.5 ** 2 * math.log(1.5)], rel=1e-14)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_matrix_input_beside_an_int_exponent(mode):
    A = np.array([[2.0, 0.5], [0.3, 1.0]])
    b = np.array([1.0, -2.0])  # the solution has a negative entry
    g = adc.grad(T.solved_moment, wrt=0, mode=mode)(A, b, 3)
    assert np.all(np.isfinite(g))
    assert g == pytest.approx(numeric_grad(T.solved_moment, [A, b, 3], 0), rel=1e-7)
