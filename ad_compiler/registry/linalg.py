"""Products and linear algebra: matmul, dot, outer, inner, einsum, trace, solve, inv,
det, slogdet, norm (every order), and the helpers of their adjoints (decompositions.py
has cholesky, eigh, svd, qr, pinv and lstsq).

Seed 002's matrix case is the ``matmul`` entry: for ``Z = X @ W``,
``X_bar = Z_bar @ W.T`` and ``W_bar = X.T @ Z_bar``.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import (
    batched,
    batched_adjoints,
    batched_products,
    batched_shaping,
    runtime,
    runtime_arrays,
    runtime_linalg,
)
from ..ir import Const, Op, Operand
from .core import REGISTRY, array, helper
from .emit import (
    Emit,
    batched_call,
    batched_operand,
    einsum_parts_or_refuse,
    param,
    replaced,
    static,
)
from .reductions import reduce_like, sum_back


def _inv_t(e: Emit, a: Operand) -> Operand:
    return e.swap_last(e.inv(a))


def _batched_product(name: str):
    """Vector mode of a product of two operands, one of which carries directions."""
    def rule(e: Emit, given: dict, variadic: list) -> Operand:
        first, second = (batched_operand(name, given, p) for p in REGISTRY[name].params)
        if e.is_batched(first):
            return batched_call(e, batched.batched_matmul, [first, second])
        return batched_call(e, batched.batched_rmatmul, [first, second])
    return rule


def _batched_solve(e: Emit, given: dict, variadic: list) -> Operand:
    first, second = batched_operand("solve", given, "a"), batched_operand("solve", given, "b")
    if e.is_batched(first):
        raise NotImplementedError("no batched rule for a batched matrix in solve")
    return batched_call(e, runtime_linalg.batched_solve_columns, [first, second])


def _batched_einsum(e: Emit, given: dict, variadic: list) -> Operand:
    subscripts = batched_operand("einsum", given, "subscripts")
    einsum_parts_or_refuse(subscripts, len(variadic))
    k = next(i for i, v in enumerate(variadic) if e.is_batched(v))
    return batched_call(e, batched.batched_einsum, [subscripts, Const(k), *variadic])


def _matmul_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    return [e.helper("matmul_adjoint_a", g, *op.args[:2]),
            e.helper("matmul_adjoint_b", g, *op.args[:2])]


def _einsum_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    spec = static(op, "subscripts")
    operands = op.args[1:]
    einsum_parts_or_refuse(Const(spec), len(operands))  # what the helper cannot do, now
    for sub in spec.replace(" ", "").split("->")[0].split(","):
        letters = sub.replace("...", "")
        if len(set(letters)) != len(letters):  # its adjoint would have to write a diagonal
            raise NotImplementedError(f"np.einsum with an index repeated in one operand "
                                      f"({sub!r}) has no reverse-mode rule; use forward mode")
    return [None] + [e.helper("einsum_adjoint", spec, k, g, *operands)
                     for k in range(len(operands))]


def _einsum_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    """``einsum_adjoint(spec, k, g, *x)`` is linear in g and in every operand but x_k:
    its adjoint in g is the einsum with x_k := h, in x_j that einsum's adjoint in x_j."""
    spec, k, g, operands = a[0], a[1].value, a[2], list(a[3:])
    swapped = [h if j == k else x for j, x in enumerate(operands)]
    parts: list[Operand | None] = [None, None, e.einsum(spec, *swapped)]
    parts += [None if j == k else e.helper("einsum_adjoint", spec, j, g, *swapped)
              for j in range(len(operands))]
    return parts


def _einsum_linear(op: Op) -> list[int]:
    k = op.args[1].value
    return [2] + [3 + i for i in range(len(op.args) - 3) if i != k]


def _einsum_adjoint_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    """Linear in g and every operand but x_k: the adjoint again on each tangent; in
    vector mode told which argument carries the directions."""
    linear = [j for j in _einsum_linear(op) if j < len(t) and t[j] is not None]
    if e.batched is None:
        terms = [replaced(e.b, op, {j: t[j]}) for j in linear]
        return e.b.sum(terms) if terms else None
    return e.sum_terms([e.batched_call(batched_products.einsum_adjoint_directions, Const(j),
                                       *(t[j] if i == j else a for i, a in enumerate(op.args)))
                        for j in linear])


array("matmul", np.matmul, "x1*, x2*", operator=operator.matmul, multilinear=True, vjp=_matmul_vjp,
      batched=_batched_product("matmul"))
array("dot", np.dot, "a*, b*", methods=("dot",), multilinear=True, vjp=_matmul_vjp,
      batched=_batched_product("dot"))
def _batched_pair(name: str, fn: Any) -> Any:
    """Vector mode of a product of operands `a` and `b`, one of which is batched: `fn`
    told which (its ``directions_in``)."""
    def rule(e: Emit, given: dict, variadic: list) -> Operand:
        a, b = batched_operand(name, given, "a"), batched_operand(name, given, "b")
        return batched_call(e, fn, [a, b, Const(0 if e.is_batched(a) else 1)])
    return rule


array("outer", np.outer, "a*, b*", multilinear=True, vjp=lambda e, op, g: [
    e.reshape(e.matmul(g, e.ravel(op.args[1])), e.shape(op.args[0])),
    e.reshape(e.matmul(e.ravel(op.args[0]), g), e.shape(op.args[1]))],
    batched=_batched_pair("outer", batched.batched_outer))
array("inner", np.inner, "a*, b*", multilinear=True, vjp=lambda e, op, g: [
    e.helper("inner_adjoint_a", g, *op.args[:2]), e.helper("inner_adjoint_b", g, *op.args[:2])],
    batched=_batched_pair("inner", batched.batched_inner))
array("einsum", np.einsum, "subscripts, operands*", multilinear=True, variadic=True, vjp=_einsum_vjp,
      batched=_batched_einsum)
array("trace", np.trace, "a*, offset=0, axis1=0, axis2=1", methods=("trace",), linear=True,
      vjp=lambda e, op, g: [e.helper("trace_adjoint", g, op.args[0], param(op, "offset"),
                                     param(op, "axis1"), param(op, "axis2"))],
      batched=(batched.batched_trace, ("a", "offset", "axis1", "axis2")))


# ------------------------------------------------------------------ np.linalg.solve
# x = A^-1 b on columns (a vector b, even beside a stack of matrices, is one column):
# dx = A^-1 (db - dA x); b_bar = A^-T x_bar, A_bar = -b_bar x^T.


def _column(e: Emit, x: Operand, b: Operand, name: str = "as_column") -> Operand:
    """`x` as a column where b is a vector (`name` "from_column": back), in its
    batched form for a tangent carrying directions (vector mode)."""
    if e.is_batched(x):
        return e._mark(e.helper(name + "_batched", x, b), [x])
    return e.helper(name, x, b)


def _solve_jvp(e: Emit, op: Op, t: list) -> Operand:
    a, b = op.args[:2]
    terms = [_column(e, t[1], b)] if t[1] is not None else []
    if t[0] is not None:
        terms.append(e.neg(e.matmul(t[0], _column(e, op.result, b))))
    return _column(e, e.solve(a, e.sum_terms(terms)), b, "from_column")


def _solve_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    a, b = op.args[:2]
    b_bar = e.solve(e.swap_last(a), _column(e, g, b))
    a_bar = e.neg(e.matmul(b_bar, e.swap_last(_column(e, op.result, b))))
    return [e.helper("unbroadcast", a_bar, a),
            e.helper("unbroadcast", e.helper("from_column", b_bar, b), b)]


def _column_jvp(name: str) -> Any:
    """The tangent rule of `as_column` or `from_column`, linear in their first argument."""
    return lambda e, op, t: None if t[0] is None else _column(e, t[0], op.args[1], name)


def _slogdet_jvp(e: Emit, op: Op, t: list) -> Operand:
    """(0, tr(A^-1 dA)): the sign is piecewise constant; in vector mode the pair carries
    directions because its second item does, and the sign's zeros carry them too."""
    logdet_dot = e.sum(e.mul(_inv_t(e, op.args[0]), t[0]), axis=(-2, -1))
    sign_dot = e._mark(e.call(np.zeros_like, logdet_dot), [logdet_dot]) \
        if e.is_batched(logdet_dot) else Const(0.0)
    pair = e._mark(e.b.emit("pack", [sign_dot, logdet_dot], attrs={"kind": "tuple"}).result,
                   [logdet_dot])
    # in a SlogdetResult, so that ``res.logabsdet`` reads it
    return e._mark(e.helper("result_like", pair, op.result), [pair])


array("solve", np.linalg.solve, "a*, b*", jvp=_solve_jvp, vjp=_solve_vjp,
      batched=_batched_solve)
array("inv", np.linalg.inv, "a*",
      jvp=lambda e, op, t: e.neg(e.matmul(e.matmul(op.result, t[0]), op.result)),
      vjp=lambda e, op, g: (lambda yt: [e.neg(e.matmul(e.matmul(yt, g), yt))])(
          e.swap_last(op.result)))
array("det", np.linalg.det, "a*",
      jvp=lambda e, op, t: e.mul(op.result, e.sum(e.mul(_inv_t(e, op.args[0]), t[0]),
                                                  axis=(-2, -1))),
      vjp=lambda e, op, g: [e.mul(e.expand_last(e.mul(g, op.result)), _inv_t(e, op.args[0]))])
array("slogdet", np.linalg.slogdet, "a*", container_result=True, jvp=_slogdet_jvp,
      vjp=lambda e, op, g: [e.mul(e.expand_last(e.helper("result_item", g, 1, op.result)),
                                  _inv_t(e, op.args[0]))])


# The 2-norm of vectors and the Frobenius norm have rules written with primitives; every
# other order gets its gradient from `norm_weight`, a helper whose tangent (the norm's
# Hessian applied to a direction) is `norm_weight_jvp`.

# orders whose weight is piecewise constant (-1 is too for matrices, not for vectors)
_PIECEWISE_ORDERS = (0, 1, np.inf, -np.inf)


def _smooth_norm(op: Op) -> bool:
    order, axis = static(op, "ord"), param(op, "axis")
    vector = isinstance(axis, Const) and isinstance(axis.value, int)
    return order is None or order == "fro" or (order == 2 and vector)


def _norm_weight(e: Emit, op: Op) -> Operand:
    return e.helper("norm_weight", op.args[0], op.result, static(op, "ord"), param(op, "axis"),
                    param(op, "keepdims"))


def _norm_jvp(e: Emit, op: Op, t: list) -> Operand:
    if _smooth_norm(op):
        return e.truediv(reduce_like(e, op, e.mul(op.args[0], t[0])), op.result)
    return reduce_like(e, op, e.mul(_norm_weight(e, op), t[0]))


def _norm_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    if _smooth_norm(op):
        return [e.mul(op.args[0], sum_back(e, op, e.truediv(g, op.result)))]
    return [e.mul(sum_back(e, op, g), _norm_weight(e, op))]


def _norm_weight_jvp(e: Emit, op: Op, t: list) -> Operand | None:
    order = op.args[2].value if len(op.args) > 2 else None
    if t[0] is None or any(order is o or order == o for o in _PIECEWISE_ORDERS):
        return None
    return e._mark(e.helper("norm_weight_jvp", op.args[0], op.args[1], t[0], *op.args[2:]), [t[0]])


def _norm_weight_vjp(e: Emit, g: Operand, a: list) -> list[Operand | None]:
    """The weight's adjoint: the norm's Hessian is symmetric, so its tangent rule."""
    order = a[2].value if len(a) > 2 else None
    if any(order is o or order == o for o in _PIECEWISE_ORDERS):
        return [None] * len(a)
    return [e.helper("norm_weight_jvp", a[0], a[1], g, *a[2:])] + [None] * (len(a) - 1)


array("norm", np.linalg.norm, "x*, ord=None, axis=None, keepdims=False", reduction=True,
      jvp=_norm_jvp, vjp=_norm_vjp)

helper("matmul_adjoint_a", runtime.matmul_adjoint_a, (0, 2), lambda e, g, a: [
    e.matmul(g, a[2]), None, e.helper("matmul_adjoint_b", a[0], g, a[2])],
    batched=batched_adjoints.matmul_adjoint_a_directions, specializable=True)
helper("matmul_adjoint_b", runtime.matmul_adjoint_b, (0, 1), lambda e, g, a: [
    e.matmul(a[1], g), e.helper("matmul_adjoint_a", a[0], a[1], g), None],
    batched=batched_adjoints.matmul_adjoint_b_directions, specializable=True)
helper("inner_adjoint_a", runtime_arrays.inner_adjoint_a, (0, 2), float_result=True,
       batched=batched_adjoints.batched_inner_adjoint_a)
helper("inner_adjoint_b", runtime_arrays.inner_adjoint_b, (0, 1), float_result=True,
       batched=batched_adjoints.batched_inner_adjoint_b)
helper("trace_adjoint", runtime_arrays.trace_adjoint, (0,), lambda e, g, a: [
    e.array("trace", g, *a[2:]), None, None, None, None],
    batched=batched_shaping.batched_trace_adjoint)
helper("einsum_adjoint", runtime_arrays.einsum_adjoint, (), _einsum_adjoint_vjp,
       linear_of=_einsum_linear, jvp=_einsum_adjoint_jvp)

# np.linalg.solve on columns (a vector b, even beside a stack of matrices, is one column)
helper("as_column", runtime_linalg.as_column, (0,), lambda e, g, a: [
    e.helper("from_column", g, a[1]), None], jvp=_column_jvp("as_column"))
helper("from_column", runtime_linalg.from_column, (0,), lambda e, g, a: [
    e.helper("as_column", g, a[1]), None], jvp=_column_jvp("from_column"))
helper("as_column_batched", runtime_linalg.as_column_batched, (0,),
       batched=runtime_linalg.as_column_batched_twice)
helper("from_column_batched", runtime_linalg.from_column_batched, (0,),
       batched=runtime_linalg.from_column_batched_twice)
# the gradient weight of np.linalg.norm's non-smooth orders, and its tangent
helper("norm_weight", runtime_linalg.norm_weight, (), _norm_weight_vjp, nonlinear=(0,),
       jvp=_norm_weight_jvp)
helper("norm_weight_jvp", runtime_linalg.norm_weight_jvp, (2,), nonlinear=(0,),
       unsupported="third derivatives of np.linalg.norm")
