"""Compiled derivatives, kept per code object so nothing is transformed twice.

The key is the user function's code object (a redefined function has new code, so
it is transformed again), what was asked for (kind, inputs, mode) and the compiler
version.  Entries die with the code object.  A closure made again from the same
code shares the compiled code and is given its own cells.
"""
from __future__ import annotations

import types
import weakref
from collections.abc import Callable
from typing import Any

from . import __version__

_entries: weakref.WeakKeyDictionary[types.CodeType, dict[tuple, Any]] = weakref.WeakKeyDictionary()


def lookup(func: Callable, key: tuple) -> Any | None:
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    return _entries.get(code, {}).get((__version__, *key))


def store(func: Callable, key: tuple, entry: Any) -> None:
    code = getattr(func, "__code__", None)
    if code is not None:
        _entries.setdefault(code, {})[(__version__, *key)] = entry


def clear() -> None:
    _entries.clear()


def size() -> int:
    return sum(len(v) for v in _entries.values())
