"""The public API: JAX-like names over the compile pipeline.

``grad(f)`` lowers `f` to its trace, transforms it, optimises, generates Python
source and compiles it, once per code object; the result is the generated function
itself, so calling a gradient costs what the generated code costs and nothing more.
Array code is wrapped in a `Dispatcher` that compiles it again for each input
signature, with shapes known (dispatch.py).
"""
from __future__ import annotations

import ast
import functools
import os
import types
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import cache, custom, runtime
from .codegen import generate
from .dispatch import Dispatcher, worth_specializing
from .errors import ADCompileError
from .frontend import resolve_path
from .ir import Const, Function
from .lowering import lower
from .shapes import uses_arrays
from .transforms import forward, optimize, reverse
from .transforms.common import container_values

Wrt = int | str | Sequence[int | str]
_MODES = ("reverse", "forward")


# ------------------------------------------------------------------ compiling


def _wrt_indices(fn: Function, wrt: Wrt) -> tuple[list[int], bool]:
    """Parameter indices for `wrt`, and whether a single one was named."""
    single = isinstance(wrt, (int, str))
    items = [wrt] if single else list(wrt)
    names = [p.name for p in fn.params]
    indices = []
    for item in items:
        if isinstance(item, str):
            if item not in names:
                raise ADCompileError(f"{fn.name} has no parameter named {item!r}",
                                     hint=f"choose among {names}")
            indices.append(names.index(item))
        elif isinstance(item, int) and not isinstance(item, bool):
            if not -len(names) <= item < len(names):
                raise ADCompileError(f"wrt={item} is out of range: {fn.name} has "
                                     f"{len(names)} parameter(s)",
                                     hint="wrt counts parameters from 0")
            indices.append(item % len(names))
        else:
            raise ADCompileError(f"wrt must be a parameter index or name, not {item!r}")
    if not indices:
        raise ADCompileError("wrt names no parameter", hint="pass wrt=0 or wrt=('x', 'y')")
    twice = next((i for k, i in enumerate(indices) if i in indices[:k]), None)
    if twice is not None:
        raise ADCompileError(f"wrt names the parameter {names[twice]!r} twice",
                             hint="name each input once: wrt=('x', 'y')")
    return indices, single


def _where(fn: Function) -> dict[str, Any]:
    """The location of a function's 'def', for errors about the function as a whole."""
    where: dict[str, Any] = {"filename": fn.filename}
    if fn.source is not None:
        node = fn.source.node
        where.update(lineno=node.lineno, col=node.col_offset,
                     source_line=fn.source.line(node.lineno))
    return where


def _check_scalar_output(fn: Function, api_name: str) -> None:
    where = _where(fn)
    if fn.returns_tuple or len(fn.outputs) != 1:
        raise ADCompileError(
            f"{api_name} needs a function with one scalar output, but {fn.name} returns "
            f"a tuple of {len(fn.outputs)} values",
            hint="use adc.vjp (or adc.jacobian) for functions with several outputs, or "
                 "differentiate one output at a time", **where)
    out = fn.outputs[0]
    packed = [op for op in fn.body.ops if op.prim == "pack" and op.results[0] is out]
    if packed:
        raise ADCompileError(
            f"{api_name} needs a function with one scalar output, but {fn.name} returns "
            f"a {packed[0].attrs.get('kind', 'tuple')}",
            hint="use adc.vjp for functions with several outputs, or differentiate one "
                 "item at a time", **where)
    if isinstance(out, Const) and out.value is None and fn.none_returns and fn.source:
        lineno, col = fn.none_returns[0]
        where.update(lineno=lineno, col=col, source_line=fn.source.line(lineno))
    if isinstance(out, Const) and out.value is None:
        raise ADCompileError(f"{api_name} needs a function that returns a value; "
                             f"{fn.name} returns None on some path",
                             hint="end every path through the function with 'return <value>'",
                             **where)


def _safe_name(name: str, suffix: str) -> str:
    base = name if name.isidentifier() else "f"
    return f"{base}_{suffix}"


def _build(f: Callable, kind: str, wrt: Wrt, mode: str) -> Callable:
    if mode not in _MODES:
        raise ADCompileError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    rules_version = custom.version
    fn = lower(f)
    if kind in ("jvp", "vjp", "jvp_batched"):
        indices, single = list(range(len(fn.params))), False
    else:
        indices, single = _wrt_indices(fn, wrt)
        _check_scalar_output(fn, "grad" if kind == "grad" else "value_and_grad")
    n_out, n_in = len(fn.outputs), len(indices)

    if mode == "forward" and kind in ("grad", "value_and_grad"):
        lists = container_values(fn)
        if uses_arrays(fn) or any(fn.params[i].uid in lists for i in indices):
            return _forward_gradient(f, fn, kind, indices, single)
    if kind == "jvp_batched":  # vector mode: the directions of input `wrt` in one sweep
        indices, _ = _wrt_indices(fn, wrt)
        d = forward(fn, indices, unit_seeds=False, batched=True)
        values = tuple(range(n_out)) if fn.returns_tuple else 0
        tangents = tuple(range(n_out, 2 * n_out)) if fn.returns_tuple else n_out
        tree = (values, tangents)
        suffix = "jvp"
    elif kind == "jvp":
        d = forward(fn, indices, unit_seeds=False)
        values = tuple(range(n_out)) if fn.returns_tuple else 0
        tangents = tuple(range(n_out, 2 * n_out)) if fn.returns_tuple else n_out
        tree: Any = (values, tangents)
        suffix = "jvp"
    elif kind == "vjp":
        d = reverse(fn, indices, seed_params=True)
        d.body.yields = d.body.yields[n_out:]
        tree = tuple(range(n_in))
        suffix = "vjp"
    else:
        if mode == "reverse":
            d = reverse(fn, indices, seed_params=False)
        else:
            d = forward(fn, indices, unit_seeds=True)
        if kind == "grad":  # the outputs are the value, then the gradients: drop the value
            d.body.yields = d.body.yields[1:]
            tree = 0 if single else tuple(range(n_in))
        else:
            tree = (0, 1 if single else tuple(range(1, n_in + 1)))
        suffix = kind
    d.output_tree = tree
    d.returns_tuple = isinstance(tree, tuple)
    d.returns_tuple_in = fn.returns_tuple
    optimize(d)

    src = fn.source
    cells = {**(src.cells if src is not None else {}), **fn.extra_cells}
    defaults = None
    if kind in ("grad", "value_and_grad") and fn.defaults and src is not None:
        node_defaults = getattr(src.node.args, "defaults", [])
        defaults = [ast.unparse(d_node) for d_node in node_defaults]
    user_globals = src.globals if src is not None else f.__globals__
    if getattr(f, "_adc_function", None) is fn and hasattr(f, "__globals__"):
        # a derivative differentiated again reads the namespace it runs in, which for
        # one rebound to equal code elsewhere is not the namespace its IR was built in
        user_globals = f.__globals__
        own = dict(zip(f.__code__.co_freevars, f.__closure__ or ()))
        cells.update({name: own[name] for name in cells if name in own})
    d.name = _safe_name(fn.name, suffix)
    generated = generate(d, d.name, user_globals=user_globals,
                         closure_cells=cells, signature_defaults=defaults)
    out = generated.fn
    if fn.defaults and kind in ("grad", "value_and_grad"):
        out.__defaults__ = fn.defaults
    out.source = generated.source
    out._adc_function = d
    out._adc_rules_version = rules_version
    out.__doc__ = f"{kind} of {fn.name} (generated by ad_compiler)"
    if worth_specializing(d) and os.environ.get("AD_COMPILER_SPECIALIZE", "1") != "0":
        # array code: compiled again for each signature of inputs, shapes known
        return Dispatcher(out, d, user_globals, cells)
    return out


def _derivative(f: Callable, kind: str, wrt: Wrt, mode: str) -> Callable:
    key = (kind, _wrt_key(wrt), mode)
    candidates = cache.candidates(f, key)
    for built_for, compiled in reversed(candidates):  # the newest first
        if built_for() is f and _still_valid(compiled, f):
            return compiled
    for _, compiled in reversed(candidates):
        if not getattr(compiled, "_adc_wrapper", False) and _still_valid(compiled, f):
            rebound = _rebind(compiled, f)
            if isinstance(rebound, Dispatcher):  # its specialisations are kept for `f`
                _remember(f, key, rebound)
            return rebound
    compiled = _build(f, kind, wrt, mode)
    _remember(f, key, compiled)
    return compiled


def _remember(f: Callable, key: tuple, compiled: Callable) -> None:
    try:
        ref = weakref.ref(f)
    except TypeError:
        ref = lambda: None  # noqa: E731
    cache.store(f, key, (ref, compiled))


def _wrt_key(wrt: Wrt) -> Any:
    if isinstance(wrt, (int, str)) and not isinstance(wrt, bool):
        return wrt
    if isinstance(wrt, (tuple, list)) and all(
            isinstance(w, (int, str)) and not isinstance(w, bool) for w in wrt):
        return tuple(wrt)
    raise ADCompileError(f"wrt must be a parameter index, a name, or a tuple of them, "
                         f"not {wrt!r}", hint="for example wrt=0, wrt='x' or wrt=(0, 'y')")


def _still_valid(compiled: Callable, f: Callable) -> bool:
    """Whether every name the compiled code resolved still denotes the same object for `f`,
    and no rule was registered since it was compiled."""
    if compiled._adc_rules_version != custom.version:
        return False
    for owner, spelling, obj in compiled._adc_function.resolutions:
        if resolve_path(owner or f, spelling) is not obj:
            return False
    return True


def _rebind(compiled: Callable, f: Callable) -> Callable:
    """The same generated code, reading `f`'s globals and closure cells."""
    cells = dict(zip(f.__code__.co_freevars, f.__closure__ or ()))
    if hasattr(compiled, "_adc_generic"):  # a dispatcher: rebind its generic code
        d, _, built_cells = compiled._adc_context
        generic = _rebind(compiled._adc_generic, f)
        return Dispatcher(generic, d, f.__globals__, {**built_cells, **cells})
    closure = None
    if compiled.__closure__:
        closure = tuple(cells.get(name, cell)
                        for name, cell in zip(compiled.__code__.co_freevars, compiled.__closure__))
    out = types.FunctionType(compiled.__code__, f.__globals__, compiled.__name__,
                             compiled.__defaults__, closure)
    out.__dict__.update(compiled.__dict__)
    return out


# ------------------------------------------------------------------ public API


def grad(f: Callable | None = None, wrt: Wrt = 0, mode: str = "reverse") -> Callable:
    """Gradient of a scalar function, as generated Python code.

    Use as ``grad(f)``, ``@grad`` or ``@grad(wrt=("x", "y"), mode="forward")``.
    With a single `wrt` the derivative function returns one value; with a tuple it
    returns a tuple, in the order given.
    """
    if f is None:
        return functools.partial(grad, wrt=wrt, mode=mode)
    return _derivative(f, "grad", wrt, mode)


def value_and_grad(f: Callable | None = None, wrt: Wrt = 0, mode: str = "reverse") -> Callable:
    """Like `grad`, returning ``(value, gradient)`` from one sweep."""
    if f is None:
        return functools.partial(value_and_grad, wrt=wrt, mode=mode)
    return _derivative(f, "value_and_grad", wrt, mode)


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J @ tangents)``, one tangent per positional input."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals but {len(tangents)} tangents")
    full = _with_defaults(f, primals)
    tangents += (0.0,) * (len(full) - len(primals))  # parameters left to their defaults
    return _derivative(f, "jvp", 0, "forward")(*full, *tangents)


def _with_defaults(f: Callable, primals: tuple) -> tuple:
    """The positional arguments, completed with `f`'s defaults for the ones not given."""
    defaults = getattr(f, "__defaults__", None) or ()
    n_params = getattr(getattr(f, "__code__", None), "co_argcount", len(primals))
    missing = n_params - len(primals)
    if missing <= 0:
        return primals
    if missing > len(defaults):
        raise TypeError(f"{getattr(f, '__name__', f)} needs {n_params} arguments, "
                        f"{len(primals)} given")
    return primals + tuple(defaults[len(defaults) - missing:])


def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """Reverse mode: ``(f(*primals), pullback)``; ``pullback(ybar)`` gives ``ybar @ J``.

    The pullback returns a tuple with one cotangent per input.  For a function
    returning a tuple, `ybar` is a tuple of the same length.
    """
    compiled = _derivative(f, "vjp", 0, "reverse")
    value = f(*primals)
    several = compiled._adc_function.returns_tuple_in
    full = _with_defaults(f, tuple(primals))

    def pullback(ybar: Any) -> tuple[Any, ...]:
        seeds = tuple(ybar) if several else (ybar,)
        return compiled(*full, *seeds)[: len(primals)]

    pullback.source = compiled.source
    return value, pullback


def source(f: Callable, mode: str = "reverse", wrt: Wrt = 0, kind: str = "grad",
           at: Sequence[Any] | None = None) -> str:
    """The generated source of a derivative of `f` (`kind`: grad, value_and_grad, jvp, vjp).

    With `at` (arguments of `f`), the source of array code specialised to their shapes
    and dtypes, which is what runs for such arguments."""
    if kind not in ("grad", "value_and_grad", "jvp", "vjp"):
        raise ValueError(f"unknown kind {kind!r}")
    if kind == "jvp":
        mode = "forward"
    elif kind == "vjp":
        mode = "reverse"
    derivative = _derivative(f, kind, wrt, mode)
    if at is not None:
        if kind not in ("grad", "value_and_grad"):
            raise ValueError("at= is for kind='grad' or 'value_and_grad'")
        if hasattr(derivative, "source_for"):
            return Source(derivative.source_for(*at))
    return Source(derivative.source)


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
    indices, _ = _wrt_indices(fn, wrt)
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


# ------------------------------------------------------------------ Jacobians


def _forward_gradient(f: Callable, fn: Function, kind: str, indices: list[int],
                      single: bool) -> Callable:
    """Forward-mode gradient of a function of arrays or lists: one vector-mode sweep
    carrying every input element's direction (one sweep per element as the fallback)."""
    jvp_fn = _derivative(f, "jvp", 0, "forward")

    def gradient(*args: Any) -> Any:
        full = _with_defaults(f, args)
        value, grads = None, []
        for i in indices:
            value, g = _directions(f, full, i, ())
            grads.append(g)
        out = grads[0] if single else tuple(grads)
        return out if kind == "grad" else (value, out)

    shown = _vector_jvp(f, indices[0]) or jvp_fn
    gradient.source = shown.source
    gradient._adc_function = jvp_fn._adc_function
    gradient._adc_rules_version = jvp_fn._adc_rules_version
    gradient._adc_wrapper = True  # closes over `f`: never rebound to another function
    gradient.__name__ = _safe_name(fn.name, kind)
    gradient.__doc__ = f"{kind} of {fn.name} (forward mode, vector-mode JVP)"
    return gradient


def _basis(x: Any) -> list[Any]:
    """Unit tangents for every element of `x` (a number, an array, or a list of them)."""
    if isinstance(x, np.ndarray):
        runtime.require_float(x)
        units = []
        for j in range(x.size):
            unit = np.zeros(x.shape, dtype=x.dtype)
            unit.flat[j] = 1
            units.append(unit)
        return units
    if isinstance(x, (list, tuple)):
        zeros = [runtime.zeros_of(v) for v in x]
        units = []
        for k, item in enumerate(x):
            for unit in _basis(item):
                units.append(type(x)(zeros[:k] + [unit] + zeros[k + 1:]))
        return units
    return [1.0]


def _vector_jvp(f: Callable, i: int) -> Callable | None:
    """The vector-mode JVP of `f` along input `i`, or None where some primitive has no
    vector-mode rule yet (one sweep per direction is the fallback)."""
    try:
        return _derivative(f, "jvp_batched", i, "forward")
    except ADCompileError:
        return None


def _batch_seed(x: Any) -> Any:
    """Every unit direction of `x` at once: its shape plus a last axis, one per element."""
    if isinstance(x, (list, tuple)):
        n, start, items = _size(x), 0, []
        for item in x:
            k = _size(item)
            eye = np.eye(n, dtype=_float_dtype(item))[start:start + k]
            items.append(eye.reshape(np.shape(item) + (n,)))
            start += k
        return type(x)(items)
    if isinstance(x, np.ndarray):
        runtime.require_float(x)
    return np.eye(_size(x), dtype=_float_dtype(x)).reshape(np.shape(x) + (_size(x),))


def _float_dtype(x: Any) -> Any:
    return x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.float64


def _directions(f: Callable, args: tuple, i: int, out_shape: tuple | None) -> tuple[Any, Any]:
    """f(args) and d f / d args[i], shaped out_shape + args[i].shape: by one vector-mode
    sweep where every primitive has a batched rule, else one sweep per element."""
    batched = _vector_jvp(f, i)
    if batched is None:
        value, columns = _columns(_derivative(f, "jvp", 0, "forward"), args, i)
        shape = np.shape(value) if out_shape is None else out_shape
        return value, _assemble(columns, args[i], shape)
    value, tangent = batched(*args, _batch_seed(args[i]))
    shape = np.shape(value) if out_shape is None else out_shape
    n = _size(args[i])
    tangent = np.broadcast_to(tangent, shape + (n,))
    return value, _assemble(list(np.moveaxis(tangent, -1, 0)), args[i], shape)


def _columns(jvp_fn: Callable, args: tuple, i: int) -> tuple[Any, list[Any]]:
    """f(args) and the tangents of its output along each unit tangent of args[i]."""
    zeros = [runtime.zeros_of(a) for a in args]
    value, columns = None, []
    for unit in _basis(args[i]):
        tangents = zeros[:i] + [unit] + zeros[i + 1:]
        value, column = jvp_fn(*args, *tangents)
        columns.append(column)
    return value, columns


def _assemble(columns: list[Any], x: Any, out_shape: tuple) -> Any:
    """Columns d y / d x_j, one per element of `x`, as an array shaped out_shape + x.shape
    (or, for a list `x`, a list of such)."""
    stacked = np.stack([np.broadcast_to(c, out_shape) for c in columns], axis=-1)
    if isinstance(x, (list, tuple)):
        pieces, start = [], 0
        for item in x:
            n = np.size(item)
            piece = stacked[..., start:start + n].reshape(out_shape + np.shape(item))
            pieces.append(piece if np.ndim(item) or out_shape else float(piece))
            start += n
        return pieces
    dtype = x.dtype if isinstance(x, np.ndarray) else stacked.dtype
    result = stacked.reshape(out_shape + np.shape(x)).astype(dtype, copy=False)
    return result if result.ndim or isinstance(x, np.ndarray) else float(result)


def jacobian(f: Callable, wrt: Wrt = 0, mode: str = "auto") -> Callable:
    """The Jacobian of `f` with respect to the input(s) `wrt`, shaped
    ``np.shape(f(...)) + np.shape(x)``.

    ``mode="forward"`` takes one JVP sweep per input element, ``"reverse"`` one VJP
    sweep per output element; ``"auto"`` picks forward when the input has fewer
    elements than the output.
    """
    if mode not in ("auto", "forward", "reverse"):
        raise ADCompileError(f"mode must be 'auto', 'forward' or 'reverse', not {mode!r}")
    fn = lower(f)
    indices, single = _wrt_indices(fn, wrt)
    if fn.returns_tuple:
        raise ADCompileError(f"jacobian needs a function with one output, but {fn.name} "
                             "returns a tuple", hint="take the Jacobian of one output at a "
                             "time", **_where(fn))

    def jac(*args: Any) -> Any:
        full = _with_defaults(f, args)
        y = f(*full)
        out_shape = np.shape(y)
        results = []
        for i in indices:
            use_forward = mode == "forward" or (
                mode == "auto" and _size(full[i]) < int(np.prod(out_shape, dtype=int)))
            if use_forward:
                results.append(_directions(f, full, i, out_shape)[1])
            else:
                results.append(_rows(f, full, i, y))
        return results[0] if single else tuple(results)

    jac.__name__ = _safe_name(fn.name, "jacobian")
    return jac


def _size(x: Any) -> int:
    if isinstance(x, (list, tuple)):
        return sum(_size(v) for v in x)
    return int(np.size(x))


def _rows(f: Callable, args: tuple, i: int, y: Any) -> Any:
    """The Jacobian d y / d args[i] from one VJP sweep per element of y."""
    compiled = _derivative(f, "vjp", 0, "reverse")
    x = args[i]
    if isinstance(x, np.ndarray):
        runtime.require_float(x)
    rows = []
    y_array = np.asarray(y)
    for j in range(y_array.size):
        seed = np.zeros(y_array.shape, dtype=y_array.dtype if y_array.dtype.kind == "f"
                        else float)
        seed.flat[j] = 1
        rows.append(compiled(*args, seed if y_array.ndim else seed.item())[i])
    if isinstance(x, (list, tuple)):
        return [np.stack([np.asarray(r[k]) for r in rows]).reshape(y_array.shape + np.shape(v))
                for k, v in enumerate(x)]
    stacked = np.stack([np.broadcast_to(r, np.shape(x)) for r in rows])
    result = stacked.reshape(y_array.shape + np.shape(x))
    if isinstance(x, np.ndarray):
        result = result.astype(x.dtype, copy=False)
    return result if result.ndim else float(result)


def hessian(f: Callable, wrt: int | str = 0) -> Callable:
    """The Hessian of a scalar function, by forward mode over the reverse-mode gradient:
    one Hessian-vector product per input element, shaped ``x.shape + x.shape``."""
    if not isinstance(wrt, (int, str)):
        raise ADCompileError("hessian takes one input (wrt=0 or wrt='x')",
                             hint="take the Hessian with respect to one input at a time, "
                                  "or pack the inputs into one array")
    gradient = grad(f, wrt=wrt)
    index = _wrt_indices(lower(f), wrt)[0][0]
    jac = jacobian(gradient, wrt=index, mode="forward")

    def hess(*args: Any) -> Any:
        full = _with_defaults(f, args)
        # the gradient specialised to these shapes is mostly plain NumPy, which vector
        # mode differentiates in one sweep (the generic code's shape helpers take one
        # sweep per element)
        version = gradient.version_for(*full) if hasattr(gradient, "version_for") else None
        if version is not None and not getattr(version, "_adc_no_forward", False) \
                and version is not getattr(gradient, "_adc_generic", None):
            try:
                return jacobian(version, wrt=index, mode="forward")(*full)
            except ADCompileError:  # in-place updates of a slice adjoint: generic code
                version._adc_no_forward = True
        return jac(*full)

    hess.__name__ = _safe_name(lower(f).name, "hessian")
    return hess
