"""Hessians in one vector-mode sweep: forward mode over the reverse-mode gradient,
every direction of the input at once, not one JVP per element.

Each function of the registry catalogue (tests/fixtures/registry_cases.py, its
scalar summary ``s_<name>``) and of tests/fixtures/hessian_cases.py (dict, record and
dataclass inputs, ``np.errstate`` blocks, lists joined and repeated, items of tuple
results) is checked: its Hessian takes the one sweep unless it is listed below with
what still sends it to one sweep per direction, and (for those of hessian_cases.py)
its value matches central differences of the gradient; test_registry.py checks the
catalogue's values.
"""
import numpy as np
import pytest
from fixtures import hessian_cases as H
from fixtures import registry_cases as cases
from test_registry import CASES

import ad_compiler as adc
from ad_compiler import assemble

# what still takes one JVP per element of the input, and why (docs/architecture.md):
# nothing in the catalogue today
ONE_SWEEP_PER_DIRECTION: dict[str, str] = {}


def _point(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    return rng.uniform(0.2, 0.8, CASES[name])


def _per_direction(fn, args, monkeypatch):
    """Whether adc.hessian(fn) at args took one JVP per direction; and the Hessian."""
    fell_back = []
    original = assemble._vector_jvp

    def recording(f, i, floats=False):
        made = original(f, i, floats)
        fell_back.append(made is None)
        return made

    monkeypatch.setattr(assemble, "_vector_jvp", recording)
    hess = adc.hessian(fn)(*args)
    return any(fell_back), hess


@pytest.mark.parametrize("name", sorted(CASES))
def test_catalogue_hessians_take_one_sweep(name, monkeypatch):
    fell_back, _ = _per_direction(getattr(cases, f"s_{name}"), (_point(name),), monkeypatch)
    assert fell_back == (name in ONE_SWEEP_PER_DIRECTION)


def _leaves(tree):
    """The numbers of a tree of dicts, dataclasses, lists and arrays, in order."""
    if isinstance(tree, dict):
        return [v for k in tree for v in _leaves(tree[k])]
    if hasattr(tree, "__dataclass_fields__"):
        return [v for k in tree.__dataclass_fields__ for v in _leaves(getattr(tree, k))]
    if isinstance(tree, (list, tuple)):
        return [v for item in tree for v in _leaves(item)]
    return list(np.ravel(np.asarray(tree, dtype=float)))


def _moved(tree, j, step):
    """`tree` with its j-th number (in `_leaves` order) moved by `step`."""
    import copy
    import dataclasses

    count = [0]

    def walk(x):
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if dataclasses.is_dataclass(x):
            out = copy.copy(x)
            for k in x.__dataclass_fields__:
                setattr(out, k, walk(getattr(x, k)))
            return out
        if isinstance(x, (list, tuple)):
            return type(x)(walk(v) for v in x)
        a = np.array(x, dtype=float)
        flat = a.reshape(-1)
        for k in range(flat.size):
            if count[0] == j:
                flat[k] += step
            count[0] += 1
        return a if isinstance(x, np.ndarray) else float(a)

    return walk(tree)


def _matrix(hess, x):
    """The Hessian of a dict, dataclass or array input as one matrix, in `_leaves` order:
    the block of parts a and b is hess[a][b], shaped a.shape + b.shape."""
    if isinstance(x, dict) or hasattr(x, "__dataclass_fields__"):
        keys = list(x) if isinstance(x, dict) else list(x.__dataclass_fields__)

        def part(t, k):
            return t[k] if isinstance(t, dict) else getattr(t, k)

        return np.block([[np.reshape(part(part(hess, a), b), (np.size(part(x, a)),
                                                              np.size(part(x, b))))
                          for b in keys] for a in keys])
    return np.reshape(hess, (np.size(x), np.size(x)))


def _hessian_by_differences(fn, x, h=1e-5):
    grad = adc.grad(fn)
    n = len(_leaves(x))
    columns = [(np.array(_leaves(grad(_moved(x, j, h)))) -
                np.array(_leaves(grad(_moved(x, j, -h))))) / (2 * h) for j in range(n)]
    return np.stack(columns, axis=-1)


@pytest.mark.parametrize("name", list(H.EXTRA))
def test_hessians_of_containers_blocks_and_tuple_items(name, monkeypatch):
    fn, args = H.EXTRA[name]
    fell_back, hess = _per_direction(fn, args, monkeypatch)
    assert fell_back == (name in ONE_SWEEP_PER_DIRECTION)
    expected = _hessian_by_differences(fn, args[0])
    got = _matrix(hess, args[0])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, got.T, rtol=1e-9, atol=1e-9)  # symmetric


def test_a_dict_hessian_has_the_dicts_structure():
    p = {"k": 0.7, "x": 1.3}
    hess = adc.hessian(H.dict_energy)(p)
    k, x = p["k"], p["x"]
    # f = k x^2 + sin(x k), written out by hand
    assert hess["k"]["k"] == pytest.approx(-x * x * np.sin(x * k), rel=1e-12)
    assert hess["x"]["x"] == pytest.approx(2 * k - k * k * np.sin(x * k), rel=1e-12)
    cross = 2 * x + np.cos(x * k) - x * k * np.sin(x * k)
    assert hess["k"]["x"] == pytest.approx(cross, rel=1e-12)
    assert hess["x"]["k"] == pytest.approx(cross, rel=1e-12)


def test_an_indexed_gradient_differentiated_in_one_sweep_keeps_its_accumulations():
    # the gradient adds into x_bar[0], x_bar[1:] and x_bar[1:, :1]: its tangent does too
    x = _point("sin")
    hess = np.asarray(adc.hessian(cases.s_sin)(x)).reshape(x.size, x.size)
    grad = adc.grad(cases.s_sin)
    h = 1e-5
    columns = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        columns.append((grad(x + e.reshape(x.shape)) - grad(x - e.reshape(x.shape))).ravel()
                       / (2 * h))
    np.testing.assert_allclose(hess, np.stack(columns, axis=-1), rtol=1e-6, atol=1e-8)
