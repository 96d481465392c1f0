"""Adjoints of control flow in the reverse sweep: ``if`` (and ``with``) blocks, and loops.

An ``if``'s adjoint is an ``if`` on the same condition whose branches propagate the
adjoints of the branch taken.  A taped loop's adjoint is a backward loop that pops each
iteration's state, recomputes the iteration (`_clone_ops()`) and propagates adjoints
through it; the partial adjoints of values from outside the loop are its carried values.
"""
from __future__ import annotations

import builtins
from collections.abc import Callable

import numpy as np

from ..builder import Builder, is_const
from ..ir import Block, Const, ForOp, IfOp, LoopOp, Op, Operand, Value, walk_ops
from ..primitives import builtin_call_attrs
from ..rules import zero_like
from . import appends, overwrites
from .accumulators import Partials
from .adjoint_sums import _densified
from .common import DerivativeFunction


class ControlAdjoints:
    """The reverse sweep's adjoints of ifs and loops (a mixin of its `_Sweep`)."""

    def _adjoint_if(self, op: IfOp, builder: Builder, partials: Partials) -> None:
        builder.loc = op.loc
        adjoints = [self._result_adjoint(r, builder, partials) for r in op.results]
        branch_blocks, branch_partials = [], []
        for branch in op.blocks[:1] if op.attrs.get("with") else op.blocks:
            block = Block()
            # code read after the branch may use values made inside it (as reverse-mode
            # code does); their partial adjoints flow back into the branch that made them
            inside = self._made_inside(branch)
            inner_partials: Partials = {u: partials.pop(u) for u in list(partials) if inside(u)}
            for y, adjoint in zip(branch.yields, adjoints):
                if adjoint is not None and self.is_varied(y):
                    self.values[y.uid] = y
                    inner_partials.setdefault(y.uid, []).append(adjoint)
            inner_builder = Builder(block, builder.producers)
            self.backward(branch.ops, inner_builder, inner_partials)
            branch_blocks.append((block, inner_builder))
            branch_partials.append(inner_partials)
        outer = list(dict.fromkeys(u for p in branch_partials for u in p))
        if not outer and not any(o.attrs.get("effect") for b, _ in branch_blocks
                                 for o in walk_ops(b)):  # (adjoint-stack pushes must run)
            return
        for (block, inner_builder), inner_partials in zip(branch_blocks, branch_partials):
            inner_builder.loc = op.loc
            block.yields = [self.batched_zero(self.total(u, inner_builder,
                                                         inner_partials.get(u, [])),
                                              inner_builder, self._like(u, op))
                            for u in outer]
        blocks = [b for b, _ in branch_blocks]
        if op.attrs.get("with"):
            self._adjoint_with(op, blocks[0], outer, builder, partials)
            return
        if all(not b.ops and b.yields == blocks[0].yields for b in blocks):
            for u, y in zip(outer, blocks[0].yields):  # the same either way: no branch needed
                partials.setdefault(u, []).append(y)
            return
        results = [self._adjoint_value(u) for u in outer]
        if self.facts.batched_adjoints:
            self.facts.batched.update(r.uid for r in results)
        taken = [op.results[-1]] if op.attrs.get("try") else list(op.args)  # (which ran)
        builder.append(IfOp(taken, results, {}, blocks, op.loc))
        for u, r in zip(outer, results):
            partials.setdefault(u, []).append(r)

    def _adjoint_with(self, op: IfOp, block: Block, outer: list[int], builder: Builder,
                      partials: Partials) -> None:
        """The adjoint of a with block: under ``np.errstate`` again (a new one, with the
        same arguments), so that the adjoint computes under the floating-point error
        handling its primal had; for other context managers, which may do anything on
        entry and exit, outside (the primal statements alone are in the block)."""
        made = builder.producers.get(op.cond.uid) if isinstance(op.cond, Value) else None
        if made is not None and op.attrs.get("errstate"):
            again = builder.emit("call", list(made.args), attrs=dict(made.attrs)).result
            results = [self._adjoint_value(u) for u in outer]
            if self.facts.batched_adjoints:
                self.refuse_batched(op, "np.errstate blocks")
            never = Block(yields=[Const(0.0) for _ in outer])
            builder.block.ops.append(IfOp([again], results, {"with": True}, [block, never],
                                          op.loc))
            yields = results
        else:
            builder.block.ops.extend(block.ops)
            yields = block.yields
        for u, y in zip(outer, yields):
            partials.setdefault(u, []).append(y)

    def _made_inside(self, branch: Block) -> Callable[[int], bool]:
        """Whether a value is made in `branch` or a block nested in it: by the blocks'
        order of a depth-first walk, in constant time (a chain of elifs is deep)."""
        blocks, made_in = self._tour
        if id(branch) in blocks:
            enter, leave = blocks[id(branch)]
            return lambda uid: uid in made_in and enter <= made_in[uid] <= leave
        inside = {r.uid for inner in walk_ops(branch) for r in inner.results}  # recomputed code
        return inside.__contains__

    def _adjoint_value(self, uid: int) -> Value:
        """A fresh value for the adjoint of the value `uid`, named after it."""
        value = Value()
        if uid in self.values:
            self.out.derived[value.uid] = (self.values[uid], "{}_bar")
        return value

    def _adjoint_loop(self, op: LoopOp, builder: Builder, partials: Partials) -> None:
        body, params, inits = op.body, op.carried_params, op.inits
        stack = self.stacks[id(op)]
        builder.loc = op.loc
        carried = [k for k, p in enumerate(params) if p.uid in self.varied]
        carried_inits = []
        for k in carried:
            adjoint = self._result_adjoint(op.results[k], builder, partials)
            if adjoint is not None and self.is_container(op.results[k].uid) \
                    and not self.facts.batched_adjoints:
                adjoint = _densified(builder, adjoint, op.results[k])  # carried: dense
            carried_inits.append(zero_like(builder, op.results[k], self.facts)
                                 if adjoint is None else adjoint)
        n = builder.emit("call", [stack], attrs=builtin_call_attrs(builtins.len)).result
        trips = builder.emit("call", [n], attrs=builtin_call_attrs(builtins.range)).result

        # the backward loop body: restore the iteration's state, recompute, propagate
        block = Block()
        inner = Builder(block, builder.producers)
        inner.loc = op.loc
        step = Value("_")
        carried_bars = [self.batched(Value()) if self.facts.batched_adjoints else Value()
                        for _ in carried]
        for k, bar in zip(carried, carried_bars):
            self.out.derived[bar.uid] = (params[k], "{}_bar")
        saved = body.params  # the whole iteration state, as the forward sweep pushed it
        # the pop stays even if nothing it restores is read: the pushes shrink to match
        popped = inner.emit("pop", [stack], n_results=len(saved),
                            attrs={"effect": True}).results
        remap = {}
        for old, new in zip(saved, popped):
            new.name = old.name
            remap[old.uid] = new
            self.facts.same_as[new.uid] = old  # the very value the iteration started from
            if old.uid in self.varied:
                self.varied.add(new.uid)
        for k in self.left_as_is.get(id(op), ()):
            remap[params[k].uid] = op.results[k]
        if id(op) in self.overwrites:  # arrays written in place: as the iteration found them
            chains, overwritten = self.overwrites[id(op)]
            for k, chain in chains.items():
                restored = overwrites.restore_overwritten(inner, chain, overwritten,
                                                          remap[params[k].uid])
                restored.name = params[k].name
                remap[params[k].uid] = restored
                if params[k].uid in self.varied:
                    self.varied.add(restored.uid)
        recomputed = _clone_ops(body.ops, remap, self.varied, self.out, self.pop_saves)
        grown = self.appends.get(id(op), {})
        self.append_results.update(remap[a.result.uid].uid for chain in grown.values()
                                   for a in chain)
        replayed, nexts = self._reuse_next_states(recomputed, body, params, remap)
        self.forward(replayed, inner, tape=True)

        inner_partials: Partials = {}
        for k, bar in zip(carried, carried_bars):
            y = _remapped(body.yields[k], remap)
            if self.is_varied(y):
                self.values[y.uid] = y
                inner_partials.setdefault(y.uid, []).append(bar)
        self.backward(recomputed, inner, inner_partials)

        inner.loc = op.loc
        next_bars = []
        for k in carried:
            terms = inner_partials.pop(remap[params[k].uid].uid, [])
            total = self.total(params[k].uid, inner, terms)
            if self.is_container(params[k].uid) and not is_const(total, 0) \
                    and k not in grown and not self.facts.batched_adjoints:
                total = _densified(inner, total, remap[params[k].uid])  # carried: dense
            next_bars.append(self.batched_zero(total, inner, remap[params[k].uid]))
        for p in popped:
            inner_partials.pop(p.uid, None)  # the loop item and inactive state
        dense = self._dense_accumulators(inner_partials, builder, inner, partials)
        outer = list(inner_partials)  # partial adjoints of values from outside the loop
        accumulators = [self._adjoint_value(u) for u in outer]
        starts: list[Operand] = [Const(0.0) for _ in outer]
        if self.facts.batched_adjoints:  # zeros with the cotangents' axis
            self.facts.batched.update(a.uid for a in accumulators)
            starts = [zero_like(builder, self._like(u, op), self.facts) for u in outer]
        accumulated = []
        for u, acc in zip(outer, accumulators):
            accumulated.append(self.total(u, inner, inner_partials[u], start=acc))
        block.params = [step, *carried_bars, *accumulators, *(state for _, state in nexts)]
        block.yields = [*next_bars, *accumulated, *(remap[params[k].uid] for k, _ in nexts)]
        results = [Value() for _ in carried] + [self._adjoint_value(u) for u in outer]
        if self.facts.batched_adjoints:
            self.facts.batched.update(r.uid for r in results)
        builder.block.ops.append(ForOp([trips, *carried_inits, *starts,
                                        *(op.results[k] for k, _ in nexts)],
                                       results + [Value() for _ in nexts], {}, [block], op.loc))
        for k, r in zip(carried, results):
            base = inits[k] if isinstance(inits[k], Value) else params[k]
            self.out.derived[r.uid] = (base, "{}_bar")
            if self.is_varied(inits[k]):
                partials.setdefault(inits[k].uid, []).append(r)
        for u, r in zip(outer, results[len(carried):]):
            partials.setdefault(u, []).append(r)
        for u, acc in dense.items():
            partials.setdefault(u, []).append(acc)

    def _reuse_next_states(self, recomputed: list[Op], body: Block, params: list[Value],
                           remap: dict[int, Value]) -> tuple[list[Op], list[tuple[int, Value]]]:
        """An iteration's new state is the state the next iteration started from, which
        the backward loop popped just before (or the loop's result, for the last one): it
        is carried back instead of recomputed (``h = np.tanh(W @ h + b)`` needs no
        recomputed product).  In the replayed ops, the op making it becomes a copy of
        that carried value; its adjoint rule still applies, reading the copy."""
        made = {r.uid: k for k, o in enumerate(recomputed) for r in o.results}
        replayed = list(recomputed)
        nexts: list[tuple[int, Value]] = []
        if self.facts.scalar_code:  # recomputing a scalar op costs less than carrying it
            return replayed, nexts
        for k, param in enumerate(params):
            new_state = _remapped(body.yields[k], remap)
            index = made.get(new_state.uid) if isinstance(new_state, Value) else None
            if index is None:
                continue
            maker = recomputed[index]
            if maker.blocks or len(maker.results) != 1 or maker.prim in ("pop", "push", "call"):
                continue
            state = Value(param.name)
            self.out.aliases[state.uid] = param
            if param.uid in self.varied:
                self.varied.add(state.uid)
            replayed[index] = Op("copy", [state], [new_state], {}, [], maker.loc)
            # named apart from the state it copies: the primal loop result may share that name
            original = self.out.aliases.pop(new_state.uid, None)
            if original is not None:
                self.facts.same_as[new_state.uid] = original
            nexts.append((k, state))
        return replayed, nexts


def _block_tour(body: Block) -> tuple[dict[int, tuple[int, int]], dict[int, int]]:
    """Number the blocks in depth-first order: each block's number and the last number
    inside it, and for each value made by an op, the number of its block."""
    blocks: dict[int, tuple[int, int]] = {}
    made_in: dict[int, int] = {}
    counter = 0
    stack: list[tuple[Block, bool]] = [(body, False)]
    entered: dict[int, int] = {}
    while stack:
        block, done = stack.pop()
        if done:
            blocks[id(block)] = (entered[id(block)], counter)
            continue
        counter += 1
        entered[id(block)] = counter
        stack.append((block, True))
        for op in block.ops:
            for r in op.results:
                made_in[r.uid] = counter
            stack.extend((inner, False) for inner in reversed(op.blocks))
    return blocks, made_in


def _remapped(operand: Operand, remap: dict[int, Value]) -> Operand:
    if isinstance(operand, Value) and operand.uid in remap:
        return remap[operand.uid]
    return operand


class SavedResults:
    """The stacks on which a taped loop's forward sweep saves the results of ops its
    recomputation must not run again (a pop of an outer stack, a random draw), by op.
    Each op is held with its stack, so its id never stands for another op made later."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[Op, Value]] = {}

    def add(self, op: Op, stack: Value) -> None:
        self._by_id[id(op)] = (op, stack)

    def get(self, op: Op) -> Value | None:
        entry = self._by_id.get(id(op))
        return entry[1] if entry is not None and entry[0] is op else None


def _clone_ops(ops: list[Op], remap: dict[int, Value], varied: set[int],
               out: DerivativeFunction, pop_saves: SavedResults,
               made_outside: frozenset[int] = frozenset()) -> list[Op]:
    """Copies of `ops` with fresh values, reading remapped operands (a recomputation).

    Side effects are not repeated: print() and the like are dropped, a pop of an outer
    stack and a random draw read what the forward sweep saved, and a push of an outer
    stack is kept only for its adjoint."""
    clones = []
    # stacks made in the recomputed region, this block or one around it, are refilled
    made_here = made_outside | {op.result.uid for op in ops if op.prim == "stack"}
    for op in ops:
        if op.prim == "call" and (op.attrs.get("effect") or op.attrs.get("manager")
                                  and op.attrs.get("fn") is not np.errstate):
            continue
        if isinstance(op, IfOp) and op.attrs.get("with") and not op.attrs.get("errstate"):
            # a context manager is not entered again: its block is recomputed bare
            clones += _clone_ops(op.then_block.ops, remap, varied, out, pop_saves, made_here)
            for r, y in zip(op.results, op.then_block.yields):
                remap[r.uid] = _remapped(y, remap)
            continue
        saved = pop_saves.get(op)
        if saved is not None and op.prim != "pop":  # a random draw: what it drew
            results = [_fresh(r, remap, varied, out) for r in op.results]
            clones.append(Op("pop", [saved], results, {"effect": True}, [], op.loc))
            continue
        blocks = []
        for block in op.blocks:
            params = [_fresh(p, remap, varied, out) for p in block.params]
            inner_ops = _clone_ops(block.ops, remap, varied, out, pop_saves, made_here)
            blocks.append(Block(params, inner_ops, [_remapped(y, remap) for y in block.yields]))
        args = [_remapped(a, remap) for a in op.args]
        pure = appends.copied_as_pure(op)
        attrs = dict(pure.attrs)
        if op.prim == "pop" and saved is not None:
            attrs["replays"] = op.args[0]
            args = [saved]
        elif op.prim == "push" and op.args[0].uid not in made_here:
            attrs["replay_only"] = True
        elif op.prim == "index_add" and op.args[0].uid not in remap:
            attrs["replay_only"] = True  # a list made outside is added into once, forward
        results = [_fresh(r, remap, varied, out) for r in op.results]
        clones.append(pure.rebuilt(args=args, results=results, attrs=attrs, blocks=blocks))
    return clones


def _fresh(old: Value, remap: dict[int, Value], varied: set[int],
           out: DerivativeFunction) -> Value:
    new = Value(old.name)
    remap[old.uid] = new
    out.aliases[new.uid] = old
    if old.uid in varied:
        varied.add(new.uid)
    return new
