"""The gradient of a list from the adjoints backward loops added into, item by item
(``items_gradient``): the same values and plain types as ``as_gradient`` gives, for
lists of floats and for what is not one, and the function's value to the last bit."""
import sys

import numpy as np
import pytest
from support import assert_same_tree, load_fixture, tree_numeric_grad

import ad_compiler as adc
from ad_compiler.runtime import as_gradient, zero_items
from ad_compiler.runtime_items import items_gradient
from ad_compiler.runtime_lists import items_of, items_of_t

S = load_fixture("item_gradients")

POINTS = {
    "gaussian_loglik": (([0.3, -1.2, 2.5, 0.7, 1.9], 1.3), (0, 1)),
    "weighted_squares": (([0.3, -1.2, 2.5], 0.7), (0, 1)),
    "twice_visited": (([0.3, -1.2, 2.5, 0.4], 0.6), (0, 1)),
}
# a term near 1e8 makes adding in turn and builtins.sum (compensated from 3.12 on) differ
HARD = ([1e8, 3.0, 5.0, 7.0, 9.0, 11.0], 0.9)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name", list(POINTS))
def test_gradients_against_central_differences(name, mode):
    args, wrt = POINTS[name]
    fn = getattr(S, name)
    got = adc.grad(fn, wrt=wrt, mode=mode)(*args)
    for g, k in zip(got, wrt):
        assert_same_tree(g, tree_numeric_grad(fn, args, k), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(POINTS))
def test_forward_equals_reverse(name):
    args, wrt = POINTS[name]
    fn = getattr(S, name)
    assert_same_tree(adc.grad(fn, wrt=wrt, mode="forward")(*args),
                     adc.grad(fn, wrt=wrt)(*args), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_the_value_is_pythons_to_the_last_bit(mode):
    value, (xs_bar, s_bar) = adc.value_and_grad(S.gaussian_loglik, wrt=(0, 1), mode=mode)(*HARD)
    assert value == S.gaussian_loglik(*HARD)
    assert type(xs_bar) is list and all(type(g) is float for g in xs_bar)
    # the gradient is the hand-derived one: d/dx_i = -(x_i - mu) / s^2 (the mean's own
    # adjoint sums to zero), d/ds = sum((x - mu)^2) / s^3 - n / s
    xs, s = HARD
    mu = sum(xs) / len(xs)
    np.testing.assert_allclose(xs_bar, [-(x - mu) / (s * s) for x in xs], rtol=1e-9, atol=1e-9)
    expected_s = sum((x - mu) ** 2 for x in xs) / s ** 3 - len(xs) / s
    assert s_bar == pytest.approx(expected_s, rel=1e-9)


def test_the_generated_code_makes_the_list_gradient_in_one_call():
    source = adc.source(S.gaussian_loglik, wrt=(0, 1))
    assert "xs_bar = items_gradient(xs_items_bar, xs)" in source
    assert "as_gradient" not in source and "items_of_t" not in source


@pytest.mark.parametrize("weight", [np.float64(0.7), np.float32(0.7), np.array(0.7)])
def test_numpy_scalar_adjoints_are_given_as_floats(weight):
    xs = [0.3, -1.2, 2.5]
    got = adc.grad(S.weighted_squares, wrt=0)(xs, weight)
    assert type(got) is list and all(type(g) is float for g in got)
    np.testing.assert_allclose(got, [2.0 * float(weight) * x for x in xs], rtol=1e-6)


def test_adjoints_of_an_array_weight_are_numbers():
    xs, w = [0.3, -1.2, 2.5], np.array([0.5, 2.0])
    got = adc.grad(S.weighted_total, wrt=0)(xs, w)
    assert_same_tree(got, tree_numeric_grad(S.weighted_total, (xs, w), 0), rtol=1e-6)


def _accumulated(x, added):
    """The list of adjoints generated code makes for the items of `x`, with `added`
    added into it item by item, as a backward loop adds."""
    acc = zero_items(items_of(x))
    for i, g in enumerate(added):
        acc[i] += g
    return acc


CASES = {
    "floats": ([0.5, -1.0, 2.0], [1.0, 2.0, 3.0]),
    "empty": ([], []),
    "numpy scalars": ([0.5, -1.0, 2.0], [np.float64(1.0), 2.0, np.float32(3.0)]),
    "a 0-d array": ([0.5, -1.0], [1.0, np.array(2.0)]),
    "arrays of two shapes": ([0.5, -1.0], [np.ones(2), np.ones(3)]),
    "a complex number": ([0.5, -1.0], [1.0, 2.0 + 1.0j]),
    "a tuple": ((0.5, -1.0, 2.0), [1.0, 2.0, 3.0]),
    "ints and bools": ([1, True, 2.0], [1.0, 2.0, 3.0]),
    "a dict": ({0.5: "a", 1.5: "b"}, [1.0, 2.0]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_helper_gives_what_as_gradient_gives(case):
    x, added = CASES[case]
    acc = _accumulated(x, added)
    if case == "a complex number":  # no gradient of a real input: both refuse
        with pytest.raises(TypeError):
            as_gradient(items_of_t(_accumulated(x, added), x), x)
        with pytest.raises(TypeError):
            items_gradient(acc, x)
        return
    expected = as_gradient(items_of_t(_accumulated(x, added), x), x)
    got = items_gradient(acc, x)
    assert got is not acc
    assert type(got) is type(expected)
    if isinstance(expected, (list, tuple)):
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            assert type(a) is type(b)
            assert np.array_equal(a, b)
    else:
        assert got == expected


def test_exported_code_carries_the_helper():
    from ad_compiler.export import export

    grad = adc.value_and_grad(S.gaussian_loglik, wrt=(0, 1))
    namespace: dict = {}
    exec(compile(export(S.gaussian_loglik, [grad]), "exported", "exec"), namespace)
    assert "items_gradient" in namespace
    value, (xs_bar, s_bar) = namespace[grad.__name__](*HARD)
    expected_value, (expected_xs, expected_s) = grad(*HARD)
    assert value == expected_value == S.gaussian_loglik(*HARD)
    assert xs_bar == expected_xs and s_bar == expected_s


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sum compensates from 3.12 on")
def test_the_point_tells_the_two_sums_apart():
    xs, _ = HARD
    mu = sum(xs) / len(xs)
    terms = [(x - mu) ** 2 for x in xs]
    total = 0.0
    for t in terms:
        total += t
    assert total != sum(terms)
