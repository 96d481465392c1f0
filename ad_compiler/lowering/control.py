"""Lowering control flow: if/elif/else with early returns, for and while loops
with break, continue and return, to structured ops that own blocks."""
from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from typing import Any

from .. import runtime_lists
from ..ir import Block, Const, ForOp, IfOp, Operand, SourceLoc, Value, WhileOp
from ..primitives import builtin_call_attrs, lookup_array
from ..registry import get
from .values import (
    _assigned_names,
    _Branch,
    _FrozenDistribution,
    _index_name,
    _Loop,
    _Returned,
    _StaticSeq,
)


def _ends_in_raise(stmts: list[ast.stmt]) -> bool:
    return bool(stmts) and isinstance(stmts[-1], ast.Raise)


class ControlFlow:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    def _return_outcome(self, outputs: list[Operand], is_tuple: bool,
                        node: ast.AST) -> _Returned:
        """A 'return': the function's outputs, or inside a loop, the loop's end state
        with its returned flag set and the values kept for after the loop."""
        if not self.loops:
            return _Returned(outputs, is_tuple, node)
        loop = self.loops[-1]
        if len(outputs) != len(loop.slots) or is_tuple != loop.slots_tuple:
            raise self.error(node, "the 'return' statements of this function return "
                                   "different numbers of values",
                             hint="return the same number of values on every path")
        values = [self._carried_value(n) for n in loop.carried]
        return _Returned([*values, Const(True), Const(True), *outputs], False, node)

    def _branch(self, stmts: list[ast.stmt], must_return: bool = False) -> _Branch:
        """Lower statements into a block of their own, in a copy of the scope."""
        saved_block, saved_env, saved_stmt = self.builder.block, self.env, self.stmt
        block = Block()
        self.builder.block, self.env = block, dict(saved_env)
        try:
            returned = self._stmts(stmts)
            if returned is None and must_return and self.loops:  # the body goes on
                returned = _Returned(self._loop_outcome(Const(False)), False, None)
            elif returned is None and must_return:
                self.root.none_returns.append(stmts[-1] if stmts else self.src.node)
                returned = _Returned([Const(None)], False, None)
            return _Branch(block, self.env, returned)
        finally:
            self.builder.block, self.env, self.stmt = saved_block, saved_env, saved_stmt

    def _emit_structured(self, kind: type[IfOp | ForOp | WhileOp], args: list[Operand],
                         blocks: list[Block], names: list[str | None], node: ast.AST,
                         if_kind: str = "statement") -> list[Value]:
        """Append a control-flow op of class `kind`, its results named `names`."""
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, node.lineno)
        op = kind(list(args), [Value(name) for name in names], {}, blocks, self.builder.loc)
        if if_kind != "statement":
            op.kind = if_kind
        return self.builder.append(op).results

    def _if_statement(self, stmt: ast.If, rest: list[ast.stmt]) -> _Returned | None:
        cond = self.expr(stmt.test)
        if isinstance(cond, Const):  # known when compiling (unrolled recursion's base case)
            return self._stmts(stmt.body if cond.value else stmt.orelse)
        then = self._branch(stmt.body)
        if then.returned is not None and not then.returned.raises:  # the rest of the
            other = self._branch(stmt.orelse + rest, must_return=True)  # function runs
            return self._merge_returns(stmt, cond, then, other)  # only on the else path
        orelse = self._branch(stmt.orelse)
        if orelse.returned is not None and not orelse.returned.raises:
            then = self._branch(stmt.body + rest, must_return=True)
            return self._merge_returns(stmt, cond, then, orelse)
        if then.returned is not None and orelse.returned is not None:  # both raise
            self._emit_structured(IfOp, [cond], [then.block, orelse.block], [], stmt)
            return _Returned([], False, stmt, raises=True)
        for raising, other in ((then, orelse), (orelse, then)):  # a branch that raises
            if raising.returned is not None or _ends_in_raise(  # (in a loop, a with or a
                    stmt.body if raising is then else stmt.orelse):  # try, by its last line)
                raising.env = {n: self.env.get(n, Const(None)) for n in other.env}
        changed = [n for n in dict.fromkeys([*then.env, *orelse.env])
                   if n in then.env and n in orelse.env
                   and not (then.env[n] is self.env.get(n) and orelse.env[n] is self.env.get(n))]
        for n in changed:
            if any(isinstance(b.env[n], _FrozenDistribution) for b in (then, orelse)):
                raise self.error(stmt, f"'{n}' is a frozen scipy.stats distribution made "
                                       "differently on the two paths of this 'if'",
                                 hint="make it once after the 'if' from parameters the "
                                      "branches choose: d = stats.norm(mu, sigma)")
        then.block.yields = [self._yielded(then.block, then.env[n], stmt) for n in changed]
        orelse.block.yields = [self._yielded(orelse.block, orelse.env[n], stmt)
                               for n in changed]
        results = self._emit_structured(IfOp, [cond], [then.block, orelse.block], changed, stmt)
        for name in [n for n in then.env if n not in orelse.env] + \
                [n for n in orelse.env if n not in then.env]:
            self.branch_only[name] = stmt
        self.env.update(zip(changed, results))
        return None

    def _yielded(self, block: Block, value: Any, stmt: ast.stmt) -> Operand:
        """What a branch's `block` passes on: a list or dict display it built or wrote
        into (``d["a"] = v``) made one runtime value, at the end of the block."""
        if isinstance(value, Operand):
            return value
        saved = self.builder.block
        self.builder.block = block
        try:
            return self._materialize(value, stmt)
        finally:
            self.builder.block = saved

    def _merge_returns(self, stmt: ast.If, cond: Operand, then: _Branch,
                       orelse: _Branch) -> _Returned:
        a, b = then.returned, orelse.returned
        if a.raises and b.raises:
            then.block.yields, orelse.block.yields = [], []
            self._emit_structured(IfOp, [cond], [then.block, orelse.block], [], stmt)
            return _Returned([], False, stmt, raises=True)
        if a.raises or b.raises:  # the path that raises yields placeholders
            shape = b if a.raises else a
            placeholder = _Returned([Const(None)] * len(shape.outputs), shape.is_tuple, None)
            a, b = (placeholder, b) if a.raises else (a, placeholder)
        if a.is_tuple != b.is_tuple or len(a.outputs) != len(b.outputs):
            raise self.error(b.node or stmt, "the 'return' statements of this function return "
                                             "different numbers of values",
                             hint="return the same number of values on every path")
        then.block.yields, orelse.block.yields = list(a.outputs), list(b.outputs)
        results = self._emit_structured(IfOp, [cond], [then.block, orelse.block],
                                        [None] * len(a.outputs), stmt)
        return _Returned(list(results), a.is_tuple, stmt)

    def _loop_else(self, stmt: ast.For | ast.While) -> list[ast.stmt]:
        """A loop's else clause, as the statements to lower after it: as written if the
        loop has no 'break', else in an ``if not done:`` on the loop's flag."""
        if not stmt.orelse:
            return []
        done = self.last_loop_done
        if done is None:
            return list(stmt.orelse)
        hidden = f"__done_{stmt.lineno}_{stmt.col_offset}"
        self.env[hidden] = done
        first = stmt.orelse[0]
        test = ast.copy_location(ast.UnaryOp(ast.Not(), ast.copy_location(
            ast.Name(hidden, ast.Load()), first)), first)
        return [ast.copy_location(ast.If(test, list(stmt.orelse), []), first)]

    def _for(self, stmt: ast.For) -> tuple | None:
        iterable, bind = self._iteration(stmt)
        targets = [n.id for n in ast.walk(stmt.target)
                   if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        carried = [n for n in _assigned_names(stmt.body) if n in self.env and n not in targets]
        carried = self._carried_with_views(carried, stmt.body)
        loop = _Loop.for_body(carried, stmt, self)
        loop.entry_names = frozenset(self.env)
        if bind is not None:
            item = Value(_index_name(stmt))
        else:
            item = Value(targets[0] if isinstance(stmt.target, ast.Name) else None)
        made = self.builder.producers.get(iterable.uid) if isinstance(iterable, Value) else None
        if bind is not None or (made is not None and made.attrs.get("fn") is builtins.range):
            self.root.integral.add(item.uid)  # an index: writes with it select one place
        params = [Value(n) for n in carried]
        self._note_carried_arrays([self.env[n] for n in carried], params)
        self._assume_float_params([self.env[n] for n in carried], params)
        self.root.loop_entry.update((p.uid, self.env[n]) for n, p in zip(carried, params))
        saved_block, saved_env = self.builder.block, self.env
        body = Block(params=[item, *params, *loop.extra_params()])
        self.builder.block, self.env = body, dict(saved_env)
        self.env.update(zip(carried, params))
        self.builder.loc = SourceLoc(stmt.lineno, stmt.col_offset, stmt.lineno)
        if bind is not None:
            bind(item)
        elif isinstance(stmt.target, ast.Name):
            self.env[targets[0]] = item
        else:
            self._assign(stmt.target, item)
        if loop.done is None:
            body.yields = self._loop_body(stmt, loop)
        else:  # after a 'break' or 'return' the remaining iterations do nothing
            self.builder.loc = SourceLoc(stmt.lineno, stmt.col_offset, stmt.lineno)
            running = self.builder.emit("not", [loop.done]).result
            before = dict(self.env)
            then = Block()
            self.builder.block = then
            then.yields = self._loop_body(stmt, loop)
            idle = Block(yields=[*(before[n] for n in carried), *loop.extra_params()])
            self.builder.block, self.env = body, before
            body.yields = self._emit_structured(IfOp, [running], [then, idle],
                                                [*carried, *loop.extra_names()], stmt)
        inside = self.env
        self.builder.block, self.env = saved_block, saved_env
        self._note_loop_locals(inside, stmt)
        inits = [*(self._carried_value(n) for n in carried), *loop.extra_inits()]
        results = self._emit_structured(ForOp, [iterable, *inits], [body],
                                        [*carried, *loop.extra_names()], stmt)
        self.last_loop_done = results[len(carried)] if loop.done is not None else None
        self._note_carried_arrays(inits, results)
        self._check_float_params(params, body.yields[:len(params)], results)
        self.env.update(zip(carried, results))
        return loop.exit(results)

    def _iteration(self, stmt: ast.For) -> tuple[Operand, Callable[[Value], None] | None]:
        """What a 'for' loop iterates over, and how its target is bound from an index.

        ``for x in xs``, ``enumerate(...)``, ``zip(...)``, ``reversed(...)`` and
        ``sorted(...)`` (nested as you like) loop over an index, ``x = xs[i]`` (or
        ``xs[n - 1 - i]``, ``xs[order[i]]``), so the adjoint of each item flows back to
        its place in `xs`.  ``range`` and other calls are iterated as they are.
        """
        node = stmt.iter
        if isinstance(node, ast.Call) and self._iteration_helper(node) is None \
                and not self._makes_list(node):
            return self.expr(node), None
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, stmt.lineno)
        sequences: list[tuple[ast.expr, str, bool]] = []
        make = self._plan(node, sequences)
        seqs = [self._sequence(n, order) for n, order, _ in sequences]
        lengths = [self._builtin(builtins.len, [q]) for q in seqs]
        count = lengths[0] if len(lengths) == 1 else self._builtin(builtins.min, lengths)
        iterable = self._builtin(builtins.range, [count])
        orders: dict[int, Operand] = {}
        for k, (seq, (_, order, descending)) in enumerate(zip(seqs, sequences)):
            if order in ("items", "values", "keys"):  # a dict's keys, in its order
                orders[k] = self.builder.emit("call", [seq], attrs={
                    "fn": runtime_lists.keys_of, "kwnames": (), "nondiff": True}).result
            elif order == "sorted":  # the positions of the items in sorted order
                args = [seq] if not descending else [seq, Const(True)]
                orders[k] = self.builder.emit("call", args, attrs={
                    "fn": runtime_lists.sort_order, "kwnames": (), "nondiff": True}).result
            elif order == "reversed":
                orders[k] = self.builder.emit("sub", [lengths[k], Const(1)]).result

        before = [self.env.get(n.id) if isinstance(n, ast.Name) else None
                  for n, _, _ in sequences]

        def bind(index: Value) -> None:
            items = []
            for k, (q, (seq_node, order, _)) in enumerate(zip(seqs, sequences)):
                q = self._iterated_now(seq_node, order, before[k], q)
                at: Operand = index
                if order in ("sorted", "items", "values", "keys"):
                    at = self.builder.emit("getitem", [orders[k], index]).result
                elif order == "reversed":
                    at = self.builder.emit("sub", [orders[k], index]).result
                if order == "keys":
                    items.append(at)
                    continue
                item = self.builder.emit("getitem", [q, at]).result
                items.append(_StaticSeq([at, item], "tuple") if order == "items" else item)
            self._assign(stmt.target, make(index, iter(items)))

        return iterable, bind

    def _iterated_now(self, node: ast.expr, order: str, before: Any, seq: Operand) -> Operand:
        """The sequence a loop reads its next item from: a list or an array the body
        writes into (``for i, v in enumerate(xs): xs[i + 1] += v``) is read as it is
        when the iteration starts, as Python's iterator reads it (a sorted copy, or a
        dict's keys, are taken once)."""
        if not isinstance(node, ast.Name) or order not in ("", "reversed") or \
                self.env.get(node.id, before) is before:
            return seq
        return self._sequence(node, order)

    def _sequence(self, node: ast.expr, order: str) -> Operand:
        """The value a loop indexes: for a parameter or an item of one (which may be a
        dict, whose iteration visits its keys), what iterating it visits."""
        value = self._materialize(self._rvalue(node), node)
        if order in ("items", "values", "keys"):
            return value
        return self._visited(value, ("getitem", "getattr"))

    def _visited(self, value: Operand, sources: tuple[str, ...]) -> Operand:
        """What iterating `value` visits, where it may be a dict (a parameter, or made by
        one of the ops `sources`): ``items_of(value)``, a dict's keys."""
        if not isinstance(value, Value):
            return value
        made = self.builder.producers.get(value.uid)
        if (made is None and value.uid not in self.root.param_uids or made is not None and
                made.prim not in sources) and not self._made_as_dict(value, unknown=True):
            return value  # a list, tuple or array the function made
        seen = self.root.visited_items.get(value.uid)
        if seen is not None and seen[0] is self.builder.block:
            return seen[1]  # loops of one block over one value visit the same items
        items = self.builder.emit("items_of", [value], attrs={
            "fn": runtime_lists.items_of, "kwnames": ()}).result
        items.name = f"{value.name}_items" if value.name else "items"
        self.root.visited_items[value.uid] = (self.builder.block, items)
        return items

    def _makes_list(self, node: ast.Call) -> bool:
        """``np.split(x, 2)``: a list of arrays, iterated item by item like a list."""
        if isinstance(node.func, ast.Attribute) and self._is_value_expression(node.func.value):
            return False
        if isinstance(node.func, ast.Name) and node.func.id in self.env:
            return False
        if self._fold_kind(node) in ("map", "filter") or \
                self._fold_kind(node) == "sorted" and _sorts_by_key(node):
            return True  # map(f, xs), sorted(xs, key=f): a list made item by item
        _, _, fn = self._resolve_path(node.func)
        record = get(lookup_array(fn) or "")
        return record is not None and record.container_result

    def _iteration_helper(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Attribute) and node.func.attr in (
                "items", "values", "keys") and not node.args and not node.keywords \
                and self._is_value_expression(node.func.value):
            return node.func.attr  # d.items(), d.values(), d.keys()
        if not node.args or isinstance(node.func, ast.Attribute) and \
                self._is_value_expression(node.func.value):  # x.take(i): a method
            return None
        _, _, fn = self._resolve_path(node.func)
        if fn is builtins.enumerate and len(node.args) == 1 and not node.keywords:
            return fn
        if fn in (builtins.reversed, builtins.sorted) and len(node.args) == 1 and not (
                isinstance(node.args[0], ast.Call) and self._is_range(node.args[0])):
            if fn is builtins.reversed and node.keywords:
                return None
            if _sorts_by_key(node):
                return None  # the list Comprehensions._keyed() makes, iterated as a list
            return fn
        return fn if fn is builtins.zip and not node.keywords else None

    def _is_range(self, node: ast.Call) -> bool:
        return self._resolve_path(node.func)[2] is builtins.range

    def _plan(self, node: ast.expr, sequences: list[tuple[ast.expr, str, bool]],
              order: str = "", descending: bool = False) -> Callable:
        """How one iteration's target value is made from the index and the items."""
        helper = self._iteration_helper(node) if isinstance(node, ast.Call) else None
        if helper is builtins.enumerate:
            inner = self._plan(node.args[0], sequences, order, descending)
            return lambda index, items: _StaticSeq([index, inner(index, items)], "tuple")
        if helper is builtins.zip:
            parts = [self._plan(arg, sequences, order, descending) for arg in node.args]
            return lambda index, items: _StaticSeq([p(index, items) for p in parts], "tuple")
        if helper in ("items", "values", "keys"):
            if order:
                raise self.error(node, f"reversed() or sorted() of .{helper}() is not "
                                       "supported in a loop", hint="loop over the dict")
            sequences.append((node.func.value, helper, False))
            return lambda index, items: next(items)
        if helper in (builtins.reversed, builtins.sorted):
            if order:
                raise self.error(node, "reversed() or sorted() of an enumerate, zip, "
                                       "reversed or sorted is not supported in a loop",
                                 hint="apply it to the sequence itself: "
                                      "zip(reversed(xs), ys)")
            flag = next((k.value for k in node.keywords if k.arg == "reverse"), None)
            if flag is not None and not isinstance(flag, ast.Constant):
                raise self.error(flag, "sorted(..., reverse=...) needs a constant True or False",
                                 hint="write reverse=True or reverse=False")
            kind = "reversed" if helper is builtins.reversed else "sorted"
            return self._plan(node.args[0], sequences, kind, bool(flag and flag.value))
        sequences.append((node, order, descending))
        return lambda index, items: next(items)

    def _builtin(self, fn: Callable, args: list[Operand]) -> Value:
        return self.builder.emit("call", args, attrs=builtin_call_attrs(fn)).result

    def _while(self, stmt: ast.While) -> tuple | None:
        carried = self._carried_with_views(
            [n for n in _assigned_names(stmt.body) if n in self.env], stmt.body)
        loop = _Loop.for_body(carried, stmt, self)
        loop.entry_names = frozenset(self.env)
        names = [*carried, *loop.extra_names()]
        saved_block, saved_env = self.builder.block, self.env
        cond_params = [Value(n) for n in names]
        cond_block = Block(params=cond_params)
        self.root.loop_entry.update((p.uid, self.env[n]) for n, p in zip(carried, cond_params))
        self.builder.block, self.env = cond_block, dict(saved_env)
        self.env.update(zip(carried, cond_params))
        if loop.done is not None:  # `while not done and <test>`
            self.builder.loc = SourceLoc(stmt.lineno, stmt.col_offset, stmt.lineno)
            running = self.builder.emit("not", [cond_params[len(carried)]]).result
            test_block, test = self._expr_block(stmt.test)
            test_block.yields = [test]
            cond = self._emit_structured(IfOp, [running], [test_block, Block(yields=[running])],
                                         [None], stmt, if_kind="and")[0]
            cond_block.yields = [cond]
        else:
            cond_block.yields = [self.expr(stmt.test)]
        params = [Value(n) for n in carried]
        self._note_carried_arrays([self.env[n] for n in carried], params)
        self._assume_float_params([self.env[n] for n in carried], params)
        self.root.loop_entry.update((p.uid, self.env[n]) for n, p in zip(carried, params))
        body = Block(params=[*params, *loop.extra_params()])
        self.builder.block, self.env = body, dict(saved_env)
        self.env.update(zip(carried, params))
        body.yields = self._loop_body(stmt, loop)
        inside = self.env
        self.builder.block, self.env = saved_block, saved_env
        self._note_loop_locals(inside, stmt)
        inits = [*(self._carried_value(n) for n in carried), *loop.extra_inits()]
        results = self._emit_structured(WhileOp, inits, [cond_block, body], names, stmt)
        self.last_loop_done = results[len(carried)] if loop.done is not None else None
        self._note_carried_arrays(inits, results, cond_params)
        self._check_float_params(params, body.yields[:len(params)], results)
        self.env.update(zip(carried, results))
        return loop.exit(results)

    def _loop_body(self, stmt: ast.For | ast.While, loop: _Loop) -> list[Operand]:
        """Lower a loop body; what it yields: the carried values (and the break flag)."""
        self.loops.append(loop)
        try:
            returned = self._stmts(stmt.body)
            outcome = returned.outputs if returned is not None else \
                self._loop_outcome(Const(False))
        finally:
            self.loops.pop()
        self.stmt = stmt
        return outcome

    def _loop_outcome(self, done: Const) -> list[Operand]:
        """The loop state where an iteration ends (its end, 'continue' or 'break')."""
        loop = self.loops[-1]
        values = [self._carried_value(n) for n in loop.carried]
        if loop.done is not None:
            values.append(done)
        if loop.returned is not None:
            values += [loop.returned, *loop.slots]
        return values

    def _carried_value(self, name: str) -> Operand:
        """A variable a loop carries, as one value: a list display known at compile time
        (``hs = [x]``) becomes a runtime list, whose items stay tied to the inputs."""
        return self._materialize(self.env[name], self.stmt)

    def _note_loop_locals(self, inside: dict[str, Operand], stmt: ast.AST) -> None:
        for name in inside:
            if name not in self.env:
                self.branch_only[name] = stmt


def _sorts_by_key(node: ast.Call) -> bool:
    """``sorted(xs, key=f)`` with a key function (``key=None`` sorts by the items)."""
    return any(k.arg == "key" and not (isinstance(k.value, ast.Constant) and
                                       k.value.value is None) for k in node.keywords)
