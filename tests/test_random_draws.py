"""Random numbers drawn inside the function being differentiated.

NumPy's and Python's global generators (``np.random.rand``, ``random.gauss``) give
other numbers at each call.  The gradient of a loop recomputes each iteration in its
backward loop: a draw there is not drawn again but replayed, the numbers the forward
sweep drew (dropout masks in an RNN).  A draw in a loop nested inside such a loop is
refused, and a function that draws runs its generic code, once per call, so the
generator advances exactly as the function alone would advance it.  Each gradient is
checked against central differences of the function with the generator reseeded.
"""
import random

import numpy as np
import pytest

import ad_compiler as adc
from ad_compiler.errors import ADCompileError

rng = np.random.default_rng(5)


def dropout_rnn(W, xs, h0):
    h = h0
    for x in xs:
        keep = np.random.rand(4) > 0.3
        h = np.tanh(x @ W + h) * keep / 0.7
    return np.sum(h ** 2)


def jittered_steps(x, steps):
    """A scalar loop with noise from Python's generator, in a branch."""
    total = 0.0
    for k in range(steps):
        if k % 2 == 0:
            x = x + 0.1 * random.gauss(0.0, 1.0)
        total = total + np.sin(x * k) * random.random()
    return total


def noise_in_an_inner_loop(W, xs):
    h = np.zeros(4)
    for x in xs:
        for _ in range(2):
            h = np.tanh(x @ W + h + np.random.normal(size=4))
    return np.sum(h)


def _seeded(f, seed, *args):
    np.random.seed(seed)
    random.seed(seed)
    return f(*args)


def _slope(f, args, k, d, seed, eps=1e-6):
    up = list(args)
    down = list(args)
    up[k] = args[k] + eps * d
    down[k] = args[k] - eps * d
    return (_seeded(f, seed, *up) - _seeded(f, seed, *down)) / (2 * eps)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_dropout_mask_drawn_in_the_loop_is_the_one_the_step_used(mode):
    W, xs, h0 = rng.normal(size=(3, 4)) * 0.5, rng.normal(size=(6, 3)), rng.normal(size=4)
    g = adc.grad(dropout_rnn, mode=mode)
    for seed in (1, 2):  # the first call, then a later one
        got = _seeded(g, seed, W, xs, h0)
        d = rng.normal(size=W.shape)
        np.testing.assert_allclose(np.sum(got * d), _slope(dropout_rnn, (W, xs, h0), 0, d, seed),
                                   rtol=1e-6, atol=1e-9)


def test_python_draws_in_a_branch_of_the_loop():
    g = adc.grad(jittered_steps)
    for seed in (3, 4):
        got = _seeded(g, seed, 0.4, 7)
        np.testing.assert_allclose(got, _slope(jittered_steps, (0.4, 7), 0, 1.0, seed),
                                   rtol=1e-6, atol=1e-9)


def test_the_generator_advances_as_the_function_advances_it():
    W, xs, h0 = rng.normal(size=(3, 4)), rng.normal(size=(6, 3)), rng.normal(size=4)
    value_and_grad = adc.value_and_grad(dropout_rnn)
    for _ in range(2):  # the first call too: no probe run drawing beside it
        value, _ = _seeded(value_and_grad, 9, W, xs, h0)
        after_gradient = np.random.rand()
        alone = _seeded(dropout_rnn, 9, W, xs, h0)
        after_function = np.random.rand()
        assert value == alone and after_gradient == after_function


def test_a_draw_in_an_inner_loop_is_refused():
    W, xs = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    with pytest.raises(ADCompileError) as error:
        adc.grad(noise_in_an_inner_loop)(W, xs)
    text = str(error.value)
    assert "np.random.normal(size=4)" in text and "drawn again" in text
    assert "test_random_draws.py" in text


def noisy_energy(x):
    """Straight-line code with a draw: one sweep of its gradient is fine."""
    return np.sum(np.sin(x) * np.random.rand(3))


@pytest.mark.parametrize("make", [lambda f: adc.hessian(f), lambda f: adc.hvp(f),
                                  lambda f: adc.jacobian(f),
                                  lambda f: adc.jacobian(adc.grad(f))],
                         ids=["hessian", "hvp", "jacobian", "jacobian of grad"])
def test_derivatives_that_sweep_more_than_once_are_refused(make):
    x = rng.normal(size=3)
    with pytest.raises(ADCompileError) as error:
        make(noisy_energy)(x)
    text = str(error.value)
    assert "np.random.rand(3)" in text and "draws random numbers" in text


def noisy_scalar(x):
    return np.sin(x) * np.random.rand()


def test_a_derivative_of_a_derivative_is_refused():
    with pytest.raises(ADCompileError) as error:
        adc.grad(adc.grad(noisy_scalar))(0.3)
    assert "np.random.rand()" in str(error.value) and "derivative of a derivative" in str(
        error.value)


def test_the_gradient_of_straight_line_code_that_draws():
    x = rng.normal(size=3)
    got = _seeded(adc.grad(noisy_energy), 11, x)
    np.random.seed(11)
    np.testing.assert_allclose(got, np.cos(x) * np.random.rand(3), rtol=1e-15)
