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
import os
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import runtime, runtime_writes
from .codegen_loops import direct_iterations, loop_comment, summed_items
from .codegen_statements import ends_in_raise, finally_lines, fstring, try_lines, with_lines
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
    is_numpy_operator_call,
    number_levels,
    walk_ops,
)
from .naming import HELPER_MODULES, Naming
from .printing import print_stmt
from .registry import has_expr
from .registry.writes import IF_ARRAY
from .transforms.optimize import printed_gradients, printed_sums
from .transforms.static_shapes import derivable
from .write_analysis import (
    accumulations_in_place,
    in_place_writes,
    positions,
    runs_after,
)

_AST_BINOPS = {"add": ast.Add, "sub": ast.Sub, "mul": ast.Mult, "truediv": ast.Div,
               "floordiv": ast.FloorDiv, "mod": ast.Mod, "pow": ast.Pow, "matmul": ast.MatMult}
_AST_COMPARES = {"lt": ast.Lt, "le": ast.LtE, "gt": ast.Gt, "ge": ast.GtE, "eq": ast.Eq,
                 "ne": ast.NotEq}
# operations that change no object (probe code may report values after them)
_PURE_PRIMS = frozenset({*BINARY_SYMBOLS, *UNARY_SYMBOLS, *COMPARE_SYMBOLS, "unbroadcast"})
_NEVER_INLINED = {"copy", "stack", "push", "pop", "index_add", "setitem", "add_at",
                  "appended", "pop_last"}
# Folding stops where an expression would nest deeper than this: a line stays readable,
# and printing and compiling it never recurse deeper than Python allows.
MAX_FOLD_DEPTH = 12
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


class _Emitter(Naming):
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

    # ---------------------------------------------------------------- analysis
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

    def _root(self, uid: int) -> int:
        """The value whose name `uid` is printed under."""
        seen = set()
        while uid in self.share and uid not in seen:
            seen.add(uid)
            uid = self.share[uid]
        return uid

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

    # -------------------------------------------------------------- expressions
    def expr(self, operand: Operand) -> ast.expr:
        """The expression printed for `operand`.  Nodes for names and plain numbers are
        made once and shared (printing never changes a node): a long function prints
        hundreds of thousands of them."""
        if type(operand) is Value:
            if operand.uid in self.inlined:
                return self.op_expr(self.producer[operand.uid])
            name = self.names[operand.uid]
            node = self._name_nodes.get(name)
            if node is None:
                node = self._name_nodes[name] = ast.Name(name, ast.Load())
            return node
        if isinstance(operand, Const):
            value = operand.value
            if type(value) is float or type(value) is int:
                key = (type(value), value)
                node = self._number_nodes.get(key)
                if node is None:
                    node = _constant(value)
                    if value != 0:  # (0.0 and -0.0 are equal keys)
                        self._number_nodes[key] = node
                return node
            if callable(value) and not isinstance(value, type):
                return self._reference(value)  # a function passed along (vmap_last)
            return _constant(value)
        return self._dotted(operand.name)

    def _dotted(self, spelling: str) -> ast.expr:
        node = self._spellings.get(spelling)
        if node is None:
            node = self._spellings[spelling] = _dotted(spelling)
        return node

    def op_expr(self, op: Op) -> ast.expr:
        args = [self.expr(a) for a in op.args]
        prim = op.prim
        if is_numpy_operator_call(op):
            return self._call(op, args)  # np.add(xs, ys) adds lists where `xs + ys` joins them
        if prim in BINARY_SYMBOLS:
            return ast.BinOp(args[0], _AST_BINOPS[prim](), args[1])
        if prim in COMPARE_SYMBOLS:
            return ast.Compare(args[0], [_AST_COMPARES[prim]()], [args[1]])
        if prim == "neg":
            return ast.UnaryOp(ast.USub(), args[0])
        if prim == "pos":
            return ast.UnaryOp(ast.UAdd(), args[0])
        if prim == "not":
            return ast.UnaryOp(ast.Not(), args[0])
        if prim == "getitem":
            parts = [_index_part(a, e) for a, e in zip(op.args[1:], args[1:])]
            index = parts[0] if len(parts) == 1 else ast.Tuple(parts, ast.Load())
            return ast.Subscript(args[0], index, ast.Load())
        if isinstance(op, IfOp):
            return self._if_expression(op)
        if prim == "getattr":
            return ast.Attribute(args[0], op.args[1].value, ast.Load())
        if prim == "pack":
            if op.attrs.get("kind") == "list":
                return ast.List(args, ast.Load())
            if op.attrs.get("kind") == "dict":
                return ast.Dict([ast.Constant(k) for k in op.attrs["keys"]], args)
            if op.attrs.get("kind") == "record":  # Params(w=w, b=b), as the user made it
                return ast.Call(self._reference(op.attrs["cls"]), [], [
                    ast.keyword(name, arg) for name, arg in zip(op.attrs["fields"], args)])
            return ast.Tuple(args, ast.Load())
        if prim == "stack":
            return ast.List([], ast.Load())
        if prim == "pop":
            return ast.Call(ast.Attribute(args[0], "pop", ast.Load()), [], [])
        if prim == "copy":  # an alias, or the user's own x.copy() or copy.copy(x)
            if "fn" in op.attrs:
                return self._call(op, args)
            if op.attrs.get("method_copy"):
                return ast.Call(ast.Attribute(args[0], "copy", ast.Load()), [], [])
            return args[0]
        if op.attrs.get("attribute"):  # x.T where x is known to be an array (specialize.py)
            return ast.Attribute(args[0], op.attrs["attribute"], ast.Load())
        if prim == "tuple":
            return ast.Tuple(args, ast.Load())
        if op.attrs.get("subscript"):  # np.r_[a, b]: the object indexed by what it joins
            index = _index_part(op.args[1], args[1])
            made = self.producer.get(op.args[1].uid) if isinstance(op.args[1], Value) else None
            if prim != "call" and not isinstance(index, ast.Tuple) and not (
                    made is not None and made.prim == "pack" and made.attrs.get("kind") == "tuple"):
                index = ast.Call(ast.Name("tuple", ast.Load()), [index], [])  # pieces in a list
            return ast.Subscript(args[0], index, ast.Load())
        if "fn" not in op.attrs:
            raise ValueError(f"cannot print primitive {prim!r}")
        if "template" in op.attrs:  # an f-string
            return fstring(op.attrs["template"], args[1:])
        if op.attrs.get("method"):  # "{:.3f}".format(y)
            kwnames = op.attrs.get("kwnames", ())
            positional = args[1: len(args) - len(kwnames)]
            keywords = [ast.keyword(k, v) for k, v in zip(kwnames, args[len(args) - len(kwnames):])]
            return ast.Call(ast.Attribute(args[0], op.attrs["method"], ast.Load()), positional,
                            keywords)
        if op.attrs.get("operator") == "%":  # "%.3f" % y
            return ast.BinOp(args[0], ast.Mod(), args[1])
        return self._call(op, args)

    def _call(self, op: Op, args: list[ast.expr]) -> ast.expr:
        callee = op.attrs.get("callee")
        if callee and self._spelling_still_means(op):
            func = self._dotted(callee)
        elif id(op) in self.adds_into:  # into an adjoint array nothing else holds
            key = id(runtime_writes.add_into)
            if key not in self.refs:
                self.refs[key] = self._reference(runtime_writes.add_into)
            func = self.refs[key]
            if self.adds_into[id(op)] == 1:
                args = args[::-1]  # the operand added into first
        else:
            func = self.refs.get(id(op.attrs["fn"])) or self._reference(op.attrs["fn"])
        kwnames = op.attrs.get("kwnames", ())
        positional = args[: len(args) - len(kwnames)]
        keywords = [ast.keyword(k, v) for k, v in zip(kwnames, args[len(positional):])]
        return ast.Call(func, positional, keywords)

    def _if_expression(self, op: IfOp) -> ast.expr:
        then, orelse = op.then_block, op.else_block
        test = self.expr(op.cond)
        kind = op.kind
        if kind in ("and", "or"):
            other = then.yields[0] if kind == "and" else orelse.yields[0]
            ast_op = ast.And() if kind == "and" else ast.Or()
            values = test.values if isinstance(test, ast.BoolOp) and type(test.op) is type(ast_op) else [test]
            return ast.BoolOp(ast_op, [*values, self.expr(other)])
        return ast.IfExp(test, self.expr(then.yields[0]), self.expr(orelse.yields[0]))

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


def _constant(value: Any) -> ast.expr:
    if isinstance(value, float) and not math.isfinite(value):
        return ast.Call(ast.Name("float", ast.Load()), [ast.Constant(repr(value))], [])
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    if isinstance(value, tuple):
        return ast.Tuple([_constant(v) for v in value], ast.Load())
    return ast.Constant(value)


def _kind(write: Op) -> int | None:
    kind = write.args[2]
    return kind.value if isinstance(kind, Const) else None


def _index_part(operand: Operand, printed: ast.expr) -> ast.expr:
    """A constant slice prints as ``1::2``, Ellipsis as ``...``."""
    if isinstance(operand, Const) and isinstance(operand.value, slice):
        bounds = [None if v is None else _constant(v)
                  for v in (operand.value.start, operand.value.stop, operand.value.step)]
        return ast.Slice(*bounds)
    if isinstance(operand, Const) and operand.value is Ellipsis:
        return ast.Constant(Ellipsis)
    return printed


def _dotted(spelling: str) -> ast.expr:
    root, *path = spelling.split(".")
    node: ast.expr = ast.Name(root, ast.Load())
    for attr in path:
        node = ast.Attribute(node, attr, ast.Load())
    return node


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


def _with_locating(inner: list[str]) -> list[str]:
    """The function's lines with its body in ``try``: an exception gets a note naming
    the user's source line before it goes on (no cost unless something is raised)."""
    head = 2 if len(inner) > 1 and inner[1].lstrip().startswith('"""') else 1
    body = ["    " + line if line else line for line in inner[head:]]
    return [*inner[:head], "    try:", *body, "    except BaseException as __adc_error__:",
            "        __adc_locate__(__adc_error__)", "        raise"]


class _Locator:
    """Maps lines of generated code to the user's statements they came from."""

    def __init__(self, filename: str, fn: Function) -> None:
        self.filename = filename
        self.user_file = fn.filename
        self.by_text = {text: lineno for lineno, text in fn.statements.items()}
        self.lines: dict[int, tuple[int, str]] = {}

    def index(self, text: str) -> None:
        current = None
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("# "):
                statement = stripped[2:].removeprefix("adjoint of: ")
                if statement in self.by_text:
                    current = (self.by_text[statement], statement)
            elif current is not None:
                self.lines[number] = current

    def __call__(self, error: BaseException) -> None:
        tb, lineno = error.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                lineno = tb.tb_lineno
            tb = tb.tb_next
        where = self.lines.get(lineno) if lineno is not None else None
        if where is None:
            return
        add_note(error, f"in generated code {self.filename}, line {lineno}, which comes "
                        f"from {self.user_file}, line {where[0]}: {where[1]}")


def add_note(error: BaseException, note: str) -> None:
    """`error.add_note(note)`, once.  Python 3.10 has no notes and its tracebacks show
    none: there, where the message is the exception's one string argument, the note goes
    on a line of its own after it, where later Pythons print notes.  Other exceptions
    (KeyError, whose argument is the key) keep their arguments and get `__notes__`,
    which 3.10 shows only where the exceptiongroup backport is loaded (under pytest)."""
    if hasattr(error, "add_note"):
        if note not in getattr(error, "__notes__", ()):
            error.add_note(note)
        return
    if (len(error.args) == 1 and isinstance(error.args[0], str)
            and type(error).__str__ is BaseException.__str__):
        if note not in error.args[0].splitlines():
            error.args = (f"{error.args[0]}\n{note}",)
        return
    notes = getattr(error, "__notes__", None)
    if not isinstance(notes, list):
        notes = error.__notes__ = []
    if note not in notes:
        notes.append(note)


def number_levels_if_primal(fn: Function) -> None:
    if not hasattr(fn, "primal"):
        number_levels(fn)
