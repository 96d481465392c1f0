"""Forward mode: tangents carried beside the primal values (seed 001's w-dot sweep)."""
from __future__ import annotations

from ..ir import Const, Function, Operand, Value
from ..rules import is_nondiff, jvp
from .common import (
    DerivativeFunction,
    check_supported,
    copy_op,
    name_fresh,
    name_output,
    start,
    varied_values,
)


def forward(fn: Function, wrt: list[int], *, unit_seeds: bool) -> DerivativeFunction:
    """Interleave a tangent sweep with the primal one.

    With `unit_seeds`, one sweep runs per input in `wrt`, seeded with 1 for that
    input and 0 for the others; tangents are named ``dv_dx``.  Otherwise the
    function takes one tangent argument per input in `wrt` (``x_dot``).  Outputs:
    the primal outputs, then each direction's tangents of them.
    """
    out, builder = start(fn, f"{fn.name}_jvp", "forward")
    directions: list[tuple[str, dict[int, Operand]]] = []
    for i in wrt:
        param = fn.params[i]
        if unit_seeds:
            directions.append((f"d{{}}_d{param.name}", {param.uid: Const(1.0)}))
        else:
            tangent = Value()
            out.derived[tangent.uid] = (param, "{}_dot")
            out.params.append(tangent)
            if not directions:
                directions.append(("{}_dot", {}))
            directions[0][1][param.uid] = tangent
    varied = varied_values(fn, wrt)

    for op in fn.body.ops:
        copy_op(builder, op)
        if not any(isinstance(a, Value) and a.uid in varied for a in op.args):
            continue
        check_supported(fn, op)
        if is_nondiff(op):
            continue
        builder.loc = op.loc
        for fmt, tangents in directions:
            arg_tangents = [tangents.get(a.uid) if isinstance(a, Value) else None for a in op.args]
            if all(t is None for t in arg_tangents):
                continue
            tangent = jvp(builder, op, arg_tangents)
            if tangent is not None:
                tangents[op.result.uid] = tangent
                name_fresh(out, tangent, op.result, fmt)

    builder.loc = None
    outputs: list[Operand] = list(fn.outputs)
    for fmt, tangents in directions:
        for primal_out in fn.outputs:
            tangent = tangents.get(primal_out.uid) if isinstance(primal_out, Value) else None
            outputs.append(name_output(out, builder, tangent, primal_out, fmt))
    out.body.yields = outputs
    if directions:
        out.tangents = dict(directions[0][1])
    return out

