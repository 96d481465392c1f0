"""Lists of adjoints that backward loops add into, item by item (``xs_bar[i] += g``).

A loop over the items of a list reads ``xs[index]``; its backward loop adds each
item's adjoint into one list made before it (``zero_items``), and a later backward
loop over the same items adds into that list too.  Such code differentiated again in
reverse mode gives each update's value the item of the list's own adjoint: the list is
read only after its last update, so that adjoint is complete before the backward sweep
meets the first of them.
"""
from __future__ import annotations

from .. import runtime
from ..builder import Builder
from ..ir import Block, Op, Operand, Value, walk_ops

Partials = dict[int, list[Operand]]


class Accumulations:
    """The reverse sweep's handling of adjoint lists updated in place (a mixin of the
    sweep, whose `containers`, `accumulators`, `accumulated`, `out`, `values`,
    `is_varied()` and `_accumulated()` it uses)."""

    def _dense_accumulators(self, inner_partials: Partials, outer: Builder,
                            inner: Builder, partials: Partials) -> dict[int, Value]:
        """Lists whose items the loop body reads: their adjoint is one list, made
        before the loop and updated in place (``xs_bar[i] += g``), not carried.  A list
        a later backward loop (the one of an earlier loop over the same items) already
        made for them is updated again, rather than a second one made and added to it."""
        dense = {}
        made_inside = {p.uid for p in inner.block.params} | {
            r.uid for o in walk_ops(inner.block) for r in o.results}
        for u, terms in list(inner_partials.items()):
            updates = [inner.producers.get(t.uid) if isinstance(t, Value) else None
                       for t in terms]
            if u not in self.containers or not all(
                    op is not None and op.attrs.get("fn") is runtime.index_update
                    for op in updates):
                continue
            base = updates[0].args[0]
            if isinstance(base, Value) and base.uid in made_inside:
                continue  # indexed where the loop body makes it: accumulated as it goes
            acc = self._reusable_accumulator(partials.get(u, []), outer)
            if acc is not None:
                partials[u].remove(acc)
                if not partials[u]:
                    del partials[u]
            else:
                acc = outer.emit("zero_items", [base], attrs={"fn": runtime.zero_items,
                                                              "kwnames": ()}).result
                self.out.derived[acc.uid] = (base, "{}_bar")
                self.accumulators.add(acc.uid)
            nested = any(o.prim == "getitem" and o.args[0] is base
                         and o.result.uid in self.containers for o in inner.block.ops)
            by_index: dict[tuple, list] = {}  # updates of one index are summed first
            for update in updates:
                _, index, value = update.args
                key = ("v", index.uid) if isinstance(index, Value) else ("c", repr(index))
                by_index.setdefault(key, [index, []])[1].append(value)
            for index, values in by_index.values():
                if nested:
                    for value in values:
                        inner.emit("index_add", [acc, index, value],
                                   attrs={"effect": True, "nested": True}, n_results=0)
                    continue
                negated = [inner.negated(v) for v in values]
                subtract = all(n is not None for n in negated)  # xs_bar[i] -= a + b
                total = inner.sum((negated if subtract else values)[::-1])
                inner.emit("index_add", [acc, index, total],
                           attrs={"effect": True, "subtract": subtract}, n_results=0)
            del inner_partials[u]
            dense[u] = acc
        return dense

    def _reusable_accumulator(self, terms: list[Operand], outer: Builder) -> Value | None:
        """A list of adjoints made by another backward loop in the block this one goes
        into, and read by nothing yet (it waits, a partial adjoint, to be summed)."""
        for term in terms:
            if isinstance(term, Value) and term.uid in self.accumulators:
                maker = outer.producers.get(term.uid)
                if maker is not None and any(op is maker for op in outer.block.ops):
                    return term
        return None

    def _adjoints_of_accumulated(self, op: Op, builder: Builder, partials: Partials) -> None:
        """Before the adjoint of a loop or ``if`` whose blocks add into a list of
        adjoints made outside them: that list's adjoint, which every update reads."""
        nested = list(walk_ops(Block(ops=[op])))
        made = {r.uid for o in nested for r in o.results} | {
            p.uid for o in nested for b in o.blocks for p in b.params}
        for inner in nested:
            if inner.prim == "index_add" and self.is_varied(inner.args[2]) \
                    and inner.args[0].uid not in made:
                self._accumulated_adjoint(inner.args[0], builder, partials)

    def _accumulated_adjoint(self, acc: Value, builder: Builder,
                             partials: Partials) -> Operand | None:
        """The adjoint of a list that code adds into item by item, read only after its
        last update: each update's value gets that adjoint's item."""
        if acc.uid not in self.accumulated:
            terms = partials.pop(acc.uid, None)
            total = None
            if terms:
                total = self._accumulated(builder, terms, None)
                partials[acc.uid] = [total]
                total = builder.emit("dense", [total, acc],
                                     attrs={"fn": runtime.dense, "kwnames": ()}).result
                self.out.derived[total.uid] = (acc, "{}_bar")
            self.accumulated[acc.uid] = total
        return self.accumulated[acc.uid]

    def _adjoint_index_add(self, op: Op, builder: Builder, partials: Partials) -> None:
        """``acc[i] += v``: `v`'s adjoint is item `i` of `acc`'s (``-=``: its negative)."""
        acc, index, value = op.args
        if not self.is_varied(value):
            return
        builder.loc = op.loc
        acc_bar = self._accumulated_adjoint(acc, builder, partials)
        if acc_bar is None:
            return
        part = builder.emit("getitem", [acc_bar, index]).result
        if op.attrs.get("subtract"):
            part = builder.neg(part)
        self.values[value.uid] = value
        partials.setdefault(value.uid, []).append(part)
