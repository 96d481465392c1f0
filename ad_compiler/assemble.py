"""Jacobians and Hessians assembled from derivative sweeps.

Forward mode carries every input direction at once where each primitive has a
vector-mode rule (a last, extra axis on the tangents), one sweep per element
otherwise; reverse mode takes one VJP sweep per output element.  A Hessian is the
forward-mode Jacobian of the reverse-mode gradient.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import runtime
from .build import Wrt, derivative, safe_name, unshared, where, with_defaults, wrt_indices
from .errors import ADCompileError
from .ir import Function
from .lowering import lower


def forward_gradient(f: Callable, fn: Function, kind: str, indices: list[int],
                      single: bool) -> Callable:
    """Forward-mode gradient of a function of arrays or lists: one vector-mode sweep
    carrying every input element's direction (one sweep per element as the fallback)."""
    jvp_fn = derivative(f, "jvp", 0, "forward")

    def gradient(*args: Any) -> Any:
        full = with_defaults(f, args)
        value, grads = None, []
        for i in indices:
            value, g = _directions(f, full, i, ())
            grads.append(g)
        out = grads[0] if single else tuple(grads)
        return out if kind == "grad" else (value, out)

    shown = _vector_jvp(f, indices[0]) or jvp_fn
    gradient.source = shown.source
    gradient._adc_function = jvp_fn._adc_function
    gradient._adc_rules_version = jvp_fn._adc_rules_version
    gradient._adc_wrapper = True  # closes over `f`: never rebound to another function
    gradient.__name__ = safe_name(fn.name, kind)
    gradient.__doc__ = f"{kind} of {fn.name} (forward mode, vector-mode JVP)"
    return gradient


def _basis(x: Any) -> list[Any]:
    """Unit tangents for every element of `x` (a number, an array, or a list of them)."""
    if isinstance(x, np.ndarray):
        runtime.require_float(x)
        units = []
        for j in range(x.size):
            unit = np.zeros(x.shape, dtype=x.dtype)
            unit.flat[j] = 1
            units.append(unit)
        return units
    if isinstance(x, (list, tuple)):
        zeros = [runtime.zeros_of(v) for v in x]
        units = []
        for k, item in enumerate(x):
            for unit in _basis(item):
                units.append(type(x)(zeros[:k] + [unit] + zeros[k + 1:]))
        return units
    return [1.0]


def _vector_jvp(f: Callable, i: int) -> Callable | None:
    """The vector-mode JVP of `f` along input `i`, or None where some primitive has no
    vector-mode rule yet (one sweep per direction is the fallback)."""
    try:
        return derivative(f, "jvp_batched", i, "forward")
    except ADCompileError:
        return None


def _batch_seed(x: Any) -> Any:
    """Every unit direction of `x` at once: its shape plus a last axis, one per element."""
    if isinstance(x, (list, tuple)):
        n, start, items = _size(x), 0, []
        for item in x:
            k = _size(item)
            eye = np.eye(n, dtype=_float_dtype(item))[start:start + k]
            items.append(eye.reshape(np.shape(item) + (n,)))
            start += k
        return type(x)(items)
    if isinstance(x, np.ndarray):
        runtime.require_float(x)
    return np.eye(_size(x), dtype=_float_dtype(x)).reshape(np.shape(x) + (_size(x),))


def _float_dtype(x: Any) -> Any:
    return x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.float64


def _directions(f: Callable, args: tuple, i: int, out_shape: tuple | None) -> tuple[Any, Any]:
    """f(args) and d f / d args[i], shaped out_shape + args[i].shape: by one vector-mode
    sweep where every primitive has a batched rule, else one sweep per element."""
    batched = _vector_jvp(f, i)
    if batched is None:
        value, columns = _columns(derivative(f, "jvp", 0, "forward"), args, i)
        shape = np.shape(value) if out_shape is None else out_shape
        return value, _assemble(columns, args[i], shape)
    value, tangent = batched(*args, _batch_seed(args[i]))
    shape = np.shape(value) if out_shape is None else out_shape
    n = _size(args[i])
    tangent = np.broadcast_to(tangent, shape + (n,))
    return value, _assemble(list(np.moveaxis(tangent, -1, 0)), args[i], shape)


def _columns(jvp_fn: Callable, args: tuple, i: int) -> tuple[Any, list[Any]]:
    """f(args) and the tangents of its output along each unit tangent of args[i]."""
    zeros = [runtime.zeros_of(a) for a in args]
    value, columns = None, []
    for unit in _basis(args[i]):
        tangents = zeros[:i] + [unit] + zeros[i + 1:]
        value, column = jvp_fn(*args, *tangents)
        columns.append(column)
    return value, columns


def _assemble(columns: list[Any], x: Any, out_shape: tuple) -> Any:
    """Columns d y / d x_j, one per element of `x`, as an array shaped out_shape + x.shape
    (or, for a list `x`, a list of such)."""
    stacked = np.stack([np.broadcast_to(c, out_shape) for c in columns], axis=-1)
    if isinstance(x, (list, tuple)):
        pieces, start = [], 0
        for item in x:
            n = np.size(item)
            piece = stacked[..., start:start + n].reshape(out_shape + np.shape(item))
            pieces.append(piece if np.ndim(item) or out_shape else float(piece))
            start += n
        return pieces
    dtype = x.dtype if isinstance(x, np.ndarray) else stacked.dtype
    result = stacked.reshape(out_shape + np.shape(x)).astype(dtype, copy=False)
    return result if result.ndim or isinstance(x, np.ndarray) else float(result)


def jacobian_of(f: Callable, wrt: Wrt = 0, mode: str = "auto") -> Callable:
    """The Jacobian of `f` with respect to the input(s) `wrt`, shaped
    ``np.shape(f(...)) + np.shape(x)``.

    ``mode="forward"`` takes one JVP sweep per input element, ``"reverse"`` one VJP
    sweep per output element; ``"auto"`` picks forward when the input has fewer
    elements than the output.
    """
    if mode not in ("auto", "forward", "reverse"):
        raise ADCompileError(f"mode must be 'auto', 'forward' or 'reverse', not {mode!r}")
    fn = lower(f)
    indices, single = wrt_indices(fn, wrt)
    if fn.returns_tuple:
        raise ADCompileError(f"jacobian needs a function with one output, but {fn.name} "
                             "returns a tuple", hint="take the Jacobian of one output at a "
                             "time", **where(fn))

    def jac(*args: Any) -> Any:
        full = with_defaults(f, args)
        y = f(*unshared(fn, full))
        out_shape = np.shape(y)
        results = []
        for i in indices:
            use_forward = mode == "forward" or (
                mode == "auto" and _size(full[i]) < int(np.prod(out_shape, dtype=int)))
            if use_forward:
                results.append(_directions(f, full, i, out_shape)[1])
            else:
                results.append(_rows(f, full, i, y))
        return results[0] if single else tuple(results)

    jac.__name__ = safe_name(fn.name, "jacobian")
    return jac


def _size(x: Any) -> int:
    if isinstance(x, (list, tuple)):
        return sum(_size(v) for v in x)
    return int(np.size(x))


def _rows(f: Callable, args: tuple, i: int, y: Any) -> Any:
    """The Jacobian d y / d args[i] from one VJP sweep per element of y."""
    compiled = derivative(f, "vjp", 0, "reverse")
    x = args[i]
    if isinstance(x, np.ndarray):
        runtime.require_float(x)
    rows = []
    y_array = np.asarray(y)
    for j in range(y_array.size):
        seed = np.zeros(y_array.shape, dtype=y_array.dtype if y_array.dtype.kind == "f"
                        else float)
        seed.flat[j] = 1
        rows.append(compiled(*args, seed if y_array.ndim else seed.item())[i])
    if isinstance(x, (list, tuple)):
        return [np.stack([np.asarray(r[k]) for r in rows]).reshape(y_array.shape + np.shape(v))
                for k, v in enumerate(x)]
    stacked = np.stack([np.broadcast_to(r, np.shape(x)) for r in rows])
    result = stacked.reshape(y_array.shape + np.shape(x))
    if isinstance(x, np.ndarray):
        result = result.astype(x.dtype, copy=False)
    return result if result.ndim else float(result)


def hessian_of(f: Callable, wrt: int | str = 0) -> Callable:
    """The Hessian of a scalar function, by forward mode over the reverse-mode gradient:
    one Hessian-vector product per input element, shaped ``x.shape + x.shape``."""
    if not isinstance(wrt, (int, str)):
        raise ADCompileError("hessian takes one input (wrt=0 or wrt='x')",
                             hint="take the Hessian with respect to one input at a time, "
                                  "or pack the inputs into one array")
    gradient = derivative(f, "grad", wrt, "reverse")
    index = wrt_indices(lower(f), wrt)[0][0]
    jac = jacobian_of(gradient, wrt=index, mode="forward")

    def hess(*args: Any) -> Any:
        full = with_defaults(f, args)
        # the gradient specialised to these shapes is mostly plain NumPy, which vector
        # mode differentiates in one sweep (the generic code's shape helpers take one
        # sweep per element)
        version = gradient.version_for(*full) if hasattr(gradient, "version_for") else None
        if version is not None and not getattr(version, "_adc_no_forward", False) \
                and version is not getattr(gradient, "_adc_generic", None):
            try:
                return jacobian_of(version, wrt=index, mode="forward")(*full)
            except ADCompileError:  # in-place updates of a slice adjoint: generic code
                version._adc_no_forward = True
        return jac(*full)

    hess.__name__ = safe_name(lower(f).name, "hessian")
    return hess
