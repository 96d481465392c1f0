"""What the code emitter decides before it prints anything: which single-use
temporaries fold back into the expression that uses them (no deeper than
`MAX_FOLD_DEPTH`), which values share a name (a write done in place takes the name of
what it writes into), and which loops print ``for x in xs:``."""
from __future__ import annotations

from .codegen_loops import direct_iterations
from .ir import Block, IfOp, LoopOp, Op, Operand, Value, walk_ops
from .transforms.static_shapes import derivable
from .write_analysis import (
    accumulations_in_place,
    in_place_writes,
    positions,
    runs_after,
)

_NEVER_INLINED = {"copy", "stack", "push", "pop", "index_add", "setitem", "add_at",
                  "appended", "pop_last"}
# Folding stops where an expression would nest deeper than this: a line stays readable,
# and printing and compiling it never recurse deeper than Python allows.
MAX_FOLD_DEPTH = 12


class FoldAnalysis:
    """The analysis part of the code emitter (codegen._Emitter): it fills `uses`,
    `user`, `block_of`, `producer`, `share`, `inlined` and `expression_ifs`."""

    def analyse(self) -> None:
        """Decide which values fold into the expression using them, and which share names."""
        self._visit(self.fn.body, top=True)
        ops = list(walk_ops(self.fn.body))
        direct_iterations(self, ops)
        taken_items = {id(o) for o in self.visiting.values()}
        for op in ops:
            if not op.blocks and id(op) not in taken_items:
                self._try_inline(op)
        self._writes_in_place(ops)
        for op in reversed(ops):  # innermost first: `a and b`, `x if c else y` as expressions
            if self._is_expression_if(op):
                self.expression_ifs.add(id(op))
                cond = op.cond
                if isinstance(cond, Value) and op.kind in ("and", "or"):
                    self.uses[cond.uid] -= 1  # printed once, as the first operand
                    self.user[cond.uid] = (self.block_of[op.result.uid], op)
                    if cond.uid in self.producer:
                        self._try_inline(self.producer[cond.uid])
                self._try_inline(op)
        recomputed = []
        written = {write.result.uid for write, _ in self.in_place.values()}  # (named as
        for uid, original in getattr(self.fn, "aliases", {}).items():   # what they write)
            if original.uid in self.producer and original.uid not in self.inlined \
                    and uid not in self.inlined and uid not in written:
                self.share[uid] = original.uid  # a recomputation reuses the original's name
                recomputed.append(uid)
        updates = []  # (body, y, param): a loop body's new state may overwrite the old
        for op in walk_ops(self.fn.body):
            if isinstance(op, IfOp):
                for branch in op.blocks:
                    for result, y in zip(op.results, branch.yields):
                        if self._defined_only_for_yield(y, branch) and y.uid not in written:
                            self.share[y.uid] = result.uid
            elif isinstance(op, LoopOp):
                body, params, inits = op.body, op.carried_params, op.inits
                # a while loop's condition block is named first; it carries the name
                carriers = op.carrier_params[0]
                for k, (param, y, init) in enumerate(zip(params, body.yields, inits)):
                    carrier = carriers[k]
                    self.share[op.results[k].uid] = carrier.uid
                    if carrier is not param:
                        self.share[param.uid] = carrier.uid
                    if (isinstance(init, Value) and self.uses.get(init.uid) == 1
                            and init.name == carrier.name and init.name is not None
                            and init.uid not in self.inlined and init.uid not in self.share):
                        self.share[carrier.uid] = init.uid  # the loop updates the variable in place
                    others = body.yields[:k] + body.yields[k + 1:]
                    if (self._defined_only_for_yield(y, body) and y.uid not in self.inlined
                            and param not in others):
                        updates.append((body, y, param))
        # decided once every other name is shared: a value printed under param's name
        # (an inner loop's result, say) may still be read after y is computed
        for body, y, param in updates:
            if y.uid not in self.share and self._unused_after(body, y, param):
                self.share[y.uid] = param.uid
        # but not the name of a value read after the statement recomputing it (the
        # function's result, or a list a later adjoint reads), which would see the copy
        read_last = self._last_reads() if recomputed else {}
        aliases = getattr(self.fn, "aliases", {})
        for uid in recomputed:
            if self.share.get(uid) == aliases[uid].uid and \
                    read_last.get(self._root(uid), -1) > self._statement_of(uid):
                del self.share[uid]

    def _last_reads(self) -> dict[int, int]:
        """For each printed name (its root value), the last top-level op reading it
        (the function's outputs are read after every op)."""
        last: dict[int, int] = {}
        tops = self.fn.body.ops
        top_of_op = {id(op): k for k, top in enumerate(tops) for op in walk_ops(Block(ops=[top]))}
        for k, top in enumerate(tops):
            for op in walk_ops(Block(ops=[top])):
                at, printer = k, op
                while printer is not None and len(printer.results) == 1 and \
                        printer.results[0].uid in self.inlined:  # printed inside its user
                    printer = self.user.get(printer.results[0].uid, (None, None))[1]
                    at = top_of_op.get(id(printer), len(tops)) if printer is not None else \
                        len(tops)
                read = [*op.args, *(y for b in op.blocks for y in b.yields)]
                for a in read:
                    if isinstance(a, Value):
                        root = self._root(a.uid)
                        last[root] = max(last.get(root, -1), at)
        for y in self.fn.body.yields:
            if isinstance(y, Value):
                last[self._root(y.uid)] = len(tops)
        return last

    def _statement_of(self, uid: int) -> int:
        """The index of the top-level op that computes the value `uid`."""
        if not hasattr(self, "_top_of"):
            self._top_of = {r.uid: k for k, top in enumerate(self.fn.body.ops)
                            for op in walk_ops(Block(ops=[top])) for r in op.results}
        return self._top_of.get(uid, len(self.fn.body.ops))

    def _try_inline(self, op: Op) -> None:
        if len(op.results) != 1:
            return
        v = op.results[0]
        if self.uses.get(v.uid, 0) != 1 or v.uid not in self.user:
            return  # (the cheapest test first: most values are used more than once)
        if op.attrs.get("effect") or op.prim in _NEVER_INLINED or (
                op.blocks and id(op) not in self.expression_ifs) or (
                self.probe and not derivable(op)):
            return
        user_block, user = self.user[v.uid]
        if user_block != self.block_of[v.uid]:
            return
        if v.uid in self.primal:
            if v.name is not None:
                return
            same_stmt = user is None or (user.loc is not None and op.loc is not None
                                         and user.loc.stmt_lineno == op.loc.stmt_lineno)
            if not same_stmt and not (user.results and user.results[0].uid not in self.primal):
                return
        operands = [*op.args, *(y for block in op.blocks for y in block.yields)]
        depth = 1 + max((self.fold_depth[a.uid] for a in operands
                         if isinstance(a, Value) and a.uid in self.inlined), default=0)
        if depth > MAX_FOLD_DEPTH:
            return  # named, so that expressions using it start again from a name
        self.fold_depth[v.uid] = depth
        self.inlined.add(v.uid)

    def _writes_in_place(self, ops: list[Op]) -> None:
        """``out[i] = v`` in place where nothing reads the old `out` afterwards (the
        result takes `out`'s name); what reads `out` is not folded into a statement
        printed after the write."""
        self.in_place = {} if self.probe else in_place_writes(self.fn)
        self.adds_into = {} if self.probe else accumulations_in_place(self.fn)
        if not self.in_place:
            return
        where = positions(self.fn)
        for write, shared in self.in_place.values():
            self.share[write.result.uid] = write.args[0].uid
            self.inlined.discard(write.args[0].uid)  # written into: a name of its own
            for op in ops:
                if op is write or not op.results or op.results[0].uid not in self.inlined \
                        or not any(isinstance(a, Value) and a.uid in shared for a in op.args):
                    continue
                anchor = op
                while anchor.results and anchor.results[0].uid in self.inlined:
                    anchor = self.user[anchor.results[0].uid][1]
                    if anchor is None:
                        break
                if anchor is None or (anchor is not write and id(anchor) in where
                                      and runs_after(where, anchor, write)):
                    self.inlined.discard(op.results[0].uid)

    def _is_expression_if(self, op: Op) -> bool:
        if not isinstance(op, IfOp) or len(op.results) != 1 or not op.is_expression:
            return False
        return all(r.uid in self.inlined for branch in op.blocks for o in branch.ops
                   for r in o.results)

    def _visit(self, block: Block, top: bool) -> None:
        here = id(block)
        block_of, producer, uses, user = self.block_of, self.producer, self.uses, self.user
        for p in block.params:
            block_of[p.uid] = here
        for op in block.ops:
            for r in op.results:
                producer[r.uid] = op
                block_of[r.uid] = here
            for a in op.args:
                if type(a) is Value:
                    uses[a.uid] = uses.get(a.uid, 0) + 1
                    user[a.uid] = (here, op)
            for inner in op.blocks:
                self._visit(inner, top=False)
        for y in block.yields:  # a function's outputs keep their names; a block's may fold
            if isinstance(y, Value):
                uses[y.uid] = uses.get(y.uid, 0) + (2 if top else 1)
                user[y.uid] = (here, None)

    def _defined_only_for_yield(self, y: Operand, block: Block) -> bool:
        return (isinstance(y, Value) and self.block_of.get(y.uid) == id(block)
                and y.uid in self.producer
                and (len(self.producer[y.uid].results) == 1
                     or isinstance(self.producer[y.uid], IfOp))
                and self.uses.get(y.uid) == 1)

    def _unused_after(self, body: Block, y: Value, param: Value) -> bool:
        """Whether `param` can be overwritten where `y` is computed, inside a loop body.

        It can unless something printed after that point reads it: a later statement,
        an expression folded into one, or, where `y` comes out of an ``if`` and its
        branches write it in place, whatever those branches do after writing it.
        """
        producer = self.producer[y.uid]
        position = body.ops.index(producer)
        root = self._root(param.uid)  # values printed under param's name read it too
        for op in body.ops:
            if op is producer:
                continue
            reads = any(isinstance(a, Value) and self._root(a.uid) == root
                        for inner in walk_ops(Block(ops=[op])) for a in inner.args)
            if not reads:
                continue
            anchor = self._anchor(op, body)
            if anchor is None or anchor > position:
                return False
        if isinstance(producer, IfOp):
            k = producer.results.index(y)
            for branch in producer.blocks:
                written = branch.yields[k]
                if not self._defined_only_for_yield(written, branch):
                    continue  # assigned with the other results at the end of the branch
                if any(other is param for other in branch.yields):
                    return False
                if not self._unused_after(branch, written, param):
                    return False
        return True

    def _root(self, uid: int) -> int:
        """The value whose name `uid` is printed under (through shared names)."""
        seen = set()
        while uid in self.share and uid not in seen:
            seen.add(uid)
            uid = self.share[uid]
        return uid

    def _anchor(self, op: Op, body: Block) -> int | None:
        """Index in `body` of the statement an op is printed in; None for the yields."""
        while op.results and op.results[0].uid in self.inlined:
            _, user = self.user[op.results[0].uid]
            if user is None:
                return None
            op = user
        return body.ops.index(op) if op in body.ops else None
