"""Derivative rules of the array primitives: reductions, products, linear algebra, shapes.

Where `rules.py` derives elementwise partials with sympy, these primitives have
their tangent (JVP) and adjoint (VJP) rules written here, one short entry each, as
JAX keeps them beside its primitives.  Every rule is built from primitives that
have rules themselves, or from runtime helpers registered below with their own
rules, so derivative code can be differentiated again (Hessians).

Seed 002's matrix case is the ``matmul`` entry: for ``Z = X @ W``,
``X_bar = Z_bar @ W.T`` and ``W_bar = X.T @ Z_bar``.  The rules of ``np.prod``,
``np.linspace`` and ``np.arange``, with the helpers they need, are in exact_rules.py.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from . import batched, runtime
from .builder import Builder
from .ir import Const, FreeName, Op, Operand, Value
from .primitives import ARRAY_PRIMITIVES, CASTING
from .shapes import ShapeFacts

# ------------------------------------------------------------------ emitting


class Emit:
    """Array code through a builder: ``e.sum(x, axis=0)``, ``e.helper("unbroadcast", g, x)``.

    In vector mode (`facts.batched` set) it knows which values carry a trailing axis of
    directions, and applies each operation to them in its batched form."""

    def __init__(self, builder: Builder, facts: ShapeFacts | None = None) -> None:
        self.b = builder
        self.batched = facts.batched if facts is not None else None

    def is_batched(self, x: Any) -> bool:
        return self.batched is not None and isinstance(x, Value) and x.uid in self.batched

    def _mark(self, out: Operand, inputs: Any) -> Operand:
        if self.batched is not None and isinstance(out, Value) and any(
                self.is_batched(i) for i in inputs):
            self.batched.add(out.uid)
        return out

    def _aligned(self, a: Operand, b: Operand) -> tuple[Operand, Operand]:
        """A primal factor beside a batched one gets a trailing axis of length one."""
        if self.is_batched(a) and not self.is_batched(b) and not isinstance(b, Const):
            return a, self.array("expand_dims", b, axis=-1)
        if self.is_batched(b) and not self.is_batched(a) and not isinstance(a, Const):
            return self.array("expand_dims", a, axis=-1), b
        return a, b

    def add(self, a: Operand, b: Operand) -> Operand:
        return self._mark(self.b.add(*self._aligned(a, b)), (a, b))

    def sub(self, a: Operand, b: Operand) -> Operand:
        return self._mark(self.b.sub(*self._aligned(a, b)), (a, b))

    def mul(self, a: Operand, b: Operand) -> Operand:
        return self._mark(self.b.mul(*self._aligned(a, b)), (a, b))

    def truediv(self, a: Operand, b: Operand) -> Operand:
        return self._mark(self.b.apply("truediv", list(self._aligned(a, b))), (a, b))

    def neg(self, a: Operand) -> Operand:
        return self._mark(self.b.neg(a), (a,))

    def sum_terms(self, terms: list[Operand]) -> Operand | None:
        total = None
        for term in terms:
            total = term if total is None else self.add(total, term)
        return total

    def array(self, name: str, *args: Operand, **statics: Any) -> Operand:
        spec = ARRAY_PRIMITIVES[name]
        if spec.variadic:
            given = {spec.params[0]: args[0], **statics}
            variadic = list(args[1:])
        else:
            given, variadic = {**dict(zip(spec.params, args)), **statics}, []
        if any(self.is_batched(v) for v in [*given.values(), *variadic]):
            return self._mark(batched_op(self, name, given, variadic), [*given.values(), *variadic])
        return array_op(self.b, name, given, variadic)

    def helper(self, name: str, *args: Any) -> Operand:
        args = [a if isinstance(a, (Value, Const, FreeName)) else Const(a) for a in args]
        defaults = _defaults(HELPERS[name].fn)
        while args and isinstance(args[-1], Const) and len(args) - 1 in defaults \
                and _equal(args[-1].value, defaults[len(args) - 1]):
            args.pop()  # trailing arguments equal to the helper's defaults are left out
        attrs = {"fn": HELPERS[name].fn, "kwnames": ()}
        return self.b.emit(name, list(args), attrs=attrs).result

    def call(self, fn: Any, *args: Operand) -> Operand:
        """A NumPy call whose result carries no derivative (a shape, a count)."""
        attrs = {"fn": fn, "kwnames": (), "nondiff": True}
        return self.b.emit("call", list(args), attrs=attrs).result

    def __getattr__(self, name: str) -> Callable[..., Operand]:
        if name in ARRAY_PRIMITIVES:
            return lambda *operands, **statics: self.array(name, *operands, **statics)
        raise AttributeError(name)

    def batched_call(self, fn: Any, *args: Operand) -> Operand:
        """A vector-mode function (batched.py) of batched tangents, its trailing
        arguments left out where they equal its defaults."""
        args_list = list(args)
        defaults = _defaults(fn)
        while args_list and isinstance(args_list[-1], Const) and len(args_list) - 1 in defaults \
                and _equal(args_list[-1].value, defaults[len(args_list) - 1]):
            args_list.pop()
        out = self.b.emit("call", args_list, attrs={"fn": fn, "kwnames": ()}).result
        self.batched.add(out.uid)
        return out

    def broadcast_like(self, t: Operand, y: Operand) -> Operand:
        """A tangent `t` broadcast to the shape of the result `y` it belongs to."""
        if self.is_batched(t):
            return self.batched_call(batched.batched_broadcast_like, t, y)
        return self.helper("broadcast_like", t, y)

    def shape(self, x: Operand) -> Operand:
        return self.call(np.shape, x)

    def swap_last(self, x: Operand) -> Operand:
        return self.array("swapaxes", x, axis1=-1, axis2=-2)

    def expand_last(self, x: Operand) -> Operand:
        return self.array("expand_dims", x, axis=(-2, -1))


def array_op(builder: Builder, name: str, given: dict[str, Any],
             variadic: list[Operand] | None = None,
             attrs: dict[str, Any] | None = None) -> Operand:
    """Emit an array primitive from its arguments by NumPy parameter name: parameters
    without a default print by position, the others as keywords where they differ from
    NumPy's default."""
    spec = ARRAY_PRIMITIVES[name]
    args: list[Operand] = []
    kwnames: list[str] = []
    for pname in spec.params:
        if spec.variadic and pname == spec.params[-1]:
            args.extend(variadic or [])
            continue
        if pname not in given:
            continue
        value = given[pname]
        value = value if isinstance(value, (Value, Const, FreeName)) else Const(value)
        if pname not in spec.defaults and not kwnames:
            args.append(value)
        elif not (isinstance(value, Const) and _equal(value.value, spec.defaults.get(pname))):
            args.append(value)
            kwnames.append(pname)
    attrs = {"fn": spec.fn, "kwnames": tuple(kwnames), "family": "numpy", **(attrs or {})}
    return builder.emit(name, args, attrs=attrs).result


@functools.cache
def _defaults(fn: Any) -> dict[int, Any]:
    """Positions of a runtime helper's parameters that have defaults, and their values."""
    params = list(inspect.signature(fn).parameters.values())
    return {k: p.default for k, p in enumerate(params) if p.default is not p.empty}


# array primitive -> its batched form: (function, parameters it takes, in order)
_BATCHED = {
    "sum": (batched.batched_sum, ("a", "axis", "keepdims")),
    "mean": (batched.batched_mean, ("a", "axis", "keepdims")),
    "transpose": (batched.batched_transpose, ("a", "axes")),
    "swapaxes": (batched.batched_swapaxes, ("a", "axis1", "axis2")),
    "trace": (batched.batched_trace, ("a", "offset", "axis1", "axis2")),
    "reshape": (batched.batched_reshape, ("a", "shape")),
    "squeeze": (batched.batched_squeeze, ("a", "axis")),
    "expand_dims": (batched.batched_expand_dims, ("a", "axis")),
    "broadcast_to": (batched.batched_broadcast_to, ("array", "shape")),
    "concatenate": (batched.batched_concatenate, ("arrays", "axis")),
    "stack_arrays": (batched.batched_stack, ("arrays", "axis")),
    "hstack": (batched.batched_hstack, ("tup",)),
    "vstack": (batched.batched_vstack, ("tup",)),
    "where": (batched.batched_where, ("condition", "x", "y")),
    "full": (batched.batched_full, ("shape", "fill_value", "dtype")),
    "full_like": (batched.batched_full_like, ("a", "fill_value", "dtype")),
}


def batched_op(e: Emit, name: str, given: dict[str, Any], variadic: list[Operand]) -> Operand:
    """An array primitive applied to batched operands (vector mode)."""
    spec = ARRAY_PRIMITIVES[name]

    def operand(pname: str) -> Operand:
        value = given.get(pname, Const(spec.defaults.get(pname)))
        return value if isinstance(value, (Value, Const, FreeName)) else Const(value)

    def call(fn: Any, args: list[Operand]) -> Operand:
        while len(args) > 1 and isinstance(args[-1], Const) and (
                args[-1].value is None or args[-1].value is False) \
                and _defaults(fn).get(len(args) - 1, 0) is args[-1].value:
            args = args[:-1]
        return e.b.emit("call", args, attrs={"fn": fn, "kwnames": ()}).result

    if name == "ravel":
        return call(batched.batched_reshape, [operand("a"), Const(-1)])
    if name in ("array", "matmul", "dot", "einsum", "solve") and name not in _BATCHED:
        if name == "array":  # np.array of batched items stacks their directions too
            return array_op(e.b, name, given, variadic)
        if name == "einsum":
            _einsum_parts_or_refuse(operand("subscripts"), len(variadic))
            k = next(i for i, v in enumerate(variadic) if e.is_batched(v))
            return call(batched.batched_einsum, [operand("subscripts"), Const(k), *variadic])
        first, second = (operand(p) for p in spec.params[:2])
        if name == "solve":
            if e.is_batched(first):
                raise NotImplementedError("no batched rule for a batched matrix in solve")
            return call(batched.batched_solve, [first, second])
        if e.is_batched(first):
            return call(batched.batched_matmul, [first, second])
        return call(batched.batched_rmatmul, [first, second])
    if name in _BATCHED:
        fn, params = _BATCHED[name]
        return call(fn, [operand(p) for p in params])
    # the fallback: one direction at a time
    positions = tuple(k for k, p in enumerate(spec.params) if e.is_batched(given.get(p)))
    args = [operand(p) for p in spec.params]
    return call(batched.vmap_last, [Const(spec.fn), Const(positions), *args])


def _einsum_parts_or_refuse(spec: Operand, n: int) -> None:
    """Refuse, when compiling, an einsum the adjoint and batched helpers cannot do."""
    if not (isinstance(spec, Const) and isinstance(spec.value, str)):
        raise NotImplementedError("np.einsum needs its subscripts as a constant string")
    try:
        runtime._einsum_parts(spec.value, n)
    except ValueError as exc:
        raise NotImplementedError(str(exc)) from None


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def param(op: Op, name: str) -> Operand:
    """An array op's argument for NumPy parameter `name` (its default if not passed)."""
    spec = ARRAY_PRIMITIVES[op.prim]
    kwnames = op.attrs.get("kwnames", ())
    positional = len(op.args) - len(kwnames)
    if name in kwnames:
        return op.args[positional + kwnames.index(name)]
    k = spec.params.index(name)
    if k < positional:
        return op.args[k]
    return Const(spec.defaults.get(name))


def static(op: Op, name: str) -> Any:
    """A parameter the rule needs at compile time (``ord`` of a norm, an einsum spec)."""
    value = param(op, name)
    if not isinstance(value, Const):
        raise ValueError(f"'{name}' must be a constant to differentiate "
                         f"'{op.attrs.get('callee') or op.prim}'")
    return value.value


# ------------------------------------------------------------------ runtime helpers


def _nth(args: list[Operand], k: int, default: Any) -> Operand:
    """A helper's argument `k`, which it leaves out where it equals the default."""
    return args[k] if k < len(args) else Const(default)


class Helper:
    """A runtime function derivative code calls, linear in the arguments at `linear`:
    each separately (multilinear, like a product), or jointly (`joint`, like a sum).

    A helper that is not linear in some arguments (`nonlinear`) has a tangent rule of
    its own, `jvp(e, op, tangents)`, which works in vector mode too; `vjp(e, g, args)`
    gives the partial adjoints of all its arguments (None for 'zero').  Where its
    nonlinear arguments' derivatives have no rule, `unsupported` names them, and a
    derivative through them is refused.
    """

    def __init__(self, fn: Any, linear: tuple[int, ...], vjp: Callable | None = None,
                 joint: bool = False, nonlinear: tuple[int, ...] = (),
                 jvp: Callable | None = None, unsupported: str = "") -> None:
        self.fn, self.linear, self.vjp, self.joint = fn, linear, vjp, joint
        self.nonlinear, self.jvp, self.unsupported = nonlinear, jvp, unsupported

    @property
    def positions(self) -> tuple[int, ...]:
        """The arguments that carry derivatives."""
        return self.linear + self.nonlinear


HELPERS: dict[str, Helper] = {
    "unbroadcast": Helper(runtime.unbroadcast, (0,),
                          lambda e, g, a: [e.helper("broadcast_like", g, a[0])]),
    "broadcast_like": Helper(runtime.broadcast_like, (0,),
                             lambda e, g, a: [e.helper("unbroadcast", g, a[0])]),
    "sum_adjoint": Helper(runtime.sum_adjoint, (0,), lambda e, g, a: [
        e.sum(g, axis=_nth(a, 2, None), keepdims=_nth(a, 3, False))]),
    "mean_adjoint": Helper(runtime.mean_adjoint, (0,), lambda e, g, a: [
        e.mean(g, axis=_nth(a, 2, None), keepdims=_nth(a, 3, False))]),
    "matmul_adjoint_a": Helper(runtime.matmul_adjoint_a, (0, 2), lambda e, g, a: [
        e.matmul(g, a[2]), None, e.helper("matmul_adjoint_b", a[0], g, a[2])]),
    "matmul_adjoint_b": Helper(runtime.matmul_adjoint_b, (0, 1), lambda e, g, a: [
        e.matmul(a[1], g), e.helper("matmul_adjoint_a", a[0], a[1], g), None]),
    "inner_adjoint_a": Helper(runtime.inner_adjoint_a, (0, 2)),
    "inner_adjoint_b": Helper(runtime.inner_adjoint_b, (0, 1)),
    "trace_adjoint": Helper(runtime.trace_adjoint, (0,)),
    "split_like": Helper(runtime.split_like, (0,)),
    "unstack": Helper(runtime.unstack, (0,)),
    "hstack_adjoint": Helper(runtime.hstack_adjoint, (0,)),
    "vstack_adjoint": Helper(runtime.vstack_adjoint, (0,)),
    "tile_adjoint": Helper(runtime.tile_adjoint, (0,)),
    "repeat_adjoint": Helper(runtime.repeat_adjoint, (0,)),
    "einsum_adjoint": Helper(runtime.einsum_adjoint, ()),  # linear positions: see _einsum_linear
    "cast_like": Helper(runtime.cast_like, (0,), lambda e, g, a: [e.helper("cast_like", g, a[0])]),
    "gradient_like": Helper(runtime.gradient_like, (0,), lambda e, g, a: [g]),
    "tuple_item": Helper(runtime.tuple_item, (0,)),
    # adjoints of lists and of indexing: kept sparse (index_update) and added item-wise
    "index_update": Helper(runtime.index_update, (2,)),
    "accumulate": Helper(runtime.add, (0, 1), joint=True),
    "densify": Helper(runtime.densify, (0,)),
    "dense": Helper(runtime.dense, (0,)),
    "list_head": Helper(runtime.list_head, (0,), lambda e, g, a: [
        e.helper("list_head_t", g, a[1], a[2])]),
    "list_tail": Helper(runtime.list_tail, (0,), lambda e, g, a: [
        e.helper("list_tail_t", g, *a[1:])]),
    "repeat_adjoint_of": Helper(runtime.repeat_adjoint_of, (0, 2), lambda e, g, a: [
        e.helper("repeat_adjoint_t", g, a[1], a[2], a[3]), None,
        e.helper("repeat_count_t", g, a[0], a[2], a[3])]),
    "list_head_t": Helper(runtime.list_head_t, (0,), lambda e, g, a: [
        e.helper("list_head", g, a[1], a[2])]),
    "list_tail_t": Helper(runtime.list_tail_t, (0,), lambda e, g, a: [
        e.helper("list_tail", g, *a[1:])]),
    "repeat_adjoint_t": Helper(runtime.repeat_adjoint_t, (0, 2)),
    "sum_tangent": Helper(runtime.sum_tangent, (2, 3), joint=True),
    "product_tangent": Helper(runtime.product_tangent, (2, 3), joint=True),
    "repeat_count_t": Helper(runtime.repeat_count_t, (0, 1)),
    "as_gradient": Helper(runtime.as_gradient, (0,), lambda e, g, a: [g]),
    "items_of": Helper(runtime.items_of, (0,), lambda e, g, a: [e.helper("items_of_t", g, a[0])],
                       jvp=lambda e, op, t: _items_of_jvp(e, op, t)),
    "items_of_dot": Helper(runtime.items_of_dot, (0,)),
    "items_of_t": Helper(runtime.items_of_t, (0,)),
    "field_update": Helper(runtime.field_update, (2,)),
    "zeros_of": Helper(runtime.zeros_of, ()),
    "reduced_count": Helper(runtime.reduced_count, ()),
    "extremum_mask": Helper(runtime.extremum_mask, ()),
    "zero_if_integral": Helper(runtime.zero_if_integral, (0,), jvp=lambda e, op, t: (
        None if t[0] is None else e._mark(e.helper("zero_if_integral", t[0], op.args[1]),
                                          [t[0]])),
        vjp=lambda e, g, a: [e.helper("zero_if_integral", g, a[1]), None]),
}  # (exact_rules.py adds those of np.prod and np.linspace, rules_linalg.py its own)
NONDIFF_HELPERS = frozenset({"zeros_of", "reduced_count", "extremum_mask"})
# helpers user code itself may lower to, which say nothing about arrays
CONTAINER_HELPERS = frozenset({"items_of"})


def _items_of_jvp(e: Emit, op: Op, tangents: list) -> Operand | None:
    """A loop's items: the tangent's items, none for a dict's keys (one sweep per
    direction in vector mode, whose batched tangents of lists it does not follow)."""
    if tangents[0] is None:
        return None
    if e.batched is not None:
        raise NotImplementedError("no vector-mode rule for 'items_of'")
    return e.helper("items_of_dot", tangents[0], op.args[0])


def _einsum_linear(op: Op) -> list[int]:
    k = op.args[1].value
    return [2] + [3 + i for i in range(len(op.args) - 3) if i != k]


# ------------------------------------------------------------------ tangents (JVP)

LINEAR = {"sum", "mean", "transpose", "trace", "reshape", "ravel", "squeeze", "expand_dims",
          "swapaxes", "broadcast_to", "concatenate", "stack_arrays", "hstack", "vstack", "tile",
          "repeat", "array", "where", "full", "full_like"}
MULTILINEAR = {"matmul", "dot", "outer", "inner", "einsum"}


def _replaced(builder: Builder, op: Op, replace: dict[int, Operand]) -> Operand:
    """The op again with some arguments replaced by tangents."""
    args = [replace.get(k, a) for k, a in enumerate(op.args)]
    attrs = {k: v for k, v in op.attrs.items() if k in ("fn", "kwnames", "family", "inexact")}
    return builder.emit(op.prim, args, attrs=attrs).result


def _reduce_like(e: Emit, op: Op, x: Operand) -> Operand:
    return e.sum(x, axis=param(op, "axis"), keepdims=param(op, "keepdims"))


def _variance_parts(e: Emit, op: Op) -> tuple[Operand, Operand]:
    """``x - mean(x)`` and ``count - ddof`` for var and std."""
    x, axis = op.args[0], param(op, "axis")
    centred = e.sub(x, e.mean(x, axis=axis, keepdims=True))
    dof = e.sub(e.helper("reduced_count", x, axis), param(op, "ddof"))
    return centred, dof


def _inv_t(e: Emit, a: Operand) -> Operand:
    return e.swap_last(e.inv(a))


NONLINEAR_JVPS: dict[str, Callable[[Emit, Op, list], Operand | None]] = {
    "max": lambda e, op, t: _reduce_like(e, op, e.mul(t[0], _mask(e, op))),
    "min": lambda e, op, t: _reduce_like(e, op, e.mul(t[0], _mask(e, op))),
    "var": lambda e, op, t: (lambda c, n: e.truediv(e.mul(Const(2.0), _reduce_like(
        e, op, e.mul(c, t[0]))), n))(*_variance_parts(e, op)),
    "std": lambda e, op, t: (lambda c, n: e.truediv(_reduce_like(e, op, e.mul(c, t[0])),
                                                    e.mul(n, op.result)))(*_variance_parts(e, op)),
    "norm": lambda e, op, t: e.truediv(_reduce_like(e, op, e.mul(op.args[0], t[0])), op.result),
    "inv": lambda e, op, t: e.neg(e.matmul(e.matmul(op.result, t[0]), op.result)),
    "det": lambda e, op, t: e.mul(op.result, e.sum(e.mul(_inv_t(e, op.args[0]), t[0]),
                                                   axis=(-2, -1))),
    "slogdet": lambda e, op, t: _slogdet_jvp(e, op, t[0]),
}


def _slogdet_jvp(e: Emit, op: Op, t: Operand) -> Operand:
    """(0, tr(A^-1 dA)): the sign is piecewise constant; in vector mode the pair carries
    directions because its second item does."""
    logdet_dot = e.sum(e.mul(_inv_t(e, op.args[0]), t), axis=(-2, -1))
    pair = e.b.emit("pack", [Const(0.0), logdet_dot], attrs={"kind": "tuple"}).result
    return e._mark(pair, [logdet_dot])


def _mask(e: Emit, op: Op) -> Operand:
    return e.helper("extremum_mask", op.args[0], op.result, param(op, "axis"),
                    param(op, "keepdims"))


def _given(op: Op, replace: dict[int, Operand]) -> tuple[dict[str, Operand], list[Operand]]:
    """An array op's arguments by NumPy parameter name (and einsum's operands), with
    the arguments at some positions replaced."""
    spec = ARRAY_PRIMITIVES[op.prim]
    args = [replace.get(k, a) for k, a in enumerate(op.args)]
    if spec.variadic:
        return {spec.params[0]: args[0]}, args[1:]
    kwnames = op.attrs.get("kwnames", ())
    positional = len(args) - len(kwnames)
    given = dict(zip(spec.params, args[:positional]))
    given.update(zip(kwnames, args[positional:]))
    return given, []


def _apply(e: Emit, op: Op, replace: dict[int, Operand]) -> Operand:
    given, variadic = _given(op, replace)
    spec = ARRAY_PRIMITIVES[op.prim]
    if spec.variadic:
        return e.array(op.prim, given[spec.params[0]], *variadic)
    return e.array(op.prim, **given)


def array_jvp(builder: Builder, op: Op, tangents: list[Operand | None],
              facts: ShapeFacts | None = None) -> Operand | None:
    """Tangent of an array primitive's or runtime helper's result."""
    e = Emit(builder, facts)
    return _zero_if_integral(e, op, _array_jvp(e, op, tangents))


def _array_jvp(e: Emit, op: Op, tangents: list[Operand | None]) -> Operand | None:
    builder = e.b
    if op.prim in ARRAY_PRIMITIVES and all(
            k >= len(tangents) or tangents[k] is None for k in _operand_positions(op)):
        return None  # only an argument without a derivative varies (full_like's array)
    if op.prim in HELPERS:
        helper = HELPERS[op.prim]
        _refuse_unsupported(helper, [k for k in helper.nonlinear
                                     if k < len(tangents) and tangents[k] is not None])
        if helper.jvp is not None:
            return helper.jvp(e, op, tangents)
    if e.batched is not None and op.prim in HELPERS:
        return _helper_batched(e, op, tangents)
    if e.batched is not None and op.prim in LINEAR:
        return _apply(e, op, {k: tangents[k] if tangents[k] is not None else Const(0.0)
                              for k in _operand_positions(op)})
    if e.batched is not None and op.prim in MULTILINEAR:
        return e.sum_terms([_apply(e, op, {k: tangents[k]}) for k in _operand_positions(op)
                            if tangents[k] is not None])
    if op.prim in HELPERS:
        helper = HELPERS[op.prim]
        linear = _einsum_linear(op) if op.prim == "einsum_adjoint" else helper.linear
        if helper.joint:
            return _replaced(builder, op, {k: tangents[k] if tangents[k] is not None
                                           else Const(0.0) for k in linear})
        terms = [_replaced(builder, op, {k: tangents[k]}) for k in linear
                 if k < len(tangents) and tangents[k] is not None]
        return builder.sum(terms) if terms else None
    if op.prim in LINEAR:
        operands = _operand_positions(op)
        replace = {k: tangents[k] if tangents[k] is not None else Const(0.0) for k in operands}
        return _replaced(builder, op, replace)
    if op.prim in MULTILINEAR:
        terms = [_replaced(builder, op, {k: tangents[k]}) for k in _operand_positions(op)
                 if tangents[k] is not None]
        return builder.sum(terms) if terms else None
    return NONLINEAR_JVPS[op.prim](e, op, tangents)


# helpers returning one array, which vector mode may apply one direction at a time
_VMAPPED_HELPERS = frozenset({
    "unbroadcast", "broadcast_like", "sum_adjoint", "mean_adjoint", "matmul_adjoint_a",
    "matmul_adjoint_b", "inner_adjoint_a", "inner_adjoint_b", "trace_adjoint", "tile_adjoint",
    "repeat_adjoint", "einsum_adjoint", "cast_like", "gradient_like", "linspace_adjoint"})


def _helper_batched(e: Emit, op: Op, tangents: list[Operand | None]) -> Operand | None:
    """Vector mode through a runtime helper: the helper again, on each direction of its
    batched tangent operands in turn (``vmap_last``), the results stacked."""
    if op.prim not in _VMAPPED_HELPERS:
        raise NotImplementedError(f"no vector-mode rule for '{op.prim}'")
    helper = HELPERS[op.prim]
    linear = _einsum_linear(op) if op.prim == "einsum_adjoint" else helper.linear
    terms = [_replay(e, op, {k: tangents[k]}) for k in linear
             if k < len(tangents) and tangents[k] is not None]
    return e.sum_terms(terms) if terms else None


def _replay(e: Emit, op: Op, replace: dict[int, Operand]) -> Operand:
    """A helper op again with some arguments replaced by tangents; in vector mode, on
    each direction of the batched ones in turn (``vmap_last``), the results stacked."""
    args = [replace.get(k, a) for k, a in enumerate(op.args)]
    positions = tuple(k for k in replace if e.is_batched(args[k]))
    if not positions:
        return _replaced(e.b, op, replace)
    out = e.b.emit("call", [Const(HELPERS[op.prim].fn), Const(positions), *args],
                   attrs={"fn": batched.vmap_last, "kwnames": ()}).result
    e.batched.add(out.uid)
    return out


def _refuse_unsupported(helper: Helper, positions: list[int]) -> None:
    if helper.unsupported and positions:
        raise NotImplementedError(f"{helper.unsupported} have no rule (take fewer "
                                  "derivatives of this function, or a different one)")


def _operand_positions(op: Op) -> list[int]:
    """Where the arguments that carry derivatives are among the op's arguments (an
    operand with a default, like arange's step, may be passed by keyword)."""
    spec = ARRAY_PRIMITIVES[op.prim]
    if spec.variadic:
        return list(range(1, len(op.args) - len(op.attrs.get("kwnames", ()))))
    return [k for k in (_position(op, spec.params[i]) for i in spec.operands) if k is not None]


def _position(op: Op, name: str) -> int | None:
    """The index among the op's arguments of NumPy parameter `name`, None if not passed."""
    kwnames = op.attrs.get("kwnames", ())
    positional = len(op.args) - len(kwnames)
    if name in kwnames:
        return positional + kwnames.index(name)
    k = ARRAY_PRIMITIVES[op.prim].params.index(name)
    return k if k < positional else None


# ------------------------------------------------------------------ adjoints (VJP)

def _sum_back(e: Emit, op: Op, g: Operand) -> Operand:
    return e.helper("sum_adjoint", g, op.args[0], param(op, "axis"), param(op, "keepdims"))


def _variance_vjp(e: Emit, op: Op, g: Operand, std: bool) -> list[Operand]:
    centred, dof = _variance_parts(e, op)
    if std:
        return [e.truediv(e.mul(_sum_back(e, op, e.truediv(g, op.result)), centred), dof)]
    return [e.truediv(e.mul(e.mul(Const(2.0), _sum_back(e, op, g)), centred), dof)]


def _transpose_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    axes = param(op, "axes")
    if isinstance(axes, Const) and axes.value is None:
        return [e.transpose(g)]
    if isinstance(axes, Const):
        return [e.transpose(g, axes=tuple(int(k) for k in np.argsort(axes.value)))]
    return [e.transpose(g, axes=e.call(np.argsort, axes))]


def _shape_back(e: Emit, op: Op, g: Operand) -> list[Operand]:
    return [e.reshape(g, e.shape(op.args[0]))]


def _einsum_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    spec = static(op, "subscripts")
    operands = op.args[1:]
    _einsum_parts_or_refuse(Const(spec), len(operands))  # what the helper cannot do, now
    return [None] + [e.helper("einsum_adjoint", spec, k, g, *operands)
                     for k in range(len(operands))]


VJPS: dict[str, Callable[[Emit, Op, Operand], list[Operand | None]]] = {
    "sum": lambda e, op, g: [_sum_back(e, op, g)],
    "mean": lambda e, op, g: [e.helper("mean_adjoint", g, op.args[0], param(op, "axis"),
                                       param(op, "keepdims"))],
    "max": lambda e, op, g: [e.mul(_sum_back(e, op, g), _mask(e, op))],
    "min": lambda e, op, g: [e.mul(_sum_back(e, op, g), _mask(e, op))],
    "var": lambda e, op, g: _variance_vjp(e, op, g, std=False),
    "std": lambda e, op, g: _variance_vjp(e, op, g, std=True),
    "norm": lambda e, op, g: [e.mul(op.args[0], _sum_back(e, op, e.truediv(g, op.result)))],
    "matmul": lambda e, op, g: [e.helper("matmul_adjoint_a", g, *op.args[:2]),
                                e.helper("matmul_adjoint_b", g, *op.args[:2])],
    "dot": lambda e, op, g: [e.helper("matmul_adjoint_a", g, *op.args[:2]),
                             e.helper("matmul_adjoint_b", g, *op.args[:2])],
    "outer": lambda e, op, g: [e.reshape(e.matmul(g, e.ravel(op.args[1])), e.shape(op.args[0])),
                               e.reshape(e.matmul(e.ravel(op.args[0]), g), e.shape(op.args[1]))],
    "inner": lambda e, op, g: [e.helper("inner_adjoint_a", g, *op.args[:2]),
                               e.helper("inner_adjoint_b", g, *op.args[:2])],
    "einsum": _einsum_vjp,
    "transpose": _transpose_vjp,
    "trace": lambda e, op, g: [e.helper("trace_adjoint", g, op.args[0], param(op, "offset"),
                                        param(op, "axis1"), param(op, "axis2"))],
    "inv": lambda e, op, g: (lambda yt: [e.neg(e.matmul(e.matmul(yt, g), yt))])(
        e.swap_last(op.result)),
    "det": lambda e, op, g: [e.mul(e.expand_last(e.mul(g, op.result)), _inv_t(e, op.args[0]))],
    "slogdet": lambda e, op, g: [e.mul(e.expand_last(e.helper("tuple_item", g, 1)),
                                       _inv_t(e, op.args[0]))],
    "reshape": _shape_back,
    "ravel": _shape_back,
    "squeeze": _shape_back,
    "expand_dims": _shape_back,
    "swapaxes": lambda e, op, g: [e.swapaxes(g, param(op, "axis1"), param(op, "axis2"))],
    "broadcast_to": lambda e, op, g: [e.helper("unbroadcast", g, op.args[0])],
    "concatenate": lambda e, op, g: [e.helper("split_like", g, op.args[0], param(op, "axis"))],
    "stack_arrays": lambda e, op, g: [e.helper("unstack", g, param(op, "axis"))],
    "hstack": lambda e, op, g: [e.helper("hstack_adjoint", g, op.args[0])],
    "vstack": lambda e, op, g: [e.helper("vstack_adjoint", g, op.args[0])],
    "tile": lambda e, op, g: [e.helper("tile_adjoint", g, op.args[0], param(op, "reps"))],
    "repeat": lambda e, op, g: [e.helper("repeat_adjoint", g, op.args[0], param(op, "repeats"),
                                         param(op, "axis"))],
    "array": lambda e, op, g: [e.helper("cast_like", g, op.args[0])
                               if not _is_const_none(param(op, "dtype")) else g],
    "where": lambda e, op, g: [None, e.where(op.args[0], g, Const(0.0)),
                               e.where(op.args[0], Const(0.0), g)],
    # the fill value is broadcast to the whole array: its adjoint sums it back
    "full": lambda e, op, g: [None, e.helper("unbroadcast", g, op.args[1])],
    "full_like": lambda e, op, g: [None, e.helper("unbroadcast", g, op.args[1])],
}


def _may_be_integral(op: Op) -> bool:
    """Whether the result of a casting op may hold integers, so that its derivative must
    be zero: a dtype known only at run time, or full_like's (that of its first argument)."""
    if op.prim not in CASTING or op.attrs.get("inexact"):
        return False
    if _is_const_none(param(op, "dtype")):
        return op.prim == "full_like"
    return True


def _zero_if_integral(e: Emit, op: Op, derivative: Operand | None) -> Operand | None:
    if derivative is None or not _may_be_integral(op):
        return derivative
    return e._mark(e.helper("zero_if_integral", derivative, op.result), [derivative])


def _is_const_none(operand: Operand) -> bool:
    return isinstance(operand, Const) and operand.value is None


def array_vjp(builder: Builder, op: Op, g: Operand, indices: list[int]) -> list[Operand]:
    """Partial adjoints of the operands at `indices`."""
    e = Emit(builder)
    if op.prim in HELPERS:
        rule = HELPERS[op.prim].vjp
        if rule is None:
            raise NotImplementedError(
                f"the runtime helper '{op.prim}' has no adjoint rule, so this reverse-mode "
                "code cannot be differentiated in reverse mode again; take one of the two "
                "derivatives in forward mode: adc.hessian(f) (forward over reverse), or, "
                "where the differentiated arguments are numbers, "
                "adc.grad(adc.grad(f, mode='forward'))")
        _refuse_unsupported(HELPERS[op.prim], [i for i in indices
                                               if i in HELPERS[op.prim].nonlinear])
        parts = rule(e, g, op.args)
    else:
        parts = VJPS[op.prim](e, op, _zero_if_integral(e, op, g))
    return [Const(0.0) if parts[i] is None else parts[i] for i in indices]


def is_array_prim(prim: str) -> bool:
    return prim in ARRAY_PRIMITIVES or prim in HELPERS


def differentiable_positions(op: Op) -> list[int] | None:
    """Argument positions that carry derivatives; None for 'all' (elementwise ops)."""
    if op.prim in ARRAY_PRIMITIVES:
        return _operand_positions(op)
    if op.prim == "einsum_adjoint":
        return _einsum_linear(op)
    if op.prim in HELPERS:
        return list(HELPERS[op.prim].positions)
    return None


# each registers the rules it defines in the tables above
from . import exact_rules, rules_linalg, rules_scipy  # noqa: E402,F401
