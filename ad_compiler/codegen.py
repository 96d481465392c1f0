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
import os
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import runtime, runtime_writes
from .codegen_analysis import _NEVER_INLINED, FoldAnalysis
from .codegen_expressions import ExpressionPrinter, _constant, _index_part
from .codegen_locating import _Locator, _with_locating
from .codegen_loops import loop_comment, summed_items
from .codegen_statements import ends_in_raise, finally_lines, try_lines, with_lines
from .ir import (
    BINARY_SYMBOLS,
    COMPARE_SYMBOLS,
    UNARY_SYMBOLS,
    Block,
    Const,
    ForOp,
    Function,
    IfOp,
    LoopOp,
    Op,
    Operand,
    Value,
    number_levels,
    walk_ops,
)
from .naming import HELPER_MODULES, Naming
from .printing import print_stmt
from .registry import has_expr
from .registry.writes import IF_ARRAY
from .transforms.optimize import printed_gradients, printed_sums

# operations that change no object (probe code may report values after them)
_PURE_PRIMS = frozenset({*BINARY_SYMBOLS, *UNARY_SYMBOLS, *COMPARE_SYMBOLS, "unbroadcast"})
# Probe code reports a run of operations in one call, ended at the first statement
# comment after this many values (fewer, longer calls compile faster)
_REPORTS_PER_CALL = 12
_counter = itertools.count(1)


@dataclass
class Generated:
    """A compiled derivative: the callable, the source a user reads, where it lives."""

    fn: Callable
    source: str
    filename: str
    free_names: dict[str, Any] = field(default_factory=dict)


class _Emitter(FoldAnalysis, ExpressionPrinter, Naming):
    """Prints a `Function`: what folds and which names are shared (`FoldAnalysis`),
    expressions (`ExpressionPrinter`), names (`Naming`), and here the statements."""

    def __init__(self, fn: Function, user_globals: dict[str, Any],
                 closure_cells: dict[str, types.CellType], probe: bool = False) -> None:
        self.fn = fn
        self.probe = probe  # every value named and reported to __adc_probe__ (specialize.py)
        self.globals = user_globals
        self.cells = closure_cells
        self.derived: dict[int, tuple[Value, str]] = getattr(fn, "derived", {})
        self.primal: set[int] = getattr(fn, "primal", None) or {
            v.uid for op in walk_ops(fn.body) for v in op.results} | {p.uid for p in fn.params}
        self.uses: dict[int, int] = {}
        self.user: dict[int, tuple[int, Op | None]] = {}  # value -> (block, op) using it last
        self.block_of: dict[int, int] = {}  # value -> id of the block defining it
        self.share: dict[int, int] = {}  # value -> value whose name it takes
        self.expression_ifs: set[int] = set()  # ids of `if` ops printed as expressions
        self.producer: dict[int, Op] = {}
        self.inlined: set[int] = set()
        self.fold_depth: dict[int, int] = {}  # inlined value -> nesting of its expression
        self.names: dict[int, str] = {}
        self.taken: set[str] = set()
        self.free: dict[str, Any] = {}  # free variable name -> object (helpers) or cell
        self.refs: dict[int, ast.expr] = {}
        self.in_place: dict = {}  # setitem ops written in place (write_analysis.py)
        self.adds_into: dict[int, int] = {}  # accumulate op -> the operand it adds into
        # id(for op) -> the op taking its item (``for x in xs`` rather than by index)
        self.visiting: dict[int, Op] = {}
        self._name_nodes: dict[str, ast.Name] = {}  # shared nodes (see `expr()`)
        self._number_nodes: dict[tuple, ast.expr] = {}
        self._spellings: dict[str, ast.expr] = {}

    # --------------------------------------------------------------- statements
    def body_lines(self, block: Block, indent: str, in_finally: bool = False) -> list[str]:
        lines: list[str] = self._probes(block.params, indent)
        group = None
        pending: list[Value] = []  # probe code: values assigned, to report in one call
        pending_names: set[str] = set()
        for op in block.ops:
            if op.results and all(r.uid in self.inlined for r in op.results):
                continue
            if block.ops[0] is op and any(o is op for o in self.visiting.values()):
                continue  # the item a `for x in xs` loop takes
            if op.attrs.get("finally") and not op.attrs.get("try") and not in_finally:
                continue  # printed in the finally clause of its try statement
            if pending and not self._reported_later(op, pending_names):
                lines += self._probes(pending, indent)
                pending, pending_names = [], set()
            summed = summed_items(self, op)
            if op.blocks and summed is None:
                lines += loop_comment(self, op, indent, group)
                group = None
                lines += self._structured(op, indent) + self._probes(op.results, indent)
                if op.attrs.get("try") and op.attrs.get("finally"):
                    lines += finally_lines(self, op, block.ops, indent)
                continue
            if op.loc is not None:
                derivative = op.prim == "index_add" or not all(
                    r.uid in self.primal for r in op.results)
                key = (op.loc.stmt_lineno, derivative and self.fn_kind == "reverse")
                if key != group:
                    text = self.fn.statements.get(op.loc.stmt_lineno)
                    if len(pending) >= _REPORTS_PER_CALL and text:
                        lines += self._probes(pending, indent)
                        pending, pending_names = [], set()
                    if text:
                        prefix = "adjoint of: " if key[1] else ""
                        lines.append(f"{indent}# {prefix}{text}")
                    group = key
            if summed is not None:
                lines.append(indent + print_stmt(summed))
            elif op.prim in ("setitem", "add_at") or (op.prim == "appended"
                                                       and id(op) in self.in_place):
                lines += [indent + print_stmt(s) for s in self._write_statements(op)]
            else:
                lines.append(indent + print_stmt(self._statement(op)))
            if self.probe and (any(self.uses.get(r.uid) for r in op.results)
                               or not op.attrs.get("effect")):
                pending += op.results
                pending_names.update(self.names.get(r.uid) for r in op.results)
        return lines + self._probes(pending, indent)

    def _reported_later(self, op: Op, names: set[str]) -> bool:
        """Whether probe code may report values waiting to be reported, under `names`,
        after `op` runs: it changes no object (an operator or an elementwise function)
        and rebinds none of their names.  (One call for a statement's values compiles
        much faster than a call for each.)"""
        if op.blocks or op.attrs.get("effect") or not (
                op.prim in _PURE_PRIMS or has_expr(op.prim)):
            return False
        return not any(self.names.get(r.uid) in names for r in op.results)

    def _probes(self, values: list[Value], indent: str) -> list[str]:
        """Probe code reports values as they are assigned, in one call for a run of
        operations: ``__adc_probe__(uid, name, uid, name, ...)``."""
        if not self.probe:
            return []
        reported = [f"{v.uid}, {self.names[v.uid]}" for v in values if v.uid in self.names]
        return [f"{indent}__adc_probe__({', '.join(reported)})"] if reported else []

    def _statement(self, op: Op) -> ast.stmt:
        if op.prim == "index_add":  # an adjoint list updated in place: xs_bar[i] += g
            acc, index, value = (self.expr(a) for a in op.args)
            parts = op.args[1].value if isinstance(op.args[1], Const) else None
            if isinstance(parts, tuple):  # acc[1:, 0] += g
                index = ast.Tuple([_index_part(Const(p), _constant(p)) for p in parts], ast.Load())
            else:
                index = _index_part(op.args[1], index)
            if op.attrs.get("nested"):
                return ast.Expr(ast.Call(self._reference(runtime.index_add), [acc, index, value], []))
            target = ast.Subscript(acc, index, ast.Store())
            return ast.AugAssign(target, ast.Sub() if op.attrs.get("subtract") else ast.Add(),
                                 value)
        if op.prim == "push":
            items = [self.expr(a) for a in op.args[1:]]
            item = items[0] if len(items) == 1 else ast.Tuple(items, ast.Load())
            call = ast.Call(ast.Attribute(self.expr(op.args[0]), "append", ast.Load()), [item], [])
            return ast.Expr(call)
        if op.attrs.get("raise"):  # raise E(...) [from cause]
            exc, *cause = [self.expr(a) for a in op.args] or [None]
            return ast.Raise(exc, cause[0] if cause else None)
        if op.attrs.get("assert"):
            test, *message = [self.expr(a) for a in op.args]
            return ast.Assert(test, message[0] if message else None)
        value = self.op_expr(op)
        used = any(self.uses.get(r.uid) for r in op.results) or not op.attrs.get("effect")
        if not used:
            return ast.Expr(value)
        return self._assign([self.names[r.uid] for r in op.results], value)

    def _write_statements(self, op: Op) -> list[ast.stmt]:
        """``out[i] = v`` (``np.add.at(out, i, v)``): in place, or into a copy where the
        old `out` is read later."""
        target, value, *index = op.args
        if op.prim == "appended":  # xs.append(v), in place (transforms/appends.py)
            items = ast.Name(self.names[target.uid], ast.Load())
            call = ast.Call(ast.Attribute(items, "append", ast.Load()), [self.expr(value)], [])
            return [ast.Expr(call)]
        if op.prim == "setitem" and _kind(op) == IF_ARRAY:  # a view of what may be a list
            call = ast.Call(self._reference(runtime_writes.written_through),
                            [self.expr(target), self.expr(value),
                             *(self.expr(a) for a in index[1:])], [])
            return [self._assign([self.names[op.result.uid]], call)]
        if op.prim == "setitem":
            index = index[1:]  # (after the kind of index)
        parts = [_index_part(a, self.expr(a)) for a in index]
        key = parts[0] if len(parts) == 1 else ast.Tuple(parts, ast.Load())
        statements: list[ast.stmt] = []
        if id(op) in self.in_place:
            name = ast.Name(self.names[target.uid], ast.Load()) if isinstance(target, Value) \
                else self.expr(target)
        else:
            name = ast.Name(self.names[op.result.uid], ast.Load())
            copy = ast.Call(ast.Attribute(self.expr(target), "copy", ast.Load()), [], [])
            statements.append(self._assign([self.names[op.result.uid]], copy))
        if op.prim == "add_at":
            add = ast.Attribute(self._reference(np.add), "at", ast.Load())
            call = ast.Call(add, [name, key, self.expr(value)], [])
            statements.append(ast.Expr(call))
        else:
            store = ast.Subscript(name, key, ast.Store())
            statements.append(ast.Assign([store], self.expr(value), lineno=0))
        if id(op) in self.in_place and isinstance(target, Value) and \
                self.names[op.result.uid] != name.id:  # (the name an if's branch yields)
            statements.append(self._assign([self.names[op.result.uid]], name))
        return statements

    @staticmethod
    def _assign(names: list[str], value: ast.expr) -> ast.stmt:
        if len(names) == 1:
            target: ast.expr = ast.Name(names[0], ast.Store())
        else:
            target = ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store())
        return ast.Assign([target], value, lineno=0)

    def _yield_assignment(self, names: list[str], yields: list[Operand], indent: str,
                          raises: bool = False) -> list[str]:
        """Assign a block's yields to the variables that carry them, simultaneously
        (nothing after a 'raise')."""
        if raises:
            return []
        pairs = [(n, y) for n, y in zip(names, yields)
                 if not (isinstance(y, Value) and self.names.get(y.uid) == n and y.uid not in self.inlined)]
        if not pairs:
            return []
        if len(pairs) == 1:
            value = self.expr(pairs[0][1])
        else:
            value = ast.Tuple([self.expr(y) for _, y in pairs], ast.Load())
        return [indent + print_stmt(self._assign([n for n, _ in pairs], value))]

    def _structured(self, op: IfOp | LoopOp, indent: str,
                    condition: Op | None = None) -> list[str]:
        """An if or a loop.  With `condition`, the op computing an if's test, printed in
        the test itself: ``elif (w3_2 := x < 0.01):``."""
        inner = indent + "    "
        names = [self.names[r.uid] for r in op.results]
        if isinstance(op, IfOp) and op.attrs.get("with"):
            return with_lines(self, op, indent, names)
        if isinstance(op, IfOp) and op.attrs.get("try"):
            return try_lines(self, op, indent, names)
        if isinstance(op, IfOp):
            then, orelse = op.then_block, op.else_block
            test_expr = self.expr(op.cond)
            if condition is not None:
                test_expr = ast.NamedExpr(ast.Name(self.names[condition.result.uid], ast.Store()),
                                          self.op_expr(condition))
            test = print_stmt(ast.Expr(test_expr))
            then_lines = self.body_lines(then, inner) + self._yield_assignment(
                names, then.yields, inner, ends_in_raise(then))
            else_assign = self._yield_assignment(names, orelse.yields, inner, ends_in_raise(orelse))
            chained = self._elif(orelse, indent) if then_lines and not else_assign else None
            else_lines = [] if chained else self.body_lines(orelse, inner) + else_assign
            if not then_lines and else_lines:  # nothing to do when true: `if not c:`
                negated = print_stmt(ast.Expr(ast.UnaryOp(ast.Not(), test_expr)))
                return [f"{indent}if {negated}:", *else_lines]
            lines = [f"{indent}if {test}:", *(then_lines or [inner + "pass"])]
            if chained:
                lines += [f"{indent}el{chained[0][len(indent):]}", *chained[1:]]
            elif else_lines:
                lines += [f"{indent}else:", *else_lines]
            return lines
        body, params, inits = op.body, op.carried_params, op.inits
        lines = self._yield_assignment([self.names[p.uid] for p in params], list(inits), indent)
        carried = [self.names[p.uid] for p in params]
        body_lines = self.body_lines(body, inner) + self._yield_assignment(carried, body.yields, inner)
        if isinstance(op, ForOp):
            item = self.names[op.item.uid]
            iterable = print_stmt(ast.Expr(self.expr(op.iterable)))
            taken = self.visiting.get(id(op))
            if taken is not None:
                item = self.names[taken.result.uid]
                iterable = print_stmt(ast.Expr(self.expr(taken.args[0])))
            return lines + [f"{indent}for {item} in {iterable}:", *(body_lines or [inner + "pass"])]
        cond = op.cond_block
        cond_lines = self.body_lines(cond, inner)
        test = print_stmt(ast.Expr(self.expr(cond.yields[0])))
        if not cond_lines:
            return lines + [f"{indent}while {test}:", *(body_lines or [inner + "pass"])]
        negated = print_stmt(ast.Expr(ast.UnaryOp(ast.Not(), self.expr(cond.yields[0]))))
        return lines + [f"{indent}while True:", *cond_lines, f"{inner}if {negated}:",
                        f"{inner}    break", *body_lines]

    def _elif(self, orelse: Block, indent: str) -> list[str] | None:
        """An else branch that is one ``if`` (or computes a test, then branches on it),
        printed at the level of the ``if`` it belongs to, to become its ``elif``:
        ``elif c:`` or ``elif (w3_2 := x < 0.01):``.  A chain of a thousand elifs then
        nests no deeper than one (Python stops at 100 levels of indentation)."""
        ops = [o for o in orelse.ops
               if not (o.results and all(r.uid in self.inlined for r in o.results))]
        if not ops or not isinstance(ops[-1], IfOp) or (self.probe and ops[-1].results):
            return None  # (probe code reports an if's results after it, in the else)
        if len(ops) == 1:
            return self._structured(ops[0], indent)
        test, branch = ops[0], ops[-1]
        if (self.probe or len(ops) != 2 or test.blocks or len(test.results) != 1
                or branch.cond is not test.result or test.attrs.get("effect")
                or test.prim in _NEVER_INLINED):
            return None
        return self._structured(branch, indent, condition=test)

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
        return indent + print_stmt(ast.Return(value))



def _kind(write: Op) -> int | None:
    kind = write.args[2]
    return kind.value if isinstance(kind, Const) else None



def generated_name(name: str, user_globals: dict[str, Any]) -> str:
    """The name a function generated as `name` takes: not one of the user's data."""
    while name in user_globals and not callable(user_globals[name]):
        name += "_"
    return name


def generate(fn: Function, name: str, *, user_globals: dict[str, Any],
             closure_cells: dict[str, types.CellType] | None = None,
             signature_defaults: list[str] | None = None,
             docstring: str | None = None,
             probe: Callable[[int, Any], None] | None = None) -> Generated:
    """Print `fn` as a Python function called `name` and compile it.  With `probe`, the
    code folds nothing into expressions and calls ``probe(uid, value)`` for every value."""
    number_levels_if_primal(fn)
    if probe is None:
        fn = printed_gradients(printed_sums(fn))
    emitter = _Emitter(fn, user_globals, closure_cells or {}, probe=probe is not None)
    emitter.analyse()
    emitter.name_everything()
    if probe is not None:
        emitter.free["__adc_probe__"] = probe
    fn_name = generated_name(name, user_globals)

    params = [emitter.names[p.uid] for p in fn.params]
    if signature_defaults:
        first = len(params) - len(signature_defaults)
        params = params[:first] + [f"{p}={d}" for p, d in zip(params[first:], signature_defaults)]
    inner = [f"def {fn_name}({', '.join(params)}):"]
    if docstring:
        inner.append(f'    """{docstring}"""')
    inner += emitter._probes(fn.params, "    ") + emitter.body_lines(fn.body, "    ")
    inner.append(emitter.return_line("    "))

    free = emitter.free
    count = next(_counter)
    filename = f"<ad_compiler:{fn_name}:{count}>"
    keep = os.environ.get("AD_COMPILER_KEEP_DIR")
    if keep:  # files an external debugger can open
        os.makedirs(keep, exist_ok=True)
        filename = os.path.abspath(os.path.join(keep, f"{fn_name}_{count}.py"))
    # the code that runs notes, on any exception, the user's line the failing line came from
    executed = _with_locating(inner)
    locate = _Locator(filename, fn)
    names = sorted([*free, "__adc_locate__"])
    text = "\n".join([f"def __adc_closure__({', '.join(names)}):",
                      *("    " + line for line in executed), f"    return {fn_name}", ""])
    free_values = {**free, "__adc_locate__": locate}
    locate.index(text)
    if keep:
        with open(filename, "w", encoding="utf-8") as handle:
            handle.write(text)
    # default values print as the user wrote them; they are evaluated once, here, as
    # Python evaluates defaults at 'def' time, and then replaced by the user's own objects
    namespace: dict[str, Any] = {**user_globals}
    namespace.setdefault("__builtins__", __builtins__)
    exec(compile(text, filename, "exec"), namespace)
    made = namespace["__adc_closure__"](*(None for _ in free_values))
    cells = tuple(
        free_values[v] if isinstance(free_values[v], types.CellType)
        else types.CellType(free_values[v])
        for v in made.__code__.co_freevars
    ) or None
    compiled = types.FunctionType(made.__code__, user_globals, fn_name, made.__defaults__, cells)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    header = [f"import {v.__name__}" + (f" as {k}" if k != v.__name__ else "")
              for k, v in sorted(free.items()) if isinstance(v, types.ModuleType)]
    helpers = {k: v for k, v in sorted(free.items())
               if callable(v) and not isinstance(v, (types.ModuleType, types.CellType))}
    for module_name in HELPER_MODULES:
        names = [k if k == v.__name__ else f"{v.__name__} as {k}" for k, v in helpers.items()
                 if getattr(v, "__module__", None) == module_name]
        if names:
            header.append(f"from {module_name} import {', '.join(names)}")
    header += [f"# {k}: {getattr(v, '__module__', '?')}.{getattr(v, '__qualname__', v)}"
               for k, v in helpers.items()
               if getattr(v, "__module__", None) not in HELPER_MODULES]
    source = "\n".join(header + ([""] if header else []) + inner) + "\n"
    return Generated(compiled, source, filename, dict(free))



def number_levels_if_primal(fn: Function) -> None:
    if not hasattr(fn, "primal"):
        number_levels(fn)
