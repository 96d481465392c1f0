"""Hessians through reorderings, gathers, products and samples, swept in one vector-mode
pass (their forms in ad_compiler/batched_shaping.py, batched_products.py,
batched_signals.py, batched_statistics.py).

Run from the repository root::

    python benchmarks/bench_hessian_forms.py          # n = 100 and 300 inputs

Prints the minimum time of ``adc.hessian(f)(x)`` over 5 calls after the first.
"""
from __future__ import annotations

import sys
import time

import numpy as np

import ad_compiler as adc


def flip_cumsum(x):
    return np.sum(np.sin(np.flip(np.cumsum(x * x))))


def roll_tril(x):
    square = np.outer(x[:20], x[-20:])
    return np.sum(np.sin(np.roll(x * x, 3))) + np.sum(np.tril(square, -1) ** 2)


def take_repeat(x):
    return np.sum(np.cos(np.take(x * x, np.arange(x.size)[::-2]))) + np.sum(np.repeat(x, 2) ** 3)


def convolve(x):
    return np.sum(np.sin(np.convolve(x, x[:5] ** 2, "same")))


def tensordot(x):
    a = x[:100].reshape(10, 10)
    return np.sum(np.sin(np.tensordot(a, a.T * 2.0 + 1.0, axes=1))) + np.sum(x ** 3)


def interp(x):
    knots = np.linspace(0.0, 1.0, 8)
    return np.sum(np.sin(np.interp(x, knots, x[:8] ** 2)))


CASES = [flip_cumsum, roll_tril, take_repeat, convolve, tensordot, interp]


def hessian_ms(f, x: np.ndarray, repeats: int = 5) -> float:
    """The least time in ms of `adc.hessian(f)` at x, over `repeats` calls after the
    first (which builds and specialises)."""
    hessian = adc.hessian(f)
    hessian(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        hessian(x)
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 300]
    for n in sizes:
        x = np.linspace(0.1, 0.9, n)
        for f in CASES:
            print(f"n={n:4d}  {f.__name__:12s} {hessian_ms(f, x):9.2f} ms")


if __name__ == "__main__":
    main()
