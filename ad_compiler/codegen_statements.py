"""Printing the statements that carry no derivative back as the user wrote them: with
blocks, try statements (with their finally clause), f-strings."""
from __future__ import annotations

import ast
from typing import Any

from .ir import Block, Const, IfOp, Op
from .printing import print_stmt


def ends_in_raise(block: Block) -> bool:
    """Whether a block ends in a 'raise' (what it yields is never assigned)."""
    return bool(block.ops) and bool(block.ops[-1].attrs.get("raise"))


def fstring(template: tuple, values: list[ast.expr]) -> ast.JoinedStr:
    """The f-string of a template of `runtime_statements.formatted` and the values it formats."""
    parts: list[ast.expr] = []
    given = iter(values)
    for part in template:
        if isinstance(part, str):
            parts.append(ast.Constant(part))
            continue
        conversion, spec = part
        parts.append(ast.FormattedValue(next(given), ord(conversion) if conversion else -1,
                                        ast.JoinedStr([ast.Constant(spec)]) if spec else None))
    return ast.JoinedStr(parts)


def with_lines(emitter: Any, op: IfOp, indent: str, names: list[str]) -> list[str]:
    """``with manager:`` and the block (the if op's other branch never runs)."""
    inner = indent + "    "
    manager = print_stmt(ast.Expr(emitter.expr(op.cond)))
    body = emitter.body_lines(op.then_block, inner) + emitter._yield_assignment(
        names, op.then_block.yields, inner, ends_in_raise(op.then_block))
    return [f"{indent}with {manager}:", *(body or [inner + "pass"])]


def try_lines(emitter: Any, op: IfOp, indent: str, names: list[str]) -> list[str]:
    """``try:`` the try clause, ``except E:`` the handler (each assigning the if op's
    results, the last of which says which ran)."""
    inner = indent + "    "
    caught = ""
    if not (isinstance(op.cond, Const) and op.cond.value is None):
        types_expr = emitter.expr(op.cond)
        caught = print_stmt(ast.Expr(types_expr))
        if isinstance(types_expr, ast.Tuple) and not caught.startswith("("):
            caught = f"({caught})"
        caught = " " + caught
    lines = [f"{indent}try:"]
    for header, block in (("", op.then_block), (f"except{caught}:", op.else_block)):
        if header:
            lines.append(indent + header)
        body = emitter.body_lines(block, inner) + emitter._yield_assignment(
            names, block.yields, inner, ends_in_raise(block))
        lines += body or [inner + "pass"]
    return lines


def finally_lines(emitter: Any, op: IfOp, ops: list[Op], indent: str) -> list[str]:
    """The finally clause of a try op: the ops after it marked with its key."""
    key = op.attrs["finally"]
    clause = Block(ops=[o for o in ops if o is not op and o.attrs.get("finally") == key])
    inner = indent + "    "
    return [f"{indent}finally:", *(emitter.body_lines(clause, inner, True) or [inner + "pass"])]
