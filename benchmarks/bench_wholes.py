"""Whole-derivative benchmarks for ad_compiler: Jacobians, a Hessian, and gradients of
array code, against hand-written derivatives and the peers that are installed.

Run from the repository root::

    python benchmarks/bench_wholes.py             # full run, about a minute
    python benchmarks/bench_wholes.py --quick     # smoke run, noisy figures
    python benchmarks/bench_wholes.py --no-peers  # skip autograd / JAX / PyTorch
    python benchmarks/bench_wholes.py --only jacobian-fwd --only mlp   # some rows

Six workloads, each written as a user writes it with ``import numpy as np``:

1. the Jacobian of ``np.tanh(A @ x + c) * x``, 100 -> 100, in forward mode,
2. the same Jacobian in reverse mode,
3. the Hessian of a logistic regression loss, X 1000 x 50, with respect to w,
4. the gradient of a Lennard-Jones energy of 64 particles (broadcast pairwise
   distances),
5. the gradient of an RNN loss, 50 steps of hidden size 32, ``for x in xs``,
6. the gradient of a 10-32-1 tanh MLP on a batch of 8 (small arrays: overhead).

Each has a derivative written by hand in NumPy, checked against central differences
before anything is timed.  ad_compiler (``adc.jacobian``, ``adc.hessian``,
``adc.grad``) and each peer (``jax.jit`` of jacfwd / jacrev / hessian / grad,
``torch.func`` / ``torch.autograd.grad``, autograd) are checked against the
hand-written result, then timed interleaved with it; the table gives each one's time
over the hand-written one's, ad_compiler's target and PASS/MISS, and ad_compiler's
ratio over jax.jit's.  A tool that fails is reported and the run goes on; the script
always exits 0.  See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import ad_compiler as adc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import header, make_timer, table, time_interleaved, verdict  # noqa: E402

OURS = "ad_compiler"


# ---------------------------------------------------------------- the functions


def layer(x, A, c):
    """A gated tanh layer, R^n -> R^n."""
    return np.tanh(A @ x + c) * x


def logistic_loss(w, X, y):
    """Mean negative log-likelihood of a logistic regression, labels in {-1, +1}."""
    n = X.shape[0]
    margins = y * (X @ w)
    return np.sum(np.logaddexp(0.0, -margins)) / n


def lennard_jones(R):
    """Lennard-Jones energy (epsilon = sigma = 1) of particles at the rows of R."""
    d = R[:, None, :] - R[None, :, :]
    r2 = np.sum(d ** 2, axis=-1) + np.eye(R.shape[0])  # 1 on the diagonal: no 1/0
    inv6 = 1.0 / r2 ** 3
    pair = 4.0 * (inv6 ** 2 - inv6)
    return 0.5 * np.sum(pair * (1.0 - np.eye(R.shape[0])))


def rnn_loss(Wx, Wh, b, xs, h0, target):
    """Elman RNN over the rows of xs, squared error of the final state."""
    h = h0
    for x in xs:
        h = np.tanh(x @ Wx + h @ Wh + b)
    return np.sum((h - target) ** 2)


def gru_loss(Wz, Uz, bz, Wr, Ur, br, Wh, Uh, bh, xs, h0, target):
    """A GRU over the rows of xs, squared error of the final state."""
    h = h0
    for x in xs:
        z = 1.0 / (1.0 + np.exp(-(x @ Wz + h @ Uz + bz)))
        r = 1.0 / (1.0 + np.exp(-(x @ Wr + h @ Ur + br)))
        hh = np.tanh(x @ Wh + (r * h) @ Uh + bh)
        h = (1.0 - z) * h + z * hh
    return np.mean((h - target) ** 2)


def mlp_loss(W1, b1, W2, b2, X, y):
    """Mean squared error of a one-hidden-layer tanh network."""
    h = np.tanh(X @ W1 + b1)
    return np.mean((h @ W2 + b2 - y) ** 2)


# ---------------------------------------------------------------- hand-written derivatives


def hand_layer_jacobian(x, A, c):
    t = np.tanh(A @ x + c)
    J = A * ((1.0 - t * t) * x)[:, None]
    J.flat[:: len(x) + 1] += t
    return J


def hand_logistic_gradient(w, X, y):
    u = -y * (X @ w)
    return X.T @ (-y / (1.0 + np.exp(-u))) / X.shape[0]


def hand_logistic_hessian(w, X, y):
    u = -y * (X @ w)
    s = 1.0 / (1.0 + np.exp(-u))
    weights = (y * y / X.shape[0]) * s * (1.0 - s)
    return (X.T * weights) @ X


def hand_lennard_jones_gradient(R):
    d = R[:, None, :] - R[None, :, :]
    eye = np.eye(R.shape[0])
    r2 = np.einsum("ijk,ijk->ij", d, d) + eye
    inv6 = 1.0 / (r2 * r2 * r2)
    dpair = (1.0 - eye) * (4.0 * (3.0 * inv6 - 6.0 * inv6 * inv6) / r2)  # d pair / d r2
    return 2.0 * np.einsum("ij,ijk->ik", dpair, d)  # both halves of the symmetric sum


def hand_rnn_gradient(Wx, Wh, b, xs, h0, target):
    steps = len(xs)
    A = xs @ Wx  # the input terms of every step in one product
    A += b
    H = np.empty((steps + 1, h0.shape[0]))
    H[0] = h0
    for t in range(steps):
        a = H[t] @ Wh
        a += A[t]
        np.tanh(a, out=H[t + 1])
    D = 1.0 - H[1:] * H[1:]
    G = np.empty_like(A)  # adjoints of the pre-activations, one row per step
    g = 2.0 * (H[steps] - target)
    for t in range(steps - 1, 0, -1):
        np.multiply(g, D[t], out=G[t])
        g = Wh @ G[t]
    np.multiply(g, D[0], out=G[0])
    return xs.T @ G, H[:-1].T @ G, G.sum(axis=0)


def hand_gru_gradient(Wz, Uz, bz, Wr, Ur, br, Wh, Uh, bh, xs, h0, target):
    steps = len(xs)
    Az, Ar, Ah = xs @ Wz + bz, xs @ Wr + br, xs @ Wh + bh  # input terms of every step
    H, Z, R, HH = [h0], [], [], []  # the gates of each step, kept for the way back
    h = h0
    for t in range(steps):
        z = 1.0 / (1.0 + np.exp(-(Az[t] + h @ Uz)))
        r = 1.0 / (1.0 + np.exp(-(Ar[t] + h @ Ur)))
        hh = np.tanh(Ah[t] + (r * h) @ Uh)
        h = (1.0 - z) * h + z * hh
        Z.append(z)
        R.append(r)
        HH.append(hh)
        H.append(h)
    g = 2.0 * (h - target) / h.size
    Gz, Gr, Gh, RH = [], [], [], []
    for t in range(steps - 1, -1, -1):
        z, r, hh, hp = Z[t], R[t], HH[t], H[t]
        ghh = g * z * (1.0 - hh * hh)
        gz = g * (hh - hp) * z * (1.0 - z)
        grh = Uh @ ghh
        gr = grh * hp * r * (1.0 - r)
        g = g * (1.0 - z) + grh * r + Uz @ gz + Ur @ gr
        Gz.append(gz)
        Gr.append(gr)
        Gh.append(ghh)
        RH.append(r * hp)
    Gz, Gr, Gh = np.array(Gz[::-1]), np.array(Gr[::-1]), np.array(Gh[::-1])
    Hp, RH = np.array(H[:-1]), np.array(RH[::-1])
    return (xs.T @ Gz, Hp.T @ Gz, Gz.sum(axis=0), xs.T @ Gr, Hp.T @ Gr, Gr.sum(axis=0),
            xs.T @ Gh, RH.T @ Gh, Gh.sum(axis=0))


def hand_mlp_gradient(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    g = (2.0 / y.size) * (h @ W2 + b2 - y)
    gz = (g @ W2.T) * (1.0 - h * h)
    return X.T @ gz, gz.sum(axis=0), h.T @ g, g.sum(axis=0)


# ---------------------------------------------------------------- the workloads


@dataclass
class Whole:
    key: str
    title: str
    fn: Callable
    hand: Callable
    kind: str  # jacfwd, jacrev, hessian or grad
    argnums: tuple[int, ...]
    target: float
    make: Callable[[np.random.Generator], tuple]


def make_layer(rng: np.random.Generator) -> tuple:
    n = 100
    return rng.normal(size=n), rng.normal(size=(n, n)) / np.sqrt(n), rng.normal(size=n)


def make_logistic(rng: np.random.Generator) -> tuple:
    X = rng.normal(size=(1000, 50))
    w_true = rng.normal(size=50) * 0.3
    y = np.where(X @ w_true + rng.normal(size=1000) > 0, 1.0, -1.0)
    return rng.normal(size=50) * 0.1, X, y


def make_particles(rng: np.random.Generator) -> tuple:
    grid = np.stack(np.meshgrid(*[np.arange(4.0)] * 3, indexing="ij"), -1).reshape(-1, 3)
    return (1.12 * grid + 0.05 * rng.normal(size=grid.shape),)


def make_rnn(rng: np.random.Generator) -> tuple:
    steps, inputs, hidden = 50, 16, 32
    return (rng.normal(size=(inputs, hidden)) * 0.3, rng.normal(size=(hidden, hidden)) * 0.15,
            rng.normal(size=hidden) * 0.1, rng.normal(size=(steps, inputs)),
            np.zeros(hidden), rng.normal(size=hidden) * 0.5)


def make_gru(rng: np.random.Generator) -> tuple:
    steps, inputs, hidden = 30, 8, 16
    gates = []
    for _ in range(3):
        gates += [rng.normal(size=(inputs, hidden)) * 0.3, rng.normal(size=(hidden, hidden)) * 0.3,
                  rng.normal(size=hidden) * 0.1]
    return (*gates, rng.normal(size=(steps, inputs)), np.zeros(hidden),
            rng.normal(size=hidden) * 0.5)


def make_mlp(rng: np.random.Generator) -> tuple:
    return (rng.normal(size=(10, 32)) * 0.3, rng.normal(size=32) * 0.1,
            rng.normal(size=(32, 1)) * 0.3, rng.normal(size=1) * 0.1,
            rng.normal(size=(8, 10)), rng.normal(size=(8, 1)))


WORKLOADS = [
    Whole("jacobian-fwd", "Jacobian of np.tanh(A @ x + c) * x, 100 -> 100, forward", layer,
          hand_layer_jacobian, "jacfwd", (0,), 3.0, make_layer),
    Whole("jacobian-rev", "the same Jacobian, reverse", layer, hand_layer_jacobian, "jacrev",
          (0,), 3.0, make_layer),
    Whole("logistic-hessian", "Hessian of logistic regression, 1000 x 50, w.r.t. w",
          logistic_loss, hand_logistic_hessian, "hessian", (0,), 2.0, make_logistic),
    Whole("lennard-jones", "gradient of a Lennard-Jones energy, 64 particles",
          lennard_jones, hand_lennard_jones_gradient, "grad", (0,), 1.3, make_particles),
    Whole("rnn", "gradient of an RNN, 50 steps, hidden 32, for x in xs", rnn_loss,
          hand_rnn_gradient, "grad", (0, 1, 2), 1.3, make_rnn),
    Whole("gru", "gradient of a GRU, 30 steps, hidden 16, hand adjoint keeping the gates",
          gru_loss, hand_gru_gradient, "grad", tuple(range(9)), 1.3, make_gru),
    Whole("mlp", "gradient of an MLP 10-32-1, batch 8", mlp_loss, hand_mlp_gradient, "grad",
          (0, 1, 2, 3), 1.2, make_mlp),
]


# ---------------------------------------------------------------- checks


def _moved(args: tuple, k: int, step: np.ndarray) -> tuple:
    return args[:k] + (args[k] + step,) + args[k + 1:]


def _difference(fn: Callable, args: tuple, k: int, direction: np.ndarray,
                eps: float = 1e-6) -> np.ndarray:
    """Central difference of fn along `direction` in argument k."""
    return (np.asarray(fn(*_moved(args, k, eps * direction)))
            - np.asarray(fn(*_moved(args, k, -eps * direction)))) / (2 * eps)


def check_hand(w: Whole, args: tuple, directions: int) -> float:
    """Largest relative error of the hand-written derivative against central differences
    (of the function; for the Hessian, of the hand-written gradient, itself checked)."""
    rng = np.random.default_rng(1)
    want = w.hand(*args)
    worst = 0.0

    def compare(numeric: Any, exact: Any) -> None:
        nonlocal worst
        err = np.max(np.abs(np.asarray(numeric) - exact)) / max(1.0, np.max(np.abs(exact)))
        worst = max(worst, float(err))

    if w.kind in ("jacfwd", "jacrev"):
        x = args[0]
        numeric = np.stack([_difference(w.fn, args, 0, e) for e in np.eye(x.size)], axis=-1)
        compare(numeric, want)
    elif w.kind == "hessian":
        for _ in range(directions):
            d = rng.normal(size=args[0].shape)
            compare(_difference(w.fn, args, 0, d), hand_logistic_gradient(*args) @ d)
            compare(_difference(hand_logistic_gradient, args, 0, d), want @ d)
    else:
        grads = want if isinstance(want, tuple) else (want,)
        for k, g in zip(w.argnums, grads):
            for _ in range(directions):
                d = rng.normal(size=args[k].shape)
                compare(_difference(w.fn, args, k, d), np.sum(g * d))
    return worst


def as_arrays(result: Any) -> list[np.ndarray]:
    items = result if isinstance(result, (tuple, list)) else (result,)
    out = []
    for v in items:
        if hasattr(v, "detach"):  # a torch tensor
            v = v.detach().numpy()
        out.append(np.asarray(v, dtype=float))
    return out


def check_result(name: str, got: Any, want: Any) -> None:
    got, want = as_arrays(got), as_arrays(want)
    if len(got) != len(want):
        raise AssertionError(f"{name}: {len(got)} results, expected {len(want)}")
    for g, h in zip(got, want):
        np.testing.assert_allclose(g, h, rtol=1e-8, atol=1e-11,
                                   err_msg=f"{name} vs the hand-written derivative")


# ---------------------------------------------------------------- the tools


@dataclass
class Tool:
    name: str
    # prepare(workload, args) -> (derivative function, its arguments)
    prepare: Callable[[Whole, tuple], tuple[Callable, tuple]]
    block: Callable | None = None


def ours(w: Whole, args: tuple) -> tuple[Callable, tuple]:
    if w.kind == "jacfwd":
        return adc.jacobian(w.fn, wrt=0, mode="forward"), args
    if w.kind == "jacrev":
        return adc.jacobian(w.fn, wrt=0, mode="reverse"), args
    if w.kind == "hessian":
        return adc.hessian(w.fn, wrt=0), args
    wrt = w.argnums[0] if len(w.argnums) == 1 else w.argnums
    return adc.grad(w.fn, wrt=wrt), args


def rebind_np(fn: Callable, namespace: Any) -> Callable:
    """The same code object as `fn`, with the global name `np` bound to `namespace`."""
    env = dict(fn.__globals__)
    env["np"] = namespace
    return types.FunctionType(fn.__code__, env, fn.__name__)


def load_jax() -> list[Tool]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    transforms = {"jacfwd": jax.jacfwd, "jacrev": jax.jacrev, "hessian": jax.hessian}

    def prepare(w: Whole, args: tuple) -> tuple[Callable, tuple]:
        fn = rebind_np(w.fn, jnp)
        make = transforms.get(w.kind)
        d = make(fn) if make else jax.grad(fn, argnums=w.argnums)
        d = jax.jit(d)
        jargs = tuple(jnp.asarray(a) for a in args)
        jax.block_until_ready(d(*jargs))  # compile before timing
        return d, jargs

    return [Tool("jax.jit", prepare, jax.block_until_ready)]


def load_torch() -> list[Tool]:
    import torch
    import torch.func

    # `np` for the torch peer: torch's functions, float64 by default, logaddexp of a float
    tnp = types.SimpleNamespace(**{k: getattr(torch, k) for k in dir(torch)
                                   if not k.startswith("_")})
    tnp.logaddexp = lambda a, b: torch.logaddexp(torch.as_tensor(a, dtype=torch.float64), b)
    tnp.eye = lambda n: torch.eye(n, dtype=torch.float64)
    transforms = {"jacfwd": torch.func.jacfwd, "jacrev": torch.func.jacrev,
                  "hessian": torch.func.hessian}

    def prepare(w: Whole, args: tuple) -> tuple[Callable, tuple]:
        fn = rebind_np(w.fn, tnp)
        targs = [torch.tensor(a, dtype=torch.float64) for a in args]
        make = transforms.get(w.kind)
        if make:
            return make(fn), tuple(targs)
        leaves = [targs[k].requires_grad_() for k in w.argnums]

        def grad(*targs: Any) -> tuple:
            return torch.autograd.grad(fn(*targs), leaves)

        return grad, tuple(targs)

    return [Tool("torch", prepare)]


def load_autograd() -> list[Tool]:
    import autograd
    import autograd.numpy as anp

    def prepare(w: Whole, args: tuple) -> tuple[Callable, tuple]:
        fn = rebind_np(w.fn, anp)
        if w.kind == "jacfwd":
            raise NotImplementedError("autograd has no forward-mode Jacobian")
        if w.kind == "jacrev":
            return autograd.jacobian(fn), args
        if w.kind == "hessian":
            return autograd.hessian(fn), args
        argnum = w.argnums[0] if len(w.argnums) == 1 else w.argnums
        return autograd.grad(fn, argnum), args

    return [Tool("autograd", prepare)]


def load_peers(no_peers: bool) -> tuple[list[Tool], list[str]]:
    if no_peers:
        return [], ["peers: skipped (--no-peers)"]
    tools, notes = [], []
    for label, loader in (("jax", load_jax), ("torch", load_torch),
                          ("autograd", load_autograd)):
        try:
            tools.extend(loader())
        except ImportError as exc:
            notes.append(f"{label}: not installed, skipped ({exc.name or exc})")
        except Exception as exc:  # a broken install must not stop the benchmark
            notes.append(f"{label}: failed to load, skipped ({type(exc).__name__}: {exc})")
    return tools, notes


# ---------------------------------------------------------------- timing and report


def first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:160]


def bench_workload(w: Whole, args: tuple, tools: list[Tool], budget: float,
                   repeats: int) -> tuple[dict[str, float], list[str]]:
    """Seconds per call of the hand-written derivative and of each tool that passed."""
    want = w.hand(*args)
    timers = {"hand-written": make_timer(w.hand, args)}
    notes = []
    for tool in [Tool(OURS, ours), *tools]:
        try:
            d, targs = tool.prepare(w, args)
            check_result(tool.name, d(*targs), want)
        except Exception as exc:  # not supported, or wrong: report and go on
            notes.append(f"  {tool.name}: failed: {first_line(exc)}")
            continue
        timers[tool.name] = make_timer(d, targs, tool.block)
    return time_interleaved(timers, budget, repeats), notes


def ratio(times: dict[str, float], name: str) -> float | None:
    return times[name] / times["hand-written"] if name in times else None


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, noisy figures")
    parser.add_argument("--no-peers", action="store_true", help="skip autograd, JAX, PyTorch")
    parser.add_argument("--only", action="append", metavar="ROW",
                        choices=[w.key for w in WORKLOADS],
                        help="run this row only (repeat for several): "
                             + ", ".join(w.key for w in WORKLOADS))
    opts = parser.parse_args(argv)
    budget, repeats, directions = (0.02, 3, 2) if opts.quick else (0.2, 7, 4)
    print(header(opts.quick))
    tools, notes = load_peers(opts.no_peers)
    print("\n".join(notes) or "peers: " + ", ".join(t.name for t in tools))
    print()
    peers = [t.name for t in tools]
    rows, details = [], []
    for w in WORKLOADS:
        if opts.only and w.key not in opts.only:
            continue
        args = w.make(np.random.default_rng(0))
        try:
            error = check_hand(w, args, directions)
        except Exception as exc:  # a broken hand-written derivative is reported
            details.append(f"{w.key}: the hand-written check failed: {first_line(exc)}")
            continue
        if error > 1e-6:
            details.append(f"{w.key}: the hand-written derivative is off by {error:.1e} "
                           "against central differences; skipped")
            continue
        times, failures = bench_workload(w, args, tools, budget, repeats)
        mine, jax_ratio = ratio(times, OURS), ratio(times, "jax.jit")
        rows.append([w.key, f"{times['hand-written'] * 1e6:,.1f}", fmt_ratio(mine),
                     f"<= {w.target:g}x", "MISS" if mine is None else verdict(mine <= w.target),
                     "-" if mine is None or jax_ratio is None else f"{mine / jax_ratio:.2f}",
                     *(fmt_ratio(ratio(times, p)) for p in peers)])
        details.append(f"{w.key}: {w.title} (hand check: {error:.1e})")
        details.extend(failures)
    print("Time per call over the hand-written derivative's (min of repeats)")
    print(table(["workload", "hand us", OURS, "target", "result", "ours/jax.jit", *peers],
                rows))
    print()
    print("\n".join(details))
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - the benchmark reports, it never fails a build
        print(f"FAILED: {first_line(exc)}")
    sys.exit(0)
