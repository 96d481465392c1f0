"""Printing generated code: astor where it prints well, ast.unparse where it cannot.

Python 3.14 removes the ast nodes astor was written for; there, and wherever astor
fails or warns, the same program must come out through ast.unparse and give the same
derivatives.  The references are central differences and the astor-printed program.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from support import central, load_module

import ad_compiler as adc
from ad_compiler import cache, printing

ROOT = Path(__file__).resolve().parents[1]
C = load_module(ROOT / "tests" / "programs" / "catalogue.py", "adc_test_programs_catalogue",
                shared=True)
models = load_module(ROOT / "examples" / "models.py", "adc_cli_models", shared=True)


def _import_astor():
    """astor, imported as printing.py imports it: its look-up of ast.Num at import warns
    on Python 3.12 and 3.13."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"ast\.\w+ is deprecated", DeprecationWarning,
                                r"astor\.")
        import astor
    return astor


astor = _import_astor()


@pytest.fixture
def fresh_printer():
    """The choice of printer made again, before and after the test (list it before
    `monkeypatch`, so that it runs after monkeypatch has undone its patches)."""
    printing._astor.cache_clear()
    cache.clear()
    yield
    printing._astor.cache_clear()
    cache.clear()


def _sources(fn, nargs: int, modes=("reverse", "forward")) -> list[str]:
    return [adc.source(fn, mode=mode, wrt=tuple(range(nargs))) for mode in modes]


def _same_program(a: str, b: str) -> bool:
    return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))


def test_astor_prints_where_it_prints_the_sample_right(fresh_printer):
    if sys.version_info < (3, 14):  # the Pythons astor was written for
        assert printing._astor() is astor
    statement = ast.parse("x_bar, y_bar = y, x").body[0]
    assert printing.print_stmt(statement) == "x_bar, y_bar = y, x"


def test_without_astor_every_catalogue_program_is_the_same(fresh_printer, monkeypatch):
    with_astor = {fn.__name__: _sources(fn, len(points[0])) for fn, points in C.CATALOGUE}
    monkeypatch.setattr(printing, "_astor", lambda: None)
    cache.clear()
    for fn, points in C.CATALOGUE:
        point = points[0]
        for a, b in zip(with_astor[fn.__name__], _sources(fn, len(point)), strict=True):
            assert _same_program(a, b), f"{a}\n---\n{b}"
            assert len(a.splitlines()) == len(b.splitlines())
        got = adc.grad(fn, wrt=tuple(range(len(point))))(*point)
        for i, g in enumerate(got):
            expected = central(fn, point, i)
            assert abs(g - expected) <= 1e-6 * max(1.0, abs(expected)), (fn, point, i)


def test_without_astor_array_code_is_the_same_and_right(fresh_printer, monkeypatch):
    rng = np.random.default_rng(7)
    args = [rng.normal(size=s) for s in ((3, 4), (4,), (4, 2), (2,), (5, 3), (5, 2))]
    wrt = (0, 1, 2, 3)
    expected = adc.grad(models.mlp_loss, wrt=wrt)(*args)
    text = adc.source(models.mlp_loss, wrt=wrt)
    monkeypatch.setattr(printing, "_astor", lambda: None)
    cache.clear()
    assert _same_program(text, adc.source(models.mlp_loss, wrt=wrt))
    got = adc.grad(models.mlp_loss, wrt=wrt)(*args)
    for g, want in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, want)


QUICK_CASES = [
    "x_bar, y_bar = y * math.cos(x) + -x ** 2, (a + b) * (c - d) / e",
    "w = a - (b - c) + a ** -b ** c + (-a) ** b - 2.0 * -x + a / (b * c) % d // 2",
    "w = (a ** b) ** c + -(x + y) * (x @ y).T + f(g(x), axis=0, keepdims=True)[0]",
    "t = not a < b", "t = (a < b) == (c > d)", "t = -(a < b)", "u = x[i, ..., 0] + [x, (y,), ()]",
    "return x_bar,", "return (a, b), c", "xs.append(x)", "v = 1e-300 + 12345678901234567890",
]


def test_quick_printing_writes_what_astor_writes():
    """Every statement the quick printer takes, in the catalogue's derivatives and in
    hard cases of precedence, comes out as astor prints it (and parses back)."""
    statements = [ast.parse(text).body[0] for text in QUICK_CASES]
    for fn, points in C.CATALOGUE:
        for text in _sources(fn, len(points[0])):
            statements += [node for node in ast.walk(ast.parse(text))
                           if isinstance(node, (ast.Assign, ast.Return, ast.Expr))]
    quick = 0
    for node in statements:
        try:
            text = printing.quick_stmt(node)
        except printing.Unprintable:
            continue
        quick += 1
        assert text == astor.to_source(node, pretty_source="".join).rstrip("\n")
        assert ast.dump(ast.parse(text).body[0]) == ast.dump(node)
    assert quick > 0.8 * len(statements)  # most statements are printed quickly


def test_unparse_writes_tuples_as_astor_does():
    for text in ["x_bar, y_bar = y, x", "return x_bar, y_bar", "return x_bar,",
                 "a = b = 1.0, c", "return (x, y), z"]:
        assert printing.unparse(ast.parse(text).body[0]) == text
    # everything else as ast.unparse writes it
    assert printing.unparse(ast.parse("y = inside and not either").body[0]) == (
        "y = inside and (not either)")


def test_a_statement_astor_fails_on_is_printed_by_unparse(fresh_printer, monkeypatch):
    real = astor.to_source

    def fails_on_returns(node, **options):
        if isinstance(node, ast.Return):
            raise AttributeError("module 'ast' has no attribute 'Str'")
        return real(node, **options)

    printing._astor()  # chosen with the real astor
    monkeypatch.setattr(astor, "to_source", fails_on_returns)
    text = _sources(C.seed, 2, modes=("reverse",))[0]
    assert "return x1_bar, x2_bar" in text.splitlines()[-1]
    x1, x2 = 0.7, 1.3
    got = adc.grad(C.seed, wrt=(0, 1))(x1, x2)
    assert got == pytest.approx((central(C.seed, (x1, x2), 0), central(C.seed, (x1, x2), 1)),
                                rel=1e-9)


def test_astor_that_warns_is_not_used_and_its_warning_not_shown(fresh_printer, monkeypatch):
    real = astor.to_source

    def warns(node, **options):
        warnings.warn("ast.Str is deprecated", DeprecationWarning, stacklevel=2)
        return real(node, **options)

    monkeypatch.setattr(astor, "to_source", warns)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert printing._astor() is None
        text = _sources(C.seed, 2, modes=("reverse",))[0]
    assert caught == []
    assert "return x1_bar, x2_bar" in text.splitlines()[-1]


# Python 3.14's ast, as far as astor can tell: the nodes it removed are gone.
WITHOUT_OLD_NODES = """\
import ast
for name in ("Num", "Str", "Bytes", "NameConstant", "Ellipsis"):
    ast.__dict__.pop(name, None)
def __getattr__(name):
    raise AttributeError(f"module 'ast' has no attribute {name!r}")
ast.__getattr__ = __getattr__
"""


@pytest.mark.parametrize("astor_installed", [True, False])
def test_code_and_exports_come_out_where_the_old_ast_nodes_are_gone(tmp_path, astor_installed):
    """In a fresh interpreter with warnings as errors: a gradient and `adc export`."""
    seeds = ROOT / "examples" / "seeds.py"
    out = tmp_path / "seed_grad.py"
    script = WITHOUT_OLD_NODES + ("" if astor_installed else
                                  "import sys\nsys.modules['astor'] = None\n") + textwrap.dedent(f"""
        import sys
        from ad_compiler import printing
        from ad_compiler.cli import main
        print(printing._astor() is not None)
        assert main(["export", {str(seeds) + ":f"!r}, "--wrt", "x1,x2", "-o", {str(out)!r}]) == 0
        sys.path.insert(0, {str(tmp_path)!r})
        import seed_grad
        print(repr(seed_grad.f_grad(0.7, 1.3)))
        """)
    result = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    used_astor, printed = lines[0], lines[-1]
    assert used_astor == str(astor_installed)
    x1, x2 = 0.7, 1.3
    assert eval(printed) == pytest.approx((x2 + np.cos(x1), x1), rel=1e-15)
    assert "return x1_bar, x2_bar" in out.read_text()
