"""Hessians of functions with an array output, ``y.shape + x.shape + x.shape``.

Three ways, the first that applies: one sweep, the vector-mode JVP (the Jacobian)
differentiated in vector mode again (vector_tangents.py gives vector-mode code's own
functions their tangents); where x has no more numbers than y (residuals of a model
with a few parameters), the forward-mode Jacobian of the JVP in each unit direction of
x; otherwise the forward-mode Jacobian of the pullback of each output's unit
cotangent.  They are checked against a hand-written Hessian, second central
differences, and each other on the registry catalogue; the tangent rules they need
(of ``product_tangent``, of ``np.append`` with an operand that carries no tangent, of
vector-mode functions on two axes of directions) against values computed directly.
"""
import numpy as np
import pytest
import scipy.linalg
from fixtures import output_hessians as F
from fixtures import registry_cases as cases
from test_registry import CASES
from test_trust_hessian import second_differences

import ad_compiler as adc
from ad_compiler import hessians

_FAST_WAYS = ("_one_sweep_hessian", "_forward_over_forward")


def _ways(monkeypatch):
    """Record, per Hessian, which of the fast ways gave it (none: the pullbacks)."""
    taken = []

    def recorded(name):
        original = getattr(hessians, name)

        def recording(*args):
            found = original(*args)
            if found is not None:
                taken.append(name)
            return found

        return recording

    for name in _FAST_WAYS:
        monkeypatch.setattr(hessians, name, recorded(name))
    return taken


def _by_pullbacks(monkeypatch, f, *args):
    """The Hessian with the fast ways turned off: one sweep per output element."""
    with monkeypatch.context() as patch:
        for name in _FAST_WAYS:
            patch.setattr(hessians, name, lambda *a: None)
        return adc.hessian(f)(*args)


def test_residuals_of_a_three_parameter_model(monkeypatch):
    t = np.linspace(0.0, 3.0, 400)
    y = np.cos(t)
    theta = np.array([1.2, 0.7, 0.3])
    taken = _ways(monkeypatch)
    H = adc.hessian(F.decay_residuals)(theta, t, y)
    assert taken == ["_one_sweep_hessian"]  # one sweep, not four hundred
    a, k = theta[0], theta[1]
    by_hand = np.zeros((400, 3, 3))  # d2/da dk = -t e^{-kt}, d2/dk2 = a t^2 e^{-kt}
    by_hand[:, 0, 1] = by_hand[:, 1, 0] = -t * np.exp(-k * t)
    by_hand[:, 1, 1] = a * t * t * np.exp(-k * t)
    np.testing.assert_allclose(H, by_hand, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(H, _by_pullbacks(monkeypatch, F.decay_residuals, theta, t, y),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["padded_squares", "repeated_rows", "features"])
def test_against_second_differences(name, monkeypatch):
    f = getattr(F, name)
    args = {"padded_squares": (np.array([0.3, -0.7]), np.array([1.0, 2.0, 3.0])),
            "repeated_rows": (np.array([0.4, -0.9]),),
            "features": (np.array([0.8, 0.6]),)}[name]
    taken = _ways(monkeypatch)
    H = adc.hessian(f)(*args)
    assert len(taken) == 1
    np.testing.assert_allclose(H, second_differences(f, list(args), 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, _by_pullbacks(monkeypatch, f, *args), rtol=1e-12,
                               atol=1e-13)


def test_more_parameters_than_outputs(monkeypatch):
    def pair(x):
        return np.array([np.sum(x * x * x), np.prod(x[:3])])

    x = np.array([0.5, -0.3, 0.8, 1.1, 0.2])
    taken = _ways(monkeypatch)
    H = adc.hessian(pair)(x)
    assert taken == ["_one_sweep_hessian"]
    hand = np.zeros((2, 5, 5))
    hand[0] = np.diag(6 * x)
    hand[1, :3, :3] = [[0, x[2], x[1]], [x[2], 0, x[0]], [x[1], x[0], 0]]
    np.testing.assert_allclose(H, hand, rtol=1e-13, atol=1e-15)


def _point(name):
    return np.random.default_rng(sum(map(ord, name))).uniform(0.2, 0.8, CASES[name])


def _array_outputs():
    """The registry catalogue's array-valued functions with no more inputs than outputs."""
    names = []
    for name in sorted(CASES):
        f = getattr(cases, f"f_{name}", None)
        if f is None:
            continue
        x = _point(name)
        with np.errstate(all="ignore"):
            y = f(x)
        if not isinstance(y, (list, tuple)) and np.ndim(y) and np.size(x) <= np.size(y) \
                and np.issubdtype(np.asarray(y).dtype, np.floating):
            names.append(name)
    return names


@pytest.mark.parametrize("name", _array_outputs())
def test_catalogue_both_ways_agree(name, monkeypatch):
    """The two ways give the same Hessian on each of them, and (up to 5,000 numbers)
    second differences agree."""
    f, x = getattr(cases, f"f_{name}"), _point(name)
    taken = _ways(monkeypatch)
    with np.errstate(all="ignore"):
        H = adc.hessian(f)(x)
        reference = _by_pullbacks(monkeypatch, f, x)
    np.testing.assert_allclose(H, reference, rtol=1e-10, atol=1e-10)
    if name not in _NOT_PLAIN_TANGENT_CODE:
        assert len(taken) == 1
    if H.size <= 5000:
        scale = max(1.0, float(np.max(np.abs(H))))  # (qr's reach 40: so do their errors)
        np.testing.assert_allclose(H, second_differences(f, [x], 0, h=2e-4), rtol=1e-4,
                                   atol=1e-5 * scale)


# JVP code that calls run-time helpers whose rules do not follow every value they read:
# their Hessians take one sweep per output
_NOT_PLAIN_TANGENT_CODE = {"slogdet"}

# catalogue functions whose vector-mode JVP calls the joins (a list of batched arrays),
# splits (a list out), paddings, differences, fills, np.linspace, np.trapezoid,
# np.insert (one direction at a time), the rows of np.cov, the covariance matrix of
# multivariate_normal and the quantiles (the data read for its order alone), the
# solves (through the matrix too) and the interpolations (through the points too):
# differentiated in vector mode again
_ONE_SWEEP = ["append", "array_split", "cho_factor", "cho_solve", "cholesky",
              "concatenate", "corrcoef", "cov", "diff", "expm", "full", "full_like",
              "gradient", "hsplit", "hstack", "index_join", "insert", "interp",
              "linspace", "lstsq", "median", "multivariate_normal_logpdf",
              "multivariate_normal_pdf", "pad", "percentile", "polyval", "qr", "quantile",
              "solve", "solve_sylvester", "solve_triangular", "split", "sqrtm",
              "stack_arrays", "trapezoid", "vsplit", "vstack"]


@pytest.mark.parametrize("name", _ONE_SWEEP)
def test_catalogue_in_one_sweep(name, monkeypatch):
    """Each takes the one sweep, and agrees with the pullbacks' Hessian and with second
    differences."""
    f, x = getattr(cases, f"f_{name}"), _point(name)
    taken = _ways(monkeypatch)
    with np.errstate(all="ignore"):
        H = adc.hessian(f)(x)
        reference = _by_pullbacks(monkeypatch, f, x)
    assert taken == ["_one_sweep_hessian"]
    np.testing.assert_allclose(H, reference, rtol=1e-10, atol=1e-10)
    scale = max(1.0, float(np.max(np.abs(H))))
    np.testing.assert_allclose(H, second_differences(f, [x], 0, h=2e-4), rtol=1e-4,
                               atol=1e-5 * scale)


def test_append_with_a_constant_operand_in_forward_mode():
    """np.append(c, x * x) in forward mode: c's missing tangent is zeros of its shape
    (a bare 0.0 made NumPy join a number, or broadcast the directions wrongly)."""
    def loss(x, c):
        return np.sum(np.append(c, x * x, axis=0) ** 2)

    def flat(x, c):
        return np.sum(np.append(c, x * x) ** 2)

    x, c = np.array([0.3, 0.7]), np.array([1.0, 2.0, 3.0])
    for f in (loss, flat):
        expected = 4 * x ** 3  # d/dx sum(c^2 + x^4)
        for mode in ("forward", "reverse"):
            np.testing.assert_allclose(adc.grad(f, mode=mode)(x, c), expected, rtol=1e-13)
        np.testing.assert_allclose(adc.hessian(f)(x, c), np.diag(12 * x ** 2), rtol=1e-13)
        value, tangent = adc.jvp(f, (x, c), (np.array([1.0, -2.0]), np.zeros(3)))
        np.testing.assert_allclose(tangent, 4 * x[0] ** 3 - 8 * x[1] ** 3, rtol=1e-13)


def test_a_square_layer_in_one_sweep(monkeypatch):
    """tanh(A @ x) * x, 30 -> 30: the vector-mode JVP differentiated in vector mode
    again (the product with the seed's identity, the sums and the broadcasts of
    vector-mode code have tangents of their own), against the per-output pullbacks and
    a Hessian by hand."""
    rng = np.random.default_rng(5)
    x, A = rng.normal(size=30), rng.normal(size=(30, 30)) / 3

    def layer(x, A):
        return np.tanh(A @ x) * x

    taken = _ways(monkeypatch)
    H = adc.hessian(layer)(x, A)
    assert taken == ["_one_sweep_hessian"]
    t = np.tanh(A @ x)
    s = 1.0 - t * t  # d t / d u, u = A @ x; d2 t / d u2 = -2 t s
    by_hand = (-2.0 * t * s * x)[:, None, None] * A[:, :, None] * A[:, None, :]
    for i in range(30):  # y_i = t_i x_i: the cross terms s_i A_ij delta_ik, both ways
        by_hand[i, i, :] += s[i] * A[i]
        by_hand[i, :, i] += s[i] * A[i]
    np.testing.assert_allclose(H, by_hand, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(H, _by_pullbacks(monkeypatch, layer, x, A), rtol=1e-12,
                               atol=1e-13)


def test_vector_mode_functions_on_two_axes_of_directions():
    """merged(): a vector-mode function on inner and outer directions merged is the
    function on each outer direction; each_outer(): one call per outer direction."""
    from ad_compiler import batched, vector_tangents

    rng = np.random.default_rng(2)
    t = rng.normal(size=(4, 3, 5, 2))  # primal (4, 3), 5 inner and 2 outer directions
    for fn, rest in [(batched.batched_sum, (1,)), (batched.batched_transpose, ()),
                     (batched.batched_reshape, ((12,),)), (batched.batched_swapaxes, (0, 1))]:
        got = vector_tangents.merged(fn, 0, t, *rest)
        expected = np.stack([fn(t[..., k], *rest) for k in range(2)], axis=-1)
        np.testing.assert_array_equal(got, expected)
    a_dot = rng.normal(size=(6, 4, 2))  # an outer tangent of a (6, 4) left operand
    v = rng.normal(size=(4, 5))  # a batched right operand: 5 inner directions
    got = vector_tangents.each_outer(batched.batched_rmatmul, 0, a_dot, v)
    np.testing.assert_allclose(got, np.einsum("ikj,kn->inj", a_dot, v), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["transposed_unit_triangle", "upper_cholesky_solve",
                                  "clamped_interpolation", "joined_with_numbers",
                                  "uneven_split", "steps_of_a_parameter",
                                  "samples_from_a_constant", "stacked_solves",
                                  "stacked_factors"])
def test_other_settings_in_one_sweep(name, monkeypatch):
    """Settings the catalogue does not take (a transposed unit triangle, an upper
    factor, values left and right of the knots, numbers joined, a step that varies,
    stacks of matrices): one sweep, against the pullbacks and second differences."""
    f, x = getattr(F, name), np.array([0.3, 0.7, 0.45, 0.9])
    taken = _ways(monkeypatch)
    H = adc.hessian(f)(x)
    assert taken == ["_one_sweep_hessian"]
    np.testing.assert_allclose(H, _by_pullbacks(monkeypatch, f, x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, second_differences(f, [x], 0, h=2e-4), rtol=1e-4,
                               atol=1e-6)


def test_fills_and_paddings_followed_only_where_linear():
    """batched_full cast to integers and np.pad's modes that take maxima or means are
    not linear in the tangent: they have no rule (a fill cast to integers is constant,
    and the JVP leaves it out: the Hessian is that of the float term alone)."""
    from ad_compiler import batched, vector_tangents
    from ad_compiler.ir import Const

    assert vector_tangents.rule_of(batched.batched_full, [Const(3), Const(None),
                                                          Const(int)]) is None
    assert vector_tangents.rule_of(batched.batched_full, [Const(3), Const(None)]) == ((1,), ())
    assert vector_tangents.rule_of(batched.batched_pad, [Const(None), Const(1),
                                                         Const("maximum")]) is None

    def whole(x):
        return np.full(3, x[0] * x[1], dtype=int) + x[0] * x[1] ** 2

    x = np.array([0.3, 0.7])
    expected = np.zeros((3, 2, 2))
    expected[:, 0, 1] = expected[:, 1, 0] = 2 * x[1]
    expected[:, 1, 1] = 2 * x[0]
    np.testing.assert_allclose(adc.hessian(whole)(x), expected, rtol=1e-13, atol=1e-15)


def test_joins_splits_and_linear_maps_on_two_axes_of_directions():
    """merged() of a list of batched arrays (the joins), of a function returning a list
    (the splits), and of several batched arguments together, one of them with a single
    direction (the same in each): the function on each outer direction in turn."""
    from ad_compiler import batched, vector_tangents

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(3, 4, 5, 2)), rng.normal(size=(3, 1, 5, 2))
    start, stop = rng.normal(size=(5, 2)), rng.normal(size=(1, 2))
    values = rng.normal(size=(3, 1, 5, 2))
    calls = [
        (batched.batched_concatenate, 0, ([a, b], 1), {0}),
        (batched.batched_stack, 0, ((a, a), 0), {0}),
        (batched.batched_hstack, 0, ([a, b],), {0}),
        (batched.batched_index_join, 1, (np.c_, [a, b]), {1}),
        (batched.batched_split, 0, (a, 2, 1), {0}),
        (batched.batched_linspace, (0, 1), (start, stop, 4), {0, 1}),
        (batched.vmap_last, (2, 4), (np.insert, (0, 2), a, [1, 3], values, 1), {2, 4}),
    ]

    def outer_direction(arg, k, inner):
        if isinstance(arg, (list, tuple)):
            return [outer_direction(item, k, inner) for item in arg]
        one = arg[..., k]
        return np.broadcast_to(one, one.shape[:-1] + (inner,))

    for fn, positions, args, batched_at in calls:
        got = vector_tangents.merged(fn, positions, *args)
        per_outer = [fn(*(outer_direction(arg, k, 5) if j in batched_at else arg
                          for j, arg in enumerate(args))) for k in range(2)]
        if isinstance(got, list):  # a list out: each piece with its two axes
            for j, piece in enumerate(got):
                np.testing.assert_array_equal(piece, np.stack([r[j] for r in per_outer], -1))
        else:
            np.testing.assert_array_equal(got, np.stack(per_outer, axis=-1))


def test_column_helpers_on_two_axes_of_directions():
    """The batched forms of the solve's column helpers and of lstsq's residuals' tangent
    on two axes of directions: each outer direction is the helper of one axis."""
    from ad_compiler import runtime_linalg as rl

    rng = np.random.default_rng(4)
    pairs = [(rl.as_column_batched, rl.as_column_batched_twice),
             (rl.from_column_batched, rl.from_column_batched_twice),
             (rl.residuals_tangent_batched, rl.residuals_tangent_batched_twice)]
    cases_of = {rl.as_column_batched: [(rng.normal(size=(3, 5, 2)), np.ones(3)),
                                       (rng.normal(size=(3, 2, 5, 2)), np.ones((3, 2)))],
                rl.from_column_batched: [(rng.normal(size=(3, 1, 5, 2)), np.ones(3)),
                                         (rng.normal(size=(3, 2, 5, 2)), np.ones((3, 2)))],
                rl.residuals_tangent_batched: [(rng.normal(size=(5, 2)), np.ones(1)),
                                               (rng.normal(size=(2, 5, 2)), np.ones(2)),
                                               (rng.normal(size=(5, 2)), np.ones(0))]}
    for once, twice in pairs:
        for t, b in cases_of[once]:
            expected = np.stack([once(t[..., k], b) for k in range(2)], axis=-1)
            np.testing.assert_array_equal(twice(t, b), expected)


def test_one_direction_at_a_time_only_for_functions_with_a_rule():
    """vmap_last of np.insert (linear in the array and the values together) is followed
    on both; of any other function it has no tangent.  (expm of each direction's
    matrix, nonlinear, is batched_expm, followed through its argument by expm's own
    derivative.)"""
    from ad_compiler import batched, batched_products, vector_tangents
    from ad_compiler.ir import Const

    insert = [Const(np.insert), Const((0, 2)), Const(None), Const((1,)), Const(None)]
    assert vector_tangents.rule_of(batched.vmap_last, insert) == ((2, 4), ())
    assert vector_tangents.through_of(batched.vmap_last, insert) == {}
    expm = [Const(None)]
    assert vector_tangents.rule_of(batched_products.batched_expm, expm) == ((), ())
    assert vector_tangents.through_of(batched_products.batched_expm, expm) == {
        0: vector_tangents.expm_through_stack}
    inverse = [Const(np.linalg.inv), Const((0,)), Const(None)]
    assert vector_tangents.rule_of(batched.vmap_last, inverse) is None


def _through_by_differences(fn, at, args, direction, h=1e-6):
    """d fn(*args) / d args[at] along `direction`, by central differences."""
    def shifted(step):
        moved = list(args)
        moved[at] = args[at] + step * direction
        return np.asarray(fn(*moved))
    return (shifted(h) - shifted(-h)) / (2 * h)


@pytest.mark.parametrize("case", ["solve", "solve-matrix", "solve-stack", "solve-stack-vector",
                                  "triangular", "cho_solve-lower",
                                  "cho_solve-upper", "sylvester-a", "sylvester-b", "interp",
                                  "polyval", "expm", "expm-stack", "expm-in-parts"])
def test_tangents_through_nonlinear_arguments(case, monkeypatch):
    """The tangent of a batched function through an argument it is nonlinear in (a
    matrix solved with, the points interpolated at), for each outer direction of that
    argument's tangent, against central differences of the function itself."""
    from ad_compiler import batched_products as bp
    from ad_compiler import batched_signals as bs
    from ad_compiler import runtime_linalg
    from ad_compiler import vector_tangents as vt

    rng = np.random.default_rng(11)
    a = rng.normal(size=(3, 3)) + 4 * np.eye(3)
    b = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    x = np.array([0.15, 0.55, 1.3, 2.2])  # between the knots
    settings = [{}]
    if case.startswith("solve"):  # a matrix or a stack of two, columns or a vector
        stack = np.stack([a, b]) if "stack" in case else a
        t = rng.normal(size={"solve": (3, 4), "solve-matrix": (3, 2, 4), "solve-stack": (
            2, 3, 2, 4), "solve-stack-vector": (3, 4)}[case])
        fn, through, args, at = runtime_linalg.batched_solve_columns, vt.solve_through_matrix, \
            [stack, t], 0
    elif case == "triangular":
        fn, through, args, at = bp.batched_solve_triangular, vt.triangular_through_matrix, \
            [a, rng.normal(size=(3, 4))], 0
        settings = [{"trans": trans, "lower": lower, "unit_diagonal": unit}
                    for trans in (0, 1, "T") for lower in (False, True) for unit in (False, True)]
    elif case.startswith("cho_solve"):  # the factor's triangle read, the other ignored
        lower = case.endswith("lower")
        c = scipy.linalg.cho_factor(a @ a.T, lower=lower)[0]

        def fn(c, t):
            return bp.batched_cho_solve((c, lower), t)

        def through(solved, c_dot, c, t):
            return vt.cho_solve_through_factor(solved, (c_dot, 0.0), (c, lower), t)

        args, at = [c, rng.normal(size=(3, 4))], 0
    elif case.startswith("expm"):  # of each direction's matrix (of a stack of two)
        fn, through, at = bp.batched_expm, vt.expm_through_stack, 0
        args = [0.3 * rng.normal(size=(2, 3, 3, 4) if case == "expm-stack" else (3, 3, 4))]
        if case == "expm-in-parts":  # the blocks of one inner direction per call of expm
            monkeypatch.setattr(vt, "_BLOCKS_BYTES", 2 * 36 * 8)
        for k in range(4):  # expm of each direction's matrix
            np.testing.assert_array_equal(fn(*args)[..., k],
                                          scipy.linalg.expm(args[0][..., k]))
    elif case.startswith("sylvester"):
        fn, args = bp.batched_solve_sylvester, [a, b, rng.normal(size=(3, 3, 4))]
        through, at = (vt.sylvester_through_a, 0) if case.endswith("a") else \
            (vt.sylvester_through_b, 1)
    elif case == "interp":
        fn, through, at = bs.batched_interp, vt.interp_through_points, 0
        args = [x, np.array([0.0, 1.0, 2.0, 3.0]), rng.normal(size=(4, 5))]
    else:
        fn, through, at = bs.batched_polyval, vt.polyval_through_points, 1
        args = [rng.normal(size=(4, 5)), x]
    outer = rng.normal(size=np.shape(args[at]) + (2,))
    for extra in settings:
        flags = [extra[k] for k in ("trans", "lower", "unit_diagonal")] if extra else []

        def called(*given, flags=flags):
            return fn(*given, *flags)

        got = through(called(*args), outer, *args, *flags)
        for k in range(2):
            expected = _through_by_differences(called, at, args, outer[..., k])
            np.testing.assert_allclose(got[..., k], expected, rtol=1e-6, atol=1e-8,
                                       err_msg=f"{case} {extra}")


def test_products_of_two_varied_arrays_in_one_sweep(monkeypatch):
    """Products whose vector-mode form is told which operand carries the directions
    (np.outer, np.kron, np.tensordot, np.einsum): the tangent through that operand on
    the merged axes, through the other once per outer direction; against the
    per-output pullbacks and second differences."""
    def products(x):
        u, v = np.sin(x), x * x
        return np.concatenate([np.outer(u, v).ravel(), np.kron(v, u),
                               np.atleast_1d(np.tensordot(u, v, axes=1)),
                               np.einsum("i,i->i", u, v)])

    x = np.array([0.3, -0.8, 1.1])
    taken = _ways(monkeypatch)
    H = adc.hessian(products)(x)
    assert taken in (["_one_sweep_hessian"], ["_forward_over_forward"])
    np.testing.assert_allclose(H, _by_pullbacks(monkeypatch, products, x), rtol=1e-12,
                               atol=1e-13)
    np.testing.assert_allclose(H, second_differences(products, [x], 0, h=2e-4), rtol=1e-4,
                               atol=1e-5)


def test_the_products_alone_in_one_sweep(monkeypatch):
    """The same products, each its own output, with no join after them: one sweep."""
    def outer_of(x):
        return np.outer(np.sin(x), x * x)

    def kron_of(x):
        return np.kron(x * x, np.cos(x))

    x = np.array([0.3, -0.8, 1.1])
    for f in (outer_of, kron_of):
        taken = _ways(monkeypatch)
        H = adc.hessian(f)(x)
        assert taken == ["_one_sweep_hessian"], f.__name__
        np.testing.assert_allclose(H, _by_pullbacks(monkeypatch, f, x), rtol=1e-12,
                                   atol=1e-13)


def _inserted_energy(x):
    y = np.insert(x, [1, 3, 3], np.sin(x[:3]) * x[-1])
    return np.sum(np.cos(y) * y) + y[2] * y[4]


def _inserted_rows(x):
    m = np.insert(x.reshape(2, 3), 1, x[:3] ** 2, axis=0)
    return np.sum(np.tanh(m) @ m.T)


def _expm_energy(a):
    return np.sum(np.sin(scipy.linalg.expm(0.5 * a)) * a)


@pytest.mark.parametrize("f, shape", [(_expm_energy, (4, 4)), (_expm_energy, (2, 3, 3)),
                                      (_inserted_energy, (6,)), (_inserted_rows, (6,))],
                         ids=["expm", "expm-stack", "insert", "insert-rows"])
def test_hessians_through_expm_and_insert_take_every_direction_at_once(monkeypatch, f,
                                                                       shape):
    """expm of each direction's matrix is one call on their stack (batched_expm), and its
    tangent one call on the stack of every pair of directions' block matrices; np.insert
    and its adjoint gather every direction's elements at once: nothing in the sweep
    goes one direction at a time."""
    from ad_compiler import assemble, batched

    energy = f

    def refused(*args):
        raise AssertionError("vmap_last: one direction at a time")

    monkeypatch.setattr(batched, "vmap_last", refused)
    made, vector_jvp = [], assemble._vector_jvp

    def recorded(*args):  # the vector-mode JVP of the gradient: one sweep
        made.append(vector_jvp(*args))
        return made[-1]

    monkeypatch.setattr(assemble, "_vector_jvp", recorded)
    x = np.random.default_rng(5).uniform(-0.5, 0.5, shape)
    H = adc.hessian(energy)(x)
    assert made and None not in made
    np.testing.assert_allclose(H, second_differences(energy, [x], 0, h=1e-4), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(H, np.swapaxes(H.reshape(x.size, x.size), 0, 1).reshape(
        H.shape), rtol=1e-10, atol=1e-12)  # symmetric
