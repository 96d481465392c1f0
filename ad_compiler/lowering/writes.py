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
from typing import Any

from .. import runtime_writes
from ..ir import Const, FreeName, Operand, SourceLoc, Value
from ..registry import is_view
from ..registry.writes import BASIC, BASIC_ARRAY, IF_ARRAY, LIST_SLICE, MAY_REPEAT
from . import inplace
from .values import _StaticDict, _StaticSeq


def _is_key(part: Operand) -> bool:
    """A string index: it selects a dict's item itself (or a structured array's field,
    a view), so a write into what it selects is written back by the same key."""
    return isinstance(part, Const) and isinstance(part.value, str)


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
