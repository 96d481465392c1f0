"""Users' rules for functions of arrays (``adc.defvjp``, ``adc.defjvp``, ``adc.deflinear``),
applied where the transforms meet a call of such a function.

A call of a function with a rule is a ``custom`` op holding an `ArrayRule`; the forward
sweep emits calls of the user's JVPs (one per argument carrying a tangent, added), the
reverse sweep calls of the user's VJP makers.  Those calls check, when they run, that
each tangent has the result's shape and each cotangent its argument's, and say which
rule broke that.  Their own derivatives are not known, so a second derivative through
them is refused; a linear function's JVP and transpose are linear functions again, with
known transposes, so `deflinear` gives derivatives of any order.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .ir import Const, Op, Operand

if TYPE_CHECKING:  # (builder.py imports the primitives, which import custom.py)
    from .builder import Builder


class RuleMissing(NotImplementedError):
    """A derivative the registered rules do not give; `hint` says which rule would."""

    def __init__(self, what: str, hint: str) -> None:
        super().__init__(what)
        self.hint = hint


@dataclass(eq=False)
class ArrayRule:
    """What the user registered for `fn` (named `name` in messages).

    `jvp_calls[i]`/`vjp_calls[i]`: the checked callables the generated code calls for
    argument i (None where no rule was given).  A linear rule has `apply` and
    `transposed`, the rules of the checked ops ``fn(v, *rest)`` and
    ``transpose(g, *rest)`` that its derivatives are made of; those ops take the value
    whose shape their result must have as their second argument (`checked`)."""

    fn: Callable
    name: str
    jvp_calls: tuple[Callable | None, ...] | None = None
    vjp_calls: tuple[Callable | None, ...] | None = None
    linear: bool = False
    checked: bool = False
    apply: ArrayRule | None = None
    transposed: ArrayRule | None = None
    derived: str = ""  # the rule a rule's own call comes from (no derivative known)


def array_rule(fn: Callable, name: str, what: str, given: Any,
               old: ArrayRule | None) -> ArrayRule:
    """The rule for `fn` after registering `given` (`what`: jvp, vjp or linear), keeping
    the other direction of a general rule registered before."""
    label = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "f"
    if what == "linear":
        return _linear_rule(fn, name, label, given)
    keep = old if old is not None and not old.linear else None
    rule = ArrayRule(fn, name, jvp_calls=keep.jvp_calls if keep else None,
                     vjp_calls=keep.vjp_calls if keep else None)
    if what == "jvp":
        rule.jvp_calls = tuple(None if r is None else _jvp_call(r, name, label, i)
                               for i, r in enumerate(given))
    else:
        rule.vjp_calls = tuple(None if m is None else _vjp_call(m, name, label, i)
                               for i, m in enumerate(given))
    return rule


def _jvp_call(jvp: Callable, name: str, label: str, i: int) -> Callable:
    def call(g: Any, ans: Any, *args: Any, **kwargs: Any) -> Any:
        tangent = jvp(g, ans, *args, **kwargs)
        _check_shape(tangent, ans, f"the JVP given to adc.defjvp for {name} (argument {i})",
                     "tangent", f"the result of {name}")
        return tangent

    return _named(call, f"{label}_jvp{i}")


def _vjp_call(maker: Callable, name: str, label: str, i: int) -> Callable:
    def call(g: Any, ans: Any, *args: Any, **kwargs: Any) -> Any:
        pullback = maker(ans, *args, **kwargs)
        if not callable(pullback):
            raise TypeError(f"the VJP maker given to adc.defvjp for {name} (argument {i}) "
                            f"must return a function g -> cotangent, not {pullback!r}")
        cotangent = pullback(g)
        _check_shape(cotangent, args[i], f"the VJP given to adc.defvjp for {name} "
                                         f"(argument {i})", "cotangent", "that argument")
        return cotangent

    return _named(call, f"{label}_vjp{i}")


def _linear_rule(fn: Callable, name: str, label: str,
                 transpose: Callable | None) -> ArrayRule:
    def apply(v: Any, like: Any, *rest: Any, **kwargs: Any) -> Any:
        out = fn(v, *rest, **kwargs)
        _check_shape(out, like, f"{name} (linear, adc.deflinear)", "result",
                     "the value it stands for")
        return out

    forward = ArrayRule(_named(apply, label), name, linear=True, checked=True)
    rule = ArrayRule(fn, name, linear=True, apply=forward)
    if transpose is not None:
        def transposed(g: Any, like: Any, *rest: Any, **kwargs: Any) -> Any:
            out = transpose(g, *rest, **kwargs)
            _check_shape(out, like, f"the transpose given to adc.deflinear for {name}",
                         "result", "the argument of " + name)
            return out

        backward = ArrayRule(_named(transposed, f"{label}_transpose"), name, linear=True,
                             checked=True, apply=forward)
        forward.transposed = rule.transposed = backward
        backward.transposed = forward
    return rule


def _named(fn: Callable, name: str) -> Callable:
    fn.__name__ = fn.__qualname__ = name
    return fn


def _check_shape(value: Any, like: Any, rule: str, what: str, whose: str) -> None:
    if value is None:
        raise TypeError(f"{rule} returned None; it must return the {what}")
    if np.shape(value) != np.shape(like):
        raise ValueError(f"{rule} returned a {what} of shape {np.shape(value)}, but "
                         f"{whose} has shape {np.shape(like)}: a {what} has the shape of "
                         f"the value it belongs to")


# ---------------------------------------------------------------- in the transforms


def _positional(op: Op) -> int:
    return len(op.args) - len(op.attrs.get("kwnames", ()))


def _refuse_second_order(rule: ArrayRule) -> None:
    if rule.derived:
        raise RuleMissing(
            f"this is the {rule.derived} of {rule.name} given by the user, whose own "
            "derivative is not known, so a second derivative through it cannot be taken",
            hint=f"register {rule.name} with adc.deflinear if it is linear; otherwise call "
                 f"a Python function written without a rule (its source is differentiated "
                 f"to any order)")


def _check_arguments(op: Op, rule: ArrayRule, varied: list[int]) -> None:
    names = op.attrs.get("kwnames", ())
    npos = _positional(op)
    for i in varied:
        if i >= npos:
            raise RuleMissing(
                f"the keyword argument {names[i - npos]!r} of {rule.name} depends on the "
                "inputs being differentiated, but its rule differentiates its positional "
                "arguments only", hint="pass that argument by position")
        if rule.linear and i != 0 and not (rule.checked and i == 1):
            raise RuleMissing(
                f"{rule.name} is registered as linear in its first argument "
                f"(adc.deflinear), but its argument {i} depends on the inputs too",
                hint="register its derivatives with adc.defjvp and adc.defvjp instead, or "
                     "wrap that argument in adc.stop_gradient(...)")


def _emit(builder: Builder, rule: ArrayRule, args: list[Operand], op: Op) -> Operand:
    attrs = {"fn": rule.fn, "rule": rule, "kwnames": op.attrs.get("kwnames", ()),
             "label": rule.fn.__name__}
    return builder.emit("custom", args, attrs=attrs).result


def _opaque(rule: ArrayRule, fn: Callable, derived: str) -> ArrayRule:
    return ArrayRule(fn, rule.name, derived=derived)


def rule_jvp(builder: Builder, op: Op, tangents: list[Operand | None],
             batched: bool) -> Operand | None:
    """The tangent of a call of a function with a user's rule."""
    rule: ArrayRule = op.attrs["rule"]
    _refuse_second_order(rule)
    varied = [i for i, t in enumerate(tangents) if t is not None]
    _check_arguments(op, rule, varied)
    if batched:  # (the fallback is one sweep per direction)
        raise RuleMissing(f"{rule.name}'s rule has no vector-mode form", hint="")
    if rule.linear:
        if 0 not in varied:
            return None  # only the shape-giving argument varies
        forward = rule.apply if not rule.checked else rule
        like = op.result if not rule.checked else op.args[1]
        rest = op.args[1:] if not rule.checked else op.args[2:]
        return _emit(builder, forward, [tangents[0], like, *rest], op)
    if rule.jvp_calls is None:
        raise RuleMissing(
            f"{rule.name} has a VJP (adc.defvjp) but no JVP, which forward mode needs",
            hint=f"register one with adc.defjvp({rule.name}, lambda g, ans, *args: ...), "
                 "or use reverse mode")
    total: Operand | None = None
    for i in varied:
        call = rule.jvp_calls[i] if i < len(rule.jvp_calls) else None
        if call is None:
            raise RuleMissing(f"the JVP rules of {rule.name} (adc.defjvp) give none for its "
                              f"argument {i}, which depends on the inputs",
                              hint="give a rule for that argument, or wrap it in "
                                   "adc.stop_gradient(...)")
        term = _emit(builder, _opaque(rule, call, "JVP"), [tangents[i], op.result, *op.args],
                     op)
        total = term if total is None else builder.add(total, term)
    return total


def rule_vjp(builder: Builder, op: Op, cotangent: Operand, indices: list[int]) -> list[Operand]:
    """The partial adjoints of a call of a function with a user's rule."""
    rule: ArrayRule = op.attrs["rule"]
    _refuse_second_order(rule)
    _check_arguments(op, rule, indices)
    if rule.linear:
        if rule.transposed is None:
            raise RuleMissing(
                f"{rule.name} is registered as linear (adc.deflinear) without its transpose, "
                "which reverse mode needs",
                hint=f"pass it: adc.deflinear({rule.name}, transpose=lambda g, *rest: ...), "
                     "or use forward mode")
        rest = op.args[1:] if not rule.checked else op.args[2:]
        back = _emit(builder, rule.transposed, [cotangent, op.args[0], *rest], op)
        return [back if i == 0 else Const(0.0) for i in indices]
    if rule.vjp_calls is None:
        raise RuleMissing(
            f"{rule.name} has a JVP (adc.defjvp) but no VJP, which reverse mode needs",
            hint=f"register one with adc.defvjp({rule.name}, lambda ans, *args: lambda g: "
                 "...), or use forward mode (mode='forward', adc.jvp)")
    parts = []
    for i in indices:
        call = rule.vjp_calls[i] if i < len(rule.vjp_calls) else None
        if call is None:
            raise RuleMissing(f"the VJP makers of {rule.name} (adc.defvjp) give none for its "
                              f"argument {i}, which depends on the inputs",
                              hint="give a maker for that argument, or wrap it in "
                                   "adc.stop_gradient(...)")
        parts.append(_emit(builder, _opaque(rule, call, "VJP"), [cotangent, op.result,
                                                                  *op.args], op))
    return parts
