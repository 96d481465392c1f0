"""A backward loop reads what the forward loop wrote instead of computing it again.

``for t in range(T): h[t + 1] = np.tanh(h[t] @ W + x[t])`` writes row t + 1 once and
no later step writes it again, so after the loop ``h[t + 1]`` holds the value step t
computed.  The backward loop recomputes step t to differentiate it (``np.tanh(h[t] @
W + x[t])``, a product, a sum and a tanh per step) where a person reads ``h[t + 1]``.
So, in specialised code, where a loop over ``range(n)`` (from 0, each item once)
writes ``v`` into the array it carries at ``t + c`` (c a whole number >= 0, the only
write into that array in the loop, nothing saved or written in place for a backward
loop to restore), and the array and ``v`` are float64 arrays of static shapes with
``v`` exactly one row (so the write neither casts nor broadcasts), a later backward
loop over ``reversed(range(n))`` that recomputes ``v`` (`aliases`) and the index
reads the row of the loop's result instead, the same value to the last bit.  The
rewritten code is what runs; a derivative of it differentiates the code before this
rewrite (`dispatch.py`).
"""
from __future__ import annotations

import numpy as np

from ..ir import Block, Const, ForOp, Function, Op, Value, walk_ops
from .static_shapes import Facts


def written_rows(fn: Function, facts: Facts) -> Function | None:
    """A copy of specialised code `fn` whose backward loops read such rows; None where
    no loop recomputes one."""
    from .optimize import all_blocks, eliminate_dead_code
    from .specialize import _clone

    aliases = getattr(fn, "aliases", None)
    if not aliases or not any(isinstance(op, ForOp) for op in walk_ops(fn.body)):
        return None
    clone = _clone(fn)
    changed = False
    for block in all_blocks(clone.body):
        loops = [op for op in block.ops if isinstance(op, ForOp)]
        for k, forward in enumerate(loops):
            for written, value, index in _rows_written(forward, block, facts):
                for backward in loops[k + 1:]:
                    changed = _read_rows(backward, block, forward, written, value, index,
                                         aliases) or changed
    if not changed:
        return None
    eliminate_dead_code(clone)
    return clone


def _made_by(block: Block, value: object) -> Op | None:
    if not isinstance(value, Value):
        return None
    return next((op for op in block.ops if value in op.results), None)


def _rows_written(loop: ForOp, block: Block, facts: Facts) -> list[tuple[Value, Value, Value]]:
    """(the loop's result, the value written, the index) for each array the loop
    carries and writes one row of at each step, each row once."""
    ranged = _made_by(block, loop.iterable)
    if ranged is None or ranged.prim != "call" or ranged.attrs.get("fn") is not range \
            or len(ranged.args) != 1 or ranged.attrs.get("kwnames"):
        return []
    body = loop.body
    if any(op.prim == "push" for op in walk_ops(body)):
        return []  # a loop that saves what it overwrites, for a backward loop to restore
    found = []
    for param, y, result in zip(loop.carried_params, body.yields, loop.results):
        write = _made_by(body, y)
        if write is None or write.prim != "setitem" or len(write.args) != 4 \
                or write.args[0] is not param:
            continue
        readers = [op for op in walk_ops(body) if param in op.args]
        if any(op is not write and op.prim != "getitem" for op in readers) or any(
                param in inner.yields for op in walk_ops(body) for inner in op.blocks) \
                or write.args[1] is param:
            continue
        _, value, _, index = write.args
        if not isinstance(value, Value) or not _from_item(body, index, loop.item):
            continue
        whole, row = facts.of(result), facts.of(value)
        if not (_float_array(whole) and _float_array(row) and len(whole[2]) >= 2
                and whole[2][1:] == row[2] and facts.of(param) == whole):
            continue
        found.append((result, value, index))
    return found


def _from_item(body: Block, index: object, item: Value) -> bool:
    """Whether `index` is the loop's item, or the item plus a whole number >= 0."""
    if index is item:
        return True
    made = _made_by(body, index)
    if made is None or made.prim != "add" or len(made.args) != 2:
        return False
    a, b = made.args
    other = b if a is item else a if b is item else None
    return isinstance(other, Const) and type(other.value) is int and other.value >= 0


def _float_array(sig: tuple | None) -> bool:
    return sig is not None and sig[0] == "array" and sig[1] is np.ndarray \
        and sig[3] == np.float64 and len(sig[2]) >= 1


def _read_rows(backward: ForOp, block: Block, forward: ForOp, written: Value, value: Value,
               index: Value, aliases: dict) -> bool:
    replay = _made_by(block, backward.iterable)
    if replay is None or replay.prim != "call" or replay.attrs.get("fn") is not reversed \
            or replay.args != [forward.iterable]:
        return False
    body = backward.body
    if written in backward.inits or any(
            written in op.args and (op.attrs.get("in_place") or op.attrs.get("effect")
                                    or op.prim != "getitem") for op in walk_ops(body)):
        return False
    if index is forward.item:  # the same item, replayed
        recomputed_index, known_at = backward.item, -1
    else:
        known_at, recomputed_index = next(((k, op.result) for k, op in enumerate(body.ops)
                                           if len(op.results) == 1
                                           and aliases.get(op.result.uid) is index),
                                          (-1, None))
    if recomputed_index is None:
        return False
    changed = False
    for at, op in enumerate(body.ops):
        if len(op.results) != 1 or op.blocks or aliases.get(op.result.uid) is not value:
            continue
        if known_at > at:  # t + 1 computed later in the step: computed here instead
            moved = body.ops[known_at]
            if not all(a is backward.item or isinstance(a, Const) for a in moved.args):
                continue
            body.ops.remove(moved)
            body.ops.insert(at, moved)
            known_at, at = at, at + 1
        body.ops[at] = Op("getitem", [written, recomputed_index], [op.result], {}, [], op.loc)
        changed = True
    return changed
