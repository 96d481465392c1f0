"""Runtime helpers of lists, dicts, indexing and gradients' shapes.

Adjoints of lists and of indexing are kept sparse (index_update) and added item-wise;
the tangents of `+` and `*` of values that may be lists or numbers go through
sum_tangent and product_tangent.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import (
    batched_adjoints,
    batched_lists,
    runtime,
    runtime_items,
    runtime_lists,
    runtime_products,
)
from ..ir import Const, Op, Operand
from .core import helper
from .emit import Emit, replaced


def _items_of_jvp(e: Emit, op: Op, tangents: list) -> Operand | None:
    """A loop's items: the tangent's items, none for a dict's keys."""
    if tangents[0] is None:
        return None
    if e.batched is not None:
        return e.batched_call(batched_lists.batched_items_of_dot, tangents[0], op.args[0])
    return e.helper("items_of_dot", tangents[0], op.args[0])


def _adjoint_builder_jvp(batched_form: Any = None, joint: bool = False) -> Any:
    """The tangent rule of a helper that builds adjoints, linear in the arguments it
    is declared linear in: the helper again on each tangent (on both at once for a
    `joint` one).  In vector mode (a Hessian: reverse-mode code differentiated by
    forward mode), `batched_form` of batched.py, or the helper itself where it applies
    to tangents with an axis of directions as it is; its ``directions_in=k`` says which
    argument carries them where several may."""

    def jvp(e: Emit, op: Op, t: list) -> Operand | None:
        from .core import REGISTRY

        linear = [k for k in REGISTRY[op.prim].linear_args if k < len(t) and t[k] is not None]
        if not linear:
            return None
        if e.batched is None:
            if joint:
                return replaced(e.b, op, {k: t[k] if t[k] is not None else Const(0.0)
                                          for k in REGISTRY[op.prim].linear_args})
            return e.b.sum([replaced(e.b, op, {k: t[k]}) for k in linear])
        fn = batched_form or op.attrs["fn"]
        if joint:  # the sum of adjoints: of the tangents there are
            terms = [t[k] for k in linear]
            return terms[0] if len(terms) == 1 else e.batched_call(fn, *terms)
        terms = []
        for k in linear:
            args = [t[k] if j == k else a for j, a in enumerate(op.args)]
            if len(REGISTRY[op.prim].linear_args) > 1:
                args.append(Const(k))
            terms.append(e.batched_call(fn, *args))
        return e.sum_terms(terms)

    return jvp


# zero but `value` at `index`: its transpose reads the cotangent there
helper("index_update", runtime.index_update, (2,), lambda e, g, a: [
    None, None, e.b.emit("getitem", [e.helper("dense", g, a[0]), a[1]]).result],
    jvp=_adjoint_builder_jvp(batched_adjoints.batched_index_update_dot), opaque_kind=True)
# a sum of adjoints: each gets the cotangent
helper("accumulate", runtime.add, (0, 1), lambda e, g, a: [g, g], joint=True,
       jvp=_adjoint_builder_jvp(batched_adjoints.batched_add, joint=True), opaque_kind=True)
helper("densify", runtime.densify, (0,), jvp=_adjoint_builder_jvp(batched_adjoints.batched_densify),
       opaque_kind=True)
# the same adjoint, only filled in: its transpose passes the cotangent on
helper("dense", runtime.dense, (0,), lambda e, g, a: [g, None],
       jvp=_adjoint_builder_jvp(batched_adjoints.batched_dense), opaque_kind=True)
helper("list_head", runtime_lists.list_head, (0,), lambda e, g, a: [
    e.helper("list_head_t", g, a[1], a[2])],
    jvp=_adjoint_builder_jvp(batched_adjoints.batched_list_head), opaque_kind=True, kind_like=1)
helper("list_tail", runtime_lists.list_tail, (0,), lambda e, g, a: [
    e.helper("list_tail_t", g, *a[1:])],
    jvp=_adjoint_builder_jvp(batched_adjoints.batched_list_tail), opaque_kind=True)
helper("repeat_adjoint_of", runtime_lists.repeat_adjoint_of, (0, 2), lambda e, g, a: [
    e.helper("repeat_adjoint_t", g, a[1], a[2], a[3]), None,
    e.helper("repeat_count_t", g, a[0], a[2], a[3])],
    jvp=_adjoint_builder_jvp(batched_adjoints.batched_repeat_adjoint_of), opaque_kind=True,
    kind_like=1)
helper("list_head_t", runtime_lists.list_head_t, (0,), lambda e, g, a: [
    e.helper("list_head", g, a[1], a[2])])
helper("list_tail_t", runtime_lists.list_tail_t, (0,), lambda e, g, a: [
    e.helper("list_tail", g, *a[1:])])
helper("repeat_adjoint_t", runtime_lists.repeat_adjoint_t, (0, 2))
# the tangents of `+` and `*` of what may be lists: transposed as the adjoints of `+` and
# `*` are split (reverse mode over forward-mode code)
def _sequence_tangent_jvp(batched_form: Any, cross: str = "", cross_batched: Any = None) -> Any:
    """The tangent rule of `sum_tangent` or `product_tangent` (forward mode over
    forward-mode code): the helper again on the tangents of its tangent arguments, plus,
    for a product, the term through the factors themselves (`cross`), which the product
    rule multiplies by.  In vector mode their batched forms, the directions taken from
    a batched tangent."""

    def jvp(e: Emit, op: Op, t: list) -> Operand | None:
        a, b, a_dot, b_dot, whole = op.args
        given = [t[k] if k < len(t) else None for k in range(4)]
        absent = Const(None)
        linear = None
        if given[2] is not None or given[3] is not None:
            dots = [absent if x is None else x for x in given[2:]]
            if e.batched is None:
                linear = e.helper(op.prim, a, b, *dots, whole)
            else:
                seed = next(x for x in given[2:] if x is not None)
                linear = e.batched_call(batched_form, a, b, *dots, whole, seed)
        if not cross or (given[0] is None and given[1] is None):
            return linear
        factors = [absent if x is None else x for x in given[:2]]
        rest = [a_dot, b_dot, *factors, whole, absent if linear is None else linear]
        if e.batched is None:
            return e.helper(cross, *rest)
        return e.batched_call(cross_batched, *rest)

    return jvp


helper("sum_tangent", runtime_lists.sum_tangent, (2, 3), lambda e, g, a: [
    None, None, e.helper("list_head", g, a[0], a[4]), e.helper("list_tail", g, a[0], a[4], a[1]),
    None], joint=True, jvp=_sequence_tangent_jvp(batched_lists.batched_sum_tangent))
helper("product_tangent", runtime_lists.product_tangent, (2, 3), lambda e, g, a: [
    e.helper("product_tangent_cross_t", g, a[3], a[0], a[4]),
    e.helper("product_tangent_cross_t", g, a[2], a[1], a[4]),
    e.helper("repeat_adjoint_of", g, a[0], a[1], a[4]),
    e.helper("repeat_adjoint_of", g, a[1], a[0], a[4]), None], joint=True,
    nonlinear=(0, 1), jvp=_sequence_tangent_jvp(
        batched_lists.batched_product_tangent, "product_tangent_cross",
        batched_lists.batched_product_tangent_cross))
_THIRD = "derivatives of a product's tangent in the tangents it multiplies (a third derivative)"
helper("product_tangent_cross", runtime_lists.product_tangent_cross, (2, 3, 5), joint=True,
       nonlinear=(0, 1), unsupported=_THIRD)
helper("product_tangent_cross_t", runtime_lists.product_tangent_cross_t, (0,), nonlinear=(1,),
       unsupported=_THIRD)
helper("repeat_count_t", runtime_lists.repeat_count_t, (0, 1))
def _as_gradient_jvp(e: Emit, op: Op, t: list) -> Operand | None:
    """The gradient in the input's structure; in vector mode each leaf with the
    directions on a last axis."""
    if t[0] is None:
        return None
    if e.batched is None:
        return replaced(e.b, op, {0: t[0]})
    return e.batched_call(batched_adjoints.batched_as_gradient, t[0], op.args[1])


helper("as_gradient", runtime.as_gradient, (0,), lambda e, g, a: [g], jvp=_as_gradient_jvp,
       opaque_kind=True)
helper("gradient_like", runtime.gradient_like, (0,), lambda e, g, a: [g],
       batched=batched_adjoints.batched_gradient_like_dot, shaped_like=1, opaque_kind=True,
       specializable=True)
helper("items_of", runtime_lists.items_of, (0,), lambda e, g, a: [e.helper("items_of_t", g, a[0])],
       jvp=_items_of_jvp, says_nothing_of_arrays=True, view=True)
# for a list, both pass their first argument on; for a dict's keys, both give zeros
helper("items_of_dot", runtime_lists.items_of_dot, (0,), lambda e, g, a: [
    e.helper("items_of_t", g, a[1]), None])
helper("items_of_t", runtime_lists.items_of_t, (0,), lambda e, g, a: [
    e.helper("items_of_t", g, a[1]), None], batched=runtime_lists.items_of_t)  # (as it is)
helper("field_update", runtime.field_update, (2,), lambda e, g, a: [
    None, None, e.helper("field_of", g, a[0], a[1])],
    jvp=_adjoint_builder_jvp(batched_adjoints.batched_field_update_dot), opaque_kind=True)


# records: ``p._replace(w=v)`` and ``dataclasses.replace(p, w=v)`` of a record known only
# when the code runs (one made in the function is rebuilt when compiling, lowering/records.py)
def _fields_jvp(first: int) -> Callable:
    """The tangent rule of a helper making a record from `record` (its first argument)
    with fields replaced by the values from argument `first` on (named by the argument
    before them): the record's tangent with the values' tangents put in, zeros where
    either has none."""

    def jvp(e: Emit, op: Op, t: list) -> Operand | None:
        record, names, values = op.args[0], op.args[first - 1], op.args[first:]
        t = list(t) + [None] * (len(op.args) - len(t))
        given = [x for x in t if x is not None]
        if not given:
            return None

        def zero(of: Operand) -> Operand:
            if e.batched is not None:
                return e._mark(e.helper("zeros_with_directions", of, given[0]), given[:1])
            return e.helper("zeros_of", of)

        record_dot = t[0] if t[0] is not None else zero(record)
        value_dots = [t[first + k] if t[first + k] is not None else zero(v)
                      for k, v in enumerate(values)]
        out = e.helper("with_fields", record_dot, names, *value_dots)
        return e._mark(out, [record_dot, *value_dots])

    return jvp


helper("replaced", runtime_items.replaced, (0,), lambda e, g, a: [
    e.helper("replaced_t", g, a[0], a[2]), None, None,
    *(e.helper("field_of", g, a[0], Const(name)) for name in a[2].value)],
    jvp=_fields_jvp(3), linear_of=lambda op: [0, *range(3, len(op.args))], opaque_kind=True)
# a record's tangent: a record of zeros holding the tangents of the fields given
helper("with_fields", runtime_items.with_fields, (0,), lambda e, g, a: [
    e.helper("replaced_t", g, a[0], a[1]), None,
    *(e.helper("field_of", g, a[0], Const(name)) for name in a[1].value)],
    jvp=_fields_jvp(2), linear_of=lambda op: [0, *range(2, len(op.args))], opaque_kind=True)
# the new record's adjoint without the fields replaced: a projection, its own transpose
helper("replaced_t", runtime_items.replaced_t, (0,), lambda e, g, a: [
    e.helper("replaced_t", g, a[1], a[2]), None, None],
    jvp=_adjoint_builder_jvp(), opaque_kind=True, reads_items=True)
# a field's part of a record's adjoint; its transpose puts a cotangent at the field
helper("field_of", runtime_items.field_of, (0,), lambda e, g, a: [
    e.helper("field_update", a[1], a[2], g), None, None],
    jvp=_adjoint_builder_jvp(), reads_items=True)
helper("zero_items", runtime.zero_items, (), nondiff=True, opaque_kind=True)
helper("zeros_of", runtime.zeros_of, (), nondiff=True, shaped_like=1, opaque_kind=True)
helper("dict_of", runtime_items.dict_of, (1,), lambda e, g, a: [
    None, e.helper("dict_of_t", g, a[0], a[1])], opaque_kind=True, says_nothing_of_arrays=True)
helper("dict_of_t", runtime_items.dict_of_t, (0,), lambda e, g, a: [
    e.helper("dict_of", a[1], g), None, None])
# builtins.sum's own value (rounding compensated from Python 3.12 on) for the running
# total of a generated loop, whose derivative it has
helper("sum_value", runtime_items.sum_value, (), nonlinear=(0,), jvp=lambda e, op, t: t[0],
       vjp=lambda e, g, a: [g, None], shaped_like=0, kind_like=0, says_nothing_of_arrays=True)
# where a branch of np.where passes its adjoint on (selected_adjoints.py)
helper("selected_places", runtime_products.selected_places, (), nondiff=True, opaque_kind=True)
