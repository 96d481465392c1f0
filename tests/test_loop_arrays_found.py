"""Programs that once went wrong, found by random programs mixing loops with array
indexing, slicing and lists (each comment says how).

Each test asserts the right derivative (central differences, or worked out by hand).
"""
from __future__ import annotations

import numpy as np
import pytest

import ad_compiler as adc

X4 = np.array([0.3, -1.2, 0.8, 0.5])


def numeric_grad(f, args, i, h=1e-6):
    """Central differences of the scalar f with respect to argument i."""
    x = np.array(args[i], dtype=float)
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[k] += h
        minus[k] -= h
        hi = list(args)
        lo = list(args)
        hi[i] = plus if x.ndim else float(plus)
        lo[i] = minus if x.ndim else float(minus)
        g[k] = (f(*hi) - f(*lo)) / (2 * h)
    return g if x.ndim else float(g)


def assert_grads(f, args, wrt, mode):
    got = adc.grad(f, wrt=wrt, mode=mode)(*args)
    got = got if isinstance(wrt, tuple) else (got,)
    for i, g in zip(wrt if isinstance(wrt, tuple) else (wrt,), got):
        expected = numeric_grad(f, args, i)
        assert np.shape(g) == np.shape(expected)
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- 1. if in a loop


def if_in_loop_indexes_carried(x):
    y = x
    for i in range(2):
        if i == 0:
            y = y + y[0]
    return np.sum(y)


def break_in_loop_indexes_carried(x):
    y = x
    for i in range(2):
        if i == 3:
            break
        y = y + y[1:2]
    return np.sum(y)


def body_value_indexed_and_carried(x):
    y = x
    t = x
    for _i in range(2):
        t = y * 2.0
        y = t[0] * x
    return np.sum(y)


# once a TypeError: the index's sparse adjoint was summed with a plain '+'
@pytest.mark.parametrize("f", [if_in_loop_indexes_carried, break_in_loop_indexes_carried,
                               body_value_indexed_and_carried])
def test_indexing_in_loop_body_adds_sparse_adjoint_with_plus(f):
    assert_grads(f, (X4,), 0, "reverse")


# ------------------------------------------- 2. straight-line list concatenation


def list_concatenation_of_arrays(x):
    hs = [x]
    hs = hs + [hs[-1] * 2.0]
    return np.sum(np.stack(hs))


# once 6 instead of 3: the whole adjoint went to both lists
def test_list_concatenation_adjoint_is_split():
    g = adc.grad(list_concatenation_of_arrays)(X4)
    np.testing.assert_allclose(g, np.full(4, 3.0))


def concatenated_numbers(a, b):
    hs = [a, b] + [a * b]
    return hs[0] + hs[2] * 3.0


def test_list_concatenation_of_numbers():
    ga, gb = adc.grad(concatenated_numbers, wrt=(0, 1))(2.0, 5.0)
    assert (ga, gb) == (1.0 + 3.0 * 5.0, 3.0 * 2.0)


# ---------------------------------------------- 3. lists carried through loops


def grow_list_of_arrays(x):
    hs = []
    for i in range(3):
        hs = hs + [x * i]
    return np.sum(np.stack(hs))


def grow_list_of_scalars(a):
    hs = [a]
    for _i in range(3):
        hs = hs + [hs[-1] * 2.0]
    return hs[0] + hs[1] + hs[2] + hs[3]


def rotate_list_of_arrays(x):
    hs = [x, x]
    for _i in range(2):
        hs = [hs[1], hs[0] * 2.0]
    return np.sum(np.stack(hs))


# once an AttributeError ('_StaticSeq' has no 'name'), wrong values or zero gradients:
# a list display carried through a loop was not made a runtime list
@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f,arg", [(grow_list_of_arrays, X4), (grow_list_of_scalars, 0.7),
                                   (rotate_list_of_arrays, X4)])
def test_list_carried_through_loop(f, arg, mode):
    assert_grads(f, (arg,), 0, mode)


# ------------------------- 4. integer index of a broadcast value (once taken for scalar code)


def index_of_scaled_array(a, x):
    return (a * x)[1]


def loop_over_index_of_scaled_array(a, x):
    s = 0.0
    for i in range(3):
        s = s + (a * x)[i]
    return s


def index_of_array_times_its_item(x):
    return (x[0] * x)[1]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_integer_index_of_broadcast_product(mode):
    assert_grads(index_of_scaled_array, (0.7, X4), (0, 1), mode)


def test_integer_index_of_broadcast_product_in_loop():
    assert_grads(loop_over_index_of_scaled_array, (0.7, X4), (0, 1), "reverse")


def test_integer_index_of_array_times_its_item():
    assert_grads(index_of_array_times_its_item, (X4,), 0, "reverse")


# --------------------------- 5. one dense adjoint shared and scattered into


def slice_of_sum_plus_item(x, y):
    return np.sum((x + y)[1:]) + x[0]


def loop_over_slice_of_sum_plus_item(x, y):
    z = x + y
    s = 0.0
    for _i in range(2):
        s = s + np.sum(z[1:])
    return s + x[0]


# once wrong: the dense adjoint of x + y, shared by x_bar and y_bar, was scattered into
@pytest.mark.parametrize("f", [slice_of_sum_plus_item, loop_over_slice_of_sum_plus_item])
def test_shared_dense_adjoint_is_not_mutated(f):
    assert_grads(f, (X4, X4 + 1.0), (0, 1), "reverse")


# ----------------------------- 6. error message for a loop-body name after the loop


def loop_local_used_after_loop_in_numpy_call(x):
    for i in range(2):
        t = x * i
    return np.sum(t)


# once "the name 't' is not defined", with no hint
def test_loop_local_after_loop_error_names_the_loop():
    with pytest.raises(adc.ADCompileError, match="only on some paths"):
        adc.grad(loop_local_used_after_loop_in_numpy_call)(X4)


# ---------------- 7. forward mode: a value updated after an inner loop


def update_after_inner_loop(a):
    t = a
    for _i in range(1):
        for _j in range(1):
            t = t + a
        t = t * t
    return t


def update_after_inner_loop_array(x):
    t = x
    for _i in range(1):
        for _j in range(1):
            t = t + x
        t = t * t
    return np.sum(t)


# once wrong: the tangent read t after 't = t * t' had overwritten the inner loop's t
@pytest.mark.parametrize("f,arg", [(update_after_inner_loop, 0.7),
                                   (update_after_inner_loop_array, X4)])
def test_forward_update_after_inner_loop(f, arg):
    assert_grads(f, (arg,), 0, "forward")
