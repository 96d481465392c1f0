"""A loop counter left off the tape (transforms/tape_counters.py).

A loop over ``range(n)`` that pushes ``(index, h)`` at the top of its body, and whose
backward loop no longer pops (the tape is read before it), pushes ``h`` alone: the
rows at the popped indices are the rows n-1 down to 0, one reversed slice
(`reversed_rows`).  Each case is checked against central differences, against the
code without the rewrite to the last bit, and its code is read.
"""
import numpy as np
import pytest
from support import numeric_grad
from test_made_once import unrewritten

import ad_compiler as adc
from ad_compiler import runtime_writes

rng = np.random.default_rng(23)


def indexed(Wx, Wh, b, xs, gates, h0):
    """The rows taken by index: the counter serves only to pick them."""
    h = h0
    for t in range(len(xs)):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h ** 2) + np.sum(gates[0] * h)


def two_sequences(Wx, Wh, b, xs, us, h0):
    """Rows of two arrays at the same index (`us` has more rows than are read); the
    second product's adjoint is summed step by step, and pops its index."""
    h = h0
    for t in range(len(xs)):
        h = np.tanh(xs[t] @ Wx + h @ Wh + us[t] @ Wx * 0.5 + b)
    return np.sum(h ** 2)


def gated(Wx, Wh, b, xs, gates, h0):
    """A row read by the backward step itself (``gates[t] * g``): it pops the index."""
    h = h0
    for t in range(len(xs)):
        h = np.tanh(xs[t] @ Wx + gates[t] * (h @ Wh) + b)
    return np.sum(h ** 2)


def from_the_second_row(Wx, Wh, b, xs, gates, h0):
    """A range that starts at 1: its counter is not the entry's position."""
    h = h0
    for t in range(1, len(xs)):
        h = np.tanh(xs[t] @ Wx + gates[t] * (h @ Wh) + b)
    return np.sum(h ** 2)


def counted_by_shape(Wx, Wh, b, xs, gates, h0):
    """The count read off the shape, the state kept in a dict (an ML engineer's
    parameters and state)."""
    state = {"h": h0}
    for t in range(xs.shape[0]):
        state["h"] = np.tanh(xs[t] @ Wx + state["h"] @ Wh + b)
    return np.sum((state["h"] - 0.25) ** 2)


def point(steps=7, hidden=5, inputs=3, dtype=np.float64):
    return tuple(a.astype(dtype) for a in (
        rng.normal(size=(inputs, hidden)) * 0.5, rng.normal(size=(hidden, hidden)) * 0.4,
        rng.normal(size=hidden) * 0.1, rng.normal(size=(steps, inputs)),
        rng.uniform(0.5, 1.5, size=(steps + 3, hidden)),
        rng.normal(size=hidden) * 0.3))


WRT = (0, 1, 2, 5)


# each case, and whether the counter is left off its tape
CASES = {indexed: True, two_sequences: False, gated: False, from_the_second_row: False,
         counted_by_shape: False}


@pytest.mark.parametrize("f", list(CASES), ids=lambda f: f.__name__)
def test_gradients_and_code(f, monkeypatch):
    for steps in (7, 2):
        args = point(steps)
        if f is two_sequences:  # us: rows as wide as those of xs
            args = (*args[:4], rng.normal(size=(steps + 3, args[0].shape[0])), args[5])
        g = adc.grad(f, wrt=WRT)
        got = g(*args)
        for k, value in zip(WRT, got):
            np.testing.assert_allclose(value, numeric_grad(f, list(args), k), rtol=1e-6,
                                       atol=1e-8)
        for value, plain in zip(got, unrewritten(monkeypatch, g, args)):
            assert np.array_equal(value, plain)
        source = g.source_for(*args)
        assert ("reversed_rows(" in source) == CASES[f], source
        if CASES[f]:
            assert "stack.append(h)" in source and "popped_rows(" not in source


@pytest.mark.parametrize("f", [indexed, counted_by_shape], ids=lambda f: f.__name__)
def test_float32_parameters_keep_their_dtype(f):
    """float32 weights, float64 data: each step's products are float64, the gradient
    of each weight float32 as the weight is."""
    args = point()
    args = (args[0].astype(np.float32), args[1].astype(np.float32), *args[2:])
    g = adc.grad(f, wrt=WRT)
    for _ in range(2):  # generic, then specialised
        got = g(*args)
        assert [v.dtype for v in got] == [np.float32, np.float32, np.float64, np.float64]
    want = adc.grad(f, wrt=WRT)(*(a.astype(np.float64) for a in args))
    for value, wide in zip(got, want):
        np.testing.assert_allclose(value, wide, rtol=1e-5, atol=1e-6)


def test_reversed_rows_helper():
    a = rng.normal(size=(6, 2))
    for count in (0, 1, 4, 6):
        stack = [object()] * count
        want = runtime_writes.popped_rows(a, list(range(count)), None)
        got = runtime_writes.reversed_rows(a, stack)
        assert got.shape == want.shape and np.array_equal(got, want)
        assert count == 0 or not np.shares_memory(got, a)
    ints = np.arange(5)
    assert np.array_equal(runtime_writes.reversed_rows(ints, [0, 0, 0]), [2, 1, 0])
    as_list = [np.full(2, float(k)) for k in range(4)]
    assert np.array_equal(runtime_writes.reversed_rows(as_list, [0, 0]), [[1.0, 1.0], [0.0, 0.0]])
