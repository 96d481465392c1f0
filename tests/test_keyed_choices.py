"""max(xs, key=...), min(xs, key=...) and sorted(xs, key=..., reverse=...) of
differentiated items (tests/fixtures/keyed_choices.py): the value is Python's, both
modes agree with central differences and with each other, the derivative follows the
item chosen when the code runs (the first of tied items, a stable sort), and second
derivatives agree with differences of the gradient."""
from __future__ import annotations

import numpy as np
import pytest
from support import assert_same_tree, load_fixture, tree_numeric_grad

import ad_compiler as adc

K = load_fixture("keyed_choices")
RNG = np.random.default_rng(11)
ROWS = RNG.normal(size=(4, 3))
VECTORS = [RNG.normal(size=2) for _ in range(3)]

# name -> (arguments, arguments differentiated)
CASES = {
    "nearest_center": (([0.0, 1.0, 2.5, -1.0], 1.2), (0, 1)),
    "nearest_center-left": (([0.0, 1.0, 2.5, -1.0], -0.7), (0, 1)),
    "best_scored": (([0.5, 2.0, -1.5],), (0,)),
    "heaviest_pair": (([(1.0, 2.0), (3.0, 0.5), (-2.0, 2.5)],), (0,)),
    "row_of_largest_sum": ((ROWS,), (0,)),
    "longest_vector": ((VECTORS, np.array([1.0, -2.0])), (0, 1)),
    "top_weighted": (([0.5, -3.0, 1.0, 2.0], [4.0, 3.0, 2.0, 1.0]), (0, 1)),
    "positions_by_value": (([0.5, -3.0, 1.0, 2.0],), (0,)),
    "decayed_by_size": (([0.5, -3.0, 1.0, 2.0],), (0,)),
    "nested_key": (([0.5, -3.0, 1.0, 2.0], 0.8), (0, 1)),
    "positive_or_default": (([0.5, -3.0, 1.0, 2.0],), (0,)),
    "positive_or_default-none": (([-0.5, -3.0],), (0,)),
    "largest_of_three": ((0.5, -3.0, 1.0), (0, 1, 2)),
    "first_of_tuple_key": (([(1.5, 2.0), (-1.2, 0.5), (2.5, -1.0)],), (0,)),
    "argmax_of_dict": (({"a": 1.0, "b": 3.0, "c": -2.0},), (0,)),
    "sorted_rows": ((ROWS,), (0,)),
    "key_none": (([0.5, -3.0, 1.0, 2.0],), (0,)),
    "ranked_items": (({"a": 1.0, "b": -3.0, "c": 2.0},), (0,)),
    "smallest_value": (({"a": 1.0, "b": -3.0, "c": 0.5},), (0,)),
    "best_pair_of_zip": (([1.0, -3.0, 2.0], [0.5, 1.0, 2.0]), (0, 1)),
    "argmax_by_position": (([1.0, 3.0, 2.0],), (0,)),
    "top_two_by_position": ((np.array([1.0, 3.0, 2.0]),), (0,)),
}


def _fn(name):
    return getattr(K, name.partition("-")[0])


def _grads(name, mode):
    args, wrt = CASES[name]
    if len(wrt) == 1:
        return (adc.grad(_fn(name), wrt=wrt[0], mode=mode)(*args),)
    return adc.grad(_fn(name), wrt=wrt, mode=mode)(*args)


@pytest.mark.parametrize("name", list(CASES))
def test_the_value_is_pythons(name):
    args, wrt = CASES[name]
    value, _ = adc.value_and_grad(_fn(name), wrt=wrt)(*args)
    assert value == _fn(name)(*args)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name", list(CASES))
def test_against_central_differences(name, mode):
    args, wrt = CASES[name]
    for k, g in zip(wrt, _grads(name, mode)):
        assert_same_tree(g, tree_numeric_grad(_fn(name), args, k), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_forward_equals_reverse(name):
    for a, b in zip(_grads(name, "forward"), _grads(name, "reverse")):
        assert_same_tree(a, b, rtol=1e-12, atol=1e-12)


def test_the_derivative_goes_to_the_first_of_tied_items():
    # |3| == |-3|: max and min keep the first, and so do their derivatives (2 * 3)
    for mode in ("reverse", "forward"):
        assert adc.grad(K.largest_of_three, wrt=(0, 1, 2), mode=mode)(3.0, -3.0, 1.0) == \
            (6.0, 0.0, 0.0)
        assert adc.grad(K.largest_of_three, wrt=(0, 1, 2), mode=mode)(-1.0, 3.0, -3.0) == \
            (0.0, 6.0, 0.0)
        # t = 0: near * far, where 1 and -1 tie as the nearest and 2 and -2 as the
        # farthest: the first of each is chosen, and its derivative is the other's value
        assert adc.grad(K.nested_key, mode=mode)([1.0, -1.0, 3.0], 0.0) == [3.0, 0.0, 1.0]
        assert adc.grad(K.nested_key, mode=mode)([-1.0, 1.0, 3.0], 0.0) == [3.0, 0.0, -1.0]
        assert adc.grad(K.nested_key, mode=mode)([0.5, 2.0, -2.0], 0.0) == [2.0, 0.5, 0.0]
        assert adc.grad(K.nested_key, mode=mode)([0.5, -2.0, 2.0], 0.0) == [-2.0, 0.5, 0.0]


def test_a_sort_by_key_is_stable_both_ways():
    # |1| == |-1|: sorted keeps them in their order, reversed or not, so the first 1.0
    # takes the first weight after the 3.0
    weights = [4.0, 3.0, 2.0, 1.0]
    for mode in ("reverse", "forward"):
        grads = adc.grad(K.top_weighted, wrt=0, mode=mode)([1.0, -3.0, -1.0, 0.5], weights)
        assert grads == [3.0, 4.0, 2.0, 1.0]
    assert sorted([1.0, -3.0, -1.0, 0.5], key=abs, reverse=True) == [-3.0, 1.0, -1.0, 0.5]


def test_no_items_raise_as_python_does():
    with pytest.raises(ValueError, match="max\\(\\) arg is an empty sequence"):
        adc.grad(K.empty_keyed_max)([0.5, 2.0])


def test_the_generated_code_sorts_the_keys_once():
    source = adc.source(K.top_weighted, wrt=0)
    assert "order = sort_order(keys, True)" in source
    assert "keys.append(abs(" in source  # (not a new list per item)
    assert "position = extremum_position(keys, 'max', False)" in adc.source(K.best_scored)


def _hessian_by_differences(fn, args, k, h=1e-5):
    """d/dx_j of the gradient in args[k] (a number or a list of numbers)."""
    grad = adc.grad(fn, wrt=k)
    x = np.asarray(args[k], dtype=float)

    def at(step, j):
        moved = x.copy()
        moved[j] += step
        put = list(args)
        put[k] = moved.tolist() if isinstance(args[k], list) else float(moved)
        return np.asarray(grad(*put), dtype=float)

    columns = [(at(h, j) - at(-h, j)) / (2 * h) for j in np.ndindex(x.shape)]
    return np.array(columns).T.reshape(x.shape * 2)


# name -> the argument differentiated twice
SECOND = {"nearest_center": 1, "nearest_center-left": 0, "best_scored": 0,
          "positions_by_value": 0, "nested_key": 0, "largest_of_three": 1,
          "decayed_by_size": 0}


@pytest.mark.parametrize("name", list(SECOND))
def test_second_derivatives_against_differences_of_the_gradient(name):
    args, _ = CASES[name]
    k = SECOND[name]
    hess = np.asarray(adc.hessian(_fn(name), wrt=k)(*args), dtype=float)
    np.testing.assert_allclose(hess, _hessian_by_differences(_fn(name), args, k),
                               rtol=1e-6, atol=1e-6)
    if np.ndim(args[k]) == 0:  # reverse over reverse
        again = adc.grad(adc.grad(_fn(name), wrt=k), wrt=k)(*args)
    else:
        again = adc.jacobian(adc.grad(_fn(name), wrt=k), wrt=k, mode="reverse")(*args)
    np.testing.assert_allclose(np.asarray(again, dtype=float), hess, rtol=1e-12, atol=1e-12)


def test_the_hessian_of_an_array_chosen_by_key():
    # row = the row of largest sum (the last here): sum(row ** 2) + row[0], whose
    # Hessian is 2 on that row's diagonal and zero elsewhere
    A = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 0.3], [2.0, 2.0, 2.0]])
    expected = np.zeros((3, 3, 3, 3))
    for j in range(3):
        expected[2, j, 2, j] = 2.0
    np.testing.assert_array_equal(adc.hessian(K.row_of_largest_sum)(A), expected)


def test_a_key_without_a_rule_is_refused_at_its_line():
    refusals = load_fixture("comprehension_refusals")
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(refusals.max_by_text)([1.0, 2.0])
    assert info.value.lineno == refusals.max_by_text.__code__.co_firstlineno + 1
    assert info.value.hint


def test_the_hessian_in_an_array_whose_rows_are_chosen_by_key():
    x = np.array([0.3, -0.5, 0.8])
    fn = K.rows_chosen_and_sorted
    grad = adc.grad(fn)
    by_differences = np.array([(grad(x + 1e-5 * e) - grad(x - 1e-5 * e)) / 2e-5
                               for e in np.eye(3)]).T
    hess = adc.hessian(fn)(x)  # vector mode
    np.testing.assert_allclose(hess, by_differences, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(adc.jacobian(grad, mode="reverse")(x), hess,
                               rtol=1e-10, atol=1e-12)
