"""`adc check` and `adc export`, run as subprocesses on the shipped examples."""
from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import load_module, numeric_grad

import ad_compiler as adc

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
models = load_module(EXAMPLES / "models.py", "adc_cli_models", shared=True)
seeds = load_module(EXAMPLES / "seeds.py", "adc_cli_seeds", shared=True)


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ad_compiler", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_check_reports_each_input_and_passes():
    result = run("check", str(EXAMPLES / "seeds.py") + ":f", "--at", "x1=0.7", "x2=1.3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = {line.split()[0]: float(line.split()[1]) for line in lines[1:3]}
    assert set(rows) == {"x1", "x2"} and max(rows.values()) < 1e-8
    assert lines[-1].startswith("ok:")


def test_check_fails_with_exit_1_above_the_tolerance():
    result = run("check", str(EXAMPLES / "seeds.py") + ":f", "--at", "x1=0.7", "x2=1.3",
                 "--tol", "1e-30")
    assert result.returncode == 1 and "FAILED" in result.stdout


def test_check_needs_every_parameter():
    result = run("check", str(EXAMPLES / "seeds.py") + ":f", "--at", "x1=0.7")
    assert result.returncode == 2 and "x2" in result.stderr and "Traceback" not in result.stderr


BLOCK_AD_COMPILER = ("import sys\nsys.modules['ad_compiler'] = None  # importing it now fails\n"
                     "sys.path.insert(0, '.')\n")


def _run_without_ad_compiler(tmp_path: Path, module: str, code: str) -> str:
    """Run `code` in a fresh interpreter where importing ad_compiler raises ImportError."""
    script = tmp_path / "use_export.py"
    script.write_text(BLOCK_AD_COMPILER + f"import {module}\n" + code)
    result = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_export_of_an_array_model_runs_without_ad_compiler(tmp_path):
    out = tmp_path / "mlp_grad.py"
    result = run("export", str(EXAMPLES / "models.py") + ":mlp_loss", "--wrt", "0,1,2,3",
                 "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "import ad_compiler" not in text and "from ad_compiler" not in text
    assert "def mlp_loss_grad(W1, b1, W2, b2, X, Y):" in text
    args = _mlp_arguments(np.random.default_rng(0))
    got = _exported_gradients(tmp_path, "mlp_grad", "mlp_loss_grad", args)
    expected = adc.grad(models.mlp_loss, wrt=(0, 1, 2, 3))(*args)
    for g, want in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)


def _mlp_arguments(rng) -> list:
    return [rng.normal(size=s) for s in ((3, 4), (4,), (4, 2), (2,), (5, 3), (5, 2))]


def _exported_gradients(tmp_path: Path, module: str, name: str, args: list) -> list:
    """The gradients `module.name(*args)` gives, run where ad_compiler is not installed."""
    np.save(tmp_path / "args.npy", np.array(args, dtype=object), allow_pickle=True)
    code = ("import numpy as np\n"
            "args = list(np.load('args.npy', allow_pickle=True))\n"
            f"for g in {module}.{name}(*args):\n"
            "    print(repr(g.tolist()))\n")
    printed = _run_without_ad_compiler(tmp_path, module, code).splitlines()
    return [np.array(eval(line)) for line in printed]


def unused_definitions(text: str, exported: set[str]) -> set[str]:
    """Top-level definitions of a module that nothing reachable from the functions
    `exported` names (annotations aside: the module never evaluates them)."""
    tree = ast.parse(text)
    definitions: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            definitions[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                definitions.update({n.id: node for n in ast.walk(target)
                                    if isinstance(n, ast.Name)})
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            node.returns = None
        elif isinstance(node, ast.arg):
            node.annotation = None
    reached, pending = set(), list(exported)
    while pending:
        name = pending.pop()
        if name in reached or name not in definitions:
            continue
        reached.add(name)
        pending += [n.id for n in ast.walk(definitions[name]) if isinstance(n, ast.Name)]
    return set(definitions) - reached


def test_export_of_the_rnn_specialised_to_shapes_copies_only_what_it_calls(tmp_path):
    out = tmp_path / "rnn_fixed.py"
    result = run("export", str(EXAMPLES / "models.py") + ":rnn_loss", "--wrt", "Wx,Wh,b",
                 "--shapes", "Wx=3x4", "Wh=4x4", "b=4", "xs=5x3", "target=4", "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert unused_definitions(text, {"rnn_loss_grad"}) == set()
    assert "def unbroadcast" not in text and "def batched_sum" not in text  # not called
    assert "def tape_states" in text and "def reversed_rows" in text  # called
    assert "def check_inputs" in text and "def gradient_like" not in text
    # products of the function's values as written: the module runs for inputs of any
    # layout (in the process, C-contiguous inputs run them as h.dot(Wh))
    assert "np.tanh(x_t @ Wx + h @ Wh + b)" in text.replace("# h = np.tanh", "")
    assert "h.dot(Wh)" not in text
    rng = np.random.default_rng(8)  # other values of the same shapes
    args = [rng.normal(size=s) for s in ((3, 4), (4, 4), (4,), (5, 3), (4,))]
    args[1] *= 0.5
    got = _exported_gradients(tmp_path, "rnn_fixed", "rnn_loss_grad", args)
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, numeric_grad(models.rnn_loss, args, k), rtol=1e-6,
                                   atol=1e-9)


def test_export_of_generic_array_code_copies_only_what_it_calls(tmp_path):
    out = tmp_path / "mlp_generic.py"
    result = run("export", str(EXAMPLES / "models.py") + ":mlp_loss", "--wrt", "0,1,2,3",
                 "--kind", "grad", "--kind", "value_and_grad", "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert unused_definitions(text, {"mlp_loss_grad", "mlp_loss_value_and_grad"}) == set()
    assert "def matmul_adjoint_a" in text and "def einsum_adjoint" not in text


def _run_copies(roots: set) -> tuple[dict, set]:
    from ad_compiler.export_helpers import copies_for

    copies = copies_for(roots)
    namespace: dict = {}
    text = "from __future__ import annotations\nimport numpy as np\n" + "\n\n".join(
        body for _, body in copies.sections)
    exec(compile(text, "<copies>", "exec"), namespace)
    return namespace, copies.names


def test_copied_helpers_follow_calls_across_helper_modules():
    """batched.batched_einsum calls runtime_arrays._einsum_parts and explicit_einsum, imported by
    name."""
    namespace, names = _run_copies({("ad_compiler.batched", "batched_einsum")})
    assert names == {"batched_einsum", "_einsum_parts", "explicit_einsum"}
    rng = np.random.default_rng(10)
    A, directions = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(namespace["batched_einsum"]("ij,j->i", 1, A, directions),
                               A @ directions, rtol=1e-14)


def test_copied_helpers_bring_the_classes_they_use_and_their_bases():
    namespace, names = _run_copies({("ad_compiler.runtime", "add")})
    assert {"add", "scale", "IndexUpdate", "_Vector", "AdjointArray"} <= names
    assert "unbroadcast" not in names and "matmul_adjoint_a" not in names
    base = np.zeros(3)
    update = namespace["IndexUpdate"]
    total = namespace["add"](update(base, 1, 5.0), update(base, 1, 2.0))
    assert np.asarray(total).tolist() == [0.0, 7.0, 0.0]


def test_export_refuses_a_global_named_like_a_copied_helper(tmp_path):
    """The derivative reads the user's `scale` (3.0); the copied helpers define a
    function `scale` too: one module cannot hold both."""
    src = tmp_path / "scaled_sum.py"
    src.write_text("import numpy as np\n\nscale = 3.0\n\n\ndef g(x):\n"
                   "    return np.sum(scale * x[1:] ** 2)\n")
    result = run("export", f"{src}:g", "-o", str(tmp_path / "out.py"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "'scale'" in result.stderr and not (tmp_path / "out.py").exists()


def test_export_specialised_to_shapes_runs_without_ad_compiler(tmp_path):
    out = tmp_path / "mlp_fixed.py"
    result = run("export", str(EXAMPLES / "models.py") + ":mlp_loss", "--wrt", "0,1,2,3",
                 "--shapes", "W1=3x4", "b1=4", "W2=4x2", "b2=2", "X=5x3", "Y=5x2",
                 "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "right for such inputs only: W1=3x4" in text and "import numpy as np" in text
    assert "matmul_adjoint" not in text and "unbroadcast" not in text
    args = _mlp_arguments(np.random.default_rng(1))  # not the values it was specialised at
    got = _exported_gradients(tmp_path, "mlp_fixed", "mlp_loss_grad", args)
    expected = adc.grad(models.mlp_loss, wrt=(0, 1, 2, 3))._adc_generic(*args)
    for g, want in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)


def test_export_of_numpy_code_without_helpers_imports_numpy(tmp_path):
    source = tmp_path / "wave.py"
    source.write_text("import numpy as np\n\n\ndef wave(x):\n    return np.sin(x) * x\n")
    out = tmp_path / "wave_grad.py"
    result = run("export", f"{source}:wave", "-o", str(out))
    assert result.returncode == 0, result.stderr
    printed = _run_without_ad_compiler(tmp_path, "wave_grad", "print(wave_grad.wave_grad(0.5))\n")
    assert float(printed) == pytest.approx(0.5 * math.cos(0.5) + math.sin(0.5), rel=1e-15)


@pytest.mark.parametrize("kind,mode", [("grad", "reverse"), ("grad", "forward"),
                                       ("value_and_grad", "reverse"), ("vjp", "reverse")])
def test_export_of_a_scalar_seed_matches_the_in_process_derivative(tmp_path, kind, mode):
    out = tmp_path / "seed_export.py"
    result = run("export", str(EXAMPLES / "seeds.py") + ":f", "--wrt", "x1,x2", "--kind", kind,
                 "--mode", mode, "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "import ad_compiler" not in text and "from ad_compiler" not in text
    name = {"grad": "f_grad", "value_and_grad": "f_value_and_grad", "vjp": "f_vjp"}[kind]
    call = f"seed_export.{name}(0.7, 1.3" + (", 1.0)" if kind == "vjp" else ")")
    printed = _run_without_ad_compiler(tmp_path, "seed_export", f"print(repr({call}))\n")
    got = eval(printed)
    if kind == "vjp":
        expected = adc.vjp(seeds.f, 0.7, 1.3)[1](1.0)
    else:
        api = adc.grad if kind == "grad" else adc.value_and_grad
        expected = api(seeds.f, wrt=(0, 1), mode=mode)(0.7, 1.3)
    np.testing.assert_allclose(_flat(got), _flat(expected), rtol=1e-15)
    assert all(math.isfinite(v) for v in _flat(got))


def _flat(value):
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _flat(v)]
    return [float(value)]


def test_export_refuses_a_global_it_cannot_carry(tmp_path):
    src = tmp_path / "uses_global.py"
    src.write_text("import numpy as np\n\nCALLBACK = print\n\n\ndef f(x):\n"
                   "    return np.sin(x) * len(CALLBACK.__name__)\n")
    result = run("export", f"{src}:f", "-o", str(tmp_path / "out.py"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr


def test_source_colours_only_when_asked_or_on_a_terminal():
    plain = run("source", str(EXAMPLES / "seeds.py") + ":f")
    assert plain.returncode == 0 and "\x1b[" not in plain.stdout  # a pipe: no colours
    coloured = run("source", str(EXAMPLES / "seeds.py") + ":f", "--color", "always")
    pytest.importorskip("pygments", reason="colours need the optional pygments")
    assert "\x1b[" in coloured.stdout
    assert "def f_grad" in coloured.stdout.replace("\x1b[", "").replace("def\x1b", "def") or \
        "f_grad" in coloured.stdout


def test_source_shows_as_code_in_notebooks():
    text = adc.source(seeds.f)
    assert isinstance(text, str) and text.startswith(("def ", "import", "from"))
    assert text._repr_markdown_().startswith("```python\n") and "def f_grad" in text
    assert "f_grad" in text._repr_html_()


def _edges(dot_text: str) -> set[tuple[str, str]]:
    edges = set()
    for line in dot_text.splitlines():
        if "->" in line:
            a, b = (part.strip().rstrip(";").split()[0] for part in line.split("->"))
            edges.add((a, b))
    return edges


def test_graph_prints_the_seed_001_graph_as_dot():
    result = run("graph", str(EXAMPLES / "seeds.py") + ":f", "--at", "x1=0.7", "x2=1.3")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "rankdir=BT" in text
    # f = x1 * x2 + sin(x1): w1_1 = w0_1 * w0_2, w1_2 = sin(w0_1), w2_1 = w1_1 + w1_2
    assert _edges(text) == {("w0_1", "w1_1"), ("w0_2", "w1_1"), ("w0_1", "w1_2"),
                            ("w1_1", "w2_1"), ("w1_2", "w2_1")}
    assert f"value {0.7 * 1.3 + math.sin(0.7):.6g}" in text
    assert f"adjoint {1.3 + math.cos(0.7):.6g}" in text  # x1's adjoint, as in seed 002


@pytest.mark.skipif(__import__("shutil").which("dot") is None,
                    reason="Graphviz 'dot' is not installed (apt install graphviz)")
def test_graph_renders_png_with_graphviz(tmp_path):
    out = tmp_path / "graph.png"
    result = run("graph", str(EXAMPLES / "seeds.py") + ":f", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_symbolic_prints_seed_001_partials_and_the_size_comparison():
    result = run("symbolic", str(EXAMPLES / "seeds.py") + ":f")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "df/dx1 = x2 + cos(x1)" in lines and "df/dx2 = x1" in lines
    assert any(line.startswith("symbolic derivatives") for line in lines)
    assert any(line.startswith("AD reverse-mode code") for line in lines)
    latex = run("symbolic", str(EXAMPLES / "seeds.py") + ":f", "--latex").stdout
    assert "\\cos" in latex and "\\frac" in latex


def test_symbolic_refuses_a_loop_in_one_located_line():
    result = run("symbolic", str(EXAMPLES / "programs.py") + ":damped")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "programs.py:" in result.stderr and "grad" in result.stderr


def _run_in_a_fresh_venv(tmp_path: Path, code: str) -> str:
    """Run `code` in a virtual environment without site packages, given NumPy alone
    (linked in, as no network is used), and without the caller's PYTHONPATH: there
    ad_compiler cannot be imported, which the code checks first."""
    import os
    import venv

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    only_numpy = tmp_path / "only_numpy"
    only_numpy.mkdir()
    site = Path(np.__file__).resolve().parents[1]
    for name in ("numpy", "numpy.libs"):
        if (site / name).exists():
            (only_numpy / name).symlink_to(site / name)
    prologue = ("import sys; sys.path[:0] = ['.', sys.argv[1]]\n"
                "try:\n    import ad_compiler\nexcept ImportError:\n    pass\n"
                "else:\n    raise SystemExit('ad_compiler is importable here')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(python), "-c", prologue + code, str(only_numpy)],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_export_imports_in_a_fresh_venv_with_only_numpy(tmp_path):
    """The exported module imports where only NumPy is, and gives the in-process gradient."""
    out = tmp_path / "seed_grad.py"
    assert run("export", str(EXAMPLES / "seeds.py") + ":f", "--wrt", "x1,x2",
               "-o", str(out)).returncode == 0
    printed = _run_in_a_fresh_venv(tmp_path, "import seed_grad\n"
                                             "print(repr(seed_grad.f_grad(0.7, 1.3)))\n")
    assert eval(printed) == adc.grad(seeds.f, wrt=(0, 1))(0.7, 1.3)


def test_the_rnn_exported_for_shapes_runs_in_a_fresh_venv_with_only_numpy(tmp_path):
    """The specialised RNN gradient, with its input check and the helpers it copies, runs
    where only NumPy is and gives the central-difference gradient."""
    out = tmp_path / "rnn_fixed.py"
    assert run("export", str(EXAMPLES / "models.py") + ":rnn_loss", "--wrt", "Wx,Wh,b",
               "--shapes", "Wx=3x4", "Wh=4x4", "b=4", "xs=5x3", "target=4",
               "-o", str(out)).returncode == 0
    rng = np.random.default_rng(9)
    args = [rng.normal(size=s) for s in ((3, 4), (4, 4), (4,), (5, 3), (4,))]
    np.savez(tmp_path / "args.npz", *args)
    printed = _run_in_a_fresh_venv(tmp_path, (
        "import numpy as np\nimport rnn_fixed\n"
        "with np.load('args.npz') as data:\n"
        "    args = [data[f'arr_{k}'] for k in range(5)]\n"
        "for g in rnn_fixed.rnn_loss_grad(*args):\n    print(repr(g.tolist()))\n"))
    got = [np.array(eval(line)) for line in printed.splitlines()]
    assert len(got) == 3
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, numeric_grad(models.rnn_loss, args, k), rtol=1e-6,
                                   atol=1e-9)


def test_pdb_steps_through_generated_code(tmp_path):
    script = tmp_path / "debug_me.py"
    script.write_text(
        "import io, pdb, sys\n"
        f"sys.path.insert(0, {str(EXAMPLES)!r})\n"
        "import seeds\nimport ad_compiler as adc\n"
        "g = adc.grad(seeds.f, wrt=(0, 1))\n"
        "commands = io.StringIO('step\\nlist\\nnext\\nnext\\np x1_bar\\ncontinue\\n')\n"
        "debugger = pdb.Pdb(stdin=commands, stdout=sys.stdout)\n"
        "debugger.use_rawinput = False\n"
        "debugger.runcall(g, 0.7, 1.3)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "x1_bar = x2 + math.cos(x1)" in result.stdout  # `list` shows the generated lines
    assert repr(1.3 + math.cos(0.7)) in result.stdout  # `p x1_bar` after stepping over it


def test_source_specialised_to_shapes_runs_and_matches_the_generic_code():
    target = str(EXAMPLES / "models.py") + ":rnn_loss"
    result = run("source", target, "--wrt", "Wx,Wh,b", "--shapes", "Wx=3x4", "Wh=4x4", "b=4",
                 "xs=5x3", "target=4", "--color", "never")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "h_rows.T @ w8_1_bar_rows" in text and "matmul_adjoint" not in text
    assert "np.outer" not in text
    # the printed code is a function that gives the generic gradient
    namespace = {"np": np, "gradient_like": adc.runtime.gradient_like}
    exec(text, namespace)  # (its imports: the helpers of loops made once before them)
    rng = np.random.default_rng(3)
    args = (rng.standard_normal((3, 4)), rng.standard_normal((4, 4)), rng.standard_normal(4),
            rng.standard_normal((5, 3)), rng.standard_normal(4))
    generic = adc.grad(models.rnn_loss, wrt=(0, 1, 2))._adc_generic
    for got, expected in zip(namespace["rnn_loss_grad"](*args), generic(*args)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_source_shapes_are_checked():
    target = str(EXAMPLES / "models.py") + ":rnn_loss"
    result = run("source", target, "--shapes", "Wx=3x4")
    assert result.returncode != 0 and "needs a shape for Wh" in result.stderr
    result = run("source", target, "--shapes", "Wx=3y4")
    assert result.returncode != 0 and "is not a shape" in result.stderr
