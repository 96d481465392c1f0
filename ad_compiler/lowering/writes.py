"""Lowering writes into arrays, lists and dicts: ``out[i] = v``, ``out[i, :] += v``.

A write makes a new value, ``out_1 = setitem(out, v, basic, i)`` (the generated code
writes in place where nothing reads the old contents again), and every name that holds
the same object is rebound to it, as NumPy would show them the change:

* names bound to the same value (``y = x``);
* a view made by basic indexing (``y = x[1:]``): a write into it is written back into
  the array it views, and views of a written array are taken again;
* the caller's names, for a function the differentiated one calls (inlined).

What this cannot follow (a view kept in a list, an array read through a name the write
does not rebind) is guarded as augmented assignments are (`inplace.check_updates`):
the compiled code raises a located `ValueError` where an array it writes is shared.
"""
from __future__ import annotations

import ast
import builtins
import types
from typing import Any

from .. import runtime_writes
from ..errors import ADCompileError
from ..frontend import load
from ..ir import Const, FreeName, Operand, SourceLoc, Value
from ..registry import has_expr, is_array, is_view
from ..registry.writes import BASIC, BASIC_ARRAY, IF_ARRAY, LIST_SLICE, MAY_REPEAT
from . import inplace
from .values import _LocalFunction, _StaticDict, _StaticSeq, written_names


def _is_key(part: Operand) -> bool:
    """A string index: it selects a dict's item itself (or a structured array's field,
    a view), so a write into what it selects is written back by the same key."""
    return isinstance(part, Const) and isinstance(part.value, str)


_INTEGER_OPS = ("add", "sub", "mul", "floordiv", "mod", "neg")
_INTEGER_CALLS = (builtins.len, builtins.int)


class Writes:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

    # ------------------------------------------------------------ statements
    def _assign_item(self, target: ast.Subscript, value: Any) -> None:
        """``base[index] = value``."""
        self._write(target, value)

    def _augassign_item(self, stmt: ast.AugAssign) -> None:
        """``base[index] op= value`` is ``base[index] = base[index] op value``: NumPy's
        meaning, a repeated integer index included (``a[[0, 0]] += 1`` adds once)."""
        prim = self._binop_prim(stmt.op, stmt)
        current = self.expr(stmt.target)
        result = self._binop(prim, current, self.expr(stmt.value), stmt)
        inplace.check_result(self, stmt, current, result)  # a row or a copy: in place
        update = None
        if isinstance(current, Value) and isinstance(result, Value):
            # an array held in a list is changed in place by `+=`: names sharing it see it
            update = inplace.Update(self, stmt, current, result,
                                    self.builder.producers[result.uid])
        produced = self._write(stmt.target, result)
        if update is not None:
            inplace.collect_readers(update, skip=produced)
            self.root.updates.append(update)

    # ------------------------------------------------------------ np.add.at
    def _augassign_view(self, stmt: ast.AugAssign, prim: str, current: Value) -> None:
        """``row = A[i]; row *= 2``: the view changes in place, and the array it views
        (or the list holding it) with it: the new value is written back."""
        result = self._binop(prim, current, self.expr(stmt.value), stmt)
        inplace.check_result(self, stmt, current, result)
        if not isinstance(result, Value):
            self._bind(stmt.target.id, result)
            return
        update = inplace.Update(self, stmt, current, result, self.builder.producers[result.uid])
        produced = {result.uid}
        result = inplace.kept_dtype(self, current, result)  # a float32 row stays one
        produced.add(result.uid)
        new: Value = result
        if self._item_parts(self.root.view_of[current.uid][1]):  # t = x[0]: other names
            new = inplace.if_held_in_place(self, current, lambda: result, current)  # of a
            produced.add(new.uid)                                  # number keep its value
        self._rebind(current, new, produced, item_updated=True)
        if new is not result:
            self._bind(stmt.target.id, result)
            if new.uid in self.root.view_of:  # the next ``t += v`` writes back again
                self.root.view_of[result.uid] = self.root.view_of[new.uid]
        inplace.collect_readers(update, skip=produced)
        self.root.updates.append(update)

    def _update_sharers(self, update: Any, current: Value, kept: Value) -> None:
        """``a += v`` where other names (a caller's, ``b = a``) hold the same value: where
        it is an array, NumPy changes it for them too, so they are rebound to the new
        value where it is one (`if_held_in_place()`), and a number is left to them.  Only
        for a value made by NumPy (or from one): a parameter's (``y = x``) is left to the
        run-time guard, as is a name a loop around the statement does not carry, so code
        of numbers is not branched."""
        if not self._is_array(current):
            return
        target = update.node.target.id
        sharers: list[tuple[Any, str]] = []
        frame: Any = self
        while frame is not None:
            sharers += [(frame, name) for name, held in frame.env.items()
                        if held is current and (frame is not self or name != target)
                        and frame._may_rebind(name, strict=False)]
            frame = frame.caller[0] if frame.caller is not None else None
        if not sharers:
            return
        shared = inplace.if_held_in_place(self, current, lambda: kept, current)
        for frame, name in sharers:
            frame.env[name] = shared
        if shared.name is None:
            shared.name = sharers[0][1]
        update.readers.clear()
        inplace.collect_readers(update, skip={shared.uid})

    def _add_at(self, node: ast.Call) -> Operand:
        """``np.add.at(a, idx, v)``: `a` with `v` added at `idx`, a repeated index adding
        each time; a new value every name holding `a` is rebound to."""
        if node.keywords or len(node.args) != 3 or any(isinstance(a, ast.Starred)
                                                      for a in node.args):
            raise self.error(node, "np.add.at is supported with three positional arguments",
                             hint="np.add.at(a, indices, values)")
        base_node, index_node, value_node = node.args
        if not isinstance(base_node, (ast.Name, ast.Subscript)):
            raise self.error(base_node, "np.add.at into this kind of expression is not "
                                        "supported", hint="give the array a name first")
        old = self._receiver(base_node)
        parts = self._index_parts(index_node) if isinstance(index_node, ast.Tuple) \
            else [self._materialize(self._rvalue(index_node), index_node)]
        value = self._materialize(self._rvalue(value_node), value_node)
        base = self._materialize(old, base_node)
        if isinstance(base, (Const, FreeName)):
            raise self.error(base_node, "np.add.at into a constant or a module's array is "
                                        "not supported", hint="copy it first: a = a.copy()")
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = self._truncation({"fn": runtime_writes.add_at, "kwnames": ()}, base)
        new = self.builder.emit("add_at", [base, value, *parts], attrs=attrs).result
        self._note_float_assumed(base, new)
        produced = {new.uid}
        update = inplace.Update(self, self.stmt, base, new, self.builder.producers[new.uid])
        if isinstance(base_node, ast.Subscript):
            produced |= self._write(base_node, new)
        else:
            self._rebind(old, new, produced)
        inplace.collect_readers(update, skip=produced)
        self.root.updates.append(update)
        return Const(None)

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

    def _display_of(self, value: Any) -> tuple[Any, bool]:
        """The list or dict display `value` was made of, through the loops that carry it
        (and whether one does): a change of `value` is one of the display, which the
        names and displays holding it must see."""
        in_loop = False
        while isinstance(value, Value) and value.uid in self.root.loop_entry:
            value, in_loop = self.root.loop_entry[value.uid], True
        if isinstance(value, Value):
            value = self.root.materialized_from.get(value.uid)
        return (value, in_loop) if isinstance(value, (_StaticSeq, _StaticDict)) else (
            None, in_loop)

    def _check_display_rebound(self, display: Any) -> None:
        """A list or dict display an inlined function changed becomes a runtime value
        here: refused where another display holds it, or where a name holds one of its
        items, which would keep the items from before the change."""
        pending = list(display.items.values() if isinstance(display, _StaticDict)
                       else display.items)
        while pending:
            item = pending.pop()
            if not isinstance(item, (_StaticSeq, _StaticDict)):
                continue
            if any(held is item for held in self.env.values()):
                raise self.error(self.stmt, "this call changes a list or dict one of whose "
                                            "items another name holds, which is not "
                                            "supported",
                                 hint="build the outer list or dict after the call")
            pending.extend(item.items.values() if isinstance(item, _StaticDict)
                           else item.items)

    def _check_not_held(self, old: Any, node: ast.AST) -> None:
        """A list or dict display held in another one cannot be rebound there."""
        if not isinstance(old, (_StaticSeq, _StaticDict)):
            return
        pending = [v for v in self.env.values() if isinstance(v, (_StaticSeq, _StaticDict))
                   and v is not old]
        while pending:
            holder = pending.pop()
            items = holder.items.values() if isinstance(holder, _StaticDict) else holder.items
            for item in items:
                if item is old:
                    raise self.error(node, "this changes a list or dict that another list or "
                                           "dict holds, which is not supported",
                                     hint="build the outer one after changing it")
                if isinstance(item, (_StaticSeq, _StaticDict)):
                    pending.append(item)

    # ------------------------------------------------------------ the write
    def _write(self, target: ast.Subscript, value: Any) -> set[int]:
        """Write `value` into the container `target` indexes; the values made."""
        base_node = target.value
        if isinstance(base_node, ast.Name):
            if base_node.id not in self.env:
                self.name(base_node.id, base_node)  # not defined: its error
                raise self.error(base_node, f"writing into '{base_node.id}', which is not a "
                                            "variable of this function, is not supported",
                                 hint=f"copy it first: {base_node.id} = "
                                      f"{base_node.id}.copy(), or pass it as an argument")
            old = self.env[base_node.id]
        elif isinstance(base_node, ast.Subscript):
            old = self._rvalue(base_node)
            made = self.builder.producers.get(old.uid) if isinstance(old, Value) else None
            if made is not None and made.prim == "getitem" and not all(
                    self._is_basic_part(p) or _is_key(p) for p in made.args[1:]):
                raise self.error(base_node, "writing into an item of an item selected with "
                                            "an index array is not supported",
                                 hint="write into the array with one index: x[i, j] = v")
        else:
            raise self.error(target, "assigning into an attribute's items is not supported",
                             hint="give the value a name of its own, write into it and "
                                  "return it")
        parts = self._index_parts(target.slice) if isinstance(target.slice, (ast.Slice,
                                                                             ast.Tuple)) \
            else [self._materialize(self._rvalue(target.slice), target.slice)]
        self.builder.loc = SourceLoc(target.lineno, target.col_offset, self.stmt.lineno)
        produced: set[int] = set()
        self._check_not_held(old, target)
        self._check_view_followed(old, base_node)
        static = self._static_write(old, value, parts, target)
        if static is not None:
            new: Any = static
        else:
            base = self._materialize(old, base_node)
            if isinstance(base, Const):
                raise self.error(target, f"a {type(base.value).__name__} does not support item "
                                         "assignment")
            if isinstance(base, FreeName):
                raise self.error(target, f"writing into '{base.name}', which is not a variable "
                                         "of this function, is not supported",
                                 hint="copy it first (y = x.copy()) and write into the copy")
            new = self._setitem(base, self._materialize(value, target), parts)
            produced.add(new.uid)
            first = self.builder.producers[new.uid]
            update = inplace.Update(self, self.stmt, base, new, first)
        if isinstance(base_node, ast.Subscript):  # x[i][j] = v: x[i] is written back
            produced |= self._write(base_node, new)
        else:
            self._rebind(old, new, produced)
        if static is None:
            inplace.collect_readers(update, skip=produced)
            self.root.updates.append(update)
        return produced

    def _check_view_followed(self, old: Any, base_node: ast.expr) -> None:
        """A write into ``v = x.reshape(...)`` (``x.T``, ``np.ravel(x)``, ...) changes `x`
        where NumPy made a view and not where it made a copy, which depends on memory
        layout: refused where `x` is read after the write."""
        made = self.builder.producers.get(old.uid) if isinstance(old, Value) else None
        if made is None or not (is_view(made.prim) or made.attrs.get("same_object")) \
                or not made.args or not isinstance(made.args[0], Value):
            return
        viewed = made.args[0]
        later = self.root.liveness_of(self.frame_node).names_after(self.stmt)
        readers = sorted(n for n in later if self._shares(self.env.get(n), viewed)
                         and self.env.get(n) is not old)
        if not readers:
            return
        written = self.src.line(base_node.lineno)[base_node.col_offset:base_node.end_col_offset] \
            if base_node.end_lineno == base_node.lineno else "it"
        raise self.error(base_node, f"this writes into {written}, which may share memory with "
                                    f"'{readers[0]}' (NumPy returns a view or a copy here, "
                                    f"depending on memory layout), and '{readers[0]}' is read "
                                    "afterwards: the compiler cannot tell which changes",
                         hint=f"write into '{readers[0]}' with an index of its own, or make "
                              f"{written} a copy where it is made (.copy())")

    def _shares(self, value: Any, viewed: Value) -> bool:
        """Whether `value` is `viewed` or is made from it by indexing or reshaping."""
        seen = 0
        while isinstance(value, Value) and seen < 1000:
            if value is viewed:
                return True
            seen += 1
            op = self.builder.producers.get(value.uid)
            if op is None or not op.args or not (op.prim in ("getitem", "setitem") or is_view(
                    op.prim) or op.attrs.get("same_object")):
                return False
            value = op.args[0]
        return False

    def _static_write(self, old: Any, value: Any, parts: list[Operand],
                      node: ast.AST) -> Any:
        """A list or dict display known at compile time, written at a constant index: a
        new display (None where the write needs a runtime container)."""
        if not isinstance(old, (_StaticSeq, _StaticDict)):
            return None
        if len(parts) != 1 or not isinstance(parts[0], Const):
            return None
        key = parts[0].value
        if isinstance(old, _StaticDict):
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                return None
            return _StaticDict({**old.items, key: self._item(value)})
        if old.kind == "tuple":
            raise self.error(node, "a tuple does not support item assignment",
                             hint="build a new tuple, or use a list")
        if not isinstance(key, int) or isinstance(key, bool):
            return None
        items = list(old.items)
        try:
            items[key] = self._item(value)
        except IndexError:
            raise self.error(node, f"index {key} is out of range") from None
        return _StaticSeq(items, old.kind)

    def _setitem(self, base: Operand, value: Operand, parts: list[Operand],
                 if_array: bool = False) -> Value:
        kind = MAY_REPEAT
        if if_array:  # a view written back: NumPy changes the array, not a list's copy
            kind = IF_ARRAY
        elif all(self._is_basic_part(p) for p in parts):
            kind = BASIC_ARRAY if self._is_array(base) else BASIC
            part = parts[0]
            if kind == BASIC and len(parts) == 1 and (self._is_slice_call(part) or (
                    isinstance(part, Const) and isinstance(part.value, slice))):
                kind = LIST_SLICE  # into a list, this may change its length
        attrs = self._truncation({"fn": runtime_writes.setitem, "kwnames": ()}, base)
        written = self.builder.emit("setitem", [base, value, Const(kind), *parts],
                                    attrs=attrs).result
        self._note_float_assumed(base, written)
        return written

    def _truncation(self, attrs: dict, base: Operand) -> dict:
        """What a write into `base` needs of its dtype: NumPy truncates a float written
        into integers or booleans, so its derivative does not pass (a constant where the
        dtype is known now, a run-time check, `may_truncate`, where it is known only when
        the code runs: a parameter's copy, or a view of what may be a list or an array)."""
        dtype_kind = self._known_kind(base)
        if dtype_kind is not None and dtype_kind in "biu":
            attrs["nondiff"] = True
        elif dtype_kind is None:
            attrs["may_truncate"] = True
        return attrs

    def _note_float_assumed(self, base: Operand, written: Value) -> None:
        """A write that took `base` for a float array because a loop carries it from one:
        checked after the loop (`_check_float_params`), given `may_truncate` if not."""
        assumed = self._assumed_from(base) if self._known_kind(base) == "f" else None
        if assumed is not None:
            self.root.assumed_float[assumed][0].append(self.builder.producers[written.uid])

    # ------------------------------------------------------------ rebinding
    def _rebind(self, old: Any, new: Any, produced: set[int], write_back: bool = True,
                item_updated: bool = False) -> None:
        """Every name holding `old` now holds `new` (here and in the callers of an inlined
        function); views of `old` are taken again; a view written into is written back
        into the array it views (`write_back`; not for a view taken again).  An item
        read at an integer index is a view only where it is an array or a list, which
        is known when the code runs (`if_held_in_place()`): taken again, and written
        back after ``item += v`` (`item_updated`), only there."""
        frame: Any = self
        display, in_loop = self._display_of(old)
        while frame is not None:
            where = self.stmt if frame is self else frame.stmt  # (a caller: at the call)
            if display is not None:
                frame._check_not_held(display, where)
            for name, held in list(frame.env.items()):
                if held is display:  # a display made one value, which changed
                    if in_loop:  # (a loop of the function called: it carries a copy)
                        raise frame.error(where, f"this call changes '{name}', a list or "
                                                 "dict display, in a loop of the function "
                                                 "it calls, which is not supported",
                                          hint=f"return '{name}' from the function and "
                                               f"assign it here: {name} = ...")
                    frame._check_display_rebound(display)
                elif held is not old:
                    continue
                if frame._may_rebind(name, strict=frame is self):
                    frame.env[name] = new
                    if isinstance(new, Value) and new.name is None:
                        new.name = name
                else:  # (a caller's name: the error is said at the call)
                    raise frame.error(where, f"this call changes '{name}', which the loop "
                                             "around it does not assign",
                                      hint=f"return '{name}' from the function and assign "
                                           f"it in the loop: {name} = ...")
            frame = frame.caller[0] if frame.caller is not None else None
        if not isinstance(old, Value):
            return
        views = self.root.view_of
        for name, held in list(self.env.items()):  # y = x[1:] read after x[2] = v
            if isinstance(held, Value) and held is not new and held.uid in views \
                    and views[held.uid][0] is old and self._may_rebind(name, strict=False):
                if held.uid in self.root.maybe_views:
                    raise self._unknown_view_error(name)
                _, parts = views[held.uid]
                if self._item_parts(parts):  # t = x[0] before x[0] = v: a number stays
                    again = inplace.if_held_in_place(self, held, lambda parts=parts: (
                        self.builder.emit("getitem", [new, *parts]).result), held)
                else:
                    again = self.builder.emit("getitem", [new, *parts]).result
                again.name = name
                views[again.uid] = (new, parts)
                produced.add(again.uid)
                self._rebind(held, again, produced, write_back=False)
        if write_back and old.uid in views and isinstance(new, Value):  # y = x[1:]; y[0] = v changes x
            base, parts = views[old.uid]
            if isinstance(base, Value):  # (into an array only, where base may be a list)
                maybe = old.uid in self.root.maybe_views
                if item_updated and self._item_parts(parts):  # t = x[0]; t += v
                    written = inplace.if_held_in_place(self, old, lambda: self._setitem(
                        base, new, parts, maybe), base)
                else:
                    written = self._setitem(base, new, parts, maybe)
                produced.add(written.uid)
                views[new.uid] = (written, parts)
                if maybe:  # written again, it is still a copy where base is a list
                    self.root.maybe_views.add(new.uid)
                self._rebind(base, written, produced)

    def _unknown_view_error(self, name: str) -> Exception:
        """``y = x[1:]`` of an `x` that may be a list or an array, read after `x` is
        written: a copy that keeps the old items, or a view that shows the new ones."""
        return self.error(self.stmt, f"this write changes an object of which '{name}' is "
                                     "a slice, and whether that slice sees the change (a "
                                     "view of an array) or not (a copy of a list) depends on "
                                     "what kind of object it is, which is not known here",
                          hint=f"make the kind known before slicing (x = np.asarray(x) for an "
                               f"array, x = list(x) for a list), or take '{name}' again after "
                               "the write")

    def _may_rebind(self, name: str, strict: bool) -> bool:
        """Whether a loop being lowered carries `name` out (or it is the loop's own)."""
        for loop in self.loops:
            if name not in loop.carried and name in loop.entry_names:
                if strict:
                    raise self.error(self.stmt, f"this write changes '{name}', which the "
                                                "loop around it does not assign",
                                     hint=f"assign '{name}' in the loop, or write into it "
                                          "directly")
                return False
        return True

    def _carried_with_views(self, carried: list[str], body: list[ast.stmt]) -> list[str]:
        """Names a loop must carry besides those it assigns: where it writes into a
        name, names holding the same value, or a view of it, or the array it views."""
        names = list(carried)
        views = self.root.view_of
        all_written = written_names(body) + self._changed_by_calls(body)
        names += [n for n in dict.fromkeys(all_written) if n in self.env and n not in names]
        written = [n for n in all_written if n in self.env]
        nodes = [n for stmt in body for n in ast.walk(stmt)]
        changed = set(all_written) | {n.target.id for n in nodes if isinstance(
            n, ast.AugAssign) and isinstance(n.target, ast.Name)}
        for node in nodes:  # row = A[i]; row *= 2 (or row[0] = v) in the loop changes A
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript) and \
                    isinstance(node.value.value, ast.Name) and node.value.value.id in self.env \
                    and any(isinstance(t, ast.Name) and t.id in changed for t in node.targets) \
                    and node.value.value.id not in written:
                written.append(node.value.value.id)
                names += [node.value.value.id] if node.value.value.id not in names else []
        while written:
            held = {id(self.env[n]) for n in written if n in self.env}
            related = set(held)
            for n in written:
                value = self.env.get(n)
                if isinstance(value, Value) and value.uid in views:
                    related.add(id(views[value.uid][0]))
            more = [n for n, v in self.env.items() if n not in written and (
                id(v) in related or (isinstance(v, Value) and v.uid in views
                                     and id(views[v.uid][0]) in held))]
            if not more:
                break
            written += more
            names += [n for n in more if n not in names]
        return names

    def _changed_by_calls(self, body: list[ast.stmt]) -> list[str]:
        """Names of this function that a call in `body` may change in place: the names
        passed for a parameter the called function writes into or grows
        (``add_term(terms, v)`` with ``terms.append(v)``), and the names a nested
        function writes into (``acc.append(v)`` in a closure).  One level deep: a change
        made further down is refused at the call (`_rebind`)."""
        changed: list[str] = []
        for node in (n for stmt in body for n in ast.walk(stmt)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            defined = self._called_definition(node.func.id)
            if defined is None:
                continue
            spec = defined.args
            params = [a.arg for a in (*spec.posonlyargs, *spec.args)]
            inner = written_names(defined.body if isinstance(defined.body, list)
                                  else [ast.Expr(defined.body)])
            inner += [n.target.id for n in ast.walk(defined) if isinstance(
                n, ast.AugAssign) and isinstance(n.target, ast.Name)]
            for name in dict.fromkeys(inner):
                if name in params:
                    at = params.index(name)
                    passed = node.args[at] if at < len(node.args) else next(
                        (k.value for k in node.keywords if k.arg == name), None)
                    if isinstance(passed, ast.Name):
                        changed.append(passed.id)
                elif isinstance(self.env.get(node.func.id), _LocalFunction):
                    changed.append(name)  # (a closure's write into its caller's name)
        return changed

    def _called_definition(self, name: str) -> ast.FunctionDef | ast.Lambda | None:
        """The definition a call of `name` inlines: a nested function, or a Python
        function of a module (not a library's)."""
        held = self.env.get(name)
        if isinstance(held, _LocalFunction):
            return held.node
        if name in self.env:
            return None
        resolved = self.src.resolve(name)
        fn = resolved.obj if resolved is not None else None
        from .calls import is_library_function  # (calls.py builds on this module)

        if not isinstance(fn, types.FunctionType) or is_library_function(fn):
            return None
        try:
            node = load(fn).node
        except ADCompileError:
            return None  # (refused where it is called)
        return node if isinstance(node, (ast.FunctionDef, ast.Lambda)) else None

    def _assumed_from(self, value: Operand) -> int | None:
        """The loop param assumed a float array (`_assume_float_params`) that `value` is
        made from by writes, if any."""
        while isinstance(value, Value):
            uid = value.uid
            while uid not in self.root.assumed_float and uid in self.root.float_owner:
                uid = self.root.float_owner[uid]  # an inner loop's, as sure as this one
            if uid in self.root.assumed_float:
                return uid
            op = self.builder.producers.get(value.uid)
            if op is None or op.prim != "setitem":
                return None
            value = op.args[0]
        return None

    def _assume_float_params(self, inits: list[Operand], params: list[Value]) -> None:
        """A loop param whose initial value is a float array is taken for one while the
        body is lowered (a write into it keeps its derivative); `_check_float_params`
        then checks that every iteration passes one on."""
        for init, param in zip(inits, params):
            if self._known_kind(init) == "f":
                self.root.assumed_float[param.uid] = ([], [])
                outer = self._assumed_from(init)
                if outer is not None:  # (that holds only if the outer one does)
                    self.root.assumed_float[outer][1].append(param.uid)
                    self.root.float_owner[param.uid] = outer

    def _check_float_params(self, params: list[Value], yields: list[Operand],
                            results: list[Value]) -> None:
        """The assumptions of `_assume_float_params` against what the body passes on: a
        param the body may pass something else for (``h = h.astype(int)``) was not a
        float array, and the writes that took it for one carry a run-time check."""
        pending = [k for k, p in enumerate(params) if p.uid in self.root.assumed_float]
        changed = True
        while changed:
            changed = False
            for k in list(pending):
                if k >= len(yields) or self._known_kind(yields[k]) != "f":
                    self._drop_float_assumption(params[k].uid)
                    pending.remove(k)
                    changed = True
        for k in pending:
            writes, inner = self.root.assumed_float.pop(params[k].uid)
            outer = self.root.float_owner.get(params[k].uid)
            self.root.dtype_kinds[params[k].uid] = "f"
            if k < len(results):
                self.root.dtype_kinds[results[k].uid] = "f"
            if outer is not None:  # still only as sure as the loop around it
                if k < len(results):
                    self.root.float_owner[results[k].uid] = outer
                kept_writes, kids = self.root.assumed_float[outer]
                kept_writes.extend(writes)
                kids.extend([params[k].uid, *inner,
                             *((results[k].uid,) if k < len(results) else ())])

    def _drop_float_assumption(self, uid: int) -> None:
        writes, inner = self.root.assumed_float.pop(uid, ([], []))
        self.root.dtype_kinds.pop(uid, None)
        for op in writes:
            op.attrs["may_truncate"] = True
        for kid in inner:
            self._drop_float_assumption(kid)

    def _note_carried_arrays(self, inits: list[Operand], *values: list[Value]) -> None:
        """A loop's carried values (its params, its results) whose initial value is an
        array are arrays: loops rebind them only by writes into them."""
        for k, init in enumerate(inits):
            if self._is_array(init):
                self.root.arrays.update(v[k].uid for v in values if k < len(v))

    # ------------------------------------------------------------ indices
    def _note_view(self, result: Operand, base: Operand, parts: list[Operand]) -> None:
        """`result` is ``base[parts]``: the object held at an integer index (an array's
        row, a list's item), or a view of an array made by slicing (a list's slice is a
        copy: where `base` may be a list, its slices are not followed)."""
        if not (isinstance(result, Value) and isinstance(base, Value)
                and all(self._is_basic_part(p) for p in parts)):
            return
        integers = all(not (isinstance(p, Const) and isinstance(p.value, slice))
                       and not self._is_slice_call(p) for p in parts)
        if integers or self._is_array(base):
            self.root.view_of[result.uid] = (base, list(parts))
        elif self._may_be_array(base):  # a view if base is an array, a copy if a list
            self.root.view_of[result.uid] = (base, list(parts))
            self.root.maybe_views.add(result.uid)

    def _may_be_array(self, value: Operand) -> bool:
        """Whether a value of unknown kind may be an array (it is not made as a list)."""
        seen = 0
        while isinstance(value, Value) and seen < 1000:
            seen += 1
            op = self.builder.producers.get(value.uid)
            if op is None:
                return True
            if op.prim in ("setitem", "copy"):
                value = op.args[0]
                continue
            if op.prim == "pack" or (op.prim == "add" and op.attrs.get("append")):
                return False
            return not (op.prim == "call" and op.attrs.get("fn") in (list, sorted))
        return False

    def _item_parts(self, parts: list[Operand]) -> bool:
        """An index of integers only (``x[0]``, ``A[i, j]``): it reads an item, which is
        a number or an object the base holds, where a slice reads a view or a copy."""
        return not any(isinstance(p, Const) and (p.value is None or p.value is Ellipsis
                                                 or isinstance(p.value, slice))
                       or self._is_slice_call(p) for p in parts)

    def _is_slice_call(self, part: Operand) -> bool:
        op = self.builder.producers.get(part.uid) if isinstance(part, Value) else None
        return op is not None and op.attrs.get("fn") is builtins.slice

    def _is_array(self, value: Operand) -> bool:
        """Whether a value is certainly a NumPy array (made by NumPy, or from one)."""
        seen = 0
        while isinstance(value, Value) and seen < 1000:
            seen += 1
            if value.uid in self.root.arrays:
                return True
            op = self.builder.producers.get(value.uid)
            if op is None:
                return False
            if op.prim in ("setitem", "getitem", "add_at", "copy"):
                value = op.args[0]
                continue
            if is_array(op.prim):
                return True
            if has_expr(op.prim) and any(self._is_array(a) for a in op.args):
                return True  # arithmetic with an array
            fn = op.attrs.get("fn")
            return op.prim == "call" and getattr(fn, "__module__", None) is not None \
                and str(fn.__module__).startswith("numpy")
        return False

    def _is_basic_part(self, part: Operand) -> bool:
        """An index part known to select each place at most once, and to make a view:
        an integer, a slice, None or Ellipsis (an index array may repeat a place)."""
        if isinstance(part, Const):
            value = part.value
            return value is None or value is Ellipsis or isinstance(value, slice) or (
                isinstance(value, int) and not isinstance(value, bool))
        if not isinstance(part, Value):
            return False
        if part.uid in self.root.integral:
            return True
        op = self.builder.producers.get(part.uid)
        if op is None:
            return False
        if op.prim == "call" and (op.attrs.get("fn") is builtins.slice
                                  or op.attrs.get("fn") in _INTEGER_CALLS):
            return True
        if op.prim in _INTEGER_OPS and all(
                (isinstance(a, Const) and isinstance(a.value, int)
                 and not isinstance(a.value, bool)) or
                (isinstance(a, Value) and a.uid in self.root.integral) for a in op.args):
            self.root.integral.add(part.uid)
            return True
        return False

