"""Scalar JVP benchmark: the generated JVP code against a hand-written one.

Run from the repository root::

    python benchmarks/bench_jvp.py           # about ten seconds
    python benchmarks/bench_jvp.py --quick   # a smoke run

Each row times the JVP function ``adc.source(f, kind="jvp")`` prints (the compiled
code itself, as ``bench_core.py`` times gradients) and a JVP written by hand with the
same operations, floats in; min of repeats, in nanoseconds.  ``adc.jvp(f, ...)`` adds
its argument checks on top; that row is informative.
"""
from __future__ import annotations

import argparse
import math
import sys
import timeit

import ad_compiler as adc
from ad_compiler.build import derivative

TARGET_RATIO = 1.3


def seed001(x1, x2):
    return x1 * x2 + math.sin(x1)


def hand_seed001(x1, x2, x1_dot, x2_dot):
    return x1 * x2 + math.sin(x1), x2 * x1_dot + x1 * x2_dot + math.cos(x1) * x1_dot


def gaussian(x):
    return math.exp(-x**2)


def hand_gaussian(x, x_dot):
    y = math.exp(-x**2)
    return y, -2.0 * x * y * x_dot


def ratio(x, y):
    return (x + 1.0) / (y * y + 2.0)


def hand_ratio(x, y, x_dot, y_dot):
    d = y * y + 2.0
    value = (x + 1.0) / d
    return value, (x_dot - value * 2.0 * y * y_dot) / d


CASES = [("seed001 x1*x2+sin(x1)", seed001, hand_seed001, (0.7, 1.3), (1.0, 0.5)),
         ("gaussian exp(-x**2)", gaussian, hand_gaussian, (0.8,), (1.0,)),
         ("ratio (x+1)/(y*y+2)", ratio, hand_ratio, (0.3, -1.1), (0.5, 2.0))]


def best_ns(fn, args, repeats: int, number: int) -> float:
    return min(timeit.repeat(lambda: fn(*args), number=number, repeat=repeats)) / number * 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args(argv).quick
    repeats, number = (3, 20000) if quick else (9, 200000)
    print(f"{'function':24} {'ours ns':>9} {'hand ns':>9} {'ours/hand':>10} {'adc.jvp ns':>11}"
          "  result")
    for name, f, hand, point, direction in CASES:
        jvp_code = derivative(f, "jvp", 0, "forward")
        args = (*point, *direction)
        ours, theirs = jvp_code(*args), hand(*args)
        if any(abs(a - b) > 1e-12 * (1 + abs(b)) for a, b in zip(ours, theirs)):
            print(f"{name}: generated {ours} != hand-written {theirs}")
            return 1
        t_ours = best_ns(jvp_code, args, repeats, number)
        t_hand = best_ns(hand, args, repeats, number)
        t_api = best_ns(adc.jvp, (f, point, direction), repeats, number // 10)
        r = t_ours / t_hand
        verdict = "PASS" if r <= TARGET_RATIO else "MISS"
        print(f"{name:24} {t_ours:9.0f} {t_hand:9.0f} {r:9.2f}x {t_api:11.0f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
