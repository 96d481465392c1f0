"""Matrix products of the function's own values as ``a.dot(b)``, where that gives the
very numbers ``a @ b`` gives.

``a @ b`` costs about 0.3 us a call more than ``a.dot(b)`` (`adjoint_dots()` says
why); in an RNN's forward step ``h @ Wh`` that is a tenth of the step.  The two may
round otherwise: for a strided or reversed operand ``@`` adds the terms in a plain
loop where ``.dot`` copies the operand and calls BLAS.  For float64 operands that
are C-contiguous, of one or two dimensions each at least 2 long and not both
vectors, they make the same BLAS call (``gemv`` of the matrix in row-major order,
or ``gemm``), so the same numbers.

So a product is rewritten where both operands are shown C-contiguous: made fresh by
a ufunc or an operator (a new array; a vector is always contiguous, a matrix when
its array operands are), by a product, carried by a loop whose every incoming value
is, or an input of the function.  An input's layout is not in its signature: the
rewritten function lists the inputs it relies on (``contiguous_inputs``) and keeps
the function before the rewrite (``layout_free``), which runs for any other layout
(`dispatch.py` asks).
"""
from __future__ import annotations

import numpy as np

from ..ir import BINARY_SYMBOLS, UNARY_SYMBOLS, Function, IfOp, LoopOp, Op, Operand, Value
from .adjoint_dots import as_dots
from .optimize import all_blocks
from .static_shapes import Facts

_FRESH_OPERATORS = (set(BINARY_SYMBOLS) | set(UNARY_SYMBOLS)) - {"not"}
# functions making a new array in C order, by how many positional operands come before
# the order they would take
_CREATIONS = {np.zeros: 2, np.ones: 2, np.empty: 2, np.full: 3}

# what a value's C-contiguity rests on: the positions of the inputs it holds for when
# they are C-contiguous (empty: always), or None where it is not known
Layout = frozenset | None


def primal_dots(fn: Function, facts: Facts) -> Function | None:
    """A copy of `fn` whose products of C-contiguous values are ``a.dot(b)``, with
    ``contiguous_inputs`` and ``layout_free`` set; None where there is none."""
    layouts = _layouts(fn, facts)
    found: dict[int, frozenset] = {}
    for block in all_blocks(fn.body):
        for op in block.ops:
            needs = _rewritable(op, facts, layouts)
            if needs is not None:
                found[op.result.uid] = needs
    if not found:
        return None
    clone = as_dots(fn, found)
    clone.contiguous_inputs = tuple(sorted(frozenset().union(*found.values())))
    clone.layout_free = fn
    return clone


def _rewritable(op: Op, facts: Facts, layouts: dict[int, Layout]) -> frozenset | None:
    """The inputs whose C-contiguity makes ``a.dot(b)`` the same as this ``a @ b``, or
    None where it is not such a product."""
    if not _is_product(op):
        return None
    shapes = [_shape(a, facts) for a in op.args]
    if None in shapes or all(len(s) == 1 for s in shapes) \
            or any(d < 2 for s in shapes for d in s):
        return None
    needs = [layouts.get(a.uid) for a in op.args]
    return None if None in needs else needs[0] | needs[1]


def _is_product(op: Op) -> bool:
    """``a @ b`` (or ``np.matmul(a, b)``) of two operands, no more."""
    return op.prim == "matmul" and len(op.args) == 2 and len(op.results) == 1 \
        and not op.attrs.get("kwnames") and op.attrs.get("fn") in (None, np.matmul)


def _shape(operand: Operand, facts: Facts) -> tuple | None:
    """The shape of a float64 ndarray of one or two dimensions, else None."""
    sig = facts.of(operand) if isinstance(operand, Value) else None
    if sig is None or sig[0] != "array" or sig[1] is not np.ndarray \
            or sig[3] != np.float64 or len(sig[2]) not in (1, 2):
        return None
    return sig[2]


def _layouts(fn: Function, facts: Facts) -> dict[int, Layout]:
    """The `Layout` of each float64 vector and matrix of `fn` shown C-contiguous
    (absent: not known).  A loop's carried values start as contiguous, on the loop's
    first pass, and lose it until nothing changes."""
    layouts: dict[int, Layout] = {p.uid: frozenset([i]) if _shape(p, facts) else None
                                  for i, p in enumerate(fn.params)}
    first = True
    while True:
        before = dict(layouts)
        _walk(fn.body.ops, facts, layouts, first)
        if layouts == before and not first:
            return {uid: layout for uid, layout in layouts.items() if layout is not None}
        first = False


def _walk(ops: list[Op], facts: Facts, layouts: dict[int, Layout], first: bool) -> None:
    """One pass in program order; on the `first`, a loop's value not reached yet counts
    as contiguous, on later ones a value no op made is not known."""
    for op in ops:
        if isinstance(op, LoopOp):
            lead = len(op.body.params) - len(op.carried_params)
            for param in op.body.params[:lead]:  # a for loop's item
                layouts[param.uid] = None
            for params in op.carrier_params:
                for param, init, after in zip(params, op.inits, op.body.yields):
                    layouts[param.uid] = _join(layouts, [init, after], first)
            for block in op.blocks:
                _walk(block.ops, facts, layouts, first)
            for result, init, after in zip(op.results, op.inits, op.body.yields):
                layouts[result.uid] = _join(layouts, [init, after], first)
        elif isinstance(op, IfOp):
            for block in op.blocks:
                _walk(block.ops, facts, layouts, first)
            for k, result in enumerate(op.results):
                layouts[result.uid] = _join(
                    layouts, [b.yields[k] for b in op.taken_blocks], first)
        else:
            for block in op.blocks:
                _walk(block.ops, facts, layouts, first)
            for result in op.results:
                layouts[result.uid] = None
            if len(op.results) == 1 and _shape(op.result, facts) is not None:
                layouts[op.result.uid] = _made(op, facts, layouts)


def _made(op: Op, facts: Facts, layouts: dict[int, Layout]) -> Layout:
    """The layout of what `op` makes: a product's or ``np.zeros``'s is C-contiguous; a
    ufunc's or an operator's is a new array, contiguous where it is a vector, and where
    it is a matrix when every array operand is C-contiguous (NumPy lays it out as they
    are); a row of a matrix, or a matrix written into, is contiguous where the matrix
    is."""
    if _is_product(op):
        return frozenset()
    if op.prim == "call" and len(op.args) <= _CREATIONS.get(op.attrs.get("fn"), -1) \
            and "order" not in (op.attrs.get("kwnames") or ()):
        return frozenset()
    if op.prim in ("setitem", "add_at") and isinstance(op.args[0], Value):
        return layouts.get(op.args[0].uid)  # written in place, or into a copy in C order
    if op.prim == "getitem" and len(op.args) == 2:  # a row of a C-contiguous matrix
        matrix, index = op.args
        if facts.of(index) == ("int",) and len(_shape(matrix, facts) or ()) == 2:
            return layouts.get(matrix.uid)
        return None
    if not (op.prim in _FRESH_OPERATORS or isinstance(op.attrs.get("fn"), np.ufunc)) \
            or "out" in (op.attrs.get("kwnames") or ()):
        return None
    sigs = [facts.of(a) for a in op.args]
    if not all(_plain(sig) for sig in sigs):
        return None  # (an object of its own may answer an operator with a view)
    if len(facts.of(op.result)[2]) == 1:
        return frozenset()
    needs: frozenset = frozenset()
    for operand, sig in zip(op.args, sigs):
        if sig[0] == "array" and sig[2]:
            layout = layouts.get(operand.uid) if isinstance(operand, Value) else None
            if layout is None:
                return None
            needs |= layout
    return needs


def _plain(sig: tuple | None) -> bool:
    """A NumPy array (not a subclass) or a number."""
    return sig is not None and (sig[0] == "array" and sig[1] is np.ndarray
                                or sig[0] in ("float", "int", "bool", "scalar"))


def _join(layouts: dict[int, Layout], incoming: list[Operand], first: bool) -> Layout:
    """A value that is one of `incoming`: contiguous where each is (one not reached
    yet counts as contiguous on the `first` pass)."""
    needs: frozenset = frozenset()
    for value in incoming:
        if not isinstance(value, Value):
            return None
        layout = layouts.get(value.uid, frozenset() if first else None)
        if layout is None:
            return None
        needs |= layout
    return needs
