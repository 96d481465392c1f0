"""NumPy's products, statistics and signal functions: each case a user function,
checked in reverse mode against central differences, forward mode against reverse
mode, Jacobians in both modes, Hessians (forward over reverse) against differences of
the gradient, values against NumPy's, and float32 where NumPy keeps it."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from support import load_fixture, numeric_grad

import ad_compiler as adc
from ad_compiler.errors import ADCompileError

F = load_fixture("npmath")
rng = np.random.default_rng(12)


def _arr(*shape, low=-1.5, high=1.5):
    return rng.uniform(low, high, size=shape)


def _distinct(n):
    """Values far apart from each other (no ties among sorted ranks)."""
    return rng.permutation(np.linspace(-2.0, 2.0, n)) + rng.uniform(-0.05, 0.05, n)


POSITIVE_WITH_NAN = np.array([0.8, np.nan, 1.7, 0.4, 2.3])
NAN_ROWS = np.array([[0.8, np.nan, 1.7, 0.4], [2.3, 1.1, np.nan, 0.6]])

# (id, scalar function, its arguments, vector function of one array, its argument)
CASES = [
    ("tensordot_int", F.tensordot_int, (_arr(3, 2), _arr(2, 4)), F.tensordot_vec, _arr(2, 3)),
    ("tensordot_pairs", F.tensordot_pairs, (_arr(3, 2), _arr(2, 3, 4)), None, None),
    ("kron", F.kron_sum, (_arr(2, 2), _arr(3, 2)), F.kron_vec, _arr(3)),
    ("cross", F.cross_3, (_arr(3), _arr(4, 3)), F.cross_vec, _arr(3)),
    ("cross_axis", F.cross_batched, (_arr(3, 2), _arr(3, 2)), None, None),
    ("vdot", F.vdot_sum, (_arr(2, 3), _arr(6)), F.vdot_vec, _arr(2, 3)),
    ("matrix_power", F.matrix_power_3, (_arr(3, 3),), F.matrix_power_vec, _arr(3, 3)),
    ("matrix_power_negative", F.matrix_power_neg, (np.eye(3) * 2.0 + _arr(3, 3) * 0.3,),
     None, None),
    ("convolve_full", F.convolve_full, (_arr(5), _arr(3)), F.convolve_vec, _arr(5)),
    ("convolve_same", F.convolve_same, (_arr(5), _arr(4)), None, None),
    ("convolve_valid", F.convolve_valid, (_arr(5), _arr(3)), None, None),
    ("convolve_short_first", F.convolve_same, (_arr(2), _arr(5)), None, None),
    ("correlate_valid", F.correlate_valid, (_arr(5), _arr(3)), F.correlate_vec, _arr(5)),
    ("correlate_full", F.correlate_full, (_arr(4), _arr(4)), None, None),
    ("correlate_same", F.correlate_same, (_arr(4), _arr(5)), None, None),
    ("trapezoid_x", F.trapezoid_x, (_arr(5), np.sort(_arr(5))), F.trapezoid_vec, _arr(3, 4)),
    ("trapezoid_dx", F.trapezoid_dx, (_arr(6), 0.37), None, None),
    ("trapezoid_axis", F.trapezoid_axis, (_arr(3, 4),), None, None),
    # coordinates of one row each, broadcast against a single row of values
    ("trapezoid_grid", F.trapezoid_grid, (_arr(4), np.sort(_arr(3, 4), axis=1)), None, None),
    ("gradient", F.gradient_1d, (_arr(5),), F.gradient_vec, _arr(5)),
    ("gradient_spacing", F.gradient_spacing, (_arr(5),), None, None),
    ("gradient_coordinates", F.gradient_coordinates, (_arr(5),), None, None),
    ("gradient_axis", F.gradient_axis, (_arr(3, 4),), None, None),
    ("gradient_all_axes", F.gradient_all_axes, (_arr(3, 4),), None, None),
    ("median", F.median_odd, (_distinct(5),), F.median_vec, _distinct(3)),
    ("median_axis", F.median_axis, (_distinct(12).reshape(4, 3).T.copy() + 3.0,), None, None),
    ("quantile", F.quantile_many, (_distinct(6),), F.quantile_vec, _distinct(5)),
    ("percentile", F.percentile_axis, (_distinct(12).reshape(3, 4),), None, None),
    ("nansum", F.nansum_f, (POSITIVE_WITH_NAN,), F.nansum_vec, np.array([0.5, np.nan, 1.5])),
    ("nanmean", F.nanmean_f, (NAN_ROWS,), None, None),
    ("nanmax", F.nanmax_f, (POSITIVE_WITH_NAN,), None, None),
    ("nanmin_axis", F.nanmin_axis, (NAN_ROWS,), None, None),
    ("average", F.average_weights, (_arr(2, 3), rng.uniform(0.5, 2.0, (2, 3))),
     F.average_vec, rng.uniform(0.5, 2.0, 4)),
    ("average_axis", F.average_axis, (_arr(3, 4), rng.uniform(0.5, 2.0, 4)), None, None),
    ("average_plain", F.average_plain, (_arr(3, 4),), None, None),
    # query points inside segments, left of the first knot and right of the last
    ("interp", F.interp_both, (np.array([0.25, 1.3, 2.2]), _arr(5)), F.interp_vec, _arr(5)),
    ("interp_left_right", F.interp_left_right, (np.array([-0.5, 0.7, 1.9, 3.1]), _arr(5)),
     F.interp_x_vec, np.array([-0.2, 0.5, 1.2, 2.0, 2.9])),
    ("polyval", F.polyval_both, (_arr(4), _arr(3)), F.polyval_vec, _arr(3)),
    ("polyval_scalar", F.polyval_scalar, (_arr(5), 0.7), None, None),
    ("einsum_ellipsis", F.einsum_ellipsis, (_arr(2, 2, 3), _arr(2, 3, 2)),
     F.einsum_ellipsis_vec, _arr(2, 2, 3)),
    # '...' broadcasts b's missing axis: its adjoint is summed back
    ("einsum_ellipsis_broadcast", F.einsum_ellipsis_broadcast, (_arr(3, 4), _arr(4)),
     None, None),
]
IDS = [c[0] for c in CASES]
VECTOR_CASES = [c for c in CASES if c[3] is not None]


def _finite_grad(f, args, k):
    """Central differences; a nan input stays nan and its derivative is taken as zero."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = numeric_grad(f, list(args), k)
    return np.where(np.isnan(args[k]), 0.0, out) if np.ndim(args[k]) else out


def _wrt(args):
    return tuple(range(len(args)))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_value_and_reverse_gradient_match_numpy_and_differences(case):
    _, f, args, _, _ = case
    value, grads = adc.value_and_grad(f, wrt=_wrt(args))(*args)
    assert value == f(*args)
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, _finite_grad(f, args, k), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_gradient_matches_reverse(case):
    _, f, args, _, _ = case
    reverse = adc.grad(f, wrt=_wrt(args))(*args)
    forward = adc.grad(f, wrt=_wrt(args), mode="forward")(*args)
    for r, fw in zip(reverse, forward):
        np.testing.assert_allclose(fw, r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", VECTOR_CASES, ids=[c[0] for c in VECTOR_CASES])
def test_jacobian_forward_matches_reverse_and_differences(case):
    _, _, _, g, x = case
    forward = adc.jacobian(g, mode="forward")(x)
    reverse = adc.jacobian(g, mode="reverse")(x)
    np.testing.assert_allclose(forward, reverse, rtol=1e-10, atol=1e-12)
    y = g(x)
    weights = np.linspace(0.3, 1.7, np.size(y)).reshape(np.shape(y))
    row = _finite_grad(lambda v: np.sum(g(v) * weights), [x], 0)
    expected = np.tensordot(weights, forward, axes=np.ndim(y))
    np.testing.assert_allclose(expected, row, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hessian_matches_differences_of_the_gradient(case):
    _, f, args, _, _ = case
    hessian = adc.hessian(f, wrt=0)(*args)
    gradient = adc.grad(f, wrt=0)
    x = np.asarray(args[0], dtype=float)
    expected = np.zeros(np.shape(x) * 2)
    for j in np.ndindex(np.shape(x)):
        if np.isnan(x[j]):
            continue
        step = np.zeros_like(x)
        step[j] = 1e-6
        hi = gradient(*([x + step] + list(args[1:])))
        lo = gradient(*([x - step] + list(args[1:])))
        expected[(Ellipsis, *j)] = np.nan_to_num((hi - lo) / 2e-6)
    np.testing.assert_allclose(np.nan_to_num(hessian), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reverse_over_reverse_matches_differences_of_the_gradient(case):
    """The reverse-mode gradient differentiated in reverse mode again (a Hessian-vector
    product from adc.vjp of adc.grad) against central differences of the gradient."""
    name, f, args, _, _ = case
    gradient = adc.grad(f, wrt=0)
    x = np.asarray(args[0], dtype=float)
    v = np.where(np.isnan(x), 0.0, np.linspace(0.2, 1.1, x.size).reshape(x.shape))
    _, pullback = adc.vjp(gradient, *args)
    product = pullback(v)[0]
    rest = list(args[1:])
    hi, lo = gradient(x + 1e-6 * v, *rest), gradient(x - 1e-6 * v, *rest)
    expected = np.nan_to_num((hi - lo) / 2e-6)  # the Hessian is symmetric
    np.testing.assert_allclose(np.nan_to_num(product), expected, rtol=1e-5, atol=1e-6)


FLOAT32 = ["tensordot_int", "kron", "cross", "vdot", "matrix_power", "convolve_same",
           "correlate_valid", "trapezoid_dx", "gradient_spacing", "median", "quantile",
           "nansum", "nanmax", "average_axis", "polyval"]


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in FLOAT32], ids=FLOAT32)
def test_float32_values_and_gradients_keep_numpys_dtype(case):
    _, f, args, _, _ = case
    args32 = [np.asarray(a, dtype=np.float32) for a in args]
    value, grads = adc.value_and_grad(f, wrt=_wrt(args))(*args32)
    expected = f(*args32)
    assert np.asarray(value).dtype == np.asarray(expected).dtype
    assert value == expected
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, _finite_grad(f, args, k), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn, args, message", [
    (F.quantile_q_refused, (_distinct(5), 0.3), "probability"),
    (F.interp_xp_refused, (np.array([0.3, 1.2]), F.XS.copy()), "sample points xp"),
    (F.gradient_spacing_refused, (_arr(5), 0.3), "spacing"),
    (F.average_returned, (_arr(4), rng.uniform(0.5, 2.0, 4)), "returned=True"),
    (F.matrix_power_varied_n, (_arr(3, 3), 2), "'n' must be a constant"),
])
def test_refused_at_the_users_line(fn, args, message, mode):
    wrt = _wrt(args) if fn is not F.matrix_power_varied_n else 0
    with pytest.raises(ADCompileError, match=message) as info:
        adc.grad(fn, wrt=wrt, mode=mode)(*args)
    assert "npmath.py" in str(info.value)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_interp_with_only_the_sample_points_differentiated_is_refused(mode):
    with pytest.raises(ADCompileError, match="sample points xp") as info:
        adc.grad(F.interp_xp_refused, wrt=1, mode=mode)(np.array([0.3, 1.2]), F.XS.copy())
    assert "np.interp(x, xp, W5)" in str(info.value)


def test_einsum_with_a_repeated_index_is_refused_in_reverse_mode_and_works_forward():
    A = _arr(3, 3)
    with pytest.raises(ADCompileError, match="repeated in one operand") as info:
        adc.grad(F.einsum_repeated_index)(A)
    assert "npmath.py" in str(info.value)
    np.testing.assert_allclose(adc.grad(F.einsum_repeated_index, mode="forward")(A),
                               np.diag(F.W3))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_interp_at_a_knot_takes_the_slope_of_the_segment_to_its_right(mode):
    """At a knot np.interp has two one-sided derivatives: the rule gives the right one,
    and at the last knot the left one (the right one is zero: the value is constant)."""
    fp = np.array([1.0, 2.0, 4.5, 3.0, 6.0])
    x = np.array([F.XS[0], F.XS[2], F.XS[4]])
    slopes = np.diff(fp) / np.diff(F.XS)
    y = fp[[0, 2, 4]]
    expected = 2.0 * y * np.array([slopes[0], slopes[2], slopes[3]]) * F.W3
    np.testing.assert_allclose(adc.grad(F.interp_both, mode=mode)(x, fp), expected)


@pytest.mark.skipif(not hasattr(np, "trapz"), reason="this NumPy has no np.trapz")
def test_np_trapz_where_numpy_still_has_it():
    y = _arr(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        np.testing.assert_allclose(adc.grad(F.trapz_old_name)(y),
                                   _finite_grad(F.trapz_old_name, [y], 0), rtol=1e-6)


def test_gradient_with_several_spacings_is_refused_when_lowered():
    with pytest.raises(ADCompileError, match="at most 2 positional"):
        adc.grad(F.gradient_two_spacings)(_arr(3, 4))


def test_quantile_ties_go_to_the_element_first_in_the_array():
    """At a tie the stable sort gives the lower rank to the element that comes first:
    the median of [1, 2, 2] (the middle rank) follows the second element."""
    grads = adc.grad(F.median_odd)(np.array([2.0, 1.0, 2.0, 0.0, 5.0]) / F.W5)
    assert np.count_nonzero(grads) == 1
