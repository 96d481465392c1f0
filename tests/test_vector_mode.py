"""Vector-mode sweeps (every direction at once): products with the unit seeds of a
vector input, tangents written as coefficients times a few tangents, and the Hessian
built from one such sweep of the gradient.  Checked against central differences,
reverse mode and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from support import jacobian_by_differences, load_module

import ad_compiler as adc
from ad_compiler import batched
from ad_compiler.assemble import _vector_jvp


def gated_layer(x, A, c):
    return np.tanh(A @ x + c) * x


def row_times_matrix(x, B):
    return np.sin(x @ B) + np.dot(x, B) ** 2


def two_blocks(p, A, B):
    """A model whose parameters come as a dict of two vectors."""
    return np.tanh(A @ p["u"] + B @ p["v"]) * np.sum(p["v"])


def masked_twice(x, mask):
    s = np.sin(x)
    return mask * s + s * mask


def absolute(x):
    return np.maximum(x, 0.0) - np.minimum(x, 0.0)


def clipped_energy(x):
    """A soft wall: quadratic outside [-1, 1], cubic inside, with masks."""
    inside = np.abs(x) < 1.0
    return np.sum(np.where(inside, x ** 3 / 3.0, x ** 2)) + np.sum(np.maximum(x, 0.0) ** 3)


def logistic_loss(w, X, y):
    n = X.shape[0]
    margins = y * (X @ w)
    return np.sum(np.logaddexp(0.0, -margins)) / n


def depends_on_sign(w, X):
    z = X @ w
    if w[0] > 0:
        return np.sum(np.tanh(z) ** 2)
    return np.tanh(z) ** 2


def rnn_loss(Wh, b, xs, h0, target):
    """An Elman RNN over the rows of xs, squared error of the last state."""
    h = h0
    for x in xs:
        h = np.tanh(x + h @ Wh + b)
    return np.sum((h - target) ** 2)


RNG = np.random.default_rng(7)
A = RNG.normal(size=(5, 4))
B = RNG.normal(size=(4, 3))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_gated_layer_jacobian(mode):
    x, c = RNG.normal(size=4), RNG.normal(size=5)
    square = RNG.normal(size=(4, 4))
    J = adc.jacobian(gated_layer, mode=mode)(x, square, c[:4])
    t = np.tanh(square @ x + c[:4])
    by_hand = (1.0 - t ** 2)[:, None] * square * x[:, None] + np.diag(t)
    np.testing.assert_allclose(J, by_hand, rtol=1e-12)
    np.testing.assert_allclose(J, jacobian_by_differences(gated_layer, (x, square, c[:4]), 0),
                               rtol=1e-6, atol=1e-8)


def test_vector_times_matrix_and_dot():
    x = RNG.normal(size=4)
    forward = adc.jacobian(row_times_matrix, mode="forward")(x, B)
    np.testing.assert_allclose(forward, adc.jacobian(row_times_matrix, mode="reverse")(x, B),
                               rtol=1e-12)
    np.testing.assert_allclose(forward, jacobian_by_differences(row_times_matrix, (x, B), 0),
                               rtol=1e-6, atol=1e-8)


def test_matrix_with_respect_to_the_matrix_is_not_a_unit_seed():
    x = RNG.normal(size=4)
    forward = adc.jacobian(row_times_matrix, wrt=1, mode="forward")(x, B)
    np.testing.assert_allclose(forward, jacobian_by_differences(row_times_matrix, (x, B), 1),
                               rtol=1e-6, atol=1e-8)


def test_unit_seeds_of_a_dict_of_vectors():
    p = {"u": RNG.normal(size=4), "v": RNG.normal(size=3)}
    Bv = RNG.normal(size=(5, 3))
    J = adc.jacobian(two_blocks, mode="forward")(p, A, Bv)
    R = adc.jacobian(two_blocks, mode="reverse")(p, A, Bv)
    for key in ("u", "v"):
        np.testing.assert_allclose(J[key], R[key], rtol=1e-12)

        def along(vec, key=key):
            return two_blocks({**p, key: vec}, A, Bv)

        np.testing.assert_allclose(J[key], jacobian_by_differences(along, (p[key],), 0),
                                   rtol=1e-6, atol=1e-8)


def test_unit_seeds_are_released():
    x, c = RNG.normal(size=4), RNG.normal(size=4)
    adc.jacobian(gated_layer, mode="forward")(x, np.eye(4), c)
    assert batched._UNIT_SEEDS == {}
    with pytest.raises(ValueError):
        adc.jacobian(gated_layer, mode="forward")(x, np.eye(3), c)  # shapes do not fit
    assert batched._UNIT_SEEDS == {}


def test_a_product_with_a_unit_seed_is_a_new_array():
    seed = np.eye(3)
    batched.register_unit_seed(seed, 0)
    try:
        a = np.arange(6.0).reshape(2, 3)
        out = batched.batched_rmatmul(a, seed)
        assert out is not a and np.array_equal(out, a @ np.eye(3))
        part = np.eye(5)[1:4]
        batched.register_unit_seed(part, 1)
        np.testing.assert_array_equal(batched.batched_rmatmul(a, part), a @ part)
        np.testing.assert_array_equal(batched.batched_matmul(part, a.T),
                                      np.moveaxis(part.T @ a.T, 0, -1))
    finally:
        batched.release_unit_seed(seed)
        batched.release_unit_seed(part)
    assert batched._UNIT_SEEDS == {}


def test_boolean_masks_are_not_added_as_booleans():
    x = np.array([-1.5, 0.5, 2.0])
    mask = np.array([True, False, True])
    J = adc.jacobian(masked_twice, mode="forward")(x, mask)
    np.testing.assert_allclose(J, np.diag(2.0 * mask * np.cos(x)), rtol=1e-14)
    code = _vector_jvp(masked_twice, 0).source  # (a mask + a mask would be a mask)
    assert "mask + " not in code and "2.0" not in code


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_boolean_masks_subtracted(mode):
    x = np.array([-1.5, -0.2, 0.5, 2.0])
    np.testing.assert_array_equal(adc.jacobian(absolute, mode=mode)(x), np.diag(np.sign(x)))


def test_hessian_through_masks_either_side_of_the_wall():
    x = np.array([-1.7, -0.4, 0.3, 1.2, 2.5])
    H = adc.hessian(clipped_energy)(x)
    inside = np.abs(x) < 1.0
    by_hand = np.where(inside, 2.0 * x, 2.0) + 6.0 * np.maximum(x, 0.0)
    np.testing.assert_allclose(H, np.diag(by_hand), rtol=1e-12)
    gradient = adc.grad(clipped_energy)
    np.testing.assert_allclose(H, jacobian_by_differences(gradient, (x,), 0), rtol=1e-6,
                               atol=1e-7)


def test_logistic_hessian_and_its_code():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(60, 5))
    y = np.where(rng.normal(size=60) > 0, 1.0, -1.0)
    w = rng.normal(size=5) * 0.3
    s = 1.0 / (1.0 + np.exp(y * (X @ w)))
    by_hand = (X.T * (s * (1.0 - s))) @ X / len(y)
    hessian = adc.hessian(logistic_loss)
    for _ in range(2):  # the second call reuses what the first one found out
        np.testing.assert_allclose(hessian(w, X, y), by_hand, rtol=1e-10)
    gradient = adc.grad(logistic_loss)
    np.testing.assert_allclose(hessian(w, X, y), jacobian_by_differences(gradient, (w, X, y), 0),
                               rtol=1e-6, atol=1e-8)
    code = _vector_jvp(gradient.version_for(w, X, y), 0).source
    # the tangent of the gradient is one coefficient (of the rows) times X @ w_dot
    assert code.count("batched_rmatmul(X, w_dot)") == 1
    assert "margins_dot" not in code


def test_hessian_of_an_output_whose_shape_depends_on_the_values():
    X = np.random.default_rng(9).normal(size=(4, 3))
    w = np.array([0.5, -0.2, 0.1])
    hessian = adc.hessian(depends_on_sign)
    for point in (w, -w, w):
        H = hessian(point, X)
        gradient_like = adc.jacobian(depends_on_sign, mode="reverse")
        if point[0] > 0:
            expected = jacobian_by_differences(adc.grad(depends_on_sign), (point, X), 0)
        else:
            expected = jacobian_by_differences(gradient_like, (point, X), 0)
        np.testing.assert_allclose(H, expected, rtol=1e-6, atol=1e-8)


def test_hessian_through_a_loop_of_factored_tangents():
    rng = np.random.default_rng(10)
    Wh, b = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3) * 0.2
    xs, h0, target = rng.normal(size=(4, 3)), np.zeros(3), rng.normal(size=3)
    for wrt in (0, 1):
        H = adc.hessian(rnn_loss, wrt=wrt)(Wh, b, xs, h0, target)
        gradient = adc.grad(rnn_loss, wrt=wrt)
        expected = jacobian_by_differences(gradient, (Wh, b, xs, h0, target), wrt)
        np.testing.assert_allclose(H, expected, rtol=1e-6, atol=1e-8)
    code = _vector_jvp(adc.grad(rnn_loss, wrt=1).version_for(Wh, b, xs, h0, target), 1).source
    assert "for " in code  # the loops stay loops, with their tangents beside them


def test_long_chains_and_shared_tangents(tmp_path):
    """A long chain of statements whose tangents are shared by the backward sweep: the
    rewrite is cut, not exponential, and the Hessian is right."""
    lines = ["import numpy as np", "", "", "def chain(x, c):"]
    for k in range(120):
        lines.append(f"    x = np.sin(x) * 0.9 + c * {1 + k % 3}.0 + x * 0.05")
    lines.append("    return np.sum(x * x)")
    path = tmp_path / "long_chain.py"
    path.write_text("\n".join(lines) + "\n")
    module = load_module(path, "adc_test_long_chain")
    x, c = np.array([0.3, -0.2, 0.5]), np.array([0.01, 0.02, -0.01])
    H = adc.hessian(module.chain)(x, c)
    expected = jacobian_by_differences(adc.grad(module.chain), (x, c), 0)
    np.testing.assert_allclose(H, expected, rtol=1e-6, atol=1e-7)


def _two_layer_readout(w, b, v, X):
    return np.sum(np.tanh(X @ w + b) * (X @ v)) + np.sum(w @ v) + np.sum(v @ X.T)


def test_a_joint_sweep_over_several_vectors_places_each_seed_at_its_own_directions():
    # w takes directions 0-3, b 4-10, v 11-14: X @ v and v @ X.T place X's columns there
    rng = np.random.default_rng(11)
    X, w, b, v = rng.normal(size=(7, 4)), rng.normal(size=4), rng.normal(size=7), \
        rng.normal(size=4)
    forward = adc.grad(_two_layer_readout, wrt=(0, 1, 2), mode="forward")(w, b, v, X)
    reverse = adc.grad(_two_layer_readout, wrt=(0, 1, 2))(w, b, v, X)
    for got, want in zip(forward, reverse):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert adc.check_grad(_two_layer_readout, w, b, v, X, wrt=(0, 1, 2),
                          mode="forward") < 1e-6
