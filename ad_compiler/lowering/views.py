"""What an index selects, as writes need to know it: an item, a view of an array or a
copy of a list (`_note_view()`), whether a value is certainly an array (`_is_array()`),
and whether an index part selects each place at most once (`_is_basic_part()`).
"""
from __future__ import annotations

import builtins

from ..ir import Const, Operand, Value
from ..registry import has_expr, is_array

_INTEGER_OPS = ("add", "sub", "mul", "floordiv", "mod", "neg")
_INTEGER_CALLS = (builtins.len, builtins.int)


class Views:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

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
