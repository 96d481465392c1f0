"""Run-time helpers of the shape, scan and gather rules (registry/scans.py): the
adjoints of np.diagonal, np.diag, np.append, np.pad, np.diff, np.take,
np.take_along_axis, np.split and index tricks such as ``np.r_``.  NumPy only."""
from __future__ import annotations

from typing import Any

import numpy as np

from .runtime import Adjoints, _is_zero, dense


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

