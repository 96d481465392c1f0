"""More products: np.tensordot, kron, cross, vdot (multilinear, through the adjoint
helpers of runtime_npmath.py) and np.linalg.matrix_power (sums of products of powers)."""
from __future__ import annotations

import numpy as np

from .. import batched_products as bp
from .. import runtime_npmath as rt
from ..ir import Op, Operand
from .core import array
from .emit import Emit, static
from .multilinear import multilinear_array

multilinear_array("tensordot", np.tensordot, "a*, b*, axes=2",
                  {"a": rt.tensordot_adjoint_a, "b": rt.tensordot_adjoint_b},
                  vector_mode=(bp.batched_tensordot, {"a": bp.batched_tensordot_adjoint_a,
                                                      "b": bp.batched_tensordot_adjoint_b}))
multilinear_array("kron", np.kron, "a*, b*", {"a": rt.kron_adjoint_a, "b": rt.kron_adjoint_b},
                  vector_mode=(bp.batched_kron, {"a": bp.batched_kron_adjoint_a,
                                                 "b": bp.batched_kron_adjoint_b}))
multilinear_array("cross", np.cross, "a*, b*, axisa=-1, axisb=-1, axisc=-1, axis=None",
                  {"a": rt.cross_adjoint_a, "b": rt.cross_adjoint_b},
                  vector_mode=(bp.batched_cross, {"a": bp.batched_cross_adjoint_a,
                                                  "b": bp.batched_cross_adjoint_b}))
multilinear_array("vdot", np.vdot, "a*, b*", {"a": rt.vdot_adjoint_a, "b": rt.vdot_adjoint_b},
                  vector_mode=(bp.batched_vdot, {"a": bp.batched_vdot_adjoint_a,
                                                 "b": bp.batched_vdot_adjoint_b}))


# ------------------------------------------------------------------ np.linalg.matrix_power


def _power(e: Emit, a: Operand, k: int) -> Operand | None:
    """a ** k as a matrix; None for the identity."""
    return None if k == 0 else a if k == 1 else e.array("matrix_power", a, n=k)


def _power_terms(e: Emit, a: Operand, n: int, middle: Operand, transpose: bool) -> Operand:
    """sum over k of P^k @ middle @ P^(n-1-k), P = a (or its transpose)."""
    base = e.swap_last(a) if transpose else a
    terms = []
    for k in range(n):
        term = middle
        left, right = _power(e, base, k), _power(e, base, n - 1 - k)
        if left is not None:
            term = e.matmul(left, term)
        if right is not None:
            term = e.matmul(term, right)
        terms.append(term)
    return e.sum_terms(terms)


def _matrix_power_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    n = int(static(op, "n"))
    if n == 0:
        return None
    if n > 0:
        return _power_terms(e, op.args[0], n, t[0], transpose=False)
    inverse = e.inv(op.args[0])  # A^n = inv(A)^|n|, and d inv(A) = -inv(A) dA inv(A)
    inverse_dot = e.neg(e.matmul(e.matmul(inverse, t[0]), inverse))
    return _power_terms(e, inverse, -n, inverse_dot, transpose=False)


def _matrix_power_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    n = int(static(op, "n"))
    if n == 0:
        return [None, None]
    if n > 0:
        return [_power_terms(e, op.args[0], n, g, transpose=True), None]
    inverse_t = e.swap_last(e.inv(op.args[0]))
    inverse_bar = _power_terms(e, e.inv(op.args[0]), -n, g, transpose=True)
    return [e.neg(e.matmul(e.matmul(inverse_t, inverse_bar), inverse_t)), None]


array("matrix_power", np.linalg.matrix_power, "a*, n", jvp=_matrix_power_jvp,
      vjp=_matrix_power_vjp)
