"""Random straight-line NumPy programs over arrays: AD against differences, modes against each other.

Hypothesis writes ``def f(x, y):`` over a pair of input shapes -- (3,) and (2, 3),
scalars, broadcasting pairs (3, 1) / (1, 3), ... -- with 1-7 statements drawn from:
elementwise functions (sin, cos, tanh, exp of a bounded argument, log(1 + v*v),
sqrt(1 + v*v), v**2, unary minus, scaling), ``+ - * /`` with broadcasting (dividing
only by ``1.5 + v*v``), reductions (np.sum / np.mean / np.max, function or method,
any axis, keepdims or not), ``@``, ``.T``, reshapes, slices and integer indices,
``np.where(c > 0, a, b)``, ``np.concatenate`` and ``np.stack``, and writes into a copy
(``a = np.array(v); a[1:] = e``, ``a[:, 0] += e``, through a view of it: ``b = a[1:];
b[0] = e``).  The generator
tracks the shape of every value and only writes operations whose shapes fit, so
every program is valid NumPy.  Targets are fresh names or earlier ones reused
(also names the compiler likes to generate: ``w1_1``, ``x_bar``).

Each program is compiled twice: returning ``np.sum(last * W)`` (W a constant array
of last's shape) and returning ``last`` itself.  At random inputs:

(1) the reverse-mode gradient of the scalar version equals central differences;
(2) ``adc.jvp`` of the array version equals the directional central difference;
(3) ``adc.vjp`` satisfies ``<vjp(ybar), t> == <ybar, jvp(t)>``;
(4) the forward-mode gradient equals the reverse-mode one;
(5) at a second point, where the derivatives run code specialised to the input
    shapes, they equal what the generic code computes there;
(6) the Hessian with respect to x (vector mode over the reverse gradient) equals
    central differences of that gradient.

np.max and np.where are kinks: a case is used only if every point of every
difference stencil picks the same maxima and the same branches of np.where as the
point itself, and all values stay moderate.
"""
from __future__ import annotations

import ast
import math
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, example, given, note, settings
from hypothesis import strategies as st
from test_random_programs import compile_program

import ad_compiler as adc

SHAPE_PAIRS = (
    ((3,), (2, 3)), ((2, 3), (3,)), ((), (3,)), ((3,), ()), ((3, 1), (1, 3)),
    ((1, 3), (3, 1)), ((2, 3), (2, 3)), ((2, 3), (3, 2)), ((3,), (3,)), ((), ()),
)
# Fresh names, some of them names the compiler generates itself, to catch clashes.
LOCALS = ("a", "b", "c", "d", "w1_1", "x_bar", "t1", "y_1")
MAX_NDIM, MAX_SIZE = 3, 36
LIMIT = 1e4  # largest magnitude any value may reach
STEP = 1e-4  # central differences, relative to the input's magnitude

SETTINGS = settings(max_examples=500, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# ------------------------------------------------------------------ programs


@dataclass(frozen=True)
class E:
    """An expression: its source, the source checked by the reference run, its shape.

    The two sources differ only where np.max is written as a method (``v.max()``),
    which the checked run writes as ``np.max(v)`` so that it can see the maxima.
    """

    text: str
    checked: str
    shape: tuple[int, ...]


def fmt(template: str, shape: tuple[int, ...], *args: E) -> E:
    return E(template.format(*(a.text for a in args)),
             template.format(*(a.checked for a in args)), shape)


def broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def fits(shape: tuple[int, ...]) -> bool:
    return len(shape) <= MAX_NDIM and math.prod(shape) <= MAX_SIZE


def reshapes(shape: tuple[int, ...]) -> list[str]:
    """Target shapes (as source) with the same number of elements."""
    n = math.prod(shape)
    out = [f"({n},)", "-1", f"(1, {n})", f"({n}, 1)", f"(-1, {n})"]
    out += [f"({p}, {n // p})" for p in range(2, n) if n % p == 0]
    out += [f"({p}, -1)" for p in range(2, n) if n % p == 0]
    return out


@st.composite
def unary(draw, v: E) -> E:
    """An elementwise function of `v`, kept inside its domain."""
    kind = draw(st.sampled_from(["sin", "cos", "tanh", "exp", "log", "sqrt", "square",
                                 "neg", "scale"]))
    if kind in ("sin", "cos", "tanh"):
        return fmt(f"np.{kind}({{}})", v.shape, v)
    if kind == "exp":
        inner = draw(st.sampled_from(["sin", "tanh"]))
        return fmt(f"np.exp(np.{inner}({{}}))", v.shape, v)
    if kind == "log":
        return fmt("np.log(1.0 + {0} * {0})", v.shape, v)
    if kind == "sqrt":
        return fmt("np.sqrt(1.0 + {0} * {0})", v.shape, v)
    if kind == "square":
        return fmt("{} ** 2", v.shape, v)
    if kind == "neg":
        return fmt("(-{})", v.shape, v)
    return fmt(f"({draw(st.sampled_from(['0.5', '1.5', '-0.75']))} * {{}})", v.shape, v)


@st.composite
def operand(draw, env: dict[str, E], ok=lambda s: True) -> E | None:
    """A name (or an elementwise function of one) whose shape satisfies `ok`."""
    names = sorted(n for n, v in env.items() if ok(v.shape))
    if not names:
        return None
    v = env[draw(st.sampled_from(names))]
    if draw(st.integers(0, 3)) == 0:
        v = draw(unary(v))
    return v


@st.composite
def expressions(draw, env: dict[str, E]) -> E:
    """One operation on the values in `env`, of a shape that fits."""
    kinds = ["unary", "binary", "binary", "reduce", "matmul", "transpose", "reshape",
             "slice", "where", "concatenate", "stack"]
    for kind in draw(st.permutations(kinds)):
        e = draw(expression(env, kind))
        if e is not None and fits(e.shape):
            return e
    raise AssertionError("unreachable: 'unary' always applies")


@st.composite
def expression(draw, env: dict[str, E], kind: str) -> E | None:
    if kind == "unary":
        return draw(unary(draw(operand(env))))

    if kind == "binary":
        a = draw(operand(env))
        if draw(st.integers(0, 5)) == 0:
            b = E("0.5", "0.5", ())
        else:
            b = draw(operand(env, lambda s: broadcast(a.shape, s) is not None))
        shape = broadcast(a.shape, b.shape)
        op = draw(st.sampled_from(["+", "-", "*", "/"]))
        if draw(st.booleans()):
            a, b = b, a
        return fmt("({0} / (1.5 + {1} * {1}))" if op == "/" else f"({{}} {op} {{}})", shape, a, b)

    if kind == "reduce":
        v = draw(operand(env, lambda s: len(s) >= 1))
        if v is None:
            return None
        fn = draw(st.sampled_from(["sum", "mean", "max"]))
        axis = draw(st.sampled_from([None, *range(len(v.shape)), -1]))
        keepdims = draw(st.booleans())
        if axis is None:
            shape = (1,) * len(v.shape) if keepdims else ()
        else:
            k = axis % len(v.shape)
            shape = tuple(1 if i == k else n for i, n in enumerate(v.shape))
            if not keepdims:
                shape = shape[:k] + shape[k + 1:]
        args = ([] if axis is None else [f"axis={axis}"]) + (["keepdims=True"] if keepdims else [])
        tail = "".join(", " + a for a in args)
        checked = f"np.{fn}({v.checked}{tail})"
        if draw(st.booleans()):  # method form
            base = v.text if v.text.isidentifier() else f"({v.text})"
            text = f"{base}.{fn}({', '.join(args)})"
        else:
            text = f"np.{fn}({v.text}{tail})"
        return E(text, checked, shape)

    if kind == "matmul":
        a = draw(operand(env, lambda s: len(s) in (1, 2)))
        if a is None:
            return None
        inner = a.shape[-1]
        b = draw(operand(env, lambda s: len(s) in (1, 2) and s[0] == inner))
        if b is None:
            return None
        shape = a.shape[:-1] + b.shape[1:]
        return fmt("({} @ {})", shape, a, b)

    if kind == "transpose":
        v = draw(operand(env, lambda s: len(s) >= 2))
        if v is None:
            return None
        return fmt("({}).T" if not v.text.isidentifier() else "{}.T", v.shape[::-1], v)

    if kind == "reshape":
        v = draw(operand(env, lambda s: len(s) >= 1))
        if v is None:
            return None
        target = draw(st.sampled_from(reshapes(v.shape)))
        shape = tuple(int(n) for n in np.empty(v.shape).reshape(ast.literal_eval(target)).shape)
        if draw(st.booleans()) and v.text.isidentifier():
            return E(f"{v.text}.reshape({target})", f"{v.checked}.reshape({target})", shape)
        return fmt(f"np.reshape({{}}, {target})", shape, v)

    if kind == "slice":
        v = draw(operand(env, lambda s: len(s) >= 1 and max(s) >= 2))
        if v is None:
            return None
        forms = []
        if v.shape[0] >= 2:
            forms += ["[1:]", "[:-1]", "[0]", "[-1]", "[::2]"]
        if v.shape[-1] >= 2:
            forms += ["[..., :2]", "[..., 1:]", "[..., 0]"]
        if len(v.shape) >= 2 and v.shape[1] >= 2:
            forms += ["[:, 1]", "[:, :1]"]
        if not forms:
            return None
        index = draw(st.sampled_from(forms))
        shape = np.empty(v.shape)[eval(f"np.s_{index}")].shape
        return fmt(f"{{}}{index}" if v.text.isidentifier() else f"({{}}){index}", shape, v)

    if kind == "where":
        c = draw(operand(env))
        a = draw(operand(env, lambda s: broadcast(c.shape, s) is not None))
        b = draw(operand(env, lambda s: broadcast(c.shape, a.shape, s) is not None))
        if draw(st.integers(0, 3)) == 0:
            a, b = (E("0.0", "0.0", ()), b) if draw(st.booleans()) else (a, E("0.0", "0.0", ()))
        shape = broadcast(c.shape, a.shape, b.shape)
        return fmt("np.where({} > 0, {}, {})", shape, c, a, b)

    if kind == "concatenate":
        a = draw(operand(env, lambda s: len(s) >= 1))
        if a is None:
            return None
        axis = draw(st.integers(0, len(a.shape) - 1))

        def ok(s):
            return len(s) == len(a.shape) and all(
                n == m for i, (n, m) in enumerate(zip(s, a.shape)) if i != axis)

        b = draw(operand(env, ok))
        shape = list(a.shape)
        shape[axis] += b.shape[axis]
        spec = "" if axis == 0 and draw(st.booleans()) else f", axis={axis}"
        return fmt(f"np.concatenate([{{}}, {{}}]{spec})", tuple(shape), a, b)

    assert kind == "stack"
    a = draw(operand(env))
    b = draw(operand(env, lambda s: s == a.shape))
    axis = draw(st.integers(0, len(a.shape)))
    shape = a.shape[:axis] + (2,) + a.shape[axis:]
    spec = "" if axis == 0 and draw(st.booleans()) else f", axis={axis}"
    return fmt(f"np.stack([{{}}, {{}}]{spec})", shape, a, b)


@dataclass(frozen=True)
class Program:
    shapes: tuple[tuple[int, ...], tuple[int, ...]]
    lines: tuple[tuple[str, str, str], ...]  # (target, text, checked)
    last: str
    out_shape: tuple[int, ...]

    def render(self, result: str, checked: bool = False) -> str:
        out = ["def f(x, y):"]
        for target, text, check in self.lines:
            if not target:  # a write into an array: a statement of its own
                out.append(f"    {check if checked else text}")
                continue
            out.append(f"    {target} = {'_seen(' + check + ')' if checked else text}")
        out.append(f"    return {result}")
        return "\n".join(out) + "\n"


def write_indices(shape: tuple[int, ...]) -> list[str]:
    """Places to write into an array of `shape` (basic indices, a step, an index array)."""
    forms = []
    if shape and shape[0] >= 2:
        forms += ["[0]", "[1:]", "[::2]", "[-1]", "[[0, 1]]"]
    if len(shape) >= 2 and shape[1] >= 2:
        forms += ["[:, 0]", "[0, 1:]", "[..., -1]"]
    return forms


@st.composite
def writes(draw, env: dict[str, E], lines: list, fresh: list[str]) -> str | None:
    """``a = np.array(v)`` and a write into it (or into a view of it), appended to
    `lines`; the name written into, or None where nothing fits."""
    source = draw(operand(env, lambda s: bool(write_indices(s))))
    if source is None or len(fresh) < 2:
        return None
    owner, view = fresh[0], fresh[1]
    lines.append((owner, f"np.array({source.text})", f"np.array({source.checked})"))
    env[owner] = E(owner, owner, source.shape)
    written, shape = owner, source.shape
    if draw(st.booleans()) and shape[0] >= 2:  # through a view: the owner changes too
        lines.append((view, f"{owner}[1:]", f"{owner}[1:]"))
        shape = (shape[0] - 1,) + shape[1:]
        env[view] = E(view, view, shape)
        written = view
    forms = write_indices(shape)
    if not forms:
        return written
    index = draw(st.sampled_from(forms))
    region = np.empty(shape)[eval(f"np.s_{index}")].shape
    value = draw(operand(env, lambda s: broadcast(s, region) == region))
    if value is None:
        value = E("0.5", "0.5", ())
    op = "+=" if draw(st.booleans()) and "[0, 1]" not in index else "="
    lines.append(("", f"{written}{index} {op} {value.text}",
                  f"{written}{index} {op} {value.checked}"))
    return written


@st.composite
def programs(draw) -> Program:
    shapes = draw(st.sampled_from(SHAPE_PAIRS))
    env = {n: E(n, n, shape) for n, shape in zip("xy", shapes)}
    lines = []
    target = "x"
    for _ in range(draw(st.integers(1, 7))):
        if draw(st.integers(0, 4)) == 0:
            written = draw(writes(env, lines, sorted(set(LOCALS) - set(env))))
            if written is not None:
                target = written
                continue
        e = draw(expressions(env))
        fresh = sorted(set(LOCALS) - set(env))
        used = sorted(n for n in env if n not in ("x", "y"))
        target = draw(st.sampled_from(fresh if fresh and (not used or draw(st.integers(0, 3)))
                                      else used))
        env[target] = E(target, target, e.shape)
        lines.append((target, e.text, e.checked))
    return Program(shapes, tuple(lines), target, env[target].shape)


# ------------------------------------------------------------------ references


class _Checked:
    """numpy, but np.max and np.where note which elements they picked."""

    def __init__(self, record: list) -> None:
        self._record = record

    def __getattr__(self, name):
        return getattr(np, name)

    def max(self, a, axis=None, keepdims=False):
        a = np.asarray(a)
        self._record.append((a == np.max(a, axis=axis, keepdims=True)).tobytes())
        return np.max(a, axis=axis, keepdims=keepdims)

    def where(self, condition, a, b):
        self._record.append(np.asarray(condition).tobytes())
        return np.where(condition, a, b)


class Reference:
    """The program run by NumPy itself, noting its kinks and its largest value."""

    def __init__(self, program: Program, w) -> None:
        self.record: list = []
        self.largest = 0.0
        namespace = {"np": _Checked(self.record), "W": w, "_seen": self._seen}
        exec(program.render("(" + program.last + ", np.sum(" + program.last + " * W))",
                            checked=True), namespace)
        self.f = namespace["f"]

    def _seen(self, v):
        self.largest = max(self.largest, float(np.max(np.abs(v))))
        return v

    def __call__(self, x, y):
        """(array output, scalar output, kinks picked)"""
        self.record.clear()
        with np.errstate(all="raise"):
            out, total = self.f(x, y)
        return np.asarray(out, dtype=np.float64), float(total), tuple(self.record)


class Kink(Exception):
    """A difference stencil crossed a kink of np.max or np.where."""


def _shifted(args: list, i: int, idx: tuple, t: float) -> list:
    new = list(args)
    if np.ndim(args[i]) == 0:
        new[i] = float(args[i]) + t
    else:
        new[i] = args[i].copy()
        new[i][idx] += t
    return new


def richardson(run, kinks: tuple, along) -> np.ndarray:
    """Central difference of run(...) in direction `along(t)`, Richardson-extrapolated."""

    def side(t):
        value, seen = run(along(t))
        if seen != kinks:
            raise Kink
        return value

    h = STEP
    coarse = (side(h) - side(-h)) / (2 * h)
    fine = (side(h / 2) - side(-h / 2)) / h
    return (4 * fine - coarse) / 3


def numeric_gradient(ref: Reference, args: list, kinks: tuple) -> list[np.ndarray]:
    grads = []
    for i in range(2):
        g = np.zeros(np.shape(args[i]))
        for idx in np.ndindex(g.shape):
            scale = max(1.0, abs(float(np.asarray(args[i])[idx])))
            g[idx] = richardson(
                lambda a: (lambda r: (r[1], r[2]))(ref(*a)), kinks,
                lambda t, i=i, idx=idx, scale=scale: _shifted(args, i, idx, t * scale)
            ) / scale
        grads.append(g)
    return grads


def numeric_jvp(ref: Reference, args: list, tangents: list, kinks: tuple) -> np.ndarray:
    return richardson(lambda a: (lambda r: (r[0], r[2]))(ref(*a)), kinks,
                      lambda t: [a + t * d for a, d in zip(args, tangents)])


# ------------------------------------------------------------------ the checks


def sample(rng, shape):
    v = rng.uniform(-1.5, 1.5, shape)
    return float(v) if shape == () else v


def close(got, expected, rtol: float, scale: float = 1.0) -> None:
    assert np.shape(got) == np.shape(expected), (np.shape(got), np.shape(expected))
    got = np.asarray(got, dtype=np.float64)
    assert np.all(np.isfinite(got)), got
    err = float(np.max(np.abs(got - expected), initial=0.0))
    bound = rtol * max(scale, float(np.max(np.abs(expected), initial=0.0)))
    assert err <= bound, (got, expected, err, bound)


def check(program: Program, seed: int) -> None:
    """Checks (1)-(4) of the module docstring for one program at one random point."""
    rng = np.random.default_rng(seed)
    args = [sample(rng, s) for s in program.shapes]
    w = sample(rng, program.out_shape)
    tangents = [sample(rng, s) for s in program.shapes]
    ybar = sample(rng, program.out_shape)

    ref = Reference(program, w)
    try:
        out, total, kinks = ref(*args)
        if not ref.largest < LIMIT:
            raise FloatingPointError
        numeric = numeric_gradient(ref, args, kinks)
        directional = numeric_jvp(ref, args, tangents, kinks)
    except (Kink, FloatingPointError):
        assume(False)
    assert out.shape == program.out_shape

    f_scalar = compile_program(program.render(f"np.sum({program.last} * W)"),
                               {"np": np, "W": w})
    f_array = compile_program(program.render(program.last), {"np": np, "W": w})

    # (1) reverse mode against central differences
    reverse = adc.grad(f_scalar, wrt=(0, 1))(*args)
    gscale = max([1.0] + [float(np.max(np.abs(g))) for g in numeric])
    for got, expected in zip(reverse, numeric):
        close(got, expected, 1e-6, gscale)

    # (2) jvp against the directional difference
    value, tangent = adc.jvp(f_array, args, tangents)
    close(value, out, 1e-12)
    tscale = max(1.0, float(np.max(np.abs(directional), initial=0.0)))
    close(tangent, directional, 1e-6, tscale)

    # (3) vjp against jvp: <vjp(ybar), t> == <ybar, jvp(t)>
    value, pullback = adc.vjp(f_array, *args)
    close(value, out, 1e-12)
    cotangents = pullback(ybar)
    assert len(cotangents) == 2
    for c, a in zip(cotangents, args):
        assert np.shape(c) == np.shape(a), (np.shape(c), np.shape(a))
    left = sum(float(np.sum(np.asarray(c) * t)) for c, t in zip(cotangents, tangents))
    right = float(np.sum(np.asarray(ybar) * np.asarray(tangent)))
    scale = max(1.0, *(float(np.sum(np.abs(c))) for c in cotangents),
                float(np.sum(np.abs(tangent))))
    assert abs(left - right) <= 1e-9 * scale, (left, right)

    # (4) forward mode equals reverse mode
    forward = adc.grad(f_scalar, wrt=(0, 1), mode="forward")(*args)
    for got, expected in zip(forward, reverse):
        close(got, np.asarray(expected, dtype=np.float64), 1e-9, gscale)

    # (6) the Hessian w.r.t. x against central differences of the (checked) gradient
    if np.size(args[0]) <= 12:
        hessian = adc.hessian(f_scalar, wrt=0)(*args)
        gradient = adc.grad(f_scalar, wrt=0)
        hscale = max(1.0, float(np.max(np.abs(hessian))))
        for idx in np.ndindex(np.shape(args[0])):
            scale = max(1.0, abs(float(np.asarray(args[0])[idx])))

            def run(a):
                return np.asarray(gradient(*a), dtype=np.float64), kinks

            column = richardson(run, kinks, lambda t, idx=idx, scale=scale:
                                _shifted(args, 0, idx, t * scale)) / scale
            close(np.asarray(hessian)[(...,) + idx], column, 1e-6, hscale)

    # (5) the code specialised to these shapes, at another point, against the generic code
    other = [sample(rng, s) for s in program.shapes]
    for derivative in (adc.grad(f_scalar, wrt=(0, 1)), adc.grad(f_scalar, wrt=(0, 1), mode="forward")):
        generic = getattr(derivative, "_adc_generic", derivative)
        for got, expected in zip(derivative(*other), generic(*other)):
            assert type(got) is type(expected) and np.shape(got) == np.shape(expected)
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)


@SETTINGS
@given(program=programs(), seed=st.integers(0, 2**32 - 1))
@example(  # two selections of numbers added: NumPy's sum is a scalar, one where a 0-d array
    program=Program(shapes=((), ()), lines=(
        ("c", "(y / (1.5 + y * y))", "(y / (1.5 + y * y))"),
        ("b", "np.where(c > 0, c, 0.0)", "np.where(c > 0, c, 0.0)"),
        ("t1", "y ** 2", "y ** 2"),
        ("b", "np.stack([b, b], axis=0)", "np.stack([b, b], axis=0)")),
        last="b", out_shape=(2,)),
    seed=3)
def test_random_array_program(program, seed):
    note(program.render(program.last))
    note(f"shapes={program.shapes} seed={seed}")
    check(program, seed)


def _program(shapes, body: str, last: str, out_shape) -> Program:
    lines = []
    for line in body.strip().splitlines():
        target, _, text = line.strip().partition(" = ")
        if not target.isidentifier():  # a write: the statement as it is
            target, text = "", line.strip()
        lines.append((target, text, text))
    return Program(shapes, tuple(lines), last, out_shape)


def test_the_generator_writes_every_construct():
    """A fixed program using every kind of statement, checked the same way."""
    program = _program(((3,), (2, 3)), """
        a = np.where(y > 0, np.sin(x), y / (1.5 + x * x))
        b = np.concatenate([a, np.max(a, axis=0, keepdims=True)], axis=0)
        c = np.stack([b.T, np.exp(np.tanh(b)).T], axis=1)
        d = np.reshape(c, (-1, 3)) @ np.log(1.0 + y * y).T
        w1_1 = np.mean(d ** 2, axis=0) + np.sum(x[1:] * y[..., 1:], axis=-1)
        t1 = np.array(y)
        y_1 = t1[1:]
        y_1[0, ::2] = np.sin(w1_1)
        t1[:, 0] += x[1:]
        t1[[0, 1]] = t1 * a
        w1_1 = np.sum(t1 * y_1, axis=1)
    """, "w1_1", (2,))
    source = program.render(program.last)
    f = compile_program(source, {"np": np})
    x, y = np.array([0.3, -0.7, 1.1]), np.array([[0.5, -1.2, 0.8], [-0.4, 0.9, 1.3]])
    assert f(x, y).shape == (2,)
    check(program, 7)


def test_generated_programs_are_valid_numpy():
    """The shape tracking agrees with NumPy on a sample of generated programs."""

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(program=programs())
    def run(program):
        rng = np.random.default_rng(zlib.crc32(program.render("0").encode()))
        args = [sample(rng, s) for s in program.shapes]
        f = compile_program(program.render(program.last), {"np": np})
        with np.errstate(all="ignore"):
            assert np.shape(f(*args)) == program.out_shape

    run()


# ------------------------------------------------------------------ found by the generator
# Bugs the generator found (fixed in d7b6265 and 578d12a), each reduced to a minimal program.


def _grad_of(source: str, namespace: dict | None = None, **kwargs):
    return adc.grad(compile_program(source, dict(namespace or {}, np=np)), **kwargs)


W6 = np.arange(1.0, 7.0)


@pytest.mark.parametrize("body", ["np.concatenate([x, x]) * W", "np.stack([x, x]) * W.reshape(2, 3)"])
def test_found_same_name_twice_in_a_list(body):
    """Reverse mode passed only the first element's adjoint of [x, x] back to x."""
    f = _grad_of(f"def f(x):\n    return np.sum({body})\n", {"W": W6})
    np.testing.assert_allclose(f(np.array([0.1, 0.2, 0.3])), W6[:3] + W6[3:])


@pytest.mark.parametrize("body", ["a = np.sin(y)\n    return a[0]",
                                  "return np.sum(np.sin(y)[1:] * y[:2])"])
def test_found_index_of_a_computed_array(body):
    """Reverse mode multiplied the sparse adjoint of a computed array's element by the
    partial of the operation that computed it: TypeError, IndexUpdate * float."""
    f = _grad_of(f"def f(y):\n    {body}\n")
    y = np.array([0.6, -1.3, -1.0])
    if "a[0]" in body:
        expected = [np.cos(y[0]), 0.0, 0.0]
    else:  # d/dy of sin(y1) y0 + sin(y2) y1
        expected = [np.sin(y[1]), np.cos(y[1]) * y[0] + np.sin(y[2]), np.cos(y[2]) * y[1]]
    np.testing.assert_allclose(f(y), expected)


@pytest.mark.parametrize("result", ["a @ x", "np.concatenate([a, x])", "np.reshape(a, (3, 1))",
                                    "a.T"])
def test_found_zero_tangent_in_forward_mode(result):
    """The tangent of x - x, folded to the scalar 0.0, went into matmul / concatenate /
    reshape (ValueError) and came out of .T with shape ()."""
    f = compile_program(f"def f(x):\n    a = x - x\n    return {result}\n", {"np": np})
    x, t = np.array([0.6, -1.3, -1.0]), np.array([0.5, 0.25, -1.0])
    value, tangent = adc.jvp(f, (x,), (t,))
    expected = {"a @ x": 0.0, "np.concatenate([a, x])": np.concatenate([0 * t, t]),
                "np.reshape(a, (3, 1))": np.zeros((3, 1)), "a.T": np.zeros(3)}[result]
    assert np.shape(tangent) == np.shape(expected)
    np.testing.assert_allclose(tangent, expected)


@pytest.mark.parametrize("else_", ["0.0", "x"])
def test_found_where_else_without_tangent(else_):
    """Forward gradients (vector mode) of np.where whose else-branch has no tangent:
    TypeError, batched_where() missing 't2'."""
    f = _grad_of(f"def f(x, y):\n    return np.sum(np.where(y > 0, y, {else_}))\n",
                 wrt=1, mode="forward")
    np.testing.assert_allclose(f(np.array([0.6, -1.3, -1.0]), np.array([0.5, -0.2, 0.9])),
                               [1.0, 0.0, 1.0])


@pytest.mark.parametrize("body", ["np.sum(np.sum(x + y, axis=0) * W3)", "np.sum((x + y).T * W3)"])
def test_found_broadcast_in_vector_mode(body):
    """Forward gradients (vector mode): the tangent of x + y kept x's shape, so
    np.sum(axis=0) summed the wrong axis ([6, 6, 6], not [2, 4, 6]) and .T raised."""
    source = f"def f(x, y):\n    return {body}\n"
    w3 = np.array([1.0, 2.0, 3.0])
    x, y = np.array([0.1, 0.2, 0.3]), np.array([[0.5, -0.2, 0.9], [0.4, 0.3, -0.6]])
    f = _grad_of(source, {"W3": w3 if "axis" in body else np.outer(w3, [1.0, 0.5])},
                 mode="forward")
    expected = _grad_of(source, {"W3": w3 if "axis" in body else np.outer(w3, [1.0, 0.5])})
    np.testing.assert_allclose(f(x, y), expected(x, y))
    np.testing.assert_allclose(f(x, y), 2 * w3 if "axis" in body else 1.5 * w3)


def test_found_where_broadcast_by_the_branch_without_tangent():
    """Forward gradients (vector mode) of np.where(y > 0, y, x), y of shape (3,) and x of
    (2, 3): the tangent kept y's shape, so the gradient was [1, 0, 1], half the right one."""
    f = _grad_of("def f(x, y):\n    return np.sum(np.where(y > 0, y, x))\n",
                 wrt=1, mode="forward")
    x, y = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]), np.array([0.5, -0.2, 0.9])
    np.testing.assert_allclose(f(x, y), [2.0, 0.0, 2.0])


@pytest.mark.parametrize("a", ["y @ x", "np.reshape(y, (3, 2))", "np.concatenate([y, y])"])
@pytest.mark.parametrize("zero", ["a - a", "0.0 * a"])
def test_found_zero_adjoint_in_reverse_mode(a, zero):
    """Reverse mode: the adjoint of a, folded to the scalar 0.0, went into the adjoints of
    @, np.reshape and np.concatenate (ValueError, TypeError)."""
    f = _grad_of(f"def f(x, y):\n    a = {a}\n    return np.sum({zero})\n", wrt=(0, 1))
    x, y = np.array([0.1, -0.2, 0.3]), np.array([[0.5, -0.2, 0.9], [0.4, 0.3, -0.6]])
    gx, gy = f(x, y)
    np.testing.assert_array_equal(gx, np.zeros(3))
    np.testing.assert_array_equal(gy, np.zeros((2, 3)))
