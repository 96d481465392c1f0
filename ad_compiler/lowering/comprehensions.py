"""Lowering comprehensions, generator expressions, ``map``, ``filter`` and
``functools.reduce``, and the builtins that consume an iterable (``sum``, ``min``,
``max``, ``any``, ``all``, ``math.prod``, ``sorted``, ``list``, ``tuple``), to the
``for`` loops a person would write.

``total = sum(x * x for x in xs if x > 0)`` is lowered as the statements

    total = 0
    for x in xs:
        if x > 0:
            total = total + x * x

in a scope of their own (the comprehension's variables do not leak, as in Python 3),
so the loop keeps the user's names and every transform sees an ordinary loop.  A list
is built as ``items = items + [v]``; ``min`` and ``max`` fold the two-argument builtin
(which follows the first of tied items); ``any`` and ``all`` stop at the first item
that decides them.  The statements are made as Python syntax and lowered as the
user's statements are; a `_Lowered` node stands for an operand already computed or
an op the syntax cannot spell.
"""
from __future__ import annotations

import ast
import builtins
import functools
import math
import types
from collections.abc import Callable
from typing import Any

from .. import runtime_items, runtime_writes
from ..ir import Const, ForOp, Operand, Value
from ..primitives import lookup_callable
from .values import _LocalFunction

COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)

# builtins that consume an iterable, by what their loop does
_FOLDS = {id(builtins.sum): "sum", id(builtins.min): "min", id(builtins.max): "max",
          id(builtins.any): "any", id(builtins.all): "all", id(builtins.list): "list",
          id(builtins.tuple): "tuple", id(builtins.sorted): "sorted",
          id(builtins.map): "map", id(builtins.filter): "filter",
          id(functools.reduce): "reduce", id(math.prod): "prod"}

# the accumulator's name where the statement does not give one
_ACCUMULATORS = {"sum": "total", "prod": "product", "min": "smallest", "max": "largest",
                 "any": "found", "all": "holds", "list": "items", "tuple": "items",
                 "reduce": "acc"}


class _Lowered(ast.expr):
    """A node of synthesised syntax lowered by a callback: an operand already computed,
    or an op the syntax cannot spell unambiguously (the user's ``max``)."""

    _fields = ()

    def __init__(self, make: Callable[[Any], Operand], at: ast.AST) -> None:
        super().__init__()
        self.make = make
        ast.copy_location(self, at)


def is_fold(fn: Any) -> bool:
    """Whether `fn` is a builtin this module lowers as a loop over its argument."""
    return id(fn) in _FOLDS


class Comprehensions:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    # ------------------------------------------------------------------ entry points

    def _comprehension(self, node: ast.expr) -> Operand:
        """The value of a comprehension or generator expression: a list (a dict for a
        dict comprehension); a generator is consumed once, as a list is."""
        if isinstance(node, ast.DictComp):
            return self._dict_comprehension(node)
        if isinstance(node, ast.SetComp):
            return self._consumed(node)
        return self._fold("list", node, node.generators, node.elt)

    def _check_not_kept(self, node: ast.expr | None) -> None:
        """A generator expression, ``map(...)`` or ``filter(...)`` is an iterator, used up
        by the first loop over it: kept in a variable or returned, it is refused (a list
        in its place would give a second loop items Python's iterator no longer has).  A
        set comprehension is lowered as the list of its distinct items in the set's order,
        which is a set's value only where it is consumed at once."""
        if isinstance(node, ast.SetComp):
            raise self.error(node, "set comprehensions are supported only where they are "
                                   "consumed at once (sum({...}), len({...}), sorted({...}), "
                                   "a for loop over them), not kept in a variable or returned",
                             hint="use a list comprehension, or pass the set comprehension "
                                  "straight to the function that consumes it")
        if isinstance(node, ast.GeneratorExp) or isinstance(node, ast.Call) and \
                self._fold_kind(node) in ("map", "filter"):
            what = "a generator expression" if isinstance(node, ast.GeneratorExp) else \
                f"{self._fold_kind(node)}(...)"
            raise self.error(node, f"{what} kept in a variable or returned is not supported "
                                   "(an iterator, used up by its first loop)",
                             hint="pass it straight to what consumes it (sum(...), max(...), "
                                  "a for loop), or make a list: [f(x) for x in xs], "
                                  "list(map(f, xs))")

    def _consumed(self, node: ast.expr) -> Operand:
        """A comprehension consumed where it is made: a set comprehension is the list of
        its distinct items in the order the set visits them."""
        if isinstance(node, ast.SetComp):
            items = self._fold("list", node, node.generators, node.elt)
            order = self.builder.emit("call", [items], attrs={
                "fn": runtime_items.set_order, "kwnames": (), "nondiff": True}).result
            order.name = "order"
            clause = self._clause(node, _operand(order, node))
            position = clause.target.id
            return self._fold("list", node, [clause], _Lowered(lambda lw: lw.builder.emit(
                "getitem", [items, lw.name(position, node)]).result, node))
        return self._comprehension(node)

    def _fold_call(self, node: ast.Call, fn: Any, spelling: str) -> Operand | None:
        """A call of a builtin that consumes an iterable, as a loop; None where the call
        stays a call (``max(a, b)``, ``list(range(n))``, ``math.prod(xs)``)."""
        kind = _FOLDS[id(fn)]
        args, keywords = node.args, {k.arg: k.value for k in node.keywords}
        if any(isinstance(a, ast.Starred) for a in args) or None in keywords:
            return None  # refused with the call's own message
        if kind in ("min", "max"):
            return self._extremum(node, kind, spelling, args, keywords)
        if kind in ("map", "filter"):
            return self._map_filter(node, kind, args, keywords)
        if kind == "reduce":
            return self._reduce(node, args, keywords)
        allowed = {"sum": ("start",), "prod": ("start",), "sorted": ("reverse", "key")}
        extra = [k for k in keywords if k not in allowed.get(kind, ())]
        if kind == "sum" and len(args) == 2 and "start" not in keywords:
            args, keywords = args[:1], {**keywords, "start": args[1]}  # sum(xs, start)
        if len(args) != 1 or extra:
            return None
        source = args[0]
        if kind == "prod" and not self._makes_items(source):
            return None  # math.prod of a list or array: np.prod's rule, math.prod's value
        if kind == "sorted" and keywords.get("key") is not None and \
                not _is_none(keywords["key"]):  # (of a range too: the key reads the items)
            return self._keyed(node, "sorted", source, keywords["key"], keywords.get("reverse"))
        if kind in ("list", "tuple", "sorted") and not self._iterated(source):
            return None  # list(range(n)), tuple(x.shape): no derivative, stays a call
        if kind == "list" and isinstance(source, ast.Call) and self._makes_items(source):
            return self._rvalue(source)  # list(map(f, xs)): the list map makes
        if kind == "sorted":
            if "key" in keywords:  # sorted(xs, key=None): by the items themselves
                node = ast.copy_location(ast.Call(node.func, node.args, [
                    k for k in node.keywords if k.arg != "key"]), node)
            # [v for v in sorted(...)]: the loop over the sorted order
            return self._fold("list", node, [self._clause(node, node)], None)
        if kind in ("list", "tuple") and isinstance(source, (ast.ListComp, ast.GeneratorExp)):
            return self._fold(kind, node, source.generators, source.elt)
        start = keywords.get("start")
        if isinstance(source, COMPREHENSIONS) and not isinstance(source, ast.DictComp):
            if isinstance(source, ast.SetComp):
                return self._fold(kind, node, [self._clause(node, _operand(
                    self._consumed(source), source))], None, start)
            return self._fold(kind, node, source.generators, source.elt, start)
        return self._fold(kind, node, [self._clause(node, source)], None, start)

    # ------------------------------------------------------------------ the loops

    def _fold(self, kind: str, node: ast.expr, clauses: list[ast.comprehension],
              element: ast.expr | None, start: ast.expr | None = None,
              name: str | None = None) -> Operand:
        """The loop of `kind` over `clauses` (element None: the last clause's item); its
        accumulator is called `name` where given (a list made on the way to a value)."""
        for clause in clauses:
            if clause.is_async:
                raise self.error(clause, "asynchronous comprehensions cannot be "
                                         "differentiated", hint="use a plain 'for' clause")
        if element is None:
            element = ast.Name(self._last_target, ast.Load())
            ast.copy_location(element, node)
        acc = self._accumulator(kind, node, clauses, element, start) if name is None else \
            self._fresh(name, [element, *clauses])
        item = ast.Name(acc, ast.Load())
        setup: list[ast.stmt]
        if kind in ("list", "tuple"):
            empty = ast.List([], ast.Load()) if kind == "list" else ast.Tuple([], ast.Load())
            one = ast.List([element], ast.Load()) if kind == "list" else \
                ast.Tuple([element], ast.Load())
            setup = [_assign(acc, empty, node)]
            if kind == "list":  # items.append(v), as the user's own lists are built
                append = ast.Attribute(ast.Name(acc, ast.Load()), "append", ast.Load())
                inner = [ast.copy_location(ast.Expr(ast.copy_location(
                    ast.Call(append, [element], []), node)), node)]
            else:
                inner = [_assign(acc, ast.BinOp(item, ast.Add(), one), node)]
        elif kind == "sum" and runtime_items.COMPENSATED_SUM:
            return self._exact_sum(node, clauses, element, start, acc)
        elif kind in ("sum", "prod"):
            first = start if start is not None else ast.Constant(0 if kind == "sum" else 1)
            setup = [_assign(acc, first, node)]
            op = ast.Add() if kind == "sum" else ast.Mult()
            inner = [_assign(acc, ast.BinOp(item, op, element), node)]
        elif kind in ("any", "all"):
            setup = [_assign(acc, ast.Constant(kind == "all"), node)]
            test = element if kind == "any" else ast.UnaryOp(ast.Not(), element)
            inner = [ast.If(test, [_assign(acc, ast.Constant(kind == "any"), node),
                                   ast.Break()], [])]
        else:
            raise AssertionError(kind)
        statements = [*setup, *self._nest(node, clauses, inner, acc if kind in (
            "any", "all") else None)]
        value = self._run(node, statements, [acc])[0]
        loop = self.builder.producers.get(value.uid) if isinstance(value, Value) else None
        if kind == "sum" and isinstance(loop, ForOp):
            loop.attrs["fold"] = "sum"  # Python's sum, step by step (see codegen)
        return value

    def _exact_sum(self, node: ast.expr, clauses: list[ast.comprehension],
                   element: ast.expr, start: ast.expr | None, acc: str) -> Operand:
        """``sum(...)`` where Python compensates the rounding of float sums (3.12 on):
        the running total carries the derivative, and builtins.sum gives the value
        (``sum_value(total, sum(terms))``), of the items themselves where ``sum(xs)``
        adds the items of a list, else of the terms the loop collects.  Code generation
        prints only the list and the call where the total is not needed for anything
        else (`printed_sums()`)."""
        names = [element, *clauses, ast.Name(acc, ast.Load())]
        clause = clauses[0]
        whole = len(clauses) == 1 and not clause.ifs and isinstance(clause.iter, ast.Name) \
            and isinstance(clause.target, ast.Name) and isinstance(element, ast.Name) \
            and element.id == clause.target.id
        made: dict[int, Operand] = {}

        def item(lw: Any) -> Operand:  # the element, lowered once per loop body
            block = id(lw.builder.block)
            if block not in made:
                made[block] = lw.expr(element)
            return made[block]

        total = ast.Name(acc, ast.Load())
        inner = [_assign(acc, ast.BinOp(total, ast.Add(), _Lowered(item, element)), node)]
        first = self.expr(start) if start is not None else Const(0)  # (evaluated once)
        setup = [_assign(acc, _operand(first, node), node)]
        if whole:  # sum(xs): the items are the list's own
            value = self._run(node, [*setup, *self._nest(node, clauses, inner, None)], [acc])[0]
            items = self.expr(clause.iter)
        else:  # the terms, collected as the loop makes them (they carry no derivative:
            terms = self._fresh("terms", names)  # the running total carries it)
            inner.append(_assign(terms, _Lowered(lambda lw: lw.builder.emit(
                "appended", [lw.name(terms, node), item(lw)], attrs={
                    "fn": runtime_writes.appended, "kwnames": (), "nondiff": True}).result,
                node), node))
            setup.append(_assign(terms, ast.List([], ast.Load()), node))
            value, items = self._run(node, [*setup, *self._nest(node, clauses, inner, None)],
                                     [acc, terms])
        exact = self.builder.emit("call", [items] if start is None else [items, first], attrs={
            "fn": builtins.sum, "kwnames": (), "nondiff": True}).result
        return self.builder.emit("sum_value", [value, exact], attrs={
            "fn": runtime_items.sum_value, "kwnames": ()}).result

    def _accumulator(self, kind: str, node: ast.expr, clauses: list[ast.comprehension],
                     element: ast.expr, start: ast.expr | None) -> str:
        """The accumulator's name: the statement's own (``total = sum(...)``) where it
        assigns the loop's value to one name the loop does not read, else a fresh one."""
        parts = [element, *clauses, *(p for p in (start,) if p is not None)]
        stmt = self.stmt
        target = None
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is node:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                target = targets[0].id
        return self._fresh(target or _ACCUMULATORS.get(kind, "acc"), parts)

    def _fresh(self, base: str, parts: list[ast.AST]) -> str:
        """`base`, or `base_1`, ...: a name neither the scope nor `parts` uses."""
        used = set(self.env) | {n.id for p in parts for n in ast.walk(p)
                                if isinstance(n, ast.Name)}
        name, k = base, 0
        while name in used:
            k += 1
            name = f"{base}_{k}"
        return name

    def _clause(self, node: ast.expr, iterable: ast.expr) -> ast.comprehension:
        """``for v in iterable``, with a fresh `v`, kept as the last target.  A call of
        the user's own function (``sum(helper(xs))``) is lowered first, so the loop
        goes over the list it returns item by item."""
        if self._calls_user_function(iterable):
            iterable = _operand(self._materialize(self._rvalue(iterable), iterable), iterable)
        self._last_target = self._fresh("item", [iterable])
        target = ast.copy_location(ast.Name(self._last_target, ast.Store()), node)
        return ast.comprehension(target, iterable, [], 0)

    def _nest(self, node: ast.expr, clauses: list[ast.comprehension], inner: list[ast.stmt],
              stop: str | None) -> list[ast.stmt]:
        """The nested for/if statements of `clauses` around `inner`; with `stop`, every
        enclosing loop ends once the flag `stop` is set (``any`` found its item)."""
        body = inner
        for depth, clause in enumerate(reversed(clauses)):
            for test in reversed(clause.ifs):
                body = [ast.If(test, body, [])]
            if stop is not None and depth > 0:
                body = [*body, ast.If(ast.Name(stop, ast.Load()), [ast.Break()], [])]
            body = [ast.For(clause.target, clause.iter, body, [])]
        return body

    def _run(self, node: ast.expr, statements: list[ast.stmt], names: list[str],
             keep: bool = False) -> list[Any]:
        """Lower synthesised statements in a scope of their own; the values of `names`
        after them.  They take the line of the statement they are part of, so the
        generated code quotes that statement above them.  With `keep`, the names of the
        scope they change stay changed (``d.update(other)``'s loop writes into `d`), and
        what may be read after them is what may be read after that statement."""
        stmt = self.stmt
        line = stmt.lineno
        for s in statements:
            for n in ast.walk(s):
                if isinstance(n, ast.stmt) or "lineno" in n._attributes and \
                        getattr(n, "lineno", None) is None:
                    n.lineno = n.end_lineno = line
                    n.col_offset = n.end_col_offset = node.col_offset
        if keep:
            liveness = self.root.liveness_of(self.frame_node)
            later = liveness.names_after(stmt) | frozenset(
                n.id for s in statements for n in ast.walk(s)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
            for n in (n for s in statements for n in ast.walk(s) if isinstance(n, ast.stmt)):
                liveness.after[id(n)] = later
            self.root.synthesized.append(statements)  # (kept alive: their ids stay theirs)
        saved_env, saved_branch = self.env, dict(self.branch_only)
        saved_text = self.statements.get(line)
        self.env = dict(saved_env)
        try:
            if self._stmts(statements) is not None:
                raise AssertionError("a comprehension's loop returned")
            return [self.env[n] for n in names]
        finally:
            if keep:
                saved_env = {n: self.env[n] for n in saved_env if n in self.env}
            self.env, self.branch_only, self.stmt = saved_env, saved_branch, stmt
            if saved_text is not None:
                self.statements[line] = saved_text
            self.builder.loc = type(self.builder.loc)(node.lineno, node.col_offset, line) \
                if self.builder.loc is not None else None

    # ------------------------------------------------------------------ min, max, reduce

    def _extremum(self, node: ast.Call, kind: str, spelling: str, args: list[ast.expr],
                  keywords: dict[str, ast.expr]) -> Operand | None:
        """``max(xs)``, ``max(v for ...)``, ``max(a, b, c)``: the two-argument builtin
        folded over the items, so the derivative follows the first of tied items."""
        key = keywords.pop("key", None)
        if key is not None and not _is_none(key):
            if set(keywords) - {"default"} or not args or len(args) > 1 and keywords:
                return None  # refused as Python refuses it
            source = args[0] if len(args) == 1 else \
                ast.copy_location(ast.Tuple(list(args), ast.Load()), node)
            return self._keyed(node, kind, source, key, default=keywords.get("default"))
        if len(args) == 2 and not keywords:
            return None  # the two-argument primitive
        if len(args) > 2:
            if keywords:
                return None
            operands = [self.expr(a) for a in args]
            value = operands[0]
            for other in operands[1:]:
                value = self._max_min(spelling, value, other)
            return value
        if len(args) != 1 or set(keywords) - {"default"}:
            return None
        source = args[0]
        if isinstance(source, (ast.ListComp, ast.GeneratorExp)):
            clauses, element = source.generators, source.elt
        else:
            iterable = source if not isinstance(source, COMPREHENSIONS) else \
                _operand(self._consumed(source), source)
            clauses, element = [self._clause(node, iterable)], None
        return self._fold_first(node, kind, clauses, element, keywords.get("default"),
                                lambda lw, a, b: lw._max_min(spelling, a, b))

    def _max_min(self, spelling: str, a: Operand, b: Operand) -> Operand:
        fn = getattr(builtins, spelling.rpartition(".")[2], None)
        prim, family = lookup_callable(fn)
        attrs = {"fn": fn, "callee": spelling, "callee_kind": "builtin", "family": family}
        return self.builder.emit(prim, [a, b], attrs=attrs).result

    def _fold_first(self, node: ast.expr, kind: str, clauses: list[ast.comprehension],
                    element: ast.expr | None, default: ast.expr | None,
                    step: Callable[[Any, Operand, Operand], Operand]) -> Operand:
        """``acc = v if first else step(acc, v)`` over the items; with no `default`, no
        items raise as ``max`` and ``functools.reduce`` raise."""
        if element is None:
            element = ast.copy_location(ast.Name(self._last_target, ast.Load()), node)
        acc = self._accumulator(kind, node, clauses, element, default)
        first = self._fresh("first", [element, *clauses, ast.Name(acc, ast.Load())])
        item = self._fresh("item", [element, *clauses, ast.Name(acc, ast.Load()),
                                    ast.Name(first, ast.Load())])
        if isinstance(element, ast.Name):
            item = element.id
            inner: list[ast.stmt] = []
        else:
            inner = [_assign(item, element, node)]
        folded = _Lowered(lambda lw: step(lw, lw.name(acc, node), lw.name(item, node)), node)
        choose = ast.IfExp(ast.Name(first, ast.Load()), ast.Name(item, ast.Load()), folded)
        inner += [_assign(acc, choose, node), _assign(first, ast.Constant(False), node)]
        setup = [_assign(acc, default if default is not None else ast.Constant(None), node),
                 _assign(first, ast.Constant(True), node)]
        value, empty = self._run(node, [*setup, *self._nest(node, clauses, inner, None)],
                                 [acc, first])
        if default is None:
            check = self.builder.emit("call", [empty, Const(kind)], attrs={
                "fn": runtime_items.check_nonempty, "kwnames": (), "nondiff": True})
            check.attrs["effect"] = True
        return value

    def _reduce(self, node: ast.Call, args: list[ast.expr],
                keywords: dict[str, ast.expr]) -> Operand | None:
        """``functools.reduce(f, xs[, initial])``: ``acc = f(acc, x)`` over the items."""
        if keywords or len(args) not in (2, 3):
            return None
        function, source = args[0], args[1]
        iterable = source if not isinstance(source, COMPREHENSIONS) else \
            _operand(self._consumed(source), source)
        clauses = [self._clause(node, iterable)]

        def step(lw: Any, a: Operand, b: Operand) -> Operand:
            call = ast.copy_location(ast.Call(function, [_operand(a, node), _operand(b, node)],
                                              []), node)
            return lw.expr(call)

        if len(args) == 2:
            return self._fold_first(node, "reduce", clauses, None, None, step)
        acc = self._accumulator("reduce", node, clauses,
                                ast.Name(self._last_target, ast.Load()), args[2])
        call = ast.Call(function, [ast.Name(acc, ast.Load()),
                                   ast.Name(self._last_target, ast.Load())], [])
        statements = [_assign(acc, args[2], node),
                      *self._nest(node, clauses, [_assign(acc, call, node)], None)]
        return self._run(node, statements, [acc])[0]

    # ------------------------------------------------------------------ map, filter, dicts

    def _map_filter(self, node: ast.Call, kind: str, args: list[ast.expr],
                    keywords: dict[str, ast.expr]) -> Operand | None:
        """``map(f, xs, ys)`` is ``[f(x, y) for x, y in zip(xs, ys)]``; ``filter(f, xs)``
        is ``[x for x in xs if f(x)]`` (``filter(None, xs)``: ``if x``)."""
        if keywords or len(args) < 2 or kind == "filter" and len(args) != 2:
            return None
        function, sources = args[0], args[1:]
        iterables = [s if not isinstance(s, COMPREHENSIONS) else
                     _operand(self._consumed(s), s) for s in sources]
        if len(iterables) == 1:
            clause = self._clause(node, iterables[0])
            items = [ast.Name(self._last_target, ast.Load())]
        else:
            if self.src.resolve("zip") is None or self.src.resolve("zip").obj is not zip:
                raise self.error(node, "map() of several iterables needs the builtin zip",
                                 hint="write the loop: [f(x, y) for x, y in zip(xs, ys)]")
            names = [self._fresh(f"item_{k}", sources) for k in range(len(sources))]
            zipped = ast.copy_location(ast.Call(ast.Name("zip", ast.Load()), iterables, []),
                                       node)
            target = ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store())
            clause = ast.comprehension(ast.copy_location(target, node), zipped, [], 0)
            items = [ast.Name(n, ast.Load()) for n in names]
        if kind == "map":
            element = ast.copy_location(ast.Call(function, items, []), node)
            return self._fold("list", node, [clause], element)
        keep = items[0] if isinstance(function, ast.Constant) and function.value is None \
            else ast.copy_location(ast.Call(function, items, []), node)
        clause.ifs = [keep]
        return self._fold("list", node, [clause], items[0])

    def _dict_comprehension(self, node: ast.DictComp) -> Operand:
        """``{k: v for ...}``: its keys and values collected in one loop, joined by
        ``dict_of`` (the last value of a repeated key wins, as in Python)."""
        keys = self._fresh("keys", [node])
        values = self._fresh("values", [node, ast.Name(keys, ast.Load())])
        key = _Lowered(lambda lw: lw.builder.emit("call", [lw.expr(node.key)], attrs={
            "fn": runtime_items.dict_key, "kwnames": (), "nondiff": True}).result, node.key)
        inner = [_assign(keys, ast.BinOp(ast.Name(keys, ast.Load()), ast.Add(),
                                         ast.List([key], ast.Load())), node),
                 _assign(values, ast.BinOp(ast.Name(values, ast.Load()), ast.Add(),
                                           ast.List([node.value], ast.Load())), node)]
        setup = [_assign(keys, ast.List([], ast.Load()), node),
                 _assign(values, ast.List([], ast.Load()), node)]
        key_list, value_list = self._run(
            node, [*setup, *self._nest(node, node.generators, inner, None)], [keys, values])
        return self.builder.emit("dict_of", [key_list, value_list], attrs={
            "fn": runtime_items.dict_of, "kwnames": ()}).result

    # ------------------------------------------------------------------ what is iterated

    def _makes_items(self, node: ast.expr) -> bool:
        """A comprehension, or a call of map or filter: items made one by one."""
        if isinstance(node, COMPREHENSIONS):
            return True
        return isinstance(node, ast.Call) and self._fold_kind(node) in ("map", "filter")

    def _iterated(self, node: ast.expr) -> bool:
        """Whether ``list(node)`` may hold differentiated items: anything but a range,
        a shape, a constant or a string."""
        if isinstance(node, ast.Constant) or isinstance(node, ast.Attribute) and \
                node.attr == "shape":
            return False
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Attribute) and
                                               self._is_value_expression(node.func.value)):
            if isinstance(node.func, ast.Name) and node.func.id in self.env:
                return True
            try:
                fn = self._resolve_path(node.func)[2]
            except Exception:  # refused where the call itself is lowered
                return True
            return fn is not builtins.range
        return True

    def _calls_user_function(self, node: ast.expr) -> bool:
        """Whether `node` calls a Python function the compiler inlines (a nested def,
        a lambda, or a function of the user's modules)."""
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        if isinstance(func, ast.Lambda) or isinstance(func, ast.Name) and isinstance(
                self.env.get(func.id), _LocalFunction):
            return True
        if not isinstance(func, (ast.Name, ast.Attribute)) or _root(func) in self.env:
            return False
        resolved = self.src.resolve(_root(func))
        obj = resolved.obj if resolved is not None else None
        for attr in _attributes(func):
            obj = getattr(obj, attr, None)
        from .calls import is_library_function  # (calls.py imports this module)
        return isinstance(obj, types.FunctionType) and not is_library_function(obj) and \
            not is_fold(obj)

    def _fold_kind(self, node: ast.Call) -> str | None:
        """What loop the builtin called in `node` makes, if it is one of those."""
        func = node.func
        if isinstance(func, ast.Name) and (func.id in self.env or func.id in self.branch_only):
            return None
        if not isinstance(func, (ast.Name, ast.Attribute)) or \
                isinstance(func, ast.Attribute) and self._is_value_expression(func.value):
            return None
        resolved = self.src.resolve(_root(func))
        if resolved is None:
            return None
        obj = resolved.obj
        for attr in _attributes(func):
            obj = getattr(obj, attr, None)
        return _FOLDS.get(id(obj))


def _assign(name: str, value: ast.expr, at: ast.AST) -> ast.Assign:
    target = ast.copy_location(ast.Name(name, ast.Store()), at)
    return ast.copy_location(ast.Assign([target], value, lineno=at.lineno), at)


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _operand(value: Operand, at: ast.AST) -> _Lowered:
    return _Lowered(lambda lw: value, at)


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _attributes(node: ast.expr) -> list[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return list(reversed(parts))

