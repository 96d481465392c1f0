"""adc.hvp: Hessian-vector products, forward over reverse, against the Hessian times the
vector and against central differences of the gradient along the vector."""
from __future__ import annotations

import math

import numpy as np
import pytest
from support import assert_same_tree

import ad_compiler as adc

# ---------------------------------------------------------------- functions under test


def anharmonic(q, k=1.5):
    """Energy of a particle in an anharmonic well."""
    return 0.5 * k * q ** 2 + 0.1 * q ** 4 - math.cos(q)


def chain_energy(x, stiffness):
    """A chain of springs with a nonlinear restoring force, ends free."""
    stretch = x[1:] - x[:-1] - 1.0
    return np.sum(stiffness * stretch ** 2 + 0.25 * stretch ** 4) + 0.1 * np.sum(np.cosh(x))


def logistic_nll(w, X, y):
    """Mean negative log-likelihood of a logistic regression, labels in {-1, +1}."""
    margins = y * (X @ w)
    return np.mean(np.logaddexp(0.0, -margins))


def gaussian_model(params, data):
    """Negative log-likelihood of a normal model, mean and log scale in a dict."""
    mu, log_sigma = params["mu"], params["log_sigma"]
    z = (data - mu) / np.exp(log_sigma)
    return np.sum(0.5 * z ** 2) + data.size * log_sigma


def two_layer(weights, x):
    """A tiny network whose weights come as a list of arrays."""
    W1, W2 = weights
    h = np.tanh(W1 @ x)
    return np.sum((W2 @ h) ** 2)


def hinge_squared(w, X, y):
    """Squared hinge loss: the Hessian changes where a margin crosses 1."""
    margins = y * (X @ w)
    return np.sum(np.maximum(1.0 - margins, 0.0) ** 2)


def not_scalar(x):
    return x ** 2


class Pendulum:
    def __init__(self, length: float) -> None:
        self.length = length

    def energy(self, theta):
        return np.sum(self.length * (1.0 - np.cos(theta)) + 0.5 * theta ** 2 * self.length)


# ---------------------------------------------------------------- helpers


def gradient_difference(f, args, k, v, h=1e-5):
    """(grad f(x + h v) - grad f(x - h v)) / 2h, the gradient from adc.grad with
    respect to args[k], for a leaf of numbers or an array."""
    g = adc.grad(f, wrt=k)

    def moved(s):
        out = list(args)
        out[k] = args[k] + s * v
        return g(*out)

    return (np.asarray(moved(h)) - np.asarray(moved(-h))) / (2 * h)


def tree_axpy(x, v, s):
    if isinstance(x, dict):
        return {key: tree_axpy(x[key], v[key], s) for key in x}
    if isinstance(x, list):
        return [tree_axpy(a, b, s) for a, b in zip(x, v)]
    return x + s * v


def tree_gradient_difference(f, args, k, v, h=1e-5):
    g = adc.grad(f, wrt=k)

    def at(s):
        out = list(args)
        out[k] = tree_axpy(args[k], v, s)
        return g(*out)

    return _scaled_difference(at(h), at(-h), h)


def _scaled_difference(hi, lo, h):
    if isinstance(hi, dict):
        return {key: _scaled_difference(hi[key], lo[key], h) for key in hi}
    if isinstance(hi, list):
        return [_scaled_difference(a, b, h) for a, b in zip(hi, lo)]
    return (np.asarray(hi) - np.asarray(lo)) / (2 * h)


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("q", [-1.3, 0.0, 0.4, 2.2])
def test_scalar_input(q):
    hv = adc.hvp(anharmonic)(q, 2.0)
    second = 1.5 + 1.2 * q ** 2 + math.cos(q)  # by hand
    assert isinstance(hv, float)
    assert hv == pytest.approx(2.0 * second, rel=1e-12)
    assert hv == pytest.approx(float(gradient_difference(anharmonic, (q,), 0, 2.0)), rel=1e-7)


def test_scalar_input_with_the_default_given():
    hv = adc.hvp(anharmonic)(0.7, 3.0, -1.0)
    assert hv == pytest.approx(-(3.0 + 1.2 * 0.49 + math.cos(0.7)), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_array_input_against_the_hessian_and_differences(seed):
    rng = np.random.default_rng(seed)
    x = np.arange(6.0) * 1.1 + rng.normal(scale=0.2, size=6)
    stiffness = 2.0
    v = rng.normal(size=6)
    hv = adc.hvp(chain_energy)(x, stiffness, v)
    np.testing.assert_allclose(hv, adc.hessian(chain_energy)(x, stiffness) @ v, rtol=1e-10)
    np.testing.assert_allclose(hv, gradient_difference(chain_energy, (x, stiffness), 0, v),
                               rtol=1e-6, atol=1e-7)


def test_with_respect_to_a_later_input_by_name():
    x = np.linspace(0.0, 5.0, 6)
    hv = adc.hvp(chain_energy, wrt="stiffness")(x, 1.3, 2.0)
    assert hv == pytest.approx(0.0, abs=1e-12)  # the energy is linear in the stiffness
    # and with respect to x again, by position, at two points either side of rest
    for shift in (-0.3, 0.3):
        y = np.arange(5.0) * (1.0 + shift)
        v = np.linspace(-1.0, 1.0, 5)
        np.testing.assert_allclose(adc.hvp(chain_energy, wrt=0)(y, 1.3, v),
                                   gradient_difference(chain_energy, (y, 1.3), 0, v),
                                   rtol=1e-6, atol=1e-7)


def test_logistic_regression_against_the_closed_form():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 7))
    y = np.where(rng.normal(size=200) > 0, 1.0, -1.0)
    w = rng.normal(size=7) * 0.5
    v = rng.normal(size=7)
    s = 1.0 / (1.0 + np.exp(y * (X @ w)))
    by_hand = X.T @ ((s * (1.0 - s)) * (X @ v)) / len(y)
    np.testing.assert_allclose(adc.hvp(logistic_nll)(w, X, y, v), by_hand, rtol=1e-10)


@pytest.mark.parametrize("offset", [-0.8, 0.8])  # margins mostly above and below 1
def test_both_sides_of_a_kink(offset):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 4))
    y = np.where(rng.normal(size=30) > 0, 1.0, -1.0)
    w = rng.normal(size=4) * 0.1 + offset * np.linalg.lstsq(X, y, rcond=None)[0]
    v = rng.normal(size=4)
    hv = adc.hvp(hinge_squared)(w, X, y, v)
    active = (1.0 - y * (X @ w)) > 0
    np.testing.assert_allclose(hv, 2.0 * X[active].T @ (X[active] @ v), rtol=1e-10)
    np.testing.assert_allclose(hv, gradient_difference(hinge_squared, (w, X, y), 0, v, h=1e-7),
                               rtol=1e-5, atol=1e-6)


def test_dict_input():
    params = {"mu": 0.3, "log_sigma": np.array(-0.2)}
    data = np.array([0.1, 1.4, -0.7, 2.2])
    v = {"mu": 1.0, "log_sigma": np.array(-0.5)}
    hv = adc.hvp(gaussian_model)(params, data, v)
    expected = tree_gradient_difference(gaussian_model, (params, data), 0, v)
    assert set(hv) == {"mu", "log_sigma"}
    assert_same_tree(hv, expected, rtol=1e-6, atol=1e-7, plain=False)
    # by hand: d2/dmu2 = n / s^2, d2/dmu dlog_s = 2 sum(data - mu) / s^2, d2/dlog_s2 = 2 sum(z^2)
    s2 = np.exp(2 * -0.2)
    r = data - 0.3
    h_mm, h_ml, h_ll = len(data) / s2, 2 * np.sum(r) / s2, 2 * np.sum(r ** 2) / s2
    assert float(hv["mu"]) == pytest.approx(h_mm * 1.0 + h_ml * -0.5, rel=1e-10)
    assert float(hv["log_sigma"]) == pytest.approx(h_ml * 1.0 + h_ll * -0.5, rel=1e-10)


def test_list_input():
    rng = np.random.default_rng(5)
    weights = [rng.normal(size=(3, 2)), rng.normal(size=(2, 3))]
    x = np.array([0.5, -1.0])
    v = [rng.normal(size=(3, 2)), rng.normal(size=(2, 3))]
    hv = adc.hvp(two_layer)(weights, x, v)
    assert isinstance(hv, list) and [h.shape for h in hv] == [(3, 2), (2, 3)]
    assert_same_tree(hv, tree_gradient_difference(two_layer, (weights, x), 0, v),
                     rtol=1e-6, atol=1e-7, plain=False)


def test_bound_method():
    pendulum = Pendulum(2.0)
    theta = np.array([0.3, -1.1])
    v = np.array([1.0, 2.0])
    expected = 2.0 * (np.cos(theta) + 1.0) * v
    np.testing.assert_allclose(adc.hvp(pendulum.energy)(theta, v), expected, rtol=1e-12)


def test_source_is_the_jvp_of_the_gradient():
    text = adc.hvp(chain_energy).source
    assert "def chain_energy_grad_jvp(x, stiffness, x_dot):" in text
    assert "x_bar_dot" in text


# ---------------------------------------------------------------- errors


def test_wrong_vector_shape_names_the_parameter():
    x = np.linspace(0.0, 4.0, 5)
    with pytest.raises(ValueError, match=r"hvp: the vector v for parameter 'x' of "
                                         r"chain_energy must be an array of shape \(5,\)"):
        adc.hvp(chain_energy)(x, 1.0, np.ones(4))


def test_wrong_vector_structure():
    params = {"mu": 0.3, "log_sigma": -0.2}
    with pytest.raises(TypeError, match=r"must be a dict with the keys \['log_sigma', 'mu'\]"):
        adc.hvp(gaussian_model)(params, np.ones(3), {"mu": 1.0})
    with pytest.raises(TypeError, match="must be a number"):
        adc.hvp(anharmonic)(0.3, None)


def test_missing_vector():
    with pytest.raises(TypeError, match=r"then the vector v: hvp\(x, stiffness, v\)"):
        adc.hvp(chain_energy)(np.ones(3), 1.0)


def test_one_input_only():
    with pytest.raises(adc.ADCompileError, match="hvp takes one input"):
        adc.hvp(chain_energy, wrt=(0, 1))


def test_array_output_is_refused_when_called():
    with pytest.raises(ValueError, match="scalar output"):
        adc.hvp(not_scalar)(np.ones(2), np.ones(2))
