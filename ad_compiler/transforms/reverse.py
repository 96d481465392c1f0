"""Reverse mode: a forward sweep, then adjoints in reverse order (seed 002).

An adjoint is the sum of its partial adjoints over the value's uses,
``v_bar = sum_j v_bar_{v->j}``; the partials are collected as the backward sweep
meets each use and summed when the sweep reaches the op defining the value.
"""
from __future__ import annotations

from ..ir import Const, Function, Operand, Value
from ..rules import active_operands, vjp
from .common import (
    DerivativeFunction,
    check_supported,
    copy_op,
    name_fresh,
    name_output,
    start,
    varied_values,
)


def reverse(fn: Function, wrt: list[int], *, seed_params: bool) -> DerivativeFunction:
    """Adjoints of the inputs in `wrt`.

    With `seed_params`, the function takes one cotangent argument per output
    (``y_bar``); otherwise every output is seeded with 1.0 (a gradient).  Outputs:
    the primal outputs, then the adjoints of the inputs in `wrt`.
    """
    out, builder = start(fn, f"{fn.name}_vjp", "reverse")
    for op in fn.body.ops:
        copy_op(builder, op)
    varied = varied_values(fn, wrt)

    partials: dict[int, list[Operand]] = {}
    for primal_out in fn.outputs:
        if seed_params:
            seed = Value()
            if isinstance(primal_out, Value):
                out.derived[seed.uid] = (primal_out, "{}_bar")
            else:
                seed.name = "out_bar"
            out.params.append(seed)
        else:
            seed = Const(1.0)
        if isinstance(primal_out, Value) and primal_out.uid in varied:
            partials.setdefault(primal_out.uid, []).append(seed)

    for op in reversed(fn.body.ops):
        result = op.results[0] if op.results else None
        if result is None or result.uid not in partials:
            continue
        check_supported(fn, op)
        builder.loc = op.loc
        adjoint = builder.sum(partials.pop(result.uid)[::-1])
        name_fresh(out, adjoint, result, "{}_bar")
        out.adjoints[result.uid] = adjoint
        for i in active_operands(op, varied):
            partials.setdefault(op.args[i].uid, []).append(vjp(builder, op, adjoint, i))

    builder.loc = None
    outputs: list[Operand] = list(fn.outputs)
    for i in wrt:
        param = fn.params[i]
        terms = partials.get(param.uid)
        adjoint = name_output(out, builder, builder.sum(terms[::-1]) if terms else None,
                              param, "{}_bar")
        out.adjoints[param.uid] = adjoint
        outputs.append(adjoint)
    out.body.yields = outputs
    return out
