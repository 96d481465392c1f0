"""An adjoint's sum over one axis of a broadcast product, as stacked matrix products.

The adjoint of ``d = R[:, None, :] - R[None, :, :]`` (pairwise differences) sums
``d_bar`` over each broadcast axis, and ``d_bar`` is often ``np.expand_dims(c, -1) * d``
(a pair weight times the difference: ``sum_adjoint`` spread by broadcasting,
specialize_sums.py).  Made as written, that is an array of d's shape, filled with a
short last axis NumPy's loops handle slowly, then summed twice.  Each sum is a
vector-matrix product per remaining index instead: summed over axis 1,
``(c[..., None, :] @ d)[..., 0, :]``; over axis 0, the same with that axis moved
next to last.  Where every use of the product is such a sum, the product is never
made.  The sums are adjoints, so the terms may be added in another order (a primal
sum is never rewritten: its value is the function's own).
"""
from __future__ import annotations

import numpy as np

from ..builder import Builder
from ..ir import Block, Const, Op, Value
from ..registry import REGISTRY
from ..registry.emit import param
from .static_shapes import Facts, is_array


def contracted(op: Op, made: dict[int, Op], users: dict[int, list[Op | None]], facts: Facts,
               primal: set[int]) -> list[Op] | None:
    """`op` (a sum of an adjoint over one axis) as stacked matrix products, where its
    operand is ``np.expand_dims(c, -1) * d`` summed by nothing but such sums."""
    found = _summed(op, facts, primal)
    if found is None:
        return None
    product, axis = found
    parts = _factors(made.get(product.uid), made, facts)
    if parts is None or axis >= parts[2]:
        return None
    for user in users.get(product.uid, [None]):
        other = None if user is None else _summed(user, facts, primal)
        if other is None or other[1] >= parts[2]:
            return None
    weights, d, rank = parts
    b = Builder(Block())
    b.loc = op.loc
    if rank == 1:  # (n,) weights of (n, k) rows: one vector-matrix product
        b.emit("matmul", [weights, d]).results = [op.result]
        return b.block.ops
    if axis != rank - 1:  # the summed axis last in the weights, next to last in d
        order = tuple(k for k in range(rank) if k != axis) + (axis,)
        weights = _transposed(b, weights, None if order == (1, 0) else order)
        d = _transposed(b, d, order + (rank,))
    whole = [Const(slice(None))] * (rank - 1)
    rows = b.emit("getitem", [weights, *whole, Const(None), Const(slice(None))]).result
    stacked = b.emit("matmul", [rows, d]).result
    b.emit("getitem", [stacked, *whole, Const(0), Const(slice(None))])
    b.block.ops[-1].results = [op.result]
    return b.block.ops


def _transposed(b: Builder, x: Value, axes: tuple[int, ...] | None) -> Value:
    """``np.transpose(x, axes)`` (all axes reversed where `axes` is None)."""
    args = [x] if axes is None else [x, Const(axes)]
    attrs = {"fn": REGISTRY["transpose"].fn, "kwnames": (), "family": "numpy"}
    return b.emit("transpose", args, attrs=attrs).result


def _summed(op: Op, facts: Facts, primal: set[int]) -> tuple[Value, int] | None:
    """(operand, axis) of an adjoint's float64 sum over one axis other than the last:
    ``np.sum(p, axis=a)`` or ``np.einsum('ijk->ik', p)``."""
    if len(op.results) != 1 or op.result.uid in primal:
        return None
    if op.prim == "sum":
        operand, axis, keepdims = op.args[0], param(op, "axis"), param(op, "keepdims")
        if not (isinstance(axis, Const) and isinstance(keepdims, Const)) or keepdims.value \
                or type(axis.value) is not int:
            return None
        axes = (axis.value,)
    elif op.prim == "einsum" and len(op.args) == 2 and isinstance(op.args[0], Const) \
            and isinstance(op.args[0].value, str) and not op.attrs.get("kwnames"):
        operand, spec = op.args[1], op.args[0].value
        inputs, _, output = spec.partition("->")
        if not _arrow(spec) or len(set(inputs)) != len(inputs) \
                or output != "".join(c for c in inputs if c in output):
            return None
        axes = tuple(k for k, c in enumerate(inputs) if c not in output)
    else:
        return None
    sig = facts.of(operand)
    if not isinstance(operand, Value) or not is_array(sig) or sig[3] != np.float64 \
            or len(axes) != 1:
        return None
    ndim = len(sig[2])
    if not -ndim <= axes[0] < ndim or axes[0] % ndim == ndim - 1:
        return None
    return operand, axes[0] % ndim


def _arrow(spec: str) -> bool:
    inputs, arrow, output = spec.partition("->")
    return bool(arrow) and inputs.isalpha() and (output.isalpha() or output == "")


def _factors(product: Op | None, made: dict[int, Op], facts: Facts
             ) -> tuple[Value, Value, int] | None:
    """(c, d, rank of c) where `product` is ``np.expand_dims(c, -1) * d`` of float64
    arrays, c of shape S and d of shape S + (k,)."""
    if product is None or product.prim != "mul" or len(product.args) != 2 \
            or not all(isinstance(a, Value) for a in product.args):
        return None
    for k in (0, 1):
        spread, d = product.args[k], product.args[1 - k]
        d_sig = facts.of(d)
        if not is_array(d_sig) or d_sig[3] != np.float64 or len(d_sig[2]) < 2 \
                or facts.of(product.result) != d_sig:
            continue
        spreading = made.get(spread.uid)
        if spreading is None or spreading.prim != "expand_dims" or len(spreading.args) != 2 \
                or not isinstance(spreading.args[1], Const) or spreading.args[1].value != -1 \
                or type(spreading.args[1].value) is not int \
                or not isinstance(spreading.args[0], Value):
            continue
        spread_sig = facts.of(spread)  # (c itself may be new: a scaled adjoint)
        if is_array(spread_sig) and spread_sig[3] == np.float64 \
                and spread_sig[2] == d_sig[2][:-1] + (1,):
            return spreading.args[0], d, len(d_sig[2]) - 1
    return None
