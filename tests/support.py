"""Helpers the test modules share: loading source files as modules, central differences."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np

TESTS = Path(__file__).parent


def load_module(path: Path, name: str, *, shared: bool = False) -> types.ModuleType:
    """Import a file as a module; `shared` keeps one copy for every test module."""
    if shared and name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if shared:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_fixture(name: str) -> types.ModuleType:
    return load_module(TESTS / "fixtures" / f"{name}.py", f"adc_test_fixture_{name}")


def central(f, point, i, h0=1e-4):
    """d f / d point[i] by central differences, Richardson-extrapolated (error O(h^4))."""

    def diff(h):
        hi, lo = list(point), list(point)
        hi[i] += h
        lo[i] -= h
        return (f(*hi) - f(*lo)) / (2.0 * h)

    h = h0 * max(1.0, abs(point[i]))
    return (4.0 * diff(h / 2.0) - diff(h)) / 3.0


def numeric_grad(f, args, k, eps=1e-6):
    """d f / d args[k] by central differences: a number, an array, or a list of them
    for a list or tuple argument."""
    x = args[k]
    if isinstance(x, (list, tuple)):
        out = []
        for m in range(len(x)):
            def item_f(item, m=m):
                seq = list(x)
                seq[m] = item
                put = list(args)
                put[k] = type(x)(seq)
                return f(*put)
            out.append(numeric_grad(item_f, [x[m]], 0, eps))
        return out
    if not isinstance(x, np.ndarray):
        hi, lo = list(args), list(args)
        hi[k], lo[k] = x + eps, x - eps
        return (f(*hi) - f(*lo)) / (2 * eps)
    base = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(base)
    for j in np.ndindex(base.shape):
        step = np.zeros_like(base)
        step[j] = eps
        hi, lo = list(args), list(args)
        hi[k], lo[k] = base + step, base - step
        out[j] = (f(*hi) - f(*lo)) / (2 * eps)
    return out
