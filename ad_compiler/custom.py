"""Rules users give for their own functions.

Two kinds: ``defpartials`` for elementwise functions of numbers (below), and
``defvjp``/``defjvp``/``deflinear`` for functions of arrays (user_rules.py applies
them in the transforms).

A function without source (a C extension, ``scipy.special.expit``), or one whose
derivative the user knows better than its code, gets its local partials here, in
the vocabulary of the built-in rules: ``partials(y, *args)`` returns
``d y / d args[i]`` given the result ``y = fn(*args)`` (a tuple when `fn` takes
several arguments).  The compiler then calls `fn` as it is, and `partials` where
the sum, product and chain rules need them::

    adc.defpartials(scipy.special.expit, lambda y, x: y * (1 - y))

    @adc.defpartials(softplus)
    def softplus_partials(y, x):
        return 1 / (1 + math.exp(-x))
"""
from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np

from .registry.core import same_callable
from .user_rules import ArrayRule, array_rule

_PARTIALS: dict[int, tuple[Callable, Callable]] = {}
_ARRAY_RULES: dict[int, ArrayRule] = {}
version = 0  # bumped by every registration; compiled derivatives remember it


def defpartials(fn: Callable, partials: Callable | None = None) -> Any:
    """Register `partials` as the local derivative of `fn`; also a decorator.

    Returns `partials` (so the decorated function keeps its name).
    """
    if not callable(fn):
        raise TypeError(f"defpartials needs a callable, not {fn!r}")
    if partials is None:
        return lambda p: defpartials(fn, p)
    if not callable(partials):
        raise TypeError(f"the partials of {fn!r} must be callable, not {partials!r}")
    global version
    _PARTIALS[_key(fn)] = (fn, _elementwise_checked(fn, partials))
    _ARRAY_RULES.pop(_key(fn), None)
    version += 1
    return partials


def partials_of(fn: Any) -> Callable | None:
    hit = _PARTIALS.get(_key(fn))
    return hit[1] if hit is not None and same_callable(hit[0], fn) else None


def _elementwise_checked(fn: Callable, partials: Callable) -> Callable:
    """`partials`, refusing at run time a call of `fn` on arrays that is not elementwise.

    A partials rule is only right for a function that maps each element on its own:
    applied to arrays, its result must have the broadcast shape of its arguments, and
    computing it on the elements in another order must give the same elements in that
    order.  The second test catches ``np.cumsum``, ``np.sort``, ``np.diff`` and the
    like; a function such as ``x * np.sum(x)``, which treats every element alike, is
    beyond it (the contract is the user's there).  Numbers pass with one type test."""
    name = _spelling(fn)

    def checked(y: Any, *args: Any) -> Any:
        if type(y) is float or not (isinstance(y, np.ndarray) or any(
                isinstance(a, np.ndarray) for a in args)):
            return partials(y, *args)
        _check_elementwise(fn, name, y, args)
        given = partials(y, *args)
        for partial in (given if len(args) > 1 and isinstance(given, tuple) else (given,)):
            if np.broadcast_shapes(np.shape(partial), np.shape(y)) != np.shape(y):
                raise ValueError(f"the partials given to adc.defpartials for {name} returned "
                                 f"shape {np.shape(partial)}, wider than the result's "
                                 f"{np.shape(y)}: a partial has the shape of the result "
                                 "(or broadcasts to it)")
        return given

    checked.__name__ = getattr(partials, "__name__", "partials")
    checked.__qualname__ = checked.__name__
    checked.__wrapped__ = partials
    return checked


def _check_elementwise(fn: Callable, name: str, y: Any, args: tuple) -> None:
    shapes = [np.shape(a) for a in args]
    try:
        expected = np.broadcast_shapes(*shapes)
    except ValueError:
        expected = None
    why = ""
    if np.shape(y) != expected:
        why = (f"its result has shape {np.shape(y)}, not the broadcast shape of its "
               f"arguments {expected}")
    elif np.size(y) > 1:
        order = np.arange(np.size(y))[::-1]
        moved = [np.broadcast_to(a, expected).reshape(-1)[order].reshape(expected)
                 for a in args]
        again = np.asarray(fn(*moved)).reshape(-1)
        if not np.allclose(again, np.asarray(y).reshape(-1)[order],
                           rtol=1e-9, atol=1e-300, equal_nan=True):
            why = "computed on the elements in reverse order it does not give the same " \
                  "elements in reverse order"
    if why:
        raise ValueError(
            f"adc.defpartials({name}, ...) is for elementwise functions, but {name} was "
            f"called on arrays and {why}: its partials would give a wrong derivative. "
            f"Register its derivative with adc.defvjp({name}, ...) and adc.defjvp, or "
            f"adc.deflinear for a linear function")


def _spelling(fn: Any) -> str:
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str):
        inner = getattr(fn, "func", None)  # functools.partial
        name = getattr(inner, "__name__", None) if inner is not None else None
    return name if isinstance(name, str) else type(fn).__name__


def defvjp(fn: Callable, *vjp_makers: Callable | None) -> Any:
    """Register the VJP of an array function `fn`, as autograd's ``defvjp``.

    ``vjp_maker_i(ans, *args, **kwargs)`` returns a function ``g -> cotangent of
    args[i]`` (shaped like ``args[i]``), where ``ans = fn(*args, **kwargs)`` and `g` is
    the cotangent of `ans`; one maker per positional argument, None for one that is not
    differentiated.  With no makers, a decorator for the single argument's maker.
    A JVP registered with `defjvp` for `fn` is kept: one function may have both.
    Returns the (first) maker.
    """
    if not vjp_makers:
        return lambda maker: defvjp(fn, maker)
    _register(fn, "vjp", vjp_makers)
    return vjp_makers[0]


def defjvp(fn: Callable, *jvps: Callable | None) -> Any:
    """Register the JVP of an array function `fn`, one rule per positional argument, as
    autograd's ``defjvp``.

    ``jvp_i(g, ans, *args, **kwargs)`` returns the tangent of ``ans = fn(*args,
    **kwargs)`` (shaped like `ans`) caused by the tangent `g` of ``args[i]``; the
    compiler adds the contributions of the arguments that carry a tangent and skips the
    others.  None for an argument that is not differentiated; with no rules, a
    decorator for the single argument's rule.  Returns the (first) rule.
    """
    if not jvps:
        return lambda rule: defjvp(fn, rule)
    _register(fn, "jvp", jvps)
    return jvps[0]


def deflinear(fn: Callable, transpose: Callable | None = None) -> Callable:
    """Register `fn` as linear in its first argument: its JVP is ``fn(tangent, *rest)``
    and its VJP ``transpose(g, *rest)`` (the same other arguments, which are not
    differentiated).  Derivatives of any order follow, the transpose of `transpose`
    being `fn`.  Without `transpose`, forward mode only.  Returns `fn`."""
    _register(fn, "linear", transpose)
    return fn


def _register(fn: Callable, what: str, given: Any) -> None:
    global version
    if not callable(fn):
        raise TypeError(f"adc.def{what}: the function must be callable, not {fn!r}")
    rules = given if what != "linear" else (() if given is None else (given,))
    for rule in rules:
        if rule is not None and not callable(rule):
            raise TypeError(f"adc.def{what}({_spelling(fn)}, ...): a rule must be callable "
                            f"(or None for an argument without derivative), not {rule!r}")
    old = array_rule_of(fn)
    _ARRAY_RULES[_key(fn)] = array_rule(fn, _spelling(fn), what, given, old)
    _PARTIALS.pop(_key(fn), None)
    version += 1


def array_rule_of(fn: Any) -> ArrayRule | None:
    hit = _ARRAY_RULES.get(_key(fn))
    return hit if hit is not None and same_callable(hit.fn, fn) else None


def _key(fn: Any) -> Any:
    """What a rule is stored under: the function's identity, or for a bound method
    (``stats.norm.sf``, a new object on every access) its object's and function's."""
    if isinstance(fn, types.MethodType):
        return (id(fn.__self__), id(fn.__func__))
    return id(fn)


def stop_gradient(x: Any) -> Any:
    """`x` unchanged, but treated as a constant: no derivative flows through it."""
    return x
