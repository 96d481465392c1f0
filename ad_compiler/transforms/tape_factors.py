"""Factors of a backward loop that read nothing but the tape, for every step at once.

The backward loop of ``for x in xs: h = np.tanh(x @ W + h @ U + b)`` computes
``1.0 - h ** 2`` at each step, from the state the forward loop pushed: two operations
on a small array per step, where a person writes ``D = 1.0 - H ** 2`` once over the
stacked states and reads ``D[t]``.  So, in code specialised to the input shapes, where
a backward loop over ``range(len(stack))`` pops `stack` once per step (the only place
anything pops it, and nothing pushes onto it after the trip count is taken), the
elementwise operations of the loop whose operands are the popped items, the values the
loop carries over from the previous pop (`h` after the step: the next pop's item, or
the forward loop's last state at the first step) and numbers, run before the loop on
the stacked items (`tape_rows()` in `ad_compiler/runtime_writes.py`), and each step
reads its row.

Only operations with the registry's `rounded_alike` flag qualify (``+ - * /``,
negation, `sqrt`, and ``x ** 2``, which NumPy computes as ``x * x``): each element is
one correctly rounded operation, so a row of the whole array has the very values the
step computed alone.  Every item must be a float64 array of one static shape, so
the rows stack and nothing broadcasts differently.  The rewritten code is what runs; a
derivative of it differentiates the code before this rewrite (`dispatch.py`).
"""
from __future__ import annotations

import numpy as np

from .. import runtime_writes
from ..ir import Block, Const, ForOp, Function, Op, Operand, Value, walk_ops
from ..registry import is_elementwise, is_rounded_alike
from .static_shapes import Facts


def tape_factors(fn: Function, facts: Facts) -> Function | None:
    """A copy of specialised code `fn` whose backward loops read tape-only factors from
    arrays made before the loop; None where no loop has one."""
    from .optimize import all_blocks, eliminate_dead_code
    from .specialize import _clone

    if not any(op.prim == "pop" for op in walk_ops(fn.body)):
        return None
    clone = _clone(fn)
    uses = stack_uses(clone)
    changed = False
    for block in all_blocks(clone.body):
        for loop in [op for op in block.ops if isinstance(op, ForOp)]:
            before = _rewrite(loop, block, clone, facts, uses)
            if before:
                at = block.ops.index(loop)
                block.ops[at:at] = before
                changed = True
    if not changed:
        return None
    eliminate_dead_code(clone)
    return clone


def stack_uses(fn: Function) -> dict[int, list[Op]]:
    """Every op reading a stack (a `stack` op's result), by the stack's uid; a stack a
    block yields is marked by None among them."""
    stacks = {op.result.uid for op in walk_ops(fn.body) if op.prim == "stack"}
    uses: dict[int, list] = {uid: [] for uid in stacks}
    for op in walk_ops(fn.body):
        for a in op.args:
            if isinstance(a, Value) and a.uid in uses:
                uses[a.uid].append(op)
        for inner in op.blocks:
            for y in inner.yields:
                if isinstance(y, Value) and y.uid in uses:
                    uses[y.uid].append(None)
    for y in fn.body.yields:
        if isinstance(y, Value) and y.uid in uses:
            uses[y.uid].append(None)
    return uses


def _contains(op: Op, target: Op) -> bool:
    return op is target or any(inner is target for inner in _walk(op))


def _walk(op: Op) -> list[Op]:
    return [inner for block in op.blocks for inner in walk_ops(block)]


def _trip_count_of(loop: ForOp, block: Block, stack: Value) -> int | None:
    """The position in `block` of ``len(stack)`` where `loop` runs over
    ``range(len(stack))`` (its item counts the pops from 0), else None."""
    made = {r.uid: (k, op) for k, op in enumerate(block.ops) for r in op.results}
    found = made.get(loop.iterable.uid) if isinstance(loop.iterable, Value) else None
    if found is None:
        return None
    _, ranged = found
    if ranged.prim != "call" or ranged.attrs.get("fn") is not range or len(ranged.args) != 1 \
            or ranged.attrs.get("kwnames"):
        return None
    count = made.get(ranged.args[0].uid) if isinstance(ranged.args[0], Value) else None
    if count is None:
        return None
    at, length = count
    if length.prim != "call" or length.attrs.get("fn") is not len or length.args != [stack]:
        return None
    return at


# what these rewrites put before a backward loop to read its stack, leaving it as it is
TAPE_READERS = ("tape_rows", "tape_states", "popped_rows")


def popped_once(loop: ForOp, block: Block, uses: dict[int, list[Op]]) -> Op | None:
    """The pop of `loop` (in `block`) where the loop runs over ``range(len(stack))``,
    pops `stack` once per step, nothing else pops it, nothing pushes onto it after the
    trip count is taken and nothing but ``len`` (or `TAPE_READERS` before the loop)
    reads it otherwise (so the stack's items, read before the loop, are what the steps
    pop); else None.  `uses` is `stack_uses()`'s."""
    pops = [op for op in loop.body.ops if op.prim == "pop"]
    if len(pops) != 1 or not isinstance(pops[0].args[0], Value):
        return None
    pop = pops[0]
    stack = pop.args[0]
    readers = uses.get(stack.uid)
    count_at = _trip_count_of(loop, block, stack)
    if readers is None or count_at is None or None in readers:
        return None
    pushes = [op for op in readers if op.prim == "push"]
    others = [op for op in readers if op.prim not in ("push", "pop")]
    loop_at = block.ops.index(loop)
    if [op for op in readers if op.prim == "pop"] != [pop] or any(
            (op.prim != "call" or op.attrs.get("fn") is not len)
            and not (op.prim in TAPE_READERS and any(op is o for o in block.ops[:loop_at]))
            for op in others):
        return None
    # every push comes before the trip count is taken, from ops of this block
    for push in pushes:
        holder = next((k for k, op in enumerate(block.ops) if _contains(op, push)), None)
        if holder is None or holder >= count_at or len(push.args) - 1 != len(pop.results):
            return None
    return pop


def item_position(pop: Op, i: int) -> int | None:
    """What `tape_rows()` is told to pick of a stack entry for the pop's i-th result:
    its position in the pushed tuple, or None where one item is pushed alone."""
    return None if len(pop.results) == 1 else i


def _rewrite(loop: ForOp, block: Block, fn: Function, facts: Facts,
             uses: dict[int, list[Op]]) -> list[Op]:
    body = loop.body
    pop = popped_once(loop, block, uses)
    if pop is None:
        return []
    stack = pop.args[0]

    def position(i: int) -> int | None:
        return item_position(pop, i)

    # tape rows: a popped item, or a carried value that is the previous step's pop
    rows: dict[int, tuple] = {}  # uid -> ("pop", i) | ("carried", i, init) | ("op", op)
    shape: dict[int, tuple] = {}
    for i, item in enumerate(pop.results):
        sig = _float_array(facts, item)
        if sig is not None:
            rows[item.uid], shape[item.uid] = ("pop", i), sig
    popped = {r.uid: i for i, r in enumerate(pop.results)}
    for param, init, y in zip(loop.carried_params, loop.inits, body.yields):
        if isinstance(y, Value) and y.uid in popped and y.uid in rows and isinstance(init, Value) \
                and _float_array(facts, param) == shape[y.uid] \
                and _float_array(facts, init) == shape[y.uid]:
            rows[param.uid], shape[param.uid] = ("carried", popped[y.uid], init), shape[y.uid]
    if not rows:
        return []

    for op in body.ops:
        if op.blocks or len(op.results) != 1 or not _row_op(op):
            continue
        inputs = [a for a in op.args if isinstance(a, Value)]
        if not inputs or not all(a.uid in rows for a in inputs) or any(
                not (isinstance(a, Const) and _number(a.value)) for a in op.args
                if not isinstance(a, Value)):
            continue
        shapes = {shape[a.uid] for a in inputs}
        result = op.result
        if len(shapes) != 1 or _float_array(facts, result) not in shapes:
            continue
        rows[result.uid], shape[result.uid] = ("op", op), shapes.pop()

    # the factors worth computing at once: results of arithmetic on the tape that
    # something other than more such arithmetic reads
    readers_in_loop: dict[int, list] = {}
    for op in walk_ops(body):
        for a in op.args:
            if isinstance(a, Value):
                readers_in_loop.setdefault(a.uid, []).append(op)
        for inner in op.blocks:
            readers_in_loop.update({y.uid: [*readers_in_loop.get(y.uid, []), None]
                                    for y in inner.yields if isinstance(y, Value)})
    for y in body.yields:
        if isinstance(y, Value):
            readers_in_loop.setdefault(y.uid, []).append(None)
    def on_tape(op: Op | None) -> bool:  # an operation on the tape alone
        return op is not None and len(op.results) == 1 \
            and rows.get(op.result.uid, ("",))[0] == "op"

    factors = [op for op in body.ops if on_tape(op) and _arithmetic(op, rows)
               and not all(on_tape(r) for r in readers_in_loop.get(op.result.uid, []))]
    if not factors or any(r is not None and (r.attrs.get("in_place") or r.attrs.get("effect"))
                          for op in factors for r in readers_in_loop[op.result.uid]):
        return []

    before: list[Op] = []
    stacked: dict[tuple, Value] = {}  # ("pop", i) or ("carried", i, init uid) -> rows
    whole: dict[int, Operand] = {}  # uid in the loop -> its array over every step

    def over_steps(v: Operand) -> Operand:
        if not isinstance(v, Value):
            return v
        if v.uid in whole:
            return whole[v.uid]
        kind = rows[v.uid]
        if kind[0] == "op":
            op = kind[1]
            if op.prim == "copy":
                out = over_steps(op.args[0])
            else:
                out = Value()
                before.append(op.rebuilt(args=[over_steps(a) for a in op.args], results=[out]))
        else:
            key = kind[:2] + ((kind[2].uid,) if kind[0] == "carried" else ())
            if key not in stacked:
                out = stacked[key] = Value()
                extra = [kind[2]] if kind[0] == "carried" else []
                attrs = {"fn": runtime_writes.tape_rows, "kwnames": ()}
                before.append(Op("tape_rows", [stack, Const(position(kind[1])), *extra],
                                 [out], attrs, [], loop.loc))
                fn.derived[out.uid] = (v, "{}_rows")
            out = stacked[key]
        whole[v.uid] = out
        return out

    step = loop.item
    if not any(step in op.args for op in walk_ops(body)):  # the loop's own count, unread
        step = loop.item = Value("step")
    for op in factors:
        every = over_steps(op.result)
        fn.derived[every.uid] = (_first_tape_value(op, rows), "{}_factors")
        at = body.ops.index(op)
        body.ops[at] = Op("getitem", [every, step], [op.result], {}, [], op.loc)
    return before


def _float_array(facts: Facts, v: Operand) -> tuple | None:
    """The static shape of a float64 array of at least one dimension, else None."""
    sig = facts.of(v)
    if sig is None or sig[0] != "array" or sig[1] is not np.ndarray or sig[3] != np.float64 \
            or not sig[2]:
        return None
    return sig[2]


def _number(value: object) -> bool:
    return type(value) in (int, float)


def _row_op(op: Op) -> bool:
    """An elementwise operation whose row of a whole array is the row computed alone."""
    if not is_elementwise(op.prim) or op.attrs.get("kwnames"):
        return False  # (np.multiply(a, b, dtype=...) among them)
    if op.prim == "pow":  # NumPy squares for ``x ** 2``: x * x, rounded once
        return isinstance(op.args[1], Const) and type(op.args[1].value) in (int, float) \
            and op.args[1].value == 2
    return is_rounded_alike(op.prim)


def _arithmetic(op: Op, rows: dict[int, tuple]) -> bool:
    """Whether `op` computes something (a copy of a tape item is the item's row)."""
    if op.prim != "copy":
        return True
    source = op.args[0]
    return isinstance(source, Value) and rows.get(source.uid, ("",))[0] == "op" \
        and _arithmetic(rows[source.uid][1], rows)


def _first_tape_value(op: Op, rows: dict[int, tuple]) -> Value:
    """The first item of the tape that `op` reads (what its array is named after)."""
    for a in op.args:
        if isinstance(a, Value):
            kind = rows[a.uid]
            return _first_tape_value(kind[1], rows) if kind[0] == "op" else a
    raise AssertionError("an operation on the tape reads no item of it")
