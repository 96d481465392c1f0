"""Lowering NumPy: array functions, ndarray methods and attributes, `@`, slicing.

A call is bound to NumPy's own parameter order, so ``np.sum(x, 0)``,
``np.sum(x, axis=0)`` and ``x.sum(axis=0)`` all become the same op and share one rule.
"""
from __future__ import annotations

import ast
from typing import Any

import numpy as np

from .. import runtime_items
from ..errors import no_rule_hint
from ..ir import Const, FreeName, Operand, SourceLoc, Value
from ..primitives import ARRAY_ATTRIBUTES, ARRAY_METHODS
from ..registry import REGISTRY, is_casting
from ..registry.emit import Emit, array_op
from ..registry.scans import IN_PLACE_METHODS
from ..registry.statistics import lower_covariance
from .dicts import DICT_METHODS
from .values import _is_constant_object, _StaticSeq

# what an array holds besides its methods (.T, .shape and the like have rules): read as
# a field of a record, these would differentiate as something else than they are
_ARRAY_DATA = frozenset(name for name in dir(np.ndarray) if not name.startswith("_")
                        and not callable(getattr(np.ndarray, name, None)))


_LIST_HINT = "build a new list instead: ys = ys + [v] (lists are never changed in place)"
_RANDOM_HINT = ("draw the random numbers outside the function you differentiate and pass "
                "them in (or call np.random.normal(...) and the like, constants here)")
_LOG_HINT = "log outside the function you differentiate (print(...) works inside it)"
# what to write instead of methods people call on lists, dicts, strings, loggers, generators
_METHOD_HINTS = {
    **dict.fromkeys(("append", "extend", "insert", "pop", "remove", "clear", "sort",
                     "reverse"), _LIST_HINT),
    "format": "format strings outside the function you differentiate (print(x) works "
              "inside it)",
    **dict.fromkeys(("debug", "info", "warning", "error", "exception", "critical", "log"),
                    _LOG_HINT),
    **dict.fromkeys(("normal", "standard_normal", "uniform", "random", "integers", "choice",
                     "exponential", "poisson", "binomial", "permutation", "shuffle"),
                    _RANDOM_HINT),
}


# NumPy's other names of some parameters
_KEYWORD_ALIASES = {"min": "a_min", "max": "a_max", "newshape": "shape"}


# makers of arrays whose dtype follows from constant arguments (np.zeros(n, dtype=int))
_MADE_FROM_CONSTANTS = (np.zeros, np.ones, np.empty, np.full, np.arange, np.eye, np.identity,
                        np.array, np.asarray, np.zeros_like, np.ones_like, np.empty_like,
                        np.full_like)
_COMPARISONS = ("lt", "le", "gt", "ge", "eq", "ne")
# ndarray methods whose results are piecewise constant: NumPy's function of the same name
_PIECEWISE_CONSTANT_METHODS = {"argmax": np.argmax, "argmin": np.argmin, "argsort": np.argsort,
                               "nonzero": np.nonzero, "all": np.all, "any": np.any,
                               "round": np.round}


class Arrays:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    # ------------------------------------------------------------ calls
    def _array_call(self, name: str, spelling: str, args: list[Any], kwargs: dict[str, Any],
                    node: ast.Call) -> Operand:
        spec = REGISTRY[name]
        loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        if name == "einsum":
            return self._einsum(spelling, args, kwargs, node)
        if name == "array" and isinstance(kwargs.get("copy"), Const) and \
                kwargs["copy"].value is True:  # np.array copies anyway
            kwargs = {k: v for k, v in kwargs.items() if k != "copy"}
        if name == "where" and len(args) + len(kwargs) == 1:  # indices: no derivative
            return self._nondiff_call(np.where, spelling, args, node)
        if name == "arange" and "start" not in kwargs and (
                not args or len(args) == 1 and "stop" not in kwargs):  # a lone stop
            if "step" not in kwargs:  # arange(n): integers from 0, no derivative
                return self._nondiff_call(np.arange, spelling, args, node, kwargs)
            args = [Const(0), *args]  # arange(stop, step=h) is arange(0, stop, step=h)
        undeclared = self._undeclared_arguments(spec.params, spelling or f".{name}", args,
                                                kwargs)
        if spec.positional and len(args) > spec.positional:  # np.gradient(f, hx, hy)
            undeclared = (f"'{spelling}' is supported with at most {spec.positional} "
                          "positional arguments",
                          "differentiate along one axis: pass one spacing and axis=k")
        if undeclared is not None:  # run as it is; refused where it is differentiated
            self.builder.loc = loc
            attrs = {"fn": spec.fn, "kwnames": tuple(kwargs), "callee": spelling or
                     f"np.{name}", "refusal": undeclared}
            return self.builder.emit("call", [*args, *kwargs.values()], attrs=attrs).result
        bound = self._bind_numpy(spec.params, spec.defaults, spelling, args, kwargs, node)
        if name == "clip":
            return self._clip(bound, loc)
        if name in ("cov", "corrcoef"):
            self.builder.loc = loc
            try:
                return lower_covariance(Emit(self.builder), name, bound)
            except NotImplementedError as refusal:
                raise self.error(node, str(refusal)) from None
        self.builder.loc = loc
        attrs: dict[str, Any] = {"callee": spelling} if spelling else {}
        if is_casting(name):
            kind = self._dtype_kind(bound.get("dtype", Const(None)))
            if kind is not None and kind in "biu":
                attrs["nondiff"] = True  # a cast to integers or booleans: piecewise constant
            elif kind is not None and kind in "fc":
                attrs["inexact"] = True
        return array_op(self.builder, name, bound, attrs=attrs or None)

    def _dtype_kind(self, dtype: Operand) -> str | None:
        """The kind of a ``dtype=`` argument known when compiling (``'i'`` for ``int``,
        ``'f'`` for ``np.float32`` or ``"float64"``), None if it is unknown or not given."""
        obj: Any = None
        if isinstance(dtype, Const) and dtype.value is not None:
            obj = dtype.value
        elif isinstance(dtype, FreeName):
            root, *path = dtype.name.split(".")
            resolved = self.src.resolve(root)
            obj = resolved.obj if resolved is not None else None
            for attr in path:
                obj = getattr(obj, attr, None)
        if obj is None or isinstance(obj, Value):
            return None
        try:
            return np.dtype(obj).kind
        except TypeError:
            return None

    def _known_kind(self, value: Operand) -> str | None:
        """The dtype kind of an array made where it is known when compiling
        (``np.zeros(n, dtype=int)`` is ``'i'``, ``np.array([0, 0])`` too, ``x > 0`` is
        ``'b'``, ``np.zeros(n)`` is ``'f'``); None where it is not known."""
        if isinstance(value, Value) and (value.uid in self.root.dtype_kinds
                                         or value.uid in self.root.assumed_float):
            return self.root.dtype_kinds.get(value.uid, "f")
        op = self.builder.producers.get(value.uid) if isinstance(value, Value) else None
        if op is None:
            return None
        if op.prim == "setitem":  # a write keeps its target's dtype
            return self._known_kind(op.args[0])
        if op.prim in _COMPARISONS:
            return "b"
        kwnames = op.attrs.get("kwnames", ())
        positional = op.args[:len(op.args) - len(kwnames)]
        keywords = dict(zip(kwnames, op.args[len(positional):]))
        fn = op.attrs.get("fn")
        if op.prim not in ("array", "asarray") and fn not in _MADE_FROM_CONSTANTS:
            return None
        if "dtype" in keywords:
            return self._dtype_kind(keywords["dtype"])
        if fn in (np.zeros, np.ones, np.empty, np.identity) and positional:
            return "f" if len(positional) == 1 else self._dtype_kind(positional[1])
        if fn is np.eye and len(positional) <= 3:  # (np.eye(N, M, k, dtype))
            return "f"
        if not all(isinstance(a, Const) for a in positional):
            return None
        data = positional[-1].value if fn is np.full else [a.value for a in positional]
        if fn not in (np.full, np.arange):  # np.array(data): data itself
            data = positional[0].value if positional else None
        try:
            return np.asarray(data).dtype.kind if np.size(data) <= 1024 else None
        except (TypeError, ValueError):
            return None

    @staticmethod
    def _undeclared_arguments(params: tuple[str, ...], spelling: str, args: list[Any],
                              kwargs: dict[str, Any]) -> tuple[str, str] | None:
        """What the rule of a NumPy function does not take among the arguments of a
        call (``out=``, take's ``mode=``), and what to do instead; None if nothing."""
        if len(args) > len(params):
            return (f"'{spelling}' is supported with at most {len(params)} positional "
                    f"arguments ({', '.join(params)})", "pass the other arguments by name")
        for key in kwargs:
            key = _KEYWORD_ALIASES.get(key, key) if key not in params else key
            if key not in params or key in params[:len(args)]:
                return (f"'{spelling}' with the argument '{key}' has no derivative rule",
                        f"use only {', '.join(params)}")
        return None

    def _bind_numpy(self, params: tuple[str, ...], defaults: dict[str, Any], spelling: str,
                    args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> dict[str, Any]:
        if len(args) > len(params):
            raise self.error(node, f"'{spelling}' is supported with at most {len(params)} "
                                   f"positional arguments ({', '.join(params)})",
                             hint="pass the other arguments by name")
        bound = dict(zip(params, args))
        for key, value in kwargs.items():
            key = _KEYWORD_ALIASES.get(key, key) if key not in params else key
            if key not in params or key in bound:
                raise self.error(node, f"'{spelling}' with the argument '{key}' has no "
                                       f"derivative rule", hint=f"use only {', '.join(params)}")
            bound[key] = value
        for pname in params:
            if pname not in bound:
                if pname not in defaults:
                    raise self.error(node, f"'{spelling}' needs the argument '{pname}'")
        return bound

    def _clip(self, bound: dict[str, Any], loc: SourceLoc) -> Operand:
        """``np.clip(x, lo, hi)`` is ``np.minimum(np.maximum(x, lo), hi)``, with their rules."""
        value = bound["a"]
        for key, prim, fn in (("a_min", "maximum", np.maximum), ("a_max", "minimum", np.minimum)):
            limit = bound.get(key)
            if limit is None or (isinstance(limit, Const) and limit.value is None):
                continue
            self.builder.loc = loc
            value = self.builder.emit(prim, [value, limit],
                                      attrs={"fn": fn, "family": "numpy"}).result
        return value

    def _select(self, spelling: str, args: list[Any], kwargs: dict[str, Any],
                node: ast.Call) -> Operand:
        """``np.select([c1, c2], [a, b], d)`` is ``np.where(c1, a, np.where(c2, b, d))``:
        the first choice whose condition holds, with where's rules (`args` as displays
        or values, not yet made runtime lists)."""
        spec = REGISTRY["select"]
        bound = self._bind_numpy(spec.params, spec.defaults, spelling, args, kwargs, node)
        conditions, choices = bound["condlist"], bound["choicelist"]
        if not (isinstance(conditions, _StaticSeq) and isinstance(choices, _StaticSeq)):
            raise self.error(node, f"'{spelling}' is supported with its conditions and "
                                   "choices written out as lists in the call",
                             hint=f"{spelling}([x < 0, x > 1], [a, b], default)")
        if len(conditions.items) != len(choices.items) or not conditions.items:
            raise self.error(node, f"'{spelling}' needs as many choices as conditions, "
                                   "and at least one")
        loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        where = f"{self.src.filename}, line {node.lineno}: {self.src.line(node.lineno).strip()}"
        chosen = self._materialize(bound.get("default", Const(0)), node)
        for k in reversed(range(len(conditions.items))):
            condition = self._materialize(conditions.items[k], node)
            choice = self._materialize(choices.items[k], node)
            self.builder.loc = loc
            if self._known_kind(condition) != "b":  # NumPy takes boolean conditions only
                self.builder.emit("call", [condition, Const(k), Const(where)], n_results=0,
                                  attrs={"fn": runtime_items.check_condition, "kwnames": (),
                                         "nondiff": True, "effect": True, "guard": True})
            chosen = array_op(self.builder, "where",
                              {"condition": condition, "x": choice, "y": chosen})
        return chosen

    def _einsum(self, spelling: str, args: list[Any], kwargs: dict[str, Any],
                node: ast.Call) -> Operand:
        if not args or not (isinstance(args[0], Const) and isinstance(args[0].value, str)):
            raise self.error(node, "np.einsum needs its subscripts as a constant string first",
                             hint="write np.einsum('ij,jk->ik', a, b)")
        if set(kwargs) - {"optimize"}:
            raise self.error(node, f"np.einsum with {', '.join(kwargs)} has no rule",
                             hint="pass the subscripts and the operands only")
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = {"fn": np.einsum, "kwnames": (), "family": "numpy", "callee": spelling}
        return self.builder.emit("einsum", list(args), attrs=attrs).result

    def _nondiff_call(self, fn: Any, spelling: str | None, args: list[Operand],
                      node: ast.AST, kwargs: dict[str, Operand] | None = None) -> Operand:
        kwargs = kwargs or {}
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = {"fn": fn, "kwnames": tuple(kwargs), "nondiff": True}
        if spelling:
            attrs["callee"] = spelling
        return self.builder.emit("call", [*args, *kwargs.values()], attrs=attrs).result

    # ------------------------------------------------------------ methods, attributes
    def _is_value_expression(self, node: ast.expr) -> bool:
        """Whether `node` denotes a value (so `.attr` is an array attribute), not a module."""
        if isinstance(node, ast.Name):
            if node.id in self.env or node.id in self.branch_only:
                return True  # (a name bound on some paths only: its own error says so)
            if node.id in self.local_imports:
                return False
            resolved = self.src.resolve(node.id)
            return resolved is not None and _is_constant_object(resolved.obj)
        if isinstance(node, ast.Attribute):
            return self._is_value_expression(node.value)
        return True

    def _method_call(self, node: ast.Call) -> Operand:
        func = node.func
        method = func.attr
        if method == "_replace":
            return self._namedtuple_replace(node)  # p._replace(w=v)
        if method in DICT_METHODS and self._is_dict_method(node):
            return self._dict_method(node)  # d.update(...), d.get(k, v), d.pop("k")
        if method in ("append", "extend", "insert", "pop") and isinstance(
                func.value, (ast.Name, ast.Subscript)):
            return self._list_method(node)
        receiver = self.expr(func.value)
        args, kwargs = self._arguments(node, self._static_or_value)
        if method == "copy" and not args and not kwargs:
            return self._copy(receiver, node)
        if method in ("reshape", "transpose") and len(args) > 1:  # x.reshape(2, 3)
            args = [self._pack_static(args, node)]
        name = ARRAY_METHODS.get(method)
        if name is None and method in _PIECEWISE_CONSTANT_METHODS:  # x.argmax(): indices
            return self._nondiff_call(_PIECEWISE_CONSTANT_METHODS[method], f"np.{method}",
                                      [receiver, *args], node, kwargs)
        if name is None:
            raise self._method_without_rule(node, method)
        if method == "astype":
            bound = self._bind_numpy(("dtype",), {}, ".astype", args, kwargs, node)
            kwargs, args = {"dtype": bound["dtype"]}, []
        return self._array_call(name, "", [receiver, *args], kwargs, node)

    def _method_without_rule(self, node: ast.Call, method: str) -> Exception:
        """A method with no rule, named as written; the ways out go through the NumPy
        function of the same name, where there is one."""
        line = self.src.line(node.lineno).encode()

        def written(n: ast.AST) -> str | None:
            if n.end_lineno != n.lineno:
                return None
            return line[n.col_offset:n.end_col_offset].decode(errors="replace")

        call, receiver = written(node) or f".{method}()", written(node.func.value) or "x"
        if method in IN_PLACE_METHODS:  # x.sort(): NumPy's function makes a new array
            return self.error(node.func, f"{call} changes its receiver in place, which is "
                                         "not supported",
                              hint=IN_PLACE_METHODS[method].format(x=receiver))
        what = f"{call} has no derivative rule (a method without one is not supported)"
        if not (hasattr(np.ndarray, method) and callable(getattr(np, method, None))):
            what = (f"{call} is a method call, which has no derivative rule (the methods "
                    "supported are those of NumPy arrays with rules, .copy(), and .items(), "
                    ".values(), .keys() in a for loop)")
            return self.error(node.func, what, hint=_METHOD_HINTS.get(method, (
                "call it outside the function you differentiate and pass its result in, "
                "or rewrite it with functions that have derivative rules")))
        function = f"np.{method}"
        return self.error(node.func, what, hint=(
            f"call it as a function, {function}({receiver}, ...), and then "
            + no_rule_hint(function, 1, f"{function}(adc.stop_gradient({receiver}))",
                           arrays=not isinstance(getattr(np, method, None), np.ufunc))))

    def _copy(self, value: Operand, node: ast.AST) -> Operand:
        """``x.copy()``, kept as the user wrote it: a value of its own, which the
        analysis of in-place updates (inplace.py) tells from `x`."""
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        return self.builder.emit("copy", [value], attrs={"method_copy": True}).result

    def _array_attribute(self, node: ast.Attribute) -> Operand:
        value = self.expr(node.value)
        field = self._record_field(value, node.attr)
        if field is not None:  # p.w of a record made here: the value it was given
            return field
        meaning = ARRAY_ATTRIBUTES.get(node.attr)
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        if meaning is None and node.attr in _ARRAY_DATA:  # x.real, x.flat
            raise self.error(node, f"'.{node.attr}' is an array attribute without a derivative "
                                   "rule (a namedtuple or dataclass field of that name would "
                                   "be taken for it)",
                             hint="use a NumPy function instead (np.real(x), x.ravel()[i], "
                                  "...), and give a field another name")
        if meaning is None:  # a field of a namedtuple, a dataclass or another object
            return self.builder.emit("getattr", [value, Const(node.attr)]).result
        if isinstance(meaning, str):
            return array_op(self.builder, meaning, {"a": value})
        return self._nondiff_call(meaning, None, [value], node)

    def _static_or_value(self, node: ast.expr) -> Operand:
        """An argument: a value, a dtype or type such as ``float`` or ``np.float32``, or
        a display of constants such as ``axis=(0, 1)`` (a constant tuple)."""
        infinity = self._infinity(node)
        if infinity is not None:  # ord=np.inf, ord=-math.inf: a constant order
            return Const(infinity)
        if isinstance(node, (ast.Name, ast.Attribute)) and not self._is_value_expression(node):
            spelling, kind, obj = self._resolve_path(node)
            if isinstance(obj, (type, np.dtype)):
                if kind == "builtin":
                    return FreeName(spelling, kind)
                return self._free_name(spelling, kind, node)
        value = self._rvalue(node)
        if isinstance(value, _StaticSeq) and all(
                isinstance(i, Const) and not isinstance(i.value, str) for i in value.items):
            return Const(tuple(i.value for i in value.items))
        return self._materialize(value, node)

    def _is_newaxis(self, node: ast.expr) -> bool:
        """``np.newaxis`` in an index: None, known when compiling (so the index is seen
        to insert an axis, whose adjoint is a sum), and checked again before reuse."""
        if not (isinstance(node, ast.Attribute) and node.attr == "newaxis") \
                or self._is_value_expression(node):
            return False
        return self._resolve_path(node)[2] is None

    def _infinity(self, node: ast.expr) -> float | None:
        """``np.inf``, ``math.inf`` or their negation, which never change: their value."""
        sign = 1.0
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            node, sign = node.operand, -1.0
        if not isinstance(node, ast.Attribute) or self._is_value_expression(node):
            return None
        obj = self._resolve_path(node)[2]
        return sign * obj if isinstance(obj, float) and np.isinf(obj) else None

    def _pack_static(self, items: list[Operand], node: ast.AST) -> Operand:
        if all(isinstance(i, Const) for i in items):
            return Const(tuple(i.value for i in items))
        return self.builder.emit("pack", items, attrs={"kind": "tuple"}).result

    # ------------------------------------------------------------ slicing
    def _index_parts(self, index: ast.expr) -> list[Operand]:
        """The parts of ``x[a, 1:3, None, ...]`` as operands (slices folded to constants)."""
        elements = index.elts if isinstance(index, ast.Tuple) else [index]
        parts = []
        for element in elements:
            if isinstance(element, ast.Slice):
                bounds = [self.expr(b) if b is not None else Const(None)
                          for b in (element.lower, element.upper, element.step)]
                if all(isinstance(b, Const) for b in bounds):
                    parts.append(Const(slice(*(b.value for b in bounds))))
                else:
                    parts.append(self._nondiff_call(slice, None, bounds, element))
            elif isinstance(element, ast.Constant) and element.value is Ellipsis:
                parts.append(Const(Ellipsis))
            elif self._is_newaxis(element):
                parts.append(Const(None))
            else:
                parts.append(self._materialize(self._rvalue(element), element))
        return parts

