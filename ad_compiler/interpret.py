"""Running an IR function value by value, to tabulate a trace at a point.

The generated code is what users run; this interpreter exists so that a trace can
show the value, tangent and adjoint of every intermediate ``w`` (seed 001's
walk-through), including values the optimised code never materialises.
"""
from __future__ import annotations

from typing import Any

from .ir import Block, Const, FreeName, Function, Operand, Value
from .primitives import OPERATOR_FUNCTIONS


def evaluate(fn: Function, args: list[Any]) -> dict[int, Any]:
    """Values of every SSA value of `fn` at `args`, keyed by value uid."""
    env: dict[int, Any] = {p.uid: a for p, a in zip(fn.params, args)}

    def read(operand: Operand) -> Any:
        return read_operand(env, fn, operand)

    def run(block: Block) -> None:
        for op in block.ops:
            if op.attrs.get("guard"):  # a run-time check of an in-place update
                continue
            if op.blocks:
                raise NotImplementedError(f"tabulating '{op.prim}' blocks")
            values = [read(a) for a in op.args]
            if op.prim in OPERATOR_FUNCTIONS:
                result = OPERATOR_FUNCTIONS[op.prim](*values)
            elif op.prim == "copy":
                result = values[0]
            elif op.prim == "pack" and op.attrs.get("kind") == "dict":
                result = dict(zip(op.attrs["keys"], values))
            elif op.prim == "pack" and op.attrs.get("kind") == "record":
                result = op.attrs["cls"](**dict(zip(op.attrs["fields"], values)))
            elif op.prim == "pack":
                result = list(values) if op.attrs.get("kind") == "list" else tuple(values)
            elif op.prim == "getattr":
                result = getattr(values[0], values[1])
            elif op.prim == "getitem":
                result = values[0][values[1] if len(values) == 2 else tuple(values[1:])]
            else:
                kwnames = op.attrs.get("kwnames", ())
                positional = values[: len(values) - len(kwnames)]
                kwargs = dict(zip(kwnames, values[len(positional):]))
                result = op.attrs["fn"](*positional, **kwargs)
            if op.results:  # (an assert or a raise makes none)
                env[op.result.uid] = result

    run(fn.body)
    for i, y in enumerate(fn.outputs):
        env[("out", i)] = read(y)
    return env


def _free_value(fn: Function, name: FreeName) -> Any:
    root, *path = name.name.split(".")
    resolved = fn.source.resolve(root) if fn.source is not None else None
    if resolved is None:
        raise NameError(root)
    obj = resolved.obj
    for attr in path:
        obj = getattr(obj, attr)
    return obj


def read_operand(env: dict, fn: Function, operand: Operand) -> Any:
    if isinstance(operand, Value):
        return env[operand.uid]
    if isinstance(operand, Const):
        return operand.value
    return _free_value(fn, operand)
