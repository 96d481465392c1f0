"""Parameters in containers: every gradient against central differences, forward mode
against reverse mode, in the input's own structure and plain types."""
from __future__ import annotations

import numpy as np
import pytest
from support import TESTS, assert_same_tree, load_module, tree_numeric_grad

import ad_compiler as adc

C = load_module(TESTS / "fixtures" / "containers.py", "adc_test_fixture_containers", shared=True)
MODES = ["reverse", "forward"]
rng = np.random.default_rng(7)


def check(f, args, wrt=0, modes=MODES, rtol=1e-6, atol=1e-8):
    """grad(f) at args, with respect to args[wrt], in each mode, against differences."""
    expected = tree_numeric_grad(f, args, wrt)
    for mode in modes:
        got = adc.grad(f, wrt=wrt, mode=mode)(*args)
        assert_same_tree(got, expected, rtol=rtol, atol=atol)
    return expected


# ------------------------------------------------------------------ nested lists


@pytest.mark.parametrize("f,args", [
    (C.product_of_nested, ([[3.0, 5.0]],)),
    (C.square_of_nested, ([[3.0, 5.0]],)),
    (C.pair_energy, ([(1.0, 2.0), (3.0, 4.0)],)),
    (C.pair_energy, ([[1.0, 2.0], [3.0, 4.0], [-0.5, 0.25]],)),
    (C.matrix_quadratic, ([[1.0, 2.0], [3.0, 4.0]],)),
    (C.row_norms, ([[1.0, 2.0], [3.0], [0.5, -1.0, 2.0]],)),
])
def test_nested_lists(f, args):
    check(f, args)


def test_nested_list_values_are_exact():
    """The reproducers: [[5, 3]] and twice, not half, of the square's derivative."""
    assert adc.grad(C.product_of_nested)([[3.0, 5.0]]) == [[5.0, 3.0]]
    assert adc.grad(C.square_of_nested)([[3.0, 5.0]]) == [[6.0, 0.0]]
    assert adc.grad(C.pair_energy)([(1.0, 2.0), (3.0, 4.0)]) == [(2.0, 1.0), (4.0, 3.0)]


def _layers(sizes):
    return [(rng.normal(size=(a, b)), rng.normal(size=b)) for a, b in zip(sizes, sizes[1:])]


@pytest.mark.parametrize("f", [C.mlp_layers, C.mlp_hidden_then_head])
def test_layers_of_weights_and_biases(f):
    layers, x = _layers([3, 4, 4, 2]), rng.normal(size=3)
    expected = check(f, (layers, x), rtol=1e-5, atol=1e-7)
    assert all(type(layer) is tuple and len(layer) == 2 for layer in expected)


def test_layers_as_lists_of_lists():
    layers = [list(layer) for layer in _layers([2, 3, 1])]
    got = adc.grad(C.mlp_layers)(layers, np.array([0.3, -0.2]))
    assert [type(layer) for layer in got] == [list, list]
    assert_same_tree(got, tree_numeric_grad(C.mlp_layers, (layers, np.array([0.3, -0.2])), 0),
                     rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ reversed, sorted


def test_horner_over_reversed_coefficients():
    coeffs, x = [1.0, 2.0, 3.0, -0.5], 1.3
    for mode in MODES:
        dc, dx = adc.grad(C.horner, wrt=(0, 1), mode=mode)(coeffs, x)
        assert dc == pytest.approx([x ** k for k in range(4)], rel=1e-12)
        assert dx == pytest.approx(2.0 + 6.0 * x - 1.5 * x ** 2, rel=1e-12)


@pytest.mark.parametrize("f,args", [
    (C.ranked_weights, ([3.0, 1.0, 2.0, -4.0],)),
    (C.descending_weights, ([3.0, 1.0, 2.0, -4.0],)),
    (C.reversed_dot, ([1.0, 2.0, 3.0], [0.5, -1.0])),
])
def test_sorted_and_reversed_loops(f, args):
    for wrt in range(len(args)):
        check(f, args, wrt=wrt)


def test_sorted_ranks_are_exact():
    assert adc.grad(C.ranked_weights)([3.0, 1.0, 2.0]) == [3.0, 1.0, 2.0]


def test_a_loop_over_an_opaque_iterator_of_inputs_is_refused():
    for mode in MODES:
        with pytest.raises(adc.ADCompileError) as info:
            adc.grad(C.iterated_through_iter, mode=mode)([1.0, 2.0])
        assert info.value.lineno is not None and info.value.hint


# ------------------------------------------------------------------ + and * of lists


def test_concatenated_list_parameters_split_the_adjoint():
    for mode in MODES:
        dws, dbs = adc.grad(C.concatenated, wrt=(0, 1), mode=mode)([1.0, 2.0], [3.0])
        assert (dws, dbs) == ([1.0, 2.0], [3.0])


def test_a_repeated_list_adds_the_copies_adjoints():
    xs = [1.5, -2.0]
    # ys = [x0, x1, x0, x1], weights 1..4: d/dx0 = 2 x0 (1 + 3), d/dx1 = 2 x1 (2 + 4)
    for mode in MODES:
        assert adc.grad(C.repeated, mode=mode)(xs) == pytest.approx([8 * 1.5, 12 * -2.0])


# ------------------------------------------------------------------ dicts


@pytest.mark.parametrize("f", [C.dict_constant_keys, C.dict_over_keys, C.dict_items])
def test_dict_of_numbers(f):
    expected = check(f, ({"a": 1.2, "b": -0.7},))
    assert list(expected) == ["a", "b"]


def test_dict_of_arrays_through_values():
    check(C.dict_values, ({"u": rng.normal(size=3), "v": rng.normal(size=(2, 2))},))


def test_mlp_with_a_parameter_dict():
    params = {"W1": rng.normal(size=(3, 5)), "b1": np.zeros(5), "W2": rng.normal(size=(5, 2)),
              "b2": rng.normal(size=2)}
    X, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    expected = check(C.mlp_dict, (params, X, y), rtol=1e-5, atol=1e-8)
    assert list(expected) == list(params)


def test_nested_dict_with_a_float_leaf():
    params = {"encoder": {"W": rng.normal(size=(2, 3)), "b": rng.normal(size=2)},
              "decoder": {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3)},
              "scale": 0.3}
    check(C.nested_dict, (params, rng.normal(size=3)), rtol=1e-5, atol=1e-8)


def test_list_of_dicts():
    layers = [{"w": 0.7, "b": 0.1}, {"w": -1.3, "b": 0.4}]
    check(C.list_of_dicts, (layers, np.array([0.2, -0.5, 1.0])))


def test_an_unused_input_gets_zeros_of_its_shape():
    for mode in MODES:
        dx, dy = adc.grad(C.unused_input, wrt=(0, 1), mode=mode)(1.0, [2.0, 3.0])
        assert dx == 2.0 and dy == [0.0, 0.0] and type(dy) is list
        dx, dW = adc.grad(C.unused_array, wrt=(0, 1), mode=mode)(0.5, np.ones((2, 3)))
        assert dx == pytest.approx(np.exp(0.5))
        assert type(dW) is np.ndarray and dW.shape == (2, 3) and not dW.any()


# ------------------------------------------------------------------ records


def test_namedtuple_fields_and_positions():
    xs, ys = rng.normal(size=5), rng.normal(size=5)
    expected = check(C.line_residual, (C.Line(0.5, -0.2), xs, ys))
    assert type(expected) is C.Line
    check(C.line_by_position, (C.Line(2.0, 3.0), 5.0))


def test_dataclass_with_an_array_a_float_and_a_string():
    g = C.Gaussian(mean=rng.normal(size=3), log_sigma=0.2)
    data = rng.normal(size=(6, 3))
    for mode in MODES:
        got = adc.grad(C.gaussian_nll, mode=mode)(g, data)
        assert type(got) is C.Gaussian and got.name is None
        expected = tree_numeric_grad(C.gaussian_nll, (g, data), 0)
        np.testing.assert_allclose(got.mean, expected.mean, rtol=1e-6)
        assert got.log_sigma == pytest.approx(expected.log_sigma, rel=1e-6)


def test_frozen_dataclass_holding_a_list():
    s = C.Spring(k=2.0, rest=0.5, masses=[1.0, 3.0])
    for mode in MODES:
        got = adc.grad(C.spring_energy, mode=mode)(s, 1.5)
        assert type(got) is C.Spring
        assert got.k == pytest.approx(0.5 * 1.0 ** 2)
        assert got.rest == pytest.approx(-2.0 * 1.0)
        assert got.masses == pytest.approx([9.81 * 1.5, 9.81 * 1.5])


def test_a_bound_method_differentiates_its_own_arguments():
    p = C.Pendulum(2.0)
    for mode in MODES:
        dtheta, domega = adc.grad(p.energy, wrt=(0, 1), mode=mode)(0.3, 1.1)
        assert dtheta == pytest.approx(9.81 * 2.0 * np.sin(0.3))
        assert domega == pytest.approx(4.0 * 1.1)
    assert adc.grad(p.energy, wrt="omega")(0.3, 1.1) == pytest.approx(4.4)
    value, g = adc.value_and_grad(p.energy)(0.3, 1.1)
    assert value == pytest.approx(p.energy(0.3, 1.1))
    assert adc.hessian(p.energy)(0.3, 1.1) == pytest.approx(9.81 * 2.0 * np.cos(0.3))


# ------------------------------------------------------------------ has_aux, argnums


def test_has_aux_returns_the_auxiliary_result_untouched():
    for mode in MODES:
        g, aux = adc.grad(C.loss_and_prediction, has_aux=True, mode=mode)(2.0, 3.0, 1.0)
        assert g == pytest.approx(2 * (6.0 - 1.0) * 3.0)
        assert aux == {"pred": 6.0, "error": 5.0}
        (value, aux), g = adc.value_and_grad(C.loss_and_prediction, has_aux=True,
                                              mode=mode)(2.0, 3.0, 1.0)
        assert value == pytest.approx(25.0) and aux["pred"] == 6.0
    w, X, y = rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=4)
    for mode in MODES:
        g, r = adc.grad(C.mse_with_residuals, has_aux=True, mode=mode)(w, X, y)
        np.testing.assert_allclose(r, X @ w - y)
        np.testing.assert_allclose(g, 2 * X.T @ (X @ w - y) / 4, rtol=1e-10)


def test_has_aux_needs_a_pair():
    with pytest.raises(adc.ADCompileError, match="pair"):
        adc.grad(C.dict_constant_keys, has_aux=True)


def test_argnums_is_wrt():
    assert adc.grad(C.line_by_position, argnums=1)(C.Line(2.0, 3.0), 5.0) == 2.0
    with pytest.raises(TypeError):
        adc.grad(C.line_by_position, wrt=1, argnums=1)


# ------------------------------------------------------------------ jacobians, hessians, vjp


def test_jacobian_and_hessian_of_containers():
    p = {"a": 1.0, "b": 2.0}
    for mode in ("forward", "reverse"):
        jac = adc.jacobian(C.as_vector_of_dict, mode=mode)(p)
        np.testing.assert_allclose(jac["a"], [2.0, 0.0, 2.0])
        np.testing.assert_allclose(jac["b"], [0.0, 4.0, 1.0])
    h = adc.hessian(C.dict_constant_keys)(p)
    assert h["a"]["a"] == pytest.approx(-np.sin(1.0))
    assert h["a"]["b"] == pytest.approx(1.0) and h["b"]["a"] == pytest.approx(1.0)
    assert h["b"]["b"] == pytest.approx(0.0)


def test_vjp_and_jacobian_of_a_dict_output():
    value, pullback = adc.vjp(C.as_dict, 3.0)
    assert value == {"double": 6.0, "square": 9.0, "both": 27.0}
    (g,) = pullback({"double": 1.0, "square": 0.5, "both": -1.0})
    assert g == pytest.approx(2.0 + 0.5 * 6.0 - 18.0)
    jac = adc.jacobian(C.as_dict)(3.0)
    assert jac == pytest.approx({"double": 2.0, "square": 6.0, "both": 18.0})


def test_jvp_with_a_dict_tangent():
    p = {"a": 1.0, "b": 2.0}
    value, tangent = adc.jvp(C.dict_constant_keys, (p,), ({"a": 1.0, "b": 0.0},))
    assert value == pytest.approx(C.dict_constant_keys(p))
    assert tangent == pytest.approx(2.0 + np.cos(1.0))


def test_jvp_and_vjp_of_a_bound_method():
    p = C.Pendulum(2.0)
    value, tangent = adc.jvp(p.energy, (0.3, 1.1), (1.0, 0.0))
    assert value == pytest.approx(p.energy(0.3, 1.1))
    assert tangent == pytest.approx(9.81 * 2.0 * np.sin(0.3))
    value, pullback = adc.vjp(p.energy, 0.3, 1.1)
    dtheta, domega = pullback(1.0)
    assert dtheta == pytest.approx(9.81 * 2.0 * np.sin(0.3))
    assert domega == pytest.approx(4.0 * 1.1)


def _people_cases():
    r = np.random.default_rng(3)
    return [
        (C.kinetic, ([{"m": 1.5, "v": r.normal(size=3)}, {"m": 0.5, "v": r.normal(size=3)}],), 0),
        (C.pair_potential, ([r.normal(size=2) * 2 for _ in range(4)], 1.0, 0.8), 0),
        (C.pair_potential, ([r.normal(size=2) * 2 for _ in range(4)], 1.0, 0.8), 2),
        (C.sir_loss, (C.SIRParams(0.1, 0.5, 0.2), [0.01, 0.02, 0.03, 0.05]), 0),
        (C.net, ([C.Layer(r.normal(size=(3, 4)), r.normal(size=4)),
                  C.Layer(r.normal(size=(4, 1)), r.normal(size=1))],
                 r.normal(size=(5, 3)), r.normal(size=5)), 0),
        (C.weighted_by_name, ({"a": 0.3, "b": -1.2}, {"a": 2.0, "b": 0.5}), 0),
        (C.weighted_by_name, ({"a": 0.3, "b": -1.2}, {"a": 2.0, "b": 0.5}), 1),
        (C.unpack_dict, ({"a": 0.3, "bc": (1.5, -0.4), "name": "x"},), 0),
    ]


@pytest.mark.parametrize("f,args,wrt", _people_cases(),
                         ids=lambda v: getattr(v, "__name__", None) if callable(v) else "")
def test_functions_as_people_write_them(f, args, wrt):
    """Particles as dicts, a pair potential over a list of positions, an SIR model's
    namedtuple of rates, dataclass layers with a ReLU, dicts indexed by their keys."""
    check(f, args, wrt=wrt, rtol=1e-5, atol=1e-7)


def test_check_grad_keeps_containers_and_methods():
    """check_grad moves each number where it sits: xs + ys still joins lists."""
    assert adc.check_grad(C.concatenated, [1.0, 2.0], [3.0]) < 1e-7
    assert adc.check_grad(C.dict_constant_keys, {"a": 1.2, "b": -0.7}) < 1e-7
    assert adc.check_grad(C.Pendulum(2.0).energy, 0.3, 1.1) < 1e-7


def test_unpacking_or_looping_over_a_dict_gives_its_keys():
    """Python unpacks a dict into its keys, which carry no derivative."""
    d = {0: 5.0, 1: 7.0}
    for mode in MODES:
        value, g = adc.value_and_grad(C.unpack_a_dict, mode=mode)(d)
        assert value == C.unpack_a_dict(d) == 10.0
        assert g == {0: 2.0, 1: 0.0}
        gd, gx = adc.grad(C.loop_over_dict_keys_forward, wrt=(0, 1), mode=mode)({1: 2.0, 3: 4.0}, 0.5)
        assert gd == {1: 0.5, 3: 1.5} and gx == pytest.approx(2.0 + 12.0)
