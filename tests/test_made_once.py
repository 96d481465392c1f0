"""What a loop computes step by step, made once before it in the code that runs
(transforms/tape_factors.py: factors read off the tape; transforms/row_products.py:
products of a loop's rows with one matrix).  Loops that qualify and loops that do not,
checked against central differences and forward mode; the rewritten code against the
code without the rewrite, value for value; and the generated code read."""
from __future__ import annotations

import re

import numpy as np
import pytest
from support import numeric_grad

import ad_compiler as adc
from ad_compiler import dispatch, runtime_writes

rng = np.random.default_rng(41)


def rnn_rows(Wx, Wh, b, xs, h0):
    """Wx read inside the loop only: both rewrites apply."""
    h = h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh + b)
    return np.sum(h ** 2)


def rnn_indexed(Wx, Wh, b, xs, h0):
    """Wx also read after the loop; the rows taken by index."""
    h = h0
    for t in range(len(xs)):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum((h @ Wx.T) ** 2) + np.sum(h)


def rnn_decaying(Wx, Wh, b, xs, h0):
    """Wx changes from step to step: its products cannot be made before the loop."""
    h = h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh + b)
        Wx = 0.9 * Wx + 0.01 * np.outer(x, h)
    return np.sum(h ** 2)


def rnn_until(Wx, Wh, b, xs, h0):
    """A trip count the data decide: a while loop that stops when h grows."""
    h = h0
    t = 0
    while t < len(xs) and np.sum(h ** 2) < 6.0:
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        t += 1
    return np.sum(h ** 2) * t


def rnn_break(Wx, Wh, b, xs, h0):
    """A for loop left early where the state's first entry turns positive."""
    h = h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh + b)
        if h[0] > 0.5:
            break
    return np.sum(h ** 3)


def rnn_branches(Wx, Wh, b, xs, h0):
    """An if in the body: the tanh step or a sine step, by the row's sign."""
    h = h0
    for x in xs:
        if x[0] > 0:
            h = np.tanh(x @ Wx + h @ Wh + b)
        else:
            h = np.sin(h @ Wh) * 0.5 + x @ Wx
    return np.sum((1.0 - h) ** 2)


def rnn_epochs(Wx, Wh, b, xs, h0):
    """Nested loops: the sequence run three times, the state carried on."""
    h = h0
    total = 0.0
    for _ in range(3):
        for x in xs:
            h = np.tanh(x @ Wx + h @ Wh + b)
        total = total + np.sum(h * h)
    return total


def rnn_growing(Wx, Wh, b, xs, h0):
    """The state takes another shape at each step: nothing stacks."""
    h = h0
    for x in xs:
        h = np.concatenate([np.tanh(x @ Wx + h[:Wx.shape[1]] @ Wh + b), h[-1:] * 0.5])
    return np.sum(h ** 2)


def rnn_factors(Wx, Wh, b, xs, h0):
    """More tape arithmetic: a quotient and a square root of the state and the one
    before it, and a factor that reads an adjoint (not made before the loop)."""
    h = h0
    for x in xs:
        h = h * 0.5 + np.sqrt(1.0 + (x @ Wx + h @ Wh + b) ** 2) / (2.0 + h * h)
    return np.sum(h ** 2)


def point(hidden: int = 5, inputs: int = 3, steps: int = 6) -> tuple:
    return (rng.normal(size=(inputs, hidden)) * 0.5, rng.normal(size=(hidden, hidden)) * 0.4,
            rng.normal(size=hidden) * 0.1, rng.normal(size=(steps, inputs)),
            rng.normal(size=hidden) * 0.3)


def growing_point() -> tuple:
    Wx, Wh, b, xs, _ = point()
    return Wx, Wh, b, xs, rng.normal(size=5) * 0.3


CASES = [rnn_rows, rnn_indexed, rnn_decaying, rnn_until, rnn_break, rnn_branches,
         rnn_epochs, rnn_growing, rnn_factors]
WRT = (0, 1, 2, 4)


def unrewritten(monkeypatch: pytest.MonkeyPatch, g, args: tuple) -> tuple:
    """What gradient `g` gives with code specialised without these rewrites (a table of
    versions of its own: `g` keeps its own)."""
    with monkeypatch.context() as m:
        m.setattr(dispatch, "_made_once", lambda fn, facts: None)
        plain = dispatch.Dispatcher(g.__wrapped__, *g._adc_context)
        return plain(*args)


@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_gradients_against_differences_and_forward_mode(f, monkeypatch):
    for steps in (6, 1, 0):
        args = growing_point() if f is rnn_growing else point(steps=steps)
        if f is rnn_growing:
            args = (*args[:3], args[3][:steps], args[4])
        g = adc.grad(f, wrt=WRT)
        got = g(*args)
        forward = adc.grad(f, wrt=WRT, mode="forward")(*args)
        for k, value, tangent in zip(WRT, got, forward):
            np.testing.assert_allclose(value, numeric_grad(f, list(args), k), rtol=1e-6,
                                       atol=1e-8)
            np.testing.assert_allclose(value, tangent, rtol=1e-12, atol=1e-14)
        if steps > 1:  # (no step: no shape seen to specialise to)
            assert g.specializations[next(reversed(g.specializations))] == "specialised"
        # the same numbers as the code without the rewrite, to the last bit
        for value, plain in zip(got, unrewritten(monkeypatch, g, args)):
            assert np.array_equal(value, plain)
        value, _ = adc.value_and_grad(f, wrt=WRT)(*args)
        assert value == f(*args)  # the primal's own value, not a rounding of it


def test_where_the_rewrites_apply():
    args = point()
    applied = {}
    for f in CASES:
        g = adc.grad(f, wrt=WRT)
        g(*(growing_point() if f is rnn_growing else args))
        source = g.source_for(*(growing_point() if f is rnn_growing else args))
        applied[f.__name__] = (bool(re.search(r"tape_(rows|states)\(", source)),
                               "row_products(" in source)
        assert "tape_" not in g.source and "row_products(" not in g.source
    assert applied == {
        "rnn_rows": (True, True),
        "rnn_indexed": (True, True),  # xs[t] over range(len(xs)): a row as well
        "rnn_decaying": (True, False),  # Wx changes in the loop
        "rnn_until": (True, False),  # a while loop's trip count is not a count of rows
        "rnn_break": (False, False),  # after a break flag, the step runs inside an if
        "rnn_branches": (False, False),  # and so does each branch's
        "rnn_epochs": (True, True),  # the inner loop's, replayed in the outer backward loop
        "rnn_growing": (False, True),  # h changes shape: no static shape to stack
        "rnn_factors": (True, True),
    }


def test_generated_backward_loop_reads_its_row():
    args = point()
    g = adc.grad(rnn_rows, wrt=WRT)
    g(*args)
    source = g.source_for(*args)
    forward, backward = source.split("for step in range(len(stack)):")
    # the forward loop reads the products made before it: no product with Wx inside
    assert re.search(r"(\w+) = row_products\(xs_items, Wx\)", forward)
    assert "x @ Wx" not in forward.split("for index")[1].split("#")[0]
    # the factor 1 - h**2 is made once over the stacked states, each step reads a row
    # (from the one array of the states the products after the loop read)
    assert re.search(r"h_carried, h_rows = tape_states\(stack, None, h\)", forward)
    assert re.search(r"(\w+) = 1\.0 - h_carried \*\* 2", forward)
    loop = backward.split("# adjoint of: for")[0]
    assert "** 2" not in loop and re.search(r"\w+_factors\[step\]", loop)
    # the states and rows the products after the loop read: off the tape, before it
    # (the counter is left off the tape: the rows popped are the last row down to the
    # first, one reversed slice)
    assert re.search(r"x_rows = reversed_rows\(xs_items, stack\)", forward)
    assert re.search(r"stack\.append\(h\)", forward)
    assert ".pop()" not in loop and ".append(" in loop


def test_helpers_give_the_values_of_each_step():
    for shape in [(7, 3, 5), (1, 1, 1), (40, 16, 32), (5, 33, 2)]:
        n, m, p = shape
        a, w = rng.normal(size=(n, m)), rng.normal(size=(m, p))
        for a_, w_ in ((a, w), (np.asfortranarray(a), w.T.copy().T),
                       (rng.normal(size=(m, n)).T, w)):
            rows = runtime_writes.row_products(a_, w_)
            assert rows.shape == (n, p)
            for i in range(n):
                assert np.array_equal(rows[i], a_[i] @ w_)
    stack = [(0, np.ones(3)), (1, 2 * np.ones(3)), (2, 3 * np.ones(3))]
    assert np.array_equal(runtime_writes.tape_rows(stack, 1), [[3.0] * 3, [2.0] * 3, [1.0] * 3])
    assert np.array_equal(runtime_writes.tape_rows(stack, 1, np.zeros(3)), [[0.0] * 3, [3.0] * 3, [2.0] * 3])
    assert np.array_equal(runtime_writes.tape_rows([np.ones(2)], None), [[1.0, 1.0]])
    assert runtime_writes.tape_rows([], 1, np.ones(2)).shape == (1, 2)


@pytest.mark.parametrize("f", [rnn_rows, rnn_factors], ids=lambda f: f.__name__)
def test_second_derivatives_differentiate_the_code_before_the_rewrite(f):
    args = point(hidden=3, inputs=2, steps=4)
    g = adc.grad(f, wrt=1)
    g(*args)
    assert re.search(r"tape_(rows|states)\(", g.source_for(*args)) and "row_products(" in g.source_for(*args)
    V = rng.normal(size=args[1].shape)
    tangents = tuple(V if k == 1 else np.zeros_like(a) for k, a in enumerate(args))
    _, hv = adc.jvp(g, args, tangents)  # forward over the (specialised) reverse

    def moved(s: float) -> np.ndarray:
        return g(*(a + s * V if k == 1 else a for k, a in enumerate(args)))

    eps = 1e-6
    np.testing.assert_allclose(hv, (moved(eps) - moved(-eps)) / (2 * eps), rtol=1e-5, atol=1e-7)
    H = adc.hessian(f, wrt=1)(*args)
    np.testing.assert_allclose(np.tensordot(H, V, axes=2), hv, rtol=1e-9, atol=1e-11)


# ---------------------------------------------------------------- rows a loop wrote


def filled(x, W, h0):
    """Each step writes row t + 1 once: the backward loop reads it."""
    h = np.zeros((x.shape[0] + 1, h0.shape[0]))
    h[0] = h0
    for t in range(x.shape[0]):
        h[t + 1] = np.tanh(h[t] @ W + x[t])
    return np.sum(h[1:] ** 2)


def filled_at_item(x, W, h0):
    """Row t written (the item itself as the index), read by nothing in the loop."""
    h = np.zeros((x.shape[0], h0.shape[0]))
    for t in range(x.shape[0]):
        h[t] = np.tanh(x[t] @ W + h0)
    return np.sum(h * h)


def filled_twice(x, W, h0):
    """Two steps write each of two rows: the last write is the one a row keeps."""
    h = np.zeros((2, h0.shape[0]))
    h[0] = h0
    for t in range(x.shape[0]):
        h[(t + 1) % 2] = np.tanh(h[t % 2] @ W + x[t])
    return np.sum(h ** 2)


def filled_single(x, W, h0):
    """float32 rows: the write rounds the value, so the backward loop may not read it."""
    h = np.zeros((x.shape[0] + 1, h0.shape[0]), dtype=np.float32)
    h[0] = h0
    for t in range(x.shape[0]):
        h[t + 1] = np.tanh(h[t] @ W + x[t])
    return np.sum(h[1:] ** 2)


def filled_broadcast(x, W, h0):
    """A number written into a whole row: the row is not the value written."""
    h = np.zeros((x.shape[0] + 1, h0.shape[0]))
    h[0] = h0
    for t in range(x.shape[0]):
        h[t + 1] = np.tanh(np.sum(h[t] @ W) + x[t, 0])
    return np.sum(h[1:] ** 2)


FILLED = [filled, filled_at_item, filled_twice, filled_single, filled_broadcast]


@pytest.mark.parametrize("f", FILLED, ids=lambda f: f.__name__)
def test_rows_a_loop_wrote(f, monkeypatch):
    for steps in (5, 1):
        x, W, h0 = rng.normal(size=(steps, 4)), rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)
        args = (x, W, h0)
        g = adc.grad(f, wrt=(1, 2))
        got = g(*args)
        forward = adc.grad(f, wrt=(1, 2), mode="forward")(*args)
        tol = 1e-4 if f is filled_single else 1e-6
        for k, value, tangent in zip((1, 2), got, forward):
            if f is not filled_single:
                np.testing.assert_allclose(value, numeric_grad(f, list(args), k), rtol=tol,
                                           atol=1e-8)
            # (float32 rows: the two modes round differently)
            single = f is filled_single
            np.testing.assert_allclose(value, tangent, rtol=1e-5 if single else 1e-12,
                                       atol=1e-6 if single else 1e-14)
        plain = dispatch.Dispatcher(g.__wrapped__, *g._adc_context)
        with monkeypatch.context() as m:
            m.setattr(dispatch, "_made_once", lambda fn, facts: None)
            for value, expected in zip(got, plain(*args)):
                assert np.array_equal(value, expected)
        source = g.source_for(*args)
        backward = "".join(line.split("#")[0]
                           for line in source.split("# adjoint of:", 1)[1].splitlines())
        recomputes = "np.tanh(" in backward or "np.sin(" in backward
        assert recomputes == (f in (filled_twice, filled_single, filled_broadcast)), source


# ---------------------------------------------------------------- lists read off the tape


def rnn_loss(Wx, Wh, b, xs, h0, target):
    """benchmarks/bench_wholes.py's RNN: squared error of the final state."""
    h = h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh + b)
    return np.sum((h - target) ** 2)


def rnn_counted(Wx, Wh, b, xs, h0, target):
    """The rows taken by index over range(n), n read off the array's shape."""
    h = h0
    n = xs.shape[0]
    for t in range(n):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum((h - target) ** 2)


def rnn_reset(Wx, Wh, b, xs, h0, target):
    """The state's first entry set at each step: the backward loop changes a copy of
    the popped state before the product reads it, so that list stays."""
    h = h0.copy()
    for x in xs:
        h[0] = x[0]
        h = np.tanh(x @ Wx + h @ Wh + b)
    return np.sum((h - target) ** 2)


def rnn_scaled(Wx, Wh, b, xs, h0, target):
    """``h *= 0.9`` after the step: the backward loop recomputes the step, so it still
    pops the state (both lists are read off the tape before it all the same)."""
    h = h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh + b)
        h *= 0.9
    return np.sum((h - target) ** 2)


TAPED = [rnn_loss, rnn_counted, rnn_reset, rnn_scaled]
TAPED_WRT = (0, 1, 2, 4)


def taped_point(steps: int) -> tuple:
    return (*point(hidden=6, inputs=4, steps=steps), rng.normal(size=6) * 0.5)


def backward_loop(source: str) -> str:
    """The code from the first backward loop's statement to the end, comments left out."""
    backward = source.split("for step in range(len(stack)):")[-1].split("for _ in range(len(stack)):")[-1]
    return "".join(line.split("#")[0] + "\n" for line in backward.splitlines())


@pytest.mark.parametrize("f", TAPED, ids=lambda f: f.__name__)
def test_lists_read_off_the_tape(f, monkeypatch):
    for steps in (7, 2, 1):
        args = taped_point(steps)
        g = adc.grad(f, wrt=TAPED_WRT)
        got = g(*args)
        assert g.specializations[next(reversed(g.specializations))] == "specialised"
        for k, value in zip(TAPED_WRT, got):
            np.testing.assert_allclose(value, numeric_grad(f, list(args), k), rtol=1e-6,
                                       atol=1e-8)
        for value, plain in zip(got, unrewritten(monkeypatch, g, args)):
            assert np.array_equal(value, plain)
        source = g.source_for(*args)
        loop = backward_loop(source)
        appended = re.findall(r"(\w+)\.append\(", loop)
        # the adjoints of the pre-activations are the loop's own: they stay
        assert len(appended) == (2 if f is rnn_reset else 1), source
        assert not re.search(r"\.append\(xs\w*\[", loop)
        # where nothing pops the tape, the counter is left off it (`tape_counters()`)
        counted = f in (rnn_loss, rnn_counted)
        assert ("_rows = reversed_rows(xs" in source) == counted, source
        assert ("_rows = popped_rows(xs" in source) == (not counted), source
        # the states: with the factors' shifted rows, where those are read off the tape
        states = f"h_rows = tape_states(stack, {None if counted else 1}, h)" in source
        assert states == counted
        assert ("h_rows = tape_rows(stack, 1)" in source) == (f is rnn_scaled)
        pops = ".pop()" in source
        assert pops == (f in (rnn_reset, rnn_scaled)), source
        if pops:  # read before the loop pops the stack, never after it
            assert source.index("popped_rows(") < source.index(".pop()")
        assert "popped_rows(" not in g.source and "reversed_rows(" not in g.source


def test_lists_read_off_the_tape_of_the_benchmark(monkeypatch):
    import importlib
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    bench = importlib.import_module("bench_wholes")
    args = bench.make_rnn(np.random.default_rng(3))
    g = adc.grad(bench.rnn_loss, wrt=(0, 1, 2))
    got = g(*args)
    source = g.source_for(*args)
    assert ".pop()" not in source and "x_steps" not in source and "h_steps" not in source
    for value, hand in zip(got, bench.hand_rnn_gradient(*args)):
        np.testing.assert_allclose(value, hand, rtol=1e-9, atol=1e-12)


def test_popped_rows_helper():
    a = rng.normal(size=(5, 3))
    stack = [(2, "h"), (0, "h"), (4, "h"), (-1, "h")]
    assert np.array_equal(runtime_writes.popped_rows(a, stack, 0), np.array([a[-1], a[4], a[0], a[2]]))
    assert np.array_equal(runtime_writes.popped_rows(a[:, 0], [3, 1], None), [a[1, 0], a[3, 0]])
    assert runtime_writes.popped_rows(a, [], 0).shape == np.array([]).shape
    h = rng.normal(size=3)
    stack = [(k, rng.normal(size=3)) for k in range(4)]
    for entries in (stack, stack[:1]):
        carried, popped = runtime_writes.tape_states(entries, 1, h)
        assert np.array_equal(carried, runtime_writes.tape_rows(entries, 1, h))
        assert np.array_equal(popped, runtime_writes.tape_rows(entries, 1))
    for got, alone in zip(runtime_writes.tape_states([], 1, h),
                          (runtime_writes.tape_rows([], 1, h), runtime_writes.tape_rows([], 1))):
        assert got.shape == alone.shape and np.array_equal(got, alone)
    as_list = [np.ones(2), 2 * np.ones(2)]  # not an array: row by row
    assert np.array_equal(runtime_writes.popped_rows(as_list, [(0,), (1,)], 0), [[2.0, 2.0], [1.0, 1.0]])


def _specialised_ir(f, args: tuple, wrt: tuple, monkeypatch) -> tuple:
    """The specialised code of `f`'s gradient and its facts, as `_made_once` is given them."""
    seen = []
    with monkeypatch.context() as m:
        m.setattr(dispatch, "_made_once", lambda fn, facts: seen.append((fn, facts)))
        adc.grad(f, wrt=wrt)(*args)
    return seen[-1]


def _backward(fn):
    from ad_compiler.ir import ForOp, walk_ops
    return next(op for op in walk_ops(fn.body)  # (the loop keeping the steps' factors)
                if isinstance(op, ForOp) and any(o.prim == "appended" for o in op.body.ops))


def test_lists_read_elsewhere_stay(monkeypatch):
    from ad_compiler.ir import Op, Value, walk_ops
    from ad_compiler.transforms.tape_factors import tape_factors
    from ad_compiler.transforms.tape_steps import tape_steps

    args = taped_point(5)
    fn, facts = _specialised_ir(rnn_loss, args, TAPED_WRT, monkeypatch)
    fn = tape_factors(fn, facts)  # (as `_made_once` runs them: the factors first)
    loop = _backward(fn)
    appends = [op for op in loop.body.ops if op.prim == "appended"]
    assert len(appends) == 3
    rewritten = tape_steps(fn, facts)
    own = [op for op in _backward(rewritten).body.ops if op.prim == "appended"]
    assert len(own) == 1  # the adjoints of the pre-activations: the loop's own
    assert not any(op.prim == "pop" for op in _backward(rewritten).body.ops)

    def helpers(made) -> list[str]:
        return sorted(op.prim for op in walk_ops(made.body)
                      if op.prim in ("tape_rows", "tape_states", "popped_rows"))

    # a list the loop also reads (its length) is appended to as it was
    for append in appends:
        append_at = loop.body.ops.index(append)
        loop.body.ops.insert(append_at, Op("call", [append.args[0]], [Value()],
                                           {"fn": len, "kwnames": ()}))
        made = tape_steps(fn, facts)
        kept = [op for op in _backward(made).body.ops if op.prim == "appended"] if made else appends
        assert any(op.args[0] is append.args[0] for op in kept)
        tape_list = append.args[0] is not own[0].args[0]
        assert len(kept) == (2 if tape_list else 1)
        # where its item is popped (or the index of its row), the loop pops as it did
        assert any(op.prim == "pop" for op in _backward(made).body.ops) == tape_list
        del loop.body.ops[append_at]
    # a loop that writes in place: nothing is read off the tape
    step = next(op for op in loop.body.ops if op.prim == "mul")
    step.attrs["in_place"] = True
    assert tape_steps(fn, facts) is None
    del step.attrs["in_place"]
    assert helpers(tape_steps(fn, facts)) == ["popped_rows", "tape_states"]


# ---------------------------------------------------------------- steps not recomputed


def gru_loss(params, xs, h0, target):
    """A GRU with its weights by gate: the backward loop pops the gates the forward
    step computed (`tape_values()`) instead of computing them again."""
    Wz, Uz, bz = params["z"]
    Wr, Ur, br = params["r"]
    Wh, Uh, bh = params["h"]
    h = h0
    for x in xs:
        z = 1.0 / (1.0 + np.exp(-(x @ Wz + h @ Uz + bz)))
        r = 1.0 / (1.0 + np.exp(-(x @ Wr + h @ Ur + br)))
        hh = np.tanh(x @ Wh + (r * h) @ Uh + bh)
        h = (1.0 - z) * h + z * hh
    return np.mean((h - target) ** 2)


def gru_states(params, xs, h0, target):
    """The states written into a preallocated array, row by row in place: the backward
    loop reads each state back and recomputes the gates, reading the input products
    made for the forward loop at its step (`row_products()`)."""
    Wz, Uz, bz = params["z"]
    Wr, Ur, br = params["r"]
    Wh, Uh, bh = params["h"]
    H = np.zeros((len(xs) + 1, h0.shape[0]))
    H[0] = h0
    for t in range(len(xs)):
        h = H[t]
        z = 1.0 / (1.0 + np.exp(-(xs[t] @ Wz + h @ Uz + bz)))
        r = 1.0 / (1.0 + np.exp(-(xs[t] @ Wr + h @ Ur + br)))
        hh = np.tanh(xs[t] @ Wh + (r * h) @ Uh + bh)
        H[t + 1] = (1.0 - z) * h + z * hh
    return np.mean((H[-1] - target) ** 2) + 0.1 * np.sum(H ** 2)


def _code_after(source: str, marker: str) -> str:
    return "".join(line.split("#")[0] + "\n" for line in source.split(marker)[1].splitlines())


@pytest.mark.parametrize("f", [gru_loss, gru_states], ids=lambda f: f.__name__)
def test_a_backward_loop_that_would_recompute_a_step(f, monkeypatch):
    inputs, hidden, steps = 3, 4, 6
    params = {k: (rng.normal(size=(inputs, hidden)) * 0.5,
                  rng.normal(size=(hidden, hidden)) * 0.4, rng.normal(size=hidden) * 0.1)
              for k in "zrh"}
    xs, h0, target = rng.normal(size=(steps, inputs)), rng.normal(size=hidden), rng.normal(
        size=hidden)
    g = adc.grad(f)
    got = g(params, xs, h0, target)
    source = g.source_for(params, xs, h0, target)
    if f is gru_loss:  # the gates popped: nothing of the step computed again
        backward = _code_after(source, "stack.pop()")
        assert "saved.pop()" in backward and "saved.append((" in source
        assert "np.exp(" not in backward and "np.tanh(" not in backward
    else:  # no tape: each step's state read back from H, the step recomputed with the
        # input products read back too (and H never copied: the view h = H[t] is not
        # read after the write)
        backward = _code_after(source, "in reversed(")
        assert "stack" not in source and "saved" not in source and ".copy()\n" not in \
            source.split("in reversed(")[0]
        assert len(re.findall(r"W[zrh]_xs\[t_1\]", backward)) == 3, source
        assert "@ W" not in backward
    assert "row_products(" not in backward
    plain = unrewritten(monkeypatch, g, (params, xs, h0, target))
    for gate in "zrh":
        for k in range(3):
            assert np.array_equal(got[gate][k], plain[gate][k])
            d = rng.normal(size=params[gate][k].shape)

            def along(t, gate=gate, k=k, d=d):
                moved = dict(params)
                moved[gate] = tuple(p + t * d if j == k else p
                                    for j, p in enumerate(params[gate]))
                return f(moved, xs, h0, target)

            np.testing.assert_allclose(np.sum(got[gate][k] * d),
                                       (along(1e-6) - along(-1e-6)) / 2e-6, rtol=1e-6,
                                       atol=1e-9)
    value, _ = adc.value_and_grad(f)(params, xs, h0, target)
    value, _ = adc.value_and_grad(f)(params, xs, h0, target)
    assert value == f(params, xs, h0, target)


def outer_steps(v, xs, h0):
    """Each step makes a 200 x 200 matrix from a 200-vector state: saved, the tape
    would hold 200 times what it holds, so the backward loop computes it again."""
    h = h0
    for x in xs:
        A = np.outer(np.tanh(h), x)
        h = np.tanh(A @ v) + 0.5 * h
    return np.sum(h ** 2)


def test_large_step_values_are_recomputed_not_saved(monkeypatch):
    n = 200
    v, xs, h0 = rng.normal(size=n) / n, rng.normal(size=(4, n)), rng.normal(size=n)
    g = adc.grad(outer_steps)
    got = g(v, xs, h0)
    assert "saved" not in g.source_for(v, xs, h0)
    np.testing.assert_allclose(got, numeric_grad(outer_steps, [v, xs, h0], 0), rtol=1e-6,
                               atol=1e-9)
    assert np.array_equal(got, unrewritten(monkeypatch, g, (v, xs, h0)))
    small = 20  # 20 x 20 matrices: within the budget, saved
    v2, xs2, h2 = rng.normal(size=small) / small, rng.normal(size=(4, small)), rng.normal(
        size=small)
    g(v2, xs2, h2)
    assert "saved.pop()" in g.source_for(v2, xs2, h2)
    np.testing.assert_allclose(g(v2, xs2, h2), numeric_grad(outer_steps, [v2, xs2, h2], 0),
                               rtol=1e-6, atol=1e-9)


def test_the_gru_of_the_benchmark_against_its_hand_written_adjoint(monkeypatch):
    import importlib
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    bench = importlib.import_module("bench_wholes")
    args = bench.make_gru(np.random.default_rng(4))
    g = adc.grad(bench.gru_loss, wrt=tuple(range(9)))
    got = g(*args)
    source = g.source_for(*args)
    assert "saved.pop()" in source and "np.exp(" not in _code_after(source, "stack.pop()")
    for value, hand in zip(got, bench.hand_gru_gradient(*args)):
        np.testing.assert_allclose(value, hand, rtol=1e-9, atol=1e-12)


def states_by_name(W, xs, h0):
    """Each state read by name (``h = H[t]``, a view of H) before the next row is
    written: the view is not read after the write."""
    H = np.zeros((len(xs) + 1, h0.shape[0]))
    H[0] = h0
    for t in range(len(xs)):
        h = H[t]
        H[t + 1] = np.tanh(h @ W + xs[t])
    return np.sum(H ** 2)


def states_inline(W, xs, h0):
    H = np.zeros((len(xs) + 1, h0.shape[0]))
    H[0] = h0
    for t in range(len(xs)):
        H[t + 1] = np.tanh(H[t] @ W + xs[t])
    return np.sum(H ** 2)


def states_by_name_read_after(W, xs, h0):
    """The view read after the write: it must see the row as it is then (the same row
    here, as the write goes one row further)."""
    H = np.zeros((len(xs) + 1, h0.shape[0]))
    H[0] = h0
    total = 0.0
    for t in range(len(xs)):
        h = H[t]
        H[t + 1] = np.tanh(h @ W + xs[t])
        total = total + np.sum(h * H[t + 1])
    return total + np.sum(H ** 2)


def test_a_named_view_of_the_state_costs_no_copy_per_step():
    """The gradient keeps no copy of H per step (which made the tape grow as the square
    of the number of steps) where the view is not read after the write."""
    W, xs, h0 = rng.normal(size=(4, 4)) * 0.4, rng.normal(size=(7, 4)), rng.normal(size=4)
    for f in (states_by_name, states_inline, states_by_name_read_after):
        g = adc.grad(f)
        for _ in range(2):  # generic, then specialised
            got = g(W, xs, h0)
            np.testing.assert_allclose(got, numeric_grad(f, [W, xs, h0], 0), rtol=1e-6,
                                       atol=1e-9)
        np.testing.assert_allclose(adc.grad(f, mode="forward")(W, xs, h0), got,
                                   rtol=1e-10, atol=1e-12)
        value, _ = adc.value_and_grad(f)(W, xs, h0)
        assert value == f(W, xs, h0)
        if f is not states_by_name_read_after:
            source = adc.source(f)
            assert "stack" not in source and ".copy()\n" not in source.split("adjoint of")[0]
