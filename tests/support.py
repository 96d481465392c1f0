"""Helpers the test modules share: loading source files as modules, central differences."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

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
