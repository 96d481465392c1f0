"""Random straight-line programs: AD against central differences, forward against reverse.

Hypothesis writes programs of 1-40 statements over 1-4 float inputs: assignments
(reassignments included), augmented assignments, comprehensions and generators
(summed or indexed, their variable shadowing the function's), nested arithmetic, powers with
constant exponents, unary minus and calls of math/NumPy functions, arranged to
stay inside each function's domain.  For each program:

(i)   the reverse-mode gradient equals central differences.  The differences are
      taken on the same source run with mpmath at 50 digits, so they are accurate
      to far more than float64 and the tolerance only has to absorb the float64
      rounding of the compiled code;
(ii)  forward and reverse mode agree;
(iii) the dot-product test ``<ybar, J xdot> == <J^T ybar, xdot>`` holds between
      ``adc.jvp`` and ``adc.vjp`` for random ``xdot`` and ``ybar``.
"""
from __future__ import annotations

import ast
import itertools
import linecache
import math
import types
import warnings
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import ad_compiler as adc

PARAMS = ("x0", "x1", "x2", "x3")
# Local names include ones the compiler itself likes to generate (y_1 for the second
# version of y, w1_1 for a trace temporary, t1, x0_bar, dy_dx0), to catch clashes.
LOCALS = ("a", "b", "y", "y_1", "w1_1", "t1", "x0_bar", "dv_dx0")
CONSTANTS = ("0.5", "1.5", "2.0", "-0.75", "3.0", "0.25")
MODULES = ("math", "np")

# mpmath stand-ins for math and numpy, for the high-precision reference.
MP = types.SimpleNamespace(
    sin=mpmath.sin, cos=mpmath.cos, tanh=mpmath.tanh, exp=mpmath.exp, log=mpmath.log,
    log1p=lambda v: mpmath.log(1 + v), sqrt=mpmath.sqrt, atan=mpmath.atan,
    arctan=mpmath.atan, hypot=mpmath.hypot, atan2=mpmath.atan2, arctan2=mpmath.atan2,
    sinh=mpmath.sinh, cosh=mpmath.cosh, square=lambda v: v * v, erf=mpmath.erf,
    pow=mpmath.power, power=mpmath.power,
)

LIMIT = 1e6


@st.composite
def expressions(draw, names: tuple[str, ...], depth: int) -> str:
    """A Python expression over `names` whose functions stay in their domains."""
    if depth <= 0 or draw(st.integers(0, 4)) == 0:
        if draw(st.integers(0, 3)) == 0:
            return draw(st.sampled_from(CONSTANTS)).replace("-0.75", "(-0.75)")
        return draw(st.sampled_from(names))

    def sub() -> str:
        return draw(expressions(names, depth - 1))

    m = draw(st.sampled_from(MODULES))
    kind = draw(st.sampled_from([
        "add", "sub", "mul", "div", "div_bounded", "pow_int", "pow_frac", "neg",
        "sin", "cos", "tanh", "atan", "exp_bounded", "log", "log1p", "sqrt", "hypot",
        "atan2", "square", "pow_var", "log_base", "math_pow", "float", "sinh_bounded",
    ]))
    if kind in ("add", "sub", "mul"):
        op = {"add": "+", "sub": "-", "mul": "*"}[kind]
        return f"({sub()} {op} {sub()})"
    if kind == "div":
        b = sub()
        return f"({sub()} / (1.0 + {b} * {b}))"
    if kind == "div_bounded":
        return f"({sub()} / (2.0 + {m}.cos({sub()})))"
    if kind == "pow_int":
        return f"({sub()}) ** {draw(st.sampled_from(['2', '3', '2.0']))}"
    if kind == "pow_frac":
        a = sub()
        return f"(1.0 + {a} * {a}) ** {draw(st.sampled_from(['0.5', '-0.5', '1.5', '-1.5']))}"
    if kind == "neg":
        return f"(-{sub()})"
    if kind in ("sin", "cos", "tanh"):
        return f"{m}.{kind}({sub()})"
    if kind == "atan":
        return f"{m}.{'atan' if m == 'math' else 'arctan'}({sub()})"
    if kind == "exp_bounded":
        inner = draw(st.sampled_from(["sin", "tanh", "cos"]))
        return f"{m}.exp({m}.{inner}({sub()}))"
    if kind == "log":
        a = sub()
        return f"{m}.log(1.0 + {a} * {a})"
    if kind == "log1p":
        a = sub()
        return f"{m}.log1p({a} * {a})"
    if kind == "sqrt":
        a = sub()
        return f"{m}.sqrt(1.0 + {a} * {a})"
    if kind == "hypot":
        b = sub()
        return f"{m}.hypot({sub()}, 0.5 + {b} * {b})"
    if kind == "atan2":
        b = sub()
        return f"{m}.{'atan2' if m == 'math' else 'arctan2'}({sub()}, 0.5 + {b} * {b})"
    if kind == "pow_var":  # a variable exponent, both operands varied
        a = sub()
        return f"(1.0 + {a} * {a}) ** {m}.tanh({sub()})"
    if kind == "log_base":  # math.log(x, base)
        a, b = sub(), sub()
        return f"math.log(1.0 + {a} * {a}, 2.0 + {m}.cos({b}))"
    if kind == "math_pow":
        a = sub()
        fn = draw(st.sampled_from(["math.pow", "np.power", "pow"]))
        return f"{fn}(1.0 + {a} * {a}, {draw(st.sampled_from(['0.5', '-1.5', '2', '3.0']))})"
    if kind == "float":
        return f"float({sub()})"
    if kind == "sinh_bounded":
        fn = draw(st.sampled_from(["sinh", "cosh"]))
        return f"{m}.{fn}({m}.sin({sub()}))"
    assert kind == "square"
    if m == "np":
        return f"np.square({sub()})"
    return f"({sub()} * {sub()})"


@st.composite
def statements(draw, defined: list[str]) -> tuple[str, list[str]]:
    """One statement over the names in `defined`; returns it and the names it assigns."""
    names = tuple(defined)

    def value() -> str:
        return draw(expressions(names, draw(st.integers(0, 3))))

    def new_target() -> str:
        return draw(st.sampled_from(LOCALS + names))

    form = draw(st.sampled_from(["assign", "assign", "assign", "augment", "augment",
                                 "divide", "power", "unpack", "swap", "chain", "annotated",
                                 "comprehension"]))
    if form == "augment":
        target = draw(st.sampled_from(names))
        op = draw(st.sampled_from(["+=", "-=", "*="]))
        return f"{target} {op} {value()}", [target]
    if form == "divide":
        target, b = draw(st.sampled_from(names)), value()
        return f"{target} /= (1.0 + {b} * {b})", [target]
    if form == "power":
        target = draw(st.sampled_from(names))
        return f"{target} **= {draw(st.sampled_from(['2', '3']))}", [target]
    if form == "unpack":
        p = new_target()
        q = draw(st.sampled_from([n for n in LOCALS + names if n != p]))
        return f"{p}, {q} = {value()}, {value()}", [p, q]
    if form == "swap" and len(names) >= 2:
        p, q = draw(st.permutations(names))[:2]
        return f"{p}, {q} = {q}, {p}", [p, q]
    if form == "chain":
        p, q = new_target(), new_target()
        return f"{p} = {q} = {value()}", [p, q]
    if form == "comprehension":  # its variable may shadow one of the function's
        p, v = new_target(), draw(st.sampled_from(("q", "a", "y")))
        items = ", ".join(value() for _ in range(draw(st.integers(1, 3))))
        element = draw(expressions(tuple(dict.fromkeys(names + (v,))), draw(st.integers(0, 2))))
        shape = draw(st.integers(0, 2))
        if shape == 0:
            return f"{p} = sum({element} for {v} in ({items},))", [p]
        if shape == 1:
            return f"{p} = [{element} for {v} in ({items},)][-1]", [p]
        return f"{p} = sum([{element} for {v} in ({items},)], {value()})", [p]
    if form == "annotated":
        p = new_target()
        return f"{p}: float = {value()}", [p]
    p = new_target()
    return f"{p} = {value()}", [p]


@st.composite
def programs(draw, outputs: int = 1) -> tuple[str, int]:
    """Source of `def f(x0, ...)` with 1-40 statements before its `return`."""
    n_inputs = draw(st.integers(1, 4))
    defined = list(PARAMS[:n_inputs])
    lines = [f"def f({', '.join(defined)}):"]
    if draw(st.booleans()):
        lines.append('    """A generated program."""')
    last = defined[0]
    for _ in range(draw(st.integers(1, 40))):
        stmt, assigned = draw(statements(defined))
        lines.append(f"    {stmt}")
        defined.extend(a for a in assigned if a not in defined)
        last = assigned[0]
    results = [draw(expressions(tuple(defined), draw(st.integers(0, 2)))) for _ in range(outputs)]
    # make the (first) output depend on the last value computed, as programs usually do
    results[0] = f"{results[0]} + {last}"
    lines.append(f"    return {', '.join(results)}")
    return "\n".join(lines) + "\n", n_inputs


_counter = itertools.count()


def compile_program(source: str, namespace: dict) -> Callable:
    filename = f"<adc-random-program-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(namespace, __name__="adc_random_program")
    exec(compile(source, filename, "exec"), namespace)
    return namespace["f"]


def instrumented(source: str) -> Callable:
    """The same program returning every value it assigns and returns, to check magnitudes."""
    tree = ast.parse(source)
    fn = tree.body[0]
    body: list[ast.stmt] = [ast.parse("_values = []").body[0]]
    for stmt in fn.body:
        if isinstance(stmt, ast.Return):
            body.append(ast.Assign([ast.Name("_result", ast.Store())], stmt.value))
            body.extend(ast.parse("_values.extend(_result if isinstance(_result, tuple) "
                                  "else (_result,))\nreturn _values").body)
            continue
        body.append(stmt)
        scoped = {id(n) for c in ast.walk(stmt) if isinstance(c, (ast.GeneratorExp, ast.ListComp))
                  for n in ast.walk(c)}  # a comprehension's variables are its own
        targets = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)
                   and isinstance(n.ctx, ast.Store) and id(n) not in scoped}
        for name in sorted(targets):
            body.append(ast.parse(f"_values.append({name})").body[0])
    fn.body = body
    fn.name = "f_values"
    namespace = {"math": math, "np": np}
    exec(compile(ast.fix_missing_locations(tree), "<instrumented>", "exec"), namespace)
    return namespace["f_values"]


def central_differences_mp(source: str, point: list[float]) -> list:
    """Central differences of the program run in 50-digit arithmetic.

    One entry per input; for a program returning a tuple, each entry is a list with
    one derivative per output (a column of the Jacobian).
    """
    # float() must not round the 50-digit numbers back to float64
    namespace = {"math": MP, "np": MP, "float": lambda v: v}
    exec(source, namespace)
    f = namespace["f"]
    out = []
    with mpmath.workdps(50):
        h = mpmath.mpf("1e-20")
        for i in range(len(point)):
            hi = [mpmath.mpf(v) for v in point]
            lo = [mpmath.mpf(v) for v in point]
            hi[i] += h
            lo[i] -= h
            plus, minus = f(*hi), f(*lo)
            if isinstance(plus, tuple):
                out.append([float((p - m) / (2 * h)) for p, m in zip(plus, minus)])
            else:
                out.append(float((plus - minus) / (2 * h)))
    return out


inputs = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
directions = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)


def close(a: float, b: float, rtol: float, scale: float = 1.0) -> bool:
    return abs(a - b) <= rtol * max(scale, abs(a), abs(b))


def assume_moderate(source: str, point: list[float]) -> None:
    """Keep to programs whose values all stay finite and at most LIMIT at this point."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            values = [float(v) for v in instrumented(source)(*point)]
        except (OverflowError, ValueError, ZeroDivisionError):
            values = [math.inf]
    assume(all(math.isfinite(v) and abs(v) <= LIMIT for v in values))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True, database=None)  # the same programs on every run (CI)
@given(program=programs(), data=st.data())
def test_random_program(program, data):
    source, n = program
    note(source)
    point = data.draw(st.lists(inputs, min_size=n, max_size=n), label="point")
    xdot = data.draw(st.lists(directions, min_size=n, max_size=n), label="xdot")
    ybar = data.draw(directions, label="ybar")
    assume_moderate(source, point)

    f = compile_program(source, {"math": math, "np": np})
    wrt = tuple(range(n))
    value = float(f(*point))

    reverse = [float(g) for g in adc.grad(f, wrt=wrt, mode="reverse")(*point)]
    forward = [float(g) for g in adc.grad(f, wrt=wrt, mode="forward")(*point)]
    assert all(math.isfinite(g) for g in reverse)
    gscale = max(1.0, *(abs(g) for g in reverse))

    # (i) against central differences (in 50-digit arithmetic)
    numeric = central_differences_mp(source, point)
    note(f"reverse={reverse} numeric={numeric}")
    for k in range(n):
        assert close(reverse[k], numeric[k], 1e-5, 1.0), (k, reverse, numeric)

    # (ii) forward mode equals reverse mode
    note(f"forward={forward}")
    for k in range(n):
        assert close(forward[k], reverse[k], 1e-9, gscale), (k, forward, reverse)

    # value_and_grad: the same value as the function itself
    v, g = adc.value_and_grad(f, wrt=wrt)(*point)
    assert float(v) == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert [float(c) for c in g] == pytest.approx(reverse, rel=1e-12, abs=1e-12 * gscale)

    # (iii) the dot-product test between jvp and vjp
    v_jvp, tangent = adc.jvp(f, point, xdot)
    v_vjp, pullback = adc.vjp(f, *point)
    cotangents = pullback(ybar)
    assert len(cotangents) == n
    assert float(v_jvp) == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert float(v_vjp) == pytest.approx(value, rel=1e-12, abs=1e-12)
    left = ybar * float(tangent)
    right = sum(float(c) * d for c, d in zip(cotangents, xdot))
    scale = gscale * max(1.0, sum(abs(d) for d in xdot))
    assert close(left, right, 1e-9, scale), (left, right)
    # and each side against the gradient computed independently above
    assert close(float(tangent), sum(g * d for g, d in zip(numeric, xdot)), 1e-5, scale)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True, database=None)
@given(program=st.integers(2, 3).flatmap(lambda k: programs(outputs=k)), data=st.data())
def test_random_program_several_outputs(program, data):
    """jvp/vjp of a function returning a tuple: the dot-product test, and the Jacobian."""
    source, n = program
    note(source)
    point = data.draw(st.lists(inputs, min_size=n, max_size=n), label="point")
    assume_moderate(source, point)
    f = compile_program(source, {"math": math, "np": np})
    value = tuple(float(v) for v in f(*point))
    m = len(value)
    xdot = data.draw(st.lists(directions, min_size=n, max_size=n), label="xdot")
    ybar = data.draw(st.lists(directions, min_size=m, max_size=m), label="ybar")

    v_jvp, tangent = adc.jvp(f, point, xdot)
    v_vjp, pullback = adc.vjp(f, *point)
    cotangents = pullback(tuple(ybar))
    assert len(tangent) == m and len(cotangents) == n
    assert [float(v) for v in v_jvp] == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert [float(v) for v in v_vjp] == pytest.approx(value, rel=1e-12, abs=1e-12)

    columns = central_differences_mp(source, point)  # columns[j][i] = d out_i / d x_j
    jscale = max([1.0] + [abs(d) for column in columns for d in column])
    for i in range(m):  # J xdot, row by row
        expected = sum(columns[j][i] * xdot[j] for j in range(n))
        assert close(float(tangent[i]), expected, 1e-5, jscale * n), (i, tangent, expected)
    for j in range(n):  # J^T ybar, column by column
        expected = sum(columns[j][i] * ybar[i] for i in range(m))
        assert close(float(cotangents[j]), expected, 1e-5, jscale * m), (j, cotangents, expected)
    left = sum(y * float(t) for y, t in zip(ybar, tangent))
    right = sum(float(c) * d for c, d in zip(cotangents, xdot))
    assert close(left, right, 1e-9, jscale * n * m), (left, right)
