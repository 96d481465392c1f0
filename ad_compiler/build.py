"""Building derivatives: lowering, transforming, generating and caching them.

`derivative(f, kind, wrt, mode)` is what every public function asks for: a compiled
derivative of `f`, built once per code object and reused while every name it
resolved still denotes the same object (cache.py keeps them).
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import os
import types
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import cache, custom, depth
from .builder import Builder
from .codegen import generate, generated_name
from .dispatch import Dispatcher, Lazy, worth_specializing
from .errors import ADCompileError
from .frontend import resolve_path
from .ir import Block, Const, Function, Value, walk_ops
from .lowering import lower
from .lowering.core import has_packed_signature
from .registry.core import same_callable
from .shapes import uses_arrays
from .transforms import forward, optimize, reverse
from .transforms.common import container_values
from .transforms.kinds import Kinds
from .transforms.stacked_adjoints import stacked_adjoints

Wrt = int | str | Sequence[int | str]
_MODES = ("reverse", "forward")


def wrt_indices(fn: Function, wrt: Wrt) -> tuple[list[int], bool]:
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
            raise ADCompileError(f"wrt must be a parameter index or name, not {item!r}",
                                 hint=f"choose among the indices 0 to {len(names) - 1} and "
                                      f"the names {names}" if names else
                                 f"{fn.name} has no parameters to differentiate")
    if not indices:
        raise ADCompileError("wrt names no parameter", hint="pass wrt=0 or wrt=('x', 'y')")
    twice = next((i for k, i in enumerate(indices) if i in indices[:k]), None)
    if twice is not None:
        raise ADCompileError(f"wrt names the parameter {names[twice]!r} twice",
                             hint="name each input once: wrt=('x', 'y')")
    return indices, single


def where(fn: Function) -> dict[str, Any]:
    """The location of a function's 'def', for errors about the function as a whole."""
    located: dict[str, Any] = {"filename": fn.filename}
    if fn.source is not None:
        node = fn.source.node
        located.update(lineno=node.lineno, col=node.col_offset,
                       source_line=fn.source.line(node.lineno))
    return located


def check_scalar_output(fn: Function, api_name: str) -> None:
    located = where(fn)
    if fn.returns_tuple or len(fn.outputs) != 1:
        raise ADCompileError(
            f"{api_name} needs a function with one scalar output, but {fn.name} returns "
            f"a tuple of {len(fn.outputs)} values",
            hint="use adc.vjp (or adc.jacobian) for functions with several outputs, or "
                 "differentiate one output at a time", **located)
    out = fn.outputs[0]
    packed = [op for op in fn.body.ops if op.prim == "pack" and op.results[0] is out]
    if packed:
        raise ADCompileError(
            f"{api_name} needs a function with one scalar output, but {fn.name} returns "
            f"a {packed[0].attrs.get('kind', 'tuple')}",
            hint="use adc.vjp for functions with several outputs, or differentiate one "
                 "item at a time", **located)
    if isinstance(out, Const) and out.value is None and fn.raises_always:
        raise ADCompileError(f"{api_name} needs a function that returns a value; every path "
                             f"through {fn.name} raises an exception",
                             hint="differentiate a function that returns on some path; "
                                  "raise only where its inputs are out of range", **located)
    if isinstance(out, Const) and out.value is None and fn.none_returns and fn.source:
        lineno, col = fn.none_returns[0]
        located.update(lineno=lineno, col=col, source_line=fn.source.line(lineno))
    if isinstance(out, Const) and out.value is None:
        raise ADCompileError(f"{api_name} needs a function that returns a value; "
                             f"{fn.name} returns None on some path",
                             hint="end every path through the function with 'return <value>'",
                             **located)


def safe_name(name: str, suffix: str) -> str:
    base = name if name.isidentifier() else "f"
    return f"{base}_{suffix}"


def _build(f: Callable, kind: str, wrt: Wrt, mode: str, ir: Function | None = None,
           transform_only: bool = False) -> Any:
    """The compiled derivative of `f` (whose IR is `ir` where given); with
    `transform_only`, its IR, not compiled."""
    if mode not in _MODES:
        raise ADCompileError(f"mode must be 'reverse' or 'forward', not {mode!r}",
                             hint="write mode='reverse' (the default) or mode='forward'")
    rules_version = custom.version
    fn = lowered(f) if ir is None else ir
    aux = kind.endswith("_aux")  # f returns (value, aux): only the value is differentiated
    kind = kind.removesuffix("_aux")
    if kind in ("jvp", "vjp", "vjp_batched", "vjp_batched_value") and isinstance(wrt, tuple):
        # the parameters that carry them
        indices, single = (wrt_indices(fn, wrt)[0] if wrt else []), False
    elif kind in ("jvp", "vjp", "jvp_batched", "jvp_batched_floats", "vjp_batched",
                  "vjp_batched_value"):
        indices, single = list(range(len(fn.params))), False
    else:
        indices, single = wrt_indices(fn, wrt)
        check_scalar_output(_value_part(fn) if aux else fn,
                            "grad" if kind == "grad" else "value_and_grad")
    n_out, n_in = len(fn.outputs), len(indices)

    if mode == "forward" and kind in ("grad", "value_and_grad"):
        if uses_arrays(fn) or _may_be_container(fn, indices):
            from .assemble import forward_gradient  # it builds JVPs itself

            return forward_gradient(f, fn, kind, indices, single, aux)
    if kind in ("jvp_batched", "jvp_batched_floats"):  # vector mode: the directions of
        indices, _ = wrt_indices(fn, wrt)                # input `wrt` in one sweep
        # (_floats: called with float arrays there, so `+` and `*` of them are arithmetic)
        d = forward(fn, indices, unit_seeds=False, batched=True,
                    float_inputs=kind == "jvp_batched_floats")
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
    elif kind in ("vjp", "vjp_batched", "vjp_batched_value"):  # batched: many cotangents
        d = reverse(fn, indices, seed_params=True, batched=kind != "vjp")  # on a last axis
        if kind == "vjp_batched_value":  # (value, cotangents): a Jacobian's sweep, which
            values = tuple(range(n_out)) if fn.returns_tuple else 0  # checks the output
            tree = (values, tuple(range(n_out, n_out + n_in)))
        else:
            d.body.yields = d.body.yields[n_out:]
            tree = tuple(range(n_in))
        suffix = "vjp" if kind == "vjp" else "vjp_batched"
    else:
        differentiated = 1 if aux else None
        if mode == "reverse":
            d = reverse(fn, indices, seed_params=False, seeded=differentiated)
        else:
            d = forward(fn, indices, unit_seeds=True, differentiated=differentiated)
        first = 2 if aux else 1  # the outputs: the value (and aux), then the gradients
        grads = first if single else tuple(range(first, first + n_in))
        if kind == "grad" and aux:
            tree = (grads, 1)
        elif kind == "grad":  # the value is not returned: drop it
            d.body.yields = d.body.yields[1:]
            tree = 0 if single else tuple(range(n_in))
        else:
            tree = ((0, 1) if aux else 0, grads)
        suffix = kind
    d.output_tree = tree
    d.returns_tuple = isinstance(tree, tuple)
    d.returns_tuple_in = fn.returns_tuple
    optimize(d)
    if kind in ("grad", "value_and_grad") and not uses_arrays(d):
        _float_gradients(d, _flat(tree[1] if kind == "value_and_grad" else
                                  tree[0] if aux else tree))
    d.name = safe_name(fn.name, suffix)
    if transform_only:
        return d

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
    code = d  # what runs; `d` is what a second derivative differentiates
    if mode == "reverse" and kind in ("grad", "value_and_grad", "vjp"):
        code = stacked_adjoints(d) or d
    signature_defaults = fn.defaults if fn.defaults and kind in ("grad", "value_and_grad") \
        else None
    attributes = {"_adc_function": d, "_adc_rules_version": rules_version,
                  "__doc__": f"{kind} of {fn.name} (generated by ad_compiler)"}

    def generic() -> Callable:
        generated = generate(code, d.name, user_globals=user_globals,
                             closure_cells=cells, signature_defaults=defaults)
        out = generated.fn
        if signature_defaults:
            out.__defaults__ = signature_defaults
        out.source = generated.source
        out._adc_function = d
        out._adc_rules_version = rules_version
        out.__doc__ = attributes["__doc__"]
        return out

    if worth_specializing(code):
        if os.environ.get("AD_COMPILER_SPECIALIZE", "1") != "0":
            # array code: compiled again for each signature of inputs, shapes known; the
            # generic code only once something needs it (the first call specialises)
            name = generated_name(d.name, user_globals)
            return Dispatcher(Lazy(generic, name, signature_defaults, attributes), code,
                              user_globals, cells)
        out = generic()
        _generic_only(out)
        return out
    return generic()


def _generic_only(out: Callable) -> None:
    """Array code built with specialisation turned off (AD_COMPILER_SPECIALIZE=0) answers
    what a Dispatcher answers about it: every input runs the generic code."""
    out.specializations = {}  # no input signature has a version of its own
    out.version_for = lambda *args: out
    out.source_for = lambda *args: out.source


def _flat(tree: Any) -> list[int]:
    return [tree] if isinstance(tree, int) else [i for t in tree for i in _flat(t)]


def _float_gradients(d: Function, positions: list[int]) -> None:
    """A gradient is a float even where it equals an int input (d(x * n)/dx is n): an
    output the code does not make a float is multiplied by 1.0."""
    producers = {r.uid: op for op in walk_ops(d.body) for r in op.results}
    memo: dict[int, bool] = {}
    primal_kinds = getattr(d, "kinds", None)
    primal = getattr(d, "primal", set())

    def is_float(operand: Any, depth: int = 0) -> bool:
        if isinstance(operand, Const):
            return isinstance(operand.value, float)
        if not isinstance(operand, Value) or depth > 50:
            return False
        if operand.uid in memo:
            return memo[operand.uid]
        made = producers.get(operand.uid)
        if operand.uid in primal and primal_kinds is not None:
            found = primal_kinds.of(operand) in ("scalar", "float")
        elif made is None or made.blocks:
            found = False
        elif made.prim in ("add", "sub", "mul", "neg", "copy"):
            found = any(is_float(a, depth + 1) for a in made.args)
        else:  # a function of the rules (cos, a quotient, a helper): a float
            found = made.prim not in ("getitem", "getattr", "pop", "call")
        memo[operand.uid] = found
        return found

    for k in positions:
        y = d.body.yields[k]
        if is_float(y):
            continue
        made = producers.get(y.uid) if isinstance(y, Value) else None
        if made is not None and made.prim == "copy":  # x2_bar = x1: x2_bar = 1.0 * x1
            made.prim, made.args = "mul", [Const(1.0), made.args[0]]
        elif made is None or made.prim not in ("as_gradient", "gradient_like"):
            d.body.yields[k] = Builder(d.body).emit("mul", [Const(1.0), y]).result


def _may_be_container(fn: Function, indices: list[int]) -> bool:
    """Whether one of the inputs `indices` may be a container (so forward mode seeds it
    item by item): it is indexed or iterated, joined or repeated, or nothing reads it
    (its gradient is zeros shaped like whatever comes in).  One walk over the function
    for all of them: it may be long."""
    params = {fn.params[i].uid for i in indices}
    containers = container_values(fn)
    if params & containers:
        return True
    copies = [op for op in walk_ops(fn.body) if op.prim in ("copy", "setitem")
              and op.args and isinstance(op.args[0], Value)]
    grown = True
    while grown:  # a copy of an input, or the input written into, is indexed: so is it
        more = {op.args[0].uid for op in copies if op.results[0].uid in containers}
        grown = not more <= containers
        containers |= more
    if params & containers:
        return True
    kinds: Kinds | None = None  # made when first needed
    read: set[int] = set()
    for op in walk_ops(fn.body):
        args = {a.uid for a in op.args if isinstance(a, Value)} & params
        if args:
            read |= args
            if op.prim in ("add", "mul"):
                kinds = kinds or Kinds(fn, numeric_outputs=True, outputs=1)
                if not kinds.numeric(op.result):
                    return True
        for block in op.blocks:
            read |= {y.uid for y in block.yields if isinstance(y, Value)} & params
    outputs = {y.uid for y in fn.outputs if isinstance(y, Value)}
    return any(uid not in read and uid not in outputs for uid in params)


def _value_part(fn: Function) -> Function:
    """`fn` returning ``(value, aux)``, seen as returning `value` (for its checks)."""
    if not fn.returns_tuple or len(fn.outputs) != 2:
        raise ADCompileError(f"has_aux=True needs {fn.name} to return a pair (value, aux), "
                             "where value is differentiated and aux passed through",
                             hint="return value, aux", **where(fn))
    return dataclasses.replace(fn, body=Block(ops=fn.body.ops, yields=fn.outputs[:1]),
                               returns_tuple=False)


def method_parts(f: Callable, wrt: Wrt) -> tuple[Callable, Any, Wrt]:
    """A bound method (``model.loss``) as its function, its instance and `wrt` counted
    among the function's parameters (after ``self``); anything else as it is."""
    if not isinstance(f, types.MethodType):
        return f, None, wrt
    def shift(w: Any) -> Any:  # a position counted after `self`
        return w + 1 if isinstance(w, int) and not isinstance(w, bool) and w >= 0 else w

    if isinstance(wrt, (list, tuple)):
        return f.__func__, f.__self__, tuple(shift(w) for w in wrt)
    return f.__func__, f.__self__, shift(wrt)


def derivative(f: Callable, kind: str, wrt: Wrt, mode: str) -> Callable:
    """The compiled derivative of `f`, built once and cached.

    For ``kind="jvp"`` a tuple `wrt` lists the parameters that take a tangent (the
    generated function takes the primals, then those tangents); for ``"vjp"``, the
    parameters whose cotangents it returns.  Only values that depend on those
    parameters get tangents or adjoints (activity).  Any other `wrt` means every
    parameter."""
    func, instance, func_wrt = method_parts(f, wrt)
    if instance is not None:  # differentiated as its function, `self` a constant
        return types.MethodType(derivative(func, kind, func_wrt, mode), instance)
    key = (kind, _wrt_key(wrt), mode)
    if getattr(f, "_adc_signature", None) is not None:  # a gradient bound as called: its
        with depth.room(depth.nesting_of(f)):           # code is shared, its IR its own
            return _build(f, kind, wrt, mode)
    candidates = cache.candidates(f, key)
    for built_for, compiled in reversed(candidates):  # the newest first
        if built_for() is f and _still_valid(compiled, f):
            return compiled
    for _, compiled in reversed(candidates):
        if not getattr(compiled, "_adc_wrapper", False) and _still_valid(compiled, f):
            rebound = _rebind(compiled, f)
            rebound._adc_inlined = getattr(compiled, "_adc_inlined", ())  # the same, checked
            if isinstance(rebound, Dispatcher):  # its specialisations are kept for `f`
                _remember(f, key, rebound)
            return rebound
    with depth.collector_paused(), depth.room(depth.nesting_of(f)):  # see depth.py
        compiled = _build(f, kind, wrt, mode)
    compiled._adc_inlined = _inlined_functions(compiled)
    _remember(f, key, compiled)
    return compiled


def gradient_jvp(f: Callable, wrt: int | str) -> Callable | None:
    """The JVP of the reverse-mode gradient of `f` along input `wrt` alone (one sweep of
    the Hessian of number code), built from the gradient's IR: the gradient itself is
    not compiled for it.  None where forward mode refuses the gradient's code; what the
    gradient refuses raises, as `derivative(f, "grad", wrt, "reverse")` would.  Cached
    per code object, as derivatives are."""
    key = ("gradient_jvp", _wrt_key(wrt), "forward")
    for built_for, compiled in reversed(cache.candidates(f, key)):
        if built_for() is f and _still_valid(compiled, f):
            return compiled
    with depth.collector_paused(), depth.room(depth.nesting_of(f)):
        gradient = _build(f, "grad", wrt, "reverse", transform_only=True)
        index = wrt_indices(gradient, wrt)[0][0]
        try:
            with depth.room(depth.block_nesting(gradient.body)):
                compiled = _build(f, "jvp", (index,), "forward", ir=gradient)
        except ADCompileError:
            return None
    compiled._adc_inlined = _inlined_functions(compiled)
    _remember(f, key, compiled)
    return compiled


def bound_as_called(f: Callable, kind: str, compiled: Callable) -> Callable:
    """A gradient of a function with ``*args``, keyword-only parameters or ``**kwargs``
    takes its arguments as the function does: they are bound to its parameters (``*args``
    to one tuple, ``**kwargs`` to one dict, defaults applied) and passed by position."""
    signature = getattr(f, "_adc_signature", None)
    if signature is None:
        if not has_packed_signature(f) or kind not in _CALLED_AS_WRITTEN:
            return compiled
        signature = inspect.signature(f)

    def positional(args: tuple, kwargs: dict) -> tuple:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments.values())

    def call(*args: Any, **kwargs: Any) -> Any:
        return compiled(*positional(args, kwargs))

    call.__dict__.update(compiled.__dict__)
    if isinstance(compiled, Dispatcher):  # (its source is made when asked for)
        call.source = compiled.source
    for name in ("source_for", "version_for"):  # a dispatcher's, asked with a call's arguments
        method = getattr(compiled, name, None)
        if method is not None:
            setattr(call, name, lambda *a, _m=method, **k: _m(*positional(a, k)))
    call._adc_signature = signature
    call.__name__ = getattr(compiled, "__name__", "derivative")
    call.__doc__ = compiled.__doc__
    return call


# the derivatives called with the arguments of the function itself
_CALLED_AS_WRITTEN = ("grad", "value_and_grad", "grad_aux", "value_and_grad_aux")


def _inlined_functions(compiled: Callable) -> tuple:
    """The functions the compiled code inlined, with the code and defaults they had:
    reloading a module in place (IPython's autoreload) swaps a function's code but keeps
    the function, so its identity alone does not say the inlined body is current."""
    return tuple((obj, obj.__code__, obj.__defaults__)
                 for _, _, obj in compiled._adc_function.resolutions
                 if isinstance(obj, types.FunctionType))


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
    every function it inlined still has the code and defaults it inlined, `f` has the
    defaults it was built with, and no rule was registered since it was compiled."""
    if compiled._adc_rules_version != custom.version or not _same_defaults(compiled, f):
        return False
    return _assumptions_hold(compiled._adc_function, getattr(compiled, "_adc_inlined", ()), f)


def _assumptions_hold(fn: Function, inlined: tuple, f: Callable) -> bool:
    """Whether every name `fn` resolved still denotes the same object for `f`, and every
    function it inlined still has the code and defaults it inlined."""
    for owner, spelling, obj in fn.resolutions:
        if not same_callable(resolve_path(owner or f, spelling), obj):
            return False
    return all(g.__code__ is code and g.__defaults__ is defaults
               for g, code, defaults in inlined)


def lowered(f: Callable) -> Function:
    """The IR of `f`, lowered once for the builds asked of it in a row (a Hessian
    builds a gradient and its JVP, a forward-mode gradient one sweep per input, each
    of them starting from `f`'s IR): the last few are kept while `f` has the same code
    and defaults, no rule was registered, and what the IR assumed still holds."""
    if not isinstance(f, types.FunctionType) or isinstance(getattr(f, "_adc_function", None),
                                                          Function):
        return lower(f)
    kept = cache.lowered(f)
    if kept is not None:
        fn, code, defaults, version, inlined = kept
        if f.__code__ is code and f.__defaults__ is defaults and version == custom.version \
                and _assumptions_hold(fn, inlined, f):
            return fn
    version, code, defaults = custom.version, f.__code__, f.__defaults__
    with depth.collector_paused():  # a Hessian lowers before its builds pause it
        fn = lower(f)
    inlined = tuple((g, g.__code__, g.__defaults__) for _, _, g in fn.resolutions
                    if isinstance(g, types.FunctionType))
    cache.keep_lowered(f, (fn, code, defaults, version, inlined))
    return fn


def _same_defaults(compiled: Callable, f: Callable) -> bool:
    """A gradient carries the default values of the function it was built for; equal
    code (the cache's key) can come with other defaults (``def f(x, a=2.0)`` edited to
    ``a=3.0`` and reloaded)."""
    built = getattr(compiled, "__defaults__", None)
    if built is None:
        return True
    now = getattr(f, "__defaults__", None) or ()
    return len(built) == len(now) and all(a is b for a, b in zip(built, now))


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
    for made_for_it in ("_adc_unit_seeded", "_adc_sweeps"):  # the other function's
        out.__dict__.pop(made_for_it, None)
    if "version_for" in compiled.__dict__:  # it answers for itself, not for `compiled`
        _generic_only(out)
    return out

def with_defaults(f: Callable, primals: tuple) -> tuple:
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


def unshared(fn: Function, args: tuple) -> tuple:
    """The arguments to call the Python function with where its augmented assignments
    change their arrays in place (`fn.updates_inputs`): copies, so that the derivative
    is taken at the point given, and the caller's arrays are left as they were."""
    if not fn.updates_inputs:
        return args
    return tuple(copy.deepcopy(a) if isinstance(a, (np.ndarray, list, dict)) else a
                 for a in args)
