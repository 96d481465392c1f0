"""JVP code of scalar functions is plain arithmetic (no run-time helper), and tangents
still take their result's shape where an operand without a tangent broadcasts it."""
from __future__ import annotations

import math

import numpy as np
import pytest

import ad_compiler as adc

A = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]])


def seed(x1, x2):
    return x1 * x2 + math.sin(x1)


def plus_global_array(x):
    return math.sin(x) + A


def times_global_array(x, y):
    return x * A + y * 2.0


def exp_of_product(x, y):
    return math.exp(x * y) / (1.0 + y ** 2)


def test_scalar_jvp_has_no_helper_calls():
    source = adc.source(seed, kind="jvp")
    assert "broadcast_like" not in source and "import" not in source
    x1, x2, d1, d2 = 0.7, 1.3, 0.4, -2.0
    value, tangent = adc.jvp(seed, (x1, x2), (d1, d2))
    assert value == seed(x1, x2)
    assert tangent == pytest.approx((x2 + math.cos(x1)) * d1 + x1 * d2, rel=1e-15)


def test_scalar_jvp_matches_reverse_mode():
    point = (0.3, -0.8)
    assert "broadcast_like" not in adc.source(exp_of_product, kind="jvp")
    gradient = adc.grad(exp_of_product, wrt=(0, 1))(*point)
    for direction in ((1.0, 0.0), (0.0, 1.0), (0.5, -1.5)):
        _, tangent = adc.jvp(exp_of_product, point, direction)
        assert tangent == pytest.approx(np.dot(gradient, direction), rel=1e-14)


def test_an_operand_without_tangent_still_broadcasts_the_tangent():
    """sin(x) + A with x a number: the tangent has A's shape, as the value does."""
    value, tangent = adc.jvp(plus_global_array, (0.4,), (2.0,))
    assert np.shape(tangent) == A.shape
    np.testing.assert_allclose(tangent, np.full(A.shape, 2.0 * math.cos(0.4)), rtol=1e-15)
    value, tangent = adc.jvp(times_global_array, (0.4, 1.5), (None, 3.0))
    assert np.shape(tangent) == A.shape  # y * 2.0 alone would be a number
    np.testing.assert_allclose(tangent, np.full(A.shape, 6.0), rtol=1e-15)


def seed_of_arrays(x1, x2):
    return x1 * x2 + np.sin(x1)


def test_vector_mode_of_elementwise_code_with_one_input_varied():
    """The vector-mode tangent of x1 * x2 with only x1 varied, x2 a number."""
    jacobian = adc.jacobian(seed_of_arrays, wrt=0, mode="forward")(np.array([0.7, -0.2]), 1.3)
    np.testing.assert_allclose(jacobian, np.diag(1.3 + np.cos([0.7, -0.2])), rtol=1e-14)
