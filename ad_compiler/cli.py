"""The `adc` command: traces, graphs, generated derivative source, checks and exports.

    adc source examples/seeds.py:f --mode reverse --wrt x1,x2
    adc trace examples/seeds.py:f --at x1=0.7 x2=1.3
    adc graph examples/seeds.py:f --at x1=0.7 x2=1.3 -o graph.svg
    adc symbolic examples/seeds.py:f --latex
    adc check examples/seeds.py:f --at x1=0.7 x2=1.3
    adc export examples/models.py:mlp_loss --wrt 0,1,2,3 -o mlp_grad.py
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ADCompileError


class TargetError(Exception):
    """A target that names no function."""


def load_target(target: str) -> Callable:
    """`path/to/file.py:function` or `package.module:function` -> the function."""
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr:
        raise TargetError(f"target {target!r} names no function: write path/to/file.py:function "
                          "or package.module:function, such as examples/seeds.py:f")
    if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
        path = os.path.abspath(module_part)
        if not os.path.isfile(path):
            raise TargetError(f"no such file: {module_part} (looked for {path}); give the "
                              "path of a Python file, relative to the current directory, "
                              "then ':' and the function's name")
        name = "_adc_target_" + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        sys.path.insert(0, os.path.dirname(path))
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            raise TargetError(f"{module_part}:{exc.lineno}: syntax error: {exc.msg}") from None
        except Exception as exc:  # the user's module failed while importing
            raise TargetError(f"importing {module_part} failed: "
                              f"{type(exc).__name__}: {exc}") from None
        finally:
            sys.path.pop(0)
    else:
        try:
            module = importlib.import_module(module_part)
        except ImportError as exc:
            raise TargetError(f"cannot import {module_part}: {exc}; check the module's "
                              "name (modules are found on sys.path: PYTHONPATH and installed "
                              "packages), or give a file instead: path/to/file.py:function"
                              ) from None
        except Exception as exc:  # the user's module failed while importing
            raise TargetError(f"importing {module_part} failed: "
                              f"{type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"{module_part} has no function {attr!r}; "
                              f"{_functions_in(module)}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TargetError(f"{target} is a {type(obj).__name__}, not a function; "
                          f"{_functions_in(module)}")
    return obj


def _functions_in(module: Any) -> str:
    """The functions a module defines, to choose a target from (for an error message)."""
    names = [name for name, value in vars(module).items()
             if callable(value) and not isinstance(value, type) and not name.startswith("_")
             and getattr(value, "__module__", None) == module.__name__]
    if not names:
        return f"{module.__name__} defines no functions"
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"its functions are: {shown}"


def _wrt(text: str | None) -> Any:
    if text is None:
        return 0
    items = tuple(int(t) if t.strip().isdigit() else t.strip() for t in text.split(","))
    return items[0] if len(items) == 1 else items


def _arguments(fn: Callable, pairs: Sequence[str]) -> tuple:
    """Arguments of the shapes `--shapes` gives (``X=20x3``, ``w=3:float32``, ``b=float``,
    ``n=int:5``), filled with random numbers: what matters is their shapes."""
    import inspect

    import numpy as np

    rng = np.random.default_rng(0)
    given: dict[str, Any] = {}
    for pair in pairs:
        name, sep, spec = pair.partition("=")
        if not sep:
            raise TargetError(f"--shapes takes name=shape pairs, not {pair!r}")
        kind, _, extra = spec.partition(":")
        try:
            if kind == "float":
                given[name] = float(rng.standard_normal())
            elif kind == "int":
                given[name] = int(extra)
            else:
                shape = tuple(int(n) for n in kind.split("x")) if kind not in ("", "()") else ()
                given[name] = rng.standard_normal(shape).astype(extra or np.float64)
        except (ValueError, TypeError):
            raise TargetError(f"--shapes {name}: {spec!r} is not a shape such as 20x3, "
                              "3:float32, float or int:5") from None
    params = list(inspect.signature(fn).parameters)
    missing = [p for p in params if p not in given]
    if missing:
        raise TargetError(f"--shapes needs a shape for {', '.join(missing)}")
    return tuple(given[p] for p in params)


def _point(pairs: Sequence[str]) -> dict[str, float]:
    point = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise TargetError(f"--at takes name=value pairs, not {pair!r}")
        try:
            point[name] = float(value)
        except ValueError:
            raise TargetError(f"--at {name}: {value!r} is not a number") from None
    return point


def _cmd_source(args: argparse.Namespace) -> int:
    from .api import source

    fn = load_target(args.target)
    at = _arguments(fn, args.shapes) if args.shapes else None
    text = source(fn, mode=args.mode, wrt=_wrt(args.wrt), kind=args.kind, at=at)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    print(highlight(text) if color else text, end="")
    return 0


def highlight(text: str) -> str:
    """Python source in terminal colours, when pygments is installed (else as it is)."""
    try:
        import pygments
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return text
    return pygments.highlight(text, PythonLexer(), TerminalFormatter())


def _cmd_trace(args: argparse.Namespace) -> int:
    from .tracing import trace

    fn = load_target(args.target)
    tr = trace(fn)
    print(tr)
    if args.at:
        print()
        print(tr.table(seed=_wrt(args.seed) if args.seed else 0, **_point(args.at)))
    return 0


def _cmd_graph(args: argparse.Namespace) -> int:
    from .graph import GraphvizMissing, graph_values, render, to_dot
    from .tracing import trace

    fn = load_target(args.target)
    tr = trace(fn)
    values = None
    if args.at:
        values = graph_values(tr, _point(args.at), seed=_wrt(args.seed) if args.seed else 0)
    dot_text = to_dot(tr.function, values=values)
    if args.output in (None, "-"):
        print(dot_text, end="" if dot_text.endswith("\n") else "\n")
        return 0
    try:
        render(dot_text, args.output)
    except GraphvizMissing as exc:
        raise TargetError(str(exc)) from None
    print(f"wrote {args.output}")
    return 0


def _cmd_symbolic(args: argparse.Namespace) -> int:
    from .symbolic import symbolic

    fn = load_target(args.target)
    result = symbolic(fn, wrt=_wrt(args.wrt) if args.wrt else None)
    print(result.latex() if args.latex else result.text())
    print()
    print("expression size, symbolic differentiation against automatic differentiation:")
    print(result.sizes_table())
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .api import check_grad
    from .lowering import lower

    fn = load_target(args.target)
    names = [p.name for p in lower(fn).params]
    point = _point(args.at)
    missing = [n for n in names if n not in point]
    if missing:
        raise TargetError(f"--at needs a value for {', '.join(missing)}")
    values = [point[n] for n in names]
    wrt = _wrt(args.wrt) if args.wrt else tuple(range(len(names)))
    wrt = wrt if isinstance(wrt, tuple) else (wrt,)
    worst = 0.0
    print(f"{'input':<12} {'relative error':>16}   (AD against central differences)")
    for item in wrt:
        error = check_grad(fn, *values, wrt=item, mode=args.mode)
        name = names[item] if isinstance(item, int) else item
        print(f"{name:<12} {error:>16.3e}")
        worst = max(worst, error)
    verdict = "ok" if worst <= args.tol else "FAILED"
    print(f"{verdict}: largest relative error {worst:.3e} (tolerance {args.tol:g})")
    return 0 if worst <= args.tol else 1


def _cmd_export(args: argparse.Namespace) -> int:
    from .build import derivative
    from .export import export, write

    fn = load_target(args.target)
    kinds = args.kind or ["grad"]
    compiled = [derivative(fn, kind, _wrt(args.wrt), args.mode if kind in (
        "grad", "value_and_grad") else ("forward" if kind == "jvp" else "reverse"))
        for kind in kinds]
    shapes, specialised_to = "", None
    if args.shapes:  # the versions specialised to these shapes, for such inputs only
        at = _arguments(fn, args.shapes)
        versions = [c.version_for(*at) if hasattr(c, "version_for") and kind in (
            "grad", "value_and_grad") else c for c, kind in zip(compiled, kinds)]
        specialised_to = [None if v is c or v is getattr(c, "_adc_generic", None) else at
                          for v, c in zip(versions, compiled)]
        compiled = versions
        shapes = " ".join(args.shapes)
    text = export(fn, compiled, shapes=shapes, specialised_to=specialised_to)
    if args.output == "-":
        print(text, end="")
    else:
        write(args.output, text)
        print(f"wrote {args.output}: {', '.join(c.__name__ for c in compiled)}")
    return 0


TARGET_HELP = "file.py:function or package.module:function"


def _subcommand(sub: Any, name: str, help_text: str, run: Callable[[argparse.Namespace], int],
                target_help: str = TARGET_HELP) -> argparse.ArgumentParser:
    """A subcommand taking a target, run by `run`."""
    p = sub.add_parser(name, help=help_text)
    p.add_argument("target", help=target_help)
    p.set_defaults(run=run)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adc", description="Source-to-source automatic "
                                     "differentiation: show traces and derivative code.")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = _subcommand(sub, "source", "print the generated derivative source", _cmd_source)
    p.add_argument("--mode", choices=("reverse", "forward"), default="reverse")
    p.add_argument("--wrt", help="inputs to differentiate, by name or index: x1,x2")
    p.add_argument("--kind", choices=("grad", "value_and_grad", "jvp", "vjp"), default="grad")
    p.add_argument("--shapes", nargs="+", metavar="NAME=SHAPE",
                   help="the code specialised to inputs of these shapes: X=20x3 w=3 b=float")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="syntax colours (needs pygments); auto: when printing to a terminal")

    p = _subcommand(sub, "trace", "print the SSA evaluation trace (w levels)", _cmd_trace)
    p.add_argument("--at", nargs="+", metavar="NAME=VALUE",
                   help="tabulate value, tangent and adjoint of every w at this point")
    p.add_argument("--seed", help="input whose tangent is tabulated (default: the first)")

    p = _subcommand(sub, "graph", "draw the computational graph of the trace (DOT, SVG, PNG)",
                    _cmd_graph)
    p.add_argument("-o", "--output", help="graph.svg, graph.png, graph.pdf or graph.dot "
                                          "(default: DOT text on stdout)")
    p.add_argument("--at", nargs="+", metavar="NAME=VALUE",
                   help="label every node with its value, tangent and adjoint at this point")
    p.add_argument("--seed", help="input whose tangent labels the nodes (default: the first)")

    p = _subcommand(sub, "symbolic", "the closed-form derivative from sympy, and its size "
                    "against the AD trace", _cmd_symbolic,
                    target_help=f"{TARGET_HELP} (straight-line, scalar)")
    p.add_argument("--wrt", help="inputs to differentiate, by name or index (default: all)")
    p.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")

    p = _subcommand(sub, "check", "compare AD with central differences at a point", _cmd_check)
    p.add_argument("--at", nargs="+", metavar="NAME=VALUE", required=True,
                   help="the point: a value for every parameter")
    p.add_argument("--wrt", help="inputs to check, by name or index (default: all)")
    p.add_argument("--mode", choices=("reverse", "forward"), default="reverse")
    p.add_argument("--tol", type=float, default=1e-6,
                   help="largest relative error accepted (default 1e-6); exit 1 above it")

    p = _subcommand(sub, "export", "write a standalone module with the derivative (runs "
                    "without ad_compiler)", _cmd_export)
    p.add_argument("-o", "--output", required=True, help="module file to write ('-': stdout)")
    p.add_argument("--mode", choices=("reverse", "forward"), default="reverse")
    p.add_argument("--wrt", help="inputs to differentiate, by name or index: x1,x2")
    p.add_argument("--kind", action="append",
                   choices=("grad", "value_and_grad", "jvp", "vjp"),
                   help="derivative(s) to export (repeatable; default: grad)")
    p.add_argument("--shapes", nargs="+", metavar="NAME=SHAPE",
                   help="export gradients specialised to inputs of these shapes (X=20x3 "
                        "w=3 b=float), for such inputs only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ADCompileError, TargetError, ValueError) as exc:
        if args.debug:
            traceback.print_exc()
        message = exc.one_line() if isinstance(exc, ADCompileError) else str(exc)
        print(f"adc: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
