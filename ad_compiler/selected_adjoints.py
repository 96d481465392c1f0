"""Adjoints that ``np.where`` passed to one branch: zero where the other was selected.

``np.where(x > 0, np.sqrt(x), 0.0)`` is differentiable wherever the branch it selects
is, with that branch's derivative.  Its adjoint passes ``where(x > 0, g, 0)`` to
``np.sqrt(x)``, whose adjoint multiplies that by ``1 / (2 sqrt(x))``: at ``x = -1``
the product is ``0 * nan``, nan, though nothing of the unselected branch reached the
result.  So a nonconstant partial multiplying an adjoint known to be zero outside a
selection (`zero_outside()`) is applied inside it: ``where(selected, g * partial, 0)``,
exact wherever the partial is finite, and zero (the contribution of a branch not
taken) where it is not.  Forward mode needs nothing: the tangent of ``np.where``
selects the tangents, and a nan in the other branch's is not selected.

What is followed is only what keeps the zeros: a product, a quotient by something, a
negation, a sum of two such adjoints (selected where either is), and ``unbroadcast``,
which sums over broadcast axes (a place is selected there if one of those it sums is:
`selected_places()` in `ad_compiler/runtime_products.py`).  Anything else ends the search, and
the partial is applied as before.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import batched, runtime_products
from .builder import Builder
from .ir import Block, Const, Op, Operand, Value

# how many ops the search for an adjoint's selection visits at most
MAX_STEPS = 64


def zero_outside(builder: Builder, adjoint: Operand) -> Operand | None:
    """A boolean operand, broadcastable to `adjoint`, where `adjoint` may be nonzero:
    outside it, `adjoint` is zero because ``np.where`` selected another branch there.
    None where that is not known (what the search emits is then dead code)."""
    return _Search(builder).selection(adjoint)


def _is_zero(operand: Operand) -> bool:
    return isinstance(operand, Const) and not isinstance(operand.value, bool) \
        and isinstance(operand.value, (int, float)) and operand.value == 0


class _Search:
    """One search, each value visited once (adjoints share terms), `MAX_STEPS` in all."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self.found: dict[int, Operand | None] = {}
        self.steps = 0

    def selection(self, adjoint: Operand) -> Operand | None:
        if not isinstance(adjoint, Value):
            return None
        if adjoint.uid not in self.found:
            self.steps += 1
            self.found[adjoint.uid] = None  # (while it is searched)
            if self.steps <= MAX_STEPS:
                self.found[adjoint.uid] = self._search(adjoint)
        return self.found[adjoint.uid]

    def _search(self, adjoint: Value) -> Operand | None:
        builder = self.builder
        op = builder.producers.get(adjoint.uid)
        if op is None or not op.results or op.results[0] is not adjoint:
            return None
        args = op.args
        fn = op.attrs.get("fn") if op.prim == "call" else None  # (batched reverse mode's)
        if (op.prim == "where" or fn is batched.batched_where) and len(args) == 3:
            condition, then, other = args
            if _is_zero(other) and not _is_zero(then):
                return condition
            if _is_zero(then) and not _is_zero(other):
                return _places(builder, condition, Const(None), Const(True))
            return None
        if (op.prim == "unbroadcast" or fn is batched.batched_unbroadcast) and len(args) == 2:
            inner = self.selection(args[0])  # summed over broadcast axes
            if inner is None:
                return None
            negated = _negated(builder, inner)
            if negated is not None:  # (one call for both)
                return _places(builder, negated, args[1], Const(True))
            return _places(builder, inner, args[1])
        if op.prim in ("mul", "multiply") and len(args) == 2:
            inner = self.selection(args[0])
            return inner if inner is not None else self.selection(args[1])
        if op.prim in ("truediv", "divide", "neg", "negative"):
            return self.selection(args[0])
        if op.prim in ("add", "accumulate", "sub") and len(args) == 2:
            first = self.selection(args[0])
            second = self.selection(args[1]) if first is not None else None
            if second is None or second is first:
                return second
            return builder.emit("call", [first, second], attrs={  # zero where both are
                "fn": np.logical_or, "kwnames": (), "nondiff": True}).result
        return None


def _negated(builder: Builder, mask: Operand) -> Operand | None:
    """`c` where `mask` is ``selected_places(c, None, True)``, else None."""
    op = builder.producers.get(mask.uid) if isinstance(mask, Value) else None
    if op is not None and op.prim == "selected_places" and len(op.args) == 3 \
            and isinstance(op.args[1], Const) and op.args[1].value is None:
        return op.args[0]
    return None


def _places(builder: Builder, condition: Operand, like: Operand,
            negate: Const | None = None) -> Value:
    args = [condition, like] if negate is None else [condition, like, negate]
    return builder.emit("selected_places", args, attrs={
        "fn": runtime_products.selected_places, "kwnames": ()}).result


def fold_inner_selections(blocks: list[Block], uses: dict[int, int],
                          shaped: Callable[[Value], bool] = lambda v: True) -> None:
    """``where(c, where(c, g, 0) * p, 0)`` is ``where(c, g * p, 0)``: once specialised
    (no ``unbroadcast`` between them), the selection of the cotangent inside a product
    the same selection applies to is left out, where nothing else reads the product;
    then sums of selections by one condition are one selection (`_merged()`), where
    the sum is `shaped` (an array of at least one axis: NumPy's sum of two 0-d
    selections is a scalar, one selection a 0-d array)."""
    made = {r.uid: op for block in blocks for op in block.ops for r in op.results}
    for block in blocks:
        for op in block.ops:
            if op.prim == "where" and len(op.args) == 3 and _is_zero(op.args[2]):
                key = _key(op.args[0], made)
                _fold(op.args[1], key, made, uses)
                if key[1]:  # where(not c, v, 0) is where(c, 0, v)
                    op.args = [key[0], op.args[2], op.args[1]]
    for block in blocks:
        block.ops = [new for op in block.ops
                     for new in (_merged(op, made, uses) if op.results and shaped(op.results[0])
                                 else [op])]


def _merged(op: Op, made: dict[int, Op], uses: dict[int, int]) -> list[Op]:
    """``where(c, a, 0) + where(c, b, 0)`` as ``where(c, a + b, 0)``, and
    ``where(c, a, 0) + where(c, 0, b)`` as ``where(c, a, b)`` (each read only there):
    one pass over the arrays instead of three.  `op` becomes the where; the sum of
    the parts, where there is one, comes before it."""
    if op.prim not in ("add", "sub") or len(op.args) != 2 or len(op.results) != 1:
        return [op]
    parts = [made.get(a.uid) if isinstance(a, Value) and uses.get(a.uid) == 1 else None
             for a in op.args]
    if any(p is None or p.prim != "where" or len(p.args) != 3 for p in parts) \
            or parts[0].args[0] is not parts[1].args[0]:
        return [op]
    (condition, a1, a2), (_, b1, b2) = parts[0].args, parts[1].args
    if not all(_is_zero(x) or _is_zero(y) for x, y in ((a1, a2), (b1, b2))):
        return [op]
    before: list[Op] = []

    def combined(x: Operand, y: Operand) -> Operand:
        if _is_zero(y):
            return x
        if _is_zero(x):
            if op.prim == "add":
                return y
            negated = Op("neg", [y], [Value()], {}, loc=op.loc)
            before.append(negated)
            return negated.results[0]
        total = Op(op.prim, [x, y], [Value()], {}, loc=op.loc)
        before.append(total)
        return total.results[0]

    then, other = combined(a1, b1), combined(a2, b2)
    for new in before:
        made[new.results[0].uid] = new
        for a in new.args:
            if isinstance(a, Value):
                uses[a.uid] = uses.get(a.uid, 0) + 1
    op.prim, op.attrs = "where", dict(parts[0].attrs)
    op.args = [condition, then, other]
    uses[condition.uid] = uses.get(condition.uid, 0) + 1 if isinstance(condition, Value) else 0
    return [*before, op]


def _key(mask: Operand, made: dict[int, Op]) -> tuple[Operand, bool]:
    """A mask as (condition, negated)."""
    op = made.get(mask.uid) if isinstance(mask, Value) else None
    if op is not None and op.prim == "call" and op.attrs.get("fn") is np.logical_not:
        return op.args[0], True
    return mask, False


def _fold(value: Operand, key: tuple[Operand, bool], made: dict[int, Op],
          uses: dict[int, int]) -> None:
    for _ in range(MAX_STEPS):
        op = made.get(value.uid) if isinstance(value, Value) else None
        if op is None or uses.get(value.uid) != 1 or len(op.results) != 1:
            return
        if op.prim in ("mul", "truediv", "neg"):
            k = 1 if op.prim == "mul" and _selected_by(op.args[1], key, made) else 0
            inner = made.get(op.args[k].uid) if isinstance(op.args[k], Value) else None
            if inner is not None and inner.prim == "where" and uses.get(op.args[k].uid) == 1 \
                    and _selected_by(op.args[k], key, made):
                condition, then, other = inner.args
                op.args[k] = then if not key[1] else other
                uses[op.args[k].uid] = uses.get(op.args[k].uid, 0) + 1 \
                    if isinstance(op.args[k], Value) else 0
                return
            value = op.args[k]
            continue
        return


def _selected_by(value: Operand, key: tuple[Operand, bool], made: dict[int, Op]) -> bool:
    """Whether `value` is ``where(c, g, 0)`` (``where(c, 0, g)`` for a negated key)."""
    op = made.get(value.uid) if isinstance(value, Value) else None
    if op is None or op.prim != "where" or len(op.args) != 3 or op.args[0] is not key[0]:
        return False
    return _is_zero(op.args[1]) and not _is_zero(op.args[2]) if key[1] \
        else _is_zero(op.args[2]) and not _is_zero(op.args[1])
