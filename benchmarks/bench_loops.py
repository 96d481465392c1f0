"""Loop benchmarks for ad_compiler: gradients through for and while loops.

Run from the repository root::

    python benchmarks/bench_loops.py            # full run, about 40 s
    python benchmarks/bench_loops.py --quick    # smoke run, a few seconds
    python benchmarks/bench_loops.py --no-peers # skip autograd / JAX / PyTorch

It measures, and prints as plain-text tables with targets and PASS/MISS:

1. time per call of the primal function, our reverse-mode gradient, our
   forward-mode gradient (scalar inputs only) and a hand-written adjoint, for a
   100-iteration scalar loop, Rosenbrock over a list of 100 floats (indexed, and
   with ``zip`` over two lists) and a Newton iteration in a ``while`` loop;
2. the time to build each ``grad(f)`` (warm rules, cold compile cache);
3. the gradient call time of the peers that are installed (autograd, JAX, PyTorch).

The timing, table and peer helpers come from bench_core.py.  See
benchmarks/README.md for what each column means.
"""
# ruff: noqa: B007  (damped keeps its unused `for i`, written as in README.md)
from __future__ import annotations

import argparse
import gc
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ad_compiler as adc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import (  # noqa: E402  (bench_core lives beside this file)
    TARGET_TRANSFORM_S,
    Report,
    check_close,
    fmt_ms,
    fmt_ns,
    make_timer,
    rebind_math,
    table,
    time_interleaved,
    verdict,
)

# Targets
TARGET_RATIO = 1.5  # ours / hand-written adjoint, per gradient call


# ---------------------------------------------------------------- the functions
# Written with `math.*` as a user would; the peers run the same code objects with
# `math` rebound to their own numpy-like module.


def damped(y, a):
    for i in range(100):
        y = math.sin(y) * a + 0.5 * y
    return y


def rosen(xs):
    s = 0.0
    for i in range(len(xs) - 1):
        s = s + 100.0 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1.0 - xs[i]) ** 2
    return s


def rosen_zip(xs, ys):
    """Rosenbrock again, called as rosen_zip(p[:-1], p[1:]) (no slices inside)."""
    s = 0.0
    for x, y in zip(xs, ys):
        s = s + 100.0 * (y - x**2) ** 2 + (1.0 - x) ** 2
    return s


def newton_cos(a):
    """Solve x = cos(a x) by Newton's method on x - cos(a x), until the step is tiny."""
    x = 1.0
    step = 1.0
    while abs(step) > 1e-12:
        c = math.cos(a * x)
        s = math.sin(a * x)
        step = (x - c) / (1.0 + a * s)
        x = x - step
    return x


# ---------------------------------------------------------------- hand-written adjoints
# Written as an expert would: a forward sweep that runs the user's loop and keeps
# what the backward sweep needs (a list of the iterates, or of the intermediate
# values when recomputing them would cost more than storing them), then a backward
# loop over that list in reverse order.  Each variant here was the fastest of the
# few an expert would try (see benchmarks/README.md).  `math.*` is called through
# the module, as the primal and the generated code do.


def hand_damped(y, a):
    ys = []
    for _ in range(100):
        ys.append(y)
        y = math.sin(y) * a + 0.5 * y
    y_bar, a_bar = 1.0, 0.0
    for yk in reversed(ys):
        a_bar += y_bar * math.sin(yk)
        y_bar *= a * math.cos(yk) + 0.5
    return y_bar, a_bar


def hand_rosen(xs):
    # s enters every term with adjoint 1, so nothing needs storing: the backward
    # loop is the forward one reversed, and the order does not matter.
    n = len(xs)
    xs_bar = [0.0] * n
    for i in range(n - 1):
        x = xs[i]
        t = 200.0 * (xs[i + 1] - x**2)
        xs_bar[i] -= 2.0 * x * t + 2.0 * (1.0 - x)
        xs_bar[i + 1] += t
    return xs_bar


def hand_rosen_zip(xs, ys):
    xs_bar, ys_bar = [], []
    for x, y in zip(xs, ys):
        t = 200.0 * (y - x**2)
        xs_bar.append(-2.0 * x * t - 2.0 * (1.0 - x))
        ys_bar.append(t)
    return xs_bar, ys_bar


def hand_newton_cos(a):
    # x_next = x - step with step = (x - c) / d, c = cos(a x), s = sin(a x),
    # d = 1 + a s: the forward sweep keeps the two local partials of x_next,
    # d x_next / d x = step a^2 c / d and d x_next / d a = (step (s + a x c) - x s) / d,
    # and the backward loop only chains them.
    x = 1.0
    step = 1.0
    tape = []
    while abs(step) > 1e-12:
        ax = a * x
        c = math.cos(ax)
        s = math.sin(ax)
        d = 1.0 + a * s
        step = (x - c) / d
        tape.append((step * a * a * c / d, (step * (s + ax * c) - x * s) / d))
        x = x - step
    x_bar, a_bar = 1.0, 0.0
    for px, pa in reversed(tape):
        a_bar += x_bar * pa
        x_bar *= px
    return a_bar


# ---------------------------------------------------------------- the cases


@dataclass
class Case:
    name: str
    fn: Callable
    hand: Callable
    point: tuple  # benchmark point
    sample: Callable[[random.Random], tuple]  # random verification points
    scalar: bool  # all inputs are floats, so forward mode applies

    @property
    def wrt(self) -> int | tuple[int, ...]:
        n = self.fn.__code__.co_argcount
        return 0 if n == 1 else tuple(range(n))


def _rosen_point(rng: random.Random, n: int = 100) -> list[float]:
    return [rng.uniform(-2.0, 2.0) for _ in range(n)]


_P = _rosen_point(random.Random(0))

CASES: list[Case] = [
    Case("damped (for, 100 iters, 2 in)", damped, hand_damped, (0.3, 0.9),
         lambda r: (r.uniform(-1.5, 1.5), r.uniform(0.2, 1.2)), scalar=True),
    Case("rosen (list of 100, xs[i])", rosen, hand_rosen, (_P,),
         lambda r: (_rosen_point(r),), scalar=False),
    Case("rosen_zip (zip 2 lists of 99)", rosen_zip, hand_rosen_zip, (_P[:-1], _P[1:]),
         lambda r: (lambda p: (p[:-1], p[1:]))(_rosen_point(r)), scalar=False),
    Case("newton_cos (while, 5 iters)", newton_cos, hand_newton_cos, (0.9,),
         lambda r: (r.uniform(0.2, 2.0),), scalar=True),
]


# ---------------------------------------------------------------- verification


def flat(g: Any) -> tuple[float, ...]:
    """Floats of a gradient: a number, or (nested) lists and tuples of numbers."""
    if isinstance(g, (list, tuple)):
        return tuple(v for item in g for v in flat(item))
    return (float(g),)


def central_difference(fn: Callable, args: tuple, eps: float = 1e-6) -> tuple[float, ...]:
    """Central differences w.r.t. every float, also the items of list arguments."""
    out = []
    for k, arg in enumerate(args):
        for j in range(len(arg)) if isinstance(arg, list) else [None]:
            hi, lo = list(args), list(args)
            if j is None:
                hi[k], lo[k] = arg + eps, arg - eps
            else:
                hi[k], lo[k] = list(arg), list(arg)
                hi[k][j] += eps
                lo[k][j] -= eps
            out.append((fn(*hi) - fn(*lo)) / (2 * eps))
    return tuple(out)


def verify(case: Case, rev: Callable, fwd: Callable | None) -> None:
    """Hand-written adjoint == our reverse == our forward (tight), and the
    hand-written adjoint == central differences (loose), at the benchmark point
    and at 20 random points."""
    rng = random.Random(1)
    for p in [case.point] + [case.sample(rng) for _ in range(20)]:
        want = flat(case.hand(*p))
        check_close(f"{case.name}: reverse vs hand-written", flat(rev(*p)), want, 1e-9)
        if fwd is not None:
            check_close(f"{case.name}: forward vs hand-written", flat(fwd(*p)), want, 1e-9)
        check_close(f"{case.name}: hand-written vs central differences", want,
                    central_difference(case.fn, p), 1e-5)


# ---------------------------------------------------------------- 1. gradient calls


def bench_calls(budget: float, repeats: int) -> tuple[str, list[dict[str, Any]]]:
    results, rows = [], []
    for case in CASES:
        try:
            rev = adc.grad(case.fn, wrt=case.wrt, mode="reverse")
            fwd = adc.grad(case.fn, wrt=case.wrt, mode="forward") if case.scalar else None
            verify(case, rev, fwd)
        except Exception as exc:  # report the case and go on with the others
            rows.append([case.name, "ERROR", f"{type(exc).__name__}: {exc}"[:150], *[""] * 5])
            continue
        timers = {"primal": make_timer(case.fn, case.point),
                  "reverse": make_timer(rev, case.point),
                  "hand": make_timer(case.hand, case.point)}
        if fwd is not None:
            timers["forward"] = make_timer(fwd, case.point)
        times: dict[str, Any] = time_interleaved(timers, budget, repeats)
        times.update(case=case)
        results.append(times)
    for r in results:
        rev_ratio = r["reverse"] / r["hand"]
        fwd_ratio = r["forward"] / r["hand"] if "forward" in r else None
        rows.append([r["case"].name, fmt_ns(r["primal"]), fmt_ns(r["reverse"]),
                     fmt_ns(r.get("forward")), fmt_ns(r["hand"]),
                     f"{r['reverse'] / r['primal']:.2f}",
                     f"{rev_ratio:.2f} {verdict(rev_ratio <= TARGET_RATIO)}",
                     "-" if fwd_ratio is None
                     else f"{fwd_ratio:.2f} {verdict(fwd_ratio <= TARGET_RATIO)}"])
    text = table(["function", "primal ns", "rev ns", "fwd ns", "hand ns", "rev/primal",
                  f"rev/hand (<={TARGET_RATIO})", f"fwd/hand (<={TARGET_RATIO})"], rows)
    text += ("\nfwd '-': forward-mode grad w.r.t. a list is refused (one sweep per item); "
             "use reverse mode")
    return text, results


# ---------------------------------------------------------------- 2. transform time


def bench_transform(repeats: int) -> str:
    rows = []
    for case in CASES:
        for mode in ("reverse", "forward") if case.scalar else ("reverse",):
            try:
                adc.cache.clear()
                adc.grad(case.fn, wrt=case.wrt, mode=mode)  # warms sympy and the rules
                best = math.inf
                for _ in range(repeats):
                    adc.cache.clear()
                    gc.collect()
                    gc.disable()
                    try:
                        t0 = time.perf_counter()
                        adc.grad(case.fn, wrt=case.wrt, mode=mode)
                        best = min(best, time.perf_counter() - t0)
                    finally:
                        gc.enable()
            except Exception as exc:  # report, keep going
                rows.append([f"grad({case.fn.__name__}, mode={mode!r})", "error",
                             f"{type(exc).__name__}: {exc}"[:60], ""])
                continue
            ok = best < TARGET_TRANSFORM_S
            rows.append([f"grad({case.fn.__name__}, mode={mode!r})", fmt_ms(best),
                         f"< {TARGET_TRANSFORM_S * 1e3:.0f} ms", verdict(ok)])
    adc.cache.clear()
    return table(["what (warm rules, cold cache, min of repeats)", "time", "target", "result"],
                 rows, right={1})


# ---------------------------------------------------------------- 3. peers
# Each loader returns {variant: {case name: gradient function taking the case's
# arguments (floats and lists of floats) and returning floats or lists of floats}}.


def peer_autograd() -> dict[str, dict[str, Callable]]:
    import autograd
    import autograd.numpy as anp

    return {"autograd.grad": {c.name: autograd.grad(rebind_math(c.fn, anp), c.wrt)
                              for c in CASES}}


def peer_jax() -> dict[str, dict[str, Callable]]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    plain, jitted = {}, {}
    for c in CASES:
        g = jax.grad(rebind_math(c.fn, jnp), argnums=c.wrt)
        plain[c.name] = g
        jitted[c.name] = jax.jit(g)  # a while loop on a traced value fails here: reported
    return {"jax.grad": plain, "jax.jit(jax.grad)": jitted}


def peer_torch() -> dict[str, dict[str, Callable]]:
    import torch

    def make(c: Case) -> Callable:
        tfn = rebind_math(c.fn, torch)

        def grad(*args: Any) -> Any:
            # floats become 0-d leaves, a list one 1-d leaf (what a torch user would write)
            leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
            grads = [g.tolist() for g in torch.autograd.grad(tfn(*leaves), leaves)]
            return tuple(grads) if len(grads) > 1 else grads[0]

        return grad

    return {"torch.autograd.grad": {c.name: make(c) for c in CASES}}


def bench_peers(calls: list[dict[str, Any]], budget: float, repeats: int) -> str:
    lines, rows = [], []
    for label, loader in (("autograd", peer_autograd), ("jax", peer_jax), ("torch", peer_torch)):
        try:
            variants = loader()
        except ImportError as exc:
            lines.append(f"{label}: not installed, skipped ({exc.name or exc})")
            continue
        except Exception as exc:  # a broken install must not stop the benchmark
            lines.append(f"{label}: failed to load, skipped ({type(exc).__name__}: {exc})")
            continue
        block = None
        if label == "jax":
            import jax

            block = jax.block_until_ready
        for variant, grads in variants.items():
            for r in calls:
                case = r["case"]
                g = grads[case.name]
                try:
                    ours = flat(adc.grad(case.fn, wrt=case.wrt)(*case.point))
                    check_close(f"{variant} on {case.name}", flat(g(*case.point)), ours, 1e-6)
                    t = time_interleaved({"g": make_timer(g, case.point, block)}, budget,
                                         repeats)["g"]
                except Exception as exc:  # report, keep going
                    rows.append([variant, case.name, "error",
                                 f"{type(exc).__name__}: {exc}"[:60], ""])
                    continue
                rows.append([variant, case.name, fmt_ns(t), fmt_ns(r["reverse"]),
                             f"{t / r['reverse']:.1f}x"])
    text = "\n".join(lines)
    if rows:
        text = table(["peer", "function", "peer ns", "ours rev ns", "peer/ours"], rows,
                     right={2, 3, 4}) + ("\n" + text if text else "")
    return text


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run (a few seconds)")
    parser.add_argument("--no-peers", action="store_true", help="skip autograd, JAX and PyTorch")
    args = parser.parse_args(argv)

    if args.quick:
        budget, repeats, transform_repeats = 0.01, 3, 3
    else:
        budget, repeats, transform_repeats = 0.2, 9, 20

    report = Report(args.quick)
    calls = report.calls(lambda: bench_calls(budget, repeats), len(CASES))
    report.section("2. Transform time", lambda: bench_transform(transform_repeats))
    report.section("3. Peers (gradient call, floats and lists of floats in, same code with "
                   "math.* rebound)",
                   lambda: "skipped (--no-peers)" if args.no_peers
                   else bench_peers(calls, budget, repeats))
    return report.finish()

if __name__ == "__main__":
    sys.exit(main())
