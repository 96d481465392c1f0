"""The vocabulary rules are written in: `Emit` (array code through a builder) and the
arguments of an array op by NumPy parameter name (`param`, `static`, `position`).

A rule of the registry receives an `Emit` ``e`` and writes ``e.sum(x, axis=0)``,
``e.matmul(a, b)``, ``e.helper("unbroadcast", g, x)``: each emits one primitive, in
its batched form where vector mode gives an operand a trailing axis of directions.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import (
    batched,
    batched_products,
    runtime_arrays,
    runtime_linalg,
    runtime_products,
    runtime_writes,
)
from ..ir import Const, FreeName, Op, Operand, Value
from .core import REGISTRY, is_array

if TYPE_CHECKING:
    from ..builder import Builder
    from ..shapes import ShapeFacts

# ------------------------------------------------------------------ emitting


class Emit:
    """Array code through a builder: ``e.sum(x, axis=0)``, ``e.helper("unbroadcast", g, x)``.

    In vector mode (`facts.batched` set) it knows which values carry a trailing axis of
    directions, and applies each operation to them in its batched form."""

    def __init__(self, builder: Builder, facts: ShapeFacts | None = None) -> None:
        self.b = builder
        self.batched = facts.batched if facts is not None else None
        self.adjoints = facts is not None and facts.batched_adjoints

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
        spec = REGISTRY[name]
        if spec.variadic:
            fixed = len(spec.params) - 1
            given = {**dict(zip(spec.params[:fixed], args[:fixed])), **statics}
            variadic = list(args[fixed:])
        else:
            given, variadic = {**dict(zip(spec.params, args)), **statics}, []
        if any(self.is_batched(v) for v in [*given.values(), *variadic]):
            return self._mark(batched_op(self, name, given, variadic), [*given.values(), *variadic])
        return array_op(self.b, name, given, variadic)

    def helper(self, name: str, *args: Any) -> Operand:
        args = [a if isinstance(a, (Value, Const, FreeName)) else Const(a) for a in args]
        if self.adjoints and any(self.is_batched(a) for a in args) \
                and not name.endswith("_batched"):  # (a batched form already)
            return self._batched_helper(name, args)
        defaults = _defaults(REGISTRY[name].fn)
        while args and isinstance(args[-1], Const) and len(args) - 1 in defaults \
                and _equal(args[-1].value, defaults[len(args) - 1]):
            args.pop()  # trailing arguments equal to the helper's defaults are left out
        attrs = {"fn": REGISTRY[name].fn, "kwnames": ()}
        return self.b.emit(name, list(args), attrs=attrs).result

    def _batched_helper(self, name: str, args: list[Operand]) -> Operand:
        """A runtime helper of batched adjoints (batched reverse mode): its batched form,
        else, where it is linear in every batched argument, the helper one direction at a
        time (``vmap_last``); a helper nonlinear in a batched argument is refused."""
        if name in BATCHED_HELPERS:
            return self.batched_call(BATCHED_HELPERS[name], *args)
        record = REGISTRY[name]
        positions = tuple(k for k, a in enumerate(args) if self.is_batched(a))
        if not set(positions) <= set(record.linear_args):
            raise NotImplementedError(f"no batched adjoint for the runtime helper '{name}'")
        if record.batched is not None and len(positions) == 1:
            return self.batched_helper(name, positions[0], args)
        one_at_a_time = batched.vmap_last_items if record.container_result is True \
            else batched.vmap_last  # (a list of pieces, each stacked)
        return self.batched_call(one_at_a_time, Const(record.fn), Const(positions), *args)

    def batched_helper(self, name: str, k: int, args: list[Operand]) -> Operand:
        """The batched form of helper `name` (its registry entry's `batched`), where its
        argument `k` carries the directions."""
        record = REGISTRY[name]
        if len(record.linear_args) > 1:  # the arguments left out, then which is batched
            defaults = _defaults(record.fn)
            count = len(inspect.signature(record.fn).parameters)
            args = [*args, *(Const(defaults[j]) for j in range(len(args), count)), Const(k)]
        return self.batched_call(record.batched, *args)

    def call(self, fn: Any, *args: Operand) -> Operand:
        """A NumPy call whose result carries no derivative (a shape, a count)."""
        attrs = {"fn": fn, "kwnames": (), "nondiff": True}
        return self.b.emit("call", list(args), attrs=attrs).result

    def __getattr__(self, name: str) -> Callable[..., Operand]:
        if is_array(name):
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


# the batched forms of runtime helpers in batched reverse mode only, for an adjoint that
# carries the cotangents (a helper's registry entry may declare a `batched` form, which
# vector mode and batched reverse mode share: unbroadcast's, sum_adjoint's, the joins')
BATCHED_HELPERS: dict[str, Callable] = {
    "matmul_adjoint_a": batched.batched_matmul_adjoint_a,
    "matmul_adjoint_b": batched.batched_matmul_adjoint_b,
    "zero_if_integral": runtime_products.zero_if_integral,  # whatever the shape of its derivative
    "einsum_adjoint": batched_products.batched_einsum_adjoint,
    "as_column": runtime_linalg.as_column_batched,
    "from_column": runtime_linalg.from_column_batched,
    # a slice written into a list or an array's first axis: the directions' axis is last
    "written_part": runtime_writes.written_part,
    "written_part_t": runtime_writes.written_part_t,
    "uncleared": runtime_writes.uncleared,
    "cleared": runtime_writes.cleared_batched,
}


def array_op(builder: Builder, name: str, given: dict[str, Any],
             variadic: list[Operand] | None = None,
             attrs: dict[str, Any] | None = None) -> Operand:
    """Emit an array primitive from its arguments by NumPy parameter name: parameters
    without a default print by position, the others as keywords where they differ from
    NumPy's default."""
    spec = REGISTRY[name]
    args: list[Operand] = []
    kwnames: list[str] = []
    for k, pname in enumerate(spec.params):
        if spec.variadic and pname == spec.params[-1]:
            args.extend(variadic or [])
            continue
        if pname not in given:
            continue
        value = given[pname]
        value = value if isinstance(value, (Value, Const, FreeName)) else Const(value)
        if k < spec.positional and pname in spec.defaults and isinstance(value, Const) and \
                _equal(value.value, spec.defaults[pname]) and not any(
                    p in given for p in spec.params[k + 1:spec.positional]):
            continue  # a positional-only default left out: np.gradient(f), not (f, None)
        if (pname not in spec.defaults or k < spec.positional) and not kwnames:
            args.append(value)
        elif not (isinstance(value, Const) and _equal(value.value, spec.defaults.get(pname))):
            args.append(value)
            kwnames.append(pname)
    attrs = {"fn": spec.fn, "kwnames": tuple(kwnames), "family": "numpy", **(attrs or {})}
    if spec.subscript:
        attrs["subscript"] = True
    return builder.emit(name, args, attrs=attrs).result


@functools.cache
def _defaults(fn: Any) -> dict[int, Any]:
    """Positions of a runtime helper's parameters that have defaults, and their values."""
    params = list(inspect.signature(fn).parameters.values())
    return {k: p.default for k, p in enumerate(params) if p.default is not p.empty}


def batched_op(e: Emit, name: str, given: dict[str, Any], variadic: list[Operand]) -> Operand:
    """An array primitive applied to batched operands (vector mode): its declared batched
    form, else the primitive one direction at a time (``vmap_last``)."""
    spec = REGISTRY[name]
    if callable(spec.batched):
        return spec.batched(e, given, variadic)
    if spec.batched is not None:
        fn, params = spec.batched
        return batched_call(e, fn, [batched_operand(name, given, p) for p in params])
    return one_direction_at_a_time(e, name, given)


def one_direction_at_a_time(e: Emit, name: str, given: dict[str, Any]) -> Operand:
    """Array primitive `name` applied to each direction of its batched operands in turn
    (``vmap_last``), the results stacked: the fallback of vector mode."""
    spec = REGISTRY[name]
    positions = tuple(k for k, p in enumerate(spec.params) if e.is_batched(given.get(p)))
    args = [batched_operand(name, given, p) for p in spec.params]
    return batched_call(e, batched.vmap_last, [Const(spec.fn), Const(positions), *args])


def one_batched(name: str, fn: Callable, params: tuple[str, ...],
                operands: tuple[str, ...]) -> Callable:
    """The `batched=` rule of a primitive whose vector-mode form `fn` (of the parameters
    `params`) takes the directions on one of `operands`, told which by a last argument
    ``directions_in`` (its place among `operands`) where there are several; with the
    directions on another argument, or on several, the primitive one direction at a
    time."""

    def rule(e: Emit, given: dict, variadic: list) -> Operand:
        carrying = [p for p in REGISTRY[name].params if e.is_batched(given.get(p))]
        if len(carrying) != 1 or carrying[0] not in operands:
            return one_direction_at_a_time(e, name, given)
        args = [batched_operand(name, given, p) for p in params]
        if len(operands) > 1:
            args.append(Const(operands.index(carrying[0])))
        else:  # trailing arguments equal to the form's defaults are left out
            defaults = _defaults(fn)
            while args and isinstance(args[-1], Const) and len(args) - 1 in defaults \
                    and _equal(args[-1].value, defaults[len(args) - 1]):
                args.pop()
        return batched_call(e, fn, args)

    return rule


def batched_operand(name: str, given: dict[str, Any], pname: str) -> Operand:
    """Argument `pname` of a batched array op (its default where not given)."""
    value = given.get(pname, Const(REGISTRY[name].defaults.get(pname)))
    return value if isinstance(value, (Value, Const, FreeName)) else Const(value)


def batched_call(e: Emit, fn: Any, args: list[Operand]) -> Operand:
    """A call of a vector-mode function, trailing None/False defaults left out."""
    while len(args) > 1 and isinstance(args[-1], Const) and (
            args[-1].value is None or args[-1].value is False) \
            and _defaults(fn).get(len(args) - 1, 0) is args[-1].value:
        args = args[:-1]
    return e.b.emit("call", args, attrs={"fn": fn, "kwnames": ()}).result


def einsum_parts_or_refuse(spec: Operand, n: int) -> None:
    """Refuse, when compiling, an einsum the adjoint and batched helpers cannot do."""
    if not (isinstance(spec, Const) and isinstance(spec.value, str)):
        raise NotImplementedError("np.einsum needs its subscripts as a constant string")
    try:
        runtime_arrays._einsum_parts(spec.value, n)
    except ValueError as exc:
        raise NotImplementedError(str(exc)) from None


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def param(op: Op, name: str) -> Operand:
    """An array op's argument for NumPy parameter `name` (its default if not passed)."""
    spec = REGISTRY[op.prim]
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


def nth(args: list[Operand], k: int, default: Any) -> Operand:
    """A helper's argument `k`, which it leaves out where it equals the default."""
    return args[k] if k < len(args) else Const(default)



def replaced(builder: Builder, op: Op, replace: dict[int, Operand]) -> Operand:
    """The op again with some arguments replaced by tangents."""
    args = [replace.get(k, a) for k, a in enumerate(op.args)]
    attrs = {k: v for k, v in op.attrs.items() if k in ("fn", "kwnames", "family", "inexact")}
    return builder.emit(op.prim, args, attrs=attrs).result



def _given(op: Op, replace: dict[int, Operand]) -> tuple[dict[str, Operand], list[Operand]]:
    """An array op's arguments by NumPy parameter name (and a variadic one's operands), with
    the arguments at some positions replaced."""
    spec = REGISTRY[op.prim]
    args = [replace.get(k, a) for k, a in enumerate(op.args)]
    if spec.variadic:
        fixed = len(spec.params) - 1
        return dict(zip(spec.params[:fixed], args[:fixed])), args[fixed:]
    kwnames = op.attrs.get("kwnames", ())
    positional = len(args) - len(kwnames)
    given = dict(zip(spec.params, args[:positional]))
    given.update(zip(kwnames, args[positional:]))
    return given, []


def apply_again(e: Emit, op: Op, replace: dict[int, Operand]) -> Operand:
    given, variadic = _given(op, replace)
    spec = REGISTRY[op.prim]
    if spec.variadic:
        return e.array(op.prim, *(given[p] for p in spec.params[:-1]), *variadic)
    return e.array(op.prim, **given)



def replay(e: Emit, op: Op, replace: dict[int, Operand]) -> Operand:
    """A helper op again with some arguments replaced by tangents; in vector mode, its
    batched form where one argument it is linear in carries the directions, else on
    each direction of the batched ones in turn (``vmap_last``), the results stacked."""
    args = [replace.get(k, a) for k, a in enumerate(op.args)]
    positions = tuple(k for k in replace if e.is_batched(args[k]))
    if not positions:
        return replaced(e.b, op, replace)
    record = REGISTRY[op.prim]
    if record.is_helper and record.batched is not None and len(positions) == 1 \
            and positions[0] in record.linear_args:
        return e.batched_helper(op.prim, positions[0], args)
    out = e.b.emit("call", [Const(REGISTRY[op.prim].fn), Const(positions), *args],
                   attrs={"fn": batched.vmap_last, "kwnames": ()}).result
    e.batched.add(out.uid)
    return out



def operand_positions(op: Op) -> list[int]:
    """Where the arguments that carry derivatives are among the op's arguments (an
    operand with a default, like arange's step, may be passed by keyword)."""
    spec = REGISTRY[op.prim]
    if spec.variadic:  # its last parameter takes the operands
        return list(range(len(spec.params) - 1, len(op.args) - len(op.attrs.get("kwnames", ()))))
    return [k for k in (position(op, spec.params[i]) for i in spec.operands) if k is not None]


def position(op: Op, name: str) -> int | None:
    """The index among the op's arguments of NumPy parameter `name`, None if not passed."""
    kwnames = op.attrs.get("kwnames", ())
    positional = len(op.args) - len(kwnames)
    if name in kwnames:
        return positional + kwnames.index(name)
    k = REGISTRY[op.prim].params.index(name)
    return k if k < positional else None

