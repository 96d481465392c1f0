"""Backend: IR to readable Python source, compiled against the user's globals.

Generated code reads like a careful person wrote it: the user's names are kept
(``y``, then ``y_1`` after reassignment), trace temporaries keep their trace names
``w<level>_<index>``, tangents and adjoints are ``v_dot`` and ``v_bar``, single-use
temporaries are folded back into expressions, and each block of code carries a
comment with the source statement it comes from.

The function is compiled with the original function's globals, so it reads them
when it runs, exactly as the original does; closure variables come from the
original's own cells.  Helpers that the user's module does not import
(``math.cos`` for code that did ``from math import sin``) are bound in closure cells.
"""
from __future__ import annotations

import ast
import itertools
import linecache
import math
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .ir import (
    BINARY_SYMBOLS,
    COMPARE_SYMBOLS,
    Block,
    Const,
    FreeName,
    Function,
    Op,
    Operand,
    Value,
    number_levels,
    walk_ops,
)
from .primitives import qualified_name

try:  # astor prints the source; ast.unparse is the fallback where it cannot
    import astor
except ImportError:  # pragma: no cover - astor is a declared dependency
    astor = None

_AST_BINOPS = {"add": ast.Add, "sub": ast.Sub, "mul": ast.Mult, "truediv": ast.Div,
               "floordiv": ast.FloorDiv, "mod": ast.Mod, "pow": ast.Pow, "matmul": ast.MatMult}
_AST_COMPARES = {"lt": ast.Lt, "le": ast.LtE, "gt": ast.Gt, "ge": ast.GtE, "eq": ast.Eq,
                 "ne": ast.NotEq}
_MODULE_ALIASES = {"math": "math", "numpy": "np", "builtins": "builtins"}
_counter = itertools.count(1)


@dataclass
class Generated:
    """A compiled derivative: the callable, the source a user reads, where it lives."""

    fn: Callable
    source: str
    filename: str
    free_names: dict[str, Any] = field(default_factory=dict)


def print_stmt(node: ast.stmt) -> str:
    if astor is not None:
        try:
            return astor.to_source(node, pretty_source="".join).rstrip("\n")
        except Exception:  # astor cannot print every node of newer Pythons
            pass
    return ast.unparse(node)


class _Emitter:
    def __init__(self, fn: Function, user_globals: dict[str, Any],
                 closure_cells: dict[str, types.CellType]) -> None:
        self.fn = fn
        self.globals = user_globals
        self.cells = closure_cells
        self.derived: dict[int, tuple[Value, str]] = getattr(fn, "derived", {})
        self.primal: set[int] = getattr(fn, "primal", None) or {
            v.uid for op in walk_ops(fn.body) for v in op.results} | {p.uid for p in fn.params}
        self.uses: dict[int, int] = {}
        self.user_op: dict[int, Op] = {}  # single-use value -> the op using it
        self.producer: dict[int, Op] = {}
        self.inlined: set[int] = set()
        self.names: dict[int, str] = {}
        self.taken: set[str] = set()
        self.free: dict[str, Any] = {}  # free variable name -> object (helpers) or cell
        self.refs: dict[int, ast.expr] = {}

    # ---------------------------------------------------------------- analysis
    def analyse(self) -> None:
        outputs = {o.uid for o in self.fn.outputs if isinstance(o, Value)}
        self._count(self.fn.body)
        for op in walk_ops(self.fn.body):
            for r in op.results:
                self.producer[r.uid] = op
        for op in walk_ops(self.fn.body):
            if len(op.results) != 1 or op.blocks or op.attrs.get("effect") or op.prim == "copy":
                continue
            v = op.result
            if v.uid in outputs or self.uses.get(v.uid, 0) != 1 or v.uid not in self.user_op:
                continue
            user = self.user_op[v.uid]
            if v.uid in self.primal:
                if v.name is not None:
                    continue
                same_stmt = (user.loc is not None and op.loc is not None
                             and user.loc.stmt_lineno == op.loc.stmt_lineno)
                if not same_stmt and not (user.results and user.results[0].uid not in self.primal):
                    continue
            self.inlined.add(v.uid)

    def _count(self, block: Block) -> None:
        for op in block.ops:
            for a in op.args:
                if isinstance(a, Value):
                    self.uses[a.uid] = self.uses.get(a.uid, 0) + 1
                    self.user_op[a.uid] = op
            for inner in op.blocks:
                self._count(inner)
                for y in inner.yields:  # a yielded value is never inlined
                    if isinstance(y, Value):
                        self.uses[y.uid] = self.uses.get(y.uid, 0) + 2
        for y in block.yields:
            if isinstance(y, Value):
                self.uses[y.uid] = self.uses.get(y.uid, 0) + 2

    # ------------------------------------------------------------------ naming
    def name_everything(self) -> None:
        for op in walk_ops(self.fn.body):
            for a in op.args:
                if isinstance(a, FreeName):
                    self._reserve_free(a.name, a.kind)
            callee = op.attrs.get("callee")
            if callee and self._spelling_still_means(op):
                self._reserve_free(callee, op.attrs.get("callee_kind", "global"))
            elif "fn" in op.attrs and op.prim != "copy":
                self.refs[id(op.attrs["fn"])] = self._reference(op.attrs["fn"])
        for o in self.fn.outputs:
            if isinstance(o, FreeName):
                self._reserve_free(o.name, o.kind)

        natural = self._natural_names()
        for p in self.fn.params:
            self.names[p.uid] = self._unique(natural.get(p.uid) or self._derived_name(p, natural))
        temps = itertools.count(1)
        for op in walk_ops(self.fn.body):
            for inner in op.blocks:
                for p in inner.params:
                    self.names[p.uid] = self._unique(natural.get(p.uid, "t"))
            for r in op.results:
                if r.uid in self.inlined:
                    continue
                if r.uid in natural:
                    base = natural[r.uid]
                elif r.uid in self.derived or r.name:
                    base = self._derived_name(r, natural)
                else:
                    base = f"t{next(temps)}"
                self.names[r.uid] = self._unique(base)

    def _natural_names(self) -> dict[int, str]:
        """Names of the user's values: SSA versions ``y, y_1``; temporaries ``w1_2``."""
        primal_values = getattr(self.fn, "primal_values", None) or [
            *self.fn.params, *(r for op in walk_ops(self.fn.body) for r in op.results)]
        names: dict[int, str] = {}
        versions: dict[str, int] = {}
        for value in primal_values:
            if value.uid in self.derived:  # a derivative differentiated again: x_bar
                base, fmt = self.derived[value.uid]
                names[value.uid] = fmt.format(names.get(base.uid) or base.name or base.trace_name)
            elif value.name:
                count = versions.get(value.name, 0)
                versions[value.name] = count + 1
                names[value.uid] = value.name if count == 0 else f"{value.name}_{count}"
            else:
                names[value.uid] = value.trace_name
        return names

    def _derived_name(self, value: Value, natural: dict[int, str]) -> str:
        if value.uid in self.derived:
            base, fmt = self.derived[value.uid]
            base_name = natural.get(base.uid) or self._derived_name(base, natural)
            return fmt.format(base_name)
        return value.name or "t"

    def _unique(self, base: str) -> str:
        name, n = base, 0
        while name in self.taken or name in _KEYWORDS:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    def _reserve_free(self, spelling: str, kind: str) -> None:
        root = spelling.split(".")[0]
        self.taken.add(root)
        if kind == "closure" and root in self.cells:
            self.free[root] = self.cells[root]

    def _spelling_still_means(self, op: Op) -> bool:
        """The user's spelling of a callee, if it still denotes the same object."""
        spelling, kind = op.attrs["callee"], op.attrs.get("callee_kind", "global")
        root, *path = spelling.split(".")
        if kind == "closure":
            try:
                obj = self.cells[root].cell_contents
            except (KeyError, ValueError):
                return False
        elif root in self.globals:
            obj = self.globals[root]
        elif kind == "builtin":
            return True
        else:
            return False
        for attr in path:
            obj = getattr(obj, attr, None)
        return obj is op.attrs["fn"]

    def _reference(self, obj: Any) -> ast.expr:
        """An expression denoting `obj`: a global bound to it, `module.attr`, or a helper."""
        for name, value in self.globals.items():
            if value is obj and not name.startswith("__"):
                self.taken.add(name)
                return ast.Name(name, ast.Load())
        where = qualified_name(obj)
        if where is None:
            raise ValueError(f"cannot refer to {obj!r} from generated code")
        module_name, attr = where
        if module_name == "builtins":
            return ast.Name(attr, ast.Load())
        module = {"math": math, "numpy": np}[module_name]
        for name, value in self.globals.items():
            if value is module and not name.startswith("__"):
                self.taken.add(name)
                return ast.Attribute(ast.Name(name, ast.Load()), attr, ast.Load())
        alias = _MODULE_ALIASES[module_name]
        while alias in self.globals or (alias in self.free and self.free[alias] is not module):
            alias += "_"
        self.free[alias] = module
        self.taken.add(alias)
        return ast.Attribute(ast.Name(alias, ast.Load()), attr, ast.Load())

    # -------------------------------------------------------------- expressions
    def expr(self, operand: Operand) -> ast.expr:
        if isinstance(operand, Value):
            if operand.uid in self.inlined:
                return self.op_expr(self.producer[operand.uid])
            return ast.Name(self.names[operand.uid], ast.Load())
        if isinstance(operand, Const):
            return _constant(operand.value)
        return _dotted(operand.name)

    def op_expr(self, op: Op) -> ast.expr:
        args = [self.expr(a) for a in op.args]
        prim = op.prim
        if prim in BINARY_SYMBOLS:
            return ast.BinOp(args[0], _AST_BINOPS[prim](), args[1])
        if prim in COMPARE_SYMBOLS:
            return ast.Compare(args[0], [_AST_COMPARES[prim]()], [args[1]])
        if prim == "neg":
            return ast.UnaryOp(ast.USub(), args[0])
        if prim == "pos":
            return ast.UnaryOp(ast.UAdd(), args[0])
        if prim == "copy":
            return args[0]
        if prim == "tuple":
            return ast.Tuple(args, ast.Load())
        if "fn" not in op.attrs:
            raise ValueError(f"cannot print primitive {prim!r}")
        callee = op.attrs.get("callee")
        if callee and self._spelling_still_means(op):
            func = _dotted(callee)
        else:
            func = self.refs.get(id(op.attrs["fn"])) or self._reference(op.attrs["fn"])
        kwnames = op.attrs.get("kwnames", ())
        positional = args[: len(args) - len(kwnames)]
        keywords = [ast.keyword(k, v) for k, v in zip(kwnames, args[len(positional):])]
        return ast.Call(func, positional, keywords)

    # --------------------------------------------------------------- statements
    def body_lines(self, block: Block, indent: str) -> list[str]:
        lines: list[str] = []
        group = None
        for op in block.ops:
            if op.results and all(r.uid in self.inlined for r in op.results):
                continue
            if op.loc is not None:
                derivative = not all(r.uid in self.primal for r in op.results)
                key = (op.loc.stmt_lineno, derivative and self.fn_kind == "reverse")
                if key != group:
                    text = self.fn.statements.get(op.loc.stmt_lineno)
                    if text:
                        prefix = "adjoint of: " if key[1] else ""
                        lines.append(f"{indent}# {prefix}{text}")
                    group = key
            value = self.op_expr(op)
            used = any(self.uses.get(r.uid) for r in op.results) or not op.attrs.get("effect")
            if used:
                target = ast.Name(self.names[op.result.uid], ast.Store())
                stmt: ast.stmt = ast.Assign([target], value, lineno=0)
            else:
                stmt = ast.Expr(value)
            lines.append(indent + print_stmt(ast.fix_missing_locations(stmt)))
        return lines

    @property
    def fn_kind(self) -> str:
        return getattr(self.fn, "kind", "")

    def return_line(self, indent: str) -> str:
        tree = getattr(self.fn, "output_tree", None)
        if tree is None:
            tree = tuple(range(len(self.fn.outputs))) if self.fn.returns_tuple else 0

        def build(node: Any) -> ast.expr:
            if isinstance(node, tuple):
                return ast.Tuple([build(n) for n in node], ast.Load())
            return self.expr(self.fn.outputs[node])

        value = build(tree)
        return indent + print_stmt(ast.fix_missing_locations(ast.Return(value)))


_KEYWORDS = frozenset(__import__("keyword").kwlist) | {"print", "len", "range", "abs"}


def _constant(value: Any) -> ast.expr:
    if isinstance(value, float) and not math.isfinite(value):
        return ast.Call(ast.Name("float", ast.Load()), [ast.Constant(repr(value))], [])
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    if isinstance(value, tuple):
        return ast.Tuple([_constant(v) for v in value], ast.Load())
    return ast.Constant(value)


def _dotted(spelling: str) -> ast.expr:
    root, *path = spelling.split(".")
    node: ast.expr = ast.Name(root, ast.Load())
    for attr in path:
        node = ast.Attribute(node, attr, ast.Load())
    return node


def generate(fn: Function, name: str, *, user_globals: dict[str, Any],
             closure_cells: dict[str, types.CellType] | None = None,
             signature_defaults: list[str] | None = None,
             docstring: str | None = None) -> Generated:
    """Print `fn` as a Python function called `name` and compile it."""
    number_levels_if_primal(fn)
    emitter = _Emitter(fn, user_globals, closure_cells or {})
    emitter.analyse()
    emitter.name_everything()
    fn_name = name
    while fn_name in user_globals and not callable(user_globals[fn_name]):
        fn_name += "_"

    params = [emitter.names[p.uid] for p in fn.params]
    if signature_defaults:
        first = len(params) - len(signature_defaults)
        params = params[:first] + [f"{p}={d}" for p, d in zip(params[first:], signature_defaults)]
    inner = [f"def {fn_name}({', '.join(params)}):"]
    if docstring:
        inner.append(f'    """{docstring}"""')
    inner += emitter.body_lines(fn.body, "    ")
    inner.append(emitter.return_line("    "))

    free = emitter.free
    filename = f"<ad_compiler:{fn_name}:{next(_counter)}>"
    if free:
        names = sorted(free)
        text = "\n".join([f"def __adc_closure__({', '.join(names)}):",
                          *("    " + line for line in inner), f"    return {fn_name}", ""])
    else:
        text = "\n".join(inner) + "\n"
    namespace: dict[str, Any] = {"__builtins__": __builtins__}
    exec(compile(text, filename, "exec"), namespace)
    if free:
        made = namespace["__adc_closure__"](*(None for _ in free))
        cells = tuple(
            free[v] if isinstance(free[v], types.CellType) else types.CellType(free[v])
            for v in made.__code__.co_freevars
        )
    else:
        made = namespace[fn_name]
        cells = None
    compiled = types.FunctionType(made.__code__, user_globals, fn_name, made.__defaults__, cells)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    header = [f"import {v.__name__}" + (f" as {k}" if k != v.__name__ else "")
              for k, v in sorted(free.items()) if isinstance(v, types.ModuleType)]
    source = "\n".join(header + ([""] if header else []) + inner) + "\n"
    return Generated(compiled, source, filename, dict(free))


def number_levels_if_primal(fn: Function) -> None:
    if not hasattr(fn, "primal"):
        number_levels(fn)
