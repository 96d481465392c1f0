"""Comprehension benchmarks for ad_compiler: gradients of losses built with
generator expressions and list comprehensions.

Run from the repository root::

    python benchmarks/bench_comprehensions.py          # full run, about 20 s
    python benchmarks/bench_comprehensions.py --quick  # smoke run, a few seconds

It prints the time per call of the primal function, our reverse-mode gradient and
a hand-written adjoint of the same function, and their ratio (target: at most 1.5),
for

1. a least-squares fit of a line, ``sum((a * x + b - y) ** 2 for x, y in zip(xs, ys))``
   over 200 points (the parameters are numbers, the data lists);
2. a batch loss of a linear model over 64 samples, the sum of
   ``np.sum((W @ x - y) ** 2)`` over ``zip(X, Y)``;
3. a Gaussian log-likelihood over the items of a list of 100 floats, with the mean
   ``sum(xs) / len(xs)`` itself a sum of the items.

``sum`` starts its running total at Python's int ``0``; the compiler proves that the
total stays a scalar, so case 2 is specialised to the shapes of its inputs and its
backward loop is the hand-written one, ``W_bar = W_bar + np.outer(2.0 * (W @ x - y), x)``
(the value is not needed, so no primal loop runs).  In case 3 both backward loops add
into one adjoint list (a plain list of floats), the forward loop reads ``for x in xs``,
and ``sum(xs)`` is printed as itself; the gradient is a copy of that list
(``items_gradient``: ``zero_items`` found the items of ``xs`` floats, so only the
adjoints are checked again, through ``sum``).  From Python 3.12 on ``sum`` compensates
the rounding of floats: the generated code takes the value from ``sum`` itself, of the
list (``mu = sum(xs) / n``) or of the terms the loop appends to a list
(``terms.append((x - mu) ** 2)``, then ``sum(terms)``), so it is sum's to the last bit
at C speed (benchmarks/README.md).

The timing and table helpers come from bench_core.py.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import ad_compiler as adc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import (  # noqa: E402  (bench_core lives beside this file)
    check_close,
    fmt_ns,
    make_timer,
    table,
    time_interleaved,
    verdict,
)

TARGET_RATIO = 1.5  # ours / hand-written adjoint, per gradient call


# ---------------------------------------------------------------- the functions


def line_fit(a, b, xs, ys):
    return sum((a * x + b - y) ** 2 for x, y in zip(xs, ys)) / len(xs)


def batch_loss(W, X, Y):
    return sum(np.sum((W @ x - y) ** 2) for x, y in zip(X, Y))


def gaussian_loglik(xs, s):
    mu = sum(xs) / len(xs)
    return -sum((x - mu) ** 2 for x in xs) / (2.0 * s * s) - len(xs) * math.log(s)


# ---------------------------------------------------------------- hand-written adjoints
# The loop an expert would write: the forward sweep keeps what the backward sweep
# needs (here only the residuals), then one backward loop.


def hand_line_fit(a, b, xs, ys):
    n = len(xs)
    a_bar = b_bar = 0.0
    for x, y in zip(xs, ys):
        r = 2.0 * (a * x + b - y) / n
        a_bar += r * x
        b_bar += r
    return a_bar, b_bar


def hand_batch_loss(W, X, Y):
    W_bar = np.zeros_like(W)
    for x, y in zip(X, Y):
        W_bar += np.outer(2.0 * (W @ x - y), x)
    return W_bar


def hand_gaussian_loglik(xs, s):
    # the loops of the function, and their adjoint loops beside them
    n = len(xs)
    mu = sum(xs) / n
    total = 0.0
    for x in xs:
        total += (x - mu) ** 2
    xs_bar = [0.0] * n
    mu_bar = 0.0
    scale = 1.0 / (s * s)
    for i, x in enumerate(xs):
        g = -(x - mu) * scale
        xs_bar[i] += g
        mu_bar -= g
    for i in range(n):  # mu = sum(xs) / n
        xs_bar[i] += mu_bar / n
    return xs_bar, total / (s * s * s) - n / s


# ---------------------------------------------------------------- the cases


@dataclass
class Case:
    name: str
    fn: Callable
    hand: Callable
    wrt: int | tuple[int, ...]
    point: Callable[[random.Random], tuple]


def _line_point(rng: random.Random) -> tuple:
    xs = [rng.uniform(-2.0, 2.0) for _ in range(200)]
    return rng.uniform(-1, 1), rng.uniform(-1, 1), xs, [2.0 * x + rng.gauss(0, 0.1) for x in xs]


def _batch_point(rng: random.Random) -> tuple:
    gen = np.random.default_rng(rng.randrange(1000))
    return gen.normal(size=(8, 8)), gen.normal(size=(64, 8)), gen.normal(size=(64, 8))


def _gauss_point(rng: random.Random) -> tuple:
    return [rng.gauss(1.0, 2.0) for _ in range(100)], rng.uniform(0.5, 2.0)


CASES = [
    Case("line_fit (generator over zip, 200 points)", line_fit, hand_line_fit, (0, 1),
         _line_point),
    Case("batch_loss (W @ x over 64 samples)", batch_loss, hand_batch_loss, 0, _batch_point),
    Case("gaussian_loglik (list of 100 floats)", gaussian_loglik, hand_gaussian_loglik,
         (0, 1), _gauss_point),
]


def flat(g: Any) -> tuple[float, ...]:
    if isinstance(g, (list, tuple)):
        return tuple(v for item in g for v in flat(item))
    if isinstance(g, np.ndarray):
        return tuple(float(v) for v in g.ravel())
    return (float(g),)


def bench(budget: float, repeats: int) -> tuple[str, bool]:
    rows, ok = [], True
    for case in CASES:
        grad = adc.grad(case.fn, wrt=case.wrt)
        rng = random.Random(3)
        points = [case.point(rng) for _ in range(5)]
        for p in points:
            check_close(f"{case.name}: ours vs hand-written", flat(grad(*p)),
                        flat(case.hand(*p)), 1e-9)
        p = points[0]
        times = time_interleaved({"primal": make_timer(case.fn, p),
                                  "reverse": make_timer(grad, p),
                                  "hand": make_timer(case.hand, p)}, budget, repeats)
        ratio = times["reverse"] / times["hand"]
        ok = ok and ratio <= TARGET_RATIO
        rows.append([case.name, fmt_ns(times["primal"]), fmt_ns(times["reverse"]),
                     fmt_ns(times["hand"]), f"{ratio:.2f} {verdict(ratio <= TARGET_RATIO)}"])
    return table(["function", "primal ns", "rev ns", "hand ns",
                  f"rev/hand (<={TARGET_RATIO})"], rows), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run (a few seconds)")
    args = parser.parse_args(argv)
    budget, repeats = (0.01, 3) if args.quick else (0.2, 9)
    text, ok = bench(budget, repeats)
    print("Gradient calls of comprehension-built losses\n")
    print(text)
    print("\nall within target" if ok else "\nsome ratios miss the target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
