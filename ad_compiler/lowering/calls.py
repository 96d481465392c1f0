"""Lowering calls: primitives by identity of the callee, user functions and nested
functions inlined, names resolved to globals, closures and builtins."""
from __future__ import annotations

import ast
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from ..custom import array_rule_of, partials_of
from ..errors import ADCompileError
from ..frontend import FunctionSource, load
from ..ir import Block, Const, FreeName, Operand, SourceLoc, walk_ops
from ..primitives import (
    NONDIFF_BUILTINS,
    NONDIFF_NUMPY,
    PRIMITIVES,
    callable_to_emit,
    lookup_array,
    lookup_callable,
)
from ..registry import REGISTRY
from ..registry.reductions import OWN_PRIMAL
from . import recursion
from .values import (
    _is_constant_object,
    _LocalFunction,
    _TupleValue,
)

# Packages whose functions are never inlined from their source: a function of theirs
# without a rule is a call, refused at the user's line where its arguments vary (their
# source is written for arrays of any namespace, not for differentiating through)
LIBRARIES = ("numpy", "scipy")


def is_library_function(fn: types.FunctionType) -> bool:
    """Whether `fn` belongs to NumPy or SciPy (by the module it says it comes from)."""
    module = getattr(fn, "__module__", None) or ""
    return module.partition(".")[0] in LIBRARIES


def is_distribution(obj: object) -> bool:
    """Whether `obj` is a scipy.stats distribution object (``stats.norm``), whose call
    makes a frozen distribution."""
    return any(cls.__name__ in ("rv_generic", "multi_rv_generic")
               and cls.__module__.startswith("scipy.stats")
               for cls in type(obj).__mro__)


class Calls:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    def _local_function(self, node: ast.FunctionDef | ast.Lambda) -> _LocalFunction:
        args = node.args
        if args.vararg or args.kwarg or args.kwonlyargs:
            raise self.error(node, "nested functions with *args, **kwargs or keyword-only "
                                   "parameters are not supported",
                             hint="give it plain positional parameters")
        defaults = [self.expr(d) for d in args.defaults]  # evaluated where it is defined
        return _LocalFunction(node, defaults)

    def _inline_local(self, local: _LocalFunction, args: list[Operand],
                      kwargs: dict[str, Operand], node: ast.Call) -> Any:
        """Inline a nested function; it reads the enclosing variables as they are now."""
        bound = self._bind_parameters(local.node.args, local.defaults, "this function",
                                      args, kwargs, node)
        name = getattr(local.node, "name", "lambda")
        frame = recursion.Frame(id(local.node), name, bound)
        child = type(self)(self.src)  # a lowerer like this one
        child.root, child.builder, child.frame = self.root, self.builder, frame
        child.statements = self.statements
        child.caller, child.frame_node = (self, node), local.node
        child.env = dict(self.env)
        child.env.update(bound)
        with recursion.activation(self, frame, node):
            if isinstance(local.node, ast.Lambda):
                child._begin(local.node.body)
                outputs, is_tuple = child._return_value(local.node.body)
            else:
                outputs, is_tuple = child._body(local.node.body)
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        return _TupleValue(outputs) if is_tuple else outputs[0]

    def _free_name(self, spelling: str, kind: str, node: ast.AST) -> FreeName:
        """A global or closure variable; an inlined function's must be reachable from
        the generated code, which runs with the differentiated function's globals."""
        root = spelling.split(".")[0]
        if self.root is self or kind == "builtin":
            return FreeName(spelling, kind)
        if kind == "global" and self.src.globals is self.root.src.globals:
            return FreeName(spelling, kind)
        if kind == "closure":
            cell = self.src.cells[root]
            known = {**self.root.src.cells, **self.root.extra_cells}
            if known.get(root, cell) is cell:
                self.root.extra_cells[root] = cell
                return FreeName(spelling, kind)
        raise self.error(node, f"'{root}' belongs to {self.src.name}'s module or closure and "
                               "cannot be read from the function being differentiated",
                         hint=f"pass '{root}' to {self.src.name} as an argument")

    def _resolve_path(self, node: ast.expr) -> tuple[str, str, Any]:
        """Resolve `a.b.c` whose root is a global, closure or builtin name."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            raise self.error(node, "only names and module attributes can be called here",
                             hint="assign the callable to a module-level name")
        if node.id in self.env:
            raise self.error(node, "attributes and methods of values are not supported yet",
                             hint="use the NumPy or math function instead of the method")
        resolved = self.src.resolve(node.id)
        if resolved is None:
            raise self.error(node, f"the name '{node.id}' is not defined")
        obj = resolved.obj
        for attr in reversed(parts):
            if not hasattr(obj, attr):
                raise self.error(node, f"'{node.id}' has no attribute '{attr}'")
            obj = getattr(obj, attr)
        spelling = ".".join([node.id, *reversed(parts)])
        owner = None if self.root is self else self.src.func
        self.root.resolutions.append((owner, spelling, obj))
        return spelling, resolved.kind, obj

    def _inline(self, fn: types.FunctionType, spelling: str, args: list[Operand],
                kwargs: dict[str, Operand], node: ast.Call) -> Operand | _TupleValue:
        """Lower a call to a Python function by lowering its body in place.

        Inlining differentiates helpers with their caller in one generated function:
        no call overhead, and the optimiser sees across the call.
        """
        try:
            source = load(fn)
        except ADCompileError as exc:
            raise self.error(node, f"'{spelling}' has no source to differentiate ({exc.what})",
                             hint=f"register its derivative with adc.defpartials({spelling}, "
                                  "lambda y, *args: ...)") from None
        bound = self._bind_arguments(source, args, kwargs, node)
        frame = recursion.Frame(fn.__code__, source.name, bound)
        child = type(self)(source)
        child.root, child.builder, child.frame = self.root, self.builder, frame
        child.caller = (self, node)
        child.env = bound
        block, mark = self.builder.block, len(self.builder.block.ops)
        with recursion.activation(self, frame, node):
            if isinstance(child.src.node, ast.Lambda):
                child._begin(child.src.node.body)
                outputs, is_tuple = child._return_value(child.src.node.body)
            else:
                outputs, is_tuple = child._body(child.src.node.body)
        here = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        for op in walk_ops(Block(ops=block.ops[mark:])):
            op.loc = here  # inlined code is commented with the statement calling it
        self.builder.loc = here
        return _TupleValue(outputs) if is_tuple else outputs[0]

    def _bind_arguments(self, callee: FunctionSource, args: list[Operand],
                        kwargs: dict[str, Operand], node: ast.Call) -> dict[str, Operand]:
        spec = callee.node.args
        if spec.vararg or spec.kwarg or spec.kwonlyargs:
            raise self.error(node, f"'{callee.name}' has *args, **kwargs or keyword-only "
                                   "parameters, which inlining does not support yet (Python "
                                   "functions a differentiated function calls are inlined)",
                             hint="give it plain positional parameters if it is yours; call a "
                                  "library function such as logging's outside the function "
                                  "you differentiate, or register its derivative with "
                                  "adc.defpartials")
        defaults = []
        for value in callee.func.__defaults__ or ():
            defaults.append(Const(value) if isinstance(value, (int, float, bool, type(None)))
                            else None)
        return self._bind_parameters(spec, defaults, f"'{callee.name}'", args, kwargs, node)

    def _bind_parameters(self, spec: ast.arguments, defaults: list[Operand | None], label: str,
              args: list[Operand], kwargs: dict[str, Operand],
              node: ast.Call) -> dict[str, Operand]:
        """Parameter names to argument values, as a call binds them (None: no usable default)."""
        names = [a.arg for a in [*spec.posonlyargs, *spec.args]]
        if len(args) > len(names):
            raise self.error(node, f"{label} takes {len(names)} arguments, {len(args)} given")
        bound = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names or key in bound:
                raise self.error(node, f"{label} got an unexpected or repeated argument "
                                       f"'{key}'")
            bound[key] = value
        first_default = len(names) - len(defaults)
        for index, name in enumerate(names):
            if name in bound:
                continue
            default = defaults[index - first_default] if index >= first_default else None
            if default is None:
                raise self.error(node, f"no value for the parameter '{name}' of {label}",
                                 hint="pass it explicitly")
            bound[name] = default
        return bound

    def _arguments(self, node: ast.Call,
                   lower: Callable[[ast.expr], Any]) -> tuple[list[Any], dict[str, Any]]:
        """A call's positional and keyword arguments, each lowered with `lower`."""
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(arg, "starred arguments are not supported",
                                 hint="pass the arguments one by one")
        if any(k.arg is None for k in node.keywords):
            raise self.error(node, "'**' arguments are not supported",
                             hint="pass keyword arguments by name")
        return [lower(a) for a in node.args], {k.arg: lower(k.value) for k in node.keywords}

    def _call(self, node: ast.Call) -> Operand | _TupleValue:
        local = None
        if isinstance(node.func, ast.Name) and isinstance(self.env.get(node.func.id),
                                                          _LocalFunction):
            local = self.env[node.func.id]
        elif isinstance(node.func, ast.Lambda):
            local = self._local_function(node.func)
        if local is not None:
            args, kwargs = self._arguments(node, self.expr)
            return self._inline_local(local, args, kwargs, node)
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
            frozen = self._frozen_method_call(node)  # norm(mu, sigma).logpdf(x)
            if frozen is not None:
                return frozen
        if isinstance(node.func, ast.Attribute) and self._is_value_expression(node.func.value):
            return self._method_call(node)  # x.sum(axis=0)
        spelling, root_kind, fn = self._resolve_path(node.func)
        if is_distribution(fn):
            raise self.error(node, f"'{spelling}(...)' makes a frozen scipy.stats "
                                   "distribution, which differentiates only where a method "
                                   f"with a rule is called on it at once ({spelling}(mu, "
                                   "sigma).logpdf(x))",
                             hint=f"call the method in the same expression, or pass the "
                                  f"parameters to it: {spelling}.logpdf(x, loc, scale)")
        rule = array_rule_of(fn)
        if rule is not None:  # the user's rule for a function of arrays comes first
            args, kwargs = self._arguments(node, self.expr)
            self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
            attrs = {"fn": callable_to_emit(fn), "callee": spelling, "callee_kind": root_kind,
                     "rule": rule, "kwnames": tuple(kwargs)}
            return self.builder.emit("custom", [*args, *kwargs.values()], attrs=attrs).result
        array_name = lookup_array(fn)
        if (array_name is not None or id(fn) in NONDIFF_NUMPY) and partials_of(fn) is None:
            args, kwargs = self._arguments(node, self._static_or_value)
            if array_name is None:
                return self._nondiff_call(fn, spelling, args, node, kwargs)
            result = self._array_call(array_name, spelling, args, kwargs, node)
            if fn is np.asarray or fn is np.asanyarray:  # an array argument comes back itself
                self.builder.producers[result.uid].attrs.update(fn=fn, same_object=True)
            elif id(fn) in OWN_PRIMAL or REGISTRY[array_name].bound:
                # math.prod: np.prod's rule, math.prod's value; stats.norm.logpdf: the
                # user's bound method
                self.builder.producers[result.uid].attrs["fn"] = fn
            return result
        args, kwargs = self._arguments(node, self.expr)
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = {"fn": callable_to_emit(fn), "callee": spelling, "callee_kind": root_kind}
        partials = partials_of(fn)
        if partials is not None:  # the user's own rule comes first
            if kwargs:
                raise self.error(node, f"'{spelling}' has a custom rule and takes its "
                                       "arguments by position only",
                                 hint=f"pass them by position: {spelling}("
                                      f"{', '.join(kwargs)})")
            attrs.update(partials=partials, kwnames=())
            return self.builder.emit("custom", args, attrs=attrs).result
        hit = lookup_callable(fn)
        if hit is not None:
            prim, family = hit
            attrs["family"] = family
            if prim == "log" and len(args) == 2 and not kwargs:  # math.log(x, base)
                top = self.builder.emit("log", args[:1], attrs=dict(attrs)).result
                bottom = self.builder.emit("log", args[1:], attrs=dict(attrs)).result
                return self.builder.emit("truediv", [top, bottom]).result
            if len(args) == PRIMITIVES[prim].arity and not kwargs:
                return self.builder.emit(prim, args, attrs=attrs).result
            # max(a, b, c), sc.zeta(s) (Riemann's): a call, refused where its arguments vary
            if not PRIMITIVES[prim].nondiff and family not in ("builtin", "scipy"):
                raise self.error(node, f"'{spelling}' is supported with "
                                       f"{PRIMITIVES[prim].arity} positional argument(s) only",
                                 hint="drop the extra arguments")
        elif (isinstance(fn, types.FunctionType) and id(fn) not in NONDIFF_BUILTINS
              and not is_library_function(fn)):
            return self._inline(fn, spelling, args, kwargs, node)
        if (hit is not None and PRIMITIVES[hit[0]].nondiff) or id(fn) in NONDIFF_BUILTINS:
            attrs["nondiff"] = True
        attrs["kwnames"] = tuple(kwargs)
        return self.builder.emit("call", [*args, *kwargs.values()], attrs=attrs).result

    def _frozen_method_call(self, node: ast.Call) -> Operand | None:
        """``norm(mu, sigma).logpdf(x)``: a method with a rule of a distribution frozen in
        the same expression is the distribution's method with the frozen parameters
        (``norm.logpdf(x, mu, sigma)``, which is what SciPy's frozen method calls);
        None for anything else."""
        inner, method_name = node.func.value, node.func.attr
        if not isinstance(inner.func, (ast.Name, ast.Attribute)) or \
                self._is_value_expression(inner.func):
            return None
        spelling, root_kind, dist = self._resolve_path(inner.func)
        method = getattr(dist, method_name, None) if is_distribution(dist) else None
        name = lookup_array(method) if method is not None else None
        if name is None:
            return None
        frozen_args, frozen_kwargs = self._arguments(inner, self._static_or_value)
        args, kwargs = self._arguments(node, self._static_or_value)
        for key in kwargs.keys() & frozen_kwargs.keys():
            raise self.error(node, f"'{key}' is given both to the distribution and to "
                                   f"its method '{method_name}'", hint="give it once")
        result = self._array_call(name, f"{spelling}.{method_name}", [*args, *frozen_args],
                                  {**frozen_kwargs, **kwargs}, node)
        self.builder.producers[result.uid].attrs.update(fn=method, callee_kind=root_kind)
        return result

    def _static_value(self, node: ast.Attribute) -> Operand:
        """`module.CONSTANT` (math.pi, np.e): read when the code runs."""
        spelling, root_kind, obj = self._resolve_path(node)
        if _is_constant_object(obj):
            if self.root is not self and isinstance(obj, (int, float)):
                return Const(obj)  # a module constant (math.pi) read by an inlined function
            return self._free_name(spelling, root_kind, node)
        raise self.error(node, f"'{spelling}' is not a number and cannot be used as a value",
                         hint="call it, or pass the value it holds as an argument")
