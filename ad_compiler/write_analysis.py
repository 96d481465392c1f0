"""Which writes into arrays the generated code may do in place.

In the IR, ``out[i] = v`` makes a new value, ``out_1 = setitem(out, v, ...)``; printed
as it means, that is a copy of `out` and a write into the copy.  The copy can be left
out, and `out` written in place, where nothing can tell the difference: the object
`out` holds is the code's own (made here, not an argument, a global or something a
list or a stack still holds), and no value that may share it is read after the write.

`in_place_writes()` decides this for every `setitem` op of a function:

* owned: made by an op that returns a new array (``np.zeros``, arithmetic, a copy, a
  write), or a loop's carried value whose initial value is owned and read by nothing
  after the loop, or an ``if``'s result whose branches' values are;
* not read afterwards: no use, after the write, of the old value or of anything made
  from it that may share its memory (a view, a list holding it, a stack it was pushed
  on), counting uses inside a loop that repeats the write as after it.
"""
from __future__ import annotations

from . import batched, runtime
from .ir import Block, Const, ForOp, Function, IfOp, LoopOp, Op, Value, WhileOp, walk_ops
from .lowering.inplace import _FRESH_CALLS, _IMMUTABLE_CALLS, VIEWS_TOO
from .registry import get, has_expr, is_array, is_view
from .registry.writes import IF_ARRAY

# helpers that may return an argument at these positions (or a new array)
_PASSES_ON = {"dense": (0,), "accumulate": (0, 1), "densify": (0,)}
# run-time helpers returning a new array nothing else holds
_FRESH_HELPERS = (batched.batch_zeros, runtime.zeros_of)

_WRITES = ("setitem", "add_at", "appended")
_FRESH_PRIMS = frozenset({"setitem", "add_at", "appended", "zeros_of", "zeros_with_directions",
                          "index_update", "field_update", "cleared"})
_READS_ONLY = frozenset({"unbroadcast_shape"})  # prims that read without keeping
# helpers that read only the shape (and dtype) of the operands at these positions, which
# a write does not change
_SHAPE_ONLY = {"zeros_of": (0,), "zeros_with_directions": (0, 1), "unbroadcast": (1,),
               "gradient_like": (1,), "index_update": (0,), "last_writes": (1,),
               "sum_adjoint": (1,), "field_update": (0,), "as_gradient": (1,),
               "dense": (1,), "densify": (1,)}
# elementwise primitives whose result may be their operand itself (np.real of a real array)
_MAY_RETURN_OPERAND = VIEWS_TOO | {"copy"}


class _Position:
    """Where an op (or a block's yields) sits: the path of (block id, index) pairs from
    the function's body down, and the op holding each block on the way."""

    __slots__ = ("path", "holders")

    def __init__(self, path: tuple, holders: tuple) -> None:
        self.path, self.holders = path, holders


def in_place_writes(fn: Function) -> dict[int, tuple[Op, set[int]]]:
    """The `setitem` ops that may write into their target in place, by id: each with
    the values that may share the target's memory (which must be read before it)."""
    if not _has_prim(fn.body, _WRITES):
        return {}  # (the analysis walks the whole function: it may be long)
    analysis = _Analysis(fn)
    found = {}
    for op in analysis.writes:
        if op.attrs.get("in_place") or analysis.in_place(op):
            found[id(op)] = (op, analysis.sharing_set(op.args[0], op))
    return found


def accumulations_in_place(fn: Function) -> dict[int, int]:
    """The `accumulate` ops (a sum of adjoints) one of whose dense operands is the code's
    own and read no more, by id, with that operand's position: the sum may go into it."""
    if not _has_prim(fn.body, ("accumulate",)):
        return {}
    analysis = _Analysis(fn)
    found = {}
    for op in analysis.accumulations:
        for k, a in enumerate(op.args[:2]):
            made = analysis.producer.get(a.uid) if isinstance(a, Value) else None
            if made is None or made.prim in ("index_update", "field_update"):
                continue  # a sparse adjoint is never added into
            if analysis.owned(a) and not analysis._read_after(a, analysis.position[id(op)], op):
                found[id(op)] = k
                break
    return found


def _has_prim(block: Block, prims: tuple[str, ...]) -> bool:
    return any(op.prim in prims for op in walk_ops(block))


def runs_after(fn_positions: dict, a: Op, b: Op) -> bool:
    """Whether op `a` runs after op `b` (positions from `positions()`)."""
    return _after(fn_positions[id(a)], fn_positions[id(b)])


def positions(fn: Function) -> dict[int, _Position]:
    return _Analysis(fn).position


class _Analysis:
    def __init__(self, fn: Function) -> None:
        self.producer: dict[int, Op] = {}
        self.param_of: dict[int, tuple[Op | None, Block, int]] = {}  # param -> (op, block, k)
        self.position: dict[int, _Position] = {}  # id(op) -> its position
        self.defined_at: dict[int, _Position] = {}  # value -> position of its definition
        self.uses: dict[int, list[tuple[_Position, Op | None, Block]]] = {}
        self.writes: list[Op] = []
        self.accumulations: list[Op] = []
        self.block_holder: dict[int, Op] = {}  # id(block) -> the op holding it
        self._owned: dict[int, bool] = {}
        for p in fn.params:
            self.param_of[p.uid] = (None, fn.body, -1)
            self.defined_at[p.uid] = _Position(((id(fn.body), -1),), ())
        self._walk(fn.body, (), ())

    def _walk(self, root: Block, root_path: tuple, root_holders: tuple) -> None:
        pending = [(root, root_path, root_holders)]
        while pending:
            block, path, holders = pending.pop()
            for p in block.params:
                self.defined_at[p.uid] = _Position(path + ((id(block), -1),), holders)
            for index, op in enumerate(block.ops):
                here = _Position(path + ((id(block), index),), holders)
                self.position[id(op)] = here
                for r in op.results:
                    self.producer[r.uid] = op
                    self.defined_at[r.uid] = here
                for a in op.args:
                    if isinstance(a, Value):
                        self.uses.setdefault(a.uid, []).append((here, op, block))
                if op.prim in _WRITES:
                    self.writes.append(op)
                elif op.prim == "accumulate":
                    self.accumulations.append(op)
                for inner in op.blocks:
                    self.block_holder[id(inner)] = op
                    for k, p in enumerate(inner.params):
                        self.param_of[p.uid] = (op, inner, k)
                    pending.append((inner, here.path, holders + (op,)))
            end = _Position(path + ((id(block), len(block.ops)),), holders)
            for y in block.yields:
                if isinstance(y, Value):
                    self.uses.setdefault(y.uid, []).append((end, None, block))

    # ------------------------------------------------------------ the decision
    def in_place(self, write: Op) -> bool:
        target = write.args[0]
        if write.prim == "setitem" and isinstance(write.args[2], Const) and \
                write.args[2].value == IF_ARRAY:
            return False  # into an array only, decided when the code runs
        if not isinstance(target, Value) or not self.owned(target):
            return False
        if self._repeats(target, write):
            return False
        return not self._read_after(target, self.position[id(write)], skip=write)

    def _repeats(self, value: Value, write: Op) -> bool:
        """Whether a loop between the value's definition and the write runs the write
        again with the same value."""
        defined = self.defined_at[value.uid].path
        where = self.position[id(write)]
        for level, holder in enumerate(where.holders):
            block_id = where.path[level + 1][0]
            if isinstance(holder, LoopOp) and not _inside(defined, block_id):
                return True
        return False

    def owned(self, value: Value) -> bool:
        if value.uid not in self._owned:
            self._owned[value.uid] = False  # (a cycle through a loop: assume not)
            self._owned[value.uid] = self._owned_now(value)
        return self._owned[value.uid]

    def _owned_now(self, value: Value) -> bool:
        op = self.producer.get(value.uid)
        if op is None:
            holder, block, k = self.param_of.get(value.uid, (None, None, -1))
            if isinstance(holder, ForOp) and block is holder.body and k >= 1:
                return self._owned_carried(holder, k - 1, value)
            return False
        if isinstance(op, IfOp):
            k = op.results.index(value)
            return all(isinstance(b.yields[k], Value) and self.owned(b.yields[k])
                       and not self._read_after(b.yields[k], self.position[id(op)], skip=op)
                       for b in op.blocks)
        if isinstance(op, LoopOp):
            return False
        if op.prim in _PASSES_ON:  # owned if what it may return is owned and read no more
            return all(self.owned(a) and not self._read_after(a, self.position[id(op)], op)
                       for k, a in enumerate(op.args)
                       if k in _PASSES_ON[op.prim] and isinstance(a, Value))
        return _makes_new(op)

    def _owned_carried(self, loop: ForOp, k: int, param: Value) -> bool:
        init, yielded = loop.inits[k], loop.body.yields[k]
        if not isinstance(init, Value) or not self.owned(init):
            return False
        if self._read_after(init, self.position[id(loop)], skip=loop) or \
                self._read_inside(init, loop):
            return False
        self._owned[param.uid] = True  # what the body yields may be the param itself
        return isinstance(yielded, Value) and (yielded is param or self.owned(yielded))

    def _read_inside(self, value: Value, loop: LoopOp) -> bool:
        """Whether the loop's body reads `value` (or what shares its memory) itself, not
        the param carrying it: the first iteration's param is `value`, so a write into
        the param in place would change what a later iteration reads."""
        shared = self.sharing_set(value, loop)
        return any(user is not loop and any(h is loop for h in where.holders)
                   for uid in shared for where, user, _ in self.uses.get(uid, ()))

    def sharing_set(self, value: Value, skip: Op) -> set[int]:
        """`value` and the values made from it that may share its memory."""
        seen = {value.uid}
        pending = [value]
        while pending:
            current = pending.pop()
            for _, user, block in self.uses.get(current.uid, ()):
                if user is skip:
                    continue
                for shared in self._sharing(user, block, current):
                    if shared.uid not in seen:
                        seen.add(shared.uid)
                        pending.append(shared)
        return seen

    def _read_after(self, value: Value, point: _Position, skip: Op) -> bool:
        """Whether `value`, or a value that may share its memory, is used after `point`
        (uses by `skip`, which takes the object over, do not count)."""
        seen = {value.uid}
        pending = [value]
        while pending:
            current = pending.pop()
            for where, user, block in self.uses.get(current.uid, ()):
                if user is skip or (user is None and skip in where.holders) \
                        or _reads_shape_only(user, current):
                    continue
                if _after(where, point):
                    return True
                for shared in self._sharing(user, block, current):
                    if shared.uid not in seen:
                        seen.add(shared.uid)
                        pending.append(shared)
        return False

    def _sharing(self, user: Op | None, block: Block, used: Value) -> list[Value]:
        """Values made by a use of `used` that may share its memory."""
        if user is None:  # yielded: the results (or next params) of the op holding it
            return self._yielded_to(block, used)
        if isinstance(user, (IfOp, LoopOp)):  # a loop's initial value, an if's condition
            shared = list(user.results)
            if isinstance(user, LoopOp):
                for k, init in enumerate(user.inits):
                    if init is used:
                        shared += [params[k] for params in user.carrier_params]
            return shared
        if _reads_only(user):
            return []
        if user.prim == "push":  # the stack holds it until it is popped
            return [a for a in user.args[:1] if isinstance(a, Value)]
        return list(user.results)

    def _yielded_to(self, block: Block, used: Value) -> list[Value]:
        for holder_op, inner in self._holders_of(block):
            positions = [k for k, y in enumerate(inner.yields) if y is used]
            shared = [holder_op.results[k] for k in positions if k < len(holder_op.results)]
            if isinstance(holder_op, LoopOp):
                for k in positions:
                    shared += [params[k] for params in holder_op.carrier_params
                               if k < len(params)]
            if isinstance(holder_op, WhileOp) and inner is holder_op.cond_block:
                shared = list(holder_op.results) + [p for params in holder_op.carrier_params
                                                    for p in params]
            return shared
        return []

    def _holders_of(self, block: Block) -> list[tuple[Op, Block]]:
        holder = self.block_holder.get(id(block))
        return [] if holder is None else [(holder, block)]


def _inside(path: tuple, block_id: int) -> bool:
    return any(b == block_id for b, _ in path)


def _after(use: _Position, point: _Position) -> bool:
    """Whether a use at `use` runs after the op at `point` (in the same run of the
    blocks they share; a use in another branch of the same ``if`` never does)."""
    for level, ((b1, i1), (b2, i2)) in enumerate(zip(use.path, point.path)):
        if b1 != b2:  # two blocks of one op
            holder = point.holders[level - 1] if level >= 1 else None
            return not isinstance(holder, IfOp)
        if i1 != i2:
            return i1 > i2
    return False  # one holds the other: an op's arguments are read before its blocks run


def _reads_shape_only(op: Op | None, used: Value) -> bool:
    positions = _SHAPE_ONLY.get(op.prim) if op is not None else None
    return positions is not None and all(
        k in positions for k, a in enumerate(op.args) if a is used)


def _reads_only(op: Op) -> bool:
    """An op whose results never share memory with its operands."""
    if op.prim in ("pack", "getitem", "getattr", "copy", "push", "stack", "pop"):
        return op.prim == "copy" and bool(op.attrs.get("method_copy"))
    if op.prim in ("call", "custom"):
        fn = op.attrs.get("fn")
        return id(fn) in _IMMUTABLE_CALLS or id(fn) in _FRESH_CALLS
    if op.prim in _WRITES:
        return False
    if op.prim in _MAY_RETURN_OPERAND:
        return False
    if has_expr(op.prim) or op.prim in _READS_ONLY:
        return True
    if is_array(op.prim):
        return not is_view(op.prim) and not op.attrs.get("same_object") \
            and op.prim not in VIEWS_TOO
    record = get(op.prim)
    return record is not None and bool(record.nondiff)


def _makes_new(op: Op) -> bool:
    """An op whose result is a new object, held by nothing else."""
    if op.prim in _WRITES and op.attrs.get("in_place"):
        return False  # written in place by reverse mode's loops (overwrites.py)
    if op.prim in _FRESH_PRIMS:
        return True
    if op.prim == "pack" and op.attrs.get("kind") == "list" and not op.args:
        return True  # [] (lists only appends write into: sum's terms)
    if op.prim == "copy":
        return bool(op.attrs.get("method_copy"))
    if op.prim in ("call", "custom"):
        fn = op.attrs.get("fn")
        return id(fn) in _FRESH_CALLS or any(fn is f for f in _FRESH_HELPERS)
    if has_expr(op.prim):
        return op.prim not in _MAY_RETURN_OPERAND
    if is_array(op.prim):
        return not is_view(op.prim) and not op.attrs.get("same_object") \
            and op.prim not in VIEWS_TOO
    return False
