"""Hessians assembled from derivative sweeps: the forward-mode Jacobian of the
reverse-mode gradient (one vector-mode sweep, every direction of the input at once);
for an array output, one sweep of the vector-mode JVP differentiated again, or one
sweep per element of the input or of the output, whichever is fewer.

The sweeps themselves are assemble.py's (`assemble._directions()`, `assemble._vector_jvp()`), read
through the module so that tests and benchmarks/hessian_fallbacks.py may watch them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import assemble, pytree
from .assemble import _assemble, _batch_seed, _bound, _float_array, _float_dtype, _is_number
from .build import (
    derivative,
    gradient_jvp,
    lowered,
    method_parts,
    safe_name,
    unshared,
    where,
    with_defaults,
    wrt_indices,
)
from .dispatch import is_generic, signature_key
from .errors import ADCompileError
from .ir import Function, walk_ops
from .registry import REGISTRY
from .shapes import uses_arrays
from .sweeps import kept, plain, sweeps_of


def hessian_of(f: Callable, wrt: int | str = 0) -> Callable:
    """The Hessian of `f` with respect to one input, shaped ``y.shape + x.shape + x.shape``
    for an output `y` (``x.shape + x.shape`` for a scalar output): forward mode over the
    reverse-mode gradient, or over one reverse sweep per output element."""
    if not isinstance(wrt, (int, str)):
        raise ADCompileError("hessian takes one input (wrt=0 or wrt='x')",
                             hint="take the Hessian with respect to one input at a time, "
                                  "or pack the inputs into one array")
    func, instance, func_wrt = method_parts(f, wrt)
    if instance is not None:  # a bound method: its function, `self` held constant
        return _bound(hessian_of(func, func_wrt), instance)
    fn = lowered(f)
    _require_one_output(fn)
    index = wrt_indices(fn, wrt)[0][0]
    numbers_only = not uses_arrays(fn)
    # number code: the JVP of the gradient is built from the gradient's IR, which is
    # compiled only if some call needs the gradient itself (numbers in containers)
    sweep = gradient_jvp(f, wrt) if numbers_only else None
    built: list[Callable] = [] if sweep is not None else [derivative(f, "grad", wrt, "reverse")]
    scalar_output: set[Any] = set()  # input signatures for which f returned a number

    def gradient() -> Callable:
        if not built:
            built.append(derivative(f, "grad", wrt, "reverse"))
        return built[0]

    def hess(*args: Any) -> Any:
        full = with_defaults(f, args)
        if numbers_only and all(_is_number(a) for a in full):  # scalar code: a number out
            x = full[index]
            if sweep is not None and not isinstance(x, bool):
                value, column = sweep(*full, 1.0)
                return _assemble([column], x, value)
            return _gradient_jacobian(gradient(), full, index)
        key = None if numbers_only else signature_key(full)  # (scalar code checks nothing)
        if key is not None and key in scalar_output:
            try:  # f is not evaluated again: the gradient checks its output is a number
                return _gradient_jacobian(gradient(), full, index)
            except ValueError:  # an array output this time (it depends on the values)
                pass
        y = f(*unshared(fn, full))  # (copies of what f changes in place)
        if isinstance(y, (list, tuple)) or np.ndim(y) != 0:
            return _vector_output_hessian(f, full, index, y)
        if key is not None:
            scalar_output.add(key)
        return _gradient_jacobian(gradient(), full, index)

    hess.__name__ = safe_name(fn.name, "hessian")
    return hess


def _gradient_jacobian(gradient: Callable, args: tuple, index: int) -> Any:
    """The forward-mode Jacobian of `gradient` with respect to args[index], from the JVP
    sweep (whose value is the gradient: it is not evaluated once more)."""
    # the gradient specialised to these shapes is mostly plain NumPy, which vector mode
    # differentiates in one sweep (the generic code's shape helpers take one sweep per
    # element)
    version = gradient.version_for(*args) if hasattr(gradient, "version_for") else None
    if version is not None and not getattr(version, "_adc_no_forward", False) \
            and not is_generic(gradient, version):
        try:
            return assemble._directions(version, args, index, sweeps=sweeps_of(version))[1]
        except ADCompileError:  # in-place updates of a slice adjoint: generic code
            version._adc_no_forward = True
    return assemble._directions(gradient, args, index, sweeps=sweeps_of(gradient))[1]


def _require_one_output(fn: Function) -> None:
    """A Hessian is taken of one output, a number or an array (not a tuple or a list)."""
    packed = [op for op in fn.body.ops if op.prim == "pack" and op.results[0] in fn.outputs]
    if fn.returns_tuple or len(fn.outputs) != 1 or packed:
        raise ADCompileError(f"hessian needs a function with one output (a number or an "
                             f"array), but {fn.name} returns a tuple or a list",
                             hint="take the Hessian of one output at a time, or return "
                                  "np.array([...]) or np.stack([...])", **where(fn))


def _vector_output_hessian(f: Callable, args: tuple, index: int, y: Any) -> Any:
    """d^2 y / d x^2 for x = args[index] and an array `y`, shaped y.shape + x.shape * 2:
    for each element y_j, the forward-mode Jacobian of the pullback of the unit
    cotangent e_j, which is the gradient of y_j; or, where x has no more elements than
    y (a residual vector's Hessian with respect to a few parameters), for each unit
    direction of x the forward-mode Jacobian of the JVP in that direction."""
    if isinstance(y, (list, tuple)):
        raise ValueError("hessian needs a function returning a number or an array, not a "
                         f"{type(y).__name__}; return np.array([...]) instead")
    x = args[index]
    if isinstance(x, (list, tuple)):
        raise TypeError("the Hessian of a function with an array output is taken with "
                        f"respect to a number or an array, not a {type(x).__name__}")
    found = _one_sweep_hessian(f, args, index, y)
    if found is None and np.size(x) <= np.size(y):  # fewer sweeps: one per element of x
        found = _forward_over_forward(f, args, index, y)
    if found is not None:
        return found
    pullback = derivative(f, "vjp", (index,), "reverse")  # the cotangent of x alone
    y_array = np.asarray(y)
    seed_dtype = y_array.dtype if y_array.dtype.kind == "f" else np.float64
    rows = []
    for j in range(y_array.size):
        seed = np.zeros(y_array.shape, dtype=seed_dtype)
        seed.flat[j] = 1
        rows.append(_pullback_jacobian(pullback, (*args, seed), index))
    x_shape = np.shape(x)
    stacked = np.stack(rows).reshape(y_array.shape + x_shape + x_shape)
    return stacked.astype(x.dtype, copy=False) if isinstance(x, np.ndarray) else stacked


def _one_sweep_hessian(f: Callable, args: tuple, index: int, y: Any) -> Any:
    """d^2 y / d x^2 in one sweep: the vector-mode JVP (every direction of x on a last
    axis, the Jacobian) differentiated in vector mode again, whose functions of batched
    tangents have tangents of their own (vector_tangents.py); None where some have none,
    or for inputs and outputs other than float arrays."""
    x = args[index]
    if not (plain(x) and type(x) is np.ndarray and type(y) is np.ndarray and plain(y)):
        return None
    seed = _batch_seed(x)
    try:
        jvp_fn = derivative(f, "jvp_batched_floats", (index,), "forward")
        jacobian = jvp_fn(*args, seed)[1]
        if np.shape(jacobian) != y.shape + (x.size,):
            return None
        hessian = assemble._directions(jvp_fn, (*args, seed), index, output=1, y_like=jacobian)[1]
    except ADCompileError:
        return None
    return np.asarray(hessian).reshape(y.shape + x.shape + x.shape).astype(x.dtype, copy=False)


def _forward_over_forward(f: Callable, args: tuple, index: int, y: Any) -> Any:
    """d^2 y / d x^2 as the forward-mode Jacobian of the JVP ``J(x) e_b`` for each unit
    direction e_b of x (its column b of the Hessian of every element of y): one sweep
    per element of x, where the reverse form takes one per element of y; None where
    the JVP's code has no forward derivative of its own."""
    x = args[index]
    try:
        jvp_fn = derivative(f, "jvp", (index,), "forward")
        if not _plain_tangent_code(jvp_fn):
            return None
        if isinstance(x, np.ndarray):
            seeds = [unit.reshape(x.shape) for unit in np.eye(x.size, dtype=_float_dtype(x))]
        else:
            seeds = [1.0]
        columns = [assemble._directions(jvp_fn, (*args, seed), index, output=1, y_like=y)[1]
                   for seed in seeds]
    except ADCompileError:
        return None
    y_shape, x_shape = np.shape(y), np.shape(x)
    stacked = np.stack([np.reshape(c, y_shape + x_shape) for c in columns], axis=-1)
    hessian = stacked.reshape(y_shape + x_shape + x_shape)
    return hessian.astype(x.dtype, copy=False) if isinstance(x, np.ndarray) else hessian


# run-time helpers of JVP code whose rules follow every argument whose value they read
# (the others are read for their shape or structure alone: a list or a number)
_COVERED_HELPERS = frozenset({"broadcast_like", "sum_tangent", "product_tangent", "zeros_of",
                              "unbroadcast"})


def _plain_tangent_code(jvp_fn: Callable) -> bool:
    """Whether forward mode differentiates `jvp_fn`'s code fully: NumPy's functions and
    the helpers above (another helper may read values its rules do not follow)."""
    ir = getattr(jvp_fn, "_adc_function", None)
    if ir is None:
        return False
    for op in walk_ops(ir.body):
        record = REGISTRY.get(op.prim)
        if op.prim == "call" and not op.attrs.get("nondiff"):
            return False
        if record is not None and record.is_helper and op.prim not in _COVERED_HELPERS:
            return False
    return True


def _pullback_jacobian(pullback: Callable, args: tuple, index: int) -> np.ndarray:
    """d pullback(*args)[0] / d args[index], for a pullback returning the cotangent of
    x = args[index] alone, shaped x.shape + x.shape: one vector-mode sweep (over the
    version specialised to these shapes where there is one), else one forward sweep per
    element of x."""
    x = args[index]
    candidates = [pullback]
    if hasattr(pullback, "version_for"):
        version = pullback.version_for(*args)
        if not is_generic(pullback, version):
            candidates.insert(0, version)
    for compiled in candidates:
        floats = _float_array(x)
        batched = kept(sweeps_of(compiled), compiled,
                       "jvp_batched_floats" if floats else "jvp_batched", index,
                       lambda g, w, floats=floats: assemble._vector_jvp(g, w, floats))
        if batched is not None:
            n = pytree.size(x)
            _, tangents = assemble._seeded(batched, args, index)
            tangent = np.broadcast_to(tangents[0], np.shape(x) + (n,))
            return assemble._split([tangent], x, x)
    jvp_fn = derivative(pullback, "jvp", (index,), "forward")
    columns = [jvp_fn(*args, unit)[1][0] for unit in assemble._basis(x)]
    return _assemble(columns, x, x)
