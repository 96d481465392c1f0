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
result's before that is zeroed in place.
"""
from __future__ import annotations

from .. import runtime_writes
from ..ir import Const, Op, Operand, Value
from .core import helper
from .emit import Emit

MAY_REPEAT, BASIC, BASIC_ARRAY = 0, 1, 2


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
    if v_dot is None:
        v_dot = Const(0.0)
    out = e.helper("setitem", t_dot, v_dot, basic, *_index_for(e, t_dot, index))
    return e._mark(out, [t_dot, v_dot])


def _setitem_vjp(e: Emit, g: Operand, args: list) -> list:
    target, value, basic, *index = args
    kind = basic.value if isinstance(basic, Const) else MAY_REPEAT
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
    selected = e.b.emit("getitem", [g, *index]).result
    return [g, e.helper("unbroadcast", selected, value)] + [None] * len(index)


helper("add_at", runtime_writes.add_at, (0, 1), _add_at_vjp, joint=True, jvp=_add_at_jvp,
       shaped_like=0)
helper("cleared", runtime_writes.cleared, (0,), lambda e, g, a: [
    e.helper("setitem", g, Const(0.0), *a[2:])], opaque_kind=True)
helper("last_writes", runtime_writes.last_writes, (0,), lambda e, g, a: [
    e.helper("last_writes", g, *a[1:])], shaped_like=0)
helper("zeros_with_directions", runtime_writes.zeros_with_directions, (), nondiff=True)
