"""Clean-up passes on a derivative function: common subexpressions, dead code.

Constant folding and algebraic identities happen earlier, as the builder emits
ops; what is left is sharing what two rules computed alike (``cos(x1)`` needed by
two sweeps, ``x**y`` recomputed by the rule of ``**``) and dropping what no
output needs (for a gradient, usually most of the forward sweep).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import runtime_items
from ..builder import Builder, is_const
from ..ir import (
    Block,
    Const,
    ForOp,
    FreeName,
    Function,
    IfOp,
    LoopOp,
    Op,
    Operand,
    Value,
    WhileOp,
    walk_ops,
)
from ..primitives import builtin_call_attrs
from .kinds import Kinds

_NEVER_SHARED = {"copy", "call", "stack", "pop", "push", "index_add", "zero_items"}  # fresh lists
# calls that give equal results for equal arguments and change nothing: computed once
# (``np.eye(n)`` in a function and again in its adjoint), unless the code writes into
# the array one of them makes (``b = np.zeros(n)`` is not ``a.copy()``)
_PURE_CALLS = frozenset({np.shape, np.ndim, np.size, len, np.eye, np.identity, np.tri,
                         np.zeros, np.ones, np.full, np.arange, np.linspace})


def optimize(fn: Function) -> Function:
    eliminate_common_subexpressions(fn)
    eliminate_dead_code(fn)
    if prune_stacks(fn):
        eliminate_dead_code(fn)
    if replay_ranges(fn):
        eliminate_dead_code(fn)
    if fold_loop_constants(fn):
        eliminate_dead_code(fn)
    return fn


def replay_ranges(fn: Function) -> bool:
    """A loop over ``range(...)`` that tapes nothing but its index needs no stack: the
    backward loop runs over ``reversed(range(...))`` instead of popping."""
    changed = False
    for block in all_blocks(fn.body):
        ops = block.ops
        for forward_loop in [op for op in ops if isinstance(op, ForOp)]:
            body = forward_loop.body
            pushes = [op for op in body.ops if op.prim == "push"]
            if len(pushes) != 1 or pushes[0].args[1:] != [forward_loop.item]:
                continue
            stack = pushes[0].args[0]
            iterable = forward_loop.iterable
            made_by = _producer(ops, iterable)
            if made_by is None or made_by.prim != "call" or made_by.attrs.get("fn") is not range:
                continue
            for backward_loop in [op for op in ops if isinstance(op, ForOp)]:
                inner = backward_loop.body
                pops = [op for op in inner.ops if op.prim == "pop" and op.args[0] is stack]
                if len(pops) != 1 or len(pops[0].results) != 1:
                    continue
                replay = Op("call", [iterable], [Value()], builtin_call_attrs(reversed), [],
                            backward_loop.loc)
                ops.insert(ops.index(backward_loop), replay)
                backward_loop.iterable = replay.result
                backward_loop.item = pops[0].results[0]
                inner.ops.remove(pops[0])
                body.ops.remove(pushes[0])
                changed = True
                break
    return changed


def all_blocks(block: Block) -> list[Block]:
    """`block` and every block nested in it, outermost first."""
    blocks = [block]
    for op in block.ops:
        for inner in op.blocks:
            blocks.extend(all_blocks(inner))
    return blocks


def _producer(ops: list[Op], value: Operand) -> Op | None:
    for op in ops:
        if any(r is value for r in op.results):
            return op
    return None


def prune_stacks(fn: Function) -> bool:
    """Stop pushing loop state that no backward iteration reads.

    A loop pushes its whole carried state; once dead code is gone, the pops show
    which parts the backward loop still uses, and the matching pushes drop the rest
    (one item stays, the stack's length being the trip count).
    """
    ops = list(walk_ops(fn.body))
    if not any(op.prim == "pop" for op in ops):
        return False  # nothing taped (most long functions: straight-line code)
    used: set[int] = set()
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
    written = {op.args[0].uid for op in walk_ops(fn.body)
               if op.prim in ("setitem", "add_at") and isinstance(op.args[0], Value)}
    _cse_block(fn.body, {}, replace, _Joins(fn, written))


class _Joins:
    """Which ``a + b`` may join lists in order (so ``b + a`` is another value): only a
    sum the user's code makes; derivative code adds numbers, arrays and adjoints, whose
    sums commute.  The transforms leave their kinds of the user's values on `fn`."""

    def __init__(self, fn: Function, written: set[int]) -> None:
        self.fn = fn
        self.written = written  # arrays written into (setitem, add_at)
        self.primal = getattr(fn, "primal", None)
        self.aliases = getattr(fn, "aliases", {})
        self.kinds = getattr(fn, "kinds", None)

    def commutes(self, op: Op) -> bool:
        result = op.result
        while result.uid in self.aliases:
            result = self.aliases[result.uid]
        if self.primal is not None and result.uid not in self.primal:
            return True
        if self.kinds is None:
            self.kinds = Kinds(self.fn)
        return self.kinds.numeric(result) or any(self.kinds.numeric(a) for a in op.args)


def _cse_block(block: Block, seen: dict[tuple, Op], replace: dict[int, Operand],
               joins: _Joins) -> None:
    kept = []
    for op in block.ops:
        op.args = [_substitute(a, replace) if type(a) is Value else a for a in op.args]
        for inner in op.blocks:
            _cse_block(inner, dict(seen), replace, joins)
        prim, attrs = op.prim, op.attrs
        if prim in _NEVER_SHARED and not _pure_call(op, joins.written) or op.blocks or \
                attrs.get("effect") or (prim == "pack" and attrs.get("kind") in ("list", "dict", "record")):
            # (two list displays are two lists: reverse mode may append to one in place)
            kept.append(op)
            continue
        if prim == "add" and isinstance(op.args[0], Value) and op.args[0] is op.args[1]:
            prim, op.prim, op.args = "mul", "mul", [Const(2), op.args[0]]  # a + a -> 2 * a
        operand_keys = [("v", a.uid) if type(a) is Value else _key(a) for a in op.args]
        if prim == "mul" or prim == "add" and joins.commutes(op):
            operand_keys.sort()  # (but xs + ys joins lists in order)
        key = (prim, id(attrs.get("fn")), tuple(operand_keys),
               attrs.get("kwnames", ()),  # svd(a, compute_uv=False) is not svd(a, False)
               attrs.get("kind"), attrs.get("keys"))  # [] is not (), {"a": x} not {"b": x}
        earlier = seen.get(key)
        if earlier is not None:
            for old, new in zip(op.results, earlier.results):
                replace[old.uid] = new
            continue
        seen[key] = op
        kept.append(op)
    block.ops = kept
    block.yields = [_substitute(y, replace) for y in block.yields]


def _pure_call(op: Op, written: set[int]) -> bool:
    fn = op.attrs.get("fn")
    return op.prim == "call" and any(fn is pure for pure in _PURE_CALLS) and \
        all(r.uid not in written for r in op.results)


def _substitute(operand: Operand, replace: dict[int, Operand]) -> Operand:
    while isinstance(operand, Value) and operand.uid in replace:
        operand = replace[operand.uid]
    return operand


def eliminate_dead_code(fn: Function) -> None:
    _dce_block(fn.body, set())


def _dce_block(block: Block, live: set[int]) -> None:
    live.update(y.uid for y in block.yields if isinstance(y, Value))
    kept = []
    mark = live.add
    for op in reversed(block.ops):
        if not _is_live(op, live):
            continue
        kept.append(op)
        for a in op.args:
            if type(a) is Value:
                mark(a.uid)
        if not op.blocks and type(op) is Op:
            continue
        if isinstance(op, LoopOp):
            _drop_dead_carried(op, live)
        if isinstance(op, IfOp):  # drop results nobody reads, with what each branch yields for them
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
    if op.attrs.get("effect"):
        return True
    for r in op.results:
        if r.uid in live:
            return True
    for block in op.blocks:
        if any(p.uid in live for p in block.params):
            return True
        for inner in block.ops:
            if _is_live(inner, live):
                return True
    return False


def _drop_dead_carried(op: LoopOp, live: set[int]) -> None:
    """Stop carrying loop variables that nothing after the loop, and nothing that is
    needed inside it, reads (a running sum the gradient never uses)."""
    body = op.body
    carried = range(len(op.results))
    dead = {k for k in carried if op.results[k].uid not in live}
    while dead:
        needed: set[int] = set()
        seeds = {y.uid for k, y in enumerate(body.yields) if k not in dead and isinstance(y, Value)}
        _needed_values(body, needed | seeds, needed)
        if isinstance(op, WhileOp):
            _needed_values(op.cond_block, {y.uid for y in op.cond_block.yields
                                           if isinstance(y, Value)}, needed)
        keep = {k for k in dead if any(params[k].uid in needed for params in op.carrier_params)}
        if not keep:
            break
        dead -= keep
    if not dead:
        return
    op.keep_carried([k for k in carried if k not in dead])


def _needed_values(block: Block, seeds: set[int], needed: set[int]) -> None:
    """Add to `needed` every value the block must compute for `seeds` and its effects."""
    wanted = set(seeds)
    for op in reversed(block.ops):
        if not _is_live(op, wanted):
            continue
        wanted.update(a.uid for a in op.args if isinstance(a, Value))
        for inner in op.blocks:
            inner_seeds = {y.uid for y in inner.yields if isinstance(y, Value)}
            _needed_values(inner, wanted | inner_seeds, wanted)
    needed.update(wanted)


def fold_loop_constants(fn: Function) -> bool:
    """Loop variables that never change (an adjoint seeded with 1.0 and never updated)
    are replaced by their value, and the arithmetic on them is simplified again."""
    replace: dict[int, Operand] = {}
    for op in walk_ops(fn.body):
        if not isinstance(op, LoopOp):
            continue
        for k, result in enumerate(op.results):
            init, param, y = op.inits[k], op.carried_params[k], op.body.yields[k]
            constant = isinstance(init, Const) and (
                y is param or (isinstance(y, Const) and y == init))
            if constant:
                replace[result.uid] = init
                for params in op.carrier_params:  # the body's, and a while condition's
                    replace[params[k].uid] = init
    if not replace:
        return False
    _simplify_block(fn.body, replace)
    return True


def _simplify_block(block: Block, replace: dict[int, Operand]) -> None:
    for op in block.ops:
        op.args = [_substitute(a, replace) for a in op.args]
        for inner in op.blocks:
            _simplify_block(inner, replace)
        if len(op.results) == 1 and not op.blocks and not op.attrs.get("effect"):
            simpler = _identity(op)
            if simpler is not None:
                replace[op.result.uid] = simpler
    block.yields = [_substitute(y, replace) for y in block.yields]


def _identity(op: Op) -> Operand | None:
    """What an op with a constant operand reduces to, if it is one of its operands or
    a constant: x + 0, x - 0, x * 1, x / 1, and constants folded."""
    args = op.args
    if op.prim in ("add", "sub", "mul", "truediv") and len(args) == 2:
        a, b = args
        if all(is_const(x) for x in args):
            return Builder._fold(op.prim, [a.value, b.value], "operator")
        if op.prim == "add" and is_const(a, 0):
            return b
        if op.prim in ("add", "sub") and is_const(b, 0):
            return a
        if op.prim == "mul" and is_const(a, 1):
            return b
        if op.prim in ("mul", "truediv") and is_const(b, 1):
            return a
    return None


def printed_sums(fn: Function) -> Function:
    """The function as printed: ``sum_value(total, exact)`` is builtins.sum's value
    `exact`, and the running total beside it, which carries the derivative in the IR,
    is left out where nothing else reads it (``mu = sum(xs) / n``, a loop that collects
    the terms).  `fn` itself keeps it: a second derivative differentiates through it."""
    sums = [op for op in walk_ops(fn.body) if op.prim == "sum_value"]
    if not sums:
        return fn
    printed = dataclasses.replace(fn, body=_copied(fn.body))
    _simplify_block(printed.body, {op.result.uid: op.args[1] for op in sums})
    eliminate_dead_code(printed)
    return printed


def printed_gradients(fn: Function) -> Function:
    """The function as printed: the gradient of a list from the list of its items'
    adjoints that ``zero_items`` made, ``as_gradient(items_of_t(acc, xs), xs)``, is
    ``items_gradient(acc, xs)``, which takes the float check ``zero_items`` made of the
    items of `xs` instead of making it again.  `fn` itself keeps the first form, which
    forward mode differentiates."""
    producers = {r.uid: op for op in walk_ops(fn.body) for r in op.results}

    def made_by(operand: Operand, prim: str) -> Op | None:
        op = producers.get(operand.uid) if isinstance(operand, Value) else None
        return op if op is not None and op.prim == prim else None

    accumulators = {}  # the gradient's uid -> the list of adjoints it is made from
    for op in walk_ops(fn.body):
        if op.prim != "as_gradient" or not isinstance(op.args[1], Value):
            continue
        adjoint, x = op.args
        items_t = made_by(adjoint, "items_of_t")
        acc = made_by(items_t.args[0], "zero_items") if items_t is not None else None
        items = made_by(acc.args[0], "items_of") if acc is not None else None
        if items is not None and all(isinstance(a, Value) and a.uid == x.uid
                                     for a in (items_t.args[1], items.args[0])):
            accumulators[op.result.uid] = acc.result
    if not accumulators:
        return fn
    printed = dataclasses.replace(fn, body=_copied(fn.body))
    for op in walk_ops(printed.body):
        if op.prim == "as_gradient" and op.result.uid in accumulators:
            op.prim = "call"
            op.args = [accumulators[op.result.uid], op.args[1]]
            op.attrs = {"fn": runtime_items.items_gradient, "kwnames": ()}
    eliminate_dead_code(printed)
    return printed


def _copied(block: Block) -> Block:
    """A copy of `block` that passes may change alone (the values are shared)."""
    return Block(list(block.params), [op.rebuilt(blocks=[_copied(b) for b in op.blocks])
                                      for op in block.ops], list(block.yields))
