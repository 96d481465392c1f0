"""Slopes (and curvatures) of elementwise functions that need more than one NumPy
expression: abs, fmax and fmin, real and conj, ``x ** y`` where y may be 0 or 1, and
sinc near 0.  NumPy only."""
from __future__ import annotations

from typing import Any

import numpy as np


def real_sign(x: Any) -> Any:
    """The sign of a real number or array (the slope of ``abs``); complex numbers have
    no such derivative, so they are refused rather than given ``z / abs(z)``."""
    if type(x) is float:
        return (x > 0.0) - (x < 0.0) + 0.0
    if np.iscomplexobj(x):
        raise TypeError("cannot differentiate abs() of a complex number; differentiate with "
                        "respect to its real and imaginary parts (two float arguments)")
    return np.sign(x)


def fmax_first(x: Any, y: Any) -> Any:
    """1.0 where ``np.fmax(x, y)`` is `x` (x >= y, or y is nan; a tie goes to x, as
    ``np.maximum``'s derivative does), else 0.0: the partial of fmax in x."""
    return ((x >= y) | (y != y)) * 1.0


def fmin_first(x: Any, y: Any) -> Any:
    """1.0 where ``np.fmin(x, y)`` is `x` (x <= y, or y is nan), else 0.0."""
    return ((x <= y) | (y != y)) * 1.0


def real_one(x: Any) -> float:
    """1.0: the slope of ``np.real`` and ``np.conj`` of a real number or array.  Of
    complex input they are not complex-differentiable, so it is refused."""
    if np.iscomplexobj(x):
        raise TypeError("cannot differentiate np.real, np.imag or np.conj of a complex "
                        "value; differentiate with respect to its real and imaginary parts "
                        "(two float arguments)")
    return 1.0


def power_slope(x: Any, y: Any) -> Any:
    """``y * x ** (y - 1)``, the slope of ``x ** y`` in x, with 0 where y == 0: x ** 0
    is constant, also at x == 0, where ``x ** -1`` would raise or be inf."""
    if np.ndim(y) == 0:
        return y * x ** (y - 1 if y != 0 else 1)
    return y * x ** np.where(np.equal(y, 0), 1, np.subtract(y, 1))


def power_curve(x: Any, y: Any) -> Any:
    """``y * (y - 1) * x ** (y - 2)``, the curvature of ``x ** y`` in x, with 0 where
    y is 0 or 1 (x ** y is linear there, also at x == 0)."""
    if np.ndim(y) == 0:
        return y * (y - 1) * x ** (y - 2 if y not in (0, 1) else 2)
    flat = np.equal(y, 0) | np.equal(y, 1)
    return y * (np.subtract(y, 1)) * x ** np.where(flat, 2, np.subtract(y, 2))


# sinc'(x) = (cos(pi x) - sinc(x)) / x loses all its digits to cancellation near 0,
# where these series (exact to double precision below _SINC_SERIES) take over
_SINC_SERIES = 1e-3


def sinc_slope(x: Any) -> Any:
    """The derivative of the normalised ``np.sinc``, also at and near 0 (where it is 0)."""
    x = np.asarray(x)
    small = np.abs(x) < _SINC_SERIES
    safe = np.where(small, 1.0, x)
    with np.errstate(invalid="ignore"):
        far = (np.cos(np.pi * safe) - np.sinc(safe)) / safe
    near = -(np.pi ** 2) * x / 3 + np.pi ** 4 * x ** 3 / 30
    out = np.where(small, near, far).astype(np.result_type(x, np.float16), copy=False)
    return out[()] if out.ndim == 0 else out


def sinc_curve(x: Any) -> Any:
    """The second derivative of the normalised ``np.sinc`` (-pi**2/3 at 0)."""
    x = np.asarray(x)
    small = np.abs(x) < _SINC_SERIES
    safe = np.where(small, 1.0, x)
    with np.errstate(invalid="ignore"):
        far = -(np.pi ** 2) * np.sinc(safe) - 2 * sinc_slope(safe) / safe
    near = -(np.pi ** 2) / 3 + np.pi ** 4 * x ** 2 / 10
    out = np.where(small, near, far).astype(np.result_type(x, np.float16), copy=False)
    return out[()] if out.ndim == 0 else out

