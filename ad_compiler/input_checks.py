"""The entry check of exported code specialised to its inputs' shapes.

`adc export --shapes` writes gradients whose code has the shapes, dtypes and int
values of its inputs compiled in (``0.2 * (out - Y)`` for a mean over 5 rows); given
other inputs it would return wrong numbers without noticing.  Each such function
starts by calling `check_inputs`, which the exported module carries a copy of, so
this module needs nothing but NumPy.

An expected input is ``("array", shape, dtype name)``, ``("float",)``,
``("int", value)``, ``("sequence", type name, [items])`` or ``("value", value)``.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def check_inputs(function: str, expected: dict[str, tuple], *values: Any) -> None:
    """Refuse inputs unlike those the code was specialised to, naming the first one."""
    for (name, wanted), value in zip(expected.items(), values):
        if not input_fits(value, wanted):
            raise ValueError(f"{function}: {name} must be {shown_input(wanted)}, the input "
                             f"this code was specialised to (adc export --shapes), not "
                             f"{given_input(value)}")


def input_fits(value: Any, wanted: tuple) -> bool:
    kind = wanted[0]
    if kind == "array":
        return type(value) is np.ndarray and value.shape == wanted[1] and value.dtype == wanted[2]
    if kind == "float":
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_))
    if kind == "int":
        return isinstance(value, (int, np.integer)) and not isinstance(
            value, (bool, np.bool_)) and value == wanted[1]
    if kind == "sequence":
        return (type(value).__name__ == wanted[1] and len(value) == len(wanted[2])
                and all(input_fits(v, w) for v, w in zip(value, wanted[2])))
    return type(value) is type(wanted[1]) and value == wanted[1]


def shown_input(wanted: tuple) -> str:
    kind = wanted[0]
    if kind == "array":
        return f"an array of shape {wanted[1]} and dtype {wanted[2]}"
    if kind == "float":
        return "a number"
    if kind == "int":
        return f"the int {wanted[1]}"
    if kind == "sequence":
        items = ", ".join(shown_input(w) for w in wanted[2])
        return f"a {wanted[1]} of {len(wanted[2])} item(s) ({items})"
    return repr(wanted[1])


def given_input(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    return f"{type(value).__name__} {value!r}"[:80]
