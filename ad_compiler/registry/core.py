"""The registry of primitives: one record per primitive, declared once.

Everything the compiler knows about a primitive is in its `Primitive` record, and
every pass asks the lookups below (``is_linear(name)``, ``get(name).vjp``) rather
than testing names.  Declarations live in the modules of this package, grouped by
subject: `scalar.py` (operators and elementwise functions, derived with sympy),
`reductions.py`, `linalg.py`, `decompositions.py`, `shaping.py`, `creation.py`,
`products.py`, `signals.py`, `statistics.py`, `scans.py` (NumPy functions), `special.py`
(scipy.special's elementwise functions, and the math and NumPy functions declared with
it), `stats.py` (scipy.stats distributions, by name), `helpers.py` (the runtime
functions derivative code calls), and the SciPy modules' `scipy_linalg.py` and
`scipy_special.py` (logsumexp, softmax), imported on first lookup once the user's code
has imported SciPy (`LIBRARY_MODULES`).

Declaring a primitive (one entry, in the module of its subject):

* elementwise, derived by sympy from its meaning in operands ``x``, ``y``::

      elementwise("sin", 1, "sin(x)", math="sin", numpy="sin")
      elementwise("maximum", 2, "Max(x, y)", numpy="maximum",
                  partials=("x >= y", "x < y"))  # where sympy.diff is not wanted

  `piecewise_constant("floor", math="floor", numpy="floor")` for a zero derivative.
  A function of ``scipy.special`` gives ``scipy="expit"`` (and ``scipy_aliases=``); a
  partial given as None refuses the derivative in that operand (an order).
  Other names of it: ``numpy_aliases=("absolute",)``, ``builtin=abs``; an operator
  gives the Python function computing it, ``operator=operator.add``.
* a NumPy function that is not elementwise, with NumPy's signature (``*`` marks the
  parameters that carry derivatives, the others are static)::

      array("sum", np.sum, "a*, axis=None, keepdims=False", linear=True,
            vjp=lambda e, op, g: [...], batched=(batched.batched_sum, ("a", "axis", "keepdims")))
      array("max", np.max, "a*, axis=None, keepdims=False", np.amax, jvp=..., vjp=...)

  `linear=True`: linear in its operands jointly (the JVP is the primitive applied to
  the tangents, the VJP is its transpose); `multilinear=True`: linear in each operand
  separately (a product); otherwise give `jvp(e, op, tangents)`.  `vjp(e, op, g)` gives
  the adjoints of all arguments (None for zero).  `batched` is the vector-mode form
  (a function of batched.py and the parameters it takes); without it vector mode
  applies the primitive one direction at a time.  ``methods=("sum",)``: the ndarray
  methods that mean it; ``variadic=True``: its last parameter takes the remaining
  arguments (``np.einsum(spec, *operands)``); ``subscript=True``: it is called by
  indexing (``np.r_[a, b]``).  An elementwise primitive called with another count of
  arguments (``math.hypot(x, y, z)``) names the primitive that takes it
  (``other_arity="hypot_n"``), declared with ``looked_up=False``.
* a runtime helper of derivative code, linear in the arguments at `linear`::

      helper("unbroadcast", runtime.unbroadcast, linear=(0,), vjp=lambda e, g, a: [...])

  A helper's `vjp(e, g, args)` takes its arguments rather than its op.
* a method of an object of a lazily imported module, recognised by object and function::

      lazy_method("norm_logpdf", ("scipy.stats", "norm", "logpdf"), "x*, loc*=0, scale*=1",
                  jvp=..., vjp=..., elementwise=True)

The rules are written with `Emit` (emit.py): ``e.sum(x, axis=0)``, ``e.helper(...)``.
"""
from __future__ import annotations

import importlib
import math
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# family -> module whose attributes implement that family's functions; the seam where
# a backend (an array-API namespace, Numba) plugs in its own implementations
FAMILY_MODULES: dict[str, Any] = {"math": math, "numpy": np}
# families whose module is imported only when derivative code calls it (SciPy is
# optional and slow to import): family -> module.  Their callables are recognised once
# the user's code has imported the module itself.
LAZY_FAMILY_MODULES: dict[str, str] = {"scipy": "scipy.special"}


@dataclass
class Primitive:
    """What the compiler knows about one primitive."""

    name: str
    module: str = ""  # the declaring module of this package (where to look for its rules)
    # -- scalar and elementwise primitives
    arity: int = 0
    expr: str | None = None  # meaning in operands x, y (sympy syntax); None if opaque
    # given where sympy.diff leaves them unevaluated; None in an operand with no derivative
    partials: tuple[str | None, ...] | None = None
    impls: dict[str, str] = field(default_factory=dict)  # family -> attribute name
    elementwise: bool = False  # the result has its operands' broadcast shape
    operator: Callable | None = None  # the Python operator computing it (folding, interpreting)
    numpy_aliases: tuple[str, ...] = ()  # other NumPy names of it (np.absolute, np.rint)
    scipy_aliases: tuple[str, ...] = ()  # other scipy.special names of it (psi)
    builtin: Any = None  # the Python builtin that denotes it (abs, round, max)
    nondiff: bool = False  # derivative is zero wherever it exists
    other_arity: str | None = None  # the primitive a call with another count of arguments is
    # one correctly rounded IEEE operation per element (+, -, *, /, sqrt): the same value
    # on a row alone as on the row of a whole array (transforms/tape_factors.py)
    rounded_alike: bool = False
    # -- array primitives (NumPy functions that are not elementwise)
    fn: Any = None  # the callable, for every family (array primitives, helpers, xlogy)
    params: tuple[str, ...] = ()  # NumPy's parameter order
    defaults: dict[str, Any] = field(default_factory=dict)
    operands: tuple[int, ...] = ()  # parameters that carry derivatives
    variadic: bool = False  # np.einsum(spec, *operands)
    positional: int = 0  # leading parameters NumPy takes only by position (np.gradient's)
    subscript: bool = False  # called by indexing its first operand: np.r_[a, b]
    is_array: bool = False
    linear: bool = False  # jointly linear in its operands (its VJP is its transpose)
    multilinear: bool = False  # linear in each operand separately (a product)
    casting: bool = False  # gives its result a dtype it is told (integers: constant)
    reduction: bool = False  # a scalar when axis is None and keepdims False
    view: bool = False  # its result may share memory with its first argument
    jvp: Callable | None = None  # array: jvp(e, op, tangents); helper: the same
    vjp: Callable | None = None  # array: vjp(e, op, g); helper: vjp(e, g, args)
    batched: tuple[Callable, tuple[str, ...]] | Callable | None = None  # vector-mode form
    # (a helper's: itself with a last axis of directions on an argument it is linear in,
    # told which by ``directions_in=k`` where it is linear in several)
    methods: tuple[str, ...] = ()  # ndarray methods that mean it (x.sum(), x.flatten())
    # -- runtime helpers that derivative code calls
    is_helper: bool = False
    linear_args: tuple[int, ...] = ()  # a helper's arguments it is linear in
    linear_of: Callable | None = None  # ... where they depend on the op (einsum_adjoint)
    joint: bool = False  # linear in `linear_args` jointly (a sum), not each (a product)
    nonlinear: tuple[int, ...] = ()  # arguments with derivatives through `jvp`/`vjp`
    unsupported: str = ""  # what has no rule among the nonlinear arguments' derivatives
    vmapped: bool = False  # vector mode may apply it one direction at a time
    shaped_like: int | None = None  # the argument whose shape its result has
    container_result: bool | Callable = False  # returns a list or tuple of arrays (or
    # a function of the op saying whether it does: svd's compute_uv)
    float_items: bool = False  # that tuple holds float arrays (w, V = eigh(a): arrays)
    opaque_kind: bool = False  # what its result holds (number, array, list) is not known
    kind_like: int | None = None  # the argument whose kind (number, list) its result has
    float_result: bool = False  # its result is a float or float array (a helper's)
    says_nothing_of_arrays: bool = False  # user code of plain lists may lower to it
    reads_items: bool = False  # reads its first argument's items, as indexing does
    specializable: bool = False  # has a cheaper form once shapes are known (dispatch)
    effects: bool = False  # writes to something (never shared, never dropped)
    # -- methods of objects of a lazily imported module (``scipy.stats.norm.logpdf``):
    # (module, object attribute, method name)
    bound: tuple[str, str, str] | None = None

    @property
    def positions(self) -> tuple[int, ...]:
        """A helper's arguments that carry derivatives."""
        return self.linear_args + self.nonlinear


REGISTRY: dict[str, Primitive] = {}
_NO_DEFAULT = object()


def _add(record: Primitive) -> Primitive:
    if record.name in REGISTRY:
        raise ValueError(f"primitive {record.name!r} is declared twice")
    REGISTRY[record.name] = record
    return record


def _module_of_caller() -> str:
    import sys

    return sys._getframe(2).f_globals.get("__name__", "").rpartition(".")[2]


def _impls(math_name: str | None, numpy_name: str | None,
           scipy_name: str | None = None) -> dict[str, str]:
    impls = {}
    if math_name and hasattr(FAMILY_MODULES["math"], math_name):
        impls["math"] = math_name
    if numpy_name and hasattr(np, numpy_name):
        impls["numpy"] = numpy_name
    if scipy_name:  # not checked: that would import SciPy
        impls["scipy"] = scipy_name
    return impls


def elementwise(name: str, arity: int, expr: str | None, math: str | None = None,
                numpy: str | None = None, *, scipy: str | None = None,
                partials: tuple[str | None, ...] | None = None,
                fn: Any = None, operator: Callable | None = None,
                numpy_aliases: tuple[str, ...] = (), scipy_aliases: tuple[str, ...] = (),
                builtin: Any = None, other_arity: str | None = None) -> Primitive:
    """A scalar or elementwise primitive; its partials are derived from `expr`."""
    return _add(Primitive(name, _module_of_caller(), arity=arity, expr=expr,
                          partials=partials, impls=_impls(math, numpy, scipy), fn=fn,
                          elementwise=True, operator=operator, numpy_aliases=numpy_aliases,
                          scipy_aliases=scipy_aliases, builtin=builtin,
                          other_arity=other_arity))


def piecewise_constant(name: str, arity: int = 1, math: str | None = None,
                       numpy: str | None = None, *, fn: Any = None,
                       operator: Callable | None = None,
                       numpy_aliases: tuple[str, ...] = (), builtin: Any = None) -> Primitive:
    """A primitive whose derivative is zero wherever it exists (floor, comparisons)."""
    return _add(Primitive(name, _module_of_caller(), arity=arity, impls=_impls(math, numpy),
                          fn=fn, nondiff=True, elementwise=True, operator=operator,
                          numpy_aliases=numpy_aliases, builtin=builtin))


def parse_signature(signature: str) -> tuple[tuple[str, ...], dict[str, Any], tuple[int, ...]]:
    """NumPy parameter names, defaults and operand positions of ``"a*, axis=None"``."""
    params, defaults, operands = [], {}, []
    for k, part in enumerate(p.strip() for p in signature.split(",")):
        text, _, default = part.partition("=")
        if text.endswith("*"):
            operands.append(k)
            text = text[:-1]
        params.append(text)
        if default:
            defaults[text] = eval(default, {"np": np})  # noqa: S307 - literals of this package
    return tuple(params), defaults, tuple(operands)


_ARRAY_CALLABLES: dict[int, tuple[object, str]] = {}
# a ufunc's methods are bound anew on every access: (the ufunc, the method's name) -> name
_UFUNC_METHODS: dict[tuple[object, str], str] = {}


def array(name: str, fn: Any, signature: str, *aliases: Any, linear: bool = False,
          multilinear: bool = False, jvp: Callable | None = None,
          vjp: Callable | None = None, batched: tuple | None = None,
          casting: bool = False, reduction: bool = False, view: bool = False,
          container_result: bool | Callable = False, float_items: bool = False,
          elementwise: bool = False, methods: tuple[str, ...] = (),
          operator: Callable | None = None, positional: int = 0,
          subscript: bool = False, variadic: bool = False,
          looked_up: bool = True) -> Primitive:
    """A NumPy function that is not elementwise: reductions, products, shapes."""
    params, defaults, operands = parse_signature(signature)
    record = _add(Primitive(name, _module_of_caller(), fn=fn, params=params,
                            defaults=defaults, operands=operands, variadic=variadic,
                            is_array=True, linear=linear, multilinear=multilinear, jvp=jvp,
                            vjp=vjp, batched=batched, casting=casting, reduction=reduction,
                            view=view, container_result=container_result,
                            float_items=float_items, elementwise=elementwise, methods=methods,
                            operator=operator, positional=positional, subscript=subscript))
    for obj in (fn, *aliases) if looked_up else ():  # else reached through other_arity
        _ARRAY_CALLABLES[id(obj)] = (obj, name)
        if isinstance(getattr(obj, "__self__", None), np.ufunc):  # np.maximum.accumulate
            _UFUNC_METHODS[(obj.__self__, obj.__name__)] = name
    return record


def helper(name: str, fn: Any, linear: tuple[int, ...] = (), vjp: Callable | None = None, *,
           joint: bool = False, nonlinear: tuple[int, ...] = (), jvp: Callable | None = None,
           unsupported: str = "", vmapped: bool = False, nondiff: bool = False,
           shaped_like: int | None = None, container_result: bool = False,
           opaque_kind: bool = False, linear_of: Callable | None = None,
           specializable: bool = False, says_nothing_of_arrays: bool = False,
           elementwise: bool = False, view: bool = False,
           kind_like: int | None = None, reads_items: bool = False,
           float_result: bool = False, batched: Callable | None = None) -> Primitive:
    """A runtime function that derivative code calls, linear in the arguments at `linear`;
    `batched`, its form where an argument it is linear in carries a last axis of
    directions (vector mode and batched reverse mode call it instead of the helper),
    passed ``directions_in=k`` after the helper's arguments where there are several."""
    return _add(Primitive(name, _module_of_caller(), fn=fn, is_helper=True, batched=batched,
                          linear_args=linear, vjp=vjp, joint=joint, nonlinear=nonlinear,
                          jvp=jvp, unsupported=unsupported, vmapped=vmapped, nondiff=nondiff,
                          shaped_like=shaped_like, container_result=container_result,
                          opaque_kind=opaque_kind, linear_of=linear_of,
                          specializable=specializable, elementwise=elementwise, view=view,
                          says_nothing_of_arrays=says_nothing_of_arrays,
                          kind_like=kind_like, reads_items=reads_items,
                          float_result=float_result))


# ------------------------------------------------------------------ lookups

def lazy_method(name: str, bound: tuple[str, str, str], signature: str, *,
                jvp: Callable, vjp: Callable, elementwise: bool = False) -> Primitive:
    """A method of an object of a lazily imported module, ``scipy.stats.norm.logpdf`` as
    ``bound=("scipy.stats", "norm", "logpdf")``, with its parameters as for `array()`.

    Such methods are bound anew on every attribute access, so they are recognised by
    their object and function (`array_primitive()`), once the user's code has imported
    the module; the op calls the user's own bound method, so its value is the library's.
    """
    params, defaults, operands = parse_signature(signature)
    module_name, owner, method = bound
    return _add(Primitive(name, _module_of_caller(), fn=_BoundMethod(bound), params=params,
                          defaults=defaults, operands=operands, is_array=True, jvp=jvp,
                          vjp=vjp, elementwise=elementwise, bound=bound))


class _BoundMethod:
    """Calls ``module.owner.method`` looked up when called (derivative code that applies
    the primitive again, where the user's bound method is not at hand)."""

    def __init__(self, bound: tuple[str, str, str]) -> None:
        self.bound = bound
        self.__name__ = f"{bound[1]}_{bound[2]}"

    def resolve(self) -> Any:
        module_name, owner, method = self.bound
        return getattr(getattr(importlib.import_module(module_name), owner), method)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)


def same_callable(a: object, b: object) -> bool:
    """Whether `a` and `b` are the same callable: identical, or the same function bound
    to the same object (``stats.norm.logpdf`` makes a new bound method on every access)."""
    if a is b:
        return True
    if isinstance(a, types.BuiltinMethodType) and isinstance(b, types.BuiltinMethodType) \
            and isinstance(getattr(a, "__self__", None), np.ufunc):  # np.maximum.accumulate
        return a.__self__ is b.__self__ and a.__name__ == b.__name__
    return (isinstance(a, types.MethodType) and isinstance(b, types.MethodType)
            and a.__self__ is b.__self__ and a.__func__ is b.__func__)


def get(name: str) -> Primitive | None:
    """The record of primitive `name`; None for IR structure (if, for, pack, call, ...)."""
    return REGISTRY.get(name)


def _flag(name: str, attr: str) -> bool:
    record = REGISTRY.get(name)
    return record is not None and bool(getattr(record, attr))


def is_scalar(name: str) -> bool:
    """An operator or elementwise function with a sympy meaning (or piecewise constant)."""
    record = REGISTRY.get(name)
    return record is not None and not record.is_array and not record.is_helper


def has_expr(name: str) -> bool:
    """An elementwise primitive whose partials sympy derives from its meaning."""
    record = REGISTRY.get(name)
    return record is not None and record.expr is not None


def is_array(name: str) -> bool:
    return _flag(name, "is_array")


def is_helper(name: str) -> bool:
    return _flag(name, "is_helper")


def is_rounded_alike(name: str) -> bool:
    return _flag(name, "rounded_alike")


def is_elementwise(name: str) -> bool:
    return _flag(name, "elementwise")


def is_nondiff(name: str) -> bool:
    return _flag(name, "nondiff")


def is_linear(name: str) -> bool:
    return _flag(name, "linear")


def is_multilinear(name: str) -> bool:
    return _flag(name, "multilinear")


def is_casting(name: str) -> bool:
    return _flag(name, "casting")


def is_reduction(name: str) -> bool:
    return _flag(name, "reduction")


def is_view(name: str) -> bool:
    return _flag(name, "view")


# Libraries whose functions are declared on first lookup: library module -> the module
# of this package declaring its primitives, imported once the user's code has imported
# the library (its functions are known by identity, so the library is in sys.modules).
# Importing ad_compiler thus imports none of them.
LIBRARY_MODULES = {"scipy.linalg": "scipy_linalg", "scipy.special": "scipy_special"}
_LIBRARIES_DECLARED: set[str] = set()


def declare_imported_libraries() -> None:
    """Declare the primitives of the libraries of `LIBRARY_MODULES` imported so far."""
    import importlib
    import sys

    for library, module in LIBRARY_MODULES.items():
        if library not in _LIBRARIES_DECLARED and library in sys.modules:
            _LIBRARIES_DECLARED.add(library)
            importlib.import_module(f"{__package__}.{module}")


def array_primitive(obj: object) -> str | None:
    """The array primitive a NumPy or SciPy function denotes, by identity (a bound method
    of a lazily imported module's object by that object and its function); None if not
    one."""
    if isinstance(obj, types.MethodType):
        return _method_primitive(obj)
    if isinstance(obj, types.BuiltinMethodType) and isinstance(getattr(obj, "__self__", None),
                                                              np.ufunc):
        return _UFUNC_METHODS.get((obj.__self__, obj.__name__))
    hit = _ARRAY_CALLABLES.get(id(obj))
    if hit is None and len(_LIBRARIES_DECLARED) < len(LIBRARY_MODULES):
        declare_imported_libraries()
        hit = _ARRAY_CALLABLES.get(id(obj))
    return hit[1] if hit is not None and hit[0] is obj else None


# (id of the object, id of its method's function) -> (the object, the function,
# primitive), for the lazily imported modules that the user's code has imported
_METHODS: dict[tuple[int, int], tuple[object, object, str]] = {}
_METHOD_MODULES_LISTED: set[str] = set()


def _method_primitive(obj: types.MethodType) -> str | None:
    for record in REGISTRY.values():
        if record.bound is None or record.bound[0] in _METHOD_MODULES_LISTED:
            continue
        module = sys.modules.get(record.bound[0])
        if module is None:
            continue
        owner = getattr(module, record.bound[1], None)
        method = getattr(owner, record.bound[2], None)
        if isinstance(method, types.MethodType):
            _METHODS[(id(owner), id(method.__func__))] = (owner, method.__func__, record.name)
    _METHOD_MODULES_LISTED.update(record.bound[0] for record in REGISTRY.values()
                                  if record.bound is not None
                                  and record.bound[0] in sys.modules)
    hit = _METHODS.get((id(obj.__self__), id(obj.__func__)))
    return hit[2] if hit is not None and hit[0] is obj.__self__ and hit[1] is obj.__func__ \
        else None


def operator_function(prim: str) -> Callable | None:
    """The Python operator computing `prim` (``operator.add``), None if it is no operator."""
    record = REGISTRY.get(prim)
    return record.operator if record is not None else None


_CALLABLES: dict[int, tuple[object, str, str]] = {}
_LAZY_LISTED: set[str] = set()  # lazy families whose callables are in _CALLABLES


def _list_lazy_families() -> None:
    """Adds the callables of each lazy family whose module the user's code imported."""
    for family, module_name in LAZY_FAMILY_MODULES.items():
        module = sys.modules.get(module_name)
        if module is None or family in _LAZY_LISTED:
            continue
        _LAZY_LISTED.add(family)
        for record in REGISTRY.values():
            names = [record.impls[family]] if family in record.impls else []
            for attr in names + list(getattr(record, f"{family}_aliases", ())):
                fn = getattr(module, attr, None)
                if fn is not None:
                    _CALLABLES.setdefault(id(fn), (fn, record.name, family))


def callable_primitive(obj: object) -> tuple[str, str] | None:
    """(primitive, family) of an elementwise callable (``math.sin``, ``np.absolute``,
    ``abs``, ``scipy.special.expit`` once imported), by identity; None if unknown."""
    if not _CALLABLES:
        for record in REGISTRY.values():
            for family, attr in record.impls.items():
                if family in FAMILY_MODULES:
                    _CALLABLES[id(getattr(FAMILY_MODULES[family], attr))] = (
                        getattr(FAMILY_MODULES[family], attr), record.name, family)
        for record in REGISTRY.values():
            for attr in record.numpy_aliases:
                if hasattr(np, attr):
                    _CALLABLES[id(getattr(np, attr))] = (getattr(np, attr), record.name, "numpy")
        for record in REGISTRY.values():
            if record.builtin is not None:
                _CALLABLES[id(record.builtin)] = (record.builtin, record.name, "builtin")
    if len(_LAZY_LISTED) < len(LAZY_FAMILY_MODULES):
        _list_lazy_families()
    hit = _CALLABLES.get(id(obj))
    return (hit[1], hit[2]) if hit is not None and hit[0] is obj else None


def array_methods() -> dict[str, str]:
    """ndarray method name -> the array primitive it means (``x.flatten()``: ravel)."""
    return {method: record.name for record in REGISTRY.values() for method in record.methods}


def implementation(prim: str, family: str) -> object:
    """The callable that computes `prim` in derivative code of the given family.

    Math functions that do not exist in `math` (sign, ...) and any function needed by
    an operator's rule come from NumPy, which works on scalars and arrays alike; what
    only a lazy family has (digamma, for math.lgamma) from that family's module.  A
    backend with a namespace of its own adds it to `FAMILY_MODULES` and is asked here.
    """
    record = REGISTRY[prim]
    if record.fn is not None:
        return record.fn
    impls = record.impls
    if family in ("math", "builtin") and "math" in impls:
        return getattr(FAMILY_MODULES["math"], impls["math"])
    if family in impls and family in FAMILY_MODULES:
        return getattr(FAMILY_MODULES[family], impls[family])
    if family in impls and family in LAZY_FAMILY_MODULES:
        return getattr(family_module(family, impls[family]), impls[family])
    if "numpy" in impls:
        return getattr(np, impls["numpy"])
    for other, attr in impls.items():
        if other in LAZY_FAMILY_MODULES:
            return getattr(family_module(other, attr), attr)
    if prim == "float":
        return float
    raise KeyError(f"no implementation of {prim!r} for family {family!r}")


def family_module(family: str, attr: str = "") -> Any:
    """The module of `family`, importing a lazy family's when derivative code first needs
    it (not kept: it is looked up in sys.modules each time).  NotImplementedError, which
    the compiler reports at the user's line, if it is not installed."""
    if family in FAMILY_MODULES:
        return FAMILY_MODULES[family]
    module_name = LAZY_FAMILY_MODULES[family]
    try:
        return importlib.import_module(module_name)
    except ImportError:
        package = module_name.partition(".")[0]
        raise NotImplementedError(f"its derivative calls {module_name}.{attr}, and "
                                  f"{package} is not installed (pip install {package})") from None


def loaded_family_modules() -> list[tuple[str, Any]]:
    """(name, module) of the lazy families' modules the user's code has imported."""
    return [(name, sys.modules[name]) for name in LAZY_FAMILY_MODULES.values()
            if sys.modules.get(name) is not None]
