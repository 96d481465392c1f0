"""``np.nan_to_num``: an elementwise function with keyword arguments (``nan=``,
``posinf=``, ``neginf=``), so declared as an array primitive, whose derivative is 1
where `x` is finite and 0 where a value was replaced.  Importing this module adds its
entries to the tables of tensor_rules.py, which imports it last."""
from __future__ import annotations

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
