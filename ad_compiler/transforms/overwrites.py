"""Reverse mode through a loop that writes into an array it carries, in place.

``for t in range(T): h[t + 1] = np.tanh(h[t] @ W + x[t])`` carries `h` from one
iteration to the next.  Taped as any carried value, each iteration would push a copy
of `h` (the IR's writes make new values).  Instead, where the loop only reads `h` and
then writes into it (a chain of writes, the last one's result carried on), the forward
sweep writes in place and pushes what each write overwrites (``h[t + 1]`` before the
write, with the index), and the backward loop, before it recomputes an iteration,
writes those values back: `h` is then as that iteration found it.  Memory is the
overwritten places, not a copy of the array per iteration.

The recomputed iteration does not write again: its last write's result is the state
the backward loop carries back (`_reuse_next_states`), and earlier writes of the chain
are copies where something reads them.

Nothing need be saved where no iteration reads a place a later one writes
(`never_reread`): ``for t in range(T): h[t + 1] = f(h[t])`` writes row t + 1 once, and
iterations read rows at or below their own counter, all written earlier.  The array's
final contents are then what every iteration read, and the backward loop recomputes
from them as they are.
"""
from __future__ import annotations

import builtins

from ..builder import Builder
from ..ir import Block, Const, ForOp, Function, LoopOp, Op, Operand, Value, walk_ops
from ..registry.writes import BASIC_ARRAY
from ..write_analysis import _Analysis
from .optimize import _is_live as is_live

Chains = dict[int, list[Op]]  # carried position -> the writes into it, in order


def primal_analysis(fn: Function) -> _Analysis:
    return _Analysis(fn)


def written_chains(analysis: _Analysis, loop: LoopOp) -> Chains:
    """The carried arrays of a loop of the primal function that the forward sweep may
    write in place: read, then written by a chain of writes at the body's top level,
    the last write's result carried on; the initial array the loop's own."""
    if not isinstance(loop, ForOp) or id(loop) not in analysis.position:
        return {}
    body = loop.body
    top = {id(o): i for i, o in enumerate(body.ops)}
    level = len(analysis.position[id(loop)].path)
    chains: Chains = {}
    for k, (param, init, yielded) in enumerate(zip(loop.carried_params, loop.inits,
                                                   body.yields)):
        chain: list[Op] = []
        current = param
        while True:
            writes = [u for _, u, _ in analysis.uses.get(current.uid, ())
                      if u is not None and u.prim == "setitem" and u.args[0] is current
                      and id(u) in top and _into_array(u)]
            if len(writes) != 1:
                break
            chain.append(writes[0])
            current = writes[0].result
        if not chain or current is not yielded or not isinstance(init, Value):
            continue
        if not analysis.owned(init) or analysis._read_after(
                init, analysis.position[id(loop)], skip=loop):
            continue
        dead = _dead_ops(body)
        if all(_read_before(analysis, version, chain[j], top, level, body, dead)
               for j, version in enumerate([param] + [w.result for w in chain[:-1]])):
            chains[k] = chain
    return chains


def _into_array(write: Op) -> bool:
    """A write into an array at a basic index (a list's items are not copied out)."""
    kind = write.args[2]
    return isinstance(kind, Const) and kind.value == BASIC_ARRAY


def _read_before(analysis: _Analysis, version: Value, write: Op, top: dict[int, int],
                 level: int, body: object, dead: set[int]) -> bool:
    """Whether every use of `version` but `write` reads it by indexing, at the body's top
    level before `write`, and what that makes is used before `write` too.  A use by
    code whose results nothing reads (`dead`: lowering's refresh of a view after a
    write into its array, ``h = H[t]`` read again) is no use."""
    limit = top[id(write)]
    for _, user, _ in analysis.uses.get(version.uid, ()):
        if user is write:
            continue
        if user is None or user.prim != "getitem" or user.args[0] is not version \
                or top.get(id(user), limit) >= limit:
            return False
        for shared in analysis.sharing_set(user.result, write):
            for where, reader, block in analysis.uses.get(shared, ()):
                holder = reader if reader is not None else analysis.block_holder.get(id(block))
                if holder is not None and id(holder) in dead:
                    continue
                if len(where.path) <= level or where.path[level][0] != id(body) \
                        or where.path[level][1] >= limit:
                    return False
    return True


def _dead_ops(body: Block) -> set[int]:
    """The ops of a loop body (and of blocks in it) that dead-code elimination would
    drop: no effect, and nothing live reads what they make.  Only read, never removed."""
    dead: set[int] = set()

    def visit(block: Block, live: set[int]) -> None:
        live.update(y.uid for y in block.yields if isinstance(y, Value))
        for op in reversed(block.ops):
            if not is_live(op, live):
                dead.update(id(o) for o in [op, *(i for b in op.blocks for i in walk_ops(b))])
                continue
            live.update(a.uid for a in op.args if isinstance(a, Value))
            for inner in op.blocks:
                visit(inner, live)

    visit(body, set())
    return dead


def save_overwritten(builder: Builder, write: Op, saved: Value, primal: set[int]) -> Op:
    """Before `write`: push what it overwrites and the index values; the write itself,
    in place (``attrs['in_place']``).  (The values are `primal`: forward sweep code.)"""
    target, _, _, *index = write.args
    region = builder.emit("getitem", [target, *index]).result
    kept = builder.emit("copy", [region], attrs={"method_copy": True}).result
    kept.name = "old"
    primal.update((region.uid, kept.uid))
    values = [a for a in index if isinstance(a, Value)]
    builder.emit("push", [saved, kept, *values], attrs={"effect": True}, n_results=0)
    clone = write.rebuilt(attrs={**write.attrs, "in_place": True})
    builder.block.ops.append(clone)
    for r in write.results:
        builder.producers[r.uid] = clone
    return clone


def restore_overwritten(builder: Builder, chain: list[Op], saved: Value,
                        state: Value) -> Value:
    """In the backward loop, before the recomputation: the values the chain's writes
    overwrote, written back in place in reverse order; the array as it was."""
    for write in reversed(chain):
        _, _, kind, *index = write.args
        values = [a for a in index if isinstance(a, Value)]
        popped = builder.emit("pop", [saved], n_results=1 + len(values),
                              attrs={"effect": True}).results
        popped[0].name = "old"
        given = iter(popped[1:])
        parts = [next(given) if isinstance(a, Value) else a for a in index]
        for part, value in zip(popped[1:], values):
            part.name = value.name
        attrs = {**write.attrs, "in_place": True}
        state = builder.emit("setitem", [state, popped[0], kind, *parts], attrs=attrs).result
    return state


def never_reread(analysis: _Analysis, loop: ForOp, chain: list[Op]) -> bool:
    """Whether the forward sweep need not save what the chain overwrites: one write, at
    ``counter + c`` on the first axis of a top-level loop over ``range(n)`` (or
    ``range(start, n)``, start >= 0), whose body reads the array only at ``counter + d``
    with d < c, or at a constant place below c + start (no place counted from the end:
    c + start >= 0 and d + start >= 0); the array the loop starts from used by the loop
    only."""
    if len(chain) != 1 or analysis.position[id(loop)].holders:
        return False
    start = _range_start(analysis, loop.iterable)
    write = chain[0]
    param = write.args[0]
    init = loop.inits[loop.carried_params.index(param)]
    if start is None or not isinstance(init, Value) or any(
            user is not loop for _, user, _ in analysis.uses.get(init.uid, ())):
        return False
    step = _offset(analysis, write.args[3], loop.item) if len(write.args) > 3 else None
    if step is None or step + start < 0:
        return False
    for _, user, _ in analysis.uses.get(param.uid, ()):
        if user is write:
            continue
        if user is None or user.prim != "getitem" or len(user.args) < 2:
            return False
        first = user.args[1]
        if isinstance(first, Const) and type(first.value) is int:
            if not 0 <= first.value < step + start:
                return False
            continue
        offset = _offset(analysis, first, loop.item)
        if offset is None or offset >= step or offset + start < 0:
            return False
    return True


def _range_start(analysis: _Analysis, iterable: Operand) -> int | None:
    made = analysis.producer.get(iterable.uid) if isinstance(iterable, Value) else None
    if made is None or made.prim != "call" or made.attrs.get("fn") is not builtins.range:
        return None
    if len(made.args) == 1:
        return 0
    first = made.args[0]
    if len(made.args) == 2 and isinstance(first, Const) and type(first.value) is int \
            and first.value >= 0:
        return first.value
    return None


def _offset(analysis: _Analysis, index: Operand, counter: Value) -> int | None:
    """c where `index` is ``counter + c`` (or the counter itself: 0), else None."""
    if index is counter:
        return 0
    made = analysis.producer.get(index.uid) if isinstance(index, Value) else None
    if made is None or made.prim not in ("add", "sub") or len(made.args) != 2:
        return None
    a, b = made.args
    if a is counter and isinstance(b, Const) and type(b.value) is int:
        return b.value if made.prim == "add" else -b.value
    if b is counter and isinstance(a, Const) and type(a.value) is int and made.prim == "add":
        return a.value
    return None


def write_in_place(builder: Builder, write: Op) -> Op:
    """The write itself, in place, with nothing saved (`never_reread`)."""
    clone = write.rebuilt(attrs={**write.attrs, "in_place": True})
    builder.block.ops.append(clone)
    for r in write.results:
        builder.producers[r.uid] = clone
    return clone
