"""Run-time helpers of products and of values that are zero: the partials of
``np.prod`` without dividing by zero, the adjoint of ``np.linspace``, the zero
derivative of a cast to integers, where ``np.where`` passes an adjoint on, and
``a * log(b)`` that is 0 where `a` is.  NumPy only."""
from __future__ import annotations

from typing import Any

import numpy as np

from .runtime import unbroadcast
from .runtime_arrays import sum_adjoint


def _spread(y: Any, axis: Any, keepdims: bool) -> Any:
    """A reduction's result `y` with its reduced axes back, of length one."""
    if axis is not None and not keepdims:
        return np.expand_dims(y, axis)
    return y


def _no_zero(y: Any, x: Any) -> bool:
    """Whether no element of `x` is zero, asked of the product `y` of its elements
    first (which is zero where `x` is, or where the product underflows)."""
    if bool(y.all()) if type(y) is np.ndarray else y != 0:
        return True
    return not (np.asarray(x) == 0).any()


def _reduced_axes(ndim: int, axis: Any) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _zero_parts(x: Any, axes: tuple[int, ...]) -> tuple[Any, Any, Any, Any]:
    """Where `x` is zero, `x` with its zeros made ones, and per reduced group the
    product of its nonzero elements and the number of its zeros."""
    zero = x == 0
    safe = np.where(zero, 1, x)
    return zero, safe, np.prod(safe, axis=axes, keepdims=True), \
        np.sum(zero, axis=axes, keepdims=True)


def _products_of_others(x: Any, axis: Any) -> Any:
    """Each element's product of the other elements of its group: the product of the
    nonzero ones over it where the group has no zero, that product at the one zero of a
    group with one zero, and zero everywhere else."""
    x = np.asarray(x)
    zero, safe, product, count = _zero_parts(x, _reduced_axes(x.ndim, axis))
    return np.where(count == 0, product / safe, np.where(zero & (count == 1), product, 0))


def prod_others(x: Any, y: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The partials of ``y = np.prod(x, axis, keepdims=keepdims)``: each element's
    product of the others, ``y / x`` where no element is zero (`y` is passed to save
    computing it again)."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if _no_zero(y, x):
        return _spread(y, axis, keepdims) / x
    return _products_of_others(x, axis)


def prod_adjoint(g: Any, x: Any, y: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The adjoint of `x` in ``y = np.prod(x, axis, keepdims=keepdims)``: `g` spread
    back over `x`, times each element's product of the others (exact at zeros)."""
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    if axis is None and type(y) is not np.ndarray and y != 0:  # the common case, made cheap
        return g * y / x
    if _no_zero(y, x):
        return _spread(g * y, axis, keepdims) / x
    return sum_adjoint(g, x, axis, keepdims) * _products_of_others(x, axis)


def prod_others_jvp(x: Any, t: Any, axis: Any = None) -> Any:
    """The tangent of `prod_others` along `t`: for each element i, the sum over the
    others j of ``t_j`` times the product of the elements other than i and j (the
    Hessian of the product applied to `t`).  `t` may carry directions on extra last
    axes (vector mode)."""
    x, t = np.asarray(x), np.asarray(t)
    axes = _reduced_axes(x.ndim, axis)
    if t.ndim > x.ndim:
        x = x.reshape(x.shape + (1,) * (t.ndim - x.ndim))
    zero, safe, product, count = _zero_parts(x, axes)
    ratio = np.where(zero, 0, t / safe)  # t_j / x_j over the nonzero elements
    total = np.sum(ratio, axis=axes, keepdims=True)
    if not zero.any():
        return product / x * (total - ratio)
    zero_t = np.sum(np.where(zero, t, 0), axis=axes, keepdims=True)  # t at the zeros
    at_nonzero = np.where(count == 0, product / safe * (total - ratio),
                          np.where(count == 1, zero_t * product / safe, 0))
    at_zero = np.where(count == 1, product * total,
                       np.where(count == 2, (zero_t - t) * product, 0))
    return np.where(zero, at_zero, at_nonzero)


def linspace_adjoint(g: Any, which: int, start: Any, stop: Any, num: int,
                     endpoint: bool = True, axis: int = 0) -> Any:
    """The adjoint of `start` (`which` 0) or `stop` (1) in ``np.linspace(start, stop, num,
    endpoint, axis=axis)``, whose samples are ``start + (stop - start) * t`` with `t`
    running from 0 to 1 along `axis`: `g` weighted by ``1 - t`` or `t`, summed along it."""
    shape = np.broadcast_shapes(np.shape(start), np.shape(stop))
    t = np.linspace(np.zeros(shape), np.ones(shape), num, endpoint=endpoint, axis=axis)
    weighted = np.sum(g * (t if which else 1.0 - t), axis=axis)
    return unbroadcast(weighted, stop if which else start)


def zero_if_integral(t: Any, y: Any) -> Any:
    """The derivative `t` of a value `y`, or zero where `y` holds integers or booleans
    (a cast to those is piecewise constant, whatever its operand's derivative)."""
    if getattr(y, "dtype", None) is not None and y.dtype.kind in "biu":
        return np.zeros(np.shape(t)) if np.ndim(t) else 0.0
    return t


def selected_places(condition: Any, like: Any = None, negate: bool = False) -> Any:
    """Where an adjoint that ``np.where(condition, ...)`` passed to one branch may be
    nonzero: `condition` (its negation for the other branch), reduced with ``any`` over
    the axes that ``unbroadcast(g, like)`` sums, so it stays broadcastable to `like`."""
    mask = np.logical_not(condition) if negate else np.asarray(condition, dtype=bool)
    if like is None:
        return mask
    shape = np.shape(like)
    lead = mask.ndim - len(shape)
    if lead > 0:
        mask = mask.any(axis=tuple(range(lead)))
    offset = len(shape) - mask.ndim  # (aligned on the last axis, as broadcasting is)
    axes = tuple(i - offset for i, n in enumerate(shape) if n == 1 and i >= offset
                 and mask.shape[i - offset] != 1)
    return mask.any(axis=axes, keepdims=True) if axes else mask


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

