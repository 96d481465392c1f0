"""Vector mode of reverse-mode code (a Hessian is a vector-mode JVP of the gradient):
the run-time helpers that build adjoints, applied to tangents that carry every
direction on a last axis.  An array's sparse update becomes a dense array with the
directions beside it; a container's stays sparse, and where it is filled in, the
zeros of its other items carry the directions too.  Their rules are in
registry/helpers.py."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .batched import (
    batch_zeros,
    batched_index_update,
    batched_matmul_adjoint_a,
    batched_matmul_adjoint_b,
    batched_unbroadcast,
    vmap_last,
)
from .runtime import (
    AdjointDict,
    AdjointList,
    Adjoints,
    IndexUpdate,
    _is_zero,
    _sequences_as_arrays,
    add,
    dense,
    densify,
    field_update,
    fields_of,
    matmul_adjoint_a,
    matmul_adjoint_b,
    require_float,
)
from .runtime_lists import list_head, list_tail, repeat_adjoint_of
from .runtime_shapes import index_join_layout


def batched_index_update_dot(base: Any, index: Any, value: Any) -> Any:
    """The tangent of ``runtime.index_update(base, index, value)`` for a batched tangent
    `value`: for an array, the dense array (zeros with `value` added at `index`); for a
    list, dict or record, the sparse update, whose item carries the directions."""
    if isinstance(base, np.ndarray):
        return batched_index_update(base, index, value)
    return IndexUpdate(base, index, value)


def batched_repeat_adjoint_of(g: Any, a: Any, n: Any, whole: Any, directions_in: int = 0
                              ) -> Any:
    """`runtime_lists.repeat_adjoint_of` (the adjoint of `a` in ``whole = a * n``) where its
    argument at `directions_in` (0: `g`, 2: `n`) is batched."""
    if isinstance(whole, (list, tuple)):  # the copies' adjoints added, item by item
        if directions_in == 2 or not isinstance(a, (list, tuple)):
            return 0.0  # the count of a repetition carries no derivative
        return repeat_adjoint_of(g, a, n, whole)
    if directions_in == 0:
        return batched_unbroadcast(np.asarray(g) * np.expand_dims(n, -1), a)
    return batched_unbroadcast(np.expand_dims(g, -1) * np.asarray(n), a)


def batched_list_head(g: Any, a: Any, whole: Any) -> Any:
    """`runtime_lists.list_head` of a batched `g`: the head of a joined list, or `g` summed
    to `a`'s shape (the directions' axis kept)."""
    if isinstance(whole, (list, tuple)):
        return list_head(g, a, whole)
    return batched_unbroadcast(g, a)


def batched_list_tail(g: Any, a: Any, whole: Any, b: Any = None) -> Any:
    """`runtime_lists.list_tail` of a batched `g`."""
    if isinstance(whole, (list, tuple)):
        return list_tail(g, a, whole, b)
    return g if b is None else batched_unbroadcast(g, b)


def batched_densify(a: Any, like: Any) -> Any:
    """`runtime.densify` of a batched tangent: where a sparse update of a container is
    filled in, the zeros of the other items carry the directions' axis too."""
    if isinstance(a, IndexUpdate) and not isinstance(a.base, np.ndarray):
        n = _count_of_directions(a.value)
        if not n:  # a zero without the directions: a zero of any structure
            return densify(a, like)
        zeros = _zeros_with_directions(like, n)
        if isinstance(zeros, list):
            zeros = AdjointList(zeros)
        return add(zeros, a)
    return densify(a, like)


def batched_dense(a: Any, like: Any) -> Any:
    """`runtime.dense` of a batched tangent (see `batched_densify`)."""
    if isinstance(a, IndexUpdate) and not isinstance(a.base, np.ndarray):
        a = batched_densify(a, like)
    return dense(a, like)


def _count_of_directions(t: Any) -> int:
    """The length of the directions' axis of a batched tangent of any structure (0 where
    only zeros without it are found: ``0.0`` stands for a zero of any structure)."""
    if isinstance(t, IndexUpdate):
        return _count_of_directions(t.value)
    if isinstance(t, dict):
        t = list(t.values())
    if isinstance(t, (list, tuple)):
        return next((n for n in map(_count_of_directions, t) if n), 0)
    return np.shape(t)[-1] if np.ndim(t) else 0


def _zeros_with_directions(like: Any, n: int) -> Any:
    """Zeros shaped like `like` (numbers and arrays, in lists, tuples and dicts), each
    leaf with a last axis of `n` directions."""
    if isinstance(like, (list, tuple)):
        return [_zeros_with_directions(v, n) for v in like]
    if isinstance(like, dict):
        return AdjointDict({k: _zeros_with_directions(v, n) for k, v in like.items()})
    names = fields_of(like)
    if names is not None:
        return AdjointDict({k: _zeros_with_directions(getattr(like, k), n) for k in names})
    return np.zeros(np.shape(like) + (n,))


def batched_add(a: Any, b: Any) -> Any:
    """`runtime.add` (a sum of adjoints) of batched tangents: a sparse update of a
    container is filled in with zeros that carry the directions (`batched_densify`)."""
    if isinstance(a, IndexUpdate) and not isinstance(a.base, np.ndarray):
        a = batched_densify(a, a.base)
    return add(a, b)


def batched_as_gradient(g: Any, x: Any, n: int | None = None) -> Any:
    """`runtime.as_gradient` of a batched tangent: the structure of `x` in plain types,
    each number or array leaf with the `n` directions on a last axis."""
    if n is None:
        n = _count_of_directions(g)
    if isinstance(g, IndexUpdate):
        g = batched_densify(g, x)
    zero = _is_zero(g)
    if isinstance(x, (list, tuple)):
        items = [batched_as_gradient(None if zero else g[k], v, n) for k, v in enumerate(x)]
        if isinstance(x, list):
            return items
        return type(x)(*items) if hasattr(type(x), "_fields") else tuple(items)
    if isinstance(x, dict):
        return {k: batched_as_gradient(None if zero else g.get(k), v, n) for k, v in x.items()}
    names = fields_of(x)
    if names is not None:
        out = copy.copy(x)
        for name in names:
            part = None if zero else (g.get(name) if isinstance(g, dict) else getattr(g, name))
            object.__setattr__(out, name, batched_as_gradient(part, getattr(x, name), n))
        return out
    if not isinstance(x, (int, float, np.integer, np.floating, np.ndarray)) or \
            isinstance(x, (bool, np.bool_)):
        return None
    shape = np.shape(x) + (n,)
    if zero:
        return np.zeros(shape)
    return np.array(np.broadcast_to(g, shape), dtype=np.result_type(np.asarray(g), np.float64))


def batched_field_update_dot(base: Any, name: str, value: Any) -> Any:
    """The tangent of ``runtime.field_update(base, name, value)`` for a batched `value`."""
    return field_update(base, name, value)


# ------------------------------------------------------------------ the adjoints of joins
# Each cuts a batched adjoint into pieces shaped like the joined items, the directions'
# axis kept last on every piece: the primal axis is counted from the front.


def _pieces(g: Any, sizes: list[int], axis: int) -> list:
    """`g` cut along primal `axis` (negative: from the last primal axis) into pieces of
    `sizes`, where `g` carries the directions on a last axis."""
    return np.split(g, np.cumsum(sizes)[:-1], axis=axis % (np.ndim(g) - 1))


def batched_split_like(g: Any, xs: Any, axis: int = 0) -> Adjoints:
    """`runtime_arrays.split_like` (the adjoint of ``np.concatenate(xs, axis)``) of a batched `g`."""
    return Adjoints(_pieces(g, [np.shape(x)[axis] for x in xs], axis))


def batched_unstack(g: Any, axis: int = 0) -> Adjoints:
    """`runtime_arrays.unstack` (the adjoint of ``np.stack(xs, axis)``) of a batched `g`."""
    g = np.asarray(g)
    return Adjoints(np.moveaxis(g, axis % (g.ndim - 1), 0))


def batched_hstack_adjoint(g: Any, xs: Any) -> Adjoints:
    """`runtime_arrays.hstack_adjoint` of a batched `g`: 1-d pieces join on axis 0, others on 1."""
    axis = 0 if np.ndim(g) == 2 else 1
    pieces = _pieces(g, [np.shape(np.atleast_1d(x))[axis] for x in xs], axis)
    return Adjoints(np.reshape(p, np.shape(x) + p.shape[-1:]) for p, x in zip(pieces, xs))


def batched_vstack_adjoint(g: Any, xs: Any) -> Adjoints:
    """`runtime_arrays.vstack_adjoint` of a batched `g`: pieces of rows, shaped like `xs`."""
    pieces = _pieces(g, [np.shape(np.atleast_2d(x))[0] for x in xs], 0)
    return Adjoints(np.reshape(p, np.shape(x) + p.shape[-1:]) for p, x in zip(pieces, xs))


def batched_index_join_adjoint(g: Any, trick: Any, items: Any) -> Adjoints:
    """`runtime_shapes.index_join_adjoint` (of ``np.r_[items]``, ``np.c_[items]``) of a batched `g`."""
    shapes = [np.shape(x) for x in items]
    promoted, axis = index_join_layout(trick, shapes)
    pieces = _pieces(g, [s[axis] for s in promoted], axis)
    return Adjoints(np.reshape(p, s + p.shape[-1:]) for p, s in zip(pieces, shapes))


# ------------------------------------------------------------------ np.inner's adjoints


def _tensordot(a: Any, b: Any, axes: tuple[list[int], list[int]]) -> Any:
    """``np.tensordot(a, b, axes)``; over no axes, the outer product, which tensordot
    takes a slow path for (milliseconds for a number times a 120x120 array)."""
    return np.tensordot(a, b, axes=axes) if axes[0] else np.multiply.outer(a, b)


def batched_inner_adjoint_a(g: Any, a: Any, b: Any, directions_in: int = 0) -> Any:
    """`runtime_arrays.inner_adjoint_a` (the adjoint of `a` in ``np.inner(a, b)``) where its
    argument at `directions_in` (0: `g`, 2: `b`) carries the directions on a last axis."""
    g, a, b = np.asarray(g), np.asarray(a), np.asarray(b)
    if directions_in == 2:
        b_primal_ndim = b.ndim - 1
        if a.ndim == 0 or b_primal_ndim == 0:
            return batched_unbroadcast(np.expand_dims(g, -1) * b, a)
        return _tensordot(g, b, (list(range(a.ndim - 1, g.ndim)),
                                 list(range(b_primal_ndim - 1))))
    if a.ndim == 0 or b.ndim == 0:
        return batched_unbroadcast(g * np.expand_dims(b, -1), a)
    na = a.ndim - 1  # g: a.shape[:-1] + b.shape[:-1] + (n,); the product puts n before a[-1]
    summed = _tensordot(g, b, (list(range(na, g.ndim - 1)), list(range(b.ndim - 1))))
    return np.moveaxis(summed, -2, -1)


def batched_inner_adjoint_b(g: Any, a: Any, b: Any, directions_in: int = 0) -> Any:
    """`runtime_arrays.inner_adjoint_b` (the adjoint of `b` in ``np.inner(a, b)``) where its
    argument at `directions_in` (0: `g`, 1: `a`) carries the directions on a last axis."""
    g, a, b = np.asarray(g), np.asarray(a), np.asarray(b)
    if directions_in == 1:
        a_primal_ndim = a.ndim - 1
        if a_primal_ndim == 0 or b.ndim == 0:
            return batched_unbroadcast(np.expand_dims(g, -1) * a, b)
        na = a_primal_ndim - 1
        return _tensordot(g, a, (list(range(na)), list(range(na))))
    if a.ndim == 0 or b.ndim == 0:
        return batched_unbroadcast(g * np.expand_dims(a, -1), b)
    na = a.ndim - 1
    return np.moveaxis(_tensordot(g, a, (list(range(na)), list(range(na)))), -2, -1)


# ------------------------------------------------------------------ a @ b's adjoints
# (the adjoint `g` batched: batched.py's forms, which batched reverse mode calls; a
# factor batched, in vector mode: the product with each direction, as one einsum)


def matmul_adjoint_a_directions(g: Any, a: Any, b: Any, directions_in: int = 0) -> Any:
    """`runtime.matmul_adjoint_a` (``g @ b.T``) where its argument at `directions_in`
    (0: `g`, 2: `b`) carries the directions on a last axis."""
    a, b = _sequences_as_arrays(a, b)  # (np.dot and np.matmul take lists)
    if directions_in == 0:
        return batched_matmul_adjoint_a(g, a, b)
    na, nb = np.ndim(a), np.ndim(b) - 1
    if na == 2 and nb == 2:  # g: (m, n), b: (p, n, k) -> (m, p, k)
        return np.einsum("mn,pnk->mpk", g, b)
    if nb == 1:  # g: (..., m), b: (p, k) -> (..., m, p, k), summed to a's shape
        return batched_unbroadcast(np.multiply.outer(np.asarray(g), np.asarray(b)), a)
    if na == 1 and nb == 2:  # g: (n,), b: (p, n, k) -> (p, k)
        return np.einsum("pnk,n->pk", b, g)
    return vmap_last(matmul_adjoint_a, (2,), g, a, b)


def matmul_adjoint_b_directions(g: Any, a: Any, b: Any, directions_in: int = 0) -> Any:
    """`runtime.matmul_adjoint_b` (``a.T @ g``) where its argument at `directions_in`
    (0: `g`, 1: `a`) carries the directions on a last axis."""
    a, b = _sequences_as_arrays(a, b)  # (np.dot and np.matmul take lists)
    if directions_in == 0:
        return batched_matmul_adjoint_b(g, a, b)
    na, nb = np.ndim(a) - 1, np.ndim(b)
    if na == 2 and nb == 2:  # a: (m, p, k), g: (m, n) -> (p, n, k)
        return np.einsum("mpk,mn->pnk", a, g)
    if na == 2 and nb == 1:  # a: (m, p, k), g: (m,) -> (p, k)
        return np.einsum("mpk,m->pk", a, g)
    if na == 1 and nb == 2:  # a: (m, k), g: (n,) -> (m, n, k)
        return np.expand_dims(a, 1) * np.expand_dims(g, (0, 2))
    if na == 1 and nb == 1:  # a: (m, k), g a number
        return np.asarray(g) * np.asarray(a)
    return vmap_last(matmul_adjoint_b, (1,), g, a, b)


# ------------------------------------------------------------------ gradients' shapes


def batched_gradient_like_dot(t: Any, x: Any) -> Any:
    """The tangent of ``runtime.gradient_like(g, x)`` for a batched tangent `t` of `g`:
    shaped like `x` and the directions, in `x`'s dtype, the caller's own (a container
    input's leaves each with the directions, as `batched_as_gradient` gives them)."""
    if isinstance(t, IndexUpdate) and isinstance(t.base, np.ndarray):
        t = batched_index_update(t.base, t.index, t.value)
    if isinstance(x, np.ndarray):
        require_float(x)
        t = np.asarray(t)
        shape = x.shape + t.shape[-1:]
        return np.array(t if t.shape == shape else np.broadcast_to(t, shape), dtype=x.dtype)
    if isinstance(x, (list, tuple, dict)) or fields_of(x) is not None:
        return batched_as_gradient(t, x)
    return t


def batched_split_adjoint(g: Any, pieces: Any, axis: int = 0) -> Any:
    """`runtime_shapes.split_adjoint` (the adjoint of ``np.split`` and its kin) of a batched
    `g`: the pieces' adjoints joined on the primal `axis`, zeros with the directions
    for the pieces nothing read."""
    g = batched_dense(g, pieces)
    seed = next(d for d, p in zip(g, pieces) if np.ndim(d) == np.ndim(p) + 1)
    parts = [batch_zeros(p, seed) if np.ndim(d) == np.ndim(p) and not np.any(d) else d
             for d, p in zip(g, pieces)]  # (zeros that came without the directions)
    return np.concatenate(parts, axis=axis % np.ndim(pieces[0]))
