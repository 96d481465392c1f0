"""Adjoints summed over a backward loop's steps as one product after the loop
(transforms/stacked_adjoints.py): recurrent networks written as people write them,
checked against central differences, forward mode, and second derivatives against
differences of the gradient; and the generated code read."""
from __future__ import annotations

import re

import numpy as np
from support import numeric_grad

import ad_compiler as adc

rng = np.random.default_rng(14)


def elman_loss(Wx, Wh, b, xs, h0, target):
    h = h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh + b)
    return np.sum((h - target) ** 2)


def indexed_rnn_loss(Wx, Wh, b, xs, h0, target):
    T = xs.shape[0]
    h = h0
    for t in range(T):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return 0.5 * np.sum((h - target) ** 2)


def readout_loss(Wx, Wh, V, xs, ys, h0):
    """A prediction per step, every step's squared error in the loss."""
    h = h0
    loss = 0.0
    for t in range(len(xs)):
        h = np.tanh(xs[t] @ Wx + h @ Wh)
        y_hat = h @ V
        loss = loss + np.sum((y_hat - ys[t]) ** 2)
    return loss / len(xs)


def two_layer_loss(W1, U1, W2, U2, c2, xs, h0):
    """Two stacked recurrent layers; the second reads the first's state."""
    h1, h2 = h0, h0
    for x in xs:
        h1 = np.tanh(x @ W1 + h1 @ U1)
        h2 = np.tanh(h1 @ W2 + h2 @ U2 + c2)
    return np.sum(h2 ** 2) + 0.1 * np.sum(h1)


def decaying_weights_loss(Wx, Wh, xs, h0):
    """The recurrent weights shrink at every step: their adjoint is carried by the
    backward loop and read by every step, not a sum of independent terms."""
    h = h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh)
        Wh = 0.9 * Wh
    return np.sum(h ** 2)


def ragged_loss(W, blocks):
    """Steps of different shapes: the sum over them cannot be one stacked product."""
    s = 0.0
    for X in blocks:
        s = s + np.sum(np.tanh(X @ W))
    return s


def overwritten_row_loss(W, xs, h0):
    """The state is one row of an array, overwritten at every step: the backward loop
    writes back what each step overwrote, in place."""
    h = np.zeros((2, h0.shape[0]))
    h[0] = h0
    for t in range(xs.shape[0]):
        h[0] = np.tanh(h[0] @ W + xs[t])
        h[1] = h[1] + h[0]
    return np.sum(h[1] ** 2)


def states_in_rows_loss(W, xs, h0):
    """The states kept in the rows of a preallocated array."""
    T = xs.shape[0]
    h = np.zeros((T + 1, h0.shape[0]))
    h[0] = h0
    for t in range(T):
        h[t + 1] = np.tanh(h[t] @ W + xs[t])
    return np.sum(h[1:] ** 2) / T


def rnn_point(steps=6, inputs=3, hidden=4):
    return (rng.normal(size=(inputs, hidden)) * 0.5, rng.normal(size=(hidden, hidden)) * 0.4,
            rng.normal(size=hidden) * 0.2, rng.normal(size=(steps, inputs)),
            rng.normal(size=hidden) * 0.3, rng.normal(size=hidden))


def check_against_differences(f, args, wrt, rtol=1e-6):
    for mode in ("reverse", "forward"):
        got = adc.grad(f, wrt=wrt, mode=mode)(*args)
        for k, g in zip(wrt, got):
            np.testing.assert_allclose(g, numeric_grad(f, list(args), k), rtol=rtol, atol=1e-8,
                                       err_msg=f"{mode} mode, argument {k}")


def test_elman_network_gradient_matches_differences_and_forward_mode():
    args = rnn_point()
    check_against_differences(elman_loss, args, (0, 1, 2, 4))
    g = adc.grad(elman_loss, wrt=(0, 1, 2))
    for _ in range(2):  # the specialised version, at other data of the same shapes
        other = rnn_point()
        for k, value in zip((0, 1, 2), g(*other)):
            np.testing.assert_allclose(value, numeric_grad(elman_loss, list(other), k),
                                       rtol=1e-6, atol=1e-8)


def test_indexed_steps_and_a_readout_per_step():
    args = rnn_point(steps=5)
    check_against_differences(indexed_rnn_loss, args, (0, 1, 2))
    Wx, Wh, _, xs, h0, _ = rnn_point(steps=5)
    V, ys = rng.normal(size=(4, 2)), rng.normal(size=(5, 2))
    check_against_differences(readout_loss, (Wx, Wh, V, xs, ys, h0), (0, 1, 2, 5))


def test_two_layer_recurrence():
    W1, U1 = rng.normal(size=(3, 4)) * 0.5, rng.normal(size=(4, 4)) * 0.4
    W2, U2 = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=(4, 4)) * 0.4
    args = (W1, U1, W2, U2, rng.normal(size=4) * 0.1, rng.normal(size=(5, 3)), np.zeros(4))
    check_against_differences(two_layer_loss, args, (0, 1, 2, 3, 4))
    source = adc.source(two_layer_loss, wrt=(0, 1, 2, 3, 4), at=args)
    assert source.count(".T @ ") == 4 and "np.outer" not in source


def test_an_adjoint_read_inside_the_loop_is_summed_step_by_step():
    Wx, Wh, _, xs, h0, _ = rnn_point(steps=4)
    args = (Wx, Wh, xs, h0)
    check_against_differences(decaying_weights_loss, args, (0, 1, 3))
    source = adc.source(decaying_weights_loss, wrt=(0, 1))
    loop, after = source.split("for _ in range(len(stack)):")[1].rsplit("# adjoint of: for", 1)
    assert after.count("summed_matmul_adjoint_b(") == 1  # Wx's, not the carried Wh's,
    assert "matmul_adjoint_b(" in loop and "* 0.9" in loop  # which each step updates


def test_steps_of_different_shapes_are_summed_one_by_one():
    W = rng.normal(size=(3, 2))
    blocks = [rng.normal(size=(k, 3)) for k in (1, 4, 2)]
    g = adc.grad(ragged_loss)
    for _ in range(2):
        np.testing.assert_allclose(g(W, blocks), numeric_grad(ragged_loss, [W, blocks], 0),
                                   rtol=1e-6, atol=1e-8)
    same = [rng.normal(size=(2, 3)) for _ in range(3)]  # and of one shape: stacked
    np.testing.assert_allclose(g(W, same), numeric_grad(ragged_loss, [W, same], 0), rtol=1e-6)


def test_states_written_into_arrays():
    W, xs, h0 = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(5, 3)), rng.normal(size=3)
    for f in (overwritten_row_loss, states_in_rows_loss):
        check_against_differences(f, (W, xs, h0), (0, 2))
        g = adc.grad(f)
        for _ in range(2):  # the specialised version, at other data
            W, xs, h0 = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(5, 3)), rng.normal(size=3)
            np.testing.assert_allclose(g(W, xs, h0), numeric_grad(f, [W, xs, h0], 0),
                                       rtol=1e-6, atol=1e-8)
    special = adc.grad(states_in_rows_loss).source_for(W, xs, h0)
    assert "np.outer" not in special and ".T @ np.array(" in special


def test_no_steps_give_zero_adjoints():
    Wx, Wh, b, _, h0, target = rnn_point()
    args = (Wx, Wh, b, np.zeros((0, 3)), h0, target)
    g = adc.grad(elman_loss, wrt=(0, 1, 2, 4))
    for _ in range(2):  # generic, then specialised
        gWx, gWh, gb, gh0 = g(*args)
        for got, like in ((gWx, Wx), (gWh, Wh), (gb, b)):
            assert got.shape == like.shape and not got.any()
        np.testing.assert_allclose(gh0, 2 * (h0 - target))


def test_hessian_in_the_recurrent_weights_matches_differences_of_the_gradient():
    Wx, Wh, b, xs, h0, target = rnn_point(steps=4, hidden=3)
    Wx, b, h0, target = Wx[:, :3], b[:3], h0[:3], target[:3]
    Wh = Wh[:3, :3]
    args = (Wx, Wh, b, xs, h0, target)
    H = adc.hessian(elman_loss, wrt=1)(*args)
    grad_wh = adc.grad(elman_loss, wrt=1)
    eps = 1e-6
    assert H.shape == Wh.shape * 2
    for j in np.ndindex(Wh.shape):
        step = np.zeros_like(Wh)
        step[j] = eps
        column = (grad_wh(Wx, Wh + step, b, xs, h0, target)
                  - grad_wh(Wx, Wh - step, b, xs, h0, target)) / (2 * eps)
        np.testing.assert_allclose(H[(...,) + j], column, rtol=1e-5, atol=1e-7)
    # forward over reverse along one direction: H V
    V = rng.normal(size=Wh.shape)
    tangents = tuple(V if k == 1 else np.zeros_like(a) for k, a in enumerate(args))
    _, hv = adc.jvp(grad_wh, args, tangents)
    np.testing.assert_allclose(hv, np.tensordot(H, V, axes=2), rtol=1e-6, atol=1e-8)


def test_generated_code_sums_after_the_loop():
    args = rnn_point()
    g = adc.grad(elman_loss, wrt=(0, 1, 2))
    generic = g.source
    loop, after = generic.split("for _ in range(len(stack)):")[1].rsplit("# adjoint of: for", 1)
    assert "matmul_adjoint_b" not in loop and ".append(" in loop
    assert "summed_matmul_adjoint_b(" in after and "summed_unbroadcast(" in after
    special = g.source_for(*args)
    # (its backward loop counts its steps: it reads factors made for all of them)
    loop, after = re.split(r"for \w+ in range\(len\(stack\)\):", special)[1].rsplit(
        "# adjoint of: for", 1)
    assert "np.outer" not in special and "Wh_bar" not in loop
    # the states and rows, stacked off the tape before the loop (transforms/tape_steps.py)
    assert re.search(r"h_rows\.T @ ", after) and re.search(r"x_rows\.T @ ", after)
    assert "np.sum(" in after and "summed_" not in special
    assert special.count("np.array(") == 1  # the steps' adjoints stacked once for all three
