"""examples/tour.ipynb runs top to bottom in a real Jupyter kernel, and what it shows
is right: every number checked here is computed in this file, with math and NumPy.

The notebook is committed with its outputs cleared; this test runs it (needs the
`test` extra: nbclient, nbformat, ipykernel, scipy).
"""
from __future__ import annotations

import ast
import json
import math
import os
import re
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "tour.ipynb"


def test_the_notebook_is_committed_without_outputs():
    """Outputs are made by running it; committed, they would make every diff noisy."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert len(code) >= 10
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]


@pytest.fixture(scope="module")
def run():
    """The notebook executed in a fresh kernel: {cell id: outputs}, and the seconds it took."""
    try:
        import ipykernel  # noqa: F401  (the kernel that runs the notebook)
        import nbformat
        import scipy  # noqa: F401  (the notebook fits a model with it)
        from nbclient import NotebookClient
    except ImportError as missing:
        pytest.skip(f"running the notebook needs the test extra (nbclient, nbformat, "
                    f"ipykernel, scipy): {missing}")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    # the kernel imports the package under test, whichever way it is installed
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    start = time.perf_counter()
    client.execute(env={**os.environ, "PYTHONPATH": path})  # an error in a cell raises
    seconds = time.perf_counter() - start
    return {cell.id: cell.outputs for cell in notebook.cells if cell.cell_type == "code"}, seconds


def _text(outputs) -> str:
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream")


def _data(outputs, mime: str) -> str:
    found = [o["data"][mime] for o in outputs if mime in o.get("data", {})]
    assert found, f"no {mime} output"
    return found[0]


def _number(text: str, label: str) -> float:
    match = re.search(re.escape(label) + r"\s*([-+0-9.e]+)", text)
    assert match, f"{label!r} not in {text!r}"
    return float(match.group(1))


# seed 001 at (x1, x2) = (0.7, 1.3), by hand
X1, X2 = 0.7, 1.3
VALUE = X1 * X2 + math.sin(X1)
DF_DX1 = X2 + math.cos(X1)


def test_it_runs_in_a_few_seconds(run):
    _, seconds = run
    assert seconds < 60


def test_the_seed_gradient(run):
    printed = _text(run[0]["seed-grad"]).splitlines()
    assert ast.literal_eval(printed[0]) == pytest.approx((DF_DX1, X1), rel=1e-15)
    source = _text(run[0]["seed-source"])
    assert source.startswith("def f_grad(x1, x2):")
    assert "x1_bar = x2 + math.cos(x1)" in source


def test_the_trace_and_its_table(run):
    assert "w2_1 = w1_1 + w1_2" in _text(run[0]["trace"])
    html = _data(run[0]["trace-table"], "text/html")
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    cells = [re.findall(r"<t[dh]>(.*?)</t[dh]>", row) for row in rows]
    assert cells[0] == ["w", "variable", "expression", "value", "tangent", "adjoint"]
    expected = {  # w: (value, d/dx1, adjoint)
        "w0_1": (X1, 1.0, DF_DX1),
        "w0_2": (X2, 0.0, X1),
        "w1_1": (X1 * X2, X2, 1.0),
        "w1_2": (math.sin(X1), math.cos(X1), 1.0),
        "w2_1": (VALUE, DF_DX1, 1.0),
    }
    table = {row[0]: tuple(float(c) for c in row[3:]) for row in cells[1:]}
    assert set(table) == set(expected)
    for w, numbers in expected.items():
        assert table[w] == pytest.approx(numbers, rel=1e-5), w  # printed to 6 digits


def test_the_graph_is_drawn_or_the_notebook_says_why_not(run):
    outputs = run[0]["graph"]
    if shutil.which("dot"):
        svg = _data(outputs, "image/svg+xml")
        assert "<svg" in svg
        assert "w2_1" in svg and f"value {VALUE:.6g}" in svg
    else:
        text = _text(outputs)
        assert "Graphviz" in text and "install" in text and "digraph" in text


def test_the_loop_gradient_source(run):
    text = _text(run[0]["loop-source"])
    assert "def damped_grad(y, a):" in text
    assert "stack.append(" in text and "stack.pop()" in text
    assert _number(text, "largest relative error against central differences:") < 1e-6


def test_the_mlp_gradient_source(run):
    markdown = _data(run[0]["mlp-source"], "text/markdown")
    assert markdown.startswith("```python") and markdown.rstrip().endswith("```")
    assert "def mlp_loss_grad(W1, b1, W2, b2, X, Y):" in markdown
    assert "return W1_bar, b1_bar, W2_bar, b2_bar" in markdown
    specialised = _text(run[0]["mlp-specialised"])
    assert "def mlp_loss_grad(W1, b1, W2, b2, X, Y):" in specialised
    assert "unbroadcast(" not in specialised  # the shape questions are answered


def test_the_symbolic_form(run):
    lines = _text(run[0]["symbolic"]).splitlines()
    assert "df/dx1 = x2 + cos(x1)" in lines
    assert "df/dx2 = x1" in lines


def test_the_fit_finds_the_parameters_the_data_were_made_with(run):
    text = _text(run[0]["fit"])
    assert text.startswith("converged: True")
    assert _number(text, "a =") == pytest.approx(2.0, abs=1e-6)
    assert _number(text, "k =") == pytest.approx(0.5, abs=1e-6)


def test_the_gradient_of_a_parameter_dict(run):
    lines = _text(run[0]["params"]).splitlines()
    assert ast.literal_eval(lines[0]) == {"W": (3, 2), "b": (2,)}
    assert _number(lines[1], "largest difference from central differences:") < 1e-8
