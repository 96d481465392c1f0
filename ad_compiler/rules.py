"""Derivative rules: local partials derived with sympy, turned into IR.

For an elementwise primitive with meaning ``f(x, y)``, the partial ``df/dx`` is
derived once with ``sympy.diff``, simplified, rewritten in terms of the op's own
result where that saves work (``d exp(x) = exp(x)``, ``d sqrt(x) = 1/(2 sqrt(x))``),
and stored as a small expression tree (a *template*).  Templates are memoised per
primitive, operand and pattern of constant operands, so sympy runs once per shape
of use and is imported only when the first rule is needed.

The tangent rule is ``ydot = sum_i df/dx_i * xdot_i`` (seed 001's forward sweep) and
the adjoint rule is ``xbar_i += ybar * df/dx_i`` (seed 002's partial adjoints).
"""
from __future__ import annotations

import functools
import math
from typing import Any

from . import batched, runtime, runtime_slopes, user_rules
from .builder import Builder
from .ir import Const, Op, Operand, Value
from .primitives import PRIMITIVES
from .registry import has_expr
from .registry import is_nondiff as nondiff_primitive
from .registry.special import SYMPY_NAMES, TEMPLATE_REWRITES, no_partial
from .selected_adjoints import zero_outside
from .shapes import SCALAR, ShapeFacts
from .tensor_rules import (
    Emit,
    array_jvp,
    array_vjp,
    differentiable_positions,
    is_array_prim,
)

SCALAR_CODE = ShapeFacts(None, scalar_code=True)

# sympy function name -> primitive, for turning derived expressions back into IR
_SYMPY_FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos",
    "atan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "asinh",
    "acosh": "acosh", "atanh": "atanh", "exp": "exp", "log": "log", "Abs": "abs",
    "sign": "sign", "floor": "floor", "ceiling": "ceil", "erf": "erf", "erfc": "erfc",
    "atan2": "atan2", **SYMPY_NAMES,
}

Template = tuple  # ("arg", i) | ("res",) | ("num", v) | (prim, *children)


def is_differentiable(prim: str) -> bool:
    if prim in ("custom", "pack", "getitem", "getattr") or is_array_prim(prim):
        return True
    return has_expr(prim)


def is_nondiff(op: Op) -> bool:
    """Zero derivative: a piecewise-constant primitive, or a call marked as such
    (``len``, ``print``, ``int(x, 2)``) whose result carries no derivative."""
    return bool(op.attrs.get("nondiff")) or nondiff_primitive(op.prim)


@functools.cache
def _symbols() -> tuple[Any, Any, Any]:
    import sympy

    return sympy.symbols("x y Y", real=True)


def meaning(prim: str, operands: list[Any]) -> Any:
    """The sympy expression a primitive denotes, applied to sympy operands."""
    import sympy

    x, y, _ = _symbols()
    expr = sympy.sympify(PRIMITIVES[prim].expr, locals={"x": x, "y": y})
    names = (x, y)[: PRIMITIVES[prim].arity]
    return expr.subs(dict(zip(names, operands)), simultaneous=True)


def _sympy_number(value: Any) -> Any:
    import sympy

    if isinstance(value, bool):
        return sympy.Integer(int(value))
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return sympy.Integer(int(value))
    return sympy.Float(value)


@functools.cache
def partial_template(prim: str, wrt: int, consts: tuple) -> Template:
    """Template of ``d prim / d operand[wrt]``.

    `consts` describes each operand: None for a variable, ``(value,)`` for a constant,
    ``("same", k)`` for the same value as operand k (so ``x * x`` gives ``2 * x``).
    """
    import sympy

    x, y, result = _symbols()
    names = (x, y)[: PRIMITIVES[prim].arity]
    operands = []
    for s, c in zip(names, consts):
        if c is None:
            operands.append(s)
        elif c[0] == "same" and len(c) == 2:
            operands.append(names[c[1]])
        else:
            operands.append(_sympy_number(c[0]))
    expr = meaning(prim, operands)
    given = PRIMITIVES[prim].partials
    if given is not None:  # positions holding the same value add their partials
        same = [j for j, c in enumerate(consts)
                if j == wrt or (c is not None and c[0] == "same" and c[1] == wrt)]
        if any(given[j] is None for j in same):  # an order, a shape parameter
            raise NotImplementedError(no_partial(prim, wrt))
        parts = [sympy.sympify(given[j], locals={"x": x, "y": y}) for j in same]
        partial = parts[0] if len(parts) == 1 else sympy.Add(*(
            sympy.Piecewise((1, p), (0, True)) if p.is_Relational else p for p in parts))
        partial = partial.subs(dict(zip(names, operands)), simultaneous=True)
    else:
        partial = sympy.diff(expr, names[wrt])
        if expr.free_symbols:
            partial = partial.subs(expr, result)
    return _to_template(partial, names)


def _to_template(expr: Any, names: tuple) -> Template:
    import sympy

    if expr.is_Symbol:
        return ("res",) if expr.name == "Y" else ("arg", names.index(expr))
    if not expr.free_symbols and expr.is_number:  # nan where not real (log of a negative)
        return ("num", float(expr) if expr.is_extended_real else math.nan)
    if expr.is_Add:
        terms = sorted(expr.args, key=lambda t: t.could_extract_minus_sign())
        tree: Template | None = None
        for term in terms:
            negative = term.could_extract_minus_sign()
            part = _to_template(-term if negative else term, names)
            if tree is None:
                tree = ("neg", part) if negative else part
            else:
                tree = ("sub" if negative else "add", tree, part)
        return tree
    if expr.is_Mul:
        coeff = sympy.Integer(1)
        numer, denom = [], []
        for factor in expr.args:
            if factor.is_number:
                coeff *= factor
            elif factor.is_Pow and factor.exp.is_number and factor.exp < 0:
                denom.append(_to_template(factor.base ** -factor.exp, names))
            else:
                numer.append(_to_template(factor, names))
        negative = coeff < 0
        coeff = abs(coeff)
        if coeff.is_Rational and not coeff.is_Integer:
            p, q = coeff.p, coeff.q
            if p != 1:
                numer.insert(0, ("num", float(p)))
            denom.insert(0, ("num", float(q)))
        elif coeff != 1:
            numer.insert(0, ("num", float(coeff)))
        tree = _product(numer) if numer else ("num", 1)
        if denom:
            tree = ("truediv", tree, _product(denom))
        return ("neg", tree) if negative else tree
    if expr.is_Pow:
        base, exponent = expr.base, expr.exp
        if exponent.is_number:
            value = float(exponent)
            if value == 0.5:
                return ("sqrt", _to_template(base, names))
            if value < 0:
                return ("truediv", ("num", 1), _to_template(base ** -exponent, names))
            if value == 1:
                return _to_template(base, names)
            if exponent.is_Integer:  # x ** 2 keeps an integer exponent
                return ("pow", _to_template(base, names), ("num", int(exponent)))
        return ("pow", _to_template(base, names), _to_template(exponent, names))
    name = type(expr).__name__
    if expr.is_Relational:  # an indicator, e.g. d max(x, y)/dx = (x >= y)
        relations = {"GreaterThan": "ge", "StrictGreaterThan": "gt", "LessThan": "le",
                     "StrictLessThan": "lt"}
        return (relations[name], _to_template(expr.lhs, names), _to_template(expr.rhs, names))
    if name == "floor" and expr.args[0].is_Mul:
        numer, denom = expr.args[0].as_numer_denom()
        return ("floordiv", _to_template(numer, names), _to_template(denom, names))
    if name in TEMPLATE_REWRITES:  # an order that is a whole number: SciPy's named function
        tree = TEMPLATE_REWRITES[name](expr, lambda e: _to_template(e, names))
        if tree is not None:
            return tree
    if name in _SYMPY_FUNCTIONS:
        return (_SYMPY_FUNCTIONS[name], *(_to_template(a, names) for a in expr.args))
    raise NotImplementedError(f"cannot express {expr} as primitives")


def _product(factors: list[Template]) -> Template:
    tree = factors[0]
    for f in factors[1:]:
        tree = ("mul", tree, f)
    return tree


def instantiate(builder: Builder, tree: Template, op: Op) -> Operand:
    """Emit a template as IR, the op's operands and result standing for x, y and Y."""
    kind = tree[0]
    if kind == "arg":
        return op.args[tree[1]]
    if kind == "res":
        return op.result
    if kind == "num":
        return Const(tree[1])
    children = [instantiate(builder, child, op) for child in tree[1:]]
    if kind == "sign":  # the slope of abs: refuses a complex number, fast on a float
        return builder.emit("sign", children, attrs={"fn": runtime_slopes.real_sign,
                                                     "family": _family(op)}).result
    return builder.apply(kind, children, _family(op))


def _family(op: Op) -> str:
    return op.attrs.get("family", "operator")


def const_pattern(op: Op) -> tuple:
    pattern: list = []
    args = op.args
    for i, a in enumerate(args):
        if type(a) is Const:
            pattern.append((a.value,))
        elif isinstance(a, Value) and i and any(b is a for b in args[:i]):
            pattern.append(("same", next(k for k, b in enumerate(args) if b is a)))
        else:
            pattern.append(None)
    return tuple(pattern)


def local_partials(builder: Builder, op: Op, indices: list[int]) -> list[Operand]:
    """``d op.result / d op.args[i]`` for each i in `indices`, as IR emitted into `builder`."""
    if op.prim == "custom":  # the user's partials function, called once for all operands
        label = f"{(op.attrs.get('callee') or 'f').split('.')[-1]}_partials"
        call = builder.emit("call", [op.result, *op.args],
                            attrs={"fn": op.attrs["partials"], "kwnames": (),
                                   "label": label}).result
        if len(op.args) == 1:
            return [call]
        return [builder.emit("getitem", [call, Const(i)]).result for i in indices]
    return [instantiate(builder, partial_template(op.prim, i, const_pattern(op)), op)
            for i in indices]


def _before_directions(builder: Builder, index: list[Operand],
                       facts: ShapeFacts) -> list[Operand]:
    """The index of a primal array, for its batched tangent: a ``...`` in it stops before
    the directions' last axis; an index computed when the code runs (a tuple passed in)
    is asked then, unless it is a number."""
    if any(isinstance(i, Const) and i.value is Ellipsis for i in index):
        return [*index, Const(slice(None))]
    if len(index) == 1 and isinstance(index[0], Value) and index[0].uid not in \
            facts.integers and facts.shape_class(index[0]) != SCALAR:
        return [builder.emit("call", [index[0]], attrs={
            "fn": batched.directions_kept, "kwnames": ()}).result]
    return index


def jvp(builder: Builder, op: Op, tangents: list[Operand | None],
        facts: ShapeFacts = SCALAR_CODE) -> Operand | None:
    """Tangent of an op's result; None tangents are symbolic zeros."""
    e = Emit(builder, facts)
    if op.prim == "pack" and op.attrs.get("kind") == "record":  # Params(w, b)'s tangent:
        return _record_tangent(builder, e, op, tangents, facts)  # the fields' tangents
    if op.prim == "pack":  # the tangent of a list is the list of tangents
        items = [t if t is not None else zero_like(builder, a, facts)
                 for t, a in zip(tangents, op.args)]
        attrs = {k: v for k, v in op.attrs.items() if k in ("kind", "keys", "cls", "fields")}
        packed = builder.emit("pack", items, attrs={"kind": "tuple", **attrs})
        return e._mark(packed.result, items)
    if op.prim == "getattr":  # a field's tangent is that field of the tangent
        if tangents[0] is None:
            return None
        return e._mark(builder.emit("getattr", [tangents[0], op.args[1]]).result, tangents[:1])
    if op.prim == "getitem":
        if tangents[0] is None:
            return None
        index = list(op.args[1:])
        if e.is_batched(tangents[0]):  # `...` must stop before the directions
            index = _before_directions(builder, index, facts)
        return e._mark(builder.emit("getitem", [tangents[0], *index]).result, tangents[:1])
    if op.prim == "custom" and "rule" in op.attrs:  # the user's rule for an array function
        return user_rules.rule_jvp(builder, op, tangents, e.batched is not None)
    if is_array_prim(op.prim):
        total = array_jvp(builder, op, tangents, facts)
        if op.prim != "where":
            return total
        return _broadcast_tangent(builder, e, total, op, [1, 2], tangents, facts)
    indices = [i for i, t in enumerate(tangents)
               if t is not None and op.args[i] not in op.args[:i]]  # a repeated operand counts once
    exponent = _exponent_position(op, indices)
    plain = [i for i in indices if i != exponent]
    partials = local_partials(builder, op, plain)
    if e.batched is not None:  # vector mode: partials get an axis for the directions
        terms = [e.mul(p, tangents[i]) for i, p in zip(plain, partials)]
    else:
        terms = [builder.mul(p, tangents[i]) for i, p in zip(plain, partials)]
    # operands whose tangent survives in the sum (a term folded to a constant does not)
    covered = [a for i, term in zip(plain, terms)
               if isinstance(term, Value) and isinstance(tangents[i], Value)
               for a in [op.args[i], *_partial_reads(op, i)]]
    if exponent is not None:
        terms.append(_exponent_term(builder, e, op, tangents[exponent]))
        covered = list(op.args)  # x**k * log(x) * k_dot has the shape of the result
    if e.batched is not None:  # a zero partial (copysign's in y) adds no batched term
        total = e.sum_terms([t for t in terms if not (isinstance(t, Const) and t.value == 0)])
        if not all(e.is_batched(tangents[i]) for i in indices):
            covered = []
    else:
        total = builder.sum(terms) if terms else None
    if _has_result_shape(op, covered, facts):
        return total
    return _broadcast_tangent(builder, e, total, op, indices, tangents, facts)


def _partial_reads(op: Op, wrt: int) -> list[Operand]:
    """The operands a built-in partial ``d op / d op.args[wrt]`` is a function of (all of
    them where it reads the result); a term made with it is broadcast against them."""
    if op.prim == "custom":
        return []
    reads: list[Operand] = []
    pending = [partial_template(op.prim, wrt, const_pattern(op))]
    while pending:
        tree = pending.pop()
        if tree[0] == "res":
            return list(op.args)
        if tree[0] == "arg":
            reads.append(op.args[tree[1]])
        elif tree[0] != "num":
            pending.extend(tree[1:])
    return reads


def _has_result_shape(op: Op, covered: list[Operand], facts: ShapeFacts) -> bool:
    """Whether the tangent of an elementwise op certainly has its result's shape: each
    tangent has its primal's shape, and every term of the sum is broadcast against its
    operand's tangent, so the sum has the broadcast shape of the `covered` operands; it
    is the result's when every other operand is a Python number (a constant, or what a
    `math` function returned).  Scalar code then needs no ``broadcast_like`` call."""
    if not covered:
        return False
    return all(a in covered or facts.shape_class(a) == SCALAR for a in op.args)


def _exponent_position(op: Op, indices: list[int]) -> int | None:
    """1 where `op` is ``x ** k`` with `k` differentiated and `x` not a positive constant:
    its term ``x**k * log(x)`` is nan for a negative base, and must vanish where the
    exponent's tangent (or its result's adjoint) does."""
    if op.prim not in ("pow", "power") or 1 not in indices:
        return None
    base = op.args[0]
    if isinstance(base, Const) and isinstance(base.value, (int, float)) and base.value > 0:
        return None
    return 1


def _exponent_term(builder: Builder, e: Emit, op: Op, weight: Operand) -> Operand:
    """``weight * x**k * log(x)`` as ``xlogy(weight * x**k, x)``: zero where the weight
    is zero, and where the base is zero (the limit of ``x**k * log(x)``)."""
    if e.batched is None:
        return builder.apply("xlogy", [builder.mul(weight, op.result), op.args[0]], _family(op))
    weighted, base = e._aligned(e.mul(op.result, weight), op.args[0])
    return e._mark(builder.apply("xlogy", [weighted, base], _family(op)), [weighted])


def _broadcast_tangent(builder: Builder, e: Emit, total: Operand | None, op: Op,
                       indices: list[int], tangents: list[Operand | None],
                       facts: ShapeFacts) -> Operand | None:
    """x + y with only x varied: the tangent takes the broadcast shape of the result
    unless a varied operand already has it."""
    if total is None or any(tangents[i] is not None and facts.same_shape(op.args[i], op.result)
                            for i in indices):
        return total
    if e.batched is None:  # the registered helper: forward mode over this code knows it
        return e.helper("broadcast_like", total, op.result)
    return e._mark(builder.emit("call", [total, op.result], attrs={
        "fn": batched.batched_broadcast_like, "kwnames": ()}).result, [total])


def _record_tangent(builder: Builder, e: Emit, op: Op, tangents: list[Operand | None],
                    facts: ShapeFacts) -> Operand | None:
    """The tangent of a record made here: a copy of its zeros (a field it was not given,
    a default, has none) holding the tangents of the fields given."""
    given = [t for t in tangents if t is not None]
    if not given:
        return None
    if facts.batched is not None:
        zeros = e._mark(e.helper("zeros_with_directions", op.result, given[0]), given[:1])
    else:
        zeros = e.helper("zeros_of", op.result)
    items = [t if t is not None else zero_like(builder, a, facts)
             for t, a in zip(tangents, op.args)]
    out = e.helper("with_fields", zeros, Const(op.attrs["fields"]), *items)
    return e._mark(out, [zeros, *items])


def zero_like(builder: Builder, operand: Operand, facts: ShapeFacts) -> Operand:
    """A zero derivative for `operand`: 0.0 in scalar code, zeros of its shape otherwise."""
    if facts.batched is not None:  # vector mode: a zero for every direction
        zero = builder.emit("call", [operand, facts.batch_seed],
                            attrs={"fn": batched.batch_zeros, "kwnames": ()}).result
        facts.batched.add(zero.uid)
        return zero
    if facts.scalar_code or not isinstance(operand, Value):
        return Const(0.0)
    return builder.emit("zeros_of", [operand], attrs={"fn": runtime.zeros_of,
                                                      "kwnames": ()}).result


def vjp(builder: Builder, op: Op, cotangent: Operand, indices: list[int],
        facts: ShapeFacts = SCALAR_CODE, array_base: bool = False) -> list[Operand]:
    """Partial adjoints ``ybar * d op.result / d op.args[i]`` (seed 002), one per index.

    Where broadcasting may have widened an operand, its partial adjoint is summed back
    to the operand's shape (``unbroadcast``).  In batched reverse mode
    (`facts.batched_adjoints`) the cotangent carries many on a last axis.  `array_base`:
    the indexed value of a getitem is certainly a number or an array (not a dict)."""
    if op.prim == "getitem" and array_base and new_axes(op) is not None:
        return [_view_adjoint(builder, op, cotangent, facts) if i == 0 else Const(0.0)
                for i in indices]
    if facts.batched_adjoints:
        return _batched_vjp(builder, op, cotangent, indices, facts)
    if op.prim == "pack":  # each item's adjoint is its place in the list's adjoint
        keys = op.attrs.get("keys") or range(len(op.args))
        return [builder.emit("getitem", [cotangent, Const(list(keys)[i])]).result
                for i in indices]
    if op.prim == "getattr":  # zero but at the field: kept sparse until it is added
        attrs = {"fn": runtime.field_update, "kwnames": ()}
        return [builder.emit("field_update", [op.args[0], op.args[1], cotangent],
                             attrs=attrs).result]
    if op.prim == "getitem":  # zero but at the index: kept sparse until it is added
        attrs = {"fn": runtime.index_update, "kwnames": ()}
        index = _index_operand(builder, op)
        return [builder.emit("index_update", [op.args[0], index, cotangent], attrs=attrs).result
                if i == 0 else Const(0.0) for i in indices]
    if op.prim == "custom" and "rule" in op.attrs:  # cotangents shaped like the arguments
        return user_rules.rule_vjp(builder, op, cotangent, indices)
    return _rule_adjoints(builder, Emit(builder), op, cotangent, indices, facts)


def new_axes(op: Op) -> tuple[int, ...] | None:
    """Where ``x[i]`` puts new axes when its index is made only of full slices, None
    and at most one ``...``: such an index takes a view of all of `x` with axes of
    length one inserted, so its adjoint sums them away (no scatter into zeros).
    Positions count from the front before the ``...`` and from the back after it
    (``x[:, None]`` gives (1,), ``x[..., None]`` (-1,)).  None for any other index."""
    if not all(isinstance(operand, Const) for operand in op.args[1:]):
        return None
    return new_axes_of([operand.value for operand in op.args[1:]])


def new_axes_of(parts: list[Any]) -> tuple[int, ...] | None:
    """`new_axes` of an index given as its parts."""
    for value in parts:
        if not (value is None or value is Ellipsis or isinstance(value, slice) and (
                value.start is None and value.stop is None and value.step in (None, 1))):
            return None
    if not parts or parts.count(Ellipsis) > 1:
        return None
    if Ellipsis in parts:
        cut = parts.index(Ellipsis)
        after = parts[cut + 1:]
        return tuple(k for k, p in enumerate(parts[:cut]) if p is None) + tuple(
            k - len(after) for k, p in enumerate(after) if p is None)
    return tuple(k for k, p in enumerate(parts) if p is None)


def _view_adjoint(builder: Builder, op: Op, cotangent: Operand, facts: ShapeFacts) -> Operand:
    """The adjoint of ``x[:, None]`` and the like: the cotangent (which has the view's
    shape) summed over the new axes, ``np.sum(y_bar, axis=1)``; that of ``x[:]`` or
    ``x[...]`` is the cotangent itself."""
    axes = new_axes(op)
    if not axes:
        return cotangent
    e = Emit(builder, facts)
    return e.sum(cotangent, axis=axes if len(axes) > 1 else axes[0])


def _index_operand(builder: Builder, op: Op) -> Operand:
    """The index of a getitem op as one operand (a tuple of its parts where it has several)."""
    return op.args[1] if len(op.args) == 2 else builder.emit(
        "pack", op.args[1:], attrs={"kind": "tuple"}).result


def _rule_adjoints(builder: Builder, e: Emit, op: Op, cotangent: Operand, indices: list[int],
                   facts: ShapeFacts) -> list[Operand]:
    """The partial adjoints an array rule or the elementwise partials give, summed back
    to the operands' shapes; `e` emits in batched form in batched reverse mode."""
    if is_array_prim(op.prim):
        parts = array_vjp(builder, op, cotangent, indices, facts)
        if op.prim != "where":
            return parts
    else:
        exponent = _exponent_position(op, indices)
        plain = [i for i in indices if i != exponent]
        products = iter(_selected_product(builder, e, cotangent, p)
                        for p in local_partials(builder, op, plain))
        parts = [_exponent_term(builder, e, op, cotangent) if i == exponent
                 else next(products) for i in indices]
    return [unbroadcast(builder, part, op.args[i], op.result, facts)
            for i, part in zip(indices, parts)]


def _selected_product(builder: Builder, e: Emit, cotangent: Operand,
                      partial: Operand) -> Operand:
    """``cotangent * partial``; where the cotangent is one branch's of ``np.where``, only
    where that branch was selected, so that a partial that is not finite where the
    branch was not (``np.sqrt(x)`` at ``x < 0``) does not make it nan
    (`ad_compiler/selected_adjoints.py`)."""
    product = e.mul(cotangent, partial)
    if isinstance(partial, Const) or isinstance(product, Const):
        return product
    selected = zero_outside(builder, cotangent)
    if selected is None:
        return product
    return e.where(selected, product, Const(0.0))


def _batched_vjp(builder: Builder, op: Op, cotangent: Operand, indices: list[int],
                 facts: ShapeFacts) -> list[Operand]:
    """`vjp` of many cotangents on a last axis: the rules applied through `Emit`, which
    puts every operation in its batched form.  Containers and users' array rules have
    none yet (the caller falls back to one sweep per cotangent)."""
    e = Emit(builder, facts)
    if op.prim == "pack" and not op.attrs.get("keys"):  # a list or tuple display
        return [e._mark(builder.emit("getitem", [cotangent, Const(i)]).result, [cotangent])
                for i in indices]
    if op.prim in ("pack", "getattr") or op.prim == "custom" and "rule" in op.attrs:
        raise NotImplementedError("batched reverse mode does not take dicts, records or "
                                  "users' array rules yet")
    if op.prim == "getitem":  # dense: zeros but at the index
        index = _index_operand(builder, op)
        return [e.batched_call(batched.batched_index_update, op.args[0], index, cotangent)
                if i == 0 else Const(0.0) for i in indices]
    return _rule_adjoints(builder, e, op, cotangent, indices, facts)


def unbroadcast(builder: Builder, part: Operand, operand: Operand, result: Value,
                facts: ShapeFacts) -> Operand:
    """`part`, summed to the shape of `operand` unless it certainly has it already."""
    if facts.same_shape(operand, result) or isinstance(part, Const):
        return part
    if facts.batched_adjoints and facts.batched is not None and isinstance(part, Value) \
            and part.uid in facts.batched:
        return Emit(builder, facts).batched_call(batched.batched_unbroadcast, part, operand)
    return builder.emit("unbroadcast", [part, operand],
                        attrs={"fn": runtime.unbroadcast, "kwnames": ()}).result


def active_operands(op: Op, active: set[int]) -> list[int]:
    """Indices of active operands; a value used twice by the op is listed once."""
    positions = differentiable_positions(op)  # array rules count each position
    if op.prim == "pack":  # [x, x]: each place passes its part of the adjoint back
        positions = list(range(len(op.args)))
    if positions is None:
        # an index or a field name has no derivative
        args = op.args[:1] if op.prim in ("getitem", "getattr") else op.args
        return [i for i, a in enumerate(args)
                if isinstance(a, Value) and a.uid in active and a not in op.args[:i]]
    return [i for i in positions if isinstance(op.args[i], Value) and op.args[i].uid in active]
