"""Clean-up passes on a derivative function: common subexpressions, dead code.

Constant folding and algebraic identities happen earlier, as the builder emits
ops; what is left is sharing what two rules computed alike (``cos(x1)`` needed by
two sweeps, ``x**y`` recomputed by the rule of ``**``) and dropping what no
output needs (for a gradient, usually most of the forward sweep).
"""
from __future__ import annotations

from ..ir import Block, Const, FreeName, Function, Op, Operand, Value, walk_ops

_NEVER_SHARED = {"copy", "call", "stack", "pop", "push"}
_COMMUTATIVE = {"add", "mul"}


def optimize(fn: Function) -> Function:
    eliminate_common_subexpressions(fn)
    eliminate_dead_code(fn)
    if prune_stacks(fn):
        eliminate_dead_code(fn)
    return fn


def prune_stacks(fn: Function) -> bool:
    """Stop pushing loop state that no backward iteration reads.

    A loop pushes its whole carried state; once dead code is gone, the pops show
    which parts the backward loop still uses, and the matching pushes drop the rest
    (one item stays, the stack's length being the trip count).
    """
    used: set[int] = set()
    ops = list(walk_ops(fn.body))
    for op in ops:
        used.update(a.uid for a in op.args if isinstance(a, Value))
        for block in op.blocks:
            used.update(y.uid for y in block.yields if isinstance(y, Value))
    used.update(y.uid for y in fn.body.yields if isinstance(y, Value))
    changed = False
    for pop in (op for op in ops if op.prim == "pop"):
        keep = [k for k, r in enumerate(pop.results) if r.uid in used] or [0]
        if len(keep) == len(pop.results):
            continue
        changed = True
        pop.results = [pop.results[k] for k in keep]
        for push in (op for op in ops if op.prim == "push" and op.args[0] is pop.args[0]):
            items = push.args[1:]
            push.args = [push.args[0], *(items[k] for k in keep)]
    return changed


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
        if not _is_live(op, live):
            continue
        kept.append(op)
        live.update(a.uid for a in op.args if isinstance(a, Value))
        if op.prim == "if":  # drop results nobody reads, with what each branch yields for them
            needed = [k for k, r in enumerate(op.results) if r.uid in live]
            op.results = [op.results[k] for k in needed]
            for branch in op.blocks:
                branch.yields = [branch.yields[k] for k in needed]
        for inner in reversed(op.blocks):
            _dce_block(inner, live)
    block.ops = kept[::-1]


def _is_live(op: Op, live: set[int]) -> bool:
    """Needed for a result, for an effect, or (control flow) for a value made inside it:
    the backward sweep of an ``if`` reads the values its forward branch computed."""
    if op.attrs.get("effect") or any(r.uid in live for r in op.results):
        return True
    for block in op.blocks:
        if any(p.uid in live for p in block.params):
            return True
        for inner in block.ops:
            if _is_live(inner, live):
                return True
    return False
