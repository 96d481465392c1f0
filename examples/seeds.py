"""The worked examples of the seed documents, as plain Python functions."""
import math

import numpy as np


def f(x1, x2):
    """Seed 001: the evaluation trace w0 = (x1, x2), w1 = (x1*x2, sin x1), w2 = w1_1 + w1_2."""
    return x1 * x2 + math.sin(x1)


def gaussian(x):
    """Seed 000: f(x) = exp(-x**2), so f'(x) = -2x exp(-x**2) by the chain rule."""
    return np.exp(-x**2)


def fan_out(v1):
    """Seed 002: v1 feeds two paths, so its adjoint sums two partial adjoints."""
    v2 = math.exp(v1)
    v3 = v2 + 1.0
    v4 = v2 * v3
    return v4
