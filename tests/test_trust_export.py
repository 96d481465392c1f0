"""Gradients exported with `adc export --shapes` are right for the inputs they were
specialised to and refuse others, naming the argument, the expected and the given
shape; the check is plain Python and NumPy, so the module still runs without
ad_compiler."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ad_compiler import input_checks

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BLOCK_AD_COMPILER = "import sys\nsys.modules['ad_compiler'] = None\nsys.path.insert(0, '.')\n"


def export(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "ad_compiler", "export", *args],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mlp_arguments(rng, rows: int = 5, dtype=np.float64) -> list:
    shapes = ((3, 4), (4,), (4, 2), (2,), (rows, 3), (rows, 2))
    return [rng.normal(size=s).astype(dtype) for s in shapes]


def mlp_gradient_by_hand(W1, b1, W2, b2, X, Y):
    """The adjoint of 0.5 * mean(sum((tanh(X W1 + b1) W2 + b2 - Y)^2, axis=1))."""
    H = np.tanh(X @ W1 + b1)
    r = (H @ W2 + b2 - Y) / X.shape[0]
    dH = r @ W2.T * (1 - H ** 2)
    return X.T @ dH, dH.sum(0), H.T @ r, r.sum(0)


@pytest.fixture(scope="module")
def mlp_module(tmp_path_factory):
    directory = tmp_path_factory.mktemp("exported")
    out = directory / "mlp_fixed.py"
    export(str(EXAMPLES / "models.py") + ":mlp_loss", "--wrt", "0,1,2,3", "--kind", "grad",
           "--kind", "value_and_grad", "--shapes", "W1=3x4", "b1=4", "W2=4x2", "b2=2", "X=5x3",
           "Y=5x2", "-o", str(out))
    return out


def test_inputs_of_the_exported_shapes_give_the_hand_gradient(mlp_module):
    module = import_file(mlp_module, "adc_trust_mlp_fixed")
    args = mlp_arguments(np.random.default_rng(4))
    for got, want in zip(module.mlp_loss_grad(*args), mlp_gradient_by_hand(*args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    value, grads = module.mlp_loss_value_and_grad(*args)
    W1, b1, W2, b2, X, Y = args
    assert value == pytest.approx(0.5 * np.mean(np.sum((np.tanh(X @ W1 + b1) @ W2 + b2 - Y) ** 2,
                                                       axis=1)), rel=1e-14)


def test_other_shapes_are_refused_naming_the_argument(mlp_module):
    module = import_file(mlp_module, "adc_trust_mlp_fixed")
    args = mlp_arguments(np.random.default_rng(5), rows=10)  # a batch of 10, not 5
    for name in ("mlp_loss_grad", "mlp_loss_value_and_grad"):
        with pytest.raises(ValueError, match=rf"{name}: X must be an array of shape \(5, 3\) "
                                             r"and dtype float64.* not an array of shape "
                                             r"\(10, 3\)"):
            getattr(module, name)(*args)


def test_another_dtype_or_a_list_is_refused(mlp_module):
    module = import_file(mlp_module, "adc_trust_mlp_fixed")
    args = mlp_arguments(np.random.default_rng(6), dtype=np.float32)
    with pytest.raises(ValueError, match="W1 must be .* dtype float64.* dtype float32"):
        module.mlp_loss_grad(*args)
    args = mlp_arguments(np.random.default_rng(6))
    args[1] = args[1].tolist()
    with pytest.raises(ValueError, match=r"b1 must be an array of shape \(4,\).* not a list"):
        module.mlp_loss_grad(*args)


def test_the_check_runs_where_ad_compiler_is_not_installed(mlp_module, tmp_path):
    (tmp_path / "mlp_fixed.py").write_text(mlp_module.read_text())
    script = tmp_path / "use.py"
    script.write_text(BLOCK_AD_COMPILER + (
        "import numpy as np\nimport mlp_fixed\n"
        "rng = np.random.default_rng(0)\n"
        "shapes = ((3, 4), (4,), (4, 2), (2,), (7, 3), (7, 2))\n"
        "args = [rng.normal(size=s) for s in shapes]\n"
        "try:\n    mlp_fixed.mlp_loss_grad(*args)\n"
        "except ValueError as error:\n    print(error)\n"))
    result = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "X must be an array of shape (5, 3)" in result.stdout
    assert "not an array of shape (7, 3)" in result.stdout


HEAD_ENERGY = """import numpy as np


def head_energy(x, n, scale):
    return scale * np.mean(x[:n] ** 2)
"""


def test_an_int_the_code_was_specialised_to_is_checked(tmp_path):
    source = tmp_path / "energy.py"
    source.write_text(HEAD_ENERGY)
    out = tmp_path / "energy_fixed.py"
    export(f"{source}:head_energy", "--wrt", "x,scale", "--shapes", "x=6", "n=int:3",
           "scale=float", "-o", str(out))
    assert "check_inputs(" in out.read_text()
    module = import_file(out, "adc_trust_energy_fixed")
    x = np.array([0.5, -1.0, 2.0, 3.0, -0.25, 1.5])
    dx, dscale = module.head_energy_grad(x, 3, 1.5)
    expected = np.zeros(6)
    expected[:3] = 1.5 * 2 * x[:3] / 3
    np.testing.assert_allclose(dx, expected, rtol=1e-15)
    assert dscale == pytest.approx(np.mean(x[:3] ** 2), rel=1e-15)
    assert module.head_energy_grad(x, np.int64(3), 2)[1] == pytest.approx(dscale, rel=1e-15)
    with pytest.raises(ValueError, match="n must be the int 3.* not int 4"):
        module.head_energy_grad(x, 4, 1.5)
    with pytest.raises(ValueError, match="n must be the int 3.* not bool True"):
        module.head_energy_grad(x, True, 1.5)
    with pytest.raises(ValueError, match=r"x must be an array of shape \(6,\).* shape \(5,\)"):
        module.head_energy_grad(x[:5], 3, 1.5)
    with pytest.raises(ValueError, match="scale must be a number.* not str"):
        module.head_energy_grad(x, 3, "1.5")


def test_an_export_without_shapes_has_no_check(tmp_path):
    out = tmp_path / "mlp_any.py"
    export(str(EXAMPLES / "models.py") + ":mlp_loss", "--wrt", "0,1,2,3", "-o", str(out))
    assert "check_inputs" not in out.read_text()
    module = import_file(out, "adc_trust_mlp_any")
    args = mlp_arguments(np.random.default_rng(8), rows=9)  # any batch size
    for got, want in zip(module.mlp_loss_grad(*args), mlp_gradient_by_hand(*args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_the_check_of_a_tuple_of_items():
    expected = {"pair": ("sequence", "tuple", [("array", (2,), "float64"), ("int", 4)])}
    input_checks.check_inputs("g", expected, (np.zeros(2), 4))
    with pytest.raises(ValueError, match=r"pair must be a tuple of 2 item\(s\) \(an array of "
                                         r"shape \(2,\) and dtype float64, the int 4\).* not a "
                                         r"tuple of 2"):
        input_checks.check_inputs("g", expected, (np.zeros(2), 5))
    with pytest.raises(ValueError, match="not a list"):
        input_checks.check_inputs("g", expected, [np.zeros(2), 4])
