"""Matrix products of derivative values as ``a.dot(b)``.

``a @ b`` goes through NumPy's ufunc machinery, about 0.3 us a call more than the
array method ``a.dot(b)``; on the vectors and small matrices of a loop's steps
(``Wh @ g`` of an RNN's backward step, 32 x 32) that is half the product.  For
float64 arrays of one or two dimensions the two mean the same product and make the
same BLAS call where the operands are contiguous; where one is a strided view they may
add its terms in another order.  So only products whose result is a derivative
(never a value of the function itself, whose numbers must be its own) are rewritten,
in specialised code that runs; a derivative of it differentiates the code before this
rewrite (`dispatch.py`).
"""
from __future__ import annotations

import numpy as np

from ..ir import Function, Op, Value
from .optimize import all_blocks
from .static_shapes import Facts

_DOT = {"fn": np.dot, "method": "dot", "kwnames": (), "family": "numpy"}


def adjoint_dots(fn: Function, facts: Facts) -> Function | None:
    """A copy of `fn` whose products of derivative values are ``a.dot(b)``; None where
    it has none."""
    primal = getattr(fn, "primal", None)
    if not primal:
        return None  # (no record of which values are the function's own)
    producer = {r.uid: op for block in all_blocks(fn.body) for op in block.ops
                for r in op.results}
    found = {op.result.uid for block in all_blocks(fn.body) for op in block.ops
             if _rewritable(op, primal, facts, producer)}
    return as_dots(fn, found) if found else None


def as_dots(fn: Function, products: set[int] | dict[int, object]) -> Function:
    """A copy of `fn` whose matrix products making the values `products` names are
    ``a.dot(b)``."""
    from .specialize import _clone

    clone = _clone(fn)
    for block in all_blocks(clone.body):
        block.ops = [Op("dot", list(op.args), list(op.results), dict(_DOT), [], op.loc)
                     if op.prim == "matmul" and op.results and op.result.uid in products
                     else op for op in block.ops]
    return clone


def _rewritable(op: Op, primal: set[int], facts: Facts, producer: dict[int, Op]) -> bool:
    if op.prim != "matmul" or len(op.args) != 2 or len(op.results) != 1 \
            or op.result.uid in primal or op.attrs.get("kwnames") \
            or op.attrs.get("fn") not in (None, np.matmul):
        return False
    return all(isinstance(a, Value) and _vector_or_matrix(_signature(a, facts, producer))
               for a in op.args)


def _signature(v: Value, facts: Facts, producer: dict[int, Op]) -> tuple | None:
    """The probed signature of `v`, or of the array it transposes (``g.T``, written by
    specialisation after the probe ran), its axes reversed."""
    sig = facts.of(v)
    made = producer.get(v.uid)
    if sig is None and made is not None and made.prim == "transpose" \
            and len(made.args) == 1 and isinstance(made.args[0], Value):
        inner = facts.of(made.args[0])
        if inner is not None and inner[0] == "array":
            return (*inner[:2], inner[2][::-1], *inner[3:])
    return sig


def _vector_or_matrix(sig: tuple | None) -> bool:
    """A float64 ndarray of one or two dimensions (not a subclass: np.matrix multiplies
    otherwise)."""
    return sig is not None and sig[0] == "array" and sig[1] is np.ndarray \
        and sig[3] == np.float64 and len(sig[2]) in (1, 2)
