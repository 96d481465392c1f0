"""What a user is told when they pass the wrong thing: each message says what was
given, where, and what to do instead, in one screen; where it suggests a way out,
the way out is tried here and works.

Expected values are written out by hand beside each test.
"""
from __future__ import annotations

import ast
import functools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import load_fixture

import ad_compiler as adc
from ad_compiler import cli

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "examples" / "seeds.py"
U = load_fixture("user_errors")


def _one_screen(text: str) -> None:
    assert len(text.splitlines()) <= 8 and len(text) <= 800, text


# ------------------------------------------------------------------ the command line


def _cli_error(capsys, *args: str) -> str:
    """The error `adc ARGS` prints, run in this process: one line on stderr, exit 2."""
    assert cli.main(list(args)) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("adc: error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_a_file_that_does_not_exist(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _cli_error(capsys, "source", "no_such_model.py:loss")
    assert "no such file: no_such_model.py" in line
    assert str(tmp_path / "no_such_model.py") in line  # where it looked
    assert "relative to the current directory" in line and "function's name" in line


def test_a_function_the_file_does_not_define(capsys):
    line = _cli_error(capsys, "trace", f"{SEEDS}:seed")
    assert f"{SEEDS} has no function 'seed'" in line
    defined = [n.name for n in ast.parse(SEEDS.read_text()).body
               if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    assert defined == ["f", "gaussian", "fan_out"]  # not the private _demo
    assert "its functions are: " + ", ".join(defined) in line


def test_a_module_that_cannot_be_imported(capsys):
    line = _cli_error(capsys, "source", "no_such_package.models:loss")
    assert "cannot import no_such_package.models" in line and "no_such_package" in line
    assert "path/to/file.py:function" in line and "sys.path" in line


def test_a_target_that_is_not_a_function(capsys):
    line = _cli_error(capsys, "source", "math:pi")
    assert "math:pi is a float, not a function" in line
    assert "its functions are: " in line and "sin" in line


def test_a_target_without_a_function(capsys):
    line = _cli_error(capsys, "source", str(SEEDS))
    assert "names no function" in line and "file.py:function" in line


def test_the_command_line_error_is_one_line_from_a_real_process():
    result = subprocess.run([sys.executable, "-m", "ad_compiler", "source", "nowhere.py:f"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("adc: error: no such file: nowhere.py")
    assert len(result.stderr.splitlines()) == 1


# ------------------------------------------------------------------ no source to read


def test_a_lambda_passed_to_exec_has_no_source():
    namespace: dict = {}
    exec("f = lambda x: x * 2.0", namespace)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(namespace["f"])
    err = info.value
    assert err.filename == "<string>" and err.lineno == 1
    # (where the process itself ran from a string, as a pytest-xdist worker does on
    # Python 3.13, linecache holds that text under "<string>", which is not the lambda's)
    assert ("the source of the lambda is not available" in err.what
            or "is not the code that defined it" in err.what), err.what
    assert "<string>" in err.what
    for where in (".py file", "Jupyter", "IPython", "exec()", "'python -c'", "3.13"):
        assert where in err.hint
    assert str(err).splitlines()[0] == 'File "<string>", line 1'
    _one_screen(str(err))


def test_a_function_typed_at_the_python_prompt():
    """The prompt of Pythons before 3.13 keeps no text: the message names the prompt's
    pseudo-file and says where source is kept.  From 3.13 on, the prompt keeps the text
    of what is typed, as the message says, and the function is differentiated."""
    session = ("import ad_compiler as adc\ndef f(x):\n    return x * x\n\n"
               "print('derivative', adc.grad(f)(0.75))\n")
    result = subprocess.run([sys.executable, "-i", "-q"], input=session, capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    if sys.version_info >= (3, 13):
        assert "derivative 1.5" in result.stdout, result.stderr
        return
    assert "ADCompileError" in result.stderr
    assert "the source of f is not available: it was defined in <stdin>" in result.stderr
    assert "define it in a .py file" in result.stderr and "3.13" in result.stderr


def test_the_same_lambda_in_a_file_works():
    """What the message asks for: the function in a file."""
    assert adc.grad(U.sin_of)(0.3) == pytest.approx(math.cos(0.3), rel=1e-15)


# ------------------------------------------------------------------ not a Python function


@pytest.mark.parametrize("fn,name,arguments", [
    (math.sin, "math.sin", "x"),
    (np.sin, "np.sin", "x"),
    (math.atan2, "math.atan2", "x, y"),
    (np.sum, "np.sum", "a"),
    (np.linalg.solve, "np.linalg.solve", "a, b"),
    (abs, "abs", "x"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_builtin_with_a_rule_is_differentiated_through_a_function_that_calls_it(
        fn, name, arguments):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn)
    err = info.value
    assert err.what.startswith(f"{name} is a built-in function, which already has a "
                               "derivative rule")
    assert f"adc.grad(lambda {arguments}: {name}({arguments}))" in err.hint
    assert "in a file" in err.hint
    _one_screen(str(err))


@pytest.mark.parametrize("fn,name", [(len, "len"), (np.zeros, "np.zeros"),
                                     (math.floor, "math.floor")])
def test_a_piecewise_constant_builtin(fn, name):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn)
    assert info.value.what.startswith(f"{name} is a built-in function whose value is "
                                      "piecewise constant")
    assert "calls it" in info.value.hint


def test_a_builtin_without_a_rule():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(math.remainder)
    assert "math.remainder" in info.value.what and "no derivative rule" in info.value.what
    assert "adc.defpartials(math.remainder" in info.value.hint
    assert "adc.stop_gradient" in info.value.hint


def test_a_string_or_a_number_instead_of_a_function():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad("cube")
    assert "not the string 'cube'" in info.value.what
    assert info.value.hint == "pass the function itself: adc.grad(cube)"
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(0.5)
    assert "0.5 (a float)" in info.value.what and "adc.grad(f)(x)" in info.value.hint


def test_a_callable_object_is_differentiated_through_its_call_method():
    scaled = U.Scaled(3.0)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(scaled)
    assert "class Scaled" in info.value.what
    assert "adc.grad(obj.__call__)" in info.value.hint
    assert adc.grad(scaled.__call__)(0.5) == pytest.approx(3.0)  # d(3 x^2) = 6x


def test_a_decorated_function_is_differentiated_through_what_it_wraps():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(U.cube)  # the wrapper functools.wraps made, which takes *args
    assert "*args" in info.value.what and info.value.source_line.strip() == "def wrapper(*args):"
    assert "differentiate the function it wraps, adc.grad(cube.__wrapped__)" in info.value.hint
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(functools.lru_cache(U.power))  # a wrapper that is not a Python function
    assert "wrapper made by a decorator" in info.value.what
    assert "adc.grad(power.__wrapped__)" in info.value.hint
    assert adc.grad(U.cube.__wrapped__)(2.0) == pytest.approx(12.0)  # 3 x^2


def test_a_partial_is_differentiated_as_the_function_it_fixes():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(functools.partial(U.power, k=3.0))
    assert "functools.partial of " in info.value.what and "power" in info.value.what
    assert "adc.grad(" in info.value.hint and "wrt=0" in info.value.hint
    assert adc.grad(U.power, wrt=0)(2.0, 3.0) == pytest.approx(12.0)


# ------------------------------------------------------------------ jvp and vjp arguments


X = np.array([0.5, -1.0, 2.0])
W = np.arange(6.0).reshape(2, 3) / 10.0


def test_a_jvp_tangent_of_the_wrong_shape():
    with pytest.raises(ValueError) as info:
        adc.jvp(U.layer, (X, W), (np.ones(4), None))
    message = str(info.value)
    assert message.startswith("jvp: the tangent for parameter 'x' (position 0) must be an "
                              "array of shape (3,), not an array of shape (4,)")
    assert "pass None for no tangent for that input" in message
    _one_screen(message)


def test_a_none_tangent_means_no_tangent_for_that_input():
    t = np.array([1.0, 0.0, -1.0])
    value, tangent = adc.jvp(U.layer, (X, W), (t, None))
    h = np.tanh(W @ X)
    assert value == pytest.approx(np.sum(h), rel=1e-14)
    assert tangent == pytest.approx(np.sum((1.0 - h ** 2) * (W @ t)), rel=1e-12)


def test_jvp_takes_tuples_of_primals_and_tangents():
    with pytest.raises(TypeError) as info:
        adc.jvp(U.sin_of, 0.3, 1.0)
    assert "tuple with one item per parameter, not float 0.3" in str(info.value)
    assert "adc.jvp(f, (x,), (t,))" in str(info.value)
    with pytest.raises(TypeError, match="not an array of shape \\(3,\\)"):
        adc.jvp(U.layer, X, X)
    assert adc.jvp(U.sin_of, (0.3,), (2.0,))[1] == pytest.approx(2.0 * math.cos(0.3))


def test_a_jvp_with_too_few_tangents():
    with pytest.raises(ValueError) as info:
        adc.jvp(U.layer, (X, W), (X,))
    assert "give one tangent for each of x, W (None for an input that has no tangent)" \
        in str(info.value)


def test_a_vjp_cotangent_of_the_wrong_shape():
    _, pullback = adc.vjp(U.squashed, X, W)
    with pytest.raises(ValueError) as info:
        pullback(np.ones(3))
    message = str(info.value)
    assert message.startswith("vjp: the cotangent for the output of squashed must be an "
                              "array of shape (2,), not an array of shape (3,)")
    assert "shape and structure of the value vjp returned" in message
    _one_screen(message)
    ybar = np.array([1.0, -2.0])
    x_bar, _ = pullback(ybar)
    h = np.tanh(W @ X)
    assert x_bar == pytest.approx(W.T @ (ybar * (1.0 - h ** 2)), rel=1e-12)


def test_a_vjp_of_a_tuple_needs_a_tuple_of_cotangents():
    _, pullback = adc.vjp(U.both, 2.0, 3.0)
    with pytest.raises(ValueError, match="takes a tuple of 2 cotangents, not float 1.0"):
        pullback(1.0)
    assert pullback((1.0, 1.0)) == pytest.approx((4.0, 3.0))  # (y + 1, x + 1)


# ------------------------------------------------------------------ options


def test_a_wrt_that_is_not_an_index_or_a_name():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(U.power, wrt=(0, 1.5))
    assert "not (0, 1.5)" in info.value.what and "wrt=(0, 'y')" in info.value.hint
    with pytest.raises(adc.ADCompileError) as info:
        adc.check_grad(U.power, 2.0, 3.0, wrt=(0, 1.5))
    assert "not 1.5" in info.value.what
    assert info.value.hint == "choose among the indices 0 to 1 and the names ['x', 'k']"


def test_a_mode_that_does_not_exist():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(U.power, mode="backward")
    assert "'backward'" in info.value.what and "mode='forward'" in info.value.hint


def test_a_trace_table_of_a_branch_says_why_it_has_none():
    with pytest.raises(adc.ADCompileError) as info:
        adc.trace(_branchy).table(x=1.0)
    assert "'if' (a w value is defined on one branch only" in str(info.value)
    assert info.value.lineno == _branchy.__code__.co_firstlineno + 1


def _branchy(x):
    if x > 0.0:
        return x * 2.0
    return x
