"""Adversarial tests for derivative code specialised to its inputs' signatures.

A `Dispatcher` compiles array derivative code again for each input signature
(shapes and dtypes of arrays, values of ints, tuples and strings) and reuses that
version for every later call with the same signature.  Each test here calls a
derivative once, then again with the SAME signature but other data (and other
int values where they are keyed), where a shape, type or dtype wrongly judged
static would give a wrong result, a crash, an aliased or read-only gradient or
another dtype.  References: central differences of the original function, and the
generic code (``g._adc_generic``), which must agree with the specialised code in
type, shape, dtype and value.

"""
from __future__ import annotations

import threading

import numpy as np
import pytest
from support import numeric_grad

import ad_compiler as adc

rng = np.random.default_rng(20240611)


def normal(*shape):
    return rng.standard_normal(shape)


# ------------------------------------------------------------------ helpers


def assert_same(got, expected, rtol=1e-10, atol=1e-12):
    """The specialised result against the generic one: same structure, type, shape,
    dtype, and (closely) the same values."""
    if isinstance(expected, (list, tuple)):
        assert type(got) is type(expected) and len(got) == len(expected), (got, expected)
        for a, b in zip(got, expected):
            assert_same(a, b, rtol, atol)
        return
    assert type(got) is type(expected), (type(got), type(expected), got, expected)
    assert np.shape(got) == np.shape(expected), (got, expected)
    if isinstance(expected, np.ndarray) or isinstance(expected, np.generic):
        assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def _arrays(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays(v)]
    return []


def assert_fresh(result, args):
    """Every array returned is a plain, writable array of its own: no input, no view
    of an input, and no two outputs sharing memory."""
    outs = _arrays(result)
    ins = _arrays(list(args))
    for k, r in enumerate(outs):
        assert isinstance(r, np.ndarray), type(r)
        assert r.flags.writeable, "a read-only gradient"
        for a in ins:
            assert r is not a and not np.shares_memory(r, a), "a gradient aliases an input"
        for other in outs[k + 1:]:
            assert r is not other and not np.shares_memory(r, other), "two outputs alias"


def check_points(g, f, points, wrt=0, numeric=True, rtol=1e-6, atol=1e-7):
    """Call the derivative `g` of `f` at each point (the first specialises, the others
    run the specialised code) and compare with the generic code and differences."""
    for args in points:
        got = g(*args)
        assert_same(got, g._adc_generic(*args))
        assert_fresh(got, args)
        if numeric:
            grads = got if isinstance(wrt, tuple) else (got,)
            for k, value in zip(wrt if isinstance(wrt, tuple) else (wrt,), grads):
                expected = numeric_grad(f, list(args), k)
                if isinstance(expected, list):
                    for v, e in zip(value, expected):
                        np.testing.assert_allclose(v, e, rtol=rtol, atol=atol)
                else:
                    np.testing.assert_allclose(value, expected, rtol=rtol, atol=atol)
    return g


def only_specialised(g):
    return set(g.specializations.values()) == {"specialised"}


# ------------------------------------------------------------------ branches on data


def branch_slices(x):
    if np.sum(x) > 0:
        y = x[:2]
    else:
        y = x[1:] * 2.0
    return np.mean(y ** 3)


def branch_scalar_or_array(x):
    if x[0] > 0:
        s = np.sum(x)
    else:
        s = x[:1]
    return np.sum(s * x)


def branch_expression(x):
    y = x[:2] if x[0] > 0 else x[1:]
    return np.sum(y ** 2) * np.mean(y)


def branch_same_shape(x, W):
    if np.sum(x) > 0:
        y = W @ x
    else:
        y = W.T @ x
    return np.mean(np.tanh(y) * x)


def branch_dtype(x):
    if x[0] > 0:
        y = x * 2.0
    else:
        y = x.astype(np.float32)
    return np.mean(y * y)


def test_data_dependent_branches_give_other_shapes_on_later_calls():
    pos, neg = np.array([0.5, -0.2, 0.3, 0.4]), np.array([-0.5, 0.2, -0.3, -0.4])
    for f in (branch_slices, branch_scalar_or_array, branch_expression):
        g = adc.grad(f)
        check_points(g, f, [(pos,), (neg,), (pos * 2,), (neg * 3,), (pos,)])
    W = normal(3, 3)
    check_points(adc.grad(branch_same_shape), branch_same_shape,
                 [(normal(3), W), (np.abs(normal(3)), W), (-np.abs(normal(3)), normal(3, 3))])


def test_a_branch_through_float32_keeps_the_generic_dtype():
    g = adc.grad(branch_dtype)
    for x in (np.array([0.5, -0.2, 0.3]), np.array([-0.5, 0.2, 0.3]), np.array([0.1, 0.2, 0.3]),
              np.array([-0.1, 0.4, 0.3])):
        got = g(x)
        assert_same(got, g._adc_generic(x))
        assert got.dtype == np.float64
        expected = (8.0 if x[0] > 0 else 2.0) * x / x.size
        np.testing.assert_allclose(got, expected, rtol=1e-6)


# ------------------------------------------------------------------ loops on data


def rnn_until(W, x):
    h = x
    k = 0
    while np.sum(h * h) < 4.0 and k < 10:
        h = np.tanh(W @ h) + x
        k = k + 1
    return np.sum(h ** 2)


def concat_grow(x):
    acc = x[:1]
    k = 1
    while np.sum(acc) < 1.1 and k < 6:
        acc = np.concatenate([acc, x[:1] * 0.5 + acc[-1:]])
        k = k + 1
    return np.mean(acc * acc)


def data_counter_slice(x):
    s = 0.0
    k = 0
    while s < 1.0 and k < x.shape[0] - 1:
        s = s + np.mean(x[k:] ** 2)
        k = k + 1
    return s + np.mean(x[k:])


def counter_slice(x):
    s = 0.0
    k = 0
    while k < 3:
        s = s + np.mean(x[k:] * x[: x.shape[0] - k])
        k = k + 1
    return s


def break_on_data(x, W):
    h = x
    for _ in range(8):
        h = np.tanh(W @ h)
        if np.max(np.abs(h)) < 0.3:
            break
    return np.mean(h)


def nested_counter_slices(x, n):
    s = 0.0
    for i in range(n):
        for j in range(i):
            s = s + np.mean(x[j:i] ** 2)
    return s


def test_while_loops_whose_trip_count_and_carried_shapes_depend_on_data():
    check_points(adc.grad(rnn_until, wrt=(0, 1)), rnn_until,
                 [(normal(3, 3) * s, normal(3) * t)
                  for s, t in [(1, 1), (0.1, 0.5), (2, 2), (0.5, 0.1), (1, 3)]], wrt=(0, 1))
    points = [(np.array(v),) for v in ([0.1, 0.2, 0.3, 0.4], [0.6, 0.2, 0.3, 0.4],
                                       [-0.3, 0.2, 0.1, 0.0], [2.0, 0.1, 0.1, 0.1],
                                       [0.1, 0.2, 0.3, 0.4])]
    for f in (concat_grow, data_counter_slice, counter_slice):
        check_points(adc.grad(f), f, points + [(normal(4),) for _ in range(3)])


def test_breaks_and_nested_loops_with_counter_bounded_slices():
    check_points(adc.grad(break_on_data), break_on_data,
                 [(normal(3), normal(3, 3) * s) for s in (1.0, 0.1, 2.0, 0.3, 1.0)])
    check_points(adc.grad(nested_counter_slices), nested_counter_slices,
                 [(normal(5), n) for n in (3, 3, 4, 1, 5, 3)])


# ------------------------------------------------------------------ masks and np.where


def masked_mean(x):
    return np.mean(x[x > 0.1] ** 2)


def where_branches(x):
    return np.mean(np.where(x > 0, x, 0.5 * x) ** 2)


def count_positive(x):
    n = np.count_nonzero(x > 0)
    return np.sum(x ** 2) / (n + 1)


def sum_of_mask_as_bound(x):
    n = np.sum(x > 0)
    return np.mean(x[: n + 1])


def times_mask(x):
    return np.sum(x * (x > 0)) + np.sum(x[np.abs(x) < 1.0])


def test_masks_and_where_with_other_data():
    points = [(np.array([0.5, -0.2, 0.3, 0.4, 2.0]),), (np.array([0.5, 0.2, 0.3, 0.4, 0.6]),),
              (np.array([-0.5, -0.2, 0.3, -0.4, 0.15]),), (np.array([-0.5, 0.2, -0.3, 0.4, 0.05]),)]
    for f in (masked_mean, where_branches, count_positive, sum_of_mask_as_bound, times_mask):
        check_points(adc.grad(f), f, points)


# ------------------------------------------------------------------ slice bounds


def bound_from_shape(x):
    n = x.shape[0] // 2
    return np.sum(x[:n] ** 2) + np.mean(x[n:])


def bound_from_len(x):
    n = len(x) - 1
    return np.mean(x[:n] * x[1:])


def bound_from_float_argument(x, t):
    k = int(t * 3)
    return np.mean(x[: k + 1] ** 2)


def bound_from_round(x):
    k = round(float(np.sum(x ** 2)))
    return np.mean(x[: k % 4 + 1])


def bound_from_floor(x):
    k = int(np.floor(np.max(x) * 2)) % 3
    return np.sum(x[k:] * x[k:]) / (k + 1)


def bound_from_argmax(x):
    k = np.argmax(x)
    return np.mean(x[: k + 1] ** 2)


def prefix_sums(x):
    s = 0.0
    for k in range(1, x.shape[0]):
        s = s + np.mean(x[:k] ** 2)
    return s


def test_slice_bounds_from_shapes_lengths_floats_and_data():
    for f in (bound_from_shape, bound_from_len, prefix_sums):
        check_points(adc.grad(f), f, [(normal(5),), (normal(5),), (normal(6),), (normal(2),)])
    for f in (bound_from_round, bound_from_floor, bound_from_argmax):
        check_points(adc.grad(f), f, [(normal(4) * s,) for s in (0.3, 1.0, 2.0, 0.5, 1.5, 3.0)])
    check_points(adc.grad(bound_from_float_argument), bound_from_float_argument,
                 [(normal(5), t) for t in (0.1, 0.5, 0.9, 1.2, 0.0)])


def overlapping_slices(x, a, b):
    return np.sum(x[a:] ** 2) + np.sum(x[:b] ** 3)


def stepped_slices(x, s):
    return np.sum(x[::s] ** 2) + np.sum(x[1::2])


def negative_indices(x, i):
    return np.sum(x[i] * x[-1]) + np.sum(x[i:])


def reshaped_by_argument(x, n):
    return np.mean(np.reshape(x, (n, -1)) ** 2)


def test_int_arguments_are_keyed_by_value():
    check_points(adc.grad(overlapping_slices), overlapping_slices,
                 [(normal(5), 1, 3), (normal(5), 1, 3), (normal(5), 0, 5), (normal(5), 4, 1),
                  (normal(5), np.int64(2), np.int64(2))])
    check_points(adc.grad(stepped_slices), stepped_slices,
                 [(normal(5), 2), (normal(5), 2), (normal(5), 3), (normal(5), -1)])
    check_points(adc.grad(negative_indices), negative_indices,
                 [(normal(5), 0), (normal(5), 0), (normal(5), -1), (normal(5), 4),
                  (normal(5), np.int64(-2)), (normal(5), np.int64(3)), (normal(5), np.int64(3))])
    check_points(adc.grad(reshaped_by_argument), reshaped_by_argument,
                 [(normal(6), 2), (normal(6), 3), (normal(6), 2), (normal(6), np.int64(6))])


# ------------------------------------------------------------------ integer indices


def gather(x, idx):
    return np.sum(x[idx] ** 2)


def gather_sin(x, idx):
    return np.sum(np.sin(x[idx]))


def two_items(x, i, j):
    return np.sum(x[i] * x[j]) + np.sum(x * 0.5)


def row_and_column(X, i):
    return np.sum(X[i] ** 2) + np.sum(X[:, i] ** 3)


def indices_in_a_loop(x, idx):
    s = 0.0
    for k in range(len(idx)):
        s = s + np.sum(x[idx[k]] * x[idx[k]])
    return s


def tuple_index(X, ij):
    return np.sum(X[ij] ** 2) + np.sum(X)


def nested_indexing(x):
    return np.sum(x[1:][0] * x) + np.sum(x[::2][1:] ** 2)


def test_integer_array_indices_with_repeats_that_change_between_calls():
    idx_points = [np.array([0, 1, 2]), np.array([2, 2, 2]), np.array([4, 0, 4]), np.array([1, 3, 1])]
    for f in (gather, gather_sin, indices_in_a_loop):
        check_points(adc.grad(f), f, [(normal(5), idx) for idx in idx_points])
    check_points(adc.grad(gather), gather,
                 [(normal(5), [0, 1, 1]), (normal(5), [0, 1, 1]), (normal(5), [3, 3, 3])])
    # an int array's values are not part of the signature: the same version runs
    g = adc.grad(gather)
    g(normal(5), np.array([0, 1, 2]))
    x = normal(5)
    for idx in ([4, 4, 4], [0, 0, 1]):
        expected = np.zeros(5)
        np.add.at(expected, idx, 2 * x[idx])
        np.testing.assert_allclose(g(x, np.array(idx)), expected, rtol=1e-14)


def test_scalar_indices_that_become_equal_later():
    check_points(adc.grad(two_items), two_items,
                 [(normal(5), 0, 1), (normal(5), 2, 2), (normal(5), -1, 4),
                  (normal(5), np.int64(0), np.int64(1)), (normal(5), np.int64(2), np.int64(2)),
                  (normal(5), np.array(1), np.array(3)), (normal(5), np.array(3), np.array(3)),
                  (normal(5), np.array(4), np.array(-1))])
    check_points(adc.grad(row_and_column), row_and_column,
                 [(normal(3, 3), 0), (normal(3, 3), 2), (normal(3, 3), np.array(1)),
                  (normal(3, 3), np.array(2)), (normal(3, 3), np.array(0))])
    check_points(adc.grad(tuple_index), tuple_index,
                 [(normal(3, 3), (0, 1)), (normal(3, 3), (2, 2)), (normal(3, 3), (0, 1))])
    check_points(adc.grad(nested_indexing), nested_indexing, [(normal(5),) for _ in range(3)])


# ------------------------------------------------------------------ globals and closures

W_GLOBAL = np.ones((2, 3))
K_GLOBAL = 2


def uses_global_matrix(x):
    return np.sum(np.tanh(W_GLOBAL @ x))


def uses_global_int(x):
    return np.mean(x[:K_GLOBAL] ** 2) + np.sum(x * W_GLOBAL[0])


def make_closure(k, M):
    def f(x):
        return np.mean(x[:k] ** 2) + np.sum(M * x)
    return f


def make_boxed():
    box = [np.ones(3)]

    def f(x):
        return np.mean(x[: len(box[0])] ** 2) + np.sum(x * box[0][0])
    return f, box


def test_globals_whose_shape_or_value_changes_between_calls():
    global W_GLOBAL, K_GLOBAL
    try:
        g = adc.grad(uses_global_matrix)
        for shape in ((2, 3), (2, 3), (4, 3), (1, 3)):
            W_GLOBAL = normal(*shape)
            check_points(g, uses_global_matrix, [(normal(3),)])
        g = adc.grad(uses_global_int)
        for k in (2, 3, 2, 1, 5):
            K_GLOBAL, W_GLOBAL = k, normal(2, 5)
            check_points(g, uses_global_int, [(normal(5),)])
    finally:
        W_GLOBAL, K_GLOBAL = np.ones((2, 3)), 2


def test_closures_rebound_and_cells_mutated_between_calls():
    for k, M in ((1, normal(4)), (2, normal(4)), (3, normal(1)), (2, normal(4))):
        f = make_closure(k, M)
        check_points(adc.grad(f), f, [(normal(4),), (normal(4),)])
    f, box = make_boxed()
    g = adc.grad(f)
    for length, scale in ((3, 1.0), (3, 2.0), (1, -1.0), (4, 0.5)):
        box[0] = np.full(length, scale)
        check_points(g, f, [(normal(4),)])


# ------------------------------------------------------------------ lists, tuples, scalars


def list_of_arrays(xs):
    s = 0.0
    for a in xs:
        s = s + np.sum(a ** 2) / a.shape[0]
    return s


def pick_from_list(xs, i):
    return np.sum(xs[i] * xs[0])


def pair(t):
    a, b = t
    return np.sum(a * b) + np.mean(a)


def times_scalar(x, s):
    return np.sum(x * s) + s * s


def shifted_by_scalar(x, s):
    return np.sum((x + s) ** 2)


def test_lists_and_tuples_of_arrays():
    check_points(adc.grad(list_of_arrays), list_of_arrays,
                 [([normal(3), normal(2)],), ([normal(3), normal(2)],), ([normal(2), normal(3)],)])
    check_points(adc.grad(pick_from_list), pick_from_list,
                 [([normal(3), normal(3)], 0), ([normal(3), normal(3)], 1),
                  ([normal(3), normal(3)], 1)])
    check_points(adc.grad(pair), pair,
                 [((normal(3), normal(3)),), ((normal(3), normal(3)),), ((normal(3), normal(1)),)])


@pytest.mark.parametrize("kind", ["float", "float64", "array0d", "float32", "int", "int64"])
def test_one_parameter_as_python_float_numpy_scalar_or_0d_array(kind):
    make = {"float": float, "float64": np.float64, "array0d": np.array, "float32": np.float32,
            "int": lambda v: int(round(v * 4)), "int64": lambda v: np.int64(round(v * 4))}[kind]
    for f in (times_scalar, shifted_by_scalar):
        wrt = (0, 1) if kind not in ("int", "int64") else 0
        g = adc.grad(f, wrt=wrt)
        for v in (1.5, 0.25, -0.75, 1.5):
            args = (normal(3), make(v))
            got = g(*args)
            assert_same(got, g._adc_generic(*args))
            assert_fresh(got, args)
            if kind != "float32":
                first = got[0] if isinstance(wrt, tuple) else got
                np.testing.assert_allclose(first, numeric_grad(f, list(args), 0), rtol=1e-6)


# ------------------------------------------------------------------ float32


def tanh_loss(w, X):
    return np.mean(np.tanh(X @ w) ** 2)


def product(x, y):
    return np.sum(x * y)


def slice_loss(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2) / np.float32(7.0)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_float32_inputs_give_float32_gradients_on_every_call(mode):
    g = adc.grad(tanh_loss, mode=mode)
    for _ in range(3):
        w, X = normal(3).astype(np.float32), normal(5, 3).astype(np.float32)
        got = g(w, X)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, numeric_grad(tanh_loss, [w.astype(float), X], 0),
                                   rtol=2e-3, atol=1e-4)
    g = adc.grad(product, wrt=(0, 1), mode=mode)
    for _ in range(3):
        x, y = normal(3).astype(np.float32), normal(3)
        gx, gy = g(x, y)
        assert (gx.dtype, gy.dtype) == (np.float32, np.float64)
        assert_fresh((gx, gy), (x, y))
    g = adc.grad(slice_loss, mode=mode)
    for _ in range(3):
        x = normal(5).astype(np.float32)
        got = g(x)
        assert got.dtype == np.float32
        if mode == "reverse":
            assert_same(got, g._adc_generic(x), rtol=1e-6)


# ------------------------------------------------------------------ keywords and defaults


def with_defaults(x, y, scale=2.0, n=2):
    return np.sum(x[:n] * y[:n]) * scale


def test_keyword_arguments_and_defaults_after_positional_calls():
    g = adc.grad(with_defaults, wrt=(0, 1))
    x, y = normal(4), normal(4)
    calls = [((x, y), {}), ((x, y, 2.0, 2), {}), ((x, y, 3.0, 3), {}), ((x, y), {"n": 3}),
             ((x, y, 2.0), {}), ((x, y, 1.0, 4), {}), ((x, y), {"scale": 0.5, "n": 1}),
             ((x, y, 2.0, 2), {})]
    for args, kwargs in calls:
        full = [*args, *(2.0, 2)[len(args) - 2:]]
        full[2], full[3] = kwargs.get("scale", full[2]), kwargs.get("n", full[3])
        gx, gy = g(*args, **kwargs)
        np.testing.assert_allclose(gx, numeric_grad(with_defaults, full, 0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gy, numeric_grad(with_defaults, full, 1), rtol=1e-6, atol=1e-8)
        assert_fresh((gx, gy), (x, y))


# ------------------------------------------------------------------ reductions


def reduce_axes(x):
    return np.sum(np.mean(x, axis=0) ** 2) + np.sum(np.sum(x, axis=1, keepdims=True) * x)


def reduce_negative_axes(x):
    return np.sum(np.max(x, axis=-1) ** 2) + np.sum(np.min(x, axis=(0, 1)))


def reduce_with_ties(x):
    return np.max(x) + np.sum(np.max(x, axis=0, keepdims=True) * x)


def reduce_var_std(x):
    return np.var(x, axis=1).sum() + np.std(x) + np.mean(x, axis=(0, 1), keepdims=True)[0, 0]


def logsumexp(x):
    m = np.max(x, axis=-1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(x - m), axis=-1)) + m[..., 0])


def test_reductions_with_axes_keepdims_and_ties():
    for f in (reduce_axes, reduce_var_std, logsumexp):
        check_points(adc.grad(f), f, [(normal(3, 4),) for _ in range(4)])
    for f in (reduce_negative_axes, reduce_with_ties):
        g = adc.grad(f)
        check_points(g, f, [(normal(2, 3),), (normal(2, 3),)])
        # ties: the derivative shares among tied elements, so compare with the generic code
        check_points(g, f, [(np.ones((2, 3)),), (np.array([[1.0, 1, 0], [2, 2, 2]]),),
                            (np.array([[2.0, 1, 2], [2, 2, 2]]),), (normal(2, 3),)], numeric=False)


# ------------------------------------------------------------------ broadcasting and products


def broadcast_mix(a, b):
    return np.sum(np.sin(a * b + a - b))


def broadcast_square(a, b):
    return np.sum((a - 2.0 * b) ** 2)


BROADCAST_SHAPES = [((3, 1), (1, 4)), ((3, 4), (4,)), ((3, 4), ()), ((1,), (3,)),
                    ((2, 1, 3), (4, 1)), ((1, 1), (1, 1)), ((), ()), ((4,), (3, 1))]


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
def test_broadcasting_shapes(shapes):
    sa, sb = shapes
    for f in (broadcast_mix, broadcast_square):
        check_points(adc.grad(f, wrt=(0, 1)), f,
                     [(np.asarray(normal(*sa)), np.asarray(normal(*sb))) for _ in range(3)],
                     wrt=(0, 1))


def matmul_loss(a, b):
    return np.sum(np.tanh(a @ b))


def dot_loss(a, b):
    return np.sum(np.dot(a, b) ** 2)


def transposes(a, b):
    return np.sum((a.T @ b) ** 2) + np.sum(np.transpose(a) ** 3) + np.sum(np.swapaxes(b, 0, 1) ** 2)


def outer_loss(a, b):
    return np.sum(np.outer(a, b) ** 2)


MATMUL_SHAPES = [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
                 ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((3, 4), (2, 4, 5)),
                 ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((1, 4), (4, 1))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matrix_products_of_vectors_matrices_and_batches(shapes):
    sa, sb = shapes
    fs = (matmul_loss, dot_loss) if len(sa) <= 2 and len(sb) <= 2 else (matmul_loss,)
    for f in fs:
        check_points(adc.grad(f, wrt=(0, 1)), f,
                     [(normal(*sa), normal(*sb)) for _ in range(3)], wrt=(0, 1))


def test_transposes_and_outer_products():
    for shape in ((3, 4), (3, 3)):
        check_points(adc.grad(transposes, wrt=(0, 1)), transposes,
                     [(normal(*shape), normal(*shape)) for _ in range(3)], wrt=(0, 1))
    check_points(adc.grad(outer_loss, wrt=(0, 1)), outer_loss,
                 [(normal(3), normal(4)) for _ in range(3)], wrt=(0, 1))


# ------------------------------------------------------------------ aliasing and layout


def product_sum(x, y):
    return np.sum(x * y)


def pick_and_rest(x):
    return np.sum(x[0] ** 2) + np.sum(x[1:] * 3.0)


def total(x):
    return np.sum(x)


def average(x):
    return np.mean(x)


def doubled(x):
    return np.sum(x * 2.0)


def matrix_vector(W, x):
    return np.sum(W @ x)


def _layouts(shape):
    plain = normal(*shape)
    readonly = normal(*shape)
    readonly.flags.writeable = False
    fortran = np.asfortranarray(normal(*shape))
    broadcast = np.broadcast_to(normal(shape[-1]), shape)
    strided = normal(*(2 * s for s in shape))[tuple(slice(None, None, 2) for _ in shape)]
    return [plain, readonly, fortran, broadcast, strided]


def test_gradients_are_fresh_writable_arrays_for_any_input_layout():
    for f in (pick_and_rest, total, average, doubled):
        g = adc.grad(f)
        for x in _layouts((3, 2)) * 2:
            got = g(x)
            assert_same(got, g._adc_generic(x))
            assert_fresh(got, (x,))
    for f in (product_sum, matrix_vector):
        g = adc.grad(f, wrt=(0, 1))
        for x in _layouts((3, 3)):
            for y in _layouts((3, 3))[:3]:
                got = g(x, y)
                assert_same(got, g._adc_generic(x, y))
                assert_fresh(got, (x, y))
    # np.sum(x * y): the gradient with respect to x is y's values, never y itself
    g = adc.grad(product_sum)
    for _ in range(3):
        x, y = normal(4), normal(4)
        gx = g(x, y)
        gx[:] = 0.0
        assert np.all(y != 0.0)


# ------------------------------------------------------------------ other entry points


def vector_output(x, W):
    return np.tanh(W @ x) * x[0]


def vector_branch(x):
    if x[0] > 0:
        return x[:2] * x[1]
    return x[1:3] ** 2


def jac_reference(f, args, k, eps=1e-6):
    x = np.asarray(args[k], dtype=float)
    y0 = np.asarray(f(*args))
    out = np.zeros(y0.shape + x.shape)
    for j in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[j] = eps
        hi, lo = list(args), list(args)
        hi[k], lo[k] = x + step, x - step
        out[(...,) + j] = (np.asarray(f(*hi)) - np.asarray(f(*lo))) / (2 * eps)
    return out


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_value_and_grad_in_both_modes_at_points_taking_other_branches(mode):
    vg = adc.value_and_grad(branch_slices, mode=mode)
    for x in (normal(4), -np.abs(normal(4)), np.abs(normal(4)), -np.abs(normal(4)), normal(4)):
        value, grad = vg(x)
        assert value == pytest.approx(branch_slices(x), rel=1e-12)
        np.testing.assert_allclose(grad, numeric_grad(branch_slices, [x], 0), rtol=1e-6,
                                   atol=1e-8)
        assert_fresh(grad, (x,))


def test_vjp_and_jvp_at_other_points():
    for _ in range(3):
        x, W = normal(3), normal(2, 3)
        y, pullback = adc.vjp(vector_output, x, W)
        v = normal(2)
        gx, gW = pullback(v)
        J = jac_reference(vector_output, [x, W], 0)
        np.testing.assert_allclose(gx, v @ J, rtol=1e-6, atol=1e-8)
        assert_fresh((gx, gW), (x, W, v))
        t = normal(3)
        value, tangent = adc.jvp(vector_output, (x, W), (t, np.zeros((2, 3))))
        np.testing.assert_allclose(tangent, J @ t, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(value, vector_output(x, W), rtol=1e-14)


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_jacobians_at_points_taking_other_branches(mode):
    J = adc.jacobian(vector_output, mode=mode)
    for _ in range(3):
        x, W = normal(3), normal(2, 3)
        np.testing.assert_allclose(J(x, W), jac_reference(vector_output, [x, W], 0), atol=1e-6)
    J = adc.jacobian(vector_branch, mode=mode)
    for x in (np.abs(normal(4)), -np.abs(normal(4)), np.abs(normal(4)), -np.abs(normal(4))):
        np.testing.assert_allclose(J(x), jac_reference(vector_branch, [x], 0), atol=1e-6)


def cubic_picks(x, i, j):
    return x[i] * x[j] * np.sum(x ** 2)


def sin_of_sum(x, y):
    return np.sum(np.sin(x + y) * x)


def quadratic_form(x, A):
    return np.sum(x * (A @ x)) + np.sum(np.tanh(A @ x) ** 2)


def test_hessians_at_several_points_against_differences_of_the_generic_gradient():
    def reference(f, args):
        gradient = adc.grad(f)._adc_generic
        x = args[0]
        out = np.zeros(x.shape + x.shape)
        for j in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[j] = 1e-6
            out[(...,) + j] = (gradient(x + step, *args[1:]) - gradient(x - step, *args[1:])) / 2e-6
        return out

    cases = [(slice_loss, lambda: (normal(4),)), (logsumexp, lambda: (normal(2, 3),)),
             (reduce_axes, lambda: (normal(3, 2),)), (cubic_picks, lambda: (normal(4), 1, 1)),
             (cubic_picks, lambda: (normal(4), 0, 2)), (branch_slices, lambda: (normal(4),)),
             (sin_of_sum, lambda: (normal(3), normal(3))),
             (quadratic_form, lambda: (normal(3), normal(3, 3)))]
    for f, make in cases:
        H = adc.hessian(f)
        for _ in range(3):
            args = make()
            np.testing.assert_allclose(H(*args), reference(f, args), rtol=1e-5, atol=1e-6)
    x = normal(4).astype(np.float32)
    assert adc.hessian(slice_loss)(x).dtype == np.float32


def scalar_in_array_code(s, v):
    return np.sum(np.sin(s * v) ** 2)


def test_second_derivative_of_array_code_at_several_points():
    d2 = adc.grad(adc.grad(scalar_in_array_code))
    for _ in range(3):
        s, v = float(normal()[()]), normal(4)
        expected = np.sum(2 * v ** 2 * np.cos(2 * s * v))
        assert d2(s, v) == pytest.approx(expected, rel=1e-10)


# ------------------------------------------------------------------ the dispatcher itself


def test_more_signatures_than_the_table_keeps_and_concurrent_first_calls():
    g = adc.grad(slice_loss)
    for n in range(2, 40):
        x = normal(n)
        assert_same(g(x), g._adc_generic(x))
    g = adc.grad(prefix_sums)
    errors = []

    def worker(seed):
        local = np.random.default_rng(seed)
        for i in range(12):
            x = local.standard_normal(2 + (seed + i) % 6)
            try:
                assert_same(g(x), g._adc_generic(x))
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


# functions on the analysis's list of data-shaped NumPy functions stay generic


def nonzero_count(x, c):
    k = len(np.nonzero(c)[0])
    return np.mean(x[:k] ** 2)


def unique_count(x, c):
    k = len(np.unique(c))
    return np.mean(x[:k] ** 2)


def trimmed_count(x, c):
    k = len(np.trim_zeros(c))
    return np.mean(x[:k] ** 2)


def flatnonzero_count(x, c):
    k = np.size(np.flatnonzero(c))
    return np.mean(x[:k] ** 2)


def compressed_count(x, c):
    k = np.size(np.compress(c > 0, c))
    return np.mean(x[:k] ** 2)


@pytest.mark.parametrize("f", [nonzero_count, unique_count, trimmed_count, flatnonzero_count,
                               compressed_count], ids=lambda f: f.__name__)
def test_counts_from_data_shaped_numpy_functions(f):
    x = np.arange(1.0, 7.0) / 4
    cs = [np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 4.0]),
          np.array([0.0, 0.0, 3.0, 3.0]), np.array([0.0, 2.0, 0.0, 0.0]),
          np.array([-1.0, 2.0, -3.0, 0.0])]
    check_points(adc.grad(f), f, [(x, c) for c in cs])


# ------------------------------------------------------------------ aliasing, dtypes, untrusted calls


def sin_of_sum_only(x, y):
    return np.sum(np.sin(x + y))


def tanh_of_sum(x, y):
    return np.tanh(x + y)


def shared_factor(x, y, z):
    return np.sum((x + y) * np.exp(z))


def test_two_inputs_sharing_one_adjoint_get_separate_gradient_arrays():
    g = adc.grad(sin_of_sum_only, wrt=(0, 1))
    for _ in range(3):
        x, y = normal(3), normal(3)
        gx, gy = g(x, y)
        assert gx is not gy and not np.shares_memory(gx, gy)
        gx[0] = 123.0  # writing one gradient must not change the other
        np.testing.assert_allclose(gy, np.cos(x + y))


def test_two_inputs_sharing_a_unit_factor_get_separate_gradient_arrays():
    g = adc.grad(shared_factor, wrt=(0, 1))
    for _ in range(3):
        x, y, z = normal(3), normal(3), normal(3)
        gx, gy = g(x, y, z)
        assert gx is not gy and not np.shares_memory(gx, gy)


def test_vjp_of_a_sum_gives_separate_cotangent_arrays():
    for _ in range(3):
        x, y = normal(3), normal(3)
        _, pullback = adc.vjp(tanh_of_sum, x, y)
        gx, gy = pullback(normal(3))
        assert gx is not gy and not np.shares_memory(gx, gy)


def scaled_counts(a, k):
    return np.sum(a * (k + 1))


def test_gradient_for_a_float_scaling_an_int_array_stays_float():
    g = adc.grad(scaled_counts)
    for k in (np.arange(3), np.array([2, 0, 5])):
        got = g(1.5, k)
        assert_same(got, g._adc_generic(1.5, k))
        assert isinstance(got, np.floating)


def unique_values_mean(x, labels):
    k = len(np.unique_values(labels))
    return np.mean(x[:k] ** 2)


def union_mean(x, labels):
    k = len(np.union1d(labels, labels))
    return np.mean(x[:k] ** 2)


def setdiff_mean(x, labels):
    k = np.size(np.setdiff1d(labels, np.array([3.0])))
    return np.mean(x[:k] ** 2)


def roots_mean(x, c):
    k = len(np.roots(c))
    return np.mean(x[:k] ** 2)


def auto_bins_mean(x, c):
    k = len(np.histogram_bin_edges(c, bins="auto")) - 1
    return np.mean(x[:k] ** 2)


@pytest.mark.parametrize("case", [
    (unique_values_mean, [np.array([1.0, 1.0, 3.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])]),
    (union_mean, [np.array([1.0, 1.0, 3.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])]),
    (setdiff_mean, [np.array([1.0, 2.0, 3.0, 3.0]), np.array([1.0, 2.0, 5.0, 4.0])]),
    (roots_mean, [np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])]),
    (auto_bins_mean, [np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 1.0, 100.0])]),
], ids=lambda case: case[0].__name__)
def test_counts_from_other_data_shaped_numpy_functions(case):
    f, cs = case
    x = np.arange(1.0, 9.0) / 4
    check_points(adc.grad(f), f, [(x, c) for c in cs])


def random_window(x):
    k = np.random.randint(1, 5)
    return np.mean(x[:k] ** 2)


def test_a_window_length_drawn_at_random_on_each_call():
    g = adc.grad(random_window)
    state = np.random.get_state()
    try:
        np.random.seed(4)  # the probe and the check of the first call draw the same k (3)
        g(np.arange(1.0, 5.0))
        x = np.array([0.5, -0.2, 0.3, 0.4])
        for seed in range(4):
            np.random.seed(seed)
            k = np.random.randint(1, 5)
            expected = np.zeros(4)
            expected[:k] = 2 * x[:k] / k
            np.random.seed(seed)
            np.testing.assert_allclose(g(x), expected, rtol=1e-12)
    finally:
        np.random.set_state(state)


def builtin_max_factor(x, y):
    return np.sum(x * max(y, 0.5))


def test_builtin_max_of_one_element_arrays():
    g = adc.grad(builtin_max_factor)
    x = np.array([1.0])
    for y in (np.array([2.0]), np.array([3.0]), np.array([0.1])):
        got = g(x, y)
        assert_same(got, g._adc_generic(x, y))
        assert_fresh(got, (x, y))


# ------------------------------------------------------------------ indexing inside loops, wrt


def index_after_loop(x):
    y = x
    for _ in range(2):
        y = y * 2.0
    return np.sum(y[:2])


def index_in_loop(x):
    t = x[0]
    for _ in range(2):
        t = t + np.sin(x)[1]
    return t


@pytest.mark.parametrize("case", [
    (index_after_loop, [4.0, 4.0, 0.0, 0.0]),
    (index_in_loop, [1.0, 2 * np.cos(2.0), 0.0, 0.0]),
], ids=lambda case: case[0].__name__)
def test_index_of_an_array_carried_by_or_computed_in_a_loop(case):
    f, expected = case
    np.testing.assert_allclose(adc.grad(f)(np.arange(1.0, 5.0)), expected, rtol=1e-12)


def double_negation_in_loop(y):
    t = np.sum(y[:2])
    for _ in range(2):
        t = t + np.sum((-np.negative(y))[:2])
    return t


def test_slice_of_a_double_negation_in_a_loop():
    np.testing.assert_allclose(adc.grad(double_negation_in_loop)(np.arange(1.0, 5.0)),
                               [3.0, 3.0, 0.0, 0.0], rtol=1e-12)


def sin_sum(x):
    return np.sum(np.sin(x))


def test_the_same_input_twice_in_wrt_is_refused():
    with pytest.raises(adc.ADCompileError, match="twice"):
        adc.grad(sin_sum, wrt=(0, 0))
