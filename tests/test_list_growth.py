"""Lists grown by appending in a loop (and list comprehensions, built the same way):
reverse mode appends in place in its forward sweep and takes the items' adjoints off
the end of the list's adjoint in its backward sweep, so both are linear in the length.
Values against Python's, derivatives against central differences, forward mode against
reverse mode, a Hessian against differences of the gradient, and the memory of a
gradient call against the length of the list.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from support import load_fixture, numeric_grad, peak_memory

import ad_compiler as adc

F = load_fixture("list_growth")
RNG = np.random.default_rng(5)


def check(f, args, wrt=0, rel=1e-6, abs_=1e-8):
    """Value against Python's, both modes against central differences and each other."""
    before = copy.deepcopy(args)
    grads = {}
    for mode in ("reverse", "forward"):
        value, g = adc.value_and_grad(f, wrt=wrt, mode=mode)(*args)
        assert value == pytest.approx(f(*copy.deepcopy(before)), rel=1e-13, abs=1e-13)
        grads[mode] = np.asarray(g)
    expected = np.asarray(numeric_grad(f, list(before), wrt))
    assert grads["reverse"] == pytest.approx(expected, rel=rel, abs=abs_)
    assert grads["forward"] == pytest.approx(grads["reverse"], rel=1e-12, abs=1e-12)
    return grads["reverse"]


def test_oscillator_states_stacked():
    g = check(F.oscillator_energy, (np.array([1.0, -0.3]), 2.0, 30))
    assert np.all(np.isfinite(g))
    check(F.oscillator_energy, (np.array([0.2, 0.9]), 0.7, 12), wrt=1)


def test_oscillator_hessian_against_differences_of_the_gradient():
    y0, k, n = np.array([0.8, -0.4]), 1.5, 10
    H = adc.hessian(F.oscillator_energy)(y0, k, n)
    grad = adc.grad(F.oscillator_energy)
    eps = 1e-5
    numeric = np.array([(grad(y0 + eps * e, k, n) - grad(y0 - eps * e, k, n)) / (2 * eps)
                        for e in np.eye(2)])
    assert H == pytest.approx(numeric.T, rel=1e-6, abs=1e-7)
    assert H == pytest.approx(H.T, rel=1e-10, abs=1e-12)  # a Hessian is symmetric


def test_poisson_log_likelihood_terms_summed():
    counts = [3.0, 0.0, 5.0, 2.0, 7.0, 1.0]
    g = check(F.poisson_loglik, (1.7, counts))
    # d/d rate of sum(c_i log(rate a_i) - rate a_i) is sum(c_i) / rate - sum(a_i)
    a = 1.0 + 0.1 * np.arange(len(counts))
    assert g == pytest.approx(sum(counts) / 1.7 - np.sum(a), rel=1e-12)


@pytest.mark.parametrize("wrt", [0, 1])
def test_layer_activations_as_an_array(wrt):
    W, x = 0.5 * RNG.normal(size=(3, 3)), RNG.normal(size=3)
    check(F.activations, (W, x, 4), wrt=wrt)


@pytest.mark.parametrize("tau", [0.5, 3.0])
def test_decay_curve_comprehension(tau):
    check(F.decay_curve, (tau, 25))


@pytest.mark.parametrize("x", [0.9, 1.3, -0.9])
def test_appends_on_both_sides_of_a_branch(x):
    v = np.sin(x * np.arange(1, 8))
    assert np.any(v > 0) and np.any(v <= 0)  # both branches are taken
    check(F.rectified, (x, 7))


def test_two_lists_one_appended_twice_an_iteration():
    check(F.two_lists, (0.7, 6))
    check(F.two_lists, (-1.1, 4))


def test_a_list_read_where_it_grows():
    check(F.appended_and_read, (0.6, 8))


def test_generated_code_appends_in_place_and_pops_the_adjoints():
    reverse = adc.source(F.oscillator_energy)
    assert "states.append(y" in reverse and "pop_last(states_bar" in reverse
    assert " + [" not in reverse and "list_head" not in reverse
    comprehension = adc.source(F.decay_curve)
    assert ".append(np.exp(" in comprehension and " + [" not in comprehension
    twice = [line.strip() for line in adc.source(F.two_lists).splitlines()
             if not line.strip().startswith("#")]
    assert sum(line.startswith("odds.append(") for line in twice) == 2
    assert sum("pop_last(" in line for line in twice) == 3
    # a list the body reads as it grows keeps the copies its versions need
    assert " + [" in adc.source(F.appended_and_read)


@pytest.mark.parametrize("f,args", [
    (F.decay_curve, lambda n: (0.8, n)),
    (F.oscillator_energy, lambda n: (np.array([1.0, 0.0]), 1.0, n)),
    (F.poisson_loglik, lambda n: (1.3, [float(c % 5) for c in range(n)])),
])
def test_memory_of_a_gradient_grows_linearly_with_the_list(f, args):
    """Four times the items take about four times the memory (sixteen times where each
    iteration keeps a copy of the list, as ``xs = xs + [v]`` on the tape does)."""
    grad = adc.grad(f)
    small, large = peak_memory(grad, *args(500)), peak_memory(grad, *args(2000))
    assert large < 6 * small, (small, large)


def test_ten_thousand_appends_then_stack_array_and_sum():
    x = 0.37
    g = adc.grad(F.long_series)(x)
    i = np.arange(10000)
    expected = 2.0 * np.sum((i % 7) * np.cos(x * (i % 7))) + np.sum(i % 3)
    assert g == pytest.approx(expected, rel=1e-12)
    assert adc.grad(F.long_series, mode="forward")(x) == pytest.approx(expected, rel=1e-12)
