"""Control flow and data a compiler may refuse: some of it is supported now, the rest
is refused with a located ADCompileError (tests/test_control_flow.py says which).

The line a refusal points at carries the marker comment ``# ERR``; the tests compute
the expected line number from it.
"""
import math

COUNTER = 0.0


def f_break(x):
    y = x
    for _i in range(10):
        y = y * 0.5
        if y < 0.1:
            break  # ERR
    return y


def f_break_in_while(x):
    y = x
    while y > 0.1:
        y = y * 0.5
        break  # ERR
    return y


def f_continue(x):
    y = x
    for i in range(10):
        if i % 2 == 0:
            continue  # ERR
        y = y + math.sin(y)
    return y


def f_continue_in_while(x):
    y = x
    n = 0
    while n < 5:
        n += 1
        if y > 3.0:
            continue  # ERR
        y = y * 1.5
    return y


def f_return_in_for(x):
    y = x
    for _i in range(10):
        y = y * 0.5
        if y < 0.1:
            return y  # ERR
    return y


def f_return_in_while(x):
    y = x
    while y > 0.1:
        y = y * 0.5
        return y  # ERR
    return y


def f_for_else(x):
    y = x
    for _i in range(3):
        y = y * 2.0
    else:
        y = y + 1.0
    return y


def f_while_else(x):
    y = x
    while y < 10.0:
        y = y * 2.0
    else:
        y = y + 1.0
    return y


def f_list_value(x):
    xs = [x, x * 2.0]  # ERR
    return xs[0] * xs[1]


def f_tuple_value(x):
    t = (x, x * 2.0)  # ERR
    return t[0] * t[1]


def f_dict_value(x):
    d = {"a": x, "b": 3.0}  # ERR
    return d["a"] * d["b"]


def f_iterate_param(xs):
    s = 0.0
    for v in xs:  # ERR
        s = s + v * v
    return s


def f_try(x):
    y = x
    try:
        y = math.sqrt(x)
    except ValueError:
        y = 0.0
    return y


def f_generator(x):
    for i in range(3):
        yield x * i  # ERR


async def f_async(x):  # ERR
    return x * 2.0


def f_global_write(x):
    global COUNTER  # ERR
    COUNTER = x
    return x * 2.0


def f_recursive(x):
    if x > 1.0:
        return f_recursive(x * 0.5) * 2.0  # ERR
    return x


def _mutual_a(x):
    if x > 1.0:
        return _mutual_b(x * 0.5)  # ERR
    return x


def _mutual_b(x):
    return _mutual_a(x) + 1.0


def f_mutual_recursion(x):
    return _mutual_b(x) * 2.0


def f_nested_def(x):
    def inner(t):  # ERR
        return t * t
    return inner(x)


def f_nested_def_in_loop(x):
    y = x
    for _ in range(2):
        def step(t):  # ERR
            return t * 0.5
        y = step(y)
    return y


def f_break_deep(x):
    y = x
    for _i in range(4):
        for _j in range(4):
            y = y + 0.1
        if y > 2.0:
            if x > 0.0:
                break  # ERR
    return y
