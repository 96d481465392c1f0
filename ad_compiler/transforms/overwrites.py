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
"""
from __future__ import annotations

from ..builder import Builder
from ..ir import Const, ForOp, Function, LoopOp, Op, Value
from ..registry.writes import BASIC_ARRAY
from ..write_analysis import _Analysis

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
        if all(_read_before(analysis, version, chain[j], top, level, body)
               for j, version in enumerate([param] + [w.result for w in chain[:-1]])):
            chains[k] = chain
    return chains


def _into_array(write: Op) -> bool:
    """A write into an array at a basic index (a list's items are not copied out)."""
    kind = write.args[2]
    return isinstance(kind, Const) and kind.value == BASIC_ARRAY


def _read_before(analysis: _Analysis, version: Value, write: Op, top: dict[int, int],
                 level: int, body: object) -> bool:
    """Whether every use of `version` but `write` reads it by indexing, at the body's top
    level before `write`, and what that makes is used before `write` too."""
    limit = top[id(write)]
    for _, user, _ in analysis.uses.get(version.uid, ()):
        if user is write:
            continue
        if user is None or user.prim != "getitem" or user.args[0] is not version \
                or top.get(id(user), limit) >= limit:
            return False
        for shared in analysis.sharing_set(user.result, write):
            for where, _, _ in analysis.uses.get(shared, ()):
                if len(where.path) <= level or where.path[level][0] != id(body) \
                        or where.path[level][1] >= limit:
                    return False
    return True


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
