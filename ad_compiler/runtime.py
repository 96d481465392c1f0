"""The few helpers generated code calls: accumulating adjoints of containers.

Adjoints of numbers and arrays add with ``+``; adjoints of lists and tuples add
item by item.  The partial adjoint of ``xs[i]`` is sparse (`IndexUpdate`), and is
added into the accumulated adjoint in place, so a loop over a list of n items
costs O(n) in reverse mode, not O(n^2).  Only lists made here are ever updated in
place, never the caller's.  This module needs nothing but NumPy, so an exported
derivative can carry a copy of it.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class _Vector:
    """Adjoints of containers form a vector space: ``+`` adds item by item, ``*`` and
    ``-`` scale (where a list's ``+`` would join and its ``*`` repeat), so derivative
    code may sum and scale them as it does numbers."""

    __slots__ = ()

    def __add__(self, other: Any) -> Any:
        return add(self, other)

    __radd__ = __add__
    __iadd__ = __add__

    def __mul__(self, factor: Any) -> Any:
        return scale(self, factor)

    __rmul__ = __mul__
    __imul__ = __mul__

    def __neg__(self) -> Any:
        return scale(self, -1.0)

    def __sub__(self, other: Any) -> Any:
        return add(self, scale(other, -1.0))

    def __rsub__(self, other: Any) -> Any:
        return add(other, scale(self, -1.0))


class Adjoints(_Vector, list):
    """The adjoint of a list, tuple or namedtuple.  Shared: nothing updates it in place."""

    __slots__ = ()


class AdjointList(Adjoints):
    """An `Adjoints` made here to accumulate into; its owner updates it in place."""

    __slots__ = ()


class AdjointMap(_Vector, dict):
    """The adjoint of a dict, or of a dataclass's fields, keyed like it.  Shared:
    nothing updates it in place."""

    __slots__ = ()


class AdjointDict(AdjointMap):
    """An `AdjointMap` made here to accumulate into; its owner updates it in place."""

    __slots__ = ()


class AdjointArray(np.ndarray):
    """An array this module made to accumulate adjoints in; it may be updated in place."""


class IndexUpdate(_Vector):
    """The partial adjoint of ``base[index]``: zero but ``value`` at ``index``; ``+``
    scatters it into whatever it is added to."""

    __slots__ = ("base", "index", "value")
    __array_ufunc__ = None  # `array + update` asks the update, not NumPy

    def __init__(self, base: Any, index: Any, value: Any) -> None:
        self.base, self.index, self.value = base, index, value


def index_update(base: Any, index: Any, value: Any) -> IndexUpdate:
    return IndexUpdate(base, index, value)


def field_update(base: Any, name: str, value: Any) -> IndexUpdate:
    """The partial adjoint of ``base.name``: a namedtuple's field by its place, a
    dataclass's by its name."""
    fields = getattr(type(base), "_fields", None)
    if isinstance(base, tuple) and fields is not None:
        return IndexUpdate(base, fields.index(name), value)
    return IndexUpdate(base, name, value)


_FLOAT = {float}


def _floats(xs: Any) -> bool:
    """Whether every item of a list or tuple is a Python float (asked at C speed)."""
    return not xs or set(map(type, xs)) == _FLOAT


def _is_zero(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool) and x == 0)


def fields_of(x: Any) -> list[str] | None:
    """The field names of a dataclass instance (its differentiable parts), else None."""
    if not hasattr(type(x), "__dataclass_fields__") or isinstance(x, type):
        return None
    import dataclasses

    return [f.name for f in dataclasses.fields(x)]


def zeros_like(x: Any) -> Any:
    """A zero adjoint shaped like `x`, owned here (updated in place as it accumulates)."""
    if isinstance(x, (list, tuple)):
        if _floats(x):
            return AdjointList([0.0] * len(x))
        return AdjointList([zeros_like(v) for v in x])
    if isinstance(x, np.ndarray):
        dtype = np.float64 if x.dtype.kind in "biu" else x.dtype
        return np.zeros_like(x, dtype=dtype).view(AdjointArray)
    if isinstance(x, dict):
        return AdjointDict({k: zeros_like(v) for k, v in x.items()})
    names = fields_of(x)
    if names is not None:
        return AdjointDict({n: zeros_like(getattr(x, n)) for n in names})
    return 0.0


def zero_items(x: Any) -> Any:
    """The zero adjoint of the items of `x` that a backward loop adds into, item by
    item (``xs_bar[i] += g``): for a list or tuple of floats a plain list, which Python
    indexes faster than a subclass; else `zeros_like`."""
    if isinstance(x, (list, tuple)) and _floats(x):
        return [0.0] * len(x)
    return zeros_like(x)


def _is_container(x: Any) -> bool:
    return isinstance(x, (list, tuple, dict)) or fields_of(x) is not None


def densify(a: Any, like: Any) -> Any:
    """`a` as an adjoint shaped like `like`, owned by this module."""
    if isinstance(a, IndexUpdate):
        return add(zeros_like(like), a)
    if _is_zero(a) and (_is_container(like) or isinstance(like, np.ndarray)):
        return zeros_like(like)
    if isinstance(a, (list, tuple)) and isinstance(like, (list, tuple)):
        if type(a) is AdjointList:
            return a
        if len(a) == len(like) and _floats(a):  # numbers are dense already: copied at C speed
            return AdjointList(a)
        return AdjointList(densify(v, w) for v, w in zip(a, like))
    if isinstance(a, dict) and type(a) is not AdjointDict:
        return AdjointDict({k: densify(v, _part(like, k)) for k, v in a.items()})
    if isinstance(a, np.ndarray) and not isinstance(a, AdjointArray):
        if isinstance(like, (list, tuple)):  # NumPy took the list for an array
            return densify(list(a), like)
        return a.astype(a.dtype if a.dtype.kind in "fc" else np.float64).view(AdjointArray)
    return a


def _part(x: Any, key: Any) -> Any:
    """Item or field `key` of a container (what an adjoint keyed by `key` is shaped like)."""
    if isinstance(x, (list, tuple, dict, np.ndarray)):
        return x[key]
    return getattr(x, key)


def dense(a: Any, like: Any) -> Any:
    """`a` with a slice's sparse adjoint filled in, shaped like `like`: an adjoint that
    rules may pass on to several operands, so nothing may update it in place (unlike
    `densify`'s, which its one owner accumulates into).  A zero adjoint of an array
    (what a branch that did not read it passes on) is zeros, which the rules may index."""
    if isinstance(a, IndexUpdate) or (_is_zero(a) and (_is_container(like)
                                                       or type(like) is np.ndarray)):
        a = densify(a, like)
    return _shared(a)


def _shared(a: Any) -> Any:
    if type(a) is AdjointArray:
        return a.view(np.ndarray)
    if type(a) is AdjointList or type(a) is list:  # (a plain list: of zero_items, say)
        if _floats(a):  # numbers are never updated in place
            return Adjoints(a)
        return Adjoints(_shared(v) for v in a)
    if type(a) is AdjointDict:
        return AdjointMap({k: _shared(v) for k, v in a.items()})
    return a


def list_head(g: Any, a: Any, whole: Any) -> Any:
    """The part of the adjoint `g` of ``whole = a + b`` that belongs to `a`: its first
    items where `+` joined lists or tuples, else `g` summed to `a`'s shape."""
    if isinstance(whole, (list, tuple)):
        if type(g) in (AdjointList, Adjoints) and len(g) == len(whole):
            head = g[:len(a)]  # (a list's slice is a copy made at C speed)
            if type(g) is AdjointList or _floats(head):
                return AdjointList(head)
        return AdjointList(densify(g, whole)[:len(a)])
    return unbroadcast(g, a)


def list_tail(g: Any, a: Any, whole: Any, b: Any = None) -> Any:
    """The part of the adjoint `g` of ``whole = a + b`` that belongs to `b`."""
    if isinstance(whole, (list, tuple)):
        if type(g) in (AdjointList, Adjoints) and len(g) == len(whole):
            tail = g[len(a):]  # ys + [v]: one item, whatever the length of ys
            if type(g) is AdjointList or _floats(tail):
                return AdjointList(tail)
        return AdjointList(densify(g, whole)[len(a):])
    return g if b is None else unbroadcast(g, b)


def list_head_t(c: Any, a: Any, whole: Any) -> Any:
    """The transpose of `list_head`: `c` at the head of an adjoint shaped like `whole`."""
    if isinstance(whole, (list, tuple)):
        return Adjoints([*densify(c, a), *(zeros_of(v) for v in whole[len(a):])])
    return broadcast_like(c, whole)


def list_tail_t(c: Any, a: Any, whole: Any, b: Any = None) -> Any:
    """The transpose of `list_tail`: `c` at the tail of an adjoint shaped like `whole`."""
    if isinstance(whole, (list, tuple)):
        return Adjoints([*(zeros_of(v) for v in a), *densify(c, whole[len(a):])])
    return broadcast_like(c, whole)


def repeat_adjoint_t(c: Any, a: Any, n: Any, whole: Any) -> Any:
    """The transpose of `repeat_adjoint_of` in its cotangent: `c` repeated n times
    where `*` repeated a list, else ``c * n`` spread over `whole`'s shape."""
    if isinstance(whole, (list, tuple)) and isinstance(a, (list, tuple)):
        return Adjoints(list(densify(c, a)) * (len(whole) // max(len(a), 1)))
    if isinstance(whole, (list, tuple)):
        return zeros_of(whole)
    return broadcast_like(c, whole) * n


def repeat_count_t(c: Any, g: Any, n: Any, whole: Any) -> Any:
    """The transpose of `repeat_adjoint_of` in its factor `n` (numbers and arrays)."""
    if isinstance(whole, (list, tuple)):
        return 0.0
    return unbroadcast(broadcast_like(c, whole) * g, n)


def sum_tangent(a: Any, b: Any, a_dot: Any, b_dot: Any, whole: Any) -> Any:
    """The tangent of ``whole = a + b`` (None: no tangent): the tangents joined where
    `+` joined lists or tuples, else added and spread over `whole`'s shape."""
    if isinstance(whole, (list, tuple)):  # (a zero number: a list's zero tangent too)
        return (zeros_of(a) if _is_zero(a_dot) else a_dot) + (zeros_of(b) if _is_zero(b_dot)
                                                              else b_dot)
    total = a_dot if b_dot is None else b_dot if a_dot is None else \
        _as_array(a_dot) + _as_array(b_dot)  # lists that np.add added item by item
    return broadcast_like(total, whole)


def _as_array(x: Any) -> Any:
    return np.asarray(x) if isinstance(x, (list, tuple)) else x


def product_tangent(a: Any, b: Any, a_dot: Any, b_dot: Any, whole: Any) -> Any:
    """The tangent of ``whole = a * b``: the list's tangent repeated where `*` repeated
    a list, else the product rule, spread over `whole`'s shape."""
    if isinstance(whole, (list, tuple)):
        if isinstance(a, (list, tuple)):
            return (zeros_of(a) if a_dot is None else a_dot) * b
        return a * (zeros_of(b) if b_dot is None else b_dot)
    a, b, a_dot, b_dot = (_as_array(v) for v in (a, b, a_dot, b_dot))  # np.multiply's lists
    terms = [t for t in (None if a_dot is None else a_dot * b,
                         None if b_dot is None else a * b_dot) if t is not None]
    total = terms[0] if len(terms) == 1 else terms[0] + terms[1]
    return broadcast_like(total, whole)


def product_tangent_cross(a_dot: Any, b_dot: Any, a_t: Any, b_t: Any, whole: Any,
                          linear: Any = None) -> Any:
    """The tangent of ``product_tangent(a, b, a_dot, b_dot, whole)``: `linear`, its part
    through the tangents (None where absent), plus the part through the factors `a` and
    `b` themselves (tangents `a_t`, `b_t`), ``a_dot * b_t + a_t * b_dot``; `linear`
    alone where `*` repeated a list, whose tangent reads no factor (the two parts are
    added here: `+` would join two lists)."""
    if isinstance(whole, (list, tuple)):
        return zeros_of(whole) if linear is None else linear
    a_dot, b_dot, a_t, b_t = (_as_array(v) for v in (a_dot, b_dot, a_t, b_t))
    terms = [x * y for x, y in ((a_dot, b_t), (a_t, b_dot)) if x is not None and y is not None]
    if linear is not None:
        terms.append(linear)
    if not terms:
        return zeros_of(whole)
    return broadcast_like(sum(terms[1:], terms[0]), whole)


def product_tangent_cross_t(c: Any, other_dot: Any, factor: Any, whole: Any) -> Any:
    """The adjoint of one factor of ``product_tangent`` (or of its tangent in
    `product_tangent_cross`): `c` times the other factor's tangent, summed to the
    factor's shape; zeros where `*` repeated a list."""
    if isinstance(whole, (list, tuple)) or other_dot is None:
        return zeros_of(factor)
    return unbroadcast(broadcast_like(c, whole) * _as_array(other_dot), factor)


def repeat_adjoint_of(g: Any, a: Any, n: Any, whole: Any) -> Any:
    """The adjoint of `a` in ``whole = a * n``: where `*` repeated a list n times, the
    copies' adjoints added up; where it multiplied numbers, ``g * n`` summed to `a`'s shape."""
    if isinstance(whole, (list, tuple)) and isinstance(a, (list, tuple)):
        g = densify(g, whole)
        total: Any = zeros_like(a)
        for start in range(0, len(g), max(len(a), 1)):
            total = add(total, AdjointList(g[start:start + len(a)]))
        return total
    if isinstance(whole, (list, tuple)):  # the count of a repetition: no derivative
        return 0.0
    return unbroadcast(g * n, a)


def add(a: Any, b: Any) -> Any:
    """``a + b`` for adjoints of any structure: numbers, arrays, and lists, tuples,
    dicts and dataclasses of them, nested, with sparse updates at any level."""
    if type(b) is IndexUpdate and type(b.base) is np.ndarray and (
            type(a) is IndexUpdate or type(a) is AdjointArray):
        if type(a) is IndexUpdate:  # two slices of one array: one dense adjoint for both
            base = a.base
            acc = np.zeros(base.shape, base.dtype if base.dtype.kind in "fc" else np.float64)
            _scatter(acc, a)
            a = acc.view(AdjointArray)
        _scatter(a, b)
        return a
    if isinstance(a, IndexUpdate) and not isinstance(b, IndexUpdate):
        a, b = b, a
    if isinstance(b, IndexUpdate):
        if not (_is_container(b.base) or isinstance(b.base, np.ndarray)):
            return a  # a field of an object that is not a container: static data
        a = densify(a, b.base)
        if isinstance(a, np.ndarray) and _may_repeat(b.index):
            np.add.at(a, b.index, b.value)  # repeated indices add up
        elif isinstance(a, np.ndarray):
            a[b.index] += b.value
        elif isinstance(b.index, slice) and isinstance(a, list):  # xs[1:] of a list
            part = densify(b.value, b.base[b.index])
            for k, v in zip(range(*b.index.indices(len(a))), part):
                a[k] = add(a[k], v)
        else:
            a[b.index] = add(a[b.index], b.value)
        return a
    if _is_zero(a):
        return b
    if _is_zero(b):
        return a
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if _floats(a) and _floats(b):  # numbers only: added at C speed
            return AdjointList(map(float.__add__, a, b))
        return AdjointList(add(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        out = AdjointDict(a)
        for k, v in b.items():
            out[k] = add(out[k], v) if k in out else v
        return out
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return np.add(a, b)  # a list NumPy took for an array meets an array adjoint
    return a + b


def _scatter(acc: np.ndarray, update: IndexUpdate) -> None:
    if _may_repeat(update.index):
        np.add.at(acc, update.index, update.value)  # repeated indices add up
    else:
        acc[update.index] += update.value


def _may_repeat(index: Any) -> bool:
    """Whether an index can name an element twice (integer arrays or lists)."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, list) or (isinstance(part, np.ndarray) and part.dtype.kind != "b"):
            return True
    return False


def scale(a: Any, factor: Any) -> Any:
    """``factor * a`` for an adjoint of any structure (`factor` a number)."""
    if isinstance(a, IndexUpdate):
        return IndexUpdate(a.base, a.index, scale(a.value, factor))
    if isinstance(a, (list, tuple)) and isinstance(factor, np.ndarray) and factor.ndim:
        # the adjoint of a list that stands for an array (np.array(xs)'s adjoint, met
        # again in reverse over reverse): NumPy's product takes it as that array
        return np.asarray(a, dtype=np.result_type(factor, np.float64)) * factor
    if isinstance(a, (list, tuple)):
        return Adjoints(scale(v, factor) for v in a)
    if isinstance(a, dict):
        return AdjointMap({k: scale(v, factor) for k, v in a.items()})
    if isinstance(factor, _Vector):  # 2.0 * adjoints, written the other way round
        return scale(factor, a)
    return a * factor


def item(a: Any) -> Any:
    """``a.item()``: the one element of an array (or NumPy scalar) as a Python number;
    a Python number is itself (its tangents and adjoints may be plain floats)."""
    return a.item() if hasattr(a, "item") else a


def real_sign(x: Any) -> Any:
    """The sign of a real number or array (the slope of ``abs``); complex numbers have
    no such derivative, so they are refused rather than given ``z / abs(z)``."""
    if type(x) is float:
        return (x > 0.0) - (x < 0.0) + 0.0
    if np.iscomplexobj(x):
        raise TypeError("cannot differentiate abs() of a complex number; differentiate with "
                        "respect to its real and imaginary parts (two float arguments)")
    return np.sign(x)


def items_of(x: Any) -> Any:
    """What ``for item in x`` visits, as something indexed by position: a dict's keys,
    anything else itself."""
    return list(x) if isinstance(x, dict) else x


def items_of_dot(t: Any, x: Any) -> Any:
    """The tangent of ``items_of(x)``: a dict's keys carry none (zeros, one per key)."""
    return [0.0] * len(x) if isinstance(x, dict) else t


def items_of_t(c: Any, x: Any) -> Any:
    """The adjoint of `x` in ``items_of(x)``: a dict's keys carry no derivative."""
    return 0.0 if isinstance(x, dict) else c


def keys_of(d: Any) -> list:
    """A dict's keys in its order (``for k, v in d.items()`` visits them)."""
    return list(d.keys())


def sort_order(xs: Any, descending: bool = False) -> list[int]:
    """The positions of the items of `xs` in sorted order (``for x in sorted(xs)``);
    ties keep their order, as ``sorted`` keeps it."""
    return sorted(range(len(xs)), key=xs.__getitem__, reverse=descending)


def index_add(acc: Any, index: Any, value: Any) -> None:
    """``acc[index] += value`` for adjoints that may themselves be containers."""
    acc[index] = add(acc[index], value)


def as_gradient(g: Any, x: Any) -> Any:
    """The adjoint `g` as the gradient of the input `x`: the same structure in plain
    types (list, tuple, namedtuple, dict, dataclass, float, float array), zeros where
    nothing flowed, None for parts that are not numbers (strings, None, functions)."""
    if type(g) is float and type(x) is float:  # the common case, made cheap
        return g
    if isinstance(g, IndexUpdate):
        g = densify(g, x)
    if isinstance(x, np.ndarray):
        return gradient_like(g, x)
    if isinstance(x, (bool, np.bool_)):
        return None if _is_zero(g) else _float(g)
    if isinstance(x, (int, float, np.integer, np.floating)):
        return 0.0 if _is_zero(g) else _float(g)
    if isinstance(x, (complex, np.complexfloating)):
        raise TypeError("cannot differentiate with respect to a complex number; split it "
                        "into real and imaginary parts (two float arguments)")
    if type(x) is list and type(g) in (AdjointList, Adjoints, list) and len(g) == len(x) \
            and _floats(x) and _floats(g):
        return list(g)  # a list of floats (the common case, made cheap)
    if isinstance(x, (list, tuple)):
        zero = _is_zero(g)
        items = [as_gradient(None if zero else g[k], v) for k, v in enumerate(x)]
        if isinstance(x, list):
            return items
        return type(x)(*items) if hasattr(type(x), "_fields") else tuple(items)
    if isinstance(x, dict):
        zero = _is_zero(g)
        return {k: as_gradient(None if zero else g.get(k), v) for k, v in x.items()}
    names = fields_of(x)
    if names is not None:
        import copy

        out = copy.copy(x)
        zero = _is_zero(g)
        for name in names:
            part = None if zero else (g.get(name) if isinstance(g, dict) else getattr(g, name))
            object.__setattr__(out, name, as_gradient(part, getattr(x, name)))
        return out
    return None


def _float(g: Any) -> Any:
    """A scalar gradient as a Python float (an array where NumPy made one)."""
    if isinstance(g, np.ndarray) and g.ndim:
        return np.array(g, dtype=np.result_type(g.dtype, np.float64))
    return float(g)


# ---------------------------------------------------------------- array adjoints
# Helpers the array rules call where the arithmetic depends on shapes known only at
# run time.  Each is linear in its first argument, the cotangent or tangent.


def unbroadcast(g: Any, x: Any) -> Any:
    """`g` summed over the axes along which `x` was broadcast (the adjoint of broadcasting)."""
    if type(g) is np.ndarray and type(x) is np.ndarray:  # the common case, made cheap
        if g.shape == x.shape:
            return g
        shape = x.shape
    else:
        shape = np.shape(x)
        if np.shape(g) == shape:
            return g
        g = np.asarray(g)
    lead = g.ndim - len(shape)
    if lead < 0:  # a cotangent that is itself broadcast (a scalar seed)
        return np.broadcast_to(g, shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def broadcast_like(g: Any, x: Any) -> Any:
    """`g` broadcast to the shape of `x` (the adjoint of `unbroadcast`)."""
    return g if np.shape(g) == np.shape(x) else np.broadcast_to(g, np.shape(x))


def sum_adjoint(g: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The adjoint of ``np.sum(x, axis, keepdims=keepdims)``: `g` spread back over `x`."""
    if axis is None and type(x) is np.ndarray and x.dtype.kind == "f" and np.ndim(g) == 0:
        out = np.empty(x.shape, x.dtype)  # the common case (a full sum), made cheap
        out.fill(g)
        return out
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(x))


def mean_adjoint(g: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The adjoint of ``np.mean(x, axis, keepdims=keepdims)`` (empty for an empty `x`,
    whose mean is nan)."""
    if np.size(x) == 0:
        return np.zeros(np.shape(x))
    return sum_adjoint(g * (np.size(g) / np.size(x)), x, axis, keepdims)


def reduced_count(x: Any, axis: Any = None) -> int:
    """How many elements of `x` a reduction over `axis` combines into each result."""
    shape = np.shape(x)
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


def extremum_mask(x: Any, y: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Where `x` attains its reduced maximum or minimum `y`, ties sharing equally."""
    hit = np.asarray(x) == sum_adjoint(y, x, axis, keepdims)
    dtype = x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.float64
    hit = hit.astype(dtype)
    return hit / np.sum(hit, axis=axis, keepdims=True)


def _ndim(x: Any) -> int:
    return x.ndim if type(x) is np.ndarray else np.ndim(x)


def _sequences_as_arrays(a: Any, b: Any) -> tuple[Any, Any]:
    """The operands of a product, with lists and tuples (which ``np.dot`` and
    ``np.inner`` accept) made arrays."""
    if isinstance(a, (list, tuple)):
        a = np.asarray(a)
    if isinstance(b, (list, tuple)):
        b = np.asarray(b)
    return a, b


def matmul_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    """The adjoint of `a` in ``a @ b`` (or ``np.dot(a, b)``): ``g @ b.T`` and its
    vector, scalar and batched variants."""
    a, b = _sequences_as_arrays(a, b)
    na, nb = _ndim(a), _ndim(b)
    if na == 2 and nb == 2:
        return g @ b.T
    if na == 0 or nb == 0:
        return unbroadcast(g * b, a)
    if nb == 1:
        return unbroadcast(np.multiply.outer(g, b), a)
    if na == 1:
        if nb == 2:
            return b @ g
        return unbroadcast(np.matmul(b, np.expand_dims(g, -1))[..., 0], a)
    return unbroadcast(g @ np.swapaxes(b, -1, -2), a)


def matmul_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    """The adjoint of `b` in ``a @ b``: ``a.T @ g`` and its variants."""
    a, b = _sequences_as_arrays(a, b)
    na, nb = _ndim(a), _ndim(b)
    if na == 2 and nb == 2:
        return a.T @ g
    if na == 0 or nb == 0:
        return unbroadcast(g * a, b)
    if na == 1:
        if nb == 1:
            return g * a
        if nb == 2:
            return np.multiply.outer(a, g)
        return unbroadcast(np.expand_dims(a, -1) * np.expand_dims(g, -2), b)
    if nb == 1:
        if na == 2:
            return g @ a
        return unbroadcast(np.matmul(np.swapaxes(a, -1, -2), np.expand_dims(g, -1))[..., 0], b)
    return unbroadcast(np.swapaxes(a, -1, -2) @ g, b)


def inner_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    """The adjoint of `a` in ``np.inner(a, b)`` (a sum over the last axes)."""
    a, b = _sequences_as_arrays(a, b)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    na = np.ndim(a) - 1
    return np.tensordot(g, b, axes=(list(range(na, np.ndim(g))), list(range(np.ndim(b) - 1))))


def inner_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    """The adjoint of `b` in ``np.inner(a, b)``."""
    a, b = _sequences_as_arrays(a, b)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    na = np.ndim(a) - 1
    return np.tensordot(g, a, axes=(list(range(na)), list(range(na))))


def split_like(g: Any, xs: Any, axis: int = 0) -> Adjoints:
    """The adjoint of ``np.concatenate(xs, axis)``: `g` cut into pieces shaped like `xs`."""
    ends = np.cumsum([np.shape(x)[axis] for x in xs])[:-1]
    return Adjoints(np.split(g, ends, axis=axis))


def unstack(g: Any, axis: int = 0) -> Adjoints:
    """The adjoint of ``np.stack(xs, axis)``: the slices of `g` along `axis`."""
    return Adjoints(np.moveaxis(np.asarray(g), axis, 0))


def unstack_t(c: Any, g: Any, axis: int = 0) -> Any:
    """The transpose of `unstack`: the slices' cotangents stacked back on `axis`."""
    return np.stack(list(densify(c, list(np.moveaxis(np.asarray(g), axis, 0)))), axis)


def hstack_adjoint(g: Any, xs: Any) -> Adjoints:
    """The adjoint of ``np.hstack(xs)``: 1-d pieces join on axis 0, others on axis 1."""
    pieces = split_like(g, [np.atleast_1d(x) for x in xs], 0 if np.ndim(g) == 1 else 1)
    return Adjoints(np.reshape(p, np.shape(x)) for p, x in zip(pieces, xs))


def vstack_adjoint(g: Any, xs: Any) -> Adjoints:
    """The adjoint of ``np.vstack(xs)``: pieces of rows, reshaped like `xs`."""
    pieces = split_like(g, [np.atleast_2d(x) for x in xs], 0)
    return Adjoints(np.reshape(p, np.shape(x)) for p, x in zip(pieces, xs))


def tile_adjoint(g: Any, x: Any, reps: Any) -> Any:
    """The adjoint of ``np.tile(x, reps)``: the tiles of `g` added up."""
    shape = np.shape(x)
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    ndim = max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + shape
    reps = (1,) * (ndim - len(reps)) + reps
    split = []
    for r, n in zip(reps, shape):
        split += [r, n]
    g = np.reshape(g, split).sum(axis=tuple(range(0, 2 * ndim, 2)))
    return np.reshape(g, np.shape(x))


def repeat_adjoint(g: Any, x: Any, repeats: Any, axis: Any = None) -> Any:
    """The adjoint of ``np.repeat(x, repeats, axis)``: each run of copies added up
    (an element repeated zero times gets zero)."""
    x_shape = np.shape(x)
    if axis is None:
        x_shape, axis = (int(np.prod(x_shape)),), 0
    axis = axis % len(x_shape)
    counts = np.broadcast_to(repeats, (x_shape[axis],))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    g = np.asarray(g)
    out = np.zeros(x_shape, dtype=g.dtype if g.dtype.kind in "fc" else np.float64)
    copied = counts > 0
    if copied.any():  # runs of the elements copied at least once, in order
        out[(slice(None),) * axis + (copied,)] = np.add.reduceat(g, starts[copied], axis=axis)
    return np.reshape(out, np.shape(x))


def einsum_adjoint(spec: str, k: int, g: Any, *operands: Any) -> Any:
    """The adjoint of operand `k` of ``np.einsum(spec, *operands)``."""
    spec = explicit_einsum(spec, [np.shape(x) for x in operands])
    inputs, output = _einsum_parts(spec, len(operands))
    target = inputs[k]
    if len(set(target)) != len(target):
        raise ValueError(f"einsum operand {target!r} repeats an index")
    others = [s for i, s in enumerate(inputs) if i != k]
    known = set(output).union(*others)
    kept = "".join(c for c in target if c in known)
    terms = ",".join([output, *others])
    piece = np.einsum(f"{terms}->{kept}", g, *(x for i, x in enumerate(operands) if i != k))
    if kept != target:  # indices summed away by this operand alone: spread back over them
        shape = np.shape(operands[k])
        piece = np.broadcast_to(np.expand_dims(piece, [target.index(c) for c in target
                                                        if c not in known]), shape)
    shape = np.shape(operands[k])
    if np.shape(piece) != shape:  # axes of length one that '...' broadcast: summed back
        piece = np.sum(piece, axis=tuple(i for i, n in enumerate(shape) if n == 1
                                         and np.shape(piece)[i] != 1), keepdims=True)
    return piece


def explicit_einsum(spec: str, shapes: list[tuple[int, ...]]) -> str:
    """`spec` with each '...' spelt out in letters it does not use, for operands of
    these shapes (the broadcast axes right-aligned, as NumPy aligns them)."""
    spec = spec.replace(" ", "")
    if "." not in spec:
        return spec
    lhs, arrow, output = spec.partition("->")
    inputs = lhs.split(",")
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in spec]
    counts = [len(shape) - len(sub.replace("...", "")) for sub, shape in zip(inputs, shapes)]
    width = max(counts, default=0)
    letters = "".join(free[:width])
    inputs = [sub.replace("...", letters[width - n:]) for sub, n in zip(inputs, counts)]
    if arrow:
        output = output.replace("...", letters)
    else:
        joined = "".join(inputs)
        output = letters + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                          and c not in letters))
    return f"{','.join(inputs)}->{output}"


def _einsum_parts(spec: str, n: int) -> tuple[list[str], str]:
    spec = spec.replace(" ", "")
    if "->" in spec:
        lhs, output = spec.split("->")
    else:
        lhs = spec
        letters = lhs.replace(",", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs = lhs.split(",")
    if len(inputs) != n:
        raise ValueError(f"einsum spec {spec!r} names {len(inputs)} operands, {n} given")
    return inputs, output


def cast_like(g: Any, x: Any) -> Any:
    """`g` in the floating dtype of `x` (the adjoint of ``x.astype(...)``)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or dtype.kind != "f":
        return g
    return np.asarray(g, dtype=dtype) if np.ndim(g) else dtype.type(g)


def require_float(x: np.ndarray) -> None:
    """Derivatives are taken with respect to float arrays only."""
    if x.dtype.kind == "c":
        raise TypeError(f"cannot differentiate with respect to a complex array ({x.dtype}); "
                        "differentiate with respect to its real and imaginary parts "
                        "(x.real and x.imag as two float arrays)")
    if x.dtype.kind != "f":
        raise TypeError(f"cannot differentiate with respect to an array of dtype {x.dtype} "
                        "(integer or boolean); pass a float array, for example x.astype(float)")


def gradient_like(g: Any, x: Any) -> Any:
    """A gradient with the type, shape and dtype of its input `x`: dense, writable,
    owned by the caller."""
    if type(g) is AdjointArray and type(x) is np.ndarray and g.dtype == x.dtype:
        return g.view(np.ndarray)  # made here (so no copy is needed), of the right kind
    if isinstance(x, np.ndarray):
        require_float(x)
        g = densify(g, x)
        if np.shape(g) != x.shape:
            g = np.broadcast_to(g, x.shape)
        return np.array(g, dtype=x.dtype)  # a plain, writable array of its own
    if isinstance(x, (list, tuple, dict)) or fields_of(x) is not None:
        return as_gradient(g, x)
    return g


def trace_adjoint(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The adjoint of ``np.trace(a, offset, axis1, axis2)``: `g` on the diagonal."""
    shape = np.shape(a)
    eye = np.eye(shape[axis1], shape[axis2], k=offset)
    placed = np.expand_dims(g, (-2, -1)) * eye
    return np.moveaxis(placed, (-2, -1), (axis1 % len(shape), axis2 % len(shape)))


def zeros_of(x: Any) -> Any:
    """A zero derivative shaped like `x`, in plain types: 0.0 for a number, a float
    array for an array, the same list, tuple, namedtuple, dict or dataclass of zeros
    for a container (None for parts that are not numbers)."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=x.dtype if x.dtype.kind in "fc" else np.float64)
    if isinstance(x, (int, float, np.number)):
        return 0.0
    if isinstance(x, list):
        return [zeros_of(v) for v in x]
    if isinstance(x, tuple):
        zeros = [zeros_of(v) for v in x]
        return type(x)(*zeros) if hasattr(type(x), "_fields") else tuple(zeros)
    if isinstance(x, dict) or fields_of(x) is not None:
        return as_gradient(None, x)
    return None


def scalar_seed(y: Any) -> float:
    """The seed 1.0 of a gradient, after checking that the output `y` is a scalar."""
    if np.ndim(y) != 0:
        raise ValueError(f"grad needs a function with a scalar output, but it returned an "
                         f"array of shape {np.shape(y)}; use adc.jacobian or adc.vjp, or "
                         f"reduce the output (np.sum, np.mean)")
    return 1.0


# ---------------------------------------------------------------- products, ranges, casts
# The partials of ``np.prod`` without dividing by zero, the adjoint of ``np.linspace``,
# and the zero derivative of a cast to integers.


def _spread(y: Any, axis: Any, keepdims: bool) -> Any:
    """A reduction's result `y` with its reduced axes back, of length one."""
    if axis is not None and not keepdims:
        return np.expand_dims(y, axis)
    return y


def _no_zero(y: Any, x: Any) -> bool:
    """Whether no element of `x` is zero, asked of the product `y` of its elements
    first (which is zero where `x` is, or where the product underflows)."""
    if bool(y.all()) if type(y) is np.ndarray else y != 0:
        return True
    return not (np.asarray(x) == 0).any()


def _reduced_axes(ndim: int, axis: Any) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _zero_parts(x: Any, axes: tuple[int, ...]) -> tuple[Any, Any, Any, Any]:
    """Where `x` is zero, `x` with its zeros made ones, and per reduced group the
    product of its nonzero elements and the number of its zeros."""
    zero = x == 0
    safe = np.where(zero, 1, x)
    return zero, safe, np.prod(safe, axis=axes, keepdims=True), \
        np.sum(zero, axis=axes, keepdims=True)


def _products_of_others(x: Any, axis: Any) -> Any:
    """Each element's product of the other elements of its group: the product of the
    nonzero ones over it where the group has no zero, that product at the one zero of a
    group with one zero, and zero everywhere else."""
    x = np.asarray(x)
    zero, safe, product, count = _zero_parts(x, _reduced_axes(x.ndim, axis))
    return np.where(count == 0, product / safe, np.where(zero & (count == 1), product, 0))


def prod_others(x: Any, y: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The partials of ``y = np.prod(x, axis, keepdims=keepdims)``: each element's
    product of the others, ``y / x`` where no element is zero (`y` is passed to save
    computing it again)."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if _no_zero(y, x):
        return _spread(y, axis, keepdims) / x
    return _products_of_others(x, axis)


def prod_adjoint(g: Any, x: Any, y: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The adjoint of `x` in ``y = np.prod(x, axis, keepdims=keepdims)``: `g` spread
    back over `x`, times each element's product of the others (exact at zeros)."""
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    if axis is None and type(y) is not np.ndarray and y != 0:  # the common case, made cheap
        return g * y / x
    if _no_zero(y, x):
        return _spread(g * y, axis, keepdims) / x
    return sum_adjoint(g, x, axis, keepdims) * _products_of_others(x, axis)


def prod_others_jvp(x: Any, t: Any, axis: Any = None) -> Any:
    """The tangent of `prod_others` along `t`: for each element i, the sum over the
    others j of ``t_j`` times the product of the elements other than i and j (the
    Hessian of the product applied to `t`).  `t` may carry directions on extra last
    axes (vector mode)."""
    x, t = np.asarray(x), np.asarray(t)
    axes = _reduced_axes(x.ndim, axis)
    if t.ndim > x.ndim:
        x = x.reshape(x.shape + (1,) * (t.ndim - x.ndim))
    zero, safe, product, count = _zero_parts(x, axes)
    ratio = np.where(zero, 0, t / safe)  # t_j / x_j over the nonzero elements
    total = np.sum(ratio, axis=axes, keepdims=True)
    if not zero.any():
        return product / x * (total - ratio)
    zero_t = np.sum(np.where(zero, t, 0), axis=axes, keepdims=True)  # t at the zeros
    at_nonzero = np.where(count == 0, product / safe * (total - ratio),
                          np.where(count == 1, zero_t * product / safe, 0))
    at_zero = np.where(count == 1, product * total,
                       np.where(count == 2, (zero_t - t) * product, 0))
    return np.where(zero, at_zero, at_nonzero)


def linspace_adjoint(g: Any, which: int, start: Any, stop: Any, num: int,
                     endpoint: bool = True, axis: int = 0) -> Any:
    """The adjoint of `start` (`which` 0) or `stop` (1) in ``np.linspace(start, stop, num,
    endpoint, axis=axis)``, whose samples are ``start + (stop - start) * t`` with `t`
    running from 0 to 1 along `axis`: `g` weighted by ``1 - t`` or `t`, summed along it."""
    shape = np.broadcast_shapes(np.shape(start), np.shape(stop))
    t = np.linspace(np.zeros(shape), np.ones(shape), num, endpoint=endpoint, axis=axis)
    weighted = np.sum(g * (t if which else 1.0 - t), axis=axis)
    return unbroadcast(weighted, stop if which else start)


def zero_if_integral(t: Any, y: Any) -> Any:
    """The derivative `t` of a value `y`, or zero where `y` holds integers or booleans
    (a cast to those is piecewise constant, whatever its operand's derivative)."""
    if getattr(y, "dtype", None) is not None and y.dtype.kind in "biu":
        return np.zeros(np.shape(t)) if np.ndim(t) else 0.0
    return t


def selected_places(condition: Any, like: Any = None, negate: bool = False) -> Any:
    """Where an adjoint that ``np.where(condition, ...)`` passed to one branch may be
    nonzero: `condition` (its negation for the other branch), reduced with ``any`` over
    the axes that ``unbroadcast(g, like)`` sums, so it stays broadcastable to `like`."""
    mask = np.logical_not(condition) if negate else np.asarray(condition, dtype=bool)
    if like is None:
        return mask
    shape = np.shape(like)
    lead = mask.ndim - len(shape)
    if lead > 0:
        mask = mask.any(axis=tuple(range(lead)))
    offset = len(shape) - mask.ndim  # (aligned on the last axis, as broadcasting is)
    axes = tuple(i - offset for i, n in enumerate(shape) if n == 1 and i >= offset
                 and mask.shape[i - offset] != 1)
    return mask.any(axis=axes, keepdims=True) if axes else mask


def xlogy(a: Any, b: Any) -> Any:
    """``a * log(b)``, and 0 wherever `a` is 0 whatever `b` is.

    The exponent's term of ``x ** k`` is ``k_dot * x**k * log(x)``: the derivative in
    `k` does not exist at a negative base (nan), but where `k` does not move (a zero
    tangent or adjoint weight) the term is zero, and at a zero base, where
    ``x**k * log(x)`` has the limit 0 for k > 0, so is the weight ``k_dot * x**k``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a * np.log(b)
    if np.ndim(out) == 0:
        return 0.0 * a if a == 0 else out
    return np.where(np.equal(a, 0), np.zeros_like(out), out)


def check_unshared(value: Any, *readers: Any, names: str, where: str) -> None:
    """Refuse an augmented assignment that NumPy would do in place on an object that a
    value read afterwards shares: the compiled code makes a new array (or list, or dict:
    ``layer["W"] = v``) instead, which is Python's meaning only for a number or an
    object nothing else sees."""
    if not isinstance(value, (np.ndarray, list, dict)):
        return  # a number or a tuple: `+=` rebinds the name, as the compiled code does
    if any(_shares(value, r, 0) for r in readers):
        raise ValueError(
            f"{where}\nthis statement changes an array, list or dict in place, and "
            f"{names}, read afterwards, shares it: NumPy changes it too, which the compiled "
            "code cannot follow.  Make a new array instead ('a = a + b' for 'a += b'), or "
            "give each name an array of its own where they are assigned ('b = a.copy()')")


def _shares(value: Any, reader: Any, depth: int) -> bool:
    """Whether changing `value` in place changes what `reader` holds."""
    if reader is value:
        return True
    if isinstance(reader, np.ndarray) and isinstance(value, np.ndarray):
        if not np.may_share_memory(value, reader):
            return False
        try:
            return bool(np.shares_memory(value, reader, max_work=10_000))
        except Exception:  # noqa: BLE001 - too hard to decide (TooHardError): assume so
            return True
    if isinstance(reader, (list, tuple)) and depth < 20:
        return any(_shares(value, item, depth + 1) for item in reader)
    if isinstance(reader, dict) and depth < 20:
        return any(_shares(value, item, depth + 1) for item in reader.values())
    return False


# ------------------------------------------------------------------ shapes, scans, gathers
# (the rules are in registry/scans.py)


def rollaxis_destination(ndim: int, axis: int, start: int = 0) -> int:
    """Where ``np.rollaxis(x, axis, start)`` puts `axis`, as ``np.moveaxis`` counts."""
    axis, start = axis % ndim, start + ndim if start < 0 else start
    return start - 1 if axis < start else start


def diagonal_adjoint(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The adjoint of ``np.diagonal(a, offset, axis1, axis2)``: `g` on that diagonal of
    zeros shaped like `a`."""
    g = np.asarray(g)
    shape = np.shape(a)
    axis1, axis2 = axis1 % len(shape), axis2 % len(shape)
    rows, cols = shape[axis1], shape[axis2]
    out = np.zeros(g.shape[:-1] + (rows, cols), dtype=g.dtype if g.dtype.kind in "fc"
                   else np.float64)
    i = np.arange(g.shape[-1])
    out[..., i + max(-offset, 0), i + max(offset, 0)] = g
    return np.moveaxis(out, (-2, -1), (axis1, axis2))


def diag_adjoint(g: Any, v: Any, k: int = 0) -> Any:
    """The adjoint of ``np.diag(v, k)``: the diagonal of `g` for a vector `v`, `g` on
    the diagonal of zeros shaped like a matrix `v`."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k).copy()
    return diagonal_adjoint(g, v, k)


def append_adjoint(g: Any, arr: Any, values: Any, axis: Any, which: int) -> Any:
    """The adjoint of `arr` (`which` 0) or `values` (1) in ``np.append(arr, values, axis)``."""
    first = np.size(arr) if axis is None else np.shape(arr)[axis]
    if axis is None:
        g, axis = np.ravel(g), 0
    part = np.split(g, [first], axis=axis)[which]
    return np.reshape(part, np.shape(values if which else arr))


def _inner_slices(shape: tuple, pad_width: Any) -> tuple:
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.intp), (len(shape), 2))
    return tuple(slice(int(b), n - int(e)) for (b, e), n in zip(widths, shape))


def unpad(g: Any, x: Any, pad_width: Any) -> Any:
    """The adjoint of the array in ``np.pad(x, pad_width)``: the middle of `g`."""
    g = np.asarray(g)
    return g[_inner_slices(g.shape, pad_width)].reshape(np.shape(x))


def pad_adjoint(g: Any, x: Any, pad_width: Any, mode: str) -> Any:
    """The adjoint of ``np.pad(x, pad_width, mode)`` for a mode that copies elements
    ('edge', 'wrap', ...): each element gets the adjoints of all its copies."""
    g = np.asarray(g)
    size, shape = int(np.size(x)), np.shape(x)
    source = np.pad(np.arange(size).reshape(shape), pad_width, mode)
    dtype = g.dtype if g.dtype.kind in "fc" else np.float64
    return np.bincount(source.ravel(), weights=g.ravel(), minlength=size).astype(
        dtype, copy=False).reshape(shape)


def pad_fill_adjoint(border: Any, value: Any) -> Any:
    """The adjoint of np.pad's constant value: the sum over the border (one value only)."""
    if np.ndim(value) != 0:
        raise ValueError("np.pad is differentiated with respect to one constant value only "
                         "(not one per axis or side)")
    return border


def diff_adjoint(g: Any, a: Any, n: int, axis: int, prepend: Any, append: Any,
                 which: int) -> Any:
    """The adjoint of `a` (`which` 0), `prepend` (1) or `append` (2) in ``np.diff``."""
    g = np.asarray(g)
    for _ in range(n):
        g = -np.diff(g, axis=axis, prepend=0.0, append=0.0)
    before = 0 if prepend is None else 1 if np.ndim(prepend) == 0 else np.shape(prepend)[axis]
    middle = np.shape(a)[axis]
    part = np.split(g, [before, before + middle], axis=axis)[(1, 0, 2)[which]]
    end = (a, prepend, append)[which]
    return np.sum(part) if np.ndim(end) == 0 else part


def take_adjoint(g: Any, a: Any, indices: Any, axis: Any = None) -> Any:
    """The adjoint of ``np.take(a, indices, axis)``: `g` added at the indices (repeated
    indices add up)."""
    g = np.asarray(g)
    shape = np.shape(a)
    dtype = g.dtype if g.dtype.kind in "fc" else np.float64
    if axis is None:
        out = np.zeros(int(np.prod(shape)), dtype=dtype)
        np.add.at(out, np.asarray(indices), g)
        return out.reshape(shape)
    axis = axis % len(shape)
    out = np.zeros(shape, dtype=dtype)
    np.add.at(out, (slice(None),) * axis + (np.asarray(indices),), g)
    return out


def take_along_axis_adjoint(g: Any, arr: Any, indices: Any, axis: Any = -1) -> Any:
    """The adjoint of ``np.take_along_axis(arr, indices, axis)``: `g` added where it
    was taken from (repeated indices add up; where `arr` was broadcast against the
    indices, the copies add up too)."""
    g = np.asarray(g)
    indices = np.asarray(indices)
    shape = np.shape(arr)
    dtype = g.dtype if g.dtype.kind in "fc" else np.float64
    if axis is None:
        out = np.zeros(int(np.prod(shape)), dtype=dtype)
        np.add.at(out, indices, g)
        return out.reshape(shape)
    axis = axis % len(shape)
    ones = [list(s) for s in (shape, indices.shape)]
    for s in ones:
        s[axis] = 1
    common = list(np.broadcast_shapes(tuple(ones[0]), tuple(ones[1])))
    taken = np.broadcast_to(indices, tuple(common[:axis] + [indices.shape[axis]]
                                           + common[axis + 1:]))
    index = list(np.indices(taken.shape, sparse=True))
    index[axis] = taken
    out = np.zeros(tuple(common[:axis] + [shape[axis]] + common[axis + 1:]), dtype=dtype)
    np.add.at(out, tuple(index), np.broadcast_to(g, taken.shape))
    spread = tuple(d for d, (n, m) in enumerate(zip(shape, out.shape)) if n != m)
    return np.sum(out, axis=spread, keepdims=True) if spread else out


def permutation_of(x: Any, y: Any, axis: int = -1) -> Any:
    """Indices with ``take_along_axis(x, indices, axis) == y`` for `y` a reordering of
    `x` along `axis` (``np.partition``); tied elements keep their order."""
    by_x = np.argsort(x, axis=axis, kind="stable")
    by_y = np.argsort(y, axis=axis, kind="stable")
    order = np.empty_like(by_x)
    np.put_along_axis(order, by_y, by_x, axis=axis)
    return order


def hsplit_axis(x: Any) -> int:
    """The axis ``np.hsplit`` splits: 1, or 0 for a vector."""
    return 1 if np.ndim(x) > 1 else 0


def split_adjoint(g: Any, pieces: Any, axis: int = 0) -> Any:
    """The adjoint of ``np.split`` and its kin: the adjoints of the pieces joined, zeros
    for the pieces nothing read."""
    g = dense(g, pieces)
    parts = [np.zeros_like(p, dtype=np.result_type(p, 0.0)) if _is_zero(d) else d
             for d, p in zip(g, pieces)]
    return np.concatenate(parts, axis=axis)


def index_trick(trick: Any, index: Any) -> Any:
    """``np.r_[index]`` or ``np.c_[index]``, as the user's code indexes it."""
    return trick[index]


def index_join_layout(trick: Any, shapes: list[tuple[int, ...]]) -> tuple[list[tuple[int, ...]], int]:
    """How ``np.r_[items]`` or ``np.c_[items]`` lays out items of these shapes: the shape
    each is promoted to and the axis they are joined on.  np.r_ makes each item at
    least 1-d and joins on axis 0; np.c_ makes a vector a column, a number a 1x1
    matrix, and joins on the last axis."""
    if trick is np.r_:
        return [s if s else (1,) for s in shapes], 0
    return [(s[0], 1) if len(s) == 1 else s if s else (1, 1) for s in shapes], -1


def index_join_adjoint(g: Any, trick: Any, items: Any) -> Adjoints:
    """The adjoint of ``np.r_[items]`` / ``np.c_[items]`` (items that are numbers or
    arrays): each item's piece of `g`, shaped like the item."""
    shapes = [np.shape(x) for x in items]
    promoted, axis = index_join_layout(trick, shapes)
    pieces = np.split(g, np.cumsum([s[axis] for s in promoted])[:-1], axis=axis)
    return Adjoints(np.reshape(p, s) for p, s in zip(pieces, shapes))


def fmax_first(x: Any, y: Any) -> Any:
    """1.0 where ``np.fmax(x, y)`` is `x` (x >= y, or y is nan; a tie goes to x, as
    ``np.maximum``'s derivative does), else 0.0: the partial of fmax in x."""
    return ((x >= y) | (y != y)) * 1.0


def fmin_first(x: Any, y: Any) -> Any:
    """1.0 where ``np.fmin(x, y)`` is `x` (x <= y, or y is nan), else 0.0."""
    return ((x <= y) | (y != y)) * 1.0


def real_one(x: Any) -> float:
    """1.0: the slope of ``np.real`` and ``np.conj`` of a real number or array.  Of
    complex input they are not complex-differentiable, so it is refused."""
    if np.iscomplexobj(x):
        raise TypeError("cannot differentiate np.real, np.imag or np.conj of a complex "
                        "value; differentiate with respect to its real and imaginary parts "
                        "(two float arguments)")
    return 1.0


# sinc'(x) = (cos(pi x) - sinc(x)) / x loses all its digits to cancellation near 0,
# where these series (exact to double precision below _SINC_SERIES) take over
def power_slope(x: Any, y: Any) -> Any:
    """``y * x ** (y - 1)``, the slope of ``x ** y`` in x, with 0 where y == 0: x ** 0
    is constant, also at x == 0, where ``x ** -1`` would raise or be inf."""
    if np.ndim(y) == 0:
        return y * x ** (y - 1 if y != 0 else 1)
    return y * x ** np.where(np.equal(y, 0), 1, np.subtract(y, 1))


def power_curve(x: Any, y: Any) -> Any:
    """``y * (y - 1) * x ** (y - 2)``, the curvature of ``x ** y`` in x, with 0 where
    y is 0 or 1 (x ** y is linear there, also at x == 0)."""
    if np.ndim(y) == 0:
        return y * (y - 1) * x ** (y - 2 if y not in (0, 1) else 2)
    flat = np.equal(y, 0) | np.equal(y, 1)
    return y * (np.subtract(y, 1)) * x ** np.where(flat, 2, np.subtract(y, 2))


_SINC_SERIES = 1e-3


def sinc_slope(x: Any) -> Any:
    """The derivative of the normalised ``np.sinc``, also at and near 0 (where it is 0)."""
    x = np.asarray(x)
    small = np.abs(x) < _SINC_SERIES
    safe = np.where(small, 1.0, x)
    with np.errstate(invalid="ignore"):
        far = (np.cos(np.pi * safe) - np.sinc(safe)) / safe
    near = -(np.pi ** 2) * x / 3 + np.pi ** 4 * x ** 3 / 30
    out = np.where(small, near, far).astype(np.result_type(x, np.float16), copy=False)
    return out[()] if out.ndim == 0 else out


def sinc_curve(x: Any) -> Any:
    """The second derivative of the normalised ``np.sinc`` (-pi**2/3 at 0)."""
    x = np.asarray(x)
    small = np.abs(x) < _SINC_SERIES
    safe = np.where(small, 1.0, x)
    with np.errstate(invalid="ignore"):
        far = -(np.pi ** 2) * np.sinc(safe) - 2 * sinc_slope(safe) / safe
    near = -(np.pi ** 2) / 3 + np.pi ** 4 * x ** 2 / 10
    out = np.where(small, near, far).astype(np.result_type(x, np.float16), copy=False)
    return out[()] if out.ndim == 0 else out


# ------------------------------------------------------------------ statements run as written


def formatted(template: tuple, *values: Any) -> str:
    """An f-string: `template` holds its literal parts (str) and, for each replacement
    field, (conversion, format spec); generated code prints it back as the f-string."""
    parts, given = [], iter(values)
    for part in template:
        if isinstance(part, str):
            parts.append(part)
            continue
        conversion, spec = part
        value = next(given)
        if conversion:
            value = {"r": repr, "s": str, "a": ascii}[conversion](value)
        parts.append(format(value, spec))
    return "".join(parts)


def raise_error(exc: Any = None, cause: Any = None) -> None:
    """``raise exc`` (``raise exc from cause``, a bare ``raise``); generated code prints
    the statement."""
    if exc is None:
        raise  # noqa: PLE0704 - re-raises the exception being handled
    if cause is not None:
        raise exc from cause
    raise exc


def assert_true(test: Any, message: Any = None) -> None:
    """``assert test, message``; generated code prints the statement."""
    if not test:
        raise AssertionError(message) if message is not None else AssertionError
