"""Traces at a point: seed 001's walk-through, value, tangent and adjoint of every w.

The trace is the IR the compiler differentiates, printed in w-level notation; its
table evaluates the primal, a forward sweep and a reverse sweep of the straight-line
trace with the interpreter, so every row can be read against the seeds by hand.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .build import check_scalar_output, wrt_indices
from .errors import ADCompileError
from .interpret import evaluate, read_operand
from .ir import Function, Value, format_function
from .lowering import lower
from .runtime import fields_of
from .transforms import forward, reverse

_why_not_tabulated = {
    "if": "a w value is defined on one branch only, and the table has one row per w",
    "for": "a w value takes a value per iteration, and the table has one row per w",
    "while": "a w value takes a value per iteration, and the table has one row per w",
}


class Trace:
    """The SSA evaluation trace of a function, printable in w-level notation."""

    def __init__(self, f: Callable) -> None:
        self.f = f
        self.function = lower(f)

    def __str__(self) -> str:
        return format_function(self.function)

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        return "```\n" + str(self) + "\n```"

    def table(self, *args: Any, seed: int | str = 0, **point: Any) -> TraceTable:
        """Value, tangent (d/d `seed`) and adjoint of every w at a point.

        The point is given positionally or by parameter name: ``table(x1=0.7, x2=1.3)``.
        """
        fn = self.function
        values = _bind_point(fn, args, point)
        check_scalar_output(fn, "trace(...).table")
        structured = next((op for op in fn.body.ops if op.blocks), None)
        if structured is not None:
            loc = structured.loc
            raise ADCompileError(
                f"a table of values needs straight-line code, but {fn.name} has "
                f"'{structured.prim}' ({_why_not_tabulated.get(structured.prim, 'blocks of code')})",
                hint="print the trace itself, or tabulate a straight-line part of the function",
                filename=fn.filename, lineno=loc.lineno if loc else None,
                col=loc.col if loc else None,
                source_line=fn.source.line(loc.lineno) if loc and fn.source else None)
        seed_index = wrt_indices(fn, seed)[0][0]
        everything = list(range(len(fn.params)))
        tangent_fn = forward(fn, [seed_index], unit_seeds=True)
        adjoint_fn = reverse(fn, everything, seed_params=False)
        primal_env = evaluate(fn, values)
        tangent_env = evaluate(tangent_fn, values)
        adjoint_env = evaluate(adjoint_fn, values)
        rows = []
        for value, expression in _trace_rows(fn):
            tangent = tangent_fn.tangents.get(value.uid)
            adjoint = adjoint_fn.adjoints.get(value.uid)
            rows.append((value.trace_name, value.name or "", expression,
                         primal_env[value.uid],
                         read_operand(tangent_env, tangent_fn, tangent) if tangent is not None else 0.0,
                         read_operand(adjoint_env, adjoint_fn, adjoint) if adjoint is not None else 0.0))
        return TraceTable(rows, fn.params[seed_index].name)


def _bind_point(fn: Function, args: tuple, point: dict) -> list[Any]:
    names = [p.name for p in fn.params]
    values = list(args) + [None] * (len(names) - len(args))
    for name, value in point.items():
        if name not in names:
            raise ValueError(f"{fn.name} has no parameter {name!r}")
        values[names.index(name)] = value
    missing = [n for n, v in zip(names, values) if v is None]
    if missing:
        raise ValueError(f"no value given for {', '.join(missing)}")
    for name, value in zip(names, values):
        if isinstance(value, (list, tuple, dict, np.ndarray)) or fields_of(value) is not None:
            what = "an array" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"
            raise ValueError(f"a table of values shows one number per w, but {name} is "
                             f"{what}: give every input as a number (adc.check_grad and "
                             "adc.source(..., at=...) take arrays)")
    return values


def _trace_rows(fn: Function) -> list[tuple[Value, str]]:
    from .ir import format_op_rhs

    rows = [(p, p.name or "") for p in fn.params]
    for op in fn.body.ops:
        for r in op.results:
            rows.append((r, format_op_rhs(op)))
    return rows


class TraceTable:
    """Rows of (w, variable, expression, value, tangent, adjoint)."""

    headers = ("w", "variable", "expression", "value", "tangent", "adjoint")

    def __init__(self, rows: list[tuple], seed_name: str | None) -> None:
        self.rows = rows
        self.seed_name = seed_name

    def column(self, name: str) -> dict[str, Any]:
        k = self.headers.index(name)
        return {row[0]: row[k] for row in self.rows}

    def __str__(self) -> str:
        headers = list(self.headers)
        headers[4] = f"d/d{self.seed_name}" if self.seed_name else "tangent"
        cells = [headers] + [[r[0], r[1], r[2], *(_fmt(v) for v in r[3:])] for r in self.rows]
        widths = [max(len(str(row[k])) for row in cells) for k in range(len(headers))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{_fmt(c) if k > 2 else c}</td>"
                                        for k, c in enumerate(r)) + "</tr>" for r in self.rows)
        return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def trace(f: Callable) -> Trace:
    """The SSA evaluation trace of `f` (print it, or tabulate it at a point)."""
    return Trace(f)
