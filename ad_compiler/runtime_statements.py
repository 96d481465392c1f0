"""Helpers of statements that derivative code runs as the user wrote them: f-strings,
raise, assert, and the check that an augmented assignment NumPy would do in place
changes nothing that is read afterwards.  NumPy only."""
from __future__ import annotations

from typing import Any

import numpy as np


def check_unshared(value: Any, *readers: Any, names: str, where: str) -> None:
    """Refuse an augmented assignment that NumPy would do in place on an object that a
    value read afterwards shares: the compiled code makes a new array (or list, or dict:
    ``layer["W"] = v``) instead, which is Python's meaning only for a number or an
    object nothing else sees."""
    if not isinstance(value, (np.ndarray, list, dict)):
        return  # a number or a tuple: `+=` rebinds the name, as the compiled code does
    if any(_shares(value, r, 0) for r in readers):
        raise ValueError(
            f"{where}\nthis statement changes an array, list or dict in place, and "
            f"{names}, read afterwards, shares it: NumPy changes it too, which the compiled "
            "code cannot follow.  Make a new array instead ('a = a + b' for 'a += b'), or "
            "give each name an array of its own where they are assigned ('b = a.copy()')")


def _shares(value: Any, reader: Any, depth: int) -> bool:
    """Whether changing `value` in place changes what `reader` holds."""
    if reader is value:
        return True
    if isinstance(reader, np.ndarray) and isinstance(value, np.ndarray):
        if not np.may_share_memory(value, reader):
            return False
        try:
            return bool(np.shares_memory(value, reader, max_work=10_000))
        except Exception:  # noqa: BLE001 - too hard to decide (TooHardError): assume so
            return True
    if isinstance(reader, (list, tuple)) and depth < 20:
        return any(_shares(value, item, depth + 1) for item in reader)
    if isinstance(reader, dict) and depth < 20:
        return any(_shares(value, item, depth + 1) for item in reader.values())
    return False


def formatted(template: tuple, *values: Any) -> str:
    """An f-string: `template` holds its literal parts (str) and, for each replacement
    field, (conversion, format spec); generated code prints it back as the f-string."""
    parts, given = [], iter(values)
    for part in template:
        if isinstance(part, str):
            parts.append(part)
            continue
        conversion, spec = part
        value = next(given)
        if conversion:
            value = {"r": repr, "s": str, "a": ascii}[conversion](value)
        parts.append(format(value, spec))
    return "".join(parts)


def raise_error(exc: Any = None, cause: Any = None) -> None:
    """``raise exc`` (``raise exc from cause``, a bare ``raise``); generated code prints
    the statement."""
    if exc is None:
        raise  # noqa: PLE0704 - re-raises the exception being handled
    if cause is not None:
        raise exc from cause
    raise exc


def assert_true(test: Any, message: Any = None) -> None:
    """``assert test, message``; generated code prints the statement."""
    if not test:
        raise AssertionError(message) if message is not None else AssertionError

