"""Recursion: unrolled where a depth given as a number at the call bounds it, refused
at the call closing the cycle where its depth depends on data.

Each unrolled function is checked against central differences in both modes and, for
second derivatives, against differences of the gradient; the fixtures are in
tests/fixtures/recursion.py.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from support import central, load_fixture, numeric_grad

import ad_compiler as adc
from ad_compiler.lowering import recursion

R = load_fixture("recursion")
MODES = ["reverse", "forward"]


def marked_line(fn) -> int:
    lines, start = inspect.getsourcelines(fn)
    return next(start + k for k, line in enumerate(lines) if "# ERR" in line)


@pytest.mark.parametrize("mode", MODES)
def test_horner_of_a_cubic(mode):
    for cs in (np.array([0.5, -1.0, 2.0, 0.7]), [0.5, -1.0, 2.0, 0.7]):
        for x in (-1.3, 0.4):
            d_cs, d_x = adc.grad(R.cubic, wrt=(0, 1), mode=mode)(cs, x)
            # d/dc_k = x^(3-k): the innermost coefficient is multiplied by x three times
            assert np.allclose(d_cs, [x ** 3, x ** 2, x, 1.0], rtol=1e-14)
            assert d_x == pytest.approx(central(R.cubic, [cs, x], 1), rel=1e-9)
            assert np.allclose(d_cs, numeric_grad(R.cubic, [cs, x], 0), rtol=1e-8)


def test_horner_second_derivative():
    cs = np.array([0.5, -1.0, 2.0, 0.7])
    slope = adc.grad(R.cubic, wrt=1)
    for x in (-1.3, 0.4):
        expected = central(lambda x: slope(cs, x), [x], 0)
        assert adc.hessian(R.cubic, wrt=1)(cs, x) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_power_by_squaring(mode):
    for x in (-1.1, 0.3, 1.7):
        got = adc.grad(R.thirteenth_power, mode=mode)(x)
        assert got == pytest.approx(central(R.thirteenth_power, [x], 0), rel=1e-8)
        assert adc.value_and_grad(R.thirteenth_power, mode=mode)(x)[0] == \
            pytest.approx(R.thirteenth_power(x), rel=1e-15)
    gx, gy = adc.grad(R.power_of_a_sum, wrt=(0, 1), mode=mode)(0.6, -0.2)
    assert gx == pytest.approx(central(R.power_of_a_sum, [0.6, -0.2], 0), rel=1e-8)
    assert gy == pytest.approx(central(R.power_of_a_sum, [0.6, -0.2], 1), rel=1e-8)


def test_power_by_squaring_is_straight_line_code():
    code = [line for line in adc.source(R.thirteenth_power).splitlines()[1:]
            if not line.lstrip().startswith("#")]
    assert not any("power" in line or "if " in line for line in code), code
    # (the branches on n are decided when compiling: no call, no test is left)
    hessian = adc.hessian(R.thirteenth_power)
    slope = adc.grad(R.thirteenth_power)
    for x in (-1.1, 1.7):
        assert hessian(x) == pytest.approx(central(slope, [x], 0), rel=1e-8)
    # grad of grad agrees with forward over reverse
    assert adc.grad(slope)(1.7) == pytest.approx(hessian(1.7), rel=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_a_pairwise_log_sum_exp(mode):
    x = np.array([0.3, -1.2, 2.0, 0.1, 0.5, -0.4, 1.9, 0.0])
    got = adc.grad(R.energy_of_eight, mode=mode)(x)
    # the tree reduction is log(sum(exp(x))): its gradient is the softmax
    assert np.allclose(got, np.exp(x) / np.exp(x).sum(), rtol=1e-12)
    assert np.allclose(got, numeric_grad(R.energy_of_eight, [x], 0), rtol=1e-7)
    ties = np.array([1.0, 1.0, 0.5, 2.0, -3.0, -3.0, 0.0, 0.0])  # max of equal halves
    assert np.allclose(adc.grad(R.energy_of_eight, mode=mode)(ties),
                       np.exp(ties) / np.exp(ties).sum(), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_a_binary_tree_of_constant_depth(mode):
    x = np.linspace(-0.9, 0.8, 16)
    got = adc.grad(R.tree_of_depth_three, mode=mode)(x)
    assert np.allclose(got, numeric_grad(R.tree_of_depth_three, [x], 0), rtol=1e-7,
                       atol=1e-10)


def test_a_binary_tree_hessian():
    x = np.linspace(-0.9, 0.8, 16)
    hessian = adc.hessian(R.tree_of_depth_three)(x)
    gradient = adc.grad(R.tree_of_depth_three)
    for k in (0, 7, 15):
        column = numeric_grad(lambda x, k=k: gradient(x)[k], [x], 0)
        assert np.allclose(hessian[k], column, rtol=1e-6, atol=1e-9)
    assert np.allclose(hessian, hessian.T, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_mutual_recursion(mode):
    for x in (-0.7, 0.4, 2.2):
        got = adc.grad(R.seven_half_steps, mode=mode)(x)
        assert got == pytest.approx(central(R.seven_half_steps, [x], 0), rel=1e-8)
        # x -> 0.9 x, then three steps x -> 0.9 (x + 0.1), then sin: 0.9**4 cos(...)
        inner = 0.9 * x
        for _ in range(3):
            inner = 0.9 * (inner + 0.1)
        assert got == pytest.approx(0.9 ** 4 * math.cos(inner), rel=1e-13)


@pytest.mark.parametrize("mode", MODES)
def test_a_recursive_nested_function_and_a_default_depth(mode):
    for x in (-0.5, 0.7):
        # 1 + x + x^2/2 + ...: the partial sum of e^x, differentiated term by term
        expected = sum(x ** (k - 1) / math.factorial(k - 1) for k in range(1, 13))
        assert adc.grad(R.taylor_exp, mode=mode)(x) == pytest.approx(expected, rel=1e-13)
        got = adc.grad(R.nested_cosines, mode=mode)(x)
        assert got == pytest.approx(central(R.nested_cosines, [x], 0), rel=1e-8)
    assert adc.hessian(R.taylor_exp)(0.7) == pytest.approx(
        sum(0.7 ** (k - 2) / math.factorial(k - 2) for k in range(2, 13)), rel=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_recursion_through_a_branch_on_data(mode):
    """Each level tests x: points where the iteration stops at the first level, after
    a few, and never (the branch taken changes with x, the derivative follows it)."""
    gradient = adc.grad(R.twelve_clipped, mode=mode)
    for x in (0.2, 0.45, 0.55, 1.0, 2.5):
        assert gradient(x) == pytest.approx(clipped_slope(x, 12), rel=1e-13)
        assert gradient(x) == pytest.approx(central(R.twelve_clipped, [x], 0, h0=1e-5),
                                            rel=1e-5, abs=1e-9)
    assert gradient(0.2) == pytest.approx(0.4, rel=1e-14)  # x * x at once


def clipped_slope(x: float, n: int) -> float:
    """d clipped_map(x, n) / dx by the chain rule, level by level."""
    if n == 0:
        return 1.0
    if x > 0.5:
        return 1.1 * clipped_slope(math.sin(x) + 0.3, n - 1) * math.cos(x)
    return 2.0 * x


def test_recursion_through_a_branch_on_data_second_order():
    slope = adc.grad(R.twelve_clipped)
    hessian = adc.hessian(R.twelve_clipped)
    for x in (0.2, 0.55, 2.5):
        assert hessian(x) == pytest.approx(central(slope, [x], 0, h0=1e-6), rel=1e-6,
                                           abs=1e-10)


REFUSED = [
    (R.halve_below_one, R.halve_below_one, (3.0,), "halve_below_one -> halve_below_one",
     "depends on data"),
    (R.ping, R.pong, (3.0,), "ping -> pong -> ping", "depends on data"),
    (R.halving_inside, R.halving_inside, (3.0,), "halve -> halve", "depends on data"),
    (R.count_from_zero, R.count_halvings, (3.0,), "count_halvings -> count_halvings",
     f"{recursion.MAX_DEPTH} levels deep"),
    (R.power_one_thousand, R.huge_power, (1.01,), "huge_power -> huge_power",
     f"{recursion.MAX_DEPTH} levels deep"),
    (R.tree_of_depth_twelve, R.wide_tree, (np.ones(3),), "wide_tree -> wide_tree",
     f"{recursion.MAX_CALLS} recursive calls"),
    (R.eighty_clipped, R.deep_clipped, (3.0,), "deep_clipped -> deep_clipped",
     "nest 80 levels"),
    (R.calls_itself_with_three, R.same_depth, (3.0,), "same_depth -> same_depth",
     "depends on data"),
]


@pytest.mark.parametrize("fn,where,args,cycle,why", REFUSED,
                         ids=[case[0].__name__ for case in REFUSED])
@pytest.mark.parametrize("mode", MODES)
def test_recursion_that_cannot_be_unrolled_is_refused_at_the_closing_call(
        fn, where, args, cycle, why, mode):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn, mode=mode)(*args)
    err = info.value
    assert err.lineno == marked_line(where), str(err)
    assert err.filename == inspect.getsourcefile(where)
    assert f"({cycle}, the call at line {err.lineno} closing the cycle)" in err.what
    assert why in err.what, err.what
    assert "loop" in err.hint


def test_the_function_differentiated_recursing_on_its_own_parameter():
    """The depth is a parameter, a value when compiling: refused, with the way out."""
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(R.horner, wrt=1)(np.ones(4), 0.5, 3)
    assert "horner -> horner" in info.value.what
    assert "horner(cs, x, 3)" in info.value.hint


@pytest.mark.parametrize("mode", MODES)
def test_a_condition_on_a_number_known_when_compiling(mode):
    """What unrolling relies on: a branch on numbers written in the code is decided
    when compiling, in statements, conditional expressions, `and`, `or` and `not`."""
    for fn, expected in ((R.exact_sine, math.cos), (R.series_sine, lambda x: 1 - x * x / 2),
                         (R.named_sine, math.cos)):
        for x in (-0.4, 0.9):
            assert adc.grad(fn, mode=mode)(x) == pytest.approx(expected(x), rel=1e-14)
        assert " if " not in adc.source(fn, mode=mode).replace("# ", "#")
