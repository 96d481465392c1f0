"""What the forward and reverse transforms share: the derivative function's shape."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from ..builder import Builder
from ..errors import ADCompileError, no_rule_hint
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
    all_values,
    number_levels,
    walk_ops,
)
from ..primitives import PRIMITIVES, lookup_callable
from ..registry import get
from ..rules import is_differentiable, is_nondiff


@dataclass(eq=False)
class DerivativeFunction(Function):
    """A generated function, with what codegen needs to name its values.

    `derived` names a derivative value after the primal value it belongs to
    (``x_bar``, ``y_dot``, ``dy_dx1``); `primal` holds the values of the user's trace,
    which keep their trace names ``w<level>_<index>``; `output_tree` is the return
    statement's shape, a nest of tuples of indices into the outputs.
    """

    derived: dict[int, tuple[Value, str]] = field(default_factory=dict)
    primal: set[int] = field(default_factory=set)
    primal_values: list[Value] = field(default_factory=list)  # in program order
    output_tree: Any = 0
    kind: str = ""
    aliases: dict[int, Value] = field(default_factory=dict)  # recomputed value -> original
    returns_tuple_in: bool = False  # whether the differentiated function returns a tuple
    # primal uid -> derivative operand, kept for tabulating a trace at a point
    tangents: dict[int, Operand] = field(default_factory=dict)
    adjoints: dict[int, Operand] = field(default_factory=dict)
    kinds: Any = None  # what the transform knew of the user's values (kinds.Kinds)


def start(fn: Function, name: str, kind: str) -> tuple[DerivativeFunction, Builder]:
    number_levels(fn)
    out = DerivativeFunction(
        name=name, params=list(fn.params), body=Block(), returns_tuple=False,
        statements=fn.statements, filename=fn.filename, defaults=fn.defaults,
        source=fn.source, kind=kind, extra_cells=dict(fn.extra_cells),
        resolutions=list(fn.resolutions), updates_inputs=list(fn.updates_inputs),
    )
    out.primal_values = list(all_values(fn))
    out.primal = {v.uid for v in out.primal_values}
    if isinstance(fn, DerivativeFunction):  # higher order: keep the inner names
        refuse_draws(fn, "a derivative of a derivative")
        out.derived.update(fn.derived)
    return out, Builder(out.body)


def refuse_draws(fn: Function, what: str) -> None:
    """`what` evaluates the code of `fn` more than once for one result (several sweeps,
    or a derivative of its derivative): where it draws random numbers, each would draw
    other ones.  Refuse it, at the draw."""
    from ..primitives import draws_anew

    draw = next((op for op in walk_ops(fn.body) if draws_anew(op)), None)
    if draw is not None:
        raise located_error(
            fn, draw, f"this function draws random numbers, and {what} would run its "
                      "code more than once, drawing other numbers each time",
            hint="draw the numbers outside the function and pass them in (adc.grad, "
                 "adc.jvp and adc.vjp of a function that draws are fine)")


def copy_op(builder: Builder, op: Op) -> None:
    """Put a primal op into the derivative function unchanged (same values)."""
    clone = op.rebuilt()
    builder.block.ops.append(clone)
    for r in op.results:
        builder.producers[r.uid] = clone


# the helper modules of derivative code: a call to one of their helpers without a rule
# is derivative code differentiated again
_RUNTIME_MODULES = ("ad_compiler.runtime", "ad_compiler.runtime_lists", "ad_compiler.runtime_arrays",
                    "ad_compiler.runtime_products", "ad_compiler.runtime_shapes",
                    "ad_compiler.runtime_slopes", "ad_compiler.runtime_statements")


def check_supported(fn: Function, op: Op) -> None:
    """Raise a located error for an op that has varied inputs but no rule."""
    if op.blocks:
        return
    if op.attrs.get("index_trick") or op.attrs.get("text") and not is_nondiff(op):
        raise no_rule_error(fn, op)  # np.r_[a, b]; text that reaches more than a print
    if op.prim in ("push", "pop", "stack", "index_add") or (
            op.prim == "call" and not op.attrs.get("nondiff")
            and getattr(op.attrs.get("fn"), "__module__", None) in _RUNTIME_MODULES):
        raise reverse_code_error(fn, op)
    if not (is_differentiable(op.prim) or is_nondiff(op)):
        raise no_rule_error(fn, op)


def refuse_calls_without_rules(fn: Function, varied: set[int]) -> None:
    """Refuse every call without a rule that receives a varied value, as forward mode
    does, even where reverse mode needs no adjoint of its result: it may write into its
    arguments (``np.copyto(y, x)``, ``np.put(y, ...)``), which no adjoint would follow."""
    for op in walk_ops(fn.body):
        if op.blocks or op.prim in ("push", "pop", "stack", "index_add"):
            continue
        if any(isinstance(a, Value) and a.uid in varied for a in op.args) and not (
                is_differentiable(op.prim) or is_nondiff(op)):
            raise no_rule_error(fn, op)


def no_rule_error(fn: Function, op: Op) -> ADCompileError:
    """A call without a derivative rule whose arguments vary: named as the user wrote
    it, with the three ways out."""
    if op.attrs.get("index_trick"):  # np.r_[a, b]
        return located_error(
            fn, op, f"{op.attrs['callee']}[...] with a directive string or a slice of "
                    "computed bounds has no derivative rule, and what it joins depends on the inputs being differentiated",
            hint="join the arrays with np.concatenate([a, b]) or np.stack([a, b], axis=...), "
                 "which have rules")
    if op.attrs.get("text"):  # str(x), f"{x}" used as a value
        written = _written_call(fn, op)
        label = written[0] if written else ("this f-string" if "template" in op.attrs
                                            else "this text")
        return located_error(
            fn, op, f"{label} makes text of a differentiated value, which has no "
                    "derivative: such text may only be printed, logged, warned or raised",
            hint="compute with the number itself; format it only for print(), logging, "
                 "warnings.warn() or an exception's message")
    if op.attrs.get("refusal"):  # a NumPy function with arguments its rule does not take
        what, hint = op.attrs["refusal"]
        return located_error(fn, op, f"{what}, and its arguments depend on the inputs being "
                                     "differentiated", hint=hint)
    callee = op.attrs.get("fn")
    label = (op.attrs.get("callee") or op.attrs.get("label")
             or getattr(callee, "__name__", None) or op.prim)
    call, args = f"{label}(...)", ["..."]
    written = _written_call(fn, op)
    if written is not None and written[0].startswith(label + "("):
        call, args = written
    elif written is not None:  # a call inside an inlined function: where it is called
        call = f"{call}, inside {written[0]},"
    example = f"{label}({', '.join([f'adc.stop_gradient({args[0]})', *args[1:]])})"
    nargs = len(op.args) - len(op.attrs.get("kwnames", ()))
    what, rewrite = f"{call} has no derivative rule", ""
    known = lookup_callable(callee)
    if known is not None and not op.attrs.get("kwnames"):  # pow(a, b, m)
        arity = PRIMITIVES[known[0]].arity
        what += f" with {nargs} argument{'s' * (nargs != 1)} (it has one with {arity})"
    return located_error(
        fn, op, f"{what}, and its arguments depend on the inputs being differentiated",
        hint=no_rule_hint(label, nargs, example, rewrite, arrays=_of_arrays(callee, label)))


def _of_arrays(callee: Any, label: str) -> bool:
    """A NumPy or SciPy function that is not a ufunc: its rule is one for arrays
    (defvjp/defjvp), not elementwise partials."""
    if type(callee).__name__ == "ufunc":  # np.copysign, scipy.special.expit: elementwise
        return False
    module = getattr(callee, "__module__", None) or ""
    return label.startswith(("np.", "numpy.", "scipy.")) or module.startswith(
        ("numpy", "scipy"))


# builtins over a list that NumPy has with rules
def _written_call(fn: Function, op: Op) -> tuple[str, list[str]] | None:
    """The source text of the call an op is located at, and of its positional
    arguments, where it is written on one line and is short enough to quote."""
    source = fn.source
    if source is None or op.loc is None:
        return None
    line = source.line(op.loc.lineno).encode()
    for node in ast.walk(source.node):
        if isinstance(node, ast.Call) and (node.lineno, node.col_offset) == (
                op.loc.lineno, op.loc.col) and node.end_lineno == node.lineno:
            def text(n: ast.AST) -> str:
                return line[n.col_offset:n.end_col_offset].decode(errors="replace")
            if node.args and len(text(node)) <= 80:
                return text(node), [text(a) for a in node.args]
    return None


def check_iterable(fn: Function, op: Op, varied: set[int]) -> None:
    """A loop over something that depends on the inputs, other than a list, tuple or
    array it indexes item by item, has no derivative rule: refuse it."""
    iterable = op.iterable if isinstance(op, ForOp) else None
    if isinstance(iterable, Value) and iterable.uid in varied:
        raise located_error(
            fn, op, "this loop iterates over a value that depends on the inputs being "
                    "differentiated, but not over a list, tuple or array item by item, so "
                    "the derivative cannot follow its items",
            hint="loop over the sequence itself (for x in xs, enumerate, zip, reversed, "
                 "sorted), or build a list first and loop over it")


def reverse_code_error(fn: Function, op: Op) -> ADCompileError:
    """Reverse-mode code that cannot be differentiated again: its list updates."""
    return located_error(
        fn, op, "differentiating the in-place list updates of reverse-mode code (the "
                "gradient of a loop over a differentiated list) is not supported here",
        hint="where the differentiated arguments are numbers, take the inner derivative in "
             "forward mode: adc.grad(adc.grad(f, mode='forward')), or adc.jvp of "
             "adc.grad(f, mode='forward')")


def located_error(fn: Function, op: Op, what: str, hint: str = "") -> ADCompileError:
    lineno = op.loc.lineno if op.loc else None
    col = op.loc.col if op.loc else None
    line = fn.source.line(lineno) if fn.source is not None and lineno else None
    return ADCompileError(what, hint=hint, filename=fn.filename, lineno=lineno, col=col,
                          source_line=line)


def varied_values(fn: Function, wrt: list[int]) -> set[int]:
    """Values that depend on the inputs being differentiated (forward activity).

    Through control flow: an ``if`` result varies if either branch yields a varying
    value; a loop's carried value varies if its initial or its next value does, which
    is found by iterating to a fixed point.
    """
    varied = {fn.params[i].uid for i in wrt}

    def is_varied(operand: Operand) -> bool:
        return isinstance(operand, Value) and operand.uid in varied

    def visit(block: Block) -> None:
        for op in block.ops:
            for inner in op.blocks:
                visit(inner)
            if isinstance(op, IfOp):
                for k, r in enumerate(op.results):
                    if any(is_varied(branch.yields[k]) for branch in op.blocks):
                        varied.add(r.uid)
            elif isinstance(op, LoopOp):
                if isinstance(op, ForOp) and is_varied(op.iterable):  # what it iterates over varies
                    varied.add(op.item.uid)
                inits = op.inits
                for k in range(len(op.carried_params)):
                    if is_varied(inits[k]) or is_varied(op.body.yields[k]):
                        varied.add(op.results[k].uid)
                        varied.update(params[k].uid for params in op.carrier_params)
            elif op.prim == "push":  # a stack holding varying values varies
                if any(is_varied(a) for a in op.args[1:]):
                    varied.add(op.args[0].uid)
            elif op.prim == "index_add":  # an adjoint list a varying value is added into
                if is_varied(op.args[2]):
                    varied.add(op.args[0].uid)
            elif op.prim == "pop":  # and so does all it gives back
                if is_varied(op.args[0]) or is_varied(op.attrs.get("replays", op.args[0])):
                    varied.update(r.uid for r in op.results)
            elif not is_nondiff(op) and any(is_varied(a) for a in op.args):
                varied.update(r.uid for r in op.results)

    visit(fn.body)
    if not _straight_line(fn.body):  # a loop or a stack can vary what came before
        size = -1
        while size != len(varied):
            size = len(varied)
            visit(fn.body)
    return varied


def _straight_line(block: Block) -> bool:
    """Whether `block` is straight-line code of ops that each make results from
    operands defined before them: then one pass of the activity analyses, in order or
    in reverse, finds their fixed point (loops, branches, stacks and ops that update
    an operand or make no result take passes until nothing changes)."""
    return all(not op.blocks and op.results and "replays" not in op.attrs
               and op.prim not in ("push", "pop", "index_add") for op in block.ops)


def useful_values(fn: Function, outputs: list[Operand]) -> set[int]:
    """Values whose derivative can reach `outputs` (backward activity): an op's operands
    are useful where one of its results is; an ``if`` result's, through the yields of
    its branches; a loop's carried value, through its initial and next values, found
    by iterating to a fixed point.  An op with no result (a push, an update in place)
    makes all its operands useful once one is.  A value that is varied but not useful
    needs no adjoint: the reverse transform neither tapes it nor propagates through it.
    """
    useful = {o.uid for o in outputs if isinstance(o, Value)}

    def mark(operands: list[Operand]) -> None:
        useful.update(a.uid for a in operands if isinstance(a, Value))

    def visit(block: Block) -> None:
        for op in reversed(block.ops):
            if isinstance(op, IfOp):
                for k, r in enumerate(op.results):
                    if r.uid in useful:
                        mark([branch.yields[k] for branch in op.blocks])
            elif isinstance(op, LoopOp):
                for k in range(len(op.carried_params)):
                    places = [op.results[k], *(ps[k] for ps in op.carrier_params)]
                    if any(v.uid in useful for v in places):
                        mark([*places, op.inits[k], op.body.yields[k]])
                if isinstance(op, ForOp) and op.item.uid in useful:
                    mark([op.iterable])
            elif op.attrs.get("nondiff") and op.results:
                pass  # (its result carries no derivative: nor do its operands through it)
            elif any(r.uid in useful for r in op.results) or not op.results and any(
                    isinstance(a, Value) and a.uid in useful for a in op.args):
                mark([*op.args, op.attrs.get("replays")])
            for inner in op.blocks:
                visit(inner)

    visit(fn.body)
    if not _straight_line(fn.body):
        size = -1
        while size != len(useful):
            size = len(useful)
            visit(fn.body)
    return useful


def container_values(fn: Function) -> set[int]:
    """Values that are containers or arrays (built, indexed, iterated, or read a field
    of), whose adjoints add item by item."""
    containers: set[int] = set()
    for op in walk_ops(fn.body):
        if op.prim == "pack":
            containers.add(op.result.uid)
        elif isinstance(op.args[0] if op.args else None, Value) and (
                op.prim in ("getitem", "getattr", "items_of") or _reads_items(op.prim)):
            containers.add(op.args[0].uid)
    size = -1
    while size != len(containers):  # through branches and loops
        size = len(containers)
        for op in walk_ops(fn.body):
            for block in op.blocks:
                for k, y in enumerate(block.yields[: len(op.results)]):
                    if isinstance(y, Value) and (y.uid in containers
                                                 or op.results[k].uid in containers):
                        containers.update((y.uid, op.results[k].uid))
    return containers


def _reads_items(prim: str) -> bool:
    record = get(prim)
    return record is not None and record.reads_items


def makes_active(op: Op, active: set[int]) -> bool:
    """Whether an op or anything nested in it makes an active value (one with an
    adjoint), or pushes one on a stack: a loop that only reads active values, for a
    result that never reaches the output, needs no tape."""
    for inner in walk_ops(Block(ops=[op])):
        if any(r.uid in active for r in inner.results) or not inner.results and any(
                isinstance(a, Value) and a.uid in active for a in inner.args):
            return True
        if any(p.uid in active for block in inner.blocks for p in block.params):
            return True
    return False


def name_fresh(out: DerivativeFunction, value: Operand, base: Value, fmt: str) -> None:
    """Name `value` after `base` unless it already is a named value (an alias)."""
    if not isinstance(value, Value) or value.name is not None:
        return
    if value.uid in out.primal or value.uid in out.derived:
        return
    out.derived[value.uid] = (base, fmt)


def name_output(out: DerivativeFunction, builder: Builder, value: Operand | None,
                base: Operand, fmt: str) -> Operand:
    """A derivative output gets a name of its own, even where it equals another value.

    A value the rules just created is named after `base`; an alias of an existing
    value or a constant gets an explicit ``copy`` (printed ``x2_bar = x1``).
    """
    if value is None:
        value = Const(0.0)
    if isinstance(base, Value):
        name_fresh(out, value, base, fmt)
        if isinstance(value, Value) and out.derived.get(value.uid, (None,))[0] is base:
            return value
    copy = builder.emit("copy", [value]).result
    if isinstance(base, Value):
        out.derived[copy.uid] = (base, fmt)
    else:
        copy.name = fmt.format("out")
    return copy


def derive(fn: Function, op: Op, rule: Any, *args: Any) -> Any:
    """Apply a derivative rule; operands it cannot handle give a located error."""
    try:
        return rule(*args)
    except NotImplementedError as exc:  # a rule that does not cover these arguments
        hint = ("wrap the argument in adc.stop_gradient(...) if no derivative should flow "
                "through it, or rewrite it with functions that have derivative rules")
        if getattr(exc, "hint", None) is not None:  # a user's rule that does not cover it
            hint = exc.hint
        elif getattr(op.attrs.get("fn"), "__module__", "").startswith("ad_compiler."):
            hint = ("this is code ad_compiler generated, differentiated again: take the "
                    "derivatives in the order the message says")  # a run-time helper
        label = op.attrs.get("callee") or op.attrs.get("label") or op.prim
        raise located_error(
            fn, op, f"cannot differentiate '{label}': {exc}",
            hint=hint) from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        constants = [repr(a.value) for a in op.args if isinstance(a, Const)]
        what = f"cannot differentiate '{op.attrs.get('callee') or op.prim}'"
        if constants:
            what += f" with the constant operand(s) {', '.join(constants)}"
        raise located_error(fn, op, f"{what}: {exc}",
                            hint="differentiated operands must be numbers; check the "
                                 "constants in this expression") from None
