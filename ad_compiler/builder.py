"""Emitting ops into a block, simplifying as it goes.

Derivative rules build their code through a `Builder`, whose arithmetic folds
constants and applies the identities ``x*1 = x``, ``x+0 = x``, ``-(-x) = x`` at
construction time, so no ``x * 1.0`` or ``+ 0.0`` ever reaches generated code.
"""
from __future__ import annotations

import math
from typing import Any

from .ir import Block, Const, Op, Operand, SourceLoc, Value
from .primitives import OPERATOR_FUNCTIONS, PRIMITIVES, implementation


def _power_of_two(value: float) -> bool:
    """Multiplying by it is exact in floating point, so constants may be merged."""
    mantissa, _ = math.frexp(abs(value))
    return value != 0 and mantissa == 0.5


def is_const(operand: Operand, value: float | None = None) -> bool:
    if not isinstance(operand, Const) or isinstance(operand.value, bool):
        return False
    if not isinstance(operand.value, (int, float)):
        return False
    return value is None or operand.value == value


# the primitives `Builder._simplify` has identities for (others fold constants alone)
_SIMPLIFIED = frozenset({"add", "sub", "mul", "truediv", "neg", "pos", "pow"})


class Builder:
    """Appends ops to `block`; `loc` tags them with the source statement in progress."""

    def __init__(self, block: Block, producers: dict[int, Op] | None = None) -> None:
        self.block = block
        self.loc: SourceLoc | None = None
        self.producers: dict[int, Op] = producers if producers is not None else {}

    # -- raw emission
    def emit(self, prim: str, args: list[Operand], *, name: str | None = None,
             attrs: dict[str, Any] | None = None, n_results: int = 1) -> Op:
        results = [Value(name) for _ in range(n_results)]
        return self.append(Op(prim, list(args), results, dict(attrs or {}), loc=self.loc))

    def append(self, op: Op) -> Op:
        """Append an op built elsewhere (a structured op), recording its results."""
        self.block.ops.append(op)
        for r in op.results:
            self.producers[r.uid] = op
        return op

    # -- simplifying constructors
    def apply(self, prim: str, args: list[Operand], family: str = "operator",
              name: str | None = None) -> Operand:
        """`prim(*args)` in the given family, folded and simplified where possible."""
        simplified = self._simplify(prim, args, family)
        if simplified is not None:
            return simplified
        attrs: dict[str, Any] = {}
        if prim not in OPERATOR_FUNCTIONS:
            attrs["fn"] = implementation(prim, family)
            attrs["family"] = family
        return self.emit(prim, args, name=name, attrs=attrs).result

    def add(self, a: Operand, b: Operand) -> Operand:
        return self.apply("add", [a, b])

    def sub(self, a: Operand, b: Operand) -> Operand:
        return self.apply("sub", [a, b])

    def mul(self, a: Operand, b: Operand) -> Operand:
        return self.apply("mul", [a, b])

    def neg(self, a: Operand) -> Operand:
        return self.apply("neg", [a])

    def sum(self, terms: list[Operand]) -> Operand:
        """Sum of partial adjoints or tangent terms; subtracts negated terms."""
        total: Operand | None = None
        for term in terms:
            if total is None:
                total = term
                continue
            negated = self.negated(term)
            total = self.sub(total, negated) if negated is not None else self.add(total, term)
        return total if total is not None else Const(0.0)

    # -- simplification
    def negated(self, operand: Operand) -> Operand | None:
        if isinstance(operand, Value):
            op = self.producers.get(operand.uid)
            if op is not None and op.prim == "neg":
                return op.args[0]
        return None

    def _is_comparison(self, operand: Operand) -> bool:
        op = self.producers.get(operand.uid) if isinstance(operand, Value) else None
        return op is not None and op.prim in ("lt", "le", "gt", "ge")

    def _reciprocal_of(self, operand: Operand) -> Operand | None:
        if isinstance(operand, Value):
            op = self.producers.get(operand.uid)
            if op is not None and op.prim == "truediv" and is_const(op.args[0], 1):
                return op.args[1]
        return None

    def _simplify(self, prim: str, args: list[Operand], family: str) -> Operand | None:
        if prim not in _SIMPLIFIED and not all(type(a) is Const for a in args):
            return None  # (the common case, decided without a call per operand)
        if all(type(a) is Const for a in args) and all(is_const(a) for a in args):
            folded = self._fold(prim, [a.value for a in args], family)
            if folded is not None:
                return folded
        if prim == "add":
            a, b = args
            if isinstance(a, Value) and a is b:
                return self.apply("mul", [Const(2), a])
            if is_const(a, 0):
                return b
            if is_const(b, 0):
                return a
            negated = self.negated(b)
            if negated is not None:
                return self.apply("sub", [a, negated])
        elif prim == "sub":
            a, b = args
            if is_const(b, 0):
                return a
            if is_const(a, 0):
                return self.apply("neg", [b])
            negated = self.negated(b)
            if negated is not None:
                return self.apply("add", [a, negated])
        elif prim == "mul":
            a, b = args
            constants = [(x, y) for x, y in ((a, b), (b, a)) if is_const(x)]
            for x, y in constants:
                if x.value == 1 and not self._is_comparison(y):  # 1.0 * (x >= y) is a float
                    return y
                if x.value == 0:
                    return Const(0.0)
                if x.value == -1:
                    return self.apply("neg", [y])
            for x, y in constants:  # c1 * (c2 * v) -> (c1 c2) * v, when exact
                inner = self.producers.get(y.uid) if isinstance(y, Value) else None
                if inner is not None and inner.prim == "mul" \
                        and is_const(inner.args[0]) and (_power_of_two(x.value)
                                                         or _power_of_two(inner.args[0].value)):
                    return self.apply("mul", [Const(x.value * inner.args[0].value),
                                              inner.args[1]])
            for x, y in ((a, b), (b, a)):
                reciprocal = self._reciprocal_of(y)
                if reciprocal is not None:
                    return self.apply("truediv", [x, reciprocal])
            na, nb = self.negated(a), self.negated(b)
            if na is not None and nb is not None:
                return self.apply("mul", [na, nb])
            if na is not None:
                return self.apply("neg", [self.apply("mul", [na, b])])
            if nb is not None:
                return self.apply("neg", [self.apply("mul", [a, nb])])
        elif prim == "truediv":
            a, b = args
            if is_const(b, 1):
                return a
            if is_const(a, 0):
                return Const(0.0)
            na = self.negated(a)
            if na is not None:
                return self.apply("neg", [self.apply("truediv", [na, b])])
        elif prim == "neg":
            inner = self.negated(args[0])
            if inner is not None:
                return inner
        elif prim == "pos":
            return args[0]
        elif prim == "pow":
            a, b = args
            if is_const(b, 1):
                return a
            if is_const(b, 0):
                return Const(1.0)
        return None

    @staticmethod
    def _fold(prim: str, values: list[Any], family: str) -> Const | None:
        try:
            if prim in OPERATOR_FUNCTIONS:
                result = OPERATOR_FUNCTIONS[prim](*values)
            elif PRIMITIVES.get(prim) is not None and PRIMITIVES[prim].expr is not None:
                result = implementation(prim, family)(*values)
            else:
                return None
        except (ArithmeticError, ValueError, TypeError):
            return None
        if isinstance(result, float) and not math.isfinite(result):
            return None
        if hasattr(result, "item") and getattr(result, "ndim", 1) == 0:
            result = result.item()
        return Const(result)
