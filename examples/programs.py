"""Numeric code with branches, loops and helpers: differentiated as written."""
import math


def logistic_map(r, x0):
    """x_{n+1} = r x_n (1 - x_n), iterated 20 times."""
    x = x0
    for _ in range(20):
        x = r * x * (1.0 - x)
    return x


def newton_sqrt(a):
    """Newton's iteration for sqrt(a), until the step is tiny."""
    x = a
    step = 1.0
    while abs(step) > 1e-12:
        step = 0.5 * (x - a / x)
        x = x - step
    return x


def smooth_relu(x, beta=10.0):
    """A branch on the input: the derivative follows the branch taken."""
    if x * beta > 30.0:
        return x
    return math.log1p(math.exp(beta * x)) / beta


def damped(y, a):
    for i in range(100):
        y = math.sin(y) * a + 0.5 * y
    return y
