"""Vector-mode tangents: many directions carried in one forward sweep.

A batched tangent of a value of shape S has shape ``S + (n,)``: the direction is the
*last* axis, so elementwise rules broadcast it for free once the primal factor gets
a trailing axis of length one (``np.expand_dims(p, -1)``).  The functions here apply
the non-elementwise primitives to batched tangents; `vmap_last` applies any linear
function one direction at a time, as the fallback.  Like `runtime`, this module
needs nothing but NumPy (and `runtime`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .runtime import unbroadcast
from .runtime_arrays import _einsum_parts, explicit_einsum
from .runtime_shapes import index_join_layout


def _axes(axis: Any, ndim: int) -> Any:
    """Primal axes of a batched array of `ndim` dimensions (the batch axis is last)."""
    if axis is None:
        return tuple(range(ndim - 1))
    if isinstance(axis, tuple):
        return tuple(a - 1 if a < 0 else a for a in axis)
    return axis - 1 if axis < 0 else axis


def batched_sum(t: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return np.sum(t, axis=_axes(axis, np.ndim(t)), keepdims=keepdims)


def batched_mean(t: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return np.mean(t, axis=_axes(axis, np.ndim(t)), keepdims=keepdims)


def batched_transpose(t: Any, axes: Any = None) -> Any:
    ndim = np.ndim(t)
    order = tuple(reversed(range(ndim - 1))) if axes is None else tuple(
        a % (ndim - 1) for a in axes)
    return np.transpose(t, order + (ndim - 1,))


def batched_swapaxes(t: Any, axis1: int, axis2: int) -> Any:
    ndim = np.ndim(t)
    return np.swapaxes(t, _axes(axis1, ndim), _axes(axis2, ndim))


def batched_trace(t: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    ndim = np.ndim(t)
    return np.trace(t, offset, _axes(axis1, ndim), _axes(axis2, ndim))


def batched_reshape(t: Any, shape: Any) -> Any:
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    return np.reshape(t, shape + np.shape(t)[-1:])


def batched_squeeze(t: Any, axis: Any = None) -> Any:
    if axis is None:
        axis = tuple(i for i, n in enumerate(np.shape(t)[:-1]) if n == 1)
    return np.squeeze(t, axis=_axes(axis, np.ndim(t)))


def batched_expand_dims(t: Any, axis: Any) -> Any:
    return np.expand_dims(t, axis=_axes(axis, np.ndim(t) + (len(axis) if isinstance(
        axis, tuple) else 1)))


def batched_broadcast_to(t: Any, shape: Any) -> Any:
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    return np.broadcast_to(t, shape + np.shape(t)[-1:])


def batched_broadcast_like(t: Any, y: Any) -> Any:
    """The tangent `t` broadcast to the shape of the primal result `y` (plus directions);
    a list's tangent is a list of its items' tangents, as it is."""
    if isinstance(y, (list, tuple)):
        return t
    shape = np.shape(y) + np.shape(t)[-1:]
    return t if np.shape(t) == shape else np.broadcast_to(t, shape)


def batched_concatenate(ts: Any, axis: int = 0) -> Any:
    return np.concatenate(ts, axis=_axes(axis, np.ndim(ts[0])))


def batched_stack(ts: Any, axis: int = 0) -> Any:
    return np.stack(ts, axis=axis - 1 if axis < 0 else axis)


def batched_hstack(ts: Any) -> Any:
    """``np.hstack`` of batched tangents: each item at least 1-d (numbers become one
    element), joined on axis 0 where the first is 1-d, else 1."""
    ts = [np.reshape(t, (1,) + np.shape(t)) if np.ndim(t) == 1 else t for t in ts]
    return np.concatenate(ts, axis=0 if np.ndim(ts[0]) == 2 else 1)


def batched_index_join(trick: Any, ts: Any) -> Any:
    """``np.r_[ts]`` / ``np.c_[ts]`` of tangents whose last axis is the batch."""
    promoted, axis = index_join_layout(trick, [np.shape(t)[:-1] for t in ts])
    joined = [np.reshape(t, (*shape, np.shape(t)[-1])) for t, shape in zip(ts, promoted)]
    return np.concatenate(joined, axis=0 if axis == 0 else -2)


def batched_vstack(ts: Any) -> Any:
    """``np.vstack`` of batched tangents: each item at least 2-d (a number a 1x1 block,
    a vector a row), joined on axis 0."""
    ts = [np.reshape(t, (1,) * (3 - np.ndim(t)) + np.shape(t)) if np.ndim(t) < 3 else t
          for t in ts]
    return np.concatenate(ts, axis=0)


def directions_kept(index: Any) -> Any:
    """An index of a primal array applied to its batched tangent: the same, but a ``...``
    in it stops before the directions' last axis (``t[..., :1]`` would index them)."""
    if index is Ellipsis or isinstance(index, tuple) and any(i is Ellipsis for i in index):
        return (*(index if isinstance(index, tuple) else (index,)), slice(None))
    return index


def batched_where(condition: Any, t1: Any, t2: Any) -> Any:
    return np.where(np.expand_dims(condition, -1), t1, t2)


# Seeds of unit directions while a vector-mode sweep runs: id -> (the seed, start).
# A seed registered here is an array of shape (k, n) whose row j is the unit vector
# e_{start + j}: the directions of the k numbers of a vector input, among n in all.
_UNIT_SEEDS: dict[int, tuple[Any, int]] = {}


def register_unit_seed(seed: Any, start: int) -> None:
    """Mark `seed` as unit directions starting at `start` (until released)."""
    _UNIT_SEEDS[id(seed)] = (seed, start)


def release_unit_seed(seed: Any) -> None:
    if unit_seed_start(seed) is not None:
        del _UNIT_SEEDS[id(seed)]


def unit_seed_start(t: Any) -> int | None:
    """Where the unit directions of `t` start, if `t` is a registered unit seed."""
    entry = _UNIT_SEEDS.get(id(t))
    return entry[1] if entry is not None and entry[0] is t else None


def _placed(a: Any, t: Any, start: int) -> Any:
    """``a @ t`` for a unit seed `t` of shape (k, n) starting at `start`: the columns of
    `a` placed at directions start .. start + k, zeros elsewhere (no product).  `a` may
    be a nested list or tuple of numbers, as NumPy's `a @ x` takes it."""
    k, n = np.shape(t)
    a = np.asarray(a)
    dtype = np.result_type(a, t)
    if k == n:
        return np.array(a, dtype=dtype)  # a copy: the caller may own what it is given
    out = np.zeros(np.shape(a)[:-1] + (n,), dtype=dtype)
    out[..., start:start + k] = a
    return out


def batched_matmul(t: Any, b: Any) -> Any:
    """``t @ b`` (or ``np.dot``) for a batched left operand `t`."""
    primal_ndim = np.ndim(t) - 1
    if primal_ndim == 0 or np.ndim(b) == 0:
        return t * np.expand_dims(b, -1)
    if primal_ndim == 1 and np.ndim(b) <= 2:
        start = unit_seed_start(t)
        if start is not None:  # x @ B along unit directions of x: the rows of B
            return _placed(np.transpose(b), t, start)
    if primal_ndim == 1 and np.ndim(b) > 2:
        return vmap_last(np.matmul, (0,), t, b)
    if primal_ndim == 1 and np.ndim(b) == 2:
        d = diagonal_directions(t, b)
        if d is not None:  # diag(d) @ b, directions last
            return np.transpose(np.expand_dims(d, -1) * b)
    return np.moveaxis(np.matmul(np.moveaxis(t, -1, 0), b), 0, -1)


def batched_rmatmul(a: Any, t: Any) -> Any:
    """``a @ t`` (or ``np.dot``) for a batched right operand `t`."""
    primal_ndim = np.ndim(t) - 1
    if np.ndim(a) == 0 or primal_ndim == 0:
        return np.expand_dims(a, -1) * t
    if primal_ndim == 1:
        start = unit_seed_start(t)
        if start is not None:  # A @ x along unit directions of x: the columns of A
            return _placed(a, t, start)
        d = diagonal_directions(t, a)
        if d is not None:  # a @ diag(d): each column scaled
            return a * d
        return np.matmul(a, t)  # (..., k) @ (k, n): the directions are columns
    return np.moveaxis(np.matmul(a, np.moveaxis(t, -1, 0)), 0, -1)


def add_to_diagonal(a: Any, d: Any) -> Any:
    """`a` with `d` added to its diagonal, in place: `a` is a square array the calling
    code made and reads nowhere else (a Jacobian's dense part; `d` its diagonal part)."""
    a.flat[:: a.shape[1] + 1] += d
    return a


def diagonal_directions(t: Any, other: Any) -> Any:
    """The diagonal of a batched vector `t` whose k-th direction is zero but at its k-th
    number (the unit directions of a Jacobian, and what elementwise factors make of
    them), else None.  A product of such `t` with a matrix is a scaling: O(n^2), not
    O(n^3); it is exact, which needs the matrix `other` finite (inf * 0 is nan)."""
    if type(t) is not np.ndarray or t.ndim != 2 or t.shape[0] != t.shape[1] \
            or t.shape[0] < 8:
        return None
    n = t.shape[0]
    off = t.reshape(-1)[1:].reshape(n - 1, n + 1)[:, :n]  # every number off the diagonal
    if off.any() or not np.isfinite(other).all():
        return None
    return np.diagonal(t)


def batched_einsum(spec: str, k: int, *operands: Any) -> Any:
    """``np.einsum(spec, *operands)`` with operand `k` batched: one more index for it."""
    shapes = [np.shape(x)[:-1] if i == k else np.shape(x) for i, x in enumerate(operands)]
    inputs, out = _einsum_parts(explicit_einsum(spec, shapes), len(operands))
    letters = set("".join(inputs))
    batch = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYX" if c not in letters)
    inputs[k] += batch
    return np.einsum(f"{','.join(inputs)}->{out}{batch}", *operands)


def batched_outer(a: Any, b: Any, directions_in: int = 0) -> Any:
    """``np.outer(a, b)`` where operand `directions_in` (0: `a`, 1: `b`) is batched: each
    operand flattened, but for the directions' axis."""
    if directions_in == 0:
        t = np.asarray(a)
        return np.reshape(t, (-1, 1, t.shape[-1])) * np.reshape(b, (1, -1, 1))
    t = np.asarray(b)
    return np.reshape(a, (-1, 1, 1)) * np.reshape(t, (1, -1, t.shape[-1]))


def batched_inner(a: Any, b: Any, directions_in: int = 0) -> Any:
    """``np.inner(a, b)`` where operand `directions_in` (0: `a`, 1: `b`) is batched: a sum
    over the primal last axes, the directions' axis moved last."""
    a, b = np.asarray(a), np.asarray(b)
    t, other = (a, b) if directions_in == 0 else (b, a)
    if t.ndim == 1 or other.ndim == 0:  # a number times an array
        return np.expand_dims(other, -1) * t if t.ndim == 1 else t * other
    if directions_in == 0:
        return np.moveaxis(np.inner(np.moveaxis(t, -1, 0), other), 0, -1)
    return np.moveaxis(np.inner(other, np.moveaxis(t, -1, 0)), other.ndim - 1, -1)


def batched_solve(a: Any, t: Any) -> Any:
    """``np.linalg.solve(a, t)`` for a batched right-hand side `t`."""
    if np.ndim(t) == 2 and np.ndim(a) == 2:
        return np.linalg.solve(a, t)  # the directions are the columns of a matrix
    return np.moveaxis(np.linalg.solve(a, np.moveaxis(t, -1, 0)), 0, -1)


def batch_zeros(x: Any, seed: Any) -> Any:
    """A zero batched tangent for `x`, with as many directions as `seed` has (for a
    list or tuple, a list of its items' zero tangents; for a dict, a dict of them)."""
    if isinstance(x, (list, tuple)):
        return [batch_zeros(v, seed) for v in x]
    if isinstance(x, dict):
        return {k: batch_zeros(v, seed) for k, v in x.items()}
    dtype = x.dtype if isinstance(x, np.ndarray) and x.dtype.kind in "fc" else np.float64
    return np.zeros(np.shape(x) + _directions_of(seed), dtype)


def _directions_of(seed: Any) -> tuple[int, ...]:
    """The trailing axis of directions of a batched tangent (of any structure)."""
    if isinstance(seed, dict):
        seed = list(seed.values())
    elif not isinstance(seed, (list, tuple, np.ndarray)) and hasattr(seed, "__dict__"):
        seed = list(vars(seed).values())  # a dataclass's fields
    if isinstance(seed, (list, tuple)):
        return next((d for d in map(_directions_of, seed) if d), ())
    return np.shape(seed)[-1:]


def vmap_last(fn: Any, positions: tuple[int, ...], *args: Any) -> Any:
    """Any function linear in the arguments at `positions`, applied one direction at a
    time and the results stacked on the last axis (the fallback)."""
    n = next(_count(args[p]) for p in positions if _count(args[p]))
    results = []
    for k in range(n):
        one = [_direction(a, k) if p in positions else a for p, a in enumerate(args)]
        results.append(fn(*one))
    return _stacked(results)


def _stacked(results: list) -> Any:
    """Results of one direction each, stacked on a last axis (a dict's, such as the
    gradient of a dict input, value by value)."""
    first = results[0]
    if isinstance(first, dict):
        return type(first)({k: _stacked([r[k] for r in results]) for k in first})
    return np.stack([np.asarray(r) for r in results], axis=-1)


def _count(t: Any) -> int:
    from .runtime import IndexUpdate

    if isinstance(t, IndexUpdate):
        return _count(t.value)
    if isinstance(t, dict):
        t = list(t.values())
    if isinstance(t, (list, tuple)):
        return next((_count(v) for v in t if _count(v)), 0)
    return np.shape(t)[-1] if np.ndim(t) else 0


def _direction(t: Any, k: int) -> Any:
    from .runtime import IndexUpdate

    if isinstance(t, IndexUpdate):
        return IndexUpdate(t.base, t.index, _direction(t.value, k))
    if isinstance(t, dict):
        return type(t)({key: _direction(v, k) for key, v in t.items()})
    if isinstance(t, (list, tuple)):
        return [_direction(v, k) for v in t]
    return t[..., k] if np.ndim(t) else t


def batched_full(shape: Any, t: Any, dtype: Any = None) -> Any:
    """``np.full(shape, t)`` for a batched fill value `t` (its directions last)."""
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    out = np.broadcast_to(t, shape + np.shape(t)[-1:])
    return out if dtype is None else out.astype(dtype)


def batched_full_like(a: Any, t: Any, dtype: Any = None) -> Any:
    """``np.full_like(a, t)`` for a batched fill value `t`."""
    if dtype is None and getattr(a, "dtype", None) is not None and a.dtype.kind in "fc":
        dtype = a.dtype
    return batched_full(np.shape(a), t, dtype)


def batched_linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
                     axis: int = 0) -> Any:
    """``np.linspace`` of batched endpoints: the samples' axis goes before the
    directions' (a negative `axis` counts from the last primal axis)."""
    return np.linspace(start, stop, num, endpoint=endpoint, axis=axis - 1 if axis < 0 else axis)


def _split_axis(axis: int) -> int:
    return axis - 1 if axis < 0 else axis


def batched_split(t: Any, indices_or_sections: Any, axis: int = 0) -> list:
    return np.split(t, indices_or_sections, axis=_split_axis(axis))


def batched_array_split(t: Any, indices_or_sections: Any, axis: int = 0) -> list:
    return np.array_split(t, indices_or_sections, axis=_split_axis(axis))


def batched_hsplit(t: Any, indices_or_sections: Any) -> list:
    """``np.hsplit`` of a batched tangent: axis 1, or 0 for a batched vector."""
    return np.split(t, indices_or_sections, axis=1 if np.ndim(t) > 2 else 0)


def batched_vsplit(t: Any, indices_or_sections: Any) -> list:
    return np.split(t, indices_or_sections, axis=0)


def diff_by_position(a: Any, n: int = 1, axis: int = -1, prepend: Any = None,
                     append: Any = None) -> Any:
    """``np.diff`` with its ends passed by position, None where not given (for
    `vmap_last`)."""
    ends = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}
    return np.diff(a, n, axis, **ends)


def batched_pad(t: Any, pad_width: Any, mode: str = "constant") -> Any:
    """``np.pad`` of a batched tangent (with zeros in constant mode): the directions'
    axis is not padded."""
    widths = np.broadcast_to(np.asarray(pad_width), (np.ndim(t) - 1, 2))
    return np.pad(t, [*map(tuple, widths.tolist()), (0, 0)], mode)


# ------------------------------------------------- batched reverse mode (adjoints)
# A batched adjoint carries its cotangents on the same last axis as a batched tangent,
# so the rules' vector-mode forms apply to adjoints unchanged; the functions below are
# the batched forms of the runtime helpers that adjoint rules call.

def batched_unbroadcast(g: Any, x: Any) -> Any:
    """`runtime.unbroadcast` of a batched adjoint: `g` summed to the shape of `x` over
    the axes along which `x` was broadcast; the directions' axis stays last."""
    if not isinstance(g, (np.ndarray, float, int, np.number)):  # a container's adjoint
        return vmap_last(unbroadcast, (0,), g, x)
    shape = np.shape(x)
    g = np.asarray(g)
    if g.shape[:-1] == shape:
        return g
    lead = g.ndim - 1 - len(shape)
    if lead < 0:  # a batched adjoint that is itself broadcast
        return np.broadcast_to(np.expand_dims(g, tuple(range(-lead))), shape + g.shape[-1:])
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def batched_matmul_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    """`runtime.matmul_adjoint_a` of a batched adjoint `g` of ``a @ b``."""
    na, nb = np.ndim(a), np.ndim(b)
    if na == 2 and nb == 2:  # g: (m, n, k) -> (m, p, k)
        return np.einsum("mnk,pn->mpk", g, b)
    if na == 2 and nb == 1:  # g: (m, k) -> (m, p, k)
        return np.expand_dims(g, 1) * np.expand_dims(b, -1)
    if na == 1 and nb == 2:  # g: (n, k) -> (p, k)
        return b @ g
    return vmap_last(_matmul_adjoint("a"), (0,), g, a, b)


def batched_matmul_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    """`runtime.matmul_adjoint_b` of a batched adjoint `g` of ``a @ b``."""
    na, nb = np.ndim(a), np.ndim(b)
    if na == 2 and nb == 2:  # g: (m, n, k) -> (p, n, k)
        return np.einsum("mp,mnk->pnk", a, g)
    if na == 2 and nb == 1:  # g: (m, k) -> (p, k)
        d = diagonal_directions(g, a)
        return a.T * d if d is not None else a.T @ g
    if na == 1 and nb == 2:  # g: (n, k) -> (p, n, k)
        return np.expand_dims(a, (1, 2)) * np.expand_dims(g, 0)
    return vmap_last(_matmul_adjoint("b"), (0,), g, a, b)


def _matmul_adjoint(which: str) -> Any:
    from . import runtime

    return runtime.matmul_adjoint_a if which == "a" else runtime.matmul_adjoint_b


def batched_index_update(x: Any, index: Any, g: Any) -> Any:
    """The batched adjoint of ``x[index]`` as a dense array: zeros shaped like `x` (and
    the directions), with `g` added at `index` (repeated indices add up)."""
    g = np.asarray(g)
    out = np.zeros(np.shape(x) + g.shape[-1:], dtype=np.result_type(g.dtype, np.float64))
    np.add.at(out, directions_kept(index), g)
    return out


def batched_gradient_like(g: Any, x: Any, seed: Any) -> Any:
    """`runtime.gradient_like` of a batched adjoint: shaped like `x` and the directions
    of `seed` (zeros where nothing flowed), in `x`'s float dtype, the caller's own."""
    from .runtime import require_float

    if isinstance(x, np.ndarray):
        require_float(x)
        dtype = x.dtype
    elif isinstance(x, (float, int, np.number)) and not isinstance(x, bool):
        dtype = np.result_type(np.asarray(x).dtype, np.float64)
    else:
        raise TypeError(f"a batched cotangent of a {type(x).__name__} input is not supported")
    shape = np.shape(x) + _directions_of(seed)
    g = np.asarray(g)
    return np.array(g if g.shape == shape else np.broadcast_to(g, shape), dtype=dtype)


def vmap_last_items(fn: Any, positions: tuple[int, ...], *args: Any) -> list:
    """`vmap_last` of a function linear in the arguments at `positions` that returns a
    list of arrays (the adjoint of a join cut into its pieces): each piece stacked on
    its own last axis."""
    n = next(_count(args[p]) for p in positions if _count(args[p]))
    results = [list(fn(*(_direction(a, k) if p in positions else a
                         for p, a in enumerate(args)))) for k in range(n)]
    return [np.stack([np.asarray(r[i]) for r in results], axis=-1)
            for i in range(len(results[0]))]


def batched_sum_adjoint(g: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """`runtime_arrays.sum_adjoint` of a batched adjoint: `g` spread back over `x`, the
    directions' axis last."""
    g = np.asarray(g)
    if axis is not None and not keepdims:
        ndim = np.ndim(x)
        axes = axis if isinstance(axis, tuple) else (axis,)
        g = np.expand_dims(g, tuple(a % ndim for a in axes))
    elif axis is None and not keepdims:
        g = np.reshape(g, (1,) * np.ndim(x) + g.shape[-1:])
    return np.broadcast_to(g, np.shape(x) + g.shape[-1:])


def batched_mean_adjoint(g: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """`runtime_arrays.mean_adjoint` of a batched adjoint."""
    if np.size(x) == 0:
        return np.zeros(np.shape(x) + np.shape(g)[-1:])
    count = (np.size(g) // np.shape(g)[-1]) if np.ndim(g) else 1
    return batched_sum_adjoint(np.asarray(g) * (count / np.size(x)), x, axis, keepdims)

