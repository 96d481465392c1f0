"""Reverse mode through a loop that grows a list by appending to it, in linear time.

``for i in range(n): xs.append(f(i))`` (and ``[f(i) for i in range(n)]``, lowered the
same way) makes, in the IR, a new list per iteration, ``xs_1 = xs + [v]``.  Taped as
any carried value and printed as it means, that is a copy of the list per iteration
in the forward sweep and a slice of its adjoint per iteration in the backward sweep:
quadratic in the length.  Where the loop body does nothing with the list but append
to it once, and nothing else holds the list, neither sweep needs the shorter lists:

* the forward sweep appends in place (``xs.append(v)``, the `appended` helper with
  ``attrs['in_place']``); the tape holds the one list object, not its versions;
* the backward loop takes the item's adjoint off the end of the list's adjoint, in
  place (``xs_bar, v_bar = pop_last(xs_bar)``): the list of adjoints shrinks as the
  list grew, so nothing is saved to undo the appends.
"""
from __future__ import annotations

from ..builder import Builder
from ..ir import Const, ForOp, IfOp, LoopOp, Op, Operand, Value
from ..runtime_writes import appended, pop_last, split_last
from ..write_analysis import _Analysis

Appends = dict[int, list[Op]]  # carried position -> the appends into that list, in order


def _is_append(op: Op | None, items: Value) -> bool:
    """``items + [v]`` as the user's code appends, or ``items.append(v)`` as a gradient
    appends (differentiated again)."""
    return op is not None and (op.prim == "add" and bool(op.attrs.get("append"))
                               or op.prim == "appended") \
        and op.args[0] is items and len(op.results) == 1


def appended_lists(analysis: _Analysis, loop: LoopOp) -> Appends:
    """The carried lists of a loop of the primal function that the body only appends
    to, at its top level; made by the code for this loop (a new list, read by nothing
    but the loop) and, after it, neither appended to nor carried on."""
    if not isinstance(loop, ForOp) or id(loop) not in analysis.position:
        return {}
    body = loop.body
    top = {id(o) for o in body.ops}
    found: Appends = {}
    for k, (param, init, yielded) in enumerate(zip(loop.carried_params, loop.inits,
                                                   body.yields)):
        chain: list[Op] = []
        current = param
        while True:
            users = [u for _, u, _ in analysis.uses.get(current.uid, ())]
            if len(users) != 1 or not _is_append(users[0], current) or id(users[0]) not in top \
                    or not _one_item(analysis, users[0]):
                break
            chain.append(users[0])
            current = users[0].result
        if not chain or current is not yielded or [u for _, u, _ in analysis.uses.get(
                yielded.uid, ())] != [None]:
            continue  # a version of the list is read in the body, or carried twice
        if not _new_list(analysis, init) or analysis._read_after(
                init, analysis.position[id(loop)], skip=loop):
            continue
        if not _only_read_after(analysis, loop.results[k]):
            continue
        found[k] = chain
    return found


def _one_item(analysis: _Analysis, append: Op) -> bool:
    """Whether the append adds the one item of a list display used by nothing else."""
    if append.prim == "appended":
        return True  # (the item itself)
    item = analysis.producer.get(append.args[1].uid) \
        if isinstance(append.args[1], Value) else None
    return item is not None and item.prim == "pack" and len(item.args) == 1 and \
        len(analysis.uses.get(item.result.uid, ())) == 1


def _new_list(analysis: _Analysis, init: Operand) -> bool:
    """A list display made here (``xs = []``, ``xs = [x0]``), or another owned value."""
    if not isinstance(init, Value):
        return False
    made = analysis.producer.get(init.uid)
    if made is not None and made.prim == "pack" and made.attrs.get("kind") == "list":
        return True
    return analysis.owned(init)


def _only_read_after(analysis: _Analysis, result: Value) -> bool:
    """Whether the loop's list is only read after it: not appended to, carried by
    another loop, yielded by an if or returned (the backward sweep keeps the list it
    made as it is)."""
    for _, user, _ in analysis.uses.get(result.uid, ()):
        if user is None or isinstance(user, IfOp) or user.prim in ("setitem", "add_at"):
            return False
        if isinstance(user, LoopOp) and result in user.inits:
            return False
        if user.prim == "add":
            return False
    return True


def append_in_place(builder: Builder, append: Op) -> Op:
    """The forward sweep's ``xs.append(v)``: the value the list display held, appended
    into the list in place (the display itself is then dead code)."""
    value = appended_item(builder, append)
    attrs = {"fn": appended, "kwnames": (), "in_place": True}
    op = Op("appended", [append.args[0], value], list(append.results), attrs, [], append.loc)
    builder.block.ops.append(op)
    for r in op.results:
        builder.producers[r.uid] = op
    return op


def appended_item(builder: Builder, append: Op) -> Operand:
    """The item an append adds: the one item of the display ``[v]`` of ``xs + [v]``."""
    items, display = append.args
    if append.prim == "appended":
        return display
    return builder.producers[display.uid].args[0]


def copied_as_pure(op: Op) -> Op:
    """An op of reverse-mode code as the forward sweep of its own reverse mode copies
    it: the backward loop's ``pop_last`` as `split_last`, which leaves the list of
    adjoints as it was (the taped loop reads each version again), and an append in
    place as a new list, unless `appended_lists()` finds it in place again."""
    if op.prim == "pop_last":
        return op.rebuilt(prim="split_last", attrs={**op.attrs, "fn": split_last})
    if op.prim == "appended" and op.attrs.get("in_place"):
        attrs = dict(op.attrs)
        del attrs["in_place"]
        return op.rebuilt(attrs=attrs)
    return op


def take_last(builder: Builder, adjoint: Operand) -> tuple[Value, Value]:
    """In the backward loop: the list's adjoint without its last item, and that item
    (the adjoint of the appended value), taken off in place."""
    pair = builder.emit("pop_last", [adjoint], attrs={"fn": pop_last, "kwnames": ()}).result
    pair.name = "popped"
    rest = builder.emit("getitem", [pair, Const(0)]).result
    last = builder.emit("getitem", [pair, Const(1)]).result
    return rest, last
