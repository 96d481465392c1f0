"""Printing generated statements: astor where it prints well, `ast.unparse` elsewhere.

astor prints the generated code (it writes `x_bar, y_bar = y, x` where `ast.unparse`
writes `x_bar, y_bar = (y, x)`), but it was written for Pythons whose `ast` had `Num`,
`Str` and the other nodes deprecated in 3.12 and removed in 3.14.  So it is used only
after it has printed a sample of the statements this compiler makes with no warning and
to the same syntax tree; a statement it fails on, and every statement where the sample
fails or astor is not installed, is printed by `ast.unparse`, with astor's layout of
tuples kept where that gives the same tree.

Both walk a syntax tree with a visitor per node, which took a quarter of the build of
a function of 10,000 statements.  So the statements most generated code is made of
(assignments and returns of arithmetic, calls, names, numbers, attributes and simple
subscripts) are printed by `quick_stmt()`, a direct walk that writes what astor writes
(tests/test_printing.py compares them); it gives up (`Unprintable`) on anything else.
"""
from __future__ import annotations

import ast
import functools
import math
import types
import warnings

# Statements of the kinds generated code has, with the precedences, constants and
# tuples it prints; astor must print each back to the same tree.
_SAMPLE = """\
x_bar, y_bar = y * math.cos(x) + -x ** 2, (a + b) * (c - d) / e
w = a - (b - c) + a ** -b ** c + (-a) ** b - 2.0 * (-x) + a / (b * c) % d // 2
s = np.sum(x[1:, ::2] @ W.T, axis=0, keepdims=True)[i, j] + x[..., None][-1]
t = [x, (y,), ()] + [1.5, -2.0, 1e-300, 1e309, -0.0, 3, True, None, 'a"b\\n']
u = {'k': x} if not p and (q or r) and a < b <= c and not a == b else -(x + y)
v = (w1 := y > x) and (lambda t: t * 2.0)(x) is not None
stack.append(x)
x_bar[idx] += w_bar * runtime.xlogy(x, y)
return x_bar, y_bar
return x_bar,
"""


@functools.cache
def _astor() -> types.ModuleType | None:
    """astor, if it is installed and prints the sample right without a warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # its operator table looks up ast.Num and the like with getattr(ast, name, None),
        # which warns on Pythons that deprecate them and is harmless where they are gone
        warnings.filterwarnings("ignore", r"ast\.\w+ is deprecated", DeprecationWarning,
                                r"astor\.")
        try:
            import astor
        except ImportError:
            return None
        try:
            right = all(_same_tree(_with_astor(astor, node), node)
                        for node in ast.parse(_SAMPLE).body)
        except Exception:  # noqa: BLE001 - any failure means astor cannot print here
            return None
    return astor if right and not caught else None


def _with_astor(astor: types.ModuleType, node: ast.stmt) -> str:
    return astor.to_source(node, pretty_source="".join).rstrip("\n")


def _same_tree(text: str, node: ast.stmt) -> bool:
    """Whether `text` is one statement that parses to `node` (positions aside)."""
    try:
        body = ast.parse(text).body
    except SyntaxError:
        return False
    return len(body) == 1 and ast.dump(body[0]) == ast.dump(node)


def print_stmt(node: ast.stmt) -> str:
    """The source of one statement, on one line (a compound statement's header only
    where its body is empty)."""
    try:
        return quick_stmt(node)
    except Unprintable:
        pass
    astor = _astor()
    if astor is not None:
        try:
            return _with_astor(astor, node)
        except Exception:  # noqa: BLE001 - astor cannot print every node of newer Pythons
            pass
    return unparse(node)


def unparse(node: ast.stmt) -> str:
    """`ast.unparse`, with tuples assigned or returned written without parentheses
    (`x_bar, y_bar = y, x`), as astor writes them, where that reads back the same."""
    text = ast.unparse(node)
    if isinstance(node, ast.Return) and node.value is not None:
        bare = f"return {_bare(node.value)}"
    elif isinstance(node, ast.Assign):
        bare = "".join(f"{_bare(target)} = " for target in node.targets) + _bare(node.value)
    else:
        return text
    return bare if bare != text and _same_tree(bare, ast.parse(text).body[0]) else text


def _bare(expr: ast.expr) -> str:
    """An expression; a tuple of items without its parentheses."""
    if not isinstance(expr, ast.Tuple) or not expr.elts:
        return ast.unparse(expr)
    return ", ".join(ast.unparse(item) for item in expr.elts) + ("," if len(expr.elts) == 1
                                                                  else "")


class Unprintable(Exception):
    """A node `quick_stmt()` leaves to astor or `ast.unparse`."""


_BINARY = {ast.Add: ("+", 10), ast.Sub: ("-", 10), ast.Mult: ("*", 11), ast.Div: ("/", 11),
           ast.FloorDiv: ("//", 11), ast.Mod: ("%", 11), ast.MatMult: ("@", 11),
           ast.Pow: ("**", 13)}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
            ast.NotEq: "!="}
_ATOM = 16  # names, numbers, calls, attributes, subscripts, displays
_UNARY = 12  # -x binds looser than ** and tighter than *


def quick_stmt(node: ast.stmt) -> str:
    """An assignment to names, a return or an expression statement, printed as astor
    prints it, or `Unprintable`."""
    kind = type(node)
    if kind is ast.Assign and len(node.targets) == 1:
        return f"{_bare_quick(node.targets[0])} = {_bare_quick(node.value)}"
    if kind is ast.Return and node.value is not None:
        return f"return {_bare_quick(node.value)}"
    if kind is ast.Expr and type(node.value) is not ast.Tuple:
        return _quick(node.value)[0]
    raise Unprintable


def _bare_quick(node: ast.expr) -> str:
    if type(node) is ast.Tuple and node.elts:
        items = [_quick(item)[0] for item in node.elts]
        return ", ".join(items) + ("," if len(items) == 1 else "")
    return _quick(node)[0]


def _quick(node: ast.expr) -> tuple[str, int]:
    """The text of `node` and the precedence of its outermost operator."""
    kind = type(node)
    if kind is ast.Name:
        return node.id, _ATOM
    if kind is ast.Constant:
        return _quick_constant(node.value), _ATOM
    if kind is ast.BinOp:
        symbol, level = _BINARY.get(type(node.op), (None, 0))
        if symbol is None:
            raise Unprintable
        left, left_level = _quick(node.left)
        right, right_level = _quick(node.right)
        if level == 13:  # ** groups to the right, and takes -x on its right only
            left = left if left_level > 13 else f"({left})"
            right = right if right_level >= _UNARY else f"({right})"
        else:
            left = left if left_level >= level else f"({left})"
            right = right if right_level > level else f"({right})"
        return f"{left} {symbol} {right}", level
    if kind is ast.UnaryOp:
        if type(node.operand) is ast.UnaryOp:
            raise Unprintable
        operand, level = _quick(node.operand)
        if type(node.op) is ast.Not:
            return "not " + (operand if level > 4 else f"({operand})"), 4
        sign = {ast.USub: "-", ast.UAdd: "+"}.get(type(node.op))
        if sign is None:
            raise Unprintable
        return sign + (operand if level >= _UNARY else f"({operand})"), _UNARY
    if kind is ast.Compare and len(node.ops) == 1:
        symbol = _COMPARE.get(type(node.ops[0]))
        if symbol is None:
            raise Unprintable
        left, left_level = _quick(node.left)
        right, right_level = _quick(node.comparators[0])
        left = left if left_level > 5 else f"({left})"
        right = right if right_level > 5 else f"({right})"
        return f"{left} {symbol} {right}", 5
    if kind is ast.Call:
        items = [_quick(arg)[0] for arg in node.args]
        for keyword in node.keywords:
            if keyword.arg is None:
                raise Unprintable
            items.append(f"{keyword.arg}={_quick(keyword.value)[0]}")
        return f"{_quick_base(node.func)}({', '.join(items)})", _ATOM
    if kind is ast.Attribute:
        return f"{_quick_base(node.value)}.{node.attr}", _ATOM
    if kind is ast.Subscript:
        return f"{_quick_base(node.value)}[{_quick_index(node.slice)}]", _ATOM
    if kind is ast.Tuple:
        items = [_quick(item)[0] for item in node.elts]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")", _ATOM
    if kind is ast.List:
        return "[" + ", ".join(_quick(item)[0] for item in node.elts) + "]", _ATOM
    raise Unprintable


def _quick_constant(value: object) -> str:
    if value is None or value is True or value is False:
        return repr(value)
    if type(value) is int and value >= 0:
        return repr(value)
    if type(value) is float and math.isfinite(value) and math.copysign(1.0, value) > 0:
        return repr(value)
    raise Unprintable


def _quick_base(node: ast.expr) -> str:
    """What a call, attribute or subscript applies to (a number there is left alone:
    ``(1).real``)."""
    if type(node) is ast.Constant:
        raise Unprintable
    text, level = _quick(node)
    return text if level >= _ATOM else f"({text})"


def _quick_index(node: ast.expr) -> str:
    kind = type(node)
    if kind is ast.Tuple and node.elts:
        return ", ".join(_quick_index_part(item) for item in node.elts)
    return _quick_index_part(node)


def _quick_index_part(node: ast.expr) -> str:
    if type(node) is ast.Slice:
        raise Unprintable
    if type(node) is ast.Constant and node.value is Ellipsis:
        return "..."
    return _quick(node)[0]
