"""Printing an operation as a Python expression (an `ast` node): operators, indexing,
displays, conditional expressions and calls, with the temporaries that fold into it
printed in place."""
from __future__ import annotations

import ast
import math
from typing import Any

from . import runtime_writes
from .codegen_statements import fstring
from .ir import (
    BINARY_SYMBOLS,
    COMPARE_SYMBOLS,
    Const,
    IfOp,
    Op,
    Operand,
    Value,
    is_numpy_operator_call,
)

_AST_BINOPS = {"add": ast.Add, "sub": ast.Sub, "mul": ast.Mult, "truediv": ast.Div,
               "floordiv": ast.FloorDiv, "mod": ast.Mod, "pow": ast.Pow, "matmul": ast.MatMult}
_AST_COMPARES = {"lt": ast.Lt, "le": ast.LtE, "gt": ast.Gt, "ge": ast.GtE, "eq": ast.Eq,
                 "ne": ast.NotEq}


class ExpressionPrinter:
    """The expression part of the code emitter (codegen._Emitter)."""

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


def _constant(value: Any) -> ast.expr:
    if isinstance(value, float) and not math.isfinite(value):
        return ast.Call(ast.Name("float", ast.Load()), [ast.Constant(repr(value))], [])
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    if isinstance(value, tuple):
        return ast.Tuple([_constant(v) for v in value], ast.Load())
    return ast.Constant(value)


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
