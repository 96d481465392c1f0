"""Products of the function's own values as ``a.dot(b)`` where that gives the numbers
``a @ b`` gives (transforms/primal_dots.py): C-contiguous float64 operands, shown so
in the code or, for inputs, checked at each call (dispatch.py runs the version with
``@`` for other layouts)."""
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from support import numeric_grad
from test_random_programs import compile_program

import ad_compiler as adc

rng = np.random.default_rng(97)


def rnn_loss(Wx, Wh, b, xs, h0, target):
    h = h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh + b)
    return np.sum((h - target) ** 2)


def rnn_point(steps=20, hidden=32):
    return (rng.normal(size=(6, hidden)) * 0.3, rng.normal(size=(hidden, hidden)) * 0.2,
            rng.normal(size=hidden) * 0.1, rng.normal(size=(steps, 6)),
            rng.normal(size=hidden) * 0.5, rng.normal(size=hidden))


def _code(source):
    return "\n".join(line.split("#")[0] for line in source.splitlines())


def _strided(a):
    """`a`'s numbers in every other row and column of a larger array: a view NumPy's
    ``@`` cannot hand to BLAS, where ``.dot`` copies it and does."""
    big = np.zeros(tuple(2 * n for n in a.shape))
    big[tuple(slice(None, None, 2) for _ in a.shape)] = a
    view = big[tuple(slice(None, None, 2) for _ in a.shape)]
    assert np.array_equal(view, a) and not view.flags.c_contiguous
    return view


@pytest.mark.parametrize("left, right", [((32,), (32, 32)), ((7,), (7, 300)),
                                         ((300,), (300, 5)), ((32, 32), (32,)),
                                         ((5, 300), (300,)), ((2, 3), (3, 2)),
                                         ((64, 50), (50, 70)), ((200, 200), (200, 200))])
def test_dot_and_matmul_agree_to_the_bit_on_c_contiguous_float64(left, right):
    """What the rewrite rests on, asked of the NumPy and BLAS installed."""
    for scale in (1.0, 1e-8, 1e8):
        a = rng.normal(size=left) * np.exp(rng.normal(size=left) * 3) * scale
        b = rng.normal(size=right) * np.exp(rng.normal(size=right) * 3)
        assert np.array_equal(a @ b, a.dot(b))


def test_the_rnn_forward_product_is_a_dot_and_the_value_is_the_functions():
    args = rnn_point()
    value_and_grad = adc.value_and_grad(rnn_loss, wrt=(0, 1, 2))
    for _ in range(2):  # generic, then specialised
        value, grads = value_and_grad(*args)
    assert value == rnn_loss(*args)
    code = _code(value_and_grad.source_for(*args))
    assert "h.dot(Wh)" in code and "h @ Wh" not in code
    for k, got in zip((0, 1, 2), grads):
        np.testing.assert_allclose(got, numeric_grad(rnn_loss, list(args), k),
                                   rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("position", [1, 4], ids=["Wh", "h0"])
@pytest.mark.parametrize("layout", ["strided", "reversed", "fortran"])
def test_other_layouts_of_an_input_run_the_products_as_written(position, layout):
    """Same shapes, so the same signature: the version with ``.dot`` must not run for
    an input it relies on being C-contiguous, here one ``@`` adds in another order."""
    args = list(rnn_point())
    original = args[position]
    if layout == "strided":
        args[position] = _strided(original)
    elif layout == "reversed":
        args[position] = original[::-1].copy()[::-1]
    elif original.ndim == 2:
        args[position] = np.asfortranarray(original)
    else:
        pytest.skip("a vector is contiguous in either order")
    contiguous = list(rnn_point())
    value_and_grad = adc.value_and_grad(rnn_loss, wrt=(0, 1, 2))
    # alternate: the signature check of the last call must not let the other layout in
    for call in (contiguous, args, contiguous, args, args, contiguous):
        value, grads = value_and_grad(*call)
        assert value == rnn_loss(*call)
        want = adc.grad(rnn_loss, wrt=(0, 1, 2))._adc_generic(*call)
        for got, expected in zip(grads, want):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    assert list(value_and_grad.specializations.values()) == ["specialised"]
    assert "h.dot(Wh)" in _code(value_and_grad.source_for(*contiguous))
    assert "h @ Wh" in _code(value_and_grad.source_for(*args))


def gated(A, B, x):
    return np.sum(np.tanh(A * 0.5) @ B @ x)


def transposed(A, x):
    return np.sum(np.sin(A.T @ x))


def every_other(W, x):
    return np.sum(np.cos(x[::2] @ W))


def thin(W, x):
    return np.sum((x @ W) ** 2)


def inner(x, y):
    return np.tanh(x @ y)


def rows_from_zeros(xs, W):
    """A state started by np.zeros, fed rows of an input."""
    h = np.zeros(W.shape[1])
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W + h)
    return np.sum(h ** 2)


def fortran_zeros(A, x):
    M = np.zeros((4, 4), float, "F") + A
    return np.sum(np.sin(M @ x))


def carried_view(A, B):
    M = A.T
    for _ in range(3):
        M = np.tanh(M @ B)
    return np.sum(M)


@pytest.mark.parametrize("f, shapes, dots", [
    (gated, [(5, 4), (4, 6), (6,)], 2),          # a ufunc's matrix, a product's
    (transposed, [(6, 5), (6,)], 0),              # a view: its layout is the input's
    (every_other, [(4, 3), (8,)], 0),             # a strided slice
    (thin, [(5, 1), (5,)], 0),                    # a dimension of 1: another BLAS call
    (inner, [(5,), (5,)], 0),                     # two vectors: a dot of its own kind
    (carried_view, [(4, 4), (4, 4)], 0),          # a loop carrying a view in
    (rows_from_zeros, [(5, 3), (3, 4)], 1),       # np.zeros, a row of a matrix
    (fortran_zeros, [(4, 4), (4,)], 0),           # np.zeros in Fortran order
], ids=lambda p: getattr(p, "__name__", None))
def test_which_products_of_values_become_dots(f, shapes, dots):
    args = [rng.normal(size=s) for s in shapes]
    value_and_grad = adc.value_and_grad(f, wrt=tuple(range(len(args))))
    for _ in range(2):
        value, grads = value_and_grad(*args)
    assert value == f(*args)
    primal = _code(value_and_grad.source_for(*args).split("# adjoint of")[0])
    assert primal.count(".dot(") == dots
    for k, got in enumerate(grads):
        np.testing.assert_allclose(got, numeric_grad(f, list(args), k), rtol=1e-6,
                                   atol=1e-8)


def test_a_matrix_made_from_an_input_relies_on_the_input_too():
    """``np.tanh(A * 0.5)`` is laid out as A is: a Fortran-order A makes it so."""
    A, B, x = (rng.normal(size=s) for s in [(5, 4), (4, 6), (6,)])
    value_and_grad = adc.value_and_grad(gated, wrt=(0, 1, 2))
    for call in ((A, B, x), (np.asfortranarray(A), B, x), (_strided(A), B, x)):
        value, _ = value_and_grad(*call)
        assert value == gated(*call)
    def primal_dots(*call):
        return _code(value_and_grad.source_for(*call).split("# adjoint of")[0]).count(".dot(")
    assert primal_dots(A, B, x) == 2 and primal_dots(np.asfortranarray(A), B, x) == 0


def gated_layer(x, A, c):
    return np.tanh(A @ x + c) * x


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_sweeps_run_for_every_layout_of_an_input(mode):
    """A Jacobian's sweeps choose their version without the dispatcher's call (they
    pass no seed): the layout is asked there too."""
    x, c = rng.normal(size=30), rng.normal(size=30)
    A = rng.normal(size=(30, 30)) * 0.2
    jacobian = adc.jacobian(gated_layer, mode=mode)
    for matrix in (A, np.asfortranarray(A), _strided(A), A, A[::-1].copy()[::-1]):
        t = np.tanh(matrix @ x + c)
        want = (1.0 - t ** 2)[:, None] * matrix * x[:, None] + np.diag(t)
        np.testing.assert_allclose(jacobian(x, matrix, c), want, rtol=1e-13, atol=1e-15)


def written_states(x, W):
    """The README's RNN: states written into a preallocated array, a row read back."""
    h = np.zeros((len(x) + 1, W.shape[0]))
    for t in range(len(x)):
        h[t + 1] = np.tanh(h[t] @ W + x[t])
    return np.sum(h[-1] ** 2)


def test_rows_of_an_array_written_into_keep_its_layout():
    x, W = rng.normal(size=(12, 8)), rng.normal(size=(8, 8)) * 0.3
    value_and_grad = adc.value_and_grad(written_states, wrt=1)
    for call in ((x, W), (x, W), (x, np.asfortranarray(W)), (x, _strided(W))):
        value, grad = value_and_grad(*call)
        assert value == written_states(*call)
        np.testing.assert_allclose(grad, numeric_grad(written_states, list(call), 1),
                                   rtol=1e-6, atol=1e-8)
    assert "h[t].dot(W)" in _code(value_and_grad.source_for(x, W))
    assert "h[t] @ W" in _code(value_and_grad.source_for(x, _strided(W)))


# -- generated programs: products of views, rows, loops, over inputs of every layout

_LAYOUTS = ("c", "fortran", "strided", "reversed")


def _laid_out(a, layout):
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided":
        return _strided(a)
    if layout == "reversed":
        return a[::-1].copy()[::-1]
    return a


@st.composite
def product_programs(draw):
    """``def f(A, B, v)`` over 5x5 matrices A, B and a 5-vector v: 1-6 statements of
    products, ufuncs, views (``.T``, reversed rows), rows, and a loop carrying a vector
    or a matrix through a product; it returns a sum of the last matrix and vector."""
    matrices, vectors, lines = ["A", "B"], ["v"], []
    for k in range(draw(st.integers(1, 6))):
        m1, m2 = draw(st.sampled_from(matrices)), draw(st.sampled_from(matrices))
        u = draw(st.sampled_from(vectors))
        kind = draw(st.sampled_from(["mm", "mv", "vm", "ufunc_m", "ufunc_v", "transpose",
                                     "reversed", "row", "loop_v", "loop_m"]))
        name = f"t{k}"
        if kind == "mm":
            lines.append(f"{name} = np.tanh({m1} @ {m2} * 0.3)")
        elif kind == "mv":
            lines.append(f"{name} = {m1} @ {u}")
        elif kind == "vm":
            lines.append(f"{name} = np.sin({u} @ {m1})")
        elif kind == "ufunc_m":
            lines.append(f"{name} = np.cos({m1}) + {m2} * 0.5")
        elif kind == "ufunc_v":
            lines.append(f"{name} = np.tanh({u} * 0.5) - {u}")
        elif kind == "transpose":
            lines.append(f"{name} = {m1}.T")
        elif kind == "reversed":
            lines.append(f"{name} = {m1}[::-1]")
        elif kind == "row":
            lines.append(f"{name} = {m1}[{draw(st.integers(0, 4))}]")
        elif kind == "loop_v":
            lines += [f"{name} = {u}", "for _ in range(3):",
                      f"    {name} = np.tanh({name} @ {m1} * 0.4)"]
        else:
            lines += [f"{name} = {m1}", "for _ in range(2):",
                      f"    {name} = np.tanh({m2} @ {name} * 0.4)"]
        (vectors if kind in ("mv", "vm", "ufunc_v", "row", "loop_v") else matrices).append(name)
    body = "\n".join("    " + line for line in lines)
    return (f"def f(A, B, v):\n{body}\n"
            f"    return np.sum({matrices[-1]} * {matrices[-1]}) + np.sum(np.sin({vectors[-1]}))\n")


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(product_programs(), st.lists(st.sampled_from(_LAYOUTS), min_size=3, max_size=3))
def test_generated_products_keep_the_functions_value_for_every_layout(source, layouts):
    note(source)
    f = compile_program(source, {"np": np})
    point = np.random.default_rng(zlib.crc32(source.encode()))
    args = [point.normal(size=(5, 5)), point.normal(size=(5, 5)), point.normal(size=5)]
    value_and_grad = adc.value_and_grad(f, wrt=(0, 1, 2))
    generic = adc.grad(f, wrt=(0, 1, 2))._adc_generic
    laid = [_laid_out(a, layout) for a, layout in zip(args, layouts)]
    for call in (args, laid, args, laid):  # C-contiguous first: its version is made
        value, grads = value_and_grad(*call)
        assert value == f(*call)
        for got, want in zip(grads, generic(*call)):
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
