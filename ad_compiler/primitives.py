"""Which callables of user code denote which primitives (the primitives themselves are
declared in the registry, ad_compiler/registry/).

A callable object found in user code (``math.sin``, ``np.sin`` under any alias) maps
to a primitive and a *family*; derivative code uses functions of the same family, so
``math.sin`` differentiates to ``math.cos`` and ``np.sin`` to ``np.cos``.
"""
from __future__ import annotations

import builtins
import math
import operator
from typing import Any

import numpy as np

from . import batched, runtime
from .custom import stop_gradient
from .registry import REGISTRY, array_primitive, implementation  # noqa: F401  (re-exported)

# The scalar and elementwise primitives and the array primitives, as views of the registry
PRIMITIVES = {name: p for name, p in REGISTRY.items() if not p.is_array and not p.is_helper}
ARRAY_PRIMITIVES = {name: p for name, p in REGISTRY.items() if p.is_array}


# Operator primitives: the Python functions computing them (folding, interpreting).
OPERATOR_FUNCTIONS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul,
    "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
    "pow": operator.pow, "matmul": operator.matmul, "neg": operator.neg,
    "pos": operator.pos, "not": operator.not_, "lt": operator.lt, "le": operator.le,
    "gt": operator.gt, "ge": operator.ge, "eq": operator.eq, "ne": operator.ne,
}


def builtin_call_attrs(fn: Any) -> dict[str, Any]:
    """The attributes of a 'call' op for a builtin with no derivative (len, range, ...)."""
    return {"fn": fn, "callee": fn.__name__, "callee_kind": "builtin", "nondiff": True,
            "kwnames": ()}


# callable object -> (primitive, family); built once, looked up by identity.
def _build_callable_table() -> dict[int, tuple[object, str, str]]:
    table: dict[int, tuple[object, str, str]] = {}

    def add(obj: object, prim: str, family: str) -> None:
        table[id(obj)] = (obj, prim, family)

    for prim in PRIMITIVES.values():
        for family, attr in prim.impls.items():
            module = math if family == "math" else np
            add(getattr(module, attr), prim.name, family)
    # numpy aliases and operator-like ufuncs
    for attr, prim in [("absolute", "abs"), ("fabs", "abs"), ("rad2deg", "degrees"),
                       ("deg2rad", "radians"), ("add", "add"), ("subtract", "sub"),
                       ("multiply", "mul"), ("divide", "truediv"),
                       ("true_divide", "truediv"), ("negative", "neg"),
                       ("positive", "pos"), ("floor_divide", "floordiv"),
                       ("rint", "round"), ("fix", "trunc")]:
        if hasattr(np, attr):
            add(getattr(np, attr), prim, "numpy")
    add(builtins.abs, "abs", "builtin")
    add(builtins.pow, "power", "builtin")
    add(builtins.float, "float", "builtin")
    add(builtins.int, "int", "builtin")
    add(builtins.round, "round", "builtin")
    add(builtins.max, "maximum", "builtin")
    add(builtins.min, "minimum", "builtin")
    return table


_CALLABLES = _build_callable_table()

# Builtins that never carry a derivative: called as they are, results are constants.
# (Not str or repr: float(str(x)) is x again.)
NONDIFF_BUILTINS = frozenset(
    id(f) for f in (builtins.len, builtins.range, builtins.bool, builtins.isinstance,
                    builtins.print, builtins.type, stop_gradient)
)


# Aliases NumPy deprecates, and the function each stands for (same values, same types):
# derivative code calls the latter and does not repeat the warning the user's call gives.
_DEPRECATED_ALIASES = {"fix": "trunc"}
_REPLACEMENTS = {id(getattr(np, old)): (getattr(np, old), getattr(np, new))
                 for old, new in _DEPRECATED_ALIASES.items() if hasattr(np, old)}


def callable_to_emit(obj: object) -> object:
    """What derivative code calls for a callable of the user's code: itself, or for a
    deprecated alias (``np.fix``) the function it stands for (``np.trunc``)."""
    hit = _REPLACEMENTS.get(id(obj))
    return hit[1] if hit is not None and hit[0] is obj else obj


def lookup_callable(obj: object) -> tuple[str, str] | None:
    """(primitive, family) for a callable object, by identity; None if unknown."""
    hit = _CALLABLES.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1], hit[2]
    return None


def qualified_name(obj: object) -> tuple[str, str] | None:
    """(module, attribute) under which a callable can be imported, if known."""
    for module_name, module in (("math", math), ("numpy", np), ("builtins", builtins),
                                ("ad_compiler.runtime", runtime),
                                ("ad_compiler.batched", batched)):
        name = getattr(obj, "__name__", None)
        if name and getattr(module, name, None) is obj:
            return module_name, name
    return None


# ndarray methods and attributes that mean the NumPy function of the same name
ARRAY_METHODS = {
    "sum": "sum", "mean": "mean", "prod": "prod", "max": "max", "min": "min", "var": "var",
    "std": "std", "dot": "dot", "transpose": "transpose", "trace": "trace",
    "reshape": "reshape", "ravel": "ravel", "flatten": "ravel", "squeeze": "squeeze",
    "swapaxes": "swapaxes", "repeat": "repeat", "clip": "clip", "astype": "array",
}
ARRAY_ATTRIBUTES = {"T": "transpose", "shape": np.shape, "ndim": np.ndim, "size": np.size,
                    "dtype": np.result_type}

# NumPy functions whose results are piecewise constant in every argument: shapes,
# constants, indices, tests (np.linspace and np.arange are not: they have rules)
NONDIFF_NUMPY = frozenset(id(f) for f in (
    np.shape, np.ndim, np.size, np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like,
    np.empty_like, np.eye, np.identity, np.argmax, np.argmin,
    np.argsort, np.nonzero, np.flatnonzero, np.isnan, np.isinf, np.isfinite, np.all, np.any,
    np.count_nonzero, np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
    np.result_type, np.searchsorted, np.allclose, np.isclose, np.array_equal,
    np.tril_indices, np.triu_indices, np.diag_indices, np.indices, np.ix_,
))


def lookup_array(obj: object) -> str | None:
    """The array primitive a NumPy function denotes, by identity; None if not one."""
    return array_primitive(obj)
