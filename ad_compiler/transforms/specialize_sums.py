"""Sums and products in specialised code, made with fewer passes over the data.

Adjoint rules work by parts: ``unbroadcast(g, x[:, None])`` sums the broadcast axis
keeping it, and the adjoint of ``x[:, None]`` then sums that axis of length one away;
the adjoint of ``a - b`` negates a whole array before ``b``'s part of it is summed;
``sum_adjoint(g, x, -1) * (2.0 * d)`` fills an array of x's shape to multiply it.
Once the shapes are known (``specialize.py``), these are written as a person would:

* ``np.sum(np.sum(g, axis=1, keepdims=True), axis=1)`` is ``np.sum(g, axis=1)``;
* ``np.sum(-g, axis=0)`` is ``-np.sum(g, axis=0)`` (the negation on the smaller array);
* a sum over a last axis of a few elements (``np.sum(d ** 2, axis=-1)`` of vectors in
  3-d) is ``w[..., 0] + w[..., 1] + w[..., 2]``: NumPy adds such an axis in that order
  too, so the value is the same (NumPy starts from 0.0, so where every term is -0.0
  its sum is 0.0 and this one -0.0, which compares equal), but its reduction loop
  costs far more per element than whole-array additions; an adjoint's sum over inner
  axes is an ``np.einsum``;
* a reduction's adjoint spread only to meet arrays of the operand's shape is
  ``np.expand_dims(2.0 * g, -1) * d``, broadcast as it multiplies;
* a negation or a power of two scaling a product of temporaries scales a number in it
  (``a * (-6.0 * b)``), exactly.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..builder import Builder
from ..ir import Block, Const, Function, Op, Operand, Value, readers_of
from ..registry.emit import array_op, param
from ..rules import new_axes_of
from .specialize_contractions import contracted
from .static_shapes import Facts, is_array

# a last axis at most this long is summed by adding its slices (NumPy's pairwise
# summation adds blocks of fewer than eight elements one after another, in order)
SHORT_AXIS = 7


def simplify_sums(fn: Function, facts: Facts) -> bool:
    """Rewrite the sums of `fn` (specialised code) in place; whether any changed."""
    uses = use_counts(fn.body, {})
    primal = getattr(fn, "primal", None) or set()
    users = readers_of(fn.body)
    changed = False
    for block in blocks_of(fn.body):
        made = {r.uid: op for op in block.ops for r in op.results}
        ops: list[Op] = []
        for op in block.ops:
            if op.prim == "sum_adjoint":
                spread = _spread_by_broadcasting(op, users, facts, made, uses)
                if spread is not None:
                    ops += spread
                    changed = True
                    continue
            replacement = None
            if op.prim in ("sum", "einsum"):
                replacement = contracted(op, made, users, facts, primal)
            if replacement is None and op.prim == "sum" and len(op.results) == 1:
                replacement = _fused(op, made, uses, facts) or _negation_last(op, made, uses) \
                    or _short_axis(op, facts) or (None if op.result.uid in primal
                                                  else _inner_axes(op, facts))
            if replacement is not None:
                ops += replacement
                for new in replacement:
                    for r in new.results:
                        made[r.uid] = new
                changed = True
                continue
            ops.append(op)
        block.ops = ops
    return changed


def _static_axes(op: Op) -> tuple[tuple[int, ...], bool] | None:
    """The axes (as a tuple) and keepdims of a sum, where both are constants."""
    axis, keepdims = param(op, "axis"), param(op, "keepdims")
    if not (isinstance(axis, Const) and isinstance(keepdims, Const)):
        return None
    value = axis.value
    if value is None:
        return None
    axes = value if isinstance(value, tuple) else (value,)
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        return None
    return axes, bool(keepdims.value)


def _only_use(operand: Operand, made: dict[int, Op], uses: dict[int, int]) -> Op | None:
    if isinstance(operand, Value) and uses.get(operand.uid) == 1:
        return made.get(operand.uid)
    return None


def _fused(op: Op, made: dict[int, Op], uses: dict[int, int], facts: Facts) -> list[Op] | None:
    """``np.sum(np.sum(g, axis=A, keepdims=True), axis=A)`` -> ``np.sum(g, axis=A)``."""
    inner = _only_use(op.args[0], made, uses)
    outer_axes, inner_axes = _static_axes(op), None
    if inner is not None and inner.prim == "sum":
        inner_axes = _static_axes(inner)
    if outer_axes is None or inner_axes is None or not inner_axes[1]:
        return None
    g = inner.args[0]
    sig = facts.of(g)
    if not is_array(sig):
        return None
    ndim = len(sig[2])
    normal = [sorted({a % ndim for a in axes}) for axes in (outer_axes[0], inner_axes[0])
              if all(-ndim <= a < ndim for a in axes)]
    if len(normal) != 2 or normal[0] != normal[1]:
        return None
    return _sum(op, g, outer_axes[0], outer_axes[1])  # (the inner sum is dead now)


def _negation_last(op: Op, made: dict[int, Op], uses: dict[int, int]) -> list[Op] | None:
    """``np.sum(-g, axis=k)`` -> ``-np.sum(g, axis=k)``: the sum is linear."""
    inner = _only_use(op.args[0], made, uses)
    if inner is None or inner.prim != "neg" or _static_axes(op) is None:
        return None
    axes, keepdims = _static_axes(op)
    b = Builder(Block())
    b.loc = op.loc
    total = _emit_sum(b, inner.args[0], axes, keepdims)
    negated = b.emit("neg", [total])
    negated.results = [op.result]
    return b.block.ops


def _short_axis(op: Op, facts: Facts) -> list[Op] | None:
    """``np.sum(w, axis=-1)`` over a last axis of a few float64 elements, as the sum of
    its slices ``w[..., 0] + w[..., 1] + ...`` (the same additions in the same order)."""
    static = _static_axes(op)
    sig = facts.of(op.args[0])
    if static is None or static[1] or not is_array(sig) or sig[3] != np.float64:
        return None
    shape = sig[2]
    (axes, _) = static
    if len(axes) != 1 or not shape or axes[0] % len(shape) != len(shape) - 1 \
            or not 2 <= shape[-1] <= SHORT_AXIS or len(shape) < 2:
        return None
    b = Builder(Block())
    b.loc = op.loc
    total: Operand | None = None
    for k in range(shape[-1]):
        part = b.emit("getitem", [op.args[0], Const(Ellipsis), Const(k)]).result
        total = part if total is None else b.emit("add", [total, part]).result
    last = b.block.ops[-1]
    last.results = [op.result]
    return b.block.ops


def _inner_axes(op: Op, facts: Facts) -> list[Op] | None:
    """An adjoint's sum over inner axes with a few elements after them (``np.sum(g,
    axis=1)`` of pairs of 3-vectors), as ``np.einsum('ijk->ik', g)``: NumPy's reduction
    loop runs over those few trailing elements, einsum's over the summed axis."""
    static = _static_axes(op)
    sig = facts.of(op.args[0])
    if static is None or static[1] or not is_array(sig) or sig[3] != np.float64:
        return None
    shape = sig[2]
    ndim = len(shape)
    if not all(-ndim <= a < ndim for a in static[0]):
        return None
    axes = sorted({a % ndim for a in static[0]})
    if ndim > 8 or axes[-1] == ndim - 1 or axes == list(range(len(axes))) \
            or int(np.prod(shape[axes[-1] + 1:])) > SHORT_AXIS:
        return None  # (leading axes are summed over contiguous rows already)
    letters = "ijklmnop"[:ndim]
    spec = letters + "->" + "".join(c for k, c in enumerate(letters) if k not in axes)
    b = Builder(Block())
    b.loc = op.loc
    array_op(b, "einsum", {"subscripts": Const(spec)}, [op.args[0]])
    b.block.ops[-1].results = [op.result]
    return b.block.ops


def view_adjoint(op: Op, parts: tuple | None, sigs: list,
                 same: Callable[[Op, Operand], list[Op]], facts: Facts) -> list[Op] | None:
    """``index_update(x, (slice(None), None), g)`` of an array `x` (whose kind the
    generic code could not tell): `g`, which has the view's shape, summed over the new
    axes, as ``rules.new_axes`` makes it where the kind is known.  `same` replaces the
    op's result by an operand; the result is recorded in `facts` as the array it is now."""
    axes = None if parts is None else new_axes_of(list(parts))
    value = sigs[2]
    if axes is None or not is_array(value) or not is_array(sigs[0]):
        return None
    shape, base = list(value[2]), tuple(sigs[0][2])
    ndim = len(shape)
    if ndim != len(base) + len(axes) or any(shape[a % ndim] != 1 for a in axes):
        return None
    kept = [n for k, n in enumerate(shape) if k not in {a % ndim for a in axes}]
    if tuple(kept) != base:
        return None
    if not axes:
        return same(op, op.args[2])
    facts.sig[op.result.uid] = ("array", np.ndarray, base, value[3])
    return _sum(op, op.args[2], axes, False)


def _spread_by_broadcasting(op: Op, users: dict[int, list[Op | None]], facts: Facts,
                            made: dict[int, Op], uses: dict[int, int]) -> list[Op] | None:
    """``sum_adjoint(g, x, -1) * (2.0 * d)``, where every use of the spread adjoint is
    arithmetic with an array of x's shape, is ``np.expand_dims(2.0 * g, -1) * d``:
    broadcasting spreads `g` as it multiplies, no array of x's shape is filled, and a
    power of two scaling the other factor scales the smaller one (exactly the same)."""
    if len(op.args) not in (3, 4) or op.result.uid in facts.sig and not is_array(
            facts.of(op.result)):
        return None
    g, x, axis = op.args[:3]
    keepdims = op.args[3] if len(op.args) == 4 else Const(False)
    sig = facts.of(x)
    if not (isinstance(axis, Const) and isinstance(keepdims, Const) and keepdims.value is False
            and is_array(sig) and sig[3].kind == "f" and is_array(facts.of(g))):
        return None
    axes = axis.value if isinstance(axis.value, tuple) else (axis.value,)
    if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        return None
    for user in users.get(op.result.uid, [None]):
        if user is None or user.prim not in ("mul", "add", "sub", "truediv") \
                or len(user.args) != 2 or user.args[0] is user.args[1]:
            return None
        other = user.args[1] if user.args[0] is op.result else user.args[0]
        if not (facts.of(other) == sig and facts.of(user.result) == sig):
            return None
    dtype = facts.of(g)[3]
    b = Builder(Block())
    b.loc = op.loc
    scaled = _scaled_by_power_of_two(users[op.result.uid], op.result, made, uses)
    if scaled is not None:
        user, factor, rest = scaled
        g = b.emit("mul", [factor, g]).result
        user.args = [op.result if a is op.result else rest for a in user.args]
    array_op(b, "expand_dims", {"a": g, "axis": axis})
    b.block.ops[-1].results = [op.result]
    ndim = len(sig[2])
    shape = tuple(1 if k in {a % ndim for a in axes} else n for k, n in enumerate(sig[2]))
    facts.sig[op.result.uid] = ("array", np.ndarray, shape, dtype)
    return b.block.ops


def _scaled_by_power_of_two(users: list[Op | None], spread: Value, made: dict[int, Op],
                            uses: dict[int, int]) -> tuple[Op, Const, Operand] | None:
    """``spread * (2.0 * d)``, the one use of `spread`, with ``2.0 * d`` read only there:
    (that product, the factor 2.0, d)."""
    if len(users) != 1 or users[0] is None or users[0].prim != "mul":
        return None
    user = users[0]
    other = user.args[1] if user.args[0] is spread else user.args[0]
    inner = _only_use(other, made, uses)
    if inner is None or inner.prim != "mul":
        return None
    for k, a in enumerate(inner.args):
        if isinstance(a, Const) and type(a.value) is float and a.value != 0 and \
                math.isfinite(a.value) and math.frexp(abs(a.value))[0] == 0.5:
            return user, a, inner.args[1 - k]
    return None


def factor_folded(fn: Function, product: Operand, op: Op, factor: float,
                  only_use: Callable[[Operand, str], Op | None]) -> bool:
    """``-(a * (3.0 * b))`` as ``a * (-3.0 * b)``, ``2.0 * (a * (3.0 * b))`` as ``a * (6.0
    * b)``: `op` (the negation, or the product by a power of two `factor`, which scale
    exactly) folded into a number `product` is a multiple of, through temporaries that
    are products read once (`only_use` finds a value's product), so that it needs no
    pass of its own; `product` then takes op's name (``z_bar``).  False, changing
    nothing, where there is no such number."""
    derived, primal = getattr(fn, "derived", {}), getattr(fn, "primal", None) or set()

    def temporary(operand: Operand, renamed: bool = False) -> Op | None:
        made = only_use(operand, "mul")
        if made is None or made.result.uid in primal or not renamed and (
                made.result.name is not None or made.result.uid in derived):
            return None  # (a value with a name of its own keeps its meaning)
        return made

    if not isinstance(product, Value):
        return False
    pending = [temporary(product, renamed=True)]  # (it takes op's name)
    while pending:
        found = pending.pop()
        if found is None:
            continue
        for k, a in enumerate(found.args):
            if isinstance(a, Const) and type(a.value) is float:
                found.args = [Const(factor * a.value) if j == k else b
                              for j, b in enumerate(found.args)]
                product.name = op.result.name
                if op.result.uid in derived:
                    derived[product.uid] = derived[op.result.uid]
                else:
                    derived.pop(product.uid, None)
                return True
        pending += [temporary(a) for a in found.args]
    return False


def _sum(op: Op, g: Operand, axes: tuple[int, ...], keepdims: bool) -> list[Op]:
    b = Builder(Block())
    b.loc = op.loc
    _emit_sum(b, g, axes, keepdims)
    b.block.ops[-1].results = [op.result]
    return b.block.ops


def _emit_sum(b: Builder, g: Operand, axes: tuple[int, ...], keepdims: bool) -> Any:
    given = {"a": g, "axis": Const(axes if len(axes) > 1 else axes[0])}
    if keepdims:
        given["keepdims"] = Const(True)
    return array_op(b, "sum", given)


def use_counts(block: Block, uses: dict[int, int] | None = None) -> dict[int, int]:
    """How often each value is read: by ops, and by the yields of blocks."""
    uses = {} if uses is None else uses
    get = uses.get
    for op in block.ops:
        for operand in op.args:
            if type(operand) is Value:
                uses[operand.uid] = get(operand.uid, 0) + 1
    for operand in block.yields:
        if isinstance(operand, Value):
            uses[operand.uid] = get(operand.uid, 0) + 1
    for op in block.ops:
        for inner in op.blocks:
            use_counts(inner, uses)
    return uses


def blocks_of(block: Block) -> list[Block]:
    """`block` and the blocks nested in it."""
    out = [block]
    for op in block.ops:
        for inner in op.blocks:
            out += blocks_of(inner)
    return out
