"""The vector-mode forms of batched_shaping.py, batched_products.py, batched_signals.py
and batched_statistics.py against the unbatched function applied to each direction in
turn (the results stacked on a last axis), on random inputs of several shapes and axes
(negative, None, tuple and keyword axes).  tests/test_batched_sweeps.py takes Hessians
and batched pullbacks through them."""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import scipy.linalg

import ad_compiler as adc
from ad_compiler import batched_products as bp
from ad_compiler import batched_shaping as bs
from ad_compiler import batched_signals as bsig
from ad_compiler import batched_statistics as bst
from ad_compiler import runtime_arrays as ra
from ad_compiler import runtime_npmath as rn
from ad_compiler import runtime_products as rp
from ad_compiler import runtime_shapes as rsh
from ad_compiler import runtime_stats as rts

DIRECTIONS = 3


def _random(shape: tuple, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def _stacked(fn, args: list, k: int) -> np.ndarray:
    """`fn` on each direction of argument `k` in turn, the results stacked last."""
    results = []
    for d in range(np.shape(args[k])[-1]):
        one = [a[..., d] if j == k else a for j, a in enumerate(args)]
        results.append(np.asarray(fn(*one)))
    return np.stack(results, axis=-1)


def _check(batched_fn, fn, args: list, position: int, **kwargs) -> None:
    """`batched_fn` with argument `position` batched equals `fn` stacked over its
    directions."""
    args, k = list(args), position
    args[k] = _random(np.shape(args[k]) + (DIRECTIONS,), 7 + len(np.shape(args[k])))
    expected = _stacked(lambda *a: fn(*a, **kwargs), args, k)
    got = batched_fn(*args, **kwargs)
    assert np.shape(got) == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _x(*shape: int) -> np.ndarray:
    return _random(shape, sum(shape) + len(shape))


# ------------------------------------------------------------------ one operand, batched

SHAPING = [  # (batched form, NumPy's, arguments, keyword arguments)
    (bs.batched_flip, np.flip, (_x(4),), {}),
    (bs.batched_flip, np.flip, (_x(2, 3),), {"axis": None}),
    (bs.batched_flip, np.flip, (_x(2, 3), 0), {}),
    (bs.batched_flip, np.flip, (_x(2, 3, 4),), {"axis": -1}),
    (bs.batched_flip, np.flip, (_x(2, 3, 4),), {"axis": (0, -1)}),
    (bs.batched_fliplr, np.fliplr, (_x(2, 3),), {}),
    (bs.batched_fliplr, np.fliplr, (_x(2, 3, 4),), {}),
    (bs.batched_flipud, np.flipud, (_x(3),), {}),
    (bs.batched_flipud, np.flipud, (_x(2, 3),), {}),
    (bs.batched_rot90, np.rot90, (_x(2, 3),), {}),
    (bs.batched_rot90, np.rot90, (_x(2, 3), -1), {}),
    (bs.batched_rot90, np.rot90, (_x(2, 3), 2), {}),
    (bs.batched_rot90, np.rot90, (_x(2, 3, 4), 3), {"axes": (0, -1)}),
    (bs.batched_rot90, np.rot90, (_x(2, 3, 4), 1, (-1, 1)), {}),
    (bs.batched_roll, np.roll, (_x(5), 2), {}),
    (bs.batched_roll, np.roll, (_x(2, 3), -1), {"axis": None}),
    (bs.batched_roll, np.roll, (_x(2, 3), 1), {"axis": -1}),
    (bs.batched_roll, np.roll, (_x(2, 3, 4), (1, 2)), {"axis": (0, -1)}),
    (bs.batched_roll, np.roll, (_x(2, 3), (1, 2)), {"axis": None}),
    (bs.batched_moveaxis, np.moveaxis, (_x(2, 3, 4), 0, -1), {}),
    (bs.batched_moveaxis, np.moveaxis, (_x(2, 3, 4), (0, 1), (-1, 0)), {}),
    (bs.batched_moveaxis, np.moveaxis, (_x(2, 3, 4),), {"source": -1, "destination": 0}),
    (bs.batched_rollaxis, np.rollaxis, (_x(2, 3, 4), -1), {}),
    (bs.batched_rollaxis, np.rollaxis, (_x(2, 3, 4), 0, 3), {}),
    (bs.batched_rollaxis, np.rollaxis, (_x(2, 3, 4), 1), {"start": -1}),
    (bs.batched_rollaxis, np.rollaxis, (_x(2, 3, 4), 2, -3), {}),
    (bs.batched_tril, np.tril, (_x(4),), {}),
    (bs.batched_tril, np.tril, (_x(4), 1), {}),
    (bs.batched_tril, np.tril, (_x(3, 4),), {"k": -1}),
    (bs.batched_tril, np.tril, (_x(2, 3, 3),), {}),
    (bs.batched_triu, np.triu, (_x(4),), {"k": -1}),
    (bs.batched_triu, np.triu, (_x(3, 4), 2), {}),
    (bs.batched_triu, np.triu, (_x(2, 3, 3),), {}),
    (bs.batched_diag, np.diag, (_x(3),), {}),
    (bs.batched_diag, np.diag, (_x(3), 1), {}),
    (bs.batched_diag, np.diag, (_x(3),), {"k": -2}),
    (bs.batched_diag, np.diag, (_x(3, 4),), {}),
    (bs.batched_diag, np.diag, (_x(3, 4), 1), {}),
    (bs.batched_diag, np.diag, (_x(3, 4),), {"k": -1}),
    (bs.batched_diagflat, np.diagflat, (_x(2, 2), 1), {}),
    (bs.batched_diagflat, np.diagflat, (_x(3),), {"k": -1}),
    (bs.batched_diagonal, np.diagonal, (_x(3, 4),), {}),
    (bs.batched_diagonal, np.diagonal, (_x(2, 3, 4), 1, -1, 0), {}),
    (bs.batched_diagonal, np.diagonal, (_x(2, 3, 4),), {"offset": -1, "axis1": 2, "axis2": 1}),
    (bs.batched_take, np.take, (_x(5), [0, 4, 4]), {}),
    (bs.batched_take, np.take, (_x(2, 3), [[2, 0], [1, 5]]), {"axis": None}),
    (bs.batched_take, np.take, (_x(2, 3), [2, 0, 2], 1), {}),
    (bs.batched_take, np.take, (_x(2, 3), [2, 0, 2]), {"axis": -1}),
    (bs.batched_take, np.take, (_x(3, 4, 2), 1), {"axis": 0}),
    (bs.batched_take_along_axis, np.take_along_axis,
     (_x(3, 4), np.array([[2, 0], [1, 1], [3, 3]])), {"axis": 1}),
    (bs.batched_take_along_axis, np.take_along_axis,
     (_x(3, 4), np.array([[2, 0, 1, 1], [0, 0, 2, 1]])), {"axis": -2}),
    (bs.batched_take_along_axis, np.take_along_axis,
     (_x(3, 4), np.array([[2, 0]])), {"axis": 1}),
    (bs.batched_take_along_axis, np.take_along_axis,
     (_x(2, 3), np.array([5, 0, 0])), {"axis": None}),
    (bs.batched_repeat, np.repeat, (_x(3), 2), {}),
    (bs.batched_repeat, np.repeat, (_x(2, 3), [1, 0, 2], 1), {}),
    (bs.batched_repeat, np.repeat, (_x(2, 3), 3), {"axis": -2}),
    (bs.batched_repeat, np.repeat, (_x(2, 3), [1, 2, 0, 1, 1, 1]), {"axis": None}),
    (bs.batched_tile, np.tile, (_x(3), 2), {}),
    (bs.batched_tile, np.tile, (_x(2, 3), (2, 1, 2)), {}),
    (bs.batched_tile, np.tile, (_x(2, 3, 2),), {"reps": (2,)}),
    (bs.batched_tile, np.tile, (_x(), 3), {}),
    (bs.batched_cumsum, np.cumsum, (_x(2, 3),), {}),
    (bs.batched_cumsum, np.cumsum, (_x(2, 3), 0), {}),
    (bs.batched_cumsum, np.cumsum, (_x(2, 3),), {"axis": -1}),
    (bs.batched_cumsum, np.cumsum, (_x(),), {"axis": None}),
    (bs.batched_item, ra.item, (_x(1, 1),), {}),
    (bs.batched_item, ra.item, (_x(1),), {}),
]
for _fn, _ref in [(bs.batched_atleast_1d, np.atleast_1d), (bs.batched_atleast_2d, np.atleast_2d),
                  (bs.batched_atleast_3d, np.atleast_3d)]:
    SHAPING += [(_fn, _ref, (_x(*shape),), {}) for shape in [(), (3,), (2, 3), (2, 3, 4)]]


@pytest.mark.parametrize("batched_fn, fn, args, kwargs", SHAPING,
                         ids=[f"{c[1].__name__}-{k}" for k, c in enumerate(SHAPING)])
def test_shaping_forms_equal_the_function_on_each_direction(batched_fn, fn, args, kwargs):
    _check(batched_fn, fn, args, 0, **kwargs)


def test_axes_out_of_range_are_refused_not_read_as_the_directions():
    t = _random((2, 3, DIRECTIONS), 1)
    for call in (lambda: bs.batched_flip(t, axis=2), lambda: bs.batched_cumsum(t, axis=-3),
                 lambda: bs.batched_take(t, [0], axis=2),
                 lambda: bs.batched_moveaxis(t, 0, 2)):
        with pytest.raises(np.exceptions.AxisError):
            call()


# ------------------------------------------------------------------ run-time adjoints

ADJOINTS = [  # (batched form, the helper, arguments; the first, g, batched)
    (bs.batched_trace_adjoint, ra.trace_adjoint, (_x(), _x(3, 3))),
    (bs.batched_trace_adjoint, ra.trace_adjoint, (_x(3), _x(2, 3, 4), 1, -1, 0)),
    (bs.batched_trace_adjoint, ra.trace_adjoint, (_x(2), _x(3, 2, 4), -1, 2, -3)),
    (bs.batched_diagonal_adjoint, rsh.diagonal_adjoint, (_x(3), _x(3, 4), 1)),
    (bs.batched_diagonal_adjoint, rsh.diagonal_adjoint, (_x(2, 2), _x(3, 2, 4), -1, 2, -3)),
    (bs.batched_diag_adjoint, rsh.diag_adjoint, (_x(4, 4), _x(3), 1)),
    (bs.batched_diag_adjoint, rsh.diag_adjoint, (_x(2), _x(3, 4), -1)),
    (bs.batched_take_adjoint, rsh.take_adjoint, (_x(2, 3), _x(2, 3), [2, 0, 2], 1)),
    (bs.batched_take_adjoint, rsh.take_adjoint, (_x(2, 2), _x(2, 3), [[0, 5], [5, 1]])),
    (bs.batched_take_adjoint, rsh.take_adjoint, (_x(3, 3), _x(2, 3), [1, 1, 0], -2)),
    (bs.batched_take_along_axis_adjoint, rsh.take_along_axis_adjoint,
     (_x(3, 2), _x(3, 4), np.array([[2, 0], [1, 1], [3, 3]]), 1)),
    (bs.batched_take_along_axis_adjoint, rsh.take_along_axis_adjoint,
     (_x(3, 2), _x(3, 4), np.array([[2, 2]]), -1)),
    (bs.batched_take_along_axis_adjoint, rsh.take_along_axis_adjoint,
     (_x(3, 4), _x(1, 4), np.array([[0], [0], [0]]), 0)),
    (bs.batched_take_along_axis_adjoint, rsh.take_along_axis_adjoint,
     (_x(3), _x(2, 3), np.array([5, 0, 0]), None)),
    (bs.batched_repeat_adjoint, ra.repeat_adjoint, (_x(2, 3), _x(2, 3), [1, 0, 2], 1)),
    (bs.batched_repeat_adjoint, ra.repeat_adjoint, (_x(12), _x(2, 3), 2)),
    (bs.batched_repeat_adjoint, ra.repeat_adjoint, (_x(6, 3), _x(2, 3), 3, -2)),
    (bs.batched_tile_adjoint, ra.tile_adjoint, (_x(2, 2, 6), _x(2, 3), (2, 1, 2))),
    (bs.batched_tile_adjoint, ra.tile_adjoint, (_x(6), _x(3), 2)),
    (bs.batched_tile_adjoint, ra.tile_adjoint, (_x(4, 3, 2), _x(2, 3, 2), (2,))),
    (bs.batched_append_adjoint, rsh.append_adjoint, (_x(3, 3), _x(2, 3), _x(1, 3), 0, 0)),
    (bs.batched_append_adjoint, rsh.append_adjoint, (_x(3, 3), _x(2, 3), _x(1, 3), -2, 1)),
    (bs.batched_append_adjoint, rsh.append_adjoint, (_x(10), _x(2, 3), _x(4), None, 1)),
    (bs.batched_append_adjoint, rsh.append_adjoint, (_x(10), _x(2, 3), _x(4), None, 0)),
]


ADJOINTS += [
    (bs.batched_diff_adjoint, rsh.diff_adjoint, (_x(2, 4), _x(2, 5), 1, -1, None, None, 0)),
    (bs.batched_diff_adjoint, rsh.diff_adjoint, (_x(4, 3), _x(4, 3), 2, 0, _x(1, 3), _x(), 0)),
    (bs.batched_diff_adjoint, rsh.diff_adjoint, (_x(4, 3), _x(4, 3), 2, 0, _x(1, 3), _x(), 1)),
    (bs.batched_diff_adjoint, rsh.diff_adjoint, (_x(4, 3), _x(4, 3), 2, -2, _x(1, 3), _x(), 2)),
    (bs.batched_unpad, rsh.unpad, (_x(5, 4), _x(2, 3), ((1, 2), (0, 1)))),
    (bs.batched_unpad, rsh.unpad, (_x(6), _x(2), 2)),
    (bs.batched_pad_adjoint, rsh.pad_adjoint, (_x(5, 4), _x(2, 3), ((1, 2), (0, 1)), "edge")),
    (bs.batched_pad_adjoint, rsh.pad_adjoint, (_x(7), _x(3), 2, "wrap")),
    (bs.batched_pad_adjoint, rsh.pad_adjoint, (_x(7, 3), _x(3, 3), ((2, 2), (0, 0)), "reflect")),
    (ra.cast_like, ra.cast_like, (_x(2, 3), np.zeros((2, 3), np.float32))),
    (ra.cast_like, ra.cast_like, (_x(), np.float32(1.0))),
    (bs.batched_linspace_adjoint, rp.linspace_adjoint, (_x(5), 0, 0.5, 2.0, 5)),
    (bs.batched_linspace_adjoint, rp.linspace_adjoint, (_x(2, 4), 1, _x(2), 3.0, 4, False, -1)),
    (bs.batched_linspace_adjoint, rp.linspace_adjoint, (_x(3, 2), 0, _x(2), _x(2), 3)),
    (bsig.batched_gradient_adjoint_f, rn.gradient_adjoint_f, (_x(7), _x(7))),
    (bsig.batched_gradient_adjoint_f, rn.gradient_adjoint_f, (_x(3, 6), _x(3, 6), 0.5, -1, 2)),
    (bsig.batched_gradient_adjoint_f, rn.gradient_adjoint_f, (_x(4, 3), _x(4, 3), None, 0)),
    (bst.batched_prod_adjoint, rp.prod_adjoint, (_x(), _x(2, 3), np.prod(_x(2, 3)))),
    (bst.batched_prod_adjoint, rp.prod_adjoint,
     (_x(3), _x(2, 3), np.prod(_x(2, 3), axis=0), 0)),
    (bst.batched_prod_adjoint, rp.prod_adjoint,
     (_x(2, 1), np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]]), np.zeros((2, 1)), -1, True)),
    (bst.batched_quantile_tangent, rn.quantile_tangent, (_x(3, 4), _x(3, 4), 0.3)),
    (bst.batched_quantile_tangent, rn.quantile_tangent, (_x(3, 4), _x(3, 4), [0.2, 0.5], -1)),
    (bst.batched_quantile_tangent, rn.quantile_tangent,
     (_x(2, 3, 4), _x(2, 3, 4), np.array([[0.1], [0.9]]), (0, 2), True)),
    (bst.batched_quantile_adjoint, rn.quantile_adjoint, (_x(), _x(3, 4), 0.3)),
    (bst.batched_quantile_adjoint, rn.quantile_adjoint, (_x(2, 3), _x(3, 4), [0.2, 0.5], -1)),
    (bst.batched_quantile_adjoint, rn.quantile_adjoint,
     (_x(2, 1, 3, 1), _x(2, 3, 4), np.array([[0.1], [0.9]]), (0, 2), True)),
    (bst.batched_quantile_adjoint, rn.quantile_adjoint, (_x(3), _x(3, 4), 0.5, (1,))),
    (bst.batched_cov_rows_adjoint, rn.cov_rows_adjoint, (_x(3, 4), _x(4, 3), False)),
    (bst.batched_cov_rows_adjoint, rn.cov_rows_adjoint, (_x(1, 4), _x(4), True)),
    (bst.batched_cov_rows_adjoint, rn.cov_rows_adjoint, (_x(3, 4), _x(3, 4), True)),
    (bst.batched_covariance_adjoint, rts.covariance_adjoint, (_x(3, 3), _x())),
    (bst.batched_covariance_adjoint, rts.covariance_adjoint, (_x(3, 3), _x(3))),
    (bst.batched_covariance_adjoint, rts.covariance_adjoint, (_x(3, 3), _x(3, 3))),
]


XP = np.array([0.0, 1.0, 1.5, 3.0])
XQ = np.array([-0.5, 0.0, 0.3, 1.0, 1.7, 2.0, 2.5, 3.0, 3.2])
ADJOINTS += [
    (bsig.batched_interp_slope_adjoint, rn.interp_slope_adjoint, (_x(9), XQ, XP, _x(4))),
    (bsig.batched_interp_slope_adjoint, rn.interp_slope_adjoint,
     (_x(3, 3), XQ.reshape(3, 3), XP, _x(4))),
    (bsig.batched_interp_slope_adjoint, rn.interp_slope_adjoint, (_x(9), XQ, XP[:1], _x(1))),
    (bsig.batched_interp_adjoint_fp, rn.interp_adjoint_fp, (_x(9), XQ, XP, _x(4))),
    (bsig.batched_interp_adjoint_fp, rn.interp_adjoint_fp, (_x(9), XQ, XP, _x(4), 2.0, None)),
    (bsig.batched_interp_adjoint_fp, rn.interp_adjoint_fp,
     (_x(3, 3), XQ.reshape(3, 3), XP, _x(4), None, -1.0)),
    (bsig.batched_interp_adjoint_fp, rn.interp_adjoint_fp, (_x(9), XQ, XP[:1], _x(1), 0.0)),
    (bsig.batched_polyval_adjoint_p, rn.polyval_adjoint_p, (_x(2, 3), _x(4), _x(2, 3))),
    (bsig.batched_polyval_adjoint_p, rn.polyval_adjoint_p, (_x(), _x(3), _x())),
    (rn.polyder_t, rn.polyder_t, (_x(3), _x(4))),
]


@pytest.mark.parametrize("batched_fn, fn, args", ADJOINTS,
                         ids=[f"{c[1].__name__}-{k}" for k, c in enumerate(ADJOINTS)])
def test_adjoint_forms_equal_the_helper_on_each_direction(batched_fn, fn, args):
    _check(batched_fn, fn, args, 0)


@pytest.mark.parametrize("x, xp, ends", [
    (XQ, XP, {}), (XQ.reshape(3, 3), XP, {"left": 0.0}), (XQ, XP, {"right": 2.0, "left": -1.0}),
    (1.2, XP, {}), (XQ, XP[:1], {}), (XQ, XP[:1], {"left": 0.0, "right": 0.0})])
def test_interp_and_its_slope_of_batched_values(x, xp, ends):
    fp = _random(np.shape(xp), 4)
    _check(bsig.batched_interp, np.interp, [x, xp, fp], 2, **ends)
    _check(bsig.batched_interp_slope, rn.interp_slope, [x, xp, fp], 2)


@pytest.mark.parametrize("p, x", [(_x(4), _x(2, 3)), (_x(1), _x()), (_x(3), 0.5),
                                  (_x(3, 2), _x(2)), (_x(0), _x(3))])
def test_polyval_and_polyder_of_batched_coefficients(p, x):
    _check(bsig.batched_polyval, np.polyval, [p, x], 0)
    if np.shape(p)[0]:
        _check(rn.polyder_coefficients, rn.polyder_coefficients, [p], 0)


@pytest.mark.parametrize("x, rowvar", [(_x(4), True), (_x(3, 4), True), (_x(3, 4), False),
                                     (_x(1, 4), False), (_x(), True)])
def test_cov_rows(x, rowvar):
    _check(bst.batched_cov_rows, rn.cov_rows, [x, rowvar], 0)


@pytest.mark.parametrize("cov", [_x(), _x(3), _x(3, 3)])
def test_covariance_matrix(cov):
    _check(bst.batched_covariance_matrix, rts.covariance_matrix, [cov, 3], 0)


@pytest.mark.parametrize("shape, n, axis, ends", [
    ((5,), 1, -1, {}), ((2, 4), 2, 0, {"prepend": _x(1, 4)}), ((2, 4), 1, -1, {"append": _x()}),
    ((2, 4), 3, 1, {"prepend": _x(), "append": _x(2, 2)}), ((3,), 0, 0, {"prepend": _x()})])
def test_diff_with_any_of_its_parts_batched(shape, n, axis, ends):
    a = _x(*shape)
    names = ["a", *ends]
    for batched_part in names:
        parts = {"a": a, **ends}
        args = [parts["a"], n, axis, parts.get("prepend"), parts.get("append")]
        k = {"a": 0, "prepend": 3, "append": 4}[batched_part]
        _check(functools.partial(bs.batched_diff, (k,)), _diff_of, args, k)
    both = {name: _random(np.shape(v) + (DIRECTIONS,), 3) for name, v in {"a": a, **ends}.items()}
    args = [both["a"], n, axis, both.get("prepend"), both.get("append")]
    positions = tuple(k for k, name in ((0, "a"), (3, "prepend"), (4, "append")) if name in both)
    expected = np.stack([_diff_of(*[v[..., d] if isinstance(v, np.ndarray) and j in positions
                                    else v for j, v in enumerate(args)])
                         for d in range(DIRECTIONS)], axis=-1)
    np.testing.assert_allclose(bs.batched_diff(positions, *args), expected, rtol=1e-12)


def _diff_of(a, n, axis, prepend, append):
    ends = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}
    return np.diff(a, n, axis, **ends)


@pytest.mark.parametrize("arr, values, axis", [
    (_x(2, 3), _x(1, 3), 0), (_x(2, 3), _x(2, 1), -1), (_x(2, 3), _x(4), None),
    (_x(3), _x(), None)])
def test_append_with_either_part_or_both_batched(arr, values, axis):
    _check(functools.partial(bs.batched_append, directions_in=0), np.append,
           [arr, values], 0, axis=axis)
    _check(functools.partial(bs.batched_append, directions_in=1), np.append,
           [arr, values], 1, axis=axis)
    both = [_random(np.shape(x) + (DIRECTIONS,), k) for k, x in enumerate((arr, values))]
    expected = np.stack([np.append(both[0][..., d], both[1][..., d], axis=axis)
                         for d in range(DIRECTIONS)], axis=-1)
    np.testing.assert_allclose(bs.batched_append(*both, axis, 2), expected, rtol=1e-12)


_INSERTS = [  # (arr, obj, values, axis): NumPy's placements, broadcasting included
    (_x(2, 3), 1, _x(3), 0), (_x(2, 3), [0, 2], _x(2, 2), 1), (_x(2, 3), 3, _x(), 1),
    (_x(5), [1, 3], _x(2), None), (_x(2, 3), [4, 4, 0], _x(3), None),
    (_x(2, 3), slice(0, 2), _x(2), -1), (_x(3, 2), -1, _x(1, 2), 0),
    (_x(2, 2, 2), [1], _x(2, 1, 2), 1), (_x(4), np.array([2]), _x(), 0)]


@pytest.mark.parametrize("arr, obj, values, axis", _INSERTS)
def test_insert_with_either_part_or_both_batched(arr, obj, values, axis):
    """Every direction at once, gathered where NumPy puts the elements; and its
    adjoint for each part, against np.insert and insert_adjoint direction by direction."""
    def insert(arr, values):
        return np.insert(arr, obj, values, axis)

    for which in (0, 1):
        _check(lambda a, v, which=which: bs.batched_insert(a, obj, v, axis, which),
               insert, [arr, values], which)
    both = [_random(np.shape(x) + (DIRECTIONS,), k) for k, x in enumerate((arr, values))]
    expected = np.stack([insert(both[0][..., d], both[1][..., d])
                         for d in range(DIRECTIONS)], axis=-1)
    np.testing.assert_array_equal(bs.batched_insert(both[0], obj, both[1], axis, 2), expected)
    g = insert(arr, values)
    for which in (0, 1):
        _check(lambda g, which=which: bs.batched_insert_adjoint(g, arr, obj, values, axis,
                                                                which),
               lambda g, which=which: rn.insert_adjoint(g, arr, obj, values, axis, which),
               [g], 0)


# ------------------------------------------------------------------ products


def _both_operands(batched_fn, fn, a, b, **kwargs):
    """A product with each operand batched in turn (``directions_in`` 0 and 1)."""
    for k in (0, 1):
        _check(functools.partial(batched_fn, directions_in=k), fn, [a, b], k, **kwargs)


def _adjoint_pair(batched_a, batched_b, adjoint_a, adjoint_b, g, a, b, *rest):
    """The adjoints of both operands, with `g` or the other operand batched."""
    for k in (0, 2):
        _check(functools.partial(batched_a, directions_in=k), adjoint_a, [g, a, b, *rest], k)
    for k in (0, 1):
        _check(functools.partial(batched_b, directions_in=k), adjoint_b, [g, a, b, *rest], k)


@pytest.mark.parametrize("a, b, axes", [
    (_x(2, 3), _x(3, 4), 1), (_x(2, 3, 4), _x(3, 4, 5), 2), (_x(3, 2), _x(4, 3), ((0,), (1,))),
    (_x(2, 3, 4), _x(4, 2, 5), ([-1, 0], [0, -2])), (_x(2), _x(3), 0), (_x(2, 3), _x(2, 3), 2)])
def test_tensordot_and_its_adjoints(a, b, axes):
    _both_operands(bp.batched_tensordot, np.tensordot, a, b, axes=axes)
    g = _random(np.shape(np.tensordot(a, b, axes)), 3)
    _adjoint_pair(bp.batched_tensordot_adjoint_a, bp.batched_tensordot_adjoint_b,
                  rn.tensordot_adjoint_a, rn.tensordot_adjoint_b, g, a, b, axes)


@pytest.mark.parametrize("a, b", [(_x(2, 3), _x(2, 2)), (_x(3), _x(2, 2)), (_x(), _x(3)),
                                  (_x(2, 1, 3), _x(2, 2)), (_x(2), _x(3))])
def test_kron_and_its_adjoints(a, b):
    _both_operands(bp.batched_kron, np.kron, a, b)
    g = _random(np.shape(np.kron(a, b)), 4)
    _adjoint_pair(bp.batched_kron_adjoint_a, bp.batched_kron_adjoint_b,
                  rn.kron_adjoint_a, rn.kron_adjoint_b, g, a, b)


@pytest.mark.parametrize("a, b", [(_x(2, 3), _x(6)), (_x(4), _x(4)), (_x(3, 2), _x(2, 3))])
def test_vdot_and_its_adjoints(a, b):
    _both_operands(bp.batched_vdot, np.vdot, a, b)
    _adjoint_pair(bp.batched_vdot_adjoint_a, bp.batched_vdot_adjoint_b,
                  rn.vdot_adjoint_a, rn.vdot_adjoint_b, _x(), a, b)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n, m", [(5, 3), (3, 5), (4, 4), (1, 4), (6, 1), (4, 7)])
def test_convolve_correlate_and_their_adjoints(n, m, mode):
    a, v = _random((n,), n), _random((m,), 10 + m)
    _both_operands(bp.batched_convolve, np.convolve, a, v, mode=mode)
    _both_operands(bp.batched_correlate, np.correlate, a, v, mode=mode)
    g = _random(np.shape(np.convolve(a, v, mode)), 5)
    _adjoint_pair(bp.batched_convolve_adjoint_a, bp.batched_convolve_adjoint_v,
                  rn.convolve_adjoint_a, rn.convolve_adjoint_v, g, a, v, mode)
    g = _random(np.shape(np.correlate(a, v, mode)), 6)
    _adjoint_pair(bp.batched_correlate_adjoint_a, bp.batched_correlate_adjoint_v,
                  rn.correlate_adjoint_a, rn.correlate_adjoint_v, g, a, v, mode)


@pytest.mark.parametrize("y, x, dx, axis", [
    (_x(5), None, 0.5, -1), (_x(2, 5), np.cumsum(_x(5) ** 2), 1.0, -1),
    (_x(5, 2), np.cumsum(_x(5) ** 2), 1.0, 0), (_x(2, 5), _x(2, 5), 1.0, 1),
    (_x(2, 5), _x(1, 5), 1.0, -1), (_x(3, 4), None, _x(3, 1), -1), (_x(3, 4), None, _x(), 0),
    (_x(2, 3, 4), None, 0.3, 1), (_x(2, 3, 4), _x(3, 1), 2.0, -2), (_x(4), _x(4), _x(), 0)])
def test_trapezoid_and_its_adjoints(y, x, dx, axis):
    kwargs = {"axis": axis}
    with_x = x is not None
    for k, name in enumerate(("y", "x", "dx")):
        if name == "x" and not with_x:
            continue
        _check(functools.partial(bsig.batched_trapezoid, directions_in=k),
               lambda y, x, dx, axis: np.trapezoid(y, x, dx, axis=axis), [y, x, dx], k, **kwargs)
    g = _random(np.shape(np.trapezoid(y, x, dx, axis=axis)), 11)
    args = [g, y, x, dx]
    for batched_fn, fn, mine in [(bsig.batched_trapezoid_adjoint_y, rn.trapezoid_adjoint_y, 1),
                                 (bsig.batched_trapezoid_adjoint_x, rn.trapezoid_adjoint_x, 2),
                                 (bsig.batched_trapezoid_adjoint_dx, rn.trapezoid_adjoint_dx, 3)]:
        if mine == 2 and not with_x:
            continue
        for k in (0, 1, 2, 3):
            if k == mine or (k == 2 and not with_x):
                continue
            _check(functools.partial(batched_fn, directions_in=k), fn, args, k, axis=axis)


def test_forward_mode_of_trapezoid_with_x_reads_no_dx():
    """np.trapezoid ignores dx where x is given: its tangent in dx is zero there."""
    coordinates = np.array([0.0, 0.5, 1.5])

    def f(y, d):
        return np.trapezoid(y * d, coordinates, dx=d)

    y, d = np.array([1.0, 2.0, 3.0]), 0.7
    expected = (f(y, d + 1e-6) - f(y, d - 1e-6)) / 2e-6
    for mode in ("forward", "reverse"):
        assert abs(adc.grad(f, wrt=1, mode=mode)(y, d) - expected) < 1e-7


@pytest.mark.parametrize("a, b, axes", [
    (_x(3), _x(3), {}), (_x(2, 3), _x(3), {}), (_x(3), _x(4, 3), {}), (_x(2), _x(2), {}),
    (_x(4, 2), _x(3), {}), (_x(3, 4), _x(4, 3), {"axisa": 0}),
    (_x(3, 2), _x(3, 2), {"axis": 0}), (_x(2, 3), _x(3), {"axisc": 0}),
    (_x(2, 1, 3), _x(4, 3), {"axisc": -2}), (_x(3, 2, 2), _x(2, 2), {"axisa": 0, "axisb": -2}),
    (_x(3, 4), _x(2, 4, 3), {"axisa": -2, "axisc": 1})])
def test_cross_and_its_adjoints(a, b, axes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (NumPy 2 on 2-vectors)
        try:
            np.cross(a, b, **axes)
        except ValueError:  # NumPy 2.5 and later refuse 2-vectors
            pytest.skip("this NumPy has no cross product of 2-vectors")
        _both_operands(bp.batched_cross, np.cross, a, b, **axes)
        g = _random(np.shape(np.cross(a, b, **axes)), 8)
        full = {"axisa": -1, "axisb": -1, "axisc": -1, "axis": None, **axes}
        rest = [full[k] for k in ("axisa", "axisb", "axisc", "axis")]
        _adjoint_pair(bp.batched_cross_adjoint_a, bp.batched_cross_adjoint_b,
                      rn.cross_adjoint_a, rn.cross_adjoint_b, g, a, b, *rest)


@pytest.mark.parametrize("spec, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,j->i", [(2, 3), (3,)]), ("i,i->", [(4,), (4,)]),
    ("ij->", [(2, 3)]), ("ij,jk", [(2, 3), (3, 4)]), ("ijk,jk->i", [(2, 3, 4), (3, 4)]),
    ("...ij,jk->...ik", [(1, 2, 3), (3, 4)]), ("...ij,...jk->...ik", [(2, 2, 3), (1, 3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("ij,k->ijk", [(2, 3), (2,)])])
def test_einsum_adjoint_with_g_or_an_operand_batched(spec, shapes):
    operands = [_random(s, k) for k, s in enumerate(shapes)]
    g = _random(np.shape(np.einsum(spec, *operands)), 9)
    for k in range(len(operands)):
        args = [spec, k, g, *operands]
        for position in [2] + [3 + j for j in range(len(operands)) if j != k]:
            _check(functools.partial(bp.einsum_adjoint_directions, position), ra.einsum_adjoint,
                   args, position)
        _check(bp.batched_einsum_adjoint, ra.einsum_adjoint, args, 2)


@pytest.mark.parametrize("shape", [(3,), (3, 2)])
@pytest.mark.parametrize("flags", [{}, {"lower": True}, {"trans": 1}, {"trans": "T", "lower": True},
                                   {"unit_diagonal": True}])
def test_solve_triangular_of_a_batched_right_hand_side(shape, flags):
    a = _x(3, 3) + 4.0 * np.eye(3)
    _check(bp.batched_solve_triangular, scipy.linalg.solve_triangular, [a, _x(*shape)], 1,
           **flags)


@pytest.mark.parametrize("shape", [(3,), (3, 2)])
@pytest.mark.parametrize("lower", [False, True])
def test_cho_solve_of_a_batched_right_hand_side(shape, lower):
    a = _x(3, 3)
    factor = scipy.linalg.cho_factor(a @ a.T + 3.0 * np.eye(3), lower=lower)
    b = _x(*shape)
    rhs = _random(shape + (DIRECTIONS,), 2)
    rhs_before = rhs.copy()
    expected = np.stack([scipy.linalg.cho_solve(factor, rhs[..., d])
                         for d in range(DIRECTIONS)], axis=-1)
    np.testing.assert_allclose(bp.batched_cho_solve(factor, rhs, True), expected, rtol=1e-12)
    np.testing.assert_array_equal(rhs, rhs_before)  # a tangent is never overwritten
    _check(bp.batched_cho_solve, scipy.linalg.cho_solve, [factor, b], 1)


@pytest.mark.parametrize("m, n", [(3, 3), (2, 4), (4, 1)])
def test_solve_sylvester_of_a_batched_right_hand_side(m, n):
    a, b = _x(m, m) + 3.0 * np.eye(m), _x(n, n) + 2.0 * np.eye(n)
    _check(bp.batched_solve_sylvester, scipy.linalg.solve_sylvester, [a, b, _x(m, n)], 2)


def test_a_stack_of_triangular_matrices_is_solved_one_direction_at_a_time():
    a = _x(2, 3, 3) + 4.0 * np.eye(3)
    try:
        scipy.linalg.solve_triangular(a, _x(2, 3, 2))
    except ValueError:  # SciPy before 1.16 solves one matrix at a time
        pytest.skip("this SciPy has no stacks of triangular systems")
    _check(bp.batched_solve_triangular, scipy.linalg.solve_triangular, [a, _x(2, 3, 2)], 1)
