"""Which shapes seen in one run of derivative code hold for every run like it.

Probe code (``dispatch.py``) reports the signature (type, shape, dtype) of every
value of a derivative in one run.  `analyse` keeps those that are *static*: the same
for every call whose inputs have these shapes, dtypes and (for ints, tuples and the
like) these values.  A value is static when the op computing it takes only static
operands and its result shape cannot depend on data: a boolean mask,
``np.nonzero``, a slice bound computed from floats or a loop counter, a loop
variable whose shape changes, an ``if`` whose untaken branch was never seen all
make their results dynamic, and everything computed from those stays generic.
Values whose *value* is the same on every such call (``x.shape[0]``, an int
argument) are `fixed`: shapes built from them are static too.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import runtime, runtime_arrays
from ..ir import (
    BINARY_SYMBOLS,
    COMPARE_SYMBOLS,
    UNARY_SYMBOLS,
    Block,
    Const,
    ForOp,
    FreeName,
    Function,
    IfOp,
    LoopOp,
    Op,
    Operand,
    Value,
    walk_ops,
)
from ..registry import has_expr, is_elementwise, is_scalar

VARIED = ("varied",)  # a value seen with two signatures
_MAX_ITEMS = 64  # longer sequences are summarised by their length

# NumPy functions whose result shape depends on the values of their operands
_DATA_SHAPED = frozenset(id(f) for f in (
    np.nonzero, np.flatnonzero, np.argwhere, np.unique, np.extract, np.compress,
    np.trim_zeros, np.arange, np.linspace, np.indices, np.tril_indices, np.triu_indices,
    np.diag_indices, np.ix_, np.repeat, np.tile, range, slice, int))
_SHAPE_QUERIES = frozenset(id(f) for f in (np.shape, np.ndim, np.size, len,
                                           runtime_arrays.reduced_count))
# functions a "call" op may make static values with: results shaped by their operands'
# shapes (and, for _DATA_SHAPED ones, by fixed operand values), the same on every call;
# anything else (np.random.*, np.unique_values, np.roots, ...) stays dynamic
_TRUSTED_CALLS = frozenset(id(f) for f in (
    np.shape, np.ndim, np.size, len, np.zeros, np.ones, np.empty, np.full, np.zeros_like,
    np.ones_like, np.empty_like, np.full_like, np.eye, np.identity, np.argmax, np.argmin,
    np.argsort, np.sort, np.isnan, np.isinf, np.isfinite, np.all, np.any, np.count_nonzero,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor, np.equal, np.not_equal,
    np.less, np.less_equal, np.greater, np.greater_equal, np.result_type, np.searchsorted,
    np.allclose, np.isclose, np.array_equal, np.sign, np.floor, np.ceil, np.round,
    np.arange, np.linspace, np.indices, np.tril_indices, np.triu_indices, np.diag_indices,
    range, reversed, zip, enumerate, int, float, bool, round, abs, slice, tuple, list))
_OWN_MODULES = ("ad_compiler.runtime", "ad_compiler.runtime_lists", "ad_compiler.runtime_arrays",
                "ad_compiler.runtime_products", "ad_compiler.runtime_shapes",
                "ad_compiler.runtime_slopes", "ad_compiler.runtime_statements",
                "ad_compiler.batched", "ad_compiler.runtime_npmath",
                "ad_compiler.runtime_stats", "ad_compiler.runtime_items")
_RANGE_ITERATOR = type(reversed(range(0)))
_INDEXING = {"getitem": 1, "index_update": 1}  # prim -> first index position
_SPARSE = ("other", runtime.IndexUpdate)  # x[i]'s adjoint, before it is filled in


def signature(value: Any) -> tuple:
    """What the code generated for `value` may depend on: its type, shape and dtype."""
    t = type(value)
    if isinstance(value, np.ndarray):
        return ("array", t, value.shape, value.dtype)
    if t is float or t is int or t is bool or t is complex:
        return (t.__name__,)
    if isinstance(value, np.generic):
        return ("scalar", t)
    if isinstance(value, (list, tuple)):
        if len(value) > _MAX_ITEMS:
            return ("seq", t, len(value))
        return ("seq", t, tuple(signature(v) for v in value))
    return ("other", t)


def _value_sensitive(sig: tuple) -> bool:
    """Whether a shape computed from such a value may depend on the value itself."""
    kind = sig[0]
    if kind in ("float", "complex"):
        return False
    if kind == "array":
        return sig[3].kind in "biu"
    if kind == "scalar":
        return not issubclass(sig[1], (np.floating, np.complexfloating))
    if kind == "seq":
        return not isinstance(sig[2], tuple) or any(_value_sensitive(s) for s in sig[2])
    return True


def _keyed(sig: tuple) -> bool:
    """Whether the dispatcher's key holds the value itself (it holds an array's shape)."""
    if sig[0] == "array":
        return False
    if sig[0] == "seq":
        return isinstance(sig[2], tuple) and all(_keyed(s) for s in sig[2])
    return True


def is_array(sig: tuple | None) -> bool:
    return sig is not None and sig[0] == "array" and sig[1] is np.ndarray


def _same_array(sig: tuple | None, other: tuple | None) -> bool:
    """Two array signatures of one shape and dtype (an adjoint's own array subclass or
    a plain array)."""
    return sig is not None and other is not None and sig[0] == other[0] == "array" \
        and sig[2:] == other[2:]


def _int_index(sig: tuple) -> bool:
    return sig[0] == "int" or (sig[0] == "scalar" and issubclass(sig[1], np.integer)) or (
        sig[0] == "array" and sig[3].kind in "iu")


class Facts:
    """Static signatures of values (`sig`) and values that are the same on every call
    with one input signature (`fixed`: ints, tuples and shapes derived from inputs)."""

    def __init__(self, observed: dict[int, tuple], fn: Function) -> None:
        self.observed = observed
        self.sig: dict[int, tuple] = {}
        self.fixed: set[int] = set()
        self.pushes: dict[int, list[Op]] = {}
        for op in walk_ops(fn.body):
            if op.prim == "push":
                self.pushes.setdefault(op.args[0].uid, []).append(op)
        self.seen_pushes: set[int] = set()

    def of(self, operand: Operand) -> tuple | None:
        if type(operand) is Value:  # (the common case first)
            return self.sig.get(operand.uid)
        if isinstance(operand, Const):
            return signature(operand.value)
        if isinstance(operand, FreeName):
            return None
        return self.sig.get(operand.uid)

    def is_fixed(self, operand: Operand) -> bool:
        return isinstance(operand, Const) or (isinstance(operand, Value)
                                               and operand.uid in self.fixed)

    def _seen(self, value: Value) -> tuple | None:
        sig = self.observed.get(value.uid)
        return None if sig is None or sig is VARIED else sig

    def _set(self, value: Value, sig: tuple | None, fixed: bool = False) -> None:
        self.sig.pop(value.uid, None)
        self.fixed.discard(value.uid)
        if sig is not None:
            self.sig[value.uid] = sig
            if fixed:
                self.fixed.add(value.uid)


def analyse(fn: Function, observed: dict[int, tuple]) -> Facts:
    """Which observed signatures hold for every call with the same input signature."""
    facts = Facts(observed, fn)
    for p in fn.params:
        sig = facts._seen(p)
        # the dispatcher's key holds the values of ints, tuples and the like (not arrays)
        facts._set(p, sig, fixed=sig is not None and _value_sensitive(sig) and _keyed(sig))
    _block(facts, fn.body)
    return facts


def _block(facts: Facts, block: Block) -> None:
    for op in block.ops:
        if isinstance(op, LoopOp):
            _loop(facts, op)
        elif isinstance(op, IfOp):
            _if(facts, op)
        else:
            _op(facts, op)


def _trusted_call(fn: Any) -> bool:
    return id(fn) in _TRUSTED_CALLS or getattr(fn, "__module__", None) in _OWN_MODULES


# helpers whose result's shape and dtype follow from their operands' shapes alone
_SHAPED_BY_SHAPES = frozenset({"selected_places"})


def elementwise(op: Op) -> bool:
    if op.attrs.get("fn") in (max, min):  # Python's max returns one of its operands
        return False
    if op.prim in BINARY_SYMBOLS and op.prim != "matmul":
        return True
    if op.prim in UNARY_SYMBOLS or op.prim in COMPARE_SYMBOLS or (
            is_elementwise(op.prim) and not is_scalar(op.prim)):
        return True
    return (has_expr(op.prim) and len(op.results) == 1) or \
        isinstance(op.attrs.get("fn"), np.ufunc)


def _op(facts: Facts, op: Op) -> None:
    if op.prim == "pop":
        _pop(facts, op)
        return
    if op.prim == "push":
        facts.seen_pushes.add(id(op))
        return
    sigs = [facts.of(a) for a in op.args]
    if op.prim == "setitem" and is_array(sigs[0]):
        # out[i] = v keeps out's shape and dtype whatever i and v are (a list's may not)
        seen = facts._seen(op.results[0])
        facts._set(op.results[0], seen if seen == sigs[0] else None)
        return
    if op.prim == "dense" and is_array(sigs[1]) and (
            sigs[0] == _SPARSE or _same_array(sigs[0], sigs[1])):
        # an adjoint made dense is shaped like its value (a sparse one is filled in)
        seen = facts._seen(op.results[0])
        facts._set(op.results[0], seen if seen == sigs[1] else None)
        return
    if op.prim == "accumulate" and _SPARSE in sigs:
        # a dense adjoint plus x[i]'s is the dense one, added into
        dense = sigs[1] if sigs[0] == _SPARSE else sigs[0]
        seen = facts._seen(op.results[0])
        facts._set(op.results[0], seen if _same_array(seen, dense) else None)
        return
    fn = op.attrs.get("fn")
    ok = op.prim not in ("stack", "custom") and fn not in (max, min) and (
        op.prim != "call" or _trusted_call(fn)) and all(s is not None for s in sigs)
    if ok and id(fn) in _DATA_SHAPED:
        ok = all(facts.is_fixed(a) for a in op.args)
    if ok and not elementwise(op) and op.prim not in _SHAPED_BY_SHAPES:
        first_index = _INDEXING.get(op.prim)
        base = sigs[0] if sigs else None  # (an empty list display has no operand)
        for k, (a, s) in enumerate(zip(op.args, sigs)):
            indexing = first_index is not None and k >= first_index and (
                op.prim == "getitem" or k == first_index)
            if indexing and s[0] == "array" and s[3].kind == "b":
                ok = False  # a boolean mask: the result's shape depends on the data
            elif indexing and base is not None and _int_index(s) and (
                    base[0] == "array" or (base[0] == "seq" and isinstance(base[2], tuple)
                                           and len(set(base[2])) <= 1)):
                continue  # x[i]: any i gives one shape
            elif _value_sensitive(s) and not facts.is_fixed(a):
                ok = False
    fixed = ok and (all(facts.is_fixed(a) for a in op.args)
                    or id(fn) in _SHAPE_QUERIES)
    for r in op.results:
        if ok and r.uid not in facts.observed and derivable(op):
            facts._set(r, derived(op, sigs), fixed=fixed)  # folded in probe code
            continue
        facts._set(r, facts._seen(r) if ok else None, fixed=fixed)


# operators whose result's signature follows from their operands' (see `derived()`)
_ARITHMETIC = {"add": 2, "sub": 2, "mul": 2, "truediv": 2, "floordiv": 2, "mod": 2, "pow": 2,
               "neg": 1, "pos": 1}
_SCALAR_ARITHMETIC = frozenset({"add", "sub", "mul", "truediv", "neg", "pos"})
_FLOAT64 = np.dtype(np.float64)
_SCALAR64 = ("scalar", np.float64)


def derivable(op: Op) -> bool:
    """Whether `op` is arithmetic or a NumPy ufunc applied to its operands alone, whose
    result's signature `derived()` may tell from theirs: probe code need not report it
    (and may fold it into the expression using it, as other code does)."""
    if op.blocks or len(op.results) != 1 or op.attrs.get("kwnames") or op.attrs.get("effect"):
        return False
    if op.prim in _ARITHMETIC:
        return len(op.args) == _ARITHMETIC[op.prim] and "operator" not in op.attrs
    fn = op.attrs.get("fn")
    return isinstance(fn, np.ufunc) and fn.nout == 1 and fn.nin == len(op.args) and \
        has_expr(op.prim)


def derived(op: Op, sigs: list[tuple | None]) -> tuple | None:
    """The signature of the result of a `derivable` op with operands of signatures
    `sigs`, where it is certain: a float64 array with other real arrays and Python
    numbers gives a float64 array of their broadcast shape (not a 0-d one: NumPy may
    return a scalar), a float64 scalar with Python numbers a float64 scalar; Python
    ints and floats under + - * / give an int or a float.  None where it is not
    certain (the value then counts as unknown, as one probe code did not see)."""
    if any(s is None for s in sigs):
        return None
    arrays = [s for s in sigs if s[0] == "array"]
    if any(s[0] not in ("array", "float", "int") and s != _SCALAR64 for s in sigs):
        return None
    if arrays:
        if any(s[1] is not np.ndarray or s[3].kind not in "biuf" or s[3].itemsize > 8
               for s in arrays) or all(s[3] != _FLOAT64 for s in arrays):
            return None  # (with a float64 array, bools, ints and floats make float64)
        shapes = {s[2] for s in arrays}
        try:
            shape = shapes.pop() if len(shapes) == 1 else np.broadcast_shapes(*shapes)
        except ValueError:
            return None
        return ("array", np.ndarray, shape, _FLOAT64) if shape else None
    if _SCALAR64 in sigs:  # NumPy's float64 scalars with Python numbers
        return _SCALAR64
    if op.prim not in _SCALAR_ARITHMETIC or any(s[0] not in ("float", "int") for s in sigs):
        return None
    if op.prim == "truediv" or any(s[0] == "float" for s in sigs):
        return ("float",)
    return ("int",)


def _pop(facts: Facts, op: Op) -> None:
    pushes = facts.pushes.get(op.args[0].uid, [])
    ok = bool(pushes) and all(id(p) in facts.seen_pushes for p in pushes)
    for k, r in enumerate(op.results):
        seen = facts._seen(r)
        pushed = [p.args[k + 1] for p in pushes] if ok else []
        good = ok and seen is not None and all(facts.of(a) == seen for a in pushed)
        facts._set(r, seen if good else None, fixed=good and all(facts.is_fixed(a) for a in pushed))


def _loop(facts: Facts, op: LoopOp) -> None:
    body, params, inits = op.body, op.carried_params, op.inits
    carriers = op.carrier_params  # a while condition's parameters too
    if isinstance(op, ForOp):
        item, iterable = op.item, op.iterable
        raw = facts.observed.get(iterable.uid) if isinstance(iterable, Value) else None
        ranged = raw in (("other", range), ("other", _RANGE_ITERATOR))
        facts._set(item, facts._seen(item) if (ranged or facts.of(iterable) is not None) else None)
    assumed = []
    for k, init in enumerate(inits):
        seen = [facts._seen(c[k]) for c in carriers]
        assumed.append(seen[0] is not None and all(s == seen[0] for s in seen)
                       and facts.of(init) == seen[0])
    inner_pushes = {id(o) for inner in op.blocks for o in walk_ops(inner) if o.prim == "push"}
    while True:  # optimistic: a carried shape is static unless the body changes it
        facts.seen_pushes -= inner_pushes  # a pop may trust only pushes of this pass
        for k in range(len(inits)):
            for c in carriers:
                facts._set(c[k], facts._seen(c[k]) if assumed[k] else None)
        for inner in op.blocks:
            _block(facts, inner)
        broken = [k for k in range(len(inits)) if assumed[k]
                  and facts.of(body.yields[k]) != facts._seen(params[k])]
        if not broken:
            break
        for k in broken:
            assumed[k] = False
    for k, r in enumerate(op.results):
        seen = facts._seen(r)
        facts._set(r, seen if assumed[k] and seen == facts._seen(params[k]) else None)


def _if(facts: Facts, op: IfOp) -> None:
    for inner in op.blocks:
        _block(facts, inner)
    for k, r in enumerate(op.results):
        seen = facts._seen(r)
        yields = [b.yields[k] for b in op.taken_blocks]
        good = seen is not None and all(facts.of(y) == seen for y in yields)
        facts._set(r, seen if good else None,
                   fixed=good and facts.is_fixed(op.cond)
                   and all(facts.is_fixed(y) for y in yields))
