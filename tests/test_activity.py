"""Activity analysis: derivatives only of values that depend on a differentiated input
(varied) and reach the output (useful).

Checked two ways: the generated source has no tangent or adjoint of an input that is not
differentiated (no ``A_bar``, ``c_bar``, ``A_dot``), and the values equal central
differences and the derivatives taken with respect to every input.
"""
import re

import numpy as np
import pytest
from fixtures import activity as m
from support import jacobian_by_differences, numeric_grad

import ad_compiler as adc

RNG = np.random.default_rng(7)
N = 4
X = RNG.uniform(-1.0, 1.0, N)
A = RNG.normal(size=(N, N)) / 2
C = RNG.normal(size=N)


def _names(text):
    """The identifiers the generated code uses."""
    return set(re.findall(r"[A-Za-z_]\w*", text))


def test_vjp_with_respect_to_x_computes_no_adjoint_of_A_or_c():
    text = adc.source(m.layer, kind="vjp", wrt=(0,))
    assert "x_bar" in text
    assert not {"A_bar", "c_bar", "matmul_adjoint_a"} & _names(text), text
    full = adc.source(m.layer, kind="vjp")  # every input: all three adjoints
    assert "A_bar" in full and "c_bar" in full
    assert adc.source(m.layer, kind="vjp", wrt=0) == text  # as adc.vjp's wrt=0
    assert adc.source(m.layer, kind="vjp", wrt="x") == text


def test_vjp_with_respect_to_some_inputs_gives_their_cotangents_in_order():
    y, pullback = adc.vjp(m.layer, X, A, C, wrt=("c", "x"))
    _, pullback_all = adc.vjp(m.layer, X, A, C)
    ybar = RNG.normal(size=N)
    c_bar, x_bar = pullback(ybar)
    x_all, a_all, c_all = pullback_all(ybar)
    np.testing.assert_allclose(y, m.layer(X, A, C), rtol=1e-15)
    np.testing.assert_allclose(x_bar, x_all, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c_bar, c_all, rtol=1e-13, atol=1e-15)
    # ybar @ J against differences
    np.testing.assert_allclose(x_bar, ybar @ jacobian_by_differences(m.layer, (X, A, C), 0),
                               rtol=1e-7, atol=1e-9)
    (only_x,) = adc.vjp(m.layer, X, A, C, wrt=0)[1](ybar)
    np.testing.assert_allclose(only_x, x_all, rtol=1e-13, atol=1e-15)


def test_jvp_with_respect_to_x_carries_no_tangent_of_A_or_c():
    text = adc.source(m.layer, kind="jvp", wrt=(0,))
    assert "x_dot" in text
    assert not {"A_dot", "c_dot"} & _names(text), text
    v = RNG.normal(size=N)
    y, ydot = adc.jvp(m.layer, (X, A, C), (v, None, None))
    expected = jacobian_by_differences(m.layer, (X, A, C), 0) @ v
    np.testing.assert_allclose(ydot, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_with_respect_to_x_of_an_integer_matrix(mode):
    # an integer A cannot be differentiated: a Jacobian in x alone must not try
    a_int = np.array([[2, -1, 0, 1], [0, 3, 1, -2], [1, 1, -1, 0], [-2, 0, 1, 2]])
    jac = adc.jacobian(m.layer, mode=mode)(X, a_int, C)
    t = np.tanh(a_int @ X + C)
    by_hand = (1 - t ** 2)[:, None] * a_int * X[:, None] + np.diag(t)
    np.testing.assert_allclose(jac, by_hand, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("wrt", [0, 1, 2])
def test_jacobians_of_each_input_against_differences(mode, wrt):
    jac = adc.jacobian(m.layer, wrt=wrt, mode=mode)(X, A, C)
    np.testing.assert_allclose(jac, jacobian_by_differences(m.layer, (X, A, C), wrt),
                               rtol=1e-6, atol=1e-8)


def test_gradient_with_respect_to_x_has_no_adjoint_of_A_or_c():
    text = adc.source(m.layer_energy, wrt=0)
    assert not {"A_bar", "c_bar"} & _names(text), text
    g = adc.grad(m.layer_energy)(X, A, C)
    np.testing.assert_allclose(g, numeric_grad(m.layer_energy, [X, A, C], 0),
                               rtol=1e-6, atol=1e-8)


def test_hessian_with_respect_to_x_against_differences_of_the_gradient():
    h = adc.hessian(m.layer_energy)(X, A, C)
    gradient = adc.grad(m.layer_energy)
    expected = jacobian_by_differences(gradient, (X, A, C), 0)
    np.testing.assert_allclose(h, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-14)


def test_hessian_of_an_array_output_with_respect_to_x():
    h = adc.hessian(m.layer)(X, A, C)  # d2 y_i / dx dx, shape (N, N, N)
    for i in range(N):
        def y_i_gradient(x, A, c, i=i):
            return adc.vjp(m.layer, x, A, c, wrt=0)[1](np.eye(N)[i])[0]
        expected = jacobian_by_differences(y_i_gradient, (X, A, C), 0)
        np.testing.assert_allclose(h[i], expected, rtol=1e-6, atol=1e-8)


def test_loop_jacobian_in_the_initial_state_only():
    W = RNG.normal(size=(N, N)) / 2
    b = RNG.normal(size=N)
    h0 = RNG.normal(size=N)
    text = adc.source(m.rollout, kind="vjp", wrt=(0,))
    assert not {"W_bar", "b_bar", "matmul_adjoint_a"} & _names(text), text
    assert not {"W_dot", "b_dot"} & _names(adc.source(m.rollout, kind="jvp", wrt=(0,)))
    expected = jacobian_by_differences(m.rollout, (h0, W, b), 0)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(adc.jacobian(m.rollout, mode=mode)(h0, W, b), expected,
                                   rtol=1e-6, atol=1e-8)


def test_a_loop_whose_result_never_reaches_the_output_is_not_taped():
    x = RNG.uniform(-1.0, 1.0, 5)
    text = adc.source(m.smoothed, kind="vjp", wrt=(0,))
    assert not {"stack", "roughness_bar"} & _names(text), text
    assert "roughness" not in _names(adc.source(m.smoothed, kind="jvp", wrt=(0,)))
    ybar = RNG.normal(size=5)
    (x_bar,) = adc.vjp(m.smoothed, x, 0.7, wrt=0)[1](ybar)
    expected = ybar @ jacobian_by_differences(m.smoothed, (x, 0.7), 0)
    np.testing.assert_allclose(x_bar, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("stretched", [True, False])
def test_branches_with_respect_to_the_position_only(stretched):
    x = np.array([0.9, -1.2, 0.4]) * (1.5 if stretched else 0.5)
    rest = 1.0
    assert (np.linalg.norm(x) > rest) == stretched  # a point on each side of the branch
    text = adc.source(m.spring_force, kind="vjp", wrt=(0,))
    assert not {"k_bar", "rest_bar"} & _names(text), text
    expected = jacobian_by_differences(m.spring_force, (x, 2.5, rest), 0)
    for mode in ("forward", "reverse"):
        jac = adc.jacobian(m.spring_force, mode=mode)(x, 2.5, rest)
        np.testing.assert_allclose(jac, expected, rtol=1e-6, atol=1e-8)


def test_list_output_in_the_initial_amount_only():
    rates = [0.3, 1.1, 0.05]
    text = adc.source(m.decay_chain, kind="vjp", wrt=(0,))
    assert not {"rates_bar", "t_bar"} & _names(text), text
    (n0_bar,) = adc.vjp(m.decay_chain, 2.0, rates, 0.8, wrt="n0")[1](np.ones(3))
    expected = np.sum(numeric_grad(lambda n0: np.sum(m.decay_chain(n0, rates, 0.8)),
                                   [2.0], 0))
    assert np.isclose(n0_bar, expected, rtol=1e-7)


def test_ridge_residual_jacobian_in_the_weights():
    X_design = RNG.normal(size=(6, 3))
    y = RNG.normal(size=6)
    w = RNG.normal(size=3)
    text = adc.source(m.ridge_residuals, kind="vjp", wrt=(0,))
    assert not {"X_bar", "y_bar", "lam_bar"} & _names(text), text
    by_hand = np.vstack([X_design, np.sqrt(0.1) * np.eye(3)])
    for mode in ("forward", "reverse"):
        jac = adc.jacobian(m.ridge_residuals, mode=mode)(w, X_design, y, 0.1)
        np.testing.assert_allclose(jac, by_hand, rtol=1e-13, atol=1e-14)
