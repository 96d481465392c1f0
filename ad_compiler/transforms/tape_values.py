"""Values a backward loop would recompute, saved by the forward loop instead.

A taped loop's backward loop pops each step's state and recomputes the step to
propagate adjoints through it (transforms/reverse_control.py).  For a GRU's step that
is three matrix products and a dozen array operations again, where a hand-written
adjoint keeps the gates the forward step computed.  So, in code specialised to the
input shapes, where a backward loop over ``range(len(stack))`` pops `stack` once per
step and the forward loop that pushes onto it is in the same block, the values the
backward loop recomputes that it reads for its adjoints are pushed by the forward step
onto a stack of their own, ``saved``, and popped by the backward step in their place;
the recomputation then drops out.  A value is the forward step's only where it is
shown to be: the same operation (kind, function, constants) on the same operands, the
popped items being what was pushed and values from outside both loops themselves
(optimisation may have rewritten a recomputed operation, `-0.1 * w` for `0.1 * w`).
The popped objects are those the forward step made, so the numbers are the same;
neither loop may write anything in place (but append to its own lists), and only
arrays an operation made afresh (no views; a number costs as much to save as to
compute) are saved, up to `SAVED_PER_STATE` times
the bytes of the state the tape already holds per step (or `SAVED_ANYWAY` bytes): past
that the loop recomputes as before.  The rewritten code is what runs;
a derivative of it differentiates the code before this rewrite (`dispatch.py`).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import Block, Const, ForOp, Function, Op, Value, readers_of, replace_uses, walk_ops
from ..primitives import draws_anew
from ..registry import REGISTRY
from .optimize import all_blocks
from .static_shapes import Facts
from .tape_factors import popped_once, stack_uses

# what the saved values of a step may take: this many times the state the tape holds
# already, or this many bytes (a long loop over large arrays recomputes instead, as
# the tape would otherwise grow past what the function itself holds)
SAVED_PER_STATE = 16
SAVED_ANYWAY = 256 * 1024
# ops whose result may share memory with an operand, or that only move values
_NOT_SAVED = frozenset({"getitem", "pop", "push", "stack", "pack", "copy", "appended"})


def tape_values(fn: Function, facts: Facts) -> Function | None:
    """A copy of `fn` (code that runs) whose backward loops pop what they recomputed;
    None where none does."""
    from .optimize import eliminate_dead_code
    from .specialize import _clone

    if not any(op.prim == "pop" for op in walk_ops(fn.body)):
        return None
    clone = _clone(fn)
    uses = stack_uses(clone)
    changed = False
    for block in all_blocks(clone.body):
        loops = [op for op in block.ops if isinstance(op, ForOp)]
        for back in loops:
            pop = popped_once(back, block, uses)
            if pop is None:
                continue
            pushes = [op for op in uses.get(pop.args[0].uid, []) if op is not None
                      and op.prim == "push"]
            forward = next((loop for loop in loops if loop is not back and len(pushes) == 1
                            and any(o is pushes[0] for o in loop.body.ops)), None)
            if forward is not None and block.ops.index(forward) < block.ops.index(back):
                changed |= _save(forward, back, pop, pushes[0], block, facts)
    if not changed:
        return None
    eliminate_dead_code(clone)
    return clone


def _writes(loop: ForOp) -> bool:
    return any(op.prim in ("index_add", "setitem") or (
        op.attrs.get("in_place") and op.prim != "appended") for op in walk_ops(loop.body))


def _save(forward: ForOp, back: ForOp, pop: Op, push: Op, block: Block,
          facts: Facts) -> bool:
    if _writes(forward) or _writes(back) or len(push.args) != len(pop.results) + 1:
        return False
    inside = _defined_in(forward) | _defined_in(back)
    # what each value of the backward step is in the forward step: the popped items
    # are what was pushed; an operation is the forward step's operation of the same
    # kind on what its operands are there (values from outside both loops are
    # themselves); nothing else is known to be the same
    same: dict[int, Value] = {r.uid: a for r, a in zip(pop.results, push.args[1:])
                              if isinstance(a, Value)}
    made: dict[tuple, Op] = {}
    for op in forward.body.ops:
        key = _key(op, None, inside)
        if key is not None and len(op.results) == 1:
            made.setdefault(key, op)
    recomputed: dict[int, Value] = {}  # uid in the backward step -> the forward value
    for op in back.body.ops:
        key = _key(op, same, inside)
        twin = made.get(key) if key is not None and len(op.results) == 1 else None
        if twin is None:
            continue
        same[op.result.uid] = twin.result
        sig = facts.of(op.result)  # arrays: a number or a flag costs as much to save
        if op.prim not in _NOT_SAVED and not _view(op) and sig is not None \
                and sig[0] == "array":
            recomputed[op.result.uid] = twin.result
    if not recomputed:
        return False
    # saved: what the backward step reads of them other than to recompute more of them
    readers = readers_of(back.body)
    needed = [uid for uid in recomputed if any(
        r is None or len(r.results) != 1 or r.result.uid not in recomputed
        for r in readers.get(uid, []))]
    state = sum(_bytes(facts.of(v)) for v in pop.results)
    if not needed or sum(_bytes(facts.of(_value(back, u))) for u in needed) > max(
            SAVED_PER_STATE * state, SAVED_ANYWAY):
        return False
    saved = Value("saved")
    block.ops.insert(block.ops.index(forward), Op("stack", [], [saved], {}, [], None))
    forward.body.ops.append(Op("push", [saved, *(recomputed[u] for u in needed)], [],
                               {"effect": True}, [], None))
    by_uid = {op.result.uid: op.result for op in back.body.ops if len(op.results) == 1}
    popped = []
    for uid in needed:
        old = by_uid[uid]
        new = Value(old.name)
        if old.uid in facts.sig:
            facts.sig[new.uid] = facts.sig[old.uid]
        popped.append(new)
    back.body.ops.insert(back.body.ops.index(pop) + 1,
                         Op("pop", [saved], popped, {"effect": True}, [], pop.loc))
    replace_uses(back.body, dict(zip(needed, popped)))
    return True


def _value(loop: ForOp, uid: int) -> Value:
    return next(r for op in loop.body.ops for r in op.results if r.uid == uid)


def _bytes(sig: tuple | None) -> float:
    """The size of a value of signature `sig` (unknown: infinite)."""
    if sig is not None and sig[0] == "array":
        return float(np.prod(sig[2], dtype=float)) * np.dtype(sig[3]).itemsize
    if sig is not None and sig[0] in ("float", "int", "bool", "scalar"):
        return 8.0
    return math.inf


def _defined_in(loop: ForOp) -> set[int]:
    """Values made in `loop`'s body: its parameters and its ops' results."""
    uids = {p.uid for p in loop.body.params}
    for op in walk_ops(loop.body):
        uids.update(r.uid for r in op.results)
        for inner in op.blocks:
            uids.update(p.uid for p in inner.params)
    return uids


def _key(op: Op, same: dict[int, Value] | None, inside: set[int]) -> tuple | None:
    """What `op` computes, in the forward step's terms: its kind and its operands as
    the forward step has them (`same`: the backward step's values there; None for an op
    of the forward step itself), or None where an operand has no counterpart or the op
    has effects or blocks."""
    if op.blocks or op.prim in ("pop", "push", "stack") or draws_anew(op) or any(
            op.attrs.get(k) for k in ("effect", "sink", "manager", "in_place")):
        return None
    operands: list[tuple] = []
    for a in op.args:
        if isinstance(a, Value):
            twin = a if same is None else same.get(a.uid)
            if twin is None and a.uid in inside:
                return None
            operands.append(("v", (twin or a).uid))
        elif isinstance(a, Const):
            value = a.value
            if isinstance(value, float):  # (-0.0 is not 0.0 here)
                operands.append(("c", float, value.hex()))
                continue
            try:
                hash(value)
            except TypeError:
                return None
            operands.append(("c", type(value), value))
        else:
            return None
    attrs = tuple(sorted((k, id(v) if k == "fn" else v) for k, v in op.attrs.items()
                         if k in ("fn", "kwnames", "family", "attribute", "method")))
    return (op.prim, attrs, tuple(operands))


def _view(op: Op) -> bool:
    spec = REGISTRY.get(op.prim)
    return spec is not None and spec.view
