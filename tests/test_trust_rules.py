"""Rules that are right, or refused: calls that used to be treated as constants, fills,
products with zeros, programs that crashed, and the error for a call with no rule.

Every expected number is computed here without the compiler: central differences of
the plain Python function, or a derivative written out by hand beside the test.  Each
array case runs in reverse and forward mode, and in vector mode
(``adc.jacobian(..., mode="forward")``); Hessians are checked against second
differences or the closed form.  The functions live in tests/fixtures/trust_rules.py.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from support import load_fixture, numeric_grad

import ad_compiler as adc

F = load_fixture("trust_rules")
MODES = ["reverse", "forward"]
RTOL, ATOL = 1e-6, 1e-8
HESSIAN_TOL = {"rtol": 1e-5, "atol": 1e-6}


# ====================================================================== references

def assert_close(got, expected, what="", rtol=RTOL, atol=ATOL):
    assert np.shape(got) == np.shape(expected), (
        f"{what}: shape {np.shape(got)}, expected {np.shape(expected)}")
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64),
                               rtol=rtol, atol=atol, err_msg=what)


def numeric_jacobian(f, args, k, eps=1e-6):
    """d f / d args[k], shaped f(...).shape + args[k].shape, by central differences."""
    x = np.array(args[k], dtype=np.float64)
    y = np.asarray(f(*args), dtype=np.float64)
    out = np.zeros(y.shape + x.shape)
    for j in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[j] += eps
        lo[j] -= eps
        plus = np.asarray(f(*args[:k], hi if x.ndim else float(hi), *args[k + 1:]))
        minus = np.asarray(f(*args[:k], lo if x.ndim else float(lo), *args[k + 1:]))
        out[(Ellipsis, *j)] = (plus - minus) / (2 * eps)
    return out


def numeric_hessian(f, x, h=1e-4):
    """Second central differences of a scalar function of one array (accurate to about
    1e-7: compare with `HESSIAN_TOL`)."""
    x = np.array(x, dtype=np.float64)
    n = x.size
    out = np.zeros((n, n))
    flat = x.ravel()

    def at(*steps):
        y = flat.copy()
        for j, s in steps:
            y[j] += s
        return float(f(y.reshape(x.shape)))

    for i in range(n):
        for j in range(n):
            out[i, j] = (at((i, h), (j, h)) - at((i, h), (j, -h)) - at((i, -h), (j, h))
                         + at((i, -h), (j, -h))) / (4 * h * h)
    return out.reshape(x.shape + x.shape)


def grads_agree(f, args, wrt, expected=None):
    """Reverse and forward gradients equal `expected` (central differences if None)."""
    indices = wrt if isinstance(wrt, tuple) else (wrt,)
    if expected is None:
        expected = [numeric_grad(f, list(args), k) for k in indices]
    elif not isinstance(wrt, tuple):
        expected = [expected]
    for mode in MODES:
        got = adc.grad(f, wrt=wrt, mode=mode)(*args)
        got = got if isinstance(wrt, tuple) else (got,)
        for k, g, e in zip(indices, got, expected):
            assert_close(g, e, f"{mode} mode, d/d argument {k}")


# ====================================================================== 1. not constants

def test_linspace_is_linear_in_its_endpoints():
    """linspace(0, L, 5) = L * t, t = [0, 1/4, ..., 1]: d/dL sum(L^2 t^2) = 2 L sum(t^2)."""
    t = np.arange(5) / 4
    grads_agree(F.lin_squares, [2.0], 0, 2 * 2.0 * np.sum(t ** 2))
    # endpoint=False, num=7: samples a + (b - a) k / 7, k = 0..6
    a, b = 0.3, 1.7
    k = np.arange(7) / 7
    c = np.cos(a + (b - a) * k)
    grads_agree(F.lin_two_ends, [a, b], (0, 1), [np.sum(c * (1 - k)), np.sum(c * k)])


def test_linspace_of_arrays_along_an_axis():
    a, b = np.array([0.5, -1.0, 2.0]), 3.0
    grads_agree(F.lin_array_start, [a, b], (0, 1))
    assert_close(adc.jacobian(F.lin_vector, mode="forward")(a),
                 numeric_jacobian(F.lin_vector, [a], 0))
    assert_close(adc.jacobian(F.lin_vector, mode="reverse")(a),
                 numeric_jacobian(F.lin_vector, [a], 0))
    a = np.array([0.5, -0.25])
    assert_close(adc.hessian(F.lin_cubes)(a), numeric_hessian(F.lin_cubes, a), **HESSIAN_TOL)


def test_linspace_to_integers_is_piecewise_constant():
    """sum(linspace(0, L, 5, dtype=int) * L): only the factor L varies."""
    L = 4.5
    grads_agree(F.lin_int, [L], 0, float(np.sum(np.linspace(0.0, L, 5, dtype=int))))


@pytest.mark.parametrize("mode", MODES)
def test_linspace_retstep_is_refused(mode):
    with pytest.raises(adc.ADCompileError, match="retstep"):
        adc.grad(F.lin_retstep, mode=mode)(2.0)


def test_arange_values_move_with_start_and_step():
    """arange(a, b, s) = a + s k, k = 0, 1, ...; its length is piecewise constant."""
    a = 0.25
    grads_agree(F.ar_squares, [a], 0, 2 * np.sum(a + np.arange(3)))
    a, s = 0.3, 0.7
    k = np.arange(len(np.arange(a, 4.0, s)))
    c = np.cos(a + s * k)
    grads_agree(F.ar_sin, [a, s], (0, 1), [np.sum(c), np.sum(k * c)])
    h = 0.7  # arange(5, step=h) = h k for k = 0..7
    k = np.arange(8)
    grads_agree(F.ar_step_only, [h], 0, np.sum(2 * k * k * h))
    grads_agree(F.ar_stop_only, [3.2], 0, 0.0)


def test_arange_jacobian_hessian_and_integer_dtype():
    a = 0.4
    expected = numeric_jacobian(F.ar_vector, [a], 0)
    for mode in ("forward", "reverse"):
        assert_close(adc.jacobian(F.ar_vector, mode=mode)(a), expected)
    grads_agree(F.ar_int, [a], 0, float(np.sum(np.arange(a, a + 3.0, dtype=int))))
    a, s = 0.3, 0.7  # sum(sin(a + s k)): second derivatives -sum(sin), -sum(k^2 sin)
    k = np.arange(len(np.arange(a, 4.0, s)))
    assert adc.hessian(F.ar_sin, wrt=0)(a, s) == pytest.approx(-np.sum(np.sin(a + s * k)))
    assert adc.hessian(F.ar_sin, wrt=1)(a, s) == pytest.approx(-np.sum(k * k * np.sin(a + s * k)))


X_CAST = np.array([1.5, -2.5, 3.75])


@pytest.mark.parametrize("f", [F.cast_astype_int, F.cast_array_int, F.cast_asarray_int32])
def test_cast_to_integers_has_zero_derivative(f):
    """sum(int(x) * x): the derivative is int(x), the cast's own derivative is zero."""
    grads_agree(f, [X_CAST], 0, np.trunc(X_CAST))
    assert_close(adc.jacobian(f, mode="forward")(X_CAST), np.trunc(X_CAST))
    assert_close(adc.hessian(f)(X_CAST), np.zeros((3, 3)))


def test_cast_to_bool_and_float32():
    grads_agree(F.cast_astype_bool, [X_CAST], 0, np.ones(3))
    x32 = X_CAST.astype(np.float32)
    grads_agree(F.cast_asarray_float32, [X_CAST], 0, 2 * x32.astype(np.float64))


def test_cast_to_a_dtype_known_at_run_time():
    """dtype=n.dtype: integers for an integer n, floats for a float n."""
    n = np.array([1, 2, 3])
    grads_agree(F.cast_like_runtime_dtype, [X_CAST, n], 0, np.trunc(X_CAST))
    grads_agree(F.cast_like_runtime_dtype, [X_CAST, n.astype(float)], 0, 2 * X_CAST)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [F.text_float_of_str, F.text_repr])
def test_text_of_a_differentiated_value_is_refused(f, mode):
    """float(str(x)) is x: str and repr are not constants, and have no rule."""
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(f, mode=mode)(1.25)
    assert "str" in str(info.value) or "repr" in str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_print_stays_a_call(mode, capsys):
    assert adc.grad(F.text_print, mode=mode)(1.5) == pytest.approx(3.0)
    assert "x is 1.5" in capsys.readouterr().out


X_AUDIT = np.array([0.3, -1.2, 2.5, 0.7])
Y_AUDIT = np.array([0.5, -1.0, 1.5, 0.9])  # no ties with X_AUDIT: away from the steps
# every NumPy function passed as a constant, called on values that could carry a
# derivative: its result must not move when they move a little
CONSTANT_NUMPY = [
    (np.shape, lambda x: [x]), (np.ndim, lambda x: [x]), (np.size, lambda x: [x]),
    (np.zeros, lambda x: [len(x)]), (np.ones, lambda x: [len(x)]),
    (np.empty, lambda x: [len(x)]), (np.zeros_like, lambda x: [x]),
    (np.ones_like, lambda x: [x]), (np.empty_like, lambda x: [x]), (np.eye, lambda x: [len(x)]),
    (np.identity, lambda x: [len(x)]), (np.argmax, lambda x: [x]), (np.argmin, lambda x: [x]),
    (np.argsort, lambda x: [x]), (np.nonzero, lambda x: [x]), (np.flatnonzero, lambda x: [x]),
    (np.isnan, lambda x: [x]), (np.isinf, lambda x: [x]), (np.isfinite, lambda x: [x]),
    (np.all, lambda x: [x]), (np.any, lambda x: [x]), (np.count_nonzero, lambda x: [x]),
    (np.logical_and, lambda x: [x, Y_AUDIT]), (np.logical_or, lambda x: [x, Y_AUDIT]),
    (np.logical_not, lambda x: [x]), (np.logical_xor, lambda x: [x, Y_AUDIT]),
    (np.equal, lambda x: [x, Y_AUDIT]), (np.not_equal, lambda x: [x, Y_AUDIT]),
    (np.less, lambda x: [x, Y_AUDIT]), (np.less_equal, lambda x: [x, Y_AUDIT]),
    (np.greater, lambda x: [x, Y_AUDIT]), (np.greater_equal, lambda x: [x, Y_AUDIT]),
    (np.result_type, lambda x: [x]), (np.searchsorted, lambda x: [np.sort(Y_AUDIT), x]),
    (np.allclose, lambda x: [x, Y_AUDIT]), (np.isclose, lambda x: [x, Y_AUDIT]),
    (np.array_equal, lambda x: [x, Y_AUDIT]), (np.tril_indices, lambda x: [len(x)]),
    (np.triu_indices, lambda x: [len(x)]), (np.diag_indices, lambda x: [len(x)]),
    (np.indices, lambda x: [np.shape(x)]), (np.ix_, lambda x: [np.argsort(x)]),
    (np.linalg.matrix_rank, lambda x: [np.vander(x)]),
]


def _same(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    return np.shape(a) == np.shape(b) and np.array_equal(a, b)


def test_every_numpy_constant_is_piecewise_constant():
    """The audit, kept: each entry of NONDIFF_NUMPY is in the table above, and none
    moves with its float arguments (np.empty's values are any: its shape is compared)."""
    from ad_compiler.primitives import NONDIFF_NUMPY

    assert {id(f) for f, _ in CONSTANT_NUMPY} == set(NONDIFF_NUMPY)
    for f, args in CONSTANT_NUMPY:
        here, there = f(*args(X_AUDIT)), f(*args(X_AUDIT * (1 + 1e-9) + 1e-9))
        if f in (np.empty, np.empty_like):
            here, there = np.shape(here), np.shape(there)
        assert _same(here, there), f.__name__
    moved = [np.linspace(0.0, X_AUDIT[0], 3), np.linspace(0.0, X_AUDIT[0] + 1e-9, 3)]
    assert not _same(*moved) and id(np.linspace) not in NONDIFF_NUMPY
    assert id(np.arange) not in NONDIFF_NUMPY


def test_builtin_constants():
    """Builtins passed as constants: sizes, truth values, types, printing, and the
    explicit stop_gradient; not str or repr (float(str(x)) is x)."""
    from ad_compiler.primitives import NONDIFF_BUILTINS

    expected = (len, range, bool, isinstance, print, type, adc.stop_gradient)
    assert set(NONDIFF_BUILTINS) == {id(f) for f in expected}


# ====================================================================== 2. np.full, np.full_like

def test_full_adjoint_sums_the_fill():
    """sum(full(3, b) * [1, 2, 3]) = 6 b: the adjoint of b is 6, a number."""
    for mode in MODES:
        g = adc.grad(F.fill_weighted, mode=mode)(2.0)
        assert np.shape(g) == () and g == pytest.approx(6.0)


def test_full_with_a_broadcast_array():
    """full((2, 3), b) of a (3,) b: each b_j fills a column."""
    b = np.array([0.5, -1.0, 2.0])
    W = np.arange(6.0).reshape(2, 3)
    grads_agree(F.fill_broadcast, [b], 0, np.sum(W, axis=0))
    expected = numeric_jacobian(F.fill_broadcast_matrix, [b], 0)
    for mode in ("forward", "reverse"):
        assert_close(adc.jacobian(F.fill_broadcast_matrix, mode=mode)(b), expected)
    assert_close(adc.hessian(F.fill_cubes)(b), np.diag(2 * 6 * b))  # d2/db_j2 of 2 b_j^3


def test_full_like():
    x = np.array([0.5, -1.0, 2.0])
    grads_agree(F.fill_like, [x, 1.5], (0, 1), [np.full(3, 1.5), np.sum(x)])
    X = np.array([[0.5, -1.0, 2.0], [1.0, 0.25, -0.5]])
    b = np.array([0.3, -0.6, 1.2])
    grads_agree(F.fill_like_broadcast, [X, b], (0, 1),
                [np.broadcast_to(b ** 2, X.shape), np.sum(2 * b * X, axis=0)])


def test_full_like_second_derivatives():
    """full_like(X, c) has no derivative in X, also in vector mode (it crashed there)."""
    X = np.array([[0.5, -1.0, 2.0], [1.0, 0.25, -0.5]])
    expected = 4.0 * np.eye(6).reshape(2, 3, 2, 3)
    assert_close(adc.hessian(F.fill_like_constant)(X), expected)
    assert_close(adc.jacobian(adc.grad(F.fill_like_constant), mode="forward")(X), expected)
    b = np.array([0.3, -0.6, 1.2])
    assert_close(adc.hessian(F.fill_like_broadcast, wrt=1)(X, b), np.diag(2 * X.sum(axis=0)))
    assert_close(adc.hessian(F.fill_like_broadcast, wrt=0)(X, b), np.zeros((2, 3, 2, 3)))


def test_full_to_integers_is_piecewise_constant():
    """3 * int(b) * b: derivative 3 int(b), in both functions."""
    b = 2.7
    grads_agree(F.fill_int_dtype, [b], 0, 6.0)
    grads_agree(F.fill_like_int_array, [b], 0, 6.0)


# ====================================================================== 3. np.prod with zeros

def others(x, axis=None):
    """Each element's product of the other elements of its reduced group, by deleting
    it and multiplying what is left (the partial of np.prod, written out)."""
    x = np.asarray(x, dtype=np.float64)
    axes = tuple(range(x.ndim)) if axis is None else (axis if isinstance(axis, tuple)
                                                       else (axis,))
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        group = [j for j in np.ndindex(x.shape) if j != i and all(
            j[a] == i[a] for a in range(x.ndim) if a not in axes)]
        out[i] = np.prod([x[j] for j in group])
    return out


def others_of_pairs(x):
    """The Hessian of np.prod(x) for a 1-d x: the product of all elements but i and j."""
    n = len(x)
    return np.array([[0.0 if i == j else np.prod([x[k] for k in range(n) if k not in (i, j)])
                      for j in range(n)] for i in range(n)])


PROD_POINTS = [[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [2.0, 0.0, -1.5, 4.0], [0.0, 0.0, 0.0],
               [1.5, -2.0, 0.5], [0.0]]


@pytest.mark.parametrize("x", PROD_POINTS, ids=str)
def test_prod_partials_are_the_products_of_the_others(x):
    x = np.array(x)
    grads_agree(F.prod_all, [x], 0, others(x))
    grads_agree(F.prod_method, [x], 0, 2.0 * others(x))
    assert_close(adc.jacobian(F.prod_all, mode="forward")(x), others(x))
    assert_close(adc.hessian(F.prod_all)(x), others_of_pairs(x))


def test_prod_issue_example():
    """[0, 2, 3]: the partials are [6, 0, 0], not nan."""
    for mode in MODES:
        g = adc.grad(F.prod_all, mode=mode)(np.array([0.0, 2.0, 3.0]))
        assert g.tolist() == [6.0, 0.0, 0.0]


def test_prod_in_a_chain():
    x = np.array([1.5, 0.0, -0.5, 2.0])
    grads_agree(F.prod_weighted, [x], 0, np.cos(np.prod(x)) * others(x) + 1.0)


X_ZEROS = np.array([[0.0, 2.0, 3.0], [1.5, 0.0, 0.0], [1.5, 2.0, -1.0]])


def test_prod_along_an_axis():
    X = X_ZEROS
    rows = others(X, axis=1)
    weights = np.array([[1.0], [2.0], [-3.0]])
    grads_agree(F.prod_rows_keepdims, [X], 0, weights * rows)
    columns = np.prod(X, axis=0)
    grads_agree(F.prod_columns_squared, [X], 0, 2.0 * columns * others(X, axis=0))
    Y = np.array([[[0.0, 2.0], [1.5, -1.0]], [[3.0, 0.0], [0.5, 0.0]], [[1.0, 2.0], [0.0, 1.0]]])
    grads_agree(F.prod_two_axes, [Y], 0, np.array([1.0, -2.0])[None, :, None]
                * others(Y, axis=(0, 2)))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_prod_jacobian_along_an_axis(mode):
    """d prod(X, axis=1)[r] / dX[s, c] = (r == s) * product of the others in row r."""
    X = X_ZEROS
    expected = np.zeros((3, 3, 3))
    for r in range(3):
        expected[r, r] = others(X, axis=1)[r]
    assert_close(adc.jacobian(F.prod_rows, mode=mode)(X), expected)


def test_prod_hessian_along_an_axis():
    """Second differences of a polynomial are exact up to rounding."""
    for f in (F.prod_rows_keepdims, F.prod_columns_squared):
        assert_close(adc.hessian(f)(X_ZEROS), numeric_hessian(f, X_ZEROS), f.__name__,
                     **HESSIAN_TOL)


def test_prod_of_a_list():
    for mode in MODES:
        g = adc.grad(F.prod_of_list, mode=mode)([0.0, 2.0, 3.0])
        assert type(g) is list and g == [6.0, 0.0, 0.0]


@pytest.mark.parametrize("a", [0.0, 1.0, 0.5])
def test_prod_second_derivative_of_scalars(a):
    """prod([a, 2, a, a - 1]) = 2a^3 - 2a^2: first derivative 6a^2 - 4a, second 12a - 4,
    also at the zeros a = 0 and a = 1."""
    grads_agree(F.prod_of_scalars, [a], 0, 6 * a * a - 4 * a)
    second = adc.grad(adc.grad(F.prod_of_scalars), mode="forward")(a)
    assert second == pytest.approx(12 * a - 4, abs=1e-12)


# ====================================================================== 4. crashes

def test_unpacking_a_tuple_result_of_numpy():
    """``sign, logdet = np.linalg.slogdet(A)``: d logdet / dA = A^-T."""
    A = np.array([[2.0, 0.3], [-0.4, 1.5]])
    grads_agree(F.unpack_slogdet, [A], 0, np.linalg.inv(A).T)
    # sign * logdet + sum(A): the sign is piecewise constant
    sign = np.sign(np.linalg.det(A))
    grads_agree(F.unpack_slogdet_both, [A], 0, sign * np.linalg.inv(A).T + 1.0)
    negative = A * np.array([[-1.0], [1.0]])
    grads_agree(F.unpack_slogdet_both, [negative], 0, -np.linalg.inv(negative).T + 1.0)


def test_unpacking_index_arrays():
    """sum over i < j of x_i x_j: d/dx_k is the sum of the others."""
    x = np.array([0.5, -1.25, 2.0])
    grads_agree(F.unpack_triu, [x], 0, np.sum(x) - x)
    assert_close(adc.jacobian(F.unpack_triu, mode="forward")(x), np.sum(x) - x)
    hessian = np.ones((3, 3)) - np.eye(3)
    assert_close(adc.hessian(F.unpack_triu)(x), hessian)


@pytest.mark.parametrize("f", [F.slog_plus_squares, F.slog_sign_times, F.unpack_slogdet_both])
def test_slogdet_in_vector_mode(f):
    A = np.array([[2.0, 0.3, 0.1], [-0.4, 1.5, 0.2], [0.3, 0.1, -1.8]])
    expected = numeric_grad(f, [A], 0)
    grads_agree(f, [A], 0, expected)
    assert_close(adc.jacobian(f, mode="forward")(A), expected)
    assert_close(adc.hessian(f)(A), numeric_hessian(f, A), "hessian", **HESSIAN_TOL)


def test_dot_of_two_lists():
    """np.dot(ws, xs) of lists: gradients are lists of floats, of plain type list."""
    ws, xs = [1.0, 2.0], [3.0, 4.0]
    for mode in MODES:
        g = adc.grad(F.list_dot, mode=mode)(ws, xs)
        assert type(g) is list and all(type(v) is float for v in g), (mode, g)
        assert g == [3.0, 4.0]
        gw, gx = adc.grad(F.list_dot, wrt=(0, 1), mode=mode)(ws, xs)
        assert type(gw) is list and type(gx) is list
        assert gw == [3.0, 4.0] and gx == [1.0, 2.0]
        gw, gx = adc.grad(F.list_inner, wrt=(0, 1), mode=mode)(ws, xs)
        assert gw == [6.0, 8.0] and gx == [2.0, 4.0]


@pytest.mark.parametrize("mode", MODES)
def test_lists_through_numpy_functions(mode):
    W = np.array([[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]])
    xs = [0.3, -0.7]
    gW, gx = adc.grad(F.list_matvec, wrt=(0, 1), mode=mode)(W, xs)
    y = W @ np.array(xs)
    assert_close(gW, 2 * np.outer(y, xs))
    assert type(gx) is list and all(type(v) is float for v in gx)
    assert_close(gx, 2 * W.T @ y)
    g = adc.grad(F.list_exp, mode=mode)([0.5, -1.0])
    assert type(g) is list and all(type(v) is float for v in g)
    assert_close(g, np.exp([0.5, -1.0]))


def test_nested_list_gradient_is_nested_lists():
    xss = [[1.0, 2.0], [3.0, -0.5]]
    g = adc.grad(F.list_nested)(xss)
    assert type(g) is list and all(type(row) is list for row in g)
    assert all(type(v) is float for row in g for v in row)
    assert_close(g, 3 * np.array(xss) ** 2)
    assert_close(adc.grad(F.list_nested, mode="forward")(xss), 3 * np.array(xss) ** 2)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_einsum_with_ellipsis(mode):
    """Forward mode replays the product on tangents; the reverse rule spells '...' out
    for the operands' shapes."""
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 3, 2))
    got = adc.grad(F.einsum_ellipsis, wrt=(0, 1), mode=mode)(A, B)
    for k in (0, 1):
        assert_close(got[k], numeric_grad(F.einsum_ellipsis, [A, B], k))


# ====================================================================== 5. no rule

def _marked_line(f) -> int:
    lines, start = inspect.getsourcelines(f)
    return start + next(i for i, line in enumerate(lines) if "# ERR" in line)


NO_RULE = [  # function, its call as written, the callee, the argument wrapped in the hint
    (F.norule_fft, "np.fft.fft(x)", "np.fft.fft", "np.fft.fft(adc.stop_gradient(x))",
     [np.array([0.3, -0.7, 1.1])]),
    (F.norule_scalar, "norule_cube(x)", "norule_cube", "norule_cube(adc.stop_gradient(x))",
     [0.5]),
    (F.norule_two_arguments, "np.nextafter(a, b)", "np.nextafter",
     "np.nextafter(adc.stop_gradient(a), b)", [0.5, -2.0]),
    (F.norule_inlined, "norule_cube(...), inside _norule_helper(x),", "norule_cube",
     "norule_cube(adc.stop_gradient(...))", [0.5]),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f,call,callee,stopped,args", NO_RULE,
                         ids=[case[0].__name__ for case in NO_RULE])
def test_no_rule_error_names_the_call_and_the_ways_out(f, call, callee, stopped, args, mode):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(f, mode=mode, wrt=tuple(range(len(args))))(*args)
    error = info.value
    assert error.lineno == _marked_line(f) and error.filename.endswith("trust_rules.py")
    assert error.what.startswith(f"{call} has no derivative rule")
    if callee == "np.fft.fft":  # a function of arrays, not elementwise
        assert f"adc.defvjp({callee}, lambda ans, x: lambda g: " in error.hint
        assert f"adc.defjvp({callee}, lambda g, ans, x: " in error.hint
        assert "adc.defpartials is only for elementwise functions" in error.hint
    else:
        assert f"adc.defpartials({callee}, lambda y, " in error.hint
        assert "elementwise scalar function" in error.hint
    assert f"adc.stop_gradient(...) if no derivative should flow through it, as in {stopped}" \
        in error.hint
    assert "rewrite it with functions that have derivative rules" in error.hint
    assert "^" in str(error)  # the source line, with a caret under the call


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f,call", [
    (F.norule_copyto, "np.copyto(y, x)"), (F.norule_put, "np.put(y, [0, 2], [5.0, 6.0])"),
    (F.norule_unused_result, "np.random.shuffle(y)")])
def test_a_call_without_a_rule_is_refused_where_its_result_is_unused(f, call, mode):
    """Such a call may write into its arguments: reverse mode, which needs no adjoint of
    an unused result, refused it no more and returned a zero or a wrong gradient
    (np.copyto(y, x) gave 0 for d sum(y**2)/dx = 2 x)."""
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(f, mode=mode)(np.array([0.3, -0.2, 0.5]))
    assert info.value.lineno == _marked_line(f)
    assert info.value.what.startswith(f"{call} has no derivative rule")


def test_no_rule_error_of_a_method():
    for mode in MODES:
        with pytest.raises(adc.ADCompileError) as info:
            adc.grad(F.norule_method, mode=mode)(np.array([0.5, 1.0]))
        error = info.value
        assert error.lineno == _marked_line(F.norule_method)
        assert error.what.startswith("x.conj() has no derivative rule")
        assert "np.conj(x, ...)" in error.hint and "adc.defpartials(np.conj" in error.hint
        assert "np.conj(adc.stop_gradient(x))" in error.hint and "rewrite" in error.hint


@pytest.mark.parametrize("mode", MODES)
def test_the_ways_out_work(mode):
    """stop_gradient: d/dx (c(x0) + x) = 1; a registered rule: d/dx 2 x^3 = 6 x^2."""
    assert adc.grad(F.norule_stopped, mode=mode)(0.5) == pytest.approx(1.0)
    adc.defpartials(F.ruled_cube, lambda y, x: 3.0 * x * x)
    assert adc.grad(F.norule_registered, mode=mode)(0.5) == pytest.approx(6 * 0.25)


def test_builtin_reductions_of_items_have_rules():
    # max(a, b, c) * a at (0.5, 2, 1): the largest is b, so (max + 0, a, 0); sum(xs) * 2
    for mode in MODES:
        assert adc.grad(F.max_of_three, wrt=(0, 1, 2), mode=mode)(0.5, 2.0, 1.0) == (
            2.0, 0.5, 0.0)
        assert adc.grad(F.max_of_three, wrt=(0, 1, 2), mode=mode)(3.0, 2.0, 1.0) == (
            6.0, 0.0, 0.0)
        g = adc.grad(F.sum_of_list, mode=mode)([0.5, 2.0])
        assert type(g) is list and g == [2.0, 2.0]
        g = adc.grad(F.rewritten_sum_of_list, mode=mode)([0.5, 2.0])
        assert type(g) is list and g == [2.0, 2.0]
