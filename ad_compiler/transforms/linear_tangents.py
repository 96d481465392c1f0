"""Vector-mode tangents as coefficients times a few tangents.

A vector-mode tangent has a trailing axis of directions, so each elementwise op on
it is a pass over an array n times larger than its primal.  The product and chain
rules build such tangents as chains of elementwise ops that are linear in them:
``-(a * (b * (-m_dot + c * m_dot)))`` is ``(a * b * (c - 1)) * m_dot`` with the
coefficient ``a * b * (c - 1)`` computed on primal-sized arrays.  `factor_tangents()`
rewrites a tangent whose chain of ``*``, ``/`` (by a primal value), ``+``, ``-`` and
unary ``-`` over a few other tangents takes more passes than coefficients times those
tangents, summed, would.

NumPy's booleans make ``+`` an *or* and refuse unary ``-``: a comparison (a mask) is
a common factor of a tangent.  Two coefficients are added, subtracted or negated only
where one of them is surely a number and not a boolean array; a sign that cannot be
folded into a coefficient is applied to the tangent term (``c * t - d * u``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..builder import Builder
from ..ir import Block, Const, Function, Op, Operand, Value, walk_ops

_ARITHMETIC = {"add", "sub", "mul", "truediv", "neg", "pow"}
_SHAPING = {"expand_dims", "reshape", "broadcast_to"}
_DEEPEST = 48  # ops of one chain expanded into a coefficient


@dataclass
class _Term:
    """sign * coefficient * base, the coefficient an expression over primal values
    (None stands for 1)."""

    sign: int
    coef: tuple | None
    base: Value


@dataclass
class _Block:
    block: Block
    producers: dict[int, Op]
    roots: set[int] = field(default_factory=set)
    shared: set[int] = field(default_factory=set)  # roots read twice, by linear ops only
    single: dict[int, tuple[_Term, set[int]] | None] = field(default_factory=dict)


def factor_tangents(fn: Function, batched: set[int]) -> None:
    """Rewrite the batched tangents of `fn` (the uids in `batched`) whose linear chains
    cost more passes over the directions than their coefficients do (see above)."""
    uses: dict[int, list[tuple[Op | None, int]]] = {}
    blocks: list[Block] = []
    _collect(fn.body, uses, blocks)
    for op in walk_ops(fn.body):  # what the builder made of a marked value, marked too
        if op.prim in _ARITHMETIC and len(op.results) == 1 and any(
                isinstance(a, Value) and a.uid in batched for a in op.args):
            batched.add(op.results[0].uid)
    for block in blocks:
        producers = {r.uid: op for op in block.ops for r in op.results}
        info = _Block(block, producers)
        for op in block.ops:  # the tangents computed once: read twice, or not linearly
            used = uses.get(op.results[0].uid, []) if op.results else []
            if _linear(op, batched) is None:
                continue
            if any(consumer is None or owner != id(block) or _linear(consumer, batched) is None
                   for consumer, owner in used):
                info.roots.add(op.results[0].uid)
            elif len(used) > 1:
                info.roots.add(op.results[0].uid)
                info.shared.add(op.results[0].uid)
        replaced = {}
        for op in block.ops:
            if op.results and op.results[0].uid in info.roots:
                made = _rewrite(info, op, batched)
                if made is not None:
                    replaced[id(op)] = made
        if replaced:
            block.ops = [new for op in block.ops for new in replaced.get(id(op), [op])]


def _collect(block: Block, uses: dict[int, list[tuple[Op | None, int]]],
             blocks: list[Block]) -> None:
    blocks.append(block)
    for op in block.ops:
        for a in op.args:
            if isinstance(a, Value):
                uses.setdefault(a.uid, []).append((op, id(block)))
        for inner in op.blocks:
            _collect(inner, uses, blocks)
    for y in block.yields:
        if isinstance(y, Value):
            uses.setdefault(y.uid, []).append((None, id(block)))


def _linear(op: Op, batched: set[int]) -> str | None:
    """How `op` acts on its batched operands when it is elementwise and linear in them:
    the prim name, or None."""
    if op.blocks or len(op.results) != 1 or op.results[0].uid not in batched:
        return None
    flags = [isinstance(a, Value) and a.uid in batched for a in op.args]
    if op.prim == "neg" and flags == [True]:
        return "neg"
    if op.prim in ("add", "sub") and flags == [True, True]:
        return op.prim
    if op.prim == "mul" and len(flags) == 2 and sum(flags) == 1:
        return "mul"
    if op.prim == "truediv" and flags == [True, False]:
        return "truediv"
    return None


def _form(info: _Block, value: Value, batched: set[int], root: int, counted: set[int],
          depth: int = 0) -> list[_Term]:
    """`value` as a sum of terms, expanding the linear ops of this block whose results
    are read once (the others are roots, computed once); `counted` collects the ops
    expanded (the passes the original code makes).  A long chain is cut: its far end
    stays a tangent computed as it was."""
    op = info.producers.get(value.uid)
    kind = _linear(op, batched) if op is not None else None
    if kind is None or depth > _DEEPEST:
        return [_Term(1, None, value)]
    if value.uid in info.roots and value.uid != root:
        simple = _simple_form(info, value, batched, counted, depth)
        return [simple if simple is not None else _Term(1, None, value)]
    counted.add(id(op))
    depth += 1
    if kind == "neg":
        return [_Term(-t.sign, t.coef, t.base)
                for t in _form(info, op.args[0], batched, root, counted, depth)]
    if kind in ("add", "sub"):
        first = _form(info, op.args[0], batched, root, counted, depth)
        second = _form(info, op.args[1], batched, root, counted, depth)
        if kind == "sub":
            second = [_Term(-t.sign, t.coef, t.base) for t in second]
        return _merged(info, first + second)
    if kind == "mul":
        k = 0 if isinstance(op.args[0], Value) and op.args[0].uid in batched else 1
        factor = op.args[1 - k]
        return [_Term(t.sign, ("leaf", factor) if t.coef is None else ("mul", t.coef,
                                                                        ("leaf", factor)),
                      t.base) for t in _form(info, op.args[k], batched, root, counted, depth)]
    divisor = op.args[1]
    return [_Term(t.sign, ("div", t.coef, ("leaf", divisor)), t.base)
            for t in _form(info, op.args[0], batched, root, counted, depth)]


def _simple_form(info: _Block, value: Value, batched: set[int], counted: set[int],
                 depth: int) -> _Term | None:
    """A tangent read by several linear ops, as one coefficient times one tangent where
    that coefficient is small: each reader takes it into its own coefficient (and
    when all of them do, it is no longer computed)."""
    if value.uid not in info.shared:
        return None
    if value.uid not in info.single:
        own: set[int] = set()
        terms = _form(info, value, batched, value.uid, own, depth)
        simple = len(terms) == 1 and terms[0].coef is not None and _size(terms[0].coef) <= 6
        info.single[value.uid] = (terms[0], own) if simple else None
    found = info.single[value.uid]
    if found is None:
        return None
    counted.update(found[1])
    return found[0]


def _size(coef: tuple | None) -> int:
    if coef is None or coef[0] in ("one", "leaf"):
        return 1
    return 1 + sum(_size(part) for part in coef[1:] if isinstance(part, tuple))


def _merged(info: _Block, terms: list[_Term]) -> list[_Term]:
    """Terms of one base added into one, where the coefficients can be added safely."""
    out: list[_Term] = []
    for term in terms:
        for k, kept in enumerate(out):
            if kept.base is not term.base:
                continue
            if not (_numeric(info, kept.coef) or _numeric(info, term.coef)):
                continue
            a, b = kept.coef or ("one",), term.coef or ("one",)
            if kept.sign == term.sign:
                out[k] = _Term(kept.sign, ("add", a, b), kept.base)
            else:
                out[k] = _Term(kept.sign, ("sub", a, b), kept.base)
            break
        else:
            out.append(term)
    return out


def _numeric(info: _Block, coef: tuple | None, depth: int = 0) -> bool:
    """Whether a coefficient is surely a number or numeric array, not booleans."""
    if coef is None or coef[0] in ("one", "add", "sub", "div"):
        return True  # 1; sums are only made of a numeric side; x / y is never boolean
    if coef[0] == "mul":
        return _numeric(info, coef[1], depth) or _numeric(info, coef[2], depth)
    return _numeric_operand(info, coef[1], depth)


def _numeric_operand(info: _Block, operand: Operand, depth: int) -> bool:
    if isinstance(operand, Const):
        return isinstance(operand.value, (int, float, complex)) and not isinstance(
            operand.value, bool)
    op = info.producers.get(operand.uid) if isinstance(operand, Value) else None
    if op is None or depth > 8:
        return False  # a parameter, a global, a value of an enclosing block: unknown
    if op.prim in _SHAPING:
        return _numeric_operand(info, op.args[0], depth + 1)
    if op.prim in ("truediv", "pow"):
        return True
    if op.prim in _ARITHMETIC:
        return any(_numeric_operand(info, a, depth + 1) for a in op.args)
    return op.prim in ("exp", "log", "tanh", "sin", "cos", "sqrt", "logaddexp", "expm1",
                       "log1p", "sum_adjoint")


def _rewrite(info: _Block, op: Op, batched: set[int]) -> list[Op] | None:
    """The ops that compute `op`'s result as coefficients times tangents, or None
    where that takes as many passes as the ops that compute it now."""
    counted: set[int] = set()
    result = op.results[0]
    terms = _form(info, result, batched, result.uid, counted)
    cost = sum(t.coef is not None for t in terms) + len(terms) - 1
    negative = all(t.sign < 0 for t in terms) and not (
        terms[0].coef is not None and _numeric(info, terms[0].coef))
    if cost + negative >= len(counted):
        return None
    new = Block()
    builder = Builder(new, info.producers)
    builder.loc = op.loc
    total: Operand | None = None
    for term in sorted(terms, key=lambda t: -t.sign):  # positive terms first
        coef = _emit(builder, term.coef)
        sign = term.sign
        if sign < 0 and total is None and coef is not None and _numeric(info, term.coef):
            coef, sign = builder.neg(coef), 1
        piece = term.base if coef is None else builder.mul(coef, term.base)
        if total is None:
            total = piece if sign > 0 else builder.neg(piece)
        else:
            total = builder.add(total, piece) if sign > 0 else builder.sub(total, piece)
        if isinstance(piece, Value) and piece is not term.base:
            batched.add(piece.uid)
        if isinstance(total, Value):
            batched.add(total.uid)
    if not new.ops or new.ops[-1].results != [total]:
        return None  # the sum simplified to a value computed before: nothing to replace
    new.ops[-1].results = [result]
    info.producers[result.uid] = new.ops[-1]
    return new.ops


def _emit(builder: Builder, coef: tuple | None) -> Operand | None:
    if coef is None:
        return None
    kind = coef[0]
    if kind == "one":
        return Const(1.0)
    if kind == "leaf":
        return coef[1]
    if kind == "div":
        numerator = _emit(builder, coef[1])
        return builder.apply("truediv", [Const(1.0) if numerator is None else numerator,
                                         _emit(builder, coef[2])])
    a, b = _emit(builder, coef[1]), _emit(builder, coef[2])
    return builder.apply(kind, [a, b])
