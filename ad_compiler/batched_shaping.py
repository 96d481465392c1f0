"""Vector mode of NumPy's reorderings, diagonals, triangles, gathers, repetitions,
scans and differences, and of the run-time adjoints of those that have one (and of
np.pad's and np.linspace's).

Each function takes a batched tangent (or adjoint) `t`, whose last axis carries the
directions, with the primitive's other arguments as NumPy takes them, and equals the
primitive applied to each direction in turn, the results stacked on a last axis.  An
axis argument counts the primal axes (a negative one from the last primal axis, never
the directions'), and where NumPy ravels (``axis=None``) only the primal axes are
raveled.  Declared as the `batched=` forms of their registry entries (registry/scans.py,
shaping.py, linalg.py, creation.py).  Like `runtime`, this module needs nothing but
NumPy.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .batched import batched_unbroadcast
from .runtime_npmath import insert_sources
from .runtime_shapes import _inner_slices

_AxisError = np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError


def primal_axis(axis: Any, ndim: int) -> int:
    """`axis` of a primal array of `ndim` dimensions, as a number in ``range(ndim)``
    (refused out of range, as NumPy refuses it, rather than reaching the directions)."""
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise _AxisError(axis, ndim)
    return axis + ndim if axis < 0 else axis


def _primal_axes(axis: Any, t: Any) -> Any:
    """An axis or a sequence of axes of the primal of the batched array `t`."""
    ndim = np.ndim(t) - 1
    if isinstance(axis, (tuple, list)):
        return tuple(primal_axis(a, ndim) for a in axis)
    return primal_axis(axis, ndim)


def _rows(t: Any) -> Any:
    """A batched array with its primal raveled: one row per element, directions across."""
    t = np.asarray(t)
    return np.reshape(t, (-1, t.shape[-1]))


def with_directions(x: Any, n: int) -> Any:
    """`x`, the same in each of `n` directions, with their axis last."""
    x = np.asarray(x)
    return np.broadcast_to(np.expand_dims(x, -1), x.shape + (n,))


# ------------------------------------------------------------------ reorderings


def batched_flip(t: Any, axis: Any = None) -> Any:
    t = np.asarray(t)
    if axis is None:
        return np.flip(t, axis=tuple(range(t.ndim - 1)))
    return np.flip(t, axis=_primal_axes(axis, t))


def batched_fliplr(t: Any) -> Any:
    """``np.fliplr`` of a batched tangent (its primal at least 2-d, as NumPy asks)."""
    if np.ndim(t) < 3:
        raise ValueError("Input must be >= 2-d.")
    return np.flip(t, axis=1)


def batched_flipud(t: Any) -> Any:
    if np.ndim(t) < 2:
        raise ValueError("Input must be >= 1-d.")
    return np.flip(t, axis=0)


def batched_rot90(t: Any, k: int = 1, axes: Any = (0, 1)) -> Any:
    t = np.asarray(t)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    return np.rot90(t, k, axes=_primal_axes(tuple(axes), t))


def batched_roll(t: Any, shift: Any, axis: Any = None) -> Any:
    t = np.asarray(t)
    if axis is None:  # the raveled primal rolled
        return np.reshape(np.roll(_rows(t), shift, axis=0), t.shape)
    return np.roll(t, shift, axis=_primal_axes(axis, t))


def batched_moveaxis(t: Any, source: Any, destination: Any) -> Any:
    """``np.moveaxis`` on primal axes: the directions' axis, moved by none, stays last."""
    t = np.asarray(t)
    return np.moveaxis(t, _primal_axes(source, t), _primal_axes(destination, t))


def batched_rollaxis(t: Any, axis: int, start: int = 0) -> Any:
    t = np.asarray(t)
    ndim = t.ndim - 1
    start = operator.index(start)
    if not -ndim <= start <= ndim:
        raise _AxisError(f"'start' arg requires {-ndim} <= start < {ndim + 1}, but {start} "
                         "was passed in")
    return np.rollaxis(t, primal_axis(axis, ndim), start + ndim if start < 0 else start)


# ------------------------------------------------------------------ triangles, diagonals


def _triangle(t: Any, k: int, lower: bool) -> Any:
    """The lower (or upper) triangle of the last two primal axes of `t`; a primal
    vector is taken as the rows of a square matrix, as ``np.tril`` takes it."""
    t = np.asarray(t)
    mask = np.tri(*t.shape[:-1][-2:], k=k if lower else k - 1, dtype=bool)
    mask = np.expand_dims(mask, -1)
    zero = np.zeros(1, dtype=t.dtype)
    return np.where(mask, t, zero) if lower else np.where(mask, zero, t)


def batched_tril(t: Any, k: int = 0) -> Any:
    return _triangle(t, k, lower=True)


def batched_triu(t: Any, k: int = 0) -> Any:
    return _triangle(t, k, lower=False)


def _on_diagonal(t: Any, k: int) -> Any:
    """A batched vector placed on diagonal `k` of square matrices of zeros."""
    t = np.asarray(t)
    size = t.shape[0] + abs(k)
    out = np.zeros((size, size, t.shape[-1]), dtype=t.dtype)
    i = np.arange(t.shape[0])
    out[i + max(-k, 0), i + max(k, 0)] = t
    return out


def batched_diag(t: Any, k: int = 0) -> Any:
    """``np.diag``: a primal vector placed on a diagonal, a primal matrix's diagonal."""
    t = np.asarray(t)
    if t.ndim == 2:
        return _on_diagonal(t, k)
    if t.ndim == 3:
        return np.moveaxis(np.diagonal(t, k, 0, 1), -1, 0)
    raise ValueError("Input must be 1- or 2-d.")


def batched_diagflat(t: Any, k: int = 0) -> Any:
    return _on_diagonal(_rows(t), k)


def batched_diagonal(t: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """``np.diagonal``: NumPy puts the diagonal's axis last, here before the directions'."""
    t = np.asarray(t)
    ndim = t.ndim - 1
    taken = np.diagonal(t, offset, primal_axis(axis1, ndim), primal_axis(axis2, ndim))
    return np.moveaxis(taken, -1, -2)


def _atleast(t: Any, ndim: int) -> Any:
    t = np.asarray(t)
    shape = t.shape[:-1]
    if len(shape) >= ndim:
        return t
    if ndim == 3 and len(shape) == 2:  # np.atleast_3d puts a matrix's new axis last
        return np.reshape(t, shape + (1,) + t.shape[-1:])
    if ndim == 3 and len(shape) == 1:
        return np.reshape(t, (1,) + shape + (1,) + t.shape[-1:])
    return np.reshape(t, (1,) * (ndim - len(shape)) + t.shape)


def batched_atleast_1d(t: Any) -> Any:
    return _atleast(t, 1)


def batched_atleast_2d(t: Any) -> Any:
    return _atleast(t, 2)


def batched_atleast_3d(t: Any) -> Any:
    return _atleast(t, 3)


def batched_trace_adjoint(g: Any, a: Any, offset: int = 0, axis1: int = 0,
                          axis2: int = 1) -> Any:
    """`runtime_arrays.trace_adjoint` of a batched `g`: each direction on the diagonal."""
    shape = np.shape(a)
    eye = np.eye(shape[axis1], shape[axis2], k=offset)
    placed = np.expand_dims(g, (-3, -2)) * np.expand_dims(eye, -1)
    ndim = len(shape)
    return np.moveaxis(placed, (-3, -2), (primal_axis(axis1, ndim), primal_axis(axis2, ndim)))


def batched_diagonal_adjoint(g: Any, a: Any, offset: int = 0, axis1: int = 0,
                             axis2: int = 1) -> Any:
    """`runtime_shapes.diagonal_adjoint` of a batched `g`: each direction on the diagonal of
    zeros shaped like `a`."""
    g = np.asarray(g)
    shape = np.shape(a)
    ndim = len(shape)
    axis1, axis2 = primal_axis(axis1, ndim), primal_axis(axis2, ndim)
    out = np.zeros(g.shape[:-2] + (shape[axis1], shape[axis2], g.shape[-1]),
                   dtype=g.dtype if g.dtype.kind in "fc" else np.float64)
    i = np.arange(g.shape[-2])
    out[..., i + max(-offset, 0), i + max(offset, 0), :] = g
    return np.moveaxis(out, (-3, -2), (axis1, axis2))


def batched_diag_adjoint(g: Any, v: Any, k: int = 0) -> Any:
    """`runtime_shapes.diag_adjoint` of a batched `g`."""
    if np.ndim(v) == 1:
        return np.moveaxis(np.diagonal(g, k, 0, 1), -1, 0).copy()
    return batched_diagonal_adjoint(g, v, k)


# ------------------------------------------------------------------ gathers, repetitions


def batched_take(t: Any, indices: Any, axis: Any = None) -> Any:
    if axis is None:
        return np.take(_rows(t), indices, axis=0)
    t = np.asarray(t)
    return np.take(t, indices, axis=_primal_axes(axis, t))


def batched_take_along_axis(t: Any, indices: Any, axis: Any = -1) -> Any:
    """``np.take_along_axis``: the indices, the same in every direction, broadcast
    along the directions' axis."""
    indices = np.expand_dims(np.asarray(indices), -1)
    if axis is None:
        return np.take_along_axis(_rows(t), indices, axis=0)
    t = np.asarray(t)
    return np.take_along_axis(t, indices, axis=_primal_axes(axis, t))


def batched_take_adjoint(g: Any, a: Any, indices: Any, axis: Any = None) -> Any:
    """`runtime_shapes.take_adjoint` of a batched `g`: each direction added at the indices."""
    g = np.asarray(g)
    shape = np.shape(a)
    dtype = g.dtype if g.dtype.kind in "fc" else np.float64
    if axis is None:
        out = np.zeros((int(np.prod(shape)), g.shape[-1]), dtype=dtype)
        np.add.at(out, np.asarray(indices), g)
        return out.reshape(shape + g.shape[-1:])
    axis = primal_axis(axis, len(shape))
    out = np.zeros(shape + g.shape[-1:], dtype=dtype)
    np.add.at(out, (slice(None),) * axis + (np.asarray(indices),), g)
    return out


def batched_take_along_axis_adjoint(g: Any, arr: Any, indices: Any, axis: Any = -1) -> Any:
    """`runtime_shapes.take_along_axis_adjoint` of a batched `g`."""
    g = np.asarray(g)
    indices = np.asarray(indices)
    shape = np.shape(arr)
    n = g.shape[-1]
    dtype = g.dtype if g.dtype.kind in "fc" else np.float64
    if axis is None:
        out = np.zeros((int(np.prod(shape)), n), dtype=dtype)
        np.add.at(out, indices, g)
        return out.reshape(shape + (n,))
    axis = primal_axis(axis, len(shape))
    ones = [list(s) for s in (shape, indices.shape)]
    for s in ones:
        s[axis] = 1
    common = list(np.broadcast_shapes(tuple(ones[0]), tuple(ones[1])))
    taken = np.broadcast_to(indices, tuple(common[:axis] + [indices.shape[axis]]
                                           + common[axis + 1:]))
    index = list(np.indices(taken.shape + (n,), sparse=True))
    index[axis] = np.expand_dims(taken, -1)
    out = np.zeros(tuple(common[:axis] + [shape[axis]] + common[axis + 1:]) + (n,),
                   dtype=dtype)
    np.add.at(out, tuple(index), np.broadcast_to(g, taken.shape + (n,)))
    spread = tuple(d for d, (m, k) in enumerate(zip(shape, out.shape)) if m != k)
    return np.sum(out, axis=spread, keepdims=True) if spread else out


def batched_repeat(t: Any, repeats: Any, axis: Any = None) -> Any:
    if axis is None:
        return np.repeat(_rows(t), repeats, axis=0)
    t = np.asarray(t)
    return np.repeat(t, repeats, axis=_primal_axes(axis, t))


def batched_repeat_adjoint(g: Any, x: Any, repeats: Any, axis: Any = None) -> Any:
    """`runtime_arrays.repeat_adjoint` of a batched `g`: each run of copies added up."""
    g = np.asarray(g)
    x_shape = np.shape(x)
    if axis is None:
        x_shape, axis = (int(np.prod(x_shape)),), 0
        g = np.reshape(g, (-1, g.shape[-1]))
    axis = primal_axis(axis, len(x_shape))
    counts = np.broadcast_to(repeats, (x_shape[axis],))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    out = np.zeros(x_shape + g.shape[-1:], dtype=g.dtype if g.dtype.kind in "fc"
                   else np.float64)
    copied = counts > 0
    if copied.any():
        out[(slice(None),) * axis + (copied,)] = np.add.reduceat(g, starts[copied], axis=axis)
    return np.reshape(out, np.shape(x) + g.shape[-1:])


def _tile_layout(shape: tuple, reps: Any) -> tuple[tuple, tuple]:
    """A shape and repetitions of the same length, as ``np.tile`` pads them."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    ndim = max(len(shape), len(reps))
    return (1,) * (ndim - len(shape)) + tuple(shape), (1,) * (ndim - len(reps)) + reps


def batched_tile(t: Any, reps: Any) -> Any:
    t = np.asarray(t)
    shape, reps = _tile_layout(t.shape[:-1], reps)
    return np.tile(np.reshape(t, shape + t.shape[-1:]), reps + (1,))


def batched_tile_adjoint(g: Any, x: Any, reps: Any) -> Any:
    """`runtime_arrays.tile_adjoint` of a batched `g`: the tiles of each direction added up."""
    g = np.asarray(g)
    shape, reps = _tile_layout(np.shape(x), reps)
    split = [n for pair in zip(reps, shape) for n in pair]
    summed = np.reshape(g, split + [g.shape[-1]]).sum(axis=tuple(range(0, 2 * len(shape), 2)))
    return np.reshape(summed, np.shape(x) + g.shape[-1:])


def batched_cumsum(t: Any, axis: Any = None, dtype: Any = None) -> Any:
    if axis is None:
        return np.cumsum(_rows(t), axis=0, dtype=dtype)
    t = np.asarray(t)
    return np.cumsum(t, axis=_primal_axes(axis, t), dtype=dtype)


def batched_item(t: Any) -> Any:
    """``a.item()`` of a batched tangent of a one-element array: one number per direction."""
    t = np.asarray(t)
    if t.size != t.shape[-1]:
        raise ValueError("can only convert an array of size 1 to a Python scalar")
    return np.reshape(t, t.shape[-1:])


# ------------------------------------------------------------------ np.append


def batched_append(arr: Any, values: Any, axis: Any = None, directions_in: int = 0) -> Any:
    """``np.append`` where `arr` (`directions_in` 0), `values` (1) or both (2) carry the
    directions; an operand without them is the same in every direction."""
    n = np.shape(values if directions_in == 1 else arr)[-1]
    if directions_in == 1:
        arr = with_directions(arr, n)
    elif directions_in == 0:
        values = with_directions(values, n)
    if axis is None:
        return np.concatenate([_rows(arr), _rows(values)], axis=0)
    arr = np.asarray(arr)
    return np.concatenate([arr, np.asarray(values)], axis=primal_axis(axis, arr.ndim - 1))


def batched_append_adjoint(g: Any, arr: Any, values: Any, axis: Any, which: int) -> Any:
    """`runtime_shapes.append_adjoint` of a batched `g`: its part for `arr` or `values`."""
    g = np.asarray(g)
    first = np.size(arr) if axis is None else np.shape(arr)[axis]
    if axis is None:
        g, axis = _rows(g), 0
    part = np.split(g, [first], axis=primal_axis(axis, g.ndim - 1))[which]
    return np.reshape(part, np.shape(values if which else arr) + g.shape[-1:])


def batched_insert(arr: Any, obj: Any, values: Any, axis: Any = None,
                   directions_in: int = 0) -> Any:
    """``np.insert`` where `arr` (`directions_in` 0), `values` (1) or both (2) carry the
    directions; an operand without them is the same in every direction.  Every
    direction at once: the elements are gathered where NumPy puts them."""
    n = np.shape(values if directions_in == 1 else arr)[-1]
    arr = with_directions(arr, n) if directions_in == 1 else np.asarray(arr)
    values = with_directions(values, n) if directions_in == 0 else np.asarray(values)
    sources = insert_sources(arr.shape[:-1], obj, values.shape[:-1], axis)
    rows = np.concatenate([arr.reshape(-1, n), values.reshape(-1, n).astype(arr.dtype)])
    return rows[sources]


def batched_insert_adjoint(g: Any, arr: Any, obj: Any, values: Any, axis: Any,
                           which: int) -> Any:
    """`runtime_npmath.insert_adjoint` of a batched `g`: the directions' adjoints of
    `arr` (`which` 0) or `values` (1) at once (a value broadcast into several places
    gets their sum)."""
    g = np.asarray(g)
    n = g.shape[-1]
    sources = insert_sources(np.shape(arr), obj, np.shape(values), axis)
    first = int(np.size(arr))
    start, size = (0, first) if which == 0 else (first, int(np.size(values)))
    taken = (sources >= start) & (sources < start + size)
    out = np.zeros((size, n), dtype=g.dtype if g.dtype.kind in "fc" else np.float64)
    np.add.at(out, sources[taken] - start, g[taken])
    return out.reshape(np.shape(values if which else arr) + (n,))


# ------------------------------------------------------------------ differences, paddings


def batched_diff(positions: tuple[int, ...], a: Any, n: int = 1, axis: int = -1,
                 prepend: Any = None, append: Any = None) -> Any:
    """``np.diff(a, n, axis, prepend=..., append=...)`` (None: an end not given) where
    the arguments at `positions` (0: `a`, 3: `prepend`, 4: `append`) carry directions;
    the others are the same in each."""
    arguments = (a, n, axis, prepend, append)
    count = np.shape(arguments[positions[0]])[-1]
    a = np.asarray(a) if 0 in positions else with_directions(a, count)
    if n == 0:
        return a
    axis = primal_axis(axis, a.ndim - 1)
    pieces = []
    for k in (3, 0, 4):
        piece = arguments[k] if k else a
        if piece is None:
            continue
        piece = np.asarray(piece) if k in positions or not k else with_directions(piece, count)
        if piece.ndim == 1 and k:  # a number: one step along the axis, as np.diff takes it
            shape = list(a.shape)
            shape[axis] = 1
            piece = np.broadcast_to(piece, tuple(shape))
        pieces.append(piece)
    return np.diff(np.concatenate(pieces, axis=axis) if len(pieces) > 1 else a, n, axis=axis)


def batched_diff_adjoint(g: Any, a: Any, n: int, axis: int, prepend: Any, append: Any,
                         which: int) -> Any:
    """`runtime_shapes.diff_adjoint` of a batched `g`: the part of `a` (`which` 0), `prepend`
    (1) or `append` (2), summed to one number per direction for a number."""
    g = np.asarray(g)
    primal = primal_axis(axis, np.ndim(a))
    for _ in range(n):
        g = -np.diff(g, axis=primal, prepend=0.0, append=0.0)
    before = 0 if prepend is None else 1 if np.ndim(prepend) == 0 else np.shape(prepend)[axis]
    middle = np.shape(a)[axis]
    part = np.split(g, [before, before + middle], axis=primal)[(1, 0, 2)[which]]
    end = (a, prepend, append)[which]
    return np.sum(part, axis=tuple(range(part.ndim - 1))) if np.ndim(end) == 0 else part


def batched_unpad(g: Any, x: Any, pad_width: Any) -> Any:
    """`runtime_shapes.unpad` of a batched `g`: the middle of the primal axes."""
    g = np.asarray(g)
    inner = _inner_slices(g.shape[:-1], pad_width) + (slice(None),)
    return g[inner].reshape(np.shape(x) + g.shape[-1:])


def batched_linspace_adjoint(g: Any, which: int, start: Any, stop: Any, num: int,
                             endpoint: bool = True, axis: int = 0) -> Any:
    """`runtime_products.linspace_adjoint` of a batched `g`: each direction weighted by ``1 - t``
    (or `t`) and summed along the samples' axis."""
    shape = np.broadcast_shapes(np.shape(start), np.shape(stop))
    t = np.linspace(np.zeros(shape), np.ones(shape), num, endpoint=endpoint, axis=axis)
    weights = np.expand_dims(t if which else 1.0 - t, -1)
    weighted = np.sum(np.asarray(g) * weights, axis=primal_axis(axis, t.ndim))
    return batched_unbroadcast(weighted, stop if which else start)


def batched_pad_adjoint(g: Any, x: Any, pad_width: Any, mode: str) -> Any:
    """`runtime_shapes.pad_adjoint` (a mode that copies elements) of a batched `g`: each
    element gets each direction's adjoints of all its copies."""
    g = np.asarray(g)
    size, shape = int(np.size(x)), np.shape(x)
    source = np.pad(np.arange(size).reshape(shape), pad_width, mode)
    out = np.zeros((size, g.shape[-1]), dtype=g.dtype if g.dtype.kind in "fc" else np.float64)
    np.add.at(out, source.ravel(), g.reshape(-1, g.shape[-1]))
    return out.reshape(shape + g.shape[-1:])
