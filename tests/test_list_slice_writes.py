"""Slice assignment into a list, ``xs[a:b] = [...]``, which may make the list longer or
shorter, or (with a step) replaces exactly as many items as it selects.  The same
statement into an array never changes its length; where the compiler cannot tell which
it has, the derivative decides when the code runs."""
import numpy as np
import pytest
from support import jacobian_by_differences, numeric_grad

import ad_compiler as adc


def piecewise_trajectory(x):
    """A list of stage values whose tail is replaced by a refined stage: it grows."""
    stages = [x, 2.0 * x, 3.0 * x]
    stages[1:] = [x * x, np.sin(x), x ** 3 / 6.0]
    return sum(s * (k + 1) for k, s in enumerate(stages))


def shrinking_window(x):
    """Three taps replaced by one averaged tap: the list gets shorter."""
    taps = [x, np.cos(x), x * x, np.exp(-x)]
    taps[1:3] = [0.5 * (np.cos(x) + x * x)]
    return taps[0] * taps[1] + taps[2] ** 2


def every_other(x, y):
    """An extended slice replaces the even-numbered items, the odd ones are kept."""
    coeffs = [x, y, x * y, y * y, x - y]
    coeffs[::2] = [np.tanh(x), 2.0 * y, x / (1.0 + y * y)]
    return coeffs[0] * coeffs[1] + coeffs[2] * coeffs[3] - coeffs[4]


def reversed_insert(x, y):
    """A negative step writes its items back to front."""
    terms = [x, y, x + y, x * y]
    terms[::-2] = [y ** 2, np.log(1.0 + x * x)]
    return terms[0] + 2.0 * terms[1] + 3.0 * terms[2] + 4.0 * terms[3]


def bounds_from_data(x, start):
    """Slice bounds known only when the function runs."""
    knots = [x, x ** 2, x ** 3, x ** 4]
    knots[start:start + 2] = [np.sqrt(1.0 + x * x)]
    total = 0.0
    for k in knots:
        total = total + k
    return total


def constants_spliced_in(x):
    """The new items carry no derivative: the old ones they replace lose theirs."""
    values = [x, 2.0 * x, np.sin(x)]
    values[:2] = [1.0, 2.0, 3.0]
    return values[0] + values[1] * values[2] + values[3] * x


def layer_list_refit(w):
    """A list of arrays (layers) whose middle is replaced by two new layers."""
    layers = [w, 2.0 * w, w * w]
    layers[1:2] = [np.tanh(w), w[::-1] * 0.5]
    out = 0.0
    for k, layer in enumerate(layers):
        out = out + (k + 1.0) * np.sum(layer ** 2)
    return out


def copied_argument(x):
    """``y = x.copy(); y[1:] = ...`` where x may be a list or an array."""
    y = x.copy()
    y[1:] = [x[0] * x[1], x[1] * x[2]]
    return y[0] * y[1] + y[2]


SCALAR_CASES = [
    (piecewise_trajectory, (0.7,)), (piecewise_trajectory, (-1.3,)),
    (shrinking_window, (0.4,)), (shrinking_window, (-0.9,)),
    (every_other, (0.6, -0.3)), (every_other, (-1.1, 0.8)),
    (reversed_insert, (0.5, 1.7)), (reversed_insert, (-0.4, 0.2)),
    (constants_spliced_in, (0.3,)), (constants_spliced_in, (1.9,)),
]


def _scalar_gradient(f, args):
    return [numeric_grad(f, args, k) for k in range(len(args))]


@pytest.mark.parametrize("f, args", SCALAR_CASES)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_gradient_of_a_list_slice_write(f, args, mode):
    wrt = tuple(range(len(args)))
    got = adc.grad(f, wrt=wrt, mode=mode)(*args)
    got = got if isinstance(got, tuple) else (got,)
    np.testing.assert_allclose(got, _scalar_gradient(f, args), rtol=1e-6, atol=1e-8)
    assert adc.value_and_grad(f, wrt=wrt, mode=mode)(*args)[0] == f(*args)


@pytest.mark.parametrize("f, args", SCALAR_CASES)
def test_second_derivatives_of_a_list_slice_write(f, args):
    """Reverse over reverse, forward over reverse and `adc.hessian` against differences
    of the gradient."""
    n = len(args)
    for i in range(n):
        def partial(*a, i=i):
            return adc.grad(f, wrt=i)(*a)

        for j in range(n):
            want = numeric_grad(partial, list(args), j, eps=1e-5)
            got = adc.grad(adc.grad(f, wrt=i), wrt=j)(*args)
            assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
            got = adc.grad(adc.grad(f, wrt=i), wrt=j, mode="forward")(*args)
            assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
        assert adc.hessian(f, wrt=i)(*args) == pytest.approx(
            numeric_grad(partial, list(args), i, eps=1e-5), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("start", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_slice_bounds_known_when_it_runs(start, mode):
    got = adc.grad(bounds_from_data, wrt=0, mode=mode)(0.8, start)
    want = numeric_grad(bounds_from_data, [0.8, start], 0)
    assert got == pytest.approx(want, rel=1e-7)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_list_of_layers_spliced(mode):
    w = np.array([0.3, -0.7, 1.2])
    got = adc.grad(layer_list_refit, mode=mode)(w)
    np.testing.assert_allclose(got, numeric_grad(layer_list_refit, [w], 0), rtol=1e-6)
    hessian = adc.hessian(layer_list_refit)(w)
    want = np.array([numeric_grad(lambda v, j=j: adc.grad(layer_list_refit)(v)[j], [w], 0)
                     for j in range(3)])
    np.testing.assert_allclose(hessian, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", [list, np.array])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_slice_write_into_what_may_be_a_list_or_an_array(kind, mode):
    """Into an array the write keeps the length; into a list it does too here, and the
    derivative follows the kind of the argument."""
    x = kind([0.4, -1.2, 0.9])
    got = adc.grad(copied_argument, mode=mode)(x)
    want = numeric_grad(copied_argument, [x], 0)
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=1e-6, atol=1e-9)


def spliced_rows(x):
    """A list of rows whose head is replaced by three rows, then stacked: a Jacobian."""
    rows = [x, 2.0 * x]
    rows[:1] = [np.sin(x), np.cos(x) * x[::-1], x ** 2]
    return np.stack(rows).sum(axis=0)


def refined_items(x):
    """Scalar items of an array, a tail spliced in, then made an array again."""
    parts = [x[0], x[1], x[2]]
    parts[1:] = [x[1] * x[2], np.sin(x[0]), x[2] ** 2]
    return np.array(parts) * 2.0


@pytest.mark.parametrize("f", [spliced_rows, refined_items])
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobians_through_a_list_slice_write(f, mode):
    """Vector mode forward and batched reverse mode, against differences."""
    x = np.array([0.3, -0.5, 1.1])
    np.testing.assert_allclose(adc.jacobian(f, mode=mode)(x),
                               jacobian_by_differences(f, [x], 0), rtol=1e-6, atol=1e-8)
