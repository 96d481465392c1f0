"""Finding a function's source and what each of its names denotes.

Source comes from `linecache`, which holds files, IPython/Jupyter cells and code
this package generated, so all three work alike.  The whole file is parsed and the
function's node is found by its code object's first line and name; for several
lambdas on one line, by the column of the code's first instruction, or where code has
no columns (Python 3.10) by which of them compiles to the function's code.  The text
is trusted only if compiling it gives the function's own code object: a file edited
after its module was imported (reloaded or not) is never differentiated in place of
the code that runs.  Names are resolved as Python would at call time: closure cells,
then globals, then builtins.
"""
from __future__ import annotations
import __future__

import ast
import builtins
import collections
import copy
import functools
import inspect
import linecache
import operator
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import ADCompileError, not_a_function_error

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
        raise not_a_function_error(func)
    code = func.__code__
    filename = code.co_filename
    where = dict(filename=filename, lineno=code.co_firstlineno)
    lines, node, current = _current_source(func)
    if code.co_flags & (inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
        line = lines[code.co_firstlineno - 1] if code.co_firstlineno <= len(lines) else ""
        raise ADCompileError("async functions cannot be differentiated",
                             hint="differentiate a plain 'def' function", source_line=line,
                             col=node.col_offset if node is not None else
                             len(line) - len(line.lstrip()), **where)
    if node is None:
        pseudo = filename.startswith("<") and filename.endswith(">")  # exec(), -c, a prompt
        raise ADCompileError(
            f"could not find the source of {func.__qualname__} in {filename}"
            + (": the text Python keeps under that name is not the code that defined it"
               if pseudo else ""),
            hint=_NO_SOURCE_HINT if pseudo else
            "the file may have changed since it was imported; re-import it",
            **where,
        )
    if not current:
        raise _mismatch(func, lines, node)
    cells = dict(zip(code.co_freevars, func.__closure__ or ()))
    return FunctionSource(func, node, filename, lines, cells)


_NO_SOURCE_HINT = ("ad_compiler reads a function's source: define it in a .py file and import "
                   "it, or in a Jupyter notebook or IPython (from Python 3.13 on, the "
                   "interactive prompt and 'python -c' keep source too); exec() of a string "
                   "keeps none")


def _current_source(func: types.FunctionType) -> tuple[list[str], FunctionNode | None, bool]:
    """The lines of the file that define `func`, its node there, and whether that text
    compiles to the code `func` runs.

    `linecache` may hold the text of an older version of the file (edited and reloaded
    since it was read) or a newer one (edited on disk since the module was imported).
    The cached text is used if it compiles to the function's code, else the text on
    disk, re-read if it changed.  A notebook cell's text is never stale: linecache
    keeps no date for it, and an edited cell gets a new name."""
    code = func.__code__
    filename = code.co_filename
    lines = linecache.getlines(filename, func.__globals__)
    if not lines:
        raise ADCompileError(
            f"the source of {'the lambda' if code.co_name == '<lambda>' else func.__qualname__}"
            f" is not available: it was defined in {filename}, whose text Python does not keep",
            hint=_NO_SOURCE_HINT,
            filename=filename, lineno=code.co_firstlineno)
    try:
        node = _find_node(filename, "".join(lines), code)
    except ADCompileError as error:  # the cached text does not parse: try the file's
        node, unparsed = None, error
    else:
        unparsed = None
        if node is not None and _defines(filename, "".join(lines), code):
            return lines, node, True
    linecache.checkcache(filename)  # drops the cached text if the file changed on disk
    fresh = linecache.getlines(filename, func.__globals__)
    if fresh and fresh != lines:
        try:
            fresh_node = _find_node(filename, "".join(fresh), code)
        except ADCompileError:  # the file on disk does not parse now
            fresh_node = None
        if fresh_node is not None:
            return fresh, fresh_node, _defines(filename, "".join(fresh), code)
    if unparsed is not None:
        raise unparsed
    return lines, node, False


# every `from __future__ import ...` flag a code object can carry
_FUTURE_FLAGS = functools.reduce(
    operator.or_, (getattr(__future__, name).compiler_flag
                   for name in __future__.all_feature_names), 0)


def _defines(filename: str, text: str, code: types.CodeType) -> bool:
    """Whether compiling `text` makes the function's code object: then the text is the
    source of the function that runs, not of an older or newer version of it."""
    try:
        module = _compile(filename, text, code.co_flags & _FUTURE_FLAGS)
    except (SyntaxError, ValueError):
        return False
    return any(candidate == code for candidate in _code_objects(module)
               if candidate.co_firstlineno == code.co_firstlineno)


def _mismatch(func: types.FunctionType, lines: list[str], node: FunctionNode) -> ADCompileError:
    """The error for a function whose source text is not the code it runs."""
    code = func.__code__

    def line(lineno: int) -> str:
        return lines[lineno - 1].rstrip("\n") if 0 < lineno <= len(lines) else ""

    asserts = [n for n in ast.walk(node) if isinstance(n, ast.Assert)]
    if asserts and any("@pytest_ar" in c.co_names for c in _code_objects(code)):
        # pytest compiles test modules with their asserts rewritten, by design
        first = min(asserts, key=lambda n: (n.lineno, n.col_offset))
        return ADCompileError("'assert' cannot be differentiated",
                              hint="check inputs before calling the differentiated function",
                              filename=code.co_filename, lineno=first.lineno,
                              col=first.col_offset, source_line=line(first.lineno))
    return ADCompileError(
        f"the source of {func.__qualname__} in {code.co_filename} is not the code it runs: "
        "the file was edited after the function was defined",
        hint="reload the module (importlib.reload) or re-run the cell, then take the "
             "derivative again; an import hook that rewrites code has the same effect",
        filename=code.co_filename, lineno=code.co_firstlineno,
        source_line=line(code.co_firstlineno))


def _cached_by_text(func: Callable) -> Callable:
    """Cache `func(filename, text, ...)` for recently read files, within a budget of
    text: a parsed 10,000-line file is a million syntax nodes, which Python's garbage
    collector walks at each full collection for as long as they are kept.  The files
    last read stay (a build reads its function's file several times); older ones go
    once the texts kept exceed `_TEXT_BUDGET` characters."""
    kept: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
    lock = threading.Lock()

    @functools.wraps(func)
    def cached(filename: str, text: str, *rest: Any) -> Any:
        key = (filename, text, *rest)
        with lock:
            if key in kept:
                kept.move_to_end(key)
                return kept[key]
        value = func(filename, text, *rest)
        with lock:
            kept[key] = value
            size = sum(len(k[1]) for k in kept)
            while len(kept) > 1 and (size > _TEXT_BUDGET or len(kept) > _MOST_FILES):
                (_, dropped, *_), _ = kept.popitem(last=False)
                size -= len(dropped)
        return value

    cached.cache_clear = kept.clear  # type: ignore[attr-defined]
    cached.kept_texts = lambda: [key[1] for key in kept]  # type: ignore[attr-defined]
    return cached


_TEXT_BUDGET = 1_000_000  # characters of source kept parsed (a 10,000-line file: 400,000)
_MOST_FILES = 64


@_cached_by_text
def _compile(filename: str, text: str, flags: int) -> types.CodeType:
    return compile(text, filename, "exec", flags=flags, dont_inherit=True)


def _code_objects(code: types.CodeType) -> list[types.CodeType]:
    """`code` and every code object nested in it (functions, lambdas, classes)."""
    found, pending = [], [code]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return found


@_cached_by_text
def _parse(filename: str, text: str) -> ast.Module:
    try:
        return ast.parse(text, filename)
    except SyntaxError as exc:
        raise ADCompileError(f"the source file does not parse: {exc.msg}",
                             filename=filename, lineno=exc.lineno,
                             col=(exc.offset or 1) - 1, source_line=exc.text) from None


@_cached_by_text
def _functions(filename: str, text: str) -> dict[str, list[FunctionNode]]:
    """The file's functions by name, and its lambdas by line (``"<lambda>", 3``), in the
    order `ast.walk` meets them: one walk per text, however often functions of a long
    file are loaded (a build loads its function twice, a Hessian's builds more)."""
    found: dict[Any, list[FunctionNode]] = {}
    tree = _parse(filename, text)
    for node in ast.walk(tree) if "lambda" in text else _walk_statements(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.Lambda):
            found.setdefault(("<lambda>", node.lineno), []).append(node)
    return found


def _walk_statements(tree: ast.AST) -> Iterator[ast.AST]:
    """`ast.walk` without descending into expressions, which hold no function but a
    lambda: the functions of a file without lambdas in the order `ast.walk` meets them,
    after a tenth of its steps."""
    todo = collections.deque([tree])
    while todo:
        node = todo.popleft()
        todo.extend(child for child in ast.iter_child_nodes(node)
                    if not isinstance(child, ast.expr))
        yield node


def _find_node(filename: str, text: str, code: types.CodeType) -> FunctionNode | None:
    functions = _functions(filename, text)
    first = code.co_firstlineno
    if code.co_name == "<lambda>":
        lambdas = functions.get(("<lambda>", first), [])
        if len(lambdas) <= 1:
            return lambdas[0] if lambdas else None
        tree = _parse(filename, text)
        return _lambda_at(lambdas, code) or _lambda_compiled_as(filename, tree, lambdas, code)
    for node in functions.get(code.co_name, ()):
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        if start == first or node.lineno == first:
            return node
    return None


def _lambda_at(lambdas: list[ast.Lambda], code: types.CodeType) -> ast.Lambda | None:
    """Among lambdas on one line, the one whose body holds the code's first instruction
    (None where the code has no column positions, as on Python 3.10)."""
    if not hasattr(code, "co_positions"):
        return None
    positions = [(line, col) for line, _, col, _ in code.co_positions()
                 if line is not None and col is not None and (line, col) != (code.co_firstlineno, 0)]
    if not positions:
        return None
    start = min(positions)
    best = None
    for lam in lambdas:
        body = lam.body
        if (body.lineno, body.col_offset) <= start <= (body.end_lineno, body.end_col_offset):
            if best is None or (lam.body.lineno, lam.body.col_offset) > (best.body.lineno, best.body.col_offset):
                best = lam
    return best


def _lambda_compiled_as(filename: str, tree: ast.Module, lambdas: list[ast.Lambda],
                        code: types.CodeType) -> ast.Lambda | None:
    """Among lambdas on one line, the one that compiles, in its place in the file, to
    `code`; None if none does (never a guess).

    Each candidate in turn is moved to a line no code starts on and the whole file is
    compiled with the future flags of `code`: compiled in place, a lambda reads its
    closure variables as the running one does, which a lambda compiled alone does not.
    Lambdas with equal code are interchangeable: they compute the same thing."""
    nodes = list(ast.walk(tree))
    mark = max(getattr(n, "end_lineno", 0) or 0 for n in tree.body) + 2
    for lam in lambdas:
        moved = copy.deepcopy(tree)
        twin = next(n for n, o in zip(ast.walk(moved), nodes) if o is lam)
        twin.lineno = twin.end_lineno = mark
        try:
            module = compile(moved, filename, "exec", flags=code.co_flags & _FUTURE_FLAGS,
                             dont_inherit=True)
        except (SyntaxError, ValueError):
            return None
        if any(candidate.co_firstlineno == mark and _same_code(candidate, code)
               for candidate in _code_objects(module)):
            return lam
    return None


def _same_code(compiled: types.CodeType, code: types.CodeType) -> bool:
    """Whether two code objects run the same instructions on the same names and values."""
    fields = ("co_name", "co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_flags",
              "co_code", "co_consts", "co_names", "co_varnames", "co_freevars", "co_cellvars")
    return all(getattr(compiled, f) == getattr(code, f) for f in fields)


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
