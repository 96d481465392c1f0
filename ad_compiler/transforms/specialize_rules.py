"""The rewriting rules of `specialize` (specialize.py): each runtime helper whose
operands the facts make static becomes the plainer code it computes there
(``unbroadcast(g, x)`` is ``g`` or ``np.sum(g, axis=0)``, ``matmul_adjoint_b(g, X, w)``
is ``X.T @ g``, ``gradient_like`` of an array this code just made is that array).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import batched, runtime_arrays, runtime_writes
from ..builder import Builder
from ..ir import BINARY_SYMBOLS, Block, Const, Function, Op, Operand, Value
from ..registry import REGISTRY, has_expr
from ..registry.emit import array_op
from ..write_analysis import accumulations_in_place
from .specialize_reductions import ReductionAdjoints
from .specialize_sums import use_counts, view_adjoint
from .stacked_adjoints import stacked_product
from .static_shapes import Facts, is_array

_BATCHED_AS_IS = (batched.batched_broadcast_like, batched.batched_unbroadcast)


class _Rewriter(ReductionAdjoints):
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
        if out is None:
            return None
        if op.result.uid not in self.facts.sig and is_array(sigs[-1]) \
                and sigs[-1][3] == np.float64:  # (a value probe code did not report)
            self.facts.sig[op.result.uid] = sigs[-1]  # float64 steps: W's signature
        return e.done(out)

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
