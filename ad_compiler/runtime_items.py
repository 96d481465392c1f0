"""Run-time helpers of the loops comprehensions and the builtins consuming an iterable
are lowered to (lowering/comprehensions.py): the checks and orders ``max``, sets and
dicts need, the gradient of a list from the adjoints of its items, and
``builtins.sum``'s value beside a generated running total."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .runtime import (
    AdjointMap,
    Adjoints,
    IndexUpdate,
    _is_zero,
    as_gradient,
    densify,
    fields_of,
    zeros_of,
)
from .runtime_lists import items_of_t


def check_nonempty(empty: bool, what: str) -> None:
    """Raise as ``max()``, ``min()`` and ``functools.reduce`` raise for no items."""
    if not empty:
        return
    if what == "reduce":
        raise TypeError("reduce() of empty iterable with no initial value")
    raise ValueError(f"{what}() arg is an empty sequence")


def extremum_position(keys: list, what: str, has_default: bool = False) -> int:
    """Where ``max(xs, key=f)`` (``min``) finds its item, given the keys ``f(x)``: the
    first of the largest (smallest), by the builtin's own comparisons; -1 for no items
    where a default was given, else it raises as the builtin raises."""
    if not keys:
        if has_default:
            return -1
        raise ValueError(f"{what}() arg is an empty sequence")
    choose = max if what == "max" else min
    return choose(range(len(keys)), key=keys.__getitem__)


def check_unpacked(items: Any, count: int, starred: bool = False) -> None:
    """Raise as ``a, b = items`` raises when `items` has not `count` items (at least
    `count` with a starred name, ``a, *rest = items``): the names are then taken item
    by item, which would otherwise run with too many."""
    n = len(items)
    if starred and n < count:
        raise ValueError(f"not enough values to unpack (expected at least {count}, got {n})")
    if starred:
        return
    if n > count:
        raise ValueError(f"too many values to unpack (expected {count})")
    if n < count:
        raise ValueError(f"not enough values to unpack (expected {count}, got {n})")


def set_order(items: Any) -> list[int]:
    """The positions of the distinct items of `items` (the first of equal ones) in the
    order a set of them visits its items (``sum({f(x) for x in xs})``)."""
    first: dict[Any, int] = {}
    for k, v in enumerate(items):
        first.setdefault(v, k)
    return [first[v] for v in set(items)]


def dict_key(key: Any) -> Any:
    """A dict comprehension's key, which carries no derivative (the dict is looked up by
    its value): the key itself."""
    return key


def dict_of(keys: Any, values: Any) -> dict:
    """The dict a dict comprehension makes from its keys and values, in order."""
    return dict(zip(keys, values))


def dict_of_t(g: Any, keys: Any, values: Any) -> Any:
    """The adjoint of the values in ``dict_of(keys, values)``: each key's adjoint goes
    to its last value (the one the dict keeps), zeros to the values it overwrote."""
    g = densify(g, dict_of(keys, values))
    last = {k: i for i, k in enumerate(keys)}
    return Adjoints(g[k] if last[k] == i else zeros_of(v)
                    for i, (k, v) in enumerate(zip(keys, values)))


def items_gradient(acc: Any, x: Any) -> Any:
    """``as_gradient(items_of_t(acc, x), x)`` where `acc`, the adjoints of the items of
    `x` that backward loops added into, was made by ``zero_items(items_of(x))``.  That
    makes a plain list only for a list or tuple of floats, so for a list `x` only the
    adjoints need a look: each must still be a float (not an array or NumPy scalar)."""
    if type(acc) is list and type(x) is list and len(acc) == len(x) and _still_floats(acc):
        return acc[:]
    return as_gradient(items_of_t(acc, x), x)


def _still_floats(acc: list) -> bool:
    """Whether the items of `acc`, floats that code added numbers into (``acc[i] += g``),
    are all still floats, asked of builtins.sum at the speed of its float loop: adding a
    NumPy scalar, an array or a complex number into a float gives that type instead, and
    the sum of the items then has it too."""
    try:
        return type(sum(acc)) is float
    except Exception:  # arrays of shapes that do not broadcast together
        return False


# ------------------------------------------------------------------ builtins.sum's value

# From Python 3.12 on, builtins.sum compensates the rounding of a sum of floats
# (Neumaier's algorithm): its value is not that of adding the items in turn.  A
# generated running total ``total = total + item`` carries the derivative, and the
# value is builtins.sum's own, of the items the loop adds (lowering/comprehensions.py).
COMPENSATED_SUM = sum([0.1] * 10) == 1.0  # (adding in turn gives 0.9999999999999999)


def sum_value(total: Any, exact: Any) -> Any:
    """``exact`` (builtins.sum's value) as the value of the running total `total`, whose
    derivative it has."""
    return exact


def check_condition(condition: Any, k: int, where: str) -> None:
    """``np.select`` is compiled as ``np.where``, which takes any condition; NumPy's
    select takes boolean ones only, and so does its compiled form."""
    if getattr(np.asarray(condition), "dtype", None) != np.bool_:
        raise TypeError(f"{where}\ninvalid entry {k} in condlist: should be boolean ndarray")


def check_dict(value: Any, spelling: str, where: str) -> None:
    """``dict(d)`` and ``{**d}`` are differentiated as copies of a dict: `d` must be one
    (``dict(pairs)`` builds a dict from a list, which is something else)."""
    if not isinstance(value, dict):
        raise TypeError(f"{where}\n{spelling} is differentiated as a copy of a dict, so its "
                        f"argument must be a dict here, not a {type(value).__name__} (build "
                        "the dict outside the differentiated function, or write a display)")


def check_dict_argument(value: Any, spelling: str, where: str) -> None:
    """``d.update(other)`` is differentiated as the writes of `other`'s items: `other`
    must be a dict (of pairs, it would be read as something else)."""
    if not isinstance(value, dict):
        raise TypeError(f"{where}\n{spelling} is differentiated as the writes of a dict's "
                        f"items, so its argument must be a dict here, not a "
                        f"{type(value).__name__} (write a display, or pass a dict)")


def has_key(d: Any, key: Any, spelling: str, where: str) -> bool:
    """``key in d``, which decides what ``d.get(k, default)``, ``d.setdefault(k, v)``
    and ``d.pop(k, default)`` read or write; they are differentiated as a dict's."""
    if not isinstance(d, dict):
        raise TypeError(f"{where}\n{spelling} is differentiated as a dict's method, so it "
                        f"must be called on a dict here, not on a {type(d).__name__}")
    return key in d


# ------------------------------------------------------------------ records: namedtuples, dataclasses

def record_key(record: Any, name: str) -> Any:
    """Where a record's adjoint keeps field `name`: a namedtuple's by place (its adjoint
    is a list), a dataclass's by name (a dict)."""
    fields = getattr(type(record), "_fields", None)
    return fields.index(name) if isinstance(record, tuple) and fields is not None else name


def check_fields(record: Any, names: tuple, *values: Any, where: str = "") -> None:
    """A record made in the differentiated function holds the values it was given: its
    fields' derivatives are theirs.  A class whose ``__init__`` or ``__new__`` changes
    them (``self.w = np.asarray(w)``) is refused, naming the statement."""
    for name, value in zip(names, values):
        if getattr(record, name) is not value:
            raise TypeError(f"{where}\n{type(record).__name__} keeps something else than "
                            f"the value given for its field {name!r}, which the derivative "
                            "cannot follow (build the record from values it keeps as "
                            "they are)")


def replaced(record: Any, how: str, names: tuple, *values: Any) -> Any:
    """``record._replace(**changes)`` (a namedtuple's) or ``dataclasses.replace(record,
    **changes)``, as the user called it, checked to keep the values it was given."""
    import dataclasses

    changes = dict(zip(names, values))
    if how == "_replace":
        new = record._replace(**changes)
    else:
        new = dataclasses.replace(record, **changes)
    check_fields(new, names, *values, where=f"{type(record).__name__}: {how}()")
    for name in _fields_of_record(record):
        if name not in changes and getattr(new, name) is not getattr(record, name):
            raise TypeError(f"{type(record).__name__}: {how}() makes field {name!r} anew "
                            "(__post_init__ or a hand-written __init__), which the "
                            "derivative cannot follow")
    return new


def _fields_of_record(record: Any) -> list[str]:
    fields = getattr(type(record), "_fields", None)
    if isinstance(record, tuple) and fields is not None:
        return list(fields)
    return fields_of(record) or []


def with_fields(record: Any, names: tuple, *values: Any) -> Any:
    """A copy of `record` holding `values` at the fields `names`, its class's
    ``__init__`` not run again: the tangent of a record made or replaced, from a record
    of zeros."""
    if isinstance(record, tuple):
        return record._replace(**dict(zip(names, values)))
    out = copy.copy(record)
    for name, value in zip(names, values):
        object.__setattr__(out, name, value)
    return out


def replaced_t(g: Any, record: Any, names: tuple) -> Any:
    """The adjoint of the record given to `replaced`: the new record's adjoint `g`, but
    zero at the fields replaced (what they held did not reach the result)."""
    if _is_zero(g):
        return g
    if isinstance(g, IndexUpdate):
        g = densify(g, record)
    keys = [record_key(record, n) for n in names]
    if isinstance(g, dict):
        return AdjointMap({k: 0.0 if k in keys else v for k, v in g.items()})
    return Adjoints(0.0 if k in keys else v for k, v in enumerate(g))


def field_of(g: Any, record: Any, name: str) -> Any:
    """The part of a record's adjoint `g` at field `name` (zero where none flowed)."""
    if _is_zero(g):
        return 0.0
    if isinstance(g, IndexUpdate):
        g = densify(g, record)
    return g[record_key(record, name)]
