"""scipy.stats distributions: norm, t, gamma, beta, poisson, multivariate_normal and
dirichlet, called as users write them (tests/fixtures/stats_funcs.py).

Each case is checked for its value against SciPy's, its reverse-mode gradient against
central differences and against the derivative written out here (by sympy from the
log density, or by hand for the multivariate ones), forward mode against reverse
mode, Hessians (forward over reverse) against differences of the gradient, and
Jacobians of vector functions in both modes; then float32 and the refusals."""
from __future__ import annotations

import inspect
import re
import subprocess
import sys

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats
import sympy as sp
from support import load_fixture, load_module, numeric_grad

import ad_compiler as adc
from ad_compiler.errors import ADCompileError
from ad_compiler.export import export

F = load_fixture("stats_funcs")
rng = np.random.default_rng(23)

# ------------------------------------------------------------------ expected derivatives
# the log density of each family in sympy, in x and its parameters; sympy differentiates
# it, and the derivative of pdf = exp(logpdf) and of the cdf follow from it here

X, LOC, SCALE, DF, A, B, MU, K = sp.symbols("x loc scale df a b mu k", real=True)
Z = (X - LOC) / SCALE
LOG_DENSITY = {
    "norm": -Z**2 / 2 - sp.log(sp.sqrt(2 * sp.pi)) - sp.log(SCALE),
    "t": (sp.loggamma((DF + 1) / 2) - sp.loggamma(DF / 2) - sp.log(sp.sqrt(DF * sp.pi))
          - (DF + 1) / 2 * sp.log(1 + Z**2 / DF) - sp.log(SCALE)),
    "gamma": (A - 1) * sp.log(Z) - Z - sp.loggamma(A) - sp.log(SCALE),
    "beta": ((A - 1) * sp.log(Z) + (B - 1) * sp.log(1 - Z) + sp.loggamma(A + B)
             - sp.loggamma(A) - sp.loggamma(B) - sp.log(SCALE)),
}
SYMBOLS = {"norm": (X, LOC, SCALE), "t": (X, DF, LOC, SCALE), "gamma": (X, A, LOC, SCALE),
           "beta": (X, A, B, LOC, SCALE)}
DISTRIBUTIONS = {"norm": scipy.stats.norm, "t": scipy.stats.t, "gamma": scipy.stats.gamma,
                 "beta": scipy.stats.beta}


def _numeric(expr, symbols):
    return sp.lambdify(symbols, expr, modules=[{"loggamma": sc.gammaln}, "scipy", "numpy"])


def expected_partials(family, method, point, names):
    """d sum(method(x, *params)) / d each of `names` (parameters of the family)."""
    symbols = SYMBOLS[family]
    values = dict(zip(symbols, point))
    log_density = LOG_DENSITY[family]
    dist = DISTRIBUTIONS[family]
    pdf = dist.pdf(*point)
    out = []
    for name in names:
        symbol = sp.Symbol(name, real=True)
        if method in ("logpdf", "pdf"):
            slope = _numeric(sp.diff(log_density, symbol), symbols)(*values.values())
            term = slope if method == "logpdf" else pdf * slope
        else:  # the cdf moves with x, loc and scale through z only: dF = pdf dz * scale
            z = (point[0] - point[-2]) / point[-1]
            dz_scaled = {"x": 1.0, "loc": -1.0, "scale": -z}[name]
            term = pdf * dz_scaled
            if method == "logcdf":
                term = term / dist.cdf(*point)
        term = np.broadcast_to(term, np.broadcast(*point).shape)
        shape = np.shape(point[symbols.index(symbol)])
        out.append(_summed_to(term, shape))
    return out


def _summed_to(term, shape):
    """`term` summed over the axes its argument was broadcast along."""
    lead = term.ndim - len(shape)
    term = term.sum(axis=tuple(range(lead))) if lead else term
    axes = tuple(k for k, n in enumerate(shape) if n == 1 and term.shape[k] != 1)
    return term.sum(axis=axes, keepdims=True).reshape(shape) if axes else term.reshape(shape)


def _poisson_expected(method, k, mu):
    log_pmf = K * sp.log(MU) - MU - sp.loggamma(K + 1)
    slope = _numeric(sp.diff(log_pmf, MU), (K, MU))(k, mu)
    factor = 1.0 if method == "logpmf" else scipy.stats.poisson.pmf(k, mu)
    return [_summed_to(np.broadcast_to(factor * slope, np.broadcast(k, mu).shape),
                       np.shape(mu))]


def _mvn_expected(method, x, mean, cov):
    """By hand: with s = C^-1 (x - mean), the partials of the log density are -s, s, and
    (s s^T - C^-1)/2 in the symmetric matrix C, which SciPy reads from cov's lower
    triangle (so cov's gradient is G + G^T below the diagonal, G on it, 0 above)."""
    full = np.tril(cov) + np.tril(cov, -1).T
    inverse = np.linalg.inv(full)
    points = np.atleast_2d(x)
    s = (points - mean) @ inverse
    weight = np.ones(len(points))
    if method == "pdf":
        weight = np.atleast_1d(scipy.stats.multivariate_normal.pdf(points, mean, full))
    g = 0.5 * (s.T @ (weight[:, None] * s) - weight.sum() * inverse)
    cov_bar = np.tril(g) + np.tril(g.T, -1)
    return [(-weight[:, None] * s).reshape(np.shape(x)), (weight[:, None] * s).sum(axis=0),
            cov_bar]


def _dirichlet_expected(method, x, alpha):
    """By hand: d/d alpha_i = log x_i - digamma(alpha_i) + digamma(sum alpha), per point."""
    column = alpha.reshape((-1,) + (1,) * (x.ndim - 1))
    slope = np.log(x) - sc.digamma(column) + sc.digamma(alpha.sum())
    weight = scipy.stats.dirichlet.pdf(x, alpha) if method == "pdf" else 1.0
    return [(weight * slope).reshape(len(alpha), -1).sum(axis=1)]


# ------------------------------------------------------------------ cases

X4 = np.array([0.35, -0.8, 1.2, 0.55])
UNIT4 = np.array([0.15, 0.4, 0.62, 0.83])
POSITIVE4 = np.array([0.4, 1.1, 2.3, 3.7])
COLUMN = np.array([[0.2], [-0.3], [0.5]])  # parameters broadcast against x: (3, 4)

# (id, fixture function, arguments, expected gradient in every argument)
ELEMENTWISE = [
    ("norm_logpdf", F.norm_logpdf, (X4, 0.3, 1.4), ("norm", "logpdf")),
    ("norm_logpdf_frozen", F.norm_logpdf_frozen, (X4, 0.3, 1.4), ("norm", "logpdf")),
    ("norm_logpdf_frozen_assigned", F.norm_logpdf_frozen_assigned, (X4, 0.3, 1.4),
     ("norm", "logpdf")),
    ("t_logpdf_frozen", F.t_logpdf_frozen, (X4, 3.5, 0.2, 1.3), ("t", "logpdf")),
    ("norm_logpdf_broadcast", F.norm_logpdf, (X4, COLUMN, 1.4 + COLUMN), ("norm", "logpdf")),
    ("norm_pdf", F.norm_pdf, (X4, 0.3, 1.4), ("norm", "pdf")),
    ("norm_pdf_broadcast", F.norm_pdf, (X4, COLUMN, 1.2), ("norm", "pdf")),
    ("norm_cdf", F.norm_cdf, (X4, 0.3, 1.4), ("norm", "cdf")),
    ("norm_logcdf", F.norm_logcdf, (X4 - 2.0, 0.3, 1.4), ("norm", "logcdf")),
    ("t_logpdf", F.t_logpdf, (X4, 3.5, 0.2, 1.3), ("t", "logpdf")),
    ("t_logpdf_broadcast", F.t_logpdf, (X4, 3.0 + COLUMN, COLUMN, 1.3), ("t", "logpdf")),
    ("t_pdf", F.t_pdf, (X4, 2.5, -0.1, 0.9), ("t", "pdf")),
    ("gamma_logpdf", F.gamma_logpdf, (POSITIVE4, 2.5, 0.1, 1.3), ("gamma", "logpdf")),
    ("gamma_logpdf_broadcast", F.gamma_logpdf, (POSITIVE4, 2.0 + COLUMN, 0.1, 1.3 + COLUMN),
     ("gamma", "logpdf")),
    ("gamma_pdf", F.gamma_pdf, (POSITIVE4, 1.7, 0.2, 0.8), ("gamma", "pdf")),
    ("beta_logpdf", F.beta_logpdf, (UNIT4, 2.5, 1.5, 0.05, 0.9), ("beta", "logpdf")),
    ("beta_pdf", F.beta_pdf, (UNIT4, 2.5, 3.5, -0.05, 1.1), ("beta", "pdf")),
]
# cdfs with shape parameters fixed in the fixture (their derivative in them is refused)
FIXED_SHAPES = [
    ("t_cdf", F.t_cdf, (X4, 0.2, 1.3), ("t", "cdf", (3.5,))),
    ("gamma_cdf", F.gamma_cdf, (POSITIVE4, 0.1, 1.3), ("gamma", "cdf", (2.5,))),
    ("beta_cdf", F.beta_cdf, (UNIT4, 0.05, 0.9), ("beta", "cdf", (2.0, 3.0))),
]
COV = np.array([[2.0, 0.3, -0.2], [0.3, 1.5, 0.4], [-0.2, 0.4, 1.2]])
LOPSIDED = COV + np.triu(np.full((3, 3), 0.7), 1)  # SciPy reads only the lower triangle
POINTS = rng.normal(size=(4, 3))
SIMPLEX = np.array([[0.2, 0.5], [0.3, 0.1], [0.5, 0.4]])
ALPHA = np.array([1.5, 2.0, 3.0])
MULTIVARIATE = [
    ("mvn_logpdf_points", F.mvn_logpdf, (POINTS, np.array([0.1, -0.2, 0.3]), COV), "logpdf"),
    ("mvn_logpdf_point", F.mvn_logpdf, (POINTS[0], np.array([0.1, -0.2, 0.3]), COV), "logpdf"),
    ("mvn_logpdf_lower_triangle", F.mvn_logpdf, (POINTS, np.zeros(3), LOPSIDED), "logpdf"),
    ("mvn_logpdf_frozen", F.mvn_logpdf_frozen, (POINTS, np.array([0.1, -0.2, 0.3]), COV),
     "logpdf"),
    ("mvn_pdf", F.mvn_pdf, (0.5 * POINTS, np.array([0.1, -0.2, 0.3]), COV), "pdf"),
]


def _all(n):
    return tuple(range(n))


def _case_ids(cases):
    return [c[0] for c in cases]


def _expected(spec, args):
    family, method, *fixed = spec
    if fixed:  # x, loc, scale given; the shapes are the fixture's
        point = (args[0], *fixed[0], *args[1:])
        return expected_partials(family, method, point, ("x", "loc", "scale"))
    names = [s.name for s in SYMBOLS[family]]
    return expected_partials(family, method, args, names)


ALL = [(i, f, a, lambda a, s=s: _expected(s, a)) for i, f, a, s in ELEMENTWISE + FIXED_SHAPES]
ALL += [(i, f, a, lambda a, m=m: _mvn_expected(m, *a)) for i, f, a, m in MULTIVARIATE]
ALL += [
    ("poisson_logpmf", F.poisson_logpmf, (2.3,),
     lambda a: _poisson_expected("logpmf", F.COUNTS, *a)),
    ("poisson_pmf", F.poisson_pmf, (np.array([1.5, 2.3, 0.7, 4.0]),),
     lambda a: _poisson_expected("pmf", F.COUNTS, *a)),
]


@pytest.mark.parametrize(("case", "f", "args", "expected"), ALL, ids=_case_ids(ALL))
def test_value_and_reverse_gradient(case, f, args, expected):
    wrt = _all(len(args))
    value, grads = adc.value_and_grad(f, wrt=wrt)(*args)
    assert value == f(*args)  # SciPy's own call
    grads = grads if isinstance(grads, tuple) else (grads,)
    for k, (got, want) in enumerate(zip(grads, expected(args))):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"argument {k}")
        np.testing.assert_allclose(got, numeric_grad(f, list(args), k), rtol=1e-6, atol=1e-8,
                                   err_msg=f"argument {k}")


@pytest.mark.parametrize(("case", "f", "args", "expected"), ALL, ids=_case_ids(ALL))
def test_forward_matches_reverse(case, f, args, expected):
    wrt = _all(len(args))
    reverse = adc.grad(f, wrt=wrt)(*args)
    forward = adc.grad(f, wrt=wrt, mode="forward")(*args)
    for got, want in zip(np.atleast_1d(forward) if len(args) == 1 else forward,
                         np.atleast_1d(reverse) if len(args) == 1 else reverse):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(("case", "f", "args", "expected"), ALL, ids=_case_ids(ALL))
def test_hessian_matches_differences_of_the_gradient(case, f, args, expected):
    for k in _all(len(args)):
        x = np.asarray(args[k], dtype=float)
        v = rng.normal(size=x.shape)
        hessian = np.asarray(adc.hessian(f, wrt=k)(*args)).reshape(x.size, x.size)
        gradient = adc.grad(f, wrt=k)
        h = 1e-5

        def moved(step, k=k, x=x, v=v, gradient=gradient):
            put = list(args)
            put[k] = x + step * v if x.ndim else float(x + step * v)
            return np.asarray(gradient(*put))

        expected_change = (moved(h) - moved(-h)) / (2 * h)
        np.testing.assert_allclose(hessian @ np.ravel(v), np.ravel(expected_change),
                                   rtol=1e-5, atol=1e-6, err_msg=f"argument {k}")


# ------------------------------------------------------------------ dirichlet
# x lives on the simplex (SciPy refuses other points), so its gradient is checked along
# directions that stay there; in alpha, against differences and the formula


@pytest.mark.parametrize("method", ["logpdf", "pdf"])
@pytest.mark.parametrize("x", [SIMPLEX, SIMPLEX[:, 0]], ids=["points", "point"])
def test_dirichlet(method, x):
    f = F.dirichlet_logpdf if method == "logpdf" else F.dirichlet_pdf
    value, (x_bar, alpha_bar) = adc.value_and_grad(f, wrt=(0, 1))(x, ALPHA)
    assert value == f(x, ALPHA)
    np.testing.assert_allclose(alpha_bar, _dirichlet_expected(method, x, ALPHA)[0], rtol=1e-10)
    np.testing.assert_allclose(alpha_bar, numeric_grad(f, [x, ALPHA], 1), rtol=1e-6)
    along = np.zeros_like(x)
    along[0], along[2] = 1.0, -1.0  # moves mass between components: the sum stays 1
    h = 1e-6
    moved = (f(x + h * along, ALPHA) - f(x - h * along, ALPHA)) / (2 * h)
    np.testing.assert_allclose(np.sum(x_bar * along), moved, rtol=1e-6)
    forward = adc.grad(f, wrt=(0, 1), mode="forward")(x, ALPHA)
    np.testing.assert_allclose(forward[0], x_bar, rtol=1e-10)
    np.testing.assert_allclose(forward[1], alpha_bar, rtol=1e-10)
    hessian = np.asarray(adc.hessian(f, wrt=1)(x, ALPHA))
    v = rng.normal(size=3)
    gradient = adc.grad(f, wrt=1)
    change = (gradient(x, ALPHA + 1e-5 * v) - gradient(x, ALPHA - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(hessian @ v, change, rtol=1e-5, atol=1e-7)


def test_dirichlet_without_the_last_component_is_refused_clearly():
    with pytest.raises(ValueError, match="all 3 components"):
        adc.grad(F.dirichlet_logpdf, wrt=1)(SIMPLEX[:2], ALPHA)


# ------------------------------------------------------------------ Jacobians


VECTOR = [
    ("norm_logpdf", F.norm_logpdf_vec, X4, lambda x: -(x - 0.3) / 1.7**2),
    ("t_pdf", F.t_pdf_vec, X4,
     lambda x: scipy.stats.t.pdf(x, 4.0, scale=1.5) * -5.0 * (x / 1.5) / (1.5 * (4.0 + (x / 1.5)**2))),
    ("gamma_cdf", F.gamma_cdf_vec, POSITIVE4, lambda x: scipy.stats.gamma.pdf(x, 2.5, scale=1.5)),
    ("mvn_logpdf", F.mvn_logpdf_vec, POINTS, None),
    ("dirichlet_logpdf", F.dirichlet_logpdf_vec, ALPHA, None),
]


@pytest.mark.parametrize(("case", "f", "x", "diagonal"), VECTOR, ids=[c[0] for c in VECTOR])
def test_jacobian_forward_matches_reverse(case, f, x, diagonal):
    forward = np.asarray(adc.jacobian(f, mode="forward")(x))
    reverse = np.asarray(adc.jacobian(f, mode="reverse")(x))
    np.testing.assert_allclose(forward, reverse, rtol=1e-10, atol=1e-13)
    y = np.asarray(f(x))
    assert forward.shape == y.shape + x.shape
    for j in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[j] = 1e-6
        column = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / 2e-6
        np.testing.assert_allclose(forward[(Ellipsis, *j)], column, rtol=1e-6, atol=1e-8)
    if diagonal is not None:
        np.testing.assert_allclose(forward, np.diag(diagonal(x)), rtol=1e-10, atol=1e-13)


# ------------------------------------------------------------------ float32


def test_float32_values_are_scipys_and_gradients_keep_the_input_dtype():
    x = X4.astype(np.float32)
    value, (x_bar, mu_bar) = adc.value_and_grad(F.norm_pdf, wrt=(0, 1))(x, 0.3, 1.4)
    assert value == F.norm_pdf(x, 0.3, 1.4)
    assert np.asarray(value).dtype == np.asarray(F.norm_pdf(x, 0.3, 1.4)).dtype  # float64
    assert x_bar.dtype == np.float32
    expected = expected_partials("norm", "pdf", (x.astype(float), 0.3, 1.4), ("x", "loc"))
    np.testing.assert_allclose(x_bar, expected[0], rtol=1e-6)
    np.testing.assert_allclose(mu_bar, expected[1], rtol=1e-6)


# ------------------------------------------------------------------ spellings and code


def test_every_spelling_gives_the_same_gradient():
    args = (X4, 0.3, 1.4)
    by_keyword = adc.grad(F.norm_logpdf, wrt=(0, 1, 2))(*args)
    by_position = adc.grad(F.norm_logpdf_positional, wrt=(0, 1, 2))(*args)
    for a, b in zip(by_keyword, by_position):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    standard = adc.grad(F.norm_logpdf_standard)(X4)
    np.testing.assert_allclose(standard, -X4, rtol=1e-14)


def test_generated_code_calls_scipy_as_the_user_spelled_it():
    gradient = adc.grad(F.t_pdf, wrt=(0, 1))
    gradient(X4, 2.5, 0.1, 1.2)
    assert "st.t.pdf(x, df" in gradient.source
    assert "special.psi" in gradient.source or "special.digamma" in gradient.source


def test_a_gradient_is_reused_although_the_bound_method_is_new_on_every_access():
    first = adc.grad(F.t_pdf, wrt=(0, 1))
    assert adc.grad(F.t_pdf, wrt=(0, 1)) is first


# ------------------------------------------------------------------ refusals

REFUSED = [
    (F.t_cdf_df, (X4, 3.0), 1, "degrees of freedom"),
    (F.gamma_cdf_a, (POSITIVE4, 2.0), 1, "shape a"),
    (F.beta_cdf_b, (UNIT4, 2.0), 1, "shapes a and b"),
    (F.poisson_count, (np.array([1.0, 2.0]), 2.0), 0, "count k"),
    (F.norm_sf_frozen, (X4, 0.1), 0, "frozen 'norm' distribution has no derivative rule"),
    (F.norm_frozen_in_branches, (X4, 0.1), 1, "made differently on the two paths"),
    (F.norm_frozen_passed_on, (X4, 0.1), 1, "only its methods with a rule can be called"),
    (F.norm_logpdf_frozen_twice, (X4, 0.1, 1.2), 1, "given both to the distribution"),
    (F.norm_sf, (X4, 0.1), 0, "norm.sf"),
]


@pytest.mark.parametrize(("f", "args", "wrt", "message"), REFUSED,
                         ids=[r[0].__name__ for r in REFUSED])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_refused_at_the_users_line(f, args, wrt, message, mode):
    with pytest.raises(ADCompileError) as caught:
        adc.grad(f, wrt=wrt, mode=mode)(*args)
    text = str(caught.value)
    assert message in text
    assert re.search(r'stats_funcs\.py", line \d+, column \d+', text)
    line = next(k for k, text in enumerate(inspect.getsourcelines(f)[0]) if "# ERR" in text) \
        if "# ERR" in inspect.getsource(f) else None
    if line is not None:
        assert f'line {f.__code__.co_firstlineno + line},' in text
    else:
        assert "return np.sum(" in text


def test_frozen_distributions_kept_in_variables():
    """A mixture whose components are frozen distributions in variables: the gradient in
    the weight and both locations against central differences, forward against reverse,
    and the Hessian in the locations against differences of the gradient."""
    x, weight, mu = X4, 0.3, np.array([0.2, -0.4])
    value, (g_weight, g_mu) = adc.value_and_grad(F.mixture_nll_frozen, wrt=(1, 2))(x, weight, mu)
    assert value == F.mixture_nll_frozen(x, weight, mu)
    assert g_weight == pytest.approx(numeric_grad(F.mixture_nll_frozen, [x, weight, mu], 1),
                                     rel=1e-7)
    np.testing.assert_allclose(g_mu, numeric_grad(F.mixture_nll_frozen, [x, weight, mu], 2),
                               rtol=1e-7)
    forward = adc.grad(F.mixture_nll_frozen, wrt=(1, 2), mode="forward")(x, weight, mu)
    assert forward[0] == pytest.approx(g_weight, rel=1e-12)
    np.testing.assert_allclose(forward[1], g_mu, rtol=1e-12)
    hessian = adc.hessian(F.mixture_nll_frozen, wrt=2)(x, weight, mu)
    h = 1e-5
    by_differences = np.stack([
        (adc.grad(F.mixture_nll_frozen, wrt=2)(x, weight, mu + h * e)
         - adc.grad(F.mixture_nll_frozen, wrt=2)(x, weight, mu - h * e)) / (2 * h)
        for e in np.eye(2)])
    np.testing.assert_allclose(hessian, by_differences, rtol=1e-6, atol=1e-8)
    # one frozen distribution, two methods: d(logcdf + cdf)/dmu = -(pdf/cdf + pdf)
    pdf, cdf = scipy.stats.norm.pdf(x, 0.25), scipy.stats.norm.cdf(x, 0.25)
    assert adc.grad(F.norm_tail_frozen, wrt=1)(x, 0.25) == pytest.approx(
        -np.sum(pdf / cdf + pdf), rel=1e-10)


def test_refused_parameters_can_be_constants():
    np.testing.assert_allclose(adc.grad(F.t_cdf_df)(X4, 3.0), scipy.stats.t.pdf(X4, 3.0),
                               rtol=1e-10)
    np.testing.assert_allclose(adc.grad(F.poisson_count, wrt=1)(np.array([1.0, 4.0]), 2.0),
                               np.sum(np.array([1.0, 4.0]) / 2.0 - 1.0), rtol=1e-12)


def test_importing_the_compiler_does_not_import_scipy():
    code = "import sys, ad_compiler; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"



def test_a_users_rule_for_a_method_without_one_is_found_on_every_access():
    """stats.norm.logsf is a new bound method each time it is read: the rule registered
    for one of them applies to the call spelled in the function."""
    def logsf_vjp(ans, x, mu):
        hazard = np.exp(scipy.stats.norm.logpdf(x, mu) - ans)
        return lambda g: -g * hazard

    adc.defvjp(scipy.stats.norm.logsf, logsf_vjp, None)
    x = np.array([0.2, -0.4, 1.1])
    gradient = adc.grad(F.norm_logsf)(x, 0.3)
    np.testing.assert_allclose(gradient, numeric_grad(F.norm_logsf, [x, 0.3], 0), rtol=1e-6)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_numbers_in_and_out(mode):
    x, mu, s = 0.7, 0.2, 1.3
    gradient = adc.grad(F.norm_logpdf_scalar_x, wrt=(0, 1, 2), mode=mode)(x, mu, s)
    logpdf = -((x - mu) / s) ** 2 / 2 - np.log(np.sqrt(2 * np.pi) * s)
    expected = (logpdf - x * (x - mu) / s**2, x * (x - mu) / s**2,
                x * ((x - mu) ** 2 / s**3 - 1 / s))
    np.testing.assert_allclose(gradient, expected, rtol=1e-12)
    assert adc.hessian(F.norm_logpdf_scalar_x)(x, mu, s) == pytest.approx(
        -2 * (x - mu) / s**2 - x / s**2, rel=1e-12)


OUTSIDE = [
    ("gamma_pdf", F.gamma_pdf, (np.array([-0.5, 0.05, 1.3, 2.0]), 2.5, 0.1, 1.3)),
    ("gamma_cdf", F.gamma_cdf, (np.array([-0.5, 0.05, 1.3, 2.0]), 0.1, 1.3)),
    ("beta_pdf", F.beta_pdf, (np.array([-0.3, 0.4, 0.7, 1.6]), 2.5, 3.5, -0.05, 1.1)),
    ("beta_cdf", F.beta_cdf, (np.array([-0.3, 0.4, 0.7, 1.6]), 0.05, 0.9)),
]


@pytest.mark.parametrize(("case", "f", "args"), OUTSIDE, ids=[c[0] for c in OUTSIDE])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_outside_the_support_the_derivative_is_zero(case, f, args, mode):
    """pdf and cdf are constant outside the support (0, or 1 past it): their derivative
    there is 0, and it is computed without invalid logarithms (warnings are errors)."""
    grads = adc.grad(f, wrt=_all(len(args)), mode=mode)(*args)
    assert grads[0][0] == 0.0  # below the support
    if case.startswith("beta"):
        assert grads[0][-1] == 0.0  # above it
    for k, got in enumerate(grads):
        np.testing.assert_allclose(got, numeric_grad(f, list(args), k), rtol=1e-6, atol=1e-9)


def test_a_cdf_differentiates_to_scipys_pdf():
    gradient = adc.grad(F.gamma_cdf)
    np.testing.assert_allclose(gradient(POSITIVE4, 0.1, 1.3),
                               scipy.stats.gamma.pdf(POSITIVE4, 2.5, 0.1, 1.3), rtol=1e-14)
    assert "gamma_dist.pdf(x, 2.5" in gradient.source  # the module's name for it


@pytest.mark.parametrize("case", ["mvn_logpdf", "t_cdf"])
def test_exported_gradients_run_without_the_compiler(case, tmp_path):
    """The exported module copies runtime_stats' helpers and names np.linalg.inv."""
    f, args = {"mvn_logpdf": (F.mvn_logpdf, (POINTS, np.array([0.1, -0.2, 0.3]), COV)),
               "t_cdf": (F.t_cdf, (X4, 0.2, 1.3))}[case]
    gradient = adc.grad(f, wrt=_all(len(args)))
    path = tmp_path / f"exported_{case}.py"
    path.write_text(export(f, [gradient]), encoding="utf-8")
    exported = getattr(load_module(path, f"exported_{case}"), f"{case}_grad")
    for got, want in zip(exported(*args), gradient(*args)):
        np.testing.assert_array_equal(got, want)


def test_derivative_code_reaches_scipy_stats_through_import_scipy():
    """logcdf's derivative calls norm.logpdf, which the module names scipy.stats.norm."""
    only = load_fixture("stats_scipy_only")
    x = np.array([0.3, -2.0, 1.1])
    gradient = adc.grad(only.norm_logcdf, wrt=(0, 1))
    x_bar, mu_bar = gradient(x, 0.2)
    ratio = np.exp(scipy.stats.norm.logpdf(x, 0.2) - scipy.stats.norm.logcdf(x, 0.2))
    np.testing.assert_allclose(x_bar, ratio, rtol=1e-14)
    np.testing.assert_allclose(mu_bar, -np.sum(ratio), rtol=1e-14)
    assert "scipy.stats.norm.logpdf(x" in gradient.source
