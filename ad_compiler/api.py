"""The public API: JAX-like names over the compile pipeline.

``grad(f)`` lowers `f` to its trace, transforms it, optimises, generates Python
source and compiles it, once per code object (build.py); the result is the
generated function itself, so calling a gradient costs what the generated code
costs and nothing more.  Array code is wrapped in a `Dispatcher` that compiles it
again for each input signature, with shapes known (dispatch.py).  Jacobians and
Hessians are assembled from sweeps in assemble.py.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import assemble
from .build import Wrt, derivative, with_defaults, wrt_indices
from .lowering import lower


def grad(f: Callable | None = None, wrt: Wrt = 0, mode: str = "reverse", *,
         has_aux: bool = False, argnums: Wrt | None = None) -> Callable:
    """Gradient of a scalar function, as generated Python code.

    Use as ``grad(f)``, ``@grad`` or ``@grad(wrt=("x", "y"), mode="forward")``.
    With a single `wrt` the derivative function returns one value; with a tuple it
    returns a tuple, in the order given.  A gradient has the structure of its input
    (a list, tuple, namedtuple, dict or dataclass of floats and arrays).  `argnums` is
    another name for `wrt`; with `has_aux`, `f` returns ``(value, aux)`` and the
    gradient function returns ``(gradient, aux)``.  The generated code reads global
    values when it runs, but Python functions `f` calls are inlined when it is built:
    after redefining or reloading one, call `grad(f)` again (it rebuilds; a gradient
    object built earlier keeps the helper it inlined).
    """
    wrt = _argnums(wrt, argnums)
    if f is None:
        return functools.partial(grad, wrt=wrt, mode=mode, has_aux=has_aux)
    return derivative(f, "grad_aux" if has_aux else "grad", wrt, mode)


def value_and_grad(f: Callable | None = None, wrt: Wrt = 0, mode: str = "reverse", *,
                   has_aux: bool = False, argnums: Wrt | None = None) -> Callable:
    """Like `grad`, returning ``(value, gradient)`` from one sweep; with `has_aux`,
    ``((value, aux), gradient)``."""
    wrt = _argnums(wrt, argnums)
    if f is None:
        return functools.partial(value_and_grad, wrt=wrt, mode=mode, has_aux=has_aux)
    return derivative(f, "value_and_grad_aux" if has_aux else "value_and_grad", wrt, mode)


def _argnums(wrt: Wrt, argnums: Wrt | None) -> Wrt:
    """`argnums` (JAX's name) stands for `wrt`; giving both is a mistake."""
    if argnums is None:
        return wrt
    if wrt != 0:
        raise TypeError("pass either wrt= or argnums= (the same thing), not both")
    return argnums


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J @ tangents)``, one tangent per positional input."""
    primals, tangents = tuple(primals), tuple(tangents)
    check_tangents(f, primals, tangents)
    full = with_defaults(f, primals)
    tangents += (0.0,) * (len(full) - len(primals))  # parameters left to their defaults
    return derivative(f, "jvp", 0, "forward")(*full, *tangents)



def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """Reverse mode: ``(f(*primals), pullback)``; ``pullback(ybar)`` gives ``ybar @ J``.

    The pullback returns a tuple with one cotangent per input.  For a function
    returning a tuple, `ybar` is a tuple of the same length.
    """
    compiled = derivative(f, "vjp", 0, "reverse")
    value = f(*primals)
    several = compiled._adc_function.returns_tuple_in
    full = with_defaults(f, tuple(primals))

    def pullback(ybar: Any) -> tuple[Any, ...]:
        check_cotangent(f, value, ybar, several)
        seeds = tuple(ybar) if several else (ybar,)
        return compiled(*full, *seeds)[: len(primals)]

    pullback.source = compiled.source
    return value, pullback


def check_tangents(f: Callable, primals: tuple, tangents: tuple) -> None:
    """Refuse tangents that cannot go with `primals` (one per primal, each shaped like
    it), naming the parameter, before generated code fails on them less clearly.
    A tangent of None is allowed: it stands for no tangent for that input."""
    code = getattr(f, "__code__", None)
    if len(primals) != len(tangents) or (code is not None and len(primals) > code.co_argcount):
        names = _parameter_names(f, len(primals))
        if len(primals) > len(names):
            raise TypeError(f"jvp: {_name(f)} takes {len(names)} argument(s) "
                            f"({', '.join(names)}), but {len(primals)} primals were given")
        raise ValueError(f"jvp: {len(primals)} primal(s) were given but {len(tangents)} "
                         f"tangent(s); give one tangent for each of "
                         f"{', '.join(names[:len(primals)])}")
    for k, (primal, tangent) in enumerate(zip(primals, tangents)):
        if _plainly_fits(primal, tangent):
            continue
        problem = _pair_problem(primal, tangent, "")
        if problem is not None:
            name = _parameter_names(f, len(primals))[k]
            raise _pair_error(TypeError if problem[0] == "type" else ValueError,
                              f"jvp: the tangent for parameter {name!r} (position {k})",
                              problem)


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
                              f"vjp: {label[k]} of {_name(f)}", problem)


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


def _pair_error(kind: type, subject: str, problem: tuple[str, str, str, Any]) -> Exception:
    _, path, expected, given = problem
    inside = f" (at {path})" if path else ""
    return kind(f"{subject}{inside} must be {expected}, not {_describe(given)}")


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


def source(f: Callable, mode: str = "reverse", wrt: Wrt = 0, kind: str = "grad",
           at: Sequence[Any] | None = None) -> str:
    """The generated source of a compiled of `f` (`kind`: grad, value_and_grad, jvp, vjp).

    With `at` (arguments of `f`), the source of array code specialised to their shapes
    and dtypes, which is what runs for such arguments."""
    if kind not in ("grad", "value_and_grad", "jvp", "vjp"):
        raise ValueError(f"unknown kind {kind!r}")
    if kind == "jvp":
        mode = "forward"
    elif kind == "vjp":
        mode = "reverse"
    compiled = derivative(f, kind, wrt, mode)
    if at is not None:
        if kind not in ("grad", "value_and_grad"):
            raise ValueError("at= is for kind='grad' or 'value_and_grad'")
        if hasattr(compiled, "source_for"):
            return Source(compiled.source_for(*at))
    return Source(compiled.source)


class Source(str):
    """Generated source: a plain string that notebooks show as highlighted code."""

    def _repr_markdown_(self) -> str:
        return "```python\n" + self + "```"

    def _repr_html_(self) -> str:
        try:
            import pygments
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            import html

            return f"<pre>{html.escape(self)}</pre>"
        return pygments.highlight(self, PythonLexer(), HtmlFormatter(noclasses=True))


def check_grad(f: Callable, *args: Any, wrt: Wrt | None = None, eps: float = 1e-6,
               mode: str = "reverse") -> float:
    """Largest relative error between AD and central differences over the inputs."""
    fn = lower(f)
    if wrt is None:  # every argument passed; parameters left to their defaults stay fixed
        wrt = tuple(range(min(len(args), len(fn.params))))
    indices, _ = wrt_indices(fn, wrt)
    ad = grad(f, wrt=tuple(indices), mode=mode)(*args)
    worst = 0.0
    for k, i in enumerate(indices):
        numeric = _central_difference(f, list(args), i, eps)
        exact = np.asarray(ad[k], dtype=float)
        scale = max(1.0, float(np.max(np.abs(exact))) if exact.size else 1.0)
        error = float(np.max(np.abs(exact - numeric))) / scale if exact.size else 0.0
        worst = max(worst, error)
    return worst


def _central_difference(f: Callable, args: list[Any], i: int, eps: float) -> np.ndarray:
    x = np.asarray(args[i], dtype=float)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        step = eps * max(1.0, abs(float(x[idx])))
        hi[idx] += step
        lo[idx] -= step
        plus = f(*args[:i], hi.item() if x.ndim == 0 else hi, *args[i + 1:])
        minus = f(*args[:i], lo.item() if x.ndim == 0 else lo, *args[i + 1:])
        out[idx] = (plus - minus) / (2 * step)
    return out


def jacobian(f: Callable, wrt: Wrt = 0, mode: str = "auto") -> Callable:
    """The Jacobian of `f` with respect to the input(s) `wrt`, shaped
    ``np.shape(f(...)) + np.shape(x)``.

    ``mode="forward"`` takes one JVP sweep per input element (one vector-mode sweep
    where it can), ``"reverse"`` one VJP sweep per output element; ``"auto"`` picks
    forward when the input has fewer elements than the output.
    """
    return assemble.jacobian_of(f, wrt, mode)


def hessian(f: Callable, wrt: int | str = 0) -> Callable:
    """The Hessian of `f` with respect to one input, by forward mode over reverse mode:
    shaped ``x.shape + x.shape`` for a scalar output, ``y.shape + x.shape + x.shape``
    for an array output `y` (one reverse sweep per element of `y`)."""
    return assemble.hessian_of(f, wrt)
