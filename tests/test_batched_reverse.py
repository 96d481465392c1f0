"""Batched reverse mode: the pullback of a stack of cotangents in one sweep.

On every function of the registry catalogue (tests/fixtures/registry_cases.py, one per
primitive), the reverse-mode Jacobian (one batched sweep) equals the rows of one
pullback per unit cotangent and the forward-mode Jacobian; ``pullback(stack,
batched=True)`` equals the stacked pullbacks of random cotangents.  The primitives whose
adjoints have no batched form yet are listed, and checked to be exactly those.
"""
import re

import numpy as np
import pytest
from fixtures import activity as m
from fixtures import registry_cases as cases
from test_registry import CASES

import ad_compiler as adc
from ad_compiler.build import derivative
from ad_compiler.errors import ADCompileError

# registry cases whose adjoint has no batched form yet: their reverse Jacobians take
# one sweep per output element (docs/architecture.md says which and why)
ONE_SWEEP_PER_ROW: dict[str, str] = {
    name: "an item of a tuple or list result is differentiated"
    for name in ("cho_factor", "cho_solve", "eigh", "lstsq", "qr", "slogdet", "svd",
                 "array_split", "hsplit", "split", "vsplit")}


def _point(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    return rng.uniform(0.2, 0.8, CASES[name])


def _single_rows(f, x):
    """d f / d x, one pullback of a unit cotangent per output element."""
    y, pullback = adc.vjp(f, x)
    rows = []
    for j in range(np.size(y)):
        unit = np.zeros(np.shape(y))
        unit.flat[j] = 1.0
        rows.append(np.asarray(pullback(unit if np.ndim(y) else float(unit))[0]))
    return np.stack(rows).reshape(np.shape(y) + np.shape(x))


def _builds_batched(f, wrt=(0,)):
    try:
        derivative(f, "vjp_batched", wrt, "reverse")
    except ADCompileError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(CASES))
def test_reverse_jacobian_equals_single_pullbacks_and_forward_mode(name):
    f = getattr(cases, f"f_{name}")
    x = _point(name)
    assert _builds_batched(f) == (name not in ONE_SWEEP_PER_ROW)
    reverse = np.asarray(adc.jacobian(f, mode="reverse")(x))
    np.testing.assert_allclose(reverse, _single_rows(f, x), rtol=1e-12, atol=1e-12)
    forward = np.asarray(adc.jacobian(f, mode="forward")(x))
    np.testing.assert_allclose(reverse, forward, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_batched_pullback_of_random_cotangents(name):
    f = getattr(cases, f"f_{name}")
    x = _point(name)
    y, pullback = adc.vjp(f, x)
    stack = np.random.default_rng(3).normal(size=(3,) + np.shape(y))
    (batched,) = pullback(stack, batched=True)
    assert np.shape(batched) == (3,) + np.shape(x)
    for k in range(3):
        (one,) = pullback(stack[k] if np.ndim(y) else float(stack[k]))
        np.testing.assert_allclose(batched[k], one, rtol=1e-12, atol=1e-12)


def test_the_batched_pullback_of_the_layer_reads_like_the_single_one():
    text = adc.source(m.layer, kind="vjp_batched", wrt=(0,))
    names = set(re.findall(r"[A-Za-z_]\w*", text))
    assert "x_bar" in names and not {"A_bar", "c_bar", "vmap_last"} & names, text
    assert "batched_matmul_adjoint_b" in names, text


def test_layer_jacobian_by_hand():
    rng = np.random.default_rng(5)
    n = 30
    x, A, c = rng.normal(size=n), rng.normal(size=(n, n)) / 5, rng.normal(size=n)
    t = np.tanh(A @ x + c)
    by_hand = (1 - t ** 2)[:, None] * A * x[:, None] + np.diag(t)
    for mode in ("reverse", "forward"):
        np.testing.assert_allclose(adc.jacobian(m.layer, mode=mode)(x, A, c), by_hand,
                                   rtol=1e-12, atol=1e-14)
    # the Jacobians in A and c, whose rows hold the outer products
    jac_a = adc.jacobian(m.layer, wrt=1, mode="reverse")(x, A, c)
    expected = np.einsum("ij,k->ijk", np.diag((1 - t ** 2) * x), x)
    np.testing.assert_allclose(jac_a, expected, rtol=1e-12, atol=1e-14)
    jac_c = adc.jacobian(m.layer, wrt="c", mode="reverse")(x, A, c)
    np.testing.assert_allclose(jac_c, np.diag((1 - t ** 2) * x), rtol=1e-12, atol=1e-14)


def test_batched_pullback_through_a_loop_with_respect_to_several_inputs():
    rng = np.random.default_rng(11)
    h0, W, b = rng.normal(size=4), rng.normal(size=(4, 4)) / 2, rng.normal(size=4)
    assert _builds_batched(m.rollout)
    y, pullback = adc.vjp(m.rollout, h0, W, b, wrt=("W", "h0"))
    stack = rng.normal(size=(5, 4))
    w_bars, h_bars = pullback(stack, batched=True)
    assert w_bars.shape == (5, 4, 4) and h_bars.shape == (5, 4)
    for k in range(5):
        w_bar, h_bar = pullback(stack[k])
        np.testing.assert_allclose(w_bars[k], w_bar, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(h_bars[k], h_bar, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("stretched", [True, False])
def test_batched_pullback_on_each_side_of_a_branch(stretched):
    x = np.array([0.9, -1.2, 0.4]) * (1.5 if stretched else 0.5)
    assert (np.linalg.norm(x) > 1.0) == stretched
    assert _builds_batched(m.spring_force)
    reverse = adc.jacobian(m.spring_force, mode="reverse")(x, 2.5, 1.0)
    forward = adc.jacobian(m.spring_force, mode="forward")(x, 2.5, 1.0)
    np.testing.assert_allclose(reverse, forward, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(reverse, _single_rows(lambda v: m.spring_force(v, 2.5, 1.0), x),
                               rtol=1e-12, atol=1e-14)


def test_a_list_falls_back_to_one_sweep_per_cotangent():
    rates = [0.3, 1.1, 0.05]
    # the items of `rates` have no batched adjoint; the list `out`, grown by append,
    # has one (its adjoint's last row is popped, the cotangents on the last axis)
    assert not _builds_batched(m.decay_chain, (1,))
    assert _builds_batched(m.decay_chain, (0,))
    y, pullback = adc.vjp(m.decay_chain, 2.0, rates, 0.8)
    stack = np.random.default_rng(2).normal(size=(4, 3))
    n0_bars, rates_bars, t_bars = pullback(stack, batched=True)
    assert isinstance(rates_bars, list) and len(rates_bars) == 3  # each item: 4 of them
    for k in range(4):
        n0_bar, rates_bar, t_bar = pullback(stack[k])
        assert np.isclose(n0_bars[k], n0_bar, rtol=1e-12)
        np.testing.assert_allclose([r[k] for r in rates_bars], rates_bar, rtol=1e-12)
        assert np.isclose(t_bars[k], t_bar, rtol=1e-12)


def test_a_function_of_a_tuple_of_outputs():
    def moments(x, w):
        mean = np.sum(w * x) / np.sum(w)
        spread = np.sqrt(np.sum(w * (x - mean) ** 2) / np.sum(w))
        return mean, spread * x

    rng = np.random.default_rng(4)
    x, w = rng.normal(size=5), rng.uniform(0.5, 1.5, size=5)
    (mean, scaled), pullback = adc.vjp(moments, x, w)
    stacks = (rng.normal(size=3), rng.normal(size=(3, 5)))
    x_bars, w_bars = pullback(stacks, batched=True)
    for k in range(3):
        x_bar, w_bar = pullback((stacks[0][k], stacks[1][k]))
        np.testing.assert_allclose(x_bars[k], x_bar, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(w_bars[k], w_bar, rtol=1e-12, atol=1e-14)


def test_a_stack_of_the_wrong_shape_is_refused():
    x, A, c = np.ones(3), np.eye(3), np.zeros(3)
    _, pullback = adc.vjp(m.layer, x, A, c)
    with pytest.raises(ValueError, match="stack of cotangents"):
        pullback(np.ones(3), batched=True)
    with pytest.raises(ValueError, match="stack of cotangents"):
        pullback(np.ones((2, 4)), batched=True)


def test_products_with_diagonal_directions_are_scalings():
    # the unit directions of a Jacobian (and what elementwise factors make of them) are
    # diagonal: their products with a matrix are scalings, exactly the dense products
    from ad_compiler import batched

    rng = np.random.default_rng(9)
    n = 12
    a = rng.normal(size=(n, n))
    diagonal = np.diag(rng.normal(size=n))
    dense = diagonal + 1e-3 * rng.normal(size=(n, n))
    for t in (diagonal, dense, np.eye(n)):
        np.testing.assert_array_equal(batched.batched_rmatmul(a, t), a @ t)
        np.testing.assert_array_equal(batched.batched_matmul(t, a), (t.T @ a).T)
        x = rng.normal(size=n)
        np.testing.assert_array_equal(batched.batched_matmul_adjoint_b(t, a, x), a.T @ t)
    assert batched.diagonal_directions(diagonal, a) is not None
    assert batched.diagonal_directions(dense, a) is None
    a[3, 5] = np.inf  # inf * 0 is nan in the dense product: no shortcut
    assert batched.diagonal_directions(diagonal, a) is None
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(batched.batched_rmatmul(a, diagonal), a @ diagonal)


def lotka_volterra(z, alpha, beta, delta, gamma):
    prey, predators = z[0], z[1]
    return np.array([alpha * prey - beta * prey * predators,
                     delta * prey * predators - gamma * predators])


def stacked_twice(x):
    pair = [np.sin(x), x ** 2]
    return np.stack(pair) * np.stack(pair, axis=0)


def test_a_list_display_in_one_batched_sweep():
    assert _builds_batched(lotka_volterra)
    z = np.array([1.3, 0.7])
    jac = adc.jacobian(lotka_volterra, mode="reverse")(z, 1.1, 0.4, 0.1, 0.4)
    prey, predators = z
    by_hand = np.array([[1.1 - 0.4 * predators, -0.4 * prey],
                        [0.1 * predators, 0.1 * prey - 0.4]])
    np.testing.assert_allclose(jac, by_hand, rtol=1e-14, atol=1e-15)


def test_a_list_read_twice():
    assert _builds_batched(stacked_twice)
    x = np.array([0.3, -1.2, 0.8])
    jac = adc.jacobian(stacked_twice, mode="reverse")(x)
    by_hand = np.zeros((2, 3, 3))
    by_hand[0] = np.diag(2 * np.sin(x) * np.cos(x))
    by_hand[1] = np.diag(4 * x ** 3)
    np.testing.assert_allclose(jac, by_hand, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(jac, adc.jacobian(stacked_twice, mode="forward")(x),
                               rtol=1e-12, atol=1e-14)


def level_set(x):
    return np.full(3, x[0] * x[1])  # every output the same number


def energy(x):
    return 0.5 * np.sum(x ** 2) + np.prod(x)


def orbit(t):
    return np.array([np.cos(t), np.sin(t)]) * (1.0 + 0.1 * t)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobians_are_plain_writable_arrays_of_the_callers_own(mode):
    x = np.array([0.4, -1.3])
    jac = adc.jacobian(level_set, mode=mode)(x)
    np.testing.assert_allclose(jac, np.tile([x[1], x[0]], (3, 1)), rtol=1e-15)
    assert jac.flags.writeable and jac.shape == (3, 2)
    jac[0, 0] = 99.0  # its own memory: the next Jacobian is unchanged
    np.testing.assert_allclose(adc.jacobian(level_set, mode=mode)(x)[0, 0], x[1])
    g = adc.jacobian(energy, mode=mode)(x)  # a number's Jacobian: its gradient
    np.testing.assert_allclose(g, x + np.prod(x) / x, rtol=1e-14)
    d = adc.jacobian(orbit, mode=mode)(0.7)  # of a number: the velocity
    expected = np.array([-np.sin(0.7) * 1.07 + 0.1 * np.cos(0.7),
                         np.cos(0.7) * 1.07 + 0.1 * np.sin(0.7)])
    np.testing.assert_allclose(d, expected, rtol=1e-14)
    assert isinstance(adc.jacobian(lambda t: t * t, mode=mode)(3.0), float)
