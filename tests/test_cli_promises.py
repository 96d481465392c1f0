"""Promises of the command line and the small API, run the way a user runs them:
forward-mode source, names in reports, module targets, the examples as scripts,
generated source at a prompt."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import load_module

import ad_compiler as adc

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MODELS = str(EXAMPLES / "models.py")
POINTS = str(ROOT / "tests" / "fixtures" / "cli_points.py")
seeds = load_module(EXAMPLES / "seeds.py", "adc_cli_seeds", shared=True)


def adc_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ad_compiler", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def sections(text: str) -> list[str]:
    """The printed source, one piece per header comment block."""
    return [part for part in re.split(r"\n\n(?=# )", text) if part.strip()]


def defined(text: str, name: str):
    namespace = {"np": np, "math": math}
    exec(compile(text, "<printed>", "exec"), namespace)
    return namespace[name]


def rosenbrock_gradient_by_hand(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    g[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


# ------------------------------------------------------------------ forward-mode source


def test_forward_source_of_array_code_is_the_jvp_it_runs_and_says_how():
    result = adc_cli("source", f"{MODELS}:rosenbrock", "--mode", "forward", "--color", "never")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("# rosenbrock_grad (forward mode) calls this vector-mode JVP")
    assert "#     value, tangent = rosenbrock_jvp(x, x_dot)" in text
    jvp = defined(text, "rosenbrock_jvp")
    x = np.array([-1.2, 1.0, 0.5, 0.8, 1.3])
    value, tangent = jvp(x, np.eye(x.size).reshape(x.shape + (x.size,)))  # as the header says
    assert value == pytest.approx(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2
                                         + (1 - x[:-1]) ** 2), rel=1e-14)
    np.testing.assert_allclose(tangent.reshape(x.shape), rosenbrock_gradient_by_hand(x),
                               rtol=1e-13)


def test_forward_source_shows_one_jvp_for_all_differentiated_inputs():
    result = adc_cli("source", f"{MODELS}:mlp_loss", "--mode", "forward", "--wrt", "W2,b2",
                     "--color", "never")
    assert result.returncode == 0, result.stderr
    parts = sections(result.stdout)
    assert len(parts) == 1 and "all of W2 and b2" in parts[0]
    assert "#     value, tangent = mlp_loss_jvp(W1, b1, W2, b2, X, Y, W2_dot, b2_dot)" in parts[0]
    rng = np.random.default_rng(2)
    W1, b1, W2, b2 = (rng.normal(size=s) for s in ((3, 4), (4,), (4, 2), (2,)))
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    H = np.tanh(X @ W1 + b1)
    residual = (H @ W2 + b2 - Y) / X.shape[0]  # the adjoint of the output layer, by hand
    jvp = defined(parts[0], "mlp_loss_jvp")
    n = W2.size + b2.size  # as the header says: W2's directions first, then b2's
    eye = np.eye(n)
    seeds = eye[:W2.size].reshape(W2.shape + (n,)), eye[W2.size:].reshape(b2.shape + (n,))
    _, tangent = jvp(W1, b1, W2, b2, X, Y, *seeds)
    np.testing.assert_allclose(tangent[:W2.size].reshape(W2.shape), H.T @ residual, rtol=1e-12)
    np.testing.assert_allclose(tangent[W2.size:], residual.sum(axis=0), rtol=1e-12)


def test_forward_source_of_list_code_is_the_vector_mode_jvp():
    # `+` joins the lists when the code runs: their tangents are joined in one sweep
    result = adc_cli("source", f"{POINTS}:joined", "--mode", "forward", "--wrt", "xs,ys",
                     "--color", "never")
    assert result.returncode == 0, result.stderr
    assert "one sweep for all of xs and ys" in result.stdout
    assert "directions_kept" not in result.stdout  # (zs[k] of a counter k: as written)
    jvp = defined(result.stdout, "joined_jvp")
    xs, ys = [1.0, 2.0], [3.0]
    eye = np.eye(3)
    # s = sum (k + 1) z_k**2 over z = xs + ys: ds/dz_k = 2 (k + 1) z_k
    got = jvp(xs, ys, [eye[0], eye[1]], [eye[2]])[1]
    assert list(got) == pytest.approx([2.0, 8.0, 18.0], rel=1e-15)


def test_export_refuses_a_forward_gradient_that_is_a_wrapper(tmp_path):
    result = adc_cli("export", f"{MODELS}:rosenbrock", "--mode", "forward",
                     "-o", str(tmp_path / "out.py"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "wrapper" in result.stderr and "--kind jvp" in result.stderr
    assert not (tmp_path / "out.py").exists()


# ------------------------------------------------------------------ names in reports


def test_symbolic_sizes_name_the_function():
    result = adc_cli("symbolic", str(EXAMPLES / "seeds.py") + ":gaussian")
    assert result.returncode == 0, result.stderr
    trace = adc_cli("trace", str(EXAMPLES / "seeds.py") + ":gaussian").stdout
    ops = sum(1 for line in trace.splitlines() if re.match(r"  w[1-9]\d*_\d+ = ", line))
    assert ops == 3  # x ** 2, its negation, exp
    row = next(line for line in result.stdout.splitlines() if line.startswith("AD trace of"))
    assert row.split() == ["AD", "trace", "of", "gaussian", str(ops), "-"]
    assert "AD trace of f " not in result.stdout


# ------------------------------------------------------------------ module targets


def test_the_adc_script_imports_module_targets_from_the_current_directory(tmp_path):
    """The console script's sys.path starts with its own directory, not the current one
    (python -m puts the current directory there); both must find `mymodels` here."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "mymodels.py").write_text("import math\n\n\ndef wave(x):\n"
                                      "    return math.sin(x) * x\n")
    script_dir = tmp_path / "bin"
    script_dir.mkdir()
    script = script_dir / "adc"
    script.write_text("import sys\nfrom ad_compiler.cli import main\nsys.exit(main())\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    as_script = subprocess.run([sys.executable, str(script), "source", "mymodels:wave"],
                               capture_output=True, text=True, cwd=work, env=env, timeout=60)
    as_module = subprocess.run([sys.executable, "-m", "ad_compiler", "source", "mymodels:wave"],
                               capture_output=True, text=True, cwd=work, env=env, timeout=60)
    assert as_script.returncode == 0, as_script.stderr
    assert as_script.stdout == as_module.stdout
    x = 0.8
    assert defined(as_script.stdout, "wave_grad")(x) == pytest.approx(
        math.cos(x) * x + math.sin(x), rel=1e-15)


# ------------------------------------------------------------------ the examples, run


def run_example(name: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                            text=True, cwd=ROOT, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"{name} printed nothing"
    return result.stdout


def number_after(text: str, label: str) -> float:
    match = re.search(re.escape(label) + r"\s*(-?[\d.]+(?:e[-+]?\d+)?)", text)
    assert match, (label, text)
    return float(match.group(1))


def test_every_example_runs_as_a_script():
    shipped = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert shipped == ["models.py", "programs.py", "seeds.py"]  # each has a test below


def test_seeds_example_prints_the_seed_derivatives_and_a_source():
    out = run_example("seeds.py")
    x = 0.4
    assert number_after(out, "AD:      d/dx =") == pytest.approx(-2 * x * math.exp(-x * x),
                                                                 abs=1e-12)
    e = math.exp(0.4)
    assert number_after(out, "dv4/dv1 =") == pytest.approx(2 * e * e + e, abs=1e-12)
    source = out[out.index("def f_grad"):]
    source = source[:source.index("\n\n")]
    assert defined(source, "f_grad")(0.7, 1.3) == pytest.approx(
        (1.3 + math.cos(0.7), 0.7), rel=1e-15)
    assert "w2_1" in out and "adjoint" in out  # the trace and its table


def test_programs_example_prints_gradients_that_agree_with_differences():
    out = run_example("programs.py")
    assert number_after(out, "AD:      d/da =") == pytest.approx(0.5 / math.sqrt(2.0),
                                                                 abs=1e-12)

    def logistic(r, x):
        for _ in range(20):
            x = r * x * (1.0 - x)
        return x

    h = 1e-6
    dr = (logistic(3.2 + h, 0.3) - logistic(3.2 - h, 0.3)) / (2 * h)
    assert number_after(out, "d/dr =") == pytest.approx(dr, rel=1e-6)
    assert number_after(out, "smooth_relu(0.1): d/dx =") == pytest.approx(
        1 / (1 + math.exp(-1.0)), abs=1e-12)

    def damped(y, a):
        for _ in range(100):
            y = math.sin(y) * a + 0.5 * y
        return y

    da = (damped(0.5, 0.9 + h) - damped(0.5, 0.9 - h)) / (2 * h)
    assert number_after(out[out.index("damped(y=0.5"):], "d/da =") == pytest.approx(da, rel=1e-6)
    assert "def damped_grad(y, a):" in out and "stack.pop()" in out


def test_models_example_prints_the_rosenbrock_gradient():
    out = run_example("models.py")
    printed = out[out.index("rosenbrock: grad ="):].split("=", 1)[1]
    values = np.array(printed[printed.index("[") + 1:printed.index("]")].split(), dtype=float)
    x = np.array([-1.2, 1.0, 0.5, 0.8])  # the point models.py uses
    np.testing.assert_allclose(values, rosenbrock_gradient_by_hand(x), atol=1e-3)


# ------------------------------------------------------------------ Source at a prompt


def test_source_shows_as_code_at_a_prompt():
    text = adc.source(seeds.f, wrt=("x1", "x2"))
    shown = repr(text)
    assert shown == str(text).rstrip("\n") and "\\n" not in shown
    assert shown.startswith("def f_grad(x1, x2):") and shown.count("\n") == 4
    assert defined(shown, "f_grad")(0.7, 1.3) == pytest.approx((1.3 + math.cos(0.7), 0.7))
    assert text._repr_markdown_().startswith("```python\n")
    pretty = pytest.importorskip("IPython.lib.pretty", reason="IPython is optional")
    assert pretty.pretty(text) == shown  # what terminal IPython prints for Out[n]
