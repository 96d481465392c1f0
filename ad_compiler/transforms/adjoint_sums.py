"""Sums of partial adjoints in the reverse sweep: ``+`` for numbers and arrays, the
runtime's item-wise ``add`` for lists and tuples, and the dense form of a sparse
adjoint (a slice's partial adjoint) where the rules need one.
"""
from __future__ import annotations

from .. import runtime
from ..builder import Builder
from ..ir import Const, Op, Operand, Value


class AdjointSums:
    """The reverse sweep's sums of partial adjoints (a mixin of its `_Sweep`)."""

    def is_container(self, uid: int) -> bool:
        """Whether a value, or the value it recomputes, is indexed or iterated somewhere."""
        seen: set[int] = set()
        while uid not in self.containers and uid in self.out.aliases and uid not in seen:
            seen.add(uid)
            uid = self.out.aliases[uid].uid
        return uid in self.containers

    def total(self, uid: int, builder: Builder, terms: list[Operand],
              start: Operand | None = None) -> Operand:
        """The sum of partial adjoints (``start`` first): ``+`` for numbers and arrays,
        the runtime's item-wise ``add`` for lists and tuples (also where no code indexes
        them: ``+`` of two adjoint lists would read as joining them when this code is
        differentiated again)."""
        if self.facts.batched_adjoints:  # dense arrays, cotangents on a last axis
            if len(terms) > 1 and uid in self.values and not self._numeric(self.values[uid]):
                self.refuse_batched(self.fn_producers.get(uid) or Op("", [], []),
                                    "a list or tuple used twice")
            total = builder.sum(terms[::-1]) if terms else Const(0.0)
            return self.batched(total if start is None else builder.add(start, total))
        if not self.is_container(uid) and not (
                uid in self.values and self.kinds.container(self.values[uid])):
            sparse = any(isinstance(t, Value) and getattr(builder.producers.get(t.uid), "prim",
                                                          None) in ("index_update", "accumulate")
                         for t in terms)
            if sparse and uid in self.values:  # an array indexed where this code cannot
                like = self.values[uid]        # tell: the index's part added item-wise
                return _densified(builder, self._accumulated(builder, terms, start), like)
            total = builder.sum(terms[::-1]) if terms else Const(0.0)
            return total if start is None else builder.add(start, total)
        return self._accumulated(builder, terms, start)

    def _accumulated(self, builder: Builder, terms: list[Operand],
                     start: Operand | None) -> Operand:
        total = start
        for term in _merge_updates(builder, terms)[::-1]:
            total = term if total is None else builder.emit(
                "accumulate", [total, term], attrs={"fn": runtime.add, "kwnames": ()}).result
        return Const(0.0) if total is None else total


def _merge_updates(builder: Builder, terms: list[Operand]) -> list[Operand]:
    """Partial adjoints of one item or slice (``x[:-1]`` used twice) added before they are
    scattered into the list's or array's adjoint: one update instead of two."""
    merged: list[Operand] = []
    first: dict[tuple, int] = {}  # (base, constant index) -> position in `merged`
    for term in terms:
        op = builder.producers.get(term.uid) if isinstance(term, Value) else None
        if op is None or op.prim != "index_update" or not isinstance(op.args[1], Const):
            merged.append(term)
            continue
        key = (id(op.args[0]), repr(op.args[1].value))
        if key not in first:
            first[key] = len(merged)
            merged.append(term)
            continue
        earlier = builder.producers[merged[first[key]].uid]
        value = builder.add(earlier.args[2], op.args[2])
        merged[first[key]] = builder.emit("index_update", [op.args[0], op.args[1], value],
                                          attrs=dict(op.attrs)).result
    return merged


def _densified(builder: Builder, adjoint: Operand, like: Value) -> Operand:
    """The adjoint as a dense array or list (a slice's partial adjoint is sparse), which
    the rules may share among operands."""
    return builder.emit("dense", [adjoint, like],
                        attrs={"fn": runtime.dense, "kwnames": ()}).result
