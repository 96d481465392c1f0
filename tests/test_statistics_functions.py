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
