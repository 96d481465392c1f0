"""Elementwise-like library functions declared as array primitives: ``np.nan_to_num``
takes keyword arguments (``nan=``, ``posinf=``, ``neginf=``), and its derivative is 1
where `x` is finite and 0 where a value was replaced; ``math.dist(p, q)`` reduces two
sequences.  Importing this module adds their entries to the tables of
tensor_rules.py, which imports it last."""
from __future__ import annotations

import math

import numpy as np

from .ir import Const, Op, Operand
from .primitives import _array
from .tensor_rules import NONLINEAR_JVPS, VJPS, Emit

_array("nan_to_num", np.nan_to_num, "x*, copy=True, nan=0.0, posinf=None, neginf=None")


def _kept(e: Emit, op: Op, d: Operand) -> Operand:
    """`d` where nan_to_num's argument is finite (kept as it is), else 0."""
    return e.where(e.call(np.isfinite, op.args[0]), d, Const(0.0))


NONLINEAR_JVPS["nan_to_num"] = lambda e, op, t: _kept(e, op, t[0])
VJPS["nan_to_num"] = lambda e, op, g: [_kept(e, op, g)]


# ------------------------------------------------------------------ math.dist

_array("dist", math.dist, "p*, q*")


def _dist_parts(e: Emit, op: Op) -> tuple[Operand, Operand]:
    """``p - q`` as an array, and the distance where it is not 0, else 1: at p == q
    (where the distance has no derivative) the rules give 0, the subgradient there
    that is smallest."""
    p, q = (e.array("array", a) for a in op.args)
    zero = e.call(np.equal, op.result, Const(0.0))
    return e.sub(p, q), e.where(zero, Const(1.0), op.result)


def _dist_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    difference, distance = _dist_parts(e, op)
    moved = [e.array("array", d) if k == 0 else e.neg(e.array("array", d))
             for k, d in enumerate(t) if d is not None]
    return e.truediv(e.sum(e.mul(difference, e.sum_terms(moved))), distance)


def _dist_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    difference, distance = _dist_parts(e, op)
    p_bar = e.mul(g, e.truediv(difference, distance))
    return [p_bar, e.neg(p_bar)]


NONLINEAR_JVPS["dist"] = _dist_jvp
VJPS["dist"] = _dist_vjp
