"""Core benchmarks for ad_compiler.

Run from the repository root::

    python benchmarks/bench_core.py            # full run, about a minute
    python benchmarks/bench_core.py --quick    # smoke run, a few seconds
    python benchmarks/bench_core.py --no-peers # skip autograd / JAX / PyTorch

It measures, and prints as plain-text tables with targets and PASS/MISS:

1. time per call of the primal function, our reverse-mode gradient, our
   forward-mode gradient and a hand-written adjoint, for three scalar functions
   (seed 001, seed 000 and a 30-statement function of three inputs);
2. the time to build ``grad(f)`` of the 30-statement function (warm rules, cold
   compile cache) and the very first build in a fresh process (includes sympy);
3. ``import ad_compiler`` time in a fresh interpreter, and whether it imports sympy;
4. the gradient call time of the peers that are installed (autograd, JAX, PyTorch).

See benchmarks/README.md for what each column means.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
import timeit
import types
from collections.abc import Callable
from typing import Any

import ad_compiler as adc

SYMPY_LOADED_BY_IMPORT = "sympy" in sys.modules

# Targets
TARGET_RATIO = 1.3  # ours / hand-written adjoint, per gradient call
TARGET_TRANSFORM_S = 0.010  # grad(f) build, warm rules, cold compile cache
TARGET_IMPORT_S = 0.25  # `import ad_compiler` in a fresh interpreter


# ---------------------------------------------------------------- the functions
# The functions are written with `math.*` as a user would.  The peers run the
# very same code objects with `math` rebound to their own numpy-like module.


def seed001(x1, x2):
    return x1 * x2 + math.sin(x1)


def seed000(x):
    return math.exp(-x**2)


def big(x, y, z):
    a = x * y
    b = math.sin(a) + z
    c = math.cos(x - z)
    d = a * b - c
    e = math.exp(0.1 * d)
    s = x**2 + y**2 + 1.0
    r = math.sqrt(s)
    u = math.log(s)
    v = math.tanh(u - b)
    w = e / r
    a = a + w * v
    t = a**2 + 1.0
    p = z / t
    q = math.sin(p) * math.cos(a)
    b = b - q
    m = e * c + b * v
    n = math.tanh(m)
    k = n * n + p
    h = math.sqrt(k**2 + 1.0)
    g = math.log(h + x**2) * r - u / s
    o = math.exp(-g**2)
    j = o + a * z
    i = j / (1.0 + k**2)
    c = c * i + math.sin(j)
    e = e - c / h
    v = v * e + n
    f = math.cos(v) * a
    out = f + b * c - i
    return out**2 + u


# ---------------------------------------------------------------- hand-written adjoints
# Written as an expert would: a forward sweep that computes the primal values
# with the user's own operations (``x**2`` stays ``x**2``; common subexpressions
# are reused) and keeps what the backward sweep needs, then a backward sweep that
# accumulates adjoints statement by statement in reverse order.  They call
# `math.*` through the module, exactly like the primal and the generated code.


def hand_seed001(x1, x2):
    return x2 + math.cos(x1), x1


def hand_seed000(x):
    w = math.exp(-x**2)
    return -2.0 * x * w


def hand_big(x, y, z):
    # forward sweep (reassigned names get versions: a0/a1, b0/b1, ...)
    a0 = x * y
    b0 = math.sin(a0) + z
    xz = x - z
    c0 = math.cos(xz)
    d = a0 * b0 - c0
    e0 = math.exp(0.1 * d)
    x2 = x**2
    s = x2 + y**2 + 1.0
    r = math.sqrt(s)
    u = math.log(s)
    v0 = math.tanh(u - b0)
    w = e0 / r
    a1 = a0 + w * v0
    t = a1**2 + 1.0
    p = z / t
    sp = math.sin(p)
    ca1 = math.cos(a1)
    q = sp * ca1
    b1 = b0 - q
    m = e0 * c0 + b1 * v0
    n = math.tanh(m)
    k = n * n + p
    k21 = k**2 + 1.0
    h = math.sqrt(k21)
    lg = h + x2
    lh = math.log(lg)
    us = u / s
    g = lh * r - us
    o = math.exp(-g**2)
    j = o + a1 * z
    i = j / k21
    c1 = c0 * i + math.sin(j)
    e1 = e0 - c1 / h
    v1 = v0 * e1 + n
    cv = math.cos(v1)
    f = cv * a1
    out = f + b1 * c1 - i
    # backward sweep, seeded with 1 on `out**2 + u`
    out_bar = 2.0 * out
    # out = f + b1 * c1 - i
    b1_bar = out_bar * c1
    c1_bar = out_bar * b1
    i_bar = -out_bar
    # f = cos(v1) * a1
    v1_bar = -out_bar * a1 * math.sin(v1)
    a1_bar = out_bar * cv
    # v1 = v0 * e1 + n
    v0_bar = v1_bar * e1
    e1_bar = v1_bar * v0
    n_bar = v1_bar
    # e1 = e0 - c1 / h
    e0_bar = e1_bar
    c1_bar -= e1_bar / h
    h_bar = e1_bar * c1 / (h * h)
    # c1 = c0 * i + sin(j)
    c0_bar = c1_bar * i
    i_bar += c1_bar * c0
    j_bar = c1_bar * math.cos(j)
    # i = j / (1 + k**2)
    j_bar += i_bar / k21
    k_bar = -2.0 * k * i_bar * i / k21
    # j = o + a1 * z
    a1_bar += j_bar * z
    z_bar = j_bar * a1
    # o = exp(-g**2)
    g_bar = -2.0 * g * o * j_bar
    # g = log(h + x**2) * r - u / s
    lg_bar = g_bar * r / lg
    r_bar = g_bar * lh
    u_bar = 1.0 - g_bar / s
    s_bar = g_bar * us / s
    h_bar += lg_bar
    # h = sqrt(k**2 + 1)
    k_bar += h_bar * k / h
    # k = n * n + p
    n_bar += 2.0 * n * k_bar
    p_bar = k_bar
    # n = tanh(m)
    m_bar = n_bar * (1.0 - n * n)
    # m = e0 * c0 + b1 * v0
    e0_bar += m_bar * c0
    c0_bar += m_bar * e0
    b1_bar += m_bar * v0
    v0_bar += m_bar * b1
    # b1 = b0 - sin(p) * cos(a1)
    p_bar -= b1_bar * ca1 * math.cos(p)
    a1_bar += b1_bar * sp * math.sin(a1)
    # p = z / t
    z_bar += p_bar / t
    # t = a1**2 + 1
    a1_bar -= 2.0 * a1 * p_bar * p / t
    # a1 = a0 + w * v0
    w_bar = a1_bar * v0
    v0_bar += a1_bar * w
    # w = e0 / r
    e0_bar += w_bar / r
    r_bar -= w_bar * w / r
    # v0 = tanh(u - b0)
    uv_bar = v0_bar * (1.0 - v0 * v0)
    u_bar += uv_bar
    b0_bar = b1_bar - uv_bar
    # u = log(s); r = sqrt(s)
    s_bar += u_bar / s + 0.5 * r_bar / r
    # e0 = exp(0.1 * d)
    d_bar = 0.1 * e0 * e0_bar
    # d = a0 * b0 - c0
    a0_bar = a1_bar + d_bar * b0
    b0_bar += d_bar * a0
    c0_bar -= d_bar
    # c0 = cos(x - z)
    xz_bar = -c0_bar * math.sin(xz)
    # b0 = sin(a0) + z
    a0_bar += b0_bar * math.cos(a0)
    z_bar += b0_bar - xz_bar
    # a0 = x * y; s = x**2 + y**2 + 1; lg = h + x**2; xz = x - z
    x_bar = a0_bar * y + 2.0 * x * (s_bar + lg_bar) + xz_bar
    y_bar = a0_bar * x + 2.0 * y * s_bar
    return x_bar, y_bar, z_bar


# name, primal, hand-written adjoint, benchmark point
CASES: list[tuple[str, Callable, Callable, tuple[float, ...]]] = [
    ("seed001 x1*x2+sin(x1)", seed001, hand_seed001, (0.7, 1.3)),
    ("seed000 exp(-x**2)", seed000, hand_seed000, (0.8,)),
    ("big (30 stmts, 3 in)", big, hand_big, (0.7, 1.3, -0.4)),
]


def wrt_of(fn: Callable) -> int | tuple[int, ...]:
    n = fn.__code__.co_argcount
    return 0 if n == 1 else tuple(range(n))


def as_tuple(g: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in g) if isinstance(g, (tuple, list)) else (float(g),)


# ---------------------------------------------------------------- timing helpers


def make_timer(fn: Callable, args: tuple, wrap: Callable | None = None) -> timeit.Timer:
    """A timer for ``fn(*args)`` with the function and arguments in fast locals."""
    names = [f"a{k}" for k in range(len(args))]
    setup = "; ".join(["fn = _fn"] + [f"{n} = _args[{k}]" for k, n in enumerate(names)])
    call = f"fn({', '.join(names)})"
    env: dict[str, Any] = {"_fn": fn, "_args": args}
    if wrap is not None:
        setup += "; wrap = _wrap"
        env["_wrap"] = wrap
        call = f"wrap({call})"
    return timeit.Timer(call, setup=setup, globals=env)


def loops_for(timer: timeit.Timer, budget: float) -> int:
    """Loop count so that one repeat lasts about `budget` seconds."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= min(budget, 0.02) or number >= 10**7:
            return max(1, int(number * budget / max(elapsed, 1e-9)))
        number *= 10


def time_interleaved(timers: dict[str, timeit.Timer], budget: float, repeats: int) -> dict[str, float]:
    """Seconds per call (min over repeats) for each timer, repeats interleaved so
    that a burst of load on the machine hits every variant alike."""
    loops = {name: loops_for(t, budget) for name, t in timers.items()}
    best = {name: math.inf for name in timers}
    for _ in range(repeats):
        for name, t in timers.items():
            best[name] = min(best[name], t.timeit(loops[name]) / loops[name])
    return best


def fmt_ns(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e9:,.0f}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    right = set(range(1, len(headers))) if right is None else right
    widths = [max(len(str(r[k])) for r in [headers, *rows]) for k in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if k in right else str(c).ljust(w)
                         for k, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, rows)])


# ---------------------------------------------------------------- 1. gradient calls


class BenchError(Exception):
    """A measurement that could not be made (wrong gradient, failed subprocess)."""


def check_close(name: str, got: tuple[float, ...], want: tuple[float, ...], rtol: float) -> None:
    if len(got) != len(want):
        raise BenchError(f"{name}: {got} != {want}")
    for g, w in zip(got, want):
        if not abs(g - w) <= rtol * max(1.0, abs(w)):
            raise BenchError(f"{name}: {got} != {want} (rtol {rtol})")


def central_difference(fn: Callable, args: tuple[float, ...], eps: float = 1e-6) -> tuple[float, ...]:
    out = []
    for k in range(len(args)):
        hi, lo = list(args), list(args)
        hi[k] += eps
        lo[k] -= eps
        out.append((fn(*hi) - fn(*lo)) / (2 * eps))
    return tuple(out)


def verify(name: str, fn: Callable, hand: Callable, rev: Callable, fwd: Callable,
           point: tuple[float, ...]) -> None:
    """Hand-written adjoint == our reverse == our forward (tight), and all of them
    == central differences (loose), at the benchmark point and at random points."""
    rng = random.Random(1)
    points = [point] + [tuple(rng.uniform(-1.5, 1.5) for _ in point) for _ in range(20)]
    for p in points:
        want = as_tuple(hand(*p))
        check_close(f"{name}: reverse vs hand-written at {p}", as_tuple(rev(*p)), want, 1e-9)
        check_close(f"{name}: forward vs hand-written at {p}", as_tuple(fwd(*p)), want, 1e-9)
        check_close(f"{name}: hand-written vs central differences at {p}",
                    want, central_difference(fn, p), 1e-5)


def bench_calls(budget: float, repeats: int) -> tuple[str, list[dict[str, Any]]]:
    results, rows = [], []
    for name, fn, hand, point in CASES:
        try:
            rev = adc.grad(fn, wrt=wrt_of(fn), mode="reverse")
            fwd = adc.grad(fn, wrt=wrt_of(fn), mode="forward")
            verify(name, fn, hand, rev, fwd, point)
        except Exception as exc:  # report the case and go on with the others
            rows.append([name, "ERROR", f"{type(exc).__name__}: {exc}"[:150], *[""] * 5])
            continue
        times = time_interleaved({
            "primal": make_timer(fn, point),
            "reverse": make_timer(rev, point),
            "forward": make_timer(fwd, point),
            "hand": make_timer(hand, point),
        }, budget, repeats)
        times.update(name=name, fn=fn, point=point)
        results.append(times)
    for r in results:
        rev_ratio, fwd_ratio = r["reverse"] / r["hand"], r["forward"] / r["hand"]
        rows.append([r["name"], fmt_ns(r["primal"]), fmt_ns(r["reverse"]), fmt_ns(r["forward"]),
                     fmt_ns(r["hand"]), f"{r['reverse'] / r['primal']:.2f}",
                     f"{rev_ratio:.2f} {verdict(rev_ratio <= TARGET_RATIO)}",
                     f"{fwd_ratio:.2f} {verdict(fwd_ratio <= TARGET_RATIO)}"])
    text = table(["function", "primal ns", "rev ns", "fwd ns", "hand ns", "rev/primal",
                  f"rev/hand (<={TARGET_RATIO})", f"fwd/hand (<={TARGET_RATIO})"], rows)
    return text, results


# ---------------------------------------------------------------- 2. transform time


def bench_transform(repeats: int, cold_runs: int) -> tuple[str, list[bool]]:
    rows, oks = [], []
    for mode in ("reverse", "forward"):
        adc.cache.clear()
        adc.grad(big, wrt=(0, 1, 2), mode=mode)  # warms sympy and the memoised rules
        best = math.inf
        for _ in range(repeats):
            adc.cache.clear()
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                adc.grad(big, wrt=(0, 1, 2), mode=mode)
                best = min(best, time.perf_counter() - t0)
            finally:
                gc.enable()
        ok = best < TARGET_TRANSFORM_S
        oks.append(ok)
        rows.append([f"grad(big, mode={mode!r}), warm rules, cold cache", fmt_ms(best),
                     f"< {TARGET_TRANSFORM_S * 1e3:.0f} ms", verdict(ok)])
    adc.cache.clear()

    for mode, stages in stage_breakdown(repeats).items():
        rows.append([f"  {mode} by stage: " + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in stages.items())
                     + " ms", "", "", "info"])

    firsts = [cold_build_in_subprocess() for _ in range(cold_runs)]
    first = min(f["seconds"] for f in firsts)
    lazily = all(not f["sympy_before"] and f["sympy_after"] for f in firsts)
    rows.append(["first grad(big) in a fresh process (sympy import,", fmt_ms(first), "-", "info"])
    rows.append(["  rule derivation; ad_compiler already imported)", "", "", ""])
    rows.append(["  sympy imported by that first build, not before", "yes" if lazily else "no",
                 "yes", verdict(lazily)])
    return table(["what (min of repeats)", "time", "target", "result"], rows, right={1}), oks


def stage_breakdown(repeats: int) -> dict[str, dict[str, float]]:
    """Approximate cost of each pipeline stage (min of repeats), through internal
    modules; empty if their names have changed."""
    try:
        from ad_compiler.codegen import generate
        from ad_compiler.lowering import lower
        from ad_compiler.transforms import forward, optimize, reverse
    except ImportError:
        return {}
    out: dict[str, dict[str, float]] = {}
    try:
        for mode in ("reverse", "forward"):
            best = {"lower": math.inf, "transform": math.inf, "optimize": math.inf,
                    "codegen": math.inf}
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn = lower(big)
                t1 = time.perf_counter()
                if mode == "reverse":
                    d = reverse(fn, [0, 1, 2], seed_params=False)
                else:
                    d = forward(fn, [0, 1, 2], unit_seeds=True)
                t2 = time.perf_counter()
                optimize(d)
                t3 = time.perf_counter()
                generate(d, "big_grad", user_globals=big.__globals__)
                t4 = time.perf_counter()
                for key, dt in zip(best, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                    best[key] = min(best[key], dt)
            out[mode] = best
    except Exception:  # internals changed: the breakdown is only informative
        return {}
    return out


def cold_build_in_subprocess() -> dict[str, Any]:
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child-cold-build"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"cold build in a subprocess failed: {last_line(proc.stderr)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(no output)"


def child_cold_build() -> None:
    sympy_before = "sympy" in sys.modules
    t0 = time.perf_counter()
    adc.grad(big, wrt=(0, 1, 2), mode="reverse")
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "sympy_before": sympy_before,
                      "sympy_after": "sympy" in sys.modules}))


# ---------------------------------------------------------------- 3. import time


def run_python(code: str, *flags: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchError(f"python -c {code!r} failed: {last_line(proc.stderr)}")
    return elapsed, proc


def importtime_cumulative(stderr: str) -> dict[str, float]:
    """Cumulative seconds per top-level module name from ``-X importtime`` output."""
    out = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        try:
            cumulative = int(parts[1]) * 1e-6
        except ValueError:  # the header line
            continue
        out[parts[2].strip()] = cumulative
    return out


def bench_import(runs: int) -> tuple[str, bool, bool]:
    run_python("import ad_compiler")  # write .pyc files, warm the OS file cache
    empty, full = math.inf, math.inf
    for _ in range(runs):
        empty = min(empty, run_python("pass")[0])
        full = min(full, run_python("import ad_compiler")[0])
    pkg, numpy_share = math.inf, math.inf
    for _ in range(runs):
        cum = importtime_cumulative(run_python("import ad_compiler", "-X", "importtime")[1].stderr)
        pkg = min(pkg, cum.get("ad_compiler", math.inf))
        numpy_share = min(numpy_share, cum.get("numpy", 0.0))
    check = "import sys, ad_compiler; print(int('sympy' in sys.modules))"
    sympy_imported = run_python(check)[1].stdout.strip() == "1"
    delta = full - empty
    ok = delta < TARGET_IMPORT_S
    rows = [
        ["python -c 'import ad_compiler' minus python -c 'pass'", f"{delta:.3f} s",
         f"< {TARGET_IMPORT_S} s", verdict(ok)],
        ["  -X importtime: ad_compiler cumulative", f"{pkg:.3f} s", "-", "info"],
        ["  -X importtime: of which numpy", f"{numpy_share:.3f} s", "-", "info"],
        ["sympy imported by 'import ad_compiler'", "yes" if sympy_imported else "no", "no",
         verdict(not sympy_imported)],
    ]
    return table(["what (min of runs)", "value", "target", "result"], rows, right={1}), ok, \
        not sympy_imported


# ---------------------------------------------------------------- 4. peers


def rebind_math(fn: Callable, namespace: Any) -> Callable:
    """The same code object as `fn`, with the global name `math` bound to `namespace`."""
    env = dict(fn.__globals__)
    env["math"] = namespace
    return types.FunctionType(fn.__code__, env, fn.__name__)


def peer_autograd() -> dict[str, Callable]:
    import autograd
    import autograd.numpy as anp

    out = {}
    for name, fn, _, _ in CASES:
        g = autograd.grad(rebind_math(fn, anp), wrt_of(fn))
        out[name] = g
    return {"autograd.grad": out}


def peer_jax() -> dict[str, Callable]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    plain, jitted = {}, {}
    for name, fn, _, _ in CASES:
        g = jax.grad(rebind_math(fn, jnp), argnums=wrt_of(fn))
        plain[name] = g
        jitted[name] = jax.jit(g)
    return {"jax.grad": plain, "jax.jit(jax.grad)": jitted}


def peer_torch() -> dict[str, Callable]:
    import torch

    def make(fn: Callable) -> Callable:
        tfn = rebind_math(fn, torch)
        n = fn.__code__.co_argcount

        def grad(*args: float) -> tuple[float, ...]:
            leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
            grads = torch.autograd.grad(tfn(*leaves), leaves)
            return tuple(g.item() for g in grads) if n > 1 else grads[0].item()

        return grad

    return {"torch.autograd.grad": {name: make(fn) for name, fn, _, _ in CASES}}


def bench_peers(calls: list[dict[str, Any]], budget: float, repeats: int) -> str:
    lines = []
    rows = []
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
                g = grads[r["name"]]
                try:
                    ours = as_tuple(adc.grad(r["fn"], wrt=wrt_of(r["fn"]))(*r["point"]))
                    check_close(f"{variant} on {r['name']}", as_tuple(g(*r["point"])), ours, 1e-6)
                    t = time_interleaved({"g": make_timer(g, r["point"], block)}, budget,
                                         repeats)["g"]
                except Exception as exc:  # report, keep going
                    rows.append([variant, r["name"], "error", f"{type(exc).__name__}: {exc}"[:60],
                                 ""])
                    continue
                rows.append([variant, r["name"], fmt_ns(t), fmt_ns(r["reverse"]),
                             f"{t / r['reverse']:.1f}x"])
    text = "\n".join(lines)
    if rows:
        text = table(["peer", "function", "peer ns", "ours rev ns", "peer/ours"], rows,
                     right={2, 3, 4}) + ("\n" + text if text else "")
    return text


# ---------------------------------------------------------------- main


def header(quick: bool) -> str:
    import numpy

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return (f"ad_compiler {adc.__version__} (git {commit})  Python {platform.python_version()}  "
            f"numpy {numpy.__version__}  {platform.machine()}  {os.cpu_count()} cpu(s)"
            f"{'  [--quick]' if quick else ''}")


class Report:
    """Sections printed one after another; a broken measurement is reported, not fatal."""

    def __init__(self, quick: bool) -> None:
        self.failed = False
        self.started = time.perf_counter()
        print(header(quick))
        print()

    def section(self, title: str, run: Callable[[], str]) -> None:
        print(title)
        try:
            print(run())
        except Exception as exc:  # one broken measurement must not hide the others
            self.failed = True
            print(f"FAILED: {type(exc).__name__}: {exc}")
        print()

    def calls(self, measure: Callable[[], tuple[str, list[dict[str, Any]]]],
              expected: int) -> list[dict[str, Any]]:
        """Section 1, the time per call; its rows feed the peers' section."""
        results: list[dict[str, Any]] = []

        def run() -> str:
            text, rows = measure()
            results.extend(rows)
            self.failed = self.failed or len(rows) < expected
            return text

        self.section("1. Time per call (ns, min of repeats; gradients w.r.t. every input)", run)
        return results

    def finish(self) -> int:
        print(f"total benchmark time {time.perf_counter() - self.started:.1f} s")
        return 1 if self.failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run (a few seconds)")
    parser.add_argument("--no-peers", action="store_true", help="skip autograd, JAX and PyTorch")
    parser.add_argument("--child-cold-build", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_cold_build:
        child_cold_build()
        return 0

    if args.quick:
        budget, repeats, transform_repeats, cold_runs, import_runs = 0.01, 3, 5, 1, 2
    else:
        budget, repeats, transform_repeats, cold_runs, import_runs = 0.2, 9, 30, 3, 5

    report = Report(args.quick)
    calls = report.calls(lambda: bench_calls(budget, repeats), len(CASES))
    report.section("2. Transform time", lambda: bench_transform(transform_repeats, cold_runs)[0])
    report.section("3. Import time (fresh interpreter)", lambda: bench_import(import_runs)[0])
    if SYMPY_LOADED_BY_IMPORT:
        print("note: sympy was already in sys.modules right after 'import ad_compiler' here\n")
    report.section("4. Peers (gradient call, floats in, same code with math.* rebound)",
                   lambda: "skipped (--no-peers)" if args.no_peers
                   else bench_peers(calls, budget, repeats))
    return report.finish()

if __name__ == "__main__":
    sys.exit(main())
