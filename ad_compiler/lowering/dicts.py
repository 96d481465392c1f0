"""Lowering the methods of dicts, ``d.update(...)``, ``d.setdefault(k, v)``,
``d.pop(k[, default])`` and ``d.get(k[, default])``, to the reads and writes of items
they make, so every transform sees only indexing, ``d[k] = v`` and loops it knows.

A dict display known when compiling, at a constant key, is read and changed when
compiling.  A dict known only when the code runs is changed by the statements a person
would write: ``for k, v in other.items(): d[k] = v`` for ``d.update(other)``,
``d[k] if has_key(d, k) else default`` for ``d.get(k, default)``, and the comprehension
``{j: v for j, v in d.items() if j != k}`` for what ``d.pop(k)`` leaves.  Every name
holding the dict is rebound to the new one, as for the writes of writes.py.
"""
from __future__ import annotations

import ast
import copy
from typing import Any

from .. import runtime_items
from ..ir import Const, Operand, SourceLoc, Value
from . import inplace
from .comprehensions import _Lowered, _operand
from .values import _StaticDict, _StaticSeq

# the methods lowered here (`pop` only where the receiver is a dict: see `_pops_from_dict`)
DICT_METHODS = ("update", "setdefault", "get", "pop")

# ops that make a dict (a display made one value, a dict comprehension, dict(d))
_MADE_AS_DICT = ("dict_of",)


class Dicts:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    def _is_dict_method(self, node: ast.Call) -> bool:
        """``d.update``, ``d.setdefault`` and ``d.get`` are a dict's (no list or array has
        them); ``d.pop(k)`` where `d` is known to be a dict or `k` is a string."""
        method = node.func.attr
        if method != "pop":
            return method in DICT_METHODS
        return self._pops_from_dict(node)

    def _pops_from_dict(self, node: ast.Call) -> bool:
        if node.args and isinstance(node.args[0], ast.Constant) and \
                isinstance(node.args[0].value, str):
            return True
        base = node.func.value
        if isinstance(base, ast.Name) and base.id in self.env:
            return self._made_as_dict(self.env[base.id])
        return False

    def _made_as_dict(self, value: Any, unknown: bool = False) -> bool:
        """Whether `value` is a dict made in this function (a display, a comprehension,
        ``dict(d)``, a copy of one, and the same after writes); with `unknown`, also
        whether it may be one: a parameter or an item of one, copied or written into."""
        seen = 0
        while seen < 1000:
            seen += 1
            if isinstance(value, _StaticDict):
                return True
            if isinstance(value, Value) and value.uid in self.root.loop_entry:
                value = self.root.loop_entry[value.uid]
                continue
            op = self.builder.producers.get(value.uid) if isinstance(value, Value) else None
            if op is None:
                return unknown and isinstance(value, Value) and \
                    value.uid in self.root.param_uids
            if unknown and op.prim in ("getitem", "getattr"):
                return True
            if op.prim == "pack":
                return op.attrs.get("kind") == "dict"
            if op.prim in _MADE_AS_DICT or op.prim == "copy" and op.attrs.get("fn") is dict:
                return True
            if op.prim not in ("setitem", "copy") or not op.args:
                return False
            value = op.args[0]
        return False

    def _dict_method(self, node: ast.Call) -> Any:
        method = node.func.attr
        if any(isinstance(a, ast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            raise self.error(node, f"'.{method}()' with starred arguments is not supported",
                             hint="pass its arguments one by one")
        arity = {"get": (1, 2), "setdefault": (1, 2), "pop": (1, 2), "update": (0, 1)}[method]
        if len(node.args) not in arity or node.keywords and method != "update":
            raise self.error(node, f"a dict's '.{method}()' takes "
                                   f"{' or '.join(map(str, arity))} positional arguments"
                                   + ("" if method == "update" else ", and no keywords"))
        if method == "get":
            return self._dict_get(node)
        if not isinstance(node.func.value, (ast.Name, ast.Subscript)):
            raise self.error(node.func, f"'.{method}()' of a dict held in an attribute is not "
                                        "supported",
                             hint="give the dict a name of its own, change it and return it")
        if method == "update":
            return self._dict_update(node)
        if method == "setdefault":
            return self._dict_setdefault(node)
        return self._dict_pop(node)

    # ------------------------------------------------------------ reads
    def _dict_get(self, node: ast.Call) -> Any:
        """``d.get(k, default)``: the item, or the default where `k` is not a key."""
        receiver = self._rvalue(node.func.value)
        key = self.expr(node.args[0])
        default = self._item(self._rvalue(node.args[1])) if len(node.args) == 2 \
            else Const(None)
        if isinstance(receiver, _StaticDict) and isinstance(key, Const):
            return receiver.items.get(key.value, default)
        d = self._materialize(receiver, node.func.value)
        return self._item_or_default(node, d, key, default)

    def _item_or_default(self, node: ast.Call, d: Operand, key: Operand, default: Any) -> Any:
        """``d[key] if has_key(d, key) else default``, whose derivative follows the
        item where it is there."""
        found = self._has_key(node, d, key)
        item = _Lowered(lambda lw: lw.builder.emit("getitem", [d, key]).result, node)
        fallback = _Lowered(lambda lw: lw._materialize(default, node), node)
        choice = ast.copy_location(ast.IfExp(_operand(found, node), item, fallback), node)
        return self.expr(choice)

    def _has_key(self, node: ast.Call, d: Operand, key: Operand) -> Operand:
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        where = f"{self.src.filename}, line {node.lineno}: {self.src.line(node.lineno).strip()}"
        found = self.builder.emit("call", [d, key, Const(f".{node.func.attr}()"), Const(where)],
                                  attrs={"fn": runtime_items.has_key, "kwnames": (),
                                         "nondiff": True}).result
        found.name = "found"
        return found

    # ------------------------------------------------------------ changes
    def _dict_update(self, node: ast.Call) -> Const:
        """``d.update(other, k=v)``: the items of `other`, then the keywords, written in
        turn (all of them evaluated first, as Python does)."""
        base_node = node.func.value
        old = self._receiver(base_node)
        self._check_not_held(old, node)
        if isinstance(old, _StaticSeq) or isinstance(old, Const):
            raise self.error(node.func, "'.update()' of something that is not a dict",
                             hint="update a dict")
        source = self._item(self._rvalue(node.args[0])) if node.args else None
        entries = [(Const(k.arg), self._item(self._rvalue(k.value))) for k in node.keywords]
        pairs = _static_pairs(source)
        if pairs is not None:
            entries = pairs + entries
        elif source is not None:
            self._update_from(node, self._materialize(source, node.args[0]))
        for key, value in entries:
            target = ast.copy_location(ast.Subscript(copy.deepcopy(base_node), _operand(
                key, node), ast.Store()), node)
            self._write(target, value)
        return Const(None)

    def _update_from(self, node: ast.Call, other: Operand) -> None:
        """``d.update(other)`` of a dict known only when the code runs: the loop
        ``for k, v in other.items(): d[k] = v``, checked to be of a dict."""
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        where = f"{self.src.filename}, line {node.lineno}: {self.src.line(node.lineno).strip()}"
        self.builder.emit("call", [other, Const(".update()"), Const(where)], n_results=0,
                          attrs={"fn": runtime_items.check_dict_argument, "kwnames": (),
                                 "nondiff": True, "effect": True, "guard": True})
        key = self._fresh("key", [node])
        item = self._fresh("item", [node, ast.Name(key, ast.Load())])
        pairs = ast.Call(ast.Attribute(_operand(other, node), "items", ast.Load()), [], [])
        target = ast.Tuple([ast.Name(key, ast.Store()), ast.Name(item, ast.Store())],
                           ast.Store())
        write = ast.Assign([ast.Subscript(copy.deepcopy(node.func.value),
                                          ast.Name(key, ast.Load()), ast.Store())],
                           ast.Name(item, ast.Load()))
        loop = ast.For(target, pairs, [write], [])
        self._run(node, [loop], [], keep=True)

    def _dict_setdefault(self, node: ast.Call) -> Any:
        """``d.setdefault(k, v)``: the item where `k` is a key, else `v`, written there."""
        base_node = node.func.value
        old = self._receiver(base_node)
        self._check_not_held(old, node)
        key = self.expr(node.args[0])
        default = self._item(self._rvalue(node.args[1])) if len(node.args) == 2 \
            else Const(None)
        if isinstance(old, _StaticDict) and isinstance(key, Const) and key.value in old.items:
            return old.items[key.value]
        if isinstance(old, _StaticDict) and isinstance(key, Const):
            self._write(ast.copy_location(ast.Subscript(copy.deepcopy(base_node), _operand(
                key, node), ast.Store()), node), default)
            return default
        d = self._materialize(old, base_node)
        found = self._has_key(node, d, key)
        value = self._fresh("value", [node])
        here = ast.Name(value, ast.Load())
        read = ast.Assign([ast.Name(value, ast.Store())], ast.Subscript(
            copy.deepcopy(base_node), _operand(key, node), ast.Load()))
        made = ast.Assign([ast.Name(value, ast.Store())], _Lowered(
            lambda lw: lw._materialize(default, node), node))
        write = ast.Assign([ast.Subscript(copy.deepcopy(base_node), _operand(key, node),
                                          ast.Store())], here)
        choice = ast.If(_operand(found, node), [read], [made, write])
        return self._run(node, [choice], [value], keep=True)[0]

    def _dict_pop(self, node: ast.Call) -> Any:
        """``d.pop(k[, default])``: the item (or the default), and `d` without `k`."""
        base_node = node.func.value
        old = self._receiver(base_node)
        self._check_not_held(old, node)
        key = self.expr(node.args[0])
        default = self._item(self._rvalue(node.args[1])) if len(node.args) == 2 else None
        if isinstance(old, _StaticDict) and isinstance(key, Const):
            if key.value not in old.items:
                if default is None:
                    raise self.error(node, f"{key.value!r} is not a key of this dict, so "
                                           "'.pop()' raises KeyError", hint="pop a key it has")
                return default
            result = old.items[key.value]
            new: Any = _StaticDict({k: v for k, v in old.items.items() if k != key.value})
        else:
            d = self._materialize(old, base_node)
            self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
            result = self.builder.emit("getitem", [d, key]).result if default is None \
                else self._item_or_default(node, d, key, default)
            new = self._without(node, d, key)
        produced: set[int] = set()
        update = None
        if isinstance(new, Value):
            produced.add(new.uid)
            base = self._materialize(old, base_node)
            update = inplace.Update(self, self.stmt, base, new, self.builder.producers[new.uid])
        if isinstance(base_node, ast.Subscript):
            produced |= self._write(base_node, new)
        else:
            self._rebind(old, new, produced)
        if update is not None:
            inplace.collect_readers(update, skip=produced)
            self.root.updates.append(update)
        return result

    def _without(self, node: ast.Call, d: Operand, key: Operand) -> Operand:
        """``{j: v for j, v in d.items() if j != key}``: the dict `d.pop(key)` leaves."""
        j = self._fresh("key", [node])
        v = self._fresh("item", [node, ast.Name(j, ast.Load())])
        pairs = ast.Call(ast.Attribute(_operand(d, node), "items", ast.Load()), [], [])
        kept = ast.Compare(ast.Name(j, ast.Load()), [ast.NotEq()], [_operand(key, node)])
        target = ast.Tuple([ast.Name(j, ast.Store()), ast.Name(v, ast.Store())], ast.Store())
        clause = ast.comprehension(target, pairs, [kept], 0)
        comprehension = ast.DictComp(ast.Name(j, ast.Load()), ast.Name(v, ast.Load()), [clause])
        ast.fix_missing_locations(ast.copy_location(comprehension, node))
        for n in ast.walk(comprehension):
            if "lineno" in n._attributes:
                ast.copy_location(n, node)
        return self._dict_comprehension(comprehension)


def _static_pairs(source: Any) -> list[tuple[Const, Any]] | None:
    """The items ``d.update(source)`` writes where they are known when compiling: those
    of a display, or a list of (constant key, value) pairs; None where they are not."""
    if source is None:
        return []
    if isinstance(source, _StaticDict):
        return [(Const(k), v) for k, v in source.items.items()]
    if isinstance(source, _StaticSeq) and all(
            isinstance(p, _StaticSeq) and len(p.items) == 2 and isinstance(p.items[0], Const)
            for p in source.items):
        return [(p.items[0], p.items[1]) for p in source.items]
    return None
