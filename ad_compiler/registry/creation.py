"""Arrays made from values: np.array, full, full_like, linspace, arange.

They give their result a dtype they may be told (`casting`): cast to integers, the
result is piecewise constant and its derivative zero.  ``np.linspace`` and
``np.arange`` are not constants but linear in their endpoints, start and step.
"""
from __future__ import annotations

import numpy as np

from .. import batched, batched_shaping, runtime_arrays, runtime_products
from ..ir import Const, Op, Operand
from .core import array, helper
from .emit import Emit, array_op, param, position, replaced


def _is_const_none(operand: Operand) -> bool:
    return isinstance(operand, Const) and operand.value is None


def _batched_array(e: Emit, given: dict, variadic: list) -> Operand:
    """np.array of batched items stacks their directions too."""
    return array_op(e.b, "array", given, variadic)


array("array", np.array, "object*, dtype=None", np.asarray, np.asanyarray, methods=("astype",), linear=True,
      casting=True, batched=_batched_array,
      vjp=lambda e, op, g: [e.helper("cast_like", g, op.args[0])
                            if not _is_const_none(param(op, "dtype")) else g])
# the fill value is broadcast to the whole array: its adjoint sums it back
array("full", np.full, "shape, fill_value*, dtype=None", linear=True, casting=True,
      vjp=lambda e, op, g: [None, e.helper("unbroadcast", g, op.args[1])],
      batched=(batched.batched_full, ("shape", "fill_value", "dtype")))
array("full_like", np.full_like, "a, fill_value*, dtype=None", linear=True, casting=True,
      vjp=lambda e, op, g: [None, e.helper("unbroadcast", g, op.args[1])],
      batched=(batched.batched_full_like, ("a", "fill_value", "dtype")))


# ------------------------------------------------------------------ np.linspace, np.arange

def _no_retstep(op: Op) -> None:
    retstep = param(op, "retstep")
    if not (isinstance(retstep, Const) and retstep.value is False):
        raise NotImplementedError("np.linspace with retstep has no rule (compute the step "
                                  "as (stop - start) / (num - 1) instead)")


def _linspace_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    """np.linspace is linear in its two endpoints together: the same samples of their
    tangents (zeros shaped like an endpoint that has none)."""
    _no_retstep(op)
    if t[0] is None and t[1] is None:
        return None
    ends: list[Operand] = []
    for k in (0, 1):
        if t[k] is not None:
            ends.append(t[k])
        elif isinstance(op.args[k], Const) and np.ndim(op.args[k].value) == 0:
            ends.append(Const(0.0))
        else:
            zero = e.helper("zeros_of", op.args[k])
            ends.append(zero if e.batched is None else e.expand_dims(zero, axis=-1))
    if e.batched is None:
        return replaced(e.b, op, {0: ends[0], 1: ends[1]})
    return e.batched_call(batched.batched_linspace, *ends, param(op, "num"),
                          param(op, "endpoint"), param(op, "axis"))


def _linspace_adjoint(e: Emit, op: Op, g: Operand, which: int) -> Operand:
    _no_retstep(op)
    return e.helper("linspace_adjoint", g, which, op.args[0], op.args[1], param(op, "num"),
                    param(op, "endpoint"), param(op, "axis"))


def _arange_steps(e: Emit, op: Op) -> Operand:
    """0, 1, 2, ... as many as the values of an np.arange op."""
    return e.call(np.arange, e.call(len, op.result))


def _arange_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    start, step = position(op, "start"), position(op, "step")
    start_dot = t[start]
    step_dot = t[step] if step is not None else None
    if step_dot is None:
        return None if start_dot is None else e.broadcast_like(start_dot, op.result)
    moved = e.mul(step_dot, _arange_steps(e, op))
    return moved if start_dot is None else e.add(moved, start_dot)


def _arange_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    """``np.arange(a, b, s)`` is ``a + s * [0, 1, 2, ...]`` with a length that is
    piecewise constant in a, b and s: a gets the sum of the adjoint, s its sum weighted
    by the steps, b nothing."""
    parts: list[Operand | None] = [None] * len(op.args)
    start, step = position(op, "start"), position(op, "step")
    parts[start] = e.sum(g)
    if step is not None:
        parts[step] = e.sum(e.mul(g, _arange_steps(e, op)))
    return parts


array("linspace", np.linspace,
      "start*, stop*, num=50, endpoint=True, retstep=False, dtype=None, axis=0", casting=True,
      jvp=_linspace_jvp,
      vjp=lambda e, op, g: [_linspace_adjoint(e, op, g, k) for k in (0, 1)])
array("arange", np.arange, "start*, stop, step*=None, dtype=None",  # (a lone stop: a call)
      casting=True, jvp=_arange_jvp, vjp=_arange_vjp)

helper("linspace_adjoint", runtime_products.linspace_adjoint, (0,),
       batched=batched_shaping.batched_linspace_adjoint)
# (a cast of the whole batched array: each direction's, as it is)
helper("cast_like", runtime_arrays.cast_like, (0,), lambda e, g, a: [e.helper("cast_like", g, a[0])],
       batched=runtime_arrays.cast_like, shaped_like=1)
helper("zero_if_integral", runtime_products.zero_if_integral, (0,), jvp=lambda e, op, t: (
    None if t[0] is None else e._mark(e.helper("zero_if_integral", t[0], op.args[1]),
                                      [t[0]])),
    vjp=lambda e, g, a: [e.helper("zero_if_integral", g, a[1]), None], specializable=True)
