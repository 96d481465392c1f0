"""Augmented assignment and NumPy aliasing: ``y += 1.0`` changes an array in place.

The compiled code never updates an array in place: ``y += v`` is lowered as
``y_1 = y + v``.  That is exactly Python's meaning when `y` holds a number (numbers
are immutable) and when `y` holds an array that nothing else can see.  It is not
when another name, a list item or a view (a slice, ``.T``, a reshape) shares the
array and is read afterwards: NumPy changes that one too.  So each augmented
assignment is recorded while lowering with the names that may still be read after
it (a liveness analysis of the source), and once the whole trace is built an
analysis of which values may be the same object (or share its memory) refuses the
ones the compiled code cannot follow.

An update of a parameter's array is compiled as a rebinding too: the value is the
same, but the caller's array is left as it was (the derivative functions never
change their arguments); `Function.updates_inputs` names such parameters.
"""
from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import runtime_statements, runtime_writes
from ..custom import stop_gradient
from ..ir import (
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
    joined_sources,
    walk_ops,
)
from ..primitives import NONDIFF_BUILTINS, NONDIFF_NUMPY
from ..registry import is_array, is_reduction, is_view
from ..shapes import uses_arrays
from .values import _StaticDict, _StaticSeq

# ------------------------------------------------------------------ liveness


class Liveness:
    """For each statement of one function (or lambda), the names that may be read
    after it runs, before being assigned again: a backward analysis of the source."""

    def __init__(self, node: ast.AST) -> None:
        self.after: dict[int, frozenset[str]] = {}
        self._reads: dict[int, frozenset[str]] = {}  # node -> the names it loads
        self.loops: list[set[str]] = []  # the live names at the head of enclosing loops
        # names read by nested functions and lambdas, which may run at any later call
        self.always = frozenset(n.id for inner in ast.walk(node)
                                if inner is not node and isinstance(inner, (ast.FunctionDef,
                                                                            ast.Lambda))
                                for n in ast.walk(inner)
                                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._block(node.body, frozenset())

    def names_after(self, stmt: ast.AST, call: ast.AST | None = None) -> frozenset[str]:
        """Names that may be read after `stmt` runs (or, with `call`, after that call in
        `stmt` returns) holding the values they hold at that point."""
        if call is None:
            after = self.after.get(id(stmt))
            return (self._loads(stmt) if after is None else after) | self.always
        outside = self._loads(stmt) - self._loads(call)  # read by the rest of the statement
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            outside |= {stmt.target.id}  # read before the call, updated after it
        if isinstance(stmt, ast.Return):
            later: frozenset[str] = frozenset()
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)):
            later = self.after.get(id(stmt), frozenset()) - _stores(stmt)
        else:  # a call in the header of a compound statement: anything it holds
            later = self.after.get(id(stmt), frozenset()) | self._loads(stmt)
        return later | outside | self.always

    def _block(self, stmts: list[ast.stmt], live: frozenset[str]) -> frozenset[str]:
        for stmt in reversed(stmts):
            self.after[id(stmt)] = live
            live = self._statement(stmt, live)
        return live

    def _loads(self, node: ast.AST | None) -> frozenset[str]:
        """`_loads`, remembered: a loop's body is analysed again until nothing changes."""
        if node is None:
            return frozenset()
        if id(node) not in self._reads:
            self._reads[id(node)] = _loads(node)
        return self._reads[id(node)]

    def _statement(self, stmt: ast.stmt, live: frozenset[str]) -> frozenset[str]:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            return (live - _stores(stmt)) | self._loads(stmt.value) | _loads_in_targets(stmt)
        if isinstance(stmt, ast.AugAssign):
            return live | self._loads(stmt.value) | _stores(stmt) | _loads_in_targets(stmt)
        if isinstance(stmt, ast.Return):
            return self._loads(stmt.value)
        if isinstance(stmt, ast.If):
            return self._loads(stmt.test) | self._block(stmt.body, live) | \
                self._block(stmt.orelse, live)
        if isinstance(stmt, (ast.For, ast.While)):
            return self._loop(stmt, live)
        if isinstance(stmt, (ast.Break, ast.Continue)):
            return frozenset(self.loops[-1]) if self.loops else live
        return live | self._loads(stmt)  # an expression, a nested def, pass, a refused one

    def _loop(self, stmt: ast.For | ast.While, live: frozenset[str]) -> frozenset[str]:
        """The names live at the loop's head: after it, or read by a later iteration."""
        head = set(live)
        # a while loop tests its condition again; a for loop reads the next item of the
        # sequence it iterates over, which may be the object an iteration changed
        head |= self._loads(stmt.test if isinstance(stmt, ast.While) else stmt.iter)
        targets = _names(stmt.target) if isinstance(stmt, ast.For) else frozenset()
        while True:
            self.loops.append(head)
            try:
                body = self._block(stmt.body, frozenset(head))
            finally:
                self.loops.pop()
            grown = head | (body - targets) | self._block(stmt.orelse, live)
            if grown == head:
                break
            head = grown
        entry = frozenset(head)
        return entry | self._loads(stmt.iter) if isinstance(stmt, ast.For) else entry


def _loads(node: ast.AST | None) -> frozenset[str]:
    if node is None:
        return frozenset()
    return frozenset(n.id for n in ast.walk(node)
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


def _names(target: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(target) if isinstance(n, ast.Name))


def _targets(stmt: ast.stmt) -> list[ast.expr]:
    """What a statement assigns to: none for an expression statement (a helper's call
    that writes into an array it is passed)."""
    if isinstance(stmt, ast.Assign):
        return stmt.targets
    return [stmt.target] if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) else []


def _stores(stmt: ast.stmt) -> frozenset[str]:
    return frozenset(n.id for t in _targets(stmt) for n in ast.walk(t)
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))


def _loads_in_targets(stmt: ast.stmt) -> frozenset[str]:
    return frozenset().union(*(_loads(t) for t in _targets(stmt)))


# ------------------------------------------------------------------ what is recorded


@dataclass
class Update:
    """One augmented assignment ``name op= ...`` whose target may be an array: the value
    it updates, and the values other names hold that may be read after it."""

    lowerer: Any  # the lowerer of the function holding it, for a located error
    node: ast.stmt  # an augmented assignment, or an assignment into an item
    value: Operand
    result: Value | None = None  # the new value ``value op ...``
    result_op: Op | None = None  # the op making it, which a guard goes before
    # (which function, name, what it holds) for every name that may be read later
    readers: list[tuple[str, str, Any]] = field(default_factory=list)


def record(lowerer: Any, node: ast.AugAssign, value: Operand) -> Update:
    """Note an augmented assignment of `value`, with the names of this function and of
    the functions it is inlined into that may read something afterwards."""
    update = Update(lowerer, node, value)
    collect_readers(update)
    lowerer.root.updates.append(update)
    return update


def check_result(lowerer: Any, node: ast.AugAssign, current: Operand, result: Any) -> None:
    """After ``result = current op value``: a run-time check (`check_inplace()`) that
    NumPy could write `result` into `current` in place, where that may be an array (an
    integer array cannot take a float result, nor an array a wider shape)."""
    if isinstance(current, Const) or not isinstance(result, Value):
        return  # a number: rebound
    src = lowerer.src
    where = f"{src.filename}, line {node.lineno}: {src.line(node.lineno).strip()}"
    lowerer.builder.emit("call", [current, result, Const(where)], n_results=0, attrs={
        "fn": runtime_writes.check_inplace, "kwnames": (), "nondiff": True, "effect": True,
        "guard": True})


def kept_dtype(lowerer: Any, current: Operand, result: Any) -> Any:
    """What ``current op= value`` leaves in the name, after `check_result`: the result
    cast to the array's dtype where `current` is an array (`keep_dtype()`: a float32
    array stays one), the result itself where it is a number."""
    if isinstance(current, Const) or not isinstance(result, Value):
        return result
    return lowerer.builder.emit("keep_dtype", [current, result], attrs={
        "fn": runtime_writes.keep_dtype, "kwnames": ()}).result


def if_held_in_place(lowerer: Any, item: Value, then: Callable[[], Operand],
                     otherwise: Operand) -> Operand:
    """``then() if held_in_place(item) else otherwise``: ``t = x[0]`` is a view of `x` (a
    row, a list's array) only where the item is an array or a list; a number read at
    an index is a copy, which a write into `x` (or ``t += v``) leaves apart."""
    builder = lowerer.builder
    held = builder.emit("call", [item], attrs={
        "fn": runtime_writes.held_in_place, "kwnames": (), "nondiff": True}).result
    saved, block = builder.block, Block()
    builder.block = block
    try:
        block.yields = [then()]
    finally:
        builder.block = saved
    return lowerer._emit_structured(IfOp, [held], [block, Block(yields=[otherwise])], [None],
                                    lowerer.stmt, if_kind="ifexp")[0]


def drop_number_checks(fn: Function, free_numbers: set[str]) -> None:
    """The checks of `check_result` whose target is surely a number (``s = 0.0``, then
    ``s += math.sin(x)`` in a loop): a number is rebound, so they cannot fail.  Number
    code (no array primitive, `uses_arrays()`) keeps only those whose target may come
    from an input (``c = counts.copy()``, ``c = counts * 1``), where an array may come
    in: it is generated for numbers, and a check would keep a forward loop a gradient
    does not need."""
    checks = [op for op in walk_ops(fn.body) if _is_check(op) or op.prim == "keep_dtype"]
    if not checks:
        return
    sharing = _Sharing(fn, free_numbers)
    numbers_only = not uses_arrays(fn)
    inputs = _FromInputs(fn, sharing, free_numbers) if numbers_only else None
    dropped = {id(op) for op in checks if sharing.of(op.args[0]).immutable
               or (inputs is not None and not inputs.may_be(op.args[0]))}
    if not dropped:
        return
    # a dropped cast's value is the result it was given
    replace = {op.results[0].uid: op.args[1] for op in checks
               if id(op) in dropped and op.prim == "keep_dtype"}

    def substitute(operand: Operand) -> Operand:
        while isinstance(operand, Value) and operand.uid in replace:
            operand = replace[operand.uid]
        return operand

    def keep(block: Block) -> None:
        block.ops = [op for op in block.ops if id(op) not in dropped]
        block.yields = [substitute(y) for y in block.yields]
        for op in block.ops:
            op.args = [substitute(a) for a in op.args]
            for inner in op.blocks:
                keep(inner)

    keep(fn.body)


class _FromInputs:
    """Which values of number code may hold an array that came in: a parameter, a
    global, or what arithmetic, a copy or an ``if`` made of one.  A loop's carried
    value counts by the value it starts from (``s = 0.0`` then ``s += xi * xi`` is a
    float, whatever the items are, and the first update rebinds it)."""

    def __init__(self, fn: Function, sharing: _Sharing, free_numbers: set[str]) -> None:
        self.sharing = sharing
        self.free_numbers = free_numbers
        self.params = {p.uid for p in fn.params}
        self.starts: dict[int, Operand] = {}  # a loop's carried value: where it starts
        for op in walk_ops(fn.body):
            if isinstance(op, LoopOp):
                for params in op.carrier_params:
                    for p, init in zip(params, op.inits):
                        self.starts[p.uid] = init
        self._known: dict[int, bool] = {}

    def may_be(self, operand: Operand) -> bool:
        if isinstance(operand, FreeName):
            return operand.name not in self.free_numbers
        if not isinstance(operand, Value):
            return False
        if operand.uid not in self._known:
            self._known[operand.uid] = True  # (reached again through a loop: assume so)
            self._known[operand.uid] = self._from_inputs(operand)
        return self._known[operand.uid]

    def _from_inputs(self, value: Value) -> bool:
        if value.uid in self.params:
            return True
        if value.uid in self.starts:
            return self.may_be(self.starts[value.uid])
        op = self.sharing.producers.get(value.uid)
        if op is None:
            return True  # (not known: an array may be)
        if self.sharing.of(value).immutable:
            return False
        if isinstance(op, (IfOp, LoopOp)):
            return any(map(self.may_be, joined_sources(op, op.results.index(value))))
        return any(self.may_be(a) for a in op.args) or op.prim in ("call", "custom")


def _is_check(op: Op) -> bool:
    return op.prim == "call" and op.attrs.get("fn") is runtime_writes.check_inplace


def collect_readers(update: Update, skip: set[int] | frozenset = frozenset()) -> None:
    """The names that may be read after the update's statement, with what they hold
    (but the updated name itself, and names holding the values in `skip`: the new
    values a write into an array rebinds them to)."""
    lowerer, node = update.lowerer, update.node
    target = node.target.id if isinstance(node, ast.AugAssign) and \
        isinstance(node.target, ast.Name) else None
    frame, stmt, call = lowerer, node, None
    while frame is not None:
        liveness = frame.root.liveness_of(frame.frame_node)
        names = liveness.names_after(stmt, call)
        where = "" if frame is lowerer else f" in {frame.src.name} (the caller)"
        for name in sorted(names):
            if frame is lowerer and name == target:
                continue
            held = frame.env.get(name)
            if name in frame.env and not (isinstance(held, Value) and held.uid in skip):
                update.readers.append((where, name, held))
        if frame.caller is None:
            break
        frame, call = frame.caller
        stmt = frame.stmt


# ------------------------------------------------------------------ which values share


_IMMUTABLE_CALLS = frozenset(id(f) for f in (
    builtins.len, builtins.range, builtins.bool, builtins.isinstance, builtins.print,
    builtins.str, builtins.repr, builtins.type, builtins.slice, builtins.min, builtins.max,
    builtins.int, builtins.float, builtins.round, np.shape, np.ndim, np.size,
    np.result_type, np.allclose, np.array_equal, np.count_nonzero))
_FRESH_CALLS = NONDIFF_NUMPY | NONDIFF_BUILTINS


@dataclass(frozen=True)
class _Facts:
    """What a value may be: the objects it may be (`obj`), the objects it may hold or
    share memory with besides (`inner`), and whether it is surely immutable."""

    obj: frozenset = frozenset()
    inner: frozenset = frozenset()
    immutable: bool = False

    @property
    def reach(self) -> frozenset:
        return self.obj | self.inner

    def join(self, other: _Facts) -> _Facts:
        return _Facts(self.obj | other.obj, self.inner | other.inner,
                      self.immutable and other.immutable)


_NUMBER = _Facts(immutable=True)


class _Sharing:
    """Facts for every value of a lowered function, loops iterated to a fixed point."""

    def __init__(self, fn: Function, free_numbers: set[str]) -> None:
        self.facts: dict[int, _Facts] = {}
        self.free_numbers = free_numbers
        for p in fn.params:
            self.facts[p.uid] = _Facts(frozenset({("param", p.uid)}),
                                       frozenset({("item", p.uid)}))
        self.producers: dict[int, Op] = {}
        self._block(fn.body)

    def of(self, operand: Any) -> _Facts:
        if isinstance(operand, Const):
            return _NUMBER
        if isinstance(operand, FreeName):
            if operand.name in self.free_numbers:
                return _NUMBER
            return _Facts(frozenset({("free", operand.name)}),
                          frozenset({("free item", operand.name)}))
        if isinstance(operand, Value):
            return self.facts.get(operand.uid, _Facts())
        if isinstance(operand, (_StaticSeq, _StaticDict)):
            items = operand.items.values() if isinstance(operand, _StaticDict) else operand.items
            reach = frozenset().union(*(self.of(i).reach for i in items))
            return _Facts(inner=reach)
        return _Facts()

    def known(self, operand: Any) -> bool:
        return not isinstance(operand, Value) or operand.uid in self.facts

    def _block(self, block: Block) -> None:
        for op in block.ops:
            for r in op.results:
                self.producers[r.uid] = op
            if isinstance(op, IfOp):
                self._if(op)
            elif isinstance(op, LoopOp):
                self._loop(op)
            elif op.results:  # (several results: a tuple unpacked, all alike)
                facts = self._op(op)
                for r in op.results:
                    self.facts[r.uid] = facts

    def _if(self, op: IfOp) -> None:
        for block in op.blocks:
            self._block(block)
        for k, r in enumerate(op.results):
            facts = [self.of(b.yields[k]) for b in op.blocks if k < len(b.yields)]
            self.facts[r.uid] = _join(facts)

    def _loop(self, op: LoopOp) -> None:
        if isinstance(op, ForOp):
            iterable = self.of(op.iterable)
            made = self.producers.get(op.iterable.uid) if isinstance(op.iterable, Value) else None
            counting = made is not None and made.attrs.get("fn") is builtins.range
            self.facts[op.item.uid] = _NUMBER if counting else _Facts(
                iterable.reach, iterable.inner)
        state = [self.of(a) for a in op.inits]
        for _ in range(100):  # the facts only grow: a few rounds reach the fixed point
            for params in op.carrier_params:
                for p, facts in zip(params, state):
                    self.facts[p.uid] = facts
            for block in op.blocks:
                self._block(block)
            grown = [s.join(self.of(y)) for s, y in zip(state, op.body.yields)]
            if grown == state:
                break
            state = grown
        for r, facts in zip(op.results, state):
            self.facts[r.uid] = facts

    def _op(self, op: Op) -> _Facts:
        args = [self.of(a) for a in op.args]
        fresh = frozenset({("new", op.results[0].uid)}) if op.results else frozenset()
        fn = op.attrs.get("fn")
        if op.prim == "keep_dtype":  # the result, or a copy of it cast
            return args[1]
        if op.prim in ("setitem", "add_at"):  # the same object (a list holds the value)
            return _Facts(args[0].obj, args[0].inner | args[1].reach, False)
        if op.prim == "pack":
            reach = frozenset().union(*(a.reach for a in args))
            return _Facts(fresh, reach, op.attrs.get("kind") == "tuple")
        if _is_view(op.prim) or (op.prim == "array" and op.attrs.get("same_object")) or (
                op.prim == "call" and fn is stop_gradient) or fn is builtins.max \
                or fn is builtins.min:
            parts = args[:1] if _is_view(op.prim) else args
            return _Facts(frozenset().union(*(a.reach for a in parts)),
                          frozenset().union(*(a.inner for a in parts)),
                          all(a.immutable for a in parts)
                          and op.prim not in ("getitem", "getattr"))
        if op.prim == "copy":  # x.copy(): a new array; a list's copy holds the same items
            inner = args[0].inner if args and not op.attrs.get("deep") else frozenset()
            return _Facts(fresh, inner, bool(args) and args[0].immutable)
        if op.prim in ("call", "custom"):
            if id(fn) in _IMMUTABLE_CALLS and op.attrs.get("nondiff", True):
                return _NUMBER
            if id(fn) in _FRESH_CALLS:
                return _Facts(fresh)
            reach = frozenset().union(*(a.reach for a in args))  # it may return an argument
            return _Facts(fresh | reach, reach)
        if is_array(op.prim):
            return _Facts(fresh, immutable=_reduces_to_scalar(op))
        immutable = op.attrs.get("family") == "math" or op.prim in ("float", "int") or all(
            a.immutable for a in args)
        inner = frozenset().union(*(a.inner for a in args)) if op.prim in ("add", "mul") \
            else frozenset()  # list concatenation and repetition keep the items
        return _Facts(fresh, inner, immutable)


def _reduces_to_scalar(op: Op) -> bool:
    """np.sum(x) and the like, over every axis: a NumPy scalar, which is immutable."""
    if not is_reduction(op.prim):
        return False
    kwnames = op.attrs.get("kwnames", ())
    positional = op.args[:len(op.args) - len(kwnames)]
    given = dict(zip(kwnames, op.args[len(positional):]))
    if len(positional) > 1 or any(not (isinstance(v, Const) and not v.value)
                                  for v in given.values()):
        return False  # an axis, keepdims or ddof: an array may come out
    return True


def _join(facts: Iterable[_Facts]) -> _Facts:
    out: _Facts | None = None
    for f in facts:
        out = f if out is None else out.join(f)
    return out if out is not None else _Facts()


# ------------------------------------------------------------------ the check


_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
            ast.Mod: "%", ast.Pow: "**", ast.MatMult: "@"}


def check_updates(fn: Function, updates: list[Update], free_numbers: set[str]) -> list[str]:
    """Guard the augmented assignments whose target may share its object with a value
    read afterwards; the names of the parameters whose arrays they may change in place.

    Whether the target is a number or an array is known only when the code runs, so
    the guard (`runtime_statements.check_unshared`) decides there: a number is rebound, as the
    compiled code does; an array that a later read shares raises a located error."""
    if not updates:
        return []
    sharing = _Sharing(fn, free_numbers)
    params = {p.uid: p.name for p in fn.params}
    changed: list[str] = []
    guards: dict[int, list[Op]] = {}
    for update in updates:
        if update.result is None or not sharing.known(update.value):
            continue  # lowered in a branch that was lowered again and dropped
        target = sharing.of(update.value)
        if target.immutable:
            continue
        shared: list[tuple[str, Operand]] = []
        for token in sorted(t for t in target.obj if t[0] in ("free", "free item")):
            shared.append((token[1], FreeName(token[1], "global")))  # module state
        for where, name, held in update.readers:
            if target.obj & sharing.of(held).reach:
                shared += [(name + where, item) for item in _operands(held)]
        if shared:
            op = _guard(update, shared)
            guards.setdefault(id(update.result_op), []).append(op)
        for token in target.obj:
            if token[0] in ("param", "item") and params[token[1]] not in changed:
                changed.append(params[token[1]])
    if guards:
        _insert_before(fn.body, guards)
    return changed


def _operands(held: Any) -> list[Operand]:
    """The values a name holds: itself, or a compile-time container's items."""
    if isinstance(held, _StaticSeq):
        return [o for item in held.items for o in _operands(item)]
    if isinstance(held, _StaticDict):
        return [o for item in held.items.values() for o in _operands(item)]
    return [held] if isinstance(held, (Value, FreeName)) else []


def _guard(update: Update, shared: list[tuple[str, Operand]]) -> Op:
    src = update.lowerer.src
    node = update.node
    names = ", ".join(dict.fromkeys(label for label, _ in shared))
    statement = src.line(node.lineno).strip()
    where = f"{src.filename}, line {node.lineno}: {statement}"
    readers = list(dict.fromkeys(operand for _, operand in shared))
    attrs = {"fn": runtime_statements.check_unshared, "kwnames": ("names", "where"), "nondiff": True,
             "effect": True, "guard": True}
    loc = update.result_op.loc
    return Op("call", [update.value, *readers, Const(names), Const(where)], [], attrs, [], loc)


def _insert_before(block: Block, guards: dict[int, list[Op]]) -> None:
    ops = []
    for op in block.ops:
        ops.extend(guards.get(id(op), ()))
        ops.append(op)
        for inner in op.blocks:
            _insert_before(inner, guards)
    block.ops = ops


def is_number(obj: Any) -> bool:
    """A Python or NumPy number (or None, or a string): immutable, so `+=` rebinds."""
    return obj is None or isinstance(obj, (int, float, complex, str, np.number, np.bool_))


# NumPy functions that return a view of their argument besides those the registry marks
# as views (np.flip(x)[0] = 1.0 changes x)
VIEWS_TOO = frozenset({"diagonal", "diag", "atleast_1d", "atleast_2d", "atleast_3d",
                       "moveaxis", "rollaxis", "flip", "fliplr", "flipud", "rot90", "real"})


def _is_view(prim: str) -> bool:
    """A result that may share memory with its first argument (x.T, x[1:], x.reshape)."""
    return prim in ("getitem", "getattr") or is_view(prim) or prim in VIEWS_TOO
