"""How array code is generated and refused: shape bookkeeping only where it can matter,
clear errors for what has no rule or cannot be differentiated."""
from __future__ import annotations

import numpy as np
import pytest

import ad_compiler as adc


def scalar_only(x, y):
    return np.sin(x) * y + np.exp(x * y)


def elementwise_one_input(x):
    return np.sum(np.sin(x) * x + 2.0 * x)


def affine(X, W, b):
    return np.sum(np.tanh(X @ W + b))


def returns_array(x):
    return np.sin(x[::-1]) * 2.0


def writes_into_array(x):
    out = np.zeros(3)
    out[0] = x[0] * 2.0
    return np.sum(out)


def loop_over_rows(X, w):
    total = 0.0
    for row in X:
        total = total + np.tanh(row @ w)
    return total


def test_scalar_code_has_no_shape_bookkeeping():
    src = adc.source(scalar_only, wrt=(0, 1))
    assert "unbroadcast" not in src and "gradient_like" not in src


def test_values_of_one_shape_need_no_unbroadcast():
    """sin(x) * x + 2 x: every value has the shape of x, so no adjoint is summed back."""
    assert "unbroadcast" not in adc.source(elementwise_one_input)


def test_broadcast_bias_is_summed_back():
    rng = np.random.default_rng(0)
    X, W, b = rng.normal(size=(5, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    src = adc.source(affine, wrt=(0, 1, 2))
    assert "unbroadcast(" in src and "b_bar" in src
    dX, dW, db = adc.grad(affine, wrt=(0, 1, 2))(X, W, b)
    s = 1.0 - np.tanh(X @ W + b) ** 2  # the hand-written adjoint (seed 002)
    np.testing.assert_allclose(dX, s @ W.T, rtol=1e-12)
    np.testing.assert_allclose(dW, X.T @ s, rtol=1e-12)
    np.testing.assert_allclose(db, s.sum(axis=0), rtol=1e-12)
    assert db.shape == b.shape and type(db) is np.ndarray and db.flags.writeable


def test_grad_of_an_array_output_is_refused_when_called():
    x = np.array([0.1, 0.2])
    with pytest.raises(ValueError, match="scalar output.*jacobian"):
        adc.grad(returns_array)(x)
    np.testing.assert_allclose(adc.jacobian(returns_array)(x),
                               np.fliplr(np.diag(2.0 * np.cos(x[::-1]))))


def test_writing_into_an_array_differentiates():
    x = np.array([0.5, -1.0, 2.0])
    for mode in ("reverse", "forward"):  # d sum(2 x0, 0, 0)
        np.testing.assert_allclose(adc.grad(writes_into_array, mode=mode)(x), [2.0, 0.0, 0.0])


def test_loop_over_array_rows_in_both_modes():
    rng = np.random.default_rng(1)
    X, w = rng.normal(size=(4, 3)), rng.normal(size=3)
    expected = X.T @ (1.0 - np.tanh(X @ w) ** 2)
    np.testing.assert_allclose(adc.grad(loop_over_rows, wrt=1)(X, w), expected, rtol=1e-12)
    np.testing.assert_allclose(adc.grad(loop_over_rows, wrt=1, mode="forward")(X, w), expected,
                               rtol=1e-12)


def test_hessian_of_a_matrix_function_by_forward_over_reverse():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(3, 3))

    H = adc.hessian(quadratic_form)(rng.normal(size=3), A)
    np.testing.assert_allclose(H, A + A.T, rtol=1e-12)


def quadratic_form(x, A):
    return x @ A @ x


def test_float32_gradient_stays_float32_in_both_modes():
    x = np.linspace(0.1, 0.9, 4).astype(np.float32)
    for mode in ("reverse", "forward"):
        g = adc.grad(elementwise_one_input, mode=mode)(x)
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x) + 2.0, rtol=1e-5)


def two_outputs_of_three(x):
    return np.stack([np.sum(np.sin(x) * x[::-1]), np.prod(x[:2]) + x @ x])


def test_forward_jacobian_is_one_vector_mode_sweep():
    """Forward-mode Jacobians carry every direction at once (a last axis of tangents);
    the result equals the reverse-mode Jacobian and finite differences."""
    from ad_compiler import assemble

    assert assemble._vector_jvp(two_outputs_of_three, 0) is not None
    source = assemble._vector_jvp(two_outputs_of_three, 0).source
    assert "np.expand_dims(" in source and "batched_" in source
    x = np.array([0.3, -0.7, 1.1])
    forward = adc.jacobian(two_outputs_of_three, mode="forward")(x)
    reverse = adc.jacobian(two_outputs_of_three, mode="reverse")(x)
    eps = 1e-6
    numeric = np.stack([(two_outputs_of_three(x + eps * e) - two_outputs_of_three(x - eps * e))
                        / (2 * eps) for e in np.eye(3)], axis=-1)
    np.testing.assert_allclose(forward, reverse, rtol=1e-12)
    np.testing.assert_allclose(forward, numeric, rtol=1e-6, atol=1e-9)


def array_loops(W, h):
    """Array states carried through a for loop with a break, a while loop and a nested
    loop: the backward loops reuse each iteration's new state instead of recomputing it."""
    for t in range(4):
        if np.sum(h) > 50.0:
            break
        h = np.tanh(W @ h + 0.1 * t)
    k = 0
    while k < 3:
        for _ in range(2):
            h = np.sin(h) * 1.5 + W[0, 0] * h
        k = k + 1
    return np.sum(h * h)


def test_array_loops_reuse_states_correctly():
    rng = np.random.default_rng(3)
    W, h = 0.5 * rng.normal(size=(3, 3)), rng.normal(size=3)
    gW, gh = adc.grad(array_loops, wrt=(0, 1))(W, h)
    for x, g, k in ((W, gW, 0), (h, gh, 1)):
        numeric = np.zeros_like(x)
        for j in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[j] = 1e-6
            args_hi, args_lo = [W, h], [W, h]
            args_hi[k], args_lo[k] = x + step, x - step
            numeric[j] = (array_loops(*args_hi) - array_loops(*args_lo)) / 2e-6
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)
    fW, fh = adc.grad(array_loops, wrt=(0, 1), mode="forward")(W, h)
    np.testing.assert_allclose(fW, gW, rtol=1e-12)
    np.testing.assert_allclose(fh, gh, rtol=1e-12)


def test_forward_gradient_of_arrays_is_not_differentiated_again():
    g = adc.grad(elementwise_one_input, mode="forward")
    assert "x_dot" in g.source  # the vector-mode JVP it runs
    with pytest.raises(adc.ADCompileError, match="hessian"):
        adc.grad(g)
    x = np.array([0.2, 0.5])
    H = adc.hessian(elementwise_one_input)(x)
    np.testing.assert_allclose(H, np.diag(2 * np.cos(x) - x * np.sin(x)), rtol=1e-12)
