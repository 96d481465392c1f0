"""Functions statisticians call, as users write them: np.ptp, np.cov, np.corrcoef,
np.linalg.cond and np.linalg.matrix_rank, each against central differences in both
modes, forward against reverse, and Hessians against differences of the gradient."""
import numpy as np
import pytest
from support import numeric_grad

import ad_compiler as adc

RNG = np.random.default_rng(7)


def check_gradient(f, args, k=0, rtol=1e-6, atol=1e-7):
    """Reverse and forward mode agree with each other and with central differences."""
    expected = numeric_grad(f, args, k)
    reverse = adc.grad(f, wrt=k)(*args)
    forward = adc.grad(f, wrt=k, mode="forward")(*args)
    np.testing.assert_allclose(reverse, expected, rtol=rtol, atol=atol)
    np.testing.assert_allclose(forward, reverse, rtol=1e-10, atol=1e-12)


def check_hessian(f, x, rtol=1e-5, atol=1e-6):
    """The Hessian against central differences of the compiled gradient."""
    gradient = adc.grad(f)
    hessian = adc.hessian(f)(x)
    flat = np.stack([numeric_grad(lambda z, j=j: gradient(z).ravel()[j], [x], 0).ravel()
                     for j in range(x.size)])
    np.testing.assert_allclose(hessian.reshape(x.size, x.size), flat, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ np.ptp

def spread_penalty(x):
    """Penalise the range of each row, and the range of the whole sample."""
    return np.sum(np.ptp(x, axis=1) ** 2) + 0.5 * np.ptp(x)


def test_ptp_matches_central_differences():
    check_gradient(spread_penalty, [RNG.normal(size=(3, 5))])


def test_ptp_hessian():
    check_hessian(lambda x: np.sum(np.ptp(x, axis=0) ** 3), RNG.normal(size=(4, 3)))


def test_ptp_at_a_tie_shares_like_max_and_min():
    x = np.array([1.0, 3.0, 3.0, -2.0])
    expected = adc.grad(lambda v: np.max(v) - np.min(v))(x)
    np.testing.assert_allclose(adc.grad(lambda v: np.ptp(v))(x), expected)
    np.testing.assert_allclose(expected, [0.0, 0.5, 0.5, -1.0])


# ------------------------------------------------------------------ np.linalg.matrix_rank

def rank_scaled(a):
    """The rank is a count: constant where it is defined, so only np.sum carries a slope."""
    return np.linalg.matrix_rank(a) * np.sum(a ** 2)


def test_matrix_rank_runs_as_written_and_is_constant():
    a = RNG.normal(size=(3, 4))
    assert adc.grad(rank_scaled)(a).shape == a.shape
    check_gradient(rank_scaled, [a])
    np.testing.assert_allclose(adc.grad(rank_scaled)(a), 3 * 2 * a)


# ------------------------------------------------------------------ np.linalg.cond

def conditioning_penalty(w, x):
    """Keep a design matrix scaled by weights well conditioned (a ridge-like penalty)."""
    design = x * w[:, None]
    return np.log(np.linalg.cond(design)) + 0.1 * np.linalg.cond(design.T @ design, -2)


def test_cond_matches_central_differences():
    w, x = RNG.uniform(0.5, 1.5, size=4), RNG.normal(size=(4, 3))
    check_gradient(conditioning_penalty, [w, x], 0)
    check_gradient(conditioning_penalty, [w, x], 1)


def test_cond_of_a_stack_and_its_hessian():
    def stacked(a):
        return np.sum(np.linalg.cond(np.stack([a, a @ a.T + np.eye(3)])) ** 2)
    a = RNG.normal(size=(3, 3))
    check_gradient(stacked, [a])
    check_hessian(stacked, a)


def test_cond_of_another_norm_is_refused_where_it_is_called():
    def frobenius(a):
        return np.linalg.cond(a, "fro")
    with pytest.raises(adc.ADCompileError, match=r"(?s)line \d+.*p='fro'.*np.linalg.norm"):
        adc.grad(frobenius)(np.eye(3) + 0.1)


# ------------------------------------------------------------------ np.cov, np.corrcoef

def gaussian_log_likelihood(theta, data):
    """A Gaussian fitted to transformed data: the sample covariance's log-determinant and
    the Mahalanobis distances of the centred observations (columns are variables)."""
    warped = data * theta[None, :] + np.sin(data) * theta[::-1][None, :] ** 2
    sigma = np.cov(warped, rowvar=False)
    centred = warped - np.mean(warped, axis=0)
    sign, logdet = np.linalg.slogdet(sigma)
    distances = np.sum(centred @ np.linalg.inv(sigma) * centred, axis=1)
    return -0.5 * (len(data) * logdet + np.sum(distances))


def correlation_loss(prediction, target):
    """One minus the Pearson correlation of a prediction with its target."""
    return 1.0 - np.corrcoef(prediction, target)[0, 1]


def covariance_by_hand(rows, ddof):
    centred = rows - np.mean(rows, axis=1, keepdims=True)
    return centred @ centred.T / (rows.shape[1] - ddof)


@pytest.mark.parametrize("penalty", [
    lambda x: np.sum(np.cov(x) ** 2),
    lambda x: np.sum(np.cov(x, bias=True) ** 2),
    lambda x: np.sum(np.cov(x, ddof=2) ** 2),
    lambda x: np.sum(np.cov(x, rowvar=False) ** 2),
], ids=["default", "bias", "ddof", "rowvar"])
def test_cov_options_match_central_differences(penalty):
    check_gradient(penalty, [RNG.normal(size=(3, 6))])


def test_cov_value_and_gradient_against_the_formula_written_out():
    x = RNG.normal(size=(3, 5))
    weights = RNG.normal(size=(3, 3))
    cov_loss = adc.grad(lambda v: np.sum(weights * np.cov(v, ddof=0)))
    hand_loss = adc.grad(lambda v: np.sum(weights * covariance_by_hand(v, 0)))
    np.testing.assert_allclose(cov_loss(x), hand_loss(x), rtol=1e-12, atol=1e-13)
    y, _ = adc.vjp(lambda v: np.cov(v, bias=True), x)
    np.testing.assert_allclose(y, np.cov(x, bias=True), rtol=1e-13)


def test_cov_of_two_samples_and_of_one_vector():
    def paired(a, b):
        return np.cov(a, b)[0, 1] + np.cov(a) * np.cov(b, ddof=0)
    a, b = RNG.normal(size=7), RNG.normal(size=7)
    check_gradient(paired, [a, b], 0)
    check_gradient(paired, [a, b], 1)


def test_cov_with_y_of_several_variables():
    def joint(x, y):
        return np.sum(np.sin(np.cov(x, y, rowvar=False)))
    x, y = RNG.normal(size=(6, 2)), RNG.normal(size=(6, 3))
    check_gradient(joint, [x, y], 0)
    check_gradient(joint, [x, y], 1)


def test_gaussian_log_likelihood_gradient_and_hessian():
    data = RNG.normal(size=(8, 3))
    theta = np.array([1.2, 0.7, 0.9])
    check_gradient(gaussian_log_likelihood, [theta, data], 0, rtol=1e-5)
    check_hessian(lambda t: gaussian_log_likelihood(t, data), theta, rtol=1e-4, atol=1e-5)


def test_correlation_loss_and_its_hessian():
    prediction, target = RNG.normal(size=6), RNG.normal(size=6)
    check_gradient(correlation_loss, [prediction, target], 0)
    check_gradient(correlation_loss, [prediction, target], 1)
    check_hessian(lambda p: correlation_loss(p, target), prediction)


def test_corrcoef_matrix_in_vector_mode():
    def correlations(x):
        return np.corrcoef(x, rowvar=False)[np.triu_indices(3, 1)]
    x = RNG.normal(size=(7, 3))
    forward = adc.jacobian(correlations, mode="forward")(x)
    reverse = adc.jacobian(correlations)(x)
    np.testing.assert_allclose(forward, reverse, rtol=1e-10, atol=1e-12)
    for k in range(3):
        expected = numeric_grad(lambda v, k=k: correlations(v)[k], [x], 0)
        np.testing.assert_allclose(reverse[k], expected, rtol=1e-6, atol=1e-8)


def test_cov_with_weights_is_refused_where_it_is_called():
    def weighted(x, w):
        return np.sum(np.cov(x, aweights=w))
    with pytest.raises(adc.ADCompileError, match=r"(?s)line \d+.*aweights=.*np.average"):
        adc.grad(weighted)(RNG.normal(size=(2, 4)), np.ones(4))


# ------------------------------------------------------------------ np.trapezoid

# NumPy 2's name, or NumPy 1's where that is all there is (both have the same rule)
integrate = getattr(np, "trapezoid", None) or np.trapz


def expected_value(params, grid):
    """The mean of a density known up to its normalisation, integrated on a grid."""
    loc, log_scale = params[0], params[1]
    density = np.exp(-0.5 * ((grid - loc) / np.exp(log_scale)) ** 2)
    return integrate(grid * density, x=grid) / integrate(density, dx=grid[1] - grid[0])


def test_trapezoid_expected_value_and_hessian():
    grid = np.linspace(-6.0, 6.0, 41)
    params = np.array([0.3, -0.2])
    check_gradient(expected_value, [params, grid], 0)
    check_hessian(lambda p: expected_value(p, grid), params)
