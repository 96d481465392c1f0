"""Which callables of user code denote which primitives (the primitives themselves are
declared in the registry, ad_compiler/registry/).

A callable object found in user code (``math.sin``, ``np.sin`` under any alias) maps
to a primitive and a *family*; derivative code uses functions of the same family, so
``math.sin`` differentiates to ``math.cos`` and ``np.sin`` to ``np.cos``.
"""
from __future__ import annotations

import builtins
import math
import random
from typing import Any

import numpy as np

from . import (
    batched,
    batched_adjoints,
    batched_products,
    batched_shaping,
    batched_signals,
    batched_statistics,
    runtime,
    runtime_arrays,
    runtime_items,
    runtime_linalg,
    runtime_lists,
    runtime_npmath,
    runtime_products,
    runtime_shapes,
    runtime_slopes,
    runtime_statements,
    runtime_stats,
    runtime_writes,
)
from .custom import stop_gradient
from .registry import REGISTRY, array_primitive, implementation  # noqa: F401  (re-exported)
from .registry.core import array_methods, callable_primitive, loaded_family_modules

# The scalar and elementwise primitives, a view of the registry (array primitives: ask
# the registry, which declares SciPy's when they are first looked up)
PRIMITIVES = {name: p for name, p in REGISTRY.items() if not p.is_array and not p.is_helper}


# Operator primitives: the Python functions computing them (folding, interpreting).
OPERATOR_FUNCTIONS = {name: p.operator for name, p in REGISTRY.items() if p.operator is not None}


def builtin_call_attrs(fn: Any) -> dict[str, Any]:
    """The attributes of a 'call' op for a builtin with no derivative (len, range, ...)."""
    return {"fn": fn, "callee": fn.__name__, "callee_kind": "builtin", "nondiff": True,
            "kwnames": ()}


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
    return callable_primitive(obj)


def qualified_name(obj: object) -> tuple[str, str] | None:
    """(module, attribute) under which a callable can be imported, if known."""
    for module_name, module in (("math", math), ("numpy", np), ("numpy.linalg", np.linalg),
                                ("builtins", builtins),
                                ("ad_compiler.runtime", runtime),
                                ("ad_compiler.runtime_lists", runtime_lists),
                                ("ad_compiler.runtime_arrays", runtime_arrays),
                                ("ad_compiler.runtime_products", runtime_products),
                                ("ad_compiler.runtime_shapes", runtime_shapes),
                                ("ad_compiler.runtime_slopes", runtime_slopes),
                                ("ad_compiler.runtime_statements", runtime_statements),
                                ("ad_compiler.batched", batched),
                                ("ad_compiler.batched_adjoints", batched_adjoints),
                                ("ad_compiler.batched_shaping", batched_shaping),
                                ("ad_compiler.batched_products", batched_products),
                                ("ad_compiler.batched_statistics", batched_statistics),
                                ("ad_compiler.batched_signals", batched_signals),
                                ("ad_compiler.runtime_npmath", runtime_npmath),
                                ("ad_compiler.runtime_linalg", runtime_linalg),
                                ("ad_compiler.runtime_stats", runtime_stats),
                                ("ad_compiler.runtime_items", runtime_items),
                                ("ad_compiler.runtime_writes", runtime_writes),
                                *loaded_family_modules()):  # scipy.special, once imported
        name = getattr(obj, "__name__", None)
        if name and getattr(module, name, None) is obj:
            return module_name, name
    return None


# ndarray methods that mean a NumPy function (declared with its entry: methods=...),
# and attributes
ARRAY_METHODS = array_methods()
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
    np.linalg.matrix_rank,  # an integer: a count of singular values, constant nearby
))


def lookup_array(obj: object) -> str | None:
    """The array primitive a NumPy function denotes, by identity; None if not one."""
    return array_primitive(obj)


_GENERATORS = (np.random.RandomState, np.random.Generator, random.Random)


def draws_anew(op: Any) -> bool:
    """Whether `op` calls a method of a random number generator (``np.random.rand``,
    ``random.gauss``, ``np.random.seed``): called again it gives other numbers, so code
    that would run it twice (a loop's recomputation in its backward loop, probe code
    beside the compiled code) must replay what the first call gave instead."""
    fn = op.attrs.get("fn") if op.prim == "call" else None
    return isinstance(getattr(fn, "__self__", None), _GENERATORS)
