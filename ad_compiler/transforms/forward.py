"""Forward mode: tangents carried beside the primal values (seed 001's w-dot sweep).

Control flow keeps its shape: an ``if`` yields the tangents of its results from
whichever branch runs, and a loop carries the tangents of its carried values as
extra loop variables, so no stack is needed.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import batched as batched_runtime
from .. import batched_lists, runtime_lists, vector_tangents
from ..builder import Builder, is_const
from ..ir import (
    Block,
    Const,
    Function,
    IfOp,
    LoopOp,
    Op,
    Operand,
    Value,
    WhileOp,
    is_numpy_operator_call,
    walk_ops,
)
from ..registry.emit import Emit
from ..rules import is_nondiff, jvp, zero_like
from ..shapes import ShapeFacts
from .common import (
    DerivativeFunction,
    check_iterable,
    check_supported,
    copy_op,
    derive,
    name_fresh,
    name_output,
    no_rule_error,
    reverse_code_error,
    start,
    varied_values,
)
from .kinds import Kinds
from .linear_tangents import factor_tangents


@dataclass
class _Direction:
    fmt: str  # how a tangent is named after its primal value
    tangents: dict[int, Operand]


def forward(fn: Function, wrt: list[int], *, unit_seeds: bool,
            batched: bool = False, differentiated: int | None = None,
            float_inputs: bool = False) -> DerivativeFunction:
    """Interleave a tangent sweep with the primal one.

    With `unit_seeds`, one sweep runs per input in `wrt`, seeded with 1 for that
    input and 0 for the others; tangents are named ``dv_dx``.  Otherwise the
    function takes one tangent argument per input in `wrt` (``x_dot``); with `batched`
    (vector mode) each tangent argument carries many directions on a last, extra axis.
    Outputs: the primal outputs, then each direction's tangents of them (of the first
    `differentiated` of them, where given: the others are auxiliary results).  With
    `float_inputs`, the caller passes floats or float arrays for the inputs in `wrt`.
    """
    out, builder = start(fn, f"{fn.name}_jvp", "forward")
    directions: list[_Direction] = []
    for i in wrt:
        param = fn.params[i]
        if unit_seeds:
            directions.append(_Direction(f"d{{}}_d{param.name}", {param.uid: Const(1.0)}))
        else:
            tangent = Value()
            out.derived[tangent.uid] = (param, "{}_dot")
            out.params.append(tangent)
            if not directions:
                directions.append(_Direction("{}_dot", {}))
            directions[0].tangents[param.uid] = tangent
    if not unit_seeds and not directions:  # nothing carries a tangent: the outputs' are zero
        directions.append(_Direction("{}_dot", {}))
    facts = ShapeFacts.of(fn, scalar_output=unit_seeds)
    if batched:
        facts.scalar_code = False
        facts.batched = {t.uid for t in out.params[len(fn.params):]}
        facts.batch_seed = out.params[len(fn.params)]
    sweep = _Sweep(fn, out, directions, varied_values(fn, wrt), facts,
                   Kinds(fn, numeric_outputs=unit_seeds, outputs=differentiated,
                         float_inputs=tuple(wrt) if float_inputs else ()))
    out.kinds = sweep.kinds
    facts.integers = {uid for uid, kind in sweep.kinds.kinds.items() if kind == "int"}
    sweep.ops(fn.body.ops, builder)

    builder.loc = None
    outputs: list[Operand] = list(fn.outputs)
    for d in directions:
        for primal_out in fn.outputs[:differentiated]:
            tangent = sweep.tangent(d, primal_out)
            if not facts.scalar_code and (tangent is None or is_const(tangent, 0)):
                tangent = zero_like(builder, primal_out, facts)
            outputs.append(name_output(out, builder, tangent, primal_out, d.fmt))
    out.body.yields = outputs
    if directions:
        out.tangents = dict(directions[0].tangents)
    if batched:
        factor_tangents(out, facts.batched)
    return out


class _Sweep:
    def __init__(self, fn: Function, out: DerivativeFunction, directions: list[_Direction],
                 varied: set[int], facts: ShapeFacts, kinds: Kinds) -> None:
        self.fn, self.out, self.directions, self.varied = fn, out, directions, varied
        self.facts, self.kinds = facts, kinds
        self._whole_slots: dict[int, frozenset[int]] | None = None

    def whole_number_slots(self, stack: Operand) -> frozenset[int]:
        """The places of a stack's entries that every push fills with a whole number (a
        loop counter): they carry no tangent, at the push and at the pop alike."""
        if self._whole_slots is None:
            slots: dict[int, set[int]] = {}
            for op in walk_ops(self.fn.body):
                if op.prim == "push" and isinstance(op.args[0], Value):
                    ints = {k for k, a in enumerate(op.args[1:]) if self.kinds.of(a) == "int"}
                    uid = op.args[0].uid
                    slots[uid] = ints if uid not in slots else slots[uid] & ints
            self._whole_slots = {uid: frozenset(v) for uid, v in slots.items()}
        return self._whole_slots.get(stack.uid, frozenset()) if isinstance(stack, Value) \
            else frozenset()

    def tangent(self, d: _Direction, operand: Operand) -> Operand | None:
        return d.tangents.get(operand.uid) if isinstance(operand, Value) else None

    def is_varied(self, operand: Operand) -> bool:
        return isinstance(operand, Value) and operand.uid in self.varied

    def ops(self, ops: list[Op], builder: Builder) -> None:
        for op in ops:
            if isinstance(op, IfOp):
                self._if(op, builder)
            elif isinstance(op, LoopOp):
                self._loop(op, builder)
            else:
                self._op(op, builder)

    def _op(self, op: Op, builder: Builder) -> None:
        if op.prim in ("push", "pop") and self.is_varied(op.args[0]):
            self._stack_op(op, builder)
            return
        if op.prim == "index_add" or op.prim == "zero_items" and self.is_varied(op.result):
            self._accumulation(op, builder)
            return
        copy_op(builder, op)
        if not any(self.is_varied(a) for a in op.args):
            return
        called = op.attrs.get("fn") if op.prim == "call" and not op.attrs.get("kwnames") \
            else None
        if called in vector_tangents.ZERO_TANGENT:
            return
        if called in vector_tangents.OUTER_RULES:  # vector-mode code differentiated again
            self._vector_code_tangent(op, builder)
            return
        check_supported(self.fn, op)
        if is_nondiff(op):
            return
        builder.loc = op.loc
        for d in self.directions:
            arg_tangents = [self.tangent(d, a) for a in op.args]
            if all(t is None for t in arg_tangents):
                continue
            if op.prim in ("add", "mul") and not self.kinds.numeric(op.result):
                tangent = self._sequence_tangent(op, arg_tangents, builder)
            else:
                if is_numpy_operator_call(op):  # np.subtract(xs, ys) of lists: their tangents too
                    arg_tangents = [self._as_array(a, t, builder)
                                    for a, t in zip(op.args, arg_tangents)]
                tangent = derive(self.fn, op, jvp, builder, op, arg_tangents, self.facts)
            if is_const(tangent, 0):  # folded to zero (x - x): no tangent, as if constant
                tangent = None
            elif op.attrs.get("family") == "numpy" and tangent in arg_tangents:
                # np.mod(xs, 0.7) passes a list's tangent through: NumPy made it an array
                tangent = self._as_array(op.args[arg_tangents.index(tangent)], tangent, builder)
            if tangent is not None:
                d.tangents[op.result.uid] = tangent
                name_fresh(self.out, tangent, op.result, d.fmt)

    def _vector_code_tangent(self, op: Op, builder: Builder) -> None:
        """The tangent of a vector-mode function of vector_tangents.py: through its
        batched arguments together (the function again, on the two axes of directions
        merged in vector mode; zeros for a batched argument without a tangent), through
        an array it is linear in besides (once per outer direction), and through an
        argument it is nonlinear in by that argument's own rule (`THROUGH`, in vector
        mode only).  An argument read for its shape only has no tangent to pass."""
        fn = op.attrs["fn"]
        rule = vector_tangents.rule_of(fn, op.args)
        through = vector_tangents.through_of(fn, op.args)
        if rule is None or any(k >= len(op.args) for k in (*rule[0], *rule[1], *through)):
            raise no_rule_error(self.fn, op)
        batched_at, linear_at = rule
        followed = {*batched_at, *linear_at, *through,
                    vector_tangents.SHAPE_OR_ORDER_ONLY.get(fn)}
        if any(self.tangent(d, a) is not None for d in self.directions
               for k, a in enumerate(op.args) if k not in followed):
            raise no_rule_error(self.fn, op)  # (a value it reads that no rule follows)
        e = Emit(builder, self.facts)
        outer = self.facts.batched is not None
        for d in self.directions:
            terms = []
            carrying = [k for k in batched_at if self.tangent(d, op.args[k]) is not None]
            if carrying:  # zeros for the others, a constant left as it is
                args = [self._tangent_or_zero(d, a, builder)
                        if k in batched_at and isinstance(a, Value) else a
                        for k, a in enumerate(op.args)]
                if outer:
                    merged_at = tuple(k for k in batched_at if isinstance(op.args[k], Value))
                    terms.append(e.batched_call(vector_tangents.merged, Const(fn), Const(
                        merged_at[0] if len(merged_at) == 1 else merged_at), *args))
                else:
                    terms.append(builder.emit("call", args, attrs={
                        "fn": fn, "kwnames": ()}).result)
            for k in linear_at:
                t = self.tangent(d, op.args[k])
                if t is None:
                    continue
                args = [t if j == k else a for j, a in enumerate(op.args)]
                if outer:
                    terms.append(e.batched_call(vector_tangents.each_outer, Const(fn),
                                                Const(k), *args))
                else:
                    terms.append(builder.emit("call", args, attrs={
                        "fn": fn, "kwnames": ()}).result)
            for k, tangent_through in through.items():
                t = self.tangent(d, op.args[k])
                if t is None:
                    continue
                if not outer:  # (written for outer directions on a last axis)
                    raise no_rule_error(self.fn, op)
                terms.append(e.batched_call(tangent_through, op.result, t, *op.args))
            tangent = (e.sum_terms(terms) if outer else builder.sum(terms)) if terms else None
            if tangent is not None:
                d.tangents[op.result.uid] = tangent
                name_fresh(self.out, tangent, op.result, d.fmt)

    def _as_array(self, operand: Operand, tangent: Operand | None,
                  builder: Builder) -> Operand | None:
        """The tangent of an operand a NumPy function converts to an array, as an array."""
        if tangent is None or isinstance(tangent, Const) or self.kinds.numeric(operand):
            return tangent
        return Emit(builder, self.facts).array("array", tangent)

    def _sequence_tangent(self, op: Op, tangents: list[Operand | None],
                          builder: Builder) -> Operand:
        """The tangent of ``a + b`` or ``a * n`` that may join or repeat lists: decided
        when the code runs (``sum_tangent``, ``product_tangent``)."""
        helper = "sum_tangent" if op.prim == "add" else "product_tangent"
        args = [*op.args, *(Const(None) if t is None else t for t in tangents), op.result]
        if self.facts.batched is not None:  # the directions on a last axis: zeros need them
            fn = getattr(batched_lists, f"batched_{helper}")
            made = builder.emit("call", [*args, self.facts.batch_seed],
                                attrs={"fn": fn, "kwnames": ()}).result
            self.facts.batched.add(made.uid)
            return made
        return builder.emit(helper, args, attrs={"fn": getattr(runtime_lists, helper),
                                                 "kwnames": ()}).result

    def _stack_op(self, op: Op, builder: Builder) -> None:
        """Differentiated reverse-mode code: a stack of varying values also holds their
        tangents, pushed after the values and popped with them."""
        whole = self.whole_number_slots(op.args[0])  # loop counters have no tangent
        if op.prim == "push":
            items = [a for k, a in enumerate(op.args[1:]) if k not in whole]
            # in vector mode a zero tangent needs its axis of directions too
            zeros_from = builder if self.facts.batched is not None else None
            tangents = [self._tangent_or_zero(d, a, zeros_from)
                        for d in self.directions for a in items]
            clone = Op("push", [*op.args, *tangents], [], dict(op.attrs), [], op.loc)
            builder.block.ops.append(clone)
            return
        made = []
        for d in self.directions:
            for k, r in enumerate(op.results):
                if k in whole:
                    continue
                t = Value()
                self.out.derived[t.uid] = (r, d.fmt)
                made.append((d, r, t))
                if self.facts.batched is not None:  # popped tangents carry the directions
                    self.facts.batched.add(t.uid)
        clone = Op("pop", list(op.args), [*op.results, *(t for _, _, t in made)],
                   dict(op.attrs), [], op.loc)
        builder.block.ops.append(clone)
        for d, r, t in made:
            d.tangents[r.uid] = t
        self.varied.update(r.uid for k, r in enumerate(op.results) if k not in whole)

    def _accumulation(self, op: Op, builder: Builder) -> None:
        """Differentiated reverse-mode code: a list of adjoints that a backward loop adds
        varying values into, item by item, has a tangent list beside it, made as it is
        and added into at the same items (``xs_bar_dot[i] += g_dot``)."""
        copy_op(builder, op)
        if not self.is_varied(op.result if op.results else op.args[2]):
            return
        batched = self.facts.batched is not None
        if batched and op.attrs.get("nested"):
            raise reverse_code_error(self.fn, op)  # (one sweep per direction)
        builder.loc = op.loc
        for d in self.directions:
            if op.prim == "zero_items" and batched:  # each item with its directions
                t = builder.emit("call", [op.args[0], self.facts.batch_seed], attrs={
                    "fn": batched_runtime.batch_zeros, "kwnames": ()}).result
                self.facts.batched.add(t.uid)
                d.tangents[op.result.uid] = t
                self.out.derived[t.uid] = (op.result, d.fmt)
                continue
            if op.prim == "zero_items":
                t = builder.emit("zero_items", list(op.args), attrs=dict(op.attrs)).result
                d.tangents[op.result.uid] = t
                self.out.derived[t.uid] = (op.result, d.fmt)
                continue
            acc, index, value = op.args
            value_dot = self.tangent(d, value)
            if value_dot is None:
                continue
            acc_dot = self.tangent(d, acc)
            made = builder.producers.get(acc.uid) if isinstance(acc, Value) else None
            if acc_dot is None and batched and made is not None and made.attrs.get(
                    "nondiff") and any(o is made for o in builder.block.ops):
                # zeros made here (np.zeros_like(x) in code specialised to its shapes):
                # zeros with the directions beside them, added into at the same places
                acc_dot = builder.emit("call", [acc, self.facts.batch_seed], attrs={
                    "fn": batched_runtime.batch_zeros, "kwnames": ()}).result
                self.facts.batched.add(acc_dot.uid)
                d.tangents[acc.uid] = acc_dot
                self.out.derived[acc_dot.uid] = (acc, d.fmt)
            if acc_dot is None:
                raise reverse_code_error(self.fn, op)
            if batched:  # x_bar_dot[..., :1, :] += g_dot: `...` stops before the directions
                index = self._before_directions(index, builder)
            builder.block.ops.append(Op("index_add", [acc_dot, index, value_dot], [],
                                        dict(op.attrs), [], op.loc))

    def _before_directions(self, index: Operand, builder: Builder) -> Operand:
        """An index of a primal array, for its batched tangent: the same, but where it
        has ``...``, which must stop before the directions' last axis (decided when the
        code runs for an index it computes, unless that is a whole number)."""
        if isinstance(index, Const):
            return Const(batched_runtime.directions_kept(index.value))
        if self.kinds.of(index) == "int":
            return index
        return builder.emit("call", [index], attrs={
            "fn": batched_runtime.directions_kept, "kwnames": ()}).result

    def _new_tangents(self, values: list[Value]) -> list[tuple[_Direction, int, Value]]:
        """Fresh values for the tangents of the varied ones among `values`."""
        made = []
        for d in self.directions:
            for k, v in enumerate(values):
                if v.uid in self.varied:
                    t = Value()
                    self.out.derived[t.uid] = (v, d.fmt)
                    made.append((d, k, t))
                    if self.facts.batched is not None:
                        self.facts.batched.add(t.uid)
        return made

    def _tangent_or_zero(self, d: _Direction, operand: Operand,
                         builder: Builder | None = None) -> Operand:
        t = self.tangent(d, operand)
        if t is None:
            return Const(0.0) if builder is None else zero_like(builder, operand, self.facts)
        return t

    def _carried_tangent(self, d: _Direction, init: Operand, following: Operand | None,
                         builder: Builder) -> Operand:
        """The tangent a loop's carried value starts with.  In vector mode zeros carry
        the directions, but the zero adjoint ``0.0`` of what may be a container (a
        list's adjoint accumulated item by item, as the value an iteration passes on,
        `following`, may be) stays a number: a zero of any structure, which the
        runtime's adjoint helpers add as one."""
        if self.facts.batched is not None and self.tangent(d, init) is None and \
                is_const(init, 0) and not self.kinds.numeric(following):
            return Const(0.0)
        return self._tangent_or_zero(d, init, builder)

    def _block(self, block: Block, builder: Builder, params: list[Value]) -> tuple[Block, Builder]:
        inner = Block(params=params)
        inner_builder = Builder(inner, builder.producers)
        self.ops(block.ops, inner_builder)
        return inner, inner_builder

    def _if(self, op: IfOp, builder: Builder) -> None:
        made = self._new_tangents(op.results)
        blocks = []
        for branch in op.blocks:
            inner, inner_builder = self._block(branch, builder, [])
            inner.yields = list(branch.yields) + [
                self._tangent_or_zero(d, branch.yields[k], inner_builder) for d, k, _ in made]
            blocks.append(inner)
        clone = op.rebuilt(results=list(op.results) + [t for _, _, t in made], blocks=blocks)
        if op.attrs.get("try"):
            clone = self._split_try(clone, len(op.results), builder)
        builder.block.ops.append(clone)
        for d, k, t in made:
            d.tangents[op.results[k].uid] = t

    def _split_try(self, clone: IfOp, n_primal: int, builder: Builder) -> IfOp:
        """A try statement computes the primal values only; their tangents follow it,
        in an if on which clause ran, so that an exception in tangent code is never
        taken for one of the try clause."""
        primal = self.out.primal
        tangent_blocks = []
        for block in clone.blocks:
            keep = [o for o in block.ops if not o.results or any(r.uid in primal
                                                                 for r in o.results)]
            moved = [o for o in block.ops if o not in keep]
            tangent_blocks.append(Block(ops=moved, yields=block.yields[n_primal:]))
            block.ops, block.yields = keep, block.yields[:n_primal]
        primal_results, tangent_results = clone.results[:n_primal], clone.results[n_primal:]
        clone.results = primal_results
        if tangent_results:
            builder.block.ops.append(clone)
            return IfOp([primal_results[-1]], tangent_results, {}, tangent_blocks, clone.loc)
        return clone

    def _loop(self, op: LoopOp, builder: Builder) -> None:
        check_iterable(self.fn, op, self.varied)
        body, params, inits = op.body, op.carried_params, op.inits
        made_params = self._new_tangents(params)
        for d, k, t in made_params:
            d.tangents[params[k].uid] = t
        tangent_params = [t for _, _, t in made_params]
        tangent_inits = [self._carried_tangent(d, inits[k], body.yields[k] if k < len(
            body.yields) else None, builder) for d, k, _ in made_params]
        blocks = []
        if isinstance(op, WhileOp):
            cond_params = list(op.cond_block.params) + [Value() for _ in tangent_params]
            cond = Block(params=cond_params, yields=list(op.cond_block.yields))
            cond_builder = Builder(cond, builder.producers)
            for inner_op in op.cond_block.ops:
                copy_op(cond_builder, inner_op)
            blocks.append(cond)
        new_body, body_builder = self._block(body, builder, list(body.params) + tangent_params)
        new_body.yields = list(body.yields) + [
            self._tangent_or_zero(d, body.yields[k], body_builder) for d, k, _ in made_params]
        blocks.append(new_body)
        made_results = []
        for d, k, _ in made_params:
            r = Value()
            self.out.derived[r.uid] = (op.results[k], d.fmt)
            if self.facts.batched is not None:
                self.facts.batched.add(r.uid)
            made_results.append(r)
            d.tangents[op.results[k].uid] = r
        clone = op.rebuilt(args=op.head + list(inits) + tangent_inits,
                           results=list(op.results) + made_results, blocks=blocks)
        builder.block.ops.append(clone)
