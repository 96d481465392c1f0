"""Compiled derivatives, kept per code object so nothing is transformed twice.

The key is the user function's code object (a redefined function has new code, so
it is transformed again), what was asked for (kind, inputs, mode) and the compiler
version.  Entries die with the code object.  Equal code can stand in different
namespaces (two notebook cells, closures over different functions), so each key
holds a list of candidates, and the caller checks that the names a candidate
resolved at compile time still denote the same objects.
"""
from __future__ import annotations

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


def clear() -> None:
    _entries.clear()


def size() -> int:
    return sum(len(v) for v in _entries.values())
