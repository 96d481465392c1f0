"""What the compiler knows about shapes without running the function.

Derivative code is compiled once for inputs of any shape, so an adjoint must be
summed back to its operand's shape wherever broadcasting may have widened it
(``b_bar = unbroadcast(z_bar, b)`` for ``z = x @ W + b``).  To keep that call out of
code where it cannot matter, values get *shape classes*: two values in one class
have the same shape whatever the inputs are.

Scalar code needs no class at all.  When a function uses no array primitive
(no reduction, product, shape change or slice) and its single output is a scalar,
every value on a path to that output is a scalar too, because elementwise
operations only widen shapes; so gradients of such functions are generated exactly
as before, with no shape bookkeeping.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from .ir import (
    Block,
    Const,
    FreeName,
    Function,
    IfOp,
    LoopOp,
    Op,
    Operand,
    Value,
    joined_sources,
    walk_ops,
)
from .registry import get, has_expr, is_array, is_helper
from .registry.emit import param

SCALAR = "scalar"


class ShapeFacts:
    """Shape classes of a function's values; `scalar_code` skips them all."""

    def __init__(self, fn: Function | None, scalar_code: bool) -> None:
        self.scalar_code = scalar_code
        self.classes: dict[int, Any] = {}
        self.aliases: dict[int, Value] = {}  # a recomputed value -> the value it recomputes
        self.same_as: dict[int, Value] = {}  # a value -> one known to have its shape
        # vector mode: values carrying a trailing axis of directions, and the seed tangent
        # that tells how many there are (None outside vector mode)
        self.batched: set[int] | None = None
        self.batch_seed: Value | None = None
        # values known to be whole numbers or arrays of them (`Kinds`' "int"): an index
        # that is one never holds a ``...`` the directions' axis must be kept from
        self.integers: set[int] = set()
        # batched reverse mode: the batched values are adjoints, and the runtime helpers
        # adjoint rules call take their batched forms (registry/emit.py)
        self.batched_adjoints = False
        self._fresh = itertools.count()
        if fn is not None and not scalar_code:
            self._classify(fn)

    def _classify(self, fn: Function) -> None:
        """Classes of every value.  An ``if``'s result is a scalar where every branch
        yields one (its branches are classified first).  A loop's carried value that
        starts as a number (``total = 0`` before ``total = total + np.sum(r ** 2)``) is
        assumed a scalar, then checked: one whose next value is not certainly a scalar
        loses the assumption and the pass runs again (each run assumes less)."""
        doubted: set[int] = set()
        while True:
            self.classes.clear()
            assumed: list[tuple[Value, Operand]] = []
            for op in _branches_first(fn.body):
                self._visit(op)
                if isinstance(op, IfOp):
                    for k, result in enumerate(op.results):
                        if all(len(b.yields) > k and self.shape_class(b.yields[k]) == SCALAR
                               for b in op.blocks):
                            self.classes[result.uid] = SCALAR
                elif isinstance(op, LoopOp):
                    assumed.extend(self._assume_scalars(op, doubted))
            wrong = {v.uid for v, nxt in assumed if self.shape_class(nxt) != SCALAR}
            if not wrong:
                return
            doubted |= wrong

    def _assume_scalars(self, op: LoopOp, doubted: set[int]) -> list[tuple[Value, Operand]]:
        """The results (and carried parameters) of a loop taken to be scalars, each with
        the next value that must then be a scalar too."""
        assumed = []
        for k, init in enumerate(op.inits):
            if k >= len(op.results) or k >= len(op.body.yields):
                break
            result = op.results[k]
            if result.uid in doubted or self.shape_class(init) != SCALAR:
                continue
            for params in op.carrier_params:
                self.classes[params[k].uid] = SCALAR
            self.classes[result.uid] = SCALAR
            assumed.append((result, op.body.yields[k]))
        return assumed

    @classmethod
    def of(cls, fn: Function, *, scalar_output: bool) -> ShapeFacts:
        return cls(fn, scalar_code=scalar_output and not uses_arrays(fn))

    def same_shape(self, a: Operand, b: Operand) -> bool:
        """Whether `a` and `b` certainly have one shape (so no unbroadcast is needed)."""
        return self.scalar_code or self.shape_class(a) == self.shape_class(b)

    def shape_class(self, operand: Operand) -> Any:
        if isinstance(operand, Const):
            value = operand.value
            return SCALAR if isinstance(value, (int, float, bool)) else ("const", id(value))
        if isinstance(operand, FreeName):
            return ("free", operand.name)
        while operand.uid in self.aliases or operand.uid in self.same_as:
            operand = self.aliases.get(operand.uid) or self.same_as[operand.uid]
        if operand.uid not in self.classes:
            self.classes[operand.uid] = next(self._fresh)
        return self.classes[operand.uid]

    def _visit(self, op: Op) -> None:
        if not op.results:
            return
        result = op.results[0]
        record = get(op.prim)
        if op.prim == "copy":
            cls: Any = self.shape_class(op.args[0])
        elif has_expr(op.prim) and len(op.results) == 1:
            if op.attrs.get("family") == "math":
                cls = SCALAR
            else:
                cls = self._broadcast([self.shape_class(a) for a in op.args])
        elif record is not None and record.reduction and _const(op, "axis") is None \
                and not _const(op, "keepdims"):
            cls = SCALAR
        elif record is not None and record.shaped_like is not None \
                and len(op.args) > record.shaped_like:
            cls = self.shape_class(op.args[record.shaped_like])
        else:
            return  # results get classes of their own when first asked
        self.classes[result.uid] = cls

    def _broadcast(self, classes: list[Any]) -> Any:
        shaped = {c for c in classes if c != SCALAR}
        if not shaped:
            return SCALAR
        if len(shaped) == 1:
            return shaped.pop()
        return next(self._fresh)


def _branches_first(block: Block) -> Iterator[Op]:
    """The ops of `block` and of the blocks nested in it, in program order, except that
    an ``if`` comes after its branches (a loop still comes before its body)."""
    stack: list[tuple[Iterator[Op], Op | None]] = [(iter(block.ops), None)]
    while stack:
        ops, pending = stack[-1]
        op = next(ops, None)
        if op is None:
            stack.pop()
            if pending is not None:
                yield pending
            continue
        if isinstance(op, IfOp):
            stack.append((itertools.chain.from_iterable(b.ops for b in op.blocks), op))
            continue
        yield op
        if op.blocks:
            stack.append((itertools.chain.from_iterable(b.ops for b in op.blocks), None))


def _const(op: Op, name: str) -> Any:
    """A static parameter's value; a non-constant stands for 'unknown'."""
    value = param(op, name)
    return value.value if isinstance(value, Const) else object()


def uses_arrays(fn: Function) -> bool:
    """Whether anything in `fn` makes or reshapes arrays (beyond elementwise arithmetic)."""
    made = {r.uid: op for op in walk_ops(fn.body) for r in op.results}
    broadcast = _Broadcast(fn, made)
    for op in walk_ops(fn.body):
        record = get(op.prim)
        if is_array(op.prim) or (is_helper(op.prim) and not record.says_nothing_of_arrays
                                 and not op.attrs.get("nondiff")):  # (sum's terms)
            return True
        if op.prim == "custom" and "rule" in op.attrs:  # a user's rule for arrays
            return True
        if op.prim == "getitem" and (len(op.args) > 2 or _is_array_index(op.args[1])
                                     or broadcast.may_be(op.args[0])):
            return True
    return False


class _Broadcast:
    """``(a * x)[1]``: an item of what elementwise arithmetic or a math function made is
    an item of an array whose shape may be broadcast (a number has no items), so
    indexing narrows it; so is an item of what an ``if`` or a loop passed on from such
    arithmetic (``sum(w + 2.0 * x)``, ``for v in c``, ``a, b = c`` index too).  ``+``
    and ``*`` by an integer may join or repeat lists instead, unless the kinds of
    their operands (`Kinds`) say they are arithmetic."""

    def __init__(self, fn: Function, made: dict[int, Op]) -> None:
        self.fn = fn
        self.made = made
        self.carried: dict[int, list[Operand]] = {}  # a loop's carried value: its sources
        for op in walk_ops(fn.body):
            if isinstance(op, LoopOp):
                for params in op.carrier_params:
                    for k, p in enumerate(params):
                        self.carried[p.uid] = joined_sources(op, k)
        self._kinds: Any = None
        self._known: dict[int, bool] = {}

    def may_be(self, base: Operand) -> bool:
        if not isinstance(base, Value):
            return False
        if base.uid not in self._known:
            self._known[base.uid] = False  # (a loop's value reached again: no news)
            self._known[base.uid] = self._made_by_arithmetic(base)
        return self._known[base.uid]

    def _made_by_arithmetic(self, value: Value) -> bool:
        if value.uid in self.carried:
            return any(self.may_be(v) for v in self.carried[value.uid])
        op = self.made.get(value.uid)
        if op is None:
            return False
        if isinstance(op, (IfOp, LoopOp)):
            return any(map(self.may_be, joined_sources(op, op.results.index(value))))
        if op.prim == "keep_dtype":  # ``c += v``: the result, or a copy of it cast
            return self.may_be(op.args[1])
        if op.prim == "add" or op.prim == "mul" and any(
                isinstance(a, Const) and type(a.value) is int for a in op.args):
            return self.kinds().numeric(value)  # (else maybe list concatenation or repetition)
        return has_expr(op.prim) and len(op.results) == 1

    def kinds(self) -> Any:
        if self._kinds is None:
            from .transforms.kinds import Kinds  # (here: the transforms import this module)

            self._kinds = Kinds(self.fn, numeric_outputs=True)
        return self._kinds


def _is_array_index(index: Operand) -> bool:
    """A constant slice, None or Ellipsis (an index held in a variable may be anything)."""
    return isinstance(index, Const) and not isinstance(index.value, (int, str))
