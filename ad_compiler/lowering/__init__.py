"""Lowering: a function's AST to the SSA evaluation trace.

Every operator and call becomes one op; every assignment binds a name to a value,
so reassigning a variable makes a new value (``y``, later ``y_1``).  Names that are
not local are resolved to objects by identity: a call's callee selects the
primitive, a global or closure *value* becomes a `FreeName` read at call time."""
from .core import lower

__all__ = ["lower"]
