"""Adjoints summed over a backward loop's steps, as one product after the loop.

The backward loop of ``for x in xs: h = np.tanh(x @ W + h @ U + b)`` adds a matrix
into the adjoints of `W`, `U` and `b` at every step: ``U_bar + outer(h_t, g_t)``, an
outer product allocated per step.  Summed over the steps, these are one product of the
stacked factors, ``H.T @ G``, which is what a person writes.  So where a backward
loop carries an adjoint that starts at zero, is read by nothing but its own update,
and is updated only by ``acc + matmul_adjoint_b(g, a, W)`` or ``acc + unbroadcast(g, x)``
with `W` or `x` made outside the loop, the loop appends the step's factors to lists
instead (``g_steps.append(g)``), and the sum is one call after the loop
(`summed_matmul_adjoint_b()`, `summed_unbroadcast()` in `ad_compiler/runtime_writes.py`),
which stacks them where every step has the same shapes and adds step by step where
not.  Specialised to the input shapes, that call is ``np.array(h_steps).T @ G``
(`stacked_product()`).

The lists hold one array per step, as the tape already does.  A second derivative
differentiates the code before this rewrite (`per_step`): the sums are then formed
step by step, as the rules give them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import runtime_writes
from ..ir import Block, Const, ForOp, Function, Op, Operand, Value, walk_ops
from ..write_analysis import _makes_new

# the adjoint helpers whose sum over steps is one call on the stacked steps: the
# operand positions of the per-step factors, and of the value made outside the loop
_SUMMED = {
    "matmul_adjoint_b": ("summed_matmul_adjoint_b", (0, 1), 2),
    "unbroadcast": ("summed_unbroadcast", (0,), 1),
}


def stacked_adjoints(fn: Function) -> Function | None:
    """A copy of reverse-mode code `fn` whose backward loops sum such adjoints after the
    loop; None where no loop does.  The copy's `per_step` is `fn`."""
    from .specialize import _clone  # new blocks and ops, sharing the values

    if not any(isinstance(op, ForOp) and any(o.prim in _SUMMED for o in op.body.ops)
               for op in walk_ops(fn.body)):
        return None  # (most code: nothing to copy)
    clone = _clone(fn)
    if not _rewrite_block(clone.body, clone):
        return None
    clone.per_step = fn
    return clone


def _rewrite_block(block: Block, fn: Function) -> bool:
    changed = False
    ops: list[Op] = []
    for op in block.ops:
        for inner in op.blocks:
            changed = _rewrite_block(inner, fn) or changed
        made = _rewrite_loop(op, fn) if isinstance(op, ForOp) else None
        if made is None:
            ops.append(op)
        else:
            ops += made
            changed = True
    block.ops = ops
    return changed


def _rewrite_loop(loop: ForOp, fn: Function) -> list[Op] | None:
    body = loop.body
    uses: dict[int, int] = {}
    inside = {p.uid for p in body.params}
    for op in walk_ops(body):
        for a in op.args:
            if isinstance(a, Value):
                uses[a.uid] = uses.get(a.uid, 0) + 1
        for inner in op.blocks:
            inside.update(p.uid for p in inner.params)
            for y in inner.yields:
                if isinstance(y, Value):
                    uses[y.uid] = uses.get(y.uid, 0) + 1
        for r in op.results:
            inside.add(r.uid)
    for y in body.yields:
        if isinstance(y, Value):
            uses[y.uid] = uses.get(y.uid, 0) + 1
    producer = {r.uid: op for op in body.ops for r in op.results}
    # writes reverse mode makes in place whatever else reads the array (restoring what
    # a loop overwrote, adding into a list of adjoints): a step's factor that may be a
    # view of such an array would change under the list holding it, so there only new
    # arrays are kept (the writes code generation chooses see the list's reads)
    forced = any(o.attrs.get("in_place") or o.prim == "index_add" for o in walk_ops(body))

    summed: dict[int, Op] = {}  # carried position -> the helper term added at each step
    for k, (param, init, y) in enumerate(zip(loop.carried_params, loop.inits, body.yields)):
        term = _summed_term(param, init, y, uses, producer, inside)
        if term is not None and forced and not all(
                term.args[i].uid in producer and _makes_new(producer[term.args[i].uid])
                for i in _SUMMED[term.prim][1]):
            continue
        if term is not None:
            summed[k] = term
    if not summed:
        return None

    dropped = {id(producer[body.yields[k].uid]) for k in summed} | {id(t) for t in summed.values()}
    new_ops = [op for op in body.ops if id(op) not in dropped]
    # item uid -> the list's parameter, appended list, loop result and empty start
    lists: dict[int, tuple[Value, Value, Value, Value]] = {}
    before: list[Op] = []
    for term in summed.values():
        for i in _SUMMED[term.prim][1]:
            item = term.args[i]
            if item.uid in lists:
                continue
            start, param, grown, result = Value(), Value(), Value(), Value()
            for v in (start, param, grown, result):
                fn.derived[v.uid] = (item, "{}_steps")
            before.append(Op("pack", [], [start], {"kind": "list"}, [], loop.loc))
            attrs = {"fn": runtime_writes.appended, "kwnames": (), "in_place": True}
            new_ops.append(Op("appended", [param, item], [grown], attrs, [], term.loc))
            lists[item.uid] = (param, grown, result, start)

    keep = [k for k in range(len(loop.carried_params)) if k not in summed]
    new_body = Block([body.params[0], *(loop.carried_params[k] for k in keep),
                      *(p for p, _, _, _ in lists.values())],
                     new_ops,
                     [*(body.yields[k] for k in keep), *(g for _, g, _, _ in lists.values())])
    new_loop = loop.rebuilt(
        args=[loop.iterable, *(loop.inits[k] for k in keep), *(s for _, _, _, s in lists.values())],
        results=[*(loop.results[k] for k in keep), *(r for _, _, r, _ in lists.values())],
        blocks=[new_body])
    after = []
    for k, term in summed.items():
        helper, items, outside = _SUMMED[term.prim]
        args: list[Operand] = [lists[term.args[i].uid][2] for i in items]
        attrs: dict[str, Any] = {"fn": getattr(runtime_writes, helper), "kwnames": (),
                                 "steps": tuple(term.args[i] for i in items)}
        after.append(Op(helper, [*args, term.args[outside]], [loop.results[k]], attrs, [],
                        loop.loc))
    return [*before, new_loop, *after]


def _summed_term(param: Value, init: Operand, y: Operand, uses: dict[int, int],
                 producer: dict[int, Op], inside: set[int]) -> Op | None:
    """The helper op whose result the loop adds into the carried value `param` at each
    step, where that is all the loop does with it and the sum starts at zero."""
    if not (isinstance(init, Const) and type(init.value) is float and init.value == 0.0):
        return None
    if not isinstance(y, Value) or uses.get(param.uid) != 1 or uses.get(y.uid) != 1:
        return None
    update = producer.get(y.uid)
    if update is None or update.prim != "add" or param not in update.args \
            or update.args[0] is update.args[1]:
        return None
    term = update.args[1] if update.args[0] is param else update.args[0]
    made = producer.get(term.uid) if isinstance(term, Value) else None
    if made is None or made.prim not in _SUMMED or uses.get(term.uid) != 1 \
            or len(made.results) != 1:
        return None
    _, items, outside = _SUMMED[made.prim]
    if len(made.args) != outside + 1 or not all(isinstance(made.args[i], Value) for i in items):
        return None
    if isinstance(made.args[outside], Value) and made.args[outside].uid in inside:
        return None  # the matrix (or broadcast shape) changes from step to step
    return made


def stacked_product(op: Op, rewriter: Any, emit: Any) -> Operand | None:
    """Specialised code for a sum over steps (`op`, a `summed_*` call) where every step's
    factors have one static shape: the stacked lists (``np.array(g_steps)``, one per
    list of the same values) and plain NumPy, ``A.T @ G``, ``G @ A`` or
    ``np.sum(G, axis=0)``, the steps' own leading axes reshaped into the stacking axis;
    None where the shapes ask for the general helper.

    ``np.array`` of no steps is an empty vector, which each of these forms takes to
    zeros, or to the 0.0 the loop's sum starts from."""
    facts = rewriter.facts
    sigs = [facts.of(v) for v in op.attrs.get("steps", ())]
    if not sigs or not all(_static_float(s) for s in sigs):
        return None
    outside = facts.of(op.args[-1])
    if outside is None or outside[0] != "array":
        return None
    shapes = [s[2] if s[0] == "array" else () for s in sigs]
    ws = outside[2]
    if op.prim == "summed_unbroadcast":
        g_shape = shapes[0]
        if len(g_shape) < len(ws) or g_shape[len(g_shape) - len(ws):] != ws:
            return None  # axes of length 1 broadcast: the general helper
        g = _stacked(op.args[0], rewriter, emit)
        if g_shape != ws:
            g = emit.array("reshape", g, shape=(-1, *ws))
        return emit.array("sum", g, axis=0)
    (g_shape, a_shape), nb = shapes, len(ws)
    if not (a_shape and nb in (1, 2) and len(g_shape) == len(a_shape) + nb - 2):
        return None
    g, a = (_stacked(v, rewriter, emit) for v in op.args[:2])
    if len(a_shape) > 1:  # a stack of matrices: their rows are rows of the product
        a = emit.array("reshape", a, shape=(-1, ws[0]))
        g = emit.array("reshape", g, shape=(-1, *ws[1:]))
    if nb == 2:
        return emit.op("matmul", emit.transposed(a), g)
    return emit.op("matmul", g, a)


def _static_float(sig: tuple | None) -> bool:
    if sig is None:
        return False
    if sig[0] == "array":
        return sig[1] is np.ndarray and sig[3] == np.float64
    return sig == ("scalar", np.float64)


def _stacked(steps: Operand, rewriter: Any, emit: Any) -> Operand:
    """``np.array(steps)``, made once for lists of the same values (``g_rows``)."""
    key = steps.uid if isinstance(steps, Value) else id(steps)
    item = None
    loop = rewriter.producer.get(key)
    if isinstance(loop, ForOp) and steps in loop.results:
        k = loop.results.index(steps)
        grown = loop.body.yields[k]
        append = next((o for o in loop.body.ops if grown in o.results), None)
        if append is not None and append.prim == "appended" and isinstance(append.args[1], Value):
            item = append.args[1]  # (specialised: the value the step's factor became)
            key = item.uid
            for v in (loop.inits[k], append.args[0], grown, steps):
                if isinstance(v, Value):
                    rewriter.derived[v.uid] = (item, "{}_steps")
    if key not in rewriter.stacked:
        rows = rewriter.stacked[key] = emit.call(np.array, steps)
        if item is not None:
            rewriter.derived[rows.uid] = (item, "{}_rows")
    return rewriter.stacked[key]
