"""The `adc` command line, run as a subprocess like a user runs it."""
from __future__ import annotations

import math
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = str(ROOT / "examples" / "seeds.py")


def _run(args: tuple[str, ...]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ad_compiler", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


_RESULTS: dict[tuple[str, ...], subprocess.CompletedProcess] = {}


def adc(*args: str) -> subprocess.CompletedProcess:
    """`python -m ad_compiler ARGS`; commands listed in PREFETCH were run in parallel."""
    if args not in _RESULTS:
        _RESULTS[args] = _run(args)
    return _RESULTS[args]


def _define(source: str, name: str):
    namespace = {"math": math, "np": np}
    exec(compile(source, "<cli-output>", "exec"), namespace)
    return namespace[name]


def _assert_clean_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("adc: error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])


BAD_INPUT = [
    (["source", SEEDS], ["file.py:function"]),
    (["source", f"{SEEDS}:nope"], ["nope"]),
    (["trace", "no_such_file.py:f"], ["no_such_file.py"]),
    (["source", "no_such_module_xyz:f"], ["no_such_module_xyz"]),
    (["source", f"{SEEDS}:f", "--wrt", "z"], ["'z'"]),
    (["source", f"{SEEDS}:f", "--wrt", "5"], ["range"]),
    (["trace", f"{SEEDS}:f", "--at", "x1=0.7", "x2=abc"], ["abc"]),
]
HELP = [
    (["--help"], ["source", "trace"]),
    (["source", "--help"], ["--mode", "--wrt", "--kind"]),
    (["trace", "--help"], ["--at", "--seed"]),
]
PREFETCH = [
    ("source", f"{SEEDS}:f"),
    ("source", f"{SEEDS}:f", "--wrt", "x1,x2"),
    ("source", f"{SEEDS}:f", "--mode", "forward", "--wrt", "x1,x2"),
    ("source", f"{SEEDS}:gaussian", "--kind", "value_and_grad"),
    ("source", f"{SEEDS}:fan_out", "--kind", "jvp"),
    ("source", f"{SEEDS}:f", "--kind", "vjp"),
    ("source", f"{SEEDS}:f", "--wrt", "1"),
    ("trace", f"{SEEDS}:f", "--at", "x1=0.7", "x2=1.3"),
    ("trace", f"{SEEDS}:f", "--at", "x1=0.7", "x2=1.3", "--seed", "x2"),
    ("trace", f"{SEEDS}:fan_out"),
    *(tuple(args) for args, _ in BAD_INPUT + HELP),
]


@pytest.fixture(scope="module", autouse=True)
def _prefetch():
    """Each run costs an interpreter start; run them side by side."""
    with ThreadPoolExecutor(max_workers=6) as pool:
        for args, result in zip(PREFETCH, pool.map(_run, PREFETCH)):
            _RESULTS[args] = result


# ------------------------------------------------------------------ source


def test_source_prints_the_reverse_gradient():
    result = adc("source", f"{SEEDS}:f")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("def ") or "\ndef " in result.stdout
    assert "x1_bar" in result.stdout
    d = _define(result.stdout, "f_grad")
    x1, x2 = 0.7, 1.3
    assert d(x1, x2) == pytest.approx(x2 + math.cos(x1))


def test_console_script_matches_python_m():
    exe = shutil.which("adc")
    if exe is None:
        pytest.skip("the adc console script is not on PATH")
    script = subprocess.run([exe, "source", f"{SEEDS}:f"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert script.returncode == 0, script.stderr
    assert script.stdout == adc("source", f"{SEEDS}:f").stdout


def test_source_forward_mode_differs_and_is_correct():
    reverse = adc("source", f"{SEEDS}:f", "--wrt", "x1,x2")
    forward = adc("source", f"{SEEDS}:f", "--mode", "forward", "--wrt", "x1,x2")
    assert reverse.returncode == forward.returncode == 0, forward.stderr
    assert forward.stdout != reverse.stdout
    x1, x2 = 0.7, 1.3
    exact = (x2 + math.cos(x1), x1)
    for result in (reverse, forward):
        assert _define(result.stdout, "f_grad")(x1, x2) == pytest.approx(exact)


def test_source_kinds_and_wrt_by_index():
    x = 0.4
    gauss = adc("source", f"{SEEDS}:gaussian", "--kind", "value_and_grad")
    assert gauss.returncode == 0, gauss.stderr
    value, slope = _define(gauss.stdout, "gaussian_value_and_grad")(x)
    assert (value, slope) == pytest.approx((math.exp(-x * x), -2 * x * math.exp(-x * x)))

    jvp = adc("source", f"{SEEDS}:fan_out", "--kind", "jvp")
    assert jvp.returncode == 0, jvp.stderr
    assert "v1_dot" in jvp.stdout
    e = math.exp(x)  # v4 = e^x (e^x + 1): v4' = 2 e^{2x} + e^x
    assert _define(jvp.stdout, "fan_out_jvp")(x, 3.0) == pytest.approx(
        (e * (e + 1), 3.0 * (2 * e * e + e)))

    vjp = adc("source", f"{SEEDS}:f", "--kind", "vjp")
    assert vjp.returncode == 0, vjp.stderr
    assert _define(vjp.stdout, "f_vjp")(0.7, 1.3, 2.0) == pytest.approx(
        (2.0 * (1.3 + math.cos(0.7)), 2.0 * 0.7))

    second = adc("source", f"{SEEDS}:f", "--wrt", "1")
    assert second.returncode == 0, second.stderr
    assert _define(second.stdout, "f_grad")(0.7, 1.3) == pytest.approx(0.7)


# ------------------------------------------------------------------ trace


def test_trace_at_a_point():
    result = adc("trace", f"{SEEDS}:f", "--at", "x1=0.7", "x2=1.3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for w in ("w0_1", "w0_2", "w1_1", "w1_2", "w2_1"):
        assert w in out
    x1, x2 = 0.7, 1.3
    assert f"{x2 + math.cos(x1):.6g}" == "2.06484"  # adjoint of x1, computed by hand
    assert "2.06484" in out and "0.7" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("w")}
    assert rows["w0_1"][-1] == "2.06484"  # adjoint of x1 = x2 + cos x1
    assert rows["w0_2"][-1] == "0.7"  # adjoint of x2 = x1
    assert f"{x1 * x2 + math.sin(x1):.6g}" in rows["w2_1"]


def test_trace_with_seed():
    result = adc("trace", f"{SEEDS}:f", "--at", "x1=0.7", "x2=1.3", "--seed", "x2")
    assert result.returncode == 0, result.stderr
    assert "d/dx2" in result.stdout
    row = [line.split() for line in result.stdout.splitlines() if line.startswith("w2_1")][-1]
    assert "0.7" in row  # d f / d x2 = x1


def test_trace_without_point_prints_only_the_trace():
    result = adc("trace", f"{SEEDS}:fan_out")
    assert result.returncode == 0, result.stderr
    assert "w0_1" in result.stdout and "exp" in result.stdout


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("args,words", BAD_INPUT, ids=["no-function", "missing-function", "missing-file", "missing-module", "bad-wrt-name",
        "bad-wrt-index", "bad-number"])
def test_bad_input_is_one_line_with_exit_code_2(args, words):
    _assert_clean_error(adc(*args), *words)


def test_unsupported_construct_is_one_located_line(tmp_path):
    path = tmp_path / "branchy.py"
    path.write_text("import math\n\n\ndef f(x):\n    y = (x for _ in (1, 2))\n    return sum(y)\n")
    result = adc("source", f"{path}:f")
    _assert_clean_error(result, f"{path}:5:", "generator expression")


@pytest.mark.parametrize("text", ["def f(x)\n    return x\n", "raise RuntimeError('boom')\n"],
                         ids=["syntax-error", "raises-on-import"])
def test_bad_file_is_one_line_with_exit_code_2(tmp_path, text):
    path = tmp_path / "broken.py"
    path.write_text(text)
    _assert_clean_error(adc("source", f"{path}:f"))


# ------------------------------------------------------------------ help


@pytest.mark.parametrize("args,words", HELP)
def test_help(args, words):
    result = adc(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")
    for word in words:
        assert word in result.stdout
