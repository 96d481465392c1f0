"""Functions written as people write them, each once found to give a wrong derivative
or an internal error: checked against central differences, forward mode against
reverse mode, and the compiled value against the function itself."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from support import numeric_grad

import ad_compiler as adc

MODES = ["reverse", "forward"]
W = np.array([1.0, 2.0, 3.0])


# ------------------------------------------------------------------ an item of a broadcast
# Code with no NumPy call is compiled for numbers, where every value has one shape; an
# item of arithmetic that broadcast a number over an array input must not be taken
# for one of them (its adjoint is summed back to the number).

def item_of_shifted(x, w):
    return (w + 2.5 * x)[0] * x


def item_of_shifted_copy(x, w):
    c = w * 1
    c = c + 2.5 * x
    return c[0] * x


def item_of_either(x, w):
    c = w + x if x > 0 else w - x
    return c[1] * x


def float_of_item(x, w):
    return float((w + 2.0 * x)[0]) * x


def unpacked(x, w):
    a, b, c = w + 2.0 * x
    return a * b + c


def largest(x, w):
    return max(w + 2.0 * x) * x


def summed(x, w):
    return sum(w + 2.0 * x) * x


def iterated(x, w):
    s = 0.0
    for v in w + 2.0 * x:
        s += v * v
    return s


def item_of_sum(x, w):
    return (w + x)[0] * x


def item_of_update(x, w):
    c = w + 0.0
    c += x
    return c[0] * x


BROADCAST = [item_of_shifted, item_of_shifted_copy, item_of_either, float_of_item,
             unpacked, largest, summed, iterated, item_of_sum, item_of_update]


@pytest.mark.parametrize("f", BROADCAST, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_item_of_broadcast(f, mode):
    for x in (0.5, -0.7):
        expected = numeric_grad(f, [x, W], 0)
        for _ in range(2):
            value, g = adc.value_and_grad(f, mode=mode)(x, W.copy())
            assert value == pytest.approx(f(x, W.copy()), rel=1e-14)
            assert np.shape(g) == ()
            assert g == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("f", [item_of_shifted, unpacked, iterated], ids=lambda f: f.__name__)
def test_item_of_broadcast_hessian(f):
    h, x = 1e-4, 0.5
    expected = (f(x + h, W) - 2.0 * f(x, W) + f(x - h, W)) / h ** 2
    assert adc.hessian(f)(x, W.copy()) == pytest.approx(expected, rel=1e-5)


SHIFTS = np.array([1.0, 2.0, 3.0])  # a module's array, read when the code runs
ROWS = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 1.0]])


def item_of_global_sum(x, w):
    c = SHIFTS + x
    return c[0] * x


def item_of_rows_summed(x, w):
    s = 0.0
    for row in ROWS:
        s += row * x
    return s[0] * s[1]


def item_of_input_rows_summed(x, w):
    s = 0.0
    for row in w:
        s = s + row * x
    return s[0] + s[1] * x


def largest_and_smallest(x, w):
    d = w * x + 1.0
    return max(d) + min(d)


def item_of_negated_sum(x, w):
    y = -x + w
    return y[0] * y[1]


def item_of_sum_or_input(x, w):
    y = x + w if x > 0 else w
    return y[0] * x


def item_of_rebound_sum(x, w):
    y = w
    y = y + x
    return y[-1] * x


def first_of_sorted(x, w):
    return sorted(w + x)[0] * x


MORE = [(item_of_global_sum, W), (item_of_rows_summed, W), (item_of_input_rows_summed, ROWS),
        (largest_and_smallest, W), (item_of_negated_sum, W), (item_of_sum_or_input, W),
        (item_of_rebound_sum, W), (first_of_sorted, W)]


@pytest.mark.parametrize("f, w", MORE, ids=lambda a: getattr(a, "__name__", ""))
@pytest.mark.parametrize("mode", MODES)
def test_more_items_of_broadcasts(f, w, mode):
    for x in (0.5, 1.25):
        expected = numeric_grad(f, [x, w], 0)
        for _ in range(2):
            value, g = adc.value_and_grad(f, mode=mode)(x, w.copy())
            assert value == pytest.approx(f(x, w.copy()), rel=1e-14)
            assert np.shape(g) == ()
            assert g == pytest.approx(expected, rel=1e-7)


# ------------------------------------------------------------------ dicts a list holds

LAYERS = [{"W": 0.3, "b": 0.1}, {"W": -0.5, "b": 0.2}]


def scaled_in_a_loop(params):
    for layer in params:
        layer["W"] *= 2.0
    return params[0]["W"] * params[1]["W"]


def scaled_by_index(params):
    for i in range(len(params)):
        params[i]["W"] = params[i]["W"] * 2.0
    return params[0]["W"] * params[1]["W"]


def scaled_copies(params):
    new = []
    for layer in params:
        d = dict(layer)
        d["W"] = d["W"] * 2.0
        new.append(d)
    return new[0]["W"] * new[1]["W"] + params[0]["W"]


@pytest.mark.parametrize("mode", MODES)
def test_dict_item_of_a_list_changed_in_a_loop_is_refused(mode):
    """The loop's name shares each dict with the list: the compiled code cannot follow
    the change, so it refuses when the code runs rather than differentiate the dicts
    as they were."""
    with pytest.raises(ValueError, match="params, read afterwards, shares"):
        adc.grad(scaled_in_a_loop, mode=mode)([dict(d) for d in LAYERS])


@pytest.mark.parametrize("f, expected", [
    (scaled_by_index, [{"W": 4 * -0.5, "b": 0.0}, {"W": 4 * 0.3, "b": 0.0}]),
    (scaled_copies, [{"W": 4 * -0.5 + 1.0, "b": 0.0}, {"W": 4 * 0.3, "b": 0.0}]),
], ids=["by_index", "copies"])
@pytest.mark.parametrize("mode", MODES)
def test_dict_items_written_by_index_or_copied(f, expected, mode):
    value, g = adc.value_and_grad(f, mode=mode)([dict(d) for d in LAYERS])
    assert value == pytest.approx(f([dict(d) for d in LAYERS]), rel=1e-15)
    for got, want in zip(g, expected):
        assert got["W"] == pytest.approx(want["W"], rel=1e-14)
        assert got["b"] == 0.0


# ------------------------------------------------------------------ a number read at an index
# ``t = x[0]`` is a copy where the item is a number and a view where it is a row (or a
# list's array): a later write into `x`, or ``t += v``, changes the other only then.

def kept_before_overwrite(x):
    y = x.copy()
    t = y[0]
    y[0] = 5.0 * x[1]
    return t * y[0]


def swapped(x):
    y = x.copy()
    tmp = y[0]
    y[0] = y[2]
    y[2] = tmp
    return y[0] * 2.0 + y[2] ** 2 + y[1]


def item_accumulated(x):
    t = x[0]
    t += x[1]
    return t * x[0]


def item_scaled(x):
    t = x[0]
    t *= 2.0
    return t + np.sum(x)


def row_scaled(x):
    A = np.outer(x, x)
    row = A[0]
    row *= 2.0
    return np.sum(A)


def row_kept_before_overwrite(x):
    A = np.outer(x, x)
    row = A[0]
    A[0, 1] = 7.0 * x[2]
    return np.sum(row * x)


def item_named_twice(x):
    t = x[0]
    u = t
    t += 1.0
    t *= x[1]
    return u * t + x[0]


def row_named_twice(x):
    A = np.outer(x, x)
    row = A[1]
    other = row
    row += x
    row -= 0.5
    return np.sum(A * A) + np.sum(other)


ITEMS = [kept_before_overwrite, swapped, item_accumulated, item_scaled, row_scaled,
         row_kept_before_overwrite, item_named_twice, row_named_twice]


@pytest.mark.parametrize("f", ITEMS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_items_read_at_an_index(f, mode):
    x = np.array([0.7, -1.2, 2.0])
    expected = numeric_grad(f, [x], 0)
    for _ in range(2):
        value, g = adc.value_and_grad(f, mode=mode)(x.copy())
        assert value == pytest.approx(f(x.copy()), rel=1e-14)
        assert g == pytest.approx(expected, rel=1e-7, abs=1e-9)


def list_item_accumulated(xs):
    r = xs[0]
    r += 1.0
    return r * xs[0]


def list_item_kept_before_overwrite(xs):
    ys = list(xs)
    t = ys[0]
    ys[0] = 3.0 * xs[1]
    return t * ys[0]


@pytest.mark.parametrize("f, expected", [
    (list_item_accumulated, lambda a, b: [2.0 * a + 1.0, 0.0]),
    (list_item_kept_before_overwrite, lambda a, b: [3.0 * b, 3.0 * a]),
], ids=["accumulated", "kept"])
@pytest.mark.parametrize("mode", MODES)
def test_numbers_read_from_a_list(f, expected, mode):
    xs = [0.7, 1.5]
    value, g = adc.value_and_grad(f, mode=mode)(list(xs))
    assert value == pytest.approx(f(list(xs)), rel=1e-15)
    assert g == pytest.approx(expected(*xs), rel=1e-14)


def test_item_hessian():
    """d2/dx0^2 of (x0 + x1) * x0 is 2, d2/dx0dx1 is 1."""
    H = adc.hessian(item_accumulated)(np.array([0.7, -1.2, 2.0]))
    assert H == pytest.approx(np.array([[2.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))


# ------------------------------------------------------------------ writes in branches

def two_writes_in_a_branch(x):
    y = x.copy()
    for i in range(len(y) - 1):
        if y[i] > y[i + 1]:
            y[i] = y[i + 1] * 2.0
            y[i + 1] = 5.0 * x[0]
    return np.sum(y * np.arange(1.0, 5.0))


def bubble_pass(x):
    y = x.copy()
    for i in range(len(y) - 1):
        if y[i] > y[i + 1]:
            tmp = y[i]
            y[i] = y[i + 1]
            y[i + 1] = tmp
    return np.sum(y * np.arange(1.0, 5.0))


def written_then_chosen(x):
    y = x.copy()
    if y[0] > y[1]:
        y[0] = y[1] * 2.0
        t = y[0] if x[0] > 0 else x[1]
        y[1] = t
    return np.sum(y * np.arange(1.0, 5.0))


def written_then_unread_in_a_branch(x):
    y = x.copy()
    y[0] = x[1] * 2.0
    if x[0] > 0:
        s = np.sum(y)
    else:
        s = x[2] * 1.0
    return s


BRANCH_WRITES = [two_writes_in_a_branch, bubble_pass, written_then_chosen,
                 written_then_unread_in_a_branch]


@pytest.mark.parametrize("f", BRANCH_WRITES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_writes_in_branches(f, mode):
    """The array a branch writes is the one the code after it reads (generic code and
    code specialised to the input's shape, so twice), and the adjoint of an array a
    branch does not read is zeros."""
    for x in (np.array([0.7, -1.2, 2.0, 0.4]), np.array([-0.7, -1.2, 2.0, 0.4])):
        expected = numeric_grad(f, [x], 0)
        for _ in range(2):
            value, g = adc.value_and_grad(f, mode=mode)(x.copy())
            assert value == pytest.approx(f(x.copy()), rel=1e-14)
            assert g == pytest.approx(expected, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("f", BRANCH_WRITES, ids=lambda f: f.__name__)
def test_writes_in_branches_hessian(f):
    """Piecewise linear: the Hessian is zero (no internal error on the zero adjoint of
    a branch)."""
    for x in (np.array([0.7, -1.2, 2.0, 0.4]), np.array([-0.7, -1.2, 2.0, 0.4])):
        assert np.all(adc.hessian(f)(x.copy()) == 0.0)


# ------------------------------------------------------------------ displays changed in a branch

def key_added_in_a_branch(x):
    d = {"a": x[0], "b": x[1]}
    if x[2] > 0:
        d["c"] = d["b"] ** 2
    return d["a"] * d["b"]


def key_scaled_in_a_branch(x):
    d = {"a": x[0], "b": x[1]}
    if x[2] > 0:
        d["a"] = d["a"] * x[2]
    return d["a"] * d["b"]


def dict_made_in_each_branch(x):
    if x[2] > 0:
        d = {"a": x[0], "b": 2.0}
    else:
        d = {"a": x[1], "b": x[0]}
    return d["a"] * d["b"]


def list_item_scaled_in_a_branch(x):
    xs = [x[0], x[1]]
    if x[2] > 0:
        xs[0] = xs[0] * x[2]
    return xs[0] * xs[1]


def key_divided_in_a_try(x):
    d = {"a": x[0]}
    try:
        d["a"] = d["a"] / x[1]
    except ZeroDivisionError:
        d["a"] = 0.0
    return d["a"] * x[2]


def key_divided_in_a_with(x):
    d = {"a": x[0]}
    with np.errstate(divide="ignore"):
        d["a"] = d["a"] / x[1]
    return d["a"] * x[2]


DISPLAYS = [key_added_in_a_branch, key_scaled_in_a_branch, dict_made_in_each_branch,
            list_item_scaled_in_a_branch, key_divided_in_a_try, key_divided_in_a_with]


@pytest.mark.parametrize("f", DISPLAYS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_display_changed_in_a_branch(f, mode):
    for x in (np.array([0.7, -1.2, 2.0]), np.array([0.7, -1.2, -2.0])):
        expected = numeric_grad(f, [x], 0)
        assert np.any(expected != 0.0)
        assert adc.grad(f, mode=mode)(x) == pytest.approx(expected, rel=1e-7, abs=1e-9)
        value, g = adc.value_and_grad(f, mode=mode)(x)
        assert value == pytest.approx(f(x), rel=1e-15)
        assert g == pytest.approx(expected, rel=1e-7, abs=1e-9)


# ------------------------------------------------------------------ helpers updating in place

def scale_in_place(a, s):
    a *= s


def scaled_by_a_helper(x):
    y = np.array(x)
    scale_in_place(y, 2.0)
    return np.sum(y * x)


def bump(a):
    a += 1.0


def number_bumped_by_a_helper(x):
    t = x[0] * 2.0
    bump(t)  # a number: rebound in the helper, the caller's t is as it was
    return t * x[1]


def updated_through_another_name(x):
    a = np.zeros(3)
    b = a
    b += x
    return np.sum(a * x)


@pytest.mark.parametrize("f, expected", [
    (scaled_by_a_helper, lambda x: 4.0 * x),
    (number_bumped_by_a_helper, lambda x: np.array([2.0 * x[1], 2.0 * x[0], 0.0])),
    (updated_through_another_name, lambda x: 2.0 * x),
], ids=["array", "number", "another_name"])
@pytest.mark.parametrize("mode", MODES)
def test_updates_in_place_seen_by_other_names(f, expected, mode):
    x = np.array([0.7, -1.2, 2.0])
    for _ in range(2):
        value, g = adc.value_and_grad(f, mode=mode)(x.copy())
        assert value == pytest.approx(f(x.copy()), rel=1e-15)
        assert g == pytest.approx(expected(x), rel=1e-14)


# ------------------------------------------------------------------ writes into what a loop reads

def running_sums_of_a_list(x):
    xs = [x, 2 * x, 3 * x]
    for i, v in enumerate(xs):
        if i + 1 < len(xs):
            xs[i + 1] = xs[i + 1] + v
    return xs[-1] * x


def running_sums_of_an_array(x):
    y = x.copy()
    for i, v in enumerate(y):
        if i + 1 < len(y):
            y[i + 1] = y[i + 1] + v
    return np.sum(y * x)


def first_grown_backwards(x):
    y = x.copy()
    for v in reversed(y):
        y[0] = y[0] + v
    return np.sum(y * x)


def last_grown_with_zip(x):
    y = x.copy()
    for a, b in zip(y, x):
        y[-1] = y[-1] * a + b
    return np.sum(y)


def first_grown_by_a_sorted_copy(x):
    y = x.copy()
    for v in sorted(y):  # sorted() made its list once
        y[0] = y[0] + v
    return np.sum(y * x)


@pytest.mark.parametrize("f", [running_sums_of_a_list, running_sums_of_an_array,
                               first_grown_backwards, last_grown_with_zip,
                               first_grown_by_a_sorted_copy], ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_a_loop_reads_the_items_its_body_wrote(f, mode):
    """Python's iterator reads a list or an array as it is when each iteration starts
    (and a sorted copy as it was made: the array the loop starts from is read by every
    iteration, so code specialised to the input's shape does not write into it)."""
    x = 0.7 if f is running_sums_of_a_list else np.array([0.7, -1.2, 2.0])
    expected = numeric_grad(f, [x], 0)
    for _ in range(2):
        value, g = adc.value_and_grad(f, mode=mode)(copy.copy(x))
        assert value == pytest.approx(f(copy.copy(x)), rel=1e-14)
        assert g == pytest.approx(expected, rel=1e-7, abs=1e-9)


def number_named_twice_in_a_loop(x):
    a = x * 2.0
    s = 0.0
    for k in range(3):
        b = a  # a number: b += rebinds b, a is as it was
        b += x * k
        s += b
    return s + a


@pytest.mark.parametrize("mode", MODES)
def test_a_name_the_loop_does_not_carry_keeps_a_number(mode):
    """d/dx (3 * 2x + 3x + 2x) = 11."""
    value, g = adc.value_and_grad(number_named_twice_in_a_loop, mode=mode)(0.7)
    assert value == pytest.approx(number_named_twice_in_a_loop(0.7), rel=1e-15)
    assert g == pytest.approx(11.0, rel=1e-15)
