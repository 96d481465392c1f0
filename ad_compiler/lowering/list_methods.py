"""Lowering a list's methods: ``xs.append(v)``, ``xs.extend(ys)``, ``xs.insert(i, v)``,
``xs.pop()``.

Each makes a new list, ``xs + [v]`` and the like, and every name holding `xs` is rebound
to it as for a write into it (`Writes._rebind()` in writes.py).
"""
from __future__ import annotations

import ast
from typing import Any

from .. import runtime_writes
from ..ir import Const, Operand, SourceLoc, Value
from . import inplace
from .values import _StaticSeq


class ListMethods:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    # ------------------------------------------------------------ list methods
    def _list_method(self, node: ast.Call) -> Any:
        """``xs.append(v)``, ``xs.extend(ys)``, ``xs.insert(i, v)``, ``xs.pop()``: a new
        list, ``xs + [v]`` and the like, which every name holding `xs` is rebound to."""
        func = node.func
        method = func.attr
        base_node = func.value
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.error(node, f"'.{method}()' with keyword or starred arguments is not "
                                   "supported", hint="pass its arguments one by one")
        arity = {"append": (1,), "extend": (1,), "insert": (2,), "pop": (0, 1)}[method]
        if len(node.args) not in arity:
            raise self.error(node, f"'.{method}()' takes {' or '.join(map(str, arity))} "
                                   "arguments")
        old = self._receiver(base_node)
        if isinstance(old, _StaticSeq) and old.kind == "tuple":
            raise self.error(func, f"a tuple has no '.{method}()'", hint="use a list")
        self._check_not_held(old, node)
        args = [self._rvalue(a) for a in node.args]
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        result: Any = Const(None)
        if method == "append":
            new = self._joined(old, _StaticSeq([self._item(args[0])], "list"), node)
            if isinstance(new, Value):  # reverse mode may append in place (appends.py)
                self.builder.producers[new.uid].attrs["append"] = True
        elif method == "extend":
            new = self._joined(old, self._as_list(args[0], node.args[0]), node)
        elif method == "insert":
            index = self._materialize(args[0], node.args[0])
            head = self._sliced(old, slice(None, None), Const(None), index, node)
            tail = self._sliced(old, slice(None, None), index, Const(None), node)
            new = self._joined(self._joined(head, _StaticSeq([self._item(args[1])], "list"),
                                            node), tail, node)
        else:
            index = self._materialize(args[0], node.args[0]) if args else Const(-1)
            if not (isinstance(index, Const) and isinstance(index.value, int)):
                raise self.error(node.args[0], "'.pop(i)' at an index computed when the code "
                                               "runs is not supported",
                                 hint="pop at a constant index (xs.pop(), xs.pop(0)), or "
                                      "index and slice: v = xs[i]; xs = xs[:i] + xs[i + 1:]")
            i = index.value
            result = self._item_at(old, i, node)
            head = self._sliced(old, None, Const(None), Const(i), node)
            new = head if i == -1 else self._joined(
                head, self._sliced(old, None, Const(i + 1), Const(None), node), node)
        produced: set[int] = set()
        update = None
        if isinstance(new, Value):
            produced.add(new.uid)
            base = self._materialize(old, base_node)
            update = inplace.Update(self, self.stmt, base, new, self._first_op_of(new))
        if isinstance(base_node, ast.Subscript):
            produced |= self._write(base_node, new)
        else:
            self._rebind(old, new, produced)
        if update is not None and update.result_op is not None:
            inplace.collect_readers(update, skip=produced)
            self.root.updates.append(update)
        return result

    def _receiver(self, base_node: ast.expr) -> Any:
        if isinstance(base_node, ast.Name):
            if base_node.id not in self.env:
                self.name(base_node.id, base_node)
                raise self.error(base_node, f"changing '{base_node.id}', which is not a "
                                            "variable of this function, is not supported",
                                 hint=f"copy it first: {base_node.id} = list({base_node.id})"
                                      " is not differentiated; pass it as an argument")
            return self.env[base_node.id]
        if isinstance(base_node, ast.Subscript):
            return self._rvalue(base_node)
        raise self.error(base_node, "changing a list held in an attribute is not supported",
                         hint="give the list a name of its own, change it and return it")

    def _first_op_of(self, new: Value) -> Any:
        """The first op a list method emitted (the guard goes before it)."""
        op = self.builder.producers.get(new.uid)
        while op is not None and op.prim == "add" and isinstance(op.args[0], Value) \
                and op.args[0].uid in self.builder.producers and \
                self.builder.producers[op.args[0].uid].loc == op.loc:
            op = self.builder.producers[op.args[0].uid]
        return op

    def _joined(self, a: Any, b: Any, node: ast.AST) -> Any:
        if isinstance(a, _StaticSeq) and isinstance(b, _StaticSeq):
            return _StaticSeq([*a.items, *b.items], "list")
        return self.builder.emit("add", [self._materialize(a, node),
                                         self._materialize(b, node)]).result

    def _as_list(self, value: Any, node: ast.AST) -> Any:
        """What ``xs.extend(ys)`` adds: a display's items, or a list checked to be one
        when the code runs (``xs + ys`` would add an array to it)."""
        if isinstance(value, _StaticSeq):
            return _StaticSeq(list(value.items), "list")
        operand = self._materialize(value, node)
        where = f"{self.src.filename}, line {node.lineno}: {self.src.line(node.lineno).strip()}"
        self.builder.emit("call", [operand, Const(where)], n_results=0, attrs={
            "fn": runtime_writes.check_list, "kwnames": ("where",), "nondiff": True,
            "effect": True, "guard": True})
        return operand

    def _sliced(self, seq: Any, _: Any, lo: Operand, hi: Operand, node: ast.AST) -> Any:
        if isinstance(seq, _StaticSeq) and isinstance(lo, Const) and isinstance(hi, Const):
            return _StaticSeq(seq.items[lo.value:hi.value], "list")
        if isinstance(lo, Const) and isinstance(hi, Const):
            part: Operand = Const(slice(lo.value, hi.value))
        else:
            part = self._nondiff_call(slice, None, [lo, hi], node)
        return self.builder.emit("getitem", [self._materialize(seq, node), part]).result

    def _item_at(self, seq: Any, i: int, node: ast.AST) -> Any:
        if isinstance(seq, _StaticSeq):
            try:
                return seq.items[i]
            except IndexError:
                raise self.error(node, "pop from an empty list" if not seq.items else
                                 f"pop index {i} out of range") from None
        return self.builder.emit("getitem", [self._materialize(seq, node), Const(i)]).result
