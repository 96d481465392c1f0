"""Users' rules for functions of arrays: adc.defvjp, adc.defjvp, adc.deflinear; and
adc.defpartials refusing what is not elementwise.

Expected values are central differences and hand-written derivatives; a rule that is
deliberately scaled proves the compiler calls the rule it was given.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
from support import numeric_grad

import ad_compiler as adc
import ad_compiler.custom as adc_custom

W = np.array([1.0, 0.2, 0.6, -0.5])
X = np.array([0.3, -1.2, 2.0, 0.7])


@pytest.fixture
def rules_restored():
    """Rules registered by a test (on NumPy's own functions too) are gone after it."""
    arrays, partials = dict(adc_custom._ARRAY_RULES), dict(adc_custom._PARTIALS)
    yield
    adc_custom._ARRAY_RULES.clear()
    adc_custom._ARRAY_RULES.update(arrays)
    adc_custom._PARTIALS.clear()
    adc_custom._PARTIALS.update(partials)
    adc_custom.version += 1


def cumsum_vjp(ans, x):
    return lambda g: np.cumsum(g[::-1])[::-1]


def cumsum_jvp(g, ans, x):
    return np.cumsum(g)


def weighted_cumsum(x):
    return np.sum(np.cumsum(x) * W)


def squared_cumsum(x):
    return np.sum(np.cumsum(x) ** 2 * W)


def hand_weighted_cumsum_grad(x):
    return np.cumsum(W[::-1])[::-1]  # d/dx_j sum_i w_i sum_{k<=i} x_k = sum_{i>=j} w_i


def _check_against_differences(f, x, mode):
    got = adc.grad(f, mode=mode)(x)
    np.testing.assert_allclose(got, numeric_grad(f, (x,), 0), rtol=1e-6, atol=1e-8)
    return got


# ---------------------------------------------------------------- defvjp and defjvp


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_defvjp_and_defjvp_of_a_c_function(rules_restored, mode):
    adc.defvjp(np.cumsum, cumsum_vjp)
    adc.defjvp(np.cumsum, cumsum_jvp)
    got = _check_against_differences(weighted_cumsum, X, mode)
    np.testing.assert_allclose(got, hand_weighted_cumsum_grad(X), rtol=1e-14)
    _check_against_differences(squared_cumsum, X, mode)


def test_jvp_and_vjp_agree_through_a_user_rule(rules_restored):
    """The dot-product test: <J v, u> == <v, J^T u>."""
    adc.defvjp(np.cumsum, cumsum_vjp)
    adc.defjvp(np.cumsum, cumsum_jvp)
    v, u = np.array([0.5, -1.0, 2.0, 0.1]), np.array([1.5, 0.3, -0.7, 2.2])
    value, tangent = adc.jvp(_cumsum_sin, (X,), (v,))
    _, pullback = adc.vjp(_cumsum_sin, X)
    (cotangent,) = pullback(u)
    np.testing.assert_allclose(value, _cumsum_sin(X))
    np.testing.assert_allclose(np.dot(tangent, u), np.dot(v, cotangent), rtol=1e-12)
    jac = adc.jacobian(_cumsum_sin, mode="reverse")(X)
    np.testing.assert_allclose(jac @ v, tangent, rtol=1e-12)
    np.testing.assert_allclose(adc.jacobian(_cumsum_sin, mode="forward")(X), jac, rtol=1e-12)
    expected = np.tril(np.ones((4, 4))) * np.cos(X)  # d cumsum(sin x) / dx
    np.testing.assert_allclose(jac, expected, rtol=1e-12)


def _cumsum_sin(x):
    return np.cumsum(np.sin(x))


def test_decorator_form_and_two_arguments(rules_restored):
    @adc.defvjp(cumsum_along_0)
    def _(ans, x):
        return lambda g: np.cumsum(g[::-1])[::-1]

    adc.defjvp(cumsum_along_0, lambda g, ans, x: np.cumsum(g))
    for mode in ("reverse", "forward"):
        got = _check_against_differences(uses_cumsum_along_0, X, mode)
        np.testing.assert_allclose(got, hand_weighted_cumsum_grad(X), rtol=1e-14)
    adc.defvjp(np.outer, lambda ans, a, b: lambda g: g @ b, lambda ans, a, b: lambda g: a @ g)
    adc.defjvp(np.outer, lambda g, ans, a, b: np.outer(g, b), lambda g, ans, a, b: np.outer(a, g))
    b = np.array([0.4, -0.3, 1.1])
    for wrt in (0, 1):
        for mode in ("reverse", "forward"):
            got = adc.grad(outer_loss, wrt=wrt, mode=mode)(X, b)
            np.testing.assert_allclose(got, numeric_grad(outer_loss, (X, b), wrt), rtol=1e-6)


# an opaque function: a functools.partial has no source to read
cumsum_along_0 = functools.partial(np.cumsum, axis=0)


def uses_cumsum_along_0(x):
    return np.sum(cumsum_along_0(x) * W)


def outer_loss(a, b):
    return np.sum(np.sin(np.outer(a, b)))


# a Python function whose inlined derivative a rule replaces (deliberately scaled)
def smooth_step(x):
    return np.tanh(x)


def uses_smooth_step(x):
    return np.sum(smooth_step(x) * W)


def helper_calling_it(x):
    return smooth_step(x) * 2.0


def uses_it_inside_a_helper(x):
    return np.sum(helper_calling_it(x))


step_alias = smooth_step


def uses_it_by_alias(x):
    return np.sum(step_alias(x) ** 2)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_rule_overrides_a_python_function_everywhere_it_is_called(rules_restored, mode):
    adc.defvjp(smooth_step, lambda ans, x: lambda g: 3.0 * g * (1 - ans ** 2))
    adc.defjvp(smooth_step, lambda g, ans, x: 3.0 * g * (1 - ans ** 2))
    slope = 3.0 * (1 - np.tanh(X) ** 2)  # the rule's (scaled) derivative, not tanh's
    np.testing.assert_allclose(adc.grad(uses_smooth_step, mode=mode)(X), slope * W, rtol=1e-13)
    np.testing.assert_allclose(adc.grad(uses_it_inside_a_helper, mode=mode)(X), 2.0 * slope,
                               rtol=1e-13)
    np.testing.assert_allclose(adc.grad(uses_it_by_alias, mode=mode)(X),
                               2.0 * np.tanh(X) * slope, rtol=1e-13)


def test_only_a_vjp_refuses_forward_mode_and_only_a_jvp_reverse_mode(rules_restored):
    adc.defvjp(np.cumsum, cumsum_vjp)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(weighted_cumsum, mode="forward")(X)
    assert "cumsum" in info.value.what and "no JVP" in info.value.what
    assert "adc.defjvp" in info.value.hint
    adc_custom._ARRAY_RULES.clear()
    adc.defjvp(np.cumsum, cumsum_jvp)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(weighted_cumsum)(X)
    assert "no VJP" in info.value.what and "adc.defvjp" in info.value.hint
    np.testing.assert_allclose(adc.grad(weighted_cumsum, mode="forward")(X),
                               hand_weighted_cumsum_grad(X), rtol=1e-14)


def test_a_rule_with_the_wrong_output_shape_is_a_clear_error(rules_restored):
    adc.defvjp(np.cumsum, lambda ans, x: lambda g: np.sum(g))  # a number, not x's shape
    adc.defjvp(np.cumsum, lambda g, ans, x: g[:-1])
    with pytest.raises(ValueError, match=r"adc\.defvjp for cumsum .*shape \(\)"):
        adc.grad(weighted_cumsum)(X)
    with pytest.raises(ValueError, match=r"adc\.defjvp for cumsum .*shape \(3,\)"):
        adc.grad(weighted_cumsum, mode="forward")(X)
    adc.defvjp(np.cumsum, lambda ans, x: None)  # the maker must return a function
    with pytest.raises(TypeError, match="cumsum"):
        adc.grad(weighted_cumsum)(X)


def test_a_second_derivative_through_a_vjp_rule_is_refused(rules_restored):
    adc.defvjp(np.cumsum, cumsum_vjp)
    adc.defjvp(np.cumsum, cumsum_jvp)
    with pytest.raises(adc.ADCompileError) as info:
        adc.hessian(squared_cumsum)(X)
    assert "cumsum" in info.value.what and "second derivative" in info.value.what
    assert "adc.deflinear" in info.value.hint


def test_the_rules_reject_what_is_not_callable():
    with pytest.raises(TypeError, match="callable"):
        adc.defvjp(np.cumsum, 3.0)
    with pytest.raises(TypeError, match="callable"):
        adc.defjvp("cumsum", cumsum_jvp)


# ---------------------------------------------------------------- deflinear


def cumsum_transpose(g):
    return np.cumsum(g[::-1])[::-1]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_deflinear_gives_both_modes(rules_restored, mode):
    adc.deflinear(np.cumsum, transpose=cumsum_transpose)
    got = _check_against_differences(weighted_cumsum, X, mode)
    np.testing.assert_allclose(got, hand_weighted_cumsum_grad(X), rtol=1e-14)
    _check_against_differences(squared_cumsum, X, mode)


def test_deflinear_gives_hessians_and_jacobians(rules_restored):
    adc.deflinear(np.cumsum, transpose=cumsum_transpose)
    L = np.tril(np.ones((4, 4)))
    # f = sum(w * (L x)^2): H = 2 L^T diag(w) L
    np.testing.assert_allclose(adc.hessian(squared_cumsum)(X), 2 * L.T @ np.diag(W) @ L,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(adc.jacobian(_cumsum_sin, mode="forward")(X),
                               L * np.cos(X), rtol=1e-12)
    np.testing.assert_allclose(adc.jacobian(_cumsum_sin, mode="reverse")(X),
                               L * np.cos(X), rtol=1e-12)


def test_deflinear_without_transpose_is_forward_only(rules_restored):
    adc.deflinear(np.cumsum)
    np.testing.assert_allclose(adc.grad(weighted_cumsum, mode="forward")(X),
                               hand_weighted_cumsum_grad(X), rtol=1e-14)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(weighted_cumsum)(X)
    assert "transpose" in info.value.what and "transpose=" in info.value.hint


def test_deflinear_with_a_wrong_transpose_shape_is_a_clear_error(rules_restored):
    adc.deflinear(np.cumsum, transpose=lambda g: g[1:])
    with pytest.raises(ValueError, match=r"transpose given to adc\.deflinear for cumsum"):
        adc.grad(weighted_cumsum)(X)


# ---------------------------------------------------------------- defpartials


def cumsum_with_partials(x):
    return np.sum(np.cumsum(x) * np.array([1.0, 0.2, 0.6]))


def sum_with_partials(x):
    return np.sum(np.sum(x) * W)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_defpartials_refuses_a_function_that_is_not_elementwise(rules_restored, mode):
    """cumsum's partials rule (1 for each element) would give [0.6, 0.2, 1.2] instead
    of [2.0, 1.4, 1.2]: refused when it runs on arrays, pointing to adc.defvjp."""
    adc.defpartials(np.cumsum, lambda y, x: np.ones_like(x))
    with pytest.raises(ValueError, match=r"adc\.defvjp\(cumsum") as info:
        adc.grad(cumsum_with_partials, mode=mode)(np.array([0.3, -1.2, 2.0]))
    assert "reverse order" in str(info.value)
    adc.defpartials(np.sum, lambda y, x: np.ones_like(x))
    with pytest.raises(ValueError, match=r"has shape \(\), not the broadcast shape"):
        adc.grad(sum_with_partials, mode=mode)(X)


def elementwise_square(x):
    return np.sum(np.square(x) * W)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_defpartials_still_serves_elementwise_functions_of_arrays(rules_restored, mode):
    adc.defpartials(np.square, lambda y, x: 3.0 * x)  # scaled: the rule is what runs
    np.testing.assert_allclose(adc.grad(elementwise_square, mode=mode)(X), 3.0 * X * W,
                               rtol=1e-14)


def uses_fft(x):
    return np.sum(np.abs(np.fft.fft(x)))


def test_no_rule_hint_of_a_numpy_function_points_to_the_array_rules():
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(uses_fft)(X)
    assert "adc.defvjp(np.fft.fft" in info.value.hint and "adc.defjvp" in info.value.hint


# ---------------------------------------------------------------- keywords, scalars


def cumsum_by_axis(x):
    return np.sum(np.cumsum(x, axis=0) * W[:, None])


def scaled_opaque(x, scale=1.0):
    return x * scale


def uses_scaled_by_keyword(x, s):
    return np.sum(scaled_opaque(x, scale=s))


def test_a_differentiated_keyword_argument_is_refused(rules_restored):
    adc.defvjp(scaled_opaque, lambda ans, x, scale=1.0: lambda g: g * scale)
    np.testing.assert_allclose(adc.grad(uses_scaled_by_keyword)(X, 2.0), np.full(4, 2.0))
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(uses_scaled_by_keyword, wrt=1)(X, 2.0)
    assert "'scale'" in info.value.what and "by position" in info.value.hint


def test_keyword_arguments_reach_the_rules(rules_restored):
    seen = []

    def maker(ans, x, axis=None):
        seen.append(axis)
        return lambda g: np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)

    adc.defvjp(np.cumsum, maker)
    adc.defjvp(np.cumsum, lambda g, ans, x, axis=None: np.cumsum(g, axis=axis))
    x = np.array([[0.3, -1.0], [2.0, 0.5], [1.5, -0.2], [0.1, 0.9]])
    for mode in ("reverse", "forward"):
        got = adc.grad(cumsum_by_axis, mode=mode)(x)
        np.testing.assert_allclose(got, numeric_grad(cumsum_by_axis, (x,), 0), rtol=1e-6)
    assert seen and set(seen) == {0}


def softplus_opaque(x):
    return np.log1p(np.exp(x))


def uses_softplus(x):
    return softplus_opaque(x) * x


def test_reverse_over_reverse_through_a_vjp_rule_is_refused(rules_restored):
    adc.defvjp(softplus_opaque, lambda ans, x: lambda g: g / (1.0 + np.exp(-x)))
    x = 0.4
    first = adc.grad(uses_softplus)(x)
    assert first == pytest.approx(softplus_opaque(x) + x / (1 + np.exp(-x)), rel=1e-13)
    with pytest.raises(adc.ADCompileError) as info:
        adc.grad(adc.grad(uses_softplus))(x)
    assert "softplus_opaque" in info.value.what and "second derivative" in info.value.what


def test_defpartials_refuses_partials_wider_than_the_result(rules_restored):
    adc.defpartials(np.square, lambda y, x: np.ones((3,) + np.shape(x)))
    with pytest.raises(ValueError, match=r"adc\.defpartials for square returned shape"):
        adc.grad(elementwise_square)(X)


def test_an_export_of_a_derivative_that_calls_a_user_rule_is_refused(rules_restored):
    from ad_compiler.export import export

    adc.defvjp(np.cumsum, cumsum_vjp)
    with pytest.raises(adc.ADCompileError, match="made from a rule given with adc.defvjp"):
        export(weighted_cumsum, [adc.grad(weighted_cumsum)])
