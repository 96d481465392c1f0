"""Reverse over reverse through lists grown by append (and list comprehensions).

The gradient of a loop that appends to a list appends in place, and its backward loop
takes each item's adjoint off the end of the list's adjoint (`pop_last`).
Differentiated again in reverse mode, that backward loop runs as `split_last`, which
leaves each version of the list of adjoints as it was, and `split_last` and
`unsplit_last` are each other's transposes.  Every second derivative here is checked
against forward over reverse (`adc.hessian`) and against central differences of the
gradient, at points on both sides of the branches.  Reverse mode over a forward-mode
gradient goes through the tangents of lists joined and repeated.
"""
from __future__ import annotations

import numpy as np
import pytest
from support import central, jacobian_by_differences, load_fixture, peak_memory

import ad_compiler as adc

A = load_fixture("append_losses")

_RNG = np.random.default_rng(7)
_X = _RNG.normal(size=(6, 2))
_LABELS = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
_XS, _YS = np.array([0.5, 2.0, -1.0, 3.0]), np.array([0.2, 0.1, -2.0, 1.0])

# (function, arguments, the argument differentiated twice)
SCALAR_CASES = {
    "oscillator stiffness": (A.oscillator_action, (0.8, 1.2), 0),
    "oscillator start": (A.oscillator_action, (0.8, 1.2), 1),
    "oscillator softer": (A.oscillator_action, (0.3, -0.6), 0),
    # residuals 0.15 (quadratic branch) and 1.3, 1.3, 1.1 (linear)
    "huber mostly linear": (A.huber_risk, (0.7, _XS, _YS), 0),
    # residuals -0.1, 0.3, -0.4 (quadratic) and 1.8 (linear)
    "huber mostly quadratic": (A.huber_risk, (0.2, _XS, _YS), 0),
    "two appends a step, a": (A.twice_per_step, (0.4, 1.3), 0),
    "two appends a step, b": (A.twice_per_step, (0.4, 1.3), 1),
    "filtered data": (A.decays_after, (0.7, [0.2, 0.9, 1.5]), 0),
    "appends under an if, some": (A.appended_when_positive, (0.9,), 0),
    "appends under an if, none at first": (A.appended_when_positive, (-0.4,), 0),
    "a list the loop reads": (A.running_mean, (0.6,), 0),
    "trajectory energy": (A.trajectory_energy, (0.7, 0.3), 0),
    "trajectory energy, start": (A.trajectory_energy, (0.7, 0.3), 1),
    "a list that starts with an item": (A.relaxation, (0.4,), 0),
    "... at a negative point": (A.relaxation, (-0.9,), 0),
}

ARRAY_CASES = {
    "orbit": (A.orbit_energy, (np.array([1.0, 0.1, 0.05, 0.9]),), 0),
    "logistic regression": (A.logistic_nll, (np.array([0.3, -0.2]), _X, _LABELS), 0),
    "pair potential": (A.pair_potential, (np.array([0.0, 1.1, 2.05, 3.2]),), 0),
    "kernel rows": (A.kernel_rows, (np.array([0.1, 0.5, -0.3]),), 0),
    # items on both sides of the filter
    "filter on the items": (A.positive_squares, (np.array([1.5, -0.5, 2.0]),), 0),
    "a list of arrays, summed": (A.squared_spread,
                                 (np.array([[0.3, -0.2], [1.0, 0.5], [0.7, 0.1]]),), 0),
    "cubes read at both ends": (A.cubes_and_ends, (np.array([0.5, -1.0, 2.0]),), 0),
}

# their gradients append in place (the path this module is about)
IN_PLACE = {"oscillator stiffness", "two appends a step, a", "trajectory energy", "orbit",
            "logistic regression", "kernel rows", "a list that starts with an item",
            "a list of arrays, summed", "cubes read at both ends"}


def _cases(table):
    return pytest.mark.parametrize("case", list(table))


@_cases(SCALAR_CASES)
def test_grad_of_grad_of_numbers(case):
    fn, args, k = SCALAR_CASES[case]
    gradient = adc.grad(fn, wrt=k)
    again = adc.grad(gradient, wrt=k)(*args)
    assert isinstance(again, float)
    by_differences = central(gradient, args, k)
    assert again == pytest.approx(by_differences, rel=1e-6, abs=1e-8)
    assert again == pytest.approx(float(adc.hessian(fn, wrt=k)(*args)), rel=1e-10, abs=1e-12)


@_cases(ARRAY_CASES)
def test_reverse_jacobian_of_the_gradient_of_arrays(case):
    fn, args, k = ARRAY_CASES[case]
    gradient = adc.grad(fn, wrt=k)
    again = adc.jacobian(gradient, wrt=k, mode="reverse")(*args)
    by_differences = jacobian_by_differences(gradient, args, k, eps=1e-5)
    scale = max(1.0, float(np.max(np.abs(by_differences))))
    np.testing.assert_allclose(again, by_differences, rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(again, adc.hessian(fn, wrt=k)(*args), rtol=1e-10,
                               atol=1e-12 * scale)


@pytest.mark.parametrize("case", sorted(IN_PLACE))
def test_these_gradients_append_and_pop_in_place(case):
    fn, args, k = {**SCALAR_CASES, **ARRAY_CASES}[case]
    first = adc.source(fn, wrt=k)
    assert ".append(" in first and "pop_last(" in first
    assert "split_last" not in first


def test_the_second_sweep_reads_each_version_of_the_list_of_adjoints():
    """The gradient's backward loop, run again by the second derivative's forward
    sweep, splits the list of adjoints without changing it: the taped iterations read
    each version again."""
    second = adc.source(adc.grad(A.trajectory_energy))
    assert "split_last(" in second and "unsplit_last(" in second
    assert "states.append(x_1)" in second  # the primal loop still appends in place


def test_forward_over_reverse_along_a_direction():
    k, x0 = 0.7, 0.3
    by_differences = central(adc.grad(A.trajectory_energy), (k, x0), 0)
    assert adc.hvp(A.trajectory_energy)(k, x0, 1.0) == pytest.approx(by_differences, rel=1e-6)


def test_a_gradient_differentiated_twice_gives_the_third_derivative():
    gradient = adc.grad(A.twice_per_step)
    second = adc.grad(gradient)
    third = adc.grad(second)(0.4, 1.3)
    assert third == pytest.approx(central(second, (0.4, 1.3), 0), rel=1e-6)
    assert third == pytest.approx(float(adc.hessian(gradient)(0.4, 1.3)), rel=1e-10)


# forward-mode gradients join and repeat the tangents of lists (sum_tangent,
# product_tangent), and reverse mode over them splits the cotangents again
REVERSE_OVER_FORWARD = {
    "two appends a step": (A.twice_per_step, (0.4, 1.3), 0),
    "appends under an if, taken": (A.appended_when_positive, (0.9,), 0),
    "appends under an if, not at first": (A.appended_when_positive, (-0.4,), 0),
    "lists repeated": (A.repeated_terms, (0.7,), 0),
    "lists joined, a": (A.joined_terms, (0.3, 1.2), 0),
    "lists joined, b": (A.joined_terms, (0.3, 1.2), 1),
}


@_cases(REVERSE_OVER_FORWARD)
def test_reverse_over_a_forward_mode_gradient(case):
    fn, args, k = REVERSE_OVER_FORWARD[case]
    forward_gradient = adc.grad(fn, wrt=k, mode="forward")
    again = adc.grad(forward_gradient, wrt=k)(*args)
    assert again == pytest.approx(central(forward_gradient, args, k), rel=1e-6, abs=1e-8)
    assert again == pytest.approx(float(adc.hessian(fn, wrt=k)(*args)), rel=1e-10, abs=1e-12)


def test_pullback_of_the_gradient_against_a_direction():
    """adc.vjp of the gradient: the Hessian (symmetric) times the cotangent."""
    theta = np.array([0.3, -0.2])
    gradient = adc.grad(A.logistic_nll)
    value, pullback = adc.vjp(gradient, theta, _X, _LABELS)
    u = np.array([1.0, -2.0])
    hess = adc.hessian(A.logistic_nll)(theta, _X, _LABELS)
    np.testing.assert_allclose(pullback(u)[0], hess.T @ u, rtol=1e-10)
    np.testing.assert_allclose(value, gradient(theta, _X, _LABELS), rtol=1e-14)


def test_memory_of_a_second_derivative_grows_linearly_with_the_list():
    """The second derivative's tape holds the list of adjoints as one array and views of
    it, not a copy per iteration: four times the items take about four times the
    memory (sixteen times with a copy per iteration)."""
    second = adc.grad(adc.grad(A.decay_fit))
    small, large = peak_memory(second, 0.8, 500), peak_memory(second, 0.8, 2000)
    assert large < 6 * small, (small, large)
    h = 1e-5
    gradient = adc.grad(A.decay_fit)
    assert second(0.8, 500) == pytest.approx(
        (gradient(0.8 + h, 500) - gradient(0.8 - h, 500)) / (2 * h), rel=1e-6)
