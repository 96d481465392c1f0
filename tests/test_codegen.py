"""Properties of the generated code: valid, lean, readable, debuggable."""
from __future__ import annotations

import ast
import inspect
import linecache
import math
import re
import textwrap
import traceback
from pathlib import Path

import pytest
from support import load_fixture

import ad_compiler as adc

FIXTURES = Path(__file__).parent / "fixtures"


C = load_fixture("codegen_funcs")
BARE = load_fixture("bare_sin")

SCALAR_FUNCS = [C.f, C.fan_out, C.poly, C.shared, C.dead, C.reassign, C.reassign_sin, C.gauss,
                C.chain, C.sum_div, C.log_times]
KINDS = [("grad", "reverse"), ("grad", "forward"), ("value_and_grad", "reverse"),
         ("value_and_grad", "forward"), ("jvp", "forward"), ("vjp", "reverse")]
VARIANTS = [(fn, kind, mode) for fn in SCALAR_FUNCS for kind, mode in KINDS] + \
    [(C.pair, "jvp", "forward"), (C.pair, "vjp", "reverse")]
IDS = [f"{fn.__name__}-{kind}-{mode}" for fn, kind, mode in VARIANTS]


def _all_wrt(fn):
    return tuple(range(fn.__code__.co_argcount))


def _source(fn, kind, mode):
    return adc.source(fn, mode=mode, wrt=_all_wrt(fn), kind=kind)


def _function_node(src: str) -> ast.FunctionDef:
    tree = ast.parse(src)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert len(defs) == 1, "one function per generated source"
    others = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
    assert not others, "only imports may precede the function"
    return defs[0]


def _statement_texts(fn) -> set[str]:
    """The statements of the user's function, one line each, as written."""
    node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    lines = textwrap.dedent(inspect.getsource(fn)).splitlines()
    texts = set()
    for stmt in node.body:
        text = " ".join(part.strip() for part in lines[stmt.lineno - 1:stmt.end_lineno])
        texts.add(text.split("  #")[0].strip())
    return texts


@pytest.mark.parametrize("fn,kind,mode", VARIANTS, ids=IDS)
def test_source_is_valid_python(fn, kind, mode):
    src = _source(fn, kind, mode)
    node = _function_node(src)
    compile(src, "<check>", "exec")
    assert node.name.startswith(fn.__name__)
    assert isinstance(node.body[-1], ast.Return)


def _identity_ops(tree: ast.AST) -> list[str]:
    """x*1, 1*x, x+0, 0+x, x-0, x/1, x**1, x*0, 0*x, --x."""
    def const(node, *values):
        return isinstance(node, ast.Constant) and not isinstance(node.value, bool) \
            and node.value in values

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp):
            left, r, op = node.left, node.right, node.op
            if isinstance(op, ast.Mult) and (const(left, 1, 0) or const(r, 1, 0)) \
                    or isinstance(op, ast.Add) and (const(left, 0) or const(r, 0)) \
                    or isinstance(op, (ast.Sub,)) and const(r, 0) \
                    or isinstance(op, (ast.Div, ast.Pow)) and const(r, 1):
                found.append(ast.unparse(node))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.UnaryOp) and isinstance(node.operand.op, ast.USub):
            found.append(ast.unparse(node))
    return found


_PROMOTION = re.compile(r"^\s*\w+ = 1\.0 \* \w+$")  # a gradient equal to an input made a float


@pytest.mark.parametrize("fn,kind,mode", VARIANTS, ids=IDS)
def test_no_identity_arithmetic(fn, kind, mode):
    src = "\n".join(line for line in _source(fn, kind, mode).splitlines()
                    if not _PROMOTION.match(line))
    code = "\n".join(line for line in src.splitlines() if not line.strip().startswith("#"))
    for pattern in (r"\*\s*1\.0(?![\d.eE])", r"\+\s*0\.0(?![\d.eE])", r"(?<![\w.])1\.0\s*\*"):
        assert not re.search(pattern, code), f"{pattern} in:\n{src}"
    assert _identity_ops(ast.parse(src)) == [], src


@pytest.mark.parametrize("fn,kind,mode", VARIANTS, ids=IDS)
def test_no_unused_assignments(fn, kind, mode):
    src = _source(fn, kind, mode)
    body = _function_node(src).body
    for i, stmt in enumerate(body):
        if isinstance(stmt, ast.Expr) and not isinstance(stmt.value, ast.Call):
            pytest.fail(f"statement without effect: {ast.unparse(stmt)}\n{src}")
        if not isinstance(stmt, ast.Assign):
            continue
        for target in stmt.targets:
            names = [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
            for name in names:
                used = any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
                           for later in body[i + 1:] for n in ast.walk(later))
                assert used, f"{name} is assigned but never used:\n{src}"


def _flat(value) -> list[float]:
    if isinstance(value, tuple):
        return [v for item in value for v in _flat(item)]
    return [float(value)]


@pytest.mark.parametrize("fn,kind,mode", VARIANTS, ids=IDS)
def test_printed_source_is_the_code_that_runs(fn, kind, mode):
    """exec the printed .source against the module's globals: same numbers."""
    n = fn.__code__.co_argcount
    point = [0.7, 1.3, 0.4][:n]
    src = _source(fn, kind, mode)
    namespace = dict(vars(C))
    exec(compile(src, "<exported>", "exec"), namespace)
    exported = namespace[_function_node(src).name]
    if kind == "jvp":
        tangents = [1.0, -0.5, 2.0][:n]
        expected = adc.jvp(fn, point, tangents)
        got = exported(*point, *tangents)
    elif kind == "vjp":
        seeds = (1.0, -2.0) if fn is C.pair else (1.5,)
        _, pullback = adc.vjp(fn, *point)
        expected = pullback(seeds if fn is C.pair else seeds[0])
        got = exported(*point, *seeds)
    else:
        derivative = {"grad": adc.grad, "value_and_grad": adc.value_and_grad}[kind]
        expected = derivative(fn, wrt=_all_wrt(fn), mode=mode)(*point)
        got = exported(*point)
    assert _flat(got) == pytest.approx(_flat(expected), rel=1e-12)


# ------------------------------------------------------------------ names


def _assigned(src: str) -> list[str]:
    return [t.id for s in _function_node(src).body if isinstance(s, ast.Assign)
            for t in s.targets if isinstance(t, ast.Name)]


def _returned_names(src: str) -> list[str]:
    ret = _function_node(src).body[-1]
    return [n.id for n in ast.walk(ret) if isinstance(n, ast.Name)]


def test_user_names_are_kept():
    src = adc.source(C.shared, wrt=(0, 1))
    assigned = _assigned(src)
    for name in ("a", "b", "c"):
        assert name in assigned, src
    params = [a.arg for a in _function_node(src).args.args]
    assert params == ["x", "y"]


@pytest.mark.parametrize("kind,mode", [("value_and_grad", "reverse"), ("jvp", "forward"),
                                       ("value_and_grad", "forward")])
def test_reassigned_name_gets_a_suffix(kind, mode):
    # y = x*2; y = y*y; return y
    src = adc.source(C.reassign, kind=kind, mode=mode)
    assigned = _assigned(src)
    assert "y" in assigned and "y_1" in assigned, src
    assert assigned.index("y") < assigned.index("y_1")


def test_reassigned_name_needed_by_the_backward_sweep():
    # y = 2x; y = sin(y); return y*y: the adjoint needs both versions of y
    src = adc.source(C.reassign_sin)
    assert {"y", "y_1"} <= set(_assigned(src)), src
    assert adc.grad(C.reassign_sin)(0.4) == pytest.approx(
        2 * math.sin(0.8) * math.cos(0.8) * 2)


def test_adjoints_are_named_bar_in_reverse_mode():
    src = adc.source(C.shared, wrt=("x", "y"))
    assert _returned_names(src) == ["x_bar", "y_bar"]
    assigned = _assigned(src)
    assert "c_bar" in assigned and "a_bar" in assigned, src
    assert not any(n.endswith("_dot") for n in assigned)
    vjp_src = adc.source(C.shared, kind="vjp")
    node = _function_node(vjp_src)
    params = [a.arg for a in node.args.args]
    assert params[:2] == ["x", "y"] and params[2].endswith("_bar")
    assert _returned_names(vjp_src) == ["x_bar", "y_bar"]


def test_tangents_are_named_dot_in_jvp():
    src = adc.source(C.fan_out, kind="jvp")
    node = _function_node(src)
    assert [a.arg for a in node.args.args] == ["v1", "v1_dot"]
    assigned = _assigned(src)
    assert "v2_dot" in assigned and "v4_dot" in assigned, src
    assert not any(n.endswith("_bar") for n in assigned)
    value, tangent = _returned_names(src)
    assert tangent == value + "_dot"
    src2 = adc.source(C.shared, kind="jvp")
    assert [a.arg for a in _function_node(src2).args.args] == ["x", "y", "x_dot", "y_dot"]
    assert "a_dot" in _assigned(src2)


# ------------------------------------------------------------------ comments


def _comments(src: str) -> list[str]:
    return [line.strip()[2:] for line in src.splitlines() if line.strip().startswith("# ")]


@pytest.mark.parametrize("fn,kind,mode", VARIANTS, ids=IDS)
def test_every_comment_is_a_source_statement(fn, kind, mode):
    statements = _statement_texts(fn)
    for comment in _comments(_source(fn, kind, mode)):
        text = comment.removeprefix("adjoint of: ")
        assert text in statements, (comment, statements)


def test_comments_for_statements_in_forward_code():
    src = adc.source(C.fan_out, kind="jvp")
    comments = _comments(src)
    for stmt in ("v2 = math.exp(v1)", "v3 = v2 + 1.0", "v4 = v2 * v3"):
        assert stmt in comments, src
    lines = [line.strip() for line in src.splitlines()]
    assert lines[lines.index("# v2 = math.exp(v1)") + 1].startswith("v2 = ")


def test_comments_for_statements_in_reverse_code():
    src = adc.source(C.shared, wrt=(0, 1))
    comments = _comments(src)
    for stmt in ("a = x * y", "b = math.sin(a)", "c = a * b"):
        assert stmt in comments, src
    assert any(c.startswith("adjoint of: ") for c in comments), src
    lines = [line.strip() for line in src.splitlines()]
    assert lines[lines.index("# b = math.sin(a)") + 1].startswith("b = ")


def test_reverse_code_of_a_one_statement_function_has_its_comment():
    src = adc.source(C.f)
    assert "# adjoint of: return x1 * x2 + math.sin(x1)" in src, src


# ------------------------------------------------------------------ debugging


def _frames_of(exc: BaseException):
    return traceback.extract_tb(exc.__traceback__)


@pytest.mark.parametrize("make", [
    lambda: adc.grad(C.log_times),
    lambda: adc.grad(C.log_times, mode="forward"),
    lambda: adc.value_and_grad(C.log_times),
], ids=["reverse", "forward", "value_and_grad"])
def test_traceback_shows_generated_lines(make):
    d = make()
    with pytest.raises(ValueError, match="math domain error") as info:
        d(-1.0)
    frame = _frames_of(info.value)[-1]
    assert frame.filename.startswith("<ad_compiler:")
    line = linecache.getline(frame.filename, frame.lineno)
    assert line.strip() and line.strip() == frame.line
    assert "log(" in line
    assert line.strip() in d.source  # the line the user reads in .source


def test_getsource_of_generated_function():
    derivatives = [adc.grad(C.chain), adc.grad(C.poly, wrt=(0, 1)),
                   adc.value_and_grad(C.sum_div, mode="forward"), adc.grad(BARE.f),
                   adc.grad(adc.grad(C.gauss))]
    for d in derivatives:
        text = textwrap.dedent(inspect.getsource(d))
        assert text.startswith(f"def {d.__name__}(")
        # what runs is .source with its body in a try that notes the user's line on errors
        lines = text.strip().splitlines()
        assert lines[1].strip() == "try:" and lines[-3].strip().startswith("except ")
        unwrapped = [lines[0]] + [line[4:] for line in lines[2:-3]]
        header_free = d.source[d.source.index("def "):]
        assert "\n".join(unwrapped) == header_free.strip()


def test_helper_modules_are_imported_in_the_printed_source():
    # bare_sin imports only `sin`; d/dx needs cos, and `math` there is a string
    src = adc.grad(BARE.f).source
    tree = ast.parse(src)
    imports = [n for n in tree.body if isinstance(n, ast.Import)]
    assert imports, src
    alias = imports[0].names[0]
    assert alias.name == "math" and (alias.asname or "math") != "math"
    assert f"{alias.asname}.cos(" in src
