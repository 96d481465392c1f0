"""The registry of primitives: `core.py` has the record and the lookups, the other
modules declare the primitives, one entry each, grouped by subject."""
from . import core, creation, decompositions, helpers, linalg, reductions  # noqa: E402,F401,I001
from . import scalar, shaping, special  # noqa: E402,F401,I001
from . import products, scans, signals, statistics, stats  # noqa: E402,F401,I001  (after reductions)
from . import writes  # noqa: E402,F401,I001
# (scipy_linalg and scipy_special are imported once the user's code imports SciPy; stats
# declares scipy.stats' methods by name, recognised once the user's code imports it)
from .core import (  # noqa: F401
    REGISTRY,
    Primitive,
    array_primitive,
    get,
    has_expr,
    implementation,
    is_array,
    is_casting,
    is_elementwise,
    is_helper,
    is_linear,
    is_multilinear,
    is_nondiff,
    is_reduction,
    is_rounded_alike,
    is_scalar,
    is_view,
)

__all__ = ["core"]
