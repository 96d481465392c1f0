"""Inlined helpers that change what they are passed, and closures that change their
caller's names: the caller sees the change, as Python's own call does (a loop calling
them carries what they change), or the compiler refuses at the call.

A list or dict display the caller passes becomes one runtime value for the helper;
a change the helper makes to it is the caller's too.  These used to be lost: the value
and the gradient came out as if the helper had done nothing (``add_term(terms, v)``
gave ``sum(terms) == 0``).  Expected numbers: the plain function and central
differences."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from support import load_fixture, numeric_grad

import ad_compiler as adc

F = load_fixture("changed_arguments")
X = np.array([0.3, -0.7, 1.2])
CHANGED = [F.appended_by_a_helper, F.appended_to_a_list_of_values,
           F.extended_and_popped_by_a_helper, F.dict_filled_by_a_helper,
           F.nested_list_grown_by_a_helper, F.array_in_a_list_written_by_a_helper,
           F.array_written_by_a_helper, F.helper_result_used, F.list_grown_in_a_loop,
           F.appended_in_a_loop, F.filled_in_a_loop, F.grown_by_a_closure_in_a_loop,
           F.counted_by_a_closure_in_a_while_loop]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f", CHANGED, ids=[f.__name__ for f in CHANGED])
def test_the_caller_sees_what_the_helper_changed(f, mode):
    value, gradient = adc.value_and_grad(f, mode=mode)(X.copy())
    assert value == f(X.copy())
    np.testing.assert_allclose(gradient, numeric_grad(f, [X.copy()], 0), rtol=1e-7,
                               atol=1e-9)


@pytest.mark.parametrize("f", CHANGED[:4], ids=[f.__name__ for f in CHANGED[:4]])
def test_second_derivatives(f):
    slope = adc.grad(f)
    expected = np.array([numeric_grad(lambda x, i=i: slope(x)[i], [X.copy()], 0)
                         for i in range(3)])
    np.testing.assert_allclose(adc.hessian(f)(X.copy()), expected, rtol=1e-6, atol=1e-8)


REFUSED = [(F.written_in_a_loop, "this call changes 'out', which the loop around it does "
                                 "not assign"),
           (F.display_held_by_another, "changes a list or dict that another list or dict "
                                       "holds"),
           (F.item_held_by_a_name, "one of whose items another name holds"),
           (F.changed_in_a_loop_of_the_helper, "this call changes 'terms', a list or dict "
                                               "display, in a loop of the function it calls"),
           (F.item_of_a_display_passed, "changes a list or dict that another list or dict "
                                        "holds"),
           (F.inner_list_grown_in_a_loop, "changes a list or dict that another list or "
                                          "dict holds")]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f,what", REFUSED, ids=[case[0].__name__ for case in REFUSED])
def test_a_change_the_caller_cannot_follow_is_refused_at_the_call(f, what, mode):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(f, mode=mode)(X.copy())
    lines, start = inspect.getsourcelines(f)
    assert info.value.lineno == start + next(i for i, line in enumerate(lines)
                                             if "# ERR" in line)
    assert what in info.value.what
    assert info.value.hint
