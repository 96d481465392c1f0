"""Copies: ``copy.copy(x)``, ``copy.deepcopy(x)``, ``dict(d)``, ``{**d, "k": v}`` and
``dict(k=v)``.  A copy's derivative is its argument's; writes into the copy leave the
argument as it was (a deep copy's items too), and where a shallow copy shares an item
that is written, the write is refused rather than followed wrongly.

Each is checked against Python's value (the caller's objects untouched), both modes
against central differences, and Hessians against differences of the gradient.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from support import numeric_grad, tree_numeric_grad

import ad_compiler as adc

MODES = ["reverse", "forward"]


def copied_array(x):
    y = copy.copy(x)
    y[1:] = y[1:] * 2.0
    return np.sum(y * x) + np.sum(x ** 3)


def deep_copied_array(x):
    y = copy.deepcopy(x)
    y += np.sin(x)
    return np.sum(y * x)


def copied_rows(xs):
    ys = copy.copy(xs)
    ys[0] = ys[0] * 3.0
    return np.sum(ys[0] * xs[0]) + np.sum(ys[1] ** 2)


def deep_copied_rows(xs):
    ys = copy.deepcopy(xs)
    ys[0][1] = 0.0  # xs[0] keeps its item: the copy is deep
    return np.sum(ys[0] * xs[0]) + np.sum(ys[1] ** 2 * xs[1])


def shallow_copy_written_inside(xs):
    ys = copy.copy(xs)
    ys[0][1] = 0.0  # changes xs[0] too
    return np.sum(ys[0] * xs[0])


def dict_copy(p):
    q = dict(p)
    q["w"] = q["w"] * 2.0
    return np.sum(q["w"] * p["w"]) + q["b"] * p["b"]


def spread_copy(p):
    q = {**p, "b": 3.0, "c": p["b"] ** 2}
    return np.sum(q["w"] * p["w"]) * q["b"] + q["c"]


def spread_displays(x):
    base = {"a": x, "b": 2.0 * x}
    merged = {**base, "b": x ** 2, **{"c": np.sin(x)}}
    return np.sum(merged["a"] * merged["b"] + merged["c"])


def keywords_dict(x):
    d = dict(a=x, b=np.cos(x))
    e = dict(d)
    e["a"] = e["a"] ** 2
    return np.sum(d["a"] * e["a"] + e["b"])


def deep_copied_params(x):
    params = {"w": x, "layers": [x * 2.0, np.tanh(x)]}
    snapshot = copy.deepcopy(params)
    snapshot["w"] = snapshot["w"] ** 2
    return np.sum(snapshot["w"] * params["w"] + snapshot["layers"][0] * params["layers"][1])


def dict_with_keywords(p, x):
    d = dict(p, c=x ** 2)
    e = dict(**d)
    e["a"] = e["a"] * x
    return d["c"] * p["a"] + e["a"] * d["a"]


def dict_of_zipped_pairs(x):
    d = dict(zip(["a", "b"], [x, 2.0 * x]))
    return d["a"] * d["b"]


def deep_copied_state_written_by_key(state):
    s = copy.deepcopy(state)
    s["w"][0] = s["w"][0] * 3.0  # an item of the dict's item, selected by its key
    return np.sum(s["w"] ** 2) + np.sum(state["w"]) * state["b"]


def params_written_by_key(p):
    q = {k: np.array(v, dtype=float) for k, v in p.items()}
    q["w"][1:] = q["w"][1:] * p["b"]
    return np.sum(q["w"] ** 2)


def dict_of_pairs(pairs, x):
    d = dict(pairs)
    return d["a"] * x


def _check(f, args, wrt=0):
    """Value against Python's (arguments untouched), both modes against central
    differences."""
    before = copy.deepcopy(args)
    expected = tree_numeric_grad(lambda *a: f(*copy.deepcopy(a)), list(before), wrt)
    for mode in MODES:
        value, grad = adc.value_and_grad(f, wrt=wrt, mode=mode)(*args)
        assert value == pytest.approx(f(*copy.deepcopy(before)), rel=1e-13)
        for a, b in zip(args, before):
            assert repr(a) == repr(b)  # the caller's objects are as they were
        if isinstance(expected, dict):
            assert set(grad) == set(expected)
            for key in expected:
                np.testing.assert_allclose(grad[key], expected[key], rtol=1e-6, atol=1e-7)
        elif isinstance(expected, list):
            for g, e in zip(grad, expected):
                np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)


def _check_hessian(f, x):
    grad = adc.grad(f)
    eps = 1e-6
    numeric = np.array([(grad(x + eps * e) - grad(x - eps * e)) / (2 * eps)
                        for e in np.eye(x.size)])
    np.testing.assert_allclose(adc.hessian(f)(x), numeric, rtol=1e-5, atol=1e-6)


X = np.array([0.3, -1.5, 2.0])


@pytest.mark.parametrize("f", [copied_array, deep_copied_array, spread_displays, keywords_dict,
                               deep_copied_params], ids=lambda f: f.__name__)
def test_a_copy_of_an_array_or_display(f):
    _check(f, (X.copy(),))
    _check_hessian(f, X.copy())


@pytest.mark.parametrize("f", [copied_rows, deep_copied_rows], ids=lambda f: f.__name__)
def test_a_copy_of_a_list_of_arrays(f):
    _check(f, ([X.copy(), 2.0 * X],))


@pytest.mark.parametrize("f", [dict_copy, spread_copy], ids=lambda f: f.__name__)
def test_a_copy_of_a_dict_of_parameters(f):
    _check(f, ({"w": X.copy(), "b": 0.7},))


@pytest.mark.parametrize("f", [deep_copied_state_written_by_key, params_written_by_key],
                         ids=lambda f: f.__name__)
def test_a_write_into_a_dict_item_selected_by_its_key(f):
    """``s["w"][0] = v`` writes into the array the dict holds (a key selects the item
    itself), written back by the same key; it was refused as an index array."""
    _check(f, ({"w": X.copy(), "b": 0.7},))


def test_dict_with_keywords_and_double_star():
    _check(dict_with_keywords, ({"a": 0.7, "b": -1.2}, 1.3), wrt=0)
    _check(dict_with_keywords, ({"a": 0.7, "b": -1.2}, 1.3), wrt=1)


def test_dict_of_pairs_made_in_the_function_is_refused_where_it_is_written():
    with pytest.raises(adc.ADCompileError) as refused:
        adc.grad(dict_of_zipped_pairs)
    assert "of key-value pairs is not supported" in refused.value.what
    assert refused.value.lineno == dict_of_zipped_pairs.__code__.co_firstlineno + 1


def test_the_generated_code_calls_what_the_user_called():
    assert "copy.copy(x)" in adc.source(copied_array)
    assert "copy.deepcopy(xs)" in adc.source(deep_copied_rows)
    assert "dict(p)" in adc.source(dict_copy)


def test_a_shallow_copy_written_inside_is_refused_when_it_runs():
    """ys[0] is xs[0]: writing into it changes xs, which the compiled code cannot
    follow; it says so instead of differentiating another function."""
    xs = [X.copy(), 2.0 * X]
    numeric_grad(lambda x: shallow_copy_written_inside([x, 2.0 * X]), [X.copy()], 0)
    for mode in MODES:
        with pytest.raises(ValueError, match="xs, read afterwards, shares it"):
            adc.grad(shallow_copy_written_inside, mode=mode)(xs)


def test_dict_of_pairs_is_refused_when_it_runs():
    """dict(pairs) is not a copy: the compiled code raises, naming the line."""
    assert dict_of_pairs([("a", 2.0)], 1.5) == 3.0
    for mode in MODES:
        with pytest.raises(TypeError, match="dict is differentiated as a copy of a dict"):
            adc.grad(dict_of_pairs, wrt=1, mode=mode)([("a", 2.0)], 1.5)
