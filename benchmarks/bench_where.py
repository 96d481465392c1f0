"""Gradients through ``np.where`` whose unselected branch is undefined there
(``np.where(x > 0, np.sqrt(x), 0.0)``): the generated reverse-mode gradient, which
applies a branch's partial only where that branch was selected, against a
hand-written adjoint that does the same with one ``np.where`` per branch.

Run from the repository root::

    python benchmarks/bench_where.py            # full run, about 20 s
    python benchmarks/bench_where.py --quick    # smoke run, a few seconds

It checks first that the generated gradient agrees with the hand-written adjoint (no
nan on either side of the branches), then prints the time per call of the primal
function, our reverse-mode gradient and the hand-written adjoint, for a small and a
large input, and the ratio ours / hand-written against the target (1.5).
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

import ad_compiler as adc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import fmt_ns, make_timer, table, time_interleaved, verdict  # noqa: E402

TARGET_RATIO = 1.5  # ours / hand-written adjoint, per gradient call


def root_or_zero(x):
    return np.sum(np.where(x > 0, np.sqrt(x), 0.0))


def hand_root_or_zero(x):
    selected = x > 0
    return np.where(selected, 0.5 / np.sqrt(np.where(selected, x, 1.0)), 0.0)


def log_barrier(x):
    y = np.log(x) * 2.0 + 1.0
    return np.sum(np.where(x > 0, y / x, x ** 2))


def hand_log_barrier(x):
    selected = x > 0
    safe = np.where(selected, x, 1.0)
    inside = (2.0 - np.log(safe) * 2.0 - 1.0) / safe ** 2
    return np.where(selected, inside, 2.0 * x)


CASES = {"root_or_zero": (root_or_zero, hand_root_or_zero),
         "log_barrier": (log_barrier, hand_log_barrier)}


def verify(grad, hand, x) -> None:
    ours, theirs = grad(x), hand(x)
    if not (np.all(np.isfinite(ours)) and np.allclose(ours, theirs, rtol=1e-12, atol=1e-14)):
        raise SystemExit("the generated gradient disagrees with the hand-written adjoint")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short, noisy run")
    options = parser.parse_args()
    budget, repeats = (0.02, 3) if options.quick else (0.2, 9)
    warnings.simplefilter("ignore", RuntimeWarning)  # the primal's own sqrt and log of x < 0
    rows, ratios = [], []
    for name, (f, hand) in CASES.items():
        grad = adc.grad(f)
        for n in (10, 100_000):
            x = np.random.default_rng(n).normal(size=n)
            verify(grad, hand, x)
            timers = {"primal": make_timer(f, (x,)), "reverse": make_timer(grad, (x,)),
                      "hand": make_timer(hand, (x,))}
            best = time_interleaved(timers, budget, repeats)
            ratio = best["reverse"] / best["hand"]
            ratios.append(ratio)
            rows.append([f"{name}, n={n:,}", fmt_ns(best["primal"]), fmt_ns(best["reverse"]),
                         fmt_ns(best["hand"]), f"{ratio:.2f}", verdict(ratio <= TARGET_RATIO)])
    print("np.where over a branch undefined where it is not selected (ns per call)")
    print(table(["function", "primal", "reverse", "hand", "reverse/hand", "result"], rows,
                right={1, 2, 3, 4}))


if __name__ == "__main__":
    main()
