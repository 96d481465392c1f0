"""What a loop around a write must know of it: the names it changes (through names
sharing the value, views, the functions it calls), and the float arrays it carries.

A loop carries out every name a write in its body changes (`_carried_with_views()`),
and a loop param whose initial value is a float array is taken for one while the body
is lowered, then checked against what the body passes on (`_check_float_params()`).
"""
from __future__ import annotations

import ast
import types

from ..errors import ADCompileError
from ..frontend import load
from ..ir import Operand, Value
from .values import _LocalFunction, written_names


class LoopWrites:
    """Methods of the lowerer (see core.py), grouped by what they lower."""

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
        from .calls import is_library_function  # (calls.py builds on the lowerer's mixins)

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
