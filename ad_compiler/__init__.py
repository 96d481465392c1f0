"""ad_compiler: source-to-source automatic differentiation for Python and NumPy.

``grad(f)`` reads `f`'s source, lowers it to an SSA evaluation trace, applies the
sum, product and chain rules in forward or reverse mode, and returns generated
Python code you can read (``.source``), export and step through.
"""
__version__ = "0.1.0"

from .api import (  # noqa: E402
    check_grad,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    source,
    value_and_grad,
    vjp,
)
from .custom import defjvp, deflinear, defpartials, defvjp, stop_gradient  # noqa: E402
from .errors import ADCompileError  # noqa: E402
from .tracing import trace  # noqa: E402

__all__ = [
    "ADCompileError", "check_grad", "defjvp", "deflinear", "defpartials", "defvjp", "grad",
    "hessian", "hvp", "jacobian", "jvp", "source", "stop_gradient", "trace", "value_and_grad", "vjp",
]
