"""NumPy's scans, reorderings, diagonals, paddings, sorts, gathers and splits.

Each function is declared once at the end of this module (NumPy's parameter order,
``*`` on the operands that carry derivatives) with its rules.  Most are linear: the
tangent is the function of the tangent, and the adjoint is another NumPy function (the
adjoint of ``np.cumsum`` is a reversed cumulative sum of the reversed cotangent, that
of ``np.flip`` a flip), so higher derivatives come for free.  Gathers (``np.take``,
``np.sort``) scatter their adjoint back with run-time helpers whose own adjoint is
the gather again.

Where a function is not differentiable, the derivative given is one-sided:
``np.sort`` and ``np.partition`` follow a stable order, so of tied elements the one
first in the input takes the first place of the output (and its derivative).
"""
from __future__ import annotations

import inspect

import numpy as np

from .. import batched, batched_adjoints, batched_shaping, runtime_npmath, runtime_shapes
from ..ir import Const, Op, Operand
from .core import array, helper
from .emit import (
    Emit,
    apply_again,
    batched_call,
    batched_operand,
    nth,
    one_direction_at_a_time,
    param,
    position,
)
from .shaping import _shape_back

_NO_VALUE = "np._NoValue"  # (NumPy's mark of an argument not given)

# methods that change the array in place, with what to write instead
IN_PLACE_METHODS = {
    "sort": "write {x} = np.sort({x}) for an array ({x} = sorted({x}) for a list)",
    "partition": "write {x} = np.partition({x}, kth)"}


# ------------------------------------------------------------------ small pieces


def _negated(e: Emit, value: Operand) -> Operand:
    """-value of an int or a tuple of ints (a shift, a number of turns)."""
    if isinstance(value, Const):
        v = value.value
        return Const(tuple(-int(s) for s in v) if isinstance(v, (tuple, list)) else -v)
    return e.call(np.negative, value)


def _reversed_cumsum(e: Emit, g: Operand, axis: Operand) -> Operand:
    """sum of g[j] for j >= i along `axis`: the adjoint of a cumulative sum."""
    return e.flip(e.cumsum(e.flip(g, axis=axis), axis=axis), axis=axis)


def _flat(e: Emit, op: Op, x: Operand) -> tuple[Operand, Operand]:
    """A scan's operand and axis, raveled where NumPy ravels it (axis None)."""
    dtype = param(op, "dtype")
    if not (isinstance(dtype, Const) and dtype.value is None):
        raise NotImplementedError("a cumulative sum or product with dtype= has no rule (cast "
                                  "its operand instead: np.cumsum(x.astype(np.float32)))")
    axis = param(op, "axis")
    if _raveled(op):
        return e.ravel(x), Const(0)
    if not isinstance(axis, Const):
        raise NotImplementedError("the axis of a cumulative sum or product must be a "
                                  "constant to differentiate it")
    return e.array("array", x), axis  # (an array: a list of numbers compares as a whole)


def _raveled(op: Op) -> bool:
    axis = param(op, "axis")
    return isinstance(axis, Const) and axis.value is None


def _back(e: Emit, op: Op, g: Operand) -> Operand:
    """An adjoint of a raveled operand, in the operand's shape."""
    return e.reshape(g, e.shape(op.args[0])) if _raveled(op) else g


def _cmp(e: Emit, prim: str, a: Operand, b: Operand) -> Operand:
    return e.b.apply(prim, [a, b])


def _where(e: Emit, mask: Operand, a: Operand, b: Operand | None = None) -> Operand:
    return e.where(mask, a, Const(0.0) if b is None else b)


# ------------------------------------------------------------------ np.cumsum, np.diff


def _cumsum_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    _flat(e, op, op.args[0])  # (refuses what has no rule)
    return e.cumsum(t[0], axis=param(op, "axis"))


def _cumsum_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    _, axis = _flat(e, op, op.args[0])
    return [_back(e, op, _reversed_cumsum(e, g, axis))]


def _diff_ends(op: Op) -> list[Operand]:
    """prepend and append as the run-time helper takes them (None where not given)."""
    return [Const(None) if _absent(v) else v for v in (param(op, "prepend"),
                                                        param(op, "append"))]


def _absent(value: Operand) -> bool:
    return isinstance(value, Const) and value.value is np._NoValue


def _diff_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    """Linear in x, prepend and append together; an end without a tangent gets zeros
    of its own shape (it may be longer than one along the axis)."""
    positions = {name: position(op, name) for name in ("a", "prepend", "append")}
    tangents = {}
    for name, k in positions.items():
        if k is None:
            continue
        tangents[name] = t[k] if t[k] is not None else e.helper("zeros_of", op.args[k])
    a = tangents.pop("a")
    if e.batched is None:
        return e.diff(a, n=param(op, "n"), axis=param(op, "axis"), **tangents)
    args = [a, param(op, "n"), param(op, "axis"),
            *(tangents.get(k, Const(None)) for k in ("prepend", "append"))]
    positions = tuple(k for k, v in enumerate(args) if e.is_batched(v))
    return e.batched_call(batched_shaping.batched_diff, Const(positions), *args)


def _diff_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    """y = diff(x): x_bar[k] = g[k-1] - g[k] (g padded with zeros), n times; with
    prepend or append, the run-time helper cuts the parts of x and the ends apart."""
    n, axis = param(op, "n"), param(op, "axis")
    ends = _diff_ends(op)
    if all(isinstance(v, Const) and v.value is None for v in ends):
        for _ in range(_static_int(n, "np.diff's order n")):
            g = e.neg(e.diff(g, axis=axis, prepend=Const(0.0), append=Const(0.0)))
        return [g]
    parts: list[Operand | None] = [None] * len(op.args)
    for which, name in enumerate(("a", "prepend", "append")):
        k = position(op, name)
        if k is not None:
            parts[k] = e.helper("diff_adjoint", g, op.args[0], n, axis, *ends, which)
    return parts


def _static_int(value: Operand, what: str) -> int:
    if not isinstance(value, Const):
        raise NotImplementedError(f"{what} must be a constant to differentiate")
    return int(value.value)


def _diff_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    """The adjoint of diff_adjoint: diff again, of h put in its part among zeros."""
    x, n, axis, prepend, append, which = a[1:7]
    pieces = [x, prepend, append]
    given = {}
    for k, name in enumerate(("a", "prepend", "append")):
        if isinstance(pieces[k], Const) and pieces[k].value is None:
            continue
        given[name] = h if k == which.value else e.helper("zeros_of", pieces[k])
    return [e.diff(given.pop("a"), n=n, axis=axis, **given)]


# ------------------------------------------------------------------ np.cumprod
# y[i] = x[0] * ... * x[i].  Where no x is zero, dy[i]/dx[k] = y[i] / x[k] (k <= i).  At
# zeros that quotient is 0/0; the exact partials, products of the other elements, are
# written with the first zero z of each scan: before z the quotient is exact; at z the
# partials are the products with x[z] left out (the scan of x with x[z] set to one);
# after z every partial holds the factor x[z] = 0.  The adjoint keeps that factor
# (x[z] times the products without it), so its own derivative in x[z] is exact too.


def _zeros_of_scan(e: Emit, x: Operand, axis: Operand) -> tuple[Operand, Operand, Operand]:
    """Masks: no zero up to here (`before`), the first zero (`first`), and a zero
    strictly before (`beyond`)."""
    zero = _cmp(e, "eq", x, Const(0.0))
    seen = e.cumsum(zero, axis=axis)
    before = _cmp(e, "eq", seen, Const(0))
    first = _cmp(e, "eq", e.mul(zero, seen), Const(1))
    beyond = _cmp(e, "gt", e.sub(seen, zero), Const(0))
    return before, first, beyond


def _cumprod_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    x, axis = _flat(e, op, op.args[0])
    tangent = e.ravel(t[0]) if _raveled(op) else e.array("array", t[0])
    before, first, _ = _zeros_of_scan(e, x, axis)
    y = op.result
    safe = _where(e, before, x, Const(1.0))
    head = _where(e, before, e.mul(y, e.cumsum(e.truediv(tangent, safe), axis=axis)))
    without_zero = e.cumprod(_where(e, first, Const(1.0), x), axis=axis)
    t_zero = e.sum(_where(e, first, tangent), axis=axis, keepdims=True)
    after = _cmp(e, "eq", before, Const(False))
    return e.add(head, _where(e, after, e.mul(t_zero, without_zero)))


def _cumprod_adjoint(e: Emit, x: Operand, g: Operand, axis: Operand, depth: int) -> Operand:
    """sum over i >= k of g[i] * prod(x[j], j <= i, j != k), with derivatives exact to
    first order where `depth` is 1 (values only for 0)."""
    before, first, beyond = _zeros_of_scan(e, x, axis)
    y = e.cumprod(x, axis=axis)
    safe = _where(e, before, x, Const(1.0))
    out = _where(e, before, e.truediv(_reversed_cumsum(e, e.mul(g, y), axis), safe))
    x_skipped = _where(e, first, Const(1.0), x)
    y_skipped = e.cumprod(x_skipped, axis=axis)
    out = e.add(out, _where(e, first, _reversed_cumsum(e, e.mul(g, y_skipped), axis)))
    if depth:
        x_zero = e.sum(_where(e, first, x), axis=axis, keepdims=True)  # 0, but its tangent
        rest = _cumprod_adjoint(e, x_skipped, g, axis, depth - 1)
        out = e.add(out, _where(e, beyond, e.mul(x_zero, rest)))
    return out


def _cumprod_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    x, axis = _flat(e, op, op.args[0])
    return [_back(e, op, _cumprod_adjoint(e, x, g, axis, depth=1))]


# ------------------------------------------------------------------ reorderings


def _rollaxis_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    moved_to = e.call(runtime_shapes.rollaxis_destination, e.call(np.ndim, op.args[0]),
                      param(op, "axis"), param(op, "start"))
    return [e.moveaxis(g, moved_to, param(op, "axis"))]


def _diag_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    return [e.helper("diag_adjoint", g, op.args[0], param(op, "k"))]


def _diagonal_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    return [e.helper("diagonal_adjoint", g, op.args[0], param(op, "offset"),
                     param(op, "axis1"), param(op, "axis2"))]


def _append_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    arr, values = op.args[:2]
    axis = param(op, "axis")
    return [e.helper("append_adjoint", g, arr, values, axis, k) for k in (0, 1)]


def _append_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    """Linear in both parts jointly; a part without a tangent gets zeros of its own shape
    (an array of constants appended is as long as it is)."""
    parts = {k: t[k] if t[k] is not None else e.helper("zeros_of", op.args[k])
             for k in (position(op, "arr"), position(op, "values")) if k is not None}
    return apply_again(e, op, parts)


def _batched_append(e: Emit, given: dict, variadic: list) -> Operand:
    """np.append in vector mode: told which parts carry the directions (2: both)."""
    arr, values = (batched_operand("append", given, p) for p in ("arr", "values"))
    both = e.is_batched(arr) and e.is_batched(values)
    which = 2 if both else 0 if e.is_batched(arr) else 1
    return batched_call(e, batched_shaping.batched_append,
                        [arr, values, batched_operand("append", given, "axis"), Const(which)])


def _batched_insert(e: Emit, given: dict, variadic: list) -> Operand:
    """np.insert in vector mode: told which parts carry the directions (2: both)."""
    arr, obj, values, axis = (batched_operand("insert", given, p)
                              for p in ("arr", "obj", "values", "axis"))
    if e.is_batched(obj) or e.is_batched(axis):
        return one_direction_at_a_time(e, "insert", given)
    both = e.is_batched(arr) and e.is_batched(values)
    which = 2 if both else 0 if e.is_batched(arr) else 1
    return batched_call(e, batched_shaping.batched_insert, [arr, obj, values, axis, Const(which)])


def _append_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    """The adjoint of one part of an appended array: the part put back among zeros."""
    arr, values, axis, which = a[1], a[2], a[3], a[4].value
    zeros = e.helper("zeros_of", values if which == 0 else arr)
    parts = (h, zeros) if which == 0 else (zeros, h)
    return [e.append(*parts, axis=axis)]


def _insert_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    """Each of the array and the values gets the part of `g` where it went."""
    parts: list[Operand | None] = [None] * len(op.args)
    arr, obj, values, axis = (param(op, n) for n in ("arr", "obj", "values", "axis"))
    for which, name in enumerate(("arr", "values")):
        parts[position(op, name)] = e.helper("insert_adjoint", g, arr, obj, values, axis, which)
    return parts


def _insert_adjoint_vjp(e: Emit, h: Operand, a: list[Operand]) -> list[Operand | None]:
    """The adjoint of one part of an array with values inserted: the part put back
    among zeros, by np.insert again."""
    arr, obj, values, axis, which = a[1], a[2], a[3], a[4], a[5].value
    zeros = e.helper("zeros_of", values if which == 0 else arr)
    parts = (h, zeros) if which == 0 else (zeros, h)
    return [e.insert(parts[0], obj, parts[1], axis=axis)]


# ------------------------------------------------------------------ running extremes
# y = np.maximum.accumulate(x): each y[i] is one element of x, the first of the largest
# up to i (np.maximum keeps its first operand at a tie), so the derivative is a gather
# from those places (`running_source`), whose adjoint scatters back.


def _running_axis(op: Op) -> Operand:
    dtype, axis = param(op, "dtype"), param(op, "axis")
    if not (isinstance(dtype, Const) and dtype.value is None):
        raise NotImplementedError("a running maximum or minimum with dtype= has no rule "
                                  "(cast its operand instead)")
    if not (isinstance(axis, Const) and isinstance(axis.value, int)):
        raise NotImplementedError("the axis of a running maximum or minimum must be a "
                                  "constant integer to differentiate it")
    return axis


def _running_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    axis = _running_axis(op)
    source = e.call(runtime_npmath.running_source, op.result, axis)
    return e.take_along_axis(e.array("array", t[0]), source, axis=axis)


def _running_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    axis = _running_axis(op)
    source = e.call(runtime_npmath.running_source, op.result, axis)
    return [e.helper("take_along_axis_adjoint", g, op.args[0], source, axis)]


# ------------------------------------------------------------------ np.pad


# modes in which every padded element is a copy of one of the array's
_COPYING_MODES = ("edge", "wrap", "reflect", "symmetric")


def _pad_mode(op: Op) -> str:
    mode = param(op, "mode")
    if not (isinstance(mode, Const) and mode.value in ("constant", *_COPYING_MODES)):
        raise NotImplementedError("np.pad has rules for the modes 'constant', 'edge', 'wrap', "
                                  "'reflect' and 'symmetric' only")
    return mode.value


def _pad_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand | None:
    """Linear in the array and the constant value: the tangent padded with zeros, plus
    the value's tangent on the border."""
    mode = _pad_mode(op)
    width = param(op, "pad_width")
    if mode != "constant":
        return None if t[0] is None else e.pad(t[0], width, mode=Const(mode))
    terms = [] if t[0] is None else [e.pad(t[0], width)]
    fill = position(op, "constant_values")
    if fill is not None and t[fill] is not None:
        border = e.pad(e.helper("zeros_of", op.args[0]), width, constant_values=Const(1.0))
        value = e._mark(e.helper("pad_fill_adjoint", t[fill], op.args[fill]), [t[fill]])
        terms.append(e.mul(value, border))
    return e.sum_terms(terms)


def _pad_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    """The array gets the middle of g; a constant value the sum of the rest."""
    mode = _pad_mode(op)
    if mode != "constant":  # copies: their adjoints add up where they come from
        return [e.helper("pad_adjoint", g, op.args[0], param(op, "pad_width"), mode)]
    inner = e.helper("unpad", g, op.args[0], param(op, "pad_width"))
    parts: list[Operand | None] = [inner] + [None] * (len(op.args) - 1)
    fill = position(op, "constant_values")
    if fill is not None:
        border = e.sub(e.sum(g), e.sum(inner))
        parts[fill] = e.helper("pad_fill_adjoint", border, op.args[fill])
    return parts


# ------------------------------------------------------------------ sorts and gathers


def _order(e: Emit, op: Op) -> tuple[Operand, Operand, Operand]:
    """(operand, indices, axis) with ``result == take_along_axis(operand, indices,
    axis)``: raveled where NumPy ravels (axis None)."""
    x, axis = op.args[0], param(op, "axis")
    if _raveled(op):
        x, axis = e.ravel(x), Const(-1)
    if op.prim == "sort":
        order = e.call(np.argsort, x, axis, Const("stable"))
    else:
        order = e.call(runtime_shapes.permutation_of, x, op.result, axis)
    return x, order, axis


def _sort_jvp(e: Emit, op: Op, t: list[Operand | None]) -> Operand:
    _, order, axis = _order(e, op)
    tangent = e.array("array", t[0])  # (the tangents of a list of numbers are a list)
    if _raveled(op):
        tangent = e.ravel(tangent)
    return e.take_along_axis(tangent, order, axis=axis)


def _sort_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    x, order, axis = _order(e, op)
    return [_back(e, op, e.helper("take_along_axis_adjoint", g, x, order, axis))]


# ------------------------------------------------------------------ splits


def _split_vjp(e: Emit, op: Op, g: Operand) -> list[Operand | None]:
    if op.prim == "hsplit":
        axis = e.call(runtime_shapes.hsplit_axis, op.args[0])
    elif op.prim == "vsplit":
        axis = Const(0)
    else:
        axis = param(op, "axis")
    return [e.helper("split_adjoint", g, op.result, axis)]


# ------------------------------------------------------------------ the entries

_SPLIT = "ary*, indices_or_sections, axis=0"

array("cumsum", np.cumsum, "a*, axis=None, dtype=None", methods=("cumsum",),
      jvp=_cumsum_jvp, vjp=_cumsum_vjp,
      batched=(batched_shaping.batched_cumsum, ("a", "axis", "dtype")))
array("cumprod", np.cumprod, "a*, axis=None, dtype=None", methods=("cumprod",),
      jvp=_cumprod_jvp, vjp=_cumprod_vjp)
array("diff", np.diff, f"a*, n=1, axis=-1, prepend*={_NO_VALUE}, append*={_NO_VALUE}",
      jvp=_diff_jvp, vjp=_diff_vjp)
array("flip", np.flip, "m*, axis=None", linear=True,
      vjp=lambda e, op, g: [e.flip(g, axis=param(op, "axis"))],
      batched=(batched_shaping.batched_flip, ("m", "axis")))
array("fliplr", np.fliplr, "m*", linear=True, vjp=lambda e, op, g: [e.fliplr(g)],
      batched=(batched_shaping.batched_fliplr, ("m",)))
array("flipud", np.flipud, "m*", linear=True, vjp=lambda e, op, g: [e.flipud(g)],
      batched=(batched_shaping.batched_flipud, ("m",)))
_rot90 = array("rot90", np.rot90, "m*, k=1, axes", linear=True, vjp=lambda e, op, g: [
    e.rot90(g, k=_negated(e, param(op, "k")), axes=param(op, "axes"))],
    batched=(batched_shaping.batched_rot90, ("m", "k", "axes")))
_rot90.defaults["axes"] = (0, 1)  # (a tuple: the signature splits at commas)
array("roll", np.roll, "a*, shift, axis=None", linear=True, vjp=lambda e, op, g: [
    e.roll(g, _negated(e, param(op, "shift")), axis=param(op, "axis"))],
    batched=(batched_shaping.batched_roll, ("a", "shift", "axis")))
array("moveaxis", np.moveaxis, "a*, source, destination", linear=True, vjp=lambda e, op, g: [
    e.moveaxis(g, param(op, "destination"), param(op, "source"))],
    batched=(batched_shaping.batched_moveaxis, ("a", "source", "destination")))
array("rollaxis", np.rollaxis, "a*, axis, start=0", linear=True, vjp=_rollaxis_vjp,
      batched=(batched_shaping.batched_rollaxis, ("a", "axis", "start")))
array("diag", np.diag, "v*, k=0", linear=True, vjp=_diag_vjp,
      batched=(batched_shaping.batched_diag, ("v", "k")))
array("diagonal", np.diagonal, "a*, offset=0, axis1=0, axis2=1", methods=("diagonal",),
      linear=True, vjp=_diagonal_vjp,
      batched=(batched_shaping.batched_diagonal, ("a", "offset", "axis1", "axis2")))
array("diagflat", np.diagflat, "v*, k=0", linear=True, vjp=lambda e, op, g: [
    e.reshape(e.diag(g, k=param(op, "k")), e.shape(op.args[0]))],
    batched=(batched_shaping.batched_diagflat, ("v", "k")))
array("triu", np.triu, "m*, k=0", linear=True,
      vjp=lambda e, op, g: [e.triu(g, k=param(op, "k"))],
      batched=(batched_shaping.batched_triu, ("m", "k")))
array("tril", np.tril, "m*, k=0", linear=True,
      vjp=lambda e, op, g: [e.tril(g, k=param(op, "k"))],
      batched=(batched_shaping.batched_tril, ("m", "k")))
array("append", np.append, "arr*, values*, axis=None", linear=True, jvp=_append_jvp,
      vjp=_append_vjp, batched=_batched_append)
array("insert", np.insert, "arr*, obj, values*, axis=None", linear=True, vjp=_insert_vjp,
      batched=_batched_insert)
array("maximum_accumulate", np.maximum.accumulate, "array*, axis=0, dtype=None",
      jvp=_running_jvp, vjp=_running_vjp)
array("minimum_accumulate", np.minimum.accumulate, "array*, axis=0, dtype=None",
      jvp=_running_jvp, vjp=_running_vjp)
array("pad", np.pad, "array*, pad_width, mode='constant', constant_values*=0",
      jvp=_pad_jvp, vjp=_pad_vjp,
      batched=(batched.batched_pad, ("array", "pad_width", "mode")))
array("sort", np.sort, "a*, axis=-1, kind=None", jvp=_sort_jvp, vjp=_sort_vjp)
array("partition", np.partition, "a*, kth, axis=-1", jvp=_sort_jvp, vjp=_sort_vjp)
# NumPy 2.3 gave take_along_axis's axis a default (-1); before, it must be passed
_TAKE_AXIS = ("axis=-1" if inspect.signature(np.take_along_axis).parameters["axis"].default
              is not inspect.Parameter.empty else "axis")
array("take", np.take, "a*, indices, axis=None", methods=("take",), linear=True,
      vjp=lambda e, op, g: [e.helper("take_adjoint", g, op.args[0], param(op, "indices"),
                                     param(op, "axis"))],
      batched=(batched_shaping.batched_take, ("a", "indices", "axis")))
array("take_along_axis", np.take_along_axis, f"arr*, indices, {_TAKE_AXIS}", linear=True,
      vjp=lambda e, op, g: [e.helper("take_along_axis_adjoint", g, op.args[0],
                                     param(op, "indices"), param(op, "axis"))],
      batched=(batched_shaping.batched_take_along_axis, ("arr", "indices", "axis")))
# np.split and its kin make lists (unpacked, indexed, iterated like a list); vector
# mode splits a batched tangent at once
array("split", np.split, _SPLIT, linear=True, container_result=True, vjp=_split_vjp,
      batched=(batched.batched_split, ("ary", "indices_or_sections", "axis")))
array("array_split", np.array_split, _SPLIT, linear=True, container_result=True,
      vjp=_split_vjp,
      batched=(batched.batched_array_split, ("ary", "indices_or_sections", "axis")))
array("hsplit", np.hsplit, "ary*, indices_or_sections", linear=True, container_result=True,
      vjp=_split_vjp, batched=(batched.batched_hsplit, ("ary", "indices_or_sections")))
array("vsplit", np.vsplit, "ary*, indices_or_sections", linear=True, container_result=True,
      vjp=_split_vjp, batched=(batched.batched_vsplit, ("ary", "indices_or_sections")))
array("atleast_1d", np.atleast_1d, "arys*", linear=True, vjp=_shape_back,
      batched=(batched_shaping.batched_atleast_1d, ("arys",)))
array("atleast_2d", np.atleast_2d, "arys*", linear=True, vjp=_shape_back,
      batched=(batched_shaping.batched_atleast_2d, ("arys",)))
array("atleast_3d", np.atleast_3d, "arys*", linear=True, vjp=_shape_back,
      batched=(batched_shaping.batched_atleast_3d, ("arys",)))

helper("diag_adjoint", runtime_shapes.diag_adjoint, (0,), lambda e, h, a: [
    e.diag(h, k=nth(a, 2, 0))], batched=batched_shaping.batched_diag_adjoint)
helper("diagonal_adjoint", runtime_shapes.diagonal_adjoint, (0,), lambda e, h, a: [
    e.diagonal(h, offset=nth(a, 2, 0), axis1=nth(a, 3, 0), axis2=nth(a, 4, 1))],
    batched=batched_shaping.batched_diagonal_adjoint)
helper("append_adjoint", runtime_shapes.append_adjoint, (0,), _append_adjoint_vjp,
       batched=batched_shaping.batched_append_adjoint)
helper("insert_adjoint", runtime_npmath.insert_adjoint, (0,), _insert_adjoint_vjp,
       batched=batched_shaping.batched_insert_adjoint)
helper("unpad", runtime_shapes.unpad, (0,), lambda e, h, a: [e.pad(h, a[2])],
       batched=batched_shaping.batched_unpad)
helper("pad_adjoint", runtime_shapes.pad_adjoint, (0,), lambda e, h, a: [
    e.pad(h, a[2], mode=a[3])], batched=batched_shaping.batched_pad_adjoint)
helper("pad_fill_adjoint", runtime_shapes.pad_fill_adjoint, (0,), lambda e, h, a: [
    e.helper("pad_fill_adjoint", h, a[1])], batched=runtime_shapes.pad_fill_adjoint)  # (as it is)
helper("diff_adjoint", runtime_shapes.diff_adjoint, (0,), _diff_adjoint_vjp,
       batched=batched_shaping.batched_diff_adjoint)
helper("take_adjoint", runtime_shapes.take_adjoint, (0,), lambda e, h, a: [
    e.take(h, a[2], axis=nth(a, 3, None))], batched=batched_shaping.batched_take_adjoint)
helper("take_along_axis_adjoint", runtime_shapes.take_along_axis_adjoint, (0,), lambda e, h, a: [
    e.take_along_axis(h, a[2], axis=nth(a, 3, -1))],
    batched=batched_shaping.batched_take_along_axis_adjoint)
helper("split_adjoint", runtime_shapes.split_adjoint, (0,), lambda e, h, a: [
    e.helper("split_like", h, a[1], nth(a, 2, 0))],
    batched=batched_adjoints.batched_split_adjoint)
