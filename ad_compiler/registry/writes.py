"""Writes into arrays, ``out[i] = v``: the `setitem` value (an array equal to `out`
but at `i`) and the helpers its derivatives use.

``setitem(target, value, kind, *index)`` is linear in `target` and `value` together.
Its tangent writes the value's tangent into the target's; its adjoint reads the
written places of the result's adjoint for the value (``v_bar = out_bar[i]``, summed
where `v` was broadcast) and zeroes them for the target (``out_bar[i] = 0``: what was
there before did not reach the result).  `kind` says what the lowering knows of the
index: `MAY_REPEAT`, an index array may write a place twice (`last_writes` keeps only
the place NumPy wrote last); `BASIC`, each place once; `BASIC_ARRAY`, each place once
into an array, whose selection is a view: the value's adjoint is copied out of the
result's before that is zeroed in place; `IF_ARRAY`, a slice of a value that may be a
list written back into it (``y = x[1:]; y[0] = v``): NumPy's slice is a view, so the
write changes `x` where it is an array, and a list's slice is a copy, so it does not
(`written_through`, and `view_part`, `view_cleared` for the adjoint, decide when the
code runs); `LIST_SLICE`, a slice of what may be a list: ``xs[1:3] = [a, b, c]`` may
change a list's length, so the adjoint finds the written items with `written_part`.
"""
from __future__ import annotations

from .. import runtime_writes
from ..ir import Const, IfOp, Op, Operand, Value
from ..runtime_writes import BASIC, BASIC_ARRAY, IF_ARRAY, LIST_SLICE, MAY_REPEAT  # noqa: F401
from .core import helper
from .emit import Emit
from .multilinear import linear_jvp


def _index_for(e: Emit, tangent: Operand, index: list[Operand]) -> list[Operand]:
    """A batched tangent has a trailing axis of directions: `...` must stop before it."""
    if e.is_batched(tangent) and any(isinstance(i, Const) and i.value is Ellipsis for i in index):
        return [*index, Const(slice(None))]
    return index


def _setitem_jvp(e: Emit, op: Op, tangents: list) -> Operand | None:
    target, value, basic, *index = op.args
    t_dot = tangents[0] if tangents else None
    v_dot = tangents[1] if len(tangents) > 1 else None
    if t_dot is None and v_dot is None:
        return None
    if t_dot is None:
        if e.batched is not None:
            t_dot = e._mark(e.helper("zeros_with_directions", target, v_dot), [v_dot])
        else:
            t_dot = e.helper("zeros_of", target)
        if isinstance(target, Value) and target.name and isinstance(t_dot, Value):
            t_dot.name = f"{target.name}_dot"  # written into next, under this name
    if v_dot is None and isinstance(basic, Const) and basic.value == LIST_SLICE:
        v_dot = e._mark(e.helper("zeros_with_directions", value, t_dot), [t_dot]) \
            if e.batched is not None else e.helper("zeros_of", value)  # as many items as v
    if v_dot is None:
        v_dot = Const(0.0)
    elif op.attrs.get("may_truncate"):  # written into integers, NumPy truncates it
        v_dot = e._mark(e.helper("zero_if_integral", v_dot, target), [v_dot])
    if isinstance(basic, Const) and basic.value == IF_ARRAY:  # written where target is an array
        out = e.helper("tangent_written_through", t_dot, v_dot, target,
                       *_index_for(e, t_dot, index))
        return e._mark(out, [t_dot, v_dot])
    out = e.helper("setitem", t_dot, v_dot, basic, *_index_for(e, t_dot, index))
    return e._mark(out, [t_dot, v_dot])


def _indexable(e: Emit, g: Operand, target: Operand) -> Operand:
    """The cotangent `g` of a write, as something to index: where an ``if`` passed it
    on, a branch that did not read the array passes the zero 0.0, which `dense` makes
    zeros of the target's shape (a loop's carried adjoint is dense already)."""
    if isinstance(g, Value) and e.batched is None and \
            isinstance(e.b.producers.get(g.uid), IfOp):
        return e.helper("dense", g, target)
    return g


def _setitem_vjp(e: Emit, g: Operand, args: list) -> list:
    target, value, basic, *index = args
    g = _indexable(e, g, target)
    kind = basic.value if isinstance(basic, Const) else MAY_REPEAT
    if kind == IF_ARRAY:  # nothing was written where the target is a list
        return [e.helper("view_cleared", g, target, *index),
                e.helper("view_part", g, target, value, *index)] + [None] * (len(args) - 2)
    if kind == LIST_SLICE:
        selected = e.helper("written_part", g, target, *index)
    else:
        selected = e.b.emit("getitem", [g, *index]).result
    if kind == BASIC_ARRAY:  # a view of g, which is zeroed next
        selected = e.b.emit("copy", [selected], attrs={"method_copy": True}).result
    elif kind == MAY_REPEAT:
        selected = e.helper("last_writes", selected, target, *index)
    value_bar = e.helper("unbroadcast", selected, value)
    if kind == BASIC_ARRAY:  # out_bar[i] = 0.0
        kept = e.helper("setitem", g, Const(0.0), basic, *index)
    else:  # a list's or dict's adjoint (a key the write added is dropped), or an array's
        kept = e.helper("cleared", g, target, basic, *index)
    return [kept, value_bar] + [None] * (len(args) - 2)


helper("setitem", runtime_writes.setitem, (0, 1), _setitem_vjp, joint=True, jvp=_setitem_jvp,
       shaped_like=0)
def _add_at_jvp(e: Emit, op: Op, tangents: list) -> Operand | None:
    target, value, *index = op.args
    t_dot = tangents[0] if tangents else None
    v_dot = tangents[1] if len(tangents) > 1 else None
    if v_dot is None:
        return t_dot
    if op.attrs.get("may_truncate"):  # added into integers, NumPy truncates the sum
        v_dot = e._mark(e.helper("zero_if_integral", v_dot, target), [v_dot])
    if t_dot is None:
        t_dot = e.helper("zeros_with_directions", target, v_dot) if e.batched is not None \
            else e.helper("zeros_of", target)
        if isinstance(target, Value) and target.name and isinstance(t_dot, Value):
            t_dot.name = f"{target.name}_dot"
    out = e.helper("add_at", t_dot, v_dot, *_index_for(e, t_dot, index))
    return e._mark(out, [t_dot, v_dot])


def _add_at_vjp(e: Emit, g: Operand, args: list) -> list:
    """Each place `v` was added at passes its adjoint back (a repeated index as often)."""
    target, value, *index = args
    g = _indexable(e, g, target)
    selected = e.b.emit("getitem", [g, *index]).result
    return [g, e.helper("unbroadcast", selected, value)] + [None] * len(index)


helper("add_at", runtime_writes.add_at, (0, 1), _add_at_vjp, joint=True, jvp=_add_at_jvp,
       shaped_like=0)
# (the transpose writes a zero into the cotangent, filled in first: a branch not taken
# passes a zero number)
helper("cleared", runtime_writes.cleared, (0,), lambda e, g, a: [
    e.helper("uncleared", g, *a) if isinstance(a[2], Const) and a[2].value == LIST_SLICE
    else e.helper("setitem", e.helper("dense", g, a[1]), Const(0.0), *a[2:])],
    opaque_kind=True)
helper("uncleared", runtime_writes.uncleared, (0,), lambda e, g, a: [
    e.helper("cleared", g, *a[1:])], opaque_kind=True, reads_items=True)
helper("written_part", runtime_writes.written_part, (0,), lambda e, g, a: [
    e.helper("written_part_t", g, *a)], opaque_kind=True, reads_items=True)
helper("written_part_t", runtime_writes.written_part_t, (0,), lambda e, g, a: [
    e.helper("written_part", g, *a[1:])], opaque_kind=True, reads_items=True)
helper("last_writes", runtime_writes.last_writes, (0,), lambda e, g, a: [
    e.helper("last_writes", g, *a[1:])], shaped_like=0)
helper("zeros_with_directions", runtime_writes.zeros_with_directions, (), nondiff=True)


def _appended_jvp(e: Emit, op: Op, tangents: list) -> Operand | None:
    items_dot = tangents[0] if tangents else None
    value_dot = tangents[1] if len(tangents) > 1 else None
    if items_dot is None and value_dot is None:
        return None
    out = e.helper("appended_tangent", items_dot or Const(0.0), value_dot or Const(0.0),
                   op.result)
    return e._mark(out, [t for t in (items_dot, value_dot) if t is not None])


def _pop_last_jvp(e: Emit, op: Op, tangents: list) -> Operand | None:
    if not tangents or tangents[0] is None:
        return None
    return e._mark(e.helper("pop_last", tangents[0]), tangents[:1])


def _appended_vjp(e: Emit, g: Operand, args: list) -> list:
    """``items + [value]``: the adjoint's head for `items`, its last item for `value`."""
    return _unsplit_last_vjp(e, g, args)[:2]


def _split_last_vjp(e: Emit, g: Operand, args: list) -> list:
    head, last = _head_and_last(e, g)
    return [e.helper("unsplit_last", head, last, args[0])]


def _head_and_last(e: Emit, g: Operand) -> tuple[Operand, Operand]:
    """The adjoints of a `split_last` result's two items: where `g` is the sum of their
    partial adjoints (``pair[0]``'s and ``pair[1]``'s), those, else `g`'s items."""
    parts: dict[int, list[Operand]] = {0: [], 1: []}
    made = e.b.producers.get(g.uid) if isinstance(g, Value) else None
    pending = [made.args[0]] if made is not None and made.prim == "dense" else [g]
    while pending:
        term = pending.pop()
        op = e.b.producers.get(term.uid) if isinstance(term, Value) else None
        if op is not None and op.prim == "accumulate":
            pending += op.args[::-1]
        elif op is not None and op.prim == "index_update" and isinstance(op.args[1], Const) \
                and op.args[1].value in (0, 1):
            parts[op.args[1].value].append(op.args[2])
        else:
            return (e.b.emit("getitem", [g, Const(0)]).result,
                    e.b.emit("getitem", [g, Const(1)]).result)
    head, last = (e.sum_terms(parts[k]) or Const(0.0) for k in (0, 1))
    return head, last


def _unsplit_last_vjp(e: Emit, g: Operand, args: list) -> list:
    pair = e.helper("split_last", g)
    return [e.b.emit("getitem", [pair, Const(0)]).result,
            e.b.emit("getitem", [pair, Const(1)]).result, None]


# items.append(value) in a loop's forward sweep (printed in place), and what the
# backward loop does with the list's adjoint.  Differentiated again in reverse mode,
# `pop_last` runs as `split_last`, which leaves the list as it was (transforms/appends.py),
# and `split_last` and `unsplit_last` are each other's transposes
helper("appended", runtime_writes.appended, (0, 1), _appended_vjp, joint=True,
       jvp=_appended_jvp, container_result=True)
helper("appended_tangent", runtime_writes.appended_tangent, (0, 1), None, joint=True,
       container_result=True)
helper("pop_last", runtime_writes.pop_last, (0,), _split_last_vjp, jvp=_pop_last_jvp,
       container_result=True)
helper("split_last", runtime_writes.split_last, (0,), _split_last_vjp, jvp=linear_jvp,
       container_result=True, view=True)
helper("unsplit_last", runtime_writes.unsplit_last, (0, 1), _unsplit_last_vjp, joint=True,
       jvp=linear_jvp)
helper("view_part", runtime_writes.view_part, (0,), None, jvp=linear_jvp)
helper("view_cleared", runtime_writes.view_cleared, (0,), None, jvp=linear_jvp, shaped_like=0)
helper("tangent_written_through", runtime_writes.tangent_written_through, (0, 1), None,
       joint=True, jvp=linear_jvp, shaped_like=0)
# sums over a loop's steps of matrix-product and broadcast adjoints, one product of the
# stacked steps after the backward loop (transforms/stacked_adjoints.py): code whose
# second derivatives differentiate its per-step form instead
helper("summed_matmul_adjoint_b", runtime_writes.summed_matmul_adjoint_b, (), None,
       specializable=True, unsupported="the derivative of a sum over stacked steps")
helper("summed_unbroadcast", runtime_writes.summed_unbroadcast, (), None,
       specializable=True, unsupported="the derivative of a sum over stacked steps")
# the stacked items of a tape, for factors of a backward loop computed for all its steps
# at once (transforms/tape_factors.py): only in code that runs, never differentiated
helper("tape_rows", runtime_writes.tape_rows, (), None,
       unsupported="the derivative of a tape's stacked items")
helper("tape_states", runtime_writes.tape_states, (), None,
       unsupported="the derivative of a tape's stacked items")
helper("popped_rows", runtime_writes.popped_rows, (), None,
       unsupported="the derivative of rows taken at a tape's indices")
helper("row_products", runtime_writes.row_products, (), None,
       unsupported="the derivative of products hoisted out of a loop")

# ``a += v`` of an array keeps its dtype (`keep_dtype`): a cast, whose derivative is
# the derivative of the result as it is
helper("keep_dtype", runtime_writes.keep_dtype, (1,), lambda e, g, a: [None, g],
       jvp=lambda e, op, t: t[1] if len(t) > 1 else None, says_nothing_of_arrays=True,
       kind_like=1)
