"""The primitive vocabulary: what each primitive means and which callables denote it.

A primitive's meaning is a sympy expression in its operands (`x`, `y`); the rules
module derives tangent and adjoint rules from it.  A callable object found in user
code (``math.sin``, ``np.sin`` under any alias) maps to a primitive and a *family*;
derivative code uses functions of the same family, so ``math.sin`` differentiates
to ``math.cos`` and ``np.sin`` to ``np.cos``.
"""
from __future__ import annotations

import builtins
import math
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import batched, runtime, runtime_linalg
from .custom import stop_gradient

# family -> module whose attributes implement that family's functions
FAMILY_MODULES = {"math": "math", "numpy": "numpy"}


@dataclass
class Primitive:
    name: str
    arity: int
    expr: str | None = None  # meaning in operands x, y (sympy syntax); None if opaque
    nondiff: bool = False  # derivative is zero wherever it exists
    impls: dict[str, str] = field(default_factory=dict)  # family -> attribute name
    partials: tuple[str, ...] | None = None  # given where sympy.diff leaves them unevaluated
    fn: Any = None  # an implementation of its own (a runtime function), for every family


PRIMITIVES: dict[str, Primitive] = {}


def _define(name: str, arity: int, expr: str | None, math_name: str | None = None,
            numpy_name: str | None = None, nondiff: bool = False) -> None:
    impls = {}
    if math_name and hasattr(math, math_name):
        impls["math"] = math_name
    if numpy_name and hasattr(np, numpy_name):
        impls["numpy"] = numpy_name
    PRIMITIVES[name] = Primitive(name, arity, expr, nondiff, impls)


# Operators: printed as Python syntax, no callable of their own.
for _name, _expr in {
    "add": "x + y", "sub": "x - y", "mul": "x * y", "truediv": "x / y",
    "pow": "x ** y", "mod": "Mod(x, y)",
}.items():
    _define(_name, 2, _expr)
PRIMITIVES["mod"].partials = ("1", "-floor(x/y)")  # x % y == x - y*floor(x/y)
# sympy would write d(x**y)/dx as x**y*y/x, which is nan at x = 0
PRIMITIVES["pow"].partials = ("y * x**(y - 1)", "log(x) * x**y")
_define("neg", 1, "-x")
_define("copy", 1, "x")  # a named alias: `x2_bar = x1`
_define("pos", 1, "x")
_define("floordiv", 2, None, nondiff=True)
for _name in ("lt", "le", "gt", "ge", "eq", "ne", "not"):
    _define(_name, 2, None, nondiff=True)

# Elementwise functions: name, meaning, math name, numpy name.
_ELEMENTWISE = [
    ("sin", "sin(x)", "sin", "sin"),
    ("cos", "cos(x)", "cos", "cos"),
    ("tan", "tan(x)", "tan", "tan"),
    ("asin", "asin(x)", "asin", "arcsin"),
    ("acos", "acos(x)", "acos", "arccos"),
    ("atan", "atan(x)", "atan", "arctan"),
    ("sinh", "sinh(x)", "sinh", "sinh"),
    ("cosh", "cosh(x)", "cosh", "cosh"),
    ("tanh", "tanh(x)", "tanh", "tanh"),
    ("asinh", "asinh(x)", "asinh", "arcsinh"),
    ("acosh", "acosh(x)", "acosh", "arccosh"),
    ("atanh", "atanh(x)", "atanh", "arctanh"),
    ("exp", "exp(x)", "exp", "exp"),
    ("exp2", "2**x", "exp2", "exp2"),
    ("expm1", "exp(x) - 1", "expm1", "expm1"),
    ("log", "log(x)", "log", "log"),
    ("log2", "log(x)/log(2)", "log2", "log2"),
    ("log10", "log(x)/log(10)", "log10", "log10"),
    ("log1p", "log(1 + x)", "log1p", "log1p"),
    ("sqrt", "sqrt(x)", "sqrt", "sqrt"),
    ("cbrt", "cbrt(x)", "cbrt", "cbrt"),
    ("square", "x**2", None, "square"),
    ("reciprocal", "1/x", None, "reciprocal"),
    ("abs", "Abs(x)", "fabs", "abs"),
    ("erf", "erf(x)", "erf", None),
    ("erfc", "erfc(x)", "erfc", None),
    ("degrees", "x*180/pi", "degrees", "degrees"),
    ("radians", "x*pi/180", "radians", "radians"),
    ("float", "x", None, None),
]
for _name, _expr, _m, _n in _ELEMENTWISE:
    _define(_name, 1, _expr, _m, _n)

_define("atan2", 2, "atan2(x, y)", "atan2", "arctan2")
_define("maximum", 2, "Max(x, y)", None, "maximum")
_define("minimum", 2, "Min(x, y)", None, "minimum")
# at a tie the first operand takes the derivative, so the two partials add up to 1
PRIMITIVES["maximum"].partials = ("x >= y", "x < y")
PRIMITIVES["minimum"].partials = ("x <= y", "x > y")
_define("logaddexp", 2, "log(exp(x) + exp(y))", None, "logaddexp")
PRIMITIVES["logaddexp"].partials = ("exp(x - Y)", "exp(y - Y)")  # stable: Y is the result
_define("logaddexp2", 2, "log(2**x + 2**y)/log(2)", None, "logaddexp2")
PRIMITIVES["logaddexp2"].partials = ("2**(x - Y)", "2**(y - Y)")
_define("hypot", 2, "sqrt(x**2 + y**2)", "hypot", "hypot")
_define("power", 2, "x ** y", "pow", "power")
PRIMITIVES["power"].partials = PRIMITIVES["pow"].partials
# the exponent's term of x ** k, zero where its weight is (rules.py)
_define("xlogy", 2, "x * log(y)")
PRIMITIVES["xlogy"].fn = runtime.xlogy

# Piecewise-constant functions: zero derivative wherever one exists.
for _name, _m, _n in [
    ("floor", "floor", "floor"), ("ceil", "ceil", "ceil"), ("trunc", "trunc", "trunc"),
    ("sign", None, "sign"), ("round", None, "round"), ("int", None, None),
]:
    _define(_name, 1, None, _m, _n, nondiff=True)


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


def implementation(prim: str, family: str) -> object:
    """The callable that computes `prim` in derivative code of the given family.

    Math functions that do not exist in `math` (sign, ...) and any function needed
    by an operator's rule come from NumPy, which works on scalars and arrays alike.
    """
    if PRIMITIVES[prim].fn is not None:
        return PRIMITIVES[prim].fn
    impls = PRIMITIVES[prim].impls
    if family in ("math", "builtin") and "math" in impls:
        return getattr(math, impls["math"])
    if "numpy" in impls:
        return getattr(np, impls["numpy"])
    if prim == "float":
        return builtins.float
    raise KeyError(f"no implementation of {prim!r} for family {family!r}")


def qualified_name(obj: object) -> tuple[str, str] | None:
    """(module, attribute) under which a callable can be imported, if known."""
    for module_name, module in (("math", math), ("numpy", np), ("builtins", builtins),
                                ("ad_compiler.runtime", runtime),
                                ("ad_compiler.batched", batched),
                                ("ad_compiler.runtime_linalg", runtime_linalg)):
        name = getattr(obj, "__name__", None)
        if name and getattr(module, name, None) is obj:
            return module_name, name
    return None


# ------------------------------------------------------------------ array primitives
@dataclass
class ArrayPrimitive:
    """A NumPy function that is not elementwise: reductions, products, shapes.

    `params` is NumPy's parameter order; `operands` are the positions that carry
    derivatives (an operand may be a list of arrays, as for ``np.concatenate``);
    the other parameters are static: axes, shapes, flags.
    """

    name: str
    fn: Any
    params: tuple[str, ...]
    defaults: dict[str, Any]
    operands: tuple[int, ...]
    variadic: bool = False  # np.einsum(spec, *operands)


ARRAY_PRIMITIVES: dict[str, ArrayPrimitive] = {}
_ARRAY_CALLABLES: dict[int, tuple[object, str]] = {}
_NO_DEFAULT = object()


def _array(name: str, fn: Any, signature: str, *aliases: Any) -> None:
    params, defaults, operands = [], {}, []
    for k, part in enumerate(p.strip() for p in signature.split(",")):
        text, _, default = part.partition("=")
        if text.endswith("*"):
            operands.append(k)
            text = text[:-1]
        params.append(text)
        if default:
            defaults[text] = eval(default, {"np": np})  # noqa: S307 - literals above
    ARRAY_PRIMITIVES[name] = ArrayPrimitive(name, fn, tuple(params), defaults, tuple(operands),
                                            variadic=name == "einsum")
    for obj in (fn, *aliases):
        _ARRAY_CALLABLES[id(obj)] = (obj, name)


_REDUCE = "a*, axis=None, keepdims=False"
for _name in ("sum", "mean", "prod"):
    _array(_name, getattr(np, _name), _REDUCE)
_array("max", np.max, _REDUCE, np.amax)
_array("min", np.min, _REDUCE, np.amin)
_array("var", np.var, "a*, axis=None, ddof=0, keepdims=False")
_array("std", np.std, "a*, axis=None, ddof=0, keepdims=False")
_array("matmul", np.matmul, "x1*, x2*")
_array("dot", np.dot, "a*, b*")
_array("outer", np.outer, "a*, b*")
_array("inner", np.inner, "a*, b*")
_array("einsum", np.einsum, "subscripts, operands*")
_array("transpose", np.transpose, "a*, axes=None")
_array("trace", np.trace, "a*, offset=0, axis1=0, axis2=1")
_array("solve", np.linalg.solve, "a*, b*")
_array("inv", np.linalg.inv, "a*")
_array("det", np.linalg.det, "a*")
_array("slogdet", np.linalg.slogdet, "a*")
_array("norm", np.linalg.norm, "x*, ord=None, axis=None, keepdims=False")
_array("reshape", np.reshape, "a*, shape")
_array("ravel", np.ravel, "a*")
_array("squeeze", np.squeeze, "a*, axis=None")
_array("expand_dims", np.expand_dims, "a*, axis")
_array("swapaxes", np.swapaxes, "a*, axis1, axis2")
_array("broadcast_to", np.broadcast_to, "array*, shape")
_array("concatenate", np.concatenate, "arrays*, axis=0")
_array("stack_arrays", np.stack, "arrays*, axis=0")
_array("hstack", np.hstack, "tup*")
_array("vstack", np.vstack, "tup*")
_array("tile", np.tile, "A*, reps")
_array("repeat", np.repeat, "a*, repeats, axis=None")
_array("array", np.array, "object*, dtype=None", np.asarray, np.asanyarray)
_array("where", np.where, "condition, x*, y*")
_array("full", np.full, "shape, fill_value*, dtype=None")
_array("full_like", np.full_like, "a, fill_value*, dtype=None")
_array("clip", np.clip, "a*, a_min=None, a_max=None")
_array("linspace", np.linspace,
       "start*, stop*, num=50, endpoint=True, retstep=False, dtype=None, axis=0")
_array("arange", np.arange, "start*, stop, step*=None, dtype=None")  # (a lone stop: a call)

# array primitives that give their result a dtype they are told (a cast to integers
# makes them piecewise constant)
CASTING = frozenset({"array", "full", "full_like", "linspace", "arange"})

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


# functions declaring the array primitives of a library once the user's code has
# imported it (SciPy's, in rules_scipy.py): importing ad_compiler imports no SciPy
LATE_DECLARATIONS: list[Any] = []


def lookup_array(obj: object) -> str | None:
    """The array primitive a NumPy function denotes, by identity; None if not one."""
    hit = _ARRAY_CALLABLES.get(id(obj))
    if hit is None and LATE_DECLARATIONS:
        for declare_late in LATE_DECLARATIONS:
            declare_late()
        hit = _ARRAY_CALLABLES.get(id(obj))
    return hit[1] if hit is not None and hit[0] is obj else None
