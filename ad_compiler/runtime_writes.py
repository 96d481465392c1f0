"""Run-time helpers of writes into arrays: ``out[i] = v`` as a value, and what its
derivatives need (which written places the last write of a repeated index keeps).

The IR treats ``out[i] = v`` as a new value, `setitem`; the generated code writes in
place where nothing reads the old contents afterwards, and calls `setitem` (a copy, then
the write) only where something does.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .batched import vmap_last
from .runtime import (
    AdjointList,
    Adjoints,
    IndexUpdate,
    _floats,
    _is_zero,
    _scatter,
    add,
    dense,
    fields_of,
    matmul_adjoint_b,
    unbroadcast,
    zeros_of,
)

# what the lowering knows of a write's index (registry/writes.py says what each means)
MAY_REPEAT, BASIC, BASIC_ARRAY, IF_ARRAY, LIST_SLICE = 0, 1, 2, 3, 4


def _key(index: tuple) -> Any:
    return index[0] if len(index) == 1 else index


def setitem(target: Any, value: Any, *index: Any) -> Any:
    """`target` with ``target[index] = value``, as a new object: an array, list or dict."""
    if isinstance(target, np.ndarray):
        new = target.copy()
    elif isinstance(target, dict):
        new = dict(target)
    elif isinstance(target, list):
        new = list(target)
    else:
        raise TypeError(f"'{type(target).__name__}' object does not support item assignment")
    new[_key(index)] = value
    return new


def written_through(target: Any, value: Any, *index: Any) -> Any:
    """``y = target[index]; y[...] = ...`` seen from `target`: an array with the view's
    new `value` at `index` (NumPy's slice is a view), or a list as it was (its slice was
    a copy)."""
    if isinstance(target, np.ndarray):
        return setitem(target, value, *index)
    return target


def tangent_written_through(target_dot: Any, value_dot: Any, target: Any, *index: Any) -> Any:
    """The tangent of `written_through`: the value's tangent written into the target's
    where the target (not its tangent) is an array."""
    if isinstance(target, np.ndarray):
        return setitem(target_dot, value_dot, *index)
    return target_dot


def view_part(adjoint: Any, target: Any, value: Any, *index: Any) -> Any:
    """The adjoint of the `value` `written_through` wrote: `adjoint` at `index` where
    `target` is an array, else zeros shaped like `value` (nothing was written; a list's
    slice is read item by item next)."""
    if _is_zero(adjoint) or not isinstance(target, np.ndarray):
        return zeros_of(value)
    return np.array(adjoint[_key(index)])


def view_cleared(adjoint: Any, target: Any, *index: Any) -> Any:
    """The adjoint of `written_through`'s target: zeros at `index` where it is an array
    (what was there did not reach the result), else `adjoint` itself."""
    if _is_zero(adjoint) or not isinstance(target, np.ndarray):
        return adjoint
    return cleared(adjoint, target, 0, *index)


def cleared(adjoint: Any, target: Any, kind: int, *index: Any) -> Any:
    """The adjoint of what ``target[index] = v`` overwrote: `adjoint` (shaped like the
    result) with zeros at `index`, and without a dict's key the write added."""
    key = _key(index)
    if isinstance(adjoint, np.ndarray):
        new = adjoint.copy()
        new[key] = 0.0
        return new
    if isinstance(adjoint, dict):
        new = type(adjoint)(adjoint)
        if isinstance(target, dict) and key not in target:
            new.pop(key, None)
        else:
            new[key] = 0.0
        return new
    if isinstance(adjoint, list):
        span = _list_span(adjoint, target, key)
        if span is not None:  # xs[a:b] = v, which may change the list's length
            start, removed, added = span
            return type(adjoint)(adjoint[:start] + [0.0] * removed + adjoint[start + added:])
        new = type(adjoint)(adjoint)
        if isinstance(key, slice):  # an extended slice: as many items as it replaced
            for k in range(*key.indices(len(new))):
                new[k] = 0.0
        else:
            new[key] = 0.0
        return new
    return adjoint  # a zero


def cleared_batched(adjoint: Any, target: Any, kind: int, *index: Any) -> Any:
    """`cleared` of a batched adjoint (its directions on a last axis): a slice of a list,
    or of an array's first axis, is cleared as it is; other indices one direction at a
    time."""
    if kind == LIST_SLICE:
        return cleared(adjoint, target, kind, *index)
    return vmap_last(cleared, (0,), adjoint, target, kind, *index)


def _list_span(adjoint: Any, target: Any, key: Any) -> tuple[int, int, int] | None:
    """Where ``target[key] = v`` put `v` into a list, for a slice of step 1: the start,
    how many items it replaced, and how many it put there (`adjoint` is shaped like the
    list after the write)."""
    if not (isinstance(key, slice) and isinstance(target, list) and key.step in (None, 1)):
        return None
    start, stop, _ = key.indices(len(target))
    removed = max(stop - start, 0)
    return start, removed, len(adjoint) - len(target) + removed


def written_part(adjoint: Any, target: Any, *index: Any) -> Any:
    """The part of `adjoint` (shaped like ``target`` after ``target[index] = v``) at the
    places `v` went: ``adjoint[index]``, except that a list's slice write may have put
    more or fewer items there than it replaced."""
    if _is_zero(adjoint):
        return adjoint
    key = _key(index)
    span = _list_span(adjoint, target, key) if isinstance(adjoint, list) else None
    if span is not None:
        start, _, added = span
        return list(adjoint[start:start + added])
    return adjoint[key]


def written_part_t(part: Any, adjoint: Any, target: Any, *index: Any) -> Any:
    """The transpose of `written_part`: `part` placed where the write put `v`, zeros
    elsewhere, shaped like `adjoint`."""
    if _is_zero(part):
        return 0.0
    key = _key(index)
    if isinstance(adjoint, list):
        span = _list_span(adjoint, target, key)
        if span is not None:
            start, _, added = span
            return [0.0] * start + list(part) + [0.0] * (len(adjoint) - start - added)
        new: list = [0.0] * len(adjoint)
        new[key] = part
        return new
    new_array = np.zeros(np.shape(adjoint), dtype=np.result_type(adjoint, part))
    new_array[key] = part
    return new_array


def uncleared(cotangent: Any, adjoint: Any, target: Any, kind: int, *index: Any) -> Any:
    """The transpose of `cleared` (in `adjoint`): `cotangent`, shaped like `target`,
    with zeros at the places the write put `v`, shaped like `adjoint`."""
    key = _key(index)
    if isinstance(cotangent, list) and isinstance(adjoint, list):
        span = _list_span(adjoint, target, key)
        if span is not None:
            start, removed, added = span
            return cotangent[:start] + [0.0] * added + cotangent[start + removed:]
    return cleared(cotangent, target, kind, *index)


def add_at(target: Any, value: Any, *index: Any) -> np.ndarray:
    """``np.add.at(target, index, value)`` on a copy of `target`."""
    new = np.array(target, dtype=np.result_type(target, value))
    np.add.at(new, _key(index), value)
    return new


def _is_basic(part: Any) -> bool:
    """An index part that selects each place at most once: an integer, a slice, None,
    Ellipsis, or a boolean mask."""
    if part is None or part is Ellipsis or isinstance(part, (int, np.integer, slice)):
        return True
    return isinstance(part, np.ndarray) and part.dtype == bool


def last_writes(selected: Any, target: Any, *index: Any) -> Any:
    """`selected` (shaped like ``target[index]``) with zeros where a later position of a
    repeated integer index wrote the same place again: ``a[[0, 0]] = v`` keeps ``v[1]``
    only, as NumPy does, so only ``v[1]`` reaches the result."""
    if not isinstance(target, np.ndarray) or all(_is_basic(p) for p in index):
        return selected  # (a list's or dict's item is one place)
    key = _key(index)
    shape = np.shape(target[key])
    order = np.arange(int(np.prod(shape)), dtype=np.intp).reshape(shape)
    marks = np.full(np.shape(target), -1, dtype=np.intp)
    marks[key] = order
    return np.where(marks[key] == order, selected, 0.0)


def zeros_with_directions(target: Any, tangent: Any) -> Any:
    """A zero tangent of `target` for each direction of a batched `tangent` (vector mode):
    of a list or dict, the same container of them."""
    directions = np.shape(tangent)[-1:]
    if isinstance(target, dict):
        return {k: zeros_with_directions(v, tangent) for k, v in target.items()}
    if isinstance(target, list):
        return [zeros_with_directions(v, tangent) for v in target]
    if isinstance(target, tuple) and hasattr(type(target), "_fields"):  # a namedtuple
        return type(target)(*(zeros_with_directions(v, tangent) for v in target))
    names = fields_of(target)
    if names is not None:  # a dataclass: a copy holding them
        out = copy.copy(target)
        for name in names:
            object.__setattr__(out, name, zeros_with_directions(getattr(target, name), tangent))
        return out
    return np.zeros(np.shape(target) + directions)


def add_into(a: Any, b: Any) -> Any:
    """``add(a, b)`` where `a` is an array the code owns and reads no more: a sparse
    adjoint `b` (``x[i]``'s) is added into it in place instead of into a copy."""
    if type(a) is np.ndarray and type(b) is IndexUpdate and type(b.base) is np.ndarray \
            and a.shape == b.base.shape and a.dtype.kind == "f" and a.flags.writeable:
        index = b.index
        if type(index) is int or type(index) is slice:  # the common case, made cheap
            a[index] += b.value
        else:
            _scatter(a, b)
        return a
    return add(a, b)


def check_list(items: Any, where: str) -> None:
    """``xs.extend(ys)`` is compiled as ``xs + ys``: `ys` must be a list."""
    if not isinstance(items, list):
        raise TypeError(f"{where}\nxs.extend(ys) is compiled as xs + ys, so ys must be a "
                        f"list here, not a {type(items).__name__} (write xs.extend(list(ys)) "
                        "outside the differentiated function, or append its items in a loop)")


def check_inplace(target: Any, result: Any, where: str) -> None:
    """``a += v`` is compiled as ``a_1 = a + v``: where `a` is an array, NumPy writes the
    result into `a` itself, which it refuses when the result's dtype does not cast to
    `a`'s (a float added into integers) or its shape is not `a`'s (a broadcast): the
    compiled code refuses the same, as NumPy would, naming the statement."""
    if not isinstance(target, np.ndarray):
        return  # a number (or a NumPy scalar, ``c[0] += v``) is rebound, as compiled
    if type(result) is np.ndarray and result.dtype is target.dtype and \
            result.shape == target.shape:
        return  # (the common case: floats into floats, first and cheaply)
    shape, dtype = np.shape(result), getattr(result, "dtype", None)
    if shape != target.shape:
        raise ValueError(f"{where}\nnon-broadcastable output operand with shape "
                         f"{target.shape} doesn't match the broadcast shape {shape}: NumPy "
                         "updates the array in place, whose shape cannot change (write "
                         "'a = a + v' to make a new array)")
    if dtype is None or dtype == target.dtype:
        return
    if not np.can_cast(dtype, target.dtype, casting="same_kind"):
        raise InPlaceCastError(f"{where}\nCannot cast the result of this in-place update "
                               f"from dtype('{dtype}') to dtype('{target.dtype}') with "
                               "casting rule 'same_kind': NumPy updates the array in place, "
                               "whose dtype cannot change (make it a float array where it "
                               "is made, e.g. a = counts.astype(float), or write 'a = a + v')")


def held_in_place(item: Any) -> bool:
    """Whether ``item = x[i]`` is the object `x` holds (an array's row, a list's array
    or list), which a write into `x` changes and ``item += v`` changes in `x`; an item
    that is a number is a copy of it."""
    return isinstance(item, (np.ndarray, list, dict))


def keep_dtype(target: Any, result: Any) -> Any:
    """The value ``a += v`` leaves in `a`: where `a` is an array, NumPy writes the result
    into it, cast to its dtype (float32 stays float32, after `check_inplace` said the
    cast is allowed); a number is rebound to the result itself."""
    if type(target) is not np.ndarray or getattr(result, "dtype", target.dtype) == target.dtype:
        return result
    return np.asarray(result).astype(target.dtype)


class InPlaceCastError(TypeError):
    """An in-place update whose result NumPy would not cast back (as its UFuncTypeError)."""


# ---------------------------------------------------------------- lists grown by append
# A loop that only appends to a list it carries appends in place in reverse mode's
# forward sweep (transforms/appends.py); the backward loop takes the items' adjoints off
# the end of the list's adjoint, in place too, so both sweeps are linear in the length.


def appended(items: Any, value: Any) -> list:
    """``items + [value]`` as a new list (``items.append(value)`` where the code owns
    `items`: the forward sweep of reverse mode)."""
    return [*items, value]


def appended_tangent(items_dot: Any, value_dot: Any, new: Any) -> Any:
    """The tangent of ``new = items + [value]``; `new` is the longer list (which may be
    `items` itself, appended to in place), so a zero `items_dot` is zeros of its head."""
    if _is_zero(items_dot):
        items_dot = zeros_of(new[:-1])
    return [*items_dot, zeros_of(new[-1]) if _is_zero(value_dot) else value_dot]


def pop_last(g: Any) -> tuple:
    """The adjoints of `items` and `value` in ``items.append(value)``, from the adjoint
    `g` of the longer list: `g` without its last item, and that item.  A list this code
    accumulates into (`AdjointList`) loses its last item in place; another is copied
    once (the next iteration's is then this code's own)."""
    if _is_zero(g):
        return g, g
    if type(g) is not AdjointList:
        g = AdjointList(g)
    last = g.pop()
    return g, last


# Differentiating reverse-mode code again: the backward loop's ``pop_last`` is run as
# `split_last`, which leaves its list as it was (a taped loop reads each version again),
# and the two are each other's transposes.


def split_last(g: Any) -> tuple:
    """`g` without its last item, and that item, leaving `g` as it is.  The head is a
    view: a list of floats is made an array first (once: the heads split next are
    arrays), so a loop that splits and keeps every version holds one copy of them; its
    items are given back as floats."""
    if _is_zero(g):
        return g, g
    if type(g) is not np.ndarray and isinstance(g, list) and _floats(g):
        g = np.array(g, dtype=np.float64)
    if isinstance(g, np.ndarray):
        last = g[-1]
        return g[:-1], float(last) if g.ndim == 1 and g.dtype == np.float64 else last
    return Adjoints(g[:-1]), g[-1]


def unsplit_last(head: Any, last: Any, like: Any) -> Any:
    """The transpose of `split_last`: the adjoints of the head and the last item of
    `like` (either may be zero or sparse) put together again, an array where `like`
    is one."""
    if _is_zero(like):  # (a zero adjoint split: its parts are zeros too)
        if _is_zero(head) and _is_zero(last):
            return 0.0
        like = [*zeros_of(list(head)), zeros_of(last)]
    if isinstance(like, np.ndarray):
        out = np.zeros(np.shape(like), dtype=np.result_type(like, np.float64))
        if not _is_zero(head):
            out[:-1] = dense(head, like[:-1])
        if not _is_zero(last):
            out[-1] = last
        return out
    head = zeros_of(list(like[:-1])) if _is_zero(head) else dense(head, list(like[:-1]))
    return Adjoints([*head, zeros_of(like[-1]) if _is_zero(last) else last])


# ---------------------------------------------------------------- sums over a loop's steps
# A backward loop that adds ``outer(a_t, g_t)`` into an adjoint at every step keeps the
# steps' factors in two lists instead (transforms/stacked_adjoints.py); the sum is then
# one product of the stacked lists, ``A.T @ G``, taken once after the loop.


def _stackable(items: list) -> bool:
    """Whether the items are arrays (or numbers) of one shape, which np.stack stacks."""
    first = np.shape(items[0])
    return all(isinstance(v, (np.ndarray, float, np.floating)) and np.shape(v) == first
               for v in items)


def summed_matmul_adjoint_b(gs: list, factors: list, b: Any) -> Any:
    """The sum over steps t of ``matmul_adjoint_b(gs[t], factors[t], b)`` (the adjoint of
    `b` in ``factors[t] @ b``): one product of the stacked steps, where every step has
    the same shapes and the stacking axis is a batch axis of the product (a matrix or
    vector `b`, and factors of at least one dimension); else step by step."""
    if not gs:
        return 0.0
    na, nb = np.ndim(factors[0]), np.ndim(b)
    if nb in (1, 2) and na >= 1 and np.ndim(gs[0]) == na + nb - 2 and _stackable(gs) \
            and _stackable(factors):
        return matmul_adjoint_b(np.stack(gs), np.stack(factors), b)
    total = 0.0
    for g, a in zip(gs, factors):
        total = total + matmul_adjoint_b(g, a, b)
    return total


def summed_unbroadcast(gs: list, x: Any) -> Any:
    """The sum over steps t of ``unbroadcast(gs[t], x)``: of the stacked steps at once,
    where they stack and each has at least x's dimensions (the stacking axis is then
    one more axis that was broadcast); else step by step."""
    if not gs:
        return 0.0
    if np.ndim(gs[0]) >= np.ndim(x) and _stackable(gs):
        return unbroadcast(np.stack(gs), x)
    total = 0.0
    for g in gs:
        total = total + unbroadcast(g, x)
    return total


_NO_FIRST = object()


def tape_rows(stack: list, position: int | None, first: Any = _NO_FIRST) -> np.ndarray:
    """The items a backward loop pops off `stack`, as one array whose row k is what its
    k-th pop gives (`position` picks the item of a tuple entry; None: the entry itself).
    With `first`, row 0 is `first` and row k the (k-1)-th pop's: the value the loop
    carries from its step before (transforms/tape_factors.py)."""
    items = [entry if position is None else entry[position] for entry in reversed(stack)]
    if first is not _NO_FIRST:
        items = [first, *items[:-1]]
    return np.array(items)


def tape_states(stack: list, position: int | None, first: Any) -> tuple:
    """``tape_rows(stack, position, first)`` and ``tape_rows(stack, position)``, the
    rows a loop carries in from its step before and the rows it pops, as two views of
    one array ``[first, *popped]`` (made once: the same numbers)."""
    if not stack:
        return np.array([first]), np.array([])
    if position is None:
        states = np.array([first, *reversed(stack)])
    else:
        states = np.array([first, *[entry[position] for entry in reversed(stack)]])
    return states[:-1], states[1:]


def popped_rows(a: Any, stack: list, position: int | None) -> np.ndarray:
    """``np.array([a[i] for i in indices])`` where `indices` are what a backward loop
    pops off `stack` (`position` as in `tape_rows`), in pop order: the rows of a float
    array taken at once (the same numbers, copied); anything else, or no pop at all
    (``np.array([])``, as of an empty list), row by row."""
    indices = [entry if position is None else entry[position] for entry in reversed(stack)]
    if indices and type(a) is np.ndarray and a.ndim and a.dtype.kind == "f" \
            and all(type(i) is int for i in indices):
        return a[np.array(indices, dtype=np.intp)]
    return np.array([a[i] for i in indices])


def reversed_rows(a: Any, stack: list) -> np.ndarray:
    """``popped_rows(a, stack, position)`` where the entries' items at `position` are
    0, 1, 2, ... (a loop's counter, left off the tape): rows ``len(stack) - 1`` down to
    0 of `a`, of a float array as one reversed slice (copied: the same numbers)."""
    count = len(stack)
    if count and type(a) is np.ndarray and a.ndim and a.dtype.kind == "f" and count <= len(a):
        return a[count - 1::-1].copy()
    return np.array([a[i] for i in range(count - 1, -1, -1)])


def row_products(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``a[i] @ w`` for every row i of matrix `a`, as one array.  NumPy's matmul runs
    its loop over the stacked ``a[:, None, :]`` with the call it makes for one row
    alone (a matrix-vector product per row), so each row has the very values
    ``a[i] @ w`` gives; ``a @ w`` is one matrix product, which rounds otherwise."""
    return np.matmul(a[:, None, :], w)[:, 0, :]
