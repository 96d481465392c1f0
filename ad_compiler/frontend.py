"""Finding a function's source and what each of its names denotes.

Source comes from `linecache`, which holds files, IPython/Jupyter cells and code
this package generated, so all three work alike.  The whole file is parsed and the
function's node is found by its code object's first line and name; for several
lambdas on one line, by the column of the code's first instruction.  Names are
resolved as Python would at call time: closure cells, then globals, then builtins.
"""
from __future__ import annotations

import ast
import builtins
import functools
import inspect
import linecache
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ADCompileError

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


@dataclass
class Resolved:
    kind: str  # "closure", "global" or "builtin"
    obj: Any


@dataclass
class FunctionSource:
    func: Callable
    node: FunctionNode
    filename: str
    lines: list[str]
    cells: dict[str, types.CellType] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.func.__name__ if not isinstance(self.node, ast.Lambda) else "<lambda>"

    @property
    def globals(self) -> dict[str, Any]:
        return self.func.__globals__

    def line(self, lineno: int) -> str:
        return self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""

    def error(self, node: ast.AST | None, what: str, hint: str = "") -> ADCompileError:
        lineno = getattr(node, "lineno", None) or self.node.lineno
        col = getattr(node, "col_offset", None)
        return ADCompileError(what, hint=hint, filename=self.filename, lineno=lineno,
                              col=col, source_line=self.line(lineno))

    def resolve(self, name: str) -> Resolved | None:
        """What a free name of the function denotes now, or None if unbound."""
        if name in self.cells:
            try:
                return Resolved("closure", self.cells[name].cell_contents)
            except ValueError:
                return None
        if name in self.globals:
            return Resolved("global", self.globals[name])
        namespace = self.globals.get("__builtins__", builtins)
        if isinstance(namespace, types.ModuleType):
            namespace = vars(namespace)
        if name in namespace:
            return Resolved("builtin", namespace[name])
        return None


def load(func: Callable) -> FunctionSource:
    """The parsed source of `func`, or ADCompileError saying why there is none."""
    if not isinstance(func, types.FunctionType):
        raise ADCompileError(
            f"cannot differentiate {func!r}: it is not a Python function with source",
            hint="pass a function defined with 'def' or 'lambda'; for a built-in or C "
                 "function register a rule for it",
        )
    code = func.__code__
    filename = code.co_filename
    lines = linecache.getlines(filename, func.__globals__)
    where = dict(filename=filename, lineno=code.co_firstlineno)
    if not lines:
        raise ADCompileError(
            f"the source of {func.__qualname__} is not available",
            hint="define the function in a file, a notebook or IPython; code typed at a "
                 "plain 'python' prompt or passed to exec() keeps no source",
            **where,
        )
    node = _find_node(_parse(filename, "".join(lines)), code)
    if code.co_flags & (inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
        line = lines[code.co_firstlineno - 1] if code.co_firstlineno <= len(lines) else ""
        raise ADCompileError("async functions cannot be differentiated",
                             hint="differentiate a plain 'def' function", source_line=line,
                             col=node.col_offset if node is not None else
                             len(line) - len(line.lstrip()), **where)
    if node is None:
        raise ADCompileError(
            f"could not find the source of {func.__qualname__} in {filename}",
            hint="the file may have changed since it was imported; re-import it",
            **where,
        )
    cells = dict(zip(code.co_freevars, func.__closure__ or ()))
    return FunctionSource(func, node, filename, lines, cells)


@functools.lru_cache(maxsize=64)
def _parse(filename: str, text: str) -> ast.Module:
    try:
        return ast.parse(text, filename)
    except SyntaxError as exc:
        raise ADCompileError(f"the source file does not parse: {exc.msg}",
                             filename=filename, lineno=exc.lineno,
                             col=(exc.offset or 1) - 1, source_line=exc.text) from None


def _find_node(tree: ast.Module, code: types.CodeType) -> FunctionNode | None:
    first = code.co_firstlineno
    if code.co_name == "<lambda>":
        lambdas = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == first]
        if len(lambdas) <= 1:
            return lambdas[0] if lambdas else None
        return _lambda_at(lambdas, code)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if start == first or node.lineno == first:
                return node
    return None


def _lambda_at(lambdas: list[ast.Lambda], code: types.CodeType) -> ast.Lambda | None:
    """Among lambdas on one line, the one whose body holds the code's first instruction."""
    positions = [(line, col) for line, _, col, _ in code.co_positions()
                 if line is not None and col is not None and (line, col) != (code.co_firstlineno, 0)]
    if not positions:
        return lambdas[0]
    start = min(positions)
    best = None
    for lam in lambdas:
        body = lam.body
        if (body.lineno, body.col_offset) <= start <= (body.end_lineno, body.end_col_offset):
            if best is None or (lam.body.lineno, lam.body.col_offset) > (best.body.lineno, best.body.col_offset):
                best = lam
    return best or lambdas[0]


MISSING = object()


def resolve_path(func: Callable, spelling: str) -> Any:
    """What `a.b.c` denotes in `func`'s scope now (closure, globals, builtins), or MISSING."""
    root, *path = spelling.split(".")
    code = func.__code__
    obj: Any = MISSING
    if root in code.co_freevars:
        try:
            obj = func.__closure__[code.co_freevars.index(root)].cell_contents
        except ValueError:
            return MISSING
    elif root in func.__globals__:
        obj = func.__globals__[root]
    else:
        namespace = func.__globals__.get("__builtins__", builtins)
        if isinstance(namespace, types.ModuleType):
            namespace = vars(namespace)
        obj = namespace.get(root, MISSING)
    for attr in path:
        obj = getattr(obj, attr, MISSING)
    return obj
