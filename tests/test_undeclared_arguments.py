"""A NumPy call with arguments its derivative rule does not take runs as a plain call
where nothing it reads is differentiated, and is refused, at its line, where something
is."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from support import load_fixture, numeric_grad

import ad_compiler as adc

F = load_fixture("undeclared_arguments")
X = np.array([0.4, -1.1, 0.7])
MODES = ["reverse", "forward"]

# function -> its gradient at x, written by hand
BY_HAND = {
    F.take_clipped_weights: lambda x: 2.0 * np.array([0.5, 2.0, -1.0]) * x,
    F.cumsum_into_buffer: lambda x: np.array([1.5, 1.75, 1.0]) * np.cos(x),
    F.sort_stable_weights: lambda x: 3.0 * np.array([-0.75, 0.25, 1.5]) * x ** 2,
    F.sort_with_order: lambda x: np.array([-1.0, 0.5, 2.0]) * np.exp(x),
    F.atleast_1d_of_two: lambda x: 2.0 * np.array([0.5, -1.0, 2.0]),
    F.take_method_clipped: lambda x: -np.array([0.25, 1.5, 1.5]) * np.sin(x),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", list(BY_HAND), ids=lambda f: f.__name__)
def test_a_call_of_constants_runs_as_written(f, mode):
    value, gradient = adc.value_and_grad(f, mode=mode)(X)
    assert value == pytest.approx(f(X), rel=1e-12)
    np.testing.assert_allclose(gradient, BY_HAND[f](X), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gradient, numeric_grad(f, [X], 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f, argument", [(F.take_clipped_of_x, "mode"),
                                         (F.cumsum_of_x_into_buffer, "out")],
                         ids=["take mode", "cumsum out"])
def test_a_differentiated_call_is_refused_at_its_line(f, argument, mode):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(f, mode=mode)(X)
    error = info.value
    lines, start = inspect.getsourcelines(f)
    assert error.lineno == start + next(k for k, line in enumerate(lines) if "# ERR" in line)
    assert f"with the argument '{argument}' has no derivative rule" in error.what
    assert "depend on the inputs being differentiated" in error.what
    assert error.hint.startswith("use only ")
