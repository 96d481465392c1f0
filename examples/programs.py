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


def _demo():
    import ad_compiler as adc

    r, x0 = 3.2, 0.3
    dr, dx0 = adc.grad(logistic_map, wrt=("r", "x0"))(r, x0)
    print(f"logistic_map(r={r}, x0={x0}) = {logistic_map(r, x0):.12f}")
    print(f"  d/dr = {dr:.9f}, d/dx0 = {dx0:.9f}  (reverse mode through 20 iterations)")
    forward = adc.grad(logistic_map, wrt=("r", "x0"), mode="forward")(r, x0)
    print(f"  forward mode gives the same: ({forward[0]:.9f}, {forward[1]:.9f})")

    a = 2.0
    print(f"newton_sqrt({a}) = {newton_sqrt(a):.12f}, through a while loop:")
    print(f"  AD:      d/da = {adc.grad(newton_sqrt)(a):.12f}")
    print(f"  by hand: 1 / (2 sqrt(a)) = {0.5 / math.sqrt(a):.12f}")

    for x in (0.1, 5.0):  # the second takes the branch `return x`
        print(f"smooth_relu({x}): d/dx = {adc.grad(smooth_relu)(x):.12f}", end="")
        print(f"  (by hand: {1.0 if 10.0 * x > 30.0 else 1 / (1 + math.exp(-10.0 * x)):.12f})")

    y, a = 0.5, 0.9
    dy, da = adc.grad(damped, wrt=("y", "a"))(y, a)
    print(f"damped(y={y}, a={a}): d/dy = {dy:.6g}, d/da = {da:.12f}  (100 iterations)")
    print()
    print("The reverse-mode derivative of damped, as generated (a stack of the loop's state):")
    print(adc.source(damped, wrt=("y", "a")))


if __name__ == "__main__":
    _demo()
