"""What kind of Python object each value is, as far as the code tells: a number or an
array, a container (list, tuple, dict, dataclass), or unknown.

Python code does not say what its parameters are, and ``+`` and ``*`` mean different
things for numbers and lists (``xs + ys`` joins, ``xs * 2`` repeats).  Where the
user's ``+`` or ``*`` is certainly arithmetic, the derivative uses the arithmetic
rule; elsewhere the runtime decides when the code runs (``list_head``,
``repeat_adjoint_of``, ``sum_tangent``).  The kinds also say which inputs may be
containers (so forward mode seeds them item by item, and their gradients are made
plain), and which sums common-subexpression elimination may reorder.  (Adjoints of
containers need no such care: the runtime's adjoint containers add item by item.)

The facts come from two directions:

* forward, from what made a value: a math or NumPy function makes a number or an
  array, a display makes a container, ``a + b`` of a float is numeric;
* backward, from what a value is used for, where that use would fail for a
  container: ``math.sin(x)``, ``abs(x)``, ``-x``, ``x ** 2``, ``x + 1.0``,
  ``x < 1.0``; and arithmetic that made a number or an array had numbers or arrays
  for operands (a list NumPy takes for an array is taken for one).  A use is evidence
  only where it runs whenever the value exists: in the block that defines the value
  (for a parameter, the function's own body), or on every branch of an ``if`` there.
  A gradient's output is a number, and so is what each branch of an ``if`` gave it.

Kinds: ``"scalar"`` a Python float (what ``math`` returns), ``"float"`` a float
number or array, ``"int"`` an integer by construction (a count, an index, a
comparison), ``"numeric"`` a number or array of either, ``"seq"`` a container, None
unknown.  Only an ``"int"`` is taken to repeat a list under ``*``: an integer passed
in by the caller where the code also takes a list (``xs * n``, with `n` also used
as a number) is beyond what the code tells.
"""
from __future__ import annotations

from ..ir import (
    Block,
    Const,
    ForOp,
    Function,
    IfOp,
    LoopOp,
    Op,
    Operand,
    Value,
    WhileOp,
    is_numpy_operator_call,
    walk_ops,
)
from ..primitives import PRIMITIVES
from ..registry import get, is_array

NUMERIC = frozenset({"scalar", "float", "int", "numeric"})
_FLOATING = frozenset({"scalar", "float"})
_ARITHMETIC = frozenset({"sub", "truediv", "pow", "mod", "floordiv", "neg", "pos", "matmul"})
_COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "ne", "not", "and", "or"})


def _has(prim: str, prop: str) -> bool:
    """A property of a registry entry: `container_result` (a list of arrays), or
    `opaque_kind` (a helper whose result's kind is that of an operand, or not known)."""
    record = get(prim)
    return record is not None and bool(getattr(record, prop))


def _makes_container(op: Op) -> bool:
    """Whether `op` returns a list or tuple of arrays: its entry's `container_result`,
    a function of the op where the arguments decide (``svd(a, compute_uv=False)``)."""
    record = get(op.prim)
    made = record.container_result if record is not None else False
    return bool(made(op) if callable(made) else made)


def _result_item_kind(producers: dict[int, Op], op: Op) -> str | None:
    """The kind of ``op``, a getitem or getattr, where it reads one item of the tuple or
    list a NumPy function returned: every such item is a number or an array (np.split's
    pieces, lstsq's rank), a float one for an entry with `float_items` (w, V = eigh(a)).
    A slice of it (``np.split(x, 4)[1:]``) is a list, so only one item counts."""
    if op.prim == "getitem" and not (len(op.args) == 2 and isinstance(op.args[1], Const)
                                     and type(op.args[1].value) is int):
        return None
    if op.prim == "getattr" and not (isinstance(op.args[1], Const) and
                                     op.args[1].value not in ("count", "index")):
        return None  # (a tuple's methods)
    return _items_of_array_result(producers, op.args[0])


def _items_of_array_result(producers: dict[int, Op], operand: Operand) -> str | None:
    """The kind of every item of `operand`, where a NumPy function returned it as a tuple
    or list of numbers and arrays; else None."""
    made = producers.get(operand.uid) if isinstance(operand, Value) else None
    if made is None or not _has(made.prim, "is_array") or not _makes_container(made):
        return None
    return "float" if _has(made.prim, "float_items") else "numeric"


def _join(a: str | None, b: str | None) -> str | None:
    if a == b:
        return a
    if a in NUMERIC and b in NUMERIC:
        return "float" if a in _FLOATING and b in _FLOATING else "numeric"
    return None


class Kinds:
    """The kind of every value of a function (see the module docstring)."""

    def __init__(self, fn: Function, numeric_outputs: bool = False,
                 outputs: int | None = None, float_inputs: tuple[int, ...] = ()) -> None:
        """`float_inputs`: parameters known to be floats or float arrays (batched
        reverse mode is called with nothing else)."""
        self.kinds: dict[int, str | None] = {fn.params[i].uid: "float" for i in float_inputs}
        self.fn = fn
        self._top_params = {p.uid for p in fn.params}
        self._producers = {r.uid: o for o in walk_ops(fn.body) for r in o.results}
        self._values: dict[int, Value] = {}
        for _ in range(8):  # forward facts, then evidence, until nothing changes
            before = dict(self.kinds)
            self._forward(fn.body)
            if numeric_outputs:  # a gradient's outputs (those differentiated) are numbers
                for out in fn.outputs[:outputs]:
                    self._prove(out)
            self._evidence(fn.body, top=True)
            if self.kinds == before:
                break

    # ------------------------------------------------------------------ queries
    def of(self, operand: Operand | None) -> str | None:
        if type(operand) is Value:  # (the common case first)
            return self.kinds.get(operand.uid)
        if isinstance(operand, Const):
            value = operand.value
            if isinstance(value, bool) or isinstance(value, int):
                return "int"
            if isinstance(value, (float, complex)):
                return "scalar"
            return None
        if isinstance(operand, Value):
            return self.kinds.get(operand.uid)
        return None  # a global read at run time: anything

    def numeric(self, operand: Operand | None) -> bool:
        """Certainly a number or an array: its adjoints add with ``+``."""
        return self.of(operand) in NUMERIC

    def container(self, operand: Operand | None) -> bool:
        return self.of(operand) == "seq"

    # ------------------------------------------------------------------ forward
    def _set(self, value: Value, kind: str | None) -> None:
        old = self.kinds.get(value.uid)
        if old in NUMERIC and kind is None:
            return  # evidence found earlier stands
        self.kinds[value.uid] = kind

    def _forward(self, block: Block) -> None:
        for op in block.ops:
            if isinstance(op, IfOp):
                for branch in op.blocks:
                    self._forward(branch)
                for k, r in enumerate(op.results):
                    kinds = [self.of(b.yields[k]) for b in op.taken_blocks
                             if k < len(b.yields)]
                    self._set(r, _fold(kinds))
            elif isinstance(op, LoopOp):
                self._loop(op)
            else:
                kind = self._made(op)
                for r in op.results:
                    self._set(r, kind if len(op.results) == 1 else None)

    def _loop(self, op: LoopOp) -> None:
        body, params, inits = op.body, op.carried_params, op.inits
        if isinstance(op, ForOp):
            self._set(op.item, self._item_kind(op.iterable))
        cond_params = op.cond_block.params if isinstance(op, WhileOp) else []
        for _ in range(4):
            carried = [_fold([self.of(i)] + ([self.of(body.yields[k])]
                                              if k < len(body.yields) and self._known(
                                                  body.yields[k]) else []))
                       for k, i in enumerate(inits)]
            for k, kind in enumerate(carried):
                if k < len(params):
                    self._set(params[k], self._carried(params[k], kind))
                if k < len(cond_params):
                    self._set(cond_params[k], self._carried(cond_params[k], kind))
            before = dict(self.kinds)
            for block in op.blocks:
                self._forward(block)
            if before == self.kinds:
                break
        for k, r in enumerate(op.results):
            if k < len(inits):
                yielded = self.of(body.yields[k]) if k < len(body.yields) else None
                self._set(r, _fold([self.of(inits[k]), yielded]))
            else:
                self._set(r, None)

    def _known(self, operand: Operand) -> bool:
        """Whether the forward pass has reached `operand` yet (a loop's next state has
        not been reached when the loop is first entered)."""
        return not isinstance(operand, Value) or operand.uid in self.kinds

    def _carried(self, param: Value, kind: str | None) -> str | None:
        old = self.kinds.get(param.uid)
        return kind if old is None else _join(old, kind)

    def _item_kind(self, iterable: Operand) -> str | None:
        made = self._producers.get(iterable.uid) if isinstance(iterable, Value) else None
        if made is not None and made.prim == "call" and getattr(
                made.attrs.get("fn"), "__name__", None) == "range":
            return "int"
        if _items_of_array_result(self._producers, iterable) is not None:
            return _items_of_array_result(self._producers, iterable)  # np.split's pieces
        return "float" if self.of(iterable) in _FLOATING else None

    def _made(self, op: Op) -> str | None:
        kinds = [self.of(a) for a in op.args]
        prim = op.prim
        if is_numpy_operator_call(op):  # an array, never a joined or repeated list; but its
            # operands may be lists, whose tangents the runtime must add item by item
            return "numeric" if all(k in NUMERIC for k in kinds) else None
        if prim == "pack" or _makes_container(op):
            return "seq"
        if prim == "copy":
            return kinds[0] if kinds else None
        if prim in ("getitem", "getattr") and _result_item_kind(self._producers, op) is not None:
            return _result_item_kind(self._producers, op)  # w of w, V = np.linalg.eigh(a)
        if prim == "getitem":
            return kinds[0] if kinds and kinds[0] in ("float", "int", "numeric") else None
        if prim == "add":
            if any(k in _FLOATING for k in kinds):
                return "float"
            if "seq" in kinds:
                return "seq"
            if all(k == "int" for k in kinds):
                return "int"
            return "numeric" if any(k in NUMERIC for k in kinds) else None
        if prim == "mul":
            if "seq" in kinds:
                return "seq"
            if any(k in _FLOATING for k in kinds):
                return "float"
            if all(k == "int" for k in kinds):
                return "int"
            if "numeric" in kinds and "int" not in kinds:
                return "numeric"
            return "numeric" if all(k in NUMERIC for k in kinds) else None
        if prim in _ARITHMETIC:
            if any(isinstance(a, Const) and isinstance(a.value, str) for a in op.args):
                return None  # "%s" % x formats a string
            if prim == "truediv" or any(k in _FLOATING for k in kinds):
                return "float"
            return "int" if all(k == "int" for k in kinds) else "numeric"
        if prim in _COMPARISONS:
            return "int"
        if prim == "custom":
            return "float"
        record = get(prim)
        if record is not None and record.kind_like is not None and \
                record.kind_like < len(kinds):  # its value stands for that argument's
            return kinds[record.kind_like]
        if record is not None and record.float_result:
            return "float"
        if _has(prim, "opaque_kind") or prim in ("stack", "pop", "push", "getattr"):
            return None
        if prim == "call":
            if op.attrs.get("nondiff") and op.attrs.get("callee_kind") == "builtin":
                return "int"  # len, int, round, range, ...
            return None
        spec = PRIMITIVES.get(prim)
        if spec is not None:  # an elementwise function: math gives floats, NumPy arrays
            return "scalar" if op.attrs.get("family") == "math" else "float"
        if is_array(prim) or prim.endswith("_adjoint") or prim.startswith("batched"):
            return "float"
        return None

    # ------------------------------------------------------------------ evidence
    def _prove(self, operand: Operand) -> None:
        """`operand` is a number or an array; so is what an ``if`` or a loop passed on
        as it (each branch's or iteration's value, where it is the one passed on)."""
        if not isinstance(operand, Value) or self.kinds.get(operand.uid) in NUMERIC:
            return
        self.kinds[operand.uid] = "numeric"
        made = self._producers.get(operand.uid)
        if made is not None and made.blocks:
            k = made.results.index(operand)
            if isinstance(made, IfOp):
                for branch in made.taken_blocks:
                    if k < len(branch.yields):
                        self._prove(branch.yields[k])
            elif isinstance(made, LoopOp) and k < len(made.body.yields):
                self._prove(made.body.yields[k])

    def _evidence(self, block: Block, top: bool) -> None:
        defined = {p.uid for p in block.params} | {r.uid for o in block.ops for r in o.results}
        if top:
            defined |= self._top_params
        for uid in self._block_evidence(block) & defined:
            self._prove(self._values[uid])
        for op in block.ops:
            for inner in op.blocks:
                self._evidence(inner, top=False)

    def _block_evidence(self, block: Block) -> set[int]:
        """Values some op of `block` needs to be numbers or arrays, where the op runs
        whenever the block does: its own ops, and what every branch of an ``if`` needs."""
        found: set[int] = set()
        for op in block.ops:
            for operand in self._must_be_numeric(op):
                if isinstance(operand, Value):
                    found.add(operand.uid)
                    self._values[operand.uid] = operand
            if isinstance(op, IfOp):
                found |= self._block_evidence(op.then_block) & self._block_evidence(op.else_block)
        return found

    def _must_be_numeric(self, op: Op) -> list[Operand]:
        """Operands of `op` that would make it fail unless they are numbers or arrays."""
        prim = op.prim
        if is_numpy_operator_call(op):
            return []  # np.add(xs, 1.0) takes lists
        if prim in ("neg", "pos"):
            return list(op.args)
        if prim == "getitem" and len(op.args) > 2 and any(
                isinstance(a, Const) and (isinstance(a.value, slice) or a.value is Ellipsis)
                for a in op.args[1:]):  # x[:, 0], x[..., None]: a list or tuple refuses
            return op.args[:1]           # these, a dict has no such keys
        if prim in ("lt", "le", "gt", "ge") and len(op.args) == 2:  # [1.0] < 2.0 fails
            a, b = op.args
            return [this for this, other in ((a, b), (b, a))
                    if self._python_number(other, repeats=False)]
        spec = PRIMITIVES.get(prim)
        family = op.attrs.get("family")
        if spec is not None and (family == "math" or family == "builtin" and prim not in (
                "maximum", "minimum")):  # math.sin(x), abs(x), float(x) of a list fail
            return list(op.args)
        if prim in ("add", "sub", "mul", "truediv", "pow", "floordiv", "mod") and \
                len(op.args) == 2:
            if any(isinstance(a, Const) and isinstance(a.value, str) for a in op.args):
                return []
            if self.numeric(op.result):  # numbers or arrays in, a number or array out
                return list(op.args)
            a, b = op.args
            return [this for this, other in ((a, b), (b, a))
                    if self._python_number(other, repeats=prim == "mul")]
        return []

    def _python_number(self, operand: Operand, repeats: bool) -> bool:
        """A Python number: a list meeting it in arithmetic fails (an int only repeats
        a list under ``*``)."""
        if isinstance(operand, Const):
            value = operand.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            return not (repeats and isinstance(value, int))
        return self.of(operand) == "scalar"


def _fold(kinds: list[str | None]) -> str | None:
    if not kinds:
        return None
    out = kinds[0]
    for k in kinds[1:]:
        out = _join(out, k)
    return out
