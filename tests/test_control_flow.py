"""Branches, loops and helper calls: derivatives against independent references.

Every function of ``tests/programs/catalogue.py`` is checked at each of its points:

- the reverse-mode gradient against central differences (Richardson-extrapolated,
  step 1e-4 scaled by the input, accurate to ~1e-10; the points are chosen at least
  ~1e-2 away from any kink or jump, so the differences stay on one piece);
- forward mode against reverse mode, to 1e-10;
- ``value_and_grad``'s value equals the function's own value exactly;
- the dot-product test between ``adc.jvp`` and ``adc.vjp`` with random vectors.

On a subset: second derivatives by forward-inside-reverse (and forward over forward)
against central differences of the first derivative, Hessian symmetry, Hessian-vector
products ``jvp(grad(f))`` against differences of the gradient along ``v``, and
reverse over reverse (through loops too).  Then the shape of the generated code (a
stack for reverse loops, none in forward mode), side effects, and the constructs of
``tests/programs/unsupported_flow.py``, each pinned to its outcome today: right, or
refused at the line marked ``# ERR`` with a hint.
"""
from __future__ import annotations

import inspect
import math
import zlib
from pathlib import Path

import numpy as np
import pytest
from support import central, load_module

import ad_compiler as adc

PROGRAMS = Path(__file__).parent / "programs"


def _load(name: str):
    return load_module(PROGRAMS / f"{name}.py", f"adc_test_programs_{name}", shared=True)


C = _load("catalogue")
U = _load("unsupported_flow")
UNSUPPORTED_FILE = str(PROGRAMS / "unsupported_flow.py")


# ------------------------------------------------------------------ references


def central_along(g, point, v, h0=1e-4):
    """Directional derivative of a vector function g along v, Richardson-extrapolated."""

    def at(t):
        return np.asarray(g(*(p + t * d for p, d in zip(point, v))), dtype=float)

    def diff(h):
        return (at(h) - at(-h)) / (2.0 * h)

    h = h0 * max(1.0, max(abs(p) for p in point))
    return (4.0 * diff(h / 2.0) - diff(h)) / 3.0


def close(actual, expected, rel, floor=1.0):
    return abs(actual - expected) <= rel * max(floor, abs(expected))


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _all(f):
    return tuple(range(f.__code__.co_argcount))


CASES = [
    pytest.param(fn, point, id=f"{fn.__name__}-{k}")
    for fn, points in C.CATALOGUE for k, point in enumerate(points)
]
HIGHER = [
    pytest.param(fn, point, id=f"{fn.__name__}-{k}")
    for fn, points in C.CATALOGUE if fn in C.HIGHER_ORDER for k, point in enumerate(points)
]
LOOP_FREE = [
    pytest.param(fn, point, id=f"{fn.__name__}-{k}")
    for fn, points in C.CATALOGUE if fn in C.LOOP_FREE for k, point in enumerate(points)
]


def test_catalogue_is_large_and_well_formed():
    assert len(C.CATALOGUE) >= 60
    names = [fn.__name__ for fn, _ in C.CATALOGUE]
    assert len(set(names)) == len(names)
    for fn, points in C.CATALOGUE:
        assert points, fn.__name__
        n = fn.__code__.co_argcount
        for point in points:
            # every point gives every argument without defaults; 1-3 float inputs
            assert n - len(fn.__defaults__ or ()) <= len(point) <= n <= 3, fn.__name__
            assert math.isfinite(fn(*point))
    assert set(C.HIGHER_ORDER) <= {fn for fn, _ in C.CATALOGUE}
    assert set(C.LOOP_FREE) <= {fn for fn, _ in C.CATALOGUE}


# ------------------------------------------------------------ first derivatives


@pytest.mark.parametrize("fn,point", CASES)
def test_reverse_matches_central_differences(fn, point):
    wrt = tuple(range(len(point)))
    got = adc.grad(fn, wrt=wrt)(*point)
    assert len(got) == len(point)
    for i in wrt:
        expected = central(fn, point, i)
        assert close(got[i], expected, 1e-6), (i, got[i], expected)


@pytest.mark.parametrize("fn,point", CASES)
def test_forward_matches_reverse(fn, point):
    wrt = tuple(range(len(point)))
    reverse = adc.grad(fn, wrt=wrt)(*point)
    forward = adc.grad(fn, wrt=wrt, mode="forward")(*point)
    for i in wrt:
        assert close(forward[i], reverse[i], 1e-10), (i, forward[i], reverse[i])


@pytest.mark.parametrize("fn,point", CASES)
def test_single_wrt_matches_each_input(fn, point):
    """wrt=i (a single index) and wrt=name give the i-th partial of the full gradient."""
    full = adc.grad(fn, wrt=tuple(range(len(point))))(*point)
    names = fn.__code__.co_varnames
    for i in range(len(point)):
        assert close(adc.grad(fn, wrt=i)(*point), full[i], 1e-12)
        assert close(adc.grad(fn, wrt=names[i], mode="forward")(*point), full[i], 1e-10)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn,point", CASES)
def test_value_and_grad_value_is_exact(fn, point, mode):
    wrt = tuple(range(len(point)))
    value, grads = adc.value_and_grad(fn, wrt=wrt, mode=mode)(*point)
    assert value == fn(*point)
    for i in wrt:
        assert close(grads[i], central(fn, point, i), 1e-6)


@pytest.mark.parametrize("fn,point", CASES)
def test_jvp_vjp_dot_product(fn, point):
    rng = _rng(fn.__name__, point)
    for _ in range(2):
        xdot = tuple(float(v) for v in rng.normal(size=len(point)))
        ybar = float(rng.normal())
        value_f, tangent = adc.jvp(fn, point, xdot)
        value_r, pullback = adc.vjp(fn, *point)
        cotangents = pullback(ybar)
        assert value_f == fn(*point)
        assert value_r == fn(*point)
        assert len(cotangents) == len(point)
        lhs = ybar * tangent
        rhs = sum(c * d for c, d in zip(cotangents, xdot))
        scale = sum(abs(c * d) for c, d in zip(cotangents, xdot))
        assert abs(lhs - rhs) <= 1e-10 * max(1.0, scale), (lhs, rhs)
        # and the tangent is the directional derivative
        numeric = sum(d * central(fn, point, i) for i, d in enumerate(xdot))
        assert close(tangent, numeric, 1e-6)


# ------------------------------------------------------------- higher order


@pytest.mark.parametrize("fn,point", HIGHER)
def test_second_derivatives_forward_inside_reverse(fn, point):
    """grad(grad(f, mode='forward')): each Hessian row against differences of f'."""
    n = len(point)
    wrt = tuple(range(n))
    hessian = np.zeros((n, n))
    for i in range(n):
        first = adc.grad(fn, wrt=i, mode="forward")
        row = adc.grad(first, wrt=wrt)(*point)
        row_ff = adc.grad(first, wrt=wrt, mode="forward")(*point)
        for j in range(n):
            expected = central(first, point, j)
            assert close(row[j], expected, 1e-5, floor=1.0), (i, j, row[j], expected)
            assert close(row_ff[j], row[j], 1e-9), (i, j, row_ff[j], row[j])
        hessian[i] = row
    assert np.allclose(hessian, hessian.T, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("fn,point", HIGHER)
def test_hessian_vector_product_forward_over_reverse(fn, point):
    wrt = _all(fn)[: len(point)]
    gradient = adc.grad(fn, wrt=wrt)
    rng = _rng("hvp", fn.__name__, point)
    v = tuple(float(t) for t in rng.normal(size=len(point)))
    g, hv = adc.jvp(gradient, point, v)
    assert len(g) == len(hv) == len(point)
    expected_g = gradient(*point)
    expected_hv = central_along(gradient, point, v)
    for i in range(len(point)):
        assert close(g[i], expected_g[i], 1e-12)
        assert close(hv[i], expected_hv[i], 1e-5), (i, hv[i], expected_hv[i])


@pytest.mark.parametrize("fn,point", LOOP_FREE)
def test_reverse_over_reverse_without_loops(fn, point):
    n = len(point)
    wrt = tuple(range(n))
    for i in range(n):
        first = adc.grad(fn, wrt=i)
        row = adc.grad(first, wrt=wrt)(*point)
        for j in range(n):
            expected = central(first, point, j)
            assert close(row[j], expected, 1e-5), (i, j, row[j], expected)


_LOOP_POINTS = {"logistic_map": (3.1, 0.3), "newton_sqrt": (2.0,), "loop_inside_branch": (0.7, 0.3),
                "rnn": (0.4, 0.9, 0.5)}


@pytest.mark.parametrize("fn", [C.logistic_map, C.newton_sqrt, C.loop_inside_branch,
                                C.rnn], ids=lambda f: f.__name__)
def test_reverse_over_reverse_through_a_loop_is_right(fn):
    """Reverse over reverse through a loop: the second derivative, checked against
    differences of the first."""
    second = adc.grad(adc.grad(fn, wrt=0), wrt=0)
    first = adc.grad(fn, wrt=0)
    point = _LOOP_POINTS[fn.__name__][: fn.__code__.co_argcount]
    expected = central(first, list(point), 0)
    assert second(*point) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_hand_written_second_derivatives():
    """A few second derivatives known in closed form."""
    # newton_sqrt(a) = sqrt(a): f'' = -a^(-3/2) / 4
    d2 = adc.grad(adc.grad(C.newton_sqrt, mode="forward"))
    for a in (0.3, 2.0, 9.5):
        assert d2(a) == pytest.approx(-0.25 * a ** -1.5, rel=1e-10)
    # chebyshev(x) = T_6(x) = 32x^6 - 48x^4 + 18x^2 - 1: T_6'' = 960x^4 - 576x^2 + 36
    d2 = adc.grad(adc.grad(C.chebyshev, mode="forward"))
    for x in (0.3, -0.85, 1.2):
        assert d2(x) == pytest.approx(960 * x**4 - 576 * x**2 + 36, rel=1e-10)
    # seed: d2/dx1^2 = -sin(x1), d2/dx1dx2 = 1
    h = adc.grad(adc.grad(C.seed, wrt=0), wrt=(0, 1))
    assert h(0.7, 1.3) == pytest.approx((-math.sin(0.7), 1.0), rel=1e-12)


def test_hand_written_first_derivatives():
    """Closed forms for some of the loops, independent of differences."""
    assert adc.grad(C.newton_sqrt)(2.0) == pytest.approx(0.5 / math.sqrt(2.0), rel=1e-12)
    assert adc.grad(C.newton_cbrt_fixed)(10.0) == pytest.approx(10.0 ** (-2 / 3) / 3, rel=1e-12)
    # x = a cos x  =>  dx/da = cos x / (1 + a sin x)
    a = 1.0
    x = C.newton_cos_fixed_point(a)
    assert adc.grad(C.newton_cos_fixed_point)(a) == pytest.approx(
        math.cos(x) / (1 + a * math.sin(x)), rel=1e-10)
    # E - e sin E = M  =>  dE/dM = 1 / (1 - e cos E), dE/de = sin E / (1 - e cos E)
    m, e = 2.5, 0.7
    big_e = C.kepler(m, e)
    d = adc.grad(C.kepler, wrt=("m", "e"), mode="forward")(m, e)
    assert d == pytest.approx((1 / (1 - e * math.cos(big_e)),
                               math.sin(big_e) / (1 - e * math.cos(big_e))), rel=1e-10)
    # product_range = (x+1)(x+2)(x+3)(x+4)
    x = 0.5
    expected = sum(math.prod(x + j for j in range(1, 5) if j != i) for i in range(1, 5))
    assert adc.grad(C.product_range)(x) == pytest.approx(expected, rel=1e-12)
    # horner: p(x) = sum x^k / (k+1)  =>  p'(x) = sum k x^(k-1) / (k+1)
    x = -1.3
    assert adc.grad(C.horner)(x) == pytest.approx(
        sum(k * x ** (k - 1) / (k + 1) for k in range(1, 7)), rel=1e-12)
    # exp_series ~ exp
    assert adc.grad(C.exp_series)(1.3) == pytest.approx(math.exp(1.3), rel=1e-12)
    # piecewise pieces
    assert adc.grad(C.piecewise3)(1.5) == pytest.approx(3.0)
    assert adc.grad(C.piecewise3)(0.2) == pytest.approx(2.0 + math.cos(0.2))
    assert adc.grad(C.piecewise3)(-1.8) == pytest.approx(-3 * 1.8**2)
    # non-differentiable ops contribute nothing: s*x^2 + n*x + r*sin x + f + q*x + 4x
    x = 2.25
    assert adc.grad(C.nondiff_ops)(x) == pytest.approx(
        2 * x + 6 + 2 * math.cos(x) + 0 + 2 + 4, rel=1e-12)


def _and_in_both_arms(x, c):
    if x > 0.0:
        y = x if c > 0.5 and c < 1.0 else math.sin(x)
    else:
        y = c if c > 0.5 and c < 1.0 else math.tanh(x)
    return y


def _and_in_both_arms_derivative(x, c):
    if x > 0.0:
        return 1.0 if 0.5 < c < 1.0 else math.cos(x)
    return 0.0 if 0.5 < c < 1.0 else 1.0 - math.tanh(x) ** 2


@pytest.mark.parametrize("point", [(0.5, 0.0), (0.5, 0.7)])
def test_and_conditions_in_both_arms_of_an_if(point):
    assert adc.grad(_and_in_both_arms)(*point) == pytest.approx(
        _and_in_both_arms_derivative(*point), rel=1e-12)


@pytest.mark.parametrize("point", [(-0.5, 0.0), (-0.5, 0.7)])
def test_and_conditions_in_both_arms_of_an_if_else_arm(point):
    assert adc.grad(_and_in_both_arms)(*point) == pytest.approx(
        _and_in_both_arms_derivative(*point), rel=1e-12)


def test_and_conditions_in_both_arms_of_an_if_forward():
    for x, c in [(0.5, 0.0), (0.5, 0.7), (-0.5, 0.0), (-0.5, 0.7)]:
        expected = central(_and_in_both_arms, (x, c), 0)
        assert close(adc.grad(_and_in_both_arms, mode="forward")(x, c), expected, 1e-8)


# ------------------------------------------------------------ generated code

# Loops whose backward sweep needs the carried state of every iteration.
NONLINEAR_LOOPS = [C.logistic_map, C.horner, C.rnn, C.while_counter, C.newton_sqrt,
                   C.kepler, C.loop_branch_on_state, C.triangular_loops, C.fixed_point_iteration]
LOOPS = NONLINEAR_LOOPS + [C.nested_loops, C.euler_ode, C.loop_with_branch,
                           C.range_from_input, C.helper_in_loop, C.exp_series]


@pytest.mark.parametrize("fn", NONLINEAR_LOOPS, ids=lambda f: f.__name__)
def test_reverse_loops_use_a_stack_and_forward_does_not(fn):
    reverse = adc.grad(fn, wrt=0).source
    forward = adc.grad(fn, wrt=0, mode="forward").source
    assert ".append(" in reverse and ".pop()" in reverse
    assert ".append(" not in forward and ".pop()" not in forward
    assert "stack" not in forward


@pytest.mark.parametrize("fn", LOOPS, ids=lambda f: f.__name__)
def test_loops_stay_loops(fn):
    """In both modes the derivative of a loop is a loop (with or without a stack)."""
    for mode in ("reverse", "forward"):
        source = adc.grad(fn, wrt=0, mode=mode).source
        assert "for " in source or "while " in source, source
        assert "stack" not in source or mode == "reverse"


@pytest.mark.parametrize("fn", [fn for fn, _ in C.CATALOGUE], ids=lambda f: f.__name__)
def test_whatever_is_pushed_is_popped(fn):
    """A stack the backward sweep never pops is dead code."""
    n = fn.__code__.co_argcount
    for wrt in (0, tuple(range(n))):
        source = adc.grad(fn, wrt=wrt).source
        assert source.count(".append(") == source.count(".pop()"), source


@pytest.mark.parametrize("fn", [C.seed, C.piecewise3, C.and_or, C.helper_tuple],
                         ids=lambda f: f.__name__)
def test_loop_free_reverse_code_has_no_stack(fn):
    source = adc.grad(fn, wrt=0).source
    assert ".append(" not in source and ".pop()" not in source


def test_loop_is_not_unrolled():
    """20 iterations must not become 20 copies of the body."""
    source = adc.grad(C.logistic_map, wrt=(0, 1)).source
    assert source.count("1.0 - ") <= 4
    assert len(source.splitlines()) < 40


def test_print_runs_in_the_derivative_as_in_the_function(capsys):
    C.with_print(0.3)
    expected = capsys.readouterr().out
    assert "adc catalogue" in expected
    for mode in ("reverse", "forward"):
        adc.grad(C.with_print, mode=mode)(0.3)
        assert capsys.readouterr().out == expected


def _print_in_loop(x):
    y = x
    for i in range(3):
        print("iteration", i)
        y = math.sin(y)
    return y


def test_print_in_a_loop_forward_mode_prints_each_iteration_once(capsys):
    _print_in_loop(0.5)
    expected = capsys.readouterr().out
    adc.grad(_print_in_loop, mode="forward")(0.5)
    assert capsys.readouterr().out == expected


def test_print_in_a_loop_reverse_mode_prints_each_iteration_once(capsys):
    _print_in_loop(0.5)
    expected = capsys.readouterr().out
    adc.grad(_print_in_loop)(0.5)
    assert capsys.readouterr().out == expected


def test_globals_are_read_when_the_derivative_runs(monkeypatch):
    d = adc.grad(C.globals_as_constants)
    x = 0.4
    assert d(x) == pytest.approx(1.7 * math.cos(x) + 2 * 0.5 * x, rel=1e-12)
    monkeypatch.setattr(C, "SCALE", 3.0)
    assert adc.grad(C.globals_as_constants)(x) == pytest.approx(
        3.0 * math.cos(x) + 2 * 0.5 * x, rel=1e-12)


def test_closures_from_one_factory_keep_their_own_constants():
    f1, f2 = C.make_poly(1.0, 2.0), C.make_poly(-3.0, 0.5)
    x = 0.7
    assert adc.grad(f1)(x) == pytest.approx(2 * x + 2.0 * math.cos(x), rel=1e-12)
    assert adc.grad(f2)(x) == pytest.approx(-6 * x + 0.5 * math.cos(x), rel=1e-12)
    r1, r2 = C.make_repeat(2, 0.3), C.make_repeat(5, -0.2)
    for r in (r1, r2):
        assert adc.grad(r)(0.4) == pytest.approx(central(r, (0.4,), 0), rel=1e-8)


# ------------------------------------------------------------ unsupported code


def _marked_line(fn) -> int:
    fn = MARKED_IN.get(fn, fn)
    lines, start = inspect.getsourcelines(fn)
    marked = [start + k for k, line in enumerate(lines) if "# ERR" in line]
    assert len(marked) == 1
    return marked[0]


# Control flow a compiler may support or refuse; the outcome each has today is pinned, so
# a construct that starts to be refused fails here as surely as a wrong derivative.
# name -> (function, points): differentiated today, checked against central differences.
SUPPORTED_FLOW = {
    "break": (U.f_break, [(1.0,), (0.15,), (3.3,)]),
    "break in while": (U.f_break_in_while, [(1.0,), (0.05,)]),
    "break nested": (U.f_break_deep, [(0.3,), (-0.5,)]),
    "continue": (U.f_continue, [(0.4,), (-1.2,)]),
    "continue in while": (U.f_continue_in_while, [(1.0,), (5.0,)]),
    "return in for": (U.f_return_in_for, [(1.0,), (0.15,)]),
    "return in while": (U.f_return_in_while, [(1.0,), (0.05,)]),
    "list value": (U.f_list_value, [(0.7,)]),
    "tuple value": (U.f_tuple_value, [(0.7,)]),
    "dict value": (U.f_dict_value, [(0.7,)]),
    "nested def": (U.f_nested_def, [(0.7,)]),
    "nested def in loop": (U.f_nested_def_in_loop, [(0.7,)]),
    "for else": (U.f_for_else, [(0.7,)]),
    "while else": (U.f_while_else, [(0.7,), (20.0,)]),
    "try": (U.f_try, [(0.7,), (-0.5,)]),
}
# name -> function: refused today, with a located ADCompileError at the line marked
# `# ERR` (a construct that becomes supported moves to the table above, with points).
REFUSED_FLOW = {
    "generator": U.f_generator,
    "async": U.f_async,
    "global write": U.f_global_write,
    "recursion": U.f_recursive,
    "mutual recursion": U.f_mutual_recursion,
}
# where the offending line is when it is not in the function itself
MARKED_IN = {U.f_mutual_recursion: U._mutual_a}
ENTRIES = ["reverse", "forward", "value_and_grad", "jvp", "vjp"]


def _derivative_at(fn, entry: str, point: tuple) -> float:
    """d fn / d x at point through one entry point of the API."""
    if entry in ("reverse", "forward"):
        return adc.grad(fn, mode=entry)(*point)
    if entry == "value_and_grad":
        value, derivative = adc.value_and_grad(fn)(*point)
        assert value == fn(*point)
        return derivative
    if entry == "jvp":
        value, tangent = adc.jvp(fn, point, (1.0,))
        assert value == fn(*point)
        return tangent
    value, pullback = adc.vjp(fn, *point)
    assert value == fn(*point)
    return pullback(1.0)[0]


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("case", list(SUPPORTED_FLOW))
def test_supported_flow_is_right(case, entry):
    fn, points = SUPPORTED_FLOW[case]
    for point in points:
        derivative = _derivative_at(fn, entry, point)
        assert close(derivative, central(fn, point, 0), 1e-6), (case, point)


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("case", list(REFUSED_FLOW))
def test_refused_flow_is_located_at_its_line(case, entry):
    fn = REFUSED_FLOW[case]
    with pytest.raises(adc.ADCompileError) as info:
        _derivative_at(fn, entry, (0.7,))
    err = info.value
    assert err.filename == UNSUPPORTED_FILE
    assert err.lineno == _marked_line(fn), (err.lineno, str(err))
    assert isinstance(err.what, str) and err.what.strip()
    assert err.source_line is not None and "# ERR" in err.source_line


@pytest.mark.parametrize("case", list(REFUSED_FLOW))
def test_refused_flow_error_has_a_hint(case):
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(REFUSED_FLOW[case])
    assert isinstance(info.value.hint, str) and info.value.hint.strip(), str(info.value)
    assert "hint: " + info.value.hint in str(info.value)


def test_recursion_error_names_the_function():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(U.f_recursive)
    assert "f_recursive" in info.value.what and "recursi" in info.value.what


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_iterating_over_a_differentiated_list_is_right(mode):
    """(Once this compiled and silently gave a zero gradient.)  d/dxs of sum(v * v)."""
    xs = [1.0, 2.0]
    got = adc.grad(U.f_iterate_param, mode=mode)(xs)
    assert isinstance(got, list)
    assert np.allclose(np.asarray(got, dtype=float), [2.0, 4.0], rtol=1e-15, atol=0)


def test_iterating_over_a_constant_parameter_is_fine():
    """A loop over a parameter that is not differentiated (Horner with coefficients)."""

    got = adc.grad(_horner_coefficients, wrt=0)(0.5, (1.0, -2.0, 3.0, 0.5))
    # p = x^3 - 2x^2 + 3x + 0.5  =>  p' = 3x^2 - 4x + 3
    assert got == pytest.approx(3 * 0.25 - 2.0 + 3.0, rel=1e-12)


def _horner_coefficients(x, coefficients):
    p = 0.0
    for c in coefficients:
        p = p * x + c
    return p


# Every catalogue function, reverse over reverse: the second derivative d2f/dx0^2 against
# central differences of the first derivative.
@pytest.mark.parametrize("fn,point", CASES)
def test_reverse_over_reverse_everywhere_is_right(fn, point):
    first = adc.grad(fn, wrt=0)
    second = adc.grad(first, wrt=0)
    expected = central(first, list(point), 0)
    assert second(*point) == pytest.approx(expected, rel=1e-5, abs=1e-6)
