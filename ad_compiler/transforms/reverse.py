"""Reverse mode: a forward sweep, then adjoints in reverse order (seed 002).

An adjoint is the sum of its partial adjoints over the value's uses,
``v_bar = sum_j v_bar_{v->j}``; the partials are collected as the backward sweep
meets each use and summed when the sweep reaches the op defining the value.

Control flow:

* ``if``: the backward sweep runs an ``if`` on the same condition; each branch
  propagates adjoints through the branch taken and yields the partial adjoints of
  the values defined before the ``if``.
* loops: the forward sweep pushes each iteration's carried values (and the loop
  item) on a stack, so memory is O(iterations x carried values).  The backward loop
  pops them in reverse, recomputes that iteration's body, and propagates adjoints
  through it; adjoints of the carried values are the backward loop's own carried
  values, and partial adjoints of values from outside the loop are accumulated.
  A loop nested in a loop body is recomputed, and taped, inside the outer
  backward loop, so its stack holds one outer iteration at a time.
"""
from __future__ import annotations

from .. import runtime, runtime_arrays, runtime_lists
from ..batched import batched_gradient_like
from ..builder import Builder, is_const
from ..ir import Block, Const, Function, IfOp, LoopOp, Op, Operand, Value, WhileOp, walk_ops
from ..primitives import draws_anew
from ..rules import active_operands, is_nondiff, vjp
from ..shapes import SCALAR, ShapeFacts
from . import appends, overwrites
from .accumulators import Accumulations, Partials
from .adjoint_sums import AdjointSums, _densified
from .batched_reverse import BatchedAdjoints
from .common import (
    DerivativeFunction,
    check_iterable,
    check_supported,
    container_values,
    copy_op,
    derive,
    located_error,
    makes_active,
    name_fresh,
    name_output,
    refuse_calls_without_rules,
    start,
    useful_values,
    varied_values,
)
from .kinds import Kinds
from .reverse_control import ControlAdjoints, SavedResults, _block_tour


def reverse(fn: Function, wrt: list[int], *, seed_params: bool,
            seeded: int | None = None, batched: bool = False) -> DerivativeFunction:
    """Adjoints of the inputs in `wrt`.

    With `seed_params`, the function takes one cotangent argument per output
    (``y_bar``); otherwise every output is seeded with 1.0 (a gradient).  With
    `batched` (batched reverse mode), each cotangent argument carries many cotangents
    on a last, extra axis, as vector mode carries tangents, and so does every adjoint.
    Only the first `seeded` outputs are differentiated, where given (the others are
    auxiliary results passed through).  Outputs: the primal outputs, then the adjoints
    of the inputs in `wrt`.
    """
    out, builder = start(fn, f"{fn.name}_vjp", "reverse")
    facts = ShapeFacts.of(fn, scalar_output=not seed_params)
    facts.aliases = out.aliases
    if batched:
        facts.scalar_code, facts.batched, facts.batched_adjoints = False, set(), True
    varied = varied_values(fn, wrt)
    active = varied & useful_values(fn, fn.outputs[:seeded])
    # batched reverse mode is called with floats or float arrays for the inputs in `wrt`
    # (assemble.py checks), so `+` and `*` of them are arithmetic
    sweep = _Sweep(fn, out, active, facts,
                   Kinds(fn, numeric_outputs=not seed_params, outputs=seeded,
                         float_inputs=tuple(wrt) if batched else ()))
    out.kinds = sweep.kinds
    sweep.forward(fn.body.ops, builder, tape=True)

    partials: Partials = {}
    for primal_out in fn.outputs[:seeded]:
        if seed_params:
            seed = Value()
            if isinstance(primal_out, Value):
                out.derived[seed.uid] = (primal_out, "{}_bar")
            else:
                seed.name = "out_bar"
            out.params.append(seed)
            if batched:
                facts.batched.add(seed.uid)
                facts.batch_seed = facts.batch_seed or seed
        elif facts.scalar_code or not isinstance(primal_out, Value) or \
                facts.shape_class(primal_out) == SCALAR:  # a full reduction, say
            seed = Const(1.0)
        else:  # array code: the output is checked to be a scalar where it is seeded
            seed = builder.emit("call", [primal_out], attrs={
                "fn": runtime_arrays.scalar_seed, "kwnames": (), "nondiff": True}).result
            seed.name = "seed"
        if sweep.is_varied(primal_out):
            partials.setdefault(primal_out.uid, []).append(seed)

    sweep.backward(fn.body.ops, builder, partials)
    refuse_calls_without_rules(fn, varied)  # after the sweep's own, more specific refusals

    # the inputs' adjoints close the sweep: they stay under the last comment it made
    outputs: list[Operand] = list(fn.outputs)
    for i in wrt:
        param = fn.params[i]
        terms = partials.get(param.uid)
        total = sweep.total(param.uid, builder, terms) if terms else None
        if batched:  # shape and dtype of the input, and the cotangents' axis
            attrs = {"fn": batched_gradient_like, "kwnames": ()}
            total = builder.emit("call", [total or Const(0.0), param, facts.batch_seed],
                                 attrs=attrs).result
        elif not facts.scalar_code:  # shape, dtype and type of the input, checked float
            attrs = {"fn": runtime.gradient_like, "kwnames": ()}
            total = builder.emit("gradient_like", [total or Const(0.0), param],
                                 attrs=attrs).result
        elif param.uid in sweep.containers or not sweep.kinds.numeric(param):
            # a container's adjoint: the same structure in plain types (zeros where
            # nothing flowed; an input of unknown kind that nothing reads gets zeros too)
            attrs = {"fn": runtime.as_gradient, "kwnames": ()}
            total = builder.emit("as_gradient", [total or Const(0.0), param],
                                 attrs=attrs).result
        adjoint = name_output(out, builder, total, param, "{}_bar")
        out.adjoints[param.uid] = adjoint
        outputs.append(adjoint)
    out.body.yields = outputs
    return out


class _Sweep(ControlAdjoints, AdjointSums, BatchedAdjoints, Accumulations):
    def __init__(self, fn: Function, out: DerivativeFunction, varied: set[int],
                 facts: ShapeFacts, kinds: Kinds) -> None:
        self.fn, self.out, self.varied, self.facts, self.kinds = fn, out, varied, facts, kinds
        self.containers = container_values(fn)
        self.fn_producers = {r.uid: o for o in walk_ops(fn.body) for r in o.results}
        self._has_stacks = any(op.prim == "stack" for op in walk_ops(fn.body))
        self._has_accumulations = any(op.prim == "index_add" for op in walk_ops(fn.body))
        self._tour = _block_tour(fn.body)  # block -> (enter, leave), value -> its block
        self.stacks: dict[int, Value] = {}  # id(loop op) -> its stack in this scope
        self.values: dict[int, Value] = {}  # uid -> value, for naming partial adjoints
        # differentiating reverse-mode code: stacks it pushes and pops have adjoint stacks,
        # and a pop inside a taped loop saves what it popped for the recomputation
        self.adjoint_stacks: dict[int, Value] = {}
        self.pop_saves = SavedResults()  # pops of outer stacks and draws of taped loops
        # id(loop) -> (carried arrays written in place, the stack of what they overwrote)
        self.overwrites: dict[int, tuple[overwrites.Chains, Value]] = {}
        # id(loop) -> lists it only appends to, in place; the recomputed appends' results
        self.appends: dict[int, appends.Appends] = {}
        self.append_results: set[int] = set()
        # id(loop) -> carried arrays it fills in place saving nothing (never_reread): the
        # backward loop reads the loop's result, the same array, instead of the tape
        self.left_as_is: dict[int, set[int]] = {}
        self.accumulators: set[int] = set()  # lists of adjoints a backward loop updates
        # differentiating reverse-mode code: the adjoints of the lists of adjoints it adds
        # into in place (``xs_bar[i] += g``), dense, made before their first update is met
        self.accumulated: dict[int, Operand | None] = {}
        self._analysis = None

    def _primal_analysis(self):  # noqa: ANN202 - built once, where a loop is taped
        if self._analysis is None:
            self._analysis = overwrites.primal_analysis(self.fn)
        return self._analysis

    def is_varied(self, operand: Operand) -> bool:
        return isinstance(operand, Value) and operand.uid in self.varied

    # ------------------------------------------------------------- forward sweep
    def forward(self, ops: list[Op], builder: Builder, tape: bool) -> None:
        """Copy primal ops; with `tape`, loops push what their backward loop pops."""
        for op in ops:
            if isinstance(op, IfOp):
                blocks = []
                for branch in op.blocks:
                    inner = Block(yields=list(branch.yields))
                    self.forward(branch.ops, Builder(inner, builder.producers), tape)
                    blocks.append(inner)
                builder.block.ops.append(op.rebuilt(blocks=blocks))
            elif isinstance(op, LoopOp) and tape and makes_active(op, self.varied):
                self._taped_loop(op, builder)
            elif isinstance(op, LoopOp):
                # a list only appended to (the keys max(xs, key=f) compares) grows in
                # place here too: no copy of it per iteration
                grown = appends.appended_lists(self._primal_analysis(), op) if tape else {}
                appended = {id(a) for chain in grown.values() for a in chain}
                blocks = []
                for block in op.blocks:
                    inner = Block(params=list(block.params), yields=list(block.yields))
                    inner_builder = Builder(inner, builder.producers)
                    for block_op in block.ops:
                        if id(block_op) in appended:
                            appends.append_in_place(inner_builder, block_op)
                        else:
                            self.forward([block_op], inner_builder, tape=False)
                    blocks.append(inner)
                builder.block.ops.append(op.rebuilt(blocks=blocks))
            elif op.attrs.get("replay_only"):
                continue  # a push recomputed for its adjoint only: the stack is not refilled
            else:
                copy_op(builder, appends.copied_as_pure(op))
                save = self.pop_saves.get(op)  # a pop of an outer stack, or a random draw
                if save is not None:
                    builder.emit("push", [save, *op.results],
                                 attrs={"effect": True}, n_results=0)

    def _taped_loop(self, op: LoopOp, builder: Builder) -> None:
        check_iterable(self.fn, op, self.varied)
        body = op.body
        builder.loc = op.loc
        stack = builder.emit("stack", []).result
        stack.name = "stack"
        stack_op = builder.block.ops[-1]
        stack_op.loc = None
        self.stacks[id(op)] = stack
        chains = overwrites.written_chains(self._primal_analysis(), op)
        unsaved = {id(chain[0]) for chain in chains.values()
                   if overwrites.never_reread(self._primal_analysis(), op, chain)}
        self.left_as_is[id(op)] = {k for k, chain in chains.items() if id(chain[0]) in unsaved}
        chains = {k: chain for k, chain in chains.items() if id(chain[0]) not in unsaved}
        if chains:  # arrays written in place: what the writes overwrite, kept apart
            saved = builder.emit("stack", []).result
            saved.name = "overwritten"
            builder.block.ops[-1].loc = None
            self.overwrites[id(op)] = (chains, saved)
        body_stacks = {o.result.uid for o in body.ops if o.prim == "stack"}
        for inner_op in body.ops:  # pops of an outer stack: saved for the recomputation
            if inner_op.prim == "pop" and inner_op.args[0].uid not in body_stacks:
                save = builder.emit("stack", []).result
                save.name = "popped"
                builder.block.ops[-1].loc = None
                self.pop_saves.add(inner_op, save)
        for draw in self._draws(body):  # random numbers: drawn once, replayed going back
            save = builder.emit("stack", []).result
            save.name = "drawn"
            builder.block.ops[-1].loc = None
            self.pop_saves.add(draw, save)
        blocks = []
        if isinstance(op, WhileOp):
            cond = op.cond_block
            inner = Block(params=list(cond.params), yields=list(cond.yields))
            self.forward(cond.ops, Builder(inner, builder.producers), tape=False)
            blocks.append(inner)
        inner = Block(params=list(body.params), yields=list(body.yields))
        inner_builder = Builder(inner, builder.producers)
        inner_builder.loc = None
        # the whole iteration state: a for loop's item too
        inner_builder.emit("push", [stack, *body.params], attrs={"effect": True}, n_results=0)
        writes = {id(w) for chain in chains.values() for w in chain}
        grown = appends.appended_lists(self._primal_analysis(), op)
        if grown:
            self.appends[id(op)] = grown
        appended = {id(a) for chain in grown.values() for a in chain}
        for body_op in body.ops:
            if id(body_op) in writes:
                inner_builder.loc = body_op.loc
                overwrites.save_overwritten(inner_builder, body_op, saved, self.out.primal)
            elif id(body_op) in unsaved:
                overwrites.write_in_place(inner_builder, body_op)
            elif id(body_op) in appended:
                appends.append_in_place(inner_builder, body_op)
            else:
                self.forward([body_op], inner_builder, tape=False)
        blocks.append(inner)
        builder.block.ops.append(op.rebuilt(blocks=blocks))

    def _draws(self, block: Block) -> list[Op]:
        """The random draws of a taped loop's body, in its branches too.  The backward
        loop recomputes each iteration, so each draw's numbers are saved as the loop
        runs and replayed (a stack per draw, one entry per iteration); a draw in a loop
        nested in the body would run several times an iteration: refused."""
        found = []
        for op in block.ops:
            if draws_anew(op):
                found.append(op)
            elif isinstance(op, LoopOp):
                nested = next((o for b in op.blocks for o in walk_ops(b) if draws_anew(o)),
                              None)
                if nested is not None:
                    raise located_error(
                        self.fn, nested, "random numbers drawn in a loop inside a loop the "
                        "gradient steps back through would be drawn again when it "
                        "recomputes the outer loop's iterations",
                        hint="draw the numbers before the loops and pass them in, or draw "
                             "them in the outer loop's body")
            else:
                for inner in op.blocks:
                    found += self._draws(inner)
        return found

    # ------------------------------------------------------------ backward sweep
    def backward(self, ops: list[Op], builder: Builder, partials: Partials) -> None:
        for op in _stacks_made_in(ops) if self._has_stacks else ():  # code being
            # differentiated (reverse-mode code) may push and pop:
            if self.is_varied(op.result) and op.result.uid not in self.adjoint_stacks:
                adjoint_stack = builder.emit("stack", []).result  # one adjoint stack each,
                builder.block.ops[-1].loc = None                  # made before it is needed
                self.out.derived[adjoint_stack.uid] = (op.result, "{}_bar")
                self.adjoint_stacks[op.result.uid] = adjoint_stack
        for op in reversed(ops):
            if op.blocks and self._has_accumulations:
                self._adjoints_of_accumulated(op, builder, partials)
            if isinstance(op, IfOp):
                self._adjoint_if(op, builder, partials)
            elif isinstance(op, LoopOp):
                if id(op) in self.stacks:
                    self._adjoint_loop(op, builder, partials)
            else:
                self._adjoint_op(op, builder, partials)

    def _result_adjoint(self, value: Value, builder: Builder, partials: Partials) -> Operand | None:
        terms = partials.pop(value.uid, None)
        if not terms:
            return None
        adjoint = self.total(value.uid, builder, terms)
        name_fresh(self.out, adjoint, value, "{}_bar")
        self.out.adjoints[value.uid] = adjoint
        return adjoint

    def _adjoint_stack(self, op: Op) -> Value | None:
        stack = op.attrs.get("replays", op.args[0])
        if not self.is_varied(stack):
            return None
        if stack.uid not in self.adjoint_stacks:
            check_supported(self.fn, op)  # a stack made inside a loop: not supported yet
        return self.adjoint_stacks[stack.uid]

    def _adjoint_stack_op(self, op: Op, builder: Builder, partials: Partials) -> None:
        """A pop's adjoint pushes its results' adjoints; a push's adjoint pops them back
        (the backward sweep meets the pop first, as the forward sweep met the push first)."""
        adjoint_stack = self._adjoint_stack(op)
        if adjoint_stack is None:
            return
        self.refuse_batched(op, "the stacks of reverse-mode code")
        builder.loc = op.loc
        if op.prim == "pop":
            bars = [self._result_adjoint(r, builder, partials) for r in op.results]
            builder.emit("push", [adjoint_stack, *(Const(0.0) if b is None else b for b in bars)],
                         attrs={"effect": True}, n_results=0)
            return
        items = op.args[1:]
        popped = builder.emit("pop", [adjoint_stack], n_results=len(items),
                              attrs={"effect": True}).results
        for item, bar in zip(items, popped):
            if self.is_varied(item):
                self.out.derived[bar.uid] = (item, "{}_bar")
                self.values[item.uid] = item
                partials.setdefault(item.uid, []).append(bar)

    def _adjoint_op(self, op: Op, builder: Builder, partials: Partials) -> None:
        if op.prim in ("push", "pop"):
            self._adjoint_stack_op(op, builder, partials)
            return
        if op.prim == "index_add":
            self._adjoint_index_add(op, builder, partials)
            return
        result = op.results[0] if op.results else None
        if result is None or result.uid not in partials:
            return
        check_supported(self.fn, op)
        builder.loc = op.loc
        adjoint = self._result_adjoint(result, builder, partials)
        if is_nondiff(op) or adjoint is None or is_const(adjoint, 0):
            return  # (an adjoint folded to zero, as of a - a, passes nothing back)
        if result.uid in self.append_results:  # xs.append(v) in a loop (appends.py)
            self._adjoint_append(op, adjoint, builder, partials)
            return
        if self.is_container(result.uid) and op.prim not in (
                "index_update", "accumulate", "items_of") and not self.facts.batched_adjoints:
            # indexed somewhere: its adjoint may be sparse, and the rules need it dense
            adjoint = _densified(builder, adjoint, result)
        if op.prim in ("add", "mul") and not self._numeric(op.result):
            # `+` may join lists and `*` repeat one: where the kind is not known, the
            # adjoint's split is decided when the code runs
            self.refuse_batched(op, "'+' or '*' that may join or repeat lists")
            self._adjoint_sequence_op(op, adjoint, builder, partials)
            return
        if op.prim == "getitem" and not self._numeric(op.args[0]):
            self.refuse_batched(op, "an item of a list or tuple")
        indices = active_operands(op, self.varied)
        emitted = len(builder.block.ops)
        array_base = op.prim == "getitem" and self._numeric(op.args[0])
        parts = derive(self.fn, op, vjp, builder, op, adjoint, indices, self.facts,
                       array_base)
        if self.facts.batched_adjoints:
            self.check_batched(op, builder.block.ops[emitted:], builder)
        for i, partial in zip(indices, parts):
            self.values[op.args[i].uid] = op.args[i]
            partials.setdefault(op.args[i].uid, []).append(partial)

    def _adjoint_append(self, op: Op, adjoint: Operand, builder: Builder,
                        partials: Partials) -> None:
        """``xs_1 = xs + [v]``, appended in place: v's adjoint is taken off the end of
        xs_1's, which is then xs's."""
        items = op.args[0]
        rest, last = appends.take_last(builder, adjoint)
        self.values[items.uid] = items
        partials.setdefault(items.uid, []).append(rest)
        value = appends.appended_item(builder, op)  # the recomputed [v]'s item
        if self.is_varied(value):
            self.values[value.uid] = value
            partials.setdefault(value.uid, []).append(last)

    def _numeric(self, operand: Operand) -> bool:
        """Whether a value (or the value it recomputes) is certainly a number or array."""
        seen: set[int] = set()
        while isinstance(operand, Value) and operand.uid not in seen \
                and operand.uid not in self.kinds.kinds:
            seen.add(operand.uid)
            # a recomputation, or a new state carried back (named apart, the same value)
            original = self.out.aliases.get(operand.uid) or \
                self.facts.same_as.get(operand.uid)
            if not isinstance(original, Value):
                break
            operand = original
        return self.kinds.numeric(operand)

    def _adjoint_sequence_op(self, op: Op, adjoint: Operand, builder: Builder,
                             partials: Partials) -> None:
        """``a + b`` or ``a * n`` that may join or repeat lists: the runtime splits the
        adjoint by the result's type (``list_head``/``list_tail``, ``repeat_adjoint_of``),
        and for numbers and arrays does what the arithmetic rule does."""
        a, b = op.args
        if op.prim == "add":
            pieces = (("list_head", [adjoint, a, op.result]),
                      ("list_tail", [adjoint, a, op.result, b]))
        else:
            pieces = (("repeat_adjoint_of", [adjoint, a, b, op.result]),
                      ("repeat_adjoint_of", [adjoint, b, a, op.result]))
        for operand, (helper, args) in zip((a, b), pieces):
            if isinstance(operand, Value) and self.is_varied(operand):
                piece = builder.emit(helper, args, attrs={"fn": getattr(runtime_lists, helper),
                                                          "kwnames": ()}).result
                self.values[operand.uid] = operand
                partials.setdefault(operand.uid, []).append(piece)


def _stacks_made_in(ops: list[Op]) -> list[Op]:
    """Stack ops in `ops` and in the branches of its ifs (a loop body is recomputed,
    and its own stacks get adjoint stacks when the sweep reaches the recomputation)."""
    found = []
    for op in ops:
        if op.prim == "stack":
            found.append(op)
        elif isinstance(op, IfOp):
            for branch in op.blocks:
                found.extend(_stacks_made_in(branch.ops))
    return found
