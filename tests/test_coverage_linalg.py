"""np.linalg, scipy.linalg and the log-sum-exp family, one table row per use.

Every row is a function of tests/fixtures/coverage_linalg.py calling the library as
people write it, and the inputs it is evaluated at (seeded by the row's name; the
matrices have well-separated eigenvalues and singular values).  One parametrized test
per check: the value equals the plain function's; the reverse gradient matches
central differences; forward mode matches reverse; for vector outputs the Jacobian in
forward mode matches reverse mode and central differences; the Hessian (forward over
reverse) matches central differences of the reverse gradient; float32 inputs give
NumPy's dtype and value.  The references come from the plain function only.
"""
from __future__ import annotations

import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from support import load_fixture

import ad_compiler as adc

F = load_fixture("coverage_linalg")
EPS = 1e-6


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def normal(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.normal(size=shape)


def positive(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.uniform(0.5, 2.0, size=shape)


def spd_matrix(n: int, asymmetry: float = 0.0) -> Callable[[np.random.Generator], np.ndarray]:
    """A symmetric positive definite matrix, perturbed off symmetry by `asymmetry`."""
    def make(rng: np.random.Generator) -> np.ndarray:
        x = rng.normal(size=(n, n))
        return x @ x.T + n * np.eye(n) + asymmetry * rng.normal(size=(n, n))
    return make


def triangular(n: int, lower: bool) -> Callable[[np.random.Generator], np.ndarray]:
    def make(rng: np.random.Generator) -> np.ndarray:
        x = rng.normal(size=(n, n)) + 4 * np.eye(n)
        return x  # the other triangle is read by nobody: its derivative must be zero
    return make


@dataclass
class Case:
    name: str
    fn: Callable
    makers: tuple
    vector: bool = False  # a vector output: checked through its Jacobian
    hessian: bool = True
    float32: bool = True
    wrt: tuple = (0,)
    tol: float = 1e-5
    inputs: list = field(default_factory=list)

    def args(self) -> list[np.ndarray]:
        rng = _rng(self.name)
        return [make(rng) for make in self.makers]


CASES = [
    Case("cholesky_sum", F.cholesky_sum, (normal(3, 3),)),
    Case("cholesky_upper", F.cholesky_upper, (normal(3, 3),)),
    Case("cholesky_direct", F.cholesky_direct, (spd_matrix(3, 0.3),)),
    Case("cholesky_batched", F.cholesky_batched, (normal(2, 3, 3),)),
    Case("cholesky_logdet", F.cholesky_logdet, (normal(3, 3),)),
    Case("cholesky_vector", F.cholesky_vector, (normal(3, 3),), vector=True),
    Case("eigh_pair", F.eigh_pair, (normal(3, 3),)),
    Case("eigh_fields", F.eigh_fields, (normal(3, 3),)),
    Case("eigh_rebuilt", F.eigh_rebuilt, (normal(3, 3),)),
    Case("eigh_upper", F.eigh_upper, (spd_matrix(3, 0.3),)),
    Case("eigh_batched", F.eigh_batched, (normal(2, 3, 3),)),
    Case("eigh_values_only", F.eigh_values_only, (normal(3, 3),)),
    Case("eigh_vector", F.eigh_vector, (normal(3, 3),), vector=True),
    Case("eigvalsh_sum", F.eigvalsh_sum, (normal(3, 3),)),
    Case("eigvalsh_upper", F.eigvalsh_upper, (spd_matrix(3, 0.3),)),
    Case("eigvalsh_vector", F.eigvalsh_vector, (normal(3, 3),), vector=True),
    Case("svd_values", F.svd_values, (normal(3, 2),)),
    Case("svd_values_square", F.svd_values, (normal(3, 3),)),
    Case("svd_reduced", F.svd_reduced, (normal(3, 2),)),
    Case("svd_square", F.svd_square, (normal(3, 3),)),
    Case("svd_fields", F.svd_fields, (normal(3, 2),)),
    Case("svd_vector", F.svd_vector, (normal(3, 2),), vector=True),
    Case("qr_sum", F.qr_sum, (normal(3, 2),)),
    Case("qr_fields", F.qr_fields, (normal(3, 2),)),
    Case("qr_vector", F.qr_vector, (normal(3, 2),), vector=True),
    Case("pinv_sum", F.pinv_sum, (normal(3, 2),)),
    Case("pinv_vector", F.pinv_vector, (normal(2, 3),), vector=True),
    Case("lstsq_solution", F.lstsq_solution, (normal(3, 2), normal(3)), wrt=(0, 1)),
    Case("lstsq_matrix", F.lstsq_matrix, (normal(3, 2),)),
    Case("lstsq_vector", F.lstsq_vector, (normal(3, 2),), vector=True),
    Case("lstsq_residuals", F.lstsq_residuals, (normal(4, 2), normal(4)), wrt=(0, 1)),
    Case("lstsq_chi2_per_dof", F.lstsq_chi2_per_dof, (normal(5, 2), normal(5)), wrt=(0, 1)),
    Case("lstsq_residual_columns", F.lstsq_residual_columns, (normal(3, 2),), vector=True),
    Case("lstsq_exact_fit", F.lstsq_exact_fit, (normal(3, 3), normal(3)), wrt=(0, 1)),
    Case("solve_batched_vectors", F.solve_batched_vectors, (normal(2, 3, 3), normal(2, 3, 1)),
         wrt=(0, 1)),
    Case("solve_broadcast_vector", F.solve_broadcast_vector, (normal(2, 3, 3), normal(3)),
         wrt=(0, 1)),
    Case("svd_batched", F.svd_batched, (normal(2, 3, 2),)),
    Case("qr_batched", F.qr_batched, (normal(2, 3, 2),)),
    Case("pinv_batched", F.pinv_batched, (normal(2, 3, 2),)),
    Case("eigvalsh_batched", F.eigvalsh_batched, (normal(2, 3, 3),)),
    Case("sqrtm_batched", F.sqrtm_batched, (normal(2, 3, 3),)),
    Case("slogdet_field", F.slogdet_field, (normal(3, 3),)),
    Case("norm_vector_inf", F.norm_vector_inf, (normal(3),), hessian=True),
    Case("norm_vector_neg_inf", F.norm_vector_neg_inf, (normal(3),)),
    Case("norm_vector_1", F.norm_vector_1, (normal(3),)),
    Case("norm_vector_3", F.norm_vector_3, (normal(3),)),
    Case("norm_vector_half", F.norm_vector_half, (normal(3),)),
    Case("norm_vector_neg1", F.norm_vector_neg1, (normal(3),)),
    Case("norm_vector_2", F.norm_vector_2, (normal(3),)),
    Case("norm_matrix_nuc", F.norm_matrix_nuc, (normal(3, 3),)),
    Case("norm_matrix_2", F.norm_matrix_2, (normal(3, 3),)),
    Case("norm_matrix_neg2", F.norm_matrix_neg2, (normal(3, 3),)),
    Case("norm_matrix_1", F.norm_matrix_1, (normal(3, 3),)),
    Case("norm_matrix_neg1", F.norm_matrix_neg1, (normal(3, 3),)),
    Case("norm_matrix_inf", F.norm_matrix_inf, (normal(3, 3),)),
    Case("norm_matrix_neg_inf", F.norm_matrix_neg_inf, (normal(3, 3),)),
    Case("norm_matrix_fro", F.norm_matrix_fro, (normal(3, 3),)),
    Case("norm_rows", F.norm_rows, (normal(3, 3),), vector=True),
    Case("norm_rows_keepdims", F.norm_rows_keepdims, (normal(3, 3),)),
    Case("norm_matrix_axes", F.norm_matrix_axes, (normal(2, 3, 3),), vector=True),
    Case("norm_matrix_axes_keepdims", F.norm_matrix_axes_keepdims, (normal(2, 3, 3),)),
    Case("norm_columns_inf", F.norm_columns_inf, (normal(3, 3),), vector=True),
    Case("solve_triangular_lower", F.solve_triangular_lower,
         (triangular(3, True), normal(3)), wrt=(0, 1)),
    Case("solve_triangular_upper_trans", F.solve_triangular_upper_trans,
         (triangular(3, False), normal(3, 3)), wrt=(0, 1)),
    Case("solve_triangular_unit", F.solve_triangular_unit,
         (triangular(3, True), normal(3)), wrt=(0, 1)),
    Case("solve_triangular_vector", F.solve_triangular_vector, (triangular(3, True),),
         vector=True),
    Case("cho_solve_sum", F.cho_solve_sum, (normal(3, 3), normal(3)), wrt=(0, 1)),
    Case("cho_solve_lower", F.cho_solve_lower, (normal(3, 3), normal(3, 3)), wrt=(0, 1)),
    Case("cho_factor_itself", F.cho_factor_itself, (normal(3, 3),)),
    Case("expm_sum", F.expm_sum, (normal(3, 3),)),
    Case("expm_batched", F.expm_batched, (normal(2, 3, 3),)),
    Case("expm_vector", F.expm_vector, (normal(3, 3),), vector=True),
    Case("sqrtm_sum", F.sqrtm_sum, (normal(3, 3),)),
    Case("sqrtm_vector", F.sqrtm_vector, (normal(3, 3),), vector=True),
    Case("logsumexp_all", F.logsumexp_all, (normal(3, 3),)),
    Case("logsumexp_axis", F.logsumexp_axis, (normal(3, 3),)),
    Case("logsumexp_keepdims", F.logsumexp_keepdims, (normal(3, 3),)),
    Case("logsumexp_weights", F.logsumexp_weights, (normal(3, 3), positive(3)), wrt=(0, 1)),
    Case("logsumexp_vector", F.logsumexp_vector, (normal(3, 3),), vector=True),
    Case("softmax_axis", F.softmax_axis, (normal(3, 3),)),
    Case("softmax_all", F.softmax_all, (normal(3, 3),)),
    Case("softmax_vector", F.softmax_vector, (normal(3),), vector=True),
    Case("log_softmax_axis", F.log_softmax_axis, (normal(3, 3),)),
    Case("log_softmax_vector", F.log_softmax_vector, (normal(3),), vector=True),
]


def _grad(case: Case, mode: str = "reverse") -> Callable:
    return adc.grad(case.fn, wrt=case.wrt if len(case.wrt) > 1 else case.wrt[0], mode=mode)


def _as_list(g, case: Case) -> list:
    return list(g) if len(case.wrt) > 1 else [g]


def numeric_grad(f: Callable, args: list, k: int) -> np.ndarray:
    x = np.array(args[k], dtype=np.float64)
    out = np.zeros(x.shape + np.shape(f(*args)))
    for idx in np.ndindex(x.shape):
        h = EPS * max(1.0, abs(float(x[idx])))
        hi, lo = x.copy(), x.copy()
        hi[idx] += h
        lo[idx] -= h
        put_hi, put_lo = list(args), list(args)
        put_hi[k], put_lo[k] = hi, lo
        out[idx] = (np.asarray(f(*put_hi)) - np.asarray(f(*put_lo))) / (2 * h)
    return out


def _sqrtm_takes_stacks() -> bool:
    import scipy.linalg

    try:
        scipy.linalg.sqrtm(np.stack([np.eye(2), 4.0 * np.eye(2)]))
    except ValueError:  # SciPy before 1.16: "Non-matrix input to matrix function."
        return False
    return True


SQRTM_TAKES_STACKS = _sqrtm_takes_stacks()
CASES = [c for c in CASES if c.name != "sqrtm_batched" or SQRTM_TAKES_STACKS]
SCALAR = [c for c in CASES if not c.vector]
VECTOR = [c for c in CASES if c.vector]


@pytest.mark.skipif(SQRTM_TAKES_STACKS, reason="this SciPy's sqrtm takes stacks (tested above)")
def test_sqrtm_of_a_stack_fails_as_the_python_function_does_where_scipy_takes_none():
    x = np.random.default_rng(0).normal(size=(2, 3, 3))
    with pytest.raises(ValueError) as python_error:
        F.sqrtm_batched(x)
    with pytest.raises(ValueError) as compiled_error:
        adc.grad(F.sqrtm_batched)(x)
    assert str(python_error.value) in str(compiled_error.value)


def _ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


@pytest.mark.parametrize("case", SCALAR, ids=_ids(SCALAR))
def test_reverse_against_differences(case: Case) -> None:
    args = case.args()
    value, g = adc.value_and_grad(case.fn, wrt=case.wrt if len(case.wrt) > 1 else case.wrt[0])(
        *args)
    np.testing.assert_allclose(value, case.fn(*args), rtol=1e-13, atol=1e-13)
    for k, got in zip(case.wrt, _as_list(g, case)):
        np.testing.assert_allclose(got, numeric_grad(case.fn, args, k), rtol=case.tol,
                                   atol=case.tol)


@pytest.mark.parametrize("case", SCALAR, ids=_ids(SCALAR))
def test_forward_against_reverse(case: Case) -> None:
    args = case.args()
    forward = _as_list(_grad(case, "forward")(*args), case)
    reverse = _as_list(_grad(case)(*args), case)
    for f, r in zip(forward, reverse):
        np.testing.assert_allclose(f, r, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("case", VECTOR, ids=_ids(VECTOR))
def test_jacobian_forward_against_reverse(case: Case) -> None:
    args = case.args()
    forward = adc.jacobian(case.fn, mode="forward")(*args)
    reverse = adc.jacobian(case.fn, mode="reverse")(*args)
    np.testing.assert_allclose(forward, reverse, rtol=1e-9, atol=1e-10)
    numeric = np.moveaxis(numeric_grad(case.fn, args, 0), range(np.ndim(args[0])),
                          range(-np.ndim(args[0]), 0))
    np.testing.assert_allclose(reverse, numeric, rtol=case.tol, atol=case.tol)


@pytest.mark.parametrize("case", [c for c in SCALAR if c.hessian],
                         ids=_ids([c for c in SCALAR if c.hessian]))
def test_hessian_against_differences_of_gradient(case: Case) -> None:
    args = case.args()
    hessian = adc.hessian(case.fn)(*args)
    reverse = adc.grad(case.fn)
    numeric = numeric_grad(lambda *a: reverse(*a), args, 0)
    np.testing.assert_allclose(hessian, numeric, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in SCALAR if c.float32],
                         ids=_ids([c for c in SCALAR if c.float32]))
def test_float32(case: Case) -> None:
    args = [a.astype(np.float32) for a in case.args()]
    value, g = adc.value_and_grad(case.fn, wrt=case.wrt if len(case.wrt) > 1 else case.wrt[0])(
        *args)
    expected = case.fn(*args)
    assert np.asarray(value).dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    reference = _as_list(_grad(case)(*[a.astype(np.float64) for a in args]), case)
    for got, want in zip(_as_list(g, case), reference):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2)


# ====================================================================== refusals and kinks


@pytest.mark.parametrize("fn, shape, message", [
    (F.svd_full_wide, (2, 3), "full_matrices=False"),
    (F.qr_any, (2, 3), "at least as many rows"),
], ids=["svd_full_wide", "qr_wide"])
def test_shapes_a_rule_does_not_cover_are_refused_when_the_code_runs(fn, shape,
                                                                     message) -> None:
    x = _rng("wide").normal(size=shape)
    for mode in ("reverse", "forward"):
        with pytest.raises(ValueError, match=message):
            adc.grad(fn, mode=mode)(x)


@pytest.mark.parametrize("fn, message", [
    (F.svd_hermitian, "hermitian=True"),
    (F.qr_complete, "mode='complete'"),
    (F.logsumexp_sign, "return_sign=True"),
    (F.norm_order_from_value, "'ord' must be a constant"),
], ids=["svd_hermitian", "qr_complete", "logsumexp_sign", "norm_order_from_value"])
def test_parameters_without_a_rule_are_refused_where_they_are_written(fn, message) -> None:
    with pytest.raises(adc.ADCompileError, match=message) as info:
        adc.grad(fn)(_rng("refused").normal(size=(3, 3)))
    assert "coverage_linalg.py" in str(info.value)


def test_lstsq_singular_values_are_refused_in_reverse_mode_and_nan_forward() -> None:
    a, b = _rng("lstsq").normal(size=(4, 2)), _rng("lstsq b").normal(size=4)
    with pytest.raises(ValueError, match="not its singular values"):
        adc.grad(F.lstsq_singular_values)(a, b)
    assert np.all(np.isnan(adc.grad(F.lstsq_singular_values, mode="forward")(a, b)))


def test_lstsq_residuals_against_the_residual_written_out() -> None:
    # the residuals' gradient equals that of np.sum((b - A x) ** 2) with x the fit,
    # which differentiates through the solution alone
    a, b = _rng("lstsq written").normal(size=(6, 3)), _rng("lstsq written b").normal(size=6)
    for mode in ("reverse", "forward"):
        ours = adc.grad(F.lstsq_residuals, wrt=(0, 1), mode=mode)(a, b)
        written = adc.grad(F.lstsq_residuals_written_out, wrt=(0, 1), mode=mode)(a, b)
        for got, want in zip(ours, written):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_complex_matrices_are_refused() -> None:
    a = np.diag([1.0, 2.0, 3.0]) + 0.1j * np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 0]])
    with pytest.raises(TypeError, match="complex"):
        adc.grad(F.eigh_values_of_pair)(a)


def test_a_complex_square_root_is_refused() -> None:
    a = np.array([[1.0, 2.0], [2.0, -3.0]])  # a negative eigenvalue
    for mode in ("reverse", "forward"):
        with pytest.raises(TypeError, match="complex"):
            adc.grad(F.sqrtm_any, mode=mode)(a)


def test_repeated_eigenvalues_give_the_eigenvalues_derivative_and_nan_for_vectors() -> None:
    """At a repeated eigenvalue the eigenvalues' sum weighted by V3 has the derivative
    of the lower triangle's weights; the eigenvectors have none: nan, not a number."""
    a = np.diag([1.0, 1.0, 2.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        g = adc.grad(F.eigh_values_of_pair)(a)
        assert not np.all(np.isfinite(adc.grad(F.eigh_projector)(a)))
    assert np.all(np.isfinite(g))
    # w = (1, 1, 2): perturbing the last diagonal entry moves w[2] only
    assert g[2, 2] == pytest.approx(F.V3[2])


@pytest.mark.parametrize("name", ["along_cholesky", "along_eigh", "along_logsumexp",
                                  "along_norm", "along_solve", "along_expm"])
def test_second_derivatives_of_a_number(name: str) -> None:
    """grad of grad, the outer one forward and reverse (through eigh's tuple adjoint
    too), against central differences of the gradient."""
    f, t, h = getattr(F, name), 0.3, 1e-4
    inner = adc.grad(f)
    numeric = (inner(t + h) - inner(t - h)) / (2 * h)
    assert adc.grad(inner, mode="forward")(t) == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    assert adc.grad(inner)(t) == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_importing_ad_compiler_imports_no_scipy() -> None:
    """SciPy's functions are recognised once the user's code has imported SciPy."""
    code = "import sys, ad_compiler; print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
