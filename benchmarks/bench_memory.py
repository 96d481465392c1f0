"""Peak memory of whole derivatives of functions of 1,000 inputs, against the target
"memory no more than twice the output's size plus the function's own working set".

Run from the repository root::

    python benchmarks/bench_memory.py

Each workload is measured with `tracemalloc` (NumPy reports its arrays to it): the
peak of one call of the derivative, already compiled and specialised to the input
shapes, beside the peak of one call of the function itself (its working set).  The
output (a 1,000 x 1,000 float64 Jacobian or Hessian, 8 MB) is counted once in the
peak, since it is made during the call.  Memory is deterministic, so one call each
suffices; the script always exits 0.
"""
from __future__ import annotations

import os
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import ad_compiler as adc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import header, table, verdict  # noqa: E402

N = 1000


def layer(x, A, c):
    """A gated tanh layer, R^n -> R^n (elementwise functions around a matrix product)."""
    return np.tanh(A @ x + c) * x


def softplus_layer(x, W, b):
    """A residual softplus layer, R^n -> R^n."""
    return x + np.logaddexp(0.0, W @ x + b)


def logistic_loss(w, X, y):
    """Mean negative log-likelihood of a logistic regression, labels in {-1, +1}."""
    return np.sum(np.logaddexp(0.0, -y * (X @ w))) / X.shape[0]


def anharmonic_energy(x, K):
    """Energy of oscillators coupled by the stiffness matrix K, with a quartic term."""
    return 0.5 * x @ (K @ x) + 0.25 * np.sum(x ** 4)


@dataclass
class Workload:
    key: str
    title: str
    derivative: Callable[[], Callable]
    fn: Callable
    make: Callable[[np.random.Generator], tuple]


def _square(rng: np.random.Generator) -> tuple:
    return rng.normal(size=N), rng.normal(size=(N, N)) / np.sqrt(N), rng.normal(size=N)


def _logistic(rng: np.random.Generator) -> tuple:
    X = rng.normal(size=(200, N))
    return rng.normal(size=N) * 0.01, X, np.where(rng.normal(size=200) > 0, 1.0, -1.0)


def _oscillators(rng: np.random.Generator) -> tuple:
    B = rng.normal(size=(N, N)) / np.sqrt(N)
    return rng.normal(size=N), B @ B.T + np.eye(N)


WORKLOADS = [
    Workload("jacobian-fwd", "Jacobian of np.tanh(A @ x + c) * x, forward",
             lambda: adc.jacobian(layer, mode="forward"), layer, _square),
    Workload("jacobian-rev", "Jacobian of np.tanh(A @ x + c) * x, reverse",
             lambda: adc.jacobian(layer, mode="reverse"), layer, _square),
    Workload("jacobian-softplus", "Jacobian of x + np.logaddexp(0, W @ x + b), forward",
             lambda: adc.jacobian(softplus_layer, mode="forward"), softplus_layer, _square),
    Workload("hessian-logistic", "Hessian of a logistic loss, X 200 x 1000",
             lambda: adc.hessian(logistic_loss), logistic_loss, _logistic),
    Workload("hessian-oscillators", "Hessian of 0.5 x.K x + 0.25 sum(x^4)",
             lambda: adc.hessian(anharmonic_energy), anharmonic_energy, _oscillators),
]


def peak_bytes(call: Callable[[], Any]) -> tuple[int, Any]:
    """The peak of memory traced during one `call()`, and its result."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        result = call()
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    return peak, result


def measure(w: Workload) -> tuple[int, int, int]:
    """(peak of the derivative, peak of the function, bytes of the output)."""
    args = w.make(np.random.default_rng(0))
    derivative = w.derivative()
    derivative(*args)  # compiled and specialised before anything is measured
    working, _ = peak_bytes(lambda: w.fn(*args))
    peak, out = peak_bytes(lambda: derivative(*args))
    return peak, working, np.asarray(out).nbytes


def main() -> int:
    print(header(False))
    print()
    rows = []
    for w in WORKLOADS:
        try:
            peak, working, out = measure(w)
        except Exception as exc:  # a failure is reported; the run goes on
            rows.append([w.key, "-", "-", "-", "-", f"failed: {type(exc).__name__}: {exc}"])
            continue
        target = 2 * out + working
        rows.append([w.key, f"{out / 1e6:.1f}", f"{working / 1e6:.2f}", f"{peak / 1e6:.1f}",
                     f"{peak / out:.2f}x", f"<= {target / 1e6:.1f}",
                     verdict(peak <= target)])
    print("Peak memory of one call (MB), against 2 x output + the function's working set")
    print(table(["workload", "output", "f itself", "peak", "peak/output", "target",
                 "result"], rows))
    print()
    print("\n".join(f"{w.key}: {w.title}, {N} inputs" for w in WORKLOADS))
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - the benchmark reports, it never fails a build
        print(f"FAILED: {type(exc).__name__}: {exc}")
    sys.exit(0)
