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


def _demo():
    import ad_compiler as adc

    x = 0.4
    print(f"Seed 000: gaussian(x) = exp(-x**2) at x = {x}")
    print(f"  AD:      d/dx = {adc.grad(gaussian)(x):.12f}")
    print(f"  by hand: -2x exp(-x**2) = {-2 * x * math.exp(-x * x):.12f}")
    print()
    x1, x2 = 0.7, 1.3
    print(f"Seed 001: f(x1, x2) = x1*x2 + sin(x1) at x1 = {x1}, x2 = {x2}: its trace, and")
    print("the value, tangent (d/dx1) and adjoint of every w")
    trace = adc.trace(f)
    print(trace)
    print()
    print(trace.table(x1=x1, x2=x2))
    print(f"  AD gradient: {adc.grad(f, wrt=('x1', 'x2'))(x1, x2)}")
    print(f"  by hand:     {(x2 + math.cos(x1), x1)}  (x2 + cos x1, x1)")
    print()
    print("The reverse-mode derivative the compiler generated for it:")
    print(adc.source(f, wrt=("x1", "x2")))
    v1 = 0.4
    print(f"Seed 002: fan_out, v4 = e^v1 (e^v1 + 1), at v1 = {v1}: the adjoint of v1 sums")
    print("the partial adjoints of its two paths")
    e = math.exp(v1)
    print(f"  AD:      dv4/dv1 = {adc.grad(fan_out)(v1):.12f}")
    print(f"  by hand: 2 e^(2 v1) + e^v1 = {2 * e * e + e:.12f}")


if __name__ == "__main__":
    _demo()
