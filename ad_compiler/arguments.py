"""What the public API checks of the arguments it is given: tangents that fit their
primals, cotangents that fit the output, and which jvp inputs carry a tangent at all.

A mismatch is reported naming the parameter (or the output) before generated code
fails on it less clearly."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def carries_tangent(primal: Any, tangent: Any) -> bool:
    """Whether a jvp input is differentiated: not with a tangent of None, nor an int,
    bool or integer array with a zero tangent (an exponent, a count, a flag: their
    terms would be ``0 * something`` that is nan where `something` is).  An integer
    given a nonzero tangent is differentiated as the number it is."""
    if tangent is None:
        return False
    integral = isinstance(primal, (bool, int, np.integer, np.bool_)) or (
        isinstance(primal, np.ndarray) and primal.dtype.kind in "biu")
    if not integral:
        return True
    try:
        return bool(np.any(np.asarray(tangent) != 0))
    except (TypeError, ValueError):  # a tangent NumPy cannot compare: left to the caller
        return True


def argument_tuple(values: Any, what: str) -> tuple:
    """jvp's primals or tangents as a tuple, one item per parameter.  Anything but a
    tuple or list is refused: a single array would be taken apart row by row."""
    if isinstance(values, (tuple, list)):
        return tuple(values)
    raise TypeError(f"jvp takes its {what} as a tuple with one item per parameter, not "
                    f"{_describe(values)}: write adc.jvp(f, (x,), (t,)) for a function of "
                    "one argument")


def check_tangents(f: Callable, primals: tuple, tangents: tuple) -> None:
    """Refuse tangents that cannot go with `primals` (one per primal, each shaped like
    it), naming the parameter, before generated code fails on them less clearly.
    A tangent of None is allowed: it stands for no tangent for that input."""
    code = getattr(f, "__code__", None)
    if len(primals) != len(tangents) or (code is not None and len(primals) > code.co_argcount):
        names = _parameter_names(f, len(primals))
        if len(primals) > len(names):
            raise TypeError(f"jvp: {_name(f)} takes {len(names)} argument(s) "
                            f"({', '.join(names)}), but {len(primals)} primals were given; "
                            "give one primal for each parameter")
        raise ValueError(f"jvp: {len(primals)} primal(s) were given but {len(tangents)} "
                         f"tangent(s); give one tangent for each of "
                         f"{', '.join(names[:len(primals)])} (None for an input that has "
                         "no tangent)")
    for k, (primal, tangent) in enumerate(zip(primals, tangents)):
        if _plainly_fits(primal, tangent):
            continue
        problem = _pair_problem(primal, tangent, "")
        if problem is not None:
            name = _parameter_names(f, len(primals))[k]
            raise _pair_error(TypeError if problem[0] == "type" else ValueError,
                              f"jvp: the tangent for parameter {name!r} (position {k})",
                              problem, "a tangent has the shape and structure of its "
                                       "primal; pass None for no tangent for that input")


def check_cotangent(f: Callable, value: Any, ybar: Any, several: bool) -> None:
    """Refuse a cotangent that cannot go with the output `value` of `f` (each item
    shaped like the output it stands for), before generated code fails on it."""
    if not several:
        outputs, cotangents, label = [value], [ybar], ["the cotangent for the output"]
    else:
        if not isinstance(ybar, (tuple, list)) or len(ybar) != len(value):
            raise ValueError(f"vjp: {_name(f)} returns a tuple of {len(value)} values, so "
                             f"its pullback takes a tuple of {len(value)} cotangents, not "
                             f"{_describe(ybar)}")
        outputs, cotangents = list(value), list(ybar)
        label = [f"the cotangent of output {k}" for k in range(len(value))]
    for k, (out, given) in enumerate(zip(outputs, cotangents)):
        if _plainly_fits(out, given):
            continue
        problem = ("type", "", _expected(out), given) if given is None else \
            _pair_problem(out, given, "")
        if problem is not None:
            raise _pair_error(TypeError if problem[0] == "type" else ValueError,
                              f"vjp: {label[k]} of {_name(f)}", problem,
                              "the pullback takes a cotangent with the shape and structure "
                              "of the value vjp returned (zeros for an output that has none)")


def check_direction(f: Callable, primal: Any, v: Any, name: str) -> None:
    """Refuse a vector of a Hessian-vector product that cannot go with the input
    `primal` (parameter `name` of `f`): it has the input's structure and shapes."""
    if _plainly_fits(primal, v):
        return
    problem = ("type", "", _expected(primal), v) if v is None else _pair_problem(primal, v, "")
    if problem is not None:
        raise _pair_error(TypeError if problem[0] == "type" else ValueError,
                          f"hvp: the vector v for parameter {name!r} of {_name(f)}", problem,
                          "v has the shape and structure of the input the Hessian is "
                          "taken with respect to")


def _plainly_fits(primal: Any, given: Any) -> bool:
    """The common cases, decided without NumPy calls: a float with a float, an array
    with a real array of its shape (the check runs on every call)."""
    if type(given) is float:
        return type(primal) is float
    return (type(given) is np.ndarray and type(primal) is np.ndarray
            and given.shape == primal.shape and given.dtype.kind in "fiu")


def _pair_problem(primal: Any, given: Any, path: str) -> tuple[str, str, str, Any] | None:
    """What is wrong with `given` as a tangent (or cotangent) of `primal`: (type or
    shape, where inside it, what was expected, what was given), or None."""
    if given is None:
        return None
    if isinstance(primal, (list, tuple)):
        if not isinstance(given, (list, tuple)) or len(given) != len(primal):
            return "type", path, _expected(primal), given
        for k, (p, g) in enumerate(zip(primal, given)):
            problem = _pair_problem(p, g, f"{path}[{k}]")
            if problem is not None:
                return problem
        return None
    if isinstance(primal, dict):
        if not isinstance(given, dict) or set(given) != set(primal):
            return "type", path, _expected(primal), given
        for key, p in primal.items():
            problem = _pair_problem(p, given[key], f"{path}[{key!r}]")
            if problem is not None:
                return problem
        return None
    if not _is_real(primal) and not isinstance(primal, np.ndarray):
        return None  # an object of the user's own: the generated code decides
    if not _is_real(given) and not (isinstance(given, np.ndarray) and given.dtype.kind in "fiu"):
        return "type", path, _expected(primal), given
    if np.shape(given) != np.shape(primal):
        return "shape", path, _expected(primal), given
    return None


def _pair_error(kind: type, subject: str, problem: tuple[str, str, str, Any],
                rule: str) -> Exception:
    _, path, expected, given = problem
    inside = f" (at {path})" if path else ""
    return kind(f"{subject}{inside} must be {expected}, not {_describe(given)}: {rule}")


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def _expected(primal: Any) -> str:
    if isinstance(primal, (list, tuple)):
        return f"a {type(primal).__name__} of {len(primal)} item(s), one for each of its items"
    if isinstance(primal, dict):
        return f"a dict with the keys {sorted(map(str, primal))}"
    if np.ndim(primal) == 0:
        return "a number (shape ())"
    return f"an array of shape {np.shape(primal)}"


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    if value is None:
        return "None"
    return f"{type(value).__name__} {value!r}"[:80]


def _parameter_names(f: Callable, n_given: int) -> list[str]:
    code = getattr(f, "__code__", None)
    if code is None:
        return [f"argument {k}" for k in range(n_given)]
    return list(code.co_varnames[:code.co_argcount])


def _name(f: Callable) -> str:
    return getattr(f, "__name__", repr(f))
