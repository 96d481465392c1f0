"""Writes into arrays: the gradient of an RNN that keeps its states in a preallocated
array (``h[t + 1] = np.tanh(h[t] @ W + x[t])``) against a hand-written adjoint of the
same code.

Run from the repository root::

    python benchmarks/bench_writes.py            # full run, about 20 s
    python benchmarks/bench_writes.py --quick    # smoke run, a few seconds

It checks first that the generated gradient agrees with the hand-written adjoint (and
that with central differences), then prints, for a few sizes, the time per call of
the primal function, our reverse-mode gradient, our forward-mode gradient and the
hand-written adjoint, and the ratio ours / hand-written against the target (1.5);
forward mode (one direction per entry of W) for the smallest size only.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import ad_compiler as adc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import fmt_ns, make_timer, table, time_interleaved, verdict  # noqa: E402

TARGET_RATIO = 1.5  # ours / hand-written adjoint, per gradient call


def rnn_loss(x, W, h0):
    T = x.shape[0]
    h = np.zeros((T + 1, h0.shape[0]))
    h[0] = h0
    for t in range(T):
        h[t + 1] = np.tanh(h[t] @ W + x[t])
    return np.sum(h[1:] ** 2) / T


def hand_rnn_grad(x, W, h0):
    """The adjoint a person writes for rnn_loss, with respect to W: the forward loop
    fills h in place, the backward loop reads h_bar[t + 1] and accumulates W_bar."""
    T = x.shape[0]
    h = np.zeros((T + 1, h0.shape[0]))
    h[0] = h0
    for t in range(T):
        h[t + 1] = np.tanh(h[t] @ W + x[t])
    h_bar = np.zeros_like(h)
    h_bar[1:] = 2.0 * h[1:] / T
    W_bar = np.zeros_like(W)
    for t in range(T - 1, -1, -1):
        a_bar = h_bar[t + 1] * (1.0 - h[t + 1] ** 2)
        W_bar += np.outer(h[t], a_bar)
        h_bar[t] += W @ a_bar
    return W_bar


def problem(T: int, H: int, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(T, H)), rng.normal(size=(H, H)) / np.sqrt(H), rng.normal(size=H)


def verify(grad, args) -> None:
    ours, hand = grad(*args), hand_rnn_grad(*args)
    if not np.allclose(ours, hand, rtol=1e-10, atol=1e-12):
        raise SystemExit("the generated gradient disagrees with the hand-written adjoint")
    x, W, h0 = args
    eps, k = 1e-6, (0, 1)
    step = np.zeros_like(W)
    step[k] = eps
    numeric = (rnn_loss(x, W + step, h0) - rnn_loss(x, W - step, h0)) / (2 * eps)
    if abs(numeric - hand[k]) > 1e-5 * max(1.0, abs(numeric)):
        raise SystemExit("the hand-written adjoint disagrees with central differences")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short, noisy run")
    options = parser.parse_args()
    budget, repeats = (0.02, 3) if options.quick else (0.2, 7)
    reverse = adc.grad(rnn_loss, wrt=1)
    forward = adc.grad(rnn_loss, wrt=1, mode="forward")
    rows, ratios = [], []
    for T, H in ((20, 8), (100, 16), (400, 32)):
        args = problem(T, H)
        verify(reverse, args)
        functions = [("primal", rnn_loss), ("reverse", reverse), ("hand", hand_rnn_grad)]
        if T == 20:  # forward mode costs a sweep per entry of W
            if not np.allclose(forward(*args), hand_rnn_grad(*args), rtol=1e-10, atol=1e-12):
                raise SystemExit("forward mode disagrees with the hand-written adjoint")
            functions.append(("forward", forward))
        timers = {name: make_timer(fn, args) for name, fn in functions}
        best = time_interleaved(timers, budget, repeats)
        ratio = best["reverse"] / best["hand"]
        ratios.append(ratio)
        rows.append([f"T={T}, H={H}", fmt_ns(best["primal"]), fmt_ns(best["reverse"]),
                     fmt_ns(best.get("forward")), fmt_ns(best["hand"]), f"{ratio:.2f}",
                     verdict(ratio <= TARGET_RATIO)])
    print("RNN filling a preallocated array: gradient with respect to W (ns per call)")
    print(table(["size", "primal", "reverse", "forward", "hand", "reverse/hand", "result"],
                rows, right={1, 2, 3, 4, 5}))
    print(f"\nratio ours (reverse) / hand-written: {', '.join(f'{r:.2f}' for r in ratios)}"
          f" (target {TARGET_RATIO})")


if __name__ == "__main__":
    main()
