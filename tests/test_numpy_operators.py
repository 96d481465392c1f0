"""np.add, np.multiply and their kin convert lists to arrays: the compiled function
must too (printed as `xs + ys` they joined the lists, a wrong value and gradient)."""
import numpy as np
import pytest
from support import load_fixture

import ad_compiler as adc

F = load_fixture("numpy_operators")
XS, YS = [1.0, 2.0], [3.0, 5.0]

CASES = [
    # f, args, the gradient by hand
    (F.mean_of_sums, (XS, YS), ([0.5, 1.0], [0.5, 1.0])),  # mean((x + y) w), w = (1, 2)
    (F.tripled, (XS,), ([3.0, 6.0],)),  # sum(3 x w)
    # sum((x y)^2): 2 x y^2 and 2 x^2 y
    (F.squared_products, (XS, YS), ([2 * 1 * 9, 2 * 2 * 25], [2 * 1 * 3, 2 * 4 * 5])),
    # sum((x - y)^2): 2 (x - y) and -2 (x - y)
    (F.squared_differences, (XS, YS), ([-4.0, -6.0], [4.0, 6.0])),
    # sum((x / y)^2 + x): 2 x / y^2 + 1 and -2 sum(x^2) / y^3
    (F.ratio_and_power, (XS, 2.0), ([2 * 1 / 4 + 1, 2 * 2 / 4 + 1], -2 * 5 / 8)),
    # (x1, x2, y1, y2) + 1 weighted by (1, 2, 3, 4)
    (F.joined_then_added, (XS, YS), ([1.0, 2.0], [3.0, 4.0])),
]


@pytest.mark.parametrize("fn,args,expected", CASES, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_lists_through_numpy_operator_functions(fn, args, expected, mode):
    wrt = tuple(range(len(args)))
    value, grads = adc.value_and_grad(fn, wrt=wrt, mode=mode)(*args)
    assert value == pytest.approx(fn(*args))
    for got, want in zip(grads, expected):
        assert np.allclose(got, want), (got, want)
    assert adc.check_grad(fn, *args) < 1e-6


def test_the_generated_code_calls_what_the_user_called():
    source = adc.source(F.mean_of_sums)
    assert "np.add(xs, ys)" in source and "xs + ys" not in source


def test_a_list_tangent_passed_through_by_numpy_is_an_array():
    """np.mod(xs, 0.7) has slope 1, so its tangent was the list's own tangent, which an
    int then repeated (`n * xs_dot`): jvp gave a third of the derivative."""
    xs, n = [0.5, 1.0, 2.0], 3
    _, tangent = adc.jvp(F.scaled_remainders, (xs, n), ([1.0, 0.0, 0.0], 0))
    assert tangent == pytest.approx(n / len(xs))  # d/dx0 of mean(n * (x mod 0.7))
    for mode in ("reverse", "forward"):
        assert adc.grad(F.doubled_remainders, mode=mode)(xs) == [2.0, 2.0, 2.0]


def test_hessian_of_the_product_of_a_list():
    """The gradient of np.prod of a list is a list, whose tangent vector mode made one
    array: the Hessian failed with a ValueError while assembling it."""
    xs = [0.5, 1.0, 2.0]
    # d2/dxi dxj of 2 x0 x1 x2: twice the remaining item off the diagonal, 0 on it
    expected = [[0.0, 4.0, 2.0], [4.0, 0.0, 1.0], [2.0, 1.0, 0.0]]
    assert np.allclose(adc.hessian(F.twice_the_product)(xs), expected)
    assert np.allclose(adc.hessian(F.twice_the_product)(np.array(xs)), expected)


def test_hessian_of_a_product_of_lists_against_differences_of_the_gradient():
    xs, ys = [0.5, 1.5, -2.0], [2.0, -1.0]
    hessian = np.asarray(adc.hessian(F.product_and_squares)(xs, ys))
    grad = adc.grad(F.product_and_squares)
    h = 1e-6
    for j in range(len(xs)):
        up, down = list(xs), list(xs)
        up[j] += h
        down[j] -= h
        column = (np.asarray(grad(up, ys)) - np.asarray(grad(down, ys))) / (2 * h)
        assert np.allclose(hessian[:, j], column, atol=1e-6), j
