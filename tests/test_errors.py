"""Unsupported code is rejected with a located adc.ADCompileError, never a crash.

Each case lives in tests/fixtures/unsupported.py; its offending line carries the
marker `# ERR`, from which the expected line number is computed independently.
"""
from __future__ import annotations

import inspect
import linecache
import math
import random
from pathlib import Path

import numpy as np
import pytest
from support import load_fixture

import ad_compiler as adc

FIXTURES = Path(__file__).parent / "fixtures"


U = load_fixture("unsupported")
UNSUPPORTED_FILE = str(FIXTURES / "unsupported.py")


def _marked_line(fn) -> int:
    lines, start = inspect.getsourcelines(fn)
    marked = [start + i for i, line in enumerate(lines) if "# ERR" in line]
    assert len(marked) == 1, f"fixture {fn.__name__} needs exactly one '# ERR' marker"
    return marked[0]


def _caret_offset(message: str) -> int | None:
    """Column of the caret in str(err), counted from the start of the stripped source line."""
    lines = message.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "^":
            assert i > 0, "caret line must follow the source line"
            assert line.startswith("    "), "caret line is indented like the source line"
            return line.index("^") - 4
    return None


def _check_located(err: adc.ADCompileError, fn, token: str) -> None:
    """filename, line, column (at `token`), source line, caret and hint are all right."""
    expected_line = _marked_line(fn)
    assert err.filename == UNSUPPORTED_FILE
    assert err.lineno == expected_line
    real_line = linecache.getline(UNSUPPORTED_FILE, expected_line)
    assert err.source_line is not None and err.source_line.strip() == real_line.strip()
    assert isinstance(err.what, str) and err.what.strip()
    assert isinstance(err.hint, str) and err.hint.strip(), "every error should say what to do"
    # the column points at the offending construct
    assert err.col is not None, "no column: the message cannot show a caret"
    assert real_line[err.col:].startswith(token), (real_line, err.col, token)
    text = str(err)
    assert text.splitlines()[0] == f'File "{UNSUPPORTED_FILE}", line {expected_line}, column {err.col + 1}'
    assert "    " + real_line.strip() in text.splitlines()
    indent = len(real_line) - len(real_line.lstrip())
    assert _caret_offset(text) == err.col - indent
    assert err.what in text
    assert "hint: " + err.hint in text


# name -> (function, text the caret must point at)
CASES = {
    "try": (U.f_try, "try:"),
    "with": (U.f_with, "with open"),
    "nonlocal": (U.make_nonlocal(), "nonlocal k"),
    "yield": (U.f_yield, "yield"),
    "del": (U.f_del, "del y"),
    "generator kept": (U.f_kept_generator, "(x * i"),
    "subscript": (U.f_subscript, "y.T[0]"),
    "method call": (U.f_method, "x.tolist()"),
    "opaque C function": (U.f_opaque, "some_c_function(x, 1.5)"),
    "undefined name": (U.f_undefined, "undefined_name"),
    "second lambda on a line": (U.bad_lambda, "(x * i"),
}

# a word the message must contain, so the user knows what was rejected
KEYWORDS = {
    "try": "try", "with": "with", "nonlocal": "nonlocal",
    "yield": "yield", "del": "del",
    "generator kept": "generator expression",
    "subscript": "assigning", "method call": "method",
"opaque C function": "some_c_function",
    "undefined name": "undefined_name", "second lambda on a line": "generator expression",
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_unsupported_construct_is_located(case):
    fn, token = CASES[case]
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn)
    _check_located(info.value, fn, token)
    assert KEYWORDS[case] in info.value.what


@pytest.mark.parametrize("case", ["try", "subscript", "opaque C function"])
@pytest.mark.parametrize("entry", ["forward grad", "value_and_grad", "jvp", "vjp", "source",
                                   "trace"])
def test_every_entry_point_reports_the_same_location(case, entry):
    fn, token = CASES[case]
    calls = {
        "forward grad": lambda: adc.grad(fn, mode="forward"),
        "value_and_grad": lambda: adc.value_and_grad(fn),
        "jvp": lambda: adc.jvp(fn, (0.5,), (1.0,)),
        "vjp": lambda: adc.vjp(fn, 0.5)[1](1.0),
        "source": lambda: adc.source(fn, kind="vjp"),
        "trace": lambda: adc.trace(fn),
    }
    if case == "opaque C function" and entry == "trace":
        # a trace of an opaque call is fine: only its derivative is impossible
        text = str(adc.trace(fn))
        assert "remainder" in text or "some_c_function" in text
        return
    with pytest.raises(adc.ADCompileError) as info:
        calls[entry]()
    _check_located(info.value, fn, token)


# Constructs once "not supported yet", pinned to their outcome today: right (the
# derivative by hand at each point), or refused at the right line.  A construct that
# starts to be refused fails here as surely as a wrong derivative.
# name -> (fixture, [(x, d/dx by hand)])
SUPPORTED_NOW = {
    # y = 2x; if y > 0: y = y*y  ->  8x for x > 0, 2 otherwise
    "if": (U.f_if, [(1.0, 8.0), (0.25, 2.0), (-1.0, 2.0)]),
    # x doubled three times -> 8x
    "for": (U.f_for, [(1.0, 8.0), (-2.0, 8.0)]),
    # doubled until >= 10: 1.5 -> 12 (x8), 3 -> 12 (x4), 20 -> 20 (x1)
    "while": (U.f_while, [(1.5, 8.0), (3.0, 4.0), (20.0, 1.0)]),
    # helper(t) = 2t, times 2 -> 4
    "user function": (U.f_user_call, [(0.3, 4.0), (-7.0, 4.0)]),
}
# name -> (fixture, caret token): refused today (divmod has no derivative rule)
REFUSED_NOW = {
    "unpack call": (U.f_unpack_call, "divmod"),
}
MODES = ("reverse", "forward")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(SUPPORTED_NOW))
def test_once_unsupported_construct_is_right(case, mode):
    fn, points = SUPPORTED_NOW[case]
    d = adc.grad(fn, mode=mode)
    for x, expected in points:
        assert d(x) == pytest.approx(expected, rel=1e-15), f"{case}: wrong derivative at x={x}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(REFUSED_NOW))
def test_still_unsupported_construct_is_refused_at_its_line(case, mode):
    fn, token = REFUSED_NOW[case]
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn, mode=mode)
    _check_located(info.value, fn, token)


def test_async_def_is_located_with_caret():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(U.f_async)
    _check_located(info.value, U.f_async, "async def")


def test_async_def_raises_at_the_def_line():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(U.f_async)
    err = info.value
    assert err.filename == UNSUPPORTED_FILE
    assert err.lineno == _marked_line(U.f_async)
    assert "async" in err.what and err.hint


@pytest.mark.parametrize("fn", [U.f_implicit_none, U.f_return_none], ids=["implicit", "explicit"])
def test_returning_none_is_an_error(fn):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn)
    err = info.value
    assert "None" in err.what and "return" in err.hint
    assert err.filename == UNSUPPORTED_FILE


@pytest.mark.parametrize("fn", [U.f_implicit_none, U.f_return_none], ids=["implicit", "explicit"])
def test_returning_none_is_located(fn):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn)
    err = info.value
    lines, start = inspect.getsourcelines(fn)
    assert err.lineno in (_marked_line(fn), start + len(lines) - 1)
    assert _caret_offset(str(err)) is not None


def test_a_function_that_raises_on_every_path_is_not_said_to_return_none():
    def reject(x):
        if x > 0.0:
            raise ValueError("the model is defined for x <= 0")
        raise NotImplementedError("x <= 0 is not written yet")

    for entry in (adc.grad, adc.value_and_grad):
        with pytest.raises(adc.ADCompileError) as info:
            entry(reject)
        assert "raises" in info.value.what and "None" not in info.value.what
        assert info.value.lineno == inspect.getsourcelines(reject)[1]


def test_random_not_depending_on_inputs_is_fine():
    d = adc.grad(U.f_random_ok)
    random.seed(1234)
    expected = random.random()  # d/dx (x * r) = r
    random.seed(1234)
    assert d(0.3) == pytest.approx(expected)


def test_opaque_call_on_constants_only_is_fine():
    src = "import math\ndef f(x, n):\n    return x * math.remainder(n, 3.0)\n"
    f = _exec_with_source(src, "<adc-test-remainder-const>")["f"]
    assert adc.grad(f, wrt="x")(0.5, 4.0) == pytest.approx(1.0)  # remainder(4, 3) = 1
    with pytest.raises(adc.ADCompileError, match="math.remainder"):
        adc.grad(f, wrt="n")


def test_lambda_without_source():
    namespace: dict = {}
    exec(compile("f = lambda x: x * 2.0", "<adc-test-no-source>", "exec"), namespace)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(namespace["f"])
    err = info.value
    assert "source" in err.what and "not available" in err.what
    assert err.filename == "<adc-test-no-source>" and err.lineno == 1
    assert err.hint


def test_def_without_source():
    namespace: dict = {}
    exec(compile("def f(x):\n    return x * x\n", "<adc-test-no-source-def>", "exec"), namespace)
    with pytest.raises(adc.ADCompileError, match="not available"):
        adc.grad(namespace["f"])


def test_the_good_lambda_beside_a_bad_one_works():
    assert adc.grad(U.ok_lambda)(1.0) == pytest.approx(2.0)


@pytest.mark.parametrize("obj", [len, math.sin, np.sin, "f", 3.0],
                         ids=["len", "math.sin", "np.sin", "str", "float"])
def test_not_a_python_function(obj):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(obj)
    assert info.value.hint


# ------------------------------------------------------------------ wrt and mode


def _two(x1, x2):
    return x1 * x2


@pytest.mark.parametrize("wrt", [2, -3, 100, (0, 2), (0, -3)])
def test_wrt_out_of_range(wrt):
    with pytest.raises(adc.ADCompileError, match="out of range") as info:
        adc.grad(_two, wrt=wrt)
    assert info.value.hint


@pytest.mark.parametrize("wrt", ["z", ("x1", "z"), "X1"])
def test_wrt_unknown_name(wrt):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(_two, wrt=wrt)
    assert "z" in info.value.what or "X1" in info.value.what
    assert "x1" in info.value.hint and "x2" in info.value.hint


@pytest.mark.parametrize("wrt", [(), True, (0, 1.5)], ids=repr)
def test_wrt_bad_values(wrt):
    with pytest.raises(adc.ADCompileError):
        adc.grad(_two, wrt=wrt)


def test_wrt_float_is_a_compile_error():
    with pytest.raises(adc.ADCompileError):
        adc.grad(_two, wrt=1.5)


def test_bad_mode():
    with pytest.raises(adc.ADCompileError, match="mode"):
        adc.grad(_two, mode="sideways")


# ------------------------------------------------------------------ fuzz

FUZZ_BODIES = [
    "return x if x > 0 else -x",
    "return x and 1.0",
    "return not x",
    "return ~x",
    "return x @ x",
    "return x << 1",
    "return [x, x]",
    "return {x: 1.0}",
    "return f'{x}'",
    "return (y := x * 2.0)",
    "return sum(x * i for i in range(3))",
    "return 0.0 < x < 1.0",
    "return x is None",
    "x[0] = 1.0\n    return x",
    "x.a = 1.0\n    return x",
    "a, b = x\n    return a",
    "a, b = 1.0, 2.0, 3.0\n    return a",
    "(a, b), c = (x, x), x\n    return a",
    "x[0] += 1.0\n    return x",
    "return max(x, 1.0)",
    "return np.sum(x)",
    "return math.sin(x, 1.0)",
    "return math.sin(x=x)",
    "return x.real",
    "return (lambda t: t)(x)",
    "return helper(x)(x)",
    "return x ** 2j",
    "return b'x' * 2",
    "return x\n    y = 1.0",
    "match x:\n        case 1.0:\n            return x\n    return x",
    "return math * x",
    "return int * x",
    "return np.where(x > 0, x, 0.0)",
    "return divmod(x, 2.0)",
    "return pow(x, 2, 3)",
    "return ()",
    "return (x,)",
    "return math.hypot(x, x, x)",
    "return math.log(x, 2.0, 3.0)",
    "return math.nope(x)",
    "return helper * x",
    "return np.linalg.norm(x)",
    "y: float\n    return y",
    "print(x)\n    return x * 2.0",
    "return np.float64(x) * x",
]


def helper(t):
    return t * 2.0


def _exec_with_source(src: str, filename: str) -> dict:
    """Define code as IPython does: source in linecache under a pseudo-filename."""
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    namespace = {"math": math, "np": np, "helper": helper, "__name__": "__adc_fuzz__"}
    exec(compile(src, filename, "exec"), namespace)
    return namespace


def test_fuzz_only_compile_errors_come_out():
    outcomes = []
    for i, body in enumerate(FUZZ_BODIES):
        filename = f"<adc-fuzz-{i}>"
        fn = _exec_with_source(f"def fz(x):\n    {body}\n", filename)["fz"]
        for what, attempt in [
            ("grad", lambda fn=fn: adc.grad(fn)),
            ("forward", lambda fn=fn: adc.grad(fn, mode="forward")),
            ("value_and_grad", lambda fn=fn: adc.value_and_grad(fn)),
            ("jvp", lambda fn=fn: adc.source(fn, kind="jvp")),
            ("vjp", lambda fn=fn: adc.source(fn, kind="vjp")),
            ("trace", lambda fn=fn: str(adc.trace(fn))),
        ]:
            try:
                attempt()
            except adc.ADCompileError as err:
                assert err.filename == filename, (body, what, str(err))
                assert str(err).strip()
                outcomes.append("error")
            except Exception as exc:  # noqa: BLE001 - anything else is the bug we look for
                pytest.fail(f"{what} of {body!r} raised {type(exc).__name__}: {exc}")
            else:
                outcomes.append("ok")
    assert outcomes.count("error") > len(FUZZ_BODIES)  # most of these are rejected


@pytest.mark.parametrize("body,operand", [("return x % 0", "0"), ("return x + None", "None"),
                                          ("return x * 'a'", "'a'")])
def test_fuzz_constants_sympy_cannot_take(body, operand):
    """Python would raise when the function runs; the compiler refuses it at its line."""
    filename = f"<adc-fuzz-const-{body}>"
    fn = _exec_with_source(f"def fz(x):\n    {body}\n", filename)["fz"]
    with pytest.raises((ZeroDivisionError, TypeError)):
        fn(1.0)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(fn)
    assert info.value.filename == filename and info.value.lineno == 2
    assert operand in info.value.what


def test_nested_def_and_local_lambda_are_differentiated():
    # once rejected, now inlined: d/dx x = 1 and d/dx 2x = 2
    assert adc.grad(U.f_nested_def)(0.3) == 1.0
    assert adc.grad(U.f_lambda_inside)(0.3) == 2.0


def test_tabulating_a_trace_with_a_loop_is_a_located_error():
    source = "def looped(x):\n    for i in range(3):\n        x = x * 2.0\n    return x\n"
    fn = _exec_with_source(source, "<adc-table-loop>")["looped"]
    print(adc.trace(fn))  # the trace itself prints
    with pytest.raises(adc.ADCompileError) as info:
        adc.trace(fn).table(x=1.0)
    assert info.value.lineno == 2 and info.value.hint
