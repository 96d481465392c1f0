"""The helper definitions an exported module carries: only those its code calls.

Generated code imports a few functions from the NumPy-only helper modules
(``runtime``, ``batched``, ``input_checks``).  An exported module copies those
functions, and what they use in turn: functions, classes (with their bases) and
constants, found by reading each definition's AST for the global names it reads
(``symtable`` tells a global from a local).  Annotations are left out of that
reading: an exported module starts with ``from __future__ import annotations``, so
they are never evaluated.  The copies share one namespace, so two definitions of a
name in different helper modules would be an error, and so would a global of the
user's with the name of a copied helper.
"""
from __future__ import annotations

import ast
import copy
import inspect
import symtable
import sys
from dataclasses import dataclass, field
from functools import cache

from . import (  # noqa: F401  (the modules copied from)
    batched,
    batched_adjoints,
    batched_lists,
    batched_products,
    batched_shaping,
    batched_signals,
    batched_statistics,
    input_checks,
    runtime,
    runtime_arrays,
    runtime_lists,
    runtime_products,
    runtime_shapes,
    runtime_slopes,
    runtime_statements,
)
from .errors import ADCompileError
from .naming import HELPER_MODULES

# modules whose top-level definitions an exported module may copy, in the order copied
COPYABLE = (input_checks.__name__, *HELPER_MODULES)

Key = tuple[str, str]  # (module name, name defined at its top level)


@dataclass
class _ModuleDefinitions:
    """What one helper module defines at its top level, and what it imports from the
    other helper modules."""

    source_lines: list[str]
    nodes: dict[str, ast.stmt] = field(default_factory=dict)
    imported: dict[str, Key] = field(default_factory=dict)  # local name -> its definition
    always: list[ast.stmt] = field(default_factory=list)  # module-level statements


@dataclass
class Copies:
    """The copied definitions, as source text per module, and the names they define."""

    sections: list[tuple[str, str]]  # (module name, its copied definitions)
    names: set[str]


def copies_for(roots: set[Key]) -> Copies:
    """The definitions the helpers `roots` need, each copied once, in source order."""
    needed: dict[str, set[ast.stmt]] = {}
    defined_by: dict[str, Key] = {}
    aliases: dict[str, list[str]] = {}  # module -> `alias = name` lines it needs
    pending = list(roots)
    seen: set[Key] = set()
    while pending:
        key = pending.pop()
        if key in seen:
            continue
        seen.add(key)
        module_name, name = key
        table = _definitions(module_name)
        if name in table.imported:
            target = table.imported[name]
            if target[1] != name:
                aliases.setdefault(module_name, []).append(f"{name} = {target[1]}")
                _claim(defined_by, name, key)
            pending.append(target)
            continue
        node = table.nodes.get(name)
        if node is None:
            continue  # a builtin, or what the exported module imports (np, Any)
        _claim(defined_by, name, key)
        if module_name not in needed:  # its statements that define nothing run with it
            needed[module_name] = set(table.always)
            for statement in table.always:
                pending += [(module_name, read) for read in _global_reads(statement)]
        needed[module_name].add(node)
        pending += [(module_name, read) for read in _global_reads(node)]
    sections = []
    for module_name in COPYABLE:
        nodes = sorted(needed.get(module_name, ()), key=lambda n: n.lineno)
        if not nodes and module_name not in aliases:
            continue
        lines = _definitions(module_name).source_lines
        chunks = ["\n".join(lines[_first_line(n) - 1:n.end_lineno]) for n in nodes]
        chunks += aliases.get(module_name, [])
        sections.append((module_name, "\n\n\n".join(chunks)))
    return Copies(sections, set(defined_by))


def _claim(defined_by: dict[str, Key], name: str, key: Key) -> None:
    """The copies share one namespace: a name may be defined there once."""
    earlier = defined_by.setdefault(name, key)
    if earlier != key:
        raise ADCompileError(f"an exported module would define '{name}' twice, copied from "
                             f"{earlier[0]} and {key[0]}",
                             hint="this is a fault of ad_compiler's helper modules; please "
                                  "report it")


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


@cache
def _definitions(module_name: str) -> _ModuleDefinitions:
    module = sys.modules[module_name]
    text = inspect.getsource(module)
    table = _ModuleDefinitions(text.splitlines())
    package = module_name.rpartition(".")[0]
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            table.nodes[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        table.nodes[name.id] = node
        elif isinstance(node, ast.ImportFrom):
            source = _imported_module(node, package)
            if source in COPYABLE:
                for alias in node.names:
                    table.imported[alias.asname or alias.name] = (source, alias.name)
        elif isinstance(node, ast.Import) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            continue  # numpy and typing, which the exported module imports; docstrings
        else:
            table.always.append(node)
    return table


def _imported_module(node: ast.ImportFrom, package: str) -> str:
    """The absolute name of the module a ``from ... import`` reads."""
    if not node.level:
        return node.module or ""
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def _global_reads(node: ast.stmt) -> set[str]:
    """The global names a top-level statement reads when it runs or when what it
    defines is called (annotations aside)."""
    text = ast.unparse(_without_annotations(copy.deepcopy(node)))
    reads: set[str] = set()

    def visit(table: symtable.SymbolTable, top: bool) -> None:
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (top or symbol.is_global()):
                reads.add(symbol.get_name())
        for child in table.get_children():
            visit(child, False)

    visit(symtable.symtable(text, "<helper>", "exec"), True)
    return reads


def _without_annotations(node: ast.AST) -> ast.AST:
    for item in ast.walk(node):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            item.returns = None
        elif isinstance(item, ast.arg):
            item.annotation = None
        elif isinstance(item, ast.AnnAssign):
            item.annotation = ast.Constant(value="")
    return node

