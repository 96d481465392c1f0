"""Symbolic differentiation of a straight-line scalar function, to compare with AD.

Seed 002 contrasts symbolic differentiation (write the formula, apply the sum,
product and chain rules) with automatic differentiation over the evaluation trace.
`symbolic(f)` substitutes the trace of `f` into one sympy formula and differentiates
it, so its derivatives can be checked against `grad` and their size compared with
the trace: a formula repeats every shared intermediate wherever it is used
("expression swell"), while the trace computes it once.

sympy is imported inside the functions: ``import ad_compiler`` must stay light.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

from .errors import ADCompileError
from .ir import Const, Function, Op, Operand, Value, walk_ops
from .primitives import PRIMITIVES

_HINT = "symbolic() handles straight-line scalar code; use grad(f) for the rest"


class SymbolicResult:
    """A function's formula and its partial derivatives, with reports and sizes."""

    def __init__(self, ir: Function, function: Any, derivatives: dict[str, Any]) -> None:
        self.ir = ir
        self.function = function
        self.derivatives = derivatives
        self._cse: tuple[list, list] | None = None

    def cse(self) -> tuple[list[tuple[Any, Any]], list[Any]]:
        """``sympy.cse`` of all derivatives together: ``(replacements, reduced)``.

        Temporaries are named t0, t1, ...: sympy's default x0, x1 would print the same
        as parameters named x1, x2 (seed 001's) while being different symbols.
        """
        if self._cse is None:
            import sympy

            taken = {s.name for e in self.derivatives.values() for s in e.free_symbols}
            names = (f"t{i}" for i in range(10**9) if f"t{i}" not in taken)
            symbols = (sympy.Symbol(n, real=True) for n in names)
            self._cse = sympy.cse(list(self.derivatives.values()), symbols=symbols)
        return self._cse

    def _lines(self, show: Callable[[Any], str], left: Callable[[str], str],
               call: str) -> list[str]:
        replacements, reduced = self.cse()
        lines = [f"{call} = {show(self.function)}"]
        lines += [f"{show(s)} = {show(e)}" for s, e in replacements]
        lines += [f"{left(n)} = {show(e)}" for n, e in zip(self.derivatives, reduced)]
        return lines

    def text(self) -> str:
        """The function, then its derivatives with common subexpressions pulled out."""
        name, params = self.ir.name, [p.name for p in self.ir.params]
        return "\n".join(self._lines(str, lambda n: f"d{name}/d{n}",
                                     f"{name}({', '.join(params)})"))

    def latex(self) -> str:
        """The same report in LaTeX, one equation per line."""
        import sympy

        name = _latex_name(self.ir.name)
        params = ", ".join(sympy.latex(sympy.Symbol(p.name)) for p in self.ir.params)

        def left(n: str) -> str:
            return rf"\frac{{\partial {name}}}{{\partial {sympy.latex(sympy.Symbol(n))}}}"

        return " \\\\\n".join(self._lines(sympy.latex, left, f"{name}({params})"))

    def sizes(self) -> dict[str, int]:
        """Expression size of symbolic vs automatic differentiation.

        ``symbolic_*``: the derivatives as sympy returns them; ``cse_*``: after common
        subexpression elimination (replacements plus reduced expressions); ``*_ops``
        counts operations (``sympy.count_ops``), ``*_nodes`` expression-tree nodes.
        ``trace_ops``: ops of the lowered trace of f; ``ad_ops``: ops of the optimised
        reverse-mode code computing f and its whole gradient.
        """
        from .transforms import optimize, reverse

        replacements, reduced = self.cse()
        derivs = list(self.derivatives.values())
        after = [e for _, e in replacements] + list(reduced)
        d = reverse(self.ir, list(range(len(self.ir.params))), seed_params=False)
        optimize(d)
        return {
            "symbolic_ops": _count_ops(derivs), "symbolic_nodes": _count_nodes(derivs),
            "cse_ops": _count_ops(after), "cse_nodes": _count_nodes(after),
            "trace_ops": sum(1 for _ in walk_ops(self.ir.body)),
            "ad_ops": sum(1 for _ in walk_ops(d.body)),
        }

    def sizes_table(self) -> str:
        """`sizes` as a small table, symbolic rows above AD rows."""
        s = self.sizes()
        rows = [("symbolic derivatives", s["symbolic_ops"], s["symbolic_nodes"]),
                ("symbolic after CSE", s["cse_ops"], s["cse_nodes"]),
                (f"AD trace of {self.ir.name}", s["trace_ops"], "-"),
                ("AD reverse-mode code", s["ad_ops"], "-")]
        width = max(22, max(len(label) for label, _, _ in rows) + 2)
        lines = [f"{'':<{width}}{'ops':>6}{'nodes':>7}"]
        lines += [f"{label:<{width}}{ops:>6}{nodes:>7}" for label, ops, nodes in rows]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"SymbolicResult({self.function}, derivatives={self.derivatives})"


def symbolic(f: Callable, wrt: str | int | Iterable[str | int] | None = None) -> SymbolicResult:
    """The formula of straight-line scalar `f` and its partials (default: all inputs)."""
    import sympy

    from .interpret import read_operand
    from .lowering import lower
    from .rules import meaning

    fn = lower(f)
    env: dict[int, Any] = {p.uid: sympy.Symbol(p.name, real=True) for p in fn.params}

    def operand(op: Op | None, a: Operand) -> Any:
        if isinstance(a, Value):
            return env[a.uid]
        what = repr(a.value) if isinstance(a, Const) else f"'{a.name}'"
        try:
            value = a.value if isinstance(a, Const) else read_operand(env, fn, a)
        except (NameError, AttributeError):
            value = None
        number = _number(value)
        if number is None:
            raise _refuse(fn, op, f"symbolic differentiation needs numbers, not {what} "
                                  f"({type(value).__name__})")
        return number

    for op in fn.body.ops:  # control flow first: its condition or range comes before it
        if op.blocks:
            raise _refuse(fn, op, f"symbolic differentiation does not follow control flow "
                                  f"('{op.prim}' statement)")
    for op in fn.body.ops:
        if op.attrs.get("guard"):  # a run-time check of an in-place update: numbers pass
            continue
        spec = PRIMITIVES.get(op.prim)
        if spec is None or spec.expr is None or len(op.results) != 1 or \
                len(op.args) != spec.arity or op.attrs.get("nondiff"):
            label = op.attrs.get("callee") or op.prim
            kind = "lists and tuples" if op.prim in ("pack", "getitem", "tuple") else \
                "arrays" if spec is None and op.prim != "call" else f"'{label}'"
            raise _refuse(fn, op, f"symbolic differentiation has no formula for {kind}")
        env[op.result.uid] = meaning(op.prim, [operand(op, a) for a in op.args])

    if fn.returns_tuple or len(fn.outputs) != 1:
        raise _refuse(fn, None, "symbolic differentiation needs one scalar output")
    expr = operand(None, fn.outputs[0])
    derivatives = {name: sympy.diff(expr, env[fn.params[i].uid])
                   for i, name in _positions(fn, wrt)}
    return SymbolicResult(fn, expr, derivatives)


def _positions(fn: Function, wrt: Any) -> list[tuple[int, str]]:
    """(index, name) of each input in `wrt`, given by name or position."""
    names = [p.name for p in fn.params]
    if wrt is None:
        return list(enumerate(names))
    out = []
    for w in [wrt] if isinstance(wrt, (str, int)) else wrt:
        i = names.index(w) if w in names else w if isinstance(w, int) else None
        if i is None or not 0 <= i < len(names):
            raise ADCompileError(f"{fn.name} has no input {w!r}",
                                 hint=f"its inputs are {', '.join(names)}")
        out.append((i, names[i]))
    return out


def _number(value: Any) -> Any:
    """A Python or NumPy real number as sympy: ints exact, floats as Float, math.pi
    and math.e as the constants they stand for.  None for anything else."""
    import sympy

    if isinstance(value, (bool, numbers.Integral)):
        return sympy.Integer(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return {math.pi: sympy.pi, math.e: sympy.E}.get(value, sympy.Float(value))
    return None


def _refuse(fn: Function, op: Op | None, what: str) -> ADCompileError:
    from .transforms.common import located_error

    if op is None:
        return ADCompileError(what, hint=_HINT, filename=fn.filename)
    return located_error(fn, op, what, _HINT)


def _latex_name(name: str) -> str:
    return name if len(name) == 1 else rf"\operatorname{{{name}}}"


def _count_ops(exprs: list[Any]) -> int:
    import sympy

    return sum(int(sympy.count_ops(e, visual=False)) for e in exprs)


def _count_nodes(exprs: list[Any]) -> int:
    import sympy

    return sum(len(list(sympy.preorder_traversal(e))) for e in exprs)
