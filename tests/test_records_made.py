"""Namedtuples and dataclasses made inside the differentiated function, and changed
with ``._replace`` and ``dataclasses.replace`` (tests/fixtures/records_made.py): the
value is Python's, both modes agree with central differences and with each other,
and second derivatives with differences of the gradient, in both reverse orders."""
from __future__ import annotations

import numpy as np
import pytest
from support import assert_same_tree, load_fixture, tree_numeric_grad

import ad_compiler as adc

R = load_fixture("records_made")
RNG = np.random.default_rng(5)
W, B, X = RNG.normal(size=3), 0.5, RNG.normal(size=(4, 3))
V2 = [RNG.normal(size=2) for _ in range(3)]

# name -> (arguments, arguments differentiated)
CASES = {
    "linear_model": ((W, B, X), (0, 1)),
    "point_distance": ((1.5, -0.5), (0, 1)),
    "replaced_parameter": ((R.Params(np.array([1.0, -2.0]), 0.5), 0.7), (0, 1)),
    "replaced_point": ((R.Point(1.5, -0.5), 0.7), (0, 1)),
    "replaced_made_here": ((1.5, -0.5), (0, 1)),
    "passed_to_a_helper": ((V2[0], V2[1], V2[2]), (0, 1, 2)),
    "records_in_a_loop": (([1.5, -0.5, 2.0], 0.7), (0, 1)),
    "list_of_records": (([1.5, -0.5, 2.0],), (0,)),
    "record_of_a_record": ((1.5, 0.5), (0, 1)),
}


def _grads(name, mode):
    args, wrt = CASES[name]
    fn = getattr(R, name)
    if len(wrt) == 1:
        return (adc.grad(fn, wrt=wrt[0], mode=mode)(*args),)
    return adc.grad(fn, wrt=wrt, mode=mode)(*args)


@pytest.mark.parametrize("name", list(CASES))
def test_the_value_is_pythons(name):
    args, wrt = CASES[name]
    value, _ = adc.value_and_grad(getattr(R, name), wrt=wrt)(*args)
    assert value == getattr(R, name)(*args)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name", list(CASES))
def test_against_central_differences(name, mode):
    args, wrt = CASES[name]
    for k, g in zip(wrt, _grads(name, mode)):
        assert_same_tree(g, tree_numeric_grad(getattr(R, name), args, k), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_forward_equals_reverse(name):
    for a, b in zip(_grads(name, "forward"), _grads(name, "reverse")):
        assert_same_tree(a, b, rtol=1e-12, atol=1e-12)


def test_a_field_left_to_its_default_has_no_derivative():
    # q.x q.y + h.mu / h.sigma + g.sigma with q = (a, a b), h.sigma = 2 b and g.sigma the
    # default 1.0: d/da = 2 a b + 1 / (2 b), d/db = a**2 - a / (2 b**2)
    a, b = 1.5, -0.5
    for mode in ("reverse", "forward"):
        da, db = adc.grad(R.replaced_made_here, wrt=(0, 1), mode=mode)(a, b)
        assert da == pytest.approx(2 * a * b + 1 / (2 * b), rel=1e-14)
        assert db == pytest.approx(a ** 2 - a / (2 * b ** 2), rel=1e-14)


def test_a_replaced_parameter_has_the_derivative_of_the_fields_kept():
    # sum(w**2) * c * b: d/dw = 2 w c b, d/db = sum(w**2) c, d/dc = sum(w**2) b
    p = R.Params(np.array([1.0, -2.0]), 0.5)
    for mode in ("reverse", "forward"):
        dp, dc = adc.grad(R.replaced_parameter, wrt=(0, 1), mode=mode)(p, 0.7)
        assert isinstance(dp, R.Params)
        np.testing.assert_allclose(dp.w, 2 * p.w * 0.7 * 0.5, rtol=1e-14)
        assert dp.b == pytest.approx(5.0 * 0.7, rel=1e-14)
        assert dc == pytest.approx(5.0 * 0.5, rel=1e-14)


def _second_by_differences(fn, args, k, h=1e-5):
    grad = adc.grad(fn, wrt=k)
    x = np.asarray(args[k], dtype=float)
    columns = []
    for j in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[j] += h
        lo[j] -= h
        up, down = list(args), list(args)
        up[k], down[k] = (hi, lo) if x.ndim else (float(hi), float(lo))
        columns.append((np.asarray(grad(*up)) - np.asarray(grad(*down))) / (2 * h))
    return np.array(columns).T.reshape(x.shape * 2) if x.ndim else columns[0]


# (name, the argument differentiated twice)
SECOND = [("linear_model", 0), ("linear_model", 1), ("point_distance", 0),
          ("point_distance", 1), ("replaced_parameter", 1), ("replaced_point", 1),
          ("replaced_made_here", 0), ("replaced_made_here", 1), ("passed_to_a_helper", 0),
          ("records_in_a_loop", 1), ("record_of_a_record", 1)]


@pytest.mark.parametrize("name,k", SECOND)
def test_second_derivatives_in_every_order(name, k):
    args, _ = CASES[name]
    fn = getattr(R, name)
    hess = np.asarray(adc.hessian(fn, wrt=k)(*args), dtype=float)
    np.testing.assert_allclose(hess, _second_by_differences(fn, args, k), rtol=1e-5, atol=1e-6)
    if np.ndim(args[k]) == 0:
        again = adc.grad(adc.grad(fn, wrt=k), wrt=k)(*args)
    else:
        again = adc.jacobian(adc.grad(fn, wrt=k), wrt=k, mode="reverse")(*args)
    np.testing.assert_allclose(np.asarray(again, dtype=float), hess, rtol=1e-10, atol=1e-12)


def test_the_generated_code_builds_the_record_as_written():
    source = adc.source(R.linear_model, wrt=(0, 1))
    assert "p = Params(w=w1_1, b=b)" in source


@pytest.mark.parametrize("name,word", [
    ("normalised", "has a __post_init__"),
    ("converted", "has a hand-written __init__"),
    ("wrong_replace", "is a namedtuple, which has no replace()"),
    ("unknown_field", "has no field 'c'"),
])
def test_records_whose_fields_may_be_made_otherwise_are_refused(name, word):
    fn = getattr(R, name)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn)(np.array([1.0, 2.0]) if name in ("normalised", "converted") else 1.5)
    assert word in info.value.what
    assert info.value.filename.endswith("records_made.py") and info.value.hint


def test_a_class_that_keeps_something_else_is_refused_when_it_runs():
    with pytest.raises(TypeError, match="keeps something else than the value given"):
        adc.grad(R.kept_otherwise)(0.5)


X3 = np.array([0.3, -0.5, 0.8])


def _jacobian_by_differences(fn, x, h=1e-6):
    return np.array([(np.asarray(fn(x + h * e)) - np.asarray(fn(x - h * e))) / (2 * h)
                     for e in np.eye(x.size)]).T


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_the_jacobian_of_records_carried_by_a_loop(mode):
    jacobian = adc.jacobian(R.carried_namedtuple, mode=mode)(X3)
    np.testing.assert_allclose(jacobian, _jacobian_by_differences(R.carried_namedtuple, X3),
                               rtol=1e-6, atol=1e-7)


def test_the_hessian_of_records_carried_by_a_loop():
    fn = R.carried_dataclass
    hess = adc.hessian(fn)(X3)  # vector mode through the replaced helper
    np.testing.assert_allclose(hess, _jacobian_by_differences(adc.grad(fn), X3, h=1e-5),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(adc.jacobian(adc.grad(fn), mode="reverse")(X3), hess,
                               rtol=1e-10, atol=1e-12)
