"""Hessians of functions that use the vector-mode forms of batched_shaping.py,
batched_products.py, batched_signals.py and batched_statistics.py, against central
differences of the gradient, swept without a loop over directions; and a batched
pullback through them against one pullback per cotangent.  tests/test_batched_forms.py
checks each form against the function applied to each direction."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import ad_compiler as adc
from ad_compiler import assemble, batched

C3 = np.array([0.5, -1.0, 2.0])


def h_flip(x):
    y = x.reshape(2, 3)
    return np.sum(np.sin(np.flip(y * y, axis=-1)) * np.fliplr(y) + np.flipud(y) ** 3)


def h_roll(x):
    y = x.reshape(2, 3)
    return np.sum(np.cos(np.roll(y * y, -1, axis=None)) + np.roll(y, (1, 2), axis=(0, -1)) * y)


def h_rot90(x):
    y = x.reshape(2, 3)
    return np.sum(np.rot90(y * y, k=-1, axes=(-1, 0)) @ np.sin(y))


def h_axes(x):
    y = (x * x).reshape(1, 2, 3)
    moved = np.moveaxis(y, -1, 0) * np.rollaxis(y, 2, start=-3)
    return np.sum(np.sin(moved))


def h_triangles(x):
    y = x.reshape(3, 2)[:2] * x[:2]
    square = np.outer(x[:3], x[3:])
    return np.sum(np.tril(square, -1) ** 2 + np.sin(np.triu(square, k=1))) + np.sum(y)


def h_diagonals(x):
    square = np.outer(x[:3], x[3:]) + np.diag(x[:3] ** 2)
    cube = np.reshape(x * x, (1, 2, 3))
    return (np.sum(np.sin(np.diagonal(square, offset=-1)) * np.diag(square, k=1))
            + np.sum(np.diagflat(x[:2] * x[4:], 1) ** 2)
            + np.sum(np.diagonal(cube, 0, -1, 1) ** 2) + np.trace(square) ** 2)


def h_gathers(x):
    y = (x * x).reshape(2, 3)
    taken = np.take(y, [2, 0, 2], axis=-1) * np.take(x, [5, 5, 1])
    along = np.take_along_axis(y, np.array([[2, 0], [1, 1]]), axis=1)
    return np.sum(np.sin(taken)) + np.sum(np.cos(along) * np.sort(x)[:2])


def h_repeats(x):
    y = x.reshape(2, 3)
    return (np.sum(np.sin(np.repeat(y * y, [1, 0, 2], axis=-1)))
            + np.sum(np.cos(np.repeat(x, 2)) * np.tile(x, 2))
            + np.sum(np.tile(y, (2, 1, 2)) ** 3))


def h_scans(x):
    y = x.reshape(2, 3)
    return (np.sum(np.sin(np.cumsum(y * y, axis=-1))) + np.sum(np.cumsum(x) ** 2)
            + np.sum(np.cumprod(y, axis=0)))


def h_atleast(x):
    y = np.atleast_2d(x * x) * np.atleast_1d(x[0])
    return np.sum(np.sin(y)) + np.sum(np.atleast_3d(y) ** 2) + (x[1] * x[2]).item() ** 2


def h_append(x):
    y = np.append((x * x).reshape(2, 3), np.reshape(x[:3], (1, 3)), axis=-2)
    return np.sum(np.sin(y)) + np.sum(np.append(x ** 3, C3) * np.arange(9.0))


def h_products(x):
    a, b = x.reshape(2, 3), (x * x).reshape(3, 2)
    return (np.sum(np.sin(np.tensordot(a, b, axes=((1,), (0,)))))
            + np.sum(np.kron(a, b[:2]) ** 2) + np.vdot(x, np.sin(x)) ** 2
            + np.sum(np.einsum("ij,jk->ik", a, b) ** 2)
            + np.sum(np.sin(np.cross(a, b.T * 2.0, axisa=-1, axisb=1))))


def h_signals(x):
    return (np.sum(np.sin(np.convolve(x, x[:3] ** 2, mode="same")))
            + np.trapezoid(np.sin(x) * x, np.cumsum(x ** 2)) + np.trapezoid(x ** 3, dx=x[0])
            + np.sum(np.trapezoid(np.reshape(x * x, (2, 3)), x[:3] ** 2, axis=-1) ** 2)
            + np.sum(np.correlate(x ** 2, x[2:], mode="full") ** 2)
            + np.sum(np.cos(np.convolve(x[:2], x, "valid"))))


def h_solves(x):
    a = np.triu(np.outer(x[:3], x[3:]) + 3.0 * np.eye(3))
    b = np.reshape(x, (3, 2))
    factor = scipy.linalg.cho_factor(a.T @ a + np.eye(3))
    return (np.sum(np.sin(scipy.linalg.solve_triangular(a, b)))
            + np.sum(scipy.linalg.solve_triangular(a, x[:3] ** 2, trans=1) ** 2)
            + np.sum(np.cos(scipy.linalg.cho_solve(factor, b)))
            + np.sum(np.sin(scipy.linalg.solve_sylvester(a, a.T + np.eye(3), b @ b.T))))


def h_differences(x):
    y = (x * x).reshape(2, 3)
    return (np.sum(np.sin(np.diff(y, axis=-1, prepend=x[0], append=y[:, :1] * 2.0)))
            + np.sum(np.diff(x ** 3, n=2) ** 2) + np.sum(np.cos(np.gradient(y, axis=1)))
            + np.sum(np.pad(y, ((1, 0), (0, 2)), constant_values=x[1]) ** 3)
            + np.sum(np.sin(np.pad(y, 1, mode="edge"))) + np.sum(np.pad(x ** 2, 2, "wrap") ** 2))


def h_statistics(x):
    y = (x * x).reshape(2, 3)
    return (np.prod(np.sin(x)) + np.sum(np.prod(y, axis=-1) ** 2)
            + np.sum(np.quantile(y, [0.3, 0.6], axis=-1) ** 2) + np.median(x) ** 2
            + np.sum(np.sin(np.cov(y))) + np.sum(np.linspace(x[0], x[1] ** 2, 4) ** 3))


def h_samples(x):
    knots = np.array([0.0, 0.4, 0.6, 1.0])
    return (np.sum(np.sin(np.interp(x * 0.9, knots, x[:4] ** 2, left=0.5)))
            + np.sum(np.interp(x[:3], knots, x[2:] * x[:4]) ** 2)
            + np.sum(np.cos(np.polyval(x[:3] ** 2, x))) + np.polyval(x, x[0]) ** 2)


def h_methods(x):
    """The ndarray methods, with keywords."""
    y = (x * x).reshape(2, 3)
    square = np.outer(x[:3], x[3:])
    return (np.sum(np.sin(y.take([2, 0, 2], axis=-1))) + np.sum(y.repeat(2, axis=0) ** 3)
            + np.sum(square.diagonal(offset=1) ** 2) + square.trace(offset=-1) ** 2
            + np.sum(np.cos(y.cumsum(axis=-1))) + np.prod(y, axis=0).sum()
            + np.sum(np.moveaxis(y, source=0, destination=-1) * y.T)
            + np.sum(np.roll(y, shift=-1, axis=1) * y) + np.sum(np.tile(y, reps=(1, 2)) ** 2))


HESSIANS = [h_flip, h_roll, h_rot90, h_axes, h_triangles, h_diagonals, h_gathers, h_repeats,
            h_scans, h_atleast, h_append, h_products, h_signals, h_solves, h_differences,
            h_statistics, h_samples, h_methods]


def _central_hessian(f, x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central differences of the gradient, itself checked against central differences
    of `f`."""
    gradient = adc.grad(f)
    numeric = np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(x.size)])
    np.testing.assert_allclose(gradient(x), numeric, rtol=1e-6, atol=1e-7)
    return np.array([(gradient(x + eps * e) - gradient(x - eps * e)) / (2 * eps)
                     for e in np.eye(x.size)])


@pytest.mark.parametrize("f", HESSIANS, ids=[f.__name__ for f in HESSIANS])
def test_hessians_match_differences_of_the_gradient_in_one_loop_free_sweep(f, monkeypatch):
    looped: list[str] = []
    original = batched.vmap_last

    def recording(fn, positions, *args):
        looped.append(getattr(fn, "__name__", "?"))
        return original(fn, positions, *args)

    monkeypatch.setattr(batched, "vmap_last", recording)  # before the sweep is compiled
    x = np.random.default_rng(len(f.__name__)).uniform(0.3, 0.9, 6)
    hessian = adc.hessian(f)(x)
    np.testing.assert_allclose(hessian, _central_hessian(f, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-10, atol=1e-12)
    assert looped == []


def many_outputs(x):
    y = (x * x).reshape(2, 3)
    square = np.outer(x[:3], x[3:])
    knots = np.array([0.0, 0.5, 1.0])
    return np.concatenate([
        np.ravel(np.tril(square, -1)), np.take(y, [2, 0, 2], axis=-1).ravel(),
        np.diag(square, k=1), [np.trace(square)], np.repeat(x, 2), np.tile(x[:2], 3),
        np.append(x, x[:2]), np.diff(x, prepend=x[0]), np.ravel(np.tensordot(y, y.T, axes=1)),
        np.kron(x[:2], x[2:4]), np.cross(x[:3], x[3:]), np.convolve(x, x[:3], "same"),
        np.correlate(x, x[:2], "full"), [np.prod(x)], np.interp(x, knots, x[:3]),
        np.polyval(x[:3], x), np.ravel(np.einsum("ij,jk->ik", y, y.T)),
        [np.trapezoid(x, x ** 2)], np.ravel(np.cov(y)), np.quantile(y, [0.2, 0.7], axis=1).ravel(),
        np.ravel(np.rot90(y, -1)), np.roll(x, 2), np.flip(y, axis=0).ravel()])


def test_batched_pullback_equals_one_pullback_per_cotangent(monkeypatch):
    """Batched reverse mode applies the same forms to a stack of cotangents."""
    looped: list[str] = []
    original = batched.vmap_last
    monkeypatch.setattr(batched, "vmap_last", lambda fn, positions, *args: (
        looped.append(fn.__name__), original(fn, positions, *args))[1])
    rng = np.random.default_rng(5)
    x = rng.uniform(0.2, 0.9, 6)
    value, pullback = adc.vjp(many_outputs, x)
    cotangents = rng.normal(size=(4,) + np.shape(value))
    stacked = pullback(cotangents, batched=True)[0]
    one_by_one = np.stack([pullback(c)[0] for c in cotangents])
    np.testing.assert_allclose(stacked, one_by_one, rtol=1e-12, atol=1e-13)
    assert looped == []
    assert assemble.batched_vjp(many_outputs, 0) is not None  # (one batched sweep, not k)
