"""Batched reverse mode: what the reverse sweep does differently where each adjoint
carries many cotangents on a last axis (``reverse(..., batched=True)``).

The rules are applied as written, through `Emit`, which emits every operation in its
vector-mode form; the sweep marks the adjoints it makes itself (sums, the adjoints an
``if`` or a loop yields), gives zero adjoints the cotangents' axis, and refuses what
has no batched form yet, so that the caller takes one sweep per cotangent instead.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..builder import Builder, is_const
from ..ir import Const, Function, Op, Operand, Value
from ..registry import is_elementwise
from ..registry.emit import param
from ..rules import zero_like
from ..shapes import SCALAR
from .common import located_error

if TYPE_CHECKING:
    from ..shapes import ShapeFacts


class BatchedAdjoints:
    """The reverse sweep's part for batched adjoints (`facts.batched_adjoints`)."""

    fn: Function
    facts: ShapeFacts
    values: dict[int, Value]

    def batched(self, adjoint: Operand) -> Operand:
        """An adjoint the sweep made, marked as carrying the cotangents' axis (batched
        reverse mode)."""
        if isinstance(adjoint, Value):
            self.facts.batched.add(adjoint.uid)
        return adjoint

    def batched_zero(self, adjoint: Operand, builder: Builder, like: Operand) -> Operand:
        """In batched reverse mode, a zero adjoint where a branch or a loop yields one:
        zeros shaped like `like` with the cotangents' axis."""
        if not (self.facts.batched_adjoints and is_const(adjoint, 0)):
            return adjoint
        return zero_like(builder, like, self.facts)

    def refuse_batched(self, op: Op, what: str) -> None:
        """Batched reverse mode cannot go through `op`: a located error, upon which the
        caller takes one sweep per cotangent."""
        if self.facts.batched_adjoints:
            raise located_error(self.fn, op, f"batched reverse mode has no rule for {what} "
                                             "yet", hint="one reverse sweep per cotangent")

    def _like(self, uid: int, op: Op) -> Value:
        """The primal value whose adjoint `uid` is, for a batched zero of its shape."""
        if uid not in self.values:
            self.refuse_batched(op, "an adjoint of a value it cannot name")
        return self.values.get(uid)

    def check_batched(self, op: Op, emitted: list[Op], builder: Builder) -> None:
        """Every op a rule emitted that reads a batched adjoint must be in its batched
        form: made through `Emit` (which marks its result), or elementwise with every
        other operand a number or given a last axis of length one (the builder's own
        rewrites, ``-(g * p)`` for ``g * -p``).  Any other op that reads one would mix
        the cotangents' axis with the primal ones: refused."""
        batched = self.facts.batched
        for made in emitted:
            reads = [a for a in made.args if isinstance(a, Value) and a.uid in batched]
            if not reads or all(r.uid in batched for r in made.results):
                continue
            others = [a for a in made.args if isinstance(a, Value) and a.uid not in batched]
            if is_elementwise(made.prim) and all(
                    _given_last_axis(builder.producers.get(a.uid))
                    or self.facts.shape_class(a) == SCALAR for a in others):
                batched.update(r.uid for r in made.results)
                continue
            self.refuse_batched(op, f"'{op.attrs.get('callee') or op.prim}' (its adjoint "
                                    f"calls '{made.attrs.get('label') or made.prim}')")



def _given_last_axis(op: Op | None) -> bool:
    """Whether `op` is ``np.expand_dims(p, -1)``: a primal factor aligned with a batched
    adjoint (`Emit` makes them)."""
    if op is None or op.prim != "expand_dims":
        return False
    axis = param(op, "axis")
    return isinstance(axis, Const) and axis.value == -1


