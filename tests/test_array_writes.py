"""Writing into arrays (``out[i] = v``, ``out[i, :] += v``, masks, slices with steps,
views) and into lists and dicts by index: the compiled value equals Python's, the
caller's arrays are left as they were, and derivatives agree with central differences,
forward mode with reverse mode, and second derivatives with differences of gradients.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from support import load_fixture, numeric_grad

import ad_compiler as adc

F = load_fixture("array_writes")
RNG = np.random.default_rng(11)
MODES = ["reverse", "forward"]


def python_value(f, *args):
    return f(*copy.deepcopy(args))


def check(f, args, wrt=0, rel=1e-6, abs_=1e-8):
    """Value against Python's, both modes against central differences and each other,
    the arguments untouched."""
    before = copy.deepcopy(args)
    grads = {}
    for mode in MODES:
        value, g = adc.value_and_grad(f, wrt=wrt, mode=mode)(*args)
        assert value == pytest.approx(python_value(f, *before), rel=1e-13, abs=1e-13)
        for a, b in zip(args, before):
            assert np.array_equal(np.asarray(a), np.asarray(b))
        grads[mode] = g
    expected = numeric_grad(lambda *a: python_value(f, *a), list(before), wrt)
    for mode in MODES:
        assert np.asarray(grads[mode]) == pytest.approx(np.asarray(expected), rel=rel, abs=abs_)
    assert np.asarray(grads["forward"]) == pytest.approx(np.asarray(grads["reverse"]),
                                                         rel=1e-12, abs=1e-12)
    return grads["reverse"]


def check_hessian(f, args, wrt=0, rel=1e-5, abs_=1e-6):
    """adc.hessian against central differences of the gradient."""
    x = np.asarray(args[wrt], dtype=float)
    H = np.asarray(adc.hessian(f, wrt=wrt)(*args))
    grad = adc.grad(f, wrt=wrt)
    eps = 1e-5
    numeric = np.zeros(x.shape + x.shape)
    for k in np.ndindex(x.shape):
        hi, lo = list(args), list(args)
        step = np.zeros_like(x)
        step[k] = eps
        hi[wrt], lo[wrt] = x + step, x - step
        numeric[(Ellipsis, *k)] = (np.asarray(grad(*hi)) - np.asarray(grad(*lo))) / (2 * eps)
    assert H.reshape(numeric.shape) == pytest.approx(numeric, rel=rel, abs=abs_)


# ------------------------------------------------------------------ realistic code


@pytest.mark.parametrize("wrt", [0, 1, 2])
def test_rnn_states_in_a_preallocated_array(wrt):
    x, W, h0 = RNG.normal(size=(6, 3)), 0.6 * RNG.normal(size=(3, 3)), RNG.normal(size=3)
    check(F.rnn_loss, (x, W, h0), wrt=wrt)


def test_rnn_second_derivative():
    x, W, h0 = RNG.normal(size=(4, 2)), 0.6 * RNG.normal(size=(2, 2)), RNG.normal(size=2)
    check_hessian(F.rnn_loss, (x, W, h0), wrt=2)


def test_rnn_code_writes_as_a_person_would():
    forward = adc.source(F.rnn_loss, wrt=1, mode="forward")
    assert "h[t + 1] = np.tanh(" in forward  # in place, the user's names
    assert ".copy()" not in forward
    reverse = adc.source(F.rnn_loss, wrt=1)
    assert "h_1_bar[" in reverse and "] = 0.0" in reverse
    # no step reads a row a later step writes: the tape holds nothing of the states
    # (no copy per step, no overwritten rows), and the backward loop reads them as left
    assert "overwritten" not in reverse and "h_1.copy()" not in reverse
    assert "stack" not in reverse and "for t_1 in reversed(" in reverse
    assert "h_1_bar.copy()" not in reverse


def test_rnn_code_specialised_to_shapes_adds_into_the_states_adjoint():
    """For one input signature the backward loop needs no shape questions: the step's
    adjoint is added into the states' adjoint in place (``h_bar[t] += W.dot(a_bar)``), and
    W's adjoint is one product of the stacked steps after the loop."""
    x, W, h0 = RNG.normal(size=(5, 3)), 0.6 * RNG.normal(size=(3, 3)), RNG.normal(size=3)
    grad = adc.grad(F.rnn_loss, wrt=1)
    expected = numeric_grad(F.rnn_loss, [x, W, h0], 1)
    assert grad(x, W, h0) == pytest.approx(expected, rel=1e-6, abs=1e-8)
    assert list(grad.specializations.values()) == ["specialised"]
    special = grad.source_for(x, W, h0)
    backward = special[special.index("for t_1 in reversed("):]  # no tape: the counter
    for helper in ("dense(", "index_update(", "add_into(", "unbroadcast(", "matmul_adjoint"):
        assert helper not in backward
    assert "] += W.dot(" in backward and "np.outer(" not in backward
    assert ".T @ np.array(" in backward  # W's adjoint: one product of the steps, after the loop
    assert grad(x, W, h0) == pytest.approx(expected, rel=1e-6, abs=1e-8)  # the special code


@pytest.mark.parametrize("dx", [0.5, 0.1])
def test_laplacian_filled_by_slices(dx):
    u = RNG.normal(size=7)
    g = check(F.laplacian_energy, (u, dx))
    # the energy is u.A u / 2 for a symmetric A: its gradient is A u, the Laplacian
    lap = np.zeros_like(u)
    lap[1:-1] = (u[2:] - 2 * u[1:-1] + u[:-2]) / dx ** 2
    lap[0], lap[-1] = (u[1] - 2 * u[0]) / dx ** 2, (u[-2] - 2 * u[-1]) / dx ** 2
    assert g == pytest.approx(lap * dx, rel=1e-10)
    check(F.laplacian_energy, (u, dx), wrt=1)
    check_hessian(F.laplacian_energy, (u, dx))


def test_two_dimensional_laplacian():
    check(F.laplacian_2d, (RNG.normal(size=(4, 5)),))


def test_masked_loss():
    pred, target = RNG.normal(size=6), np.array([1.0, -1.0, 0.5, -2.0, 2.0, 0.0])
    g = check(F.masked_loss, (pred, target))
    assert g[1] == 0.0 and g[3] == 0.0  # the missing entries do not count
    check_hessian(F.masked_loss, (pred, target))


def test_slices_with_steps():
    x = RNG.normal(size=7)
    check(F.every_other, (x,))
    check_hessian(F.every_other, (x,))


def test_columns_and_a_row_update():
    A, v = RNG.normal(size=(3, 4)), RNG.normal(size=4)
    check(F.columns, (A, v), wrt=0)
    check(F.columns, (A, v), wrt=1)


def test_write_through_a_view_changes_its_array():
    x = RNG.normal(size=4)
    g = check(F.alias_view, (x,))
    # z = (x0, 5 x0, x2, x3), y = z[1:]: sum z**2 + sum y
    assert g == pytest.approx([2 * x[0] + 50 * x[0] + 5.0, 0.0, 2 * x[2] + 1, 2 * x[3] + 1],
                              rel=1e-12)


def test_a_view_taken_before_a_write_shows_it():
    x = RNG.normal(size=3)
    check(F.views_read_again, (x,))


@pytest.mark.parametrize("idx", [[0, 2, 0], [3, 1, 2]])
def test_repeated_integer_index(idx):
    x = RNG.normal(size=3)
    check(F.repeated_index, (x, np.array(idx)))


@pytest.mark.parametrize("k", [0.5, 4.0])
def test_integrator_states(k):
    y0 = np.array([1.0, -0.3])
    check(F.integrator_states, (y0, k, 0.05))
    check(F.integrator_states, (y0, k, 0.05), wrt=1)


def test_integrator_second_derivative():
    check_hessian(F.integrator_states, (np.array([1.0, -0.3]), 2.0, 0.05))


def test_write_on_one_side_of_a_branch():
    x = np.array([0.7, -1.2, 2.0, -0.1])  # both sides taken
    check(F.conditional_fill, (x,))
    check_hessian(F.conditional_fill, (x,))


def test_a_parameter_written_into():
    x = np.array([0.5, -2.0, 1.5])
    g = check(F.parameter_written, (x,))
    assert g == pytest.approx([4 * x[0] ** 3, 2 * x[1], 2 * x[2]], rel=1e-12)


def test_item_of_an_item():
    check(F.nested_item, (RNG.normal(size=3),))


def test_ones_empty_and_copies():
    x = RNG.normal(size=3)
    check(F.ones_and_empty, (x,))
    check_hessian(F.ones_and_empty, (x,))


@pytest.mark.parametrize("x", [0.8, -1.5])
def test_list_items_written(x):
    g = check(F.list_of_states, (x,))
    # x + x**2 * 3x + 2x
    assert g == pytest.approx(1 + 9 * x ** 2 + 2, rel=1e-12)


@pytest.mark.parametrize("x", [0.3, 2.0])
def test_dict_filled(x):
    g = check(F.dict_filled, (x,))
    # (2x + sin x) sin x
    assert g == pytest.approx((2 + np.cos(x)) * np.sin(x) + (2 * x + np.sin(x)) * np.cos(x),
                              rel=1e-12)


def test_a_view_kept_in_a_list_is_refused_when_shared():
    with pytest.raises(ValueError, match="keep"):
        adc.grad(F.shared_then_read)(RNG.normal(size=3))


# ------------------------------------------------------------------ growing lists


@pytest.mark.parametrize("k", [1.0, 3.0])
def test_trajectory_appending_states(k):
    y0 = np.array([1.0, 0.2])
    check(F.trajectory, (y0, k, 0.1))
    check(F.trajectory, (y0, k, 0.1), wrt=1)


def test_trajectory_second_derivative():
    check_hessian(F.trajectory, (np.array([1.0, 0.2]), 2.0, 0.1))


@pytest.mark.parametrize("x", [0.3, 0.9, -0.7])  # items on both sides of v > 0.5
def test_pop_insert_extend(x):
    check(F.gathered, (x,))


def test_an_append_shows_through_every_name():
    for x in (0.4, -1.3):
        assert check(F.aliased_list, (x,)) == pytest.approx(4 * x, rel=1e-12)


@pytest.mark.parametrize("x", [0.7, -0.2])
def test_dict_filled_by_key(x):
    g = check(F.dict_by_key, (x,))
    a, b = 2 * x + x ** 2, 3 * x + x ** 2
    assert g == pytest.approx((2 + 2 * x) * b + a * (3 + 2 * x), rel=1e-12)


def test_list_filled_item_by_item():
    xs = [0.5, -1.0, 2.0]
    g = check(F.squares_in_place, (xs,))
    # x0^2 (x2^2 + x0^2) + x1^2
    assert g == pytest.approx([2 * xs[0] * (xs[2] ** 2 + xs[0] ** 2) + 2 * xs[0] ** 3,
                               2 * xs[1], 2 * xs[2] * xs[0] ** 2], rel=1e-12)


# ------------------------------------------------------------------ np.add.at


def test_histogram_accumulated_with_add_at():
    values, weights = RNG.normal(size=5), np.array([1.0, 2.0, 0.5, 1.5, 1.0])
    bins = np.array([0, 2, 0, 3, 2])  # bins 0 and 2 repeat: each adds
    check(F.histogram_loss, (values, bins, weights))
    check(F.histogram_loss, (values, bins, weights), wrt=2)
    check_hessian(F.histogram_loss, (values, bins, weights))
    assert "np.add.at(counts, bins, " in adc.source(F.histogram_loss)


def test_rows_written_through_views_in_a_loop():
    x = np.array([0.3, -0.8, 1.1])
    check(F.rows_through_views, (x,))


def test_a_view_from_a_numpy_function_is_guarded():
    """Where a write goes through a view the compiled code does not follow (np.flip's),
    it refuses when it runs rather than compute another value."""
    with pytest.raises(ValueError, match="a, read afterwards, shares it"):
        adc.grad(F.written_through_flip)(np.array([0.3, -0.8, 1.1]))


# ------------------------------------------------------------------ writes through views


@pytest.mark.parametrize("f", [F.clamped_copy, F.clamped_argument])
def test_a_write_into_a_slice_changes_the_array(f):
    """``y = x[1:]; y[0] = 5.0`` sets x[1]: the gradient of sum(x**2) is 2x but there."""
    x = RNG.normal(size=5)
    g = check(f, (x,))
    expected = 2.0 * x
    expected[1] = 0.0
    assert g == pytest.approx(expected, rel=1e-12, abs=1e-12)
    check_hessian(f, (x,))
    H = adc.hessian(f)(x)
    assert np.diag(H) == pytest.approx([2.0, 0.0, 2.0, 2.0, 2.0], abs=1e-12)


@pytest.mark.parametrize("kind", [list, np.array])
def test_a_slice_written_into_follows_the_kind_of_its_argument(kind):
    """Of a list the slice is a copy (x keeps its items), of an array a view."""
    x = kind([0.3, -1.2, 0.8, 1.5])
    check(F.slice_of_any_kind, (x,))


@pytest.mark.parametrize("f", [F.added_through_a_slice, F.written_through_a_slice])
@pytest.mark.parametrize("counts", [[1, 2, 3, 4], [4.0, 0.5, -1.0, 2.0]])
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_a_slice_of_an_integer_array_truncates_what_is_written(f, counts, x):
    """Through a slice of an argument of unknown kind, a float written into integers is
    truncated by NumPy: its derivative is zero there, not that of the float."""
    counts = np.array(counts)
    g = check(f, (x, counts))
    if counts.dtype.kind == "i":  # counts[1] * x + sum(tail) * x**2 with constant counts
        after = counts.copy()
        f(x, after)
        assert g == pytest.approx(after[1] + 2.0 * x * np.sum(after[1:]), rel=1e-12)
    else:
        check_hessian(f, (x, counts))


@pytest.mark.parametrize("x", [0.7, -1.3])
def test_a_slice_of_a_list_written_into_leaves_the_list(x):
    """Of a list, the slice is a copy: nothing is written back, and the adjoint of what
    would have been is zeros shaped like the slice (reverse mode indexed a 0.0)."""
    check(F.written_through_a_slice, (x, [4.0, 0.5, -1.0, 2.0]))


def test_a_row_scaled_in_place_through_its_name():
    A, c = RNG.normal(size=(3, 4)), 0.7
    check(F.scaled_rows, (A, c), wrt=0)
    check(F.scaled_rows, (A, c), wrt=1)
    check_hessian(F.scaled_rows, (A, c))


def test_a_chained_write_through_a_strided_view():
    x = RNG.normal(size=6)
    g = check(F.every_other_cleared, (x,))
    assert g[2] == 0.0  # x[::2][1] is x[2]
    check_hessian(F.every_other_cleared, (x,))


# ------------------------------------------------------------------ what the tape keeps


@pytest.mark.parametrize("a", [0.3, 0.8])
def test_a_filter_filled_step_by_step_keeps_no_overwritten_values(a):
    """y[t] = a y[t - 1] + ...: no step reads a place a later one writes, so the forward
    sweep saves nothing of y and the backward loop reads y as the last step left it."""
    x = RNG.normal(size=6)
    check(F.smoothed, (x, a))
    check(F.smoothed, (x, a), wrt=1)
    check_hessian(F.smoothed, (x, a), wrt=1)
    assert "overwritten" not in adc.source(F.smoothed)


@pytest.mark.parametrize("f", [F.relaxed, F.wrapped])
def test_a_step_reading_a_later_steps_place_keeps_what_it_overwrote(f):
    x = RNG.normal(size=5)
    check(f, (x,))
    assert "overwritten.append(" in adc.source(f)
