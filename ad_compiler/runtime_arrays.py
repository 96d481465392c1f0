"""Run-time helpers of the array rules, where the arithmetic depends on shapes known
only at run time: the adjoints of reductions (sum, mean, max), of np.inner, of
concatenation, stacking, tiling and repetition, of np.einsum and np.trace, casts,
and the scalar seed of a gradient.  Each adjoint is linear in its first argument,
the cotangent or tangent.  (unbroadcast and the matmul adjoints, which the other
helper modules build on, are in runtime.py.)  NumPy only."""
from __future__ import annotations

from typing import Any

import numpy as np

from .runtime import Adjoints, _sequences_as_arrays, densify, unbroadcast


def item(a: Any) -> Any:
    """``a.item()``: the one element of an array (or NumPy scalar) as a Python number;
    a Python number is itself (its tangents and adjoints may be plain floats)."""
    return a.item() if hasattr(a, "item") else a


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


def trace_adjoint(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The adjoint of ``np.trace(a, offset, axis1, axis2)``: `g` on the diagonal."""
    shape = np.shape(a)
    eye = np.eye(shape[axis1], shape[axis2], k=offset)
    placed = np.expand_dims(g, (-2, -1)) * eye
    return np.moveaxis(placed, (-2, -1), (axis1 % len(shape), axis2 % len(shape)))


def scalar_seed(y: Any) -> float:
    """The seed 1.0 of a gradient, after checking that the output `y` is a scalar."""
    if np.ndim(y) != 0:
        raise ValueError(f"grad needs a function with a scalar output, but it returned an "
                         f"array of shape {np.shape(y)}; use adc.jacobian or adc.vjp, or "
                         f"reduce the output (np.sum, np.mean)")
    return 1.0



_ELEMENTWISE = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide}


def short_axis_first(a: np.ndarray, operator: str, b: np.ndarray) -> np.ndarray:
    """``a - b`` (or +, *, /) of arrays of equal rank broadcast against each other with
    a short last axis (``R[:, None, :] - R[None, :, :]``), made with that axis first.
    NumPy loops innermost over the last axis of the output, a few elements a call;
    here over a whole row.  Every element is the same operation on the same pair, so
    the numbers are those of ``a - b``; the result is a view whose last axis varies
    slowest in memory."""
    first = (a.ndim - 1,) + tuple(range(a.ndim - 1))
    out = _ELEMENTWISE[operator](np.ascontiguousarray(a.transpose(first)),
                                np.ascontiguousarray(b.transpose(first)))
    return out.transpose(tuple(range(1, a.ndim)) + (0,))
