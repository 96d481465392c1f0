"""Every registry entry with a derivative, checked the same four ways.

For each primitive, a function of the fixture tests/fixtures/registry_cases.py uses it
at shapes that broadcast; the test checks forward against reverse mode (the
dot-product test <J v, u> = <v, J^T u>), forward mode against central differences,
the vector-mode Jacobian against one sweep per direction, and the Hessian (forward
over reverse) against central differences of the gradient.  An entry without a case
here, or an explained exemption, fails `test_every_entry_has_a_case`.
"""
import numpy as np
import pytest
from fixtures import registry_cases as cases

import ad_compiler as adc
from ad_compiler.registry import REGISTRY
from ad_compiler.registry.core import declare_imported_libraries

# SciPy's entries are declared once SciPy is imported (the fixture imports it)
declare_imported_libraries()

# array primitives: input shape (the expression is in the fixture)
ARRAY_SHAPES = {
    "sum": (3, 2), "mean": (3, 2), "prod": (3, 2), "max": (3, 4), "min": (3, 4),
    "var": (4, 2), "std": (2, 4), "ptp": (3, 4), "cov": (3, 4), "corrcoef": (3, 4), "matmul": (2, 3), "dot": (2, 3), "outer": (3,),
    "inner": (2, 3), "einsum": (2, 3), "transpose": (2, 3), "trace": (3, 3),
    "solve": (3, 3), "inv": (3, 3), "det": (3, 3), "slogdet": (3, 3), "norm": (3, 2),
    "reshape": (2, 3), "ravel": (2, 3), "squeeze": (1, 3), "item": (1,), "expand_dims": (3,),
    "swapaxes": (2, 3), "broadcast_to": (3,), "concatenate": (2, 3), "stack_arrays": (2, 3),
    "hstack": (2, 3), "index_join": (2, 3), "hypot_n": (3,), "vstack": (2, 3), "tile": (2, 3), "repeat": (2, 3), "array": (2, 3),
    "where": (2, 3), "full": (2,), "full_like": (2,), "clip": (2, 3), "linspace": (2,),
    "arange": (2,), "dist": (2, 3), "nan_to_num": (2, 3), "select": (2, 3),
    "tensordot": (2, 3), "kron": (2, 2), "cross": (2, 3), "vdot": (2, 3),
    "matrix_power": (3, 3), "convolve": (5,), "correlate": (5,), "trapezoid": (3, 4),
    "gradient": (3, 4), "interp": (5,), "polyval": (4,), "nansum": (3, 4),
    "nanmean": (3, 4), "nanmax": (3, 4), "nanmin": (3, 4), "average": (3, 4),
    "median": (3, 4), "quantile": (3, 4), "percentile": (3, 4),
    "cholesky": (3, 3), "eigh": (3, 3), "eigvalsh": (3, 3), "svd": (3, 2), "cond": (3, 3),
    "qr": (3, 2), "pinv": (3, 2), "lstsq": (3, 2), "solve_triangular": (3, 3),
    "cho_factor": (3, 3), "cho_solve": (3, 3), "expm": (3, 3), "sqrtm": (3, 3),
    "solve_sylvester": (3, 3), "logsumexp": (3, 2), "softmax": (3, 2), "log_softmax": (3, 2),
    # scans, reorderings, diagonals, pads, sorts, gathers and splits (registry/scans.py)
    "cumsum": (3, 2), "cumprod": (3, 2), "diff": (5,), "flip": (2, 3), "fliplr": (2, 3),
    "flipud": (2, 3), "rot90": (2, 3), "roll": (2, 3), "moveaxis": (2, 3),
    "rollaxis": (2, 3), "diag": (3,), "diagonal": (3, 3), "diagflat": (2, 2),
    "triu": (3, 3), "tril": (3, 3), "append": (2, 3), "insert": (2, 3),
    "maximum_accumulate": (3, 4), "minimum_accumulate": (4, 3), "pad": (2, 3), "sort": (5,),
    "partition": (5,), "take": (2, 3), "take_along_axis": (2, 3), "split": (4,),
    "array_split": (5,), "hsplit": (2, 4), "vsplit": (4, 2), "atleast_1d": (2,),
    "atleast_2d": (3,), "atleast_3d": (2, 3),
}
ELEMENTWISE = ["add", "sub", "mul", "truediv", "pow", "mod", "neg", "pos", "copy", "float",
               "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
               "acosh", "atanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p",
               "sqrt", "cbrt", "square", "reciprocal", "abs", "erf", "erfc", "degrees",
               "radians", "atan2", "maximum", "minimum", "logaddexp", "logaddexp2", "hypot",
               "power", "xlogy",
               # scipy.special (the fixture imports it), and the math and NumPy functions
               # declared with it (registry/special.py)
               "expit", "logit", "erfinv", "erfcinv", "gamma", "gammaln", "digamma",
               "polygamma", "zeta", "beta", "betaln", "xlog1py", "entr", "ndtr", "log_ndtr",
               "ndtri", "i0", "i1", "iv", "i0e", "i1e", "ive", "j0", "j1", "jv", "y0", "y1",
               "yv", "gammainc", "gammaincc", "remainder", "fmod", "copysign", "sinc", "real",
               "imag", "conj", "fmax", "fmin", "heaviside", "float64"]
# scipy.stats methods (registry/stats.py), of a (2, 3) array and its rows
STATS = ["norm_logpdf", "norm_pdf", "norm_cdf", "norm_logcdf", "t_logpdf", "t_pdf", "t_cdf",
         "gamma_logpdf", "gamma_pdf", "gamma_cdf", "beta_logpdf", "beta_pdf", "beta_cdf",
         "poisson_logpmf", "poisson_pmf"]
CASES = {**ARRAY_SHAPES, **{name: (4, 4) for name in ELEMENTWISE},
         **{name: (2, 3) for name in STATS},
         "multivariate_normal_logpdf": (2, 3), "multivariate_normal_pdf": (2, 3),
         "dirichlet_logpdf": (3, 2), "dirichlet_pdf": (3, 2)}

# what a case cannot check, and why: {name: {"vector" | "hessian": reason}} (none today)
LIMITS: dict[str, dict[str, str]] = {}

# entries with no case of their own, and why
EXEMPT = {
    **{name: "np.sinc's derivatives, called only by derivative code: checked through the "
             "Hessian of sinc (and tests/test_coverage_special_more.py at 0)"
       for name in ("sinc_slope", "sinc_curve")},
    **{name: "x ** y's slope and curvature in x, called only by derivative code: checked "
             "through the Hessians of pow and power, and at x = 0 in tests/test_rules.py"
       for name in ("power_slope", "power_curve")},
    **{name: "piecewise constant: zero derivative (tests/test_trust_rules.py)"
       for name, p in REGISTRY.items() if p.nondiff and not p.is_helper},
    **{name: "a runtime helper: checked through the rules that emit it (reverse over "
             "reverse and Hessians of the cases above, tests/test_arrays.py)"
       for name, p in REGISTRY.items() if p.is_helper},
}


def test_every_entry_has_a_case():
    missing = sorted(set(REGISTRY) - set(CASES) - set(EXEMPT))
    assert not missing, f"registry entries without a test case: {missing}"
    assert not set(CASES) - set(REGISTRY), set(CASES) - set(REGISTRY)


def _point(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    return rng.uniform(0.2, 0.8, CASES[name])


def _central(f, x, v, h=1e-5):
    return (np.asarray(f(x + h * v)) - np.asarray(f(x - h * v))) / (2 * h)


def _limited(name, check):
    reason = LIMITS.get(name, {}).get(check)
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_reverse_and_differences(name):
    f = getattr(cases, f"f_{name}")
    x = _point(name)
    rng = np.random.default_rng(1)
    v = rng.normal(size=x.shape)
    y, jv = adc.jvp(f, (x,), (v,))
    np.testing.assert_allclose(y, f(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jv, _central(f, x, v), rtol=1e-5, atol=1e-7)
    u = rng.normal(size=np.shape(y))
    y2, pullback = adc.vjp(f, x)
    (xbar,) = pullback(u)
    np.testing.assert_allclose(y2, f(x), rtol=1e-12, atol=1e-12)
    assert np.isclose(np.sum(jv * u), np.sum(v * xbar), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", sorted(CASES))
def test_vector_mode_matches_one_sweep_per_direction(name):
    _limited(name, "vector")
    f = getattr(cases, f"f_{name}")
    x = _point(name)
    jacobian = np.asarray(adc.jacobian(f, mode="forward")(x))
    out_shape = np.shape(f(x))
    for k in range(x.size):
        direction = np.zeros(x.size)
        direction[k] = 1.0
        _, column = adc.jvp(f, (x,), (direction.reshape(x.shape),))
        flat = jacobian.reshape(int(np.prod(out_shape)), x.size)[:, k]
        np.testing.assert_allclose(flat, np.ravel(column), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hessian_matches_differences_of_the_gradient(name):
    _limited(name, "hessian")
    s = getattr(cases, f"s_{name}")
    x = _point(name)
    v = np.random.default_rng(2).normal(size=x.shape)
    hessian = np.asarray(adc.hessian(s)(x)).reshape(x.size, x.size)
    gradient = adc.grad(s)
    expected = _central(gradient, x, v, h=1e-5)
    np.testing.assert_allclose(hessian @ np.ravel(v), np.ravel(expected), rtol=1e-5, atol=1e-6)
