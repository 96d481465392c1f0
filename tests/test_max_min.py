"""max/min (builtin and NumPy): the derivative follows the operand that is chosen."""
import numpy as np
import pytest
from support import central

import ad_compiler as adc


def relu(x):
    return max(x, 0.0)


def clipped(x, lo, hi):
    return min(max(x, lo), hi) * x


def soft_mix(x, y):
    return max(x, 0.0) * min(x, y) + np.maximum(x * y, 0.5)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("x,expected", [(2.0, 1.0), (-1.0, 0.0)])
def test_relu_derivative_is_a_float(mode, x, expected):
    d = adc.grad(relu, mode=mode)(x)
    assert d == expected and type(d) is float


@pytest.mark.parametrize("point", [(0.7, 0.0, 1.0), (-0.3, 0.0, 1.0), (1.7, 0.0, 1.0),
                                   (0.4, -1.0, 0.2)])
def test_clip_against_hand_derivative_and_central_differences(point):
    x, lo, hi = point
    inside = lo < x < hi
    # f = x * clip(x): df/dx = clip(x) + x * [lo < x < hi]; df/dlo = x [x < lo]; df/dhi = x [x > hi]
    clip = min(max(x, lo), hi)
    expected = (clip + (x if inside else 0.0), x if x < lo else 0.0, x if x > hi else 0.0)
    for mode in ("reverse", "forward"):
        got = adc.grad(clipped, wrt=(0, 1, 2), mode=mode)(*point)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)
    for i in range(3):
        assert adc.grad(clipped, wrt=(0, 1, 2))(*point)[i] == pytest.approx(
            central(clipped, list(point), i), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("point", [(0.7, 1.3), (0.7, 0.3), (-0.4, 2.0), (2.0, 1.5)])
def test_mixed_max_min_forward_equals_reverse_and_differences(point):
    rev = adc.grad(soft_mix, wrt=(0, 1))(*point)
    fwd = adc.grad(soft_mix, wrt=(0, 1), mode="forward")(*point)
    assert rev == pytest.approx(fwd, rel=1e-12)
    for i in range(2):
        assert rev[i] == pytest.approx(central(soft_mix, list(point), i), rel=1e-6, abs=1e-9)


def test_np_maximum_on_arrays_is_elementwise():
    def f(x):
        return np.maximum(x, 0.5) * x

    x = np.array([0.2, 0.9, 1.5])
    tangent = adc.jvp(f, (x,), (np.ones(3),))[1]
    expected = np.where(x >= 0.5, 2 * x, 0.5)  # d/dx [max(x, .5) x]
    assert np.allclose(tangent, expected)


def test_max_of_more_than_two_inactive_values_stays_a_call():
    def f(x):
        return max(1.0, 2.0, 3.0) * x

    assert adc.grad(f)(0.5) == 3.0
