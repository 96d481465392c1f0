"""Jacobians and Hessians of functions of one vector, whose sweeps are specialised to
their seed being the identity (transforms/unit_seeds.py): checked against central
differences, forward mode against reverse mode, closed forms, and the memory they
take; the specialised code must neither build nor read the seed where its rules
apply, and fall back to the dense seed everywhere else."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from support import jacobian_by_differences

import ad_compiler as adc
from ad_compiler.build import derivative
from ad_compiler.dispatch import unit_seeded

RNG = np.random.default_rng(11)
N = 6


# ------------------------------------------------------------ functions of a vector


def gated_layer(x, A, c):
    return np.tanh(A @ x + c) * x


def residual_softplus(x, W, b):
    return x + np.logaddexp(0.0, W @ x + b)


def saturating(x, A, c):
    """A rational response with a linear coupling and a scalar gain."""
    return 2.5 * x / (1.0 + x ** 2) - 0.5 * (A @ x) + c


def shifted_linear(x, A, c):
    return A @ x - 3.0 * x + c  # a dense part the code does not own, minus a diagonal


def relaxation(x, A, c):
    return x - A @ np.sin(x)  # a diagonal minus a dense part


def row_features(x, B, c):
    return np.exp(-x) @ B + c  # a vector times a matrix on the right


def heat_step(u, A, c):
    """One explicit step of the heat equation on a ring (np.roll has no diagonal rule)."""
    return u + 0.1 * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1)) + 0.0 * c


def softmax(z, A, c):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def leaky_relu(x, A, c):
    return np.where(x > 0.0, x, 0.1 * x) + A @ x


def linear_map(x, A, c):
    return A @ x


def identity(x, A, c):
    return x


SEEDLESS = [gated_layer, residual_softplus, saturating, shifted_linear, relaxation,
            row_features, linear_map]
DENSE_SEED = [heat_step, softmax, leaky_relu, identity]


def point() -> tuple:
    x = RNG.normal(size=N)
    x[:2] = [0.7, -0.4]  # both sides of every branch (leaky_relu)
    return x, RNG.normal(size=(N, N)) / np.sqrt(N), RNG.normal(size=N)


@pytest.mark.parametrize("f", SEEDLESS + DENSE_SEED, ids=lambda f: f.__name__)
def test_jacobians_against_differences_and_each_other(f):
    args = point()
    forward = adc.jacobian(f, mode="forward")(*args)
    reverse_jacobian = adc.jacobian(f, mode="reverse")
    reverse = reverse_jacobian(*args)
    assert forward.shape == reverse.shape == (N, N)
    np.testing.assert_allclose(forward, jacobian_by_differences(f, args, 0), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(reverse, forward, rtol=1e-12, atol=1e-14)
    again = adc.jacobian(f, mode="forward")(*args)  # the kept, specialised sweep
    np.testing.assert_array_equal(again, forward)
    # the output's size known from the first call: f is not evaluated before the sweep
    np.testing.assert_array_equal(reverse_jacobian(*args), reverse)
    moved = (args[0] + 0.1, *args[1:])
    np.testing.assert_allclose(reverse_jacobian(*moved), jacobian_by_differences(f, moved, 0),
                               rtol=1e-6, atol=1e-8)


def _sweeps(f, args):
    """The versions of f's two batched sweeps that ran for `args` (seed: np.eye(N))."""
    out = []
    for kind, wrt, mode in (("jvp_batched", 0, "forward"), ("vjp_batched", (0,), "reverse")):
        sweep = unit_seeded(derivative(f, kind, wrt, mode))
        out.append(sweep.version_for(*args, np.eye(N)))
    return out


@pytest.mark.parametrize("f", SEEDLESS, ids=lambda f: f.__name__)
def test_the_seed_is_neither_built_nor_read(f):
    args = point()
    for mode in ("forward", "reverse"):
        adc.jacobian(f, mode=mode)(*args)
    for version in _sweeps(f, args):
        assert version._adc_seed_unused, version.source
        assert "x_dot" not in version.source.split(":", 1)[1]


@pytest.mark.parametrize("f", DENSE_SEED, ids=lambda f: f.__name__)
def test_an_operation_without_a_diagonal_rule_gets_the_dense_seed(f):
    args = point()
    adc.jacobian(f, mode="forward")(*args)
    (version, _) = _sweeps(f, args)
    assert "np.eye" in version.source or not getattr(version, "_adc_seed_unused", False)


def test_the_specialised_code_reads_as_written_by_hand():
    args = point()
    for mode in ("forward", "reverse"):
        adc.jacobian(gated_layer, mode=mode)(*args)
    forward, reverse = (v.source for v in _sweeps(gated_layer, args))
    assert "add_to_diagonal((1.0 - w3_1 ** 2)[:, None] * x[:, None] * A, w3_1)" in forward
    assert "x_bar = add_to_diagonal(A.T * ((1.0 - w3_1 ** 2) * x), w3_1)" in reverse


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_a_linear_map_gives_a_copy_of_its_matrix(mode):
    x, A, c = point()
    kept = A.copy()
    J = adc.jacobian(linear_map, mode=mode)(x, A, c)
    np.testing.assert_array_equal(J, A)
    J[0, 0] += 1.0
    np.testing.assert_array_equal(A, kept)
    ones = adc.jacobian(identity, mode=mode)(x, A, c)
    np.testing.assert_array_equal(ones, np.eye(N))
    ones[1, 1] = 5.0
    np.testing.assert_array_equal(adc.jacobian(identity, mode=mode)(x, A, c), np.eye(N))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_float32_inputs_keep_their_dtype(mode):
    x, A, c = (a.astype(np.float32) for a in point())
    J = adc.jacobian(gated_layer, mode=mode)(x, A, c)
    assert J.dtype == np.float32
    t = np.tanh(A.astype(float) @ x + c)
    by_hand = (1.0 - t ** 2)[:, None] * A * x[:, None] + np.diag(t)
    np.testing.assert_allclose(J, by_hand, rtol=1e-4, atol=1e-5)


def test_a_jacobian_follows_its_function_when_the_code_changes():
    def response(x, A, c):
        return np.sin(x) * c

    def other(x, A, c):
        return np.cos(x) * c

    args = point()
    jac = adc.jacobian(response, mode="forward")
    np.testing.assert_allclose(jac(*args), np.diag(np.cos(args[0]) * args[2]), rtol=1e-12)
    response.__code__ = other.__code__
    np.testing.assert_allclose(jac(*args), np.diag(-np.sin(args[0]) * args[2]), rtol=1e-12)


# ------------------------------------------------------------ Hessians


def anharmonic_energy(x, K):
    """Oscillators coupled by a stiffness matrix K (not symmetric), quartic on-site."""
    return 0.5 * x @ (K @ x) + 0.25 * np.sum(x ** 4)


def logistic_loss(w, X, y):
    return np.sum(np.logaddexp(0.0, -y * (X @ w))) / X.shape[0]


def rosenbrock(x, K):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_hessian_of_a_quadratic_form_with_a_quartic_term():
    x, K = RNG.normal(size=N), RNG.normal(size=(N, N))
    H = adc.hessian(anharmonic_energy)(x, K)
    np.testing.assert_allclose(H, 0.5 * (K + K.T) + np.diag(3.0 * x ** 2), rtol=1e-12)
    gradient = adc.grad(anharmonic_energy)
    np.testing.assert_allclose(H, jacobian_by_differences(gradient, (x, K), 0), rtol=1e-6,
                               atol=1e-8)


def test_hessian_of_a_logistic_loss():
    X, w = RNG.normal(size=(20, N)), RNG.normal(size=N) * 0.3
    y = np.where(RNG.normal(size=20) > 0, 1.0, -1.0)
    H = adc.hessian(logistic_loss)(w, X, y)
    s = 1.0 / (1.0 + np.exp(y * (X @ w)))
    np.testing.assert_allclose(H, (X.T * (s * (1.0 - s))) @ X / 20, rtol=1e-10)
    np.testing.assert_allclose(H, jacobian_by_differences(adc.grad(logistic_loss), (w, X, y), 0),
                               rtol=1e-6, atol=1e-8)


def test_hessian_through_slices_falls_back_to_the_dense_seed():
    x = np.array([1.2, -0.3, 0.8, 0.5, -1.1, 0.9])
    H = adc.hessian(rosenbrock)(x, None)
    np.testing.assert_allclose(H, jacobian_by_differences(adc.grad(rosenbrock), (x, None), 0),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(H, H.T, rtol=1e-12)


# ------------------------------------------------------------ memory


def _peak(call) -> tuple[int, object]:
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        result = call()
        return tracemalloc.get_traced_memory()[1] - start, result
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("case", ["jacobian-forward", "jacobian-reverse", "hessian"])
def test_memory_is_at_most_twice_the_output_plus_the_working_set(case):
    """Issue 14's target: no (n, n) seed, no second copy of the result."""
    n = 400
    rng = np.random.default_rng(3)
    x = rng.normal(size=n)
    if case == "hessian":
        f, args, d = anharmonic_energy, (x, rng.normal(size=(n, n))), adc.hessian(
            anharmonic_energy)
    else:
        f, args = gated_layer, (x, rng.normal(size=(n, n)) / np.sqrt(n), rng.normal(size=n))
        d = adc.jacobian(gated_layer, mode=case.split("-")[1])
    d(*args)  # compiled and specialised first
    working, _ = _peak(lambda: f(*args))
    peak, out = _peak(lambda: d(*args))
    assert out.shape == (n, n)
    assert peak <= 2 * out.nbytes + working, (peak, out.nbytes, working)


def positive_responses(x, A, c):
    """The responses of the units that fire: as many outputs as positive inputs."""
    return (np.tanh(A @ x) * x)[x > 0.0]


def test_a_reverse_jacobian_whose_output_size_depends_on_the_values():
    _, A, c = point()
    jac = adc.jacobian(positive_responses, mode="reverse")
    for signs in ([1, 1, -1, -1, -1, -1], [1, 1, 1, 1, -1, 1], [1, 1, -1, -1, -1, -1]):
        x = np.abs(RNG.normal(size=N)) * signs
        J = jac(x, A, c)
        assert J.shape == (sum(s > 0 for s in signs), N)
        np.testing.assert_allclose(J, jacobian_by_differences(positive_responses, (x, A, c), 0),
                                   rtol=1e-6, atol=1e-8)
