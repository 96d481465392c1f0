"""What lowering passes around besides IR values: compile-time containers, loop state,
returns, and the tables of what Python syntax means."""
from __future__ import annotations

import ast
import types
from dataclasses import dataclass, field
from typing import Any

from ..ir import Block, Const, Operand, Value

_BINOPS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
    ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.MatMult: "matmul",
}


_COMPARES = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq",
             ast.NotEq: "ne"}




_UNSUPPORTED_STATEMENTS = {
    ast.Nonlocal: ("'nonlocal' declarations cannot be differentiated",
                   "pass the value as an argument and return the new value"),
    ast.Delete: ("'del' cannot be differentiated", "remove the 'del' statement"),
    ast.ClassDef: ("class definitions inside a differentiated function are not supported",
                   "define the class at module level"),
    ast.AsyncFunctionDef: ("async functions cannot be differentiated",
                           "use a plain 'def' function"),
    ast.Match: ("'match' statements cannot be differentiated yet",
                "write it with if/elif/else"),
}


_UNSUPPORTED_EXPRESSIONS = {
    ast.Yield: ("generators ('yield') cannot be differentiated",
                "return a list or tuple of the values instead"),
    ast.YieldFrom: ("generators ('yield from') cannot be differentiated",
                    "return a list or tuple of the values instead"),
    ast.Await: ("'await' cannot be differentiated", "use a plain 'def' function"),
    ast.Lambda: ("a lambda can only be called or assigned to a name here",
                 "assign it to a name and call it"),
    ast.Starred: ("starred arguments are not supported", "pass arguments one by one"),
}


_COMPOUND = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef)


@dataclass
class _Returned:
    """What a sequence of statements returns on every path through it."""

    outputs: list[Operand]
    is_tuple: bool
    node: ast.AST | None
    raises: bool = False  # every path raises: no value, the other paths' shape


@dataclass
class _Loop:
    """A loop being lowered: its carried variables and the state 'break' and 'return'
    need: a flag that ends the loop, and for 'return', whether one ran and its values."""

    carried: list[str]
    done: Value | None = None
    returned: Value | None = None
    slots: list[Value] = field(default_factory=list)
    slots_tuple: bool = False
    entry_names: frozenset = frozenset()  # the names bound where the loop starts

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
    kw_defaults: list[Operand | None] = field(default_factory=list)  # keyword-only's


@dataclass
class _Spread:
    """``*xs`` in a call, where `xs` is a sequence whose length is known only when the
    code runs: it can only become a called function's ``*args`` as a whole."""

    value: Operand


@dataclass
class _Partial:
    """``functools.partial(g, a, k=v)`` made in the function: `call` is a call of `g`
    with the frozen arguments (names bound to their values), to complete when called."""

    call: ast.Call


@dataclass
class _FrozenDistribution:
    """``d = stats.norm(mu, sigma)``: a frozen scipy.stats distribution, known while
    compiling; its methods with a rule are the distribution's own methods given the
    frozen parameters (``d.logpdf(x)`` is ``stats.norm.logpdf(x, mu, sigma)``)."""

    spelling: str
    root_kind: str
    dist: Any
    args: list[Any]
    kwargs: dict[str, Any]


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
    """Names a loop body assigns, in order of first assignment: ``out`` of
    ``out[i] = v`` too (a write makes a new value of it), and of ``row = out[i];
    row[0] = v`` (a write into a view of it)."""
    names: dict[str, None] = {}
    sources: dict[str, set[str]] = {}  # name -> the names it was indexed from
    for node in ast.walk(ast.Module(body=stmts, type_ignores=[])):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names[node.id] = None
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript):
            root = _root_name(node.value)
            for target in node.targets:
                if isinstance(target, ast.Name) and root:
                    sources.setdefault(target.id, set()).add(root)
    pending = written_names(stmts)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        names[name] = None
        pending += sorted(sources.get(name, ()))
    return list(names)


def written_names(stmts: list[ast.stmt]) -> list[str]:
    """The names a body writes into: ``out[i] = v``, ``xs.append(v)``,
    ``np.add.at(a, i, v)``."""
    written = []
    for node in ast.walk(ast.Module(body=stmts, type_ignores=[])):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)):
            written.append(_root_name(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("append", "extend", "insert", "pop", "update", "setdefault"):
            written.append(_root_name(node.func.value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "at" and node.args:  # np.add.at(a, ...)
            written.append(_root_name(node.args[0]))
    return [w for w in written if w]


def _root_name(node: ast.AST) -> str:
    while isinstance(node, (ast.Subscript, ast.Attribute)) and not (
            isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


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
