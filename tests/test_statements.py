"""Statements that carry no derivative run in derivative code as they do in Python.

The functions in tests/fixtures/statements.py check their inputs (assert, raise), write
output (print, logging, warnings.warn), run under context managers, catch exceptions,
loop with else, and take keyword-only options and *layers.  Their derivatives are
checked against central differences in both modes, forward against reverse, and a
share of them to second order; their output and exceptions against Python's.
"""
import logging
import math
import sys
import warnings

import numpy as np
import pytest
from support import assert_same_tree, load_fixture, tree_numeric_grad

import ad_compiler as adc

S = load_fixture("statements")

X3 = np.array([0.3, -1.2, 2.0])
W2 = np.eye(2) * 0.7 + 0.1
V1 = np.array([[0.6, -0.4]])

# name -> (function, arguments, keyword arguments, positions differentiated)
CASES = {
    "gaussian_nll": (S.gaussian_nll, (X3, 0.2, 1.3), {}, (0, 1, 2)),
    "student_t_loss": (S.student_t_loss, (X3, 3.0, 0.8), {}, (0, 1, 2)),
    "student_t_loss of a float": (S.student_t_loss, (0.4, 3.0, 0.8), {}, (0, 2)),
    "newton_sqrt": (S.newton_sqrt, (2.0,), {}, (0,)),
    "newton_sqrt below 1": (S.newton_sqrt, (0.3,), {}, (0,)),
    "fixed_point": (S.fixed_point, (0.7,), {}, (0,)),
    "physics_step": (S.physics_step, (np.array([1.0, 0.5]), np.array([0.1, -0.2]), 0.01),
                     {}, (0, 1, 2)),
    "staged_energy": (S.staged_energy, (np.array([0.5, 2.0]),), {}, (0,)),
    "annealed": (S.annealed, (0.7,), {}, (0,)),
    "safe_log_ratio": (S.safe_log_ratio, (2.0, 3.0), {}, (0, 1)),
    "damped_root": (S.damped_root, (2.0,), {}, (0,)),
    "halving": (S.halving, (1.5,), {}, (0,)),
    "damped_root, except": (S.damped_root, (-2.0,), {}, (0,)),
    "safe_log_ratio, except": (S.safe_log_ratio, (-2.0, 3.0), {}, (0, 1)),
    "checked_inverse": (S.checked_inverse, (-1.5,), {}, (0,)),
    "ridge_loss": (S.ridge_loss, (np.array([0.5, -0.3]), W2, np.array([1.0, 2.0])),
                   {"l2": 0.2}, (0, 1)),
    "ridge_loss, robust": (S.ridge_loss, (np.array([0.5, -0.3]), W2, np.array([1.0, 0.2])),
                           {"robust": True}, (0, 2)),
    "mlp_loss": (S.mlp_loss, (np.array([0.5, -0.3]), W2, V1),
                 {"activation": "tanh", "target": 0.3}, (0, 1)),
    "mlp_loss, relu": (S.mlp_loss, (np.array([0.5, -0.3]), W2, V1),
                       {"activation": "relu"}, (0, 1)),
    "two_layers": (S.two_layers, (np.array([0.5, -0.3]), W2, V1), {}, (0, 1, 2)),
    "partial_sum": (S.partial_sum, (0.7,), {}, (0,)),
    "builtin_keywords": (S.builtin_keywords, (0.7,), {}, (0,)),
    "row_energy": (S.row_energy, (W2,), {}, (0,)),
    "numbers_of": (S.numbers_of, (0.7, 5), {}, (0,)),
    "kinds_of": (S.kinds_of, (0.7,), {}, (0,)),
    "kinds_of an array": (S.kinds_of, (np.array([0.2, 0.3]),), {}, (0,)),
}


def _plain(fn, args, kwargs):
    """`fn` with its keyword arguments fixed, and the arguments as its parameters take
    them (``*layers`` as one tuple), for central differences."""
    if fn is S.mlp_loss:
        return (lambda x, layers: fn(x, *layers, **kwargs)), (args[0], tuple(args[1:]))
    return (lambda *given: fn(*given, **kwargs)), args


@pytest.fixture(autouse=True)
def _quiet():
    """The fixtures print and log; the tests that look at it say so."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@pytest.mark.parametrize("case", list(CASES))
def test_value_and_gradient_against_differences(case, capsys):
    fn, args, kwargs, wrt = CASES[case]
    value, grads = adc.value_and_grad(fn, wrt=wrt)(*args, **kwargs)
    assert value == fn(*args, **kwargs)
    plain, params = _plain(fn, args, kwargs)
    for k, g in zip(wrt, grads):
        expected = tree_numeric_grad(plain, params, k)
        # (a gradient may be a NumPy float where array code computes it)
        assert_same_tree(g, expected, rtol=1e-5, atol=1e-6,
                         plain=not isinstance(expected, float))


@pytest.mark.parametrize("case", list(CASES))
def test_forward_mode_agrees_with_reverse_mode(case, capsys):
    fn, args, kwargs, wrt = CASES[case]
    reverse = adc.grad(fn, wrt=wrt)(*args, **kwargs)
    forward = adc.grad(fn, wrt=wrt, mode="forward")(*args, **kwargs)
    for r, f in zip(reverse, forward):
        assert_same_tree(f, r, rtol=1e-10, atol=1e-12, plain=not isinstance(r, float))


def _hessian_by_differences(fn, x, rest, eps=1e-5):
    grad = adc.grad(fn)
    x = np.asarray(x, dtype=float)
    columns = []
    for j in np.ndindex(x.shape or (1,)):
        step = np.zeros(x.shape)
        step[j if x.shape else ()] = eps
        up, down = x + step, x - step
        if not x.shape:  # a number stays a Python float (0-d arrays divide by zero quietly)
            up, down = float(up), float(down)
        hi, lo = np.asarray(grad(up, *rest)), np.asarray(grad(down, *rest))
        columns.append((hi - lo) / (2 * eps))
    return np.array(columns).T


# second derivatives in the first input, by forward over reverse
SECOND = {
    "gaussian_nll in the data": (S.gaussian_nll, (X3, 0.2, 1.3)),
    "newton_sqrt": (S.newton_sqrt, (2.0,)),
    "fixed_point": (S.fixed_point, (0.7,)),
    "physics_step": (S.physics_step, (np.array([1.0, 0.5]), np.array([0.1, -0.2]), 0.01)),
    "safe_log_ratio": (S.safe_log_ratio, (2.0, 3.0)),
    "safe_log_ratio, except": (S.safe_log_ratio, (-2.0, 3.0)),
    "safe_log_ratio, division by zero": (S.safe_log_ratio, (2.0, 0.0)),
    "partial_sum": (S.partial_sum, (0.7,)),
    "builtin_keywords": (S.builtin_keywords, (0.7,)),
    "annealed": (S.annealed, (0.7,)),
    "damped_root": (S.damped_root, (2.0,)),
}


@pytest.mark.parametrize("case", list(SECOND))
def test_second_derivatives_against_differences_of_the_gradient(case, capsys):
    fn, args = SECOND[case]
    x, rest = args[0], args[1:]
    hessian = np.asarray(adc.hessian(fn)(*args), dtype=float)
    expected = _hessian_by_differences(fn, x, rest)
    np.testing.assert_allclose(hessian.reshape(expected.shape), expected, rtol=1e-5,
                               atol=1e-6)
    if np.ndim(x) == 0:  # reverse over reverse, and reverse over forward, agree
        assert math.isclose(adc.grad(adc.grad(fn))(*args), float(hessian), rel_tol=1e-9,
                            abs_tol=1e-12)
        assert math.isclose(adc.grad(adc.grad(fn, mode="forward"))(*args), float(hessian),
                            rel_tol=1e-9, abs_tol=1e-12)


def test_grad_of_grad_with_keyword_only_options():
    def loss(w):
        return S.ridge_loss(w, W2, np.array([1.0, 0.2]), l2=0.3)
    # the Hessian of 0.5 mean((X w - y)^2) + l2 |w|^2 is X^T X / n + 2 l2 I
    expected = W2.T @ W2 / 2.0 + 0.6 * np.eye(2)
    np.testing.assert_allclose(adc.hessian(loss)(np.array([0.5, -0.3])), expected)


# ------------------------------------------------------------------ output and exceptions


@pytest.mark.parametrize("case", ["fixed_point", "staged_energy", "annealed", "damped_root",
                                  "safe_log_ratio",
                                  "safe_log_ratio, except"])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_printed_output_is_python_s(case, mode, capsys):
    fn, args, kwargs, _ = CASES[case]
    fn(*args, **kwargs)
    printed = capsys.readouterr().out
    assert printed
    adc.grad(fn, mode=mode)(*args, **kwargs)
    assert capsys.readouterr().out == printed


def test_log_records_are_python_s(caplog):
    with caplog.at_level(logging.DEBUG):
        S.newton_sqrt(2.0)
    expected = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert any("residual" in m for _, _, m in expected)
    for mode in ("reverse", "forward"):
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            adc.grad(S.newton_sqrt, mode=mode)(2.0)
        assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == expected


def test_a_warning_is_python_s():
    with pytest.warns(RuntimeWarning) as python:
        S.newton_sqrt(5.0, 2)
    with pytest.warns(RuntimeWarning) as compiled:
        adc.grad(S.newton_sqrt)(5.0, 2)
    assert [str(w.message) for w in compiled] == [str(w.message) for w in python]


def _raised(call):
    """The exception's type and message; on Python 3.10, which has no exception notes,
    the compiled code's note on where it happened is a line after the message."""
    with pytest.raises(Exception) as info:
        call()
    message = str(info.value)
    if sys.version_info < (3, 11):
        message = "\n".join(line for line in message.splitlines()
                             if not line.startswith("in generated code "))
    return type(info.value), message


BAD_INPUT = {
    "non-positive scale": (S.gaussian_nll, (X3, 0.2, -1.0)),
    "NaN in the data": (S.gaussian_nll, (np.array([0.3, np.nan]), 0.2, 1.0)),
    "degrees of freedom": (S.student_t_loss, (X3, -1.0, 0.8)),
    "scale without a message": (S.student_t_loss, (X3, 3.0, 0.0)),
    "not a number": (S.kinds_of, ([0.7],)),
    "raised again": (S.checked_inverse, (0.0,)),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_bad_input_raises_python_s_exception(case, mode):
    fn, args = BAD_INPUT[case]
    expected = _raised(lambda: fn(*args))
    assert _raised(lambda: adc.grad(fn, mode=mode)(*args)) == expected
    assert _raised(lambda: adc.value_and_grad(fn)(*args)) == expected


def test_a_try_statement_follows_the_clause_that_ran(capsys):
    grad = adc.grad(S.safe_log_ratio, wrt=(0, 1))
    # b = 0: a / b raises ZeroDivisionError, the except clause gives (a - b) a
    da, db = grad(2.0, 0.0)
    assert (da, db) == pytest.approx((4.0, -2.0 - 2.0 * 0.0 + 0.0 - 2.0 * np.sign(0.0)))
    # a / b > 0: log(a / b) a, whose derivatives are log(a / b) + 1 and -a / b
    da, db = grad(2.0, 3.0)
    assert (da, db) == pytest.approx((math.log(2.0 / 3.0) + 1.0, -2.0 / 3.0))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_finally_clause_runs_before_an_exception_leaves(mode, capsys):
    expected = _raised(lambda: S.safe_log_ratio(2.0, "3"))  # a TypeError nobody catches
    printed = capsys.readouterr().out
    assert printed == "ratio computed\n"
    assert _raised(lambda: adc.grad(S.safe_log_ratio, mode=mode)(2.0, "3")) == expected
    assert capsys.readouterr().out == printed


@pytest.mark.parametrize("fn,what", [
    (S.else_and_finally, "both an else and a finally clause"),
    (S.finally_reads, "the finally clause reads 'y'"),
])
def test_try_statements_whose_state_is_unknown_are_refused(fn, what):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn)
    assert what in info.value.what
    assert info.value.hint and info.value.lineno is not None


# ------------------------------------------------------------------ parameters


def test_gradient_with_respect_to_star_layers():
    x = np.array([0.5, -0.3])
    grads = adc.grad(S.mlp_loss, wrt="layers")(x, W2, V1, activation="tanh")
    assert isinstance(grads, tuple) and len(grads) == 2
    expected = tree_numeric_grad(lambda x, layers: S.mlp_loss(x, *layers, activation="tanh"),
                                 (x, (W2, V1)), 1)
    assert_same_tree(grads, expected, rtol=1e-5, atol=1e-7)


def test_keyword_only_options_are_passed_by_name_and_defaults_apply():
    w, y = np.array([0.5, -0.3]), np.array([1.0, 2.0])
    grad = adc.grad(S.ridge_loss)
    np.testing.assert_allclose(grad(w, W2, y), tree_numeric_grad(S.ridge_loss, (w, W2, y), 0),
                               rtol=1e-6)
    assert not np.allclose(grad(w, W2, y), grad(w, W2, y, l2=0.0))
    # differentiated with respect to a keyword-only parameter, named
    d_l2 = adc.grad(S.ridge_loss, wrt="l2")(w, W2, y, l2=0.5)
    assert d_l2 == pytest.approx(np.sum(w * w))
    with pytest.raises(TypeError):
        grad(w, W2, y, 0.1)  # keyword-only, as in Python


def test_jvp_of_a_function_with_keyword_only_parameters_says_how_to_wrap_it():
    with pytest.raises(adc.ADCompileError) as info:
        adc.jvp(S.ridge_loss, (np.ones(2), W2, np.ones(2)), (np.ones(2), None, None))
    assert "lambda" in info.value.hint


# ------------------------------------------------------------------ generated code


def test_the_generated_code_keeps_the_statements():
    source = adc.source(S.physics_step)
    assert source.count("with np.errstate(divide='ignore', invalid='ignore'):") == 2
    source = adc.source(S.safe_log_ratio)
    assert "try:" in source and "except (ValueError, ZeroDivisionError):" in source
    source = adc.source(S.gaussian_nll, mode="forward")
    assert "raise AssertionError(f'scale must be positive, got sigma={sigma:.3g}')" in source
    assert "raise ValueError('the data hold a NaN or an infinity')" in source
    source = adc.source(S.newton_sqrt)
    assert "log.debug('iteration %d: residual %.3e', k, residual)" in source
    assert "warnings.warn(f'no convergence after {iterations} iterations (x={x" in source
