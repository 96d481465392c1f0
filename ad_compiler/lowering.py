"""Lowering: a function's AST to the SSA evaluation trace.

Every operator and call becomes one op; every assignment binds a name to a value,
so reassigning a variable makes a new value (``y``, later ``y_1``).  Names that are
not local are resolved to objects by identity: a call's callee selects the
primitive, a global or closure *value* becomes a `FreeName` read at call time.
"""
from __future__ import annotations

import ast
import builtins
import operator
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .builder import Builder
from .custom import partials_of
from .errors import ADCompileError
from .frontend import FunctionSource, load
from .ir import Block, Const, FreeName, Function, Operand, SourceLoc, Value, walk_ops
from .primitives import NONDIFF_BUILTINS, PRIMITIVES, lookup_callable

_BINOPS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
    ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.MatMult: "matmul",
}
_COMPARES = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq",
             ast.NotEq: "ne"}
_PY_BINOPS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul,
    "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
    "pow": operator.pow,
}

# Statements the compiler rejects, with what to do instead.
_UNSUPPORTED_STATEMENTS = {
    ast.Try: ("'try' cannot be differentiated",
              "move the try/except outside the function you differentiate"),
    ast.With: ("'with' blocks cannot be differentiated",
               "move the 'with' block outside the function you differentiate"),
    ast.Global: ("'global' declarations cannot be differentiated",
                 "pass the value as an argument and return the new value"),
    ast.Nonlocal: ("'nonlocal' declarations cannot be differentiated",
                   "pass the value as an argument and return the new value"),
    ast.Raise: ("'raise' cannot be differentiated",
                "check inputs before calling the differentiated function"),
    ast.Delete: ("'del' cannot be differentiated", "remove the 'del' statement"),
    ast.Import: ("imports inside a differentiated function are not supported",
                 "import at module level"),
    ast.ImportFrom: ("imports inside a differentiated function are not supported",
                     "import at module level"),
    ast.ClassDef: ("class definitions inside a differentiated function are not supported",
                   "define the class at module level"),
    ast.AsyncFunctionDef: ("async functions cannot be differentiated",
                           "use a plain 'def' function"),
    ast.Assert: ("'assert' cannot be differentiated",
                 "check inputs before calling the differentiated function"),
}
_UNSUPPORTED_EXPRESSIONS = {
    ast.Yield: ("generators ('yield') cannot be differentiated",
                "return a list or tuple of the values instead"),
    ast.YieldFrom: ("generators ('yield from') cannot be differentiated",
                    "return a list or tuple of the values instead"),
    ast.Await: ("'await' cannot be differentiated", "use a plain 'def' function"),
    ast.Lambda: ("a lambda can only be called or assigned to a name here",
                 "assign it to a name and call it"),
    ast.ListComp: ("list comprehensions are not supported yet", "write the terms out"),
    ast.GeneratorExp: ("generator expressions are not supported yet", "write the terms out"),
    ast.DictComp: ("dict comprehensions are not supported", "write the entries out"),
    ast.SetComp: ("set comprehensions are not supported", "use a tuple"),
    ast.NamedExpr: ("assignment expressions (':=') are not supported",
                    "assign in a statement of its own"),
    ast.Starred: ("starred arguments are not supported", "pass arguments one by one"),
    ast.JoinedStr: ("f-strings cannot be differentiated", "format outside the function"),
}


def lower(func: Any) -> Function:
    """The SSA evaluation trace of a Python function."""
    ir = getattr(func, "_adc_function", None)
    if isinstance(ir, Function):
        return ir
    return _Lowerer(load(func)).run()


class _Lowerer:
    def __init__(self, src: FunctionSource) -> None:
        self.src = src
        self.block = Block()
        self.builder = Builder(self.block)
        self.env: dict[str, Operand] = {}
        self.statements: dict[int, str] = {}
        self.stmt: ast.AST | None = None
        self.loops: list[_Loop] = []  # loops being lowered, innermost last
        self.branch_only: dict[str, ast.AST] = {}  # names bound on some paths only
        self.root = self  # the lowerer of the function being differentiated
        self.inlining = frozenset({src.func.__code__})  # functions being inlined, for recursion
        self.extra_cells: dict[str, types.CellType] = {}  # closure cells of inlined functions
        # (function or None for this one, spelling, object): what the compiled code assumes
        self.resolutions: list[tuple[Any, str, Any]] = []
        self.none_returns: list[ast.AST] = []  # where a path ends without a value
        self.local_stack: frozenset[int] = frozenset()  # nested functions being inlined

    def error(self, node: ast.AST, what: str, hint: str = "") -> Exception:
        return self.src.error(node, what, hint)

    # ------------------------------------------------------------ function
    def run(self) -> Function:
        node = self.src.node
        params = self._params(node.args)
        outputs: list[Operand]
        returns_tuple = False
        if isinstance(node, ast.Lambda):
            self._begin(node.body)
            outputs, returns_tuple = self._return_value(node.body)
        else:
            outputs, returns_tuple = self._body(node.body)
        self.block.yields = outputs
        return Function(self.src.name, params, self.block, returns_tuple,
                        self.statements, self.src.filename,
                        defaults=tuple(self.src.func.__defaults__ or ()), source=self.src,
                        extra_cells=dict(self.extra_cells), resolutions=list(self.resolutions),
                        none_returns=[(n.lineno, n.col_offset) for n in self.none_returns])

    def _params(self, args: ast.arguments) -> list[Value]:
        if args.vararg or args.kwarg:
            extra = args.vararg or args.kwarg
            raise self.error(extra, "*args and **kwargs parameters are not supported",
                             hint="name each parameter")
        if args.kwonlyargs:
            raise self.error(args.kwonlyargs[0], "keyword-only parameters are not supported yet",
                             hint="make them positional parameters")
        params = []
        for arg in [*args.posonlyargs, *args.args]:
            value = Value(arg.arg)
            self.env[arg.arg] = value
            params.append(value)
        return params

    def _body(self, body: list[ast.stmt]) -> tuple[list[Operand], bool]:
        stmts = body[1:] if body and _is_docstring(body[0]) else body
        returned = self._stmts(stmts)
        if returned is None:
            self.root.none_returns.append(stmts[-1] if stmts else self.src.node)
            return [Const(None)], False
        return returned.outputs, returned.is_tuple

    def _stmts(self, stmts: list[ast.stmt]) -> _Returned | None:
        """Lower statements into the current block; what they return on every path, if any."""
        for index, stmt in enumerate(stmts):
            self._begin(stmt)
            if isinstance(stmt, (ast.Break, ast.Continue)):
                if not self.loops:
                    raise self.error(stmt, f"'{type(stmt).__name__.lower()}' outside a loop")
                return _Returned(self._loop_outcome(Const(isinstance(stmt, ast.Break))),
                                 False, stmt)
            if isinstance(stmt, ast.Return):
                if stmt.value is None or (isinstance(stmt.value, ast.Constant)
                                          and stmt.value.value is None):
                    self.root.none_returns.append(stmt)
                    return self._return_outcome([Const(None)], False, stmt)
                outputs, is_tuple = self._return_value(stmt.value)
                return self._return_outcome(outputs, is_tuple, stmt)
            if isinstance(stmt, ast.If):
                returned = self._if_statement(stmt, stmts[index + 1:])
                if returned is not None:
                    return returned
            elif isinstance(stmt, (ast.For, ast.While)):
                exit_ = self._for(stmt) if isinstance(stmt, ast.For) else self._while(stmt)
                if exit_ is not None:  # the loop may return: `if returned: return ...`
                    flag, values, is_tuple = exit_
                    then = _Branch(Block(), self.env,
                                   self._return_outcome(values, is_tuple, stmt))
                    orelse = self._branch(stmts[index + 1:], must_return=True)
                    return self._merge_returns(stmt, flag, then, orelse)
            else:
                self._statement(stmt)
        return None

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
        values = [self.env[n] for n in loop.carried]
        return _Returned([*values, Const(True), Const(True), *outputs], False, node)

    def _begin(self, stmt: ast.AST) -> None:
        self.stmt = stmt
        last = stmt.lineno if isinstance(stmt, _COMPOUND) else (stmt.end_lineno or stmt.lineno)
        lines = [self.src.line(n).strip() for n in range(stmt.lineno, last + 1)]
        self.statements[stmt.lineno] = " ".join(lines)

    # --------------------------------------------------------- control flow
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

    def _emit_structured(self, prim: str, args: list[Operand], blocks: list[Block],
                         names: list[str | None], node: ast.AST) -> list[Value]:
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, node.lineno)
        op = self.builder.emit(prim, args, n_results=len(names))
        op.blocks = blocks
        for value, name in zip(op.results, names):
            value.name = name
        return op.results

    def _if_statement(self, stmt: ast.If, rest: list[ast.stmt]) -> _Returned | None:
        cond = self.expr(stmt.test)
        then = self._branch(stmt.body)
        if then.returned is not None:  # the rest of the function runs only on the else path
            other = self._branch(stmt.orelse + rest, must_return=True)
            return self._merge_returns(stmt, cond, then, other)
        orelse = self._branch(stmt.orelse)
        if orelse.returned is not None:
            then = self._branch(stmt.body + rest, must_return=True)
            return self._merge_returns(stmt, cond, then, orelse)
        changed = [n for n in dict.fromkeys([*then.env, *orelse.env])
                   if n in then.env and n in orelse.env
                   and not (then.env[n] is self.env.get(n) and orelse.env[n] is self.env.get(n))]
        then.block.yields = [then.env[n] for n in changed]
        orelse.block.yields = [orelse.env[n] for n in changed]
        results = self._emit_structured("if", [cond], [then.block, orelse.block], changed, stmt)
        for name in [n for n in then.env if n not in orelse.env] + \
                [n for n in orelse.env if n not in then.env]:
            self.branch_only[name] = stmt
        self.env.update(zip(changed, results))
        return None

    def _merge_returns(self, stmt: ast.If, cond: Operand, then: _Branch,
                       orelse: _Branch) -> _Returned:
        a, b = then.returned, orelse.returned
        if a.is_tuple != b.is_tuple or len(a.outputs) != len(b.outputs):
            raise self.error(b.node or stmt, "the 'return' statements of this function return "
                                             "different numbers of values",
                             hint="return the same number of values on every path")
        then.block.yields, orelse.block.yields = list(a.outputs), list(b.outputs)
        results = self._emit_structured("if", [cond], [then.block, orelse.block],
                                        [None] * len(a.outputs), stmt)
        return _Returned(list(results), a.is_tuple, stmt)

    def _for(self, stmt: ast.For) -> tuple | None:
        if stmt.orelse:
            raise self.error(stmt, "'for ... else' is not supported",
                             hint="use a flag variable instead of the else clause")
        iterable, bind = self._iteration(stmt)
        targets = [n.id for n in ast.walk(stmt.target)
                   if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        carried = [n for n in _assigned_names(stmt.body) if n in self.env and n not in targets]
        loop = _Loop.for_body(carried, stmt, self)
        if bind is not None:
            item = Value(_index_name(stmt))
        else:
            item = Value(targets[0] if isinstance(stmt.target, ast.Name) else None)
        params = [Value(n) for n in carried]
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
            body.yields = self._emit_structured("if", [running], [then, idle],
                                                [*carried, *loop.extra_names()], stmt)
        inside = self.env
        self.builder.block, self.env = saved_block, saved_env
        self._note_loop_locals(inside, stmt)
        inits = [*(self.env[n] for n in carried), *loop.extra_inits()]
        results = self._emit_structured("for", [iterable, *inits], [body],
                                        [*carried, *loop.extra_names()], stmt)
        self.env.update(zip(carried, results))
        return loop.exit(results)

    def _iteration(self, stmt: ast.For) -> tuple[Operand, Callable[[Value], None] | None]:
        """What a 'for' loop iterates over, and how its target is bound from an index.

        ``for x in xs``, ``enumerate(...)`` and ``zip(...)`` (nested as you like) loop
        over an index, ``x = xs[i]``, so the adjoint of each item flows back to its
        place in `xs`.  ``range`` and other calls are iterated as they are.
        """
        node = stmt.iter
        if isinstance(node, ast.Call) and self._iteration_helper(node) is None:
            return self.expr(node), None
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, stmt.lineno)
        sequences: list[ast.expr] = []
        make = self._plan(node, sequences)
        seqs = [self._materialize(self._rvalue(n), n) for n in sequences]
        lengths = [self._builtin(builtins.len, [q]) for q in seqs]
        count = lengths[0] if len(lengths) == 1 else self._builtin(builtins.min, lengths)
        iterable = self._builtin(builtins.range, [count])

        def bind(index: Value) -> None:
            items = iter([self.builder.emit("getitem", [q, index]).result for q in seqs])
            self._assign(stmt.target, make(index, items))

        return iterable, bind

    def _iteration_helper(self, node: ast.Call) -> Any:
        if node.keywords or not node.args:
            return None
        _, _, fn = self._resolve_path(node.func)
        if fn is builtins.enumerate and len(node.args) == 1:
            return fn
        return fn if fn is builtins.zip else None

    def _plan(self, node: ast.expr, sequences: list[ast.expr]) -> Callable:
        """How one iteration's target value is made from the index and the items."""
        helper = self._iteration_helper(node) if isinstance(node, ast.Call) else None
        if helper is builtins.enumerate:
            inner = self._plan(node.args[0], sequences)
            return lambda index, items: _StaticSeq([index, inner(index, items)], "tuple")
        if helper is builtins.zip:
            parts = [self._plan(arg, sequences) for arg in node.args]
            return lambda index, items: _StaticSeq([p(index, items) for p in parts], "tuple")
        sequences.append(node)
        return lambda index, items: next(items)

    def _builtin(self, fn: Callable, args: list[Operand]) -> Value:
        attrs = {"fn": fn, "callee": fn.__name__, "callee_kind": "builtin", "nondiff": True,
                 "kwnames": ()}
        return self.builder.emit("call", args, attrs=attrs).result

    def _while(self, stmt: ast.While) -> tuple | None:
        if stmt.orelse:
            raise self.error(stmt, "'while ... else' is not supported",
                             hint="use a flag variable instead of the else clause")
        carried = [n for n in _assigned_names(stmt.body) if n in self.env]
        loop = _Loop.for_body(carried, stmt, self)
        names = [*carried, *loop.extra_names()]
        saved_block, saved_env = self.builder.block, self.env
        cond_params = [Value(n) for n in names]
        cond_block = Block(params=cond_params)
        self.builder.block, self.env = cond_block, dict(saved_env)
        self.env.update(zip(carried, cond_params))
        if loop.done is not None:  # `while not done and <test>`
            self.builder.loc = SourceLoc(stmt.lineno, stmt.col_offset, stmt.lineno)
            running = self.builder.emit("not", [cond_params[len(carried)]]).result
            test_block, test = self._expr_block(stmt.test)
            test_block.yields = [test]
            cond = self._emit_structured("if", [running], [test_block, Block(yields=[running])],
                                         [None], stmt)[0]
            self.builder.producers[cond.uid].attrs["boolop"] = "and"
            cond_block.yields = [cond]
        else:
            cond_block.yields = [self.expr(stmt.test)]
        params = [Value(n) for n in carried]
        body = Block(params=[*params, *loop.extra_params()])
        self.builder.block, self.env = body, dict(saved_env)
        self.env.update(zip(carried, params))
        body.yields = self._loop_body(stmt, loop)
        inside = self.env
        self.builder.block, self.env = saved_block, saved_env
        self._note_loop_locals(inside, stmt)
        inits = [*(self.env[n] for n in carried), *loop.extra_inits()]
        results = self._emit_structured("while", inits, [cond_block, body], names, stmt)
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
        values = [self.env[n] for n in loop.carried]
        if loop.done is not None:
            values.append(done)
        if loop.returned is not None:
            values += [loop.returned, *loop.slots]
        return values

    def _note_loop_locals(self, inside: dict[str, Operand], stmt: ast.AST) -> None:
        for name in inside:
            if name not in self.env:
                self.branch_only[name] = stmt

    def _return_value(self, value: ast.expr) -> tuple[list[Operand], bool]:
        result = self._rvalue(value)
        if isinstance(result, _TupleValue) or (isinstance(result, _StaticSeq)
                                               and result.kind == "tuple"):
            items = self._unpack(result, len(result.items), value)
            return [self._materialize(v, value) for v in items], True
        return [self._materialize(result, value)], False

    # ----------------------------------------------------------- statements
    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            value = self._rvalue(stmt.value)
            for target in stmt.targets:
                self._assign(target, value)
            return
        if isinstance(stmt, ast.AugAssign):
            if not isinstance(stmt.target, ast.Name):
                raise self.error(stmt.target, "augmented assignment to this kind of target "
                                              "is not supported yet",
                                 hint="assign to a plain name")
            prim = self._binop_prim(stmt.op, stmt)
            if isinstance(self.env.get(stmt.target.id), (_StaticSeq, _StaticDict)):
                raise self.error(stmt, "changing a list, tuple or dict in place is not "
                                       "supported", hint="build a new one instead")
            current = self.name(stmt.target.id, stmt.target)
            self._bind(stmt.target.id, self._binop(prim, current, self.expr(stmt.value), stmt))
            return
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None and isinstance(stmt.target, ast.Name):
                self._bind(stmt.target.id, self.expr(stmt.value))
                return
            if stmt.value is None:
                return
            raise self.error(stmt.target, "annotated assignment to this target is not supported")
        if isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Call):
                result = self.expr(stmt.value)
                if isinstance(result, Value):
                    self.builder.producers[result.uid].attrs["effect"] = True
            elif not isinstance(stmt.value, ast.Constant):
                self.expr(stmt.value)  # reject what cannot be lowered; no effect otherwise
            return
        if isinstance(stmt, ast.Pass):
            return
        if isinstance(stmt, ast.FunctionDef):
            if stmt.decorator_list:
                raise self.error(stmt.decorator_list[0], "decorated nested functions are not "
                                                         "supported", hint="call the function "
                                                         "the decorator would return instead")
            self.env[stmt.name] = self._local_function(stmt)
            return
        if isinstance(stmt, (ast.Break, ast.Continue)):
            raise self.error(stmt, f"'{type(stmt).__name__.lower()}' outside a loop")
        for kind, (what, hint) in _UNSUPPORTED_STATEMENTS.items():
            if isinstance(stmt, kind):
                raise self.error(stmt, what, hint)
        raise self.error(stmt, f"{type(stmt).__name__} statements are not supported")

    def _bind(self, name: str, value: Any) -> None:
        if isinstance(value, Value) and value.name is None:
            value.name = name
        self.env[name] = value

    # ------------------------------------------------- lists, tuples, dicts
    def _rvalue(self, node: ast.expr) -> Any:
        """An expression that may stay a compile-time container (a display, or a name
        bound to one) instead of becoming a single value."""
        if isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    raise self.error(elt, "starred items are not supported",
                                     hint="write the items out")
            items = [self._item(self._rvalue(e)) for e in node.elts]
            return _StaticSeq(items, "tuple" if isinstance(node, ast.Tuple) else "list")
        if isinstance(node, ast.Dict):
            entries = {}
            for key, value in zip(node.keys, node.values):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, (str, int))):
                    raise self.error(key or node, "dict keys must be constant strings or "
                                                  "integers", hint="use constant keys")
                entries[key.value] = self._item(self._rvalue(value))
            return _StaticDict(entries)
        if isinstance(node, ast.Name) and isinstance(self.env.get(node.id),
                                                     (_StaticSeq, _StaticDict)):
            return self.env[node.id]
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Lambda):
            return self._local_function(node)
        return self.expr(node)

    def _local_function(self, node: ast.FunctionDef | ast.Lambda) -> _LocalFunction:
        args = node.args
        if args.vararg or args.kwarg or args.kwonlyargs:
            raise self.error(node, "nested functions with *args, **kwargs or keyword-only "
                                   "parameters are not supported",
                             hint="give it plain positional parameters")
        defaults = [self.expr(d) for d in args.defaults]  # evaluated where it is defined
        return _LocalFunction(node, defaults)

    def _inline_local(self, local: _LocalFunction, args: list[Operand],
                      kwargs: dict[str, Operand], node: ast.Call) -> Any:
        """Inline a nested function; it reads the enclosing variables as they are now."""
        if id(local.node) in self.local_stack:
            raise self.error(node, "this nested function is recursive, which cannot be "
                                   "differentiated", hint="write the recursion as a loop")
        child = _Lowerer(self.src)
        child.root, child.builder, child.inlining = self.root, self.builder, self.inlining
        child.statements = self.statements
        child.local_stack = self.local_stack | {id(local.node)}
        child.env = dict(self.env)
        child.env.update(self._bind_parameters(local.node.args, local.defaults, "this function",
                                    args, kwargs, node))
        if isinstance(local.node, ast.Lambda):
            child._begin(local.node.body)
            outputs, is_tuple = child._return_value(local.node.body)
        else:
            outputs, is_tuple = child._body(local.node.body)
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        return _TupleValue(outputs) if is_tuple else outputs[0]

    @staticmethod
    def _item(value: Any) -> Any:
        if isinstance(value, _TupleValue):
            return _StaticSeq(list(value.items), "tuple")
        return value

    def _materialize(self, value: Any, node: ast.AST) -> Operand:
        """A container as a runtime list or tuple, for uses that need one value."""
        if isinstance(value, _LocalFunction):
            raise self.error(node, "a nested function can only be called here",
                             hint="call it where it is needed")
        if isinstance(value, _StaticSeq):
            items = [self._materialize(v, node) for v in value.items]
            return self.builder.emit("pack", items, attrs={"kind": value.kind}).result
        if isinstance(value, _StaticDict):
            raise self.error(node, "a dict can only be indexed with constant keys here",
                             hint="index it with a constant key, or pass the values")
        if isinstance(value, _TupleValue):
            return self._materialize(_StaticSeq(list(value.items), "tuple"), node)
        return value

    def _unpack(self, value: Any, count: int, node: ast.AST) -> list[Any]:
        value = self._item(value)
        if isinstance(value, _StaticSeq):
            if len(value.items) != count:
                raise self.error(node, f"{len(value.items)} values cannot be unpacked into "
                                       f"{count} names", hint="unpack as many names as values")
            return list(value.items)
        if isinstance(value, _StaticDict):
            raise self.error(node, "unpacking a dict is not supported", hint="index it by key")
        if isinstance(value, Const):
            raise self.error(node, "a constant cannot be unpacked")
        callee = None
        if isinstance(value, Value) and value.uid in self.builder.producers:
            callee = self.builder.producers[value.uid].attrs.get("callee")
        return [self.builder.emit("getitem", [value, Const(k)], attrs={"callee": callee}).result
                for k in range(count)]

    def _assign(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, self._item(value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt, item in zip(target.elts, self._unpack(value, len(target.elts), target)):
                self._assign(elt, item)
        elif isinstance(target, ast.Subscript):
            raise self.error(target, "assigning into a list, array or dict is not supported yet",
                             hint="build a new list, or accumulate in a variable")
        else:
            raise self.error(target, "assignment to this kind of target is not supported",
                             hint="assign to a plain name")

    def _subscript(self, node: ast.Subscript) -> Any:
        base = self._rvalue(node.value)
        if isinstance(node.slice, ast.Slice):
            raise self.error(node, "slices are not supported yet",
                             hint="index the items one by one")
        index = self.expr(node.slice)
        if isinstance(base, (_StaticSeq, _StaticDict)) and isinstance(index, Const):
            try:
                return base.items[index.value]
            except (IndexError, KeyError, TypeError):
                raise self.error(node, f"index {index.value!r} is out of range") from None
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        return self.builder.emit("getitem", [self._materialize(base, node), index]).result


    # ---------------------------------------------------------- expressions
    def expr(self, node: ast.expr) -> Operand:
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float, bool, str, type(None))):
                return Const(node.value)
            raise self.error(node, f"constants of type {type(node.value).__name__} are "
                                   "not supported")
        if isinstance(node, ast.Name):
            return self.name(node.id, node)
        if isinstance(node, ast.BinOp):
            prim = self._binop_prim(node.op, node)
            left, right = self.expr(node.left), self.expr(node.right)
            self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
            return self._binop(prim, left, right, node)
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.Not):
                return self.builder.emit("not", [operand]).result
            if isinstance(node.op, ast.USub):
                if isinstance(operand, Const) and isinstance(operand.value, (int, float)):
                    return Const(-operand.value)
                self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
                return self.builder.emit("neg", [operand]).result
            raise self.error(node, f"the operator '{_op_text(node.op)}' is not supported yet")
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            cond = self.expr(node.test)
            then_block, then_value = self._expr_block(node.body)
            else_block, else_value = self._expr_block(node.orelse)
            then_block.yields, else_block.yields = [then_value], [else_value]
            value = self._emit_structured("if", [cond], [then_block, else_block], [None], node)[0]
            self.builder.producers[value.uid].attrs["ifexp"] = True
            return value
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.Call):
            result = self._call(node)
            if isinstance(result, _TupleValue):
                raise self.error(node, "this call returns several values",
                                 hint="unpack them first: 'a, b = f(x)'")
            return result
        if isinstance(node, ast.Attribute):
            return self._static_value(node)
        if isinstance(node, (ast.Tuple, ast.List, ast.Subscript, ast.Dict)):
            return self._materialize(self._rvalue(node), node)
        for kind, (what, hint) in _UNSUPPORTED_EXPRESSIONS.items():
            if isinstance(node, kind):
                raise self.error(node, what, hint)
        raise self.error(node, f"{type(node).__name__} expressions are not supported yet")

    def _expr_block(self, node: ast.expr) -> tuple[Block, Operand]:
        """Lower an expression into a block of its own (a branch evaluated lazily)."""
        saved = self.builder.block
        block = Block()
        self.builder.block = block
        try:
            return block, self.expr(node)
        finally:
            self.builder.block = saved

    def _boolop(self, node: ast.BoolOp) -> Operand:
        """``a and b`` is ``b if a else a``; ``a or b`` is ``a if a else b`` (short-circuit)."""
        value = self.expr(node.values[0])
        for operand in node.values[1:]:
            block, other = self._expr_block(operand)
            block.yields = [other]
            keep = Block(yields=[value])
            blocks = [block, keep] if isinstance(node.op, ast.And) else [keep, block]
            value = self._emit_structured("if", [value], blocks, [None], node)[0]
            self.builder.producers[value.uid].attrs["boolop"] = "and" if isinstance(
                node.op, ast.And) else "or"
        return value

    def _compare(self, node: ast.Compare) -> Operand:
        """``a < b < c`` is ``a < b and b < c`` with ``b`` evaluated once."""
        left = self.expr(node.left)
        result: Operand | None = None
        for op, comparator in zip(node.ops, node.comparators):
            prim = _COMPARES.get(type(op))
            if prim is None:
                raise self.error(node, f"the comparison '{_op_text(op)}' is not supported")
            if result is None:
                right = self.expr(comparator)
                self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
                result = self.builder.emit(prim, [left, right]).result
            else:
                saved = self.builder.block
                block = Block()
                self.builder.block = block
                right = self.expr(comparator)
                block.yields = [self.builder.emit(prim, [left, right]).result]
                self.builder.block = saved
                result = self._emit_structured("if", [result], [block, Block(yields=[result])],
                                               [None], node)[0]
                self.builder.producers[result.uid].attrs["boolop"] = "and"
            left = right
        return result

    def _binop_prim(self, op: ast.operator, node: ast.AST) -> str:
        prim = _BINOPS.get(type(op))
        if prim is None or prim == "matmul":
            raise self.error(node, f"the operator '{_op_text(op)}' is not supported yet")
        return prim

    def _binop(self, prim: str, left: Operand, right: Operand, node: ast.AST) -> Operand:
        if isinstance(left, Const) and isinstance(right, Const):
            try:
                return Const(_PY_BINOPS[prim](left.value, right.value))
            except (ArithmeticError, TypeError, ValueError):
                pass
        return self.builder.emit(prim, [left, right]).result

    def name(self, name: str, node: ast.AST) -> Operand:
        if name in self.env:
            return self._materialize(self.env[name], node)
        resolved = self.src.resolve(name)
        if resolved is None and name in self.branch_only:
            where = self.branch_only[name].lineno
            raise self.error(node, f"'{name}' is assigned only on some paths through the "
                                   f"statement at line {where}",
                             hint=f"give '{name}' a value before that statement")
        if resolved is None:
            raise self.error(node, f"the name '{name}' is not defined",
                             hint="assign it before use, or define it at module level")
        if _is_constant_object(resolved.obj):
            return self._free_name(name, resolved.kind, node)
        raise self.error(node, f"'{name}' is a {type(resolved.obj).__name__}, not a number "
                               "or an array, and cannot be used as a value here",
                         hint="call it, or pass the value it holds as an argument")

    def _static_value(self, node: ast.Attribute) -> Operand:
        """`module.CONSTANT` (math.pi, np.e): read when the code runs."""
        spelling, root_kind, obj = self._resolve_path(node)
        if _is_constant_object(obj):
            if self.root is not self and isinstance(obj, (int, float)):
                return Const(obj)  # a module constant (math.pi) read by an inlined function
            return self._free_name(spelling, root_kind, node)
        raise self.error(node, f"'{spelling}' is not a number and cannot be used as a value",
                         hint="call it, or pass the value it holds as an argument")

    def _free_name(self, spelling: str, kind: str, node: ast.AST) -> FreeName:
        """A global or closure variable; an inlined function's must be reachable from
        the generated code, which runs with the differentiated function's globals."""
        root = spelling.split(".")[0]
        if self.root is self or kind == "builtin":
            return FreeName(spelling, kind)
        if kind == "global" and self.src.globals is self.root.src.globals:
            return FreeName(spelling, kind)
        if kind == "closure":
            cell = self.src.cells[root]
            known = {**self.root.src.cells, **self.root.extra_cells}
            if known.get(root, cell) is cell:
                self.root.extra_cells[root] = cell
                return FreeName(spelling, kind)
        raise self.error(node, f"'{root}' belongs to {self.src.name}'s module or closure and "
                               "cannot be read from the function being differentiated",
                         hint=f"pass '{root}' to {self.src.name} as an argument")

    def _resolve_path(self, node: ast.expr) -> tuple[str, str, Any]:
        """Resolve `a.b.c` whose root is a global, closure or builtin name."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            raise self.error(node, "only names and module attributes can be called here",
                             hint="assign the callable to a module-level name")
        if node.id in self.env:
            raise self.error(node, "attributes and methods of values are not supported yet",
                             hint="use the NumPy or math function instead of the method")
        resolved = self.src.resolve(node.id)
        if resolved is None:
            raise self.error(node, f"the name '{node.id}' is not defined")
        obj = resolved.obj
        for attr in reversed(parts):
            if not hasattr(obj, attr):
                raise self.error(node, f"'{node.id}' has no attribute '{attr}'")
            obj = getattr(obj, attr)
        spelling = ".".join([node.id, *reversed(parts)])
        owner = None if self.root is self else self.src.func
        self.root.resolutions.append((owner, spelling, obj))
        return spelling, resolved.kind, obj

    def _inline(self, fn: types.FunctionType, spelling: str, args: list[Operand],
                kwargs: dict[str, Operand], node: ast.Call) -> Operand | _TupleValue:
        """Lower a call to a Python function by lowering its body in place.

        Inlining differentiates helpers with their caller in one generated function:
        no call overhead, and the optimiser sees across the call.
        """
        if fn.__code__ in self.inlining:
            raise self.error(node, f"'{spelling}' is recursive, which cannot be "
                                   "differentiated", hint="write the recursion as a loop")
        try:
            source = load(fn)
        except ADCompileError as exc:
            raise self.error(node, f"'{spelling}' has no source to differentiate ({exc.what})",
                             hint=f"register its derivative with adc.defpartials({spelling}, "
                                  "lambda y, *args: ...)") from None
        child = _Lowerer(source)
        child.root, child.builder = self.root, self.builder
        child.inlining = self.inlining | {fn.__code__}
        child.env = self._bind_arguments(child.src, args, kwargs, node)
        block, mark = self.builder.block, len(self.builder.block.ops)
        if isinstance(child.src.node, ast.Lambda):
            child._begin(child.src.node.body)
            outputs, is_tuple = child._return_value(child.src.node.body)
        else:
            outputs, is_tuple = child._body(child.src.node.body)
        here = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        for op in walk_ops(Block(ops=block.ops[mark:])):
            op.loc = here  # inlined code is commented with the statement calling it
        self.builder.loc = here
        return _TupleValue(outputs) if is_tuple else outputs[0]

    def _bind_arguments(self, callee: FunctionSource, args: list[Operand],
                        kwargs: dict[str, Operand], node: ast.Call) -> dict[str, Operand]:
        spec = callee.node.args
        if spec.vararg or spec.kwarg or spec.kwonlyargs:
            raise self.error(node, f"'{callee.name}' has *args, **kwargs or keyword-only "
                                   "parameters, which inlining does not support yet",
                             hint="give it plain positional parameters")
        defaults = []
        for value in callee.func.__defaults__ or ():
            defaults.append(Const(value) if isinstance(value, (int, float, bool, type(None)))
                            else None)
        return self._bind_parameters(spec, defaults, f"'{callee.name}'", args, kwargs, node)

    def _bind_parameters(self, spec: ast.arguments, defaults: list[Operand | None], label: str,
              args: list[Operand], kwargs: dict[str, Operand],
              node: ast.Call) -> dict[str, Operand]:
        """Parameter names to argument values, as a call binds them (None: no usable default)."""
        names = [a.arg for a in [*spec.posonlyargs, *spec.args]]
        if len(args) > len(names):
            raise self.error(node, f"{label} takes {len(names)} arguments, {len(args)} given")
        bound = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names or key in bound:
                raise self.error(node, f"{label} got an unexpected or repeated argument "
                                       f"'{key}'")
            bound[key] = value
        first_default = len(names) - len(defaults)
        for index, name in enumerate(names):
            if name in bound:
                continue
            default = defaults[index - first_default] if index >= first_default else None
            if default is None:
                raise self.error(node, f"no value for the parameter '{name}' of {label}",
                                 hint="pass it explicitly")
            bound[name] = default
        return bound

    def _call(self, node: ast.Call) -> Operand | _TupleValue:
        local = None
        if isinstance(node.func, ast.Name) and isinstance(self.env.get(node.func.id),
                                                          _LocalFunction):
            local = self.env[node.func.id]
        elif isinstance(node.func, ast.Lambda):
            local = self._local_function(node.func)
        if local is not None:
            if any(isinstance(a, ast.Starred) for a in node.args) or any(
                    k.arg is None for k in node.keywords):
                raise self.error(node, "starred arguments are not supported",
                                 hint="pass the arguments one by one")
            args = [self.expr(a) for a in node.args]
            kwargs = {k.arg: self.expr(k.value) for k in node.keywords}
            return self._inline_local(local, args, kwargs, node)
        spelling, root_kind, fn = self._resolve_path(node.func)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(arg, "starred arguments are not supported",
                                 hint="pass the arguments one by one")
        args = [self.expr(a) for a in node.args]
        if any(k.arg is None for k in node.keywords):
            raise self.error(node, "'**' arguments are not supported",
                             hint="pass keyword arguments by name")
        kwargs = {k.arg: self.expr(k.value) for k in node.keywords}
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = {"fn": fn, "callee": spelling, "callee_kind": root_kind}
        partials = partials_of(fn)
        if partials is not None:  # the user's own rule comes first
            if kwargs:
                raise self.error(node, f"'{spelling}' has a custom rule and takes its "
                                       "arguments by position only",
                                 hint=f"pass them by position: {spelling}("
                                      f"{', '.join(kwargs)})")
            attrs.update(partials=partials, kwnames=())
            return self.builder.emit("custom", args, attrs=attrs).result
        hit = lookup_callable(fn)
        if hit is not None:
            prim, family = hit
            attrs["family"] = family
            if prim == "log" and len(args) == 2 and not kwargs:  # math.log(x, base)
                top = self.builder.emit("log", args[:1], attrs=dict(attrs)).result
                bottom = self.builder.emit("log", args[1:], attrs=dict(attrs)).result
                return self.builder.emit("truediv", [top, bottom]).result
            if len(args) == PRIMITIVES[prim].arity and not kwargs:
                return self.builder.emit(prim, args, attrs=attrs).result
            if not PRIMITIVES[prim].nondiff:
                raise self.error(node, f"'{spelling}' is supported with "
                                       f"{PRIMITIVES[prim].arity} positional argument(s) only",
                                 hint="drop the extra arguments")
        elif isinstance(fn, types.FunctionType) and id(fn) not in NONDIFF_BUILTINS:
            return self._inline(fn, spelling, args, kwargs, node)
        if (hit is not None and PRIMITIVES[hit[0]].nondiff) or id(fn) in NONDIFF_BUILTINS:
            attrs["nondiff"] = True
        attrs["kwnames"] = tuple(kwargs)
        return self.builder.emit("call", [*args, *kwargs.values()], attrs=attrs).result


_COMPOUND = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef)


@dataclass
class _Returned:
    """What a sequence of statements returns on every path through it."""

    outputs: list[Operand]
    is_tuple: bool
    node: ast.AST | None


@dataclass
class _Loop:
    """A loop being lowered: its carried variables and the state 'break' and 'return'
    need: a flag that ends the loop, and for 'return', whether one ran and its values."""

    carried: list[str]
    done: Value | None = None
    returned: Value | None = None
    slots: list[Value] = field(default_factory=list)
    slots_tuple: bool = False

    @classmethod
    def for_body(cls, carried: list[str], stmt: ast.For | ast.While, lowerer: Any) -> _Loop:
        shape = _return_shape(stmt.body, lowerer)
        loop = cls(carried)
        if shape is not None or _breaks(stmt.body):
            loop.done = Value("done")
        if shape is not None:
            loop.returned = Value("returned")
            loop.slots = [Value("result") for _ in range(shape[0])]
            loop.slots_tuple = shape[1]
        return loop

    def extra_params(self) -> list[Value]:
        extra = [self.done] if self.done is not None else []
        return extra + ([self.returned, *self.slots] if self.returned is not None else [])

    def extra_names(self) -> list[str]:
        return [v.name for v in self.extra_params()]

    def extra_inits(self) -> list[Operand]:
        inits: list[Operand] = [Const(False)] if self.done is not None else []
        if self.returned is not None:
            inits += [Const(False), *(Const(None) for _ in self.slots)]
        return inits

    def exit(self, results: list[Value]) -> tuple | None:
        """(returned flag, returned values, tuple?) after the loop, if it can return."""
        if self.returned is None:
            return None
        start = len(self.carried) + 1
        return results[start], results[start + 1:], self.slots_tuple


def _return_shape(stmts: list[ast.stmt], lowerer: Any) -> tuple[int, bool] | None:
    """How many values the 'return' statements in a loop body return, if any."""
    shapes = set()
    for node in ast.walk(ast.Module(body=stmts, type_ignores=[])):
        if isinstance(node, ast.Return):
            value = node.value
            if isinstance(value, ast.Tuple):
                shapes.add((len(value.elts), True))
            else:
                shapes.add((1, False))
    if len(shapes) > 1:
        raise lowerer.error(stmts[0], "the 'return' statements in this loop return different "
                                      "numbers of values",
                            hint="return the same number of values on every path")
    return shapes.pop() if shapes else None


def _breaks(stmts: list[ast.stmt]) -> bool:
    """Whether a loop body has a 'break' of its own (not one of a nested loop)."""
    for stmt in stmts:
        if isinstance(stmt, ast.Break):
            return True
        if isinstance(stmt, (ast.If, ast.With, ast.Try)):
            inner = [*stmt.body, *getattr(stmt, "orelse", [])]
            if _breaks(inner):
                return True
    return False


@dataclass
class _StaticSeq:
    """A list or tuple display whose items are known at compile time."""

    items: list[Any]
    kind: str  # "list" or "tuple"


@dataclass
class _StaticDict:
    """A dict display with constant keys."""

    items: dict[Any, Any]


@dataclass
class _LocalFunction:
    """A function defined inside the one being differentiated (def or lambda)."""

    node: ast.FunctionDef | ast.Lambda
    defaults: list[Operand]


@dataclass
class _TupleValue:
    """What a call to a function returning a tuple gives: one operand per item."""

    items: list[Operand]


@dataclass
class _Branch:
    block: Block
    env: dict[str, Operand]
    returned: _Returned | None


def _index_name(stmt: ast.For) -> str:
    """The name of a loop's index: the user's, for ``for i, x in enumerate(xs)``."""
    target = stmt.target
    if isinstance(target, ast.Tuple) and target.elts and isinstance(target.elts[0], ast.Name) \
            and isinstance(stmt.iter, ast.Call) and isinstance(stmt.iter.func, ast.Name) \
            and stmt.iter.func.id == "enumerate":
        return target.elts[0].id
    return "index"


def _assigned_names(stmts: list[ast.stmt]) -> list[str]:
    """Names a loop body assigns, in order of first assignment."""
    names: dict[str, None] = {}
    for node in ast.walk(ast.Module(body=stmts, type_ignores=[])):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names[node.id] = None
    return list(names)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _is_constant_object(obj: Any) -> bool:
    """Data (numbers, arrays, containers of them) rather than code or modules."""
    if isinstance(obj, (types.ModuleType, type)) or callable(obj):
        return False
    return True


def _op_text(op: ast.AST) -> str:
    symbols = {ast.Not: "not", ast.Invert: "~", ast.BitAnd: "&", ast.BitOr: "|",
               ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@",
               ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
    return symbols.get(type(op), type(op).__name__)

