"""The one exception users see when a function cannot be differentiated."""
from __future__ import annotations


class ADCompileError(Exception):
    """Code the compiler cannot differentiate, located in the user's source.

    The message names the file, line and column, shows the source line with a caret
    under the offending construct, says what is unsupported and what to do instead.
    """

    def __init__(
        self,
        what: str,
        *,
        hint: str = "",
        filename: str | None = None,
        lineno: int | None = None,
        col: int | None = None,
        source_line: str | None = None,
    ) -> None:
        self.what = what
        self.hint = hint
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.source_line = source_line
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.filename is not None:
            where = f'File "{self.filename}"'
            if self.lineno is not None:
                where += f", line {self.lineno}"
                if self.col is not None:
                    where += f", column {self.col + 1}"
            parts.append(where)
        if self.source_line:
            stripped = self.source_line.rstrip("\n")
            indent = len(stripped) - len(stripped.lstrip())
            parts.append("    " + stripped.strip())
            if self.col is not None and self.col >= indent:
                parts.append("    " + " " * (self.col - indent) + "^")
        parts.append(self.what)
        if self.hint:
            parts.append("hint: " + self.hint)
        return "\n".join(parts)

    def one_line(self) -> str:
        """The error in one line, for a command line's stderr."""
        loc = ""
        if self.filename is not None:
            loc = f"{self.filename}:{self.lineno or '?'}:{(self.col or 0) + 1}: "
        return f"{loc}{self.what}" + (f" ({self.hint})" if self.hint else "")


def no_rule_hint(callee: str, nargs: int, example: str, rewrite: str = "",
                 arrays: bool = False) -> str:
    """The three ways out of a call that has no derivative rule: a rule of one's own (for a
    NumPy or SciPy function, `arrays`, one for functions of arrays), no derivative
    through it (`example` shows the call with its argument wrapped), or other functions
    (`rewrite` suggests some)."""
    names = ["x"] if nargs <= 1 else [f"x{k}" for k in range(nargs)]
    partials = "<dy/dx>" if nargs <= 1 else "(" + ", ".join(f"<dy/d{n}>" for n in names) + ")"
    if arrays:
        own = (f"register its derivatives with adc.defvjp({callee}, lambda ans, "
               f"{', '.join(names)}: lambda g: <cotangent of {names[0]}>) and "
               f"adc.defjvp({callee}, lambda g, ans, {', '.join(names)}: <tangent of ans>) "
               f"(adc.deflinear if it is linear; adc.defpartials is only for elementwise "
               f"functions)")
    else:
        own = (f"register a rule with adc.defpartials({callee}, lambda y, {', '.join(names)}: "
               f"{partials}) if it is an elementwise scalar function (adc.defvjp and "
               f"adc.defjvp for a function of arrays)")
    return (f"{own}; or wrap the argument in "
            f"adc.stop_gradient(...) if no derivative should flow through it, as in {example}; "
            f"or rewrite it with functions that have derivative rules{rewrite}")


def not_a_function_error(obj: object) -> ADCompileError:
    """Why `obj` cannot be differentiated itself, and what to pass instead: a built-in
    function with a rule is differentiated inside a Python function that calls it."""
    import functools
    import types

    from .custom import partials_of
    from .primitives import (
        NONDIFF_BUILTINS,
        NONDIFF_NUMPY,
        PRIMITIVES,
        REGISTRY,
        lookup_array,
        lookup_callable,
    )

    if isinstance(obj, str):
        return ADCompileError(
            f"ad_compiler differentiates Python functions, not the string {obj!r}",
            hint=f"pass the function itself: adc.grad({obj})" if obj.isidentifier() else
            "pass the function itself, as in adc.grad(f)")
    if isinstance(obj, type):
        return ADCompileError(
            f"cannot differentiate the class {obj.__name__}: ad_compiler differentiates "
            "functions", hint="differentiate a method of an instance: adc.grad(obj.method)")
    if not callable(obj):
        return ADCompileError(
            f"cannot differentiate {_shown(obj)} (a {type(obj).__name__}): ad_compiler "
            "differentiates Python functions",
            hint="pass the function first and the point to its derivative: adc.grad(f)(x)")
    if isinstance(obj, functools.partial):
        inner = _spelling(obj.func)
        return ADCompileError(
            f"cannot differentiate a functools.partial of {inner}: it is not a Python "
            "function with source", hint=f"differentiate {inner} itself and pass the fixed "
                                         f"arguments when you call the derivative: "
                                         f"adc.grad({inner}, wrt=0)(x, ...)")
    name = _spelling(obj)
    prim, array = lookup_callable(obj), lookup_array(obj)
    if id(obj) in NONDIFF_BUILTINS or id(obj) in NONDIFF_NUMPY or (
            prim is not None and PRIMITIVES[prim[0]].nondiff):
        return ADCompileError(
            f"{name} is a built-in function whose value is piecewise constant: its "
            "derivative is zero wherever it exists, so there is nothing to differentiate",
            hint="differentiate a Python function that calls it (it is a constant there)")
    if prim is not None or array is not None or partials_of(obj) is not None:
        if prim is not None:
            names = ["x", "y", "z"][: PRIMITIVES[prim[0]].arity]
        elif array is not None:
            spec = REGISTRY[array]
            names = [spec.params[k] for k in spec.operands] or ["x"]
        else:
            names = ["x"]
        call = f"{name}({', '.join(names)})"
        return ADCompileError(
            f"{name} is a built-in function, which already has a derivative rule: it is "
            "differentiated where a Python function calls it, not on its own",
            hint=f"differentiate a function that calls it, defined in a file, a notebook or "
                 f"IPython: adc.grad(lambda {', '.join(names)}: {call})")
    wrapped = getattr(obj, "__wrapped__", None)
    if isinstance(wrapped, types.FunctionType) and not name.startswith(("np.", "scipy.")):
        return ADCompileError(
            f"cannot differentiate {name}: it is a wrapper made by a decorator, not the "
            "Python function it wraps", hint=f"differentiate the function it wraps: "
                                              f"adc.grad({wrapped.__name__}.__wrapped__)")
    call = next((vars(k)["__call__"] for k in type(obj).__mro__ if "__call__" in vars(k)), None)
    if isinstance(call, types.FunctionType):  # a Python class's instance, called
        return ADCompileError(
            f"cannot differentiate {_shown(obj)}: it is an object of the class "
            f"{type(obj).__name__}, which is called through its __call__ method",
            hint="differentiate the method: adc.grad(obj.__call__), or a function that "
                 "calls the object")
    return ADCompileError(
        f"cannot differentiate {name}: it is compiled code (a built-in or C function, or "
        "another callable object), which has no Python source to read, and it has no "
        "derivative rule",
        hint=f"differentiate a Python function that calls it; there, a call of {name} on "
             f"differentiated values needs a rule (adc.defpartials({name}, lambda y, x: "
             "<dy/dx>), for a function of numbers) or adc.stop_gradient(...) around its "
             "arguments")


def _spelling(obj: object) -> str:
    """How a user writes a library function: ``math.sin``, ``np.linalg.solve``, ``abs``."""
    name = getattr(obj, "__name__", None)
    module = getattr(obj, "__module__", None)
    if not isinstance(name, str):
        return _shown(obj)
    if module in (None, "builtins", "__main__") or not isinstance(module, str):
        return name
    if module == "numpy" or module.startswith("numpy."):
        module = "np" + module[len("numpy"):]
    return f"{module}.{name}"


def _shown(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."
