"""Lowering the statements that carry no derivative: ``assert``, ``raise``, ``print``,
logging and ``warnings.warn`` calls, f-strings and ``str.format``, imports and
``global`` declarations inside the function, and ``:=``.

They run in the derivative code as written, on the primal values.  Text made from a
differentiated value (an f-string, ``str(x)``, an exception) is a *text* op: it has no
derivative, so it may only flow into a *sink* (a print, a log record, a warning, a
raised exception); `contain_text()` checks that once the trace is built, and text that
flows anywhere else is refused where it is made."""
from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import itertools
import logging
import operator
import types
import warnings
from typing import Any

import numpy as np

from .. import runtime_statements
from ..ir import (
    Block,
    Const,
    FreeName,
    Function,
    IfOp,
    Operand,
    SourceLoc,
    Value,
    readers_of,
    walk_ops,
)
from .values import _assigned_names, _Branch, _Returned

# logging's functions and a logger's methods that write a record
_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "critical",
                          "exception", "log"})
_SINK_FUNCTIONS = frozenset(id(f) for f in (
    builtins.print, warnings.warn, *(getattr(logging, m) for m in _LOG_METHODS)))
# builtins whose result is text
_TEXT_BUILTINS = frozenset(id(f) for f in (builtins.str, builtins.repr, builtins.ascii,
                                           builtins.format))
_FINALLY_KEYS = itertools.count()  # which try statement a finally clause's ops belong to


def is_sink(fn: Any) -> bool:
    """Whether calling `fn` only writes something out (print, a log record, a warning):
    it runs on the primal values and carries no derivative."""
    if id(fn) in _SINK_FUNCTIONS:
        return True
    if isinstance(fn, types.FunctionType) and fn.__module__ in ("warnings", "logging"):
        return True  # warnings.simplefilter(...), logging.basicConfig(...)
    owner = getattr(fn, "__self__", None)
    return (isinstance(owner, (logging.Logger, logging.LoggerAdapter))
            and getattr(fn, "__name__", "") in _LOG_METHODS)


def makes_text(fn: Any) -> bool:
    """Whether `fn`'s result is text or an exception (which carry no derivative)."""
    return id(fn) in _TEXT_BUILTINS or (isinstance(fn, type) and issubclass(fn, BaseException))


def contain_text(fn: Function) -> None:
    """Mark text ops whose results reach only sinks (directly or through other text)
    as having no derivative; the others are refused where their input varies
    (`check_supported()`)."""
    uses: dict[int, list[Any]] = readers_of(fn.body)
    texts = {id(op): op for op in walk_ops(fn.body) if op.attrs.get("text")}
    contained = set(texts)
    changed = True
    while changed:
        changed = False
        for key in list(contained):
            for r in texts[key].results:
                if any(u is None or not (u.attrs.get("sink") or id(u) in contained)
                       for u in uses.get(r.uid, [])):
                    contained.discard(key)
                    changed = True
                    break
    for key, op in texts.items():
        if key in contained:
            op.attrs["nondiff"] = True


class Statements:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    # ------------------------------------------------------------ writing out
    def _sink_call(self, node: ast.Call, spelling: str, kind: str, fn: Any) -> Operand:
        """print(...), logging.info(...), log.info(...), warnings.warn(...): called as
        written with the primal values; the call has no derivative."""
        args, kwargs = self._arguments(node, self._text_operand)
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = {"fn": fn, "callee": spelling, "callee_kind": kind, "nondiff": True,
                 "sink": True, "effect": True, "kwnames": tuple(kwargs)}
        return self.builder.emit("call", [*args, *kwargs.values()], attrs=attrs).result

    def _text_operand(self, node: ast.expr) -> Operand:
        """An argument of a sink or of text: any value, a list of them, or a class
        (an exception's, a warning's category)."""
        if isinstance(node, (ast.Name, ast.Attribute)) and not self._is_value_expression(node):
            spelling, kind, obj = self._resolve_path(node)
            if isinstance(obj, type):
                return self._class_operand(spelling, kind, obj, node)
        return self._materialize(self._rvalue(node), node)

    def _class_operand(self, spelling: str, kind: str, obj: type, node: ast.AST) -> Operand:
        if kind == "import":
            raise self.error(node, f"'{spelling}' is imported inside the function, and the "
                                   "derivative code cannot name it as a value",
                             hint="import it at module level")
        if kind == "builtin":
            return FreeName(spelling, kind)
        return self._free_name(spelling, kind, node)

    def _text_call(self, node: ast.Call, spelling: str, kind: str, fn: Any) -> Operand:
        """str(x), repr(x), ValueError(...): text with no derivative (see contain_text)."""
        args, kwargs = self._arguments(node, self._text_operand)
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = {"fn": fn, "callee": spelling, "callee_kind": kind, "text": True,
                 "kwnames": tuple(kwargs)}
        return self.builder.emit("call", [*args, *kwargs.values()], attrs=attrs).result

    def _fstring(self, node: ast.JoinedStr) -> Operand:
        """An f-string: `runtime_statements.formatted` with the literal parts and format specs as a
        template; code generation prints it back as an f-string."""
        template: list[Any] = []
        values: list[Operand] = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                template.append(part.value)
                continue
            spec = ""
            if part.format_spec is not None:
                pieces = part.format_spec.values
                if not all(isinstance(p, ast.Constant) for p in pieces):
                    raise self.error(part.format_spec, "a format spec with a replacement "
                                                       "field ({x:{width}}) is not supported",
                                     hint="write the width into the spec ({x:8.3f})")
                spec = "".join(p.value for p in pieces)
            conversion = chr(part.conversion) if part.conversion != -1 else ""
            template.append((conversion, spec))
            values.append(self._text_operand(part.value))
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = {"fn": runtime_statements.formatted, "template": tuple(template), "text": True,
                 "kwnames": ()}
        return self.builder.emit("call", [Const(tuple(template)), *values], attrs=attrs).result

    def _format_method(self, node: ast.Call) -> Operand | None:
        """``"{:.3f}".format(y)`` (on a literal or a name holding one); None otherwise."""
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr == "format"):
            return None
        receiver = func.value
        if isinstance(receiver, ast.Name) and receiver.id in self.env:
            text = self.env[receiver.id]
        elif isinstance(receiver, ast.Constant):
            text = Const(receiver.value)
        else:
            return None
        if not (isinstance(text, Const) and isinstance(text.value, str)):
            return None
        args, kwargs = self._arguments(node, self._text_operand)
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = {"fn": str.format, "method": "format", "text": True, "kwnames": tuple(kwargs)}
        return self.builder.emit("call", [text, *args, *kwargs.values()], attrs=attrs).result

    def _percent_format(self, left: Operand, right: Operand) -> Operand:
        """``"%.3f" % y``: text, not a remainder."""
        attrs = {"fn": operator.mod, "operator": "%", "text": True, "kwnames": ()}
        return self.builder.emit("call", [left, right], attrs=attrs).result

    # ------------------------------------------------------------ raise, assert
    def _raise(self, stmt: ast.Raise) -> _Returned | None:
        """``raise E(...)``: raised as written; a path that raises returns nothing."""
        if stmt.exc is None and not self.handling:
            raise self.error(stmt, "a bare 'raise' outside an except clause is not supported",
                             hint="raise the exception by name: raise ValueError(...)")
        args = [] if stmt.exc is None else [self._text_operand(stmt.exc)]
        if stmt.cause is not None:
            args.append(self._text_operand(stmt.cause))
        self.builder.loc = SourceLoc(stmt.lineno, stmt.col_offset, stmt.lineno)
        attrs = {"fn": runtime_statements.raise_error, "raise": True, "sink": True, "nondiff": True,
                 "effect": True, "kwnames": ()}
        self.builder.emit("call", args, attrs=attrs, n_results=0)
        if self.loops or self.enclosed:  # a statement like any other there
            return None
        return _Returned([], False, stmt, raises=True)

    def _assert(self, stmt: ast.Assert) -> None:
        """``assert test, "message"`` is printed back as written; a message computed
        from values is computed only when the test fails, as Python does:
        ``if not test: raise AssertionError(message)``."""
        cond = self.expr(stmt.test)
        self.builder.loc = SourceLoc(stmt.lineno, stmt.col_offset, stmt.lineno)
        if stmt.msg is None or isinstance(stmt.msg, ast.Constant):
            args = [cond] if stmt.msg is None else [cond, Const(stmt.msg.value)]
            attrs = {"fn": runtime_statements.assert_true, "assert": True, "sink": True,
                     "nondiff": True, "effect": True, "kwnames": ()}
            self.builder.emit("call", args, attrs=attrs, n_results=0)
            return
        failed = self.builder.emit("not", [cond]).result
        saved = self.builder.block
        raising = Block()
        self.builder.block = raising
        try:
            message = self._text_operand(stmt.msg)
            self.builder.loc = SourceLoc(stmt.lineno, stmt.col_offset, stmt.lineno)
            attrs = {"fn": AssertionError, "callee": "AssertionError", "callee_kind": "builtin",
                     "text": True, "kwnames": ()}
            error = self.builder.emit("call", [message], attrs=attrs).result
            attrs = {"fn": runtime_statements.raise_error, "raise": True, "sink": True, "nondiff": True,
                     "effect": True, "kwnames": ()}
            self.builder.emit("call", [error], attrs=attrs, n_results=0)
        finally:
            self.builder.block = saved
        self._emit_structured(IfOp, [failed], [raising, Block()], [], stmt)

    # ------------------------------------------------------------ names
    def _import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        """``import numpy as onp``, ``from math import sin``: names of the function,
        resolved when compiling (the derivative code calls what they denote)."""
        if isinstance(stmt, ast.ImportFrom) and stmt.level:
            raise self.error(stmt, "relative imports inside the function are not supported",
                             hint="import at module level")
        for alias in stmt.names:
            if alias.name == "*":
                raise self.error(stmt, "'import *' is not allowed inside a function")
            try:
                if isinstance(stmt, ast.Import):
                    module = importlib.import_module(alias.name)
                    name = alias.asname or alias.name.split(".")[0]
                    obj: Any = module if alias.asname else importlib.import_module(name)
                else:
                    module = importlib.import_module(stmt.module or "")
                    if hasattr(module, alias.name):
                        obj = getattr(module, alias.name)
                    else:
                        obj = importlib.import_module(f"{stmt.module}.{alias.name}")
                    name = alias.asname or alias.name
            except ImportError as exc:
                raise self.error(stmt, f"cannot import: {exc}") from None
            if not isinstance(obj, (types.ModuleType, type)) and not callable(obj):
                if isinstance(obj, (int, float)) and not isinstance(obj, bool):
                    self.env[name] = Const(obj)  # from math import pi
                    continue
                raise self.error(stmt, f"'{name}' is imported inside the function and is "
                                       "not a module, a function or a number",
                                 hint="import it at module level")
            self.local_imports[name] = obj
            self.env.pop(name, None)

    def _global(self, stmt: ast.Global) -> None:
        """``global G`` used to read G: the module's G, read when the code runs."""
        node = self.frame_node
        for name in stmt.names:
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name) and inner.id == name and \
                        isinstance(inner.ctx, (ast.Store, ast.Del)):
                    raise self.error(stmt, f"'global {name}' is assigned at line "
                                           f"{inner.lineno}: changing a module's variable is "
                                           "not supported in a differentiated function (a "
                                           "'global' statement only to read it is)",
                                     hint="return the new value and assign it outside")

    def _while_walrus(self, stmt: ast.While) -> list[ast.stmt] | None:
        """``while (r := f(x)) > tol: body`` as ``r = f(x)`` then ``while r > tol:``
        with ``r = f(x)`` again at the end of the body (where no 'continue' skips it);
        None for a while loop whose test assigns nothing."""
        test = stmt.test
        named = test if isinstance(test, ast.NamedExpr) else \
            test.left if isinstance(test, ast.Compare) and isinstance(test.left,
                                                                   ast.NamedExpr) else None
        if named is None or _continues(stmt.body):
            return None
        name = ast.copy_location(ast.Name(named.target.id, ast.Load()), named)
        new_test = name if test is named else ast.copy_location(
            ast.Compare(name, test.ops, test.comparators), test)
        again = ast.copy_location(ast.Assign([ast.copy_location(
            ast.Name(named.target.id, ast.Store()), named)], named.value), named)
        again.end_lineno = named.end_lineno
        loop = ast.copy_location(ast.While(new_test, [*stmt.body, again], stmt.orelse), stmt)
        loop.end_lineno = stmt.end_lineno
        return [again, loop]

    def _walrus(self, node: ast.NamedExpr) -> Operand:
        """``(y := expr)``: bind y and give its value."""
        if self.builder.block is not self.statement_block:
            raise self.error(node, "':=' inside a conditional part of an expression (an "
                                   "'and', 'or', 'if ... else' or a while test) is not "
                                   "supported", hint="assign in a statement of its own")
        value = self.expr(node.value)
        self._bind(node.target.id, value)
        return value

    # ------------------------------------------------------------ with
    def _with(self, stmt: ast.With) -> _Returned | None:
        """``with manager: body``: an if op marked ``with`` whose one branch is the body
        (the other never runs); code generation prints it back as the with statement,
        and the derivative code of the body goes inside it."""
        for item in stmt.items:
            if item.optional_vars is not None:
                raise self.error(stmt, "'with ... as name' is not supported in a "
                                       "differentiated function",
                                 hint="drop 'as name', or move the 'with' block out of the "
                                      "function you differentiate")
        _check_with_body(self, stmt)
        manager = self._manager(stmt.items[0].context_expr)
        body = stmt.body
        if len(stmt.items) > 1:  # with a, b: is with a: with b:
            inner = ast.With(items=stmt.items[1:], body=stmt.body)
            body = [ast.copy_location(inner, stmt.items[1].context_expr)]
            inner.end_lineno = stmt.end_lineno
        self.enclosed += 1
        try:
            then = self._branch(body)
        finally:
            self.enclosed -= 1
        if then.returned is not None:  # the body ends in 'return': nothing after it runs
            never = _Branch(Block(), self.env, _Returned([], False, None, raises=True))
            returned = self._merge_returns(stmt, manager, then, never)
            self._mark_with(self.builder.block.ops[-1], manager)
            return returned
        changed = [n for n in then.env if then.env[n] is not self.env.get(n)]
        then.block.yields = [self._yielded(then.block, then.env[n], stmt) for n in changed]
        never = Block()
        never.yields = [self._yielded(never, self.env.get(n, Const(None)), stmt)
                        for n in changed]
        results = self._emit_structured(IfOp, [manager], [then.block, never], changed, stmt)
        self._mark_with(self.builder.block.ops[-1], manager)
        self.env.update(zip(changed, results))
        return None

    def _mark_with(self, op: IfOp, manager: Operand) -> None:
        """Mark an if op as a with block; under ``np.errstate``, which derivative code
        enters again for the adjoint (and a recomputation), as ``errstate``."""
        op.attrs["with"] = True
        made = self.builder.producers.get(manager.uid) if isinstance(manager, Value) else None
        if made is not None and made.attrs.get("fn") is np.errstate:
            op.attrs["errstate"] = True

    def _manager(self, node: ast.expr) -> Operand:
        """The context manager: made as written; it carries no derivative."""
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, (ast.Name, ast.Attribute)) and \
                    not self._is_value_expression(func):
                spelling, kind, fn = self._resolve_path(func)
                if fn is contextlib.suppress:
                    raise self.error(node, "contextlib.suppress is not supported in a "
                                           "differentiated function: the derivative cannot "
                                           "follow a block that stops half way",
                                     hint="test for the condition with 'if' instead")
                args, kwargs = self._arguments(node, self._text_operand)
                self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
                attrs = {"fn": fn, "callee": spelling, "callee_kind": kind, "nondiff": True,
                         "manager": True, "kwnames": tuple(kwargs)}
                return self.builder.emit("call", [*args, *kwargs.values()],
                                         attrs=attrs).result
        value = self.expr(node)
        if isinstance(value, Value) and value.uid in getattr(self.root, "param_uids", ()):
            raise self.error(node, "a context manager passed as an argument is not supported",
                             hint="make it inside the function, or use it outside")
        return value


    # ------------------------------------------------------------ try
    def _try(self, stmt: ast.Try) -> None:
        """``try: body except E: handler``: an if op marked ``try`` whose branches are
        the body and the handler, and whose last result says which ran (the
        derivative follows the path taken, as for an if).  The else clause is an if
        on that result after it; the ops of the finally clause follow it, marked with
        the statement's key, and code generation prints them in its finally clause."""
        if len(stmt.handlers) != 1:
            raise self.error(stmt, "a 'try' with more than one 'except' clause (or none) is "
                                   "not supported in a differentiated function",
                             hint="catch the exception classes in one clause: "
                                  "except (ValueError, ZeroDivisionError):")
        if stmt.orelse and stmt.finalbody:
            raise self.error(stmt, "a 'try' statement with both an else and a finally clause "
                                   "is not supported in a differentiated function",
                             hint="move the else clause's statements after the try statement "
                                  "where they may raise, or drop the finally clause")
        handler = stmt.handlers[0]
        if handler.name is not None:
            raise self.error(handler, "'except ... as name' is not supported in a "
                                      "differentiated function",
                             hint="drop 'as name' (print or log a message of your own)")
        for part in (stmt.body, handler.body, stmt.orelse, stmt.finalbody):
            _check_with_body(self, ast.With(items=[], body=part), "try")
        # a name the last statement alone assigns is unchanged if an exception is raised
        last = stmt.body[-1]
        only_last = set(_assigned_names([last])) - set(_assigned_names(stmt.body[:-1])) \
            if isinstance(last, (ast.Assign, ast.AugAssign, ast.AnnAssign)) else set()
        changing = set(_assigned_names([*stmt.body, *handler.body]))
        for node in ast.walk(ast.Module(body=stmt.finalbody, type_ignores=[])):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and \
                    node.id in changing:
                raise self.error(node, f"the finally clause reads '{node.id}', which the "
                                       "try statement assigns: where an exception leaves "
                                       "it, its value depends on where it was raised",
                                 hint=f"read '{node.id}' after the try statement")
        assigned = set(_assigned_names(stmt.body)) - only_last
        for node in ast.walk(ast.Module(body=[*handler.body], type_ignores=[])):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and \
                    node.id in assigned and node.id in self.env:
                raise self.error(node, f"the except clause reads '{node.id}', which the "
                                       "try clause assigns before its last statement: its "
                                       "value there depends on where the exception was "
                                       "raised",
                                 hint=f"give '{node.id}' its value in each clause, or "
                                      "assign it after the try statement")
        if handler.type is None:
            caught: Operand = Const(None)  # a bare except
        else:
            caught = self._text_operand(handler.type)
        self.enclosed += 1
        try:
            then = self._branch(stmt.body)
            self.handling += 1
            other = self._branch(handler.body)
        finally:
            self.enclosed -= 1
            self.handling = max(0, self.handling - 1)
        for branch in (then, other):
            if branch.returned is not None:
                raise self.error(stmt, "a 'return' inside a 'try' statement is not supported",
                                 hint="assign the result and return it after the statement")
        if handler.body and isinstance(handler.body[-1], ast.Raise):  # raised again:
            other.env = {n: self.env.get(n, Const(None)) for n in then.env}  # no values
        changed = [n for n in dict.fromkeys([*then.env, *other.env])
                   if n in then.env and n in other.env
                   and not (then.env[n] is self.env.get(n) and other.env[n] is self.env.get(n))]
        for op in walk_ops(then.block):  # whether one raises says which clause runs:
            op.attrs["effect"] = True     # none is dropped, even where its value is not read
        then.block.yields = [self._yielded(then.block, then.env[n], stmt)
                             for n in changed] + [Const(True)]
        other.block.yields = [self._yielded(other.block, other.env[n], stmt)
                              for n in changed] + [Const(False)]
        results = self._emit_structured(IfOp, [caught], [then.block, other.block],
                                        [*changed, "succeeded"], stmt)
        self.builder.block.ops[-1].attrs["try"] = True
        for name in [n for n in then.env if n not in other.env] + \
                [n for n in other.env if n not in then.env]:
            self.branch_only[name] = stmt
        self.env.update(zip(changed, results))
        try_op = self.builder.block.ops[-1]
        if stmt.orelse:  # runs when the try clause raised nothing
            hidden = f"__succeeded_{stmt.lineno}_{stmt.col_offset}"
            self.env[hidden] = results[-1]
            first = stmt.orelse[0]
            test = ast.copy_location(ast.Name(hidden, ast.Load()), first)
            self._stmts([ast.copy_location(ast.If(test, list(stmt.orelse), []), first)])
        if stmt.finalbody:  # its ops are printed in the statement's finally clause
            key = (stmt.lineno, stmt.col_offset, next(_FINALLY_KEYS))
            block, start = self.builder.block, len(self.builder.block.ops)
            self._stmts(list(stmt.finalbody))
            try_op.attrs["finally"] = key
            for op in block.ops[start:]:
                op.attrs["finally"] = key
        return []


def _check_with_body(lowerer: Any, stmt: ast.With, what: str = "with") -> None:
    """A 'return' in a with block must end it; 'break' and 'continue' may not leave it
    (nor a try statement, which may not return at all)."""
    def visit(stmts: list[ast.stmt], in_loop: bool) -> None:
        for inner in stmts:
            if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(inner, (ast.Break, ast.Continue)) and not in_loop:
                raise lowerer.error(inner, f"'{type(inner).__name__.lower()}' out of a "
                                           f"'{what}' statement is not supported",
                                    hint="set a flag in the block and test it after it")
            if isinstance(inner, ast.Return) and (what != "with" or not (
                    stmts is stmt.body and inner is stmt.body[-1])):
                raise lowerer.error(inner, f"a 'return' inside a '{what}' statement is "
                                           "not supported" + (" but as its last statement"
                                                              if what == "with" else ""),
                                    hint="assign the result and return it after the block")
            loop = isinstance(inner, (ast.For, ast.While))
            for field in ("body", "orelse", "handlers", "finalbody"):
                children = getattr(inner, field, None)
                if isinstance(children, list) and children and \
                        isinstance(children[0], ast.stmt):
                    visit(children, in_loop or loop)
    visit(stmt.body, False)


def _continues(stmts: list[ast.stmt]) -> bool:
    """Whether a loop body has a 'continue' of its own (not one of a nested loop)."""
    for stmt in stmts:
        if isinstance(stmt, ast.Continue):
            return True
        if isinstance(stmt, (ast.If, ast.With, ast.Try)):
            inner = [*stmt.body, *getattr(stmt, "orelse", []), *getattr(stmt, "finalbody", [])]
            for handler in getattr(stmt, "handlers", []):
                inner += handler.body
            if _continues(inner):
                return True
    return False
