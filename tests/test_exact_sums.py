"""builtins.sum's value to the last bit (compensated from Python 3.12 on) in every
kind of derivative, and its derivatives against central differences."""
import math
import sys

import numpy as np
import pytest
from support import assert_same_tree, load_fixture, tree_numeric_grad

import ad_compiler as adc
from ad_compiler.runtime_items import COMPENSATED_SUM

S = load_fixture("exact_sums")

# points where adding the terms in turn loses what builtins.sum keeps from 3.12 on:
# a term near 1e16 swamps the small ones, which sum's compensation carries to the end
HARD = {
    "sample_variance": (([1e8, 3.0, 5.0, 7.0, 9.0, 11.0],), 0),
    "spring_chain_energy": (([0.0, 1e8, 1e8 + 1, 1e8 + 2, 1e8 + 3, 1e8 + 4], 1.0), 0),
    "positive_part_total": (([1.0, 1.0, 1.0, 1.0, 1.0], [1e16, 1.0, -5.0, 1.0, -1e16]), 1),
    "pair_repulsion": (([0.0, 1e-9, 2e-9, 0.5],), 0),
    "log_partition": (([40.0, 0.1, -3.0, 0.2, 40.0],), 0),
    "curve_through_times": (([1e16, 1.0, -1e16], [1.0, 0.5]), 1),
    "summed_activations": (([np.array([0.3, -1.2]), np.array([2.0, 0.1])], 0.7), 1),
    "penalised_squares": (([1e8, 1.0, 1.0, 1.0, 1.0], 0.5), 0),
    "regularised_gram": (([np.array([0.3, -1.2]), np.array([2.0, 0.1])], 0.7), 1),
}
# ordinary points for the derivatives (both sides of x > 0 in positive_part_total)
SMOOTH = {
    "sample_variance": (([0.3, -1.2, 2.5, 0.7],), 0),
    "spring_chain_energy": (([0.0, 0.4, 1.1, 0.9], 2.5), 0),
    "positive_part_total": (([0.5, -1.0, 2.0, 0.25], [0.3, -0.2, 1.5, 0.8]), 0),
    "pair_repulsion": (([0.1, -0.4, 0.9, 0.3],), 0),
    "log_partition": (([0.2, -1.0, 0.7],), 0),
    "curve_through_times": (([0.3, -0.8, 0.25], [0.1, 0.6, 1.2]), 0),
    "summed_activations": (([np.array([0.3, -1.2]), np.array([2.0, 0.1])], 0.7), 1),
    "penalised_squares": (([0.3, -1.2, 2.5], 0.5), 0),
    "regularised_gram": (([np.array([0.3, -1.2]), np.array([2.0, 0.1])], 0.7), 0),
}


def _naive_terms(name, args):
    """The terms of the outermost sum at a point, as the function adds them."""
    if name == "sample_variance":
        xs = args[0]
        mu = sum(xs) / len(xs)
        return [(x - mu) ** 2 for x in xs]
    if name == "spring_chain_energy":
        xs, k = args
        return [0.5 * k * (b - a) ** 2 for a, b in zip(xs, xs[1:])]
    if name == "penalised_squares":
        return [args[1], *(x * x for x in args[0])]
    if name == "positive_part_total":
        return [w * x for w, x in zip(*args) if x > 0]
    if name == "curve_through_times":
        coeffs, ts = args
        return [c * ts[0] ** k for k, c in enumerate(coeffs)]
    return None


def _added_in_turn(terms):
    total = 0
    for t in terms:
        total = total + t
    return total


@pytest.mark.parametrize("name", list(HARD))
def test_the_points_tell_the_two_sums_apart(name):
    terms = _naive_terms(name, HARD[name][0])
    if terms is None or not COMPENSATED_SUM:
        pytest.skip("only where sum compensates rounding")
    assert _added_in_turn(terms) != sum(terms)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name", list(HARD))
def test_values_are_pythons_to_the_last_bit(name, mode):
    args, k = HARD[name]
    fn = getattr(S, name)
    expected = fn(*args)
    value, _ = adc.value_and_grad(fn, wrt=k, mode=mode)(*args)
    assert np.array_equal(value, expected)
    tangents = tuple(np.zeros_like(a) if isinstance(a, np.ndarray) else
                     [np.zeros_like(v) for v in a] if isinstance(a, list) else 0.0
                     for a in args)
    assert np.array_equal(adc.jvp(fn, args, tangents)[0], expected)
    assert np.array_equal(adc.vjp(fn, *args)[0], expected)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name", list(SMOOTH))
def test_gradients_against_central_differences(name, mode):
    args, k = SMOOTH[name]
    fn = getattr(S, name)
    got = adc.grad(fn, wrt=k, mode=mode)(*args)
    assert_same_tree(got, tree_numeric_grad(fn, args, k), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(SMOOTH))
def test_forward_equals_reverse(name):
    args, k = SMOOTH[name]
    fn = getattr(S, name)
    assert_same_tree(adc.grad(fn, wrt=k, mode="forward")(*args),
                     adc.grad(fn, wrt=k)(*args), rtol=1e-12, atol=1e-12)


def _flat(x):
    if isinstance(x, list):
        return np.concatenate([np.ravel(v) for v in x]) if isinstance(x[0], np.ndarray) \
            else np.asarray(x, dtype=float)
    return np.ravel(np.asarray(x, dtype=float))


@pytest.mark.parametrize("name", [n for n in SMOOTH if n not in (
    "summed_activations", "regularised_gram")])
def test_hessians_against_differences_of_the_gradient(name):
    args, k = SMOOTH[name]
    fn = getattr(S, name)
    grad = adc.grad(fn, wrt=k)
    x = list(args[k])
    h = 1e-5
    columns = []
    for j in range(len(x)):
        hi, lo = list(x), list(x)
        hi[j] += h
        lo[j] -= h
        moved_hi, moved_lo = list(args), list(args)
        moved_hi[k], moved_lo[k] = hi, lo
        columns.append((_flat(grad(*moved_hi)) - _flat(grad(*moved_lo))) / (2 * h))
    expected = np.stack(columns, axis=-1)
    hess = np.asarray(adc.hessian(fn, wrt=k)(*args), dtype=float)
    np.testing.assert_allclose(hess, expected, rtol=1e-6, atol=1e-7)
    # and reverse over reverse, one row of the Hessian per item
    again = adc.jacobian(grad, wrt=k, mode="reverse")(*args)
    np.testing.assert_allclose(np.asarray(again, dtype=float), hess, rtol=1e-10, atol=1e-12)


def test_second_derivative_in_a_number():
    args = SMOOTH["summed_activations"][0]
    fn = S.summed_activations
    grad = adc.grad(fn, wrt=1)
    h = 1e-5
    expected = (grad(args[0], args[1] + h) - grad(args[0], args[1] - h)) / (2 * h)
    assert adc.hessian(fn, wrt=1)(*args) == pytest.approx(expected, rel=1e-6)
    assert adc.grad(grad, wrt=1)(*args) == pytest.approx(expected, rel=1e-6)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sum compensates from 3.12 on")
def test_the_generated_code_collects_the_terms_and_calls_sum():
    reverse = adc.source(S.sample_variance)
    forward = adc.source(S.sample_variance, mode="forward")
    for source in (reverse, forward):
        assert "= sum(xs) / len(xs)" in source  # the items of the list themselves
        assert "sum_value" not in source
        # the running total carries the derivative only: it is not computed for the value
        assert "total = total +" not in source
    # the value (which the gradient does not need) from the terms the loop collects
    assert "terms.append(w" in forward
    assert "sum(terms)" in forward
    # a sum inside a loop collects its terms afresh at each time (here in the backward
    # loop, which recomputes the iteration: the forward one is not needed)
    source = adc.source(S.curve_through_times)
    assert "terms = []" in source and "math.cos(sum(terms))" in source


def test_exported_code_keeps_the_value():
    from ad_compiler.export import export

    args, k = HARD["sample_variance"]
    grad = adc.value_and_grad(S.sample_variance, wrt=k)
    namespace: dict = {}
    exec(compile(export(S.sample_variance, [grad]), "exported", "exec"), namespace)
    value, _ = namespace[grad.__name__](*args)
    assert value == S.sample_variance(*args) == grad(*args)[0]
    assert math.isfinite(value)
