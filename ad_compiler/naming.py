"""Names in generated code: the user's names kept, derivatives named after them.

Values the user named keep their names (``y``, then ``y_1`` after reassignment);
trace temporaries keep their trace names (``w1_2``); tangents and adjoints are
``v_dot`` and ``v_bar``.  Functions and modules the code calls are printed as the
user's module spells them where it can (``np.sin``), else bound in closure cells
(``math.cos`` for code that did ``from math import sin``), and the package's own
run-time helpers by name, imported in the printed source's header.
"""
from __future__ import annotations

import ast
import itertools
import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

from .ir import FreeName, Op, Value, all_values, walk_ops
from .primitives import qualified_name
from .registry.core import same_callable

_KEYWORDS = frozenset(__import__("keyword").kwlist) | {"print", "len", "range", "abs"}
_MODULE_ALIASES = {"math": "math", "numpy": "np", "builtins": "builtins",
                   "ad_compiler.runtime": "adc_runtime", "scipy.special": "special",
                   "numpy.linalg": "linalg"}
HELPER_MODULES = ("ad_compiler.runtime", "ad_compiler.runtime_lists", "ad_compiler.runtime_arrays",
                  "ad_compiler.runtime_products", "ad_compiler.runtime_shapes",
                  "ad_compiler.runtime_slopes", "ad_compiler.runtime_statements",
                  "ad_compiler.batched", "ad_compiler.batched_adjoints",
                  "ad_compiler.batched_lists", "ad_compiler.batched_shaping",
                  "ad_compiler.batched_products", "ad_compiler.batched_signals",
                  "ad_compiler.batched_statistics", "ad_compiler.runtime_npmath",
                  "ad_compiler.runtime_linalg", "ad_compiler.runtime_stats",
                  "ad_compiler.runtime_items", "ad_compiler.runtime_writes")


def _path_in(module: types.ModuleType, obj: object) -> list[str] | None:
    """Attributes leading from `module` to `obj`: ``["norm"]`` in scipy.stats, or
    through one submodule, ``["stats", "norm"]`` in scipy; None if neither."""
    for attr, held in vars(module).items():
        if held is obj and not attr.startswith("_"):
            return [attr]
    for attr, held in vars(module).items():
        if isinstance(held, types.ModuleType) and not attr.startswith("_") and \
                getattr(held, "__name__", "").startswith(module.__name__ + "."):
            for inner, value in vars(held).items():
                if value is obj and not inner.startswith("_"):
                    return [attr, inner]
    return None



def printed_as_syntax(op: Op) -> bool:
    """Ops printed as the statement or expression the user wrote (raise, assert, an
    f-string, ``"...".format(y)``, ``"%.3f" % y``), not as a call of their `fn`."""
    return "template" in op.attrs or any(op.attrs.get(k) for k in (
        "raise", "assert", "method", "operator"))

class Naming:
    """The naming half of the code emitter (codegen._Emitter): it fills `names`,
    `taken`, `free` and `refs` for the values and callees of `fn`."""

    fn: Any
    globals: dict[str, Any]
    cells: dict[str, Any]
    derived: dict[int, tuple[Value, str]]
    primal: set[int]
    share: dict[int, int]
    inlined: set[int]
    names: dict[int, str]
    taken: set[str]
    free: dict[str, Any]
    refs: dict[int, ast.expr]

    def name_everything(self) -> None:
        reserved = [p.name for p in self.fn.params if p.uid in self.primal and p.name]
        self.taken.update(reserved)  # the user's parameter names are the signature
        for op in walk_ops(self.fn.body):
            for a in op.args:
                if isinstance(a, FreeName):
                    self._reserve_free(a.name, a.kind)
            callee = op.attrs.get("callee")
            if callee and self._spelling_still_means(op):
                self._reserve_free(callee, op.attrs.get("callee_kind", "global"))
            elif "fn" in op.attrs and id(op.attrs["fn"]) not in self.refs \
                    and op.prim not in ("copy", "setitem", "add_at", "appended") \
                    and not op.attrs.get("subscript") and not printed_as_syntax(op) \
                    and id(op) not in getattr(self, "adds_into", ()):  # printed otherwise
                # (one reference per callable: each call of it is printed alike)
                self.refs[id(op.attrs["fn"])] = self._reference(op.attrs["fn"],
                                                                op.attrs.get("label"))
        for o in self.fn.outputs:
            if isinstance(o, FreeName):
                self._reserve_free(o.name, o.kind)

        natural = self._natural_names()
        for p in self.fn.params:
            if p.uid in self.primal and p.name:
                self.names[p.uid] = p.name
            else:
                self.names[p.uid] = self._unique(natural.get(p.uid) or self._derived_name(p, natural))
        temps = itertools.count(1)
        for op in walk_ops(self.fn.body):
            for inner in op.blocks:
                for p in inner.params:
                    self._name(p, natural, temps)
            for r in op.results:
                if r.uid not in self.inlined:
                    self._name(r, natural, temps)

    def _name(self, value: Value, natural: dict[int, str], temps: Iterator[int]) -> None:
        if value.uid in self.share:
            self.names[value.uid] = self.names[self.share[value.uid]]
        else:
            self.names[value.uid] = self._unique(self._base_name(value, natural, temps))

    def _base_name(self, value: Value, natural: dict[int, str], temps: Iterator[int]) -> str:
        if value.uid in natural:
            return natural[value.uid]
        if value.uid in self.derived or value.name:
            return self._derived_name(value, natural)
        return f"t{next(temps)}"

    def _natural_names(self) -> dict[int, str]:
        """Names of the user's values: SSA versions ``y, y_1``; temporaries ``w1_2``."""
        primal_values = getattr(self.fn, "primal_values", None) or list(all_values(self.fn))
        names: dict[int, str] = {}
        versions: dict[str, int] = {}
        for value in primal_values:
            if value.uid in self.share:
                continue
            if value.uid in self.derived:  # a derivative differentiated again: x_bar
                base, fmt = self.derived[value.uid]
                names[value.uid] = fmt.format(names.get(base.uid) or base.name or base.trace_name)
            elif value.name:
                count = versions.get(value.name, 0)
                versions[value.name] = count + 1
                names[value.uid] = value.name if count == 0 else f"{value.name}_{count}"
            else:
                names[value.uid] = value.trace_name
        return names

    def _derived_name(self, value: Value, natural: dict[int, str]) -> str:
        if value.uid in self.derived:
            base, fmt = self.derived[value.uid]
            base_name = natural.get(base.uid) or self._derived_name(base, natural)
            return fmt.format(base_name)
        aliases = getattr(self.fn, "aliases", {})
        if value.uid in aliases:  # a recomputed value is named like the one it recomputes
            original = aliases[value.uid]
            return natural.get(original.uid) or self._derived_name(original, natural)
        return value.name or "t"

    def _unique(self, base: str) -> str:
        name, n = base, 0
        while name in self.taken or name in _KEYWORDS:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    def _reserve_free(self, spelling: str, kind: str) -> None:
        root = spelling.split(".")[0]
        self.taken.add(root)
        if kind == "closure" and root in self.cells:
            self.free[root] = self.cells[root]

    def _spelling_still_means(self, op: Op) -> bool:
        """The user's spelling of a callee, if it still denotes the same object (an op
        that calls nothing, such as an item of a call's tuple result, has none)."""
        if "fn" not in op.attrs:
            return False
        spelling, kind = op.attrs["callee"], op.attrs.get("callee_kind", "global")
        root, *path = spelling.split(".")
        if kind == "closure":
            try:
                obj = self.cells[root].cell_contents
            except (KeyError, ValueError):
                return False
        elif root in self.globals:
            obj = self.globals[root]
        elif kind == "builtin":
            return True
        else:
            return False
        for attr in path:
            obj = getattr(obj, attr, None)
        return same_callable(obj, op.attrs["fn"])

    def _owner_reference(self, owner: object) -> ast.expr | None:
        """`owner` as a global of the user's module (``norm``) or an attribute of one
        (``stats.norm``, ``st.norm``); None if the module names it neither way."""
        for name, value in self.globals.items():
            if value is owner and not name.startswith("__"):
                self.taken.add(name)
                return ast.Name(name, ast.Load())
        for name, value in self.globals.items():
            if not isinstance(value, types.ModuleType) or name.startswith("__"):
                continue
            path = _path_in(value, owner)
            if path is not None:
                self.taken.add(name)
                expr: ast.expr = ast.Name(name, ast.Load())
                for attr in path:
                    expr = ast.Attribute(expr, attr, ast.Load())
                return expr
        return None

    def _reference(self, obj: Any, label: str | None = None) -> ast.expr:
        """An expression denoting `obj`: a global bound to it, `module.attr`, or a helper."""
        for name, value in self.globals.items():
            if value is obj and not name.startswith("__"):
                self.taken.add(name)
                return ast.Name(name, ast.Load())
        if isinstance(obj, types.BuiltinMethodType) and isinstance(
                getattr(obj, "__self__", None), np.ufunc):  # np.maximum.accumulate
            return ast.Attribute(self._reference(obj.__self__), obj.__name__, ast.Load())
        where = qualified_name(obj)
        if where is None and isinstance(obj, types.MethodType):  # stats.norm.logpdf
            owner = self._owner_reference(obj.__self__)
            if owner is not None:
                return ast.Attribute(owner, obj.__func__.__name__, ast.Load())
        if where is None:  # a function the user's module does not name: a closure helper
            base = getattr(obj, "__name__", "")
            alias = base if base.isidentifier() else (label or "helper")
            while alias in self.globals or alias in self.taken:
                alias += "_"
            self.free[alias] = obj
            self.taken.add(alias)
            return ast.Name(alias, ast.Load())
        module_name, attr = where
        if module_name == "builtins":
            return ast.Name(attr, ast.Load())
        if module_name in HELPER_MODULES:  # printed by name, imported in the header
            alias = attr
            while alias in self.globals or (alias in self.taken and self.free.get(alias) is not obj):
                alias += "_"
            self.free[alias] = obj
            self.taken.add(alias)
            return ast.Name(alias, ast.Load())
        module = sys.modules[module_name]
        for name, value in self.globals.items():
            if value is module and not name.startswith("__"):
                self.taken.add(name)
                return ast.Attribute(ast.Name(name, ast.Load()), attr, ast.Load())
        package, _, submodule = module_name.partition(".")
        for name, value in self.globals.items():  # `import scipy`: scipy.special.digamma
            if submodule and value is sys.modules.get(package) and not name.startswith("__") \
                    and getattr(value, submodule, None) is module:
                self.taken.add(name)
                path = ast.Attribute(ast.Name(name, ast.Load()), submodule, ast.Load())
                return ast.Attribute(path, attr, ast.Load())
        alias = _MODULE_ALIASES[module_name]
        while (alias in self.globals or (alias in self.free and self.free[alias] is not module)
               or (alias in self.taken and alias not in self.free)):
            alias += "_"
        self.free[alias] = module
        self.taken.add(alias)
        return ast.Attribute(ast.Name(alias, ast.Load()), attr, ast.Load())
