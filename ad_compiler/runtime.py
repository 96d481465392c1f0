"""The core of the helpers generated code calls: accumulating adjoints of containers,
the gradient in the types of the input, and the array adjoints the other helper
modules build on (unbroadcast, the matmul adjoints).

Adjoints of numbers and arrays add with ``+``; adjoints of lists and tuples add
item by item.  The partial adjoint of ``xs[i]`` is sparse (`IndexUpdate`), and is
added into the accumulated adjoint in place, so a loop over a list of n items
costs O(n) in reverse mode, not O(n^2).  Only lists made here are ever updated in
place, never the caller's.  This module needs nothing but NumPy, so an exported
derivative can carry a copy of it; nor do the others that build on it
(runtime_lists, runtime_arrays, runtime_products, runtime_shapes, runtime_slopes,
runtime_statements).
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
# The few that the other helper modules build on (the rest are in runtime_arrays.py).
# Each is linear in its first argument, the cotangent or tangent.


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
