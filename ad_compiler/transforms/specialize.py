"""Derivative code specialised to the shapes of its inputs.

Generic array derivative code learns shapes at run time: ``unbroadcast(z_bar, b)``
compares two shapes on every call, ``matmul_adjoint_b(g, X, w)`` asks for two
dimensions before it picks ``X.T @ g``.  On small arrays those questions cost more
than the arithmetic.  Once the shapes and dtypes of the inputs are known they have
one answer, so the dispatcher (``dispatch.py``) runs *probe* code once per input
signature, which reports the type, shape and dtype of every value, and this module
turns that report into facts and the facts into plainer code:

* `static_shapes.analyse` decides which observed shapes are *static* (the same for
  every call with inputs of this signature);
* `specialize` rewrites runtime helpers whose operands are static:
  ``unbroadcast(g, x)`` becomes ``g`` or ``np.sum(g, axis=0)``, matrix-product
  adjoints become ``g @ W.T``, a full reduction's adjoint stays the scalar it is
  (``200.0 * d`` rather than ``ones * 200.0 * d``), the adjoint of two slices is
  ``x_bar[1:] += ...`` into one ``np.zeros_like(x)``, that of ``x[:, None]`` a sum over
  the new axis, and ``gradient_like`` of an array this code just made is that array;
  sums then take fewer passes (``specialize_sums.py``).  Dead shape bookkeeping then drops out
  (a backward loop no longer recomputes ``h @ Wh`` to learn its shape).

The rules are in ``specialize_rules.py``, those of full reductions' adjoints in
``specialize_reductions.py``.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from ..ir import Block, Const, Function, Op, Operand, Value
from ..registry import REGISTRY
from ..selected_adjoints import fold_inner_selections
from .optimize import eliminate_dead_code
from .specialize_rules import _Rewriter
from .specialize_sums import blocks_of, factor_folded, simplify_sums, use_counts
from .static_shapes import Facts, is_array


def specialize(fn: Function, facts: Facts) -> Function | None:
    """A copy of `fn` with the helpers its facts decide rewritten; None if none is."""
    clone = _clone(fn)
    rewriter = _Rewriter(facts, clone)
    rewriter.block(clone.body)
    rewriter.drop_broadcasts(clone)
    rewriter.resubstitute(clone.body)
    rewriter.finish_gradients(clone)
    rewriter.resubstitute(clone.body)
    if not rewriter.changed:
        return None
    eliminate_dead_code(clone)
    fold_inner_selections(blocks_of(clone.body), use_counts(clone.body),
                          lambda v: is_array(facts.of(v)) and len(facts.of(v)[2]) > 0)
    eliminate_dead_code(clone)
    _tidy(clone, facts)
    eliminate_dead_code(clone)
    while simplify_sums(clone, facts):  # a negation moved out of a sum lets it join the
        eliminate_dead_code(clone)       # next; each round makes fewer sums or negations
        _tidy(clone, facts)
        eliminate_dead_code(clone)
    _as_methods(clone, facts)
    return clone


# NumPy functions of an array printed as its methods in specialised code
_METHODS = frozenset({"sum", "mean", "max", "min", "prod", "reshape", "cumsum"})


def _as_methods(fn: Function, facts: Facts) -> None:
    """``x.sum(axis=0)`` for ``np.sum(x, axis=0)`` where x is an array: the same
    function without NumPy's dispatch through Python (a microsecond a call, most of a
    reduction of a small array)."""
    for block in blocks_of(fn.body):
        for op in block.ops:
            if op.prim in _METHODS and op.args and op.attrs.get("fn") is REGISTRY[op.prim].fn \
                    and not op.attrs.get("method") and is_array(facts.of(op.args[0])):
                op.attrs["method"] = op.prim


def _tidy(fn: Function, facts: Facts) -> None:
    """Arithmetic the rewrites leave behind, simplified exactly: ``100.0 * (2.0 * d)``
    is ``200.0 * d`` (a power of two scales exactly), ``-a + b`` is ``b - a``."""
    uses = use_counts(fn.body)
    blocks = blocks_of(fn.body)
    made = {r.uid: op for block in blocks for op in block.ops for r in op.results}

    def only_use(operand: Operand, prim: str) -> Op | None:
        if isinstance(operand, Value) and uses.get(operand.uid) == 1:
            op = made.get(operand.uid)
            if op is not None and op.prim == prim and len(op.results) == 1:
                return op
        return None

    replace: dict[int, Operand] = {}

    def stand_in(op: Op, value: Operand) -> None:
        """`value` is op's result from now on, read wherever that was."""
        replace[op.result.uid] = value
        uses[value.uid] = uses.get(value.uid, 0) - 1 + uses.get(op.result.uid, 0)

    for block in blocks:
        for op in block.ops:
            op.args = [replace.get(a.uid, a) if isinstance(a, Value) else a for a in op.args]
            if op.prim == "mul":
                for k in (0, 1):  # 1.0 * x is x for a number x (nothing to alias)
                    other = op.args[1 - k]
                    if _number(op.args[k]) and op.args[k].value == 1.0 and \
                            facts.of(other) in (("float",), ("scalar", np.float64)):
                        replace[op.result.uid] = other
                if op.result.uid in replace:
                    continue
                for k in (0, 1):
                    c, inner = op.args[k], only_use(op.args[1 - k], "mul")
                    if not (_number(c) and inner is not None):
                        continue
                    j = next((j for j in (0, 1) if _number(inner.args[j])), None)
                    if j is not None and (_power_of_two(c.value)
                                          or _power_of_two(inner.args[j].value)):
                        op.args = [Const(c.value * inner.args[j].value), inner.args[1 - j]]
                        break
                    if _power_of_two(c.value) and factor_folded(fn, op.args[1 - k], op,
                                                                c.value, only_use):
                        stand_in(op, op.args[1 - k])  # 2.0 * (a * (3.0 * b)) is a * (6.0 * b)
                        break
            elif op.prim == "neg" and factor_folded(fn, op.args[0], op, -1.0, only_use):
                stand_in(op, op.args[0])  # -(a * (3.0 * b)) is a * (-3.0 * b)
            elif op.prim == "add":
                for k in (0, 1):
                    negated = only_use(op.args[k], "neg")
                    if negated is not None:
                        op.prim, op.args = "sub", [op.args[1 - k], negated.args[0]]
                        break
        block.yields = [replace.get(y.uid, y) if isinstance(y, Value) else y
                        for y in block.yields]


def _number(operand: Operand) -> bool:
    return isinstance(operand, Const) and type(operand.value) is float


def _power_of_two(value: float) -> bool:
    return value != 0 and math.isfinite(value) and math.frexp(abs(value))[0] == 0.5


def _clone(fn: Function) -> Function:
    """New blocks and ops (passes edit them in place) sharing the same values."""
    out = copy.copy(fn)
    out.body = _clone_block(fn.body)
    if hasattr(fn, "derived"):
        out.derived = dict(fn.derived)
    return out


def _clone_block(block: Block) -> Block:
    ops = [op.rebuilt(blocks=[_clone_block(b) for b in op.blocks]) for op in block.ops]
    return Block(list(block.params), ops, list(block.yields))
