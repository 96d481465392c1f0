"""Comprehensions, generator expressions, map, filter and functools.reduce, and the
builtins consuming them, as realistic functions (tests/fixtures/comprehensions.py):
the compiled value is Python's, both modes agree with central differences and with
each other, and second derivatives agree with differences of the gradient."""
from __future__ import annotations

import math

import numpy as np
import pytest
from support import assert_same_tree, load_fixture, tree_numeric_grad

import ad_compiler as adc
from ad_compiler.runtime_items import COMPENSATED_SUM

C = load_fixture("comprehensions")
RNG = np.random.default_rng(7)
LAYERS = [(RNG.normal(size=(2, 3)), RNG.normal(size=2)), (RNG.normal(size=(2, 3)),
                                                        RNG.normal(size=2))]

# name -> (arguments, arguments differentiated)
CASES = {
    "mixture_log_likelihood": (({"a": 0.3, "b": 0.7}, {"a": -1.0, "b": 1.5},
                                np.array([0.2, -0.5, 1.1])), (0, 1)),
    "polynomial": (([1.0, -2.0, 0.5], 1.3), (0, 1)),
    "horner": (([1.0, -2.0, 0.5], 1.3), (0, 1)),
    "pairwise_energy": ((RNG.normal(size=(4, 2)),), (0,)),
    "softmax_cross_entropy": (([0.5, -1.0, 2.0], 1), (0,)),
    "log_sum_exp": (([0.5, -1.0, 2.0],), (0,)),
    "expert_outputs": ((LAYERS, RNG.normal(size=3)), (0, 1)),
    "chebyshev_residual": (([0.1, 0.5], [0.5, 1.0, 2.0], [0.3, 0.2, 1.4]), (0,)),
    "hinge_loss": ((np.array([0.5, -0.3]), [np.array([1.0, 2.0]), np.array([-1.0, 0.5]),
                                           np.array([0.3, 0.3])], [1, 0, -1]), (0,)),
    "batch_mse": ((RNG.normal(size=(2, 3)), RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))),
                  (0, 1)),
    "gram_total": (([[1.0, 2.0], [0.5, -1.0], [2.0, 0.1]],), (0,)),
    "trimmed_mean": (([3.0, 1.0, 4.0, 1.5, 9.0],), (0,)),
    "none_happens": (([0.1, 0.4, 0.25],), (0,)),
    "guarded_log": (([0.5, 2.0],), (0,)),
    "any_outlier": (([0.5, -3.0, 1.0], 2.0), (0,)),
    "sine_energy": (([0.5, -3.0, 1.0],), (0,)),
    "exact_sum": (([0.5, -3.0, 1.0],), (0,)),
    "weighted_total": (([0.5, -3.0, 1.0], [2.0, 1.0, 0.5]), (0, 1)),
    "distinct_squares": (([0.5, -3.0, 1.0],), (0,)),
    "reversed_weights": ((np.array([0.5, -3.0, 1.0]),), (0,)),
    "dict_features": (({"a": 1.5, "skip": 3.0, "b": -2.0},), (0,)),
    "blocks": ((np.array([0.5, -3.0, 1.0, 2.0, 0.7]),), (0,)),
    "clipped_max": ((0.3, 0.9, 0.6), (0, 1, 2)),
    "row_norms": ((RNG.normal(size=(3, 2)),), (0,)),
    "list_and_tuple": (([0.5, -3.0, 1.0],), (0,)),
    "shadowing": ((0.7,), (0,)),
    "scoped": ((0.7, [1.0, 2.0]), (0, 1)),
    "empty_max_with_default": (([0.5, 12.0, 11.0],), (0,)),
    "sum_of_a_helpers_list": (([0.5, -0.3, 2.0],), (0,)),
    "power_iterations": (([0.5, -0.3, 2.0], 4), (0,)),
    "set_consumers": (([0.7, 1.2, -0.3, 2.6],), (0,)),
    "batch_squared_error": ((RNG.normal(size=(2, 3)), RNG.normal(size=(5, 3)),
                             RNG.normal(size=(5, 2))), (0, 1, 2)),
    "weighted_column_totals": ((RNG.normal(size=(4, 3)), RNG.normal(size=3)), (0, 1)),
    "spread_of_a_field": (({"q": [1.0, -0.5, 0.25]}, 0.3), (0, 1)),
    "gaussian_log_likelihood": (([0.3, -1.2, 2.5, 0.7], 1.3), (0, 1)),
    "list_of_vectors_energy": (([np.array([0.5, -1.0]), np.array([1.5, 0.3]),
                                 np.array([-0.2, 0.8])], np.array([1.0, 2.0])), (0, 1)),
    "energy_of_rising_rows": ((np.array([[1.0, -0.5], [-2.0, 0.3], [0.4, 0.2]]),), (0,)),
}

# the other side of every branch: an item fails the all(), no outlier, an active hinge
# for the unlabelled point is skipped, a tie of the largest squares, the default used
OTHER_SIDE = {
    "guarded_log": (([0.5, -2.0],), (0,)),
    "any_outlier": (([0.5, -1.5, 1.0], 2.0), (0,)),
    "hinge_loss": ((np.array([2.0, 1.0]), [np.array([1.0, 2.0]), np.array([-1.0, 0.5]),
                                          np.array([0.3, 0.3])], [1, 0, -1]), (0,)),
    "clipped_max": ((0.3, 0.2, 0.1), (0, 1, 2)),
    "empty_max_with_default": (([0.5, 2.0],), (0,)),
    "largest_square": (([0.5, -3.0, 1.0],), (0,)),
}
# other arguments differentiated twice: a polynomial's coefficients, a list of items
# beside a number
SECOND_ONLY = {
    "polynomial-coefficients": ("polynomial", CASES["polynomial"]),
    "scoped-items": ("scoped", CASES["scoped"]),
}
ALL = {**{k: (k, v) for k, v in CASES.items()}, **{f"{k}-other": (k, v)
                                                   for k, v in OTHER_SIDE.items()}}


def _grads(name, mode):
    args, wrt = ALL[name][1]
    if len(wrt) == 1:
        return (adc.grad(getattr(C, ALL[name][0]), wrt=wrt[0], mode=mode)(*args),)
    return adc.grad(getattr(C, ALL[name][0]), wrt=wrt, mode=mode)(*args)


@pytest.mark.parametrize("name", list(ALL))
def test_the_value_is_pythons(name):
    fn_name, (args, wrt) = ALL[name]
    fn = getattr(C, fn_name)
    value, _ = adc.value_and_grad(fn, wrt=wrt)(*args)
    assert value == fn(*args)  # to the last bit (sum() of floats compensates from 3.12 on)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name", list(ALL))
def test_against_central_differences(name, mode):
    fn_name, (args, wrt) = ALL[name]
    fn = getattr(C, fn_name)
    for k, g in zip(wrt, _grads(name, mode)):
        assert_same_tree(g, tree_numeric_grad(fn, args, k), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(ALL))
def test_forward_equals_reverse(name):
    for a, b in zip(_grads(name, "forward"), _grads(name, "reverse")):
        assert_same_tree(a, b, rtol=1e-12, atol=1e-12)


# second derivatives: of numbers, of arrays used whole, and of lists and arrays whose
# items a comprehension reads (name -> the argument differentiated twice)
SECOND = {"polynomial": 1, "horner": 1, "batch_mse": 0, "shadowing": 0, "clipped_max": 1,
          "scoped": 0, "expert_outputs": 1, "pairwise_energy": 0, "row_norms": 0,
          "blocks": 0, "reversed_weights": 0, "gaussian_log_likelihood": 0,
          "log_sum_exp": 0, "softmax_cross_entropy": 0, "polynomial-coefficients": 0,
          "weighted_total": 0, "hinge_loss": 0, "energy_of_rising_rows": 0,
          "weighted_column_totals": 0, "guarded_log": 0, "guarded_log-other": 0,
          "any_outlier": 0, "any_outlier-other": 0, "scoped-items": 1,
          "gram_total": 0, "sine_energy": 0,
          "list_of_vectors_energy": 0}


def _moved(x, j, step):
    """`x` with its item (or element) `j` moved by `step`, of the same type."""
    if isinstance(x, list) and isinstance(x[0], np.ndarray):
        items = [np.array(v, dtype=float) for v in x]
        items[j[0]][j[1:]] += step
        return items
    if isinstance(x, list):  # of numbers, or of lists of numbers
        moved = np.array(x, dtype=float)
        moved[j] += step
        return moved.tolist()
    moved = np.array(x, dtype=float)
    moved[j] += step
    return moved


def _shape(x):
    if isinstance(x, list) and isinstance(x[0], np.ndarray):
        return (len(x), *np.shape(x[0]))
    return np.shape(x)


def _hessian_by_differences(fn, args, k, h=1e-5):
    """d/dx_j of the gradient, by central differences, gradient axes first."""
    grad = adc.grad(fn, wrt=k)
    x = args[k]

    def at(step, j):
        moved = list(args)
        moved[k] = x + step if np.ndim(x) == 0 else _moved(x, j, step)
        return np.asarray(grad(*moved), dtype=float)

    if np.ndim(x) == 0:
        return (at(h, None) - at(-h, None)) / (2 * h)
    out = np.zeros(_shape(x) + _shape(x))
    for j in np.ndindex(_shape(x)):
        out[(slice(None),) * len(_shape(x)) + j] = (at(h, j) - at(-h, j)) / (2 * h)
    return out


# lists these build with append (list comprehensions included) are appended to in place
# by the gradient, and its reverse mode goes through those appends
BUILT_BY_APPENDS = {"batch_mse", "expert_outputs", "blocks", "reversed_weights",
                    "softmax_cross_entropy", "scoped-items", "gram_total", "sine_energy"}


@pytest.mark.parametrize("name", list(SECOND))
def test_second_derivatives_against_differences_of_the_gradient(name):
    fn_name, (args, _) = ALL.get(name) or SECOND_ONLY[name]
    k = SECOND[name]
    fn = getattr(C, fn_name)
    hess = _as_array(adc.hessian(fn, wrt=k)(*args))  # forward over reverse
    by_differences = _hessian_by_differences(fn, args, k)
    np.testing.assert_allclose(hess, by_differences, rtol=1e-5, atol=1e-6)
    if name in BUILT_BY_APPENDS:
        assert "pop_last(" in adc.source(fn, wrt=k)
    if np.ndim(args[k]) == 0:  # reverse over reverse
        again = adc.grad(adc.grad(fn, wrt=k), wrt=k)(*args)
        assert again == pytest.approx(float(hess), rel=1e-10, abs=1e-12)
    else:
        again = _as_array(adc.jacobian(adc.grad(fn, wrt=k), wrt=k, mode="reverse")(*args))
        np.testing.assert_allclose(again, hess, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(again, by_differences, rtol=1e-5, atol=1e-6)


def _as_array(hess):
    """A Hessian as one array, gradient axes first: a list of arrays' Hessian is nested
    item by item (``H[i][j]`` shaped ``x[i].shape + x[j].shape``)."""
    out = np.asarray(hess, dtype=float)
    if isinstance(hess, list) and isinstance(hess[0], list) and \
            isinstance(hess[0][0], np.ndarray) and hess[0][0].ndim == 2:
        return out.transpose(0, 2, 1, 3)
    return out


def test_a_tie_of_the_largest_items_goes_to_the_first():
    # 3**2 == (-3)**2: max() keeps the first, and so does its derivative (2 * 3)
    for mode in ("reverse", "forward"):
        assert adc.grad(C.largest_square, mode=mode)([3.0, -3.0, 1.0]) == [6.0, 0.0, 0.0]
        assert adc.grad(C.clipped_max, wrt=(0, 1, 2), mode=mode)(1.0, 1.0, 1.0) == (
            1.0 + 1.0, 0.0, 0.0)  # max(a, b*b, c, 0.5): a first; min(a, b, c): a first


def test_no_items_raise_as_python_does():
    with pytest.raises(ValueError, match="max\\(\\) arg is an empty sequence"):
        adc.grad(C.empty_max)([0.5, 2.0])
    with pytest.raises(TypeError, match="reduce\\(\\) of empty iterable"):
        adc.grad(C.empty_reduce)([0.5, 2.0])


def test_comprehension_variables_do_not_leak():
    # ys = [x * x for x in xs] leaves the parameter x alone: x * sum(ys)
    x, xs = 0.7, [1.0, 2.0]
    assert adc.grad(C.scoped, wrt=(0, 1))(x, xs) == (5.0, [2 * x * 1.0, 2 * x * 2.0])


def test_the_generated_loops_keep_the_users_names():
    forward = adc.source(C.polynomial, wrt=1, mode="forward")
    assert "for k in range(len(coeffs_items)):" in forward
    reverse = adc.source(C.scoped, wrt=(0, 1))
    assert "ys.append(x_1 * x_1)" in reverse
    # sum(ys) is printed as itself: before Python 3.12 the loop adding the items in
    # turn is builtins.sum's, from 3.12 on (which compensates rounding) the call gives
    # the value and the running total, which only carries the derivative, is left out
    summed = "x_bar = sum(ys)" if COMPENSATED_SUM else "total = sum(ys)"
    assert summed in reverse and "total + item" not in reverse
    source = adc.source(C.log_sum_exp)
    assert "m, first = None, True" in source and "m = max(m, item)" in source
    assert "total_dot = total_dot + " in adc.source(C.log_sum_exp, mode="forward")


def test_loops_over_one_list_share_its_items_and_its_adjoint():
    source = adc.source(C.gaussian_log_likelihood, wrt=(0, 1))
    assert "for x in xs_items:" in source  # the item taken as the user wrote it
    assert source.count("items_of(") == 1 and source.count("zero_items(") == 1
    assert "add(" not in source  # both backward loops add into the one adjoint list
    assert ("= sum(xs) / " if COMPENSATED_SUM else "total = sum(xs_items)") in source
    xs, sigma = CASES["gaussian_log_likelihood"][0]
    mu = sum(xs) / len(xs)
    # d/dx_i: -(x_i - mu) / sigma**2 (the mean's own terms add up to zero)
    expected = [-(x - mu) / sigma ** 2 for x in xs]
    assert_same_tree(adc.grad(C.gaussian_log_likelihood)(xs, sigma), expected,
                     rtol=1e-13, atol=1e-15)


def test_a_total_that_starts_as_zero_is_specialised_to_its_shapes():
    # sum() starts from the int 0: the total is still a scalar on every iteration, so
    # the code for these shapes needs no run-time shape questions
    args, _ = CASES["batch_squared_error"]
    grad = adc.grad(C.batch_squared_error)
    source = grad.source_for(*args)
    for helper in ("unbroadcast", "sum_adjoint", "matmul_adjoint_a", "scalar_seed"):
        assert helper not in source
    assert "np.outer(" in source
    expected = sum(2.0 * np.outer(args[0] @ x - y, x) for x, y in zip(args[1], args[2]))
    np.testing.assert_allclose(grad(*args), expected, rtol=1e-13)
    # a total that becomes a vector keeps summing its adjoint back over the rows
    A, w = CASES["weighted_column_totals"][0]
    A_bar = adc.grad(C.weighted_column_totals)(A, w)
    np.testing.assert_allclose(A_bar, np.broadcast_to(2.0 * w * A.sum(axis=0), A.shape),
                               rtol=1e-13)


@pytest.mark.parametrize("fn,word", [
    ("kept_generator", "generator expression kept"),
    ("kept_set", "set comprehensions"),
])
def test_refusals_are_located(fn, word):
    refusals = load_fixture("comprehension_refusals")
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(getattr(refusals, fn))([1.0, 2.0])
    assert word in info.value.what
    assert info.value.hint


def test_math_fsum_keeps_its_exact_rounding():
    xs = [1e16, 1.0, -1e16, 1.0]
    value, grad = adc.value_and_grad(C.exact_sum)(xs)
    assert value == C.exact_sum(xs) == math.fsum(x * x for x in xs) + 2.0
    assert grad == [2 * x + 1.0 for x in xs]


def test_sum_has_pythons_value_to_the_last_bit():
    # from Python 3.12 on sum() compensates the rounding: here 2.0, where adding the
    # items in turn gives 0.0; before 3.12 both give 0.0
    xs = [0.1] * 10 + [1e16, 1.0, -1e16]
    for mode in ("reverse", "forward"):
        value, grad = adc.value_and_grad(C.weighted_total, wrt=0)(xs, [1.0] * len(xs)) \
            if mode == "reverse" else (None, None)
        if value is not None:
            assert value == sum((x * 1.0 for x in xs), 0.5)
            assert grad == [1.0] * len(xs)
    assert adc.jvp(C.exact_sum, (xs,), ([1.0] * len(xs),))[0] == C.exact_sum(xs)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_containers_that_look_alike_stay_apart(mode):
    # x * 1 + x * 2 = 3x: {"a": x} and {"bb": x} are two dicts
    assert adc.value_and_grad(C.two_dicts)(0.5) == (1.5, 3.0)
    assert adc.grad(C.two_dicts, mode=mode)(0.5) == 3.0
    # ys[1] * zs[1] = x * (x + 1): [] and () are two values
    assert adc.value_and_grad(C.list_and_tuple_inits)(0.5) == (0.75, 2.0)
    assert adc.grad(C.list_and_tuple_inits, mode=mode)(0.5) == 2.0
    # ys[0] * zs[1] = xs0 * 2 xs1: the reverse sweep's recomputed list does not take
    # the name of the list read after it
    assert adc.grad(C.two_lists, mode=mode)([0.5, -3.0, 1.0]) == [-6.0, 1.0, 0.0]


@pytest.mark.parametrize("name", ["log_sum_exp", "set_consumers", "dict_features",
                                  "largest_square"])
def test_exported_derivatives_run_without_the_package(name):
    from ad_compiler.export import export

    fn = getattr(C, name)
    args = CASES[name][0] if name in CASES else ([1.0, -3.0],)
    grad = adc.grad(fn)
    namespace: dict = {}
    exec(compile(export(fn, [grad]), "exported", "exec"), namespace)
    assert namespace[grad.__name__](*args) == grad(*args)


def _damped_orbit(k, x0, combine):
    xs = []
    x = x0
    for _ in range(6):
        x = x + 0.1 * np.sin(k * x)
        xs = xs + [x * x]
    if combine:
        return sum(xs) + np.sum(np.array(xs) ** 2)
    return np.sum(np.array(xs) ** 2)


@pytest.mark.parametrize("combine", [True, False], ids=["sum-and-array", "array"])
def test_reverse_over_reverse_of_a_list_read_as_an_array(combine):
    # np.array(xs)'s adjoint is an array; in reverse over reverse, the list adjoint of
    # the loop's carried list meets it and stands for that array (it was once an
    # outer product: a second derivative 4000 times too large)
    k, x0, h = 0.7, 0.3, 1e-5
    gradient = adc.grad(_damped_orbit)
    by_differences = (gradient(k + h, x0, combine) - gradient(k - h, x0, combine)) / (2 * h)
    assert adc.grad(gradient)(k, x0, combine) == pytest.approx(by_differences, rel=1e-6)
    assert float(adc.hessian(_damped_orbit)(k, x0, combine)) == pytest.approx(
        by_differences, rel=1e-6)
