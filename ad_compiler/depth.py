"""Room on Python's stack for deeply nested functions, and a build without pauses
for Python's garbage collector.

Long functions are handled without deep recursion: a chain of statements or of
operators is walked in loops, and codegen folds expressions only so deep.  What
remains recursive is the walk over *nested blocks*: every pass (lowering, the
transforms, the optimiser, codegen) descends into an ``if``'s branches and a loop's
body by a recursive call, as the structure of the code suggests.  Their depth is
the function's nesting depth, which the user's source bounds: Python allows 100
levels of indentation, but a chain of ``elif``s is nested one level per ``elif``,
and a thousand of them compile fine.  For such functions, and only while building
their derivative, the recursion limit is raised in proportion to their nesting
(Python frames cost no C stack since Python 3.11); it is restored afterwards.

A build of a long function makes millions of small objects (IR values and ops, the
derivative's, syntax trees) that live until it ends.  Python's cyclic garbage
collector runs every few hundred allocations and, ever more often as the heap grows,
walks all of them: for 10,000 statements that took most of the build, and made its
time grow faster than the function.  So the collector is off while building
(`collector_paused()`); objects are freed by reference counting as ever, and cycles
wait for the collector's first pass after the build.  That first pass would walk every
object the build left alive (a long function's IR, its derivative's, a million
objects): after a large build they are moved to the oldest generation instead
(`gc.freeze()` then `gc.unfreeze()`), where the collector examines them, and frees
the cycles among them, at its next full collection, as it does long-lived objects.
"""
from __future__ import annotations

import ast
import contextlib
import gc
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .ir import Block, Function

FRAMES_PER_LEVEL = 16  # each pass spends 3 or 4 frames per nested block (measured)
_SHALLOW = 30  # nesting the default limit of 1000 frames has room for

_lock = threading.Lock()
_active: list[int] = []  # the limits the scopes now open asked for
_saved: list[int] = []  # the limit before the first of them opened


@contextlib.contextmanager
def room(nesting: int) -> Iterator[None]:
    """Raise the recursion limit for code nested `nesting` blocks deep, while inside
    (scopes may overlap, in threads too: the limit is restored when the last closes)."""
    if nesting <= _SHALLOW:
        yield
        return
    with _lock:
        if not _active:
            _saved[:] = [sys.getrecursionlimit()]
        wanted = _saved[0] + FRAMES_PER_LEVEL * nesting
        _active.append(wanted)
        sys.setrecursionlimit(max([_saved[0], *_active]))
    try:
        yield
    finally:
        with _lock:
            _active.remove(wanted)
            sys.setrecursionlimit(max([_saved[0], *_active]))


_pauses: list[bool] = []  # one per build now running; the first, whether it was on


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while inside (builds may overlap, in threads
    too: it is turned back on when the last ends, if it was on before the first)."""
    with _lock:
        _pauses.append(_pauses[0] if _pauses else gc.isenabled())
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            was_on = _pauses.pop()
            if not _pauses and was_on:
                if gc.get_count()[0] > _MANY_OBJECTS:
                    gc.freeze()  # what the build made, to the oldest generation: see above
                    gc.unfreeze()
                gc.enable()


# objects made while the collector was off past which they go to its oldest generation
_MANY_OBJECTS = 200_000


def nesting_of(f: Callable) -> int:
    """How deeply `f`'s code nests blocks: from its IR if it is generated code, else
    from its source (0 where it has none: building it fails with its own error)."""
    ir = getattr(f, "_adc_function", None)
    if isinstance(ir, Function):
        return block_nesting(ir.body)
    from .errors import ADCompileError
    from .frontend import load

    try:
        return statement_nesting(load(f).node)
    except ADCompileError:
        return 0


def statement_nesting(node: ast.AST) -> int:
    """The depth of nested compound statements under `node` (an elif counts one),
    noted on the node: lowering and building both ask (the parse is cached)."""
    known = getattr(node, "_adc_nesting", None)
    if known is not None:
        return known
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 0)]
    while stack:  # a loop written for speed: a function may have 10,000 statements
        current, depth = stack.pop()
        if depth > deepest:
            deepest = depth
        for field in current._fields:
            child = getattr(current, field, None)
            for item in child if isinstance(child, list) else (child,):
                if isinstance(item, ast.AST) and not isinstance(item, _LEAVES):
                    stack.append((item, depth + 1 if isinstance(item, _NESTS) else depth))
    node._adc_nesting = deepest
    return deepest


_NESTS = (ast.If, ast.For, ast.While, ast.FunctionDef, ast.Lambda, ast.IfExp, ast.BoolOp)
# nodes with nothing nested in them (a name's context, an operator), not visited
_LEAVES = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.Constant,
           ast.Name)


def block_nesting(block: Block) -> int:
    """The depth of blocks nested in `block`."""
    deepest = 0
    stack = [(block, 0)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        for op in current.ops:
            stack.extend((inner, depth + 1) for inner in op.blocks)
    return deepest
