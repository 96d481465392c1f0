"""The dispatcher's fast path (dispatch.py): a call with the last call's signature is
recognised by a check of its arguments, without building a key.  A call whose shapes,
dtypes, int values, sequence types or argument types differ from the last call's must
run the version made for its own signature, never the last one: each call here is
checked against the generic code and against central differences, signatures
alternate, and versions made once must be reused.
"""
from __future__ import annotations

import collections
import itertools
import threading

import numpy as np
import pytest
from support import numeric_grad

import ad_compiler as adc
from ad_compiler import cache, dispatch
from ad_compiler.dispatch import _never, _signature_check, signature_key

rng = np.random.default_rng(31)


@pytest.fixture(autouse=True)
def fresh_derivatives():
    """Each test its own dispatchers (the cache would share them between tests)."""
    cache.clear()


class Tagged(np.ndarray):
    """An ndarray subclass: a signature of its own."""


def head_energy(W, b, X, scale, k):
    """A scaled sum over the first k rows of a tanh layer (k sets a shape)."""
    h = np.tanh(X @ W + b)
    return scale * np.sum(h[:k] ** 2)


def agree(g, f, args, wrt, rtol=1e-12):
    """g(*args) against the generic code and, for float64, central differences."""
    got = g(*args)
    want = g._adc_generic(*args)
    assert type(got) is type(want) and len(got) == len(want)
    for value, expected, k in zip(got, want, wrt):
        assert np.shape(value) == np.shape(expected)
        np.testing.assert_allclose(value, expected, rtol=rtol, atol=1e-12)
        if np.asarray(args[k]).dtype == np.float64:
            np.testing.assert_allclose(value, numeric_grad(f, list(args), k), rtol=1e-5,
                                       atol=1e-7)


def layer_args(rows=6, dtype=np.float64, scale=0.7, k=3, subclass=False):
    W = rng.standard_normal((4, 5))
    b = rng.standard_normal(5)
    X = rng.standard_normal((rows, 4)).astype(dtype)
    if subclass:
        X = X.view(Tagged)
    return W, b, X, scale, k


SIGNATURES = {  # each differs from "base" in one respect
    "base": {},
    "more rows": {"rows": 9},
    "float32": {"dtype": np.float32},
    "another k": {"k": 5},
    "np.float64 scale": {"scale": np.float64(0.7)},
    "int scale": {"scale": 2},
    "subclass": {"subclass": True},
}


def test_alternating_signatures_each_run_their_own_version(monkeypatch):
    built: list[str] = []
    real = dispatch.generate

    def counting(fn, name, **options):
        built.append("probe" if options.get("probe") else "version")
        return real(fn, name, **options)

    monkeypatch.setattr(dispatch, "generate", counting)
    g = adc.grad(head_energy, wrt=(0, 1, 2))
    order = list(SIGNATURES) * 2 + ["base", "float32", "base", "another k", "another k",
                                    "subclass", "base", "subclass", "more rows", "base"]
    for name in order:
        args = layer_args(**SIGNATURES[name])
        rtol = 1e-5 if name == "float32" else 1e-12
        agree(g, head_energy, args, (0, 1, 2), rtol=rtol)
        recent = g._recent  # what the next call runs: the first version whose check holds
        for check, version in zip(recent[::2], recent[1::2]):
            if check(*args):
                assert version is g._table[signature_key(args)]
                break
    assert len(g.specializations) == len(SIGNATURES)
    assert built.count("version") <= len(SIGNATURES)  # each made once, then reused


def test_a_call_like_the_last_builds_no_key(monkeypatch):
    g = adc.grad(head_energy, wrt=(0, 1, 2))
    args = layer_args()
    g(*args)
    g(*args)  # the second call with a signature remembers its check
    keyed = []
    real_key = dispatch._key

    def counting(value):
        keyed.append(value)
        return real_key(value)

    monkeypatch.setattr(dispatch, "_key", counting)
    for _ in range(3):
        agree(g, head_energy, layer_args(), (0, 1, 2))  # other data, same signature
    assert keyed == []
    agree(g, head_energy, layer_args(k=4), (0, 1, 2))  # another int: keyed
    assert 4 in keyed


def test_calls_alternating_between_two_signatures_build_no_key(monkeypatch):
    g = adc.grad(head_energy, wrt=(0, 1, 2))
    for _ in range(2):
        g(*layer_args())
        g(*layer_args(rows=2))  # a shorter last batch
    keyed = []
    real_key = dispatch._key
    monkeypatch.setattr(dispatch, "_key", lambda value: keyed.append(value) or real_key(value))
    for rows in (6, 2, 6, 6, 2, 2, 6):
        agree(g, head_energy, layer_args(rows=rows), (0, 1, 2))
    assert keyed == []
    agree(g, head_energy, layer_args(rows=4), (0, 1, 2))  # a third: keyed, a version made
    assert keyed and len(g.specializations) == 3


def pair_weighted(x, pair):
    a, b = pair
    return np.sum(a * x ** 2 + b * np.sin(x))


def test_list_and_tuple_arguments_alternate():
    g = adc.grad(pair_weighted, wrt=(0, 1))
    x = rng.standard_normal(5)
    for pair in ([1.5, 2.0], (1.5, 2.0), [1.5, 2.0], (0.5, -1.0), (1.5, 2.0), [3.0, 1.0]):
        got = g(x, pair)
        want = g._adc_generic(x, pair)
        assert type(got[1]) is type(want[1]) is type(pair)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[0], numeric_grad(pair_weighted, [x, pair], 0),
                                   rtol=1e-6)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
        np.testing.assert_allclose(got[1], np.array([np.sum(x ** 2), np.sum(np.sin(x))]),
                                   rtol=1e-12)
    assert len(g.specializations) == 2  # a list of two floats, a tuple of two floats


def test_threads_calling_one_dispatcher_get_their_own_results():
    g = adc.grad(head_energy, wrt=(0, 1, 2))
    cases = [layer_args(**SIGNATURES[name]) for name in
             ("base", "more rows", "float32", "another k")]
    expected = [g._adc_generic(*args) for args in cases]
    failures: list[str] = []

    def work(offset: int) -> None:
        for i in range(150):
            j = (i + offset) % len(cases)
            got = g(*cases[j])
            for value, want in zip(got, expected[j]):
                if value.dtype != want.dtype or not np.allclose(value, want, rtol=1e-5):
                    failures.append(f"case {j}, call {i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(g.specializations) == len(cases)


POOL = [  # the first two arrays and the Fortran-ordered one share a key
    np.zeros((2, 3)), np.ones((2, 3)), np.zeros((3, 2)), np.zeros(6),
    np.zeros((2, 3), np.float32), np.zeros((2, 3), np.int64), np.zeros(()),
    np.zeros((2, 3)).view(Tagged), np.zeros((2, 3)).T.copy().T,
    1.0, 2.5, np.float64(1.0), np.float32(1.0), 1, 2, True, False, None, "a",
    [1.0, 2.0], (1.0, 2.0), np.int64(1),
]


def test_a_mixed_signature_check_is_true_exactly_for_its_key():
    for first, second in itertools.product(POOL[:9], POOL[9:]):  # an array, another value
        signatures = [(a, b) for a in (first, second) for b in (second, first)]
        for mine in signatures:
            check = _signature_check(mine)
            for other in signatures:
                same = signature_key(mine) == signature_key(other)
                assert check(*other) == (same and check is not _never), (mine, other)


@pytest.mark.parametrize("value", POOL)
def test_a_check_agrees_with_the_key_on_every_value(value):
    check = _signature_check((value,))
    kinds = (np.ndarray, float, int, bool, type(None))
    assert (check is _never) == (type(value) not in kinds)
    for other in POOL:
        same = signature_key((value,)) == signature_key((other,))
        assert check(other) == (same and check is not _never), (value, other)


def test_a_check_of_no_arguments_is_true():
    assert _signature_check(())() is True


def scaled_head(W, b, X, scale=0.5, k=2):
    h = np.tanh(X @ W + b)
    return scale * np.sum(h[:k] ** 2)


def test_calls_that_leave_out_defaulted_arguments_run_specialised_code():
    W, b, X, _, _ = layer_args()
    g = adc.grad(scaled_head, wrt=(0, 1))
    for args in [(W, b, X), (W, b, X), (W, b, X, 0.25), (W, b, X, 0.5, 3)]:
        got = g(*args)
        full = args + (0.5, 2)[len(args) - 3:]
        for value, k in zip(got, (0, 1)):
            np.testing.assert_allclose(value, numeric_grad(scaled_head, list(full), k),
                                       rtol=1e-5, atol=1e-7)
        if len(args) == 3:  # the defaults filled in: the code for their signature runs
            assert g.specializations == {signature_key(full): "specialised"}
    assert len(g.specializations) == 2  # k=2 and k=3 (a float scale is not keyed)
    assert "def scaled_head_grad(W, b, X, scale, k)" in g.source_for(W, b, X)


def layered_loss(params, X, y):
    """A two-layer network whose parameters come by name, each layer a pair."""
    W1, b1 = params["hidden"]
    W2, b2 = params["out"]
    h = np.tanh(X @ W1 + b1)
    return np.mean((np.tanh(h @ W2 + b2)[:, 0] - y) ** 2)


Layer = collections.namedtuple("Layer", "W b")


def named_layers_loss(layers, X, y):
    hidden, out = layers
    h = np.tanh(X @ hidden.W + hidden.b)
    return np.mean((np.tanh(h @ out.W + out.b)[:, 0] - y) ** 2)


def _layer_params(widths, rows=5):
    return {"hidden": (rng.standard_normal((3, widths)), rng.standard_normal(widths)),
            "out": (rng.standard_normal((widths, 1)), rng.standard_normal(1))}, \
        rng.standard_normal((rows, 3)), rng.standard_normal(rows)


def _flat_check(g, f, params, X, y):
    """g's gradient of every array in `params` against central differences."""
    got = g(params, X, y)
    for name, pair in params.items():
        for k, a in enumerate(pair):
            d = rng.standard_normal(a.shape)

            def along(t, name=name, k=k, d=d, pair=pair):
                moved = dict(params)
                moved[name] = tuple(p + t * d if j == k else p for j, p in enumerate(pair))
                return f(moved, X, y)

            slope = (along(1e-6) - along(-1e-6)) / 2e-6
            np.testing.assert_allclose(np.sum(got[name][k] * d), slope, rtol=1e-5, atol=1e-8)
    return got


def test_parameters_in_a_dict_run_specialised_code():
    g = adc.grad(layered_loss)
    params, X, y = _layer_params(4)
    for _ in range(2):
        _flat_check(g, layered_loss, params, X, y)
    assert list(g.specializations.values()) == ["specialised"]
    assert "unbroadcast" not in g.source_for(params, X, y)
    wider, X2, y2 = _layer_params(6, rows=7)  # other shapes: a version of their own
    _flat_check(g, layered_loss, wider, X2, y2)
    reordered = {"out": params["out"], "hidden": params["hidden"]}  # the same, reordered
    _flat_check(g, layered_loss, reordered, X, y)
    assert len(g.specializations) == 3
    assert set(g.specializations.values()) == {"specialised"}
    # the gradient of the reordered dict keeps its order
    assert list(g(reordered, X, y)) == ["out", "hidden"]


def test_parameters_in_namedtuples_run_specialised_code():
    g = adc.grad(named_layers_loss)
    params, X, y = _layer_params(4)
    layers = [Layer(*params["hidden"]), Layer(*params["out"])]
    for _ in range(2):
        got = g(layers, X, y)
    assert type(got[0]) is Layer and list(g.specializations.values()) == ["specialised"]
    want = adc.grad(layered_loss)(params, X, y)
    for layer, name in zip(got, ("hidden", "out")):
        np.testing.assert_allclose(layer.W, want[name][0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(layer.b, want[name][1], rtol=1e-12, atol=1e-14)
    as_tuples = [tuple(layer) for layer in layers]  # plain tuples: another signature
    assert signature_key((as_tuples, X, y)) != signature_key((layers, X, y))
