"""The NumPy model losses of examples/models.py, differentiated with array inputs.

Every reference number is computed independently of the compiler: by central
differences over each element of each parameter, or from closed forms written out
here (the Rosenbrock gradient and Hessian, the logistic-regression Hessian).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import load_module

import ad_compiler as adc

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "models.py"
models = load_module(EXAMPLES, "adc_test_examples_models", shared=True)

RTOL, ATOL = 1e-5, 1e-8


# --------------------------------------------------------------------------- data


def _logistic_args(rng):
    X = rng.normal(size=(5, 3))
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    return [rng.normal(size=3), 0.3, X, y]


def _mlp_args(rng):
    return [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)),
            rng.normal(size=2), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))]


def _rosenbrock_args(rng):
    return [rng.uniform(-1.2, 1.2, size=5)]


def _softmax_args(rng):
    onehot = np.eye(3)[[0, 2, 1, 1, 0]]
    return [rng.normal(size=(4, 3)), rng.normal(size=(5, 4)), onehot]


def _rnn_args(rng):
    return [0.5 * rng.normal(size=(3, 4)), 0.5 * rng.normal(size=(4, 4)), 0.1 * rng.normal(size=4),
            rng.normal(size=(4, 3)), rng.normal(size=4)]


def _least_squares_args(rng):
    return [rng.normal(size=(5, 3)), rng.normal(size=5)]


def _ridge_args(rng):
    return [rng.normal(size=(5, 3)), rng.normal(size=5), 0.7]


# name: (model, data builder, indices of the parameters to differentiate)
CASES = {
    "logistic_loss": (models.logistic_loss, _logistic_args, (0, 1)),
    "mlp_loss": (models.mlp_loss, _mlp_args, (0, 1, 2, 3)),
    "rosenbrock": (models.rosenbrock, _rosenbrock_args, (0,)),
    "softmax_cross_entropy": (models.softmax_cross_entropy, _softmax_args, (0,)),
    "rnn_loss": (models.rnn_loss, _rnn_args, (0, 1, 2)),
    "least_squares": (models.least_squares, _least_squares_args, (0, 1)),
    "ridge_loss": (models.ridge_loss, _ridge_args, (0, 1, 2)),
}
NAMES = list(CASES)


def case(name, seed=0):
    f, build, wrt = CASES[name]
    return f, build(np.random.default_rng(seed)), wrt


# ------------------------------------------------------------ finite differences


def _replace(args, i, value):
    return [value if j == i else a for j, a in enumerate(args)]


def central_gradient(f, args, i, h=1e-6):
    """d f / d args[i], element by element, by central differences (same shape as args[i])."""
    x = args[i]
    if np.ndim(x) == 0:
        step = h * max(1.0, abs(x))
        return (f(*_replace(args, i, x + step)) - f(*_replace(args, i, x - step))) / (2 * step)
    x = np.asarray(x, dtype=np.float64)
    g = np.empty_like(x)
    for k in range(x.size):
        step = h * max(1.0, abs(x.flat[k]))
        hi, lo = x.copy(), x.copy()
        hi.flat[k] += step
        lo.flat[k] -= step
        g.flat[k] = (f(*_replace(args, i, hi)) - f(*_replace(args, i, lo))) / (2 * step)
    return g


def directional(f, args, tangents, h=1e-6):
    """d/dt f(args + t * tangents) at t = 0, by central differences."""
    hi = [a + h * t for a, t in zip(args, tangents)]
    lo = [a - h * t for a, t in zip(args, tangents)]
    return (f(*hi) - f(*lo)) / (2 * h)


def assert_close(actual, expected, scale=1.0):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL * max(1.0, abs(scale)))


def random_tangents(args, wrt, rng):
    """Random tangents for the parameters in `wrt`, zero tangents for the data."""
    out = []
    for i, a in enumerate(args):
        if i not in wrt:
            out.append(np.zeros_like(a) if np.ndim(a) else 0.0)
        elif np.ndim(a) == 0:
            out.append(float(rng.normal()))
        else:
            out.append(rng.normal(size=np.shape(a)))
    return out


# ------------------------------------------------------------------- the models


def test_models_run_on_their_data():
    for name in NAMES:
        f, args, _ = case(name)
        value = f(*args)
        assert np.ndim(value) == 0 and np.isfinite(value), name


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name", NAMES)
def test_grad_matches_central_differences(name, mode):
    f, args, wrt = case(name)
    grads = adc.grad(f, wrt=wrt, mode=mode)(*args)
    assert isinstance(grads, tuple) and len(grads) == len(wrt)
    scale = f(*args)
    for i, g in zip(wrt, grads):
        assert_close(g, central_gradient(f, args, i), scale)


@pytest.mark.parametrize("name", NAMES)
def test_grad_single_wrt_by_name(name):
    f, args, wrt = case(name, seed=1)
    param = f.__code__.co_varnames[wrt[-1]]
    g = adc.grad(f, wrt=param)(*args)
    assert_close(g, central_gradient(f, args, wrt[-1]), f(*args))


@pytest.mark.parametrize("name", NAMES)
def test_value_and_grad(name):
    f, args, wrt = case(name, seed=2)
    value, grads = adc.value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    for i, g in zip(wrt, grads):
        assert_close(g, central_gradient(f, args, i), value)


@pytest.mark.parametrize("name", NAMES)
def test_forward_agrees_with_reverse(name):
    f, args, wrt = case(name, seed=3)
    rev = adc.grad(f, wrt=wrt, mode="reverse")(*args)
    fwd = adc.grad(f, wrt=wrt, mode="forward")(*args)
    for r, g in zip(rev, fwd):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_jvp_matches_directional_differences(name):
    f, args, wrt = case(name, seed=4)
    tangents = random_tangents(args, wrt, np.random.default_rng(40))
    value, tangent_out = adc.jvp(f, args, tangents)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    assert_close(tangent_out, directional(f, args, tangents), value)


@pytest.mark.parametrize("name", NAMES)
def test_jvp_is_gradient_dot_tangent(name):
    f, args, wrt = case(name, seed=5)
    tangents = random_tangents(args, wrt, np.random.default_rng(50))
    _, tangent_out = adc.jvp(f, args, tangents)
    expected = sum(np.sum(central_gradient(f, args, i) * tangents[i]) for i in wrt)
    assert_close(tangent_out, expected, f(*args))


@pytest.mark.parametrize("name", NAMES)
def test_vjp_pullback_of_one_is_the_gradient(name):
    f, args, wrt = case(name, seed=6)
    value, pullback = adc.vjp(f, *args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    cotangents = pullback(1.0)
    assert len(cotangents) == len(args)
    for i in wrt:
        assert_close(cotangents[i], central_gradient(f, args, i), value)
    halved = pullback(0.5)
    for i in wrt:
        assert_close(halved[i], 0.5 * np.asarray(cotangents[i]), value)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("name", NAMES)
def test_jacobian_of_scalar_loss_is_the_gradient(name, mode):
    f, args, wrt = case(name, seed=7)
    i = wrt[0]
    jac = adc.jacobian(f, wrt=i, mode=mode)(*args)
    assert_close(np.reshape(jac, np.shape(args[i])), central_gradient(f, args, i), f(*args))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name", NAMES)
def test_source_is_python_code(name, mode):
    f, _, wrt = CASES[name]
    text = adc.source(f, mode=mode, wrt=wrt)
    assert isinstance(text, str) and text.strip()
    assert "def " in text
    compile(text, f"<{name} {mode}>", "exec")


# ------------------------------------------------------------- closed forms


def rosenbrock_gradient(x):
    g = np.zeros_like(x)
    g[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def rosenbrock_hessian(x):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        if i < n - 1:
            H[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
            H[i, i + 1] = H[i + 1, i] = -400.0 * x[i]
        if i > 0:
            H[i, i] += 200.0
    return H


ROSENBROCK_POINTS = [
    np.array([-1.2, 1.0]),
    np.array([1.0, 1.0, 1.0, 1.0]),
    np.array([-1.2, 1.0, 0.5, 0.8, -0.3]),
    np.array([0.3, -0.7, 1.4, 0.2, 0.9, -1.1]),
]


def test_closed_forms_agree_with_central_differences():
    """The references themselves, checked once against finite differences."""
    x = ROSENBROCK_POINTS[2]
    assert_close(rosenbrock_gradient(x), central_gradient(models.rosenbrock, [x], 0),
                 models.rosenbrock(x))
    H = np.stack([central_gradient(lambda v, k=k: rosenbrock_gradient(v)[k], [x], 0)
                  for k in range(x.size)])
    np.testing.assert_allclose(H, rosenbrock_hessian(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("k", range(len(ROSENBROCK_POINTS)))
def test_rosenbrock_gradient_closed_form(k, mode):
    x = ROSENBROCK_POINTS[k]
    np.testing.assert_allclose(adc.grad(models.rosenbrock, mode=mode)(x), rosenbrock_gradient(x),
                               rtol=1e-12, atol=1e-12)


def test_rosenbrock_minimum_has_zero_gradient():
    np.testing.assert_array_equal(adc.grad(models.rosenbrock)(np.ones(5)), np.zeros(5))


@pytest.mark.parametrize("k", range(len(ROSENBROCK_POINTS)))
def test_rosenbrock_hessian_closed_form(k):
    x = ROSENBROCK_POINTS[k]
    H = np.asarray(adc.hessian(models.rosenbrock)(x))
    assert H.shape == (x.size, x.size)
    np.testing.assert_allclose(H, rosenbrock_hessian(x), rtol=1e-12, atol=1e-10)


def test_logistic_hessian_closed_form():
    """d^2 L / dw^2 = X^T diag(s (1 - s)) X / n, with s = sigmoid(X @ w + b)."""
    f, (w, b, X, y), _ = case("logistic_loss", seed=8)
    s = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    expected = X.T @ ((s * (1.0 - s))[:, None] * X) / X.shape[0]
    H = adc.hessian(f, wrt=0)(w, b, X, y)
    np.testing.assert_allclose(np.asarray(H), expected, rtol=1e-10, atol=1e-12)


def test_least_squares_gradient_in_b_closed_form():
    """With P = A (A^T A)^-1 A^T the projection onto range(A), the loss is |(I - P) b|^2,
    so its gradient in b is 2 (I - P) b, minus twice the residual."""
    _, (A, b), _ = case("least_squares", seed=9)
    P = A @ np.linalg.solve(A.T @ A, A.T)
    expected = 2.0 * (np.eye(A.shape[0]) - P) @ b
    np.testing.assert_allclose(adc.grad(models.least_squares, wrt="b")(A, b), expected,
                               rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ the script


def test_examples_script_runs():
    result = subprocess.run([sys.executable, str(EXAMPLES)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("logistic_loss", "mlp_loss", "rosenbrock", "softmax_cross_entropy", "rnn_loss",
                 "least_squares"):
        assert name in result.stdout
