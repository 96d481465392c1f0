"""Hessian-vector products: forward mode over the reverse-mode gradient.

``hvp_of(f)(x, v)`` is one JVP of the gradient of `f` along `v`: the cost of about
two gradients, with no Hessian formed (n forward sweeps and n**2 numbers for an
input of n numbers).  It is what Newton-CG and trust-region solvers ask for
(``scipy.optimize.minimize(..., hessp=...)``) and the curvature along a direction.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .arguments import check_direction
from .build import (
    derivative,
    lowered,
    method_parts,
    safe_name,
    unshared,
    with_defaults,
    wrt_indices,
)
from .dispatch import is_generic, signature_key
from .errors import ADCompileError
from .shapes import uses_arrays


def hvp_of(f: Callable, wrt: int | str = 0) -> Callable:
    """A function ``(*args, v) -> H v``: the arguments of `f`, then a vector `v` shaped
    like the input `wrt` (a number, an array or a container of them, as that input),
    giving the Hessian of the scalar `f` with respect to that input times `v`, shaped
    like the input.  Forward mode over the reverse-mode gradient."""
    if not isinstance(wrt, (int, str)) or isinstance(wrt, bool):
        raise ADCompileError("hvp takes one input (wrt=0 or wrt='x')",
                             hint="take Hessian-vector products with respect to one input "
                                  "at a time, or pack the inputs into one array")
    func, instance, func_wrt = method_parts(f, wrt)
    if instance is not None:  # a bound method: its function, `self` held constant
        unbound = hvp_of(func, func_wrt)

        def bound(*args: Any) -> Any:
            return unbound(instance, *args)

        bound.__name__, bound.source = unbound.__name__, unbound.source
        return bound
    fn = lowered(f)
    gradient = derivative(f, "grad", wrt, "reverse")
    index = wrt_indices(fn, wrt)[0][0]
    names = [p.name for p in fn.params]

    numbers_only = not uses_arrays(fn)
    scalar_output: set[Any] = set()  # input signatures for which f returned a number
    required = len(names) - len(getattr(f, "__defaults__", None) or ())
    usage = f"hvp({', '.join(names)}, v)"

    def hvp(*args: Any) -> Any:
        if not required + 1 <= len(args) <= len(names) + 1:
            raise TypeError(f"the hvp of {fn.name} takes the arguments of {fn.name}, then "
                            f"the vector v: {usage}; {len(args)} argument(s) were given")
        *primals, v = args
        full = with_defaults(f, tuple(primals))
        check_direction(f, full[index], v, names[index])
        key = None if numbers_only else signature_key(full)  # (scalar code checks nothing)
        if key is None or key not in scalar_output:
            _require_number(fn.name, f(*unshared(fn, full)))
            if key is not None:  # array code checks its output is a number from now on
                scalar_output.add(key)
        return _jvp_of_gradient(gradient, full, index, v)

    hvp.__name__ = safe_name(fn.name, "hvp")
    hvp.__doc__ = (f"Hessian of {fn.name} with respect to {names[index]} times v: "
                   f"hvp({', '.join(names)}, v)")
    hvp.source = _source(gradient, index)
    return hvp


def _require_number(name: str, y: Any) -> None:
    if isinstance(y, (list, tuple)) or np.ndim(y) != 0:
        what = f"a {type(y).__name__}" if isinstance(y, (list, tuple)) else \
            f"an array of shape {np.shape(y)}"
        raise ValueError(f"hvp needs a function with a scalar output, but {name} returned "
                         f"{what}; take the hvp of one number (np.sum, an item), or "
                         "use adc.hessian for the Hessian of every output")


def _jvp_of_gradient(gradient: Callable, args: tuple, index: int, v: Any) -> Any:
    """The tangent of ``gradient(*args)`` along `v` in args[index]: the gradient
    specialised to these shapes where there is one (plain NumPy), else the generic one."""
    version = gradient.version_for(*args) if hasattr(gradient, "version_for") else None
    if version is not None and not getattr(version, "_adc_no_forward", False) \
            and not is_generic(gradient, version):
        try:
            return derivative(version, "jvp", (index,), "forward")(*args, v)[1]
        except ADCompileError:  # in-place updates of a slice adjoint: the generic code
            version._adc_no_forward = True
    return derivative(gradient, "jvp", (index,), "forward")(*args, v)[1]


def _source(gradient: Callable, index: int) -> str:
    """The generated JVP of the gradient (the generic one; a call with arrays may run
    its version specialised to their shapes)."""
    try:
        return derivative(gradient, "jvp", (index,), "forward").source
    except ADCompileError as error:  # built per call then, from the specialised gradient
        return f"# the generic gradient has no forward-mode derivative: {error}\n"
