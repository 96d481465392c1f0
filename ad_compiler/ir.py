"""The IR: an SSA evaluation trace of primitives, with structured control flow.

A `Function` owns a body `Block`; a block is an ordered list of `Op`s; every op
computes `results` from `args` with one primitive.  Every `Value` is assigned once.
Operands that are not values are `Const` (a literal) or `FreeName` (a global or
closure variable of the user's function, read when the generated code runs).

Control flow is structured, as in MLIR's `scf` dialect: `IfOp`, `ForOp` and
`WhileOp` are ops that own nested blocks, and name their parts:

* `IfOp`:    `cond`; `then_block`, `else_block`, each yielding one operand per
  result; `kind`: an ``if`` statement, ``and``/``or``, or a conditional expression.
* `ForOp`:   `iterable`, `inits`; `body`, whose params are `item` then the
  `carried_params`, and which yields the next carried values; the results are the
  carried values after the last iteration.
* `WhileOp`: `inits`; `cond_block` and `body`, both with params ``[*carried]``;
  `cond_block` yields one boolean, `body` yields the next carried values.

The parts are views of the generic storage (``args``, ``blocks``, ``attrs``) that
every op has, so code that walks, prints or copies ops needs no case for them;
`Op.rebuilt()` copies an op keeping its class.

Nested blocks may read any value defined before them in an enclosing block.
Levels follow the ``w^n_i`` notation of the evaluation trace: inputs are level 0,
an op's results sit one level above its highest operand.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_uids = itertools.count(1)

# Operator primitives and the Python syntax they print as.
BINARY_SYMBOLS = {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//",
    "mod": "%", "pow": "**", "matmul": "@",
}
UNARY_SYMBOLS = {"neg": "-", "pos": "+", "not": "not "}
COMPARE_SYMBOLS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def is_numpy_operator_call(op: Op) -> bool:
    """`np.add(a, b)` and its kin as the user called them: an operator's primitive that
    converts lists to arrays where the operator would join or repeat them."""
    return (op.attrs.get("family") == "numpy" and op.attrs.get("callee") is not None
            and op.prim != "matmul" and (op.prim in BINARY_SYMBOLS or op.prim in COMPARE_SYMBOLS
                                         or op.prim in ("neg", "pos")))


class Value:
    """One SSA value. `name` is the user's variable name, None for a temporary."""

    __slots__ = ("name", "uid", "level", "index")

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.uid = next(_uids)
        self.level = 0
        self.index = 0

    @property
    def trace_name(self) -> str:
        return f"w{self.level}_{self.index}"

    def __repr__(self) -> str:
        return f"Value({self.name or self.trace_name}#{self.uid})"


@dataclass(frozen=True)
class Const:
    """A literal operand: a number, bool, None, string or tuple of those."""

    value: Any

    def __repr__(self) -> str:
        return f"Const({self.value!r})"


@dataclass(frozen=True)
class FreeName:
    """A global or closure variable of the user's function, read at call time."""

    name: str
    kind: str  # "global" or "closure"


Operand = Value | Const | FreeName


@dataclass(frozen=True)
class SourceLoc:
    """Where an op comes from: its expression and the statement holding it."""

    lineno: int
    col: int
    stmt_lineno: int


@dataclass(eq=False)
class Op:
    """One primitive applied to `args`, making `results`.  Control flow is an op of
    a subclass that owns nested `blocks`: `IfOp`, `ForOp`, `WhileOp`."""

    prim: str
    args: list[Operand]
    results: list[Value]
    attrs: dict[str, Any] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    loc: SourceLoc | None = None

    @property
    def result(self) -> Value:
        return self.results[0]


    def rebuilt(self, **parts: Any) -> Op:
        """A copy of this op, of the same class, with some parts replaced (lists and
        attributes are copied, so the copy can be changed alone)."""
        fields = {"args": list(self.args), "results": list(self.results),
                  "attrs": dict(self.attrs), "blocks": list(self.blocks), "loc": self.loc}
        fields.update(parts)
        if type(self) is Op:  # the common case, without `dataclasses.replace`'s checks
            return Op(fields.pop("prim", self.prim), **fields)
        return dataclasses.replace(self, **fields)


IF_KINDS = ("statement", "and", "or", "ifexp")


@dataclass(eq=False)
class IfOp(Op):
    """``if cond: then_block else: else_block``; each block yields one operand per result.

    `kind` says what Python wrote: an ``if`` statement, an ``and``/``or`` (the branch
    that keeps the condition yields it), or a conditional expression; code generation
    prints it back in the same form."""

    prim: str = field(default="if", init=False)

    @property
    def cond(self) -> Operand:
        return self.args[0]

    @property
    def then_block(self) -> Block:
        return self.blocks[0]

    @property
    def else_block(self) -> Block:
        return self.blocks[1]

    @property
    def kind(self) -> str:
        if self.attrs.get("ifexp"):
            return "ifexp"
        return self.attrs.get("boolop") or "statement"

    @kind.setter
    def kind(self, kind: str) -> None:
        if kind not in IF_KINDS:
            raise ValueError(f"unknown kind of if: {kind!r}")
        self.attrs.pop("boolop", None)
        self.attrs.pop("ifexp", None)
        if kind == "ifexp":
            self.attrs["ifexp"] = True
        elif kind != "statement":
            self.attrs["boolop"] = kind

    @property
    def taken_blocks(self) -> list[Block]:
        """The branches that may run: a ``with`` block (attrs ``with``) is an if whose
        else branch never runs (it yields placeholders)."""
        return self.blocks[:1] if self.attrs.get("with") else self.blocks

    @property
    def is_expression(self) -> bool:
        """An ``and``/``or`` or a conditional expression, not a statement."""
        return self.kind != "statement"


@dataclass(eq=False)
class LoopOp(Op):
    """A loop carrying values from one iteration to the next: `inits` are their values
    before the first iteration, `carried_params` the body's parameters that hold them,
    the body yields their next values, and the results are their values at the end.

    Lowering adds carried values of its own after the user's variables: a flag set
    by ``break`` (or ``return``), then a flag set by ``return`` and the values it
    returns; to the transforms they are carried values like any other."""

    @property
    def head(self) -> list[Operand]:
        """The operands before the carried values (a for loop's iterable)."""
        return []

    @property
    def inits(self) -> list[Operand]:
        return self.args[len(self.head):]

    @property
    def body(self) -> Block:
        return self.blocks[-1]

    @property
    def carried_params(self) -> list[Value]:
        return self.body.params

    @property
    def carrier_params(self) -> list[list[Value]]:
        """Every block's parameters that hold the carried values."""
        return [self.carried_params]

    def keep_carried(self, kept: list[int]) -> None:
        """Stop carrying the values at positions other than `kept` (they are dead)."""
        count = len(self.carried_params)
        for block in self.blocks:
            lead = len(block.params) - count  # a for body's item
            block.params = block.params[:lead] + [block.params[lead + k] for k in kept]
        self.body.yields = [self.body.yields[k] for k in kept]
        self.args = self.head + [self.inits[k] for k in kept]
        self.results = [self.results[k] for k in kept]


@dataclass(eq=False)
class ForOp(LoopOp):
    """``for item in iterable``: args ``[iterable, *inits]``; one block, `body`, whose
    params are ``[item, *carried]``."""

    prim: str = field(default="for", init=False)

    @property
    def iterable(self) -> Operand:
        return self.args[0]

    @iterable.setter
    def iterable(self, iterable: Operand) -> None:
        self.args[0] = iterable

    @property
    def head(self) -> list[Operand]:
        return self.args[:1]

    @property
    def item(self) -> Value:
        return self.body.params[0]

    @item.setter
    def item(self, item: Value) -> None:
        self.body.params[0] = item

    @property
    def carried_params(self) -> list[Value]:
        return self.body.params[1:]


@dataclass(eq=False)
class WhileOp(LoopOp):
    """``while``: args ``[*inits]``; blocks ``[cond_block, body]``, both with params
    ``[*carried]``; `cond_block` yields one boolean."""

    prim: str = field(default="while", init=False)

    @property
    def cond_block(self) -> Block:
        return self.blocks[0]

    @property
    def carrier_params(self) -> list[list[Value]]:
        return [self.cond_block.params, self.body.params]


@dataclass(eq=False)
class Block:
    params: list[Value] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    yields: list[Operand] = field(default_factory=list)


@dataclass(eq=False)
class Function:
    """A differentiable program: parameters, a body, and the body's yields as outputs."""

    name: str
    params: list[Value]
    body: Block
    returns_tuple: bool = False
    statements: dict[int, str] = field(default_factory=dict)  # stmt line -> its source
    filename: str = "<unknown>"
    defaults: tuple = ()
    source: Any = None  # the frontend's FunctionSource, for located errors
    extra_cells: dict[str, Any] = field(default_factory=dict)  # closures of inlined functions
    resolutions: list = field(default_factory=list)  # names resolved at compile time
    none_returns: list = field(default_factory=list)  # (line, col) of paths returning None
    raises_always: bool = False  # every path raises: there is no value to differentiate
    # parameters whose arrays `x += ...` changes in place in Python (not in compiled code)
    updates_inputs: list = field(default_factory=list)

    @property
    def outputs(self) -> list[Operand]:
        return self.body.yields


def joined_sources(op: IfOp | LoopOp, k: int) -> list[Operand]:
    """What the k-th result of an if or a loop may be: each branch's k-th yield, or the
    loop's k-th initial value and what its body yields in its place."""
    if isinstance(op, IfOp):
        return [b.yields[k] for b in op.blocks if k < len(b.yields)]
    return [op.inits[k], *op.body.yields[k:k + 1]]


def walk_ops(block: Block) -> Iterator[Op]:
    """Every op of a block and of the blocks nested in it, in program order.

    A stack of iterators rather than nested generators: a chain of a thousand elifs
    is a thousand blocks deep, and each op would pass up through every level."""
    stack: list[Iterator[Op]] = [iter(block.ops)]
    while stack:
        for op in stack[-1]:
            yield op
            if op.blocks:
                stack.append(itertools.chain.from_iterable(b.ops for b in op.blocks))
                break
        else:
            stack.pop()


def readers_of(block: Block) -> dict[int, list[Op | None]]:
    """The ops reading each value of `block` and of the blocks nested in it, by uid, in
    program order; a block yielding it is marked by None."""
    readers: dict[int, list[Op | None]] = {}
    blocks = [block]
    for op in walk_ops(block):
        for a in op.args:
            if isinstance(a, Value):
                readers.setdefault(a.uid, []).append(op)
        blocks.extend(op.blocks)
    for current in blocks:
        for y in current.yields:
            if isinstance(y, Value):
                readers.setdefault(y.uid, []).append(None)
    return readers


def replace_uses(block: Block, replace: dict[int, Operand]) -> None:
    """Have every op and yield of `block`, and of the blocks nested in it, read
    ``replace[v.uid]`` where it read a value `v` of `replace`."""
    blocks = [block]
    while blocks:
        current = blocks.pop()
        for op in current.ops:
            op.args = [replace.get(a.uid, a) if isinstance(a, Value) else a
                       for a in op.args]
            blocks.extend(op.blocks)
        current.yields = [replace.get(y.uid, y) if isinstance(y, Value) else y
                          for y in current.yields]


def all_values(fn: Function) -> Iterator[Value]:
    """Every value of a function in program order: parameters, block parameters, results."""
    yield from fn.params
    # a stack instead of nested generators (see walk_ops): a block's params, its ops'
    # values, then the op's own results
    stack: list[Iterator[Op | Value]] = [iter(fn.body.ops)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, Value):
                yield item
                continue
            if not item.blocks:
                yield from item.results
                continue
            stack.append(itertools.chain(
                *((*inner.params, *inner.ops) for inner in item.blocks), item.results))
            break
        else:
            stack.pop()


def number_levels(fn: Function) -> None:
    """Give every value its trace level and its index within that level."""
    counters: dict[int, int] = {}

    def assign(value: Value, level: int) -> None:
        value.level = level
        counters[level] = counters.get(level, 0) + 1
        value.index = counters[level]

    def level_of(operand: Operand) -> int:
        return operand.level if isinstance(operand, Value) else -1

    def visit(block: Block, base: int) -> None:
        for op in block.ops:
            level = max([base - 1, *(level_of(a) for a in op.args)]) + 1
            for inner in op.blocks:
                for p in inner.params:
                    assign(p, level)
                visit(inner, level + 1)
            for r in op.results:
                assign(r, level)

    for p in fn.params:
        assign(p, 0)
    visit(fn.body, 1)


# ---------------------------------------------------------------- printing


def format_operand(operand: Operand, naming: dict[int, str] | None = None) -> str:
    if isinstance(operand, Value):
        if naming is not None and operand.uid in naming:
            return naming[operand.uid]
        return operand.trace_name
    if isinstance(operand, Const):
        return repr(operand.value)
    return operand.name


def op_symbol(op: Op) -> str:
    """What an op does, in one symbol or name, as the trace writes it: ``*``, ``<``,
    ``not``, ``sin``, the name of a called function, ``for``.  The trace printer and
    the graph both label ops with it."""
    for table in (BINARY_SYMBOLS, COMPARE_SYMBOLS, UNARY_SYMBOLS):
        if op.prim in table:
            return table[op.prim].strip()
    if op.prim in ("call", "custom"):
        fn = op.attrs.get("fn")
        return getattr(fn, "__name__", None) or op.attrs.get("label", op.prim)
    return op.prim


def format_op_rhs(op: Op, naming: dict[int, str] | None = None) -> str:
    """The right-hand side of an op as one line of trace notation."""
    args = [format_operand(a, naming) for a in op.args]
    kwnames = op.attrs.get("kwnames", ())
    if kwnames:  # keyword arguments print with their names: sum(w1_1, axis=1)
        first = len(args) - len(kwnames)
        args = args[:first] + [f"{k}={v}" for k, v in zip(kwnames, args[first:])]
    if op.prim in BINARY_SYMBOLS:
        return f"{args[0]} {BINARY_SYMBOLS[op.prim]} {args[1]}"
    if op.prim in COMPARE_SYMBOLS:
        return f"{args[0]} {COMPARE_SYMBOLS[op.prim]} {args[1]}"
    if op.prim in UNARY_SYMBOLS:
        return f"{UNARY_SYMBOLS[op.prim]}{args[0]}"
    if op.prim == "getattr":
        return f"{args[0]}.{op.args[1].value}"
    if op.prim == "pack" and op.attrs.get("kind") == "dict":
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(op.attrs["keys"], args)) + "}"
    if op.prim == "pack" and op.attrs.get("kind") == "list":
        return "[" + ", ".join(args) + "]"
    if op.prim == "pack" and op.attrs.get("kind") == "record":
        fields = ", ".join(f"{n}={v}" for n, v in zip(op.attrs["fields"], args))
        return f"{op.attrs['cls'].__name__}({fields})"
    if op.prim in ("tuple", "pack"):
        return "(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")"
    if op.prim == "getitem":
        return f"{args[0]}[{', '.join(_index_text(a, t) for a, t in zip(op.args[1:], args[1:]))}]"
    return f"{op_symbol(op)}({', '.join(args)})"


def _index_text(operand: Operand, text: str) -> str:
    """``1:`` for a constant slice, ``...`` for Ellipsis, as they are written."""
    if isinstance(operand, Const) and isinstance(operand.value, slice):
        parts = [("" if v is None else repr(v))
                 for v in (operand.value.start, operand.value.stop, operand.value.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
    if isinstance(operand, Const) and operand.value is Ellipsis:
        return "..."
    return text


def format_function(fn: Function) -> str:
    """The evaluation trace in w-level notation, one value per line."""
    number_levels(fn)
    lines = [f"trace of {fn.name}({', '.join(p.name or p.trace_name for p in fn.params)})"]
    for p in fn.params:
        lines.append(f"  {p.trace_name} = {p.name}")

    def emit(block: Block, indent: str) -> None:
        for op in block.ops:
            if op.attrs.get("guard"):  # a run-time check of an in-place update
                continue
            lhs = ", ".join(r.trace_name for r in op.results)
            if op.blocks:
                lines.append(f"{indent}{lhs} = {op_symbol(op)}("
                             f"{', '.join(format_operand(a) for a in op.args)}):")
                for inner in op.blocks:
                    params = ", ".join(p.trace_name for p in inner.params)
                    lines.append(f"{indent}  block({params}):")
                    emit(inner, indent + "    ")
                    yields = ", ".join(format_operand(y) for y in inner.yields)
                    lines.append(f"{indent}    yield {yields}")
                continue
            text = f"{indent}{lhs} = {format_op_rhs(op)}"
            named = [r.name for r in op.results if r.name]
            if named:
                text = text.ljust(32) + "  # " + ", ".join(named)
            lines.append(text)

    emit(fn.body, "  ")
    outs = ", ".join(format_operand(o) for o in fn.outputs)
    lines.append(f"  return {outs}")
    return "\n".join(lines)
