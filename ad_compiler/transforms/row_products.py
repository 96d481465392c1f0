"""Products of a loop's row with a matrix made outside the loop, for every row at once.

``for x in xs: h = np.tanh(x @ Wx + h @ Wh + b)`` multiplies each row of `xs` by the
same `Wx`: a matrix-vector product per step, each a NumPy call from Python.  Where a
loop runs over ``range(len(a))`` and computes ``a[i] @ w`` for its item i, with `a`
and `w` float64 matrices of static shapes made before the loop (so no iteration
changes them), the products are made before the loop by `row_products()` (in
`ad_compiler/runtime_writes.py`) and each step reads its row.  `row_products()` has
NumPy run the same per-row product inside its own loop, so every row has the value
the step computed (``xs @ Wx``, one matrix product, rounds differently and is not
used).  A later loop of the same block that computes ``a[i] @ w`` again for an int
`i` (a backward loop recomputing a step at the index it pops) reads row i of the same
products.  The rewritten code is what runs; a derivative of it differentiates the code
before this rewrite (`dispatch.py`).
"""
from __future__ import annotations

import numpy as np

from .. import runtime_writes
from ..ir import Block, ForOp, Function, Op, Value, walk_ops
from .static_shapes import Facts


def row_products(fn: Function, facts: Facts) -> Function | None:
    """A copy of specialised code `fn` whose loops read such products from an array
    made before the loop; None where no loop has one."""
    from .optimize import all_blocks, eliminate_dead_code
    from .specialize import _clone

    if not any(isinstance(op, ForOp) for op in walk_ops(fn.body)):
        return None  # (most code: nothing to copy)
    clone = _clone(fn)
    changed = False
    for block in all_blocks(clone.body):
        for loop in [op for op in block.ops if isinstance(op, ForOp)]:
            before = _rewrite(loop, block, clone, facts)
            if before:
                at = block.ops.index(loop)
                block.ops[at:at] = before
                changed = True
                for later in block.ops[block.ops.index(loop) + 1:]:
                    if isinstance(later, ForOp):
                        _read_back(later, before, facts)
    if not changed:
        return None
    eliminate_dead_code(clone)
    return clone


def _rows_counted(loop: ForOp, block: Block) -> Value | None:
    """The matrix `a` where `loop` runs over ``range(len(a))``, else None."""
    made = {r.uid: op for op in block.ops for r in op.results}
    ranged = made.get(loop.iterable.uid) if isinstance(loop.iterable, Value) else None
    if ranged is None or ranged.prim != "call" or ranged.attrs.get("fn") is not range \
            or len(ranged.args) != 1 or ranged.attrs.get("kwnames"):
        return None
    length = made.get(ranged.args[0].uid) if isinstance(ranged.args[0], Value) else None
    if length is None or length.prim != "call" or length.attrs.get("fn") is not len \
            or len(length.args) != 1 or not isinstance(length.args[0], Value):
        return None
    return length.args[0]


def _rewrite(loop: ForOp, block: Block, fn: Function, facts: Facts) -> list[Op]:
    rows_of = _rows_counted(loop, block)
    if rows_of is None or _float_matrix(facts, rows_of) is None:
        return []
    body = loop.body
    inside = {p.uid for p in body.params}
    for op in walk_ops(body):
        inside.update(r.uid for r in op.results)
        for inner in op.blocks:
            inside.update(p.uid for p in inner.params)
    rows = {op.result.uid for op in body.ops
            if op.prim == "getitem" and op.args == [rows_of, loop.item] and len(op.results) == 1}
    before: list[Op] = []
    made: dict[int, Value] = {}  # uid of w -> the products of every row with it
    for at, op in enumerate(body.ops):
        if op.prim != "matmul" or len(op.args) != 2 or len(op.results) != 1 \
                or set(op.attrs) - {"fn", "kwnames", "family", "callee", "callee_kind"} \
                or op.attrs.get("kwnames") or op.attrs.get("fn") not in (None, np.matmul):
            continue
        row, w = op.args
        if not (isinstance(row, Value) and row.uid in rows and isinstance(w, Value)
                and w.uid not in inside and _float_matrix(facts, w) is not None):
            continue
        if _float_matrix(facts, rows_of)[1] != _float_matrix(facts, w)[0]:
            continue
        if w.uid not in made:
            products = made[w.uid] = Value()
            attrs = {"fn": runtime_writes.row_products, "kwnames": ()}
            before.append(Op("row_products", [rows_of, w], [products], attrs, [], op.loc))
            fn.derived[products.uid] = (w, f"{{}}_{_name_of(rows_of)}")
            primal = getattr(fn, "primal", None)
            if primal and op.result.uid in primal:  # printed under the statement's comment
                fn.primal = {*primal, products.uid}
        body.ops[at] = Op("getitem", [made[w.uid], loop.item], [op.result], {}, [], op.loc)
    return before


def _read_back(loop: ForOp, made: list[Op], facts: Facts) -> None:
    """In a later loop (a backward loop that pops the index), ``a[i] @ w`` for an int
    `i` and the products `made` of the rows of `a` with `w` reads row i of them: the
    same value, the step's product not made again."""
    products = {(op.args[0].uid, op.args[1].uid): op.result for op in made}
    producer = {r.uid: op for op in walk_ops(loop.body) for r in op.results}
    for block in _blocks(loop.body):
        for k, op in enumerate(block.ops):
            if op.prim != "matmul" or len(op.args) != 2 or len(op.results) != 1 \
                    or op.attrs.get("kwnames") or op.attrs.get("fn") not in (None, np.matmul) \
                    or not all(isinstance(a, Value) for a in op.args):
                continue
            row, w = op.args
            taken = producer.get(row.uid)
            if taken is None or taken.prim != "getitem" or len(taken.args) != 2 \
                    or not isinstance(taken.args[0], Value):
                continue
            found = products.get((taken.args[0].uid, w.uid))
            index, sig = taken.args[1], facts.of(row)
            width = _float_matrix(facts, taken.args[0])
            if found is None or not isinstance(index, Value) or facts.of(index) != ("int",) \
                    or sig is None or sig[0] != "array" or sig[2] != width[1:]:
                continue
            block.ops[k] = Op("getitem", [found, index], [op.result], {}, [], op.loc)


def _blocks(block: Block) -> list[Block]:
    return [block] + [b for op in block.ops for inner in op.blocks for b in _blocks(inner)]


def _name_of(v: Value) -> str:
    return (v.name or "rows").removesuffix("_items")


def _float_matrix(facts: Facts, v: Value) -> tuple | None:
    """The static shape of a float64 matrix (two dimensions), else None."""
    sig = facts.of(v)
    if sig is None or sig[0] != "array" or sig[1] is not np.ndarray or sig[3] != np.float64 \
            or len(sig[2]) != 2:
        return None
    return sig[2]
