"""Build time of very long functions: it should grow linearly with their size.

Run from the repository root::

    python benchmarks/bench_size.py            # full run, several minutes on 2 cores
    python benchmarks/bench_size.py --quick    # sizes 100, 300 and 1,000: under a minute

Straight-line functions, as generated code or unrolled loops are, written to files in
a temporary directory and imported as a user's module would be:

* ``statements``: ``x = math.sin(x) * 0.9 + c`` repeated n times, then ``return x``;
* ``recurrence``: ``y = y * 1.0001 + math.sin(y) * c``, the same shape with a
  multiplication more;
* ``polynomial``: ``p = p * x * 1.001`` and ``acc = acc + 2.5 * p * y`` in turn (a
  long polynomial evaluated term by term: two variables, values used twice);
* ``arrays``: ``x = np.tanh(x) * 0.999 + c * 0.001`` on arrays of 3, then
  ``return np.sum(x * x)`` (the gradient specialises to the shapes on its first call);
* ``terms``: one ``return`` expression of n terms ``a_k * math.sin(x * b_k) * y``.

For n = 100, 1,000 and 10,000 statements (terms: 100, 300, 1,000), the time to build
``grad(f, wrt=(0, 1))`` and make its first call, in reverse and in forward mode, and
``hessian(f)`` of the scalar ``statements`` (the compile cache emptied before each;
best of 3 below 10,000, one build at 10,000).  Both wall-clock and CPU time
(``time.process_time``) are printed: on a machine others load, the wall clock counts
their time too.  The ``exponent`` is the slope of log(CPU time) against log(n)
between the last two sizes: 1 is linear, 2 quadratic.  Targets: at most
`TARGET_EXPONENT`, and 10,000 statements built within `TARGET_SECONDS` seconds of
CPU time (PASS/MISS).  Before anything is timed the gradients are checked against a
hand-written loop at the smallest size.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import itertools
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import ad_compiler as adc
from ad_compiler import cache

TARGET_EXPONENT = 1.2  # growth of the build time from 1,000 to 10,000 statements
TARGET_SECONDS = 10.0  # a 10,000-statement build
_modules = itertools.count()


def statements_source(n: int) -> str:
    lines = ["import math", "", "", "def f(x, c):"]
    lines += ["    x = math.sin(x) * 0.9 + c"] * n
    return "\n".join(lines + ["    return x", ""])


def recurrence_source(n: int) -> str:
    lines = ["import math", "", "", "def f(y, c):"]
    lines += ["    y = y * 1.0001 + math.sin(y) * c"] * n
    return "\n".join(lines + ["    return y", ""])


def polynomial_source(n: int) -> str:
    lines = ["def f(x, y):", "    acc = 0.0", "    p = 1.0"]
    for k in range(n // 2):
        lines += [f"    p = p * x * {1 + k % 3 / 1000}", f"    acc = acc + {k % 7 + 0.5} * p * y"]
    return "\n".join(lines + ["    return acc", ""])


def arrays_source(n: int) -> str:
    lines = ["import numpy as np", "", "", "def f(x, c):"]
    lines += ["    x = np.tanh(x) * 0.999 + c * 0.001"] * n
    return "\n".join(lines + ["    return np.sum(x * x)", ""])


def terms_source(n: int) -> str:
    terms = [f"{_coefficient(k)} * math.sin(x * {_frequency(k)}) * y" for k in range(n)]
    return f"import math\n\n\ndef f(x, y):\n    return {' + '.join(terms)}\n"


def _coefficient(k: int) -> float:
    return round(0.1 * (k % 7 + 1), 1)


def _frequency(k: int) -> int:
    return k % 5 + 1


# ------------------------------------------------------------------ hand-written gradients


def hand_statements(n: int, x: float, c: float) -> tuple[float, float]:
    """d x_n / d x_0 and d x_n / d c for x_{k+1} = 0.9 sin(x_k) + c, by a forward loop."""
    dx, dc = 1.0, 0.0
    for _ in range(n):
        slope = 0.9 * math.cos(x)
        x, dx, dc = 0.9 * math.sin(x) + c, slope * dx, slope * dc + 1.0
    return dx, dc


def hand_recurrence(n: int, y: float, c: float) -> tuple[float, float]:
    dy, dc = 1.0, 0.0
    for _ in range(n):
        slope = 1.0001 + c * math.cos(y)
        y, dy, dc = y * 1.0001 + math.sin(y) * c, slope * dy, slope * dc + math.sin(y)
    return dy, dc


def hand_polynomial(n: int, x: float, y: float) -> tuple[float, float]:
    p, dp, acc, dacc_x, dacc_y = 1.0, 0.0, 0.0, 0.0, 0.0
    for k in range(n // 2):
        scale = 1 + k % 3 / 1000
        p, dp = p * x * scale, (dp * x + p) * scale
        weight = k % 7 + 0.5
        acc, dacc_x, dacc_y = acc + weight * p * y, dacc_x + weight * dp * y, dacc_y + weight * p
    return dacc_x, dacc_y


def hand_arrays(n: int, x: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dx, dc = np.ones_like(x), np.zeros_like(x)  # elementwise: diagonal Jacobians
    for _ in range(n):
        slope = 0.999 * (1.0 - np.tanh(x) ** 2)
        x, dx, dc = np.tanh(x) * 0.999 + c * 0.001, slope * dx, slope * dc + 0.001
    return 2.0 * x * dx, 2.0 * x * dc


def hand_terms(n: int, x: float, y: float) -> tuple[float, float]:
    dx = sum(_coefficient(k) * _frequency(k) * math.cos(x * _frequency(k)) * y
             for k in range(n))
    dy = sum(_coefficient(k) * math.sin(x * _frequency(k)) for k in range(n))
    return dx, dy


FAMILIES = {
    "statements": (statements_source, hand_statements, (0.3, 0.2)),
    "recurrence": (recurrence_source, hand_recurrence, (0.3, 0.2)),
    "polynomial": (polynomial_source, hand_polynomial, (0.9, 0.7)),
    "arrays": (arrays_source, hand_arrays, (np.array([0.3, -1.2, 2.0]),
                                            np.array([0.5, 0.1, -0.4]))),
    "terms": (terms_source, hand_terms, (0.3, 0.2)),
}
BUILDS = {"statements": ("reverse", "forward", "hessian")}


def load(source: str, directory: Path) -> Callable:
    """Write `source` to a new file and import it: a new function, with source."""
    name = f"adc_bench_size_{os.getpid()}_{next(_modules)}"
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.f


def check(family: str, n: int, directory: Path) -> None:
    make, hand, point = FAMILIES[family]
    f = load(make(n), directory)
    expected = hand(n, *point)
    for mode in ("reverse", "forward"):
        got = adc.grad(f, wrt=(0, 1), mode=mode)(*point)
        for a, b in zip(got, expected):
            if not np.allclose(a, b, rtol=1e-9, atol=1e-12):
                sys.exit(f"{family} n={n} {mode}: gradient {got} differs from {expected}")


def build_time(family: str, n: int, build: str, directory: Path,
               repeats: int) -> tuple[float, float]:
    """The least wall-clock and CPU seconds to build and first call, over `repeats`."""
    make, _, point = FAMILIES[family]
    wall, cpu = math.inf, math.inf
    for _ in range(repeats):
        f = load(make(n), directory)
        cache.clear()  # equal code from another file would be found there
        gc.collect()
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        if build == "hessian":
            adc.hessian(f, wrt=0)(*point)
        else:
            adc.grad(f, wrt=(0, 1), mode=build)(*point)
        wall = min(wall, time.perf_counter() - start_wall)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes 100, 300 and 1,000")
    parser.add_argument("--only", choices=sorted(FAMILIES), help="one family")
    args = parser.parse_args()
    families = [args.only] if args.only else list(FAMILIES)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for family in families:
            check(family, 20, directory)
        print(f"{'function':<11} {'build':<8} {'n':>6} {'wall s':>8} {'cpu s':>8} "
              f"{'ms/stmt':>8} {'exponent':>9}  result")
        for family in families:
            sizes = (100, 300, 1000) if args.quick or family == "terms" else (100, 1000, 10000)
            for build in BUILDS.get(family, ("reverse", "forward")):
                times = []
                for n in sizes:
                    wall, cpu = build_time(family, n, build, directory,
                                           1 if n >= 10000 else 3)
                    times.append(cpu)
                    exponent, result = "", ""
                    if n == sizes[-1]:
                        slope = math.log(times[-1] / times[-2]) / math.log(n / sizes[-2])
                        exponent = f"{slope:.2f}"
                        fast = n < 10000 or cpu <= TARGET_SECONDS
                        result = "PASS" if slope <= TARGET_EXPONENT and fast else "MISS"
                    print(f"{family:<11} {build:<8} {n:>6} {wall:>8.2f} {cpu:>8.2f} "
                          f"{1000 * cpu / n:>8.3f} {exponent:>9}  {result}")
    print(f"\nexponent: slope of log(cpu time) over log(n) between the last two sizes, "
          f"target <= {TARGET_EXPONENT}; a 10,000-statement build within "
          f"{TARGET_SECONDS:.0f} s of CPU time")


if __name__ == "__main__":
    main()
