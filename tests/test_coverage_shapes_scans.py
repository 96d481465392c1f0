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
    "insert a number": (F.insert_scalar, V5, None),
    "insert at positions": (F.insert_positions, M34, None),
    "insert flat": (F.insert_flat, M34, None),
    "insert a row": (F.insert_row, M34, None),
    "insert vec": (F.insert_scalar, V5, F.insert_vec),
    "insert into a constant": (F.insert_into_a_constant, V5, None),
    "insert constant values": (F.insert_constant_values, V5, None),
    "maximum.accumulate": (F.running_max, V5, F.running_max_vec),
    "maximum.accumulate axis": (F.running_max_axis, M34, None),
    "minimum.accumulate": (F.running_min, M34, None),
    "minimum.accumulate last axis": (F.running_min_last_axis, T234, None),
    "pad": (F.pad, M34, None),
    "pad differentiated value": (F.pad_value, M34, None),
    "pad vec": (F.pad_value, M34[:2], F.pad_vec),
    "pad edge": (F.pad_edge, M34, None),
    "pad reflect": (F.pad_reflect, M34, None),
    "pad wrap": (F.pad_edge, M34[:2], F.pad_wrap_vec),
    "sort": (F.sort, V5, F.sort_vec),
    "sort axis": (F.sort_axis, M34, None),
    "sort flat": (F.sort_flat, M34, None),
    "partition": (F.partition, V5, None),
    "partition score": (F.partition_score, V5, None),
    "take": (F.take, V5, F.take_vec),
    "take axis": (F.take_axis, M34, None),
    "take method": (F.take_method, V5, None),
    "take_along_axis": (F.take_along_axis, M34, None),
    "take_along_axis broadcast": (F.take_along_axis_broadcast, M34[1:2], None),
    "take_along_axis flat": (F.take_along_axis_flat, M34, None),
    "split unpacked": (F.split_unpacked, V6, F.split_vec),
    "split indexed": (F.split_indexed, M34, None),
    "array_split": (F.array_split, V7, None),
    "hsplit": (F.hsplit, M34, None),
    "vsplit": (F.vsplit, M34, None),
    "cumsum last axis": (F.cumsum_last_axis, T234, None),
    "cumprod middle axis": (F.cumprod_middle_axis, T234, None),
    "diff last axis": (F.diff_last_axis, T234, None),
    "sort last axis": (F.sort_last_axis, T234, None),
    "partition first axis": (F.partition_first_axis, M34, None),
    "take negative": (F.take_negative, T234, None),
    "flip axes": (F.flip_axes, T234, None),
    "rot90 3d": (F.rot90_3d, T234, None),
    "roll flat": (F.roll_flat, M34, None),
    "moveaxis lists": (F.moveaxis_lists, T234, None),
    "diagonal negative axes": (F.diagonal_negative_axes, T234, None),
    "triu stack": (F.triu_stack, T234, None),
    "diag below": (F.diag_below, V5, None),
    "split last axis": (F.split_last_axis, T234, None),
    "take_along_axis last axis": (F.take_along_last_axis, T234, None),
    "split joined as lists": (F.split_joined, V6[:4], None),
    "split in a loop": (F.split_looped, V6[:4], None),
    "split concatenated": (F.split_concatenated, V6, None),
    "split stacked": (F.split_stacked, V6, None),
    "atleast_1d": (F.atleast_1d, M34, None),
    "atleast_2d": (F.atleast_2d, V5, None),
    "atleast_3d": (F.atleast_3d, M34, None),
    "np.r_": (F.joined_by_r, V5, F.joined_by_r_vec),
    "np.r_ matrices": (F.joined_by_r_matrix, M34, None),
    "np.r_ slices": (F.joined_by_r_slices, V5, None),
    "np.c_": (F.design_matrix_by_c, V5, F.design_matrix_by_c_vec),
    "np.c_ columns": (F.columns_by_c, M34, None),
    "np.c_ 3d": (F.slabs_by_c, T234[:, :, :2], None),
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


@pytest.mark.parametrize("name", CASES)
def test_reverse_over_reverse_against_the_hessian(name):
    fn, x, _ = CASES[name]
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


# ------------------------------------------------------------------ ties and zeros

MODES = ("reverse", "forward")


@pytest.mark.parametrize("mode", MODES)
def test_sort_ties_follow_the_stable_order(mode):
    # of tied elements the one first in the input takes the first place of the output:
    # sorted([1, 1, 0]) = (x2, x0, x1), weighted 0, 1, 2
    gradient = adc.grad(F.sort_ties, mode=mode)(np.array([1.0, 1.0, 0.0]))
    np.testing.assert_array_equal(gradient, [1.0, 2.0, 0.0])


@pytest.mark.parametrize("mode", MODES)
def test_partition_ties_follow_the_stable_order(mode):
    x = np.array([2.0, 2.0, 0.0, 3.0])
    y = np.partition(x, 1)
    expected, used = np.zeros(4), set()
    for j, value in enumerate(y):  # each output place takes the first unused equal input
        i = next(i for i in range(4) if x[i] == value and i not in used)
        used.add(i)
        expected[i] = F.RAMP4[j]
    np.testing.assert_array_equal(adc.grad(F.partition_ties, mode=mode)(x), expected)


def _cumprod_partials_by_hand(x, w):
    """d/dx_k of sum_i w_i x_0...x_i and its second derivatives, products written out."""
    n = len(x)

    def product(i, skip):
        return np.prod([x[j] for j in range(i + 1) if j not in skip])

    gradient = np.array([sum(w[i] * product(i, {k}) for i in range(k, n)) for k in range(n)])
    hessian = np.array([[0.0 if k == m else sum(w[i] * product(i, {k, m})
                                                 for i in range(max(k, m), n))
                         for m in range(n)] for k in range(n)])
    return gradient, hessian


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 0.0, 0.0, 1.5, 2.0],
                               [1.5, -2.0, 0.5, 3.0, 0.0], [0.7, 1.1, -0.4, 2.0, 1.3]])
def test_cumprod_is_exact_at_zeros(x):
    x = np.array(x)
    gradient, hessian = _cumprod_partials_by_hand(x, F.RAMP5)
    for mode in MODES:
        np.testing.assert_allclose(adc.grad(F.cumprod_weighted, mode=mode)(x), gradient,
                                   rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(adc.hessian(F.cumprod_weighted)(x), hessian, rtol=1e-12,
                               atol=1e-12)
    assert np.all(np.isfinite(adc.jacobian(F.plain_cumprod, mode="forward")(x)))


# ------------------------------------------------------------------ refusals


def _marked_line(fn):
    import inspect

    lines, start = inspect.getsourcelines(fn)
    return start + next(k for k, line in enumerate(lines) if "# ERR" in line)


@pytest.mark.parametrize("fn, word", [(F.joined_by_r_directive, "np.r_[...]"),
                                      (F.joined_by_c_computed_slice, "np.c_[...]")])
@pytest.mark.parametrize("mode", MODES)
def test_r_and_c_with_directives_or_computed_slices_are_refused(fn, word, mode):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn, mode=mode)(V5[:3])
    assert info.value.lineno == _marked_line(fn)
    assert word in info.value.what and "np.concatenate" in info.value.hint


@pytest.mark.parametrize("fn", [F.joined_by_r, F.design_matrix_by_c])
def test_r_and_c_print_as_written(fn):
    text = adc.source(fn)
    assert ("np.r_[" in text) != ("np.c_[" in text) and "index_trick" not in text


def test_r_of_constants_is_a_constant():
    for mode in MODES:
        np.testing.assert_array_equal(adc.grad(F.constant_r, mode=mode)(V5[:4]),
                                      [0.0, 1.0, 2.0, 5.0])


def test_sort_method_in_place_is_refused():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(F.sorted_in_place)(V5)
    assert info.value.lineno == _marked_line(F.sorted_in_place)
    assert "in place" in info.value.what and "y = np.sort(y)" in info.value.hint


@pytest.mark.parametrize("mode", MODES)
def test_pad_modes_that_compute_values_are_refused_when_differentiated(mode):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(F.pad_mean, mode=mode)(V5[:2])
    assert info.value.lineno == _marked_line(F.pad_mean)
    assert "'constant', 'edge'" in info.value.what


def test_a_pad_of_a_constant_array_is_a_constant():
    # (forward mode builds one tangent sweep for all arguments: the array's is refused)
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert adc.grad(F.pad_mean_constant)(0.5, m) == np.sum(np.pad(m, 1, "mean"))


@pytest.mark.parametrize("mode", MODES)
def test_differentiated_pad_values_per_side_are_refused(mode):
    with pytest.raises(ValueError, match="one constant value only") as info:
        adc.grad(F.pad_per_side, mode=mode)(np.array([0.5, -1.2, 2.0]))
    # the note names the user's line (in __notes__; on Python 3.10, after the message)
    notes = [str(info.value), *getattr(info.value, "__notes__", ())]
    assert "np.pad(x, 1, constant_values=(x[0], 2.0))" in "\n".join(notes)


@pytest.mark.parametrize("fn, args, word", [
    (F.cumprod_axis_argument, (M34, 1), "axis"),
    (F.diff_order_argument, (V5, 2), "order n"),
    (F.cumsum_dtype, (V5,), "dtype="),
])
def test_static_parameters_the_rules_need_are_refused_when_not_constants(fn, args, word):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn)(*args)
    assert info.value.lineno == _marked_line(fn)
    assert word in info.value.what


def test_a_cumulative_sum_of_constants_with_a_dtype_is_a_constant():
    counts = np.array([1, 2, 3])
    assert adc.grad(F.cumsum_dtype_constant)(0.5, counts) == 10.0


def test_complex_arrays_stay_refused():
    with pytest.raises(TypeError, match="complex"):
        adc.grad(F.cumsum)(V5 + 1j)


# ------------------------------------------------------------------ lists of numbers


@pytest.mark.parametrize("fn", [F.cumsum_of_numbers, F.sort_of_numbers,
                                F.cumprod_of_numbers, F.flip_of_numbers])
@pytest.mark.parametrize("mode", MODES)
def test_functions_of_lists_of_numbers(fn, mode):
    point = [0.7, -1.3]
    gradient = adc.grad(fn, wrt=(0, 1), mode=mode)(*point)
    for k in (0, 1):
        assert type(gradient[k]) is float or isinstance(gradient[k], np.floating)
        np.testing.assert_allclose(gradient[k], numeric_grad(fn, point, k), rtol=1e-6)


def test_vector_mode_of_a_sorted_list():
    xs = [0.7, -1.3, 0.2]
    forward = adc.jacobian(F.sort_of_a_list, mode="forward")(xs)
    reverse = adc.jacobian(F.sort_of_a_list, mode="reverse")(xs)
    for k in range(3):
        np.testing.assert_allclose(forward[k], reverse[k], atol=1e-15)
    # sorted: (xs[0] = 0.7, 1.0, xs[1]**2 = 1.69), weighted 0.5, 2, -1; one row per item
    by_hand = [[0.5, 0.0, 0.0], [0.0, 0.0, -1.0 * 2.0 * -1.3], [0.0, 0.0, 0.0]]
    np.testing.assert_allclose(np.array(reverse), by_hand, atol=1e-15)


@pytest.mark.parametrize("fn", [F.of_number_cumprod, F.of_number_sort, F.of_number_diff_pad,
                                F.of_number_take_diag])
def test_grad_of_grad_of_a_number(fn):
    a = 0.8
    second = adc.grad(adc.grad(fn))(a)
    by_differences = (adc.grad(fn)(a + 1e-6) - adc.grad(fn)(a - 1e-6)) / 2e-6
    np.testing.assert_allclose(second, by_differences, rtol=1e-6)
    np.testing.assert_allclose(adc.jvp(adc.grad(fn), (a,), (1.0,))[1], second, rtol=1e-12)


def test_a_loop_over_a_method_call_is_refused_and_a_loop_over_its_value_works():
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(F.loop_over_a_method_call)(x)
    assert info.value.lineno == _marked_line(F.loop_over_a_method_call)
    assert "build a list first and loop over it" in info.value.hint
    for mode in MODES:  # d/dx of x[2]**2 + x[0]**2
        np.testing.assert_array_equal(adc.grad(F.loop_over_a_named_take, mode=mode)(x),
                                      [2.0, 0.0, 6.0])


@pytest.mark.parametrize("mode", MODES)
def test_a_running_extreme_follows_the_first_of_tied_elements(mode):
    # running max of (1, 3, 3) is (x0, x1, x1): the second 3 never takes over; weighted
    # by RAMP3 = (0, 1, 2), x1 gets 1 + 2.  The running min of (2, 1, 1): (x0, x1, x1)
    ramp = F.RAMP3
    np.testing.assert_array_equal(
        adc.grad(F.running_max_ties, mode=mode)(np.array([1.0, 3.0, 3.0])),
        [ramp[0], ramp[1] + ramp[2], 0.0])
    np.testing.assert_array_equal(
        adc.grad(F.running_min_ties, mode=mode)(np.array([2.0, 1.0, 1.0])),
        [ramp[0], ramp[1] + ramp[2], 0.0])


@pytest.mark.parametrize("mode", MODES)
def test_a_running_maximum_of_a_list(mode):
    # (x0, 2 x1, x2) with x = (0.5, 1.0, 1.5): running max (0.5, 2, 2), from x0, x1, x1
    ramp = F.RAMP3
    assert adc.grad(F.running_max_of_a_list, mode=mode)([0.5, 1.0, 1.5]) == \
        [ramp[0], 2.0 * (ramp[1] + ramp[2]), 0.0]


def test_the_generated_code_calls_the_ufunc_method_as_written():
    source = adc.source(F.running_max)
    assert "np.maximum.accumulate(" in source
    gradient = adc.grad(F.running_max)
    gradient(V5)
    assert adc.grad(F.running_max) is gradient  # (built once: the bound method is the same)
