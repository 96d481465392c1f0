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


class AdjointList(list):
    """A list this module made to accumulate adjoints in; it may be updated in place."""


class AdjointArray(np.ndarray):
    """An array this module made to accumulate adjoints in; it may be updated in place."""


class IndexUpdate:
    """The partial adjoint of ``base[index]``: zero but ``value`` at ``index``."""

    __slots__ = ("base", "index", "value")

    def __init__(self, base: Any, index: Any, value: Any) -> None:
        self.base, self.index, self.value = base, index, value


def index_update(base: Any, index: Any, value: Any) -> IndexUpdate:
    return IndexUpdate(base, index, value)


def _is_zero(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == 0


def zeros_like(x: Any) -> Any:
    if isinstance(x, (list, tuple)) and all(type(v) is float for v in x):
        return AdjointList([0.0] * len(x))
    if isinstance(x, (list, tuple)):
        return AdjointList([zeros_like(v) if isinstance(v, (list, tuple, np.ndarray)) else 0.0
                            for v in x])
    if isinstance(x, np.ndarray):
        dtype = np.float64 if x.dtype.kind in "biu" else x.dtype
        return np.zeros_like(x, dtype=dtype).view(AdjointArray)
    return 0.0


def densify(a: Any, like: Any) -> Any:
    """`a` as an adjoint shaped like `like`, owned by this module."""
    if isinstance(a, IndexUpdate):
        return add(zeros_like(like), a)
    if _is_zero(a) and isinstance(like, (list, tuple, np.ndarray)):
        return zeros_like(like)
    if isinstance(a, (list, tuple)) and not isinstance(a, AdjointList):
        return AdjointList(densify(v, w) for v, w in zip(a, like))
    if isinstance(a, np.ndarray) and not isinstance(a, AdjointArray):
        return a.astype(a.dtype if a.dtype.kind in "fc" else np.float64).view(AdjointArray)
    return a


def dense(a: Any, like: Any) -> Any:
    """`a` with a slice's sparse adjoint filled in, shaped like `like`: an adjoint that
    rules may pass on to several operands, so nothing may update it in place (unlike
    `densify`'s, which its one owner accumulates into)."""
    if isinstance(a, IndexUpdate) or (_is_zero(a) and isinstance(like, (list, tuple))):
        a = densify(a, like)
    return _shared(a)


def _shared(a: Any) -> Any:
    if type(a) is AdjointArray:
        return a.view(np.ndarray)
    if type(a) is AdjointList:
        return [_shared(v) for v in a]
    return a


def list_head(g: Any, a: Any, whole: Any) -> Any:
    """The part of the adjoint `g` of ``whole = a + b`` (lists) that belongs to `a`."""
    return AdjointList(densify(g, whole)[:len(a)])


def list_tail(g: Any, a: Any, whole: Any) -> Any:
    """The part of the adjoint `g` of ``whole = a + b`` (lists) that belongs to `b`."""
    return AdjointList(densify(g, whole)[len(a):])


def add(a: Any, b: Any) -> Any:
    """``a + b`` for adjoints of any shape: numbers, arrays, lists and tuples of them."""
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
        a = densify(a, b.base)
        if isinstance(a, np.ndarray) and _may_repeat(b.index):
            np.add.at(a, b.index, b.value)  # repeated indices add up
        elif isinstance(a, np.ndarray):
            a[b.index] += b.value
        else:
            a[b.index] = add(a[b.index], b.value)
        return a
    if _is_zero(a):
        return b
    if _is_zero(b):
        return a
    if isinstance(a, (list, tuple)):
        return AdjointList(add(x, y) for x, y in zip(a, b))
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


def index_add(acc: Any, index: Any, value: Any) -> None:
    """``acc[index] += value`` for adjoints that are themselves lists."""
    acc[index] = add(acc[index], value)


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


def matmul_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    """The adjoint of `a` in ``a @ b`` (or ``np.dot(a, b)``): ``g @ b.T`` and its
    vector, scalar and batched variants."""
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
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    na = np.ndim(a) - 1
    return np.tensordot(g, b, axes=(list(range(na, np.ndim(g))), list(range(np.ndim(b) - 1))))


def inner_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    """The adjoint of `b` in ``np.inner(a, b)``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    na = np.ndim(a) - 1
    return np.tensordot(g, a, axes=(list(range(na)), list(range(na))))


def split_like(g: Any, xs: Any, axis: int = 0) -> list:
    """The adjoint of ``np.concatenate(xs, axis)``: `g` cut into pieces shaped like `xs`."""
    ends = np.cumsum([np.shape(x)[axis] for x in xs])[:-1]
    return list(np.split(g, ends, axis=axis))


def unstack(g: Any, axis: int = 0) -> list:
    """The adjoint of ``np.stack(xs, axis)``: the slices of `g` along `axis`."""
    return list(np.moveaxis(np.asarray(g), axis, 0))


def hstack_adjoint(g: Any, xs: Any) -> list:
    """The adjoint of ``np.hstack(xs)``: 1-d pieces join on axis 0, others on axis 1."""
    pieces = split_like(g, [np.atleast_1d(x) for x in xs], 0 if np.ndim(g) == 1 else 1)
    return [np.reshape(p, np.shape(x)) for p, x in zip(pieces, xs)]


def vstack_adjoint(g: Any, xs: Any) -> list:
    """The adjoint of ``np.vstack(xs)``: pieces of rows, reshaped like `xs`."""
    pieces = split_like(g, [np.atleast_2d(x) for x in xs], 0)
    return [np.reshape(p, np.shape(x)) for p, x in zip(pieces, xs)]


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
    return piece


def _einsum_parts(spec: str, n: int) -> tuple[list[str], str]:
    spec = spec.replace(" ", "")
    if "." in spec:
        raise ValueError("einsum with '...' has no rule yet")
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
    if x.dtype.kind not in "fc":
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
    if isinstance(x, (list, tuple)):
        return densify(g, x)
    return g


def trace_adjoint(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The adjoint of ``np.trace(a, offset, axis1, axis2)``: `g` on the diagonal."""
    shape = np.shape(a)
    eye = np.eye(shape[axis1], shape[axis2], k=offset)
    placed = np.expand_dims(g, (-2, -1)) * eye
    return np.moveaxis(placed, (-2, -1), (axis1 % len(shape), axis2 % len(shape)))


def zeros_of(x: Any) -> Any:
    """A zero derivative shaped like `x`: 0.0 for a number, a float array for an array."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=x.dtype if x.dtype.kind in "fc" else np.float64)
    if isinstance(x, (list, tuple)):
        zeros = [zeros_of(v) for v in x]
        return zeros if isinstance(x, list) else tuple(zeros)
    return 0.0


def tuple_item(g: Any, k: int) -> Any:
    """Item `k` of the adjoint of a tuple result (``np.linalg.slogdet``), sparse or not."""
    if isinstance(g, IndexUpdate):
        return g.value if g.index == k else 0.0
    if _is_zero(g):
        return 0.0
    return g[k]


def scalar_seed(y: Any) -> float:
    """The seed 1.0 of a gradient, after checking that the output `y` is a scalar."""
    if np.ndim(y) != 0:
        raise ValueError(f"grad needs a function with a scalar output, but it returned an "
                         f"array of shape {np.shape(y)}; use adc.jacobian or adc.vjp, or "
                         f"reduce the output (np.sum, np.mean)")
    return 1.0


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
    value read afterwards shares: the compiled code makes a new array (or list) instead,
    which is Python's meaning only for a number or an object nothing else sees."""
    if not isinstance(value, (np.ndarray, list)):
        return  # a number or a tuple: `+=` rebinds the name, as the compiled code does
    if any(_shares(value, r, 0) for r in readers):
        raise ValueError(
            f"{where}\nthis augmented assignment changes an array (or list) in place, and "
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
