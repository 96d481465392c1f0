"""Lists of a backward loop's steps that hold nothing but what the tape holds, read off
the tape before the loop.

The backward loop of ``for x in xs: h = np.tanh(x @ Wx + h @ Wh + b)`` keeps each
step's factors of the sums over steps (transforms/stacked_adjoints.py): the state it
pops (``h_steps.append(h_1)``) and the row of `xs` at the index it pops
(``x_steps.append(xs_items[index_1])``), stacked after the loop by ``np.array``.
Both are known before the loop: the stack's items in pop order (`tape_rows()`), and
the rows of `xs` at the popped indices (`popped_rows()`, in
`ad_compiler/runtime_writes.py`).  So, in code specialised to the input shapes, where
a backward loop pops its stack as `tape_factors.popped_once()` requires, carries a list
that starts empty (read by nothing else) and appends to it at each step a popped item,
or the row of a float array made outside the loop at a popped integer index, and
nothing after the loop reads the list but ``np.array(list)``, those arrays are made
before the loop, and the loop neither carries nor appends to the list.  Popped items
`tape_factors()` already stacked are not stacked twice: its ``tape_rows(stack, i)`` is
read, or its ``tape_rows(stack, i, first)`` (the rows shifted by one) becomes
`tape_states()`, both from one array.  A pop nothing reads any more is dropped: the
loop then runs its ``range(len(stack))`` without it.

The arrays hold the same numbers in the same order (row k: the k-th pop's), so the
products after the loop sum the same terms in the same order.  A loop that writes
anything in place (but appends to its own lists) is left as it is: the list held the
objects the steps read, which such a write could change after the step.  The
rewritten code is what runs; a derivative of it differentiates the code before this
rewrite (`dispatch.py`).
"""
from __future__ import annotations

import numpy as np

from .. import runtime_writes
from ..ir import Block, Const, ForOp, Function, Op, Value, readers_of, replace_uses, walk_ops
from .optimize import all_blocks
from .static_shapes import Facts
from .tape_factors import item_position, popped_once, stack_uses


def tape_steps(fn: Function, facts: Facts) -> Function | None:
    """A copy of specialised code `fn` whose backward loops' lists of popped items (or
    of rows at popped indices) are read off the tape before the loop; None where no
    loop keeps one."""
    from .optimize import eliminate_dead_code
    from .specialize import _clone

    if not any(op.prim == "pop" for op in walk_ops(fn.body)):
        return None
    clone = _clone(fn)
    uses = stack_uses(clone)
    readers = readers_of(clone.body)
    rewritten: list[tuple[ForOp, Block, Op]] = []
    for block in all_blocks(clone.body):
        for loop in [op for op in block.ops if isinstance(op, ForOp)]:
            pop = popped_once(loop, block, uses)
            if pop is not None and _rewrite(loop, block, pop, clone, facts, readers):
                rewritten.append((loop, block, pop))
    if not rewritten:
        return None
    eliminate_dead_code(clone)
    readers, uses = readers_of(clone.body), stack_uses(clone)
    for loop, block, pop in rewritten:
        if _unread_pop(loop, block, pop, readers, uses):
            loop.body.ops.remove(pop)
    return clone


def _rewrite(loop: ForOp, block: Block, pop: Op, fn: Function, facts: Facts,
             readers: dict[int, list[Op | None]]) -> bool:
    body = loop.body
    if any(op.prim == "index_add" or (op.attrs.get("in_place") and op.prim != "appended")
           for op in walk_ops(body)):
        return False
    inside = {p.uid for p in body.params}
    for op in walk_ops(body):
        inside.update(r.uid for r in op.results)
        for inner in op.blocks:
            inside.update(p.uid for p in inner.params)
    producer = {r.uid: op for op in body.ops for r in op.results}
    made = {r.uid: op for op in block.ops for r in op.results}
    at = block.ops.index(loop)
    after = {id(op) for op in block.ops[at + 1:]}
    popped = {r.uid: i for i, r in enumerate(pop.results)}
    stack = pop.args[0]

    kept: list[int] = []
    before: list[Op] = []
    stacked: list[Op] = []  # the np.array ops the arrays made before the loop replace
    for k, (param, init, y, result) in enumerate(zip(loop.carried_params, loop.inits,
                                                     body.yields, loop.results)):
        append = producer.get(y.uid) if isinstance(y, Value) else None
        start = made.get(init.uid) if isinstance(init, Value) else None
        stackings = readers.get(result.uid, [])
        if append is None or append.prim != "appended" or append.args[0] is not param \
                or start is None or start.prim != "pack" or start.attrs.get("kind") != "list" \
                or start.args or readers.get(init.uid) != [loop] \
                or readers.get(param.uid) != [append] or readers.get(y.uid) != [None] \
                or not stackings or not all(_stacks(op, result, after) for op in stackings):
            kept.append(k)
            continue
        read = _read_off_tape(append.args[1], popped, producer, inside, facts)
        if read is None:
            kept.append(k)
            continue
        position = Const(item_position(pop, read[1]))
        if read[0] == "item" and (_read_already(block, at, stack, position, stackings, fn) or (
                len(stackings) == 1 and _shares_rows(block, at, stack, position, stackings[0],
                                                     fn))):
            stacked += stackings
            body.ops.remove(append)
            continue
        helper, args = ("tape_rows", [stack, position]) if read[0] == "item" else \
            ("popped_rows", [read[2], stack, position])
        for op in stackings:
            # an effect: it reads the stack the loop may then empty, so it runs here
            # (code generation never folds it into a statement after the loop)
            attrs = {"fn": getattr(runtime_writes, helper), "kwnames": (), "effect": True}
            before.append(Op(helper, list(args), list(op.results), attrs, [], op.loc))
            if read[0] == "row" and append.args[1].name is None:  # xs[t]: named after xs
                fn.derived[op.result.uid] = (read[2], "{}_rows")
            stacked.append(op)
        body.ops.remove(append)
    if not stacked:
        return False
    loop.keep_carried(kept)
    block.ops = [op for op in block.ops if not any(op is s for s in stacked)]
    at = block.ops.index(loop)
    block.ops[at:at] = before
    return True


def _tape_rows_op(block: Block, at: int, stack: Value, position: Const, count: int) -> Op | None:
    """The ``tape_rows(stack, position, ...)`` of `count` operands before `at` in `block`."""
    return next((op for op in block.ops[:at] if op.prim == "tape_rows" and len(op.args) == count
                 and op.args[0] is stack and isinstance(op.args[1], Const)
                 and op.args[1].value == position.value and len(op.results) == 1), None)


def _read_already(block: Block, at: int, stack: Value, position: Const, stackings: list[Op],
                  fn: Function) -> bool:
    """Where `tape_factors()` read the popped rows before the loop, what reads the
    `stackings` (``np.array(steps)``) reads those instead."""
    rows = _tape_rows_op(block, at, stack, position, 2)
    if rows is None:
        return False
    replace_uses(fn.body, {op.result.uid: rows.result for op in stackings})
    return True


def _shares_rows(block: Block, at: int, stack: Value, position: Const, stacking: Op,
                 fn: Function) -> bool:
    """Where `tape_factors()` read ``tape_rows(stack, position, first)`` before the loop
    (at `at` in `block`), the popped rows `stacking` makes come from the same array:
    that op becomes `tape_states()`, which gives both."""
    shifted = _tape_rows_op(block, at, stack, position, 3)
    if shifted is None:
        return False
    attrs = {"fn": runtime_writes.tape_states, "kwnames": (), "effect": True}
    both = Op("tape_states", list(shifted.args), [shifted.result, stacking.result], attrs, [],
              shifted.loc)
    block.ops[block.ops.index(shifted)] = both
    named = fn.derived.get(shifted.result.uid)
    if named is not None:
        fn.derived[shifted.result.uid] = (named[0], "{}_carried")
    return True


def _stacks(op: Op | None, steps: Value, after: set[int]) -> bool:
    """Whether `op` is ``np.array(steps)`` in the loop's block, after the loop."""
    return op is not None and id(op) in after and op.prim == "call" \
        and op.attrs.get("fn") is np.array and op.args == [steps] \
        and not op.attrs.get("kwnames") and len(op.results) == 1


def _read_off_tape(item: object, popped: dict[int, int], producer: dict[int, Op],
                   inside: set[int], facts: Facts) -> tuple | None:
    """("item", i) where `item` is the pop's i-th result, ("row", i, a) where it is
    ``a[index]`` of a float array `a` made outside the loop at the pop's i-th result
    (an integer), else None."""
    if not isinstance(item, Value):
        return None
    if item.uid in popped:
        return ("item", popped[item.uid])
    getter = producer.get(item.uid)
    if getter is None or getter.prim != "getitem" or len(getter.args) != 2 \
            or len(getter.results) != 1 or set(getter.attrs) - {"fn", "kwnames"}:
        return None
    a, index = getter.args
    if not isinstance(a, Value) or a.uid in inside or not isinstance(index, Value) \
            or index.uid not in popped or facts.of(index) != ("int",):
        return None
    sig = facts.of(a)
    if sig is None or sig[0] != "array" or sig[1] is not np.ndarray or sig[3] != np.float64 \
            or not sig[2]:
        return None
    return ("row", popped[index.uid], a)


def _unread_pop(loop: ForOp, block: Block, pop: Op, readers: dict[int, list[Op | None]],
                uses: dict[int, list[Op]]) -> bool:
    """Whether nothing reads what `pop` gives, and nothing after the loop reads its
    stack (the ``len`` calls `popped_once()` allows come before it): the loop may then
    leave the stack as it is."""
    if pop not in loop.body.ops or any(readers.get(r.uid) for r in pop.results):
        return False
    at = block.ops.index(loop)
    others = [op for op in uses.get(pop.args[0].uid, []) if op is not None
              and op.prim not in ("push", "pop")]
    return all(any(op is o for o in block.ops[:at]) for op in others)
