"""Loops printed as the user wrote them: ``for x in xs:`` where a loop over the
positions of `xs` only takes its items, and ``total = sum(xs)`` for the loop that
``sum(xs)`` was lowered to; and the comment over a backward loop."""
from __future__ import annotations

import ast
import builtins
from typing import Any

from .ir import Const, ForOp, LoopOp, Op, Operand, Value


def direct_iterations(emitter: Any, ops: list[Op]) -> None:
    """Loops ``for index in range(len(xs))`` whose body starts by taking
    ``x = xs[index]`` and reads the index nowhere else are printed ``for x in xs:``,
    as the user wrote them (the same items, fetched at the same point)."""
    if emitter.probe:
        return
    for op in ops:
        if not isinstance(op, ForOp) or not op.body.ops:
            continue
        first, index = op.body.ops[0], op.body.params[0]
        if (first.prim == "getitem" and len(first.args) == 2 and first.args[1] is index
                and len(first.results) == 1 and emitter.uses.get(index.uid) == 1
                and _calls(emitter, op.iterable, builtins.range, builtins.len) == first.args[:1]
                and isinstance(first.args[0], Value)):
            emitter.visiting[id(op)] = first


def loop_comment(emitter: Any, op: Op, indent: str, group: tuple | None) -> list[str]:
    """The comment over a backward loop whose adjoints start from values computed
    for it (``total_bar = mu_bar / n`` before the loop), as over any statement."""
    if not (isinstance(op, LoopOp) and op.loc is not None and emitter.fn_kind == "reverse"
            and not all(r.uid in emitter.primal for r in op.results)
            and group != (op.loc.stmt_lineno, True)):
        return []
    names = [emitter.names[p.uid] for p in op.carried_params]
    text = emitter.fn.statements.get(op.loc.stmt_lineno)
    if not text or not emitter._yield_assignment(names, list(op.inits), indent):
        return []
    return [f"{indent}# adjoint of: {text}"]


def summed_items(emitter: Any, op: Op) -> ast.stmt | None:
    """``total = sum(xs)`` for the loop that ``sum(xs)`` was lowered to, where it is
    still nothing but ``total = total + xs[index]`` over every index: builtins.sum
    adds the items in that order (before Python 3.12, from which on it compensates
    rounding and the value is the call's: `printed_sums()`)."""
    if not (isinstance(op, ForOp) and op.attrs.get("fold") == "sum" and not emitter.probe
            and len(op.results) == 1 and len(op.body.ops) == 2):
        return None
    index, total = op.body.params
    get, add = op.body.ops
    items = get.args[0] if get.prim == "getitem" and len(get.args) == 2 else None
    if not (items is not None and get.args[1] is index and add.prim == "add"
            and add.args == [total, get.result] and op.body.yields == [add.result]
            and emitter.uses.get(get.result.uid) == 1
            and _calls(emitter, op.iterable, builtins.range, builtins.len) == [items]):
        return None
    args = [emitter.expr(items)]
    init = op.inits[0]
    if not (isinstance(init, Const) and type(init.value) is int and init.value == 0):
        args.append(emitter.expr(init))
    call = ast.Call(emitter._reference(builtins.sum), args, [])
    return ast.Assign([ast.Name(emitter.names[op.results[0].uid], ast.Store())], call)


def _calls(emitter: Any, operand: Operand, *fns: Any) -> list[Operand] | None:
    """The arguments `x` where `operand` is ``fns[0](fns[1](...(x)))``."""
    for fn in fns:
        op = emitter.producer.get(operand.uid) if isinstance(operand, Value) else None
        if op is None or op.prim != "call" or op.attrs.get("fn") is not fn \
                or len(op.args) != 1 or op.attrs.get("kwnames"):
            return None
        operand = op.args[0]
    return [operand]
