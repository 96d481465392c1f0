"""Build time of very long functions: it should grow linearly with their size.

Run from the repository root::

    python benchmarks/bench_size.py            # full run, about two minutes on 2 cores
    python benchmarks/bench_size.py --quick    # smaller sizes, a few seconds

Two families of functions, written to files in a temporary directory and imported,
as a user's module would be:

* ``statements``: ``x = math.sin(x) * 0.9 + c``, repeated n = 1,000, 5,000 and
  10,000 times, then ``return x``;
* ``terms``: ``return a1 * math.sin(x * b1) * y + ... `` with n = 250, 500 and 1,000
  terms in one expression.

For each, the time to build ``grad(f, wrt=(0, 1))`` in reverse and in forward mode
(best of a few builds, the compile cache emptied before each)
and the time per statement or term.  Growth is linear when the time per unit at the
largest size is within 2x of the time per unit at the smallest (target, PASS/MISS): a
pass quadratic in the size would make it 10x.  (Some growth remains: the garbage
collector traverses the objects a build keeps, and a larger heap misses caches.)
Before anything is timed the gradients are checked against a hand-written loop.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import itertools
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import ad_compiler as adc
from ad_compiler import cache

TARGET_GROWTH = 2.0  # time per unit at the largest size / at the smallest
_modules = itertools.count()


def statements_source(n: int) -> str:
    lines = ["import math", "", "", "def f(x, c):"]
    lines += ["    x = math.sin(x) * 0.9 + c"] * n
    return "\n".join(lines + ["    return x", ""])


def terms_source(n: int) -> str:
    terms = [f"{_coefficient(k)} * math.sin(x * {_frequency(k)}) * y" for k in range(n)]
    return f"import math\n\n\ndef f(x, y):\n    return {' + '.join(terms)}\n"


def _coefficient(k: int) -> float:
    return round(0.1 * (k % 7 + 1), 1)


def _frequency(k: int) -> int:
    return k % 5 + 1


def load(source: str, directory: Path) -> Callable:
    """Write `source` to a new file and import it: a new function, with source."""
    name = f"adc_bench_size_{next(_modules)}"
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.f


def hand_statements(n: int, x: float, c: float) -> tuple[float, float]:
    """d x_n / d x_0 and d x_n / d c for x_{k+1} = 0.9 sin(x_k) + c, by a forward loop."""
    dx, dc = 1.0, 0.0
    for _ in range(n):
        slope = 0.9 * math.cos(x)
        x, dx, dc = 0.9 * math.sin(x) + c, slope * dx, slope * dc + 1.0
    return dx, dc


def hand_terms(n: int, x: float, y: float) -> tuple[float, float]:
    dx = sum(_coefficient(k) * _frequency(k) * math.cos(x * _frequency(k)) * y
             for k in range(n))
    dy = sum(_coefficient(k) * math.sin(x * _frequency(k)) for k in range(n))
    return dx, dy


def check(f: Callable, n: int, family: str) -> None:
    point = (0.3, 0.2)
    hand = hand_statements if family == "statements" else hand_terms
    expected = hand(n, *point)
    for mode in ("reverse", "forward"):
        got = adc.grad(f, wrt=(0, 1), mode=mode)(*point)
        for a, b in zip(got, expected):
            if abs(a - b) > 1e-9 * max(1.0, abs(b)):
                sys.exit(f"{family} n={n} {mode}: gradient {got} differs from {expected}")


def build_time(source: str, mode: str, directory: Path, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        f = load(source, directory)
        cache.clear()  # equal code from another file would be found there
        gc.collect()
        start = time.perf_counter()
        adc.grad(f, wrt=(0, 1), mode=mode)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one build each")
    args = parser.parse_args()
    sizes = {"statements": (200, 500, 1000) if args.quick else (1000, 5000, 10000),
             "terms": (50, 100, 200) if args.quick else (250, 500, 1000)}
    repeats = 1 if args.quick else 3
    makers = {"statements": statements_source, "terms": terms_source}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        sys.path.insert(0, tmp)
        for family, ns in sizes.items():
            check(load(makers[family](ns[0]), directory), ns[0], family)
        print(f"{'function':<12} {'mode':<8} {'n':>6} {'build s':>9} {'ms / unit':>10} "
              f"{'growth':>7}  result")
        for family, ns in sizes.items():
            for mode in ("reverse", "forward"):
                per_unit = []
                for n in ns:
                    seconds = build_time(makers[family](n), mode, directory, repeats)
                    per_unit.append(seconds / n)
                    growth = per_unit[-1] / per_unit[0]
                    result = ""
                    if n == ns[-1]:
                        result = "PASS" if growth <= TARGET_GROWTH else "MISS"
                    print(f"{family:<12} {mode:<8} {n:>6} {seconds:>9.2f} "
                          f"{1000 * per_unit[-1]:>10.3f} {growth:>7.2f}  {result}")
    print(f"\ngrowth: time per unit over the smallest size's; linear within "
          f"{TARGET_GROWTH}x passes")


if __name__ == "__main__":
    main()
