"""Augmented assignments (``+=``, ``-=``, ``*=``, ``/=``, ``**=``, ``@=``) and NumPy's
in-place updates: the compiled value always equals the Python function's, and where an
array that another name, a view or a list shares is changed in place, the compiled code
refuses at run time with the statement's location instead of computing another value.
"""
from __future__ import annotations

import copy
import inspect
import math

import numpy as np
import pytest
from support import load_fixture, numeric_grad

import ad_compiler as adc
from ad_compiler.build import derivative

F = load_fixture("inplace_funcs")
RNG = np.random.default_rng(3)
MODES = ["reverse", "forward"]


def python_value(f, *args):
    """The Python function's value, on copies (it may change its arguments in place)."""
    return f(*copy.deepcopy(args))


def check_value_and_grad(f, args, wrt=0, mode="reverse", rel=1e-7):
    """Value against the Python function, gradient against central differences."""
    before = copy.deepcopy(args)
    value, g = adc.value_and_grad(f, wrt=wrt, mode=mode)(*args)
    assert value == pytest.approx(python_value(f, *before), rel=1e-14, abs=1e-14)
    expected = numeric_grad(lambda *a: python_value(f, *a), list(before), wrt)
    assert np.asarray(g) == pytest.approx(np.asarray(expected), rel=rel, abs=1e-8)
    for a, b in zip(args, before):  # the derivative leaves the caller's arrays alone
        assert np.array_equal(np.asarray(a), np.asarray(b))
    return g


# ------------------------------------------------------------------ what keeps working

@pytest.mark.parametrize("mode", MODES)
def test_float_parameter_updated(mode):
    for x in (3.0, -0.4):
        g = check_value_and_grad(F.scaled_param, (x,), mode=mode)
        assert g == pytest.approx(8.0 * x, rel=1e-15)  # d/dx (2x)^2


@pytest.mark.parametrize("mode", MODES)
def test_float_accumulator_has_no_guard(mode):
    x, y = RNG.normal(size=4), RNG.normal(size=4)
    g = check_value_and_grad(F.accumulate, (x, y), mode=mode)
    assert g == pytest.approx(y, rel=1e-14)
    assert "check_unshared" not in adc.source(F.accumulate, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_arrays_the_function_made(mode):
    W, x, b = RNG.normal(size=(3, 3)), RNG.normal(size=3), RNG.normal(size=3)
    for wrt in (0, 1, 2):
        check_value_and_grad(F.made_here, (W, x, b), wrt=wrt, mode=mode)
    assert "check_unshared" not in adc.source(F.made_here, wrt=(0, 1, 2), mode=mode)
    A, B = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 3))
    g = check_value_and_grad(F.matmul_update, (A, B), mode=mode)
    assert g == pytest.approx(np.broadcast_to(B.sum(axis=1), A.shape), rel=1e-13)


@pytest.mark.parametrize("mode", MODES)
def test_a_copy_is_an_array_of_its_own(mode):
    x = np.array([1.0, -2.0, 0.5])
    g = check_value_and_grad(F.copied, (x,), mode=mode)
    assert g == pytest.approx(2 * x + 1.0, rel=1e-15)  # d/dx sum(x (x + 1))
    assert "check_unshared" not in adc.source(F.copied, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_alias_never_read_again(mode):
    x = np.array([0.3, -1.2])
    g = check_value_and_grad(F.alias_dead, (x,), mode=mode)
    assert g == pytest.approx(2 * (x + 1.0), rel=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_parameter_array_updated_in_place(mode):
    """Python changes the caller's array; the derivative computes the same value and
    leaves it alone (check_value_and_grad checks both)."""
    x = np.array([0.5, -1.5, 2.0])
    g = check_value_and_grad(F.param_array, (x,), mode=mode)
    assert g == pytest.approx(2 * (x + 1.0), rel=1e-15)


def test_vjp_and_jacobian_of_a_function_that_changes_its_argument():
    """Both call the Python function for the value: on copies, so the derivative is
    taken at the point given."""
    x = np.array([0.5, -1.5, 2.0])
    kept = x.copy()
    value, pullback = adc.vjp(F.param_array, x)
    assert np.array_equal(x, kept)
    assert value == pytest.approx(np.sum((kept + 1.0) ** 2), rel=1e-15)
    assert pullback(1.0)[0] == pytest.approx(2 * (kept + 1.0), rel=1e-15)
    for mode in ("forward", "reverse"):
        jac = adc.jacobian(F.param_array, mode=mode)(x)
        assert np.array_equal(x, kept)
        assert jac == pytest.approx(2 * (kept + 1.0), rel=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_aliases_of_numbers_are_rebound(mode):
    """For numbers `y = x; y += 1` rebinds y only, as the compiled code does."""
    for x in (1.5, -0.25):
        g = check_value_and_grad(F.alias, (x,), mode=mode)
        assert g == pytest.approx(2 * x + 1.0, rel=1e-15)
    for point in ((0.7, -0.3), (-1.5, 2.0)):
        for wrt in (0, 1):
            check_value_and_grad(F.chained, point, wrt=wrt, mode=mode)
        check_value_and_grad(F.swap_then_update, point, wrt=0, mode=mode)
        check_value_and_grad(F.swap_then_update, point, wrt=1, mode=mode)
    check_value_and_grad(F.branch_alias, (0.4, 1.0), mode=mode)
    check_value_and_grad(F.loop_alias, (0.4,), mode=mode)
    check_value_and_grad(F.global_float, (0.8,), mode=mode)
    check_value_and_grad(F.items_of_a_param, ([0.2, -1.0, 0.7],), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_helpers_that_update_their_parameter(mode):
    x, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    grad = check_value_and_grad(F.calls_step, (x, g), mode=mode)
    assert grad == pytest.approx(2 * (x - 0.1 * g), rel=1e-15)
    check_value_and_grad(F.calls_step_keeps_x, (1.0, 2.0), mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_shared_but_not_changed_where_the_branch_makes_a_new_array(mode):
    x = np.array([0.2, 0.9])
    g = check_value_and_grad(F.branch_alias, (x, -1.0), mode=mode)  # y = 2x: its own
    assert g == pytest.approx(4 * x + 1.0, rel=1e-15)


# ------------------------------------------------------------------ what is refused

SHARED = [
    (F.alias, (np.array([1.0, 2.0]),), "x"),
    (F.view_read_later, (np.array([1.0, 2.0, 3.0]),), "t"),
    (F.transposed, (np.array([[1.0, 2.0], [3.0, 4.0]]),), "x"),
    (F.reshaped, (np.array([[1.0, 2.0], [3.0, 4.0]]),), "x"),
    (F.same_object, (np.array([1.0, 2.0]),), "x"),
    (F.in_a_list, (np.array([1.0, 2.0]), 3.0), "pair"),
    (F.branch_alias, (np.array([0.2, 0.9]), 1.0), "x"),
    (F.loop_alias, (np.array([0.2, 0.9]),), "x"),
    (F.chained, (np.array([0.2, 0.9]), np.array([1.0, -1.0])), "x"),
    (F.calls_step_keeps_x, (np.array([1.0, 2.0]), np.array([0.5, -1.0])), "calls_step_keeps_x"),
    (F.global_array, (np.array([1.0, 2.0, 3.0]),), "WEIGHTS"),
    (F.items_of_a_param, ([np.array([0.2]), np.array([1.0])],), "xs"),
    (F.nested_update, (np.array([1.0, 2.0]),), "x"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f, args, other", SHARED, ids=[s[0].__name__ for s in SHARED])
def test_an_array_shared_with_a_later_read_is_refused(f, args, other, mode):
    """NumPy would change the other name's array too: the compiled code refuses, naming
    the statement's file and line, rather than compute something else."""
    compiled = adc.value_and_grad(f, mode=mode)
    with pytest.raises(ValueError) as info:
        compiled(*copy.deepcopy(args))
    message = str(info.value)
    holder = F.step if f is F.calls_step_keeps_x else f  # where the update is written
    lines, first = inspect.getsourcelines(holder)
    line = next(first + k for k, text in enumerate(lines)
                if any(f" {op}= " in text for op in ("+", "-", "*", "/", "**", "@")))
    assert f"inplace_funcs.py, line {line}: {lines[line - first].strip()}\n" in message
    assert other in message and "a = a + b" in message and ".copy()" in message


def test_the_guard_reads_well_in_the_generated_code():
    source = adc.source(F.alias)
    assert "check_unshared(x, x, names='x', where=" in source
    assert "line 13: y += 1.0" in source


def test_the_global_array_is_not_changed():
    kept = F.WEIGHTS.copy()
    with pytest.raises(ValueError):
        adc.grad(F.global_array)(np.array([1.0, 2.0, 3.0]))
    assert np.array_equal(F.WEIGHTS, kept)


def test_updates_inputs_names_the_parameters():
    assert derivative(F.param_array, "grad", 0, "reverse")._adc_function.updates_inputs == ["x"]
    assert derivative(F.made_here, "grad", 0, "reverse")._adc_function.updates_inputs == []
    assert derivative(F.accumulate, "grad", 0, "reverse")._adc_function.updates_inputs == []


def test_forward_and_reverse_agree_on_a_shared_float():
    """The dot-product test through a function whose floats alias before updates."""
    for _ in range(3):
        point = tuple(RNG.normal(size=2))
        tangent = tuple(RNG.normal(size=2))
        _, jv = adc.jvp(F.chained, point, tangent)
        _, pullback = adc.vjp(F.chained, *point)
        assert jv == pytest.approx(float(np.dot(pullback(1.0), tangent)), rel=1e-12)
    assert math.isfinite(jv)


def test_an_exported_module_keeps_the_guard():
    from ad_compiler import export

    namespace: dict = {}
    exec(compile(export.export(F.chained, [adc.grad(F.chained)]), "exported", "exec"), namespace)
    exported = namespace["chained_grad"]
    assert exported(0.7, -0.3) == pytest.approx(
        numeric_grad(F.chained, [0.7, -0.3], 0), rel=1e-8)
    with pytest.raises(ValueError, match="line 112: z \\+= y"):
        exported(np.array([0.7]), np.array([-0.3]))
