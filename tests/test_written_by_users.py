"""Functions written the way users write them, differentiated at points on both sides
of their branches.

For each: the gradient in reverse and in forward mode, with respect to every
differentiated input (dicts, namedtuples, dataclasses and lists included), against
central differences; the compiled value against the Python value; for about a third,
the Hessian against differences of the gradient; for vector outputs, the Jacobian in
both modes against differences.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from support import assert_same_tree, jacobian_by_differences, load_fixture, tree_numeric_grad

import ad_compiler as adc

M = load_fixture("users_models")
C = load_fixture("users_code")
L = load_fixture("users_linalg")
P = load_fixture("users_lists")
U = load_fixture("users_more")

RNG = np.random.default_rng(20261203)


def normal(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape)


@dataclass
class Case:
    fn: Callable
    points: list[tuple]
    wrt: Any = 0
    hessian: bool = False


def _mlp_params() -> dict:
    return {"layers": [{"W": normal(3, 4), "b": normal(4)}, {"W": normal(4, 2), "b": normal(2)}],
            "out": normal(2)}


X2 = np.array([0.7, -0.4])
X3 = np.array([0.7, -0.4, 1.1])
EITHER_SIDE = np.array([-2.0, -0.3, 0.4, 1.5, 2.5])

CASES = {
    # users_models: parameters in containers, piecewise NumPy, linear algebra, SciPy
    "mlp_dict": Case(M.mlp_dict, [(_mlp_params(), normal(5, 3), normal(5))]),
    "gaussian_nll": Case(M.gaussian_nll, [(M.Params(0.3, -0.2), normal(6)),
                                          (M.Params(-1.0, 0.4), normal(6))]),
    "spring_energy": Case(M.spring_energy, [(M.Spring(2.0, 1.0), np.array([0., 1.3, 2.1, 3.9]))],
                          wrt=(0, 1)),
    "huber": Case(M.huber, [(EITHER_SIDE, 1.0), (np.array([0.1, -0.7]), 0.5)], wrt=(0, 1),
                  hessian=True),
    "clipped": Case(M.clipped, [(EITHER_SIDE,)], hessian=True),
    "relu_net": Case(M.relu_net, [(np.array([-1.5, 0.4]), 1.3), (np.array([-1.5, 0.4]), -0.8)],
                     wrt=(0, 1), hessian=True),
    "logdet_quad": Case(M.logdet_quad, [(normal(3, 3), normal(3))], wrt=(0, 1), hessian=True),
    "det_inv": Case(M.det_inv, [(normal(3, 3) + 3 * np.eye(3),)], hessian=True),
    "chol_logdet": Case(M.chol_logdet, [(normal(3, 3),)], hessian=True),
    "eig_top": Case(M.eig_top, [(normal(3, 3),)], hessian=True),
    "norms": Case(M.norms, [(normal(6),)]),
    "lse_model": Case(M.lse_model, [(normal(3), normal(4, 3))], wrt=(0, 1), hessian=True),
    "student_logpdf": Case(M.student_logpdf, [(0.3, normal(5))], wrt=(0, 1), hessian=True),
    "reductions": Case(M.reductions, [(normal(4, 3),)]),
    "broadcast_none": Case(M.broadcast_none, [(normal(3), normal(4))], wrt=(0, 1), hessian=True),
    "fancy_reads": Case(M.fancy_reads, [(np.array([0.5, -1.0, 2.0, 0.3, -0.7]),)], hessian=True),
    "einsums": Case(M.einsums, [(normal(2, 3), normal(3, 2))], wrt=(0, 1)),
    "cum_diff": Case(M.cum_diff, [(normal(5),)], hessian=True),
    "joins": Case(M.joins, [(normal(3), normal(3))], wrt=(0, 1)),
    "transpose_reshape": Case(M.transpose_reshape, [(normal(2, 3),)]),
    "powers": Case(M.powers, [(np.array([0.5, 1.2, 2.0]), 1.5), (np.array([0.5, 1.2, 2.0]), 3)]),
    "powers_exponent": Case(M.powers, [(np.array([0.5, 1.2, 2.0]), 1.5)], wrt=1, hessian=True),
    "newton_sqrt": Case(M.newton_sqrt, [(2.0,), (9.0,)], hessian=True),
    "fixed_point": Case(M.fixed_point, [(0.7,), (1.1,)], hessian=True),
    "with_asserts": Case(M.with_asserts, [(np.array([0.5, 2.0]),)]),
    "math_np_mixed": Case(M.math_np_mixed, [(0.3, -0.8), (-0.4, 1.2)], wrt=(0, 1), hessian=True),
    "gen_reductions": Case(M.gen_reductions, [([0.3, -1.5, 0.8],), ((2.0, 0.1, -0.2),)]),
    "sorted_sum": Case(M.sorted_sum, [([0.3, -1.5, 0.8],), ([-0.3, 1.5, 0.8],)]),
    "zip_enum": Case(M.zip_enum, [([0.3, -1.5, 0.8], np.array([1.0, 2.0, 0.5]))], wrt=(0, 1)),
    "dict_comp": Case(M.dict_comp, [(np.array([0.3, -1.5, 0.8]),)], hessian=True),
    "defaults": Case(M.defaults, [(np.array([0.3, -1.5]),), (np.array([0.3, -1.5]), 3.0)]),
    "closures": Case(M.closures, [(np.array([0.3, -1.5]), 0.7)], wrt=(0, 1), hessian=True),
    "lambdas_map": Case(M.lambdas_map, [([0.3, -1.5, 0.8],)]),
    "int_float": Case(M.int_float, [(np.array([0.3, 1.5, 0.8]), 2), (X3, 3)]),
    "float32_in": Case(M.float32_in, [(np.array([0.3, 1.5], dtype=np.float32),)]),
    # users_code: control flow, helpers, slices, SciPy, in-place updates
    "first_negative_penalty": Case(C.first_negative_penalty,
                                   [(np.array([0.3, 0.5, -0.2, 0.4]),), (np.array([0.3, 0.5]),)],
                                   hessian=True),
    "damped_newton": Case(C.damped_newton, [(2.0, 1.0), (27.0, 2.0)], wrt=(0, 1), hessian=True),
    "try_else": Case(C.try_else, [(np.array([0.5, 2.0]),)]),
    "helper_chain": Case(C.helper_chain, [([0.3, -1.2, 0.7], 1.5)], wrt=(0, 1)),
    "slices": Case(C.slices, [(normal(5),)], hessian=True),
    "matrix_slices": Case(C.matrix_slices, [(normal(3, 4),)]),
    "outer_tensordot": Case(C.outer_tensordot, [(normal(3), normal(4))], wrt=(0, 1)),
    "axis_tuples": Case(C.axis_tuples, [(normal(2, 3, 2),)]),
    "special_fns": Case(C.special_fns, [(np.array([0.5, 1.5, 2.5]),)], hessian=True),
    "stats_fns": Case(C.stats_fns, [(np.array([0.2, -0.3]), np.array([0.5, -1.0]))], wrt=(0, 1)),
    "neg_powers": Case(C.neg_powers, [(np.array([0.5, 1.5, 2.5]),)], hessian=True),
    "scalar_branches": Case(C.scalar_branches,
                            [(1.5, 0.5), (0.5, 1.5), (-0.5, 0.7), (0.3, -2.0), (-1.0, -0.5)],
                            wrt=(0, 1), hessian=True),
    "list_aug": Case(C.list_aug, [([0.3, -1.2, 0.7],)]),
    "list_of_arrays": Case(C.list_of_arrays, [([normal(3, 3), normal(2, 3)], normal(3))],
                           wrt=(0, 1)),
    "tuple_returns": Case(C.tuple_returns, [(normal(4),)], hessian=True),
    "softmax_stable": Case(C.softmax_stable, [(normal(3, 4),)], hessian=True),
    "sorting": Case(C.sorting, [(np.array([0.3, -1.2, 0.7, 0.1]),)]),
    "tri_diag": Case(C.tri_diag, [(normal(3),)], hessian=True),
    "matpow": Case(C.matpow, [(normal(3, 3),)]),
    "methods": Case(C.methods, [(normal(3), normal(2, 3))], wrt=(0, 1)),
    "fill_loop": Case(C.fill_loop, [(normal(4),)], hessian=True),
    "build_arr": Case(C.build_arr, [(0.3, -1.2)], wrt=(0, 1), hessian=True),
    "float_conv": Case(C.float_conv, [(normal(3),)]),
    "int_conv": Case(C.int_conv, [(0.37,), (1.23,)]),
    "polyfun": Case(C.polyfun, [(np.array([1.0, -2.0, 0.5]), normal(3))], wrt=(0, 1)),
    "softplus_np": Case(C.softplus_np, [(np.array([-2.0, 0.3, 4.0]),)], hessian=True),
    "masked_mean": Case(C.masked_mean, [(normal(4), np.array([1, 0, 1, 1]))]),
    # users_linalg: views and copies, builders, decompositions
    "sqrt_where": Case(L.sqrt_where, [(np.array([-1.0, 0.5, 2.0]),)], hessian=True),
    "inplace_center": Case(L.inplace_center, [(normal(4),)], hessian=True),
    "copy_write": Case(L.copy_write, [(normal(4), 0.7)], wrt=(0, 1), hessian=True),
    "newaxis_shape": Case(L.newaxis_shape, [(normal(3), normal(2, 3))], wrt=(0, 1)),
    "np_builders": Case(L.np_builders, [(normal(3), 0.7)], wrt=(0, 1)),
    "clip_active": Case(L.clip_active, [(np.array([-2.0, 0.1, 0.7, 3.0]), -1.0, 1.0)],
                        wrt=(0, 1, 2)),
    "any_all": Case(L.any_all, [(np.array([0.3, -1.2]),), (np.array([0.3, -6.2]),)]),
    "take_along": Case(L.take_along, [(normal(3, 3),)]),
    "sum_list_arrays": Case(L.sum_list_arrays, [([normal(2), normal(2)],)]),
    "list_matrix": Case(L.list_matrix, [(normal(2),)]),
    "svd_vals": Case(L.svd_vals, [(normal(3, 2),)]),
    "spectral": Case(L.spectral, [(normal(3, 2),)]),
    "eigvec_feature": Case(L.eigvec_feature, [(normal(3, 3),)]),
    "solve_matrix": Case(L.solve_matrix, [(normal(3, 3), normal(3, 2))], wrt=(0, 1), hessian=True),
    "scipy_linalg": Case(L.scipy_linalg, [(normal(3, 3), normal(3))], wrt=(0, 1)),
    "math_prod_fsum": Case(L.math_prod_fsum, [([0.3, -1.2, 0.7],)]),
    "pinv_fit": Case(L.pinv_fit, [(normal(5, 2), normal(5))], wrt=(0, 1)),
    "qr_fit": Case(L.qr_fit, [(normal(4, 3),)]),
    "picks": Case(L.picks, [(np.array([0.31, -1.23, 0.77]), np.array([[0.1, 2.0], [3.0, -1.0]])),
                            (np.array([-0.31, 1.23, 0.0]), np.array([[2.1, 0.0], [-3.0, 1.0]]))],
                  wrt=(0, 1), hessian=True),
    "integer_buffers": Case(L.integer_buffers, [(0.83,), (1.37,), (-0.63,)], hessian=True),
    "tally_int_counts": Case(L.tally_from_counts, [(0.7, np.array([1, 2, 3])),
                                                   (1.3, np.array([4, 0, 1]))]),
    "tally_float_counts": Case(L.tally_from_counts, [(0.7, np.array([1.0, 2.0, 3.0]))],
                               hessian=True),
    "added_at_int_counts": Case(L.tally_added_at, [(0.7, np.array([1, 2, 3])),
                                                   (-1.3, np.array([4, 0, 1]))]),
    "added_at_float_counts": Case(L.tally_added_at, [(0.7, np.array([1.0, 2.0, 3.0]))],
                                  hessian=True),
    "quantised_in_the_loop": Case(L.quantised_in_the_loop, [(np.array([0.7, 1.3, -0.9]),)]),
    "quantised_after_an_inner_loop": Case(L.quantised_after_an_inner_loop,
                                          [(np.array([0.7, 1.3]),), (np.array([1.9, -0.7]),)]),
    "refill_int_weights": Case(L.refill_weights, [(normal(3), np.array([1, 2, 3]))],
                               hessian=True),
    "refill_float_weights": Case(L.refill_weights, [(normal(3), np.array([1.0, 2.0, 3.0]))],
                                 hessian=True),
}
CASES.update({
    "repeated_index_update": Case(U.repeated_index_update, [(normal(4),)], hessian=True),
    "global_target": Case(U.global_target, [(normal(3),), (normal(3), np.array([1.0, 2.0, 3.0]))],
                          hessian=True),
    "norms_axes": Case(U.norms_axes, [(normal(2, 3),)]),
    "lse_axis": Case(U.lse_axis, [(normal(2, 3), np.array([0.5, 1.0, 2.0]))], wrt=(0, 1)),
    "more_stats": Case(U.more_stats, [(0.3, normal(3)), (-0.4, normal(3))], wrt=(0, 1)),
    "gaussian_density": Case(U.gaussian_density, [(normal(2), normal(2, 2))], wrt=(0, 1),
                             hessian=True),
    "leaky": Case(U.leaky, [(np.array([-1.0, 0.5, 2.0]),)], hessian=True),
    "peaks": Case(U.peaks, [(np.array([0.3, 0.5, -0.2, 0.4]),)], hessian=True),
    "filtered_gen": Case(U.filtered_gen, [([0.3, -0.5, 1.2],), ([0.3, -0.5, 0.2],)]),
    "elementwise_zoo": Case(U.elementwise_zoo, [(np.array([0.3, -1.2]), np.array([0.5, 0.7])),
                                                (np.array([1.3, 0.2]), np.array([-0.5, 0.1]))],
                            wrt=(0, 1)),
    "weighted_ls": Case(U.weighted_ls, [(normal(4, 2), np.array([1.0, 2.0, 0.5, 1.5]), normal(2))],
                        wrt=(0, 1, 2)),
    "spread": Case(U.spread, [(np.array([0.3, -1.2, 0.7, 2.0, 0.1]),)]),
    "running_min": Case(U.running_min, [([0.3, -1.2, 0.7],), ([-0.3, 1.2, 0.7],)]),
    "string_keys": Case(U.string_keys, [({"alpha": 0.3, "beta": -1.2, "gamma": 2.0},)]),
    "regularised_update": Case(U.regularised_update, [({"w": normal(3), "b": 0.4}, 0.1)],
                               wrt=(0, 1)),
    "defaults_merged": Case(U.defaults_merged, [({"w": np.array([-1.0, 0.5, 2.0]), "b": 0.3},)]),
    "snapshot_then_step": Case(U.snapshot_then_step, [({"x": normal(3), "v": normal(3)},)]),
    "piecewise_rate": Case(U.piecewise_rate, [(np.array([-1.5, -0.2, 0.4, 0.9, 1.3, 2.5]),)],
                           hessian=True),
    "gated": Case(U.gated, [(np.array([-1.0, 0.0, 0.5, 0.0]), 0.3),
                            (np.array([-1.0, 0.2, 0.5, 1.0]), 0.3)], wrt=1, hessian=True),
    "nan_tolerant_peak": Case(U.nan_tolerant_peak,
                              [(np.array([-1.5, 0.3, 0.8, 2.0]), np.array([np.nan, 0.7, -1.0, np.nan]))],
                              hessian=True),
    "tuple_layers": Case(U.tuple_layers, [([(0.5, 0.1), (-1.2, 0.3)], np.array([0.2, 0.9]))],
                         wrt=(0, 1)),
})
# users_lists: NumPy functions given plain lists of numbers beside a differentiated array
CASES.update({name: Case(getattr(P, name), [(X3 if name in ("l_interp", "l_polyval") else X2,)],
                         hessian=True)
              for name in dir(P) if name.startswith("l_")})

VECTOR_CASES = {
    "rk4_step": (L.rk4_step, (np.array([0.3, 0.1]), 0.1), 0),
    "rk4_step_dt": (L.rk4_step, (np.array([0.3, 0.1]), 0.1), 1),
    "simulate": (L.simulate, (np.array([0.3, 0.1]), 0.1), 0),
    "softmax_vec": (L.softmax_vec, (normal(4),), 0),
    "polar_r": (L.polar, (1.3, 0.4), 0),
    "polar_theta": (L.polar, (1.3, 0.4), 1),
}


def hessian_by_differences(fn: Callable, args: tuple, k: int, eps: float = 1e-5) -> np.ndarray:
    """d grad / d args[k], column by column, from differences of the reverse gradient."""
    return jacobian_by_differences(adc.grad(fn, wrt=k), args, k, eps)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_in_both_modes_and_value(name: str) -> None:
    case = CASES[name]
    wrts = case.wrt if isinstance(case.wrt, tuple) else (case.wrt,)
    for args in case.points:
        expected = [tree_numeric_grad(case.fn, list(args), k) for k in wrts]
        for mode in ("reverse", "forward"):
            got = adc.grad(case.fn, wrt=case.wrt, mode=mode)(*args)
            got = got if isinstance(case.wrt, tuple) else (got,)
            for g, e in zip(got, expected):
                assert_same_tree(g, e, rtol=1e-5, atol=1e-6, plain=False)
        value, _ = adc.value_and_grad(case.fn, wrt=case.wrt)(*args)
        np.testing.assert_allclose(value, case.fn(*args), rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.hessian))
def test_hessian_against_differences_of_the_gradient(name: str) -> None:
    case = CASES[name]
    k = case.wrt[0] if isinstance(case.wrt, tuple) else case.wrt
    for args in case.points:
        hessian = adc.hessian(case.fn, wrt=k)(*args)
        np.testing.assert_allclose(hessian, hessian_by_differences(case.fn, args, k),
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(VECTOR_CASES))
def test_jacobian_of_vector_outputs_in_both_modes(name: str) -> None:
    fn, args, k = VECTOR_CASES[name]
    expected = jacobian_by_differences(fn, list(args), k)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(adc.jacobian(fn, wrt=k, mode=mode)(*args), expected,
                                   rtol=1e-5, atol=1e-7)


CASES.update({
    "unpack_pair": Case(C.unpack_pair, [([0.3, -1.2],), (np.array([0.8, 2.0]),), ((1.5, 0.5),)],
                        ),
    "unpack_halves": Case(C.unpack_halves, [(normal(4),)], hessian=True),
    "first_last": Case(C.first_last, [([0.5, 2.0, 3.0, -1.0],), (np.array([0.5, 2.0]),),
                                      ((0.5, -2.0, 1.5),)]),
    "lstsq_fit": Case(C.lstsq_fit, [(normal(5, 2), normal(5))], wrt=(0, 1)),
    "weighted_tail": Case(C.weighted_tail, [(np.array([1.0, -2.0, 3.0]),), ([2.0],)],
                          hessian=True),
    "shape_unpack": Case(C.shape_unpack, [(normal(2, 3),)], hessian=True),
    "literal_star": Case(C.literal_star, [(0.3, 1.4)], wrt=(0, 1), hessian=True),
})


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn, args", [
    ("unpack_pair", ([0.3, -1.2, 0.5],)), ("unpack_pair", (np.array([0.3, -1.2, 0.5]),)),
    ("unpack_pair", ([0.3],)), ("unpack_halves", (np.arange(6.0), 3)),
    ("first_last", ([0.3],)), ("shape_unpack", (np.ones((2, 3, 1)),))])
def test_unpacking_the_wrong_number_of_items_raises_as_python_does(fn: str, args: tuple,
                                                                    mode: str) -> None:
    """``a, b = x`` takes the items one by one; with three (or one) items it must raise
    Python's ValueError, not run on the first two."""
    function = getattr(C, fn)
    with pytest.raises(ValueError) as python:
        function(*args)
    with pytest.raises(ValueError, match="values to unpack") as compiled:
        adc.grad(function, mode=mode)(*args)
    # (before 3.11, which has no exception notes, the message's next lines say where
    # in the generated code it was raised)
    assert str(compiled.value).splitlines()[0] == str(python.value)


def test_a_refusal_inside_the_standard_library_is_said_at_the_users_call() -> None:
    """statistics.stdev's own code cannot be differentiated: the error points at the
    line of the user's function that calls it, and names the way out."""
    with pytest.raises(adc.ADCompileError) as refused:
        adc.grad(U.statistics_spread)([0.3, 1.2, 0.7])
    error = refused.value
    assert error.filename == U.__file__
    assert U.__file__ and "statistics.stdev(xs)" in error.source_line
    assert "'statistics.stdev' comes from Python's standard library" in error.what
    assert "adc.stop_gradient" in error.hint
