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
"""
from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from .. import batched, runtime_arrays, runtime_writes
from ..builder import Builder
from ..ir import BINARY_SYMBOLS, Block, Const, Function, Op, Operand, Value
from ..primitives import OPERATOR_FUNCTIONS
from ..registry import REGISTRY, has_expr
from ..registry.emit import array_op
from ..selected_adjoints import fold_inner_selections
from ..write_analysis import accumulations_in_place
from .optimize import eliminate_dead_code
from .specialize_sums import (
    blocks_of,
    factor_folded,
    simplify_sums,
    use_counts,
    view_adjoint,
)
from .stacked_adjoints import stacked_product
from .static_shapes import Facts, is_array

# ------------------------------------------------------------------ rewriting

_BATCHED_AS_IS = (batched.batched_broadcast_like, batched.batched_unbroadcast)


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


def _count(shape: tuple, axis: Any) -> int:
    """How many elements a reduction over `axis` of an array of `shape` combines."""
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


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


class _Rewriter:
    def __init__(self, facts: Facts, fn: Function) -> None:
        self.facts = facts
        self.derived: dict = getattr(fn, "derived", {})
        self.primal: set = getattr(fn, "primal", set()) or set()
        self.replace: dict[int, Operand] = {}
        self.gradients: list[Op] = []  # gradient_like ops that may turn out unneeded
        self.adds_into = accumulations_in_place(fn)  # accumulate op -> operand owned
        self.producer: dict[int, Op] = {}
        self.stacked: dict[int, Operand] = {}  # steps of a loop -> np.array of them
        self.changed = False

    def sub(self, operand: Operand) -> Operand:
        while isinstance(operand, Value) and operand.uid in self.replace:
            operand = self.replace[operand.uid]
        return operand

    def block(self, block: Block) -> None:
        ops: list[Op] = []
        replace = self.replace
        for op in block.ops:
            op.args = [self.sub(a) if type(a) is Value and a.uid in replace else a
                       for a in op.args]
            for inner in op.blocks:
                self.block(inner)
            made = self.rewrite(op)
            if made is None:
                made = [op]
            else:
                self.changed = True
            for new in made:
                for r in new.results:
                    self.producer[r.uid] = new
            ops += made
        block.ops = ops
        block.yields = [self.sub(y) for y in block.yields]

    # each rule returns the ops replacing `op` ([] when its result is another value)
    def rewrite(self, op: Op) -> list[Op] | None:
        rule = getattr(self, "_" + op.prim, None)
        if op.prim == "call" and op.attrs.get("fn") is runtime_arrays.scalar_seed:
            rule = self._scalar_seed
        elif op.prim == "call" and op.attrs.get("fn") is runtime_writes.check_inplace:
            rule = self._check_inplace
        elif op.prim == "call" and op.attrs.get("fn") in _BATCHED_AS_IS:
            rule = self._batched_as_is
        if rule is None or op.blocks:
            return None
        try:
            return rule(op, [self.facts.of(a) for a in op.args])
        except _Keep:
            return None

    def same(self, op: Op, operand: Operand) -> list[Op]:
        self.replace[op.result.uid] = operand
        self.inherit_name(op.result, operand)
        return []

    def inherit_name(self, old: Value, new: Operand) -> None:
        """A temporary standing for a named adjoint takes its name (``z_bar``)."""
        if isinstance(new, Value) and new.name is None and new.uid not in self.derived \
                and new.uid not in self.primal:
            if old.uid in self.derived:
                self.derived[new.uid] = self.derived[old.uid]
            elif old.name is not None:
                new.name = old.name

    def _unbroadcast(self, op: Op, sigs: list) -> list[Op] | None:
        g, x = op.args
        gs, xs = _shape(sigs[0]), _shape(sigs[1])
        if gs is None or xs is None:
            return None
        if gs == xs:
            return self.same(op, g)
        if not is_array(sigs[0]) or len(gs) < len(xs):
            return None
        lead = len(gs) - len(xs)
        b = _Emitting(op)
        out = g
        if lead:
            out = b.array("sum", out, axis=tuple(range(lead)) if lead > 1 else 0)
        kept = tuple(i for i, n in enumerate(xs) if n == 1 and gs[lead + i] != 1)
        if kept:
            out = b.array("sum", out, axis=kept if len(kept) > 1 else kept[0], keepdims=True)
        return b.done(out)

    def _broadcast_like(self, op: Op, sigs: list) -> list[Op] | None:
        if _shape(sigs[0]) is not None and _shape(sigs[0]) == _shape(sigs[1]):
            return self.same(op, op.args[0])
        return None

    def _batched_as_is(self, op: Op, sigs: list) -> list[Op] | None:
        """A batched tangent or adjoint that already has the primal's shape (and its
        directions) is what ``batched_broadcast_like`` and ``batched_unbroadcast`` give."""
        t, like = _shape(sigs[0]), _shape(sigs[1])
        if is_array(sigs[0]) and like is not None and t[:-1] == like:
            return self.same(op, op.args[0])
        return None

    def _expand_dims(self, op: Op, sigs: list) -> list[Op] | None:
        """``np.expand_dims(p, -1)`` of an array is ``p[:, None]`` (vector mode's
        factor of every direction), without the call's checks."""
        axis = op.args[1] if len(op.args) == 2 else None
        if not (is_array(sigs[0]) and isinstance(axis, Const) and axis.value == -1):
            return None
        e = _Emitting(op)
        index = [Const(slice(None))] * len(sigs[0][2]) if len(sigs[0][2]) <= 2 \
            else [Const(Ellipsis)]
        return e.done(e.op("getitem", op.args[0], *index, Const(None)))

    def _zero_if_integral(self, op: Op, sigs: list) -> list[Op] | None:
        """A derivative through a cast is zeroed only where the result holds integers."""
        y = sigs[1]
        if y is not None and (y[0] in ("float", "complex") or (
                y[0] == "array" and y[3].kind in "fc") or (
                y[0] == "scalar" and issubclass(y[1], np.inexact))):
            return self.same(op, op.args[0])
        return None

    def _selected_places(self, op: Op, sigs: list) -> list[Op] | None:
        """np.where's boolean condition itself (or its negation) where no axis of it
        is summed."""
        if not (is_array(sigs[0]) and sigs[0][3].kind == "b"):
            return None
        like = op.args[1] if len(op.args) > 1 else Const(None)
        negate = op.args[2] if len(op.args) > 2 else Const(False)
        if not isinstance(negate, Const):
            return None
        if not (isinstance(like, Const) and like.value is None):
            cs, ls = _shape(sigs[0]), _shape(sigs[1])
            if cs is None or ls is None or len(cs) > len(ls):
                return None
            offset = len(ls) - len(cs)
            if any(ls[offset + i] == 1 and n != 1 for i, n in enumerate(cs)):
                return None
        if not negate.value:
            return self.same(op, op.args[0])
        e = _Emitting(op)
        return e.done(e.call(np.logical_not, op.args[0]))

    def _gradient_like(self, op: Op, sigs: list) -> list[Op] | None:
        g, x = op.args
        if sigs[1] is None:
            return None
        if sigs[1][0] in ("float", "int", "bool", "complex", "scalar"):
            return self.same(op, g)  # gradient_like passes these through
        if not (is_array(sigs[1]) and sigs[1][3].kind == "f"):
            return None
        updates = self._scatters(g, sigs[1])
        if updates:
            b = _Emitting(op)
            acc = b.call(np.zeros_like, x)
            for index, value in updates:
                b.effect("index_add", [acc, index, value])
            return b.done(acc)
        if is_array(sigs[0]) and sigs[0][2:] == sigs[1][2:]:
            self.gradients.append(op)  # dropped at the end if g is fresh and used here only
        return None

    def finish_gradients(self, fn: Function) -> None:
        """``gradient_like(g, x)`` is `g` where `g` is an array this code made, of x's
        shape and dtype, that nothing else uses (so no two outputs are one array)."""
        uses = use_counts(fn.body)
        for op in self.gradients:
            g = op.args[0]
            if isinstance(g, Value) and uses.get(g.uid) == 1 and self._fresh(g) \
                    and self.facts.of(g) == self.facts.of(op.args[1]):
                self.same(op, g)
                self.changed = True

    def _scatters(self, g: Operand, like: tuple) -> list[tuple[Operand, Operand]] | None:
        """``add(index_update(x, i, a), index_update(x, j, b))``: the (index, value)
        parts of a sparse adjoint that plain ``+=`` can add up (no repeated index)."""
        made = self.producer.get(g.uid) if isinstance(g, Value) else None
        if made is None:
            return None
        if made.prim == "accumulate":
            left = self._scatters(made.args[0], like)
            right = self._scatters(made.args[1], like) if left else None
            return left + right if right else None
        if made.prim != "index_update" or self.facts.of(made.args[0]) != like:
            return None
        index = made.args[1]
        parts = self._index_parts(index)
        if parts is not None and not isinstance(index, Const):
            index = Const(parts)  # printed as written, x_bar[:, None, :] += g
        if parts is None or not all(isinstance(p, (int, slice)) or p is None or p is Ellipsis
                                    for p in parts):
            sig = self.facts.of(index)
            if sig is None or sig[0] not in ("int", "scalar"):
                return None
        return [(index, made.args[2])]

    def _index_parts(self, index: Operand) -> tuple | None:
        """The parts of an index that is a constant or a tuple of constants (``x[:, None,
        :]``), None for any other."""
        if isinstance(index, Const):
            return index.value if isinstance(index.value, tuple) else (index.value,)
        made = self.producer.get(index.uid) if isinstance(index, Value) else None
        if made is None or made.prim != "pack" or made.attrs.get("kind", "tuple") != "tuple" \
                or not all(isinstance(a, Const) for a in made.args):
            return None
        return tuple(a.value for a in made.args)

    def _fresh(self, g: Operand) -> bool:
        """Whether `g` is an array this code made (so returning it aliases nothing)."""
        made = self.producer.get(g.uid) if isinstance(g, Value) else None
        if made is None:
            return False
        if made.prim in BINARY_SYMBOLS or made.prim in ("neg", "outer", "prod_adjoint", "where"):
            return True
        if made.prim in ("sum_adjoint", "mean_adjoint"):  # filled, not broadcast, when
            g, x = (self.facts.of(a) for a in made.args[:2])  # spread over a float array
            return len(made.args) == 2 and _shape(g) == () and is_array(x) and x[3].kind == "f"
        if made.attrs.get("fn") in (max, min):
            return False  # Python's max returns one of its operands
        return has_expr(made.prim) or isinstance(
            made.attrs.get("fn"), np.ufunc) or (made.prim in ("sum", "mean")
                                                 and len(made.args) > 1)

    def _matmul_adjoint_a(self, op: Op, sigs: list) -> list[Op] | None:
        g, a, b = op.args
        na, nb = _ndim(sigs[1]), _ndim(sigs[2])
        e = _Emitting(op)
        if na == 2 and nb == 2 and is_array(sigs[2]):
            return e.done(e.op("matmul", g, e.transposed(b)))
        if na == 1 and nb == 2:
            return e.done(e.op("matmul", b, g))
        if na == 2 and nb == 1 and _ndim(sigs[0]) == 1:
            return e.done(e.array("outer", g, b))
        if na == 1 and nb == 1 and _ndim(sigs[0]) == 0 and is_array(sigs[2]):
            return e.done(e.op("mul", g, b))  # of an inner product
        return None

    def _matmul_adjoint_b(self, op: Op, sigs: list) -> list[Op] | None:
        g, a, b = op.args
        na, nb = _ndim(sigs[1]), _ndim(sigs[2])
        e = _Emitting(op)
        if na == 2 and nb == 2 and is_array(sigs[1]):
            return e.done(e.op("matmul", e.transposed(a), g))
        if na == 2 and nb == 1:
            return e.done(e.op("matmul", g, a))
        if na == 1 and nb == 2 and _ndim(sigs[0]) == 1:
            return e.done(e.array("outer", a, g))
        if na == 1 and nb == 1:
            return e.done(e.op("mul", g, a))
        return None

    def _summed_matmul_adjoint_b(self, op: Op, sigs: list) -> list[Op] | None:
        e = _Emitting(op)  # a sum over a loop's steps (stacked_adjoints.py)
        out = stacked_product(op, self, e)
        return None if out is None else e.done(out)

    _summed_unbroadcast = _summed_matmul_adjoint_b

    def _transpose(self, op: Op, sigs: list) -> list[Op] | None:
        if len(op.args) == 1 and is_array(sigs[0]) and not op.attrs.get("attribute"):
            op.attrs["attribute"] = "T"  # x.T is np.transpose(x) without the call
            return [op]
        return None

    def _swapaxes(self, op: Op, sigs: list) -> list[Op] | None:
        axes = {a.value for a in op.args[1:] if isinstance(a, Const)}
        if is_array(sigs[0]) and len(sigs[0][2]) == 2 and axes in ({0, 1}, {-1, -2}, {0, -1},
                                                                   {-2, 1}):
            e = _Emitting(op)
            return e.done(e.transposed(op.args[0]))
        return None

    def _scalar_seed(self, op: Op, sigs: list) -> list[Op] | None:
        if _shape(sigs[0]) == ():
            return self.same(op, Const(1.0))  # the output is a scalar for these inputs
        return None

    def _check_inplace(self, op: Op, sigs: list) -> list[Op] | None:
        """An augmented assignment that NumPy surely could do in place: the target is a
        number, or an array of the result's shape whose dtype the result casts to."""
        target, result = sigs[0], sigs[1]
        if target is None or target[0] in ("float", "int", "bool", "complex", "scalar"):
            return None if target is None else []
        if is_array(target) and is_array(result) and target[2] == result[2] and \
                np.can_cast(result[3], target[3], casting="same_kind"):
            return []
        return None

    def _keep_dtype(self, op: Op, sigs: list) -> list[Op] | None:
        """``a += v`` leaves the result itself in `a` where `a` is a number, or an array
        of the result's dtype."""
        target, result = sigs[0], sigs[1]
        if target is not None and (target[0] in ("float", "int", "bool", "complex", "scalar")
                                   or is_array(target) and is_array(result)
                                   and target[3] == result[3]):
            return self.same(op, op.args[1])
        return None

    def _accumulate(self, op: Op, sigs: list) -> list[Op] | None:
        if is_array(sigs[0]) and sigs[0] == sigs[1]:
            e = _Emitting(op)
            return e.done(e.op("add", *op.args))
        into = self.adds_into.get(id(op))  # an adjoint array read no more: added into
        if into is None or not (is_array(sigs[into]) and sigs[into][3].kind == "f"):
            return None
        updates = self._scatters(op.args[1 - into], sigs[into])
        if not updates:
            return None
        acc = op.args[into]  # acc[i] += v for each x[i]'s adjoint v
        e = _Emitting(op)
        for index, value in updates:
            e.effect("index_add", [acc, index, value])
        self.replace[op.result.uid] = acc
        return e.b.block.ops

    def _index_update(self, op: Op, sigs: list) -> list[Op] | None:
        """The adjoint of ``x[:, None]`` of an array `x`: a sum over the new axes."""
        return view_adjoint(op, self._index_parts(op.args[1]), sigs, self.same, self.facts)

    def _dense(self, op: Op, sigs: list) -> list[Op] | None:
        g, like = op.args
        if is_array(sigs[0]) and sigs[0] == sigs[1]:
            return self.same(op, g)  # dense already, and a plain array
        if not (is_array(sigs[1]) and sigs[1][3].kind == "f"):
            return None
        updates = self._scatters(g, sigs[1])
        if not updates:
            return None
        e = _Emitting(op)  # x[1:]'s adjoint: zeros, and the slice added in
        acc = e.call(np.zeros_like, like)
        for index, value in updates:
            e.effect("index_add", [acc, index, value])
        return e.done(acc)

    # ------------------------------------------------ adjoints of full reductions
    def drop_broadcasts(self, fn: Function) -> None:
        """``sum_adjoint(1.0, y) * 100.0 * d`` is ``100.0 * d`` when `d` already has
        y's shape: an adjoint spread over a full reduction, and constant multiples of
        it, stay scalars wherever broadcasting would widen them anyway."""
        users: dict[int, list[Op | None]] = {}
        spread: dict[int, float] = {}  # value -> the scalar it is, spread over its shape
        self.uses = use_counts(fn.body)
        for block in blocks_of(fn.body):
            for y in block.yields:
                if isinstance(y, Value):
                    users.setdefault(y.uid, []).append(None)
            for op in block.ops:
                for a in op.args:
                    if isinstance(a, Value):
                        users.setdefault(a.uid, []).append(op)
                scalar = self._spread(op, spread)
                if scalar is not None:
                    spread[op.result.uid] = scalar
        memo: dict[int, bool] = {}

        def droppable(uid: int) -> bool:
            if uid not in memo:
                memo[uid] = False  # values only feed later ops: no cycle reaches here
                memo[uid] = bool(users.get(uid)) and all(
                    user is not None and (
                        (user.result.uid in spread and droppable(user.result.uid))
                        or self._widens(user, uid)) for user in users[uid])
            return memo[uid]

        for block in blocks_of(fn.body):  # sum_adjoint(g, x, 1, True) * x: g broadcasts itself
            for op in block.ops:
                g = self._broadcasts_itself(op)
                if g is not None and op.result.uid not in spread and users.get(op.result.uid) \
                        and all(u is not None and self._widens(u, op.result.uid)
                                for u in users[op.result.uid]):
                    for user in users[op.result.uid]:
                        user.args = [g if a is op.result else a for a in user.args]
                    self.changed = True
        for uid, scalar in spread.items():
            if not droppable(uid):
                continue
            for user in users[uid]:
                if user.result.uid in spread:
                    continue  # dead once its own users take the scalar
                user.args = [Const(scalar) if isinstance(a, Value) and a.uid == uid else a
                             for a in user.args]
                self._drop_unit_factor(user)
            self.changed = True

    def _broadcasts_itself(self, op: Op) -> Operand | None:
        """The `g` of ``sum_adjoint(g, x, axis, keepdims)`` when broadcasting `g` against
        an array shaped like `x` already lines it up (kept dims, or leading axes)."""
        if op.prim != "sum_adjoint":
            return None
        g, x = (self.facts.of(a) for a in op.args[:2])
        if len(op.args) == 2 and is_array(x) and (  # a number spreads over x as it is
                g == ("float",) or (g == ("scalar", np.float64) and x[3] == np.float64)):
            return op.args[0]
        if len(op.args) < 3 or not is_array(g):
            return None
        axis, keepdims = op.args[2], op.args[3] if len(op.args) > 3 else Const(False)
        if not (is_array(x) and isinstance(axis, Const) and isinstance(keepdims, Const)):
            return None
        if keepdims.value is True:
            return op.args[0]
        axes = axis.value if isinstance(axis.value, tuple) else (axis.value,)
        ndim = len(x[2])
        if all(isinstance(a, int) for a in axes) and \
                sorted(a % ndim for a in axes) == list(range(len(axes))):
            return op.args[0]  # leading axes: g lines up with x's trailing ones
        return None

    def _spread(self, op: Op, spread: dict[int, float]) -> float | None:
        sig = self.facts.of(op.result) if len(op.results) == 1 else None
        if not (is_array(sig) and sig[3].kind == "f"):
            return None
        if op.prim in ("sum_adjoint", "mean_adjoint"):
            g = op.args[0]
            if isinstance(g, Value) and g.uid in spread:
                value = spread[g.uid]
            elif isinstance(g, Const) and type(g.value) is float:
                value = g.value
            else:
                return None
            axis = op.args[2] if len(op.args) > 2 else Const(None)
            if not isinstance(axis, Const):
                return None
            return value / (_count(sig[2], axis.value) if op.prim == "mean_adjoint" else 1)
        if op.prim not in ("mul", "add", "sub", "truediv", "neg"):
            return None
        values = []
        for a in op.args:
            if isinstance(a, Value) and a.uid in spread:
                values.append(spread[a.uid])
            elif isinstance(a, Const) and type(a.value) in (int, float):
                values.append(float(a.value))
            else:
                return None
        if len(values) == len(op.args) and any(isinstance(a, Value) for a in op.args):
            try:
                return float(OPERATOR_FUNCTIONS[op.prim](*values))
            except ArithmeticError:
                return None
        return None

    def _widens(self, user: Op, uid: int) -> bool:
        """Whether `user` gives the same result with a scalar in place of value `uid`."""
        if user.prim not in ("mul", "add", "sub", "truediv") or len(user.results) != 1:
            return False
        others = [self.facts.of(a) for a in user.args
                  if not (isinstance(a, Value) and a.uid == uid)]
        result = self.facts.of(user.result)
        if not (len(others) == 1 and is_array(others[0]) and is_array(result)
                and others[0][2] == result[2]):
            return False
        # a Python float leaves a float array's dtype as it is, and makes a bool or
        # int array float64 (NumPy 2's promotion of Python scalars)
        dtype = others[0][3]
        return dtype == result[3] or (dtype.kind in "biu" and result[3] == np.float64)

    def _drop_unit_factor(self, op: Op) -> None:
        """``1.0 * d`` (a unit seed put back as a scalar) is ``d``, where `d` is an array
        this code made (so the product was not needed as a copy)."""
        if op.prim != "mul":
            return
        for k in (0, 1):
            other = op.args[1 - k]
            if isinstance(op.args[k], Const) and op.args[k].value == 1.0 and self._fresh(other) \
                    and self.uses.get(other.uid) == 1 \
                    and self.facts.of(other) == self.facts.of(op.result):
                self.replace[op.result.uid] = other
                self.inherit_name(op.result, other)
                return

    def resubstitute(self, block: Block) -> None:
        replace = self.replace
        for op in block.ops:
            op.args = [self.sub(a) if type(a) is Value and a.uid in replace else a
                       for a in op.args]
            for inner in op.blocks:
                self.resubstitute(inner)
        block.yields = [self.sub(y) for y in block.yields]


class _Keep(Exception):
    """A rule that leaves its op as it is."""


def _shape(sig: tuple | None) -> tuple | None:
    if sig is None:
        return None
    if sig[0] == "array":
        return sig[2]
    if sig[0] in ("float", "int", "bool", "complex", "scalar"):
        return ()
    return None


def _ndim(sig: tuple | None) -> int | None:
    shape = _shape(sig)
    return None if shape is None else len(shape)


class _Emitting:
    """Ops replacing one op; the last of them computes the op's own result."""

    def __init__(self, op: Op) -> None:
        self.op_ = op
        self.b = Builder(Block())
        self.b.loc = op.loc

    def op(self, prim: str, *args: Operand) -> Operand:
        return self.b.emit(prim, list(args)).result

    def array(self, name: str, *args: Operand, **statics: Any) -> Operand:
        spec = REGISTRY[name]
        given = {**dict(zip(spec.params, args)), **{k: Const(v) for k, v in statics.items()}}
        return array_op(self.b, name, given)

    def call(self, fn: Any, *args: Operand) -> Operand:
        attrs = {"fn": fn, "kwnames": (), "nondiff": True}  # np.zeros_like: no derivative
        return self.b.emit("call", list(args), attrs=attrs).result

    def transposed(self, x: Operand) -> Operand:
        t = self.array("transpose", x)
        self.b.block.ops[-1].attrs["attribute"] = "T"
        return t

    def effect(self, prim: str, args: list[Operand]) -> None:
        self.b.emit(prim, args, attrs={"effect": True}, n_results=0)

    def done(self, result: Operand) -> list[Op]:
        ops = self.b.block.ops
        target = self.op_.result
        maker = next((o for o in reversed(ops) if result in o.results), None)
        if maker is None:
            raise _Keep
        maker.results = [target if r is result else r for r in maker.results]
        for o in ops[ops.index(maker) + 1:]:  # effects after it read the final name
            o.args = [target if a is result else a for a in o.args]
        return ops
