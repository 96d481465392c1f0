"""Clean-up passes on a derivative function: common subexpressions, dead code.

Constant folding and algebraic identities happen earlier, as the builder emits
ops; what is left is sharing what two rules computed alike (``cos(x1)`` needed by
two sweeps, ``x**y`` recomputed by the rule of ``**``) and dropping what no
output needs (for a gradient, usually most of the forward sweep).
"""
from __future__ import annotations

from ..ir import Block, Const, FreeName, Function, Op, Operand, Value

_NEVER_SHARED = {"copy", "call"}
_COMMUTATIVE = {"add", "mul"}


def optimize(fn: Function) -> Function:
    eliminate_common_subexpressions(fn)
    eliminate_dead_code(fn)
    return fn


def _key(operand: Operand) -> tuple:
    if isinstance(operand, Value):
        return ("v", operand.uid)
    if isinstance(operand, Const):
        return ("c", type(operand.value).__name__, repr(operand.value))
    assert isinstance(operand, FreeName)
    return ("f", operand.name)


def eliminate_common_subexpressions(fn: Function) -> None:
    replace: dict[int, Operand] = {}
    _cse_block(fn.body, {}, replace)


def _cse_block(block: Block, seen: dict[tuple, Op], replace: dict[int, Operand]) -> None:
    kept = []
    for op in block.ops:
        op.args = [_substitute(a, replace) for a in op.args]
        for inner in op.blocks:
            _cse_block(inner, dict(seen), replace)
        if op.prim in _NEVER_SHARED or op.blocks or op.attrs.get("effect"):
            kept.append(op)
            continue
        if op.prim == "add" and isinstance(op.args[0], Value) and op.args[0] is op.args[1]:
            op.prim, op.args = "mul", [Const(2), op.args[0]]  # a + a -> 2 * a
        operand_keys = [_key(a) for a in op.args]
        if op.prim in _COMMUTATIVE:
            operand_keys.sort()
        key = (op.prim, id(op.attrs.get("fn")), tuple(operand_keys))
        earlier = seen.get(key)
        if earlier is not None:
            for old, new in zip(op.results, earlier.results):
                replace[old.uid] = new
            continue
        seen[key] = op
        kept.append(op)
    block.ops = kept
    block.yields = [_substitute(y, replace) for y in block.yields]


def _substitute(operand: Operand, replace: dict[int, Operand]) -> Operand:
    while isinstance(operand, Value) and operand.uid in replace:
        operand = replace[operand.uid]
    return operand


def eliminate_dead_code(fn: Function) -> None:
    _dce_block(fn.body, set())


def _dce_block(block: Block, live: set[int]) -> None:
    live.update(y.uid for y in block.yields if isinstance(y, Value))
    kept = []
    for op in reversed(block.ops):
        if not op.attrs.get("effect") and not any(r.uid in live for r in op.results):
            continue
        kept.append(op)
        live.update(a.uid for a in op.args if isinstance(a, Value))
        for inner in op.blocks:
            _dce_block(inner, live)
    block.ops = kept[::-1]
