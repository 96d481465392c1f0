"""Tangents and adjoints of array primitives and runtime helpers, from their registry
entries (ad_compiler/registry/).

A linear primitive's tangent is the primitive applied to the tangents of its operands
(a multilinear one's, the sum over its operands of it with one of them replaced); the
others have a JVP of their own.  Adjoints are the entries' VJPs.  In vector mode the
primitive is applied in its batched form (registry/emit.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import batched, runtime
from .builder import Builder
from .ir import Const, Op, Operand
from .registry import REGISTRY, Primitive
from .registry.emit import (  # noqa: F401  (param, static: the rules' vocabulary, re-exported)
    Emit,
    apply_again,
    operand_positions,
    param,
    replaced,
    replay,
    static,
)

if TYPE_CHECKING:
    from .shapes import ShapeFacts


def array_jvp(builder: Builder, op: Op, tangents: list[Operand | None],
              facts: ShapeFacts | None = None) -> Operand | None:
    """Tangent of an array primitive's or runtime helper's result."""
    e = Emit(builder, facts)
    return _zero_if_integral(e, op, _array_jvp(e, op, tangents))


def _linear_args(record: Primitive, op: Op) -> list[int] | tuple[int, ...]:
    return record.linear_of(op) if record.linear_of is not None else record.linear_args


def _array_jvp(e: Emit, op: Op, tangents: list[Operand | None]) -> Operand | None:
    builder = e.b
    record = REGISTRY[op.prim]
    if record.is_array and all(
            k >= len(tangents) or tangents[k] is None for k in operand_positions(op)):
        return None  # only an argument without a derivative varies (full_like's array)
    if record.is_helper:
        _refuse_unsupported(record, [k for k in record.nonlinear
                                     if k < len(tangents) and tangents[k] is not None])
        if record.jvp is not None:
            return record.jvp(e, op, tangents)
    if e.batched is not None and record.is_helper:
        return _helper_batched(e, op, tangents)
    if e.batched is not None and record.linear:
        return apply_again(e, op, _linear_tangents(e, op, record, tangents))
    if e.batched is not None and record.multilinear:
        return e.sum_terms([apply_again(e, op, {k: tangents[k]}) for k in operand_positions(op)
                            if tangents[k] is not None])
    if record.is_helper:
        linear = _linear_args(record, op)
        if record.joint:
            return replaced(builder, op, {k: tangents[k] if tangents[k] is not None
                                          else Const(0.0) for k in linear})
        terms = [replaced(builder, op, {k: tangents[k]}) for k in linear
                 if k < len(tangents) and tangents[k] is not None]
        return builder.sum(terms) if terms else None
    if record.linear:
        return replaced(builder, op, _linear_tangents(e, op, record, tangents))
    if record.multilinear:
        terms = [replaced(builder, op, {k: tangents[k]}) for k in operand_positions(op)
                 if tangents[k] is not None]
        return builder.sum(terms) if terms else None
    return record.jvp(e, op, tangents)


def _linear_tangents(e: Emit, op: Op, record: Primitive,
                     tangents: list[Operand | None]) -> dict[int, Operand]:
    """The tangents a linear function is applied to again: 0.0 for an operand without
    one where the function broadcasts (``np.where``), else zeros of its shape (in
    ``np.append(c, x)`` a number would not be joined as `c`'s zeros would)."""
    present = next((t for t in tangents if t is not None), None)
    replace = {}
    for k in operand_positions(op):
        if tangents[k] is not None:
            replace[k] = tangents[k]
        elif record.elementwise:
            replace[k] = Const(0.0)
        elif e.batched is not None:
            replace[k] = e.batched_call(batched.batch_zeros, op.args[k], present)
        else:
            replace[k] = e.b.emit("zeros_of", [op.args[k]], attrs={
                "fn": runtime.zeros_of, "kwnames": ()}).result
    return replace


def _helper_batched(e: Emit, op: Op, tangents: list[Operand | None]) -> Operand | None:
    """Vector mode through a runtime helper: its batched form, else the helper again, on
    each direction of its batched tangent operands in turn (``vmap_last``), the results
    stacked."""
    record = REGISTRY[op.prim]
    if record.batched is not None:
        return e.sum_terms([e.batched_helper(op.prim, k, [
            tangents[k] if j == k else a for j, a in enumerate(op.args)])
            for k in record.linear_args if k < len(tangents) and tangents[k] is not None])
    if not record.vmapped:
        raise NotImplementedError(f"no vector-mode rule for '{op.prim}'")
    terms = [replay(e, op, {k: tangents[k]}) for k in _linear_args(record, op)
             if k < len(tangents) and tangents[k] is not None]
    return e.sum_terms(terms) if terms else None


def _refuse_unsupported(record: Primitive, positions: list[int]) -> None:
    if record.unsupported and positions:
        raise NotImplementedError(f"{record.unsupported} have no rule (take fewer "
                                  "derivatives of this function, or a different one)")


def _may_be_integral(op: Op) -> bool:
    """Whether the result of a casting op may hold integers, so that its derivative must
    be zero: a dtype known only at run time, or full_like's (that of its first argument)."""
    if not REGISTRY[op.prim].casting or op.attrs.get("inexact"):
        return False
    if _is_const_none(param(op, "dtype")):
        return op.prim == "full_like"
    return True


def _zero_if_integral(e: Emit, op: Op, derivative: Operand | None) -> Operand | None:
    if derivative is None or not _may_be_integral(op):
        return derivative
    return e._mark(e.helper("zero_if_integral", derivative, op.result), [derivative])


def _is_const_none(operand: Operand) -> bool:
    return isinstance(operand, Const) and operand.value is None


def array_vjp(builder: Builder, op: Op, g: Operand, indices: list[int],
              facts: ShapeFacts | None = None) -> list[Operand]:
    """Partial adjoints of the operands at `indices` (in batched reverse mode, where
    `facts` says which values are batched adjoints, of many cotangents at once)."""
    e = Emit(builder, facts if facts is not None and facts.batched_adjoints else None)
    record = REGISTRY[op.prim]
    if record.is_helper:
        if record.vjp is None:
            raise NotImplementedError(
                f"the runtime helper '{op.prim}' has no adjoint rule, so this reverse-mode "
                "code cannot be differentiated in reverse mode again; take one of the two "
                "derivatives in forward mode: adc.hessian(f) (forward over reverse), or, "
                "where the differentiated arguments are numbers, "
                "adc.grad(adc.grad(f, mode='forward'))")
        _refuse_unsupported(record, [i for i in indices if i in record.nonlinear])
        parts = record.vjp(e, g, op.args)
        if op.attrs.get("may_truncate") and parts[1] is not None:  # (setitem's value)
            parts[1] = e.helper("zero_if_integral", parts[1], op.args[0])
    else:
        parts = record.vjp(e, op, _zero_if_integral(e, op, g))
    return [Const(0.0) if parts[i] is None else parts[i] for i in indices]


def is_array_prim(prim: str) -> bool:
    """An array primitive or a runtime helper (rules here, not derived by sympy)."""
    record = REGISTRY.get(prim)
    return record is not None and (record.is_array or record.is_helper)


def differentiable_positions(op: Op) -> list[int] | None:
    """Argument positions that carry derivatives; None for 'all' (elementwise ops)."""
    record = REGISTRY.get(op.prim)
    if record is not None and record.is_array:
        return operand_positions(op)
    if record is not None and record.is_helper:
        return list(_linear_args(record, op)) + list(record.nonlinear)
    return None
