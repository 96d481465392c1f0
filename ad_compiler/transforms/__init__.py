"""IR-to-IR transforms: forward mode, reverse mode, and clean-up passes."""
from .forward import forward
from .optimize import optimize
from .reverse import reverse

__all__ = ["forward", "reverse", "optimize"]
