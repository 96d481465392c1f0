"""A catalogue of numeric functions with branches, loops and helper calls.

Every function takes 1-3 floats and returns one float.  ``CATALOGUE`` pairs each
function with the points it is tested at: points lie on both sides of every
branch (including branches taken inside loops and iteration counts chosen by
active conditions) and at least ~1e-2 away from any kink or jump, so that central
differences with a small step stay on one piece.  Comments give, for each piece,
which points fall in it.
"""
import importlib.util
import math
from pathlib import Path

import numpy as np

# The functions shipped in examples/programs.py are part of the catalogue, so the
# examples users read are the ones tested.
_spec = importlib.util.spec_from_file_location(
    "adc_examples_programs", Path(__file__).resolve().parents[2] / "examples" / "programs.py")
_examples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_examples)
logistic_map, newton_sqrt = _examples.logistic_map, _examples.newton_sqrt
smooth_relu, damped = _examples.smooth_relu, _examples.damped

# ----------------------------------------------------------------- module globals
SCALE = 1.7
N_STEPS = 5
DT = 0.05
DECAY = 0.8
THRESHOLD = 0.5


# ------------------------------------------------------------------- helpers
def _square_plus(a, b=2.0):
    return a * a + b


def _polar(x, y):
    return math.hypot(x, y), math.atan2(y, x)


def _scaled_pair(u, scale=1.0, shift=0.0):
    return scale * math.sin(u) + shift, scale * math.cos(u) - shift


def _soft_clip(v, limit=1.0):
    if v > limit:
        return limit + math.tanh(v - limit)
    elif v < -limit:
        return -limit + math.tanh(v + limit)
    return v


def _poly2(t):
    return _square_plus(t, b=0.5) * t


def _step_counter(x):
    n = 0
    while x < 4.0:
        x = x * 1.5 + 0.2
        n += 1
    return x, n


def _rnn_cell(h, u, w):
    return math.tanh(w * h + u)


# ----------------------------------------------------------------- factories
def make_poly(a, b):
    def poly(x):
        return a * x * x + b * math.sin(x)
    return poly


def make_repeat(n, rate):
    def repeat(x):
        y = x
        for _ in range(n):
            y = y + rate * math.sin(y)
        return y
    return repeat


def make_thresholded(t):
    def thresholded(x, y):
        if x * y > t:
            return x * y - t
        return math.sin(x) * y
    return thresholded


poly_closure = make_poly(1.5, -0.75)
repeat_closure = make_repeat(4, 0.3)
thresholded_closure = make_thresholded(0.25)


# ------------------------------------------------------------ straight line
def seed(x1, x2):
    return x1 * x2 + math.sin(x1)


def with_print(x):
    y = x * x
    print("adc catalogue: y =", y)
    return math.sin(y) + x


def globals_as_constants(x):
    return SCALE * math.sin(x) + THRESHOLD * x * x


def nondiff_ops(x):
    n = int(x * 3.0)
    r = round(x)
    f = math.floor(x)
    q = x // 1.0
    s = np.sign(x)
    k = len("abcd")
    return s * x * x + n * x + r * math.sin(x) + f + q * x + k * x


def mod_and_floor(x):
    frac = x % 1.0
    return frac * frac + math.floor(x) * x


def augmented(x, y):
    z = x
    z += y
    z *= x
    z -= 0.5 * y
    z /= 1.0 + y * y
    return z


# ------------------------------------------------------------------ branches
def piecewise3(x):
    if x > 1.0:
        y = x * x
    elif x > -1.0:
        y = 2.0 * x - 1.0 + math.sin(x)
    else:
        y = -x * x * x
    return y


def piecewise_nested(x, y):
    if x > 0.0:
        if y > 0.0:
            z = x * y
        else:
            z = x - y * y
    else:
        if y > x:
            z = math.sin(x) * y
        elif y > -2.0:
            z = math.cos(y) + x
        else:
            z = x * x * y
    return z


def early_return(x):
    if x < 0.0:
        return -x * math.exp(x)
    y = x * x
    y = y + math.sin(y)
    return y


def early_return_chain(x, y):
    if x > 1.0:
        return x * y
    elif y > 1.0:
        return x + y * y
    if x < -1.0:
        return math.sin(x * y)
    return math.cos(x) * math.tanh(y)


def early_return_in_else(x):
    if x < 2.0:
        y = x * 3.0
    else:
        return math.log(x)
    return y * y


def only_one_branch_assigns(x):
    y = math.sin(x)
    if x > 0.5:
        y = y * x
    return y + x


def huber(r, delta):
    if abs(r) < delta:
        return 0.5 * r * r
    return delta * (abs(r) - 0.5 * delta)


def stable_sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def clip_branches(x, lo, hi):
    if x < lo:
        y = lo
    elif x > hi:
        y = hi
    else:
        y = x
    return y * y + x


def cond_expr(x):
    y = x * x if x > 0.0 else -x * math.sin(x)
    return y + 1.0


def cond_expr_nested(x, y):
    m = x if x > y else y
    n = (x * y if x > 0.0 else x + y) if y > 0.0 else (x - y if x > 0.0 else x * x)
    return m * n


def and_or(x, y):
    if x > 0.0 and y > 0.0:
        z = x * y
    elif x < -1.0 or y > 1.5:
        z = x + y * y
    else:
        z = math.sin(x - y)
    return z


def not_condition(x):
    if not x > 0.5:
        return x * x * x
    return math.sqrt(x)


def and_or_values(x, y):
    inside = x > 0.0 and y < 1.0
    either = x < -0.5 or y > 0.5
    if inside and not either:
        return x * y
    if either:
        return x - y
    return x + y


def chained_compare(x):
    if 0.0 < x < 1.0:
        return x * (1.0 - x)
    elif -1.0 <= x <= 0.0:
        return math.sin(x)
    return x * x


def chained_compare_two(x, y):
    if x < y < 2.0 * x:
        return x * y
    return x - y


def max_via_branches(x, y, z):
    m = x
    if y > m:
        m = y
    if z > m:
        m = z
    return m * m + x * y * z


# --------------------------------------------------------------------- loops
def newton_cos_fixed_point(a):
    # solves x = a * cos(x) by Newton's method
    x = 0.5
    step = 1.0
    while abs(step) > 1e-13:
        g = x - a * math.cos(x)
        dg = 1.0 + a * math.sin(x)
        step = g / dg
        x = x - step
    return x


def newton_cbrt_fixed(a):
    x = 1.0 + a / 3.0
    for _ in range(30):
        x = x - (x * x * x - a) / (3.0 * x * x)
    return x


def fixed_point_iteration(a, b):
    x = 0.0
    change = 1.0
    count = 0
    while abs(change) > 1e-14 and count < 500:
        new = 0.5 * math.cos(x) + a * b
        change = new - x
        x = new
        count += 1
    return x


def kepler(m, e):
    # E - e sin E = M
    big_e = m
    step = 1.0
    while abs(step) > 1e-13:
        step = (big_e - e * math.sin(big_e) - m) / (1.0 - e * math.cos(big_e))
        big_e = big_e - step
    return big_e


def nested_loops(x, y):
    s = 0.0
    for i in range(3):
        for j in range(4):
            s = s + math.sin(x * i + y * j) * 0.1
    return s


def triangular_loops(x):
    s = x
    for i in range(5):
        for j in range(i):
            s = s + math.cos(s * 0.1 * j) * x
    return s


def horner(x):
    # p(x) = sum_k x^k / (k + 1), k = 0..6, evaluated from the top coefficient down
    p = 0.0
    for k in range(6, -1, -1):
        p = p * x + 1.0 / (k + 1)
    return p


def horner_two_vars(x, a):
    p = 1.0
    for k in range(1, 5):
        p = p * x + a * k
    return p


def accumulate_powers(x):
    s = 0.0
    term = 1.0
    for i in range(1, 6):
        term = term * x
        s += term / i
    return s


def exp_series(x):
    s = 1.0
    term = 1.0
    for k in range(1, 25):
        term *= x / k
        s += term
    return s


def product_range(x):
    p = 1.0
    for i in range(1, 5):
        p *= x + i
    return p


def weighted_sum(x, w):
    s = 0.0
    for i in range(6):
        s = s + x * w + math.sin(i * x)
        w = w * DECAY
    return s


def rnn(x, w, u):
    h = 0.0
    for t in range(6):
        h = math.tanh(w * h + u * math.sin(t * 0.7 + x))
    return h


def rnn_helper(x, w):
    h = 0.1
    for t in range(5):
        h = _rnn_cell(h, x * t, w)
    return h


def euler_ode(y0, k):
    y = y0
    t = 0.0
    for _ in range(20):
        y = y + DT * (-k * y + math.sin(t))
        t = t + DT
    return y


def rk2_ode(y0, k):
    y = y0
    h = 0.1
    for i in range(10):
        t = i * h
        k1 = -k * y * y + math.cos(t)
        k2 = -k * (y + h * k1) * (y + h * k1) + math.cos(t + h)
        y = y + 0.5 * h * (k1 + k2)
    return y


def harmonic_oscillator(q0, p0, omega):
    q, p = q0, p0
    for _ in range(8):
        p = p - 0.1 * omega * omega * q
        q = q + 0.1 * p
    return q * q + p * p


def range_from_input(x):
    n = int(x * 2.0) + 2
    s = 0.0
    for i in range(n):
        s = s + math.sin(x + i)
    return s


def range_start_stop_step(x, y):
    start = int(y)
    s = x
    for i in range(start, 9, 2):
        s = s * 0.9 + i * x * y
    return s


def global_loop_count(x):
    y = x
    for i in range(N_STEPS):
        y = y * 0.5 + SCALE * math.sin(y + i)
    return y


def fibonacci_like(a, b):
    for _ in range(6):
        a, b = b, a + b * 0.5
    return a * b


def chebyshev(x):
    t0, t1 = 1.0, x
    for _ in range(5):
        t0, t1 = t1, 2.0 * x * t1 - t0
    return t1


def while_counter(x):
    i = 0
    s = x
    while i < 5:
        s = s * math.cos(s) + x
        i += 1
    return s


def while_counter_and_value(x):
    i = 0
    while i < 20 and x < 50.0:
        x = x * 1.7 + 0.3
        i = i + 1
    return x + i


def integer_counter(x):
    y, n = _step_counter(x)
    return y * n + y


def while_active_condition(x):
    y = x
    while y < 10.0:
        y = y * y + 0.5
    return y


def loop_with_branch(x):
    s = 0.0
    for i in range(6):
        if x > i * 0.5:
            s = s + x * i
        else:
            s = s - math.sin(x) * i
    return s


def loop_branch_on_state(x):
    y = x
    for _ in range(4):
        if y > 1.0:
            y = y * 0.5 + 0.1
        else:
            y = y * y + 0.6
    return y


def loop_branch_on_index(x):
    y = x
    for i in range(7):
        if i % 3 == 0:
            y = y + math.sin(y)
        elif i % 3 == 1:
            y = y * 0.9
        else:
            y = y - 0.1 * y * y
    return y


def while_with_branch(x):
    y = x
    n = 0
    while n < 6:
        if y > 0.0:
            y = y - 0.7 * math.cos(y)
        else:
            y = y + 0.5
        n += 1
    return y


def loop_inside_branch(x, y):
    if x > y:
        s = 0.0
        for i in range(4):
            s = s + x ** i * y
    else:
        s = 1.0
        for i in range(3):
            s = s * (y - x * i)
    return s


def return_after_loop(x):
    y = x
    for _ in range(3):
        y = math.sin(y) + y
    if y > 2.0:
        return y * y
    return y + 1.0


def while_in_for(x):
    s = 0.0
    for i in range(3):
        y = x + i
        while y < 5.0:
            y = y * 1.3 + 0.1
        s = s + y
    return s


def for_in_while(x):
    y = x
    n = 0
    while n < 3:
        for k in range(3):
            y = y + math.sin(y * k) * 0.2
        n += 1
    return y


def gradient_descent(a, b):
    z = 0.0
    for _ in range(30):
        g = 2.0 * (z - a) + 4.0 * b * z * z * z
        z = z - 0.1 * g
    return z


def trapezoid(a, b):
    n = 10
    h = b / n
    s = 0.5 * (math.sin(0.0) + math.sin(a * b))
    for i in range(1, n):
        s = s + math.sin(a * i * h)
    return s * h


def continued_fraction(x):
    v = 1.0
    for k in range(8, 0, -1):
        v = k + x / v
    return x / v


def power_by_squaring(x, e):
    n = int(e)
    result = 1.0
    base = x
    while n > 0:
        if n % 2 == 1:
            result = result * base
        base = base * base
        n = n // 2
    return result


# -------------------------------------------------------------- helper calls
def helper_defaults(x, y):
    return _square_plus(x) + _square_plus(y, 0.5) + _square_plus(a=x * y, b=x)


def helper_tuple(x, y):
    r, theta = _polar(x, y)
    return r * math.cos(theta) + theta * r


def helper_keywords(x):
    a, b = _scaled_pair(x, shift=0.25)
    c, d = _scaled_pair(u=x * x, scale=2.0)
    return a * b + c - d


def helper_with_branch(x):
    return _soft_clip(2.0 * x) + _soft_clip(x, limit=0.5)


def helper_chain(x):
    return _poly2(x) + _poly2(math.sin(x))


def helper_in_loop(x, y):
    s = 0.0
    for i in range(4):
        a, b = _polar(x + i, y)
        s = s + a * b
    return s


# ------------------------------------------------------------------ closures
def closure_caller(x):
    return poly_closure(x) + repeat_closure(x)


def numpy_functions(x, y):
    z = np.tanh(x) * np.arctan(y)
    if z > 0.0:
        z = z + np.exp(-x * x)
    return z


def three_inputs(x, y, z):
    s = 0.0
    for i in range(3):
        if x * i > y:
            s = s + x * y * z
        else:
            s = s + math.sin(z * i) - y
    return s + math.atan(x * z)


def docstring_and_pass(x):
    """A docstring, an empty statement and an annotated assignment."""
    pass
    y: float = x * 2.0
    return y * y


CATALOGUE = [
    (seed, [(0.7, 1.3), (-1.2, 0.4)]),
    (with_print, [(0.3,), (-1.1,)]),
    (globals_as_constants, [(0.4,), (-2.0,)]),
    # int(3x), round, floor, //, sign: away from their jumps
    (nondiff_ops, [(0.8,), (-1.37,), (2.25,)]),
    (mod_and_floor, [(0.3,), (-1.6,), (2.7,)]),
    (augmented, [(0.7, -0.3), (-1.5, 2.0)]),
    # three pieces: x > 1, -1 < x <= 1, x <= -1
    (piecewise3, [(1.5,), (0.2,), (-0.6,), (-1.8,)]),
    # x>0,y>0 | x>0,y<=0 | x<=0,y>x | x<=0,-2<y<=x | x<=0,y<=-2
    (piecewise_nested, [(0.5, 0.7), (0.5, -0.8), (-0.5, 0.3), (-0.5, -1.0),
                        (-0.5, -2.5)]),
    (early_return, [(-0.7,), (0.9,)]),
    # x>1 | y>1 | x<-1 | the rest
    (early_return_chain, [(1.3, 0.2), (0.4, 1.6), (-1.4, 0.7), (0.3, -0.4)]),
    (early_return_in_else, [(0.8,), (3.0,)]),
    (only_one_branch_assigns, [(0.2,), (1.1,)]),
    (smooth_relu, [(4.0,), (0.5,), (-0.3,)]),
    (huber, [(0.3, 1.0), (-0.4, 1.0), (1.7, 1.0), (-2.2, 0.5)]),
    (stable_sigmoid, [(1.2,), (-0.8,)]),
    # below lo | above hi | between
    (clip_branches, [(-2.0, -1.0, 1.0), (1.5, -1.0, 1.0), (0.3, -1.0, 1.0)]),
    (cond_expr, [(0.6,), (-0.9,)]),
    # all four inner cases, and both sides of max
    (cond_expr_nested, [(0.8, 0.5), (-0.3, 0.5), (0.8, -0.5), (-0.3, -0.5), (0.4, 1.3)]),
    # x>0 and y>0 | x<-1 | y>1.5 (x<0) | else
    (and_or, [(0.5, 0.5), (-1.5, 0.3), (-0.5, 2.0), (0.5, -0.5)]),
    (not_condition, [(0.2,), (-0.6,), (1.4,)]),
    # inside and not either | either | neither
    (and_or_values, [(0.5, 0.2), (-0.8, 0.2), (0.5, 0.8), (0.3, 1.4)]),
    (chained_compare, [(0.3,), (-0.4,), (1.6,), (-1.5,)]),
    (chained_compare_two, [(1.0, 1.5), (1.0, 2.5), (1.0, 0.5)]),
    (max_via_branches, [(0.9, 0.1, 0.3), (0.1, 0.8, 0.3), (0.1, 0.3, 0.9)]),
    # r = 2.8: converges to a fixed point; r = 3.2: a 2-cycle
    (logistic_map, [(2.8, 0.3), (3.2, 0.6)]),
    (newton_sqrt, [(2.0,), (0.3,), (9.5,)]),
    (damped, [(0.3, 1.2), (-0.5, 0.8)]),
    (newton_cos_fixed_point, [(1.0,), (0.4,), (1.7,)]),
    (newton_cbrt_fixed, [(2.0,), (10.0,)]),
    (fixed_point_iteration, [(0.3, 0.5), (-0.4, 1.2)]),
    (kepler, [(1.0, 0.3), (2.5, 0.7)]),
    (nested_loops, [(0.4, 0.9), (-1.1, 0.3)]),
    (triangular_loops, [(0.5,), (-0.8,)]),
    (horner, [(0.6,), (-1.3,)]),
    (horner_two_vars, [(0.6, 0.3), (-1.2, 1.5)]),
    (accumulate_powers, [(0.7,), (-1.1,)]),
    (exp_series, [(1.3,), (-2.1,)]),
    (product_range, [(0.5,), (-2.5,)]),
    (weighted_sum, [(0.8, 1.2), (-0.4, -0.7)]),
    (rnn, [(0.3, 0.8, 1.1), (-1.0, -0.5, 0.6)]),
    (rnn_helper, [(0.4, 0.9), (-0.3, -1.2)]),
    (euler_ode, [(1.0, 0.5), (-0.5, 2.0)]),
    (rk2_ode, [(0.8, 0.4), (1.5, 1.1)]),
    (harmonic_oscillator, [(1.0, 0.0, 1.5), (0.3, -0.7, 0.8)]),
    # n = int(2x) + 2 iterations: 2.3 -> 6, 0.7 -> 3, -0.2 -> 2
    (range_from_input, [(2.3,), (0.7,), (-0.2,)]),
    (range_start_stop_step, [(0.5, 1.5), (-0.7, 4.3)]),
    (global_loop_count, [(0.3,), (-1.4,)]),
    (fibonacci_like, [(0.5, 0.3), (-0.2, 1.1)]),
    (chebyshev, [(0.3,), (-0.85,), (1.2,)]),
    (while_counter, [(0.4,), (-0.7,)]),
    # 0.5 -> 5 iterations, 3.0 -> 3 iterations, 60.0 -> none
    (while_counter_and_value, [(0.5,), (3.0,), (60.0,)]),
    (integer_counter, [(0.5,), (2.0,), (5.0,)]),
    # iterations: 0.5 -> 5 (y stays < 10 for a while), 2.0 -> 2, 12.0 -> 0
    (while_active_condition, [(0.5,), (2.0,), (12.0,)]),
    # x between multiples of 0.5 takes some branches of each kind
    (loop_with_branch, [(1.3,), (-0.4,), (2.8,)]),
    (loop_branch_on_state, [(2.5,), (0.3,), (1.4,)]),
    (loop_branch_on_index, [(0.6,), (-0.9,)]),
    (while_with_branch, [(1.2,), (-1.3,), (0.35,)]),
    (loop_inside_branch, [(1.2, 0.5), (0.3, 0.9)]),
    # y after the loop above and below 2
    (return_after_loop, [(1.2,), (0.3,), (-0.5,)]),
    (while_in_for, [(0.5,), (2.2,), (6.0,)]),
    (for_in_while, [(0.7,), (-1.3,)]),
    (gradient_descent, [(0.8, 0.1), (-0.5, 0.3)]),
    (trapezoid, [(1.3, 2.0), (0.4, 3.1)]),
    (continued_fraction, [(0.9,), (2.5,)]),
    # int(e) = 5, 6, 0
    (power_by_squaring, [(1.1, 5.5), (0.9, 6.3), (1.3, 0.5)]),
    (helper_defaults, [(0.7, -0.4), (1.3, 0.9)]),
    (helper_tuple, [(0.8, 0.6), (-0.5, 1.2)]),
    (helper_keywords, [(0.4,), (-1.3,)]),
    # 2x above 1, between, below -1; x above 0.5, between, below -0.5
    (helper_with_branch, [(0.7,), (0.2,), (-0.8,), (-0.3,)]),
    (helper_chain, [(0.6,), (-1.4,)]),
    (helper_in_loop, [(0.3, 0.8), (-0.6, -1.1)]),
    (closure_caller, [(0.5,), (-1.2,)]),
    (thresholded_closure, [(0.8, 0.9), (0.3, 0.4), (-0.5, 1.5)]),
    (numpy_functions, [(0.5, 0.9), (0.5, -0.9)]),
    (three_inputs, [(0.7, 0.2, 1.3), (-0.4, -0.1, 0.6), (1.2, 1.9, -0.8)]),
    (docstring_and_pass, [(0.7,), (-1.6,)]),
]

# Functions smooth enough around their points for second derivatives by differences.
HIGHER_ORDER = [
    seed, piecewise3, piecewise_nested, early_return, early_return_chain, cond_expr,
    and_or, chained_compare, logistic_map, newton_sqrt, newton_cos_fixed_point,
    fixed_point_iteration, kepler, nested_loops, horner, exp_series, product_range,
    rnn, euler_ode, rk2_ode, range_from_input, chebyshev, while_counter,
    while_active_condition, loop_with_branch, loop_branch_on_state, while_with_branch,
    while_in_for, helper_defaults, helper_tuple, helper_with_branch, helper_in_loop,
    closure_caller, thresholded_closure, three_inputs, huber, smooth_relu,
]

# Loop-free functions, for reverse over reverse.
LOOP_FREE = [
    seed, globals_as_constants, augmented, piecewise3, piecewise_nested, early_return,
    early_return_chain, only_one_branch_assigns, huber, stable_sigmoid, cond_expr,
    cond_expr_nested, and_or, not_condition, chained_compare, max_via_branches,
    helper_defaults, helper_tuple, helper_keywords, helper_with_branch, helper_chain,
    thresholded_closure, numpy_functions,
]
