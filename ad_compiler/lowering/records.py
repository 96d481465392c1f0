"""Lowering records made or changed in the differentiated function: a namedtuple or a
dataclass built from values (``Params(w, b)``), ``p._replace(b=v)`` and
``dataclasses.replace(p, b=v)``.

A record built here is a `pack` of kind ``"record"``, with its class, the names of the
fields it is given and where its adjoint keeps each (a namedtuple's by place, as a
tuple's; a dataclass's by name, as a dict's), so its rules are those of a display; a
field read back is the value it was given.  A record whose class is known here is
replaced by building a new one; one known only when the code runs goes through the
`replaced` helper (its rules are in registry/helpers.py).  A class whose ``__init__``
(a namedtuple's ``__new__``) is written by hand, or that has a ``__post_init__``, may
make fields from others, which the derivative would not follow: it is refused.  What
the class keeps of each value it is given is checked when the code runs
(`check_fields()`: the very object)."""
from __future__ import annotations

import ast
import dataclasses
import inspect
from typing import Any

from .. import runtime_items
from ..ir import Const, Operand, SourceLoc, Value


def record_class(obj: Any) -> str | None:
    """``"namedtuple"`` or ``"dataclass"`` for a class this module builds records of."""
    if not isinstance(obj, type):
        return None
    if issubclass(obj, tuple) and hasattr(obj, "_fields"):
        return "namedtuple"
    if dataclasses.is_dataclass(obj):
        return "dataclass"
    return None


def _generated(method: Any) -> bool:
    """Whether a class's ``__init__`` or ``__new__`` is the one dataclasses or namedtuple
    wrote (compiled from text, not from a file)."""
    code = getattr(method, "__code__", None)
    return code is not None and code.co_filename == "<string>"


class Records:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    def _record(self, node: ast.Call, cls: type, spelling: str) -> Operand:
        """``Params(w, b=b)``: the fields bound as the class binds its arguments."""
        kind = self._check_buildable(node, cls, spelling)
        args, kwargs = self._arguments(node, self._whole)
        try:
            bound = inspect.signature(cls).bind(*args, **kwargs)
        except TypeError as err:
            raise self.error(node, f"{spelling}(...) cannot take these arguments: {err}",
                             hint="pass each field once, by place or by name") from None
        return self._made_record(node, cls, kind, tuple(bound.arguments),
                                 list(bound.arguments.values()))

    def _whole(self, node: ast.expr) -> Operand:
        return self._materialize(self._rvalue(node), node)

    def _check_buildable(self, node: ast.AST, cls: type, spelling: str) -> str:
        kind = record_class(cls)
        made = None
        if kind == "dataclass" and hasattr(cls, "__post_init__"):
            made = "a __post_init__"
        elif kind == "dataclass" and not _generated(cls.__init__):
            made = "a hand-written __init__"
        elif kind == "namedtuple" and not _generated(cls.__new__):
            made = "a hand-written __new__"
        elif any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                 for p in inspect.signature(cls).parameters.values()):
            made = "*args or **kwargs"
        if made is not None:
            raise self.error(node, f"{spelling} has {made}, which may make its fields from "
                                   "others: a record of it cannot be made or replaced here",
                             hint="build it outside the differentiated function and pass "
                                  "it in, or use a plain @dataclass or namedtuple")
        return kind

    def _made_record(self, node: ast.AST, cls: type, kind: str, names: tuple,
                     values: list[Operand]) -> Value:
        """The record op, and the run-time check that the record keeps its values."""
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        keys = tuple(cls._fields.index(n) for n in names) if kind == "namedtuple" else names
        record = self.builder.emit("pack", values, attrs={
            "kind": "record", "cls": cls, "fields": names, "keys": keys}).result
        where = f"{self.src.filename}, line {node.lineno}: {self.src.line(node.lineno).strip()}"
        check = self.builder.emit("call", [record, Const(names), *values, Const(where)],
                                  n_results=0, attrs={"fn": runtime_items.check_fields,
                                                      "kwnames": ("where",), "nondiff": True})
        check.attrs["effect"] = True
        return record

    def _record_field(self, value: Operand, name: str) -> Operand | None:
        """A field of a record made here, or replaced here: the value it was given."""
        op = self.builder.producers.get(value.uid) if isinstance(value, Value) else None
        if op is None:
            return None
        if op.prim == "pack" and op.attrs.get("kind") == "record" and \
                name in op.attrs["fields"]:
            return op.args[op.attrs["fields"].index(name)]
        if op.prim == "replaced" and name in op.args[2].value:
            return op.args[3 + op.args[2].value.index(name)]
        return None

    # ------------------------------------------------------------ replace
    def _dataclass_replace(self, node: ast.Call, spelling: str) -> Operand:
        """``dataclasses.replace(p, w=v)``."""
        if len(node.args) != 1 or any(k.arg is None for k in node.keywords):
            raise self.error(node, f"{spelling} is supported with the record and the fields "
                                   "to change by name", hint=f"{spelling}(p, w=v)")
        return self._replaced(node, node.args[0], node.keywords, "replace")

    def _namedtuple_replace(self, node: ast.Call) -> Operand:
        """``p._replace(w=v)``."""
        if node.args or any(k.arg is None for k in node.keywords):
            raise self.error(node, "'._replace()' is supported with the fields to change by "
                                   "name", hint="p._replace(w=v)")
        return self._replaced(node, node.func.value, node.keywords, "_replace")

    def _replaced(self, node: ast.Call, record_node: ast.expr, keywords: list[ast.keyword],
                  how: str) -> Operand:
        record = self._whole(record_node)
        changes = {k.arg: self._whole(k.value) for k in keywords}
        made = self.builder.producers.get(record.uid) if isinstance(record, Value) else None
        if made is None or made.prim != "pack" or made.attrs.get("kind") != "record":
            self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
            return self.builder.emit("replaced", [
                record, Const(how), Const(tuple(changes)), *changes.values()], attrs={
                "fn": runtime_items.replaced, "kwnames": ()}).result
        cls = made.attrs["cls"]  # a record made here: another one made of its fields
        kind = self._check_buildable(node, cls, cls.__name__)
        if (how == "replace") != (kind == "dataclass"):
            raise self.error(node, f"{cls.__name__} is a {kind}, which has no {how}()",
                             hint="p._replace(w=v) for a namedtuple, dataclasses.replace(p, "
                                  "w=v) for a dataclass")
        names = tuple(inspect.signature(cls).parameters)
        unknown = [n for n in changes if n not in names]
        if unknown:
            raise self.error(node, f"{cls.__name__} has no field {unknown[0]!r} to replace",
                             hint=f"its fields: {', '.join(names)}")
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        values = [changes[n] if n in changes else self._field_value(record, n)
                  for n in names]
        return self._made_record(node, cls, kind, names, values)

    def _field_value(self, record: Value, name: str) -> Operand:
        known = self._record_field(record, name)
        if known is not None:
            return known
        return self.builder.emit("getattr", [record, Const(name)]).result
