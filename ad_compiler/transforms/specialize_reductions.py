"""Adjoints of full reductions in specialised code: ``sum_adjoint(1.0, y) * 100.0 * d``
is ``100.0 * d`` where `d` already has y's shape, so an adjoint spread over a full
reduction, and constant multiples of it, stay the scalars they are wherever
broadcasting would widen them anyway (`ReductionAdjoints.drop_broadcasts()`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Const, Function, Op, Operand, Value
from ..primitives import OPERATOR_FUNCTIONS
from .specialize_sums import blocks_of, use_counts
from .static_shapes import is_array


class ReductionAdjoints:
    """The rewriter's handling of adjoints of full reductions (a mixin of the
    `_Rewriter` of specialize_rules.py)."""

    def drop_broadcasts(self, fn: Function) -> None:
        """``sum_adjoint(1.0, y) * 100.0 * d`` is ``100.0 * d`` when `d` already has
        y's shape: an adjoint spread over a full reduction, and constant multiples of
        it, stay scalars wherever broadcasting would widen them anyway."""
        users: dict[int, list[Op | None]] = {}
        spread: dict[int, float] = {}  # value -> the scalar it is, spread over its shape
        self.uses = use_counts(fn.body)
        for block in blocks_of(fn.body):
            for y in block.yields:
                if isinstance(y, Value):
                    users.setdefault(y.uid, []).append(None)
            for op in block.ops:
                for a in op.args:
                    if isinstance(a, Value):
                        users.setdefault(a.uid, []).append(op)
                scalar = self._spread(op, spread)
                if scalar is not None:
                    spread[op.result.uid] = scalar
        memo: dict[int, bool] = {}

        def droppable(uid: int) -> bool:
            if uid not in memo:
                memo[uid] = False  # values only feed later ops: no cycle reaches here
                memo[uid] = bool(users.get(uid)) and all(
                    user is not None and (
                        (user.result.uid in spread and droppable(user.result.uid))
                        or self._widens(user, uid)) for user in users[uid])
            return memo[uid]

        for block in blocks_of(fn.body):  # sum_adjoint(g, x, 1, True) * x: g broadcasts itself
            for op in block.ops:
                g = self._broadcasts_itself(op)
                if g is not None and op.result.uid not in spread and users.get(op.result.uid) \
                        and all(u is not None and self._widens(u, op.result.uid)
                                for u in users[op.result.uid]):
                    for user in users[op.result.uid]:
                        user.args = [g if a is op.result else a for a in user.args]
                    self.changed = True
        for uid, scalar in spread.items():
            if not droppable(uid):
                continue
            for user in users[uid]:
                if user.result.uid in spread:
                    continue  # dead once its own users take the scalar
                user.args = [Const(scalar) if isinstance(a, Value) and a.uid == uid else a
                             for a in user.args]
                self._drop_unit_factor(user)
            self.changed = True

    def _broadcasts_itself(self, op: Op) -> Operand | None:
        """The `g` of ``sum_adjoint(g, x, axis, keepdims)`` when broadcasting `g` against
        an array shaped like `x` already lines it up (kept dims, or leading axes)."""
        if op.prim != "sum_adjoint":
            return None
        g, x = (self.facts.of(a) for a in op.args[:2])
        if len(op.args) == 2 and is_array(x) and (  # a number spreads over x as it is
                g == ("float",) or (g == ("scalar", np.float64) and x[3] == np.float64)):
            return op.args[0]
        if len(op.args) < 3 or not is_array(g):
            return None
        axis, keepdims = op.args[2], op.args[3] if len(op.args) > 3 else Const(False)
        if not (is_array(x) and isinstance(axis, Const) and isinstance(keepdims, Const)):
            return None
        if keepdims.value is True:
            return op.args[0]
        axes = axis.value if isinstance(axis.value, tuple) else (axis.value,)
        ndim = len(x[2])
        if all(isinstance(a, int) for a in axes) and \
                sorted(a % ndim for a in axes) == list(range(len(axes))):
            return op.args[0]  # leading axes: g lines up with x's trailing ones
        return None

    def _spread(self, op: Op, spread: dict[int, float]) -> float | None:
        sig = self.facts.of(op.result) if len(op.results) == 1 else None
        if not (is_array(sig) and sig[3].kind == "f"):
            return None
        if op.prim in ("sum_adjoint", "mean_adjoint"):
            g = op.args[0]
            if isinstance(g, Value) and g.uid in spread:
                value = spread[g.uid]
            elif isinstance(g, Const) and type(g.value) is float:
                value = g.value
            else:
                return None
            axis = op.args[2] if len(op.args) > 2 else Const(None)
            if not isinstance(axis, Const):
                return None
            return value / (_count(sig[2], axis.value) if op.prim == "mean_adjoint" else 1)
        if op.prim not in ("mul", "add", "sub", "truediv", "neg"):
            return None
        values = []
        for a in op.args:
            if isinstance(a, Value) and a.uid in spread:
                values.append(spread[a.uid])
            elif isinstance(a, Const) and type(a.value) in (int, float):
                values.append(float(a.value))
            else:
                return None
        if len(values) == len(op.args) and any(isinstance(a, Value) for a in op.args):
            try:
                return float(OPERATOR_FUNCTIONS[op.prim](*values))
            except ArithmeticError:
                return None
        return None

    def _widens(self, user: Op, uid: int) -> bool:
        """Whether `user` gives the same result with a scalar in place of value `uid`."""
        if user.prim not in ("mul", "add", "sub", "truediv") or len(user.results) != 1:
            return False
        others = [self.facts.of(a) for a in user.args
                  if not (isinstance(a, Value) and a.uid == uid)]
        result = self.facts.of(user.result)
        if not (len(others) == 1 and is_array(others[0]) and is_array(result)
                and others[0][2] == result[2]):
            return False
        # a Python float leaves a float array's dtype as it is, and makes a bool or
        # int array float64 (NumPy 2's promotion of Python scalars)
        dtype = others[0][3]
        return dtype == result[3] or (dtype.kind in "biu" and result[3] == np.float64)

    def _drop_unit_factor(self, op: Op) -> None:
        """``1.0 * d`` (a unit seed put back as a scalar) is ``d``, where `d` is an array
        this code made (so the product was not needed as a copy)."""
        if op.prim != "mul":
            return
        for k in (0, 1):
            other = op.args[1 - k]
            if isinstance(op.args[k], Const) and op.args[k].value == 1.0 and self._fresh(other) \
                    and self.uses.get(other.uid) == 1 \
                    and self.facts.of(other) == self.facts.of(op.result):
                self.replace[op.result.uid] = other
                self.inherit_name(op.result, other)
                return


def _count(shape: tuple, axis: Any) -> int:
    """How many elements a reduction over `axis` of an array of `shape` combines."""
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))
