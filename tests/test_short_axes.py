"""Arrays with a short last axis (points in 3-d) in specialised code.

Two rewrites: arithmetic that broadcasts over such an axis is made with that axis
first (`short_axis_first`, the same numbers in another memory order), and an
adjoint's sum over one axis of ``np.expand_dims(c, -1) * d`` is a stack of
vector-matrix products (the product is never made).  Each is checked against central
differences, forward mode and the plain NumPy expression, and the generated code is
read to see that the rewrite happened, or did not where it must not.
"""
import numpy as np
import pytest
from support import numeric_grad

import ad_compiler as adc
from ad_compiler.runtime_arrays import short_axis_first

rng = np.random.default_rng(31)


def lattice(n_side, spacing=1.12, jitter=0.05):
    grid = np.stack(np.meshgrid(*[np.arange(float(n_side))] * 3, indexing="ij"), -1)
    grid = grid.reshape(-1, 3)
    return spacing * grid + jitter * rng.normal(size=grid.shape)


def lennard_jones(R):
    d = R[:, None, :] - R[None, :, :]
    r2 = np.sum(d ** 2, axis=-1) + np.eye(R.shape[0])
    inv6 = 1.0 / r2 ** 3
    return 0.5 * np.sum(4.0 * (inv6 ** 2 - inv6) * (1.0 - np.eye(R.shape[0])))


def soft_spheres(R, radii):
    """Overlap energy of spheres: each pair's weight times its separation vector."""
    d = R[:, None, :] - R[None, :, :]
    r = np.sqrt(np.sum(d * d, axis=-1) + 1e-12)
    overlap = np.maximum(radii[:, None] + radii[None, :] - r, 0.0) * (1.0 - np.eye(len(R)))
    return 0.5 * np.sum(overlap ** 2)


def batched_morse(R, depth=1.5, a=1.2, r0=1.1):
    """Morse energies of a batch of configurations, pairs made with ``...``."""
    d = R[..., :, None, :] - R[..., None, :, :]
    r = np.sqrt(np.sum(d ** 2, axis=-1) + np.eye(R.shape[-2]))
    e = depth * (1.0 - np.exp(-a * (r - r0))) ** 2
    return 0.5 * np.sum(e * (1.0 - np.eye(R.shape[-2])))


def distances_to_a_centre(X, c):
    """Sum of squared distances of points to a centre, each weighted by its norm."""
    D = X - c[None, :]
    return np.sum(np.sqrt(np.sum(X * X, axis=-1)) * np.sum(D ** 2, axis=-1))


def written_pairs(R):
    d = R[:, None, :] - R[None, :, :]
    d[0, 1, :] = 0.0  # a write into the differences: their memory order shows
    return np.sum(d ** 2 * np.arange(3.0))


def reshaped_pairs(R):
    d = R[:, None, :] - R[None, :, :]
    flat = d.reshape(-1, 3)  # a copy in the other memory order: read only
    return np.sum((np.sum(flat ** 2, axis=-1) + 1.0) ** 0.5)


def _specialised(f, *args, wrt=0):
    g = adc.grad(f, wrt=wrt)
    g(*args)
    return g, g.source_for(*args)


@pytest.mark.parametrize("operator", ["+", "-", "*", "/"])
@pytest.mark.parametrize("shapes", [((20, 1, 3), (1, 20, 3)), ((4, 8, 1, 2), (4, 1, 8, 2)),
                                    ((300, 5), (1, 5)), ((1, 16, 7), (16, 16, 7))])
def test_short_axis_first_gives_numpys_numbers(operator, shapes):
    a = rng.uniform(0.5, 2.0, size=shapes[0])
    b = rng.uniform(0.5, 2.0, size=shapes[1])
    want = {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[operator]
    got = short_axis_first(a, operator, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got, want)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    assert np.array_equal(short_axis_first(a32, operator, b32),
                          {"+": a32 + b32, "-": a32 - b32, "*": a32 * b32,
                           "/": a32 / b32}[operator])


def test_lennard_jones_of_27_particles():
    R = lattice(3)
    g, source = _specialised(lennard_jones, R)
    assert "d = short_axis_first(R[:, None, :], '-', R[None, :, :])" in source
    assert "@ d)[:, 0, :]" in source and "np.transpose(d, (1, 0, 2))" in source
    assert "np.expand_dims" not in source  # the product of d's shape is never made
    np.testing.assert_allclose(g(R), numeric_grad(lennard_jones, [R], 0), rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(g(R), adc.grad(lennard_jones, mode="forward")(R), rtol=1e-10,
                               atol=1e-12)
    value, _ = adc.value_and_grad(lennard_jones)(R)
    value, _ = adc.value_and_grad(lennard_jones)(R)  # specialised
    assert value == lennard_jones(R)  # to the last bit
    R2 = lattice(3)  # another point of the same shapes
    np.testing.assert_allclose(g(R2), numeric_grad(lennard_jones, [R2], 0), rtol=1e-6,
                               atol=1e-7)


def test_weights_of_pairs_in_both_arguments():
    R, radii = rng.uniform(0.0, 3.0, size=(20, 3)), rng.uniform(0.4, 0.9, size=20)
    g, source = _specialised(soft_spheres, R, radii, wrt=(0, 1))
    assert "short_axis_first(" in source
    for k, got in enumerate(g(R, radii)):
        np.testing.assert_allclose(got, numeric_grad(soft_spheres, [R, radii], k),
                                   rtol=1e-6, atol=1e-8)


def test_a_batch_of_configurations_sums_inner_axes():
    """Rank-3 weights: the sums over axes 1 and 2 of (2, 5, 5, 3) differences."""
    R = lattice(2, spacing=1.2, jitter=0.1)[:5] + rng.normal(scale=0.05, size=(2, 5, 3))
    g, source = _specialised(batched_morse, R)
    assert "@ d)[:, :, 0, :]" in source
    np.testing.assert_allclose(g(R), numeric_grad(batched_morse, [R], 0), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(adc.hessian(batched_morse)(R).reshape(R.size, R.size),
                               adc.jacobian(adc.grad(batched_morse), mode="forward")(R)
                               .reshape(R.size, R.size), rtol=1e-9, atol=1e-9)


def test_rank_one_weights_are_one_vector_matrix_product():
    X, c = rng.normal(size=(40, 3)), rng.normal(size=3)
    g, source = _specialised(distances_to_a_centre, X, c, wrt=1)
    assert " @ " in source and "np.expand_dims" not in source
    np.testing.assert_allclose(g(X, c), numeric_grad(distances_to_a_centre, [X, c], 1),
                               rtol=1e-6, atol=1e-8)


def test_differences_written_in_place_keep_their_memory_order():
    R = rng.normal(size=(20, 3))
    g, source = _specialised(written_pairs, R)
    assert "short_axis_first" not in source
    np.testing.assert_allclose(g(R), numeric_grad(written_pairs, [R], 0), rtol=1e-6,
                               atol=1e-8)


def test_differences_reshaped_are_read_in_any_memory_order():
    R = rng.normal(size=(20, 3))
    g, source = _specialised(reshaped_pairs, R)
    np.testing.assert_allclose(g(R), numeric_grad(reshaped_pairs, [R], 0), rtol=1e-6,
                               atol=1e-8)
    value, _ = adc.value_and_grad(reshaped_pairs)(R)
    value, _ = adc.value_and_grad(reshaped_pairs)(R)
    assert value == reshaped_pairs(R)


def test_small_arrays_are_left_as_written():
    R = lattice(2)  # 8 particles: 64 rows of 3, fewer than the rewrite pays for
    _, source = _specialised(lennard_jones, R)
    assert "d = R[:, None, :] - R[None, :, :]" in source
