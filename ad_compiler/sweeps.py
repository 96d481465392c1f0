"""Compiled sweeps of whole derivatives, kept between calls and run with unit seeds.

A Jacobian or a Hessian runs one vector-mode JVP, or one batched pullback, per call.
Looking the sweep up in the cache every time (which checks every name it resolved)
costs as much as the sweep of a small function, so each Jacobian, Hessian and
forward-mode gradient keeps its sweeps (`kept()`).  A sweep seeded with every unit
direction of a vector runs behind a `UnitSeedDispatcher`, whose versions specialised
to the input shapes carry the seed as a diagonal and never build it (`unit_sweep()`);
a reverse-mode Jacobian whose output shape an earlier call showed runs that version
alone (`known_rows()`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import custom
from .batched import register_unit_seed, release_unit_seed
from .build import Wrt, derivative
from .dispatch import signature_key, unit_seeded
from .errors import ADCompileError


def unit_sweep(compiled: Callable, args: tuple, n: int) -> Any:
    """compiled(*args, np.eye(n)): a batched sweep of every unit direction of a vector
    of n numbers (the input's, or the output's cotangents), by code specialised to that
    seed, which it then neither builds nor reads (`UnitSeedDispatcher`)."""
    sweep = unit_seeded(compiled)
    version = sweep.seedless(args, n)
    if version is not None:
        return version(*args, None)
    seed = np.eye(n)
    register_unit_seed(seed, 0)
    try:
        return sweep(*args, seed)
    finally:
        release_unit_seed(seed)


def kept(sweeps: dict | None, f: Callable, kind: str, wrt: Wrt,
          build: Callable[[Callable, Wrt], Callable | None]) -> Callable | None:
    """build(f, wrt), kept in `sweeps` (a Jacobian's) while `f` keeps its code and
    defaults and no rule is registered: like a gradient, a Jacobian keeps the functions
    it inlined (the cache's look-up, which checks them, costs as much as the sweep of a
    small function)."""
    if sweeps is None:
        return build(f, wrt)
    stamp = (getattr(f, "__code__", None), getattr(f, "__defaults__", None), custom.version)
    kept = sweeps.get((kind, wrt))
    if kept is not None and all(a is b for a, b in zip(kept[0], stamp)):
        return kept[1]
    compiled = build(f, wrt)
    sweeps[(kind, wrt)] = (stamp, compiled)
    return compiled


def batched_vjp(f: Callable, wrt: Wrt, kind: str = "vjp_batched") -> Callable | None:
    """The batched VJP of `f` (cotangents on a last axis) returning the cotangents of the
    inputs `wrt` (after the value, for `kind` ``"vjp_batched_value"``), or None where
    some rule has no batched adjoint yet (one sweep per cotangent is the fallback)."""
    try:
        return derivative(f, kind, wrt, "reverse")
    except ADCompileError:
        return None


def batched_vjp_value(f: Callable, wrt: Wrt) -> Callable | None:
    return batched_vjp(f, wrt, "vjp_batched_value")


def known_rows(f: Callable, args: tuple, i: int, sweeps: dict, sizes: dict) -> Any:
    """The Jacobian d f / d args[i] from the batched pullback of every unit cotangent
    alone, without evaluating `f` first to learn its output's shape: where an earlier
    call with inputs of this signature gave a float vector of m numbers, and the code
    specialised to those inputs and m unit cotangents reads no seed.  The pullback
    returns the value, whose shape is checked; None (evaluate `f`) otherwise."""
    key = signature_key(args)
    m = sizes.get(key) if key is not None else None
    if m is None or not plain(args[i]):
        return None
    batched = kept(sweeps, f, "vjp_batched_value", (i,), batched_vjp_value)
    version = unit_seeded(batched).seedless(args, m, key) if batched is not None else None
    if version is None:
        return None
    try:
        value, x_bars = version(*args, None)
    except Exception:  # noqa: BLE001 - an output of another size: evaluated again below,
        return None    # where an error of the function itself is raised as it is
    if type(value) is not np.ndarray or value.shape != (m,) or value.dtype != np.float64:
        return None
    return as_rows(x_bars[0], args[i], value)


def as_rows(x_bar: np.ndarray, x: Any, y: Any) -> Any:
    """A batched cotangent of x, shaped x.shape + (m,), as the Jacobian's rows."""
    if x_bar.ndim == 2 and type(y) is np.ndarray and y.ndim == 1 and np.ndim(x) == 1:
        return x_bar.T  # a vector's Jacobian
    rows = x_bar.transpose((x_bar.ndim - 1, *range(x_bar.ndim - 1)))  # (m,) + x.shape
    return rows.reshape(np.shape(y) + np.shape(x)) if np.ndim(y) or np.ndim(x) \
        else float(rows[0])


def plain(value: Any) -> bool:
    """A float or a float array: what batched reverse mode takes and gives (a container
    goes one sweep per cotangent)."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    return isinstance(value, (float, np.floating))


def sweeps_of(compiled: Callable) -> dict:
    """The sweeps of `compiled` kept on it (a Hessian's gradient, or its version for
    some input shapes): another version with equal code may have been differentiated
    first, and the cache then rebinds the sweep to this one on every look-up."""
    try:
        return compiled.__dict__.setdefault("_adc_sweeps", {})
    except AttributeError:
        return {}
