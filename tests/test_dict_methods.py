"""A dict's methods, ``d.update(...)``, ``d.setdefault(k, v)``, ``d.pop(k[, default])``
and ``d.get(k[, default])``, on dicts made in the function and dicts passed in
(tests/fixtures/dict_methods.py): the value is Python's, both modes agree with central
differences and with each other, the paths where a key is there and where it is not
are both checked, and second derivatives agree with differences of the gradient."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from support import assert_same_tree, load_fixture, tree_numeric_grad

import ad_compiler as adc

D = load_fixture("dict_methods")
LAYER = {"W": np.array([[1.0, 0.5], [-0.3, 2.0]]), "b": np.array([0.1, -0.2])}

# name -> (arguments, arguments differentiated); "-..." names another point
CASES = {
    "merged_config": (({"w": 1.5, "b": -0.5}, 0.3), (0, 1)),
    "merged_config-empty": (({}, 0.3), (1,)),
    "updated_parameter": (({"w": 1.5, "b": -0.5}, {"b": 2.0, "c": 0.7}), (0, 1)),
    "updated_parameter-no-c": (({"w": 1.5, "b": -0.5}, {"w": 2.0}), (0, 1)),
    "swapped": ((1.5, -0.5), (0, 1)),
    "pairs_update": ((1.5, -0.5), (0, 1)),
    "counts_with_setdefault": (([1.5, -0.5, 2.0, 0.3], ["a", "b", "a", "b"]), (0,)),
    "setdefault_value": (({"w": 1.5, "b": -0.5}, 0.7), (0, 1)),
    "setdefault_value-no-w": (({"b": -0.5}, 0.7), (0, 1)),
    "setdefault_value-both": (({"w": 1.5, "z": -0.5}, 0.7), (0, 1)),
    "popped": (({"a": 1.5, "w": -0.5, "b": 2.0},), (0,)),
    "popped_with_default": (({"a": 1.5, "b": 2.0}, 0.7), (0, 1)),
    "popped_with_default-both": (({"a": 1.5, "b": 2.0, "z": -1.0}, 0.7), (0, 1)),
    "popped_with_default-no-a": (({"b": 2.0}, 0.7), (0, 1)),
    "popped_from_display": ((1.5, -0.5), (0, 1)),
    "get_with_default": (({"w": 1.5, "b": -0.5}, 0.7), (0, 1)),
    "get_with_default-other": (({"missing": 1.5}, 0.7), (0, 1)),
    "get_of_computed_key": (({"w": 1.5, "b": -0.5}, "b", 0.7), (0, 2)),
    "get_of_computed_key-absent": (({"w": 1.5, "b": -0.5}, "q", 0.7), (0, 2)),
    "array_values": ((LAYER, np.array([0.5, -1.0])), (0, 1)),
    "array_values-scale": (({**LAYER, "scale": np.array([2.0, -1.0])}, np.array([0.5, -1.0])),
                           (0, 1)),
    "updated_in_a_loop": (([1.5, -0.5, 2.0, 0.3],), (0,)),
    "updated_from_a_parameter_in_a_loop": (({"w": 1.5, "b": -0.5}, [0.5, 2.0, -1.0]), (0, 1)),
    "changed_in_place": (({"w": 1.5, "b": -0.5}, 0.7), (0, 1)),
    "changed_in_place-z": (({"w": 1.5, "z": 2.5}, 0.7), (0, 1)),
    "loop_over_keys_of_made_dicts": ((1.5, -0.5), (0, 1)),
    "loop_over_keys_of_made_dicts-b": ((0.5, 2.5), (0, 1)),
    "loop_over_a_copy_of_a_parameter": (({1: 1.5, 0: -0.5, 3: 2.0},), (0,)),
    "loop_over_a_written_parameter": (({1: 1.5, 0: -0.5}, 0.7), (0, 1)),
    "loop_over_a_copy_of_a_list": (([1.5, -0.5, 2.0],), (0,)),
    "written_on_one_path": (({"w": 1.5, "z": -0.5}, 0.7, 0), (0, 1)),
    "written_on_one_path-1": (({"w": 1.5, "z": -0.5}, 0.7, 1), (0, 1)),
    "written_on_one_path-2": (({"w": 1.5, "z": -0.5}, 0.7, 2), (0, 1)),
}


def _fn(name):
    return getattr(D, name.partition("-")[0])


def _grads(name, mode):
    args, wrt = CASES[name]
    args = copy.deepcopy(args)
    if len(wrt) == 1:
        return (adc.grad(_fn(name), wrt=wrt[0], mode=mode)(*args),)
    return adc.grad(_fn(name), wrt=wrt, mode=mode)(*args)


@pytest.mark.parametrize("name", list(CASES))
def test_the_value_is_pythons(name):
    args, wrt = CASES[name]
    value, _ = adc.value_and_grad(_fn(name), wrt=wrt)(*copy.deepcopy(args))
    assert value == _fn(name)(*copy.deepcopy(args))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name", list(CASES))
def test_against_central_differences(name, mode):
    args, wrt = CASES[name]

    def fn(*a):  # the function may change the dicts it is given, as Python's does
        return _fn(name)(*copy.deepcopy(a))

    for k, g in zip(wrt, _grads(name, mode)):
        assert_same_tree(g, tree_numeric_grad(fn, args, k), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_forward_equals_reverse(name):
    for a, b in zip(_grads(name, "forward"), _grads(name, "reverse")):
        assert_same_tree(a, b, rtol=1e-12, atol=1e-12)


def test_pop_leaves_the_other_items_in_their_order():
    # rest = 0.5 * (0.5 * 0 + a) + b after popping w: d/da = 0.5 w, d/db = w, d/dw = rest
    grads = adc.grad(D.popped)({"a": 1.5, "w": -0.5, "b": 2.0})
    assert list(grads) == ["a", "w", "b"]
    assert grads == {"a": -0.25, "w": 0.5 * 1.5 + 2.0, "b": -0.5}


def _second_by_differences(fn, args, k, h=1e-5):
    grad = adc.grad(fn, wrt=k)
    hi, lo = list(args), list(args)
    hi[k], lo[k] = args[k] + h, args[k] - h
    return (grad(*copy.deepcopy(hi)) - grad(*copy.deepcopy(lo))) / (2 * h)


# name -> the number differentiated twice
SECOND = {"merged_config": 1, "setdefault_value": 1, "setdefault_value-no-w": 1,
          "popped_with_default": 1, "popped_with_default-no-a": 1, "get_with_default": 1,
          "get_with_default-other": 1, "get_of_computed_key-absent": 2, "swapped": 0,
          "pairs_update": 1, "written_on_one_path": 1, "written_on_one_path-1": 1,
          "written_on_one_path-2": 1, "changed_in_place": 1, "changed_in_place-z": 1,
          "loop_over_keys_of_made_dicts": 0}


@pytest.mark.parametrize("name", list(SECOND))
def test_second_derivatives_in_every_order(name):
    args, _ = CASES[name]
    k = SECOND[name]
    fn = _fn(name)
    hess = adc.hessian(fn, wrt=k)(*copy.deepcopy(args))  # forward over reverse
    assert hess == pytest.approx(_second_by_differences(fn, args, k), rel=1e-6, abs=1e-6)
    again = adc.grad(adc.grad(fn, wrt=k), wrt=k)(*copy.deepcopy(args))  # reverse over reverse
    assert again == pytest.approx(hess, rel=1e-12, abs=1e-12)


def test_the_hessian_in_a_dict_passed_in():
    # w * rest with rest = 0.5 a + b: d2/dw da = 0.5, d2/dw db = 1
    hess = adc.hessian(D.popped)({"a": 1.5, "w": -0.5, "b": 2.0})
    assert hess == {"a": {"a": 0.0, "w": 0.5, "b": 0.0}, "w": {"a": 0.5, "w": 0.0, "b": 1.0},
                    "b": {"a": 0.0, "w": 1.0, "b": 0.0}}


def test_a_change_of_a_dict_another_container_holds_is_refused_when_it_runs():
    with pytest.raises(ValueError, match="held, read afterwards, shares it"):
        adc.grad(D.held_in_a_list, wrt=1)({"w": 1.0}, 0.5)


def test_refusals():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(D.pop_of_a_missing_key)(0.5)
    assert info.value.lineno == D.pop_of_a_missing_key.__code__.co_firstlineno + 2
    assert "'y' is not a key" in info.value.what
    with pytest.raises(TypeError, match="must be called on a dict here, not on a list"):
        adc.grad(D.get_of_a_list, wrt=1)([1.0], 0.5)


@pytest.mark.parametrize("given", [{}, {"w": np.array([1.0, -2.0, 0.5])},
                                   {"c": np.array([0.5, 1.0, -1.0]), "b": 3.0}],
                         ids=["none", "w", "c"])
def test_the_hessian_in_an_array_moved_by_every_method(given):
    x = np.array([0.3, -0.5, 0.8])
    fn = D.arrays_through_every_method
    grad = adc.grad(fn)
    by_differences = np.array([(grad(x + 1e-5 * e, given) - grad(x - 1e-5 * e, given)) / 2e-5
                               for e in np.eye(3)]).T
    hess = adc.hessian(fn)(x, given)  # vector mode
    np.testing.assert_allclose(hess, by_differences, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(adc.jacobian(grad, mode="reverse")(x, given), hess,
                               rtol=1e-10, atol=1e-12)
