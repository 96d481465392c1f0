"""Lowering calls: primitives by identity of the callee, user functions and nested
functions inlined, names resolved to globals, closures and builtins."""
from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import functools
import inspect
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from ..custom import array_rule_of, partials_of
from ..errors import ADCompileError, no_rule_hint
from ..frontend import FunctionSource, load
from ..ir import Block, Const, FreeName, Operand, SourceLoc, Value, walk_ops
from ..primitives import (
    NONDIFF_BUILTINS,
    NONDIFF_NUMPY,
    PRIMITIVES,
    builtin_call_attrs,
    callable_to_emit,
    lookup_array,
    lookup_callable,
)
from ..registry import REGISTRY
from ..registry.emit import array_op
from ..registry.reductions import OWN_PRIMAL
from . import recursion
from .comprehensions import is_fold
from .records import record_class
from .statements import is_sink, makes_text
from .values import (
    _FrozenDistribution,
    _is_constant_object,
    _LocalFunction,
    _Partial,
    _Spread,
    _StaticDict,
    _StaticSeq,
    _TupleValue,
)

# Packages whose functions are never inlined from their source: a function of theirs
# without a rule is a call, refused at the user's line where its arguments vary (their
# source is written for arrays of any namespace, not for differentiating through)
LIBRARIES = ("numpy", "scipy")


# builtins that ask what something is; their arguments may be classes and functions
_PREDICATES = (builtins.isinstance, builtins.issubclass, builtins.callable)


class _Callable:
    """The argument of ``callable(f)`` where `f` is a function or module of the
    user's code: the answer is known when compiling."""


def is_library_function(fn: types.FunctionType) -> bool:
    """Whether `fn` belongs to NumPy or SciPy (by the module it says it comes from)."""
    module = getattr(fn, "__module__", None) or ""
    return module.partition(".")[0] in LIBRARIES


def is_standard_library_function(fn: types.FunctionType) -> bool:
    """Whether `fn` is Python code of the standard library (statistics.mean,
    copy.copy), whose refusals are said where the user's code calls it."""
    module = getattr(fn, "__module__", None) or ""
    return module.partition(".")[0] in getattr(sys, "stdlib_module_names", ())


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
        defaults = [self.expr(d) for d in args.defaults]  # evaluated where it is defined
        kw_defaults = [None if d is None else self.expr(d) for d in args.kw_defaults]
        return _LocalFunction(node, defaults, kw_defaults)

    def _inline_local(self, local: _LocalFunction, args: list[Operand],
                      kwargs: dict[str, Operand], node: ast.Call) -> Any:
        """Inline a nested function; it reads the enclosing variables as they are now."""
        kw_defaults = dict(zip((a.arg for a in local.node.args.kwonlyargs), local.kw_defaults))
        bound = self._bind_parameters(local.node.args, local.defaults, "this function",
                                      args, kwargs, node, kw_defaults)
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
        if node.id in self.local_imports:  # import numpy as onp, inside the function
            obj, kind = self.local_imports[node.id], "import"
        else:
            resolved = self.src.resolve(node.id)
            if resolved is None:
                raise self.error(node, f"the name '{node.id}' is not defined")
            obj, kind = resolved.obj, resolved.kind
        for attr in reversed(parts):
            if not hasattr(obj, attr):
                raise self.error(node, f"'{node.id}' has no attribute '{attr}'")
            obj = getattr(obj, attr)
        spelling = ".".join([node.id, *reversed(parts)])
        if kind == "import":  # fixed by the import statement: nothing to check again
            return spelling, kind, obj
        owner = None if self.root is self else self.src.func
        self.root.resolutions.append((owner, spelling, obj))
        return spelling, kind, obj

    def _sink_target(self, func: ast.expr) -> tuple[str, str, Any] | None:
        """(spelling, kind, callable) where `func` names a sink through a module-level
        object (``log.info`` of ``log = logging.getLogger(...)``); None otherwise."""
        root = func
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(func, ast.Attribute) or not isinstance(root, ast.Name) or \
                root.id in self.env or root.id in self.branch_only:
            return None
        if root.id not in self.local_imports and self.src.resolve(root.id) is None:
            return None
        try:
            found = self._resolve_path(func)
        except ADCompileError:
            return None
        return found if is_sink(found[2]) else None

    def _predicate_call(self, node: ast.Call, spelling: str, fn: Any) -> Operand:
        """isinstance(x, float), issubclass(t, np.floating), callable(f): called as
        written; their arguments may be classes and functions, and they have no
        derivative."""
        if node.keywords:
            raise self.error(node, f"{spelling}() takes no keyword arguments")
        if fn is builtins.callable and len(node.args) == 1 and isinstance(
                node.args[0], (ast.Name, ast.Lambda)) and (isinstance(node.args[0], ast.Lambda)
                                                          or isinstance(self.env.get(
                                                              node.args[0].id), _LocalFunction)):
            return Const(True)  # a function defined here

        def argument(arg: ast.expr) -> Any:
            if isinstance(arg, ast.Tuple):
                return self._pack_static([argument(e) for e in arg.elts], arg)
            if isinstance(arg, (ast.Name, ast.Attribute)) and not self._is_value_expression(arg):
                spelling_, kind, obj = self._resolve_path(arg)
                if fn is builtins.callable and not isinstance(obj, type):
                    return _Callable()  # a function or a module: asked of the object
                return self._class_operand(spelling_, kind, obj, arg)
            return self._static_or_value(arg)
        args = [argument(a) for a in node.args]
        if fn is builtins.callable and len(args) == 1 and isinstance(args[0], _Callable):
            return Const(callable(self._resolve_path(node.args[0])[2]))
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        return self.builder.emit("call", args, attrs=builtin_call_attrs(fn)).result

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

        def usable(value: Any) -> Operand | None:
            return Const(value) if isinstance(value, (int, float, bool, str, type(None))) \
                else None
        defaults = [usable(value) for value in callee.func.__defaults__ or ()]
        kw_defaults = {k: usable(v) for k, v in (callee.func.__kwdefaults__ or {}).items()}
        return self._bind_parameters(spec, defaults, f"'{callee.name}'", args, kwargs, node,
                                     kw_defaults)

    def _bind_parameters(self, spec: ast.arguments, defaults: list[Operand | None], label: str,
                         args: list[Any], kwargs: dict[str, Any], node: ast.Call,
                         kw_defaults: dict[str, Operand | None] | None = None) -> dict[str, Any]:
        """Parameter names to argument values, as a call binds them (None: no usable
        default): ``*args`` to a tuple of the extra positional arguments (or to the
        sequence a ``*xs`` passes on whole), ``**kwargs`` to a dict of the extra keywords."""
        names = [a.arg for a in [*spec.posonlyargs, *spec.args]]
        spread = args[-1] if args and isinstance(args[-1], _Spread) else None
        args = args[:-1] if spread is not None else args
        if any(isinstance(a, _Spread) for a in args) or spread is not None and (
                spec.vararg is None or len(args) != len(names)):
            raise self.error(node, f"a starred argument whose length is known only when the "
                                   f"code runs can only fill {label}'s *args parameter whole",
                             hint="pass the items one by one, or give every other parameter "
                                  "its value before the starred argument")
        if len(args) > len(names) and spec.vararg is None:
            raise self.error(node, f"{label} takes {len(names)} arguments, {len(args)} given")
        bound: dict[str, Any] = dict(zip(names, args))
        if spec.vararg is not None:
            bound[spec.vararg.arg] = spread.value if spread is not None else \
                _StaticSeq(list(args[len(names):]), "tuple")
        kwonly = [a.arg for a in spec.kwonlyargs]
        extra: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in bound or key not in names and key not in kwonly and spec.kwarg is None:
                raise self.error(node, f"{label} got an unexpected or repeated argument "
                                       f"'{key}'")
            if key in names or key in kwonly:
                bound[key] = value
            else:
                extra[key] = value
        if spec.kwarg is not None:
            bound[spec.kwarg.arg] = _StaticDict(extra)
        first_default = len(names) - len(defaults)
        for index, name in enumerate(names):
            if name in bound:
                continue
            default = defaults[index - first_default] if index >= first_default else None
            if default is None:
                raise self.error(node, f"no value for the parameter '{name}' of {label}",
                                 hint="pass it explicitly")
            bound[name] = default
        for name in kwonly:
            if name not in bound:
                default = (kw_defaults or {}).get(name)
                if default is None:
                    raise self.error(node, f"no value for the keyword-only parameter "
                                           f"'{name}' of {label}", hint="pass it explicitly")
                bound[name] = default
        return bound

    def _arguments(self, node: ast.Call, lower: Callable[[ast.expr], Any],
                   spread: bool = False) -> tuple[list[Any], dict[str, Any]]:
        """A call's positional and keyword arguments, each lowered with `lower`.

        ``f(*xs)`` and ``f(**kw)`` pass the items of a list, tuple or dict whose items
        are known when compiling (a display, or a function's ``*args``/``**kwargs``);
        with `spread`, a sequence known only when the code runs is passed on whole
        (a `_Spread`) for the callee's ``*args``."""
        args: list[Any] = []
        for arg in node.args:
            if not isinstance(arg, ast.Starred):
                args.append(lower(arg))
                continue
            value = self._item(self._rvalue(arg.value))
            if isinstance(value, _TupleValue):
                value = _StaticSeq(list(value.items), "tuple")
            if isinstance(value, _StaticSeq):
                args.extend(self._materialize(v, arg) for v in value.items)
            elif spread and isinstance(value, Value):
                args.append(_Spread(value))
            else:
                raise self.error(arg, "starred arguments are supported where the items are "
                                      "known when compiling (a list or tuple display, or the "
                                      "*args of the function)",
                                 hint="pass the arguments one by one")
        kwargs: dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg is not None:
                kwargs[keyword.arg] = lower(keyword.value)
                continue
            value = self._item(self._rvalue(keyword.value))
            if not isinstance(value, _StaticDict) or not all(
                    isinstance(k, str) for k in value.items):
                raise self.error(keyword.value, "'**' arguments are supported where the "
                                                "dict's keys are known when compiling (a dict "
                                                "display, or the **kwargs of the function)",
                                 hint="pass keyword arguments by name")
            kwargs.update((k, self._materialize(v, keyword.value))
                          for k, v in value.items.items())
        return args, kwargs

    def _call(self, node: ast.Call) -> Operand | _TupleValue:
        local = None
        if isinstance(node.func, ast.Name) and isinstance(self.env.get(node.func.id),
                                                          _LocalFunction):
            local = self.env[node.func.id]
        elif isinstance(node.func, ast.Lambda):
            local = self._local_function(node.func)
        if local is not None:
            args, kwargs = self._arguments(node, self.expr, spread=True)
            return self._inline_local(local, args, kwargs, node)
        if isinstance(node.func, ast.Name) and isinstance(self.env.get(node.func.id), _Partial):
            return self._call(self._completed(self.env[node.func.id], node))
        if isinstance(node.func, ast.Call) and isinstance(node.func.func, (ast.Name,
                                                                          ast.Attribute)) \
                and not self._is_value_expression(node.func.func) \
                and self._resolve_path(node.func.func)[2] is functools.partial:
            return self._call(self._completed(self._make_partial(node.func), node))
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
            frozen = self._frozen_method_call(node)  # norm(mu, sigma).logpdf(x)
            if frozen is not None:
                return frozen
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                and isinstance(self.env.get(node.func.value.id), _FrozenDistribution):
            return self._frozen_method(self.env[node.func.value.id], node)  # d.logpdf(x)
        formatted = self._format_method(node)  # "{:.3f}".format(y)
        if formatted is not None:
            return formatted
        sink = self._sink_target(node.func)
        if sink is not None:  # log.info(...) on a module's logger
            return self._sink_call(node, *sink)
        if isinstance(node.func, ast.Attribute) and self._is_value_expression(node.func.value):
            return self._method_call(node)  # x.sum(axis=0)
        spelling, root_kind, fn = self._resolve_path(node.func)
        if is_sink(fn):
            return self._sink_call(node, spelling, root_kind, fn)
        if makes_text(fn):
            return self._text_call(node, spelling, root_kind, fn)
        if any(fn is p for p in _PREDICATES):
            return self._predicate_call(node, spelling, fn)
        if is_fold(fn):  # sum(...), max(...), map(...): a loop over the items
            folded = self._fold_call(node, fn, spelling)
            if folded is not None:
                return folded
        if getattr(fn, "__self__", None) is np.add and getattr(fn, "__name__", "") == "at":
            return self._add_at(node)  # np.add.at(a, idx, v): a write into a
        if is_distribution(fn):  # d = norm(mu, sigma): its methods are called later
            args, kwargs = self._arguments(node, self._static_or_value)
            return _FrozenDistribution(spelling, root_kind, fn, args, kwargs)
        rule = array_rule_of(fn)
        if rule is not None:  # the user's rule for a function of arrays comes first
            args, kwargs = self._arguments(node, self.expr)
            self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
            attrs = {"fn": callable_to_emit(fn), "callee": spelling, "callee_kind": root_kind,
                     "rule": rule, "kwnames": tuple(kwargs)}
            return self.builder.emit("custom", [*args, *kwargs.values()], attrs=attrs).result
        if (fn is copy.copy or fn is copy.deepcopy or fn is dict) and partials_of(fn) is None:
            return self._copied(node, fn, spelling, root_kind)
        if record_class(fn) is not None and partials_of(fn) is None:
            return self._record(node, fn, spelling)  # Params(w, b), Point(x=1.0, y=v)
        if fn is dataclasses.replace:
            return self._dataclass_replace(node, spelling)
        if fn is np.select and partials_of(fn) is None:  # its lists as written
            args, kwargs = self._arguments(node, self._rvalue)
            return self._select(spelling, args, kwargs, node)
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
        if fn is functools.partial:
            return self._make_partial(node)
        if isinstance(fn, functools.partial) and partials_of(fn) is None:  # (a rule first)
            return self._call(self._module_partial(node, fn))
        inlinable = (isinstance(fn, types.FunctionType) and id(fn) not in NONDIFF_BUILTINS
                     and not is_library_function(fn) and partials_of(fn) is None
                     and lookup_callable(fn) is None)
        args, kwargs = self._arguments(node, self.expr, spread=inlinable)  # (its *args)
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
            if kwargs and family == "builtin":  # pow(x, exp=3): by position, as Python binds
                args, kwargs = _bound_by_position(fn, args, kwargs)
            if len(args) == PRIMITIVES[prim].arity and not kwargs:
                return self.builder.emit(prim, args, attrs=attrs).result
            if PRIMITIVES[prim].other_arity and not kwargs:  # math.hypot(x, y, z)
                return array_op(self.builder, PRIMITIVES[prim].other_arity, {}, args,
                                attrs={**attrs, "family": family})
            # max(a, b, c), sc.zeta(s) (Riemann's): a call, refused where its arguments vary
            if not PRIMITIVES[prim].nondiff and family not in ("builtin", "scipy"):
                raise self.error(node, f"'{spelling}' is supported with "
                                       f"{PRIMITIVES[prim].arity} positional argument(s) only",
                                 hint="drop the extra arguments")
        elif (isinstance(fn, types.FunctionType) and id(fn) not in NONDIFF_BUILTINS
              and not is_library_function(fn)):
            caller_module = str(self.src.globals.get("__name__", ""))
            if not is_standard_library_function(fn) or \
                    caller_module.partition(".")[0] in getattr(sys, "stdlib_module_names", ()):
                return self._inline(fn, spelling, args, kwargs, node)
            try:
                return self._inline(fn, spelling, args, kwargs, node)
            except ADCompileError as inner:  # said at the user's call, not inside Python's
                where = f" ({inner.filename}, line {inner.lineno})" if inner.filename else ""
                raise self.error(node, f"'{spelling}' comes from Python's standard library, "
                                       f"whose code cannot be differentiated here: "
                                       f"{inner.what}{where}",
                                 hint=no_rule_hint(spelling, len(args),
                                                   f"{spelling}(adc.stop_gradient(...))",
                                                   " (NumPy's or math's)")) from None
        if (hit is not None and PRIMITIVES[hit[0]].nondiff) or id(fn) in NONDIFF_BUILTINS:
            attrs["nondiff"] = True
        attrs["kwnames"] = tuple(kwargs)
        return self.builder.emit("call", [*args, *kwargs.values()], attrs=attrs).result

    def _make_partial(self, node: ast.Call) -> _Partial:
        """``functools.partial(g, a, k=v)``: the arguments are evaluated now, as Python
        does, and bound to names the completed call reads."""
        if not node.args or isinstance(node.args[0], ast.Starred):
            raise self.error(node, "functools.partial needs the function first")

        def frozen(arg: ast.expr) -> ast.expr:
            if isinstance(arg, ast.Starred):
                return arg
            hidden = f"__partial_{arg.lineno}_{arg.col_offset}"
            self.env[hidden] = self._rvalue(arg)
            return ast.copy_location(ast.Name(hidden, ast.Load()), arg)
        call = ast.Call(node.args[0], [frozen(a) for a in node.args[1:]],
                        [ast.keyword(k.arg, frozen(k.value)) for k in node.keywords])
        return _Partial(ast.copy_location(call, node))

    def _completed(self, partial: _Partial, node: ast.Call) -> ast.Call:
        """The call of a partial's function with its frozen arguments, then those of
        this call (whose keywords replace the frozen ones, as functools does)."""
        given = {k.arg for k in node.keywords}
        keywords = [k for k in partial.call.keywords if k.arg not in given or k.arg is None]
        call = ast.Call(partial.call.func, [*partial.call.args, *node.args],
                        [*keywords, *node.keywords])
        return ast.copy_location(call, node)

    def _module_partial(self, node: ast.Call, fn: functools.partial) -> ast.Call:
        """A call of a module-level ``functools.partial`` object: a call of its function
        (``scaled.func``) with its frozen arguments, which must be constants."""
        def constant(value: Any) -> ast.expr:
            if not isinstance(value, (int, float, bool, str, type(None))):
                raise self.error(node, f"the arguments frozen in this functools.partial "
                                       f"object must be numbers or strings, not "
                                       f"{type(value).__name__}",
                                 hint="make the partial inside the function, or pass the "
                                      "value as an argument")
            return ast.copy_location(ast.Constant(value), node)
        given = {k.arg for k in node.keywords}
        func = ast.copy_location(ast.Attribute(node.func, "func", ast.Load()), node)
        call = ast.Call(func, [*(constant(a) for a in fn.args), *node.args],
                        [*(ast.keyword(k, constant(v)) for k, v in fn.keywords.items()
                           if k not in given), *node.keywords])
        return ast.copy_location(call, node)

    def _frozen_method_call(self, node: ast.Call) -> Operand | None:
        """``norm(mu, sigma).logpdf(x)``: a method of a distribution frozen in the same
        expression; None for anything else."""
        inner = node.func.value
        if not isinstance(inner.func, (ast.Name, ast.Attribute)) or \
                self._is_value_expression(inner.func):
            return None
        spelling, root_kind, dist = self._resolve_path(inner.func)
        if not is_distribution(dist):
            return None
        frozen_args, frozen_kwargs = self._arguments(inner, self._static_or_value)
        frozen = _FrozenDistribution(spelling, root_kind, dist, frozen_args, frozen_kwargs)
        return self._frozen_method(frozen, node)

    def _frozen_method(self, frozen: _FrozenDistribution, node: ast.Call) -> Operand:
        """A method of a frozen distribution is the distribution's method with the frozen
        parameters after the method's own arguments (``norm.logpdf(x, mu, sigma)``,
        which is what SciPy's frozen method calls)."""
        method_name = node.func.attr
        method = getattr(frozen.dist, method_name, None)
        name = lookup_array(method) if method is not None else None
        if name is None:
            raise self.error(node, f"the method '{method_name}' of a frozen "
                                   f"'{frozen.spelling}' distribution has no derivative rule",
                             hint=f"the methods with rules are those of {frozen.spelling} "
                                  "that the README lists (logpdf, pdf, cdf, logcdf, ...); "
                                  "call others outside the differentiated function")
        args, kwargs = self._arguments(node, self._static_or_value)
        for key in kwargs.keys() & frozen.kwargs.keys():
            raise self.error(node, f"'{key}' is given both to the distribution and to "
                                   f"its method '{method_name}'", hint="give it once")
        result = self._array_call(name, f"{frozen.spelling}.{method_name}",
                                  [*args, *frozen.args], {**frozen.kwargs, **kwargs}, node)
        self.builder.producers[result.uid].attrs.update(fn=method,
                                                        callee_kind=frozen.root_kind)
        return result

    def _static_value(self, node: ast.Attribute) -> Operand:
        """`module.CONSTANT` (math.pi, np.e): read when the code runs."""
        spelling, root_kind, obj = self._resolve_path(node)
        if isinstance(obj, type):  # np.ndarray, np.float64 as a value
            return self._class_operand(spelling, root_kind, obj, node)
        if root_kind == "import" and isinstance(obj, (int, float)) and not isinstance(obj, bool):
            return Const(obj)  # onp.pi of an import inside the function
        if root_kind == "import":
            raise self.error(node, f"'{spelling}' comes from an import inside the function "
                                   "and is not a number", hint="import it at module level")
        if _is_constant_object(obj):
            if self.root is not self and isinstance(obj, (int, float)):
                return Const(obj)  # a module constant (math.pi) read by an inlined function
            return self._free_name(spelling, root_kind, node)
        raise self.error(node, f"'{spelling}' is not a number and cannot be used as a value",
                         hint="call it, or pass the value it holds as an argument")


def _bound_by_position(fn: Any, args: list, kwargs: dict) -> tuple[list, dict]:
    """A builtin's keyword arguments moved to their positions (``pow(x, exp=3)`` is
    ``pow(x, 3)``), where its signature says where they go; else as they were."""
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):  # no signature, or arguments Python would refuse
        return args, kwargs
    return list(bound.args), dict(bound.kwargs)
