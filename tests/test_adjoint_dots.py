"""Matrix products of derivative values as ``a.dot(b)`` in specialised code
(transforms/adjoint_dots.py); products of the function's own values only where the
numbers are the same (test_primal_dots.py).

``a.dot(b)`` skips the ufunc machinery of ``a @ b``; for contiguous float64 operands it
makes the same BLAS call, so the numbers are the same, and for strided views it may
round otherwise: only derivatives, never the function's value, are made that way.
"""
import numpy as np
import pytest
from support import numeric_grad

import ad_compiler as adc

rng = np.random.default_rng(41)


def mlp_loss(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    return np.mean((h @ W2 + b2 - y) ** 2)


def rnn_loss(Wx, Wh, b, xs, h0, target):
    h = h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh + b)
    return np.sum((h - target) ** 2)


def quadratic_form(A, x):
    """x' A x through a vector-matrix and a vector-vector product."""
    return (x @ A) @ x


def mlp_point():
    return (rng.normal(size=(4, 6)) * 0.5, rng.normal(size=6) * 0.1,
            rng.normal(size=(6, 1)) * 0.5, rng.normal(size=1) * 0.1,
            rng.normal(size=(5, 4)), rng.normal(size=(5, 1)))


def rnn_point(steps=5):
    return (rng.normal(size=(3, 4)) * 0.5, rng.normal(size=(4, 4)) * 0.4,
            rng.normal(size=4) * 0.1, rng.normal(size=(steps, 3)), np.zeros(4),
            rng.normal(size=4))


def _code_lines(source):
    return [line.split("#")[0] for line in source.splitlines() if line.split("#")[0].strip()]


@pytest.mark.parametrize("f, point, wrt", [(mlp_loss, mlp_point, (0, 1, 2, 3)),
                                           (rnn_loss, rnn_point, (0, 1, 2)),
                                           (quadratic_form, None, (0, 1))],
                         ids=["mlp", "rnn", "quadratic"])
def test_derivative_products_are_dots_and_the_values_stay(f, point, wrt):
    args = point() if point else (rng.normal(size=(4, 4)), rng.normal(size=4))
    g = adc.grad(f, wrt=wrt)
    for _ in range(2):  # generic, then specialised
        got = g(*args)
    for k, value in zip(wrt, got):
        np.testing.assert_allclose(value, numeric_grad(f, list(args), k), rtol=1e-6,
                                   atol=1e-8)
    lines = _code_lines(g.source_for(*args))
    assert any(".dot(" in line for line in lines)
    value_and_grad = adc.value_and_grad(f, wrt=wrt)
    for _ in range(2):
        value, _ = value_and_grad(*args)
    assert value == f(*args)


def test_products_of_the_functions_values_stay_where_a_dot_may_round_otherwise():
    """A strided input, a column: ``@`` as written (test_primal_dots.py has the rest)."""
    W1, b1, W2, b2, X, y = mlp_point()
    args = (W1, b1, W2, b2, X[::-1].copy()[::-1], y)
    g = adc.value_and_grad(mlp_loss, wrt=(0, 1, 2, 3))
    assert g(*args)[0] == mlp_loss(*args)
    source = g.source_for(*args)
    assert "np.tanh(X @ W1 + b1)" in source and "h @ W2" in source
    assert "X.dot(" not in source and "h.dot(W2)" not in source


def test_strided_views_give_the_gradient_to_rounding():
    """Inputs that are strided views: the same signature (shapes, dtypes) as contiguous
    ones, so the same specialised code, whose products may add in another order."""
    W1, b1, W2, b2, X, y = mlp_point()
    wide = np.zeros((5, 8))
    wide[:, ::2] = X
    strided = wide[:, ::2]  # X's numbers, every other column of a wider array
    assert not strided.flags.c_contiguous and np.array_equal(strided, X)
    g = adc.grad(mlp_loss, wrt=(0, 1, 2, 3))
    contiguous = g(W1, b1, W2, b2, X, y)
    viewed = g(W1, b1, W2, b2, strided, y)
    assert list(g.specializations.values()) == ["specialised"]
    for a, b in zip(contiguous, viewed):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    transposed = np.asfortranarray(W1)  # Fortran order: the same BLAS call, transposed
    for a, b in zip(contiguous, g(transposed, b1, W2, b2, X, y)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
