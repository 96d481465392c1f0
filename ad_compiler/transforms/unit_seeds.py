"""Vector-mode sweeps of a Jacobian, specialised to their seed being the identity.

A Jacobian of a function of one vector ``x`` (n numbers) runs a vector-mode JVP
seeded with every unit direction at once, ``x_dot = np.eye(n)``; reverse mode runs
the batched pullback of every unit cotangent, ``y_bar = np.eye(m)``.  Written out,
most of what such a sweep does to its seed is a scaling: ``t[:, None] * x_dot`` is
``np.diag(t)``, ``A @ x_dot`` is ``A``, ``A.T @ np.diag(d)`` is ``A.T * d``, and a
sum of such terms is one dense matrix with a vector added to its diagonal.  That
is how a person writes the Jacobian of ``np.tanh(A @ x + c) * x`` by hand::

    t = np.tanh(A @ x + c)
    J = ((1.0 - t ** 2) * x)[:, None] * A
    J[np.diag_indices(n)] += t

`unit_seed_sweep` rewrites a batched sweep, once the shapes of its values are
known (``static_shapes.analyse``), into that form: values that are a vector (or a
number) times the identity are carried as that vector, with no (n, n) array made,
until an operation needs them dense.  The identity itself is never built, so the
sweep's memory is that of the Jacobian and the function's own values.  Where an
operation has no rule here, the diagonal value is made dense (``np.diag(d)``)
first and the operation runs as generated, so the rewrite is never less general
than the sweep it starts from.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import batched
from ..builder import Builder
from ..ir import BINARY_SYMBOLS, Block, Const, Function, Op, Operand, Value
from ..registry import REGISTRY
from ..registry.emit import array_op
from .optimize import eliminate_dead_code
from .specialize import _clone, _power_of_two
from .specialize_rules import _shape
from .specialize_sums import use_counts
from .static_shapes import Facts, is_array

IDENTITY = Const(1.0)  # the diagonal of the seed itself
_ROW_ARITHMETIC = {"add": 2, "sub": 2, "mul": 2, "truediv": 2, "neg": 1}  # prim -> arity


def unit_seed_sweep(fn: Function, facts: Facts, seed: Value) -> Function | None:
    """A copy of the batched sweep `fn` for its parameter `seed` equal to ``np.eye(n)``
    (float64, the unit directions of a vector of n numbers), where that saves work;
    None where nothing does (or the sweep has loops or branches, which it leaves
    alone)."""
    sig = facts.of(seed)
    shape = _shape(sig)
    if not (is_array(sig) and sig[3] == np.float64 and shape is not None and len(shape) == 2
            and shape[0] == shape[1] and shape[0] > 0):
        return None
    if any(op.blocks for op in fn.body.ops):
        return None
    clone = _clone(fn)
    rewriter = _Diagonals(facts, clone, seed, shape[0])
    rewriter.run()
    if not rewriter.changed:
        return None
    eliminate_dead_code(clone)
    return clone


def _float64(sig: tuple | None) -> bool:
    """A float64 array or a Python float: what a product with the float64 seed keeps."""
    return sig is not None and (sig[0] == "float" or (is_array(sig) and sig[3] == np.float64)
                                or (sig[0] == "scalar" and sig[1] is np.float64))


class _Diagonals:
    """One pass over the top-level ops, carrying diagonal values as their diagonals."""

    def __init__(self, facts: Facts, fn: Function, seed: Value, n: int) -> None:
        self.facts, self.fn, self.n, self.seed = facts, fn, n, seed
        self.rows: dict[int, Operand | None] = {}  # p[:, None]-like value -> p
        self.diag: dict[int, Operand] = {seed.uid: IDENTITY}  # value -> d: it is d * I
        self.vectors: set[int] = set()  # the diagonals d that are vectors (not numbers)
        self.dense: dict[int, Operand] = {}  # diagonal value -> its dense form, once made
        self.replace: dict[int, Operand] = {}
        self.fresh: set[int] = set()  # arrays this code made (binary ops, the rules here)
        self.borrowed: set[int] = set()  # values that are an input's array (A @ I is A)
        self.uses = use_counts(fn.body)
        self.producer: dict[int, Op] = {}
        self.changed = False

    # ------------------------------------------------------------ the walk
    def run(self) -> None:
        body = self.fn.body
        out: list[Op] = []
        for op in body.ops:
            op.args = [self.sub(a) for a in op.args]
            b = self.builder(op)
            if not self.rule(op, b):
                op.args = [self.densified(a, b) for a in op.args]
                b.block.ops.append(op)
                if op.prim in BINARY_SYMBOLS or op.prim == "neg":
                    self.fresh.update(r.uid for r in op.results)
            for new in b.block.ops:
                for r in new.results:
                    self.producer[r.uid] = new
            out += b.block.ops
        b = Builder(Block())
        yields = []
        derived = getattr(self.fn, "derived", {})
        for written in body.yields:
            y = self.densified(self.sub(written), b)
            if isinstance(y, Value) and y.uid in self.borrowed:  # never the caller's array
                y = b.emit("copy", [y], attrs={"method_copy": True}).result
                if isinstance(written, Value) and written.uid in derived:
                    derived[y.uid] = derived[written.uid]  # x_dot's name, kept
            yields.append(y)
        body.ops = out + b.block.ops
        body.yields = yields

    def builder(self, op: Op) -> Builder:
        b = Builder(Block())
        b.loc = op.loc
        return b

    def sub(self, operand: Operand) -> Operand:
        while isinstance(operand, Value) and operand.uid in self.replace:
            operand = self.replace[operand.uid]
        return operand

    def of(self, operand: Operand) -> Any:
        if isinstance(operand, Const):
            return ("float",) if type(operand.value) is float else None
        return self.facts.of(operand)

    def diagonal(self, operand: Operand) -> Operand | None:
        return self.diag.get(operand.uid) if isinstance(operand, Value) else None

    def densified(self, operand: Operand, b: Builder) -> Operand:
        """A diagonal value as the array it stands for (made once)."""
        d = self.diagonal(operand)
        if d is None:
            return operand
        if isinstance(d, Const) and d.value == 1.0:
            return self.seed  # the identity is the seed (the caller's, marked as unit)
        if operand.uid not in self.dense:
            if self.is_vector(d):
                made = array_op(b, "diag", {REGISTRY["diag"].params[0]: d})
            else:
                made = b.emit("call", [Const(self.n)], attrs={
                    "fn": np.eye, "kwnames": (), "nondiff": True}).result
                made = b.mul(d, made)
            self.dense[operand.uid] = made
            self.fresh.add(made.uid)
        return self.dense[operand.uid]

    def is_vector(self, d: Operand) -> bool:
        return isinstance(d, Value) and (d.uid in self.vectors
                                         or _shape(self.of(d)) == (self.n,))

    # ------------------------------------------------------------ results
    def is_diagonal(self, op: Op, d: Operand, vector: bool | None = None) -> bool:
        """`op`'s result is ``d * I``, for `d` a vector of n numbers or a number."""
        self.diag[op.result.uid] = d
        if isinstance(d, Value) and (vector or vector is None and self.is_vector(d)):
            self.vectors.add(d.uid)
        self.changed = True
        return True

    def becomes(self, op: Op, b: Builder, made: Operand, fresh: bool = True) -> bool:
        """`op`'s result is `made`: emitted by the rule (its last op then computes the
        op's own result, known to the shape facts), or an operand."""
        emitted = b.block.ops[-1] if b.block.ops else None
        if emitted is not None and emitted.results == [made]:
            emitted.results = [op.result]
            for uid, dense in self.dense.items():  # a diagonal made dense here
                if dense is made:
                    self.dense[uid] = op.result
            made = op.result
        else:
            self.replace[op.result.uid] = made
            derived = getattr(self.fn, "derived", {})
            if isinstance(made, Value) and made.name is None and made.uid not in derived \
                    and op.result.uid in derived:  # the adjoint's name, x_bar, kept
                derived[made.uid] = derived[op.result.uid]
        if isinstance(made, Value):
            (self.fresh if fresh else self.borrowed).add(made.uid)
        self.changed = True
        return True

    # ------------------------------------------------------------ the rules
    def rule(self, op: Op, b: Builder) -> bool:
        if len(op.results) != 1:
            return False
        if not any(self.diagonal(a) is not None for a in op.args):
            return op.prim in ("add", "sub") and self.common_factor(op, b, *op.args)
        if op.prim == "call":
            helper = op.attrs.get("fn")
            name = getattr(helper, "__name__", "")
            if getattr(batched, name, None) is helper:
                method = getattr(self, "_" + name, None)
                return bool(method and method(op, b, *op.args))
            return False
        method = getattr(self, "_" + op.prim, None)
        return bool(method and len(op.args) in (1, 2) and method(op, b, *op.args))

    def scale(self, operand: Operand, b: Builder) -> Operand | None:
        """`operand` as a factor of each row: p for ``p[:, None]`` (p a vector of n
        numbers, or a number), for a number, and for arithmetic of such factors (vector
        mode writes ``(a[:, None] + b[:, None] * c[:, None]) * x_dot``, which is the
        diagonal ``a + b * c``); None for anything else."""
        if isinstance(operand, Const):
            return operand if type(operand.value) is float else None
        if operand.uid in self.rows:
            return self.rows[operand.uid]
        self.rows[operand.uid] = None  # (values only read earlier ones: no cycle)
        made = self.producer.get(operand.uid)
        sig = self.of(operand)
        row: Operand | None = None
        if _shape(sig) == () and _float64(sig):
            row = operand
        elif made is None or self.diagonal(operand) is not None or len(made.results) != 1:
            row = None
        elif made.prim == "expand_dims" and len(made.args) == 2 \
                and isinstance(made.args[1], Const) and made.args[1].value == -1:
            p = made.args[0]
            row = p if _shape(self.of(p)) in ((self.n,), ()) and _float64(self.of(p)) else None
        elif made.prim in _ROW_ARITHMETIC and len(made.args) == _ROW_ARITHMETIC[made.prim]:
            parts = [self.scale(a, b) for a in made.args]
            if None not in parts:
                row = b.apply(made.prim, parts)
                if isinstance(row, Value) and any(self.is_vector(p) for p in parts):
                    self.vectors.add(row.uid)
        self.rows[operand.uid] = row
        return row

    def vector(self, operand: Operand, shape: tuple) -> bool:
        sig = self.of(operand)
        return _shape(sig) == shape and _float64(sig)

    def _mul(self, op: Op, b: Builder, x: Operand, y: Operand) -> bool:
        dx, dy = self.diagonal(x), self.diagonal(y)
        if dx is not None and dy is not None:
            vector = self.is_vector(dx) or self.is_vector(dy)
            return self.is_diagonal(op, b.mul(dx, dy), vector)
        d, other = (dx, y) if dx is not None else (dy, x)
        factor = self.scale(other, b)
        if factor is None:
            return False
        vector = self.is_vector(d) or self.is_vector(factor)
        return self.is_diagonal(op, b.mul(factor, d), vector)

    def _neg(self, op: Op, b: Builder, x: Operand) -> bool:
        d = self.diagonal(x)
        return self.is_diagonal(op, b.neg(d), self.is_vector(d))

    def _add(self, op: Op, b: Builder, x: Operand, y: Operand, sign: str = "add") -> bool:
        dx, dy = self.diagonal(x), self.diagonal(y)
        if dx is not None and dy is not None:
            vector = self.is_vector(dx) or self.is_vector(dy)
            return self.is_diagonal(op, (b.add if sign == "add" else b.sub)(dx, dy), vector)
        dense, d = (y, dx) if dx is not None else (x, dy)
        # a dense matrix this code made and reads nowhere else, plus a diagonal
        if not (isinstance(dense, Value) and dense.uid in self.fresh
                and self.uses.get(dense.uid) == 1 and self.vector(dense, (self.n, self.n))):
            return False
        if sign == "sub" and dx is not None:  # d - D
            scaled = self.scaled(dense)
            if scaled is not None:  # d - c * M: -c * M, one pass as before
                dense = b.emit("mul", [scaled[1], Const(-scaled[0])]).result
            else:
                dense = b.emit("neg", [dense]).result
        elif sign == "sub":  # D - d
            d = b.neg(d)
        made = b.emit("call", [dense, d], attrs={"fn": batched.add_to_diagonal, "kwnames": ()})
        return self.becomes(op, b, made.result)

    def _sub(self, op: Op, b: Builder, x: Operand, y: Operand) -> bool:
        return self._add(op, b, x, y, sign="sub")

    def common_factor(self, op: Op, b: Builder, x: Operand, y: Operand) -> bool:
        """``c * M + N * c`` is ``(M + N) * c`` for c a power of two (which scales
        exactly): one dense temporary instead of two (``0.5 * K + K.T * 0.5``, the
        Hessian of ``0.5 * x @ K @ x``)."""
        factors = [self.scaled(v) for v in (x, y)]
        if None in factors or factors[0][0] != factors[1][0]:
            return False
        total = b.emit(op.prim, [factors[0][1], factors[1][1]]).result
        return self.becomes(op, b, b.emit("mul", [total, Const(factors[0][0])]).result)

    def scaled(self, operand: Operand) -> tuple[float, Operand] | None:
        """(c, M) for a dense (n, n) value ``c * M`` read only once, c a power of two."""
        made = self.producer.get(operand.uid) if isinstance(operand, Value) else None
        if made is None or made.prim != "mul" or self.uses.get(operand.uid) != 1 \
                or not self.vector(operand, (self.n, self.n)):
            return None
        for k in (0, 1):
            c, m = made.args[k], made.args[1 - k]
            if isinstance(c, Const) and type(c.value) is float and _power_of_two(c.value) \
                    and isinstance(m, Value) and self.diagonal(m) is None:
                return c.value, m
        return None

    def product(self, op: Op, b: Builder, matrix: Operand, d: Operand,
                transposed: bool = False) -> bool:
        """``matrix @ diag(d)`` (of ``matrix.T``): each column scaled."""
        if transposed:
            matrix = array_op(b, "transpose", {REGISTRY["transpose"].params[0]: matrix})
            b.block.ops[-1].attrs["attribute"] = "T"
        if isinstance(d, Const) and d.value == 1.0:
            return self.becomes(op, b, matrix, fresh=False)
        return self.becomes(op, b, b.mul(matrix, d))

    def _batched_rmatmul(self, op: Op, b: Builder, a: Operand, t: Operand) -> bool:
        sig, d = self.of(a), self.diagonal(t)
        if d is None or not (is_array(sig) and _float64(sig) and len(sig[2]) in (1, 2)
                             and sig[2][-1] == self.n):
            return False
        return self.product(op, b, a, d)

    def _batched_matmul(self, op: Op, b: Builder, t: Operand, other: Operand) -> bool:
        sig, d = self.of(other), self.diagonal(t)
        if d is None or not (is_array(sig) and _float64(sig) and len(sig[2]) in (1, 2)
                             and sig[2][0] == self.n):
            return False
        return self.product(op, b, other, d, transposed=len(sig[2]) == 2)

    def _batched_matmul_adjoint_b(self, op: Op, b: Builder, g: Operand, a: Operand,
                                  x: Operand) -> bool:
        sa, d = self.of(a), self.diagonal(g)
        if d is None or not (is_array(sa) and _float64(sa) and len(sa[2]) == 2
                             and sa[2][0] == self.n and _shape(self.of(x)) == sa[2][1:]):
            return False
        return self.product(op, b, a, d, transposed=True)  # a.T @ g

    def _batched_matmul_adjoint_a(self, op: Op, b: Builder, g: Operand, a: Operand,
                                  x: Operand) -> bool:
        sx, d = self.of(x), self.diagonal(g)
        if d is None or not (is_array(sx) and _float64(sx) and len(sx[2]) == 2
                             and sx[2][1] == self.n and _shape(self.of(a)) == sx[2][:1]):
            return False
        return self.product(op, b, x, d)  # b @ g, for a @ b of a vector a

    def _shaped_like(self, op: Op, t: Operand, like: Operand) -> bool:
        d = self.diagonal(t)
        if d is None or _shape(self.of(like)) != (self.n,):
            return False
        return self.is_diagonal(op, d, self.is_vector(d))

    def _batched_broadcast_like(self, op: Op, b: Builder, t: Operand, y: Operand) -> bool:
        return self._shaped_like(op, t, y)

    def _batched_unbroadcast(self, op: Op, b: Builder, g: Operand, x: Operand) -> bool:
        return self._shaped_like(op, g, x)

    def _batched_gradient_like(self, op: Op, b: Builder, g: Operand, x: Operand,
                               seed: Operand) -> bool:
        sx = self.of(x)
        if not (is_array(sx) and _float64(sx) and len(sx[2]) == 1):
            return False
        if self.diagonal(g) is not None:
            if sx[2] != (self.n,):
                return False
            return self.becomes(op, b, self.densified(g, b))
        if isinstance(g, Value) and g.uid in self.borrowed \
                and self.vector(g, sx[2] + (self.n,)):  # an input's array: a copy of it
            return self.becomes(op, b, b.emit("copy", [g], attrs={"method_copy": True}).result)
        # a dense adjoint this code made, of x's shape and the directions: as it is
        if isinstance(g, Value) and g.uid in self.fresh and self.uses.get(g.uid) == 1 \
                and self.vector(g, sx[2] + (self.n,)):
            return self.becomes(op, b, g)
        return False
