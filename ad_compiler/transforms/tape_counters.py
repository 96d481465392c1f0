"""A loop counter a tape holds only to pick rows, left off the tape.

``for x in xs: h = np.tanh(x @ Wx + h @ Wh + b)`` pushes ``(index, h)`` at every step,
and once its backward loop reads the tape before it (transforms/tape_steps.py), the
index serves only ``popped_rows(xs_items, stack, 0)``: the rows of `xs` at the popped
indices.  A push at the top of the body of ``for index in range(n)`` runs once per
step, in order, so the k-th entry holds index k whether or not the loop stops early,
and the rows popped are rows ``len(stack) - 1`` down to 0: `reversed_rows()` (in
`ad_compiler/runtime_writes.py`) takes them as one reversed slice, and the step
pushes ``h`` alone.  That takes a tuple per step and a list of indices off the tape.

Only where the stack is pushed there and nowhere else, and read by nothing but
``len`` and the tape readers (`tape_rows()`, `tape_states()`, `popped_rows()`), whose
positions are renumbered.  The rewritten code is what runs; a derivative of it
differentiates the code before this rewrite (`dispatch.py`).
"""
from __future__ import annotations

from .. import runtime_writes
from ..ir import Block, Const, ForOp, Function, Op, Value
from .optimize import all_blocks
from .static_shapes import Facts
from .tape_factors import TAPE_READERS, stack_uses


def tape_counters(fn: Function, facts: Facts) -> Function | None:
    """A copy of `fn` (code that runs) whose loops push no counter they need not;
    None where none does."""
    from .specialize import _clone

    if not any(op.prim in TAPE_READERS for block in all_blocks(fn.body) for op in block.ops):
        return None
    clone = _clone(fn)
    uses = stack_uses(clone)
    changed = False
    for block in all_blocks(clone.body):
        for loop in [op for op in block.ops if isinstance(op, ForOp)]:
            changed |= _rewrite(loop, block, uses)
    return clone if changed else None


def _counted(loop: ForOp, block: Block) -> bool:
    """Whether `loop` runs over ``range(n)``: its item is 0, 1, 2, ... in turn."""
    made = {r.uid: op for op in block.ops for r in op.results}
    ranged = made.get(loop.iterable.uid) if isinstance(loop.iterable, Value) else None
    return ranged is not None and ranged.prim == "call" and ranged.attrs.get("fn") is range \
        and len(ranged.args) == 1 and not ranged.attrs.get("kwnames")


def _rewrite(loop: ForOp, block: Block, uses: dict[int, list[Op]]) -> bool:
    if not _counted(loop, block):
        return False
    for push in [op for op in loop.body.ops if op.prim == "push"]:
        stack = push.args[0]
        counter = [k for k, a in enumerate(push.args[1:]) if a is loop.item]
        readers = uses.get(stack.uid) if isinstance(stack, Value) else None
        if len(counter) != 1 or len(push.args) < 3 or readers is None or None in readers:
            continue
        at = counter[0]
        others = [op for op in readers if op is not push]
        if not all(_reads_rows(op, stack) or (op.prim == "call" and op.attrs.get("fn") is len)
                   for op in others):
            continue
        if any(op.prim != "popped_rows" and _position(op) == at
               for op in others if op.prim in TAPE_READERS):
            continue  # the counters themselves stacked: left as they are
        remaining = len(push.args) - 2
        for op in others:
            if op.prim not in TAPE_READERS:
                continue
            position = _position(op)
            if position == at:  # popped_rows(a, stack, at): the rows in reverse
                op.prim, op.args = "reversed_rows", [op.args[0], stack]
                op.attrs = {**op.attrs, "fn": runtime_writes.reversed_rows}
                continue
            renumbered = None if remaining == 1 else position - (position > at)
            where = 2 if op.prim == "popped_rows" else 1
            op.args = op.args[:where] + [Const(renumbered)] + op.args[where + 1:]
        push.args = [stack] + [a for k, a in enumerate(push.args[1:]) if k != at]
        return True
    return False


def _reads_rows(op: Op, stack: Value) -> bool:
    """Whether `op` is a tape reader of `stack` told a constant position of a tuple."""
    if op.prim not in TAPE_READERS:
        return False
    where = 2 if op.prim == "popped_rows" else 1
    if len(op.args) <= where or op.args[where - 1] is not stack:
        return False
    position = op.args[where]
    return isinstance(position, Const) and type(position.value) is int


def _position(op: Op) -> int:
    return op.args[2 if op.prim == "popped_rows" else 1].value
