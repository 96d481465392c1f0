"""The computational-graph drawing (ad_compiler.graph), checked against the IR and
against seed 001's figure and table, whose numbers are computed here with math."""
from __future__ import annotations

import math
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from support import load_module

import ad_compiler as adc
from ad_compiler.graph import GraphvizMissing, graph_values, render, to_dot
from ad_compiler.ir import Value

SEEDS = load_module(Path(__file__).resolve().parents[1] / "examples" / "seeds.py",
                    "adc_graph_seed_examples")
NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r"^\s*(\w+) -> (\w+)( \[.*\])?;$")
RANK = re.compile(r"^\s*\{rank=same; (.*);\}$")
HAS_DOT = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


def nodes(dot: str) -> dict[str, tuple[list[str], str]]:
    """node id -> (label lines, remaining attributes)."""
    found = {}
    for line in dot.splitlines():
        if m := NODE.match(line):
            found[m[1]] = (m[2].split("\\n"), m[3])
    return found


def edges(dot: str) -> Counter:
    return Counter((m[1], m[2]) for line in dot.splitlines() if (m := EDGE.match(line)))


def ranks(dot: str) -> list[set[str]]:
    return [set(m[1].split("; ")) for line in dot.splitlines() if (m := RANK.match(line))]


@pytest.fixture
def seed_trace() -> adc.Trace:
    return adc.trace(SEEDS.f)


def test_seed_001_nodes_and_labels(seed_trace):
    found = nodes(to_dot(seed_trace.function))
    assert set(found) == {"w0_1", "w0_2", "w1_1", "w1_2", "w2_1"}
    assert found["w0_1"][0][:2] == ["w0_1 (x1)", "input"]
    assert found["w0_2"][0][:2] == ["w0_2 (x2)", "input"]
    assert found["w1_1"][0] == ["w1_1", "*"]
    assert found["w1_2"][0] == ["w1_2", "sin"]
    assert found["w2_1"][0] == ["w2_1", "+"]
    outputs = {n for n, (_, attrs) in found.items() if "peripheries=2" in attrs}
    assert outputs == {"w2_1"}


def test_seed_001_edges_are_the_operand_uses(seed_trace):
    fn = seed_trace.function
    dot = to_dot(fn)
    from_ir = Counter((a.trace_name, op.result.trace_name)
                      for op in fn.body.ops for a in op.args if isinstance(a, Value))
    assert edges(dot) == from_ir
    # the seed's figure: w1_1 = w0_1 * w0_2, w1_2 = sin(w0_1), w2 = w1_1 + w1_2
    assert set(edges(dot)) == {("w0_1", "w1_1"), ("w0_2", "w1_1"), ("w0_1", "w1_2"),
                               ("w1_1", "w2_1"), ("w1_2", "w2_1")}


def test_seed_001_levels_are_ranks_bottom_up(seed_trace):
    dot = to_dot(seed_trace.function, title="seed 001")
    assert "rankdir=BT;" in dot
    assert ranks(dot) == [{"w0_1", "w0_2"}, {"w1_1", "w1_2"}, {"w2_1"}]
    assert 'label="seed 001";' in dot


def test_seed_001_values_tangents_adjoints(seed_trace):
    x1, x2 = 0.7, 1.3
    values = graph_values(seed_trace, {"x1": x1, "x2": x2}, seed="x1")
    found = nodes(to_dot(seed_trace.function, values))
    dfdx1 = x2 + math.cos(x1)
    expected = {  # (value, d/dx1, adjoint), by hand from the seed's derivation
        "w0_1": (x1, 1.0, dfdx1),
        "w0_2": (x2, 0.0, x1),
        "w1_1": (x1 * x2, x2, 1.0),
        "w1_2": (math.sin(x1), math.cos(x1), 1.0),
        "w2_1": (x1 * x2 + math.sin(x1), dfdx1, 1.0),
    }
    for name, (value, tangent, adjoint) in expected.items():
        label = found[name][0]
        assert f"value {value:.6g}" in label
        assert f"tangent {tangent:.6g}" in label
        assert f"adjoint {adjoint:.6g}" in label


def test_constants_are_plaintext_leaves_outside_the_ranks():
    dot = to_dot(adc.trace(SEEDS.fan_out).function)
    found = nodes(dot)
    leaves = [n for n, (_, attrs) in found.items() if "plaintext" in attrs]
    assert len(leaves) == 1 and found[leaves[0]][0] == ["1.0"]
    assert edges(dot)[(leaves[0], "w2_1")] == 1
    assert edges(dot)[("w1_1", "w3_1")] == 1 and edges(dot)[("w2_1", "w3_1")] == 1
    assert all(leaves[0] not in group for group in ranks(dot))


def looped(x, n):
    s = x
    for _ in range(n):
        s = s * x + 1.0
    if s > 2.0:
        y = s - 2.0
    else:
        y = -s
    return y


def test_control_flow_ops_are_single_boxes():
    fn = adc.trace(looped).function
    dot = to_dot(fn)
    found = nodes(dot)
    boxes = {label[1] for label, attrs in found.values()
             if "shape=box" in attrs and "rounded" not in attrs}
    assert boxes == {"for", "if"}
    loop = next(op for op in fn.body.ops if op.prim == "for")
    for a in loop.args:
        assert edges(dot)[(a.trace_name, loop.result.trace_name)] == 1
    branch = next(op for op in fn.body.ops if op.prim == "if")
    # the branches read s (the loop's result) without it being an operand: a dashed edge
    assert f"{loop.result.trace_name} -> {branch.result.trace_name} [style=dashed];" in dot


def test_labels_are_escaped(seed_trace, tmp_path):
    dot = to_dot(seed_trace.function, title='say "hi" \\ bye')
    assert r'label="say \"hi\" \\ bye";' in dot
    if shutil.which("dot"):
        render(dot, tmp_path / "escaped.svg")
        assert "say" in (tmp_path / "escaped.svg").read_text()


def test_render_dot_writes_the_text(seed_trace, tmp_path):
    dot = to_dot(seed_trace.function)
    render(dot, str(tmp_path / "g.dot"))
    assert (tmp_path / "g.dot").read_text() == dot
    with pytest.raises(ValueError, match=r"\.dot, \.svg, \.png or \.pdf"):
        render(dot, str(tmp_path / "g.jpg"))


@HAS_DOT
def test_render_png(seed_trace, tmp_path):
    x1, x2 = 0.7, 1.3
    dot = to_dot(seed_trace.function, graph_values(seed_trace, {"x1": x1, "x2": x2}, 0))
    path = tmp_path / "seed001.png"
    render(dot, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_without_graphviz_says_how_to_install(seed_trace, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizMissing) as info:
        render(to_dot(seed_trace.function), str(tmp_path / "g.svg"))
    message = str(info.value)
    assert "sudo apt install graphviz" in message
    assert "brew install graphviz" in message
    assert ".dot" in message
    assert not (tmp_path / "g.svg").exists()
