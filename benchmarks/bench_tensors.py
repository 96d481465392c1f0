"""Tensor benchmarks for ad_compiler: gradients of NumPy losses.

Run from the repository root::

    python benchmarks/bench_tensors.py                # full run, about two minutes
    python benchmarks/bench_tensors.py --quick        # smoke run, noisy figures
    python benchmarks/bench_tensors.py --no-peers     # skip autograd / JAX / PyTorch
    python benchmarks/bench_tensors.py --svg out.svg  # also write a bar chart

Four losses written as a user writes them with ``import numpy as np`` (logistic
regression, a two-layer tanh MLP, a vectorised Rosenbrock and a small RNN).  For
each it prints:

1. the checks of the hand-written adjoint (value and gradient) against central
   differences on a tiny instance and random directional derivatives at the
   benchmark size;
2. the time per gradient call of the primal loss, the hand-written adjoint,
   ``adc.value_and_grad`` and the peers that are installed (autograd, JAX with and
   without ``jax.jit``, PyTorch), each checked against the hand-written adjoint
   before it is timed, and its ratio to the hand-written adjoint;
3. a summary of those ratios (workload by tool), which ``--svg`` draws;
4. what a new input signature costs: building the gradient, its first call (probe
   run, specialisation to the input shapes, compile, check) and a later call.

A tool that fails on a workload (ad_compiler does not differentiate every NumPy
construct yet) is reported as ``<tool>: failed: <message>`` and the run goes on.
The timing, table and report helpers come from bench_core.py.  See
benchmarks/README.md for what each column means.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

import ad_compiler as adc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import (  # noqa: E402  (bench_core lives beside this file)
    Report,
    header,
    make_timer,
    table,
    time_interleaved,
)

T = 20  # RNN time steps (the loop bound of `rnn`, as a user would keep it)


# ---------------------------------------------------------------- the losses
# Plain NumPy, module level, as a user writes them.  The peers run the very same
# code objects with the global `np` rebound to autograd.numpy, jax.numpy or torch.


def logreg(w, b, X, y):
    """Mean binary cross-entropy of a logistic model, labels y in {-1, +1}."""
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, -y * z))


def mlp(W1, b1, W2, b2, X, Y):
    """Two-layer tanh network, mean squared error."""
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - Y) ** 2)


def rosen(x):
    """Rosenbrock's function on a vector, vectorised with slices."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rnn(Wx, Wh, b, xs, h0, target):
    """Elman RNN over T steps, squared error of the final hidden state."""
    h = h0
    for t in range(T):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum((h - target) ** 2)


# ---------------------------------------------------------------- hand-written adjoints
# Value and gradient, written as an expert would in NumPy: one forward sweep that
# keeps what the backward sweep needs, products batched where the algebra allows
# (the RNN's weight gradients are one matrix product each, not T outer products),
# in-place updates where they save a temporary.  Each returns (value, gradients)
# in the order of `wrt`, which is what adc.value_and_grad returns.


def hand_logreg(w, b, X, y):
    u = -y * (X @ w + b)
    lse = np.logaddexp(0.0, u)
    s = np.exp(u - lse)  # sigmoid(u) = d lse / d u, from the value already computed
    s *= y
    c = -1.0 / len(y)
    return lse.mean(), ((s @ X) * c, s.sum() * c)


def hand_mlp(W1, b1, W2, b2, X, Y):
    h = X @ W1
    h += b1
    np.tanh(h, out=h)
    r = h @ W2
    r += b2
    r -= Y
    value = np.vdot(r, r) / r.size
    r *= 2.0 / r.size  # now the adjoint of `out`
    ga = r @ W2.T
    d = h * h
    np.subtract(1.0, d, out=d)
    ga *= d  # adjoint of X @ W1 + b1
    return value, (X.T @ ga, ga.sum(axis=0), h.T @ r, r.sum(axis=0))


def hand_rosen(x):
    a = x[:-1]
    d = x[1:] - a * a
    u = 1.0 - a
    value = 100.0 * (d @ d) + u @ u
    t = 200.0 * d
    g = np.empty_like(x)
    np.multiply(a, t, out=g[:-1])
    g[:-1] += u
    g[:-1] *= -2.0
    g[-1] = 0.0
    g[1:] += t
    return value, (g,)


def hand_rosen_plain(x):
    """Rosenbrock's adjoint in the function's own terms (the same np.sum of the same
    expressions), written as a careful person would without restructuring the algebra."""
    a = x[:-1]
    d = x[1:] - a ** 2
    u = 1.0 - a
    value = np.sum(100.0 * d ** 2 + u ** 2)
    t = 200.0 * d
    g = np.zeros_like(x)
    g[1:] = t
    g[:-1] -= 2.0 * a * t + 2.0 * u
    return value, (g,)


def hand_rnn(Wx, Wh, b, xs, h0, target):
    A = xs @ Wx  # the input terms of every step in one product
    A += b
    H = np.empty((T + 1, h0.shape[0]))
    H[0] = h0
    for t in range(T):
        a = H[t] @ Wh
        a += A[t]
        np.tanh(a, out=H[t + 1])
    r = H[T] - target
    D = H[1:] * H[1:]
    np.subtract(1.0, D, out=D)  # tanh' of every step
    G = np.empty_like(A)  # adjoints of the pre-activations
    g = 2.0 * r
    for t in range(T - 1, 0, -1):
        np.multiply(g, D[t], out=G[t])
        g = Wh @ G[t]
    np.multiply(g, D[0], out=G[0])
    return r @ r, (xs.T @ G, H[:-1].T @ G, G.sum(axis=0))


def hand_rnn_steps(Wx, Wh, b, xs, h0, target):
    """The RNN's adjoint written in the loop's own order: states kept in the forward
    loop, one step's adjoint per backward iteration (what the generated code does)."""
    hs = [h0]
    for t in range(T):
        hs.append(np.tanh(xs[t] @ Wx + hs[-1] @ Wh + b))
    r = hs[-1] - target
    g = 2.0 * r
    gWx, gWh, gb = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    for t in range(T - 1, -1, -1):
        a = g * (1.0 - hs[t + 1] * hs[t + 1])
        gWx += np.outer(xs[t], a)
        gWh += np.outer(hs[t], a)
        gb += a
        g = Wh @ a
    return r @ r, (gWx, gWh, gb)


# ---------------------------------------------------------------- the workloads


def make_logreg(rng: np.random.Generator, tiny: bool) -> tuple:
    n, d = (7, 3) if tiny else (1000, 50)
    X = rng.standard_normal((n, d))
    y = np.where(X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n) > 0, 1.0, -1.0)
    return 0.3 * rng.standard_normal(d), 0.1, X, y


def make_mlp(rng: np.random.Generator, tiny: bool) -> tuple:
    n, d, k, m = (5, 6, 4, 3) if tiny else (256, 784, 128, 10)
    return (rng.standard_normal((d, k)) / math.sqrt(d), 0.1 * rng.standard_normal(k),
            rng.standard_normal((k, m)) / math.sqrt(k), 0.1 * rng.standard_normal(m),
            rng.standard_normal((n, d)), rng.standard_normal((n, m)))


def make_rosen(rng: np.random.Generator, tiny: bool) -> tuple:
    return (rng.uniform(-2.0, 2.0, 6 if tiny else 1000),)


def make_rnn(rng: np.random.Generator, tiny: bool) -> tuple:
    d, k = (2, 3) if tiny else (16, 32)  # T is fixed: it is the loss's own constant
    return (rng.standard_normal((d, k)) / math.sqrt(d),
            0.5 * rng.standard_normal((k, k)) / math.sqrt(k), 0.1 * rng.standard_normal(k),
            rng.standard_normal((T, d)), np.zeros(k), rng.uniform(-0.5, 0.5, k))


@dataclass
class Workload:
    key: str  # short name, used in the summary and the chart
    title: str
    fn: Callable
    hand: Callable
    wrt: tuple[str, ...]
    make: Callable[[np.random.Generator, bool], tuple]  # arguments; tiny=True for the checks
    tiny: str  # what the tiny instance is

    @property
    def argnums(self) -> tuple[int, ...]:
        names = self.fn.__code__.co_varnames[:self.fn.__code__.co_argcount]
        return tuple(names.index(w) for w in self.wrt)


WORKLOADS = [
    Workload("logreg", "logreg: mean BCE via logaddexp, X 1000x50, grad w.r.t. (w, b)",
             logreg, hand_logreg, ("w", "b"), make_logreg, "X 7x3"),
    Workload("mlp", "mlp: tanh MLP 784-128-10, squared loss, batch 256, "
             "grad w.r.t. (W1, b1, W2, b2)",
             mlp, hand_mlp, ("W1", "b1", "W2", "b2"), make_mlp, "X 5x6, 6-4-3"),
    Workload("rosen", "rosen: Rosenbrock with x[1:], x[:-1], n = 1000, grad w.r.t. x",
             rosen, hand_rosen, ("x",), make_rosen, "n = 6"),
    Workload("rosen-plain", "rosen-plain: the same Rosenbrock against a hand adjoint in the "
             "function's own terms (np.sum of the same expressions, no dot products)",
             rosen, hand_rosen_plain, ("x",), make_rosen, "n = 6"),
    Workload("rnn", f"rnn: tanh RNN, for-loop of T = {T}, input 16, hidden 32, "
             "grad w.r.t. (Wx, Wh, b)",
             rnn, hand_rnn, ("Wx", "Wh", "b"), make_rnn, "input 2, hidden 3"),
    Workload("rnn-steps", "rnn-steps: the same RNN against a step-by-step hand adjoint "
             "(states kept, one outer product per step)",
             rnn, hand_rnn_steps, ("Wx", "Wh", "b"), make_rnn, "input 2, hidden 3"),
]


# ---------------------------------------------------------------- 1. checks of the hand-written adjoints


def as_arrays(grads: Any) -> list[np.ndarray]:
    """A gradient tuple of any tool as float64 NumPy arrays."""
    out = []
    for g in grads:
        if hasattr(g, "detach"):  # torch
            g = g.detach().numpy()
        out.append(np.asarray(g, dtype=np.float64))
    return out


def shifted(args: tuple, argnums: tuple[int, ...], steps: list[np.ndarray]) -> list:
    out = list(args)
    for k, s in zip(argnums, steps):
        out[k] = args[k] + (s if np.ndim(args[k]) else float(s))
    return out


def central_differences(fn: Callable, args: tuple, argnums: tuple[int, ...],
                        eps: float = 1e-6) -> list[np.ndarray]:
    """Every partial derivative w.r.t. the `argnums` arguments, by central differences."""
    grads = []
    for k in argnums:
        base = np.asarray(args[k], dtype=np.float64)
        g = np.empty(base.shape)
        for j in np.ndindex(base.shape):
            hi, lo = list(args), list(args)
            hi[k], lo[k] = base.copy(), base.copy()
            hi[k][j] += eps
            lo[k][j] -= eps
            if not np.ndim(args[k]):
                hi[k], lo[k] = float(hi[k]), float(lo[k])
            g[j] = (fn(*hi) - fn(*lo)) / (2 * eps)
        grads.append(g)
    return grads


def check_hand(w: Workload, args: tuple, directions: int) -> tuple[str, str]:
    """Assert the hand-written adjoint against the loss: value exactly, the gradient
    against central differences on a tiny instance and against `directions` random
    directional derivatives at the benchmark size.  Returns the largest errors."""
    rng = np.random.default_rng(7)
    tiny = w.make(rng, True)
    value, grads = w.hand(*tiny)
    np.testing.assert_allclose(value, w.fn(*tiny), rtol=1e-12,
                               err_msg=f"{w.key}: hand-written value, tiny instance")
    want = central_differences(w.fn, tiny, w.argnums)
    cd_err = 0.0
    for name, got, ref in zip(w.wrt, as_arrays(grads), want):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8,
                                   err_msg=f"{w.key}: hand-written d/d{name} vs central "
                                           f"differences, tiny instance")
        cd_err = max(cd_err, float(np.max(np.abs(got - ref))))

    value, grads = w.hand(*args)
    np.testing.assert_allclose(value, w.fn(*args), rtol=1e-12,
                               err_msg=f"{w.key}: hand-written value, benchmark size")
    grads = as_arrays(grads)
    dd_err, eps = 0.0, 1e-6
    for _ in range(directions):
        steps = [rng.standard_normal(np.shape(args[k])) for k in w.argnums]
        norm = math.sqrt(sum(float(np.sum(s * s)) for s in steps))
        steps = [s / norm for s in steps]
        exact = sum(float(np.sum(g * s)) for g, s in zip(grads, steps))
        fd = (w.fn(*shifted(args, w.argnums, [eps * s for s in steps]))
              - w.fn(*shifted(args, w.argnums, [-eps * s for s in steps]))) / (2 * eps)
        np.testing.assert_allclose(exact, fd, rtol=1e-5, atol=1e-7 * max(1.0, abs(value)),
                                   err_msg=f"{w.key}: hand-written directional derivative")
        dd_err = max(dd_err, abs(exact - fd) / max(1.0, abs(exact)))
    return f"max abs err {cd_err:.1e}", f"max rel err {dd_err:.1e}"


def bench_checks(args_of: dict[str, tuple], ok: dict[str, bool], directions: int) -> str:
    rows, failures = [], []
    for w in WORKLOADS:
        try:
            cd, dd = check_hand(w, args_of[w.key], directions)
        except Exception as exc:  # a wrong hand-written adjoint: skip the workload
            ok[w.key] = False
            rows.append([w.key, w.tiny, "FAILED", "", "FAIL"])
            failures.append(f"{w.key}: {first_lines(exc, 12)}")
            continue
        ok[w.key] = True
        rows.append([w.key, w.tiny, cd, f"{directions} directions: {dd}", "PASS"])
    return "\n".join([table(["workload", "tiny instance", "hand vs central differences",
                             "benchmark size: hand vs directional derivatives", "result"],
                            rows, right=set()), *failures])


# ---------------------------------------------------------------- 2. the tools


def first_lines(exc: BaseException, n: int = 8) -> str:
    lines = f"{type(exc).__name__}: {exc}".strip().splitlines() or [type(exc).__name__]
    text = "\n    ".join(line.rstrip() for line in lines[:n])
    return text + ("\n    ..." if len(lines) > n else "")


def rebind_np(fn: Callable, namespace: Any) -> Callable:
    """The same code object as `fn`, with the global name `np` bound to `namespace`."""
    env = dict(fn.__globals__)
    env["np"] = namespace
    return types.FunctionType(fn.__code__, env, fn.__name__)


@dataclass
class Tool:
    name: str
    # prepare(workload, args) -> (gradient function, its arguments); the call
    # fn(*its arguments) returns the gradients in the order of `wrt`
    prepare: Callable[[Workload, tuple], tuple[Callable, tuple]]
    block: Callable | None = None  # applied to each call's result (JAX: block_until_ready)


def tool_ad_compiler(w: Workload, args: tuple) -> tuple[Callable, tuple]:
    vg = adc.value_and_grad(w.fn, wrt=w.wrt)
    return vg, args


def load_autograd() -> tuple[str, list[Tool]]:
    import autograd
    import autograd.numpy as anp

    def prepare(w: Workload, args: tuple) -> tuple[Callable, tuple]:
        return autograd.grad(rebind_np(w.fn, anp), w.argnums), args

    return f"autograd {_version('autograd')}", [Tool("autograd.grad", prepare)]


def load_jax() -> tuple[str, list[Tool]]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def plain(w: Workload, args: tuple) -> tuple[Callable, tuple]:
        return (jax.grad(rebind_np(w.fn, jnp), argnums=w.argnums),
                tuple(jnp.asarray(a) for a in args))

    def jitted(w: Workload, args: tuple) -> tuple[Callable, tuple]:
        g, jargs = plain(w, args)
        g = jax.jit(g)
        jax.block_until_ready(g(*jargs))  # compile before timing
        return g, jargs

    return (f"jax {jax.__version__} ({jax.default_backend()}, float64)",
            [Tool("jax.grad", plain, jax.block_until_ready),
             Tool("jax.jit(jax.grad)", jitted, jax.block_until_ready)])


def load_torch() -> tuple[str, list[Tool]]:
    import torch

    # `np` for the torch peer: torch's own functions, and logaddexp taking a float
    tnp = types.SimpleNamespace(**{k: getattr(torch, k) for k in dir(torch)
                                   if not k.startswith("_")})
    tnp.logaddexp = lambda a, b: torch.logaddexp(torch.as_tensor(a, dtype=torch.float64), b)

    def prepare(w: Workload, args: tuple) -> tuple[Callable, tuple]:
        tfn = rebind_np(w.fn, tnp)
        targs = [torch.tensor(a, dtype=torch.float64) for a in args]
        leaves = [targs[k].requires_grad_() for k in w.argnums]

        def grad(*targs: Any) -> tuple:
            # forward and backward; parameters are leaf tensors held by the caller
            return torch.autograd.grad(tfn(*targs), leaves)

        return grad, tuple(targs)

    return (f"torch {torch.__version__} ({torch.get_num_threads()} threads, float64)",
            [Tool("torch.autograd.grad", prepare)])


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "?"


def load_peers(no_peers: bool) -> tuple[list[Tool], list[str]]:
    if no_peers:
        return [], ["peers: skipped (--no-peers)"]
    tools, notes = [], []
    for label, loader in (("autograd", load_autograd), ("jax", load_jax), ("torch", load_torch)):
        try:
            what, found = loader()
        except ImportError as exc:
            notes.append(f"{label}: not installed, skipped ({exc.name or exc})")
            continue
        except Exception as exc:  # a broken install must not stop the benchmark
            notes.append(f"{label}: failed to load, skipped ({first_lines(exc, 1)})")
            continue
        tools.extend(found)
        notes.append(f"{label}: {what}")
    return tools, notes


# ---------------------------------------------------------------- 2. gradient calls

OURS = "ad_compiler"


def fmt_us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:,.1f}"


def check_against_hand(w: Workload, name: str, got: Any, want: tuple) -> None:
    got = as_arrays(got)
    if len(got) != len(want):
        raise AssertionError(f"{len(got)} gradients, expected {len(want)}")
    for wrt, g, h in zip(w.wrt, got, as_arrays(want)):
        np.testing.assert_allclose(g, h, rtol=1e-8, atol=1e-12,
                                   err_msg=f"{name} d/d{wrt} vs the hand-written adjoint")


def bench_workload(w: Workload, args: tuple, tools: list[Tool], budget: float,
                   repeats: int) -> tuple[str, dict[str, float]]:
    """One block of text for `w`, and seconds per call of each tool that ran."""
    value, want = w.hand(*args)
    timers = {"primal (the loss)": make_timer(w.fn, args), "hand-written": make_timer(w.hand, args)}
    notes = []
    ours = Tool(OURS, tool_ad_compiler)
    for tool in [ours, *tools]:
        try:
            g, targs = tool.prepare(w, args)
            got = g(*targs)
            if tool is ours:  # value_and_grad: check the value too
                np.testing.assert_allclose(got[0], value, rtol=1e-10,
                                           err_msg=f"{OURS} value vs the hand-written one")
                got = got[1]
            check_against_hand(w, tool.name, got, want)
        except Exception as exc:  # not supported (yet), or wrong: report and go on
            notes.append(f"{tool.name}: failed: {first_lines(exc)}")
            continue
        timers[tool.name] = make_timer(g, targs, tool.block)
    times = time_interleaved(timers, budget, repeats)
    hand = times["hand-written"]
    rows = [[name, fmt_us(t), "" if name.startswith("primal") else f"{t / hand:.2f}"]
            for name, t in times.items()]
    for tool in [ours, *tools]:
        if tool.name not in times:
            rows.append([tool.name, "-", "-"])
    text = w.title + "\n" + table(["tool", "us/call", "x hand"], rows)
    if notes:
        text += "\n" + "\n".join(notes)
    return text, times


def bench_calls(args_of: dict[str, tuple], ok: dict[str, bool], tools: list[Tool],
                notes: list[str], budget: float, repeats: int,
                results: dict[str, dict[str, float]]) -> str:
    blocks = ["\n".join(notes)] if notes else []
    for w in WORKLOADS:
        if not ok.get(w.key):
            blocks.append(f"{w.title}\nskipped: the hand-written adjoint failed its check")
            continue
        try:
            text, times = bench_workload(w, args_of[w.key], tools, budget, repeats)
        except Exception as exc:  # report the workload and go on with the others
            blocks.append(f"{w.title}\nFAILED: {first_lines(exc)}")
            ok[w.key] = False
            continue
        results[w.key] = times
        blocks.append(text)
    return "\n\n".join(blocks)


# ---------------------------------------------------------------- 4. a new input signature


def bench_first_calls(args_of: dict[str, tuple], ok: dict[str, bool], repeats: int) -> str:
    """What a gradient costs before it runs at full speed: building it (cold cache), its
    first call with these input shapes (probe run, specialisation, compile, check), and
    the call after it; minimum over `repeats` cold starts, once per loss."""
    from ad_compiler import cache

    rows, seen = [], set()
    for w in WORKLOADS:
        if w.fn in seen or not ok.get(w.key):
            continue
        seen.add(w.fn)
        args = args_of[w.key]
        build = first = later = math.inf
        for _ in range(repeats):
            cache.clear()
            t0 = time.perf_counter()
            g = adc.value_and_grad(w.fn, wrt=w.wrt)
            t1 = time.perf_counter()
            g(*args)
            t2 = time.perf_counter()
            g(*args)
            t3 = time.perf_counter()
            build, first, later = min(build, t1 - t0), min(first, t2 - t1), min(later, t3 - t2)
        what = ", ".join(sorted(set(getattr(g, "specializations", {}).values()))) or "generic"
        rows.append([w.fn.__name__, f"{build * 1e3:.1f}", f"{first * 1e3:.1f}",
                     fmt_us(later), what])
    return table(["loss", "build ms", "first call ms", "later call us", "what runs"], rows)


# ---------------------------------------------------------------- 3. summary and chart


def tool_names(tools: list[Tool]) -> list[str]:
    return [OURS, *(t.name for t in tools)]


def ratios(results: dict[str, dict[str, float]], names: list[str]) -> dict[str, dict[str, float]]:
    return {key: {n: times[n] / times["hand-written"] for n in names if n in times}
            for key, times in results.items()}


def summary(results: dict[str, dict[str, float]], names: list[str]) -> str:
    if not results:
        return "nothing was timed"
    r = ratios(results, names)
    rows = [[key, fmt_us(times["hand-written"]),
             *(f"{r[key][n]:.2f}" if n in r[key] else "-" for n in names)]
            for key, times in results.items()]
    return (table(["workload", "hand us", *names], rows)
            + "\n(time per gradient call / that of the hand-written adjoint; '-': failed or "
              "not installed)")


PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#98df8a", "#ff7f0e", "#9467bd", "#8c564b"]


def svg_chart(results: dict[str, dict[str, float]], names: list[str], subtitle: str) -> str:
    """A grouped bar chart, log scale, of the time per gradient call relative to the
    hand-written adjoint: one group per workload, one bar per tool."""
    r = ratios(results, names)
    keys = list(r) or ["(none)"]
    values = [v for per in r.values() for v in per.values()] + [1.0]
    lo = 10.0 ** math.floor(math.log10(min(values) / 1.5))
    hi = 10.0 ** math.ceil(math.log10(max(values) * 1.05))
    if hi / lo < 100:
        hi = lo * 100
    width, height = 820, 440
    left, right, top, bottom = 70, 190, 60, 50
    plot_w, plot_h = width - left - right, height - top - bottom

    def y_of(v: float) -> float:
        return top + plot_h * (1 - math.log10(v / lo) / math.log10(hi / lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="24" font-size="16" font-weight="bold">Time per gradient '
           f'call relative to a hand-written NumPy adjoint</text>',
           f'<text x="{left}" y="42" fill="#555">log scale, lower is faster; '
           f'{escape(subtitle)}</text>']
    decade = lo
    while decade <= hi * 1.0001:
        for mult in (1, 2, 5):
            v = decade * mult
            if v > hi * 1.0001:
                break
            y = y_of(v)
            major = mult == 1
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                       f'stroke="{"#ccc" if major else "#eee"}"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                       f'fill="{"#333" if major else "#999"}">{v:g}x</text>')
        decade *= 10
    group_w = plot_w / len(keys)
    bar_w = min(28.0, group_w * 0.8 / max(1, len(names)))
    for gi, key in enumerate(keys):
        x0 = left + gi * group_w + (group_w - bar_w * len(names)) / 2
        for ti, name in enumerate(names):
            x = x0 + ti * bar_w
            v = r.get(key, {}).get(name)
            if v is None:
                out.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - 4}" '
                           f'text-anchor="middle" font-size="9" fill="#999">n/a</text>')
                continue
            y = y_of(v)
            out.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" '
                       f'height="{top + plot_h - y:.1f}" fill="{PALETTE[ti % len(PALETTE)]}">'
                       f'<title>{escape(key)}, {escape(name)}: {v:.2f}x hand-written</title></rect>')
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                       f'font-size="9">{v:.3g}</text>')
        out.append(f'<text x="{left + (gi + 0.5) * group_w:.1f}" y="{top + plot_h + 20}" '
                   f'text-anchor="middle" font-size="13">{escape(key)}</text>')
    y1 = y_of(1.0)
    out.append(f'<line x1="{left}" y1="{y1:.1f}" x2="{left + plot_w}" y2="{y1:.1f}" '
               f'stroke="black" stroke-dasharray="5,3"/>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
               f'stroke="#333"/>')
    lx = left + plot_w + 16
    for ti, name in enumerate(names):
        ly = top + 10 + ti * 20
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="12" height="12" '
                   f'fill="{PALETTE[ti % len(PALETTE)]}"/>')
        out.append(f'<text x="{lx + 18}" y="{ly + 1}">{escape(name)}</text>')
    ly = top + 10 + len(names) * 20
    out.append(f'<line x1="{lx}" y1="{ly - 3}" x2="{lx + 12}" y2="{ly - 3}" stroke="black" '
               f'stroke-dasharray="5,3"/>')
    out.append(f'<text x="{lx + 18}" y="{ly + 1}">hand-written = 1</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run")
    parser.add_argument("--no-peers", action="store_true", help="skip autograd, JAX and PyTorch")
    parser.add_argument("--svg", metavar="PATH", help="write a bar chart of the ratios to PATH")
    args = parser.parse_args(argv)

    if args.quick:
        budget, repeats, directions = 0.01, 3, 3
    else:
        budget, repeats, directions = 0.2, 9, 10

    report = Report(args.quick)
    rng = np.random.default_rng(0)
    args_of = {w.key: w.make(rng, False) for w in WORKLOADS}
    ok: dict[str, bool] = {}
    report.section("1. Hand-written adjoints (value and gradient), checked before timing",
                   lambda: bench_checks(args_of, ok, directions))
    report.failed = report.failed or not all(ok.get(w.key) for w in WORKLOADS)
    tools, notes = load_peers(args.no_peers)
    results: dict[str, dict[str, float]] = {}
    report.section("2. Time per gradient call (us, min of repeats; x hand = ratio to the "
                   "hand-written adjoint)",
                   lambda: bench_calls(args_of, ok, tools, notes, budget, repeats, results))
    names = tool_names(tools)
    report.section("3. Summary: time per gradient call relative to the hand-written adjoint",
                   lambda: summary(results, names))
    report.section("4. A new input signature: build, first call (probe, specialise, "
                   "compile, check), the call after",
                   lambda: bench_first_calls(args_of, ok, 2 if args.quick else 5))
    if args.svg:
        def write_svg() -> str:
            with open(args.svg, "w", encoding="utf-8") as f:
                f.write(svg_chart(results, names, header(args.quick)))
            return f"wrote {args.svg}"

        report.section("Chart", write_svg)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
