"""Which Hessians take one sweep per direction instead of one vector-mode sweep.

Run from the repository root::

    python benchmarks/hessian_fallbacks.py            # every case of the catalogue
    python benchmarks/hessian_fallbacks.py qr eigh    # some of them

``adc.hessian(f)`` is a vector-mode JVP of the reverse-mode gradient, carrying every
direction of the input at once.  Where some operation of the gradient has no
vector-mode form, the JVP is taken once per direction (one sweep per element of the
input).  This script takes the Hessian of the scalar summary ``s_<name>`` of every
function of the registry catalogue (tests/fixtures/registry_cases.py), and of the
functions of tests/fixtures/hessian_cases.py (containers, ``with np.errstate`` blocks,
list arithmetic, items of tuple results), and lists those that take the per-direction sweeps, with the refusal that sent them there.

    python benchmarks/hessian_fallbacks.py --loops    # and helpers run per direction

With ``--loops`` it also lists the cases whose one sweep still applies some helper or
primitive one direction at a time (``vmap_last``: no batched form yet), and which.
"""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np

import ad_compiler as adc
from ad_compiler import assemble, batched
from ad_compiler.build import derivative
from ad_compiler.errors import ADCompileError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from fixtures import registry_cases as cases  # noqa: E402
from fixtures.hessian_cases import EXTRA  # noqa: E402
from test_registry import CASES  # noqa: E402


def _point(name: str, shape: tuple) -> np.ndarray:
    rng = np.random.default_rng(sum(map(ord, name)))
    return rng.uniform(0.2, 0.8, shape)


def survey(names: list[str], current: list[str] | None = None) -> list[tuple[str, str]]:
    """(name, reason) for each case whose Hessian takes one sweep per direction (the
    case's name put in `current` while it runs)."""
    taken: list[str] = []
    original = assemble._vector_jvp

    def recording(f, i, floats=False):  # noqa: ANN001, ANN202
        made = original(f, i, floats)
        if made is None:
            taken.append(getattr(f, "__name__", "?"))
        return made

    assemble._vector_jvp = recording
    found = []
    try:
        for name in names:
            if name in EXTRA:
                fn, args = EXTRA[name]
            else:
                fn, args = getattr(cases, f"s_{name}"), (_point(name, CASES[name]),)
            taken.clear()
            if current is not None:
                current[0] = name
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    adc.hessian(fn)(*args)
                except Exception as error:  # noqa: BLE001 - reported, not hidden
                    found.append((name, f"fails: {type(error).__name__}: {error}"[:200]))
                    continue
            if taken:
                found.append((name, _reason(fn, args)))
    finally:
        assemble._vector_jvp = original
    return found


def _reason(fn, args: tuple) -> str:  # noqa: ANN001
    """The first line of what vector mode refuses in the gradient of `fn` (specialised
    to the shapes of `args`, as the Hessian takes it)."""
    gradient = derivative(fn, "grad", 0, "reverse")
    version = gradient.version_for(*args) if hasattr(gradient, "version_for") else gradient
    kind = "jvp_batched_floats" if type(args[0]) is np.ndarray else "jvp_batched"
    try:
        derivative(version, kind, 0, "forward")
    except ADCompileError as error:
        return str(error.what).splitlines()[0][:160]
    return "(vector mode builds for the specialised gradient; the generic one refused)"


def _count_loops(looped: dict[str, set[str]], current: list[str]) -> None:
    """Record, per case, what ``vmap_last`` applies one direction at a time (patched
    before any sweep is compiled, as generated code imports it when it is compiled)."""
    original = batched.vmap_last

    def recording(fn, positions, *args):  # noqa: ANN001, ANN202
        looped.setdefault(current[0], set()).add(getattr(fn, "__name__", "?"))
        return original(fn, positions, *args)

    batched.vmap_last = recording


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--loops"]
    names = args or [*sorted(CASES), *EXTRA]
    looped: dict[str, set[str]] = {}
    current = [""]
    if "--loops" in sys.argv:
        _count_loops(looped, current)
    found = survey(names, current)
    for name, reason in found:
        print(f"{name:32s} {reason}")
    print(f"{len(found)} of {len(names)} Hessians take one sweep per direction")
    if "--loops" in sys.argv:
        for name in sorted(looped):
            print(f"{name:32s} one direction at a time: {', '.join(sorted(looped[name]))}")
        print(f"{len(looped)} of {len(names)} Hessians apply something one direction at "
              "a time in their sweep")


if __name__ == "__main__":
    main()
