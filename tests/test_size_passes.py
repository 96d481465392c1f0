"""What keeps builds of long functions fast, checked for values: the IR of a function
lowered once for the builds asked of it in a row, forward-mode gradients of arrays
built from vector-mode sweeps alone, and probe code that reports what it cannot
derive (arithmetic it folds as other code does, whose result's type, shape and dtype
static_shapes.derived() works out from its operands').
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from support import central, numeric_grad

import ad_compiler as adc
from ad_compiler.ir import Const, Op, Value
from ad_compiler.transforms.static_shapes import derivable, derived, signature

rng = np.random.default_rng(11)

# ------------------------------------------------------------ derived signatures

_OPERANDS = [
    2.5, 3, True, np.float64(1.5), np.float32(1.5), np.int64(2),
    np.array(0.7), np.ones(3) * 0.3, np.ones((2, 3)) * 0.6, np.ones((4, 1)) * 0.2,
    np.arange(3), np.arange(3) > 0, np.ones(3, np.float32), np.ones(3, np.complex128),
    np.ones(5) * 0.1,
]
_OPERATIONS = {
    "add": (2, lambda a, b: a + b), "sub": (2, lambda a, b: a - b),
    "mul": (2, lambda a, b: a * b), "truediv": (2, lambda a, b: a / b),
    "floordiv": (2, lambda a, b: a // b), "mod": (2, lambda a, b: a % b),
    "pow": (2, lambda a, b: a ** b), "neg": (1, lambda a: -a), "pos": (1, lambda a: +a),
}


def _outcome(compute, *operands):
    with np.errstate(all="ignore"):
        try:
            return signature(compute(*operands))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return None  # the code raises: nothing is reported either way


@pytest.mark.parametrize("prim", sorted(_OPERATIONS))
def test_derived_signatures_are_what_numpy_makes(prim):
    """Every pair of operands: where a signature is derived, it is the one NumPy's (or
    Python's) result has; and float64 arrays always get one."""
    arity, compute = _OPERATIONS[prim]
    derived_count = 0
    for operands in itertools.product(_OPERANDS, repeat=arity):
        op = Op(prim, [Value() for _ in operands], [Value()])
        assert derivable(op)
        got = derived(op, [signature(v) for v in operands])
        actual = _outcome(compute, *operands)
        if got is not None and actual is not None:
            assert got == actual, (prim, operands)
            derived_count += 1
        if all(isinstance(v, np.ndarray) and v.dtype == np.float64 and v.ndim
               for v in operands) and actual is not None:
            assert got == actual
    assert derived_count >= (5 if arity == 1 else 20)


@pytest.mark.parametrize("ufunc, prim", [(np.tanh, "tanh"), (np.exp, "exp"),
                                         (np.arctan2, "atan2"), (np.hypot, "hypot")])
def test_derived_signatures_of_ufuncs(ufunc, prim):
    for operands in itertools.product(_OPERANDS, repeat=ufunc.nin):
        op = Op(prim, [Value() for _ in operands], [Value()], attrs={"fn": ufunc})
        if not derivable(op):
            pytest.skip(f"{prim} is not an elementwise primitive of the registry")
        got = derived(op, [signature(v) for v in operands])
        actual = _outcome(ufunc, *operands)
        if got is not None and actual is not None:
            assert got == actual, (prim, operands)


def test_calls_with_keywords_or_other_functions_are_not_derived():
    x = Value()
    assert not derivable(Op("tanh", [x], [Value()], attrs={"fn": math.tanh}))
    assert not derivable(Op("add", [x, Const(1.0), Const(np.float32)], [Value()],
                            attrs={"fn": np.add, "kwnames": ("dtype",)}))
    assert not derivable(Op("matmul", [x, x], [Value()]))


# ------------------------------------------------------------ probe code, specialised

def masked_model(W, b, X, scale):
    z = X @ W + b  # broadcast over rows
    hidden = (z > 0.0) * z + 0.1 * (z <= 0.0) * z  # bool arrays times floats
    counts = np.arange(hidden.shape[1])  # an int array
    total = np.sum(hidden * counts) * scale + np.sum(hidden ** 2)
    return total / X.shape[0] + scale * 0.5


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_probe_code_folds_arithmetic_and_specialises(mode):
    g = adc.grad(masked_model, wrt=(0, 1, 3), mode=mode)

    def point():
        return (rng.standard_normal((3, 4)), rng.standard_normal(4),
                rng.standard_normal((6, 3)), float(rng.uniform(0.5, 2.0)))

    for _ in range(3):  # the first call specialises; the others run that version
        args = point()
        for k, got in zip((0, 1, 3), g(*args)):
            np.testing.assert_allclose(got, numeric_grad(masked_model, list(args), k),
                                       rtol=1e-6, atol=1e-8)
    if mode == "reverse":
        assert set(g.specializations.values()) == {"specialised"}
        assert "unbroadcast" not in g.source_for(*point())


def test_float32_inputs_keep_their_own_answers():
    g = adc.grad(masked_model, wrt=(0, 1))
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    X = rng.standard_normal((6, 3)).astype(np.float32)
    gw, gb = g(W, b, X, 1.3)
    np.testing.assert_allclose(gw, numeric_grad(masked_model, [W, b, X, 1.3], 0), rtol=1e-4)
    np.testing.assert_allclose(gb, numeric_grad(masked_model, [W, b, X, 1.3], 1), rtol=1e-4)


# ------------------------------------------------------------ lowering kept

activation = math.sin


def layered(x, c):
    y = activation(x * c) + x
    return activation(y) * c


def test_a_lowered_function_is_reused_only_while_its_names_hold(monkeypatch):
    for point in ((0.4, 1.3), (-1.1, 0.7)):
        reverse = adc.grad(layered, wrt=(0, 1))(*point)
        forward = adc.grad(layered, wrt=(0, 1), mode="forward")(*point)
        assert forward == pytest.approx(reverse, rel=1e-13)
        assert reverse[1] == pytest.approx(central(layered, list(point), 1), rel=1e-8)
        second = adc.hessian(layered)(*point)
        slope = adc.grad(layered)
        along_x = lambda x, g=slope, c=point[1]: g(x, c)  # noqa: E731
        assert second == pytest.approx(central(along_x, [point[0]], 0), rel=1e-6)
    monkeypatch.setitem(globals(), "activation", math.tanh)
    point = (0.4, 1.3)
    expected = [central(layered, list(point), k) for k in (0, 1)]
    assert adc.grad(layered, wrt=(0, 1), mode="forward")(*point) == pytest.approx(
        expected, rel=1e-8)
    assert adc.grad(layered, wrt=(0, 1))(*point) == pytest.approx(expected, rel=1e-8)


def chain(x, c):
    x = np.tanh(x) * 0.9 + c * 0.1
    x = np.tanh(x) * 0.9 + c * 0.1
    return np.sum(x * x)


def test_a_forward_gradient_of_arrays_takes_one_vector_sweep_for_all_inputs():
    x, c = rng.standard_normal(4), rng.standard_normal(4)
    forward = adc.grad(chain, wrt=(0, 1), mode="forward")
    reverse = adc.grad(chain, wrt=(0, 1))(x, c)
    for got, expected, k in zip(forward(x, c), reverse, (0, 1)):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        np.testing.assert_allclose(got, numeric_grad(chain, [x, c], k), rtol=1e-6)
    assert forward.source.count("calls this vector-mode JVP, one sweep for all of x and c") == 1
    assert "once per number" not in forward.source
    value, (gx, gc) = adc.value_and_grad(chain, wrt=(1, 0), mode="forward")(x, c)
    assert value == pytest.approx(chain(x, c), rel=1e-14)
    np.testing.assert_allclose(gx, reverse[1], rtol=1e-12)
    np.testing.assert_allclose(gc, reverse[0], rtol=1e-12)


def model_with_aux(params, data):
    """A container input, an array input and an auxiliary result."""
    w, b = params["w"], params["b"]
    residual = data @ w + b - 1.0
    return np.sum(residual ** 2), {"largest": np.max(np.abs(residual))}


def test_a_joint_forward_sweep_over_a_container_and_an_array_with_aux():
    params = {"w": rng.standard_normal(3), "b": 0.4}
    data = rng.standard_normal((5, 3))
    (gp, gd), aux = adc.grad(model_with_aux, wrt=(0, 1), mode="forward", has_aux=True)(
        params, data)
    (rp, rd), raux = adc.grad(model_with_aux, wrt=(0, 1), has_aux=True)(params, data)
    np.testing.assert_allclose(gp["w"], rp["w"], rtol=1e-12)
    assert isinstance(gp["b"], float) and gp["b"] == pytest.approx(rp["b"], rel=1e-12)
    np.testing.assert_allclose(gd, rd, rtol=1e-12)
    assert aux == raux
    loss = lambda d: model_with_aux(params, d)[0]  # noqa: E731
    np.testing.assert_allclose(gd, numeric_grad(loss, [data], 0), rtol=1e-6)
