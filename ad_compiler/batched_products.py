"""Vector mode of products and linear solves: np.tensordot, kron, vdot, convolve,
correlate and the run-time adjoints of each operand, einsum's adjoint, and SciPy's
triangular and Cholesky solves.

A product is linear in each operand, and vector mode varies one of them at a time:
``directions_in`` says which argument carries the directions on a last axis (the
operand's place among the primitive's operands: 0 for `a`, 1 for `b`; for an adjoint
helper, the place among the helper's arguments: 0 for `g`, 2 for `b` in
``tensordot_adjoint_a(g, a, b)``).  Each function equals the unbatched one applied
to each direction in turn, the results stacked on a last axis, in one NumPy call.
Declared as the `batched=` forms of the entries of registry/products.py, signals.py,
linalg.py and scipy_linalg.py.  Like `runtime`, this module needs nothing but NumPy
(SciPy's solves import SciPy when they are called).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .batched import batched_unbroadcast
from .batched_shaping import primal_axis
from .runtime_arrays import _einsum_parts, explicit_einsum
from .runtime_npmath import _LETTERS, _as_3, _tensordot_subscripts


def _fresh_letter(*subscripts: str) -> str:
    """A letter no subscript uses: the directions' index."""
    used = set("".join(subscripts))
    return next(c for c in reversed(_LETTERS) if c not in used)


# ------------------------------------------------------------------ np.tensordot


def batched_tensordot(a: Any, b: Any, axes: Any = 2, directions_in: int = 0) -> Any:
    a, b = np.asarray(a), np.asarray(b)
    nd_a = a.ndim - (directions_in == 0)
    nd_b = b.ndim - (directions_in == 1)
    sa, sb, so = _tensordot_subscripts(nd_a, nd_b, axes)
    d = _fresh_letter(sa, sb)
    if directions_in == 0:
        return np.einsum(f"{sa}{d},{sb}->{so}{d}", a, b)
    return np.einsum(f"{sa},{sb}{d}->{so}{d}", a, b)


def batched_tensordot_adjoint_a(g: Any, a: Any, b: Any, axes: Any = 2,
                                directions_in: int = 0) -> Any:
    """`runtime_npmath.tensordot_adjoint_a` with `g` (0) or `b` (2) batched."""
    nd_b = np.ndim(b) - (directions_in == 2)
    sa, sb, so = _tensordot_subscripts(np.ndim(a), nd_b, axes)
    d = _fresh_letter(sa, sb)
    spec = f"{so}{d},{sb}->{sa}{d}" if directions_in == 0 else f"{so},{sb}{d}->{sa}{d}"
    return np.einsum(spec, g, b)


def batched_tensordot_adjoint_b(g: Any, a: Any, b: Any, axes: Any = 2,
                                directions_in: int = 0) -> Any:
    """`runtime_npmath.tensordot_adjoint_b` with `g` (0) or `a` (1) batched."""
    nd_a = np.ndim(a) - (directions_in == 1)
    sa, sb, so = _tensordot_subscripts(nd_a, np.ndim(b), axes)
    d = _fresh_letter(sa, sb)
    spec = f"{so}{d},{sa}->{sb}{d}" if directions_in == 0 else f"{so},{sa}{d}->{sb}{d}"
    return np.einsum(spec, g, a)


# ------------------------------------------------------------------ np.kron


def _kron_grid(shape_a: tuple, shape_b: tuple) -> tuple[tuple, tuple, tuple]:
    """Shapes that place a's axes and b's interleaved (``a[i] * b[j]`` at ``(i0, j0, i1,
    j1, ...)``), and the shape of the product, as np.kron pads the shorter shape."""
    nd = max(len(shape_a), len(shape_b))
    sa = (1,) * (nd - len(shape_a)) + tuple(shape_a)
    sb = (1,) * (nd - len(shape_b)) + tuple(shape_b)
    grid_a = tuple(n for m in sa for n in (m, 1))
    grid_b = tuple(n for m in sb for n in (1, m))
    return grid_a, grid_b, tuple(m * n for m, n in zip(sa, sb))


def batched_kron(a: Any, b: Any, directions_in: int = 0) -> Any:
    a, b = np.asarray(a), np.asarray(b)
    t = a if directions_in == 0 else b
    n = t.shape[-1]
    shape_a = a.shape[:-1] if directions_in == 0 else a.shape
    shape_b = b.shape[:-1] if directions_in == 1 else b.shape
    grid_a, grid_b, shape = _kron_grid(shape_a, shape_b)
    if directions_in == 0:
        product = np.reshape(a, grid_a + (n,)) * np.reshape(b, grid_b + (1,))
    else:
        product = np.reshape(a, grid_a + (1,)) * np.reshape(b, grid_b + (n,))
    return np.reshape(product, shape + (n,))


def _batched_kron_adjoint(g: Any, x_shape: tuple, other: Any, other_shape: tuple,
                          x_first: bool, g_batched: bool) -> Any:
    """The adjoint of factor `x` of np.kron (the first or the second), with `g` or the
    other factor batched: `g` seen on the interleaved grid, contracted with the other."""
    if x_first:
        grid_x, grid_other, _ = _kron_grid(x_shape, other_shape)
    else:
        grid_other, grid_x, _ = _kron_grid(other_shape, x_shape)
    g, other = np.asarray(g), np.asarray(other)
    n = (g if g_batched else other).shape[-1]
    both = len(grid_x)
    mine = list(range(0, both, 2)) if x_first else list(range(1, both, 2))
    theirs = list(range(1, both, 2)) if x_first else list(range(0, both, 2))
    pairs = [p * q for p, q in zip(grid_x, grid_other)]
    other_padded = [grid_other[k] for k in theirs]
    if g_batched:
        out = np.einsum(np.reshape(g, pairs + [n]), list(range(both + 1)),
                        np.reshape(other, other_padded), theirs, mine + [both])
    else:
        out = np.einsum(np.reshape(g, pairs), list(range(both)),
                        np.reshape(other, other_padded + [n]), theirs + [both], mine + [both])
    return np.reshape(out, tuple(x_shape) + (n,))


def batched_kron_adjoint_a(g: Any, a: Any, b: Any, directions_in: int = 0) -> Any:
    """`runtime_npmath.kron_adjoint_a` with `g` (0) or `b` (2) batched."""
    b_shape = np.shape(b)[:-1] if directions_in == 2 else np.shape(b)
    return _batched_kron_adjoint(g, np.shape(a), b, b_shape, True, directions_in == 0)


def batched_kron_adjoint_b(g: Any, a: Any, b: Any, directions_in: int = 0) -> Any:
    """`runtime_npmath.kron_adjoint_b` with `g` (0) or `a` (1) batched."""
    a_shape = np.shape(a)[:-1] if directions_in == 1 else np.shape(a)
    return _batched_kron_adjoint(g, np.shape(b), a, a_shape, False, directions_in == 0)


# ------------------------------------------------------------------ np.cross
# Vectors moved to the last axis and the directions to the first, every operand given
# as many axes between them, so that NumPy broadcasts the directions with nothing else.


def _vectors_last(x: Any, axis: int, batched: bool) -> Any:
    """`x` with its vectors' axis last (and, if batched, the directions first)."""
    x = np.asarray(x)
    if not batched:
        return np.moveaxis(x, axis, -1)
    return np.moveaxis(np.moveaxis(x, primal_axis(axis, x.ndim - 1), -2), -1, 0)


def _aligned(xs: list, batched: list[bool]) -> list:
    """Operands of `_vectors_last` with as many axes each: the directions' first (of
    length one where not batched), then the broadcast axes, then the vectors'."""
    rest = max(np.ndim(x) - 1 - b for x, b in zip(xs, batched))
    out = []
    for x, b in zip(xs, batched):
        if b:
            out.append(np.reshape(x, x.shape[:1] + (1,) * (rest + 2 - x.ndim) + x.shape[1:]))
        else:
            out.append(np.reshape(x, (1,) * (rest + 2 - x.ndim) + x.shape))
    return out


def batched_cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
                  axis: Any = None, directions_in: int = 0) -> Any:
    if axis is not None:
        axisa = axisb = axisc = axis
    a_last = _vectors_last(a, axisa, directions_in == 0)
    b_last = _vectors_last(b, axisb, directions_in == 1)
    pair = _aligned([a_last, b_last], [directions_in == 0, directions_in == 1])
    out = np.moveaxis(np.cross(*pair), 0, -1)
    if a_last.shape[-1] == 2 and b_last.shape[-1] == 2:  # the z components
        return out
    return np.moveaxis(out, -2, primal_axis(axisc, out.ndim - 1))


def _batched_cross_adjoint(g: Any, a: Any, b: Any, axisa: int, axisb: int, axisc: int,
                           axis: Any, which: int, directions_in: int) -> Any:
    """``g . (a x b) = a . (b x g) = b . (g x a)`` (runtime_npmath's `_cross_adjoint`)
    with `g` (`directions_in` 0), `a` (1) or `b` (2) batched."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a_last = _vectors_last(a, axisa, directions_in == 1)
    b_last = _vectors_last(b, axisb, directions_in == 2)
    g = np.asarray(g)
    if a_last.shape[-1] == 2 and b_last.shape[-1] == 2:  # the result is the z component
        g_first = np.moveaxis(g, -1, 0) if directions_in == 0 else g
        g3 = np.stack([np.zeros_like(g_first), np.zeros_like(g_first), g_first], axis=-1)
    else:
        g3 = _vectors_last(g, axisc, directions_in == 0)
    a3, b3 = _as_3(a_last), _as_3(b_last)
    mine = a_last if which == 0 else b_last
    if which == 0:
        pair = _aligned([b3, g3], [directions_in == 2, directions_in == 0])
    else:
        pair = _aligned([g3, a3], [directions_in == 0, directions_in == 1])
    part = np.moveaxis(np.cross(*pair)[..., :mine.shape[-1]], 0, -1)
    part = batched_unbroadcast(part, mine)
    return np.moveaxis(part, -2, primal_axis(axisa if which == 0 else axisb, mine.ndim))


def batched_cross_adjoint_a(g: Any, a: Any, b: Any, axisa: int = -1, axisb: int = -1,
                            axisc: int = -1, axis: Any = None, directions_in: int = 0) -> Any:
    """`runtime_npmath.cross_adjoint_a` with `g` (0) or `b` (2) batched."""
    return _batched_cross_adjoint(g, a, b, axisa, axisb, axisc, axis, 0, directions_in)


def batched_cross_adjoint_b(g: Any, a: Any, b: Any, axisa: int = -1, axisb: int = -1,
                            axisc: int = -1, axis: Any = None, directions_in: int = 0) -> Any:
    """`runtime_npmath.cross_adjoint_b` with `g` (0) or `a` (1) batched."""
    return _batched_cross_adjoint(g, a, b, axisa, axisb, axisc, axis, 1, directions_in)


# ------------------------------------------------------------------ np.vdot


def _flat_rows(t: Any) -> Any:
    t = np.asarray(t)
    return np.reshape(t, (-1, t.shape[-1]))


def batched_vdot(a: Any, b: Any, directions_in: int = 0) -> Any:
    """``np.vdot`` (the first operand conjugated, both raveled): one number per direction."""
    if directions_in == 0:
        return np.ravel(b) @ np.conj(_flat_rows(a))
    return np.conj(np.ravel(a)) @ _flat_rows(b)


def batched_vdot_adjoint_a(g: Any, a: Any, b: Any, directions_in: int = 0) -> Any:
    """`runtime_npmath.vdot_adjoint_a` (``g * b`` shaped like `a`) with `g` (0) or `b`
    (2) batched."""
    if directions_in == 0:
        return np.expand_dims(np.reshape(b, np.shape(a)), -1) * g
    return g * np.reshape(b, np.shape(a) + np.shape(b)[-1:])


def batched_vdot_adjoint_b(g: Any, a: Any, b: Any, directions_in: int = 0) -> Any:
    """`runtime_npmath.vdot_adjoint_b` with `g` (0) or `a` (1) batched."""
    if directions_in == 0:
        return np.expand_dims(np.reshape(a, np.shape(b)), -1) * g
    return g * np.reshape(a, np.shape(b) + np.shape(a)[-1:])


# ------------------------------------------------------------------ np.convolve, np.correlate
# Each is a slice of the full convolution, whose batched form is one product of the
# windows of the padded batched operand with the reversed other.


def _windows(t: Any, m: int) -> Any:
    """Windows of `m` consecutive rows of `t` (rows along axis 0): shape (count, ..., m)."""
    return np.lib.stride_tricks.sliding_window_view(t, m, axis=0)


def _full_convolution(t: Any, x: Any) -> Any:
    """The full convolution of the batched vector `t` (rows) with the vector `x`: the
    windows of the longer (padded) against the shorter reversed."""
    n, m = t.shape[0], x.shape[0]
    if n >= m:
        return _windows(np.pad(t, ((m - 1, m - 1), (0, 0))), m) @ x[::-1]
    return _windows(np.pad(x, n - 1), n)[:, ::-1] @ t


def _mode_start(n: int, m: int, mode: str, correlate: bool) -> tuple[int, int]:
    """Where the `mode` result starts in the full one, and its length (as runtime_npmath's
    `_full_from_mode` places it)."""
    short = min(n, m)
    if mode == "full":
        return 0, n + m - 1
    if mode == "valid":
        return short - 1, max(n, m) - short + 1
    if mode != "same":
        raise ValueError(f"mode must be one of 'valid', 'same' or 'full', not {mode!r}")
    if correlate and m > n:
        return n - 1 - (n - 1) // 2, max(n, m)
    return (short - 1) // 2, max(n, m)


def _one_batched(a: Any, v: Any, directions_in: int) -> tuple[Any, Any]:
    """(the batched operand as rows, the other raveled)."""
    if directions_in == 0:
        return _flat_rows(a), np.ravel(v)
    return _flat_rows(v), np.ravel(a)


def batched_convolve(a: Any, v: Any, mode: str = "full", directions_in: int = 0) -> Any:
    t, x = _one_batched(a, v, directions_in)
    if t.shape[0] == 0 or x.shape[0] == 0:
        raise ValueError("v cannot be empty" if directions_in == 0 else "a cannot be empty")
    start, length = _mode_start(*((t.shape[0], x.shape[0]) if directions_in == 0 else
                                  (x.shape[0], t.shape[0])), mode, correlate=False)
    return _full_convolution(t, x)[start:start + length]


def batched_correlate(a: Any, v: Any, mode: str = "valid", directions_in: int = 0) -> Any:
    """``np.correlate`` (of real operands): the convolution with `v` reversed."""
    if directions_in == 0:
        t, x = _flat_rows(a), np.conj(np.ravel(v))[::-1]
        n, m = t.shape[0], x.shape[0]
    else:
        t, x = np.conj(_flat_rows(v))[::-1], np.ravel(a)
        n, m = x.shape[0], t.shape[0]
    if n == 0 or m == 0:
        raise ValueError("v cannot be empty" if m == 0 else "a cannot be empty")
    start, length = _mode_start(n, m, mode, correlate=True)
    return _full_convolution(t, x)[start:start + length]


def _batched_full(g: Any, n: int, m: int, mode: str, correlate: bool) -> Any:
    """The batched adjoint of the full result, given that of the `mode` result."""
    g = _flat_rows(g)
    if mode == "full":
        return g
    start, _ = _mode_start(n, m, mode, correlate)
    full = np.zeros((n + m - 1, g.shape[-1]), dtype=np.result_type(g, np.float32))
    full[start:start + g.shape[0]] = g
    return full


def _valid_correlation(full: Any, x: Any) -> Any:
    """``np.correlate(full, x, 'valid')`` where `full` (rows) or `x` (rows) is batched."""
    m = x.shape[0]
    x = np.conj(x)
    return _windows(full, m) @ x  # (count, m) @ (m, n), or (count, n, m) @ (m,)


def _adjoint(g: Any, a: Any, v: Any, mode: str, directions_in: int, correlate: bool,
             which: int) -> Any:
    """The adjoint of `a` (`which` 0) or `v` (1) of np.convolve (or correlate) with `g`
    (`directions_in` 0) or the other operand (1 or 2) batched."""
    n = np.size(a) // (np.shape(a)[-1] if directions_in == 1 else 1)
    m = np.size(v) // (np.shape(v)[-1] if directions_in == 2 else 1)
    other = v if which == 0 else a
    if directions_in == 0:
        full, x = _batched_full(g, n, m, mode, correlate), np.ravel(other)
    else:
        full, x = _full_from_g(g, n, m, mode, correlate), _flat_rows(other)
    if correlate and which == 0:  # np.convolve(full, v, 'valid'): v not conjugated
        return _valid_correlation(full, np.conj(x[::-1]))
    out = _valid_correlation(full, x)
    return out[::-1] if correlate else out


def _full_from_g(g: Any, n: int, m: int, mode: str, correlate: bool) -> Any:
    """The (unbatched) adjoint of the full result, given that of the `mode` result."""
    g = np.ravel(g)
    if mode == "full":
        return g
    start, _ = _mode_start(n, m, mode, correlate)
    full = np.zeros(n + m - 1, dtype=np.result_type(g, np.float32))
    full[start:start + g.shape[0]] = g
    return full


def batched_convolve_adjoint_a(g: Any, a: Any, v: Any, mode: str = "full",
                               directions_in: int = 0) -> Any:
    """`runtime_npmath.convolve_adjoint_a` with `g` (0) or `v` (2) batched."""
    return _adjoint(g, a, v, mode, directions_in, False, 0)


def batched_convolve_adjoint_v(g: Any, a: Any, v: Any, mode: str = "full",
                               directions_in: int = 0) -> Any:
    """`runtime_npmath.convolve_adjoint_v` with `g` (0) or `a` (1) batched."""
    return _adjoint(g, a, v, mode, directions_in, False, 1)


def batched_correlate_adjoint_a(g: Any, a: Any, v: Any, mode: str = "valid",
                                directions_in: int = 0) -> Any:
    """`runtime_npmath.correlate_adjoint_a` with `g` (0) or `v` (2) batched."""
    return _adjoint(g, a, v, mode, directions_in, True, 0)


def batched_correlate_adjoint_v(g: Any, a: Any, v: Any, mode: str = "valid",
                                directions_in: int = 0) -> Any:
    """`runtime_npmath.correlate_adjoint_v` with `g` (0) or `a` (1) batched."""
    return _adjoint(g, a, v, mode, directions_in, True, 1)


# ------------------------------------------------------------------ np.einsum's adjoint


def batched_einsum_adjoint(spec: str, k: int, g: Any, *operands: Any) -> Any:
    """`runtime_arrays.einsum_adjoint` of a batched adjoint `g` (batched reverse mode)."""
    return einsum_adjoint_directions(2, spec, k, g, *operands)


def einsum_adjoint_directions(directions_in: int, spec: str, k: int, g: Any,
                              *operands: Any) -> Any:
    """`runtime_arrays.einsum_adjoint(spec, k, g, *operands)` (the adjoint of operand `k`) with
    `g` (`directions_in` 2) or operand j (3 + j, j != k) batched: the same contraction,
    with one more index for the directions."""
    batched_operand = directions_in - 3
    shapes = [np.shape(x)[:-1] if j == batched_operand else np.shape(x)
              for j, x in enumerate(operands)]
    inputs, output = _einsum_parts(explicit_einsum(spec, shapes), len(operands))
    target = inputs[k]
    if len(set(target)) != len(target):
        raise ValueError(f"einsum operand {target!r} repeats an index")
    d = _fresh_letter(output, *inputs)
    others = [s + d if j == batched_operand else s for j, s in enumerate(inputs) if j != k]
    known = set(output).union(*inputs[:k], *inputs[k + 1:])
    kept = "".join(c for c in target if c in known)
    terms = ",".join([output + d if directions_in == 2 else output, *others])
    piece = np.einsum(f"{terms}->{kept}{d}", g, *(x for j, x in enumerate(operands) if j != k))
    shape = shapes[k] + np.shape(piece)[-1:]
    if kept != target:  # indices summed away by this operand alone: spread back over them
        piece = np.broadcast_to(np.expand_dims(piece, [target.index(c) for c in target
                                                        if c not in known]), shape)
    if np.shape(piece) != shape:  # axes of length one that '...' broadcast: summed back
        piece = np.sum(piece, axis=tuple(i for i, n in enumerate(shapes[k]) if n == 1
                                         and np.shape(piece)[i] != 1), keepdims=True)
    return piece


# ------------------------------------------------------------------ SciPy's solves


def batched_solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False,
                             unit_diagonal: bool = False, overwrite_b: bool = False,
                             check_finite: bool = True) -> Any:
    """``scipy.linalg.solve_triangular(a, b, ...)`` of a batched right-hand side `b`
    (never overwritten: it is a tangent the caller may read again); for a stack of
    matrices, one direction at a time."""
    from scipy.linalg import solve_triangular

    def solve(rhs: Any) -> Any:
        return solve_triangular(a, rhs, trans=trans, lower=lower, unit_diagonal=unit_diagonal,
                                overwrite_b=False, check_finite=check_finite)

    return _solved(solve, np.ndim(a), b)


def batched_cho_solve(c_and_lower: Any, b: Any, overwrite_b: bool = False,
                      check_finite: bool = True) -> Any:
    """``scipy.linalg.cho_solve(c_and_lower, b)`` of a batched right-hand side `b`."""
    from scipy.linalg import cho_solve

    def solve(rhs: Any) -> Any:
        return cho_solve(c_and_lower, rhs, overwrite_b=False, check_finite=check_finite)

    return _solved(solve, np.ndim(c_and_lower[0]), b)


def _solved(solve: Any, matrix_ndim: int, b: Any) -> Any:
    """`solve` (of one matrix) applied to a batched right-hand side `b` at once, as the
    columns of one matrix, where the matrix is one and `b` a vector or a matrix."""
    b = np.asarray(b)
    if matrix_ndim == 2 and b.ndim in (2, 3):
        columns = b if b.ndim == 2 else np.reshape(b, (b.shape[0], -1))
        return np.reshape(solve(columns), b.shape)
    return np.stack([solve(b[..., k]) for k in range(b.shape[-1])], axis=-1)


def batched_solve_sylvester(a: Any, b: Any, q: Any) -> Any:
    """``scipy.linalg.solve_sylvester(a, b, q)`` (``a x + x b = q``) of a batched
    right-hand side `q`: both matrices brought to triangular (complex Schur) form once,
    then one triangular solve per column of x, for every direction at once."""
    from scipy.linalg import schur, solve_sylvester, solve_triangular

    a, b, q = np.asarray(a), np.asarray(b), np.asarray(q)
    if a.ndim != 2 or b.ndim != 2 or q.ndim != 3:
        return np.stack([solve_sylvester(a, b, q[..., k]) for k in range(q.shape[-1])], axis=-1)
    t, u = schur(a, output="complex")  # a = u t u^H
    s, v = schur(b, output="complex")  # b = v s v^H
    rows, columns, count = q.shape
    f = np.tensordot(u.conj().T, q, axes=1)  # u^H q v, for each direction
    f = np.einsum("mnk,nj->mjk", f, v)
    y = np.zeros(f.shape, dtype=np.result_type(f, t, s))
    eye = np.eye(rows)
    for j in range(columns):  # t y_j + y s_j = f_j, s upper triangular
        rhs = f[:, j, :] - np.einsum("mlk,l->mk", y[:, :j, :], s[:j, j])
        y[:, j, :] = solve_triangular(t + s[j, j] * eye, rhs)
    x = np.einsum("mnk,jn->mjk", np.tensordot(u, y, axes=1), v.conj())
    if not any(np.iscomplexobj(z) for z in (a, b, q)):
        x = x.real
    return x


def batched_expm(a: Any) -> Any:
    """``scipy.linalg.expm`` of each direction's matrix (directions on the last axis),
    in one call on the stack of them (expm takes each matrix of a stack alone: the same
    numbers as one call per direction)."""
    from scipy.linalg import expm

    return np.moveaxis(expm(np.moveaxis(np.asarray(a), -1, 0)), 0, -1)
