"""Lowering ``max(xs, key=f)``, ``min(xs, key=f)`` and ``sorted(xs, key=f,
reverse=...)`` of differentiated items.

The items go in a list and their keys in another (``f`` called once per item, in
order); the builtin itself chooses positions over the keys, a call with no derivative
(`extremum_position()`: the first of the largest, as ``max`` keeps it; `sort_order()`:
a stable sort, reversed or not, as ``sorted`` makes it); and the items are taken at
those positions.  So the derivative follows the items chosen when the code runs, as it
follows the branch an ``if`` takes, and ties go where Python's builtins send them.
"""
from __future__ import annotations

import ast

from .. import runtime_items, runtime_lists
from ..ir import Const, Operand
from .comprehensions import COMPREHENSIONS, _Lowered, _operand


class KeyedChoices:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    def _keyed(self, node: ast.Call, kind: str, source: ast.expr, key: ast.expr,
               reverse: ast.expr | None = None, default: ast.expr | None = None) -> Operand:
        """``max(xs, key=f)`` (`kind` "max", with its `default`), ``min(...)``,
        ``sorted(xs, key=f, reverse=...)``: see the module's docstring.  The keys only
        choose, so they carry no derivative."""
        items = self._item_list(node, source)
        clause = self._clause(node, _operand(items, source))
        call = ast.copy_location(ast.Call(key, [ast.Name(self._last_target, ast.Load())], []),
                                 key)
        keys = self._fold("list", node, [clause], call, name="keys")
        if kind == "sorted":
            descending = self.expr(reverse) if reverse is not None else Const(False)
            order = self.builder.emit("call", [keys, descending], attrs={
                "fn": runtime_lists.sort_order, "kwnames": (), "nondiff": True}).result
            order.name = "order"
            clause = self._clause(node, _operand(order, node))
            position = clause.target.id
            return self._fold("list", node, [clause], _Lowered(lambda lw: lw.builder.emit(
                "getitem", [items, lw.name(position, node)]).result, node))
        chosen = self.builder.emit("call", [keys, Const(kind), Const(default is not None)],
                                   attrs={"fn": runtime_items.extremum_position,
                                          "kwnames": (), "nondiff": True}).result
        chosen.name = "position"
        if default is None:
            return self.builder.emit("getitem", [items, chosen]).result
        empty = ast.Compare(_operand(chosen, node), [ast.Lt()], [ast.Constant(0)])
        pick = ast.IfExp(empty, default, _Lowered(
            lambda lw: lw.builder.emit("getitem", [items, chosen]).result, node))
        return self.expr(ast.fix_missing_locations(ast.copy_location(pick, node)))

    def _item_list(self, node: ast.Call, source: ast.expr) -> Operand:
        """What a loop over `source` visits, as a value that can be indexed: a variable's
        own list, tuple or array (a dict's keys), or the list of the items that a
        comprehension, ``map``, ``zip`` or ``enumerate`` makes."""
        if isinstance(source, COMPREHENSIONS):
            return self._consumed(source)
        if isinstance(source, ast.Call) and self._makes_items(source):
            return self._rvalue(source)
        if isinstance(source, ast.Call) and not self._iterated(source):  # range(n): numbers
            items = self.builder.emit("call", [self.expr(source)], attrs={
                "fn": list, "callee": "list", "callee_kind": "builtin", "kwnames": (),
                "nondiff": True}).result
            items.name = "items"
            return items
        if isinstance(source, (ast.Call, ast.Tuple, ast.List)):
            return self._fold("list", node, [self._clause(node, source)], None, name="items")
        return self._sequence(source, "")

