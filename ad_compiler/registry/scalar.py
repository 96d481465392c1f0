"""Operators and elementwise functions: their meaning in operands ``x``, ``y``.

rules.py derives each partial with sympy from the meaning; `partials` gives them
where sympy.diff would leave them unevaluated or unstable.  A row: name, arity,
meaning, then the attribute names in `math` and in `numpy`.
"""
from __future__ import annotations

import builtins
import operator as op

from .. import runtime_products, runtime_slopes
from .core import REGISTRY, elementwise, piecewise_constant

# Operators: printed as Python syntax, no callable of their own.
elementwise("add", 2, "x + y", operator=op.add, numpy_aliases=("add",))
elementwise("sub", 2, "x - y", operator=op.sub, numpy_aliases=("subtract",))
elementwise("mul", 2, "x * y", operator=op.mul, numpy_aliases=("multiply",))
elementwise("truediv", 2, "x / y", operator=op.truediv,
            numpy_aliases=("divide", "true_divide"))
# sympy would write d(x**y)/dx as x**y*y/x, which is nan at x = 0; y * x**(y - 1) is
# nan or raises at x = 0 for y = 0 (a polynomial's constant term), so the slope and the
# curvature are functions of their own, 0 where x ** y is constant or linear (a whole
# number y folds them to y * x**(y - 1), special.py's TEMPLATE_REWRITES)
_POWER_PARTIALS = ("power_slope(x, y)", "log(x) * x**y")
elementwise("pow", 2, "x ** y", partials=_POWER_PARTIALS, operator=op.pow)
elementwise("power_slope", 2, "y * x**(y - 1)", fn=runtime_slopes.power_slope,
            partials=("power_curve(x, y)", "x**(y - 1) + log(x) * power_slope(x, y)"))
elementwise("power_curve", 2, "y * (y - 1) * x**(y - 2)", fn=runtime_slopes.power_curve,
            partials=("y * (y - 1) * (y - 2) * x**(y - 3)",
                      "(2*y - 1) * x**(y - 2) + log(x) * power_curve(x, y)"))
elementwise("mod", 2, "Mod(x, y)", partials=("1", "-floor(x/y)"), operator=op.mod)  # x - y*floor(x/y)
elementwise("neg", 1, "-x", operator=op.neg, numpy_aliases=("negative",))
elementwise("copy", 1, "x")  # a named alias: `x2_bar = x1`
elementwise("pos", 1, "x", operator=op.pos, numpy_aliases=("positive",))
piecewise_constant("floordiv", 2, operator=op.floordiv, numpy_aliases=("floor_divide",))
for _name, _operator in [("lt", op.lt), ("le", op.le), ("gt", op.gt), ("ge", op.ge),
                         ("eq", op.eq), ("ne", op.ne), ("not", op.not_)]:
    piecewise_constant(_name, 2, operator=_operator)

# Elementwise functions of one operand.
elementwise("sin", 1, "sin(x)", "sin", "sin")
elementwise("cos", 1, "cos(x)", "cos", "cos")
elementwise("tan", 1, "tan(x)", "tan", "tan")
elementwise("asin", 1, "asin(x)", "asin", "arcsin")
elementwise("acos", 1, "acos(x)", "acos", "arccos")
elementwise("atan", 1, "atan(x)", "atan", "arctan")
elementwise("sinh", 1, "sinh(x)", "sinh", "sinh")
elementwise("cosh", 1, "cosh(x)", "cosh", "cosh")
elementwise("tanh", 1, "tanh(x)", "tanh", "tanh")
elementwise("asinh", 1, "asinh(x)", "asinh", "arcsinh")
elementwise("acosh", 1, "acosh(x)", "acosh", "arccosh")
elementwise("atanh", 1, "atanh(x)", "atanh", "arctanh")
elementwise("exp", 1, "exp(x)", "exp", "exp")
elementwise("exp2", 1, "2**x", "exp2", "exp2")
elementwise("expm1", 1, "exp(x) - 1", "expm1", "expm1")
elementwise("log", 1, "log(x)", "log", "log")
elementwise("log2", 1, "log(x)/log(2)", "log2", "log2")
elementwise("log10", 1, "log(x)/log(10)", "log10", "log10")
elementwise("log1p", 1, "log(1 + x)", "log1p", "log1p")
elementwise("sqrt", 1, "sqrt(x)", "sqrt", "sqrt")
elementwise("cbrt", 1, "cbrt(x)", "cbrt", "cbrt")
elementwise("square", 1, "x**2", None, "square")
elementwise("reciprocal", 1, "1/x", None, "reciprocal")
elementwise("abs", 1, "Abs(x)", "fabs", "abs", numpy_aliases=("absolute", "fabs"),
            builtin=builtins.abs)
elementwise("erf", 1, "erf(x)", "erf", None, scipy="erf")
elementwise("erfc", 1, "erfc(x)", "erfc", None, scipy="erfc")
elementwise("degrees", 1, "x*180/pi", "degrees", "degrees", numpy_aliases=("rad2deg",))
elementwise("radians", 1, "x*pi/180", "radians", "radians", numpy_aliases=("deg2rad",))
elementwise("float", 1, "x", builtin=builtins.float)

# Elementwise functions of two operands.
elementwise("atan2", 2, "atan2(x, y)", "atan2", "arctan2")
# at a tie the first operand takes the derivative, so the two partials add up to 1
elementwise("maximum", 2, "Max(x, y)", None, "maximum", partials=("x >= y", "x < y"),
            builtin=builtins.max)
elementwise("minimum", 2, "Min(x, y)", None, "minimum", partials=("x <= y", "x > y"),
            builtin=builtins.min)
# stable: Y is the result
elementwise("logaddexp", 2, "log(exp(x) + exp(y))", None, "logaddexp",
            partials=("exp(x - Y)", "exp(y - Y)"))
elementwise("logaddexp2", 2, "log(2**x + 2**y)/log(2)", None, "logaddexp2",
            partials=("2**(x - Y)", "2**(y - Y)"))
elementwise("hypot", 2, "sqrt(x**2 + y**2)", "hypot", "hypot", other_arity="hypot_n")
elementwise("power", 2, "x ** y", "pow", "power", partials=_POWER_PARTIALS,
            builtin=builtins.pow)
# the exponent's term of x ** k, zero where its weight is (rules.py); scipy.special.xlogy
elementwise("xlogy", 2, "x * log(y)", scipy="xlogy", fn=runtime_products.xlogy)

# Piecewise-constant functions: zero derivative wherever one exists.
piecewise_constant("floor", 1, "floor", "floor")
piecewise_constant("ceil", 1, "ceil", "ceil")
piecewise_constant("trunc", 1, "trunc", "trunc", numpy_aliases=("fix",))
piecewise_constant("sign", 1, None, "sign")
piecewise_constant("round", 1, None, "round", numpy_aliases=("rint",), builtin=builtins.round)
piecewise_constant("int", 1, builtin=builtins.int)

# each element one correctly rounded operation, whatever the array's shape and layout
for _name in ("add", "sub", "mul", "truediv", "neg", "pos", "copy", "sqrt", "square", "abs"):
    REGISTRY[_name].rounded_alike = True
