"""Values on the command line (`--at`, `--shapes`): what each form becomes, and
`adc check`, `adc trace` and `adc graph` run on them as a user runs them."""
from __future__ import annotations

import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ad_compiler.cli_inputs import InputError, bind, parse_value, random_of_shape

ROOT = Path(__file__).resolve().parents[1]
POINTS = str(ROOT / "tests" / "fixtures" / "cli_points.py")
SEEDS = str(ROOT / "examples" / "seeds.py")
MODELS = str(ROOT / "examples" / "models.py")


def adc(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ad_compiler", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("adc: error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def check_rows(result: subprocess.CompletedProcess) -> dict[str, float]:
    """The relative error `adc check` printed for each input."""
    rows = {}
    for line in result.stdout.splitlines()[1:]:
        name, _, rest = line.partition(" ")
        try:
            rows[name] = float(rest)
        except ValueError:
            break
    return rows


# ------------------------------------------------------------------ the forms of a value


@pytest.mark.parametrize("text,expected", [
    ("4", 4), ("-3", -3), ("0.7", 0.7), ("1e-3", 1e-3), ("2:float", 2.0), ("4:int", 4),
    ("(2, 3)", (2, 3)), ("True", True), ("'sum'", "sum"), ("(1.5, 2)", (1.5, 2)),
])
def test_numbers_and_literals_are_read_as_python_reads_them(text, expected):
    value = parse_value("v", text)
    assert value == expected and type(value) is type(expected)


def test_brackets_make_a_float_array_and_a_suffix_sets_its_dtype():
    x = parse_value("x", "[1, 2, 3]")
    assert x.dtype == np.float64 and x.tolist() == [1.0, 2.0, 3.0]
    m = parse_value("m", "[[1, 2.5], [3, 4]]:float32")
    assert m.dtype == np.float32 and m.shape == (2, 2) and m[0, 1] == np.float32(2.5)
    idx = parse_value("idx", "[0, 2]:int64")
    assert idx.dtype == np.int64 and idx.tolist() == [0, 2]
    scalar = parse_value("s", "1.5:float32")
    assert type(scalar) is np.float32 and scalar == np.float32(1.5)


def test_list_prefix_makes_a_plain_list_of_floats():
    xs = parse_value("xs", "list:[1, 2.5, -3]")
    assert type(xs) is list and xs == [1.0, 2.5, -3.0]
    assert all(type(v) is float for v in xs)
    nested = parse_value("xs", "list:[[1, 2], [3]]")  # lists need not be rectangular
    assert nested == [[1.0, 2.0], [3.0]] and type(nested[1][0]) is float


def test_npy_files_load_without_pickles(tmp_path):
    data = np.arange(6.0).reshape(2, 3)
    np.save(tmp_path / "X.npy", data)
    loaded = parse_value("X", str(tmp_path / "X.npy"))
    np.testing.assert_array_equal(loaded, data)
    as32 = parse_value("X", f"{tmp_path / 'X.npy'}:float32")
    assert as32.dtype == np.float32 and as32.tolist() == data.tolist()


class _Planted:
    """Unpickling this creates a file: what loading a data file must never do."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_data_file_holding_python_objects_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran.txt"
    objects = np.empty(1, dtype=object)
    objects[0] = _Planted(str(marker))
    np.save(tmp_path / "evil.npy", objects, allow_pickle=True)
    assert pickle.dumps(objects[0])  # the payload is there, in the file
    result = adc("check", f"{POINTS}:rosen", "--at", f"xs={tmp_path / 'evil.npy'}")
    assert_one_line_error(result, "evil.npy", "Python objects")
    assert not marker.exists()


@pytest.mark.parametrize("text,words", [
    ("abc", ["'abc'", "a number"]),
    ("[1, 'a']", ["array of numbers"]),
    ("[[1, 2], [3]]", ["one length"]),
    ("[1.5, 2]:int64", ["cannot be made int64"]),
    ("1.5:int", ["not an int"]),
    ("list:3", ["list:[1, 2, 3]"]),
    ("list:['a']", ["holds numbers"]),
    ("no_such_file.npy", ["no such file"]),
    ("abc:float32", ["dtype suffix"]),
])
def test_bad_values_say_what_is_wrong(text, words):
    with pytest.raises(InputError) as caught:
        parse_value("x", text)
    message = str(caught.value)
    assert message.startswith("--at x: ") and "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_shapes_give_random_values_of_those_shapes():
    rng = np.random.default_rng(0)
    assert random_of_shape("X", "20x3", rng).shape == (20, 3)
    w = random_of_shape("w", "3:float32", rng)
    assert w.shape == (3,) and w.dtype == np.float32
    assert random_of_shape("n", "int:5", rng) == 5
    assert type(random_of_shape("b", "float", rng)) is float
    assert random_of_shape("s", "()", rng).shape == ()
    for bad in ("3y4", "int", "3:text", "-2x3"):
        with pytest.raises(InputError, match="is not a shape"):
            random_of_shape("X", bad, rng)


def test_binding_names_every_parameter_once(tmp_path):
    source = tmp_path / "two.py"
    source.write_text("def f(x, n, scale=2.0):\n    return x * n * scale\n")
    namespace: dict = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)
    f = namespace["f"]
    bound = bind(f, at=["n=3"], shapes=["x=2x2"])
    assert bound.names == ["x", "n", "scale"] and bound.args[1] == 3 and bound.args[2] == 2.0
    assert bound.args[0].shape == (2, 2) and bound.defaulted == {"scale"}
    assert bound.random == {"x"}
    with pytest.raises(InputError, match="has no parameter 'y'.*x, n, scale"):
        bind(f, at=["x=1.0", "n=2", "y=3"])
    with pytest.raises(InputError, match="x is given twice"):
        bind(f, at=["x=1.0", "n=2"], shapes=["x=3"])
    with pytest.raises(InputError, match="needs a value for n"):
        bind(f, at=["x=1.0"])
    with pytest.raises(InputError, match="name=value pairs"):
        bind(f, at=["x"])


# ------------------------------------------------------------------ adc check


def test_check_holds_an_int_fixed_and_checks_the_float():
    result = adc("check", f"{POINTS}:powsum", "--at", "x=2.0", "n=4")
    assert result.returncode == 0, result.stderr
    rows = check_rows(result)
    assert set(rows) == {"x"} and rows["x"] < 1e-9
    assert "held fixed: n (an int (4))" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("ok:")


def test_check_of_ints_only_says_how_to_give_a_float():
    result = adc("check", f"{POINTS}:powsum", "--at", "x=2", "n=4")
    assert_one_line_error(result, "nothing to check", "x is an int (2)", "x=2.0")
    result = adc("check", f"{POINTS}:powsum", "--at", "x=2.0", "n=4", "--wrt", "n")
    assert_one_line_error(result, "n is an int (4)", "n=4.0")


def test_check_finds_a_wrong_rule_on_a_list_and_exits_1():
    """AD uses 2 x**2 for d(x**3)/dx; central differences see 3 x**2.  At [0.5, 1.5] the
    largest difference is 0.75 * 1.5**2 ... relative to the largest AD entry, 2 * 1.5**2."""
    result = adc("check", f"{POINTS}:wrong_sum", "--at", "xs=list:[0.5, 1.5]")
    assert result.returncode == 1 and "FAILED" in result.stdout, result.stderr
    expected = (3 * 1.5 ** 2 - 2 * 1.5 ** 2) / (2 * 1.5 ** 2)
    assert check_rows(result)["xs"] == pytest.approx(expected, rel=1e-5)


def test_check_keeps_lists_lists():
    """`xs + ys` joins lists; given arrays instead, NumPy would add them (broadcasting
    ys), and central differences taken that way disagree with AD by 1.5 here."""
    result = adc("check", f"{POINTS}:joined", "--at", "xs=list:[1, 2]", "ys=list:[3]")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = check_rows(result)
    assert set(rows) == {"xs", "ys"} and max(rows.values()) < 1e-8


def test_check_of_array_code_at_an_array_and_at_random_shapes():
    at_point = adc("check", f"{MODELS}:rosenbrock", "--at", "x=[1, 2, 3]")
    assert at_point.returncode == 0 and check_rows(at_point)["x"] < 1e-8, at_point.stderr
    shapes = ("W1=3x4", "b1=4", "W2=4x2", "b2=2", "X=5x3", "Y=5x2")
    first = adc("check", f"{MODELS}:mlp_loss", "--shapes", *shapes)
    assert first.returncode == 0, first.stderr
    rows = check_rows(first)
    assert set(rows) == {"W1", "b1", "W2", "b2", "X", "Y"} and max(rows.values()) < 1e-7
    assert "random inputs of the given shapes (seed 0)" in first.stdout
    assert adc("check", f"{MODELS}:mlp_loss", "--shapes", *shapes).stdout == first.stdout


def test_check_mixes_values_and_shapes_and_keeps_defaults_fixed():
    result = adc("check", f"{POINTS}:scaled", "--at", "x=1.5", "shape=(2, 3)")
    assert result.returncode == 0, result.stderr
    assert set(check_rows(result)) == {"x"}
    assert "held fixed: shape (a tuple), factor (its default)" in result.stdout
    mixed = adc("check", f"{POINTS}:weighted", "--at", "x=[0.1, 0.2, 0.3]", "--shapes", "w=3")
    assert mixed.returncode == 0 and set(check_rows(mixed)) == {"x", "w"}, mixed.stderr


def test_check_reads_an_npy_file(tmp_path):
    np.save(tmp_path / "x.npy", np.array([0.3, -1.2, 0.8, 1.1]))
    result = adc("check", f"{MODELS}:rosenbrock", "--at", f"x={tmp_path / 'x.npy'}")
    assert result.returncode == 0 and check_rows(result)["x"] < 1e-8, result.stderr


@pytest.mark.parametrize("args,words", [
    ([], ["--at", "--shapes"]),
    (["--at", "xs=list:[1"], ["xs", "list:[1"]),
    (["--at", "xs=[[1, 2], [3]]"], ["one length"]),
    (["--at", "ys=list:[1.0]"], ["no parameter 'ys'"]),
    (["--shapes", "xs=3y"], ["is not a shape"]),
])
def test_check_bad_points_are_one_line_with_exit_code_2(args, words):
    assert_one_line_error(adc("check", f"{POINTS}:rosen", *args), *words)


def test_an_error_of_the_function_at_the_point_is_one_line():
    result = adc("check", f"{POINTS}:root", "--at", "x=-1.0")
    line = assert_one_line_error(result, "ValueError", "math domain error")
    assert "--debug" in line
    debug = adc("--debug", "check", f"{POINTS}:root", "--at", "x=-1.0")
    assert debug.returncode == 2 and "Traceback" in debug.stderr


# ------------------------------------------------------------------ adc trace and graph


def table_row(stdout: str, w: str) -> list[str]:
    return next(line.split() for line in stdout.splitlines() if line.startswith(w + " "))


def test_trace_table_at_an_int_and_a_float32():
    result = adc("trace", f"{SEEDS}:f", "--at", "x1=1", "x2=2:float32")
    assert result.returncode == 0, result.stderr
    # f = x1 * x2 + sin(x1): the adjoint of x1 is x2 + cos(x1), of x2 is x1
    assert float(table_row(result.stdout, "w0_1")[-1]) == pytest.approx(2 + math.cos(1), 1e-6)
    assert float(table_row(result.stdout, "w0_2")[-1]) == pytest.approx(1.0)
    assert float(table_row(result.stdout, "w2_1")[-3]) == pytest.approx(2 + math.sin(1), 1e-6)


def test_trace_table_refuses_an_array_in_one_line():
    result = adc("trace", f"{MODELS}:rosenbrock", "--at", "x=[1, 2]")
    assert_one_line_error(result, "one number per w", "x is an array")
    assert "w0_1 = x" in result.stdout  # the trace itself was printed


def test_graph_labels_the_nodes_at_an_int_point():
    result = adc("graph", f"{SEEDS}:f", "--at", "x1=1", "x2=2")
    assert result.returncode == 0, result.stderr
    assert f"value {2 + math.sin(1):.6g}" in result.stdout
    assert f"adjoint {2 + math.cos(1):.6g}" in result.stdout
