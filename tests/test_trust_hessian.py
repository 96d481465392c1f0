"""Hessians of vector outputs and of scalar loops and branches, and forward-mode
Jacobians of the same, against second differences and hand-derived Hessians."""
from __future__ import annotations

import math

import numpy as np
import pytest
from support import load_fixture

import ad_compiler as adc

F = load_fixture("trust_funcs")


def second_differences(f, args, k, h=1e-3):
    """d^2 f / d args[k]^2 by central differences, shaped f.shape + x.shape + x.shape."""
    x = args[k]
    base = np.asarray(x, dtype=np.float64)
    y_shape = np.shape(f(*args))
    out = np.zeros(y_shape + base.shape + base.shape)

    def at(step):
        moved = list(args)
        moved[k] = base + step if isinstance(x, np.ndarray) else float(base + step)
        return np.asarray(f(*moved), dtype=np.float64)

    for i in np.ndindex(base.shape):
        for j in np.ndindex(base.shape):
            ei, ej = np.zeros(base.shape), np.zeros(base.shape)
            ei[i] += h
            ej[j] += h
            value = (at(ei + ej) - at(ei - ej) - at(-ei + ej) + at(-ei - ej)) / (4 * h * h)
            out[(...,) + i + j] = value
    return out


def jacobian_differences(f, args, k, h=1e-6):
    """d f / d args[k] by central differences, shaped f.shape + x.shape."""
    x = args[k]
    base = np.asarray(x, dtype=np.float64)
    y_shape = np.shape(f(*args))
    out = np.zeros(y_shape + base.shape)
    for i in np.ndindex(base.shape):
        step = np.zeros(base.shape)
        step[i] = h
        hi, lo = list(args), list(args)
        hi[k] = base + step if isinstance(x, np.ndarray) else float(base + step)
        lo[k] = base - step if isinstance(x, np.ndarray) else float(base - step)
        out[(...,) + i] = (np.asarray(f(*hi)) - np.asarray(f(*lo))) / (2 * h)
    return out


# ---------------------------------------------------------------- vector outputs


def hand_hessian_of_two_outputs(x0, x1):
    """f = [x0**2 * x1, sin(x0 * x1)], differentiated twice by hand."""
    u = x0 * x1
    first = [[2 * x1, 2 * x0], [2 * x0, 0.0]]
    mixed = math.cos(u) - u * math.sin(u)
    second = [[-x1 * x1 * math.sin(u), mixed], [mixed, -x0 * x0 * math.sin(u)]]
    return np.array([first, second])


def test_hessian_of_a_vector_output_is_the_full_tensor():
    x = np.array([0.3, 0.7])
    H = adc.hessian(F.two_outputs)(x)
    assert H.shape == (2, 2, 2)
    np.testing.assert_allclose(H, hand_hessian_of_two_outputs(0.3, 0.7), rtol=1e-13,
                               atol=1e-15)
    np.testing.assert_allclose(H, second_differences(F.two_outputs, [x], 0), rtol=1e-5,
                               atol=1e-7)


def test_hessian_of_a_vector_output_is_the_jacobian_of_its_jacobian():
    x = np.array([-0.4, 1.1])
    H = adc.hessian(F.two_outputs)(x)
    jac = adc.jacobian(F.two_outputs, mode="reverse")
    numeric = np.zeros((2, 2, 2))
    for j in range(2):
        step = np.zeros(2)
        step[j] = 1e-6
        numeric[..., j] = (jac(x + step) - jac(x - step)) / 2e-6
    np.testing.assert_allclose(H, numeric, rtol=1e-7, atol=1e-8)


def test_hessian_of_an_elementwise_function_of_an_array_is_not_that_of_the_sum():
    x = np.array([0.5, -1.5, 2.0])
    H = adc.hessian(F.cubes)(x)
    expected = np.zeros((3, 3, 3))
    for i in range(3):
        expected[i, i, i] = 6 * x[i]
    assert H.shape == (3, 3, 3)
    np.testing.assert_allclose(H, expected, rtol=1e-13, atol=0)


def test_hessian_of_a_matrix_output():
    x = np.array([0.2, -0.6, 1.3])
    H = adc.hessian(F.matrix_output)(x)
    assert H.shape == (3, 3, 3, 3)
    np.testing.assert_allclose(H, second_differences(F.matrix_output, [x], 0), rtol=1e-5,
                               atol=1e-7)


def test_hessian_of_a_vector_output_keeps_float32():
    x = np.array([0.3, 0.7], dtype=np.float32)
    H = adc.hessian(F.two_outputs)(x)
    assert H.dtype == np.float32
    np.testing.assert_allclose(H, hand_hessian_of_two_outputs(0.3, 0.7), rtol=1e-5)


def test_scalar_output_hessian_is_unchanged_by_a_second_argument():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 3))
    x = rng.normal(size=3)
    H = adc.hessian(F.quadratic_of_two)(x, A)
    np.testing.assert_allclose(H, A + A.T, rtol=1e-13)


def test_hessian_of_a_tuple_output_is_refused_at_the_def():
    with pytest.raises(adc.ADCompileError, match="one output") as info:
        adc.hessian(F.pair_out)
    assert info.value.filename.endswith("trust_funcs.py")


# ---------------------------------------------------------------- scalar loops and branches

SCALAR_CASES = [
    (F.fourth_power, 1.5),
    (F.fourth_power, -0.7),
    (F.branchy, 0.8),
    (F.branchy, -0.8),
    (F.counted_while, 1.2),
    (F.loop_with_break, 0.9),
    (F.loop_with_branch, 0.6),
]


def test_hessian_of_a_scalar_loop_is_the_hand_derivative():
    for x in (1.5, -0.3, 2.0):
        assert adc.hessian(F.fourth_power)(x) == pytest.approx(12 * x * x, rel=1e-14)
    x = np.array([1.5, -0.3, 2.0])
    np.testing.assert_allclose(adc.hessian(F.fourth_power)(x)[np.arange(3), np.arange(3),
                                                               np.arange(3)], 12 * x * x,
                               rtol=1e-14)


@pytest.mark.parametrize("fn,x", SCALAR_CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_hessian_of_scalar_control_flow_on_a_float(fn, x):
    H = adc.hessian(fn)(x)
    assert isinstance(H, float)
    assert H == pytest.approx(float(second_differences(fn, [x], 0)), rel=1e-5, abs=1e-7)
    hvp = adc.jvp(adc.grad(fn), (x,), (1.0,))[1]  # forward over reverse, written out
    assert H == pytest.approx(hvp, rel=1e-13, abs=1e-14)


@pytest.mark.parametrize("fn,x", SCALAR_CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_forward_jacobian_of_scalar_control_flow_on_a_float(fn, x):
    J = adc.jacobian(fn, mode="forward")(x)
    assert J == pytest.approx(float(jacobian_differences(fn, [x], 0)), rel=1e-7, abs=1e-9)
    assert J == pytest.approx(adc.grad(fn)(x), rel=1e-13, abs=1e-14)


LOOP_ARRAY_CASES = [F.fourth_power, F.counted_while, F.loop_with_branch]


@pytest.mark.parametrize("fn", LOOP_ARRAY_CASES, ids=lambda f: f.__name__)
def test_elementwise_loops_on_a_small_array(fn):
    x = np.array([0.6, 1.1, -0.4])
    J = adc.jacobian(fn, mode="forward")(x)
    np.testing.assert_allclose(J, jacobian_differences(fn, [x], 0), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(J, adc.jacobian(fn, mode="reverse")(x), rtol=1e-13)
    H = adc.hessian(fn)(x)
    assert H.shape == (3, 3, 3)
    np.testing.assert_allclose(H, second_differences(fn, [x], 0), rtol=1e-5, atol=1e-7)


def test_hessian_of_a_loop_with_two_inputs_by_name():
    x, a = 0.4, 1.3
    for wrt, k in (("x", 0), ("a", 1)):
        H = adc.hessian(F.damped, wrt=wrt)(x, a)
        assert H == pytest.approx(float(second_differences(F.damped, [x, a], k, h=1e-4)), rel=1e-5)


def scaled_in_place(x, v):
    """Writes into its own argument: x[0] becomes x[0] v, then x[0] v is returned, so
    d2/dv2 = 2 x[0], at the point given (not at the x the first call left)."""
    x[0] = x[0] * v
    return x[0] * v


@pytest.mark.parametrize("given", [np.array([1.5, 2.0]), [1.5, 2.0], {0: 1.5, 1: 2.0}],
                         ids=["array", "list", "dict"])
def test_the_hessian_of_a_function_writing_into_its_argument_is_taken_where_given(given):
    for _ in range(2):  # the first call runs f itself, to see that its output is a number
        assert adc.hessian(scaled_in_place, wrt=1)(given, 0.7) == pytest.approx(3.0, rel=1e-12)
    assert given[0] == 1.5  # and leaves the caller's argument as it was
