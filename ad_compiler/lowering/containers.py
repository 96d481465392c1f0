"""Lowering lists, tuples and dicts: displays stay compile-time containers where
constant indexing folds them away; other uses become pack and getitem ops."""
from __future__ import annotations

import ast
import copy
from typing import Any

import numpy as np

from .. import runtime_items, runtime_shapes
from ..ir import Const, FreeName, Operand, SourceLoc, Value
from ..registry.emit import array_op
from .comprehensions import _operand
from .values import (
    _FrozenDistribution,
    _LocalFunction,
    _Partial,
    _Spread,
    _StaticDict,
    _StaticSeq,
    _TupleValue,
)

# NumPy objects whose indexing joins arrays (no derivative rule: np.concatenate has one)
INDEX_TRICKS = (np.r_, np.c_)


class Containers:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    def _rvalue(self, node: ast.expr) -> Any:
        """An expression that may stay a compile-time container (a display, or a name
        bound to one) instead of becoming a single value."""
        if isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    raise self.error(elt, "starred items are not supported",
                                     hint="write the items out")
            items = [self._item(self._rvalue(e)) for e in node.elts]
            return _StaticSeq(items, "tuple" if isinstance(node, ast.Tuple) else "list")
        if isinstance(node, ast.Dict):
            return self._dict_display(node)
        if isinstance(node, ast.Name) and isinstance(self.env.get(node.id),
                                                     (_StaticSeq, _StaticDict)):
            return self.env[node.id]
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Lambda):
            return self._local_function(node)
        return self.expr(node)

    def _dict_display(self, node: ast.Dict, spelling: str = "{**...}") -> Any:
        """``{"a": x, **d}``: constant keys, and ``**`` of a display, or of one dict known
        only when the code runs written first (``{**params, "lr": 0.1}``: a copy of
        `params`, then the writes of the other keys)."""
        entries: dict[Any, Any] = {}
        copied: Operand | None = None
        for key, value in zip(node.keys, node.values):
            if key is None:  # **mapping
                unpacked = self._rvalue(value)
                if isinstance(unpacked, _StaticDict):
                    for k, v in unpacked.items.items():
                        if copied is None:
                            entries[k] = v
                        else:
                            copied = self._setitem(copied, self._materialize(v, value),
                                                   [Const(k)])
                    continue
                if copied is not None or entries:
                    raise self.error(value, "'**' of a dict known only when the code runs is "
                                            "supported first in a dict display, and once",
                                     hint="{**params, 'key': value}: unpack it first, then "
                                          "write the other keys")
                copied = self._dict_copy(unpacked, value, spelling)
                continue
            if not (isinstance(key, ast.Constant) and isinstance(key.value, (str, int))):
                raise self.error(key, "dict keys must be constant strings or integers",
                                 hint="use constant keys")
            item = self._item(self._rvalue(value))
            if copied is None:
                entries[key.value] = item
            else:
                copied = self._setitem(copied, self._materialize(item, value), [Const(key.value)])
        return _StaticDict(entries) if copied is None else copied

    def _copied(self, node: ast.Call, fn: Any, spelling: str, root_kind: str) -> Any:
        """``copy.copy(x)``, ``copy.deepcopy(x)``, ``dict(d)``: a new object equal to `x`,
        whose derivative is `x`'s; writes into it do not change `x` (nor, deep, its
        items).  A display stays one (copied when compiling)."""
        if fn is dict and len(node.args) <= 1 and not any(isinstance(a, ast.Starred)
                                                          for a in node.args):
            # dict(d, k=v) and dict(**d) are the display {**d, "k": v}
            keys: list[ast.expr | None] = [None] * len(node.args)
            keys += [None if k.arg is None else ast.Constant(k.arg) for k in node.keywords]
            return self._dict_display(ast.Dict(keys, [*node.args, *(k.value for k in
                                                                     node.keywords)]), spelling)
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            return self._refuse_copy(node, spelling)
        value = self._rvalue(node.args[0])
        if isinstance(value, _TupleValue):
            value = _StaticSeq(list(value.items), "tuple")
        if fn is not copy.deepcopy and isinstance(value, _StaticDict):
            return _StaticDict(dict(value.items))
        if fn is not copy.deepcopy and isinstance(value, _StaticSeq):
            return value if value.kind == "tuple" else _StaticSeq(list(value.items), "list")
        operand = self._materialize(value, node.args[0])
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = {"fn": fn, "callee": spelling, "callee_kind": root_kind, "kwnames": (),
                 "method_copy": True}
        if fn is copy.deepcopy:
            attrs["deep"] = True
        return self.builder.emit("copy", [operand], attrs=attrs).result

    def _dict_copy(self, value: Any, node: ast.AST, spelling: str) -> Operand:
        """``dict(d)`` of a dict known only when the code runs, checked to be one then
        (of pairs, ``dict(pairs)`` would be something else than a copy)."""
        if isinstance(value, _StaticSeq) or self._not_a_dict(value) or isinstance(
                node, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.List, ast.Tuple)):
            raise self.error(node, f"{spelling} of key-value pairs is not supported (only of a "
                                   "dict, as a copy)",
                             hint="write a display {'a': x} or a dict comprehension "
                                  "{k: v for k, v in pairs}")
        operand = self._materialize(value, node)
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        where = f"{self.src.filename}, line {node.lineno}: {self.src.line(node.lineno).strip()}"
        self.builder.emit("call", [operand, Const(spelling), Const(where)], n_results=0, attrs={
            "fn": runtime_items.check_dict, "kwnames": (), "nondiff": True, "effect": True,
            "guard": True})
        return self.builder.emit("copy", [operand], attrs={
            "fn": dict, "callee": "dict", "callee_kind": "builtin", "kwnames": (),
            "method_copy": True}).result

    def _not_a_dict(self, value: Any) -> bool:
        """Whether a value is made as a list or tuple (a list display, a comprehension,
        ``list(...)``, ``zip(...)``)."""
        op = self.builder.producers.get(value.uid) if isinstance(value, Value) else None
        if op is None:
            return False
        if op.prim == "pack":
            return op.attrs.get("kind") != "dict"
        return op.attrs.get("fn") in (list, tuple, sorted, zip) or bool(op.attrs.get("append"))

    def _refuse_copy(self, node: ast.Call, spelling: str) -> Exception:
        raise self.error(node, f"'{spelling}' is supported with one argument, the object "
                               "to copy", hint=f"{spelling}(x)")

    @staticmethod
    def _item(value: Any) -> Any:
        if isinstance(value, _TupleValue):
            return _StaticSeq(list(value.items), "tuple")
        return value

    def _materialize(self, value: Any, node: ast.AST) -> Operand:
        """A container as a runtime list or tuple, for uses that need one value."""
        if isinstance(value, (_LocalFunction, _Partial)):
            raise self.error(node, "a nested function or functools.partial can only be "
                                   "called here", hint="call it where it is needed")
        if isinstance(value, _Spread):
            raise self.error(node, "starred arguments are supported where the items are "
                                   "known when compiling", hint="pass the items one by one")
        if isinstance(value, _StaticSeq):
            items = [self._materialize(v, node) for v in value.items]
            made = self.builder.emit("pack", items, attrs={"kind": value.kind}).result
            self.root.materialized_from[made.uid] = value
            return made
        if isinstance(value, _StaticDict):  # a runtime dict, for uses that need one value
            keys = tuple(value.items)
            items = [self._materialize(v, node) for v in value.items.values()]
            made = self.builder.emit("pack", items, attrs={"kind": "dict", "keys": keys}).result
            self.root.materialized_from[made.uid] = value
            return made
        if isinstance(value, _TupleValue):
            return self._materialize(_StaticSeq(list(value.items), "tuple"), node)
        if isinstance(value, _FrozenDistribution):
            raise self.error(node, f"a frozen '{value.spelling}' distribution is not a value "
                                   "the derivative can follow: only its methods with a rule "
                                   "can be called on it (d.logpdf(x))",
                             hint=f"call its methods here, or pass the parameters to the "
                                  f"distribution's own: {value.spelling}.logpdf(x, loc, scale)")
        return value

    def _unpack(self, value: Any, count: int, node: ast.AST) -> list[Any]:
        value = self._item(value)
        if isinstance(value, _StaticSeq):
            if len(value.items) != count:
                raise self.error(node, f"{len(value.items)} values cannot be unpacked into "
                                       f"{count} names", hint="unpack as many names as values")
            return list(value.items)
        if isinstance(value, _StaticDict):
            raise self.error(node, "unpacking a dict is not supported", hint="index it by key")
        if isinstance(value, Const):
            raise self.error(node, "a constant cannot be unpacked")
        callee = None
        if isinstance(value, Value) and value.uid in self.builder.producers:
            callee = self.builder.producers[value.uid].attrs.get("callee")
        else:  # a parameter may be a dict, whose unpacking gives its keys
            value = self._visited(value, ("getattr",))
        if callee is None or "split" in callee or callee.endswith("shape"):
            # (other library results, eigh's (w, V), have a fixed count of items)
            check = self.builder.emit("call", [value, Const(count)], attrs={
                "fn": runtime_items.check_unpacked, "kwnames": (), "nondiff": True})
            check.attrs["effect"] = True
        return [self.builder.emit("getitem", [value, Const(k)], attrs={"callee": callee}).result
                for k in range(count)]

    def _assign_starred(self, target: ast.Tuple | ast.List, value: Any) -> None:
        """``first, *rest, last = value``: the names around the starred one take items
        from each end, the starred one a new list of those between, as Python makes."""
        at = next(k for k, elt in enumerate(target.elts) if isinstance(elt, ast.Starred))
        starred = target.elts[at].value
        before, after = at, len(target.elts) - at - 1
        value = self._item(value)
        if isinstance(value, _StaticSeq):
            n = len(value.items)
            if n < before + after:
                raise self.error(target, f"{n} values cannot be unpacked into "
                                         f"{before + after} names and a starred one",
                                 hint="unpack as many names as values")
            items = list(value.items)
            heads, rest, tails = items[:before], _StaticSeq(items[before:n - after], "list"), \
                items[n - after:]
        else:
            if isinstance(value, (_StaticDict, Const)):
                self._unpack(value, before + after, target)  # refused with its message
            produced = isinstance(value, Value) and value.uid in self.builder.producers
            callee = self.builder.producers[value.uid].attrs.get("callee") if produced else None
            value = value if produced else self._visited(value, ("getattr",))
            if callee is None or "split" in callee or callee.endswith("shape"):
                check = self.builder.emit("call", [value, Const(before + after), Const(True)],
                                          attrs={"fn": runtime_items.check_unpacked,
                                                 "kwnames": (), "nondiff": True})
                check.attrs["effect"] = True
            heads = [self.builder.emit("getitem", [value, Const(k)]).result
                     for k in range(before)]
            tails = [self.builder.emit("getitem", [value, Const(k - after)]).result
                     for k in range(after)]
            between = self.builder.emit("getitem", [value, Const(slice(
                before, -after if after else None))]).result
            rest = self._fold("list", target, [self._clause(target, _operand(between, target))],
                              None)
            if isinstance(starred, ast.Name) and isinstance(rest, Value):
                rest.name = starred.id
        for elt, item in zip(target.elts, [*heads, rest, *tails]):
            self._assign(starred if isinstance(elt, ast.Starred) else elt, item)

    def _assign(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, self._item(value))
        elif isinstance(target, (ast.Tuple, ast.List)) and \
                any(isinstance(elt, ast.Starred) for elt in target.elts):
            self._assign_starred(target, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt, item in zip(target.elts, self._unpack(value, len(target.elts), target)):
                self._assign(elt, item)
        elif isinstance(target, ast.Subscript):
            self._assign_item(target, value)
        else:
            raise self.error(target, "assignment to this kind of target is not supported",
                             hint="assign to a plain name (for a field, give the new value a "
                                  "name of its own and return it)")

    def _subscript(self, node: ast.Subscript) -> Any:
        if isinstance(node.value, (ast.Name, ast.Attribute)) and \
                not self._is_value_expression(node.value):
            spelling, kind, obj = self._resolve_path(node.value)
            if any(obj is trick for trick in INDEX_TRICKS):  # np.r_[a, b], np.c_[a, b]
                return self._index_trick(node, self._free_name(spelling, kind, node.value))
        base = self._rvalue(node.value)
        if isinstance(node.slice, (ast.Slice, ast.Tuple)) or self._is_newaxis(node.slice) or (
                isinstance(node.slice, ast.Constant) and node.slice.value is Ellipsis):
            parts = self._index_parts(node.slice)  # x[1:], x[i, j], x[..., None], x[...]
            if isinstance(base, _StaticSeq) and len(parts) == 1 and isinstance(parts[0], Const) \
                    and isinstance(parts[0].value, slice):
                return _StaticSeq(base.items[parts[0].value], base.kind)
            self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
            materialized = self._materialize(base, node)
            result = self.builder.emit("getitem", [materialized, *parts]).result
            self._note_view(result, materialized, parts)
            return result
        index = self.expr(node.slice)
        if isinstance(base, (_StaticSeq, _StaticDict)) and isinstance(index, Const):
            try:
                return base.items[index.value]
            except (IndexError, KeyError, TypeError):
                raise self.error(node, f"index {index.value!r} is out of range") from None
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        materialized = self._materialize(base, node)
        result = self.builder.emit("getitem", [materialized, index]).result
        self._note_view(result, materialized, [index])
        return result

    def _index_trick(self, node: ast.Subscript, trick: FreeName) -> Operand:
        """``np.r_[a, b]`` and ``np.c_[a, b]``: a join of numbers and arrays, with a rule.
        A slice of constants among the items (``np.r_[0:3, x]``) is its own piece,
        ``np.r_[0:3]``.  A slice with computed bounds (``np.r_[a:b:5j]`` is a linspace
        of `a` and `b`) or a directive string (``np.r_['0,2', a, b]``) makes the join
        run as written, refused where what it joins is differentiated."""
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        if any(isinstance(item, ast.Constant) and isinstance(item.value, str) or isinstance(
                item, ast.Slice) and not all(_is_literal(b) for b in (
                    item.lower, item.upper, item.step)) for item in items):
            parts = [self._computed_slice(trick, item) if isinstance(item, ast.Slice) else
                     self._materialize(self._rvalue(item), item) for item in items]
            self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
            index = parts[0] if len(parts) == 1 and not isinstance(node.slice, ast.Tuple) \
                else self.builder.emit("pack", parts, attrs={"kind": "tuple"}).result
            return self._joined_as_written(trick, index, refused=True)
        parts = []
        for item in items:
            if isinstance(item, ast.Slice):
                bounds = (b if b is None else ast.literal_eval(b)
                          for b in (item.lower, item.upper, item.step))
                parts.append(self._joined_as_written(trick, Const(slice(*bounds)), refused=False))
            else:
                parts.append(self._materialize(self._rvalue(item), item))
            self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        joined = self.builder.emit("pack", parts, attrs={"kind": "tuple"}).result
        return array_op(self.builder, "index_join", {"trick": trick, "items": joined})

    def _computed_slice(self, trick: FreeName, item: ast.Slice) -> Operand:
        """A slice inside np.r_[...]: refused where its bounds are differentiated (its
        items are a range or a linspace of them, which has no rule here)."""
        bounds = [Const(None if b is None else ast.literal_eval(b)) if _is_literal(b)
                  else self.expr(b) for b in (item.lower, item.upper, item.step)]
        if all(isinstance(b, Const) for b in bounds):
            return Const(slice(*(b.value for b in bounds)))
        self.builder.loc = SourceLoc(item.lineno, item.col_offset, self.stmt.lineno)
        refusal = (f"{trick.name}[...] of a slice with computed bounds has no derivative rule",
                   "write np.linspace(a, b, n) or np.arange(a, b, step), which have rules, "
                   "and join with np.concatenate")
        return self.builder.emit("call", bounds, attrs={
            "fn": slice, "kwnames": (), "callee": "slice", "refusal": refusal}).result

    def _joined_as_written(self, trick: FreeName, index: Operand, refused: bool) -> Operand:
        attrs = {"fn": runtime_shapes.index_trick, "kwnames": (), "callee": trick.name,
                 "subscript": True, **({"index_trick": True} if refused else {})}
        return self.builder.emit("call", [trick, index], attrs=attrs).result


def _is_literal(node: ast.expr | None) -> bool:
    """A slice bound written as a number (``-1``, ``5j``) or left out."""
    try:
        return node is None or isinstance(ast.literal_eval(node), (int, float, complex))
    except (ValueError, TypeError, SyntaxError, RecursionError):  # not a literal
        return False
