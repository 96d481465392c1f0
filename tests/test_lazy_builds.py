"""Code compiled only when something needs it: a derivative of array code specialises
on its first call without compiling its generic code, and the Hessian of number code
compiles the JVP of the gradient without the gradient.  What is built later must be
as right as what was built first: values against central differences, forward mode
against reverse mode, the generic code against the specialised code.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from support import central, numeric_grad

import ad_compiler as adc
from ad_compiler import build, cache, dispatch

rng = np.random.default_rng(23)


@pytest.fixture
def compiled(monkeypatch):
    """The names of the functions generated while the test runs, in order."""
    names: list[str] = []
    real = build.generate

    def counting(fn, name, **options):
        names.append(name + (" (probe)" if options.get("probe") else ""))
        return real(fn, name, **options)

    monkeypatch.setattr(build, "generate", counting)
    monkeypatch.setattr(dispatch, "generate", counting)
    cache.clear()
    return names


def logistic_loss(w, X, y, lam):
    """Regularised logistic regression: mean log-loss plus an L2 penalty."""
    z = X @ w
    p = 1.0 / (1.0 + np.exp(-z))
    eps = 1e-12
    nll = -np.mean(y * np.log(p + eps) + (1.0 - y) * np.log(1.0 - p + eps))
    return nll + lam * np.sum(w * w)


def _data(n, d):
    X = rng.standard_normal((n, d))
    y = (rng.uniform(size=n) > 0.5).astype(float)
    return rng.standard_normal(d) * 0.5, X, y


def test_the_first_call_specialises_without_compiling_the_generic_code(compiled):
    g = adc.grad(logistic_loss, wrt=(0, 3))
    assert compiled == []  # nothing compiled before a call says the shapes
    w, X, y = _data(8, 3)
    gw, glam = g(w, X, y, 0.1)
    assert compiled == ["logistic_loss_grad (probe)", "logistic_loss_grad"]
    np.testing.assert_allclose(gw, numeric_grad(logistic_loss, [w, X, y, 0.1], 0),
                               rtol=1e-6, atol=1e-9)
    assert glam == pytest.approx(central(logistic_loss, [w, X, y, 0.1], 3), rel=1e-7)
    assert set(g.specializations.values()) == {"specialised"}


def test_later_calls_with_other_shapes_get_their_own_versions(compiled):
    g = adc.grad(logistic_loss)
    for n, d in ((8, 3), (5, 1), (12, 6), (8, 3)):
        w, X, y = _data(n, d)
        np.testing.assert_allclose(g(w, X, y, 0.3),
                                   numeric_grad(logistic_loss, [w, X, y, 0.3], 0),
                                   rtol=1e-6, atol=1e-9)
    # one probe for them all, one version per shape, and still no generic code
    assert compiled.count("logistic_loss_grad (probe)") == 1
    assert compiled.count("logistic_loss_grad") == 3
    assert len(g.specializations) == 3


def test_the_generic_code_is_compiled_when_a_call_needs_it(compiled):
    g = adc.grad(logistic_loss)
    w, X, y = _data(7, 4)
    expected = numeric_grad(logistic_loss, [w, X, y, 0.2], 0)
    np.testing.assert_allclose(g(w, X, y, 0.2), expected, rtol=1e-6, atol=1e-9)
    assert len(compiled) == 2
    # keyword arguments are not keyed on: the generic code runs them, built now
    np.testing.assert_allclose(g(w, X, y, lam=0.2), expected, rtol=1e-6, atol=1e-9)
    assert compiled[-1] == "logistic_loss_grad" and len(compiled) == 3
    np.testing.assert_allclose(g._adc_generic(w, X, y, 0.2), g(w, X, y, 0.2), rtol=1e-12)
    # built once: its source and code object are the same generic code's
    assert "def logistic_loss_grad(w, X, y, lam)" in g.source
    assert g.__code__ is g._adc_generic.__code__
    assert list(inspect.signature(g).parameters) == ["w", "X", "y", "lam"]
    assert len(compiled) == 3


def test_source_and_signature_before_any_call(compiled):
    g = adc.grad(logistic_loss)
    assert list(inspect.signature(g).parameters) == ["w", "X", "y", "lam"]
    assert "w_bar" in adc.source(logistic_loss) and "w_bar" in g.source
    w, X, y = _data(6, 2)
    np.testing.assert_allclose(g(w, X, y, 0.5), numeric_grad(logistic_loss, [w, X, y, 0.5], 0),
                               rtol=1e-6, atol=1e-9)


def test_a_gradient_of_the_lazy_gradient(compiled):
    """A second derivative differentiates the generic code's IR, whatever ran first."""
    g = adc.grad(logistic_loss)
    w, X, y = _data(9, 3)
    g(w, X, y, 0.1)
    H = adc.jacobian(g)(w, X, y, 0.1)
    by_differences = np.array([numeric_grad(lambda *a, k=k: g(*a)[k], [w, X, y, 0.1], 0)
                               for k in range(3)])
    np.testing.assert_allclose(H, by_differences, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(adc.hessian(logistic_loss)(w, X, y, 0.1), H, rtol=1e-9,
                               atol=1e-12)


def test_specialisation_turned_off_compiles_the_generic_code(compiled, monkeypatch):
    monkeypatch.setenv("AD_COMPILER_SPECIALIZE", "0")
    g = adc.grad(logistic_loss)
    assert compiled == ["logistic_loss_grad"]
    w, X, y = _data(5, 2)
    np.testing.assert_allclose(g(w, X, y, 0.4), numeric_grad(logistic_loss, [w, X, y, 0.4], 0),
                               rtol=1e-6, atol=1e-9)
    assert g.version_for(w, X, y, 0.4) is g


# ------------------------------------------------------------ Hessians of number code


def pendulum_energy(theta, omega, g_over_l):
    """Energy of a pendulum, with a small anharmonic correction past the small angle."""
    kinetic = 0.5 * omega ** 2
    if abs(theta) < 0.5:
        potential = g_over_l * (theta ** 2 / 2 - theta ** 4 / 24)
    else:
        potential = g_over_l * (1.0 - math.cos(theta))
    return kinetic + potential + 0.01 * math.sin(theta) * omega


@pytest.mark.parametrize("theta", [0.3, -0.2, 1.1, -2.0])  # both branches
def test_the_hessian_of_number_code_compiles_the_sweep_alone(compiled, theta):
    point = [theta, 0.7, 9.81]
    for wrt in (0, 1):
        second = adc.hessian(pendulum_energy, wrt=wrt)(*point)
        slope = adc.grad(pendulum_energy, wrt=wrt)
        assert second == pytest.approx(central(slope, point, wrt), rel=1e-6, abs=1e-8)
        assert second == pytest.approx(adc.grad(slope, wrt=wrt)(*point), rel=1e-12)
    cache.clear()
    compiled.clear()
    adc.hessian(pendulum_energy)(*point)
    assert compiled == ["pendulum_energy_grad_jvp"]  # the gradient is not compiled
    adc.hessian(pendulum_energy)(*point)  # nor anything the second time
    assert compiled == ["pendulum_energy_grad_jvp"]


def spring_chain(xs, k):
    """Potential energy of masses joined by springs of stiffness k and rest length 1."""
    energy = 0.0
    for a, b in zip(xs[:-1], xs[1:]):
        stretch = b - a - 1.0
        energy = energy + 0.5 * k * stretch * stretch + 0.1 * stretch ** 4
    return energy


def test_the_gradient_is_compiled_when_a_hessian_needs_it():
    """Numbers in a list: the Hessian is the Jacobian of the gradient, built then."""
    xs, k = [0.0, 1.3, 2.1, 3.4], 2.0
    H = np.array(adc.hessian(spring_chain)(xs, k))
    slope = adc.grad(spring_chain)
    expected = np.zeros((len(xs), len(xs)))
    for j in range(len(xs)):  # column j: how the gradient moves with xs[j]
        def along(t, j=j):
            moved = list(xs)
            moved[j] = t
            return np.array(slope(moved, k))
        expected[:, j] = (along(xs[j] + 1e-5) - along(xs[j] - 1e-5)) / 2e-5
    np.testing.assert_allclose(H, expected, rtol=1e-6, atol=1e-6)
    # in k the energy is linear: a zero second derivative, through the JVP sweep
    assert adc.hessian(spring_chain, wrt=1)(xs, k) == pytest.approx(0.0, abs=1e-12)


def test_the_hessian_of_array_code_needs_no_generic_gradient(compiled):
    """The Jacobian of the gradient specialised to the shapes: the generic gradient is
    not compiled for it."""
    w, X, y = _data(10, 3)
    H = adc.hessian(logistic_loss)(w, X, y, 0.05)
    assert "logistic_loss_grad" in compiled  # the specialised version, after its probe
    assert compiled.count("logistic_loss_grad") == 1
    g = adc.grad(logistic_loss)
    by_differences = np.array([numeric_grad(lambda *a, k=k: g(*a)[k], [w, X, y, 0.05], 0)
                               for k in range(3)])
    np.testing.assert_allclose(H, by_differences, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-14)
    v = rng.standard_normal(3)
    np.testing.assert_allclose(adc.hvp(logistic_loss)(w, X, y, 0.05, v), H @ v,
                               rtol=1e-10, atol=1e-12)
