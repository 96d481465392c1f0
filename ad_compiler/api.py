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

from . import assemble, hessians
from .arguments import argument_tuple, carries_tangent, check_cotangent, check_tangents
from .build import (
    Wrt,
    bound_as_called,
    derivative,
    lowered,
    method_parts,
    unshared,
    with_defaults,
    wrt_indices,
)
from .differences import by_parameter, relative_error
from .errors import ADCompileError
from .frontend import load
from .hvp import hvp_of
from .lowering.core import has_packed_signature
from .transforms.common import refuse_draws


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
    kind = "grad_aux" if has_aux else "grad"
    return bound_as_called(f, kind, derivative(f, kind, wrt, mode))


def value_and_grad(f: Callable | None = None, wrt: Wrt = 0, mode: str = "reverse", *,
                   has_aux: bool = False, argnums: Wrt | None = None) -> Callable:
    """Like `grad`, returning ``(value, gradient)`` from one sweep; with `has_aux`,
    ``((value, aux), gradient)``."""
    wrt = _argnums(wrt, argnums)
    if f is None:
        return functools.partial(value_and_grad, wrt=wrt, mode=mode, has_aux=has_aux)
    kind = "value_and_grad_aux" if has_aux else "value_and_grad"
    return bound_as_called(f, kind, derivative(f, kind, wrt, mode))


def _argnums(wrt: Wrt, argnums: Wrt | None) -> Wrt:
    """`argnums` (JAX's name) stands for `wrt`; giving both is a mistake."""
    if argnums is None:
        return wrt
    if wrt != 0:
        raise TypeError("pass either wrt= or argnums= (the same thing), not both")
    return argnums


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J @ tangents)``, one tangent per positional input."""
    primals, tangents = argument_tuple(primals, "primals"), argument_tuple(tangents, "tangents")
    _takes_positional(f, "jvp")
    func, instance, _ = method_parts(f, 0)
    if instance is not None:  # a bound method: `self` carries no tangent
        check_tangents(f, primals, tangents)
        return jvp(func, (instance, *primals), (None, *tangents))
    check_tangents(f, primals, tangents)
    full = with_defaults(f, primals)
    tangents += (None,) * (len(full) - len(primals))  # parameters left to their defaults
    active = tuple(i for i, (x, t) in enumerate(zip(full, tangents)) if carries_tangent(x, t))
    wrt = 0 if len(active) == len(full) else active  # 0: every parameter (shared cache entry)
    compiled = derivative(f, "jvp", wrt, "forward")
    return compiled(*full, *(tangents[i] for i in active))


def vjp(f: Callable, *primals: Any, wrt: Wrt | None = None) -> tuple[Any, Callable]:
    """Reverse mode: ``(f(*primals), pullback)``; ``pullback(ybar)`` gives ``ybar @ J``.

    The pullback returns a tuple with one cotangent per input, or, with `wrt` (an index,
    a name, or a tuple of them), per input named there, in that order: then only values
    that depend on those inputs get adjoints.  For a function returning a tuple, `ybar`
    is a tuple of the same length.  ``pullback(ybars, batched=True)`` takes a stack of
    cotangents on a leading axis (shaped ``(k, *y.shape)``) and returns each input's
    stack of k cotangents (for a container input, each of its leaves with that leading
    axis), from one batched sweep (batched reverse mode).
    """
    _takes_positional(f, "vjp")
    func, instance, func_wrt = method_parts(f, 0 if wrt is None else wrt)
    if instance is not None:  # a bound method: no cotangent for `self`
        if wrt is not None:
            return vjp(func, instance, *primals, wrt=func_wrt)
        value, pullback_all = vjp(func, instance, *primals)

        def pullback_method(ybar: Any, batched: bool = False) -> tuple[Any, ...]:
            return pullback_all(ybar, batched=batched)[1:]

        pullback_method.source = pullback_all.source
        return value, pullback_method
    wanted = 0 if wrt is None else tuple(wrt_indices(lowered(f), wrt)[0])
    compiled = derivative(f, "vjp", wanted, "reverse")
    value = f(*unshared(compiled._adc_function, primals))
    several = compiled._adc_function.returns_tuple_in
    full = with_defaults(f, tuple(primals))
    positions = list(range(len(primals))) if wrt is None else list(wanted)

    def pullback(ybar: Any, batched: bool = False) -> tuple[Any, ...]:
        if batched:  # ybar: a stack of cotangents on a leading axis
            return assemble.batched_pullback(f, pullback, value, ybar, several, full,
                                             wanted, positions)
        check_cotangent(f, value, ybar, several)
        seeds = tuple(ybar) if several else (ybar,)
        return compiled(*full, *seeds)[:len(positions)]

    pullback.source = compiled.source
    return value, pullback


def source(f: Callable, mode: str = "reverse", wrt: Wrt | None = None, kind: str = "grad",
           at: Sequence[Any] | None = None) -> str:
    """The generated source of a compiled of `f` (`kind`: grad, value_and_grad, jvp, vjp,
    or vjp_batched: the pullback of many cotangents on a last axis, which batched
    reverse mode runs).

    `wrt` is as for `grad` (the first input when not given).  For jvp and vjp it names
    the inputs that carry tangents or cotangents, as `adc.vjp`'s does (only values that
    depend on them get derivatives); not given, every input.

    With `at` (arguments of `f`), the source of array code specialised to their shapes
    and dtypes, which is what runs for such arguments."""
    if kind not in ("grad", "value_and_grad", "jvp", "vjp", "vjp_batched"):
        raise ValueError(f"unknown kind {kind!r}")
    if kind == "jvp":
        mode = "forward"
    elif kind in ("vjp", "vjp_batched"):
        mode = "reverse"
    if kind in ("jvp", "vjp", "vjp_batched"):  # 0 stands for every input there
        wrt = 0 if wrt is None else tuple(wrt_indices(lowered(f), wrt)[0])
    compiled = derivative(f, kind, 0 if wrt is None else wrt, mode)
    if at is not None:
        if kind not in ("grad", "value_and_grad"):
            raise ValueError("at= is for kind='grad' or 'value_and_grad'")
        if hasattr(compiled, "source_for"):
            return Source(compiled.source_for(*at))
    return Source(compiled.source)


class Source(str):
    """Generated source: a plain string that notebooks show as highlighted code, and a
    terminal (the Python or IPython prompt) as code rather than a quoted string."""

    def __repr__(self) -> str:
        return str.__str__(self).rstrip("\n")

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
    """Largest relative error between AD and central differences over the inputs (each
    number moved where it sits: lists, dicts and records keep their structure)."""
    func, instance, _ = method_parts(f, 0)
    if instance is not None:  # a bound method: `self` is held fixed
        shift = None if wrt is None else method_parts(f, wrt)[2]
        return check_grad(func, instance, *args, eps=eps, mode=mode,
                          wrt=shift if wrt is not None else tuple(range(1, len(args) + 1)))
    fn = lowered(f)
    call, values = f, args
    if has_packed_signature(f):  # one value per parameter, *args as one tuple
        call, values, given = by_parameter(f, args)
    else:
        given = tuple(range(min(len(args), len(fn.params))))
    if wrt is None:  # every argument passed; parameters left to their defaults stay fixed
        wrt = given
    indices, _ = wrt_indices(fn, wrt)
    ad = grad(f, wrt=tuple(indices), mode=mode)(*args)
    return max((relative_error(call, values, i, ad[k], step=eps)
                for k, i in enumerate(indices)), default=0.0)


def jacobian(f: Callable, wrt: Wrt = 0, mode: str = "auto") -> Callable:
    """The Jacobian of `f` with respect to the input(s) `wrt`, shaped
    ``np.shape(f(...)) + np.shape(x)``.

    ``mode="forward"`` takes one vector-mode JVP sweep (one per input element where a
    rule has no vector-mode form), ``"reverse"`` one batched VJP sweep (one per output
    element where a rule has no batched adjoint); ``"auto"`` picks forward when the
    input has fewer elements than the output.
    """
    _takes_positional(f, "jacobian")
    _refuse_draws(f, "a Jacobian")
    return assemble.jacobian_of(f, wrt, mode)


def hessian(f: Callable, wrt: int | str = 0) -> Callable:
    """The Hessian of `f` with respect to one input, by forward mode over reverse mode:
    shaped ``x.shape + x.shape`` for a scalar output, ``y.shape + x.shape + x.shape``
    for an array output `y` (one reverse sweep per element of `y`)."""
    _takes_positional(f, "hessian")
    _refuse_draws(f, "a Hessian")
    return hessians.hessian_of(f, wrt)


def hvp(f: Callable, wrt: int | str = 0) -> Callable:
    """Hessian-vector products of a scalar `f` with respect to one input, by forward mode
    over reverse mode: a function ``(*args, v) -> H v``, taking the arguments of `f`
    and then `v` (shaped like the input), with no Hessian formed."""
    _takes_positional(f, "hvp")
    _refuse_draws(f, "a Hessian-vector product")
    return hvp_of(f, wrt)


def _refuse_draws(f: Callable, what: str) -> None:
    """`what` runs the code of `f` more than once: refused where `f` draws random
    numbers (`refuse_draws()`).  Code the compiler cannot read is left to the error
    the derivative gives."""
    try:
        fn = lowered(getattr(f, "__func__", f))
    except ADCompileError:
        return
    refuse_draws(fn, what)


def _takes_positional(f: Callable, api_name: str) -> None:
    """jvp, vjp, jacobian and hessian pass the inputs by position: a function with
    ``*args``, keyword-only parameters or ``**kwargs`` is refused, with a way out."""
    if has_packed_signature(f) or getattr(f, "_adc_signature", None) is not None:
        name = getattr(f, "__name__", "f")
        what = (f"adc.{api_name} passes inputs by position, and {name} has *args, "
                "keyword-only parameters or **kwargs")
        hint = (f"adc.grad and adc.value_and_grad take them as {name} does; for "
                f"adc.{api_name}, differentiate a function of named positional parameters, "
                f"for example lambda x, w: {name}(x, w, scale=2.0)")
        if has_packed_signature(f):
            src = load(getattr(f, "__func__", f))
            raise src.error(src.node, what, hint)
        raise ADCompileError(what, hint=hint)
