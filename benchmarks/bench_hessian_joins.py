"""Time of ``adc.hessian(f)(x)`` for functions that join, split, take np.inner of
arrays, and join or walk lists, at a size where one sweep per input element shows.

Run from the repository root (or with PYTHONPATH set to the checkout to measure)::

    python benchmarks/bench_hessian_joins.py            # every function
    python benchmarks/bench_hessian_joins.py inner      # some of them

Each time is the minimum over repeats of one call after a first (compiling) call, in
milliseconds; compare checkouts measured in the same minutes, as the machine's load
moves every figure.
"""
from __future__ import annotations

import sys
import time

import numpy as np

import ad_compiler as adc


def concatenate(x):
    return np.sum(np.sin(np.concatenate([x, x * x, np.cos(x)])))


def split(x):
    a, b = np.split(x * x, 2)
    return np.sum(np.sin(a * b))


def hstack(x):
    return np.sum(np.tanh(np.hstack([x[0] * x[1], x, x[1:] ** 2])) ** 2)


def inner(x):
    return np.sum(np.sin(np.inner(x, x + 1.0)))


def list_joined(x):
    parts = [x[:10] ** 2] + [np.sin(x[10:])]
    return np.sum(parts[0]) * np.sum(parts[1] ** 2)


def list_input(xs):
    return sum((b - a) ** 4 + a * a for a, b in zip(xs, xs[1:]))


def lstsq(x):
    a = np.reshape(x, (-1, 2))
    solution = np.linalg.lstsq(a, np.linspace(0.5, 1.5, a.shape[0]), rcond=None)[0]
    return np.sum(solution ** 2)


CASES = {
    "concatenate": (concatenate, np.linspace(0.1, 0.9, 120)),
    "split": (split, np.linspace(0.1, 0.9, 120)),
    "hstack": (hstack, np.linspace(0.1, 0.9, 120)),
    "inner": (inner, np.linspace(0.1, 0.9, 120)),
    "list_joined": (list_joined, np.linspace(0.1, 0.9, 120)),
    "list_input": (list_input, list(np.linspace(0.1, 0.9, 40))),
    "lstsq": (lstsq, np.linspace(0.1, 0.9, 60) + np.eye(30, 2).ravel()),
}


def best_ms(fn, x, repeats: int = 15) -> float:
    hess = adc.hessian(fn)
    hess(x)  # compiled
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        hess(x)
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def main() -> None:
    for name in sys.argv[1:] or list(CASES):
        fn, x = CASES[name]
        print(f"{name:14s} n={np.size(x):4d}  {best_ms(fn, x):9.2f} ms")


if __name__ == "__main__":
    main()
