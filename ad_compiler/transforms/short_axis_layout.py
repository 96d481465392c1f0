"""Arithmetic broadcast over a short last axis, made with that axis first.

``d = R[:, None, :] - R[None, :, :]`` (the pairwise differences of points in 3-d) has
operands that broadcast against each other, so NumPy cannot merge the output's axes
and runs its inner loop over the last one: three elements a call, 4,096 calls for 64
points, most of the cost of a Lennard-Jones energy's gradient.  Where both operands
of ``+ - * /`` are float arrays of static shapes and equal rank, the output's last
axis has at most `SHORT_AXIS` elements and there are at least `MANY_ROWS` of them,
and some leading axis is broadcast, the operation becomes `short_axis_first()` (in
`ad_compiler/runtime_arrays.py`): the same operation on the same pairs, so the same
numbers, in a result whose last axis varies slowest in memory.  What reads it then
loops over long rows too (``d ** 2``, ``d[..., 0]``).

Only the memory order changes, which NumPy keeps hidden except where a reshape or
ravel copies instead of viewing: so every reader of the result (and of views of it)
must be arithmetic, a reduction, a product or a view, never a write or anything else.
The rewritten code is what runs; a derivative of it differentiates the code before
this rewrite (`dispatch.py`).
"""
from __future__ import annotations

import math

from .. import runtime_arrays
from ..ir import Const, Function, Op, Value, readers_of
from ..registry import REGISTRY
from .optimize import all_blocks
from .specialize_sums import SHORT_AXIS
from .static_shapes import Facts, is_array

# fewer rows than this lose more to the helper's own steps than the loops gain
MANY_ROWS = 256

_OPERATORS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/"}
# readers that neither write nor expose memory order (views are followed further)
_READERS = frozenset({"matmul", "einsum", "sum", "mean", "pow", "neg"})


def short_axis_layout(fn: Function, facts: Facts) -> Function | None:
    """A copy of specialised code `fn` with such operations rewritten; None if none is."""
    from .specialize import _clone

    chosen = [op for block in all_blocks(fn.body) for op in block.ops
              if op.prim in _OPERATORS and _worth_it(op, facts)]
    if not chosen:
        return None
    readers = readers_of(fn.body)
    chosen = [op for op in chosen if _only_read(op.result, readers, 0)]
    if not chosen:
        return None
    results = {op.result.uid for op in chosen}
    clone = _clone(fn)
    for block in all_blocks(clone.body):
        for k, op in enumerate(block.ops):
            if op.prim in _OPERATORS and op.result.uid in results:
                attrs = {"fn": runtime_arrays.short_axis_first, "kwnames": ()}
                args = [op.args[0], Const(_OPERATORS[op.prim]), op.args[1]]
                block.ops[k] = Op("short_axis_first", args, list(op.results), attrs, [],
                                  op.loc)
    return clone


def _worth_it(op: Op, facts: Facts) -> bool:
    if len(op.args) != 2 or len(op.results) != 1 or op.attrs.get("in_place"):
        return False
    sigs = [facts.of(a) if isinstance(a, Value) else None for a in op.args]
    out = facts.of(op.result)
    if not all(is_array(s) and s[3].kind == "f" for s in (*sigs, out)):
        return False
    shapes = [s[2] for s in sigs]
    shape = out[2]
    if not (len(shape) >= 2 and all(len(s) == len(shape) for s in shapes)
            and 2 <= shape[-1] <= SHORT_AXIS and all(s[-1] == shape[-1] for s in shapes)
            and math.prod(shape[:-1]) >= MANY_ROWS):
        return False
    return any(s[k] == 1 < shape[k] for s in shapes for k in range(len(shape) - 1))


def _only_read(value: Value, readers: dict[int, list[Op | None]], depth: int) -> bool:
    """Whether everything reading `value` (through views, a few deep) only reads it."""
    if depth > 4:
        return False
    for op in readers.get(value.uid, [None]):
        if op is None or op.blocks or op.attrs.get("in_place") or op.attrs.get("effect"):
            return False
        spec = REGISTRY.get(op.prim)
        if op.prim == "getitem" or spec is not None and spec.view:
            if not all(_only_read(r, readers, depth + 1) for r in op.results):
                return False
        elif spec is None or not (spec.elementwise or op.prim in _READERS):
            return False
    return True
