"""Helpers the test modules share: loading source files as modules, central differences."""
from __future__ import annotations

import importlib.util
import sys
import tracemalloc
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


def jacobian_by_differences(f, args, k, eps=1e-6):
    """d f / d args[k] column by column, by central differences, shaped
    f.shape + args[k].shape."""
    x = np.asarray(args[k], dtype=float)
    columns = []
    for j in range(x.size):
        step = np.zeros(x.size)
        step[j] = eps
        hi, lo = list(args), list(args)
        hi[k] = x + step.reshape(x.shape) if x.ndim else float(x + step[0])
        lo[k] = x - step.reshape(x.shape) if x.ndim else float(x - step[0])
        columns.append((np.asarray(f(*hi)) - np.asarray(f(*lo))) / (2 * eps))
    return np.stack(columns, axis=-1).reshape(np.shape(f(*args)) + x.shape)


def peak_memory(fn, *args) -> int:
    """The peak memory (tracemalloc) of a second call of fn(*args): the first compiles
    and specialises."""
    fn(*args)
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def tree_numeric_grad(f, args, k, eps=1e-6):
    """d f / d args[k] by central differences for an argument that is any nesting of
    lists, tuples, namedtuples, dicts and dataclasses around floats and arrays: the
    same structure, each float replaced by its derivative and each array by an array."""
    import copy
    import dataclasses

    def perturbed(x, path, step):
        """`x` with the number at `path` (keys, fields, positions, array indices) moved."""
        if not path:
            return x + step
        head, rest = path[0], path[1:]
        if isinstance(x, np.ndarray):
            out = np.array(x, dtype=float)
            out[head] += step
            return out
        if isinstance(x, list):
            return [perturbed(v, rest, step) if i == head else v for i, v in enumerate(x)]
        if isinstance(x, tuple):
            items = [perturbed(v, rest, step) if i == head else v for i, v in enumerate(x)]
            return type(x)(*items) if hasattr(type(x), "_fields") else tuple(items)
        if isinstance(x, dict):
            return {key: perturbed(v, rest, step) if key == head else v for key, v in x.items()}
        out = copy.copy(x)
        object.__setattr__(out, head, perturbed(getattr(x, head), rest, step))
        return out

    def derivative(path):
        hi, lo = list(args), list(args)
        hi[k] = perturbed(args[k], path, eps)
        lo[k] = perturbed(args[k], path, -eps)
        return (f(*hi) - f(*lo)) / (2 * eps)

    def walk(x, path):
        if isinstance(x, np.ndarray):
            out = np.zeros(x.shape)
            for j in np.ndindex(x.shape):
                out[j] = derivative(path + [j])
            return out
        if isinstance(x, (bool, str)) or x is None:
            return None
        if isinstance(x, (int, float)):
            return derivative(path)
        if isinstance(x, list):
            return [walk(v, path + [i]) for i, v in enumerate(x)]
        if isinstance(x, tuple):
            items = [walk(v, path + [i]) for i, v in enumerate(x)]
            return type(x)(*items) if hasattr(type(x), "_fields") else tuple(items)
        if isinstance(x, dict):
            return {key: walk(v, path + [key]) for key, v in x.items()}
        out = copy.copy(x)
        for field in dataclasses.fields(x):
            object.__setattr__(out, field.name, walk(getattr(x, field.name), path + [field.name]))
        return out

    return walk(args[k], [])


def assert_same_tree(got, expected, rtol=1e-6, atol=1e-8, plain=True):
    """`got` has `expected`'s structure and types (plain list, tuple, dict, namedtuple,
    dataclass, float, ndarray: nothing internal) and close values."""
    import dataclasses

    if expected is None:
        assert got is None, got
        return
    if plain:
        assert type(got) is type(expected) or (
            isinstance(expected, float) and type(got) is float), (type(got), type(expected))
    if isinstance(expected, np.ndarray):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            assert_same_tree(a, b, rtol, atol, plain)
    elif isinstance(expected, dict):
        assert list(got) == list(expected)
        for key in expected:
            assert_same_tree(got[key], expected[key], rtol, atol, plain)
    elif dataclasses.is_dataclass(expected):
        for field in dataclasses.fields(expected):
            assert_same_tree(getattr(got, field.name), getattr(expected, field.name),
                             rtol, atol, plain)
    else:
        assert abs(got - expected) <= atol + rtol * abs(expected), (got, expected)
