"""Very long functions: thousands of statements, one expression of a thousand terms,
hundreds of elifs.  Each is written to a file, imported, and differentiated in both
modes; the gradients are checked against a hand-written loop or formula and central
differences.  (benchmarks/bench_size.py shows the build time grows linearly.)
"""
from __future__ import annotations

import ast
import itertools
import linecache
import math
import sys
import time

import numpy as np
import pytest
from support import central, load_module, numeric_grad

import ad_compiler as adc
from ad_compiler import cache
from ad_compiler.codegen_analysis import MAX_FOLD_DEPTH

MODES = ["reverse", "forward"]
_names = itertools.count()


def module_from(tmp_path, source: str):
    name = f"adc_test_size_{next(_names)}"
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return load_module(path, name)


def chain_source(n: int, statement: str) -> str:
    return "\n".join(["import math", "", "", "def f(x, c):", *[f"    {statement}"] * n,
                      "    return x", ""])


def terms_source(n: int) -> str:
    terms = [f"{0.1 * (k % 7 + 1):.1f} * math.sin(x * {k % 5 + 1}) * y" for k in range(n)]
    return f"import math\n\n\ndef f(x, y):\n    return {' + '.join(terms)}\n"


def hand_terms(n: int, x: float, y: float) -> tuple[float, float]:
    a = [0.1 * (k % 7 + 1) for k in range(n)]
    b = [k % 5 + 1 for k in range(n)]
    return (sum(a[k] * b[k] * math.cos(x * b[k]) * y for k in range(n)),
            sum(a[k] * math.sin(x * b[k]) for k in range(n)))


def expression_depth(node: ast.AST) -> int:
    """How deeply expressions nest in a statement (iteratively: they may be deep)."""
    deepest, stack = 0, [(node, 0)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        for child in ast.iter_child_nodes(current):
            nests = isinstance(child, (ast.BinOp, ast.UnaryOp, ast.Call, ast.Compare))
            stack.append((child, depth + nests))
    return deepest


def assert_readable(source: str) -> None:
    """No folded expression deeper than the cap (a call may add its own level)."""
    for stmt in ast.parse(source).body[0].body:
        for inner in ast.walk(stmt):
            if isinstance(inner, (ast.Assign, ast.Return)):
                assert expression_depth(inner) <= 2 * MAX_FOLD_DEPTH + 2


@pytest.mark.parametrize("mode", MODES)
def test_a_variable_rebound_170_times(tmp_path, mode):
    """The chain that raised RecursionError: x = math.sin(x) * 0.9 + c, 170 times."""
    f = module_from(tmp_path, chain_source(170, "x = math.sin(x) * 0.9 + c")).f
    value, (gx, gc) = adc.value_and_grad(f, wrt=(0, 1), mode=mode)(0.3, 0.2)
    assert value == pytest.approx(f(0.3, 0.2), rel=1e-15)
    x, dx, dc = 0.3, 1.0, 0.0  # the hand-written forward loop
    for _ in range(170):
        slope = 0.9 * math.cos(x)
        x, dx, dc = 0.9 * math.sin(x) + 0.2, slope * dx, slope * dc + 1.0
    assert (gx, gc) == (pytest.approx(dx, rel=1e-12), pytest.approx(dc, rel=1e-12))
    assert gc == pytest.approx(central(f, [0.3, 0.2], 1), rel=1e-8)
    assert_readable(adc.source(f, wrt=(0, 1), mode=mode))


def test_ten_thousand_statements(tmp_path):
    """One build of 10,000 statements (reverse mode, the source read from the same
    build); forward mode and the Hessian are checked at smaller sizes below."""
    h = 1e-4
    f = module_from(tmp_path, chain_source(10_000, f"x = x + {h} * math.sin(x * c)")).f
    start = time.perf_counter()
    gradient = adc.grad(f, wrt=(0, 1))
    assert time.perf_counter() - start < 90  # seconds (a quadratic pass takes many minutes)
    x0, c = 0.7, 1.3
    x, dx, dc = x0, 1.0, 0.0
    for _ in range(10_000):
        slope = 1.0 + h * c * math.cos(x * c)
        x, dx, dc = x + h * math.sin(x * c), slope * dx, slope * dc + h * x * math.cos(x * c)
    gx, gc = gradient(x0, c)
    assert (gx, gc) == (pytest.approx(dx, rel=1e-11), pytest.approx(dc, rel=1e-11))
    assert gx == pytest.approx(central(f, [x0, c], 0), rel=1e-7)
    assert gc == pytest.approx(central(f, [x0, c], 1), rel=1e-7)
    source = adc.source(f, wrt=(0, 1))
    code = [line for line in source.splitlines() if not line.lstrip().startswith("#")]
    # one statement each, but the last: the gradient does not need the value
    assert sum(line.count("math.sin(") for line in code) == 9_999
    assert_readable(source)


def recurrence_source(n: int) -> str:
    """A recurrence unrolled n times, as generated code or an unrolled loop has it."""
    return chain_source(n, "x = x * 1.0001 + math.sin(x) * c")


def hand_recurrence(n: int, x: float, c: float) -> tuple[float, float]:
    dx, dc = 1.0, 0.0
    for _ in range(n):
        slope = 1.0001 + c * math.cos(x)
        x, dx, dc = x * 1.0001 + math.sin(x) * c, slope * dx, slope * dc + math.sin(x)
    return dx, dc


def timed_build(tmp_path, n: int, mode: str) -> tuple[float, object, tuple[float, float]]:
    """CPU seconds to build and first call the gradient of the n-statement recurrence
    (the machine's other work aside), the function and the gradient at (0.3, 0.2)."""
    f = module_from(tmp_path, recurrence_source(n)).f
    cache.clear()  # the same code was built from another file before
    start = time.process_time()
    grads = adc.grad(f, wrt=(0, 1), mode=mode)(0.3, 0.2)
    return time.process_time() - start, f, grads


@pytest.mark.parametrize("mode", MODES)
def test_the_build_time_grows_linearly(tmp_path, mode):
    """Ten times the statements take about ten times as long: the bound (25x) leaves
    room for a busy machine, and a pass quadratic in the size would take 100x."""
    timed_build(tmp_path, 30, mode)  # the rules, loaded once
    small, _, _ = timed_build(tmp_path, 300, mode)
    large, f, (gx, gc) = timed_build(tmp_path, 3000, mode)
    assert large < 25 * small + 0.5, (small, large)
    dx, dc = hand_recurrence(3000, 0.3, 0.2)
    assert (gx, gc) == (pytest.approx(dx, rel=1e-10), pytest.approx(dc, rel=1e-10))
    assert gc == pytest.approx(central(f, [0.3, 0.2], 1), rel=1e-6)


def test_the_hessian_of_a_thousand_statements(tmp_path):
    f = module_from(tmp_path, recurrence_source(1000)).f
    slope = adc.grad(f, wrt=0)
    for x in (0.3, 2.0):
        assert adc.hessian(f, wrt=0)(x, 0.2) == pytest.approx(
            central(lambda x: slope(x, 0.2), [x], 0), rel=1e-6)


def polynomial_source(n: int) -> str:
    """A long polynomial in x, evaluated term by term (each power used twice)."""
    lines = ["def f(x, y):", "    acc = 0.0", "    p = 1.0"]
    for k in range(n // 2):
        lines += [f"    p = p * x * {1 + k % 3 / 1000}", f"    acc = acc + {k % 7 + 0.5} * p * y"]
    return "\n".join(lines + ["    return acc", ""])


@pytest.mark.parametrize("mode", MODES)
def test_a_long_straight_line_polynomial(tmp_path, mode):
    f = module_from(tmp_path, polynomial_source(2000)).f
    x, y = 0.98, 0.7
    gx, gy = adc.grad(f, wrt=(0, 1), mode=mode)(x, y)
    p, dp, dacc_x, dacc_y = 1.0, 0.0, 0.0, 0.0  # the hand-written forward loop
    for k in range(1000):
        scale = 1 + k % 3 / 1000
        p, dp = p * x * scale, (dp * x + p) * scale
        dacc_x, dacc_y = dacc_x + (k % 7 + 0.5) * dp * y, dacc_y + (k % 7 + 0.5) * p
    assert (gx, gy) == (pytest.approx(dacc_x, rel=1e-11), pytest.approx(dacc_y, rel=1e-11))
    assert gx == pytest.approx(central(f, [x, y], 0), rel=1e-7)


@pytest.mark.parametrize("n", [200, 1000])
@pytest.mark.parametrize("mode", MODES)
def test_one_expression_of_many_terms(tmp_path, mode, n):
    f = module_from(tmp_path, terms_source(n)).f
    value, grads = adc.value_and_grad(f, wrt=(0, 1), mode=mode)(0.3, -0.8)
    assert value == pytest.approx(f(0.3, -0.8), rel=1e-13)
    assert grads == pytest.approx(hand_terms(n, 0.3, -0.8), rel=1e-12)
    assert grads[0] == pytest.approx(central(f, [0.3, -0.8], 0), rel=1e-8)
    assert_readable(adc.source(f, wrt=(0, 1), mode=mode))


def test_forward_over_reverse_on_many_terms(tmp_path):
    f = module_from(tmp_path, terms_source(1000)).f
    gradient = adc.grad(f, wrt=(0, 1))
    _, hvp = adc.jvp(gradient, (0.3, -0.8), (1.0, 0.0))
    first = lambda x, y: gradient(x, y)[0]  # noqa: E731
    assert hvp[0] == pytest.approx(central(first, [0.3, -0.8], 0), rel=1e-7)
    assert adc.hessian(f, wrt=0)(0.3, -0.8) == pytest.approx(hvp[0], rel=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_calls_nested_as_deep_as_python_parses(tmp_path, mode):
    expression = "x"
    for _ in range(95):  # two parentheses each: Python parses up to 200
        expression = f"(c * math.sin({expression}))"
    f = module_from(tmp_path, f"import math\n\n\ndef f(x, c):\n    return {expression}\n").f
    gx, gc = adc.grad(f, wrt=(0, 1), mode=mode)(0.4, 0.9)
    assert gx == pytest.approx(central(f, [0.4, 0.9], 0), rel=1e-7)
    assert gc == pytest.approx(central(f, [0.4, 0.9], 1), rel=1e-7)


def elif_source(n: int) -> str:
    lines = ["import math", "", "", "def f(x, c):", "    if x < 0.0:", "        y = x * c"]
    for k in range(1, n):
        lines += [f"    elif x < {k * 0.01:.2f}:", f"        y = math.sin(x * {k}) * c"]
    return "\n".join(lines + ["    else:", "        y = x + c", "    return y", ""])


@pytest.mark.parametrize("mode", MODES)
def test_five_hundred_elifs(tmp_path, mode):
    """500 nested blocks: deeper than Python's 100 levels of indentation if printed
    nested, and than its default recursion limit for the passes over blocks."""
    f = module_from(tmp_path, elif_source(500)).f
    limit = sys.getrecursionlimit()
    gradient = adc.grad(f, wrt=(0, 1), mode=mode)
    assert sys.getrecursionlimit() == limit  # raised while building only
    for x in (-0.5, 0.005, 1.234, 3.337, 7.0):
        k = next((k for k in range(500) if x < k * 0.01), None)
        gx, gc = gradient(x, 0.7)
        if k == 0:
            expected = (0.7, x)
        elif k is None:
            expected = (1.0, 1.0)
        else:
            expected = (k * math.cos(x * k) * 0.7, math.sin(x * k))
        assert (gx, gc) == (pytest.approx(expected[0], rel=1e-13),
                            pytest.approx(expected[1], rel=1e-13))
    source = adc.source(f, wrt=(0, 1), mode=mode)
    assert max(len(line) - len(line.lstrip()) for line in source.splitlines()) <= 16


@pytest.mark.parametrize("mode", MODES)
def test_a_long_chain_of_array_statements(tmp_path, mode):
    body = ["    x = np.tanh(x) * 0.9 + c * 0.01"] * 200
    source = "\n".join(["import numpy as np", "", "", "def f(x, c):", *body,
                        "    return np.sum(x * x)", ""])
    f = module_from(tmp_path, source).f
    x, c = np.array([0.3, -1.2, 2.0]), np.array([0.5, 0.1, -0.4])
    gx, gc = adc.grad(f, wrt=(0, 1), mode=mode)(x, c)
    assert gx == pytest.approx(numeric_grad(f, [x, c], 0), rel=1e-6, abs=1e-12)
    assert gc == pytest.approx(numeric_grad(f, [x, c], 1), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_a_long_elif_chain_of_array_code(tmp_path, mode):
    """Array code is compiled again for its input shapes with probes after each value;
    where that code would nest too deeply, the generic code runs."""
    lines = ["import numpy as np", "", "", "def f(x, c):", "    if c < 0.0:", "        y = x * c"]
    for k in range(1, 150):
        lines += [f"    elif c < {k * 0.01:.2f}:", f"        y = np.sin(x * {k}) * c"]
    lines += ["    else:", "        y = x + c", "    return np.sum(y)", ""]
    f = module_from(tmp_path, "\n".join(lines)).f
    x = np.array([0.2, 0.5])
    gradient = adc.grad(f, wrt=0, mode=mode)
    for c in (-0.3, 0.555, 1.234, 2.0):
        expected = numeric_grad(f, [x, c], 0)
        assert gradient(x, c) == pytest.approx(expected, rel=1e-6)
        assert gradient(x, c) == pytest.approx(expected, rel=1e-6)  # the version kept



def test_parsed_files_are_kept_within_a_budget_of_text(tmp_path, monkeypatch):
    """Long files read earlier are not kept parsed for ever (a parsed 10,000-line file
    is a million syntax nodes, which slow every full pass of the garbage collector over
    later builds): past a budget of text the oldest go, the last read stays, and the
    derivatives of every file are still right."""
    from ad_compiler import frontend

    monkeypatch.setattr(frontend, "_TEXT_BUDGET", 5_000)
    frontend._parse.cache_clear()
    functions = [module_from(tmp_path, chain_source(60, f"x = math.sin(x) * 0.{k + 5} + c")).f
                 for k in range(4)]
    x, c = 0.3, 0.2
    for k, f in enumerate(functions):
        dx, dc = 1.0, 0.0  # by hand: x_{j+1} = a sin(x_j) + c
        value = x
        for _ in range(60):
            slope = (k + 5) / 10 * math.cos(value)
            value, dx, dc = (k + 5) / 10 * math.sin(value) + c, slope * dx, slope * dc + 1.0
        assert np.allclose(adc.grad(f, wrt=(0, 1))(x, c), (dx, dc), rtol=1e-12)
    texts = frontend._parse.kept_texts()
    assert len(texts) == 2  # each file ~1,800 characters
    assert sum(map(len, texts)) <= 5_000
    source_of_last = "".join(linecache.getlines(functions[-1].__code__.co_filename))
    assert texts[-1] == source_of_last
