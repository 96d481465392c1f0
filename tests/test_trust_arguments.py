"""jvp and vjp refuse tangents and cotangents that cannot go with their primals, with
an error naming the argument, the expected shape and what was given; valid ones
still give the right derivatives."""
from __future__ import annotations

import numpy as np
import pytest
from support import load_fixture

import ad_compiler as adc
from ad_compiler.arguments import check_tangents

F = load_fixture("trust_funcs")


# ---------------------------------------------------------------- jvp


def test_a_string_tangent_names_the_parameter():
    with pytest.raises(TypeError, match=r"tangent for parameter 'x' \(position 0\)") as info:
        adc.jvp(F.doubled, (2.0,), ("a",))
    assert "a number" in str(info.value) and "str 'a'" in str(info.value)


def test_a_tangent_of_another_shape_than_its_primal():
    with pytest.raises(ValueError, match=r"'x' \(position 0\) must be an array of shape "
                                         r"\(3,\), not an array of shape \(4,\)"):
        adc.jvp(F.doubled, (np.ones(3),), (np.ones(4),))
    with pytest.raises(ValueError, match=r"must be a number \(shape \(\)\), not an array of "
                                         r"shape \(2,\)"):
        adc.jvp(F.doubled, (2.0,), (np.ones(2),))
    with pytest.raises(ValueError, match=r"shape \(3,\), not float"):
        adc.jvp(F.doubled, (np.ones(3),), (1.0,))


def test_the_second_parameter_is_named_by_name_and_position():
    with pytest.raises(ValueError, match=r"tangent for parameter 'a' \(position 1\)"):
        adc.jvp(F.scaled_sum, (np.ones(3), np.ones(3)), (np.ones(3), np.ones((3, 1))))


def test_a_tangent_list_of_the_wrong_length():
    with pytest.raises(ValueError, match="1 primal.* 2 tangent"):
        adc.jvp(F.doubled, (2.0,), (1.0, 1.0))
    with pytest.raises(ValueError, match="2 primal.* 1 tangent.* x, a"):
        adc.jvp(F.scaled_sum, (np.ones(2), np.ones(2)), (np.ones(2),))


def test_too_many_primals():
    with pytest.raises(TypeError, match=r"doubled takes 1 argument\(s\) \(x\), but 2"):
        adc.jvp(F.doubled, (2.0, 3.0), (1.0, 1.0))


def test_a_tangent_for_a_list_has_one_item_per_item():
    xs = [0.5, -1.0, 2.0]
    with pytest.raises(TypeError, match=r"'xs' \(position 0\) must be a list of 3 item"):
        adc.jvp(F.sum_of_squares, (xs,), ([1.0, 0.0],))
    with pytest.raises(ValueError, match=r"'xs' \(position 0\) \(at \[1\]\) must be a number"):
        adc.jvp(F.sum_of_squares, (xs,), ([1.0, np.ones(2), 0.0],))
    value, tangent = adc.jvp(F.sum_of_squares, (xs,), ([1.0, 2.0, 3.0],))
    assert value == pytest.approx(5.25)
    assert tangent == pytest.approx(2 * (0.5 * 1.0 - 1.0 * 2.0 + 2.0 * 3.0), rel=1e-15)


def test_valid_tangents_of_every_numeric_kind_pass_and_are_right():
    x = np.array([0.3, -0.2, 1.1])
    for tangent in (np.ones(3, dtype=np.float32), np.arange(3), np.array([1.0, 2.0, 3.0])):
        value, t = adc.jvp(F.cubes, (x,), (tangent,))
        np.testing.assert_allclose(t, 3 * x ** 2 * tangent, rtol=1e-6)
    for tangent in (1, np.float64(1.0), np.array(1.0), np.float32(1.0)):
        assert adc.jvp(F.fourth_power, (1.5,), (tangent,))[1] == pytest.approx(4 * 1.5 ** 3)


def test_a_none_tangent_is_not_refused_by_the_check():
    """None stands for 'no tangent for this input' (an integer input, say)."""
    check_tangents(F.scaled_sum, (np.ones(2), 3.0), (np.ones(2), None))


# ---------------------------------------------------------------- vjp


def test_a_cotangent_of_the_wrong_shape():
    value, pullback = adc.vjp(F.doubled, np.ones(3))
    with pytest.raises(ValueError, match=r"vjp: the cotangent for the output of doubled must "
                                         r"be an array of shape \(3,\), not an array of shape "
                                         r"\(4,\)"):
        pullback(np.ones(4))
    with pytest.raises(TypeError, match="must be an array of shape .3,., not str"):
        pullback("1")
    with pytest.raises(TypeError, match="not None"):
        pullback(None)
    np.testing.assert_allclose(pullback(np.array([1.0, 2.0, 3.0]))[0], [2.0, 4.0, 6.0])


def test_a_cotangent_of_a_scalar_output():
    _, pullback = adc.vjp(F.fourth_power, 1.5)
    with pytest.raises(ValueError, match=r"must be a number \(shape \(\)\), not an array"):
        pullback(np.ones(2))
    assert pullback(2.0)[0] == pytest.approx(2.0 * 4 * 1.5 ** 3, rel=1e-15)
    assert pullback(np.float32(1.0))[0] == pytest.approx(4 * 1.5 ** 3, rel=1e-7)


def test_cotangents_of_a_tuple_output():
    x, y = np.array([0.4, 0.9]), np.array([1.2, -0.3])
    _, pullback = adc.vjp(F.pair_out, x, y)
    with pytest.raises(ValueError, match="tuple of 2 values.* tuple of 2 cotangents, not a "
                                         r"tuple of 1 item"):
        pullback((np.ones(2),))
    with pytest.raises(ValueError, match="not an array of shape"):
        pullback(np.ones(2))
    with pytest.raises(ValueError, match=r"the cotangent of output 1 of pair_out must be an "
                                         r"array of shape \(2,\), not an array of shape \(3,\)"):
        pullback((np.ones(2), np.ones(3)))
    u, v = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    x_bar, y_bar = pullback((u, v))
    np.testing.assert_allclose(x_bar, u * y + v, rtol=1e-15)
    np.testing.assert_allclose(y_bar, u * x + v * np.cos(y), rtol=1e-15)


def test_forward_and_reverse_agree_on_valid_arguments():
    """The dot-product test <ybar, J xdot> = <J^T ybar, xdot> still holds."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=2)
    xdot, ybar = rng.normal(size=2), rng.normal(size=2)
    _, jx = adc.jvp(F.two_outputs, (x,), (xdot,))
    _, pullback = adc.vjp(F.two_outputs, x)
    (jty,) = pullback(ybar)
    assert np.dot(ybar, jx) == pytest.approx(np.dot(jty, xdot), rel=1e-13)
