"""Benchmarks of array rules for ad_compiler: gradients through cholesky, eigh,
scipy.special.logsumexp and np.cumsum, against the peers that are installed.

Run from the repository root::

    python benchmarks/bench_linalg.py             # full run, under a minute
    python benchmarks/bench_linalg.py --quick     # smoke run, noisy figures
    python benchmarks/bench_linalg.py --no-peers  # skip autograd / JAX / PyTorch

Four losses written as a user writes them: the log-determinant and a quadratic form
of a covariance through its Cholesky factor, a spectral function of a symmetric
matrix through ``np.linalg.eigh``, a softmax cross-entropy through
``scipy.special.logsumexp``, and a drawdown penalty of price paths through
``np.cumsum``.  For each it prints the time per gradient call of the
primal loss, ``adc.grad`` and each peer (autograd, JAX with ``jax.jit``, PyTorch),
each checked against ``adc.grad`` (itself checked against central differences)
before it is timed, and its ratio to ``adc.grad``.  A peer that is not installed is
reported as skipped; one that fails is reported as failed and the run goes on.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special

import ad_compiler as adc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import fmt_ns, header, make_timer, table, time_interleaved  # noqa: E402

N = 64  # matrix size
CLASSES, SAMPLES = 50, 256


# ---------------------------------------------------------------- the losses


def gaussian_nll(X, y):
    """Negative log-likelihood of y under N(0, X X^T + n I), through its Cholesky factor."""
    K = X @ X.T + X.shape[0] * np.eye(X.shape[0])
    L = np.linalg.cholesky(K)
    z = np.linalg.solve(L, y)
    return 0.5 * np.sum(z ** 2) + np.sum(np.log(L[IDX, IDX]))


def spectral(X):
    """A smooth function of a symmetric matrix's eigenvalues and eigenvectors."""
    w, V = np.linalg.eigh(X + X.T)
    return np.sum(np.tanh(w) * WEIGHTS) + np.sum(V[:, :4] ** 4)


def cross_entropy(W, X, Y):
    """Mean softmax cross-entropy of a linear classifier (Y one-hot)."""
    logits = X @ W
    return np.mean(scipy.special.logsumexp(logits, axis=1) - np.sum(logits * Y, axis=1))


def drawdown(R):
    """A smooth penalty of how far each cumulative log-return path falls (paths in rows)."""
    paths = np.cumsum(R, axis=1)
    return np.sum(np.log1p(paths ** 2)) + 0.1 * np.sum(np.cumsum(paths, axis=1)[:, -1])


IDX = np.arange(N)
WEIGHTS = np.linspace(-1.0, 1.0, N)


def workloads() -> dict[str, tuple[Callable, tuple]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, N)) / np.sqrt(N)
    labels = rng.integers(0, CLASSES, SAMPLES)
    return {
        "cholesky": (gaussian_nll, (x, rng.normal(size=N))),
        "eigh": (spectral, (x,)),
        "logsumexp": (cross_entropy, (rng.normal(size=(N, CLASSES)) * 0.1,
                                      rng.normal(size=(SAMPLES, N)), np.eye(CLASSES)[labels])),
        "cumsum": (drawdown, (rng.normal(size=(SAMPLES, N)) * 0.01,)),
    }


# ---------------------------------------------------------------- the peers, written out


def peer_autograd() -> dict[str, Callable]:
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    def nll(X, y):
        L = anp.linalg.cholesky(anp.dot(X, X.T) + N * anp.eye(N))
        z = anp.linalg.solve(L, y)
        return 0.5 * anp.sum(z ** 2) + anp.sum(anp.log(anp.diag(L)))

    def spec(X):
        w, V = anp.linalg.eigh(X + X.T)
        return anp.sum(anp.tanh(w) * WEIGHTS) + anp.sum(V[:, :4] ** 4)

    def xent(W, X, Y):
        logits = anp.dot(X, W)
        return anp.mean(logsumexp(logits, axis=1) - anp.sum(logits * Y, axis=1))

    def dd(R):
        paths = anp.cumsum(R, axis=1)
        return anp.sum(anp.log1p(paths ** 2)) + 0.1 * anp.sum(anp.cumsum(paths, axis=1)[:, -1])

    return {"cholesky": autograd.grad(nll), "eigh": autograd.grad(spec),
            "logsumexp": autograd.grad(xent), "cumsum": autograd.grad(dd)}


def peer_jax() -> dict[str, Callable]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    def nll(X, y):
        L = jnp.linalg.cholesky(X @ X.T + N * jnp.eye(N))
        z = jax.scipy.linalg.solve_triangular(L, y, lower=True)
        return 0.5 * jnp.sum(z ** 2) + jnp.sum(jnp.log(jnp.diag(L)))

    def spec(X):
        w, V = jnp.linalg.eigh(X + X.T)
        return jnp.sum(jnp.tanh(w) * WEIGHTS) + jnp.sum(V[:, :4] ** 4)

    def xent(W, X, Y):
        logits = X @ W
        return jnp.mean(logsumexp(logits, axis=1) - jnp.sum(logits * Y, axis=1))

    def dd(R):
        paths = jnp.cumsum(R, axis=1)
        return jnp.sum(jnp.log1p(paths ** 2)) + 0.1 * jnp.sum(jnp.cumsum(paths, axis=1)[:, -1])

    def numpy_out(f: Callable) -> Callable:
        jitted = jax.jit(jax.grad(f))
        return lambda *a: np.asarray(jitted(*a))

    return {"cholesky": numpy_out(nll), "eigh": numpy_out(spec), "logsumexp": numpy_out(xent),
            "cumsum": numpy_out(dd)}


def peer_torch() -> dict[str, Callable]:
    import torch

    def grad_of(f: Callable) -> Callable:
        def g(*args: Any) -> np.ndarray:
            first = torch.tensor(args[0], requires_grad=True)
            rest = [torch.tensor(a) for a in args[1:]]
            (out,) = torch.autograd.grad(f(first, *rest), first)
            return out.numpy()
        return g

    def nll(X, y):
        L = torch.linalg.cholesky(X @ X.T + N * torch.eye(N, dtype=X.dtype))
        z = torch.linalg.solve_triangular(L, y[:, None], upper=False)[:, 0]
        return 0.5 * torch.sum(z ** 2) + torch.sum(torch.log(torch.diagonal(L)))

    def spec(X):
        w, V = torch.linalg.eigh(X + X.T)
        return torch.sum(torch.tanh(w) * torch.tensor(WEIGHTS)) + torch.sum(V[:, :4] ** 4)

    def xent(W, X, Y):
        logits = X @ W
        return torch.mean(torch.logsumexp(logits, dim=1) - torch.sum(logits * Y, dim=1))

    def dd(R):
        paths = torch.cumsum(R, dim=1)
        return torch.sum(torch.log1p(paths ** 2)) + 0.1 * torch.sum(
            torch.cumsum(paths, dim=1)[:, -1])

    return {"cholesky": grad_of(nll), "eigh": grad_of(spec), "logsumexp": grad_of(xent),
            "cumsum": grad_of(dd)}


PEERS = {"autograd": peer_autograd, "jax.jit": peer_jax, "torch": peer_torch}


# ---------------------------------------------------------------- checks and timing


def central_check(fn: Callable, args: tuple, grad: np.ndarray, samples: int = 6) -> float:
    """The largest relative error of `grad` against central differences along a few
    random directions."""
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(samples):
        d = rng.normal(size=args[0].shape)
        eps = 1e-6
        numeric = (fn(args[0] + eps * d, *args[1:]) - fn(args[0] - eps * d, *args[1:])) / (2 * eps)
        exact = float(np.sum(grad * d))
        worst = max(worst, abs(numeric - exact) / max(1.0, abs(exact)))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-peers", action="store_true")
    opts = parser.parse_args(argv)
    budget, repeats = (0.02, 3) if opts.quick else (0.2, 7)
    print(header(opts.quick))
    peers: dict[str, dict[str, Callable] | str] = {}
    for name, make in ({} if opts.no_peers else PEERS).items():
        try:
            peers[name] = make()
        except ImportError as exc:
            peers[name] = f"skipped ({exc.name} not installed)"
        except Exception as exc:  # noqa: BLE001 - a peer that fails is reported
            peers[name] = f"failed: {exc}"
    rows = []
    for workload, (fn, args) in workloads().items():
        ours = adc.grad(fn)
        reference = ours(*args)
        error = central_check(fn, args, reference)
        if error > 1e-5:
            print(f"{workload}: adc.grad disagrees with central differences ({error:.1e})")
            return 1
        timers = {"primal": make_timer(fn, args), "adc.grad": make_timer(ours, args)}
        notes = []
        for name, peer in peers.items():
            if isinstance(peer, str):
                notes.append(f"{name}: {peer}")
                continue
            try:
                got = peer[workload](*args)
                np.testing.assert_allclose(got, reference, rtol=1e-6, atol=1e-9)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"{name}: failed: {str(exc).splitlines()[0]}")
                continue
            timers[name] = make_timer(peer[workload], args)
        times = time_interleaved(timers, budget, repeats)
        for name, seconds in times.items():
            ratio = seconds / times["adc.grad"]
            rows.append([workload, name, fmt_ns(seconds), f"{ratio:.2f}"])
        rows.extend([workload, note, "-", "-"] for note in notes)
    print(table(["workload", "tool", "ns per call", "/ adc.grad"], rows, right={2, 3}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
