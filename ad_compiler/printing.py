"""Printing generated statements: astor where it prints well, `ast.unparse` elsewhere.

astor prints the generated code (it writes `x_bar, y_bar = y, x` where `ast.unparse`
writes `x_bar, y_bar = (y, x)`), but it was written for Pythons whose `ast` had `Num`,
`Str` and the other nodes deprecated in 3.12 and removed in 3.14.  So it is used only
after it has printed a sample of the statements this compiler makes with no warning and
to the same syntax tree; a statement it fails on, and every statement where the sample
fails or astor is not installed, is printed by `ast.unparse`, with astor's layout of
tuples kept where that gives the same tree.
"""
from __future__ import annotations

import ast
import functools
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
