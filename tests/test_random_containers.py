"""Random programs over parameters held in containers: a differential test.

Hypothesis draws a parameter structure (a dict holding floats, small arrays, lists
of floats, lists of pairs, namedtuples, dataclasses and nested dicts) and a program
that reads it the ways people do: constant keys and fields, unpacking, loops over
lists (with enumerate, reversed, sorted), over pairs and over a dict's items,
comprehensions and generators (nested, filtered, consumed by sum, max, min, math.prod),
branches on values, augmented assignment, small array expressions, containers built
and indexed, lists grown (``append``, ``insert``, ``pop``) and filled by index, dicts
filled by key.  For each program and point:

(i)   the reverse-mode gradient has the structure of the parameters and equals
      central differences;
(ii)  forward mode equals reverse mode;
(iii) the dot-product test ``<ybar, J xdot> == <J^T ybar, xdot>`` holds between
      ``adc.jvp`` and ``adc.vjp`` for a variant returning a list and a dict.

A few hundred examples run in the normal suite; ``pytest -m slow`` runs 10,000.
"""
from __future__ import annotations

import itertools
import linecache
import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from support import assert_same_tree, tree_numeric_grad

import ad_compiler as adc

Pt = namedtuple("Pt", "x y")


@dataclass
class Rec:
    w: np.ndarray
    b: float


NAMESPACE = {"np": np, "math": math, "Pt": Pt, "Rec": Rec}
_counter = itertools.count()


class Catalogue:
    """What a drawn structure offers a program, as Python expressions over `p`."""

    def __init__(self) -> None:
        self.floats: list[str] = []
        self.arrays: list[str] = []
        self.float_lists: list[str] = []
        self.pair_lists: list[str] = []
        self.float_dicts: list[str] = []
        self.point_lists: list[str] = []


@st.composite
def values(draw, path: str, cat: Catalogue, depth: int):
    kind = draw(st.sampled_from(
        ["float", "float", "array", "list", "pairs", "point", "record", "points"]
        + (["dict", "dict"] if depth < 2 else [])))
    number = st.floats(-1.5, 1.5, allow_nan=False).map(lambda v: round(v, 3))
    if kind == "float":
        cat.floats.append(path)
        return draw(number)
    if kind == "array":
        cat.arrays.append(path)
        return np.array(draw(st.lists(number, min_size=3, max_size=3)))
    if kind == "list":
        items = draw(st.lists(number, min_size=1, max_size=4))
        cat.float_lists.append(path)
        cat.floats.extend(f"{path}[{k}]" for k in range(len(items)))
        return items
    if kind == "pairs":
        pairs = draw(st.lists(st.tuples(number, number), min_size=1, max_size=3))
        cat.pair_lists.append(path)
        cat.floats.append(f"{path}[0][1]")
        return pairs
    if kind == "points":
        cat.point_lists.append(path)
        return [Pt(draw(number), draw(number))
                for _ in range(draw(st.integers(1, 3)))]
    if kind == "point":
        cat.floats.extend([f"{path}.x", f"{path}[1]"])
        return Pt(draw(number), draw(number))
    if kind == "record":
        cat.arrays.append(f"{path}.w")
        cat.floats.append(f"{path}.b")
        return Rec(np.array(draw(st.lists(number, min_size=3, max_size=3))), draw(number))
    keys = draw(st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=3, unique=True))
    inner = {k: draw(values(f'{path}["{k}"]', cat, depth + 1)) for k in keys}
    if all(type(v) is float for v in inner.values()):
        cat.float_dicts.append(path)
    return inner


@st.composite
def cases(draw):
    cat = Catalogue()
    keys = draw(st.lists(st.sampled_from("pqrstu"), min_size=1, max_size=4, unique=True))
    params = {k: draw(values(f'p["{k}"]', cat, 1)) for k in keys}
    if not cat.floats:
        params["z"] = draw(st.floats(-1.5, 1.5, allow_nan=False).map(lambda v: round(v, 3)))
        cat.floats.append('p["z"]')
    lines = ["def f(p, s):", "    acc = s * 0.5", "    t = s"]

    def scalar() -> str:
        pick = draw(st.integers(0, 5))
        if pick == 0:
            return "t"
        if pick == 1:
            return "s"
        return draw(st.sampled_from(cat.floats))

    def expression() -> str:
        a, b = scalar(), scalar()
        return draw(st.sampled_from([
            f"{a} * {b}", f"{a} + 0.5 * {b}", f"math.sin({a}) * {b}", f"np.tanh({a} - {b})",
            f"({a}) ** 2", f"{a} / (1.0 + {b} ** 2)",
        ]))

    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["assign", "aug", "branch", "loop", "loop", "array",
                                     "pairs", "dict", "keys", "built", "unpack", "joined",
                                     "slice", "points", "comprehension", "comprehension",
                                     "grow", "filled", "items"]))
        if kind == "assign":
            lines.append(f"    t = {expression()}")
        elif kind == "aug":
            lines.append(f"    acc += {expression()}")
        elif kind == "branch":
            lines += [f"    if {scalar()} > 0.1234567:", f"        acc = acc + {expression()}",
                      "    else:", f"        acc = acc - {expression()}"]
        elif kind == "loop" and cat.float_lists:
            seq = draw(st.sampled_from(cat.float_lists))
            form = draw(st.sampled_from(["plain", "enumerate", "reversed", "sorted"]))
            if form == "enumerate":
                lines += [f"    for i, q in enumerate({seq}):",
                          f"        acc = acc + q * (i + 1) * {scalar()}"]
            else:
                it = seq if form == "plain" else f"{form}({seq})"
                lines += [f"    for q in {it}:", f"        acc = acc * 0.5 + q * {scalar()}"]
        elif kind == "array" and cat.arrays:
            arr = draw(st.sampled_from(cat.arrays))
            lines.append(f"    acc = acc + np.sum({arr} * {scalar()}) + {arr}[1] ** 2")
        elif kind == "pairs" and cat.pair_lists:
            lines += [f"    for u, v in {draw(st.sampled_from(cat.pair_lists))}:",
                      "        acc += u * v + math.cos(u)"]
        elif kind == "dict" and cat.float_dicts:
            lines += [f"    for k, v in {draw(st.sampled_from(cat.float_dicts))}.items():",
                      f"        acc = acc + v * {scalar()}"]
        elif kind == "keys" and cat.float_dicts:
            d = draw(st.sampled_from(cat.float_dicts))
            lines += [f"    for k in {d}:", f"        acc = acc + {d}[k] * {scalar()}"]
        elif kind == "joined" and cat.float_lists:
            a, b = draw(st.sampled_from(cat.float_lists)), draw(st.sampled_from(cat.float_lists))
            lines += [f"    joined = {a} + {b}", "    for i, q in enumerate(joined):",
                      f"        acc = acc + q * {scalar()} * (i + 2)"]
        elif kind == "slice" and cat.float_lists:
            seq = draw(st.sampled_from(cat.float_lists))
            part = draw(st.sampled_from(["[:-1]", "[1:]", "[::2]"]))
            lines += [f"    for q in {seq}{part}:", f"        acc = acc + q * q * {scalar()}"]
        elif kind == "points" and cat.point_lists:
            lines += [f"    for pt in {draw(st.sampled_from(cat.point_lists))}:",
                      f"        acc = acc + pt.x * pt.y + pt[1] * {scalar()}"]
        elif kind == "comprehension" and cat.float_lists:
            seq, other = (draw(st.sampled_from(cat.float_lists)) for _ in range(2))
            form = draw(st.integers(0, 8))
            if form == 0:
                lines.append(f"    acc = acc + sum(q * {scalar()} for q in {seq} "
                             "if q > 0.2345678)")
            elif form == 1:
                lines += [f"    ys = [math.sin(q) * {scalar()} for q in {seq}]",
                          "    acc = acc + sum(ys) + ys[0] * len(ys)"]
            elif form == 2:
                lines.append(f"    acc = acc + max(q + 0.25 * {scalar()} for q in {seq}) "
                             f"* min({seq})")
            elif form == 3:
                lines.append(f"    acc = acc + sum(a * b for a in {seq} for b in {other} "
                             "if a < b + 0.1234567)")
            elif form == 4:
                lines.append(f"    acc = acc + math.prod(1.0 + 0.5 * q for q in {seq})")
            elif form == 5:
                lines.append(f"    acc = acc + sum(map(lambda q: q * {scalar()}, {seq}))")
            elif form == 6:
                lines.append(f"    acc = acc + sum(sum(q * r for r in {other}) * i "
                             f"for i, q in enumerate({seq}))")
            elif form == 7:
                lines += [f"    t = sorted([q - 0.5 * {scalar()} for q in {seq}])[-1] * t"]
            else:
                lines.append(f"    acc = acc + np.sum(np.array([q * {scalar()} "
                             f"for q in reversed({seq})]))")
        elif kind == "comprehension" and cat.float_dicts:
            d = draw(st.sampled_from(cat.float_dicts))
            lines += [f"    dd = {{k: v * {scalar()} for k, v in {d}.items()}}",
                      "    acc = acc + sum(dd.values()) * len(dd)"]
        elif kind == "comprehension" and cat.pair_lists:
            lines.append(f"    acc = acc + sum(u * v for u, v in "
                         f"{draw(st.sampled_from(cat.pair_lists))})")
        elif kind == "grow" and cat.float_lists:
            seq = draw(st.sampled_from(cat.float_lists))
            lines += ["    grown = []", f"    for q in {seq}:",
                      f"        grown.append(q * {scalar()})", "    grown.insert(0, t)",
                      "    last = grown.pop()",
                      "    acc = acc + np.sum(np.array(grown) ** 2) + grown[-1] * last"]
        elif kind == "filled":
            lines += ["    box = {'a': t, 'b': s}", "    for k in ('a', 'b'):",
                      f"        box[k] = box[k] * {scalar()} + 0.5",
                      "    box['c'] = box['a'] - box['b']", "    acc = acc + box['c'] * box['a']"]
        elif kind == "items" and cat.float_lists:
            seq = draw(st.sampled_from(cat.float_lists))
            lines += [f"    ys = [0.0] * len({seq})", f"    for i in range(len({seq})):",
                      f"        ys[i] = {seq}[i] * {scalar()}", "    ys[0] += t",
                      "    acc = acc + ys[0] * ys[-1]"]
        elif kind == "built":
            lines += [f"    pair = [{scalar()}, {expression()}]", "    t = pair[0] * pair[1]"]
        elif kind == "unpack" and cat.pair_lists:
            lines += [f"    u, v = {draw(st.sampled_from(cat.pair_lists))}[0]",
                      "    acc = acc + u * v"]
    body = "\n".join(lines)
    s = draw(st.floats(-1.5, 1.5, allow_nan=False).map(lambda v: round(v, 3)))
    return body, params, s


def build(body: str, returns: str):
    source = f"{body}\n    return {returns}\n"
    filename = f"<adc-random-container-program-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(NAMESPACE, __name__="adc_random_container_program")
    exec(compile(source, filename, "exec"), namespace)
    return namespace["f"], source


def _leaves(x):
    if isinstance(x, np.ndarray):
        return [x]
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in _leaves(v)]
    if isinstance(x, dict):
        return [leaf for v in x.values() for leaf in _leaves(v)]
    if isinstance(x, Rec):
        return _leaves(x.w) + _leaves(x.b)
    return [np.asarray(float(x))]


def _inner(a, b) -> float:
    return float(sum(np.sum(np.asarray(u) * np.asarray(v)) for u, v in zip(_leaves(a),
                                                                           _leaves(b))))


def _random_like(x, rng):
    if isinstance(x, np.ndarray):
        return rng.normal(size=x.shape)
    if isinstance(x, list):
        return [_random_like(v, rng) for v in x]
    if isinstance(x, tuple):
        items = [_random_like(v, rng) for v in x]
        return type(x)(*items) if hasattr(type(x), "_fields") else tuple(items)
    if isinstance(x, dict):
        return {k: _random_like(v, rng) for k, v in x.items()}
    if isinstance(x, Rec):
        return Rec(rng.normal(size=x.w.shape), float(rng.normal()))
    return float(rng.normal())


def _has_ties(x) -> bool:
    """Equal items in a list: sorted() has a kink there (each piece's derivative differs)."""
    if isinstance(x, list) and all(type(v) is float for v in x):
        return len(set(x)) < len(x)
    if isinstance(x, dict):
        return any(_has_ties(v) for v in x.values())
    return False


def check(body: str, params: dict, s: float) -> None:
    assume(not (("sorted(" in body or "max(" in body or "min(" in body)
                and _has_ties(params)))
    f, source = build(body, "acc + t")
    note(source)
    note(repr(params))
    expected = tree_numeric_grad(f, (params, s), 0)
    reverse = adc.grad(f)(params, s)
    assert_same_tree(reverse, expected, rtol=2e-5, atol=2e-6)
    forward = adc.grad(f, mode="forward")(params, s)
    assert_same_tree(forward, reverse, rtol=1e-9, atol=1e-12)

    rng = np.random.default_rng(len(source))
    for returns in ("[acc, t * acc]", '{"acc": acc, "t": t}'):
        g, _ = build(body, returns)
        xdot, sdot = _random_like(params, rng), float(rng.normal())
        value, ydot = adc.jvp(g, (params, s), (xdot, sdot))
        ybar = _random_like(value, rng)
        _, pullback = adc.vjp(g, params, s)
        pbar, sbar = pullback(ybar)
        lhs, rhs = _inner(ybar, ydot), _inner(pbar, xdot) + sbar * sdot
        assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9), (lhs, rhs)


SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])


@settings(max_examples=250, **SETTINGS)
@given(cases())
def test_random_container_programs(case):
    check(*case)


@pytest.mark.slow
@settings(max_examples=10_000, **SETTINGS)
@given(cases())
def test_random_container_programs_many(case):
    check(*case)
