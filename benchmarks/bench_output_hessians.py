"""Hessians of functions with an array output (``y.shape + x.shape + x.shape``) through
joins, solves, interpolations and expm, in one sweep: the vector-mode JVP
differentiated in vector mode again (ad_compiler/vector_tangents.py).

Run from the repository root::

    python benchmarks/bench_output_hessians.py          # n = 16 and 36 inputs

Prints the minimum time of ``adc.hessian(f)(x)`` over 5 calls after the first, and the
way the Hessian took (one sweep, one per input element, or one per output element).
"""
from __future__ import annotations

import sys

import numpy as np
import scipy.linalg
from bench_hessian_forms import hessian_ms  # (benchmarks/ is the script's folder)

from ad_compiler import hessians


def concatenate(x):
    return np.concatenate([x, x * x, np.sin(x)])


def insert(x):
    return np.insert(x * x, [1, 3], x[:2] * 2.0)


def interp(x):
    return np.interp(x * 3.0, np.linspace(0.0, 3.0, 8), np.sin(x[:8]))


def solve(x):
    m = int(np.sqrt(x.size))
    return np.linalg.solve(x.reshape(m, m) + m * np.eye(m), np.sin(x[:m]))


def cholesky(x):
    m = int(np.sqrt(x.size))
    a = x.reshape(m, m)
    return np.linalg.cholesky(a @ a.T + m * np.eye(m))


def expm(x):
    m = int(np.sqrt(x.size))
    return scipy.linalg.expm(0.3 * x.reshape(m, m))


CASES = [concatenate, insert, interp, solve, cholesky, expm]
_WAYS = {"_one_sweep_hessian": "one sweep", "_forward_over_forward": "per input"}


def _way(f, x) -> str:
    """Which way the Hessian takes at x."""
    y = f(x)
    for name, way in _WAYS.items():
        if getattr(hessians, name)(f, (x,), 0, y) is not None:
            return way
    return "per output"


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [16, 36]
    for n in sizes:
        x = np.linspace(0.1, 0.9, n)
        for f in CASES:
            print(f"n={n:4d}  {f.__name__:12s} {hessian_ms(f, x):9.2f} ms  {_way(f, x)}")


if __name__ == "__main__":
    main()
