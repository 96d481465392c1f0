"""Recursion, unrolled where the compiler can bound it.

A call is inlined (see calls.py), so a recursive call would be inlined forever
unless something known when compiling ends it.  That is the case when the call
passes a number written in the code (``horner(cs, x, n - 1)`` with ``n`` a number at
the outer call): the numbers change from one level to the next, the conditions on
them are decided while lowering (an ``if`` on a constant lowers only the branch
taken), and the recursion ends at a depth the compiler sees.  Recursion whose
arguments are all values the code computes has a depth that depends on data: it is
refused, naming the cycle of calls.  Unrolling stops at `MAX_DEPTH` levels and
`MAX_CALLS` inlined calls, with a refusal: past that, a loop is what to write.
"""
from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import depth
from ..ir import Block, Const
from .values import _StaticSeq

MAX_DEPTH = 100  # nested activations of one function (horner of degree 100)
MAX_CALLS = 2048  # recursive calls unrolled in one function (a tree of depth 10)
# the lowering of an inlined call nests about 13 Python frames (measured), more where
# the call is deep in an expression: room for 32, two of depth.room's levels
LEVELS_PER_ACTIVATION = 2
MAX_NESTING = 64  # blocks nested in the unrolled code (Python reads 100 indentations)


@dataclass(frozen=True)
class Frame:
    """One activation being lowered: which function (`key`: its code, or the node of
    a nested function), as the code names it, and what its parameters are bound to."""

    key: object
    name: str
    args: dict[str, Any]


def _known(value: Any) -> object:
    """What is known of an argument when compiling: a number's value, a list's length
    (None: nothing, a value computed at run time)."""
    if isinstance(value, Const) and isinstance(value.value, (int, float)):
        return value.value
    if isinstance(value, _StaticSeq):
        return ("length", len(value.items))
    return None


def _cycle(lowerer: Any, key: object) -> list[Any] | None:
    """The lowerers from the activation of `key` nearest the top down to `lowerer`, or
    None if `key` is not being lowered (the call is not recursive)."""
    chain = []
    while lowerer is not None:
        chain.append(lowerer)
        if lowerer.frame.key == key:
            return chain[::-1]
        lowerer = lowerer.caller[0] if lowerer.caller else None
    return None


@contextlib.contextmanager
def activation(lowerer: Any, frame: Frame, node: ast.Call) -> Iterator[None]:
    """The scope in which the call `node` is inlined as `frame`: refused if it closes a
    cycle of calls the compiler cannot unroll, with room on Python's stack for the
    lowering of every activation it is nested in."""
    levels = _activations(lowerer)
    _check(lowerer, frame, node, levels)
    with depth.room(LEVELS_PER_ACTIVATION * len(levels)):
        yield


def _check(lowerer: Any, frame: Frame, node: ast.Call, levels: list[Frame]) -> None:
    chain = _cycle(lowerer, frame.key)
    if chain is None:
        return
    names = [f.frame.name for f in chain] + [frame.name]
    cycle = " -> ".join(names)
    what = (f"'{frame.name}' is recursive ({cycle}, the call at line {node.lineno} closing "
            f"the cycle)")
    previous = chain[0].frame.args
    changed = [name for name, value in frame.args.items()
               if _known(value) is not None and name in previous
               and _known(previous[name]) is not None
               and _known(value) != _known(previous[name])]
    if not changed:
        raise lowerer.error(node, f"{what} and its depth depends on data: no argument of the "
                                  "call is a number the compiler knows and that changes "
                                  "from one level to the next",
                            hint="write the recursion as a loop, or call it with its depth "
                                 "written as a number inside the function you differentiate "
                                 "(return horner(cs, x, 3)): such recursion is unrolled")
    levels_deep = 1 + sum(1 for f in levels if f.key == frame.key)
    unrolled = lowerer.root.unrolled
    unrolled.append((lowerer, node, what))
    if levels_deep > MAX_DEPTH:
        raise lowerer.error(node, f"{what}, and unrolling it went past {MAX_DEPTH} levels "
                                  f"deep: {' and '.join(changed)} changed from one level to "
                                  "the next, but the recursion had not ended (its end may "
                                  "depend on data, or it is too deep)",
                            hint="write the recursion as a loop")
    if len(unrolled) > MAX_CALLS:
        raise lowerer.error(node, f"{what}, and unrolling it went past {MAX_CALLS} recursive "
                                  "calls, more code than it is reasonable to generate",
                            hint="write the recursion as a loop")


def check_nesting(root: Any, body: Block) -> None:
    """Refuse unrolled recursion whose branches nest deeper than generated code can
    (a recursive call inside an ``if`` on data nests one level per call)."""
    if not root.unrolled:
        return
    nesting = depth.block_nesting(body)
    if nesting > MAX_NESTING:
        lowerer, node, what = root.unrolled[0]
        raise lowerer.error(node, f"{what}, and unrolled, its branches nest {nesting} levels "
                                  f"deep, more than the {MAX_NESTING} the generated code "
                                  "allows (Python reads at most 100 levels of indentation)",
                            hint="write the recursion as a loop")


def _activations(lowerer: Any) -> list[Frame]:
    frames = []
    while lowerer is not None:
        frames.append(lowerer.frame)
        lowerer = lowerer.caller[0] if lowerer.caller else None
    return frames
