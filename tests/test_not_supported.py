"""The README's "What is not supported (yet)" list is exactly what is refused.

Every construct the list names has a function in tests/fixtures/not_supported.py that
is refused: with `adc.ADCompileError` at the line marked ``# ERR`` (file, line and a
hint), or, where the list says so, with an error when the code runs.  Constructs the
list does not name, and the ways out its hints suggest, work, with derivatives
written out by hand beside each test.  The README's list quotes in backticks exactly
the constructs below and the ways out, so list and behaviour cannot drift apart.
"""
from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from support import load_fixture

import ad_compiler as adc

ROOT = Path(__file__).resolve().parents[1]
N = load_fixture("not_supported")
FIXTURE_FILE = str(ROOT / "tests" / "fixtures" / "not_supported.py")


@dataclass
class Refused:
    """A construct and how it is refused."""

    listed: tuple[str, ...]  # how the README quotes it
    fn: Callable  # the fixture function, whose '# ERR' line the error points at
    attempt: Callable[[], object]
    word: str  # in the message, so the user knows what was refused
    error: type[Exception] = adc.ADCompileError


def grad_at(fn: Callable, *args: object, **options: object) -> Callable[[], object]:
    return lambda: adc.grad(fn, **options)(*args)


XS = [1.0, 2.0]
V3 = np.array([0.5, -1.0, 3.0])
NEARLY_RANK_ONE = np.array([[1.0, 1.1], [1.0, 0.9], [1.0, 1.05]])  # singular values 2.47, 0.10

CASES = {
    # statements
    "try": Refused(("try",), N.with_try, grad_at(N.with_try, 0.5), "'return' inside a 'try'"),
    "except as": Refused(("except ... as name",), N.with_except_as,
                         grad_at(N.with_except_as, 0.5), "'except ... as name'"),
    "with": Refused(("with ... as name",), N.with_with, grad_at(N.with_with, 0.5),
                    "'with ... as name'"),
    "suppress": Refused(("contextlib.suppress",), N.with_suppress,
                        grad_at(N.with_suppress, 0.5), "contextlib.suppress"),
    "global write": Refused(("global",), N.with_global_write,
                            grad_at(N.with_global_write, 0.5), "'global G'"),
    "bare raise": Refused(("raise",), N.with_bare_raise, grad_at(N.with_bare_raise, 0.5),
                          "bare 'raise'"),
    "del": Refused(("del",), N.with_del, grad_at(N.with_del, 0.5), "'del'"),
    "nonlocal": Refused(("nonlocal",), N.make_with_nonlocal(),
                        grad_at(N.make_with_nonlocal(), 0.5), "'nonlocal'"),
    "match": Refused(("match",), N.with_match, grad_at(N.with_match, 0.5), "'match'"),
    "class": Refused(("class",), N.with_class, grad_at(N.with_class, 0.5), "class"),
    # expressions
    "yield": Refused(("yield",), N.with_yield, grad_at(N.with_yield, 0.5), "'yield'"),
    "async": Refused(("async def",), N.with_async, grad_at(N.with_async, 0.5), "async"),
    "walrus in while": Refused((":=", "while", "continue", "and", "or", "if ... else"),
                               N.with_walrus_in_while,
                               grad_at(N.with_walrus_in_while, 0.5), "':='"),
    "text": Refused(('f"{x}"',), N.with_text_as_value, grad_at(N.with_text_as_value, 0.5),
                    "may only be printed, logged, warned or raised"),
    "format": Refused((".format()",), N.with_format_as_value,
                      grad_at(N.with_format_as_value, 0.5), "may only be printed"),
    "starred": Refused(("f(*xs)",), N.with_starred_argument,
                       grad_at(N.with_starred_argument, XS), "starred"),
    "double starred": Refused(("f(**kw)",), N.with_double_starred_argument,
                              grad_at(N.with_double_starred_argument, V3, {"axis": 0}),
                              "'**'"),
    "computed key": Refused(("{k: x}",), N.with_computed_key,
                            grad_at(N.with_computed_key, 0.5, "a"), "dict keys"),
    "complex literal": Refused(("2j",), N.with_complex_literal,
                               grad_at(N.with_complex_literal, 0.5), "complex"),
    # parameters and calls of Python functions
    "keyword-only": Refused(("adc.jvp", "adc.jacobian"), N.with_keyword_only,
                            lambda: adc.jvp(N.with_keyword_only, (0.5,), (1.0,)),
                            "keyword-only"),
    "*args": Refused(("*args", "**kwargs", "adc.vjp", "adc.hessian"), N.with_varargs,
                     lambda: adc.hessian(N.with_varargs)(0.5), "*args"),
    "hvp of *args": Refused(("adc.hvp",), N.with_varargs,
                            lambda: adc.hvp(N.with_varargs)(0.5, 1.0), "*args"),
    "decorated nested": Refused((), N.with_decorated_nested,
                                grad_at(N.with_decorated_nested, 0.5), "decorated"),
    "recursion": Refused((), N.with_recursion, grad_at(N.with_recursion, 0.5),
                         "depends on data"),
    "deep recursion": Refused((), N.power, grad_at(N.with_deep_recursion, 0.5),
                              "100 levels deep"),
    # assignment into things
    "attribute items": Refused(("x.T[0] = v",), N.with_attribute_items,
                               grad_at(N.with_attribute_items, V3), "attribute's items"),
    "module array write": Refused(("G[0] = v",), N.with_module_array_write,
                                  grad_at(N.with_module_array_write, 0.5), "not a variable"),
    "record made by __post_init__": Refused(
        ("__post_init__", "__init__"), N.with_record_made_by_post_init,
        grad_at(N.with_record_made_by_post_init, 0.5), "has a __post_init__"),
    "record keeping another value": Refused(
        ("__setattr__",), N.with_record_keeping_another_value,
        grad_at(N.with_record_keeping_another_value, 0.5), "keeps something else",
        error=TypeError),
    "field assignment": Refused(("p.w = ...",), N.with_field_assignment,
                                grad_at(N.with_field_assignment, N.Point(1.0, 2.0)),
                                "assignment to this kind of target"),
    # operators
    "&": Refused(("&",), N.with_and_operator, grad_at(N.with_and_operator, V3), "'&'"),
    "|": Refused(("|",), N.with_or_operator, grad_at(N.with_or_operator, V3), "'|'"),
    "^": Refused(("^",), N.with_xor_operator, grad_at(N.with_xor_operator, V3), "'^'"),
    "~": Refused(("~",), N.with_invert_operator, grad_at(N.with_invert_operator, V3), "'~'"),
    "<<": Refused(("<<",), N.with_shift, grad_at(N.with_shift, 0.5, 3), "'<<'"),
    ">>": Refused((">>",), N.with_right_shift, grad_at(N.with_right_shift, 0.5, 3), "'>>'"),
    "in": Refused(("in", "not in"), N.with_in, grad_at(N.with_in, 0.5, XS), "'in'"),
    "is": Refused(("is", "is not"), N.with_is, grad_at(N.with_is, 0.5, None), "'is'"),
    # methods
    "computed pop": Refused(("xs.pop(i)",), N.with_computed_pop,
                            grad_at(N.with_computed_pop, XS, 1), "computed when the code runs"),
    "remove": Refused(("ys.remove(v)",), N.with_remove, grad_at(N.with_remove, 0.5),
                      "ys.remove(2.0) is a method call"),
    "conj method": Refused(("x.conj()",), N.with_conj_method,
                           grad_at(N.with_conj_method, V3), "x.conj()"),
    "sort method": Refused(("x.sort()",), N.with_sort_method, grad_at(N.with_sort_method, V3),
                           "changes its receiver in place"),
    "generator method": Refused(("np.random.default_rng()",), N.with_generator_method,
                                grad_at(N.with_generator_method, 0.5), "rng.normal()"),
    "global generator": Refused(("np.random.default_rng()",), N.with_global_generator,
                                grad_at(N.with_global_generator, 0.5), "RNG.normal()"),
    # calls without a rule whose arguments depend on the inputs
    "np.ediff1d": Refused(("np.ediff1d(x)",), N.with_np_ediff1d,
                          grad_at(N.with_np_ediff1d, V3), "np.ediff1d(x) has no derivative rule"),
    "divmod": Refused(("divmod(x, y)",), N.with_divmod, grad_at(N.with_divmod, 2.5),
                      "divmod(x, 1.0)"),
    "str": Refused(("str(x)",), N.with_str, grad_at(N.with_str, 0.5), "str(x)"),
    "repr": Refused(("repr(x)",), N.with_repr, grad_at(N.with_repr, 0.5), "repr(x)"),
    "call of a call": Refused(("np.vectorize(g)(x)",), N.with_call_of_a_call,
                              grad_at(N.with_call_of_a_call, V3), "can be called"),
    # array attributes
    "real": Refused((".real",), N.with_real, grad_at(N.with_real, V3), "'.real'"),
    "imag": Refused((".imag",), N.with_imag, grad_at(N.with_imag, V3), "'.imag'"),
    "flat": Refused((".flat",), N.with_flat, grad_at(N.with_flat, V3), "'.flat'"),
    "field named real": Refused((), N.with_field_named_real,
                                grad_at(N.with_field_named_real, N.Record(1.0, 2.0)),
                                "'.real'"),
    # loops
    "iter": Refused(("for c in iter(xs)",), N.with_iter, grad_at(N.with_iter, XS),
                    "iterates over"),
    "kept generator": Refused(("g = (v * v for v in xs)", "map(...)", "filter(...)"),
                              N.with_kept_generator,
                              grad_at(N.with_kept_generator, XS), "kept in a variable"),
    "kept set": Refused(("s = {v * v for v in xs}",), N.with_kept_set,
                        grad_at(N.with_kept_set, XS), "set comprehensions"),
    "display changed in a helper's loop": Refused(
        ("scale_all(terms, s)", "terms[i] = terms[i] * s"),
        N.with_display_changed_in_a_helpers_loop,
        grad_at(N.with_display_changed_in_a_helpers_loop, 0.5, 2.0, wrt=(0, 1)),
        "in a loop of the function it calls"),
    "held display changed": Refused(
        ('add_term(groups["first"], v)',), N.with_held_display_changed,
        grad_at(N.with_held_display_changed, 0.5, 2.0, wrt=(0, 1)),
        "that another list or dict holds"),
    "view written by a call in a loop": Refused(
        ("fill(out[i:], v)",), N.with_view_written_by_a_call_in_a_loop,
        grad_at(N.with_view_written_by_a_call_in_a_loop, V3),
        "which the loop around it does not assign"),
    # NumPy functions
    "np.r_ directive": Refused(("np.r_['0,2', a, b]",), N.with_r_directive,
                               grad_at(N.with_r_directive, V3), "np.r_[...] with a directive"),
    "np.c_ computed slice": Refused(("np.c_[a:b:5j, x]",), N.with_c_computed_slice,
                                    grad_at(N.with_c_computed_slice, V3),
                                    "a slice of computed bounds"),
    "pad mean": Refused(('np.pad(..., mode="mean")',), N.with_pad_mean,
                        grad_at(N.with_pad_mean, V3), "modes 'constant', 'edge'"),
    "retstep": Refused(("np.linspace(..., retstep=True)",), N.with_retstep,
                       grad_at(N.with_retstep, 0.5), "retstep"),
    "einsum repeated index": Refused(("np.einsum", "ii->i"), N.with_einsum_repeated_index,
                                     grad_at(N.with_einsum_repeated_index, np.ones((2, 2))),
                                     "repeated in one operand"),
    "interp sample points": Refused(("np.interp", "xp"), N.with_interp_sample_points,
                                    grad_at(N.with_interp_sample_points, np.array([0.5]),
                                            np.array([0.0, 1.0, 2.0]), wrt=1),
                                    "sample points xp"),
    "third derivative of prod": Refused(
        ("np.prod",), N.with_prod_of_array,
        lambda: adc.hessian(adc.grad(N.with_prod_of_array))(V3), "third derivatives"),
    # writes whose aliases depend on what the code is given
    "write into a reshaped view": Refused(
        ("v = x.reshape(2, 3)", "x.T", "np.ravel(x)"), N.with_write_into_reshaped,
        grad_at(N.with_write_into_reshaped, np.arange(6.0)), "may share memory"),
    "slice of a value of unknown kind": Refused(
        ("y = x[1:]",), N.with_slice_of_unknown_kind,
        grad_at(N.with_slice_of_unknown_kind, V3), "which is not known here"),
    # when the code runs
    "extend by an array": Refused(("xs.extend(ys)",), N.with_extend_by_array,
                                  grad_at(N.with_extend_by_array, 0.5), "must be a list",
                                  error=TypeError),
    "update by pairs": Refused(("d.update(pairs)",), N.with_update_by_pairs,
                               grad_at(N.with_update_by_pairs, 0.5, [("b", 2.0)]),
                               "must be a dict here", error=TypeError),
    "shared update": Refused(("+=",), N.with_shared_update,
                             grad_at(N.with_shared_update, V3), "z, read afterwards, shares",
                             error=ValueError),
    "dict item written in a loop": Refused(
        ('layer["W"] = v',), N.with_dict_item_written_in_a_loop,
        grad_at(N.with_dict_item_written_in_a_loop, [{"W": 0.5}, {"W": 1.5}]),
        "params, read afterwards, shares", error=ValueError),
    "pad values per side": Refused(
        ("np.pad(x, 1, constant_values=(a, b))",), N.with_pad_values_per_side,
        grad_at(N.with_pad_values_per_side, V3), "one constant value only", error=ValueError),
    "complex abs": Refused(("abs()",), N.with_complex_abs,
                           grad_at(N.with_complex_abs, 1.0 + 2.0j), "abs() of a complex",
                           error=TypeError),
    "truncating lstsq": Refused(("np.linalg.lstsq(A, b, rcond=0.5)",), N.with_truncating_lstsq,
                                grad_at(N.with_truncating_lstsq, NEARLY_RANK_ONE, V3),
                                "full column rank", error=ValueError),
    "truncating pinv": Refused(("np.linalg.pinv(A, rcond=0.5)",), N.with_truncating_pinv,
                               grad_at(N.with_truncating_pinv, NEARLY_RANK_ONE, V3),
                               "dropped some", error=ValueError),
    "drawn twice": Refused(("np.random.rand(3)",), N.with_noise_in_a_hessian,
                           lambda: adc.hessian(N.with_noise_in_a_hessian)(V3),
                           "draws random numbers"),
    "drawn in an inner loop": Refused(("np.random.normal(size=2)",),
                                      N.with_noise_in_an_inner_loop,
                                      grad_at(N.with_noise_in_an_inner_loop,
                                              np.full((2, 2), 0.3), np.ones((3, 2))),
                                      "drawn again"),
    "complex array": Refused((), N.with_complex_array,
                             grad_at(N.with_complex_array, np.array([1.0 + 1.0j])), "complex",
                             error=TypeError),
}


def _marked_line(fn: Callable) -> int:
    lines, start = inspect.getsourcelines(fn)
    marked = [start + k for k, line in enumerate(lines) if "# ERR" in line]
    assert len(marked) == 1, f"{fn.__name__} needs one '# ERR' marker"
    return marked[0]


@pytest.mark.parametrize("case", list(CASES))
def test_a_listed_construct_is_refused_at_its_line(case):
    refused = CASES[case]
    with pytest.raises(refused.error) as info:
        refused.attempt()
    err = info.value
    if isinstance(err, adc.ADCompileError):
        assert err.filename == FIXTURE_FILE, str(err)
        assert err.lineno == _marked_line(refused.fn), str(err)
        assert refused.word in err.what, err.what
        assert err.hint.strip(), "every refusal says what to do"
    else:
        assert refused.word in str(err), str(err)
    if "+=" in refused.listed:  # the run-time check names the statement
        assert f"line {_marked_line(refused.fn)}: y += 1.0" in str(err)


# ------------------------------------------------------------------ not listed: they work


def test_a_dict_argument():
    grads = adc.grad(N.dict_loss)({"w": 2.0, "b": 3.0}, 1.5)
    assert grads == {"w": 1.5, "b": 6.0}  # (x, 2b)


def test_self_in_a_bound_method():
    model = N.Model(3.0)
    assert adc.grad(model.loss)(2.0) == pytest.approx(12.0)  # 2 w x


def test_namedtuple_and_dataclass_fields():
    grads = adc.grad(N.namedtuple_loss)(N.Point(2.0, 3.0), 1.5)
    assert isinstance(grads, N.Point) and grads == (1.5, 6.0)  # (x, 2 offset)
    grads = adc.grad(N.dataclass_loss)(N.Params(2.0, 3.0), 1.5)
    assert isinstance(grads, N.Params) and (grads.slope, grads.offset) == (1.5, 6.0)


def test_reversed_and_sorted_loops():
    # reversed: 1*3**2 + 2*2**2 + 3*1**2, so d/dxs = (3*2*1, 2*2*2, 1*2*3)
    assert adc.grad(N.reversed_loop)([1.0, 2.0, 3.0]) == [6.0, 8.0, 6.0]
    # sorted: 1*1 + 2*2 + 3*3 by rank, so each item's derivative is its rank
    assert adc.grad(N.sorted_loop)([3.0, 1.0, 2.0]) == [3.0, 1.0, 2.0]
    assert adc.grad(N.sorted_loop, mode="forward")([3.0, 1.0, 2.0]) == [3.0, 1.0, 2.0]


def test_items_of_a_dict_in_a_loop():
    # 2 * ab**2 + 1 * c**2
    assert adc.grad(N.items_loop)({"ab": 1.5, "c": 2.0}) == {"ab": 6.0, "c": 4.0}


def test_print_random_numbers_and_calls_on_constants(capsys):
    assert adc.grad(N.print_and_constants)(1.5) == pytest.approx(3.0)  # 2x
    assert "x = 1.5" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_builtins_over_items(mode):
    xs = [1.0, 2.0]
    assert adc.grad(N.with_comprehension, mode=mode)(xs) == [2.0, 4.0]  # sum of v**2
    assert adc.grad(N.with_sum, mode=mode)(xs) == [1.0, 1.0]
    assert adc.grad(N.with_fsum, mode=mode)(xs) == [1.0, 1.0]
    assert adc.grad(N.with_min, mode=mode)(xs) == [1.0, 0.0]
    assert adc.grad(N.with_max, mode=mode)(xs) == [0.0, 1.0]
    assert adc.grad(N.with_list_call, mode=mode)(xs) == [2.0, 0.0]
    assert adc.grad(N.with_tuple_call, mode=mode)(xs) == [2.0, 0.0]
    assert adc.grad(N.with_map, mode=mode)([-1.0, 2.0]) == [-1.0, 1.0]  # sum of |x|
    # max(a, b, 1.0): the first of the largest
    assert adc.grad(N.with_max_of_three, wrt=(0, 1), mode=mode)(0.5, 2.0) == (0.0, 1.0)
    assert adc.grad(N.with_max_of_three, wrt=(0, 1), mode=mode)(3.0, 2.0) == (1.0, 0.0)
    assert adc.grad(N.with_max_of_three, wrt=(0, 1), mode=mode)(0.5, 0.25) == (0.0, 0.0)


# ------------------------------------------------------------------ the ways out the hints give


def test_recursion_with_its_depth_written_in_the_call():
    for mode in ("reverse", "forward"):
        assert adc.grad(N.with_shallow_recursion, mode=mode)(1.5) == \
            pytest.approx(5 * 1.5 ** 4)


def test_np_logical_and_instead_of_the_operator():
    assert list(adc.grad(N.logical_and)(np.array([-1.0, 1.0, 3.0]))) == [0.0, 2.0, 0.0]


def test_items_written_and_updated():
    assert adc.grad(N.item_assigned)(0.5) == pytest.approx(3.0)  # d (x + 2x) / dx
    for mode in ("reverse", "forward"):  # (xs0 + 1) xs1
        assert adc.grad(N.item_updated, mode=mode)([1.0, 2.0]) == [2.0, 2.0]


def test_a_new_list_instead_of_append():
    assert adc.grad(N.appended)(2.0) == pytest.approx(12.0)  # d x**3 = 3 x**2


def test_a_new_list_instead_of_an_item_update():
    # ys = (xs0, 3 xs1): ys0 * ys1 = 3 xs0 xs1
    assert adc.grad(N.item_replaced)([1.0, 2.0], 1) == [6.0, 3.0]


def test_a_copy_before_an_in_place_update():
    x = np.array([0.5, -1.0])
    assert list(adc.grad(N.copied)(x)) == list(2.0 * x + 1.0)  # sum((x + 1) x)


def test_indexing_a_dict_instead_of_get():
    assert adc.grad(N.keyed)({"a": 3.0, "b": 1.0}, "a") == {"a": 6.0, "b": 0.0}


@pytest.mark.parametrize("inner", ["reverse", "forward"])
def test_second_derivatives_through_a_loop_over_a_list_built_from_numbers(inner):
    # a**3 + b**3: d2/da2 = 6a, d2/da db = 0
    assert adc.grad(adc.grad(N.cubes_of_two, mode=inner))(1.0, 2.0) == pytest.approx(6.0)
    assert adc.grad(adc.grad(N.cubes_of_two, mode=inner), wrt=1)(1.0, 2.0) == 0.0
    assert adc.hessian(N.cubes_of_two)(1.0, 2.0) == pytest.approx(6.0)


def test_second_derivatives_through_a_loop_over_a_differentiated_list():
    # sum of x**3 over the items: the Hessian is diag(6 x), in every order
    xs = [1.0, -2.0]
    expected = np.diag([6.0, -12.0])
    np.testing.assert_allclose(adc.hessian(N.cubes_of_items)(xs), expected, rtol=1e-14)
    np.testing.assert_allclose(adc.jacobian(adc.grad(N.cubes_of_items), mode="reverse")(xs),
                               expected, rtol=1e-14)
    value, tangent = adc.jvp(adc.grad(N.cubes_of_items), (xs,), ([1.0, 0.0],))
    assert value == [3.0, 12.0] and tangent == [6.0, 0.0]


@pytest.mark.parametrize("fn,second", [
    (N.with_array_of_list, 10.0),  # a**2 + (2a)**2 = 5 a**2
    (N.with_concatenate, 20.0),  # (a, a, 2a, 2a): 10 a**2
    (N.with_r_join, 20.0),  # the same items joined by np.r_
    (N.with_stack, 20.0),  # the same items stacked
    (N.with_split, 6.0),  # (0, a) * (2a, 3a): 3 a**2
    (N.with_tile, 8.0),  # four copies of a: 4 a**2
    (N.with_trace, 4.0),  # trace(a**2 I) = 2 a**2
], ids=lambda v: getattr(v, "__name__", ""))
def test_second_derivatives_through_joins_splits_tiles_and_traces(fn, second):
    """Reverse over reverse goes through the adjoints of joins and splits (their
    transposes join and split again), and agrees with forward over reverse."""
    assert adc.hessian(fn)(1.5) == pytest.approx(second)
    assert adc.grad(adc.grad(fn))(1.5) == pytest.approx(second)
    assert adc.grad(adc.grad(fn), mode="forward")(1.5) == pytest.approx(second)


def test_the_hessian_of_np_prod_itself():
    # d2/dxi dxj prod(x) = product of the others, zero on the diagonal
    x = V3
    expected = np.array([[0.0, x[2], x[1]], [x[2], 0.0, x[0]], [x[1], x[0], 0.0]])
    assert np.allclose(adc.hessian(N.with_prod_of_array)(x), expected)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_np_einsum_with_an_ellipsis(mode):
    A, B = np.arange(12.0).reshape(2, 2, 3), np.arange(12.0).reshape(2, 3, 2) / 10.0
    dA, dB = adc.grad(N.with_einsum_ellipsis, wrt=(0, 1), mode=mode)(A, B)
    # sum of all A @ B: dA[n, i, j] = sum_k B[n, j, k], dB[n, j, k] = sum_i A[n, i, j]
    assert np.allclose(dA, np.broadcast_to(B.sum(axis=2)[:, None, :], A.shape))
    assert np.allclose(dB, np.broadcast_to(A.sum(axis=1)[:, :, None], B.shape))


def test_abs_of_real_and_imaginary_parts():
    assert adc.grad(N.with_complex_abs)(-2.0) == -1.0
    assert math.isclose(adc.grad(N.with_complex_abs)(3.0), 1.0)


# ------------------------------------------------------------------ the README's list


# what the README's list quotes besides the constructs above: the error types, the
# constructs that work (and are named to mark the edge of what is refused), ways out
WAYS_OUT = {
    "adc.ADCompileError", "ValueError", "TypeError", "np.logical_and", ".copy()", ".items()",
    ".values()", ".keys()", "for", ".append()", ".extend()", ".insert()", ".pop()",
    ".update()", ".setdefault()", ".get()", "ys = ys + [v]", "np.random.normal()", "adc.defpartials", "adc.defvjp",
    "adc.stop_gradient", "np.sum", "np.min", "np.max",
    "y = y + v", "y = x.copy()", "y = np.sort(x)", "sum", "max", "min",
    "sum({v * v for v in xs})", "adc.grad", "adc.value_and_grad", "lambda", "with",
    "return horner(cs, x, 3)", "x = np.asarray(x)", "x = list(x)",
    "terms = scale_all(terms, s)",
}


def _readme_quotes(text: str | None = None) -> list[str]:
    """The backticked spans of the README's section "What is not supported (yet)"."""
    if text is None:
        text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## What is not supported (yet)")
    end = text.find("\n## ", start + 1)
    return re.findall(r"`([^`\n]+)`", text[start:end if end != -1 else len(text)])


def test_every_case_is_checked_against_its_own_line():
    """The fixture marks one line per function, and every function is used."""
    used = {case.fn.__qualname__.split(".")[0] for case in CASES.values()}
    refusing = {name for name, fn in vars(N).items() if inspect.isfunction(fn)
                and fn.__module__ == N.__name__ and "# ERR" in inspect.getsource(fn)}
    assert refusing - used == set(), "fixtures that no case uses"


def test_the_readme_lists_exactly_what_is_refused():
    """The README quotes every construct refused above, and nothing else but the ways
    out: a construct that starts working must leave the list, and a new refusal must
    join it (with a case here)."""
    quoted = set(_readme_quotes())
    listed = {token for case in CASES.values() for token in case.listed}
    missing = sorted(listed - quoted)
    unknown = sorted(quoted - listed - WAYS_OUT)
    assert not missing, f"refused but not in the README's list: {missing}"
    assert not unknown, f"quoted in the README's list but not checked here: {unknown}"
