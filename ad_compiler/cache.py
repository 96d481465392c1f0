"""Compiled derivatives, kept per code object so nothing is transformed twice.

The key is the user function's code object (a redefined function has new code, so
it is transformed again), what was asked for (kind, inputs, mode) and the compiler
version.  Entries die with the code object.  Equal code can stand in different
namespaces (two notebook cells, closures over different functions), so each key
holds a list of candidates, and the caller checks that the names a candidate
resolved at compile time still denote the same objects.
"""
from __future__ import annotations

import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

from . import __version__

_entries: weakref.WeakKeyDictionary[types.CodeType, dict[tuple, Any]] = weakref.WeakKeyDictionary()


def candidates(func: Callable, key: tuple) -> list[Any]:
    code = getattr(func, "__code__", None)
    if code is None:
        return []
    return _entries.get(code, {}).get((__version__, *key), [])


def store(func: Callable, key: tuple, entry: Any) -> None:
    """Add `entry`, a (weak reference to the function, derivative) pair; entries whose
    function is gone are dropped, but for the newest, which equal code may still reuse."""
    code = getattr(func, "__code__", None)
    if code is not None:
        entries = _entries.setdefault(code, {}).setdefault((__version__, *key), [])
        entries[:-1] = [e for e in entries[:-1] if e[0]() is not None]
        entries.append(entry)


# the IR of the last few functions lowered: the builds asked of one function in a row
# (a Hessian's gradient and its JVP, a forward-mode gradient's sweeps) lower it once
_LOWERED_KEPT = 4
_lowered: dict[int, tuple[weakref.ref, Any]] = {}  # id(function) -> (its ref, entry)
_lowered_lock = threading.Lock()


def lowered(func: Callable) -> Any:
    """The entry kept by `keep_lowered` for `func`, or None."""
    kept = _lowered.get(id(func))
    return kept[1] if kept is not None and kept[0]() is func else None


def keep_lowered(func: Callable, entry: Any) -> None:
    """Keep `entry` (the IR of `func` and what it assumed) for the newest functions."""
    try:
        ref = weakref.ref(func)
    except TypeError:
        return
    with _lowered_lock:
        _lowered.pop(id(func), None)
        _lowered[id(func)] = (ref, entry)
        while len(_lowered) > _LOWERED_KEPT:
            del _lowered[next(iter(_lowered))]


def clear() -> None:
    _entries.clear()
    with _lowered_lock:
        _lowered.clear()


def size() -> int:
    return sum(len(v) for v in _entries.values())
