"""The computational graph of an evaluation trace, as Graphviz DOT text or an image.

The drawing follows the seeds' figures: inputs at the bottom (``rankdir=BT``), one
rank per ``w`` level, an edge from each operand to the op that uses it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .ir import (
    Const,
    FreeName,
    Function,
    Op,
    Value,
    number_levels,
    op_symbol,
    walk_ops,
)

_IMAGE_FORMATS = ("svg", "png", "pdf")


class GraphvizMissing(RuntimeError):
    """Rendering an image needs Graphviz's ``dot`` program, which is not installed."""


def _quote(text: str) -> str:
    """A DOT double-quoted string; newlines become DOT's centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def _num(x: Any) -> str:
    """``%.6g`` for numbers; arrays and other objects print as themselves, shortened."""
    try:
        return format(x, ".6g")
    except (TypeError, ValueError):
        text = " ".join(str(x).split())
        return text if len(text) <= 40 else text[:37] + "..."


def to_dot(fn: Function, values: dict[str, tuple] | None = None,
           title: str | None = None) -> str:
    """Graphviz DOT text of the computational graph of `fn`'s top-level block.

    One node per input and per op (id: its first result's trace name, so ids stay
    stable and readable), one edge per operand use.  Constants and global names are
    drawn as small plaintext nodes, one per use, outside the rank groups: folding them
    into labels would hide that ``w2_1 = w1_1 + 1.0`` has two operands.  An op with
    nested blocks (``if``/``for``/``while``) is one box; the outer values its blocks
    read (beyond its operands) get dashed edges, so no dependency is hidden.  `values` maps trace names to
    (value, tangent, adjoint), as `graph_values` builds it.
    """
    number_levels(fn)
    outputs = {o.uid for o in fn.outputs if isinstance(o, Value)}
    node_of: dict[int, str] = {}  # value uid -> node id
    ranks: dict[int, list[str]] = {}
    lines = ["digraph trace {", "  rankdir=BT;", '  fontname="Helvetica";',
             '  node [fontname="Helvetica"];']
    if title is None:
        title = f"{fn.name}({', '.join(p.name or p.trace_name for p in fn.params)})"
    lines += [f"  label={_quote(title)};", "  labelloc=t;"]

    def add_node(node: str, values_of: list[Value], text: str, shape: str,
                 style: str = "") -> None:
        first = values_of[0] if values_of else None
        head = ", ".join(v.trace_name for v in values_of) or node
        names = sorted({v.name for v in values_of if v.name})
        label = [head + (f" ({', '.join(names)})" if names else ""), text]
        if values is not None and first is not None and first.trace_name in values:
            value, tangent, adjoint = values[first.trace_name]
            label += [f"value {_num(value)}", f"tangent {_num(tangent)}",
                      f"adjoint {_num(adjoint)}"]
        attrs = f"shape={shape}"
        if any(v.uid in outputs for v in values_of):  # outputs: a double, bold outline
            style, attrs = ",".join(s for s in (style, "bold") if s), attrs + ", peripheries=2"
        if style:
            attrs += f", style={_quote(style)}"
        lines.append(f"  {node} [label={_quote(chr(10).join(label))}, {attrs}];")
        for v in values_of:
            node_of[v.uid] = node
        if first is not None:
            ranks.setdefault(first.level, []).append(node)

    for p in fn.params:
        add_node(p.trace_name, [p], "input", "box", "rounded")
    leaves = 0
    for k, op in enumerate(fn.body.ops, 1):
        if op.attrs.get("guard"):  # a run-time check of an in-place update
            continue
        node = op.results[0].trace_name if op.results else f"op{k}"
        add_node(node, op.results, op_symbol(op), "box" if op.blocks else "ellipse")
        solid = set()
        for arg in op.args:
            if isinstance(arg, Value) and arg.uid in node_of:
                solid.add(node_of[arg.uid])
                lines.append(f"  {node_of[arg.uid]} -> {node};")
            elif isinstance(arg, (Const, FreeName)):
                leaves += 1
                text = repr(arg.value) if isinstance(arg, Const) else arg.name
                lines.append(f"  c{leaves} [label={_quote(text)}, shape=plaintext, fontsize=10];")
                lines.append(f"  c{leaves} -> {node};")
        for source in _outer_reads(op, node_of):
            if source not in solid:
                    lines.append(f"  {source} -> {node} [style=dashed];")
    for level in sorted(ranks):
        lines.append(f"  {{rank=same; {'; '.join(ranks[level])};}}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _outer_reads(op: Op, node_of: dict[int, str]) -> list[str]:
    """Nodes of the enclosing block that `op`'s nested blocks read, each once."""
    seen: list[str] = []
    for block in op.blocks:
        operands = [a for inner in walk_ops(block) for a in inner.args]
        operands += list(block.yields)
        operands += [y for inner in walk_ops(block) for b in inner.blocks for y in b.yields]
        for a in operands:
            if isinstance(a, Value) and a.uid in node_of and node_of[a.uid] not in seen:
                seen.append(node_of[a.uid])
    return seen


def render(dot_text: str, path: str | os.PathLike) -> None:
    """Write `dot_text` to `path`: ``.dot``/``.gv`` as is, ``.svg``/``.png``/``.pdf`` by
    running Graphviz's ``dot``, which must be installed for images."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt in ("dot", "gv"):
        Path(path).write_text(dot_text, encoding="utf-8")
        return
    if fmt not in _IMAGE_FORMATS:
        raise ValueError(f"cannot write a graph as {Path(path).name!r}: "
                         "choose a .dot, .svg, .png or .pdf file")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(
            f"writing {Path(path).name} needs Graphviz's 'dot' program, which is not "
            "installed; install it with 'sudo apt install graphviz' (Debian/Ubuntu) or "
            "'brew install graphviz' (macOS), or write a .dot file instead")
    subprocess.run([dot, "-T" + fmt, "-o", os.fspath(path)], input=dot_text, text=True,
                   check=True)


def graph_values(trace: Any, point: dict[str, Any], seed: int | str = 0) -> dict[str, tuple]:
    """{trace name: (value, tangent, adjoint)} at `point`, from `Trace.table`, so the
    graph shows exactly the numbers the table prints (straight-line code only)."""
    table = trace.table(**point, seed=seed)
    return {row[0]: (row[3], row[4], row[5]) for row in table.rows}
