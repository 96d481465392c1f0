"""NumPy array support, checked feature by feature against central differences.

Every reference number here comes from the plain NumPy function (central
differences, step 1e-6 relative, every element of every array input perturbed)
or from a closed-form formula written out below; nothing is read from the
compiler.  The table ``CASES`` pairs one small function per feature (defined,
with real source, in ``tests/fixtures/arrays.py``) with the shapes it is
evaluated at, broadcasting ones included, and the input domain, kept away from
kinks and singularities; inputs come from an RNG seeded by the case id.  Each
case runs:

- reverse mode: ``adc.vjp`` with a random cotangent against the central
  differences of ``sum(f(...) * ybar)``;
- forward mode: ``adc.jvp`` with random tangents against the directional
  central difference;
- for cases with a scalar output, also ``adc.grad`` in both modes.

Then come the features that do not fit the table: ``jacobian`` and ``hessian``,
dtypes, integer inputs, a NumPy function with no rule, seed 002's matrix adjoint.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from support import load_fixture

import ad_compiler as adc

F = load_fixture("arrays")

EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-7


# ====================================================================== numerical references

def _replace(args, i, value):
    """`args` with args[i] replaced; a Python float stays a Python float."""
    new = list(args)
    new[i] = float(value) if isinstance(args[i], float) else value
    return new


def numeric_grad(f, args, i):
    """d f / d args[i] for a scalar-valued f, by central differences on every element."""
    x = np.array(args[i], dtype=np.float64)
    out = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        h = EPS * max(1.0, abs(float(x[idx])))
        hi, lo = x.copy(), x.copy()
        hi[idx] += h
        lo[idx] -= h
        plus = float(f(*_replace(args, i, hi)))
        minus = float(f(*_replace(args, i, lo)))
        out[idx] = (plus - minus) / (2.0 * h)
    return out


def numeric_vjp(f, args, ybar):
    """ybar^T J for each input, by central differences of sum(f(...) * ybar)."""

    def weighted(*a):
        return np.sum(np.asarray(f(*a), dtype=np.float64) * ybar)

    return [numeric_grad(weighted, args, i) for i in range(len(args))]


def numeric_jvp(f, args, tangents):
    """J xdot by a central difference along the direction `tangents`."""
    plus = [a + EPS * t for a, t in zip(args, tangents)]
    minus = [a - EPS * t for a, t in zip(args, tangents)]
    return (np.asarray(f(*plus), dtype=np.float64)
            - np.asarray(f(*minus), dtype=np.float64)) / (2.0 * EPS)


def numeric_jacobian(f, args, i):
    """d f / d args[i], shape f(...).shape + args[i].shape, by central differences."""
    x = np.array(args[i], dtype=np.float64)
    y0 = np.asarray(f(*args), dtype=np.float64)
    out = np.zeros(y0.shape + x.shape)
    for idx in np.ndindex(x.shape):
        h = EPS * max(1.0, abs(float(x[idx])))
        hi, lo = x.copy(), x.copy()
        hi[idx] += h
        lo[idx] -= h
        plus = np.asarray(f(*_replace(args, i, hi)), dtype=np.float64)
        minus = np.asarray(f(*_replace(args, i, lo)), dtype=np.float64)
        out[(Ellipsis, *idx)] = (plus - minus) / (2.0 * h)
    return out


def assert_close(got, expected, what=""):
    assert got is not None, f"{what}: got None"
    assert np.shape(got) == np.shape(expected), (
        f"{what}: shape {np.shape(got)}, expected {np.shape(expected)}")
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), expected,
                               rtol=RTOL, atol=ATOL, err_msg=what)


# ====================================================================== inputs

def sample(rng, shape, kind):
    """A float64 input of `shape` (a Python float for shape ()) from the domain `kind`."""
    if kind == "any":
        v = rng.uniform(-1.5, 1.5, shape)
    elif kind == "small":
        v = rng.uniform(-0.5, 0.5, shape)
    elif kind == "pos":
        v = rng.uniform(0.5, 2.0, shape)
    elif kind == "neg":
        v = rng.uniform(-2.0, -0.5, shape)
    elif kind == "unit":
        v = rng.uniform(-0.8, 0.8, shape)
    elif kind == "gt1":
        v = rng.uniform(1.2, 3.0, shape)
    elif kind == "nz":
        v = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.4, 1.5, shape)
    elif kind in ("mat", "negmat"):  # well conditioned: 2 I + small noise (det < 0 for negmat)
        v = 2.0 * np.eye(shape[-1]) + 0.3 * rng.standard_normal(shape)
        if kind == "negmat":
            v[..., 0, :] *= -1.0
    else:
        raise ValueError(kind)
    return float(v) if shape == () else np.asarray(v, dtype=np.float64)


def _shape_id(shape):
    return "x".join(map(str, shape)) if shape else "s"


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    f: Callable
    shapes: tuple
    kinds: tuple

    @property
    def id(self):
        return f"{self.group}-{self.name}-" + "_".join(_shape_id(s) for s in self.shapes)

    def rng(self, salt=""):
        return np.random.default_rng(zlib.crc32((self.id + salt).encode()))

    def args(self):
        rng = self.rng()
        return [sample(rng, s, k) for s, k in zip(self.shapes, self.kinds)]


CASES: list[Case] = []


def add(group, name, f, *shapes, kinds="any"):
    kinds = (kinds,) * len(shapes) if isinstance(kinds, str) else tuple(kinds)
    assert len(kinds) == len(shapes)
    CASES.append(Case(group, name, f, tuple(shapes), kinds))


# ====================================================================== 1. elementwise

UNARY = [
    (F.ew_sin, "any"), (F.ew_cos, "any"), (F.ew_tan, "unit"), (F.ew_arcsin, "unit"),
    (F.ew_arccos, "unit"), (F.ew_arctan, "any"), (F.ew_sinh, "any"), (F.ew_cosh, "any"),
    (F.ew_tanh, "any"), (F.ew_arcsinh, "any"), (F.ew_arccosh, "gt1"), (F.ew_arctanh, "unit"),
    (F.ew_exp, "any"), (F.ew_exp2, "any"), (F.ew_expm1, "any"), (F.ew_log, "pos"), (F.ew_log2, "pos"),
    (F.ew_log10, "pos"), (F.ew_log1p, "pos"), (F.ew_sqrt, "pos"), (F.ew_cbrt, "nz"),
    (F.ew_square, "any"), (F.ew_reciprocal, "nz"), (F.ew_abs, "nz"), (F.ew_absolute, "nz"),
    (F.ew_builtin_abs, "nz"), (F.ew_negate, "any"), (F.ew_pow_int, "any"), (F.ew_pow_frac, "pos"),
    (F.ew_rpow, "any"),
]
for _f, _kind in UNARY:
    for _shape in [(), (4,), (2, 3)]:
        add("elementwise", _f.__name__[3:], _f, _shape, kinds=_kind)


# scalar with array (both ways), equal shapes, (3,1) with (1,4), rank differences
BROADCAST = [((), (3,)), ((3,), ()), ((3,), (3,)), ((3, 1), (1, 4)), ((4,), (2, 3, 4)),
             ((2, 1, 3), (4, 1))]
BINARY = [
    (F.bin_add, "any"), (F.bin_sub, "any"), (F.bin_mul, "any"), (F.bin_div, ("any", "nz")),
    (F.bin_pow, ("pos", "any")), (F.bin_np_power, ("pos", "any")), (F.bin_arctan2, "any"),
    (F.bin_hypot, "any"), (F.bin_maximum, "any"), (F.bin_minimum, "any"), (F.bin_logaddexp, "any"),
    (F.bin_mixed, "any"),
]
for _f, _kind in BINARY:
    for _shapes in BROADCAST:
        add("broadcast", _f.__name__[4:], _f, *_shapes, kinds=_kind)


add("elementwise", "clip", F.ew_clip, (4,))
add("elementwise", "clip", F.ew_clip, (2, 3))
add("elementwise", "clip_bounds", F.ew_clip_bounds, (2, 3), (3,), (), kinds=("any", "neg", "pos"))
add("elementwise", "where", F.ew_where, (3,), (3,))
add("elementwise", "where", F.ew_where, (2, 3), (3,))
add("elementwise", "where", F.ew_where, (), (3,))
add("elementwise", "where_select", F.ew_where_select, (2, 3), (2, 3))
add("elementwise", "where_select", F.ew_where_select, (3, 1), (1, 4))


# ====================================================================== 2. linear algebra

MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
                 ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5))]
for _shapes in MATMUL_SHAPES:
    add("linalg", "matmul_op", F.la_matmul_op, *_shapes)
    add("linalg", "np_matmul", F.la_np_matmul, *_shapes)
    if _shapes != ((2, 3, 4), (2, 4, 5)):  # np.dot of two stacks is not a batched product
        add("linalg", "dot", F.la_dot, *_shapes)


add("linalg", "outer", F.la_outer, (3,), (4,))
add("linalg", "inner", F.la_inner, (3,), (3,))
add("linalg", "inner", F.la_inner, (2, 3), (4, 3))
add("linalg", "einsum_mm", F.la_einsum_mm, (2, 3), (3, 4))
add("linalg", "einsum_vdot", F.la_einsum_vdot, (3,), (3,))
add("linalg", "einsum_transpose", F.la_einsum_transpose, (2, 3))
add("linalg", "einsum_rowdot", F.la_einsum_rowdot, (2, 3), (2, 3))
add("linalg", "einsum_batched", F.la_einsum_batched, (2, 2, 3), (2, 3, 4))
add("linalg", "T", F.la_T, (2, 3))
add("linalg", "T", F.la_T, (2, 3, 4))
add("linalg", "transpose", F.la_transpose, (2, 3))
add("linalg", "transpose", F.la_transpose, (2, 3, 4))
add("linalg", "transpose_axes", F.la_transpose_axes, (2, 3, 4))
add("linalg", "transpose_axes_cycle", F.la_transpose_axes_cycle, (2, 3, 4))
add("linalg", "trace", F.la_trace, (3, 3))
add("linalg", "trace", F.la_trace, (2, 3))
add("linalg", "solve", F.la_solve, (3, 3), (3,), kinds=("mat", "any"))
add("linalg", "solve", F.la_solve, (3, 3), (3, 2), kinds=("mat", "any"))
add("linalg", "inv", F.la_inv, (3, 3), kinds="mat")
add("linalg", "det", F.la_det, (2, 2), kinds="mat")
add("linalg", "det", F.la_det, (3, 3), kinds="mat")
add("linalg", "slogdet", F.la_slogdet, (3, 3), kinds="mat")
add("linalg", "slogdet_negative_det", F.la_slogdet, (3, 3), kinds="negmat")
add("linalg", "norm", F.la_norm, (4,))
add("linalg", "norm", F.la_norm, (2, 3))  # Frobenius by default
add("linalg", "norm_fro", F.la_norm_fro, (2, 3))


# ====================================================================== 3. reductions

for _name, _kind in [("sum", "any"), ("mean", "any"), ("prod", "nz"), ("max", "any"),
                     ("min", "any"), ("var", "any"), ("std", "any")]:
    _fs = {suffix: getattr(F, f"red_{_name}{suffix}")
           for suffix in ["", "_axis0", "_axis1", "_axes01", "_keepdims"]}
    add("reduction", _name, _fs[""], (4,), kinds=_kind)
    add("reduction", _name, _fs[""], (2, 3), kinds=_kind)
    add("reduction", _name + "_axis0", _fs["_axis0"], (2, 3), kinds=_kind)
    add("reduction", _name + "_axis1", _fs["_axis1"], (2, 3), kinds=_kind)
    add("reduction", _name + "_axes01", _fs["_axes01"], (2, 3, 2), kinds=_kind)
    add("reduction", _name + "_keepdims", _fs["_keepdims"], (2, 3), kinds=_kind)
add("reduction", "sum_all_keepdims", F.red_sum_all_keepdims, (2, 3))
add("reduction", "logsumexp", F.red_logsumexp, (4,))
add("reduction", "logsumexp", F.red_logsumexp, (2, 3))
add("reduction", "softmax", F.red_softmax, (4,))
add("reduction", "softmax", F.red_softmax, (2, 3))


# ====================================================================== 4. shapes

add("shape", "reshape", F.sh_reshape, (2, 3))
add("shape", "reshape_minus1", F.sh_reshape_minus1, (2, 3))
add("shape", "ravel", F.sh_ravel, (2, 3))
add("shape", "flatten", F.sh_flatten, (2, 3))
add("shape", "squeeze", F.sh_squeeze, (1, 3, 1))
add("shape", "squeeze_axis", F.sh_squeeze_axis, (1, 3))
add("shape", "expand_dims", F.sh_expand_dims, (2, 3))
add("shape", "expand_dims_last", F.sh_expand_dims_last, (3,))
add("shape", "swapaxes", F.sh_swapaxes, (2, 3, 4))
add("shape", "concatenate0", F.sh_concatenate0, (2, 3), (1, 3))
add("shape", "concatenate1", F.sh_concatenate1, (2, 3), (2, 2))
add("shape", "stack", F.sh_stack, (3,), (3,), (3,))
add("shape", "stack_axis1", F.sh_stack_axis1, (3,), (3,), (3,))
add("shape", "hstack", F.sh_hstack, (3,), (2,))
add("shape", "vstack", F.sh_vstack, (3,), (3,))
add("shape", "vstack", F.sh_vstack, (2, 3), (1, 3))
add("shape", "tile", F.sh_tile, (3,))
add("shape", "tile_2d", F.sh_tile_2d, (2, 3))
add("shape", "repeat", F.sh_repeat, (3,))
add("shape", "repeat_axis", F.sh_repeat_axis, (2, 3))
add("shape", "array_of_scalars", F.sh_array_of_scalars, (), (), ())
add("shape", "zeros", F.sh_zeros, (3,))
add("shape", "ones", F.sh_ones, (3,))
add("shape", "full", F.sh_full, (3,))
add("shape", "zeros_like", F.sh_zeros_like, (2, 3))
add("shape", "astype", F.sh_astype, (2, 3))


# ====================================================================== 5. indexing

add("indexing", "int", F.ix_int, (4,))
add("indexing", "int", F.ix_int, (3, 4))
add("indexing", "negative", F.ix_negative, (4,))
add("indexing", "pair", F.ix_pair, (3, 4))
add("indexing", "step", F.ix_step, (5,))
add("indexing", "reverse", F.ix_reverse, (4,))
add("indexing", "reverse", F.ix_reverse, (2, 3))
add("indexing", "column", F.ix_column, (3, 4))
add("indexing", "newaxis", F.ix_newaxis, (2, 3))
add("indexing", "block", F.ix_block, (3, 4))
add("indexing", "mask", F.ix_mask, (5,))
add("indexing", "mask", F.ix_mask, (2, 3))
add("indexing", "fancy_repeated", F.ix_fancy, (4,))
add("indexing", "fancy_repeated", F.ix_fancy, (3, 2))
add("indexing", "fancy_repeated_row", F.ix_fancy_row, (3, 2))


# ====================================================================== 6. array methods

add("method", "sum_axis0", F.me_sum_axis0, (2, 3))
add("method", "mean", F.me_mean, (2, 3))
add("method", "dot", F.me_dot, (3,), (3,))
add("method", "dot", F.me_dot, (2, 3), (3, 4))
add("method", "reshape", F.me_reshape, (2, 3))
add("method", "reshape_tuple", F.me_reshape_tuple, (6,))
add("method", "T", F.me_T, (2, 3))
add("method", "max", F.me_max, (2, 3))
add("method", "min_axis1", F.me_min_axis1, (2, 3))
add("method", "prod", F.me_prod, (2, 3), kinds="nz")
add("method", "var", F.me_var, (2, 3))
add("method", "std", F.me_std, (2, 3))
add("method", "ravel", F.me_ravel, (2, 3))
add("method", "squeeze", F.me_squeeze, (1, 3))
add("method", "transpose", F.me_transpose, (2, 3))
add("method", "transpose_axes", F.me_transpose_axes, (2, 3))
add("method", "chain", F.me_chain, (2, 3), (2, 3))


# ====================================================================== 11. control flow

add("control", "rnn", F.cf_rnn, (3, 3), (3, 3), (3,), kinds=("small", "any", "any"))
add("control", "rnn_states", F.cf_rnn_states, (3, 3), (3, 3), (3,), kinds=("small", "any", "any"))
add("control", "branch_taken", F.cf_branch, (3,), (3,), kinds=("pos", "any"))
add("control", "branch_else", F.cf_branch, (3,), (3,), kinds=("neg", "any"))
add("control", "branch_taken", F.cf_branch, (2, 3), (3,), kinds=("pos", "any"))
add("control", "accumulate", F.cf_accumulate, (3, 3), (3,))


# ====================================================================== the table, run

IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS), sorted({i for i in IDS if IDS.count(i) > 1})
SCALAR_CASES = [c for c in CASES if np.ndim(c.f(*c.args())) == 0]


def _random_like(rng, value):
    """A standard normal sample of value's shape (a Python float for a scalar)."""
    shape = np.shape(value)
    return float(rng.standard_normal()) if shape == () else rng.standard_normal(shape)


def test_reference_differences_are_accurate():
    """The helpers above, against derivatives known in closed form."""
    x = np.array([[0.3, -1.2, 0.7], [1.1, 0.2, -0.4]])
    assert_close(numeric_grad(lambda v: np.sum(np.sin(v) * v), [x], 0),
                 np.cos(x) * x + np.sin(x))
    t = np.ones_like(x)
    assert_close(numeric_jvp(np.exp, [x], [t]), np.exp(x))
    assert_close(numeric_vjp(lambda a, b: a * b, [x, 2.0], t)[1], np.sum(x))
    assert_close(numeric_jacobian(lambda v: v ** 2, [x[0]], 0), np.diag(2 * x[0]))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reverse_vjp(case):
    args = case.args()
    expected_value = case.f(*args)
    ybar = _random_like(case.rng("ybar"), expected_value)
    value, pullback = adc.vjp(case.f, *args)
    assert_close(value, np.asarray(expected_value, dtype=np.float64), "value")
    cotangents = pullback(ybar)
    assert isinstance(cotangents, tuple) and len(cotangents) == len(args)
    for i, (got, exact) in enumerate(zip(cotangents, numeric_vjp(case.f, args, ybar))):
        assert_close(got, exact, f"cotangent of argument {i}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_jvp(case):
    args = case.args()
    rng = case.rng("xdot")
    tangents = [_random_like(rng, a) for a in args]
    value, tangent_out = adc.jvp(case.f, args, tangents)
    assert_close(value, np.asarray(case.f(*args), dtype=np.float64), "value")
    assert_close(tangent_out, numeric_jvp(case.f, args, tangents), "tangent")


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("case", SCALAR_CASES, ids=[c.id for c in SCALAR_CASES])
def test_grad_scalar_output(case, mode):
    args = case.args()
    n = len(args)
    if n == 1:
        got = (adc.grad(case.f, wrt=0, mode=mode)(*args),)
    else:
        got = adc.grad(case.f, wrt=tuple(range(n)), mode=mode)(*args)
        assert isinstance(got, tuple) and len(got) == n
    for i in range(n):
        assert_close(got[i], numeric_grad(case.f, args, i), f"gradient of argument {i}")


# ====================================================================== closed forms (1, 3, 5)

@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_repeated_indices_add_up(mode):
    """np.add.at semantics: index 0 taken twice gets adjoint 2."""
    x = np.array([0.5, -1.0, 2.0, 3.0])
    assert_close(adc.grad(F.loss_fancy_sum, mode=mode)(x), np.array([2.0, 0.0, 1.0, 0.0]))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_broadcast_adjoint_sums_over_broadcast_axes(mode):
    """d/da sum(a * b) with a (3,1), b (1,4): a_bar = b summed over the broadcast axis."""
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((3, 1)), rng.standard_normal((1, 4))
    ga, gb = adc.grad(F.loss_broadcast, wrt=(0, 1), mode=mode)(a, b)
    assert_close(ga, np.broadcast_to(np.sum(b, axis=1, keepdims=True), (3, 1)))
    assert_close(gb, np.broadcast_to(np.sum(a, axis=0, keepdims=True), (1, 4)))
    s = adc.grad(F.loss_broadcast, wrt=0, mode=mode)(1.5, b)
    assert np.shape(s) == () and s == pytest.approx(np.sum(b))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_logsumexp_gradient_is_softmax_even_for_large_inputs(mode):
    x = np.array([1000.0, 1001.0, 999.5, 1000.2])
    e = np.exp(x - x.max())
    g = adc.grad(F.loss_logsumexp, mode=mode)(x)
    assert np.all(np.isfinite(g))
    assert_close(g, e / e.sum())


# ====================================================================== 7. jacobian, hessian

JAC_FUNCS = [(F.jac_wide, (3,)), (F.jac_tall, (2,)), (F.jac_matrix_in, (2, 2)),
             (F.jac_scalar_out, (3,))]


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
@pytest.mark.parametrize("f,shape", JAC_FUNCS, ids=[f.__name__ for f, _ in JAC_FUNCS])
def test_jacobian(f, shape, mode):
    x = np.random.default_rng(11).uniform(-1.0, 1.0, shape)
    expected = numeric_jacobian(f, [x], 0)
    assert expected.shape == np.shape(f(x)) + x.shape
    assert_close(adc.jacobian(f, wrt=0, mode=mode)(x), expected, f"jacobian ({mode})")


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_jacobian_tuple_wrt(mode):
    rng = np.random.default_rng(12)
    x, y = rng.uniform(-1.0, 1.0, 3), rng.uniform(-1.0, 1.0, 2)
    jx, jy = adc.jacobian(F.jac_two_inputs, wrt=(0, 1), mode=mode)(x, y)
    assert_close(jx, numeric_jacobian(F.jac_two_inputs, [x, y], 0), "d/dx")
    assert_close(jy, numeric_jacobian(F.jac_two_inputs, [x, y], 1), "d/dy")


def test_hessian_hand_gradient_is_right():
    x = np.array([0.3, -0.8, 1.2])
    assert_close(F.hess_f_grad(x), numeric_grad(F.hess_f, [x], 0))


def test_hessian():
    x = np.array([0.3, -0.8, 1.2])
    h = adc.hessian(F.hess_f, wrt=0)(x)
    assert_close(h, numeric_jacobian(F.hess_f_grad, [x], 0), "hessian")
    np.testing.assert_allclose(h, np.asarray(h).T, rtol=1e-10, atol=1e-12)


def test_hessian_of_matrix_input_has_shape_x_shape_twice():
    x = np.array([[0.3, -0.8], [1.2, 0.5]])
    h = adc.hessian(F.hess_matrix, wrt=0)(x)
    assert_close(h, numeric_jacobian(F.hess_matrix_grad, [x], 0), "hessian")
    assert np.shape(h) == (2, 2, 2, 2)


# ====================================================================== 8. dtypes

@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_float32_gradient_is_float32(mode):
    x = np.array([0.3, -0.7, 1.1], dtype=np.float32)
    g = adc.grad(F.loss_f32, mode=mode)(x)
    assert isinstance(g, np.ndarray) and g.dtype == np.float32
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(g, np.cos(x64) * x64 + np.sin(x64), rtol=1e-5)


def test_float32_jvp_and_vjp_stay_float32():
    x = np.array([0.3, -0.7, 1.1], dtype=np.float32)
    t = np.array([1.0, 0.5, -2.0], dtype=np.float32)
    value, tangent = adc.jvp(F.map_f32, (x,), (t,))
    assert tangent.dtype == np.float32
    x64 = x.astype(np.float64)
    exact = (1 - np.tanh(x64) ** 2) * x64 + np.tanh(x64)
    np.testing.assert_allclose(tangent, exact * t, rtol=1e-5)
    _, pullback = adc.vjp(F.map_f32, x)
    (cot,) = pullback(t)
    assert cot.dtype == np.float32
    np.testing.assert_allclose(cot, exact * t, rtol=1e-5)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_integer_array_input_is_refused(mode):
    with pytest.raises((TypeError, ValueError, adc.ADCompileError)) as info:
        adc.grad(F.loss_int, mode=mode)(np.array([1, 2, 3]))
    assert "integer" in str(info.value).lower()


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_integer_array_not_differentiated_is_fine(mode):
    x, n = np.array([0.5, -1.0, 2.0]), np.array([1, 2, 3])
    assert_close(adc.grad(F.loss_scaled, wrt=0, mode=mode)(x, n), n.astype(np.float64))


# ====================================================================== 9. no rule


def _without_source_line(error):
    """The error message without the quoted source line (which names every function)."""
    return "\n".join(line for line in str(error).splitlines() if "return np.sum" not in line)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_numpy_function_without_rule_is_an_error_naming_it(mode):
    """np.fft.fft has no rule: the error names it and points to adc.defvjp/defjvp (and
    says adc.defpartials is only for elementwise functions)."""
    x = np.array([0.3, -0.7, 1.1, 0.4])
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(F.uses_fft_abs, mode=mode)(x)
    message = _without_source_line(info.value)
    assert "fft" in message and "adc.defvjp" in message and "defpartials" in message


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_numpy_function_without_rule_then_np_real(mode):
    """np.real(np.fft.fft(x)): whichever of the two lacks a rule is named (the reverse
    sweep meets np.real first)."""
    x = np.array([0.3, -0.7, 1.1, 0.4])
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(F.uses_fft, mode=mode)(x)
    message = _without_source_line(info.value)
    assert ("fft" in message or "real" in message) and "defpartials" in message


# ====================================================================== 10. seed 002

def test_seed002_matmul_adjoint():
    """Z = X W, L = sum(Z * G): Z_bar = G, X_bar = Z_bar W^T, W_bar = X^T Z_bar."""
    x_bar, w_bar = adc.grad(F.seed002_loss, wrt=(0, 1), mode="reverse")(F.SEED_X, F.SEED_W)
    np.testing.assert_allclose(x_bar, F.SEED_G @ F.SEED_W.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w_bar, F.SEED_X.T @ F.SEED_G, rtol=1e-12, atol=1e-12)
    _, pullback = adc.vjp(F.seed002_product, F.SEED_X, F.SEED_W)
    x_bar, w_bar = pullback(F.SEED_G)
    np.testing.assert_allclose(x_bar, F.SEED_G @ F.SEED_W.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w_bar, F.SEED_X.T @ F.SEED_G, rtol=1e-12, atol=1e-12)


def test_seed002_matmul_adjoint_forward_mode_agrees():
    x_bar, w_bar = adc.grad(F.seed002_loss, wrt=(0, 1), mode="forward")(F.SEED_X, F.SEED_W)
    np.testing.assert_allclose(x_bar, F.SEED_G @ F.SEED_W.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w_bar, F.SEED_X.T @ F.SEED_G, rtol=1e-12, atol=1e-12)
