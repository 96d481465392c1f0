"""NumPy's scans, reorderings, diagonals, paddings, sorts, gathers and splits, each
differentiated in every mode against references computed without the compiler.

One table of cases (functions in tests/fixtures/shapes_scans.py, written as users
write them) and one parametrized test per check: the reverse gradient against central
differences, forward mode against reverse, vector-mode Jacobians against reverse ones,
Hessians (forward over reverse) against central differences of the gradient, reverse
over reverse against the Hessian, and float32 values and gradients against NumPy's.
"""
from __future__ import annotations

import numpy as np
import pytest
from support import load_fixture, numeric_grad

import ad_compiler as adc

F = load_fixture("shapes_scans")

V5 = np.array([0.5, -1.2, 2.0, 0.3, 1.7])
V6 = np.array([0.5, -1.2, 2.0, 0.3, 1.7, -0.8])
V7 = np.array([0.5, -1.2, 2.0, 0.3, 1.7, -0.8, 1.1])
ONE_ZERO = np.array([0.5, -1.2, 0.0, 0.3, 1.7])
TWO_ZEROS = np.array([0.5, 0.0, 1.3, 0.0, 1.7])
M34 = np.array([[0.4, -1.1, 0.9, 2.0], [1.3, 0.2, -0.7, 0.6], [-0.5, 1.8, 0.1, -1.4]])
M34_ZERO = np.array([[0.4, -1.1, 0.0, 2.0], [1.3, 0.0, -0.7, 0.6], [-0.5, 1.8, 0.1, 0.0]])
T234 = np.linspace(-1.3, 1.7, 24).reshape(2, 3, 4) ** 2 - 0.5

# name -> (scalar function, point, vector-valued function or None)
CASES = {
    "cumsum": (F.cumsum, V5, F.cumsum_vec),
    "cumsum axis": (F.cumsum_axis, M34, None),
    "cumsum method": (F.cumsum_method, M34, None),
    "cumsum method axis": (F.cumsum_method_axis, M34, None),
    "cumprod": (F.cumprod, V5, F.cumprod_vec),
    "cumprod one zero": (F.cumprod, ONE_ZERO, F.cumprod_vec),
    "cumprod two zeros": (F.cumprod_score, TWO_ZEROS, F.cumprod_vec),
    "cumprod leading zero": (F.cumprod_score, np.array([0.0, 0.7, -1.2, 0.0, 2.0]), None),
    "cumprod axis": (F.cumprod_axis, M34_ZERO, None),
    "cumprod method": (F.cumprod_method, M34_ZERO, None),
    "cumprod flat matrix": (F.cumprod_score, M34, None),
    "diff": (F.diff, V5, F.diff_vec),
    "diff n axis": (F.diff_n_axis, M34, None),
    "diff twice": (F.diff_twice, V5, None),
    "diff constant ends": (F.diff_prepend_constant, V5, None),
    "diff differentiated ends": (F.diff_prepend_value, V5, None),
    "flip": (F.flip, V5, F.flip_vec),
    "flip axis": (F.flip_axis, M34, None),
    "fliplr": (F.fliplr, M34, None),
    "flipud": (F.flipud, M34, None),
    "rot90": (F.rot90, M34, None),
    "rot90 k axes": (F.rot90_k, M34, None),
    "roll": (F.roll, V5, F.roll_vec),
    "roll axes": (F.roll_axes, M34, None),
    "moveaxis": (F.moveaxis, T234, None),
    "rollaxis": (F.rollaxis, T234, None),
    "rollaxis start": (F.rollaxis_start, T234, None),
    "diag of a vector": (F.diag_of_vector, V5, None),
    "diag of a matrix": (F.diag_of_matrix, M34, F.diag_vec),
    "diagonal": (F.diagonal, T234, None),
    "diagonal method": (F.diagonal_method, M34, None),
    "diagflat": (F.diagflat, M34[:2, :2], None),
    "triu": (F.triu, M34, None),
    "tril": (F.tril, M34, F.tril_vec),
    "append": (F.append, M34, None),
    "append axis": (F.append_axis, M34, None),
    "pad": (F.pad, M34, None),
    "pad differentiated value": (F.pad_value, M34, None),
    "pad vec": (F.pad_value, M34[:2], F.pad_vec),
    "sort": (F.sort, V5, F.sort_vec),
    "sort axis": (F.sort_axis, M34, None),
    "sort flat": (F.sort_flat, M34, None),
    "partition": (F.partition, V5, None),
    "partition score": (F.partition_score, V5, None),
    "take": (F.take, V5, F.take_vec),
    "take axis": (F.take_axis, M34, None),
    "take method": (F.take_method, V5, None),
    "take_along_axis": (F.take_along_axis, M34, None),
    "split unpacked": (F.split_unpacked, V6, F.split_vec),
    "split indexed": (F.split_indexed, M34, None),
    "array_split": (F.array_split, V7, None),
    "hsplit": (F.hsplit, M34, None),
    "vsplit": (F.vsplit, M34, None),
    "atleast_1d": (F.atleast_1d, M34, None),
    "atleast_2d": (F.atleast_2d, V5, None),
    "atleast_3d": (F.atleast_3d, M34, None),
}
VECTOR_CASES = {name: case for name, case in CASES.items() if case[2] is not None}


def _gradient_by_differences(fn, x):
    return numeric_grad(fn, [x], 0)


@pytest.mark.parametrize("name", CASES)
def test_reverse_gradient_against_central_differences(name):
    fn, x, _ = CASES[name]
    value, gradient = adc.value_and_grad(fn)(x)
    assert value == fn(x)  # the compiled primal calls NumPy itself
    np.testing.assert_allclose(gradient, _gradient_by_differences(fn, x), rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize("name", CASES)
def test_forward_gradient_against_reverse(name):
    fn, x, _ = CASES[name]
    np.testing.assert_allclose(adc.grad(fn, mode="forward")(x), adc.grad(fn)(x),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", VECTOR_CASES)
def test_jacobian_forward_against_reverse(name):
    _, x, vec = VECTOR_CASES[name]
    forward = adc.jacobian(vec, mode="forward")(x)
    reverse = adc.jacobian(vec, mode="reverse")(x)
    assert forward.shape == np.shape(vec(x)) + x.shape
    np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-12)
    for j in np.ndindex(x.shape):  # each column against central differences
        step = np.zeros_like(x)
        step[j] = 1e-6
        column = (vec(x + step) - vec(x - step)) / 2e-6
        np.testing.assert_allclose(reverse[(...,) + j], column, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", CASES)
def test_hessian_against_differences_of_the_gradient(name):
    fn, x, _ = CASES[name]
    hessian = adc.hessian(fn)(x)
    gradient = adc.grad(fn)
    assert hessian.shape == x.shape + x.shape
    for j in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[j] = 1e-6
        column = (gradient(x + step) - gradient(x - step)) / 2e-6
        np.testing.assert_allclose(hessian[(...,) + j], column, rtol=1e-5, atol=1e-6)


# indexing a list makes a sparse adjoint, whose helpers have no adjoint rule yet
INDEXED_LISTS = {"split unpacked", "split indexed", "array_split", "hsplit", "vsplit"}


@pytest.mark.parametrize("name", CASES)
def test_reverse_over_reverse_against_the_hessian(name):
    fn, x, _ = CASES[name]
    if name in INDEXED_LISTS:
        with pytest.raises(adc.ADCompileError, match="has no adjoint rule"):
            adc.jacobian(adc.grad(fn), mode="reverse")(x)
        return
    twice = adc.jacobian(adc.grad(fn), mode="reverse")(x)
    np.testing.assert_allclose(twice, adc.hessian(fn)(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", CASES)
def test_float32(name):
    fn, x, _ = CASES[name]
    x32 = x.astype(np.float32)
    value, gradient = adc.value_and_grad(fn)(x32)
    expected = fn(x32)
    assert np.result_type(value) == np.result_type(expected)
    assert value == expected
    assert gradient.dtype == np.float32
    np.testing.assert_allclose(gradient, adc.grad(fn)(x), rtol=2e-3, atol=2e-3)
