"""Augmented assignments that NumPy does in place on an array: ``c += v`` keeps `c`'s
dtype and shape, so NumPy refuses a float result for an integer array (a TypeError)
and a result of a wider shape (a ValueError), while ``c[0] += v`` on a vector writes
a number and truncates it.  The compiled code computes ``c + v``; it must refuse
where Python refuses, with the statement's location, and agree everywhere else.
"""
from __future__ import annotations

import numpy as np
import pytest
from support import numeric_grad

import ad_compiler as adc

MODES = ["reverse", "forward"]
X = np.array([0.3, 0.7, 1.1])
COUNTS = np.array([1, 2, 3])


# ------------------------------------------------------------------ refused by NumPy

def added(x, counts):
    c = counts.copy()
    c += 2.5 * x
    return np.sum(c * x)


def multiplied(x, counts):
    c = counts.copy()
    c *= 2.5 * x
    return np.sum(c * x)


def subtracted(x, counts):
    c = counts.copy()
    c -= 2.5 * x
    return np.sum(c * x)


def divided(x, counts):
    c = counts.copy()
    c /= 2
    return np.sum(c * x)


def slice_added(x, counts):
    c = counts.copy()
    c[1:] += 2.5 * x[1:]
    return np.sum(c * x)


def view_added(x, counts):
    y = counts[1:]
    y += 2.5 * x[1:]
    return np.sum(y * x[1:])


def row_added(x, counts):
    c = np.outer(counts, counts)
    c[0] += x
    return np.sum(c) * x[0]


def index_array_added(x, counts):
    c = counts.copy()
    c[[0, 1]] += x[:2]
    return np.sum(c * x)


def known_int_added(x, counts):
    c = np.zeros(3, dtype=int)
    c += 2.5 * x
    return np.sum(c * x)


def known_int_slice_added(x, counts):
    c = np.zeros(3, dtype=int)
    c[1:] += 2.5 * x[1:]
    return np.sum(c * x)


def bool_incremented(x, counts):
    b = x > 0.5
    b += 1
    return np.sum(b * x)


def zero_dim_added(x, counts):
    c = np.array(1)
    c += x[0]
    return c * x[1]


def widened(x, counts):
    a = np.zeros(3)
    a += np.ones((2, 3)) * x
    return np.sum(a)


def copy_widened(x, counts):
    a = x.copy()
    a += np.ones((2, 3)) * x
    return np.sum(a)


def number_code_added(x, counts):
    c = counts.copy()
    c += 2.5 * x
    return c[0] * x


REFUSED = [added, multiplied, subtracted, divided, slice_added, view_added, row_added,
           index_array_added, known_int_added, known_int_slice_added, bool_incremented,
           zero_dim_added, widened, copy_widened]


def python_error(f, *args):
    """The exception Python raises, which the test checks it does."""
    with pytest.raises(Exception) as caught:
        f(*args)
    return caught.value


def expected_kind(error):
    """TypeError for a cast NumPy refuses (its UFuncTypeError), ValueError for a shape."""
    assert isinstance(error, (TypeError, ValueError))
    return TypeError if isinstance(error, TypeError) else ValueError


@pytest.mark.parametrize("f", REFUSED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_refused_where_numpy_refuses(f, mode):
    kind = expected_kind(python_error(f, X, COUNTS.copy()))
    compiled = adc.value_and_grad(f, mode=mode)
    for _ in range(2):  # the first call and the code specialised to these inputs
        with pytest.raises(kind) as caught:
            compiled(X, COUNTS.copy())
        assert f"line {f.__code__.co_firstlineno + 2}" in str(caught.value)


@pytest.mark.parametrize("f", [added, slice_added, widened], ids=lambda f: f.__name__)
def test_refused_by_plain_grad(f):
    kind = expected_kind(python_error(f, X, COUNTS.copy()))
    with pytest.raises(kind):
        adc.grad(f)(X, COUNTS.copy())


def test_refused_in_number_code():
    """Code with no array primitive keeps the check for a parameter's copy."""
    kind = expected_kind(python_error(number_code_added, 0.5, COUNTS.copy()))
    with pytest.raises(kind):
        adc.value_and_grad(number_code_added, wrt=0)(0.5, COUNTS.copy())


def number_code_multiplied(x, counts):
    c = counts * 1
    c += 2.5 * x
    return c[0] * x


def number_code_unread(x, counts):
    c = counts + 0
    c += 2.5 * x
    return x * len(c)


def number_code_after_loop(x, counts):
    s = 0
    for row in counts:
        s += row
    s += 0.5 * x
    return s[0] * x


@pytest.mark.parametrize("f", [number_code_added, number_code_multiplied, number_code_unread],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_refused_in_number_code_made_from_input(f, mode):
    """Arithmetic of a parameter (``counts * 1``) may be an integer array as its copy
    may, whether or not the result is read afterwards."""
    kind = expected_kind(python_error(f, 0.5, COUNTS.copy()))
    for _ in range(2):
        with pytest.raises(kind) as caught:
            adc.value_and_grad(f, mode=mode)(0.5, COUNTS.copy())
        assert f"line {f.__code__.co_firstlineno + 2}" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_refused_after_a_loop_of_integer_rows(mode):
    """``s = 0`` summing integer rows is an integer array by the loop's end."""
    rows = np.array([[1, 2], [3, 4]])
    kind = expected_kind(python_error(number_code_after_loop, 0.5, rows.copy()))
    with pytest.raises(kind):
        adc.value_and_grad(number_code_after_loop, mode=mode)(0.5, rows.copy())


@pytest.mark.parametrize("f", [number_code_added, number_code_multiplied, number_code_unread],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_number_code_of_float_counts(f, mode):
    floats = COUNTS.astype(float)
    for x in (0.5, -1.25):
        expected = numeric_grad(lambda *a: f(a[0], a[1].copy()), [x, floats], 0)
        value, g = adc.value_and_grad(f, mode=mode)(x, floats.copy())
        assert value == pytest.approx(f(x, floats.copy()), rel=1e-14)
        assert np.shape(g) == () and g == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("mode", MODES)
def test_integers_then_floats(mode):
    """One compiled function called with integer counts (refused) and float counts
    (differentiated): each input signature has code of its own."""
    compiled = adc.value_and_grad(added, mode=mode)
    floats = COUNTS.astype(float)
    for _ in range(2):
        with pytest.raises(TypeError):
            compiled(X, COUNTS.copy())
        value, g = compiled(X, floats.copy())
        assert value == pytest.approx(added(X, floats.copy()), rel=1e-14)
        assert g == pytest.approx(floats + 5.0 * X, rel=1e-14)  # d/dx sum((k + 2.5x) x)


# ------------------------------------------------------------------ what NumPy does

def item_truncated(x, counts):
    c = counts.copy()
    c[0] += 2.5 * x[0]
    return np.sum(c * x)


def known_int_item_truncated(x, counts):
    c = np.zeros(3, dtype=int)
    c[0] += 2.5 * x[0] + 1.0
    return np.sum(c * x)


def float_copy_added(x, counts):
    c = counts.astype(float)
    c += 2.5 * x
    c *= x
    return np.sum(c)


def float_zeros_added(x, counts):
    a = np.zeros(3)
    a += x * x
    a -= np.ones((1, 3))[0] * x
    return np.sum(a * x)


def ints_added_to_ints(x, counts):
    c = counts.copy()
    c += 2 * counts
    return np.sum(c * x)


def scalar_into_row(x, counts):
    A = np.outer(x, x)
    A[0] += 2.0
    A *= 3.0
    return np.sum(A)


KEPT = [item_truncated, known_int_item_truncated, float_copy_added, float_zeros_added,
        ints_added_to_ints, scalar_into_row]


@pytest.mark.parametrize("f", KEPT, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_value_and_gradient_as_python(f, mode):
    compiled = adc.value_and_grad(f, mode=mode)
    for x in (X, np.array([-0.2, 1.3, 0.45])):
        expected = numeric_grad(lambda *a: f(a[0], a[1].copy()), [x, COUNTS], 0)
        for _ in range(2):
            value, g = compiled(x, COUNTS.copy())
            assert value == pytest.approx(f(x, COUNTS.copy()), rel=1e-14, abs=1e-14)
            assert g == pytest.approx(expected, rel=1e-6, abs=1e-8)


def test_truncated_item_has_no_derivative():
    """``c[0] += 2.5 * x[0]`` into integers: int(1.75) is 1, so d/dx0 is c[0] alone."""
    for mode in MODES:
        value, g = adc.value_and_grad(item_truncated, mode=mode)(X, COUNTS.copy())
        assert value == pytest.approx(1 * 0.3 + 2 * 0.7 + 3 * 1.1, rel=1e-14)
        assert g == pytest.approx(COUNTS.astype(float), rel=1e-15)


# ------------------------------------------------------------------ what it costs

def number_loop(xs):
    s = 0.0
    for xi in xs:
        s += xi * xi
    return s


def float_update(x, W):
    h = np.tanh(W @ x)
    h += x
    h *= 2.0
    return np.sum(h)


@pytest.mark.parametrize("mode", MODES)
def test_no_check_for_numbers(mode):
    xs = [0.5, -1.5, 2.0]
    g = adc.grad(number_loop, mode=mode)(xs)
    assert g == pytest.approx([2.0 * v for v in xs], rel=1e-15)
    assert "check_inplace" not in adc.source(number_loop, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_check_folded_for_float_arrays(mode):
    W = np.array([[0.5, -0.2, 0.1], [0.3, 0.8, -0.4], [0.0, 0.6, 0.9]])
    assert "check_inplace" in adc.source(float_update, mode=mode)
    if mode == "reverse":  # (forward mode's gradient runs a sweep source= does not show)
        assert "check_inplace" not in adc.source(float_update, mode=mode, at=(X, W))
    t = np.tanh(W @ X)
    for _ in range(2):
        g = adc.grad(float_update, mode=mode)(X, W)
        assert g == pytest.approx(2.0 * (1.0 - t ** 2) @ W + 2.0, rel=1e-14)


# ------------------------------------------------------------------ the dtype kept

def float32_accumulated(x):
    a = np.zeros(3, dtype=np.float32)
    a += x
    a *= x
    return np.sum(a)


def float32_copy_updated(x, y):
    a = y.copy()
    a += 2.0 * x
    return np.sum(a * a)


def float32_item_after_update(x, y):
    a = y.copy()
    a -= x
    return a[0] * x[1]


def float32_row_updated(x):
    A = np.ones((2, 3), dtype=np.float32)
    row = A[0]
    row += x
    return np.sum(row * x)


@pytest.mark.parametrize("f", [float32_accumulated, float32_copy_updated,
                               float32_item_after_update, float32_row_updated],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_float32_target_stays_float32(f, mode):
    """``a += v`` into a float32 array keeps float32, as NumPy writes into it: the
    value is NumPy's to the last bit, the gradient that of the float64 arithmetic."""
    x = np.array([0.3, -0.7, 1.1])
    args = (x,) if f in (float32_accumulated, float32_row_updated) else (
        x, np.array([0.1, 0.2, 0.3], np.float32))
    expected = f(*(a.copy() for a in args))
    assert np.asarray(expected).dtype == np.float32 or f in (float32_item_after_update,
                                                             float32_row_updated)
    g_expected = numeric_grad(lambda *a: np.float64(f(*a)), list(args), 0, eps=1e-3)
    for _ in range(2):
        value, g = adc.value_and_grad(f, mode=mode)(*(a.copy() for a in args))
        assert np.asarray(value).dtype == np.asarray(expected).dtype
        assert value == expected
        assert g == pytest.approx(g_expected, rel=1e-4, abs=1e-5)
