"""Jacobians and forward-mode gradients assembled from derivative sweeps (Hessians,
which are built from the same sweeps: hessians.py).

Forward mode carries every input direction at once where each primitive has a
vector-mode rule (a last, extra axis on the tangents), one sweep per element
otherwise; reverse mode carries every output's unit cotangent at once (batched
reverse mode, the same last axis on the adjoints), one VJP sweep per output element
where a rule has no batched adjoint.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import pytree, runtime
from .batched import register_unit_seed, release_unit_seed
from .build import (
    Wrt,
    derivative,
    lowered,
    method_parts,
    safe_name,
    unshared,
    where,
    with_defaults,
    wrt_indices,
)
from .dispatch import signature_key
from .errors import ADCompileError
from .ir import Function
from .sweeps import (
    as_rows,
    batched_vjp,
    batched_vjp_value,
    kept,
    known_rows,
    plain,
    unit_sweep,
)


def forward_gradient(f: Callable, fn: Function, kind: str, indices: list[int],
                     single: bool, aux: bool = False) -> Callable:
    """Forward-mode gradient of a function of arrays or containers: one vector-mode
    sweep carrying every input element's direction, of all the inputs `indices` at once
    (one sweep per input, or per element, as the fallbacks).  With `aux`, `f` returns
    ``(value, aux)`` and only value is differentiated."""
    joint = _vector_jvp(f, tuple(indices)) if len(indices) > 1 else None
    batched = {} if joint is not None else {i: _vector_jvp(f, i) for i in indices}
    carriers = tuple(indices)  # the inputs that carry tangents: the others carry none
    # the JVP of one direction per sweep is built only where vector mode is not
    jvp_fn = derivative(f, "jvp", carriers, "forward") if joint is None and (
        not indices or None in batched.values()) else None
    some = joint or jvp_fn or batched[indices[0]]
    output = 0 if aux else None
    sweeps: dict = {}  # the compiled sweeps, kept between calls

    def gradient(*args: Any) -> Any:
        full = with_defaults(f, args)
        if joint is not None:
            value, grads = _joint_directions(joint, full, indices, output)
        else:
            value, grads = None, []
            for i in indices:
                value, g = _directions(f, full, i, 0.0, output=output, carriers=carriers,
                                       sweeps=sweeps)
                grads.append(g)
        out = grads[0] if single else tuple(grads)
        if aux:
            return (out, value[1]) if kind == "grad" else (tuple(value), out)
        return out if kind == "grad" else (value, out)

    gradient.source = _forward_gradient_source(fn, kind, batched, jvp_fn, aux, joint, indices)
    gradient._adc_function = some._adc_function
    gradient._adc_rules_version = some._adc_rules_version
    gradient._adc_wrapper = True  # closes over `f`: never rebound to another function
    gradient.__name__ = safe_name(fn.name, kind)
    gradient.__doc__ = f"{kind} of {fn.name} (forward mode, vector-mode JVP)"
    return gradient


def _joint_directions(joint: Callable, args: tuple, indices: list[int],
                      output: int | None) -> tuple[Any, list[Any]]:
    """f(args) and the gradients of its scalar output with respect to each input in
    `indices`, from one vector-mode sweep carrying the directions of all of them."""
    xs = [args[i] for i in indices]
    seeds = _batch_seeds(xs)
    with _unit_seeds(xs, seeds):
        value, tangent = joint(*args, *seeds)
    if output is not None:
        tangent = tangent[output]
    n = sum(pytree.size(x) for x in xs)
    stacked = [np.broadcast_to(t, (n,)) for t in _tangent_leaves(tangent, 0.0)]
    grads, start = [], 0
    for x in xs:
        k = pytree.size(x)
        grads.append(_split([block[..., start:start + k] for block in stacked], x, 0.0))
        start += k
    return value, grads


def _forward_gradient_source(fn: Function, kind: str, batches: dict[int, Callable | None],
                             jvp_fn: Callable | None, aux: bool, joint: Callable | None,
                             indices: list[int]) -> str:
    """The JVP code a forward-mode gradient runs, each with a header that says so and how
    it is called: the gradient itself is a small wrapper, not generated code."""
    name, params = safe_name(fn.name, kind), [p.name for p in fn.params]
    of_value = " of the value (not the aux)" if aux else ""
    parts, per_direction = [], []
    if joint is not None:
        xs = [params[i] for i in indices]
        together, dots = _spoken(xs), [x + "_dot" for x in xs]
        parts.append("\n".join([
            f"# {name} (forward mode) calls this vector-mode JVP, one sweep for all of "
            f"{together}:",
            f"#     value, tangent = {joint.__name__}({', '.join(params)}, {', '.join(dots)})",
            f"# {_spoken(dots)} hold every unit direction of {together} on a last axis of",
            f"# length n, the count of numbers in them together ({xs[0]}'s first); the "
            "gradient is",
            f"# tangent[..., k]{of_value} for the k-th of those numbers, in its input's "
            "shape.",
            joint.source]))
    for i, batched in batches.items():
        x = params[i]
        if batched is None:
            per_direction.append(x)
            continue
        parts.append("\n".join([
            f"# {name} (forward mode) calls this vector-mode JVP, one sweep for all of {x}:",
            f"#     value, tangent = {batched.__name__}({', '.join(params)}, {x}_dot)",
            f"# {x}_dot holds every unit direction of {x} on a last axis of length n, the",
            f"# count of numbers in {x} (for an array, np.eye({x}.size).reshape({x}.shape + "
            f"({x}.size,)));",
            f"# the gradient is tangent[..., k]{of_value} for the k-th number of {x}, in "
            f"{x}'s shape.",
            batched.source]))
    if per_direction and jvp_fn is not None:
        tangents = ", ".join(f"{params[i]}_dot" for i in indices)
        parts.append("\n".join([
            f"# {name} (forward mode) calls this JVP once per number of "
            f"{' and '.join(per_direction)}",
            "# (an operation in it has no vector-mode rule yet):",
            f"#     value, tangent = {jvp_fn.__name__}({', '.join(params)}, {tangents})",
            "# with one unit tangent and the others zero; each tangent"
            f"{of_value} is one number of the gradient.",
            jvp_fn.source]))
    return "\n\n".join(parts)


def _spoken(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _basis(x: Any) -> list[Any]:
    """Unit tangents for every element of `x` (a number, an array, or a container of
    them), in the order of its leaves."""
    parts = pytree.leaves(x)
    zeros = [_zero(v) for v in parts]
    units = []
    for k, leaf in enumerate(parts):
        for j in range(int(np.size(leaf))):
            unit = np.zeros(np.shape(leaf), dtype=_float_dtype(leaf))
            unit.flat[j] = 1
            unit = unit if isinstance(leaf, np.ndarray) else float(unit)
            units.append(pytree.rebuild(x, zeros[:k] + [unit] + zeros[k + 1:]))
    return units


def _zero(leaf: Any) -> Any:
    if isinstance(leaf, np.ndarray):
        runtime.require_float(leaf)
    return runtime.zeros_of(leaf)


def _vector_jvp(f: Callable, i: Any, floats: bool = False) -> Callable | None:
    """The vector-mode JVP of `f` along input `i`, or None where some primitive has no
    vector-mode rule yet (one sweep per direction is the fallback).  With `floats`, it
    is called with a float array for input `i` (so `+` and `*` of it are arithmetic)."""
    try:
        return derivative(f, "jvp_batched_floats" if floats else "jvp_batched", i,
                          "forward")
    except ADCompileError:
        return None


def _float_array(x: Any) -> bool:
    return type(x) is np.ndarray and x.dtype.kind == "f"


def _one_direction_jvp(f: Callable, i: int) -> Callable | None:
    """The JVP of `f` along input `i` alone (its code is plainer and builds faster than
    vector mode's, where the input is one number), or None where it is refused."""
    try:
        return derivative(f, "jvp", (i,), "forward")
    except ADCompileError:
        return None


def _batch_seed(x: Any) -> Any:
    """Every unit direction of `x` at once: each leaf's shape plus a last axis, one per
    element of `x`."""
    if type(x) is np.ndarray:  # the common case, without walking a tree
        runtime.require_float(x)
        return np.eye(x.size, dtype=_float_dtype(x)).reshape(x.shape + (x.size,))
    return _batch_seeds([x])[0]


def _batch_seeds(xs: list[Any]) -> list[Any]:
    """Every unit direction of the inputs `xs` at once, on one last axis: each leaf's
    shape plus that axis, one place per element of them all (in their order)."""
    n, start, out = sum(pytree.size(x) for x in xs), 0, []
    eyes: dict[Any, np.ndarray] = {}  # one identity per dtype, its rows shared by the leaves
    for x in xs:
        seeds = []
        for leaf in pytree.leaves(x):
            if isinstance(leaf, np.ndarray):
                runtime.require_float(leaf)
            k = int(np.size(leaf))
            dtype = _float_dtype(leaf)
            if dtype not in eyes:
                eyes[dtype] = np.eye(n, dtype=dtype)
            seeds.append(eyes[dtype][start:start + k].reshape(np.shape(leaf) + (n,)))
            start += k
        out.append(pytree.rebuild(x, seeds))
    return out


@contextmanager
def _unit_seeds(xs: list[Any], seeds: list[Any]) -> Iterator[None]:
    """While a vector-mode sweep runs, the seeds of the inputs' vector leaves are known
    to be unit directions (the inputs' numbers in turn, on one axis): a product with
    one is its other factor placed, not a product."""
    marked, start = [], 0
    for x, seed in zip(xs, seeds):
        pairs = [(x, seed)] if type(x) is np.ndarray else zip(pytree.leaves(x),
                                                              pytree.leaves(seed))
        for leaf, leaf_seed in pairs:
            if np.ndim(leaf) == 1 and type(leaf_seed) is np.ndarray:
                register_unit_seed(leaf_seed, start)
                marked.append(leaf_seed)
            start += int(np.size(leaf))
    try:
        yield
    finally:
        for leaf_seed in marked:
            release_unit_seed(leaf_seed)


def _seeded(jvp_fn: Callable, args: tuple, i: int) -> tuple[Any, Any]:
    """jvp_fn(*args, seed) with the seed of every unit direction of args[i]."""
    x = args[i]
    if type(x) is np.ndarray and x.ndim == 1 and x.dtype == np.float64 and x.size:
        return unit_sweep(jvp_fn, args, x.size)
    seed = _batch_seed(x)
    with _unit_seeds([x], [seed]):
        return jvp_fn(*args, seed)


def _float_dtype(x: Any) -> Any:
    return x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.float64


def _directions(f: Callable, args: tuple, i: int, y_like: Any = None,
                output: int | None = None, carriers: tuple[int, ...] | None = None,
                sweeps: dict | None = None) -> tuple[Any, Any]:
    """f(args) and d f / d args[i]: for each leaf of the output, shaped leaf.shape +
    x_leaf.shape for each leaf of args[i]; by one vector-mode sweep where every
    primitive has a batched rule, else one sweep per element.  With `output`, of that
    item of the outputs `f` returns as a tuple.  One sweep per element takes the JVP
    whose tangents are those of the inputs `carriers` (args[i] alone by default), a unit
    tangent for args[i] and zeros for the others.  `sweeps` keeps the compiled sweeps
    of one Jacobian between its calls (`kept()`)."""
    if _is_number(args[i]) and not isinstance(args[i], bool) and carriers in (None, (i,)):
        single = _one_direction_jvp(f, i)  # one direction: no axis of directions needed
        if single is not None:
            value, column = single(*args, 1.0)
            if output is not None:
                column = column[output]
            return value, _assemble([column], args[i], value if y_like is None else y_like)
    floats = _float_array(args[i])
    batched = kept(sweeps, f, "jvp_batched_floats" if floats else "jvp_batched", i,
                   lambda g, w: _vector_jvp(g, w, floats))
    if batched is None:
        carriers = carriers or (i,)
        value, columns = _columns(derivative(f, "jvp", carriers, "forward"), args, i,
                                  carriers)
        if output is not None:
            columns = [c[output] for c in columns]
        return value, _assemble(columns, args[i], value if y_like is None else y_like)
    x = args[i]
    value, tangent = _seeded(batched, args, i)
    if output is None and y_like is None and type(x) is np.ndarray and x.ndim == 1 \
            and type(value) is np.ndarray and type(tangent) is np.ndarray \
            and tangent.dtype == x.dtype and x.dtype.kind == "f" \
            and tangent.shape == value.shape + x.shape and tangent.flags.writeable:
        return value, tangent  # a vector's Jacobian, as the sweep made it
    if output is None and plain(x) and (y_like is None or plain(y_like)):
        like = value if y_like is None else y_like  # the common case, without the walks
        if plain(like):  # over containers
            n = int(np.size(x))
            shape = np.shape(like) + (n,)
            if type(tangent) is not np.ndarray or tangent.shape != shape \
                    or tangent.dtype != _float_dtype(x) or not tangent.flags.writeable:
                # (a broadcast or another dtype: a plain array of the caller's own)
                tangent = np.array(np.broadcast_to(tangent, shape), dtype=_float_dtype(x))
            jac = tangent.reshape(np.shape(like) + np.shape(x))
            return value, jac if jac.ndim else float(jac)
    if output is not None:
        tangent = tangent[output]
    like = value if y_like is None else y_like
    if type(x) is np.ndarray and not pytree.is_tree(like):  # one array in, one leaf out
        block = np.broadcast_to(tangent, np.shape(like) + (x.size,))
        piece = np.array(block.reshape(np.shape(like) + x.shape), dtype=_float_dtype(x))
        return value, piece if piece.ndim else float(piece)
    n = pytree.size(x)
    stacked = [np.broadcast_to(t, np.shape(y) + (n,))
               for y, t in zip(pytree.leaves(like), _tangent_leaves(tangent, like))]
    return value, _split(stacked, args[i], like)


def _tangent_leaves(tangent: Any, like: Any) -> list[Any]:
    """The tangents of an output's leaves (a leaf whose tangent is a bare number when
    nothing reached it, or an array when the output itself is a leaf)."""
    if pytree.is_tree(like):
        if isinstance(tangent, np.ndarray):  # the tangent of a list of numbers as one
            return _split_rows(tangent, pytree.leaves(like))  # array (np.prod's adjoint)
        return pytree.leaves(tangent)
    return [tangent]


def _split_rows(tangent: np.ndarray, leaves: list[Any]) -> list[Any]:
    """One array of the leaves' tangents, directions last, split back into the leaves."""
    sizes = [int(np.size(leaf)) for leaf in leaves]
    if tangent.ndim == 0 or sum(sizes) != int(np.prod(tangent.shape[:-1])):
        raise ValueError(f"a tangent of shape {tangent.shape} does not fit an output of "
                         f"{len(leaves)} items")
    rows = tangent.reshape(sum(sizes), tangent.shape[-1])
    bounds = np.cumsum([0, *sizes])
    return [rows[lo:hi].reshape(np.shape(leaf) + tangent.shape[-1:])
            for leaf, lo, hi in zip(leaves, bounds[:-1], bounds[1:])]


def _transposed(columns: list[Any], like: Any) -> list[list[Any]]:
    """Columns (one tangent of the output per direction) as, per output leaf, its list of
    columns."""
    per_leaf = [_tangent_leaves(c, like) for c in columns]
    return [list(leaf) for leaf in zip(*per_leaf)] if per_leaf else \
        [[] for _ in pytree.leaves(like)]


def _columns(jvp_fn: Callable, args: tuple, i: int,
             carriers: tuple[int, ...]) -> tuple[Any, list[Any]]:
    """f(args) and the tangents of its output along each unit tangent of args[i], by a
    JVP whose tangents are those of the inputs `carriers` (zeros but for args[i])."""
    zeros = {k: runtime.zeros_of(args[k]) for k in carriers if k != i}
    value, columns = None, []
    for unit in _basis(args[i]):
        value, column = jvp_fn(*args, *(unit if k == i else zeros[k] for k in carriers))
        columns.append(column)
    return value, columns


def _assemble(columns: list[Any], x: Any, y_like: Any) -> Any:
    """Derivatives d y / d x from columns, one tangent of the output per element of x."""
    n = pytree.size(x)
    stacked = [np.stack([np.broadcast_to(c, np.shape(y)) for c in leaf_columns], axis=-1)
               if leaf_columns else np.zeros(np.shape(y) + (n,))
               for y, leaf_columns in zip(pytree.leaves(y_like), _transposed(columns, y_like))]
    return _split(stacked, x, y_like)


def _split(stacked: list[np.ndarray], x: Any, y_like: Any) -> Any:
    """Derivatives d y / d x from, for each leaf of the output, an array shaped
    y_leaf.shape + (elements of x,): the output's structure, each leaf holding the
    input's structure, each of its leaves shaped y_leaf.shape + x_leaf.shape."""
    x_leaves = pytree.leaves(x)
    per_output = []
    for y, block in zip(pytree.leaves(y_like), stacked):
        y_shape, pieces, start = np.shape(y), [], 0
        for leaf in x_leaves:
            k = int(np.size(leaf))
            piece = np.asarray(block[..., start:start + k]).reshape(y_shape + np.shape(leaf))
            # a plain, writable array of the caller's own, in the input's float dtype
            piece = np.array(piece, dtype=_float_dtype(leaf) if isinstance(
                leaf, np.ndarray) else np.result_type(piece.dtype, np.float64))
            pieces.append(piece if piece.ndim else float(piece))
            start += k
        per_output.append(pytree.rebuild(x, pieces))
    return pytree.rebuild(y_like, per_output)


def jacobian_of(f: Callable, wrt: Wrt = 0, mode: str = "auto") -> Callable:
    """The Jacobian of `f` with respect to the input(s) `wrt`, shaped
    ``np.shape(f(...)) + np.shape(x)``; for containers, the output's structure holding
    the input's, each leaf shaped ``y_leaf.shape + x_leaf.shape`` (as ``jax.jacobian``).

    ``mode="forward"`` takes one vector-mode JVP sweep (one per input element where a
    rule has no vector-mode form), ``"reverse"`` one batched VJP sweep (one per output
    element where a rule has no batched adjoint); ``"auto"`` picks forward when the
    input has fewer elements than the output.
    """
    if mode not in ("auto", "forward", "reverse"):
        raise ADCompileError(f"mode must be 'auto', 'forward' or 'reverse', not {mode!r}")
    func, instance, func_wrt = method_parts(f, wrt)
    if instance is not None:  # a bound method: its function, `self` held constant
        return _bound(jacobian_of(func, func_wrt, mode), instance)
    fn = lowered(f)
    indices, single = wrt_indices(fn, wrt)
    if fn.returns_tuple:
        raise ADCompileError(f"jacobian needs a function with one output, but {fn.name} "
                             "returns a tuple", hint="take the Jacobian of one output at a "
                             "time, or return a list or dict of them", **where(fn))

    sweeps: dict = {}  # the compiled sweeps, kept between calls
    sizes: dict = {}  # input signature -> the size of the output, a float vector

    def jac(*args: Any) -> Any:
        full = with_defaults(f, args)
        if mode == "reverse" and single:
            known = known_rows(f, full, indices[0], sweeps, sizes)
            if known is not None:
                return known
        # forward mode takes the output's structure from the JVP's value
        y = None if mode == "forward" else f(*unshared(fn, full))
        if type(y) is np.ndarray and y.ndim == 1 and y.dtype == np.float64:
            sizes[signature_key(full)] = y.size
        results = []
        for i in indices:
            use_forward = mode == "forward" or (
                mode == "auto" and pytree.size(full[i]) < pytree.size(y))
            if use_forward:
                results.append(_directions(f, full, i, y, sweeps=sweeps)[1])
            else:
                results.append(_rows(f, full, i, y, sweeps=sweeps))
        return results[0] if single else tuple(results)

    jac.__name__ = safe_name(fn.name, "jacobian")
    return jac


def _rows(f: Callable, args: tuple, i: int, y: Any, sweeps: dict | None = None) -> Any:
    """The Jacobian d y / d args[i]: one batched VJP sweep of every unit cotangent, or,
    where a rule has no batched adjoint, one sweep per element of y (by the VJP that
    returns the cotangent of args[i] alone)."""
    x = args[i]
    batched = kept(sweeps, f, "vjp_batched_value", (i,), batched_vjp_value) \
        if plain(x) and plain(y) and np.size(y) else None
    if batched is not None:
        m = int(np.size(y))
        if type(y) is np.ndarray and y.ndim == 1 and y.dtype == np.float64:
            x_bar = unit_sweep(batched, args, m)[1][0]
        else:
            seed = np.eye(m, dtype=_float_dtype(y)).reshape(np.shape(y) + (m,))
            x_bar = batched(*args, seed)[1][0]  # x.shape + (m,), an array of its own
        return as_rows(x_bar, x, y)
    compiled = derivative(f, "vjp", (i,), "reverse")
    for leaf in pytree.leaves(x):
        if isinstance(leaf, np.ndarray):
            runtime.require_float(leaf)
    y_leaves = pytree.leaves(y)
    zeros = [np.zeros(np.shape(v), dtype=_float_dtype(v)) for v in y_leaves]
    stacked = []
    for m, leaf in enumerate(y_leaves):
        rows = []
        for j in range(int(np.size(leaf))):
            unit = np.zeros(np.shape(leaf), dtype=_float_dtype(leaf))
            unit.flat[j] = 1
            seeds = [z if not np.ndim(z) else z for z in zeros]
            seeds[m] = unit
            seed = pytree.rebuild(y, [s if np.ndim(s) or isinstance(v, np.ndarray)
                                      else float(s) for s, v in zip(seeds, y_leaves)])
            cotangent = compiled(*args, seed)[0]
            rows.append(np.concatenate([np.ravel(np.asarray(c, dtype=float))
                                        for c in pytree.leaves(cotangent)] or [np.zeros(0)]))
        block = np.stack(rows) if rows else np.zeros((0, pytree.size(x)))
        stacked.append(block.reshape(np.shape(leaf) + (pytree.size(x),)))
    return _split(stacked, x, y)


def batched_pullback(f: Callable, pullback: Callable, value: Any, ybar: Any, several: bool,
                     args: tuple, wrt: Wrt, positions: list[int]) -> tuple[Any, ...]:
    """`pullback` applied to a stack of cotangents on a leading axis (a tuple of such
    stacks for a function returning a tuple): each cotangent it returns has that axis
    first.  One batched sweep where the inputs `positions` and the outputs are floats or
    float arrays and every rule has a batched adjoint, else one sweep per cotangent."""
    outputs = list(value) if several else [value]
    stacks = list(ybar) if several and isinstance(ybar, (tuple, list)) else [ybar]
    if len(stacks) != len(outputs):
        raise ValueError(f"the batched pullback of {getattr(f, '__name__', 'f')} takes a "
                         f"tuple of {len(outputs)} stacks of cotangents")
    stacks = [np.asarray(s) for s in stacks]
    counts = {s.shape[0] if s.ndim else None for s in stacks}
    for out, s in zip(outputs, stacks):
        if s.ndim == 0 or s.shape[1:] != np.shape(out):
            raise ValueError(f"a stack of cotangents for an output of shape {np.shape(out)} "
                             f"has shape (k, *{np.shape(out)}), not {s.shape}")
    if len(counts) != 1:
        raise ValueError("every output's stack must hold the same number of cotangents")
    k = counts.pop()
    stacks = [s if s.dtype.kind in "fc" else s.astype(np.float64) for s in stacks]
    if k and all(plain(o) for o in outputs) and all(plain(args[p]) for p in positions):
        compiled = batched_vjp(f, wrt)
        if compiled is not None:
            bars = compiled(*args, *(np.moveaxis(s, 0, -1) for s in stacks))
            return tuple(np.moveaxis(np.asarray(b), -1, 0) for b in bars[:len(positions)])
    if k == 0:
        return tuple(pytree.rebuild(args[p], [np.zeros((0,) + np.shape(leaf)) for leaf in
                                              pytree.leaves(args[p])]) for p in positions)
    rows = [pullback(tuple(s[j] for s in stacks) if several else stacks[0][j])
            for j in range(k)]
    return tuple(pytree.rebuild(rows[0][n], [np.stack(leaves) for leaves in zip(
        *(pytree.leaves(r[n]) for r in rows))]) for n in range(len(positions)))


def _bound(function: Callable, instance: Any) -> Callable:
    """`function` with `instance` passed as its first argument."""

    def bound(*args: Any) -> Any:
        return function(instance, *args)

    bound.__name__ = getattr(function, "__name__", "bound")
    return bound


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating))
