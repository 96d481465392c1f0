"""Kernels over all pairs made by broadcasting (``R[:, None, :] - R[None, :, :]``).

Indexing with only full slices, None (``np.newaxis``) and ``...`` takes a view of the
whole array with new axes of length one; its adjoint sums those axes away, as that of
``np.expand_dims`` does, instead of scattering into an array of zeros.  Each kernel is
checked against central differences, forward mode against reverse mode, the
reverse-mode Jacobian (one batched sweep) against the forward one, and a Hessian of a
few particles against differences of the gradient.
"""
import numpy as np
import pytest
from support import jacobian_by_differences, numeric_grad

import ad_compiler as adc

rng = np.random.default_rng(14)


# ------------------------------------------------------------------ the kernels


def lennard_jones(R):
    """Lennard-Jones energy (epsilon = sigma = 1) of the particles at the rows of R."""
    d = R[:, None, :] - R[None, :, :]
    r2 = np.sum(d ** 2, axis=-1) + np.eye(R.shape[0])  # 1 on the diagonal: no 1/0
    inv6 = 1.0 / r2 ** 3
    pair = 4.0 * (inv6 ** 2 - inv6)
    return 0.5 * np.sum(pair * (1.0 - np.eye(R.shape[0])))


def coulomb(R, q, softening=0.3):
    """Electrostatic energy of charges q at R, with a Plummer softening length."""
    d = R[:, np.newaxis, :] - R[np.newaxis, :, :]
    r = np.sqrt(np.sum(d * d, axis=-1) + softening ** 2)
    qq = q[:, np.newaxis] * q[np.newaxis, :]
    return 0.5 * np.sum(qq / r * (1.0 - np.eye(len(q))))


def gaussian_kernel(X, Y):
    """The RBF kernel matrix between the rows of X and the rows of Y."""
    return np.exp(-np.sum((X[:, None] - Y[None]) ** 2, -1))


def kernel_bilinear_form(X, Y, a, b):
    """a' K b of the RBF kernel matrix K of X against Y."""
    K = np.exp(-np.sum((X[:, None] - Y[None]) ** 2, -1))
    return a @ K @ b


def morse_ellipsis(R, depth=1.5, a=1.2, r0=1.1):
    """Morse potential over pairs, the new axes placed with ``...``."""
    d = R[..., :, None, :] - R[..., None, :, :]
    r = np.sqrt(np.sum(d ** 2, axis=-1) + np.eye(R.shape[-2]))
    e = depth * (1.0 - np.exp(-a * (r - r0))) ** 2
    return 0.5 * np.sum(e * (1.0 - np.eye(R.shape[-2])))


def gaussian_kernel_expand_dims(X, Y):
    return np.exp(-np.sum((np.expand_dims(X, 1) - np.expand_dims(Y, 0)) ** 2, -1))


def gaussian_kernel_ellipsis(X, Y):
    return np.exp(-np.sum((X[..., :, None, :] - Y[..., None, :, :]) ** 2, -1))


def kernel_sum(X, Y):
    return np.sum(gaussian_kernel(X, Y))


def forces(R):
    """Minus the gradient of a soft pair energy, written out: one vector per particle."""
    d = R[:, None, :] - R[None, :, :]
    w = np.exp(-np.sum(d ** 2, axis=-1))
    return 2.0 * np.sum(w[..., None] * d, axis=1)


def scaled_copies(x):
    """A 0-d input given new axes: its adjoint sums them back to a number."""
    return np.sum(np.exp(x)[None] * np.arange(1.0, 4.0))


def whole_views(x):
    return np.sum(x[...] ** 2) + np.sum(x[:] * 3.0) + np.sum(x[:, :] ** 3) + np.sum(x[::1, None])


def stacked_new_axes(x):
    return np.sum(np.sin(x[None, None]) * np.ones((2, 3, 1, 1))) + np.sum(
        np.cos(x[..., None, None]) * np.arange(1.0, 3.0))


def outer_weights(x, w):
    return np.sum(np.tanh(x[:, None, :] * w[None, :, None]) ** 2)


def keyed_by_none(d):
    """A dict with the key None: d[None] is an item, not a new axis."""
    return d[None] ** 2 * d["a"]


def lattice(n_side, spacing=1.12, jitter=0.05):
    grid = np.stack(np.meshgrid(*[np.arange(float(n_side))] * 3, indexing="ij"), -1)
    grid = grid.reshape(-1, 3)
    return spacing * grid + jitter * rng.normal(size=grid.shape)


# ------------------------------------------------------------------ values


def test_lennard_jones_against_differences_and_forward_mode():
    R = lattice(2)
    g = adc.grad(lennard_jones)(R)
    np.testing.assert_allclose(g, numeric_grad(lennard_jones, [R], 0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(adc.grad(lennard_jones, mode="forward")(R), g, rtol=1e-10,
                               atol=1e-12)
    assert np.allclose(g.sum(axis=0), 0.0, atol=1e-9)  # pair forces cancel (Newton's third)


def test_lennard_jones_on_both_sides_of_the_minimum():
    """Two particles closer than 2^(1/6) repel, farther apart attract."""
    for distance, sign in ((1.0, -1.0), (1.5, 1.0)):
        R = np.array([[0.0, 0.0, 0.0], [distance, 0.1, -0.2]])
        g = adc.grad(lennard_jones)(R)
        np.testing.assert_allclose(g, numeric_grad(lennard_jones, [R], 0), rtol=1e-6)
        assert np.sign(g[1, 0]) == sign  # dE/dx of the second particle


def test_coulomb_in_both_arguments():
    R, q = rng.normal(size=(5, 3)), rng.normal(size=5)
    gR, gq = adc.grad(coulomb, wrt=(0, 1))(R, q)
    np.testing.assert_allclose(gR, numeric_grad(coulomb, [R, q], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gq, numeric_grad(coulomb, [R, q], 1), rtol=1e-6, atol=1e-8)
    fR, fq = adc.grad(coulomb, wrt=(0, 1), mode="forward")(R, q)
    np.testing.assert_allclose(fR, gR, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fq, gq, rtol=1e-10, atol=1e-12)
    # the energy is bilinear in the charges: q . dE/dq = 2 E
    np.testing.assert_allclose(q @ gq, 2.0 * coulomb(R, q), rtol=1e-12)


@pytest.mark.parametrize("kernel", [gaussian_kernel, gaussian_kernel_expand_dims,
                                    gaussian_kernel_ellipsis])
def test_gaussian_kernel_jacobians(kernel):
    X, Y = rng.normal(size=(4, 2)), rng.normal(size=(3, 2))
    for k in (0, 1):
        reverse = adc.jacobian(kernel, wrt=k, mode="reverse")(X, Y)  # one batched sweep
        forward = adc.jacobian(kernel, wrt=k, mode="forward")(X, Y)
        np.testing.assert_allclose(reverse, jacobian_by_differences(kernel, [X, Y], k),
                                   rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(reverse, forward, rtol=1e-10, atol=1e-12)


def test_kernel_bilinear_form_in_every_argument():
    args = [rng.normal(size=(4, 3)), rng.normal(size=(6, 3)), rng.normal(size=4),
            rng.normal(size=6)]
    grads = adc.grad(kernel_bilinear_form, wrt=(0, 1, 2, 3))(*args)
    for k, got in enumerate(grads):
        np.testing.assert_allclose(got, numeric_grad(kernel_bilinear_form, args, k),
                                   rtol=1e-6, atol=1e-8)


def test_morse_with_ellipsis_on_both_sides_of_the_well():
    for scale in (0.8, 1.4):  # most pairs inside the well's minimum, then outside it
        R = lattice(2, spacing=scale, jitter=0.1)[:5]
        g = adc.grad(morse_ellipsis)(R)
        np.testing.assert_allclose(g, numeric_grad(morse_ellipsis, [R], 0), rtol=1e-6,
                                   atol=1e-8)
        np.testing.assert_allclose(adc.grad(morse_ellipsis, mode="forward")(R), g,
                                   rtol=1e-10, atol=1e-12)


def test_jacobian_of_forces_reverse_forward_and_differences():
    R = rng.normal(size=(4, 2))
    reverse = adc.jacobian(forces, mode="reverse")(R)
    np.testing.assert_allclose(reverse, adc.jacobian(forces, mode="forward")(R),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(reverse, jacobian_by_differences(forces, [R], 0), rtol=1e-6,
                               atol=1e-8)


@pytest.mark.parametrize("f, args", [
    (scaled_copies, (np.float64(0.3),)),
    (scaled_copies, (np.array(-0.4),)),
    (whole_views, (rng.normal(size=(3, 2)),)),
    (stacked_new_axes, (rng.normal(size=(3, 2)),)),
    (outer_weights, (rng.normal(size=(3, 2)), rng.normal(size=4))),
])
def test_every_form_of_view_in_both_modes(f, args):
    for k in range(len(args)):
        want = numeric_grad(f, list(args), k)
        reverse = adc.grad(f, wrt=k)
        for _ in range(2):  # the generic code, then the code specialised to the shapes
            np.testing.assert_allclose(reverse(*args), want, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(adc.grad(f, wrt=k, mode="forward")(*args), want,
                                   rtol=1e-6, atol=1e-8)
        if np.ndim(args[k]):
            np.testing.assert_allclose(
                adc.hessian(f, wrt=k)(*args),
                jacobian_by_differences(adc.grad(f, wrt=k), list(args), k), rtol=1e-5,
                atol=1e-7)


def test_an_item_keyed_by_none_is_not_a_new_axis():
    d = {None: 1.5, "a": 2.0}
    g = adc.grad(keyed_by_none)(d)
    assert set(g) == {None, "a"}
    np.testing.assert_allclose([g[None], g["a"]], [2 * 1.5 * 2.0, 1.5 ** 2], rtol=1e-12)


# ------------------------------------------------------------------ second derivatives


@pytest.mark.parametrize("energy, R", [
    (lennard_jones, np.array([[0.0, 0.0, 0.0], [1.1, 0.1, 0.0], [0.2, 1.2, -0.1]])),
    (morse_ellipsis, np.array([[0.0, 0.0, 0.0], [1.3, 0.2, 0.1], [0.1, 0.9, -0.3]])),
])
def test_hessian_of_a_few_particles_against_differences_of_the_gradient(energy, R):
    H = adc.hessian(energy)(R)
    gradient = adc.grad(energy)
    np.testing.assert_allclose(H, jacobian_by_differences(gradient, [R], 0), rtol=1e-6,
                               atol=1e-6)
    flat = H.reshape(R.size, R.size)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-10, atol=1e-10)
    # translating every particle together changes nothing: H annihilates a translation
    shift = np.tile([1.0, -0.5, 0.25], len(R))
    np.testing.assert_allclose(flat @ shift, 0.0, atol=1e-8 * np.max(np.abs(flat)))


def test_reverse_over_reverse_and_hessians_of_the_kernel_sum():
    X, Y = rng.normal(size=(3, 2)), rng.normal(size=(2, 2))
    for k in (0, 1):
        gradient = adc.grad(kernel_sum, wrt=k)
        H = adc.hessian(kernel_sum, wrt=k)(X, Y)
        np.testing.assert_allclose(H, jacobian_by_differences(gradient, [X, Y], k),
                                   rtol=1e-6, atol=1e-8)
        # the gradient's own reverse-mode Jacobian: reverse over reverse
        np.testing.assert_allclose(adc.jacobian(gradient, wrt=k, mode="reverse")(X, Y), H,
                                   rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ the generated code


def test_the_energy_is_the_functions_own_to_the_last_bit():
    """The specialised sums add what NumPy's sums add, in the same order."""
    for n_side in (2, 3):
        R = lattice(n_side)
        value_and_grad = adc.value_and_grad(lennard_jones)
        for _ in range(2):  # generic, then specialised
            value, _ = value_and_grad(R)
            assert value == lennard_jones(R)


def test_the_adjoint_of_a_new_axis_is_a_sum_not_a_scatter():
    source = adc.source(lennard_jones)
    assert "index_update" not in source and "zeros" not in source
    assert "np.sum(unbroadcast(d_bar, w1_1), axis=1)" in source
    assert "np.sum(unbroadcast(-d_bar, w1_2), axis=0)" in source
    code = [line for line in source.splitlines() if not line.strip().startswith("#")]
    assert sum(line.count("np.eye(") for line in code) == 1  # once, for both sweeps
    ellipsis = adc.source(gaussian_kernel_ellipsis, kind="vjp", wrt=(0, 1))
    assert "index_update" not in ellipsis and "axis=-2)" in ellipsis and "axis=-3)" in ellipsis


def test_new_axes_by_indexing_and_by_expand_dims_give_the_same_specialised_code():
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))

    def adjoint_lines(kernel):
        g = adc.grad(lambda X, Y: np.sum(kernel(X, Y)), wrt=(0, 1))
        g(X, Y)
        text = g.source_for(X, Y)
        return sorted(line.strip() for line in text.splitlines()
                      if line.strip().startswith(("X_bar", "Y_bar")))

    by_index = adjoint_lines(gaussian_kernel)
    assert by_index == adjoint_lines(gaussian_kernel_expand_dims)
    assert by_index == ["X_bar = (t1[:, None, :] @ w2_1)[:, 0, :]",
                        "Y_bar = -(np.transpose(t1)[:, None, :] @ np.transpose(w2_1, (1, 0, 2)))"
                        "[:, 0, :]"]


def test_specialised_lennard_jones_reads_like_the_hand_written_forces():
    R = lattice(2)
    g = adc.grad(lennard_jones)
    g(R)
    source = g.source_for(R)
    # the forces: per particle, its pair weights times its differences (one product
    # each, as the hand-written einsum 'ij,ijk->ik'); no array of d's shape made
    assert ("R_bar = (t1[:, None, :] @ d)[:, 0, :] - (np.transpose(t1)[:, None, :] @ "
            "np.transpose(d, (1, 0, 2)))[:, 0, :]") in source
    assert "w3_1[..., 0] + w3_1[..., 1] + w3_1[..., 2]" in source  # no reduction loop
    assert "zeros_like" not in source and "index_update" not in source
    # d(d ** 2)/dd = 2 d scales the small pair weights, not d
    assert "sum_adjoint" not in source and "np.expand_dims(" not in source
    assert "2.0 * d" not in source
    R2 = lattice(2)  # same shapes, another point: the specialised code again
    np.testing.assert_allclose(g(R2), numeric_grad(lennard_jones, [R2], 0), rtol=1e-6,
                               atol=1e-7)
