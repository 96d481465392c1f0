"""``np.where`` selecting a branch that is not defined (or not differentiable) where it
is not selected: ``np.where(x > 0, np.sqrt(x), 0.0)`` at ``x = -1`` is differentiable,
with the derivative of the branch it selects.  The adjoint of the other branch is zero
there, and must stay zero through a partial that is nan or infinite (``0 * nan``).

Each function is checked in both modes against central differences at points on both
sides of its branches, its Hessian against differences of the gradient, reverse-mode
Jacobians against forward-mode ones, and at the boundary against the derivative of the
selected branch written by hand.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from support import numeric_grad

import ad_compiler as adc


def root_or_zero(x):
    return np.sum(np.where(x > 0, np.sqrt(x), 0.0))


def log_or_line(x):
    return np.sum(np.where(x > 0, np.log(x), x - 1.0) * x)


def sinc_like(x):
    """sin(x)/x, 1 at 0: the quotient is nan at 0, where it is not selected."""
    return np.sum(np.where(x != 0.0, np.sin(x) / x, 1.0) ** 2)


def chained_branch(x):
    y = np.sqrt(x) * 2.0 + 1.0
    z = np.log(y) / x
    return np.sum(np.where(x > 0, z, x ** 2))


def other_branch(x):
    """The undefined branch is np.where's third argument."""
    return np.sum(np.where(x <= 0, np.cos(x), np.arcsin(np.minimum(x, 0.9)) + np.sqrt(x)))


def nested_choice(x):
    inner = np.where(x > -1.0, np.log1p(x), -x)
    return np.sum(np.where(x < 2.0, inner, np.sqrt(x - 2.0) + np.log(3.0)))


def broadcast_condition(x, W):
    """A condition of W's shape over a vector's branch: each x[j] is selected in some
    rows of its column and not in others."""
    r = np.where(W > 0, np.sqrt(x) * W, -W)
    return np.sum(r ** 2) + np.sum(np.where(x > 0, np.log(x), 0.0))


def selected_root(x):
    return np.sum(np.select([x > 1, x > 0], [np.log(x) + 1.0, np.sqrt(x)], -x) ** 2)


def difference_of_branches(x):
    return np.sum(np.where(x > 0, np.sqrt(x), 0.0) - np.where(x > 0, 0.0, x ** 3) * x)


def scalar_root(x):
    return np.where(x > 0, np.sqrt(x), 0.0) * x + x


def vector_root(x):
    return np.where(x > 0, np.sqrt(x), -x) * 2.0


FUNCTIONS = [root_or_zero, log_or_line, sinc_like, chained_branch, other_branch,
             nested_choice, selected_root, difference_of_branches]
POINTS = [np.array([-1.5, -0.3, 0.4, 2.5]), np.array([0.7, -2.0, 3.1, -0.01])]


def _quiet(f):
    def run(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with np.errstate(all="ignore"):
                return f(*args)
    return run


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("k", range(len(POINTS)))
def test_both_modes_agree_with_central_differences(f, k):
    x = POINTS[k]
    expected = numeric_grad(_quiet(f), [x], 0)
    assert np.all(np.isfinite(expected))
    for mode in ("reverse", "forward"):
        got = _quiet(adc.grad(f, mode=mode))(x)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_hessian_against_differences_of_the_gradient(f):
    x = POINTS[0]
    grad = _quiet(adc.grad(f))
    eps = 1e-6
    numeric = np.array([(grad(x + eps * e) - grad(x - eps * e)) / (2 * eps)
                        for e in np.eye(x.size)])
    hessian = _quiet(adc.hessian(f))(x)
    assert np.all(np.isfinite(hessian))
    np.testing.assert_allclose(hessian, numeric, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_at_the_boundary_the_selected_branch_gives_the_derivative(mode):
    """At x = 0, np.where(x > 0, sqrt(x), 0) selects the constant: derivative 0 (the
    sqrt's is infinite there); sin(x)/x is replaced by 1 at 0, whose derivative is 0."""
    x = np.array([0.0, 4.0, -1.0])
    got = _quiet(adc.grad(root_or_zero, mode=mode))(x)
    np.testing.assert_allclose(got, [0.0, 0.25, 0.0], rtol=1e-14)
    x = np.array([0.0, 1.0])
    got = _quiet(adc.grad(sinc_like, mode=mode))(x)
    by_hand = 2.0 * np.sin(1.0) * (np.cos(1.0) - np.sin(1.0))  # d/dx (sin x / x)^2 at 1
    np.testing.assert_allclose(got, [0.0, by_hand], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_condition_broadcast_over_the_branch(mode):
    x = np.array([-1.0, 0.5, 2.0, -0.2])
    W = np.array([[-1.0, 2.0, 3.0, -4.0], [-0.5, -1.0, 2.0, -1.0]])  # x < 0: W < 0
    expected = numeric_grad(_quiet(broadcast_condition), [x, W], 0)
    got = _quiet(adc.grad(broadcast_condition, mode=mode))(x, W)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    expected = numeric_grad(_quiet(broadcast_condition), [x, W], 1)
    got = _quiet(adc.grad(broadcast_condition, wrt=1, mode=mode))(x, W)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("x", [-1.0, 0.0, 2.25])
def test_second_derivatives_of_a_number(x):
    """f = sqrt(x) x + x where x > 0, else x: f' = 1.5 sqrt(x) + 1, f'' = 0.75 / sqrt(x)."""
    first = 1.5 * np.sqrt(x) + 1.0 if x > 0 else 1.0
    second = 0.75 / np.sqrt(x) if x > 0 else 0.0
    assert _quiet(adc.grad(scalar_root))(x) == pytest.approx(first, rel=1e-14)
    assert _quiet(adc.grad(adc.grad(scalar_root)))(x) == pytest.approx(second, rel=1e-14)
    assert _quiet(adc.hessian(scalar_root))(x) == pytest.approx(second, rel=1e-14)


def test_jacobians_in_both_modes():
    x = np.array([-1.0, 0.0, 0.25, 4.0])
    by_hand = np.diag([-2.0, -2.0, 2.0, 0.5])  # d/dx of 2 sqrt(x), or of -2x
    for mode in ("reverse", "forward"):
        got = _quiet(adc.jacobian(vector_root, mode=mode))(x)
        np.testing.assert_allclose(got, by_hand, rtol=1e-14)


def select_of_a_list_made_elsewhere(x, conditions):
    return np.sum(np.select(conditions, [x, 2.0 * x]))


def select_of_integers(x):
    return np.sum(np.select([x > 0, np.ones(x.shape, dtype=int)], [x, 2.0 * x]))


def test_np_select_needs_its_lists_written_out():
    with pytest.raises(adc.ADCompileError) as refused:
        adc.grad(select_of_a_list_made_elsewhere)
    assert "written out as lists" in refused.value.what
    assert refused.value.lineno == select_of_a_list_made_elsewhere.__code__.co_firstlineno + 1


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_np_select_of_a_condition_that_is_not_boolean_raises_as_numpy_does(mode):
    x = np.array([-1.0, 2.0])
    with pytest.raises(TypeError) as python:
        select_of_integers(x)
    with pytest.raises(TypeError) as compiled:
        adc.grad(select_of_integers, mode=mode)(x)
    assert str(python.value) in str(compiled.value)


def test_specialised_code_selects_each_branch_s_adjoint_once():
    """The adjoints of both branches of chained_branch, each applied only where its
    branch was selected, are one np.where once the shapes are known."""
    x = POINTS[0]
    grad = _quiet(adc.grad(chained_branch))
    grad(x)
    line = next(t for t in adc.grad(chained_branch).source_for(x).splitlines()
                if t.strip().startswith("x_bar ="))
    assert line.count("np.where(") == 1, line
