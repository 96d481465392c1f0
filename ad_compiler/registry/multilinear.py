"""Multilinear NumPy functions declared by the adjoint helper of each operand, and the
rule utilities of products.py, signals.py and statistics.py.

A function multilinear in its operands (``np.tensordot``, ``np.convolve``,
``np.trapezoid``, ...) has as tangent one term per operand, the function again with
that operand's tangent, and as adjoint of each operand a run-time helper
(ad_compiler/runtime_npmath.py), the transpose of the function in that operand.  Those
helpers are linear in the cotangent and in the other operands, so their own adjoints
are the function and the other helpers again (as ``matmul_adjoint_a`` and
``matmul_adjoint_b`` are), and every derivative can be differentiated again.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from .. import batched
from ..ir import Const, Op, Operand
from .core import REGISTRY, array, helper, parse_signature
from .emit import Emit, apply_again, nth, one_batched, param, position, replay


class Refused(list):
    """Partial adjoints of an op's arguments in which some positions are refused: asking
    for one (because a differentiated value reaches it) raises, which the transform
    reports at the user's line."""

    def __init__(self, parts: list, refused: dict[int, str]) -> None:
        super().__init__(parts)
        self.refused = refused

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, int) and k in self.refused:
            raise NotImplementedError(self.refused[k])
        return super().__getitem__(k)


def refuse(op: Op, refused: dict[str, str], tangents: list | None = None) -> dict[int, str]:
    """Positions of the op's arguments that must not carry derivatives, with the reason;
    in forward mode (`tangents` given) refuse now if one does."""
    positions = {k: why for name, why in refused.items()
                 if (k := position(op, name)) is not None}
    for k, why in positions.items():
        if tangents is not None and k < len(tangents) and tangents[k] is not None:
            raise NotImplementedError(why)
    return positions


def all_params(op: Op) -> list[Operand]:
    """The op's arguments in NumPy's parameter order, defaults filled in."""
    return [param(op, p) for p in REGISTRY[op.prim].params]


def linear_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    """Helpers linear in some arguments: the helper again on each tangent, summed; in
    vector mode its `batched` form, else one direction at a time."""
    linear = REGISTRY[op.prim].linear_args
    return e.sum_terms([replay(e, op, {k: t[k]}) for k in linear
                        if k < len(t) and t[k] is not None])


def replay_helper(e: Emit, name: str, t: Operand, *rest: Operand) -> Operand:
    """A helper linear in its first argument, applied to a tangent that may be batched
    (then in its batched form, else one direction at a time)."""
    if not e.is_batched(t):
        return e.helper(name, t, *rest)
    if REGISTRY[name].batched is not None:
        return e.batched_helper(name, 0, [t, *rest])
    out = e.b.emit("call", [Const(REGISTRY[name].fn), Const((0,)), t, *rest],
                   attrs={"fn": batched.vmap_last, "kwnames": ()}).result
    e.batched.add(out.uid)
    return out


def multilinear_array(name: str, fn: Any, signature: str, adjoints: dict[str, Any],
                      refused: dict[str, str] | None = None, aliases: tuple = (),
                      vector_mode: tuple[Callable, dict[str, Callable]] | None = None,
                      unread_with: dict[str, str] | None = None, **extra: Any) -> None:
    """Declare a primitive multilinear in its operands (those marked ``*``): the tangent
    is the primitive with each operand's tangent in turn, the adjoint of operand ``p``
    is ``adjoints[p](g, *arguments in NumPy's order)``, whose operand parameters have no
    defaults (so that calls never leave out an argument the helper is linear in).
    `vector_mode`: the batched form of the primitive (of all its parameters, then
    ``directions_in``, the batched operand's place among `adjoints`; None to keep a
    ``batched=`` given) and of each adjoint helper (batched_products.py).
    `unread_with`: operands the primitive does not read where another argument is given
    (np.trapezoid's dx, where x is): their tangent terms are zero there."""
    refused = refused or {}
    params, defaults, _ = parse_signature(signature)
    index = {p: params.index(p) for p in adjoints}
    if vector_mode is not None and vector_mode[0] is not None:
        extra["batched"] = one_batched(name, vector_mode[0], params, tuple(adjoints))

    def jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
        refuse(op, refused, t)
        terms = []
        for p in adjoints:
            k = position(op, p)
            if k is None or t[k] is None:
                continue
            given = param(op, unread_with[p]) if p in (unread_with or {}) else Const(None)
            if isinstance(given, Const) and given.value is not None:
                continue  # not read: no term
            term = apply_again(e, op, {k: t[k]})
            if not isinstance(given, Const):  # known when the code runs
                term = e._mark(e.helper("unless_given", given, term), [term])
            terms.append(term)
        return e.sum_terms(terms)

    def vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
        parts: list[Operand | None] = [None] * len(op.args)
        for p in adjoints:
            k = position(op, p)
            if k is not None:
                parts[k] = e.helper(f"{name}_adjoint_{p}", g, *all_params(op))
        return Refused(parts, refuse(op, refused))

    def helper_vjp(mine: str) -> Callable:
        def rule(e: Emit, h: Operand, args: list[Operand]) -> list[Operand | None]:
            # <h, adj_mine(g, x)> = <g, P(x with mine := h)> = <adj_q(g, x with mine := h), x_q>
            g = args[0]
            values = [nth(args, 1 + k, defaults.get(p)) for k, p in enumerate(params)]
            swapped = [h if p == mine else v for p, v in zip(params, values)]
            parts: list[Operand | None] = [None] * (1 + len(params))
            parts[0] = e.array(name, **dict(zip(params, swapped)))
            for q in adjoints:
                if q != mine:
                    parts[1 + index[q]] = e.helper(f"{name}_adjoint_{q}", g, *swapped)
            return parts
        return rule

    module = sys._getframe(1).f_globals.get("__name__", "").rpartition(".")[2]
    array(name, fn, signature, *aliases, jvp=jvp, vjp=vjp, **extra).module = module
    for p, adjoint in adjoints.items():
        linear = (0, *(1 + index[q] for q in adjoints if q != p))
        helper(f"{name}_adjoint_{p}", adjoint, linear, helper_vjp(p), jvp=linear_jvp,
               batched=vector_mode[1][p] if vector_mode is not None else None).module = module
