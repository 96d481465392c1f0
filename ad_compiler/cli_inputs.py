"""Arguments written on the command line: ``--at NAME=VALUE`` and ``--shapes NAME=SHAPE``.

One parser serves every subcommand that calls the user's function (``check``,
``trace``, ``graph``, ``source --shapes``, ``export --shapes``), so a value means the
same everywhere.  A value is read as Python would read it where that is unambiguous
(``n=4`` is an int, ``x=0.7`` a float, ``shape=(2, 3)`` a tuple); brackets make a float
array, since array code is what takes brackets on a command line, and ``list:[...]``
makes the plain list of floats a function of a list expects.  A data file is loaded
with ``allow_pickle=False``: reading numbers must never run code.
"""
from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class InputError(Exception):
    """A value or shape on the command line that the function cannot be given."""


VALUE_FORMS = ("a number (0.7, 4), an array ([1, 2] or [[1, 2], [3, 4]]:float32), "
               "a list of floats (list:[1, 2]), a tuple ((2, 3)), a .npy file or a "
               "Python literal (True, 'text')")
SHAPE_FORMS = "a shape such as 20x3, 3:float32, (), float or int:5"

_INT = re.compile(r"[+-]?\d+\Z")
# dtype suffixes that mean the Python type for a number (and NumPy's default for arrays)
_PYTHON_TYPES: dict[str, type] = {"float": float, "int": int, "complex": complex}


def parse_value(name: str, text: str) -> Any:
    """The argument `text` stands for (see `VALUE_FORMS`)."""
    if text.startswith("list:"):
        return _float_list(name, _literal(name, text[len("list:"):]), text)
    body, dtype = _split_dtype(text)
    if body.endswith(".npy"):
        return _cast(name, _load(name, body), dtype, text)
    if body.startswith("["):
        return _array(name, _literal(name, body), dtype, text)
    if _INT.match(body.strip()):
        return _number(name, int(body), dtype, text)
    try:
        number = float(body)
    except ValueError:
        pass
    else:
        return _number(name, number, dtype, text)
    if dtype is not None:
        raise InputError(f"--at {name}: {text!r}: a dtype suffix goes after a number, an "
                         "array or a .npy file")
    return _literal(name, body)


def random_of_shape(name: str, spec: str, rng: np.random.Generator) -> Any:
    """A random argument of the shape `spec` (`SHAPE_FORMS`): what matters is its shape."""
    kind, _, extra = spec.partition(":")
    try:
        if kind == "float" and not extra:
            return float(rng.standard_normal())
        if kind == "int":
            return int(extra)
        shape = () if kind in ("", "()") else tuple(int(n) for n in kind.split("x"))
        if any(n < 0 for n in shape):
            raise ValueError(spec)
        dtype = np.dtype(extra or np.float64)
        if dtype.kind not in "biufc":
            raise ValueError(spec)
        return rng.standard_normal(shape).astype(dtype)
    except (ValueError, TypeError):
        raise InputError(f"--shapes {name}: {spec!r} is not {SHAPE_FORMS}") from None


@dataclass
class Bound:
    """The function's arguments, in parameter order, and where each came from."""

    names: list[str]
    args: tuple
    defaulted: set[str] = field(default_factory=set)  # names left to their defaults
    random: set[str] = field(default_factory=set)  # names given a shape, not a value


def bind(fn: Callable, at: Sequence[str] = (), shapes: Sequence[str] = (),
         seed: int = 0) -> Bound:
    """`fn`'s positional arguments from ``NAME=VALUE`` pairs (`at`) and ``NAME=SHAPE``
    pairs (`shapes`, filled with random numbers from `seed`); a parameter given neither
    takes its default."""
    names, defaults = _parameters(fn)
    given: dict[str, Any] = {}
    random: set[str] = set()
    rng = np.random.default_rng(seed)
    for option, pairs in (("--at", at), ("--shapes", shapes)):
        for pair in pairs:
            name, sep, text = pair.partition("=")
            if not sep or not name:
                what = "name=value" if option == "--at" else "name=shape"
                raise InputError(f"{option} takes {what} pairs, not {pair!r}")
            if name not in names:
                raise InputError(f"{option} {name}: {_name(fn)} has no parameter {name!r} "
                                 f"(its parameters: {', '.join(names) or 'none'})")
            if name in given:
                raise InputError(f"{name} is given twice")
            if option == "--at":
                given[name] = parse_value(name, text)
            else:
                given[name] = random_of_shape(name, text, rng)
                random.add(name)
    missing = [n for n in names if n not in given and n not in defaults]
    if missing:
        options = " or ".join(o for o, pairs in (("--at", at), ("--shapes", shapes))
                              if pairs) or "--at"
        noun = "a shape" if options == "--shapes" else "a value"
        raise InputError(f"{options} needs {noun} for {', '.join(missing)}")
    args = tuple(given[n] if n in given else defaults[n] for n in names)
    return Bound(names, args, {n for n in names if n not in given}, random)


def holds_floats(value: Any) -> bool:
    """Whether `value` is, or contains, a real floating-point number or array: what
    central differences can perturb (an int is a count or an index as often as not)."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    if isinstance(value, (float, np.floating)):
        return True
    if isinstance(value, (list, tuple)):
        return any(holds_floats(v) for v in value)
    if isinstance(value, dict):
        return any(holds_floats(v) for v in value.values())
    return False


def describe(value: Any) -> str:
    """A few words saying what a value is, for messages."""
    if isinstance(value, np.ndarray):
        shape = "x".join(map(str, value.shape)) or "()"
        return f"a {value.dtype.name} array of shape {shape}"
    if isinstance(value, (bool, int, np.integer)):
        return f"an int ({value})" if not isinstance(value, bool) else f"a bool ({value})"
    return f"a {type(value).__name__}"


def _parameters(fn: Callable) -> tuple[list[str], dict[str, Any]]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        raise InputError(f"cannot read the parameters of {_name(fn)}") from None
    positional = [p for p in signature.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    defaults = {p.name: p.default for p in positional if p.default is not p.empty}
    return [p.name for p in positional], defaults


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", repr(fn))


def _split_dtype(text: str) -> tuple[str, str | None]:
    """``1.5:float32`` -> ("1.5", "float32"); text without such a suffix -> (text, None)."""
    body, sep, tail = text.rpartition(":")
    if not sep or not tail.isidentifier():
        return text, None
    if tail in _PYTHON_TYPES:
        return body, tail
    try:
        kind = np.dtype(tail).kind
    except (TypeError, ValueError):
        return text, None
    return (body, tail) if kind in "biufc" else (text, None)


def _literal(name: str, text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise InputError(f"--at {name}: {text!r} is not {VALUE_FORMS}") from None


def _number(name: str, number: int | float, dtype: str | None, text: str) -> Any:
    if dtype is None:
        return number
    if dtype in _PYTHON_TYPES:
        wanted = _PYTHON_TYPES[dtype]
        if wanted is int and not isinstance(number, int):
            raise InputError(f"--at {name}: {text!r}: {number!r} is not an int")
        return wanted(number)
    return _cast(name, np.asarray(number), dtype, text)[()]


def _array(name: str, value: Any, dtype: str | None, text: str) -> np.ndarray:
    if not isinstance(value, list) or not _numbers_only(value):
        raise InputError(f"--at {name}: {text!r}: brackets make an array of numbers, "
                         "as [1, 2] or [[1, 2], [3, 4]]")
    try:
        array = np.array(value)
    except ValueError:
        raise InputError(f"--at {name}: {text!r}: the rows of an array must have one "
                         "length") from None
    if dtype is None:
        return array.astype(np.float64) if array.dtype.kind in "biuf" else array
    return _cast(name, array, dtype, text)


def _numbers_only(value: Any) -> bool:
    if isinstance(value, list):
        return all(_numbers_only(v) for v in value)
    return isinstance(value, (int, float, complex))


def _float_list(name: str, value: Any, text: str) -> list:
    """A list (of lists) with every number made a float, as a function of a list of
    floats is called; tuples inside stay tuples."""
    def floats(item: Any) -> Any:
        if isinstance(item, list):
            return [floats(v) for v in item]
        if isinstance(item, tuple):
            return tuple(floats(v) for v in item)
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            return float(item)
        raise InputError(f"--at {name}: {text!r}: list:[...] holds numbers (and lists "
                         f"or tuples of them), not {item!r}")

    if not isinstance(value, list):
        raise InputError(f"--at {name}: {text!r}: write list:[1, 2, 3]")
    return floats(value)


def _cast(name: str, array: np.ndarray, dtype: str | None, text: str) -> np.ndarray:
    """`array` as `dtype`, where no value changes kind (a float is not cut to an int)."""
    if dtype is None:
        return array
    wanted = np.dtype(_PYTHON_TYPES.get(dtype, dtype))
    if not np.can_cast(array.dtype, wanted, casting="same_kind"):
        raise InputError(f"--at {name}: {text!r}: {array.dtype.name} values cannot be "
                         f"made {wanted.name} without changing them")
    return array.astype(wanted)


def _load(name: str, path: str) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"--at {name}: no such file: {path}") from None
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise InputError(f"--at {name}: {path} holds Python objects, which adc does "
                             "not load (loading them could run code)") from None
        raise InputError(f"--at {name}: cannot read {path}: {error}") from None
    except OSError as error:
        raise InputError(f"--at {name}: cannot read {path}: {error}") from None
    if not isinstance(loaded, np.ndarray):  # an .npz archive under a .npy name
        loaded.close()
        raise InputError(f"--at {name}: {path} is not a .npy array file")
    return loaded
