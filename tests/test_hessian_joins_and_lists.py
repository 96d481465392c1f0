"""Hessians through joins and splits, np.inner, lstsq and slogdet, and lists joined,
repeated or passed in, in one vector-mode sweep (the batched forms of their rules).

For each function of tests/fixtures/hessian_joins.py: the Hessian takes the one sweep
(not one JVP per element), and equals the Hessian-vector products with each unit
vector (one JVP of the gradient each) and central differences of the gradient.  The
batched runtime forms are checked against their plain helpers applied one direction
at a time, on shapes beyond the fixtures' (negative axes, numbers, stacks).
"""
import numpy as np
import pytest
from fixtures.hessian_joins import CASES

import ad_compiler as adc
from ad_compiler import (
    assemble,
    batched,
    batched_adjoints,
    batched_lists,
    runtime,
    runtime_arrays,
    runtime_lists,
    runtime_shapes,
)
from ad_compiler.runtime_linalg import solution_adjoint, solution_adjoint_batched


def _flat(x):
    """The numbers of an array or a list of numbers and arrays, in order."""
    if isinstance(x, (list, tuple)):
        return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in x])
    return np.ravel(np.asarray(x, dtype=float))


def _unflat(x, numbers):
    """`numbers` shaped like `x` (an array, or a list of numbers and arrays)."""
    if not isinstance(x, (list, tuple)):
        return np.reshape(numbers, np.shape(x))
    out, start = [], 0
    for v in x:
        k = int(np.size(v))
        piece = np.reshape(numbers[start:start + k], np.shape(v))
        out.append(piece if isinstance(v, np.ndarray) else float(piece))
        start += k
    return out


def _matrix(hess, x):
    """The Hessian as one matrix in `_flat` order (for a list input, hess[a][b] is the
    block of items a and b)."""
    if not isinstance(x, (list, tuple)):
        return np.reshape(hess, (np.size(x), np.size(x)))
    return np.block([[np.reshape(hess[a][b], (np.size(x[a]), np.size(x[b])))
                      for b in range(len(x))] for a in range(len(x))])


def _taken_in_one_sweep(fn, x, monkeypatch):
    """adc.hessian(fn)(x), and whether every vector-mode sweep it asked for was built."""
    built = []
    original = assemble._vector_jvp

    def recording(f, i, floats=False):
        made = original(f, i, floats)
        built.append(made is not None)
        return made

    monkeypatch.setattr(assemble, "_vector_jvp", recording)
    hess = adc.hessian(fn)(x)
    return hess, bool(built) and all(built)


@pytest.mark.parametrize("name", list(CASES))
def test_hessian_in_one_sweep_equals_hvps_and_differences(name, monkeypatch):
    fn, x = CASES[name]
    hess, one_sweep = _taken_in_one_sweep(fn, x, monkeypatch)
    assert one_sweep
    got = _matrix(hess, x)
    n = got.shape[0]
    hvp = adc.hvp(fn)
    by_hvps = np.stack([_flat(hvp(x, _unflat(x, np.eye(n)[j]))) for j in range(n)], axis=-1)
    np.testing.assert_allclose(got, by_hvps, rtol=1e-11, atol=1e-12)
    grad, h = adc.grad(fn), 1e-5
    by_differences = np.stack([
        (_flat(grad(_unflat(x, _flat(x) + h * np.eye(n)[j]))) -
         _flat(grad(_unflat(x, _flat(x) - h * np.eye(n)[j])))) / (2 * h)
        for j in range(n)], axis=-1)
    np.testing.assert_allclose(got, by_differences, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ the batched forms


def _directions(rng, shape, n=3):
    return rng.normal(size=tuple(shape) + (n,))


def _one_at_a_time(fn, t, *rest, first=True):
    """fn applied to each direction of `t` (its first argument, else its last), the
    results (numbers, arrays or lists of them) stacked on a last axis."""
    results = [fn(t[..., k], *rest) if first else fn(*rest, t[..., k])
               for k in range(t.shape[-1])]
    if isinstance(results[0], (list, tuple)):
        return [np.stack([np.asarray(r[i]) for r in results], -1)
                for i in range(len(results[0]))]
    return np.stack([np.asarray(r) for r in results], -1)


def _same_pieces(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("shapes, axis", [
    ([(2, 3), (1, 3)], 0), ([(2, 3), (2, 1)], -1), ([(2, 2, 3), (2, 1, 3)], -2),
    ([(4,), (1,), (2,)], 0)])
def test_batched_split_like_cuts_every_direction_as_split_like(shapes, axis):
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=s) for s in shapes]
    g = _directions(rng, np.concatenate(xs, axis=axis).shape)
    _same_pieces(batched_adjoints.batched_split_like(g, xs, axis),
                 _one_at_a_time(runtime_arrays.split_like, g, xs, axis))


@pytest.mark.parametrize("shape, axis", [((3, 2), 0), ((2, 3, 2), -1), ((2, 3, 2), 1)])
def test_batched_unstack_takes_every_direction_as_unstack(shape, axis):
    g = _directions(np.random.default_rng(2), shape)
    _same_pieces(batched_adjoints.batched_unstack(g, axis),
                 _one_at_a_time(runtime_arrays.unstack, g, axis))


@pytest.mark.parametrize("shapes", [[(), (3,), (2,)], [(2, 1), (2, 3)], [(3,), (3,)]])
def test_batched_hstack_and_vstack_adjoints_cut_as_their_plain_helpers(shapes):
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=s) for s in shapes]
    g = _directions(rng, np.hstack(xs).shape)
    _same_pieces(batched_adjoints.batched_hstack_adjoint(g, xs),
                 _one_at_a_time(runtime_arrays.hstack_adjoint, g, xs))
    if len({np.shape(np.atleast_2d(x))[1:] for x in xs}) == 1:
        g = _directions(rng, np.vstack(xs).shape)
        _same_pieces(batched_adjoints.batched_vstack_adjoint(g, xs),
                     _one_at_a_time(runtime_arrays.vstack_adjoint, g, xs))


@pytest.mark.parametrize("trick, shapes", [
    (np.r_, [(), (3,), (2,)]), (np.c_, [(3,), (3, 2)]), (np.c_, [(3,), (3,)])])
def test_batched_index_join_adjoint_cuts_as_index_join_adjoint(trick, shapes):
    rng = np.random.default_rng(4)
    items = [rng.normal(size=s) for s in shapes]
    g = _directions(rng, np.shape(trick[tuple(items)]))
    _same_pieces(batched_adjoints.batched_index_join_adjoint(g, trick, items),
                 _one_at_a_time(lambda t: runtime_shapes.index_join_adjoint(t, trick, items), g))


@pytest.mark.parametrize("a_shape, b_shape", [
    ((3,), (3,)), ((2, 3), (4, 3)), ((2, 2, 3), (3,)), ((), (2, 3)), ((2, 3), ()),
    ((3,), (2, 2, 3))])
def test_batched_inner_and_its_adjoints_equal_them_one_direction_at_a_time(a_shape, b_shape):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    ta, tb = _directions(rng, a_shape), _directions(rng, b_shape)
    np.testing.assert_allclose(batched.batched_inner(ta, b, 0),
                               _one_at_a_time(np.inner, ta, b), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(batched.batched_inner(a, tb, 1),
                               _one_at_a_time(np.inner, tb, a, first=False),
                               rtol=1e-13, atol=1e-13)
    g = rng.normal(size=np.shape(np.inner(a, b)))
    tg = _directions(rng, np.shape(g))
    for batched_form, plain in ((batched_adjoints.batched_inner_adjoint_a, runtime_arrays.inner_adjoint_a),
                                (batched_adjoints.batched_inner_adjoint_b, runtime_arrays.inner_adjoint_b)):
        np.testing.assert_allclose(batched_form(tg, a, b), _one_at_a_time(plain, tg, a, b),
                                   rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(batched_adjoints.batched_inner_adjoint_a(g, a, tb, 2),
                               _one_at_a_time(lambda t: runtime_arrays.inner_adjoint_a(g, a, t), tb),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(batched_adjoints.batched_inner_adjoint_b(g, ta, b, 1),
                               _one_at_a_time(lambda t: runtime_arrays.inner_adjoint_b(g, t, b), ta),
                               rtol=1e-12, atol=1e-12)


def test_batched_solution_adjoint_reads_the_solution_and_refuses_the_singular_values():
    rng = np.random.default_rng(6)
    like = np.linalg.lstsq(rng.normal(size=(3, 2)), rng.normal(size=3), rcond=None)
    g = [_directions(rng, np.shape(item)) for item in like]
    g[2] = np.zeros((3,))
    g[3] = np.zeros(np.shape(like[3]) + (3,))
    np.testing.assert_allclose(solution_adjoint_batched(g, like), g[0])
    g[3] = g[3] + 1.0
    with pytest.raises(ValueError, match="singular values"):
        solution_adjoint_batched(g, like)
    with pytest.raises(ValueError, match="singular values"):
        solution_adjoint([item[..., 0] for item in g], like)


def test_batched_tangents_of_lists_joined_and_repeated():
    rng = np.random.default_rng(7)
    seed = _directions(rng, (4,))
    a, b = [0.3, np.array([1.0, 2.0])], [0.5]
    a_dot = [rng.normal(size=3), rng.normal(size=(2, 3))]
    joined = batched_lists.batched_sum_tangent(a, b, a_dot, None, a + b, seed)
    assert len(joined) == 3 and joined[0] is a_dot[0] and joined[1] is a_dot[1]
    np.testing.assert_array_equal(joined[2], np.zeros(3))
    repeated = batched_lists.batched_product_tangent(2, a, None, a_dot, 2 * a, seed)
    assert len(repeated) == 4 and repeated[2] is a_dot[0] and repeated[3] is a_dot[1]
    pair = batched_lists.batched_sum_tangent((0.3,), (0.4,), None, (a_dot[0],), (0.3, 0.4),
                                             seed)
    assert isinstance(pair, tuple) and pair[1] is a_dot[0]


@pytest.mark.parametrize("a_shape, b_shape", [((), (3,)), ((2, 1), (3,)), ((3,), (3,))])
def test_batched_tangents_of_sums_and_products_of_arrays(a_shape, b_shape):
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    ta, tb = _directions(rng, a_shape), _directions(rng, b_shape)
    seed = _directions(rng, (1,))
    whole = a + b
    got = batched_lists.batched_sum_tangent(a, b, ta, tb, whole, seed)
    expected = np.stack([runtime_lists.sum_tangent(a, b, ta[..., k], tb[..., k], whole)
                         for k in range(3)], -1)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    got = batched_lists.batched_sum_tangent(a, b, None, tb, whole, seed)
    np.testing.assert_allclose(got, np.broadcast_to(tb, whole.shape + (3,)), rtol=1e-13)
    whole = a * b
    got = batched_lists.batched_product_tangent(a, b, ta, tb, whole, seed)
    expected = np.stack([runtime_lists.product_tangent(a, b, ta[..., k], tb[..., k], whole)
                         for k in range(3)], -1)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    got = batched_lists.batched_product_tangent(a, b, ta, None, whole, seed)
    np.testing.assert_allclose(got, np.broadcast_to(ta * b[..., None], whole.shape + (3,)),
                               rtol=1e-13)


def test_an_index_with_an_ellipsis_passed_in_indexes_the_primal_axes():
    from fixtures.hessian_joins import index_passed_in

    x = np.array([[0.3, 0.5, 0.9], [0.7, 0.2, 0.4]])
    index = (Ellipsis, slice(0, 2))
    got = np.reshape(adc.hessian(index_passed_in)(x, index), (6, 6))
    grad, h = adc.grad(index_passed_in), 1e-5
    by_differences = np.stack([np.ravel(
        grad(x + h * np.eye(6)[j].reshape(x.shape), index) -
        grad(x - h * np.eye(6)[j].reshape(x.shape), index)) / (2 * h) for j in range(6)], -1)
    np.testing.assert_allclose(got, by_differences, rtol=1e-6, atol=1e-7)
    jacobian = adc.jacobian(lambda x, index: np.sin(x[index]), mode="forward")(x, index)
    np.testing.assert_allclose(jacobian, adc.jacobian(lambda x, index: np.sin(x[index]),
                                                      mode="reverse")(x, index), rtol=1e-13)


@pytest.mark.parametrize("join", ["hstack", "vstack"])
def test_forward_jacobians_of_hstack_and_vstack_of_numbers_vectors_and_matrices(join):
    x = np.array([[0.3, 0.5], [0.7, 0.2]])
    if join == "hstack":
        def f(x):
            return np.hstack([x[0, 0] * x[1, 1], x[0], np.sin(x[1])])
    else:
        def f(x):
            return np.vstack([x[0], x * x, np.cos(x[1])])
    forward = adc.jacobian(f, mode="forward")(x)
    np.testing.assert_allclose(forward, adc.jacobian(f, mode="reverse")(x), rtol=1e-13)
    h = 1e-6
    by_differences = np.stack([(f(x + h * np.eye(4)[j].reshape(2, 2)) -
                                f(x - h * np.eye(4)[j].reshape(2, 2))) / (2 * h)
                               for j in range(4)], -1)
    np.testing.assert_allclose(np.reshape(forward, by_differences.shape), by_differences,
                               rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("a_shape, b_shape", [((3,), (2,)), ((2, 2), (3,)), ((), (2, 1))])
def test_batched_outer_equals_outer_one_direction_at_a_time(a_shape, b_shape):
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    ta, tb = _directions(rng, a_shape), _directions(rng, b_shape)
    np.testing.assert_allclose(batched.batched_outer(ta, b, 0),
                               _one_at_a_time(np.outer, ta, b), rtol=1e-13)
    np.testing.assert_allclose(batched.batched_outer(a, tb, 1),
                               _one_at_a_time(np.outer, tb, a, first=False), rtol=1e-13)


def test_batched_split_adjoint_joins_pieces_and_zeros_for_those_not_read():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 6))
    pieces = np.split(x, 3, axis=-1)
    read = _directions(rng, pieces[1].shape)
    sparse = runtime.index_update(pieces, 1, read)  # only the middle piece was read
    got = batched_adjoints.batched_split_adjoint(sparse, pieces, -1)
    expected = _one_at_a_time(
        lambda t: runtime_shapes.split_adjoint(runtime.index_update(pieces, 1, t), pieces, -1), read)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert got.shape == (2, 6, 3) and not np.any(got[:, :2]) and not np.any(got[:, 4:])


def test_batched_gradient_like_dot_is_a_plain_array_of_the_inputs_dtype():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 3)).astype(np.float32)
    t = np.broadcast_to(_directions(rng, (3,)), (2, 3, 3))  # a broadcast view
    got = batched_adjoints.batched_gradient_like_dot(t, x)
    assert got.dtype == np.float32 and got.flags.writeable and got.shape == (2, 3, 3)
    np.testing.assert_allclose(got, t, rtol=1e-6)
    items = batched_adjoints.batched_gradient_like_dot([t[0, 0], t[1]], [1.0, x[1]])
    assert isinstance(items, list) and items[1].shape == (3, 3)
    sparse = runtime.index_update(x, (1, slice(0, 2)), t[1, :2])
    np.testing.assert_allclose(batched_adjoints.batched_gradient_like_dot(sparse, x),
                               _one_at_a_time(lambda v: runtime.gradient_like(
                                   runtime.index_update(x, (1, slice(0, 2)), v), x),
                                   np.asarray(t[1, :2])), rtol=1e-6)


def test_batched_unbroadcast_of_a_lists_adjoint_sums_each_direction():
    rng = np.random.default_rng(12)
    x = [0.5, 1.5]
    g = [_directions(rng, ()), _directions(rng, ())]
    np.testing.assert_allclose(batched.batched_unbroadcast(g, x),
                               _one_at_a_time(runtime.unbroadcast, np.stack(g), x),
                               rtol=1e-13)


@pytest.mark.parametrize("name", [
    "concatenate_last_axis", "hstack_numbers_and_vectors", "vstack_rows", "r_and_c_joins",
    "inner_of_matrices", "split_pieces_in_a_loop", "split_columns", "list_grown_by_joining",
    "list_repeated_by_a_count", "slogdet_of_a_gram_matrix", "matrix_products",
    "weights_of_a_layer", "lstsq_fit"])
def test_the_sweep_takes_every_direction_at_once_in_each_helper(name):
    # no helper of these sweeps runs one direction at a time (vmap_last)
    from ad_compiler.build import derivative

    fn, x = CASES[name]
    gradient = derivative(fn, "grad", 0, "reverse")
    version = gradient.version_for(x) if hasattr(gradient, "version_for") else gradient
    sweep = derivative(version, "jvp_batched_floats", 0, "forward")
    assert "vmap_last" not in sweep.source, sweep.source


@pytest.mark.parametrize("a_shape, b_shape", [
    ((2, 3), (3, 4)), ((2, 3), (3,)), ((3,), (3, 4)), ((3,), (3,)), ((2, 2, 3), (3, 4)),
    ((2, 3), (2, 3, 4))])
def test_matmul_adjoints_with_a_batched_factor_equal_them_one_direction_at_a_time(
        a_shape, b_shape):
    rng = np.random.default_rng(13)
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    g = rng.normal(size=np.shape(a @ b))
    ta, tb, tg = (_directions(rng, s) for s in (a_shape, b_shape, np.shape(g)))
    np.testing.assert_allclose(
        batched_adjoints.matmul_adjoint_a_directions(g, a, tb, 2),
        _one_at_a_time(lambda t: runtime.matmul_adjoint_a(g, a, t), tb), rtol=1e-12)
    np.testing.assert_allclose(
        batched_adjoints.matmul_adjoint_b_directions(g, ta, b, 1),
        _one_at_a_time(lambda t: runtime.matmul_adjoint_b(g, t, b), ta), rtol=1e-12)
    np.testing.assert_allclose(batched_adjoints.matmul_adjoint_a_directions(tg, a, b),
                               _one_at_a_time(runtime.matmul_adjoint_a, tg, a, b), rtol=1e-12)
    np.testing.assert_allclose(batched_adjoints.matmul_adjoint_b_directions(tg, a, b),
                               _one_at_a_time(runtime.matmul_adjoint_b, tg, a, b), rtol=1e-12)


@pytest.mark.parametrize("b_shape", [(3,), (3, 2)])
def test_batched_residuals_weight_equals_it_one_direction_at_a_time(b_shape):
    from ad_compiler.runtime_linalg import residuals_weight, residuals_weight_batched

    rng = np.random.default_rng(14)
    a, b = rng.normal(size=(3, 2)), rng.normal(size=b_shape)
    solution, residuals, _, _ = np.linalg.lstsq(a, b, rcond=None)
    r = b - a @ solution
    t_res, t_r = _directions(rng, residuals.shape), _directions(rng, r.shape)
    np.testing.assert_allclose(residuals_weight_batched(t_res, r),
                               _one_at_a_time(residuals_weight, t_res, r), rtol=1e-13)
    np.testing.assert_allclose(residuals_weight_batched(residuals, t_r, 1),
                               _one_at_a_time(residuals_weight, t_r, residuals, first=False),
                               rtol=1e-13)
    empty = np.zeros((0,))  # no residuals: an exact fit
    assert residuals_weight_batched(np.zeros((0, 3)), r).shape == r.shape + (3,)
    assert not np.any(residuals_weight_batched(empty, t_r, 1))
