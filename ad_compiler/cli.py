"""The `adc` command: traces, graphs, generated derivative source, checks and exports.

    adc source examples/seeds.py:f --mode reverse --wrt x1,x2
    adc trace examples/seeds.py:f --at x1=0.7 x2=1.3
    adc graph examples/seeds.py:f --at x1=0.7 x2=1.3 -o graph.svg
    adc symbolic examples/seeds.py:f --latex
    adc check examples/seeds.py:f --at x1=0.7 x2=1.3
    adc check examples/models.py:rosenbrock --at "x=[1.2, 0.8, 1.1]"
    adc check examples/models.py:mlp_loss --shapes W1=3x4 b1=4 W2=4x2 b2=2 X=5x3 Y=5x2
    adc export examples/models.py:mlp_loss --wrt 0,1,2,3 -o mlp_grad.py

The forms of --at values and --shapes are described in cli_inputs.py.
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

from .cli_inputs import InputError, bind, describe, holds_floats
from .differences import relative_error
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
        _current_directory_importable()
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


def _current_directory_importable() -> None:
    """Modules in the current directory import as under ``python -m ad_compiler``, which
    puts it first on sys.path; the ``adc`` script's own directory is there instead."""
    here = os.getcwd()
    if not any(os.path.abspath(entry or os.curdir) == here for entry in sys.path):
        sys.path.insert(0, here)


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


def _cmd_source(args: argparse.Namespace) -> int:
    from .api import source

    fn = load_target(args.target)
    at = bind(fn, shapes=args.shapes).args if args.shapes else None
    text = source(fn, mode=args.mode, wrt=_wrt(args.wrt) if args.wrt else None, kind=args.kind, at=at)
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
        point = bind(fn, at=args.at)
        print(tr.table(*point.args, seed=_wrt(args.seed) if args.seed else 0))
    return 0


def _cmd_graph(args: argparse.Namespace) -> int:
    from .graph import GraphvizMissing, graph_values, render, to_dot
    from .tracing import trace

    fn = load_target(args.target)
    tr = trace(fn)
    values = None
    if args.at:
        point = bind(fn, at=args.at)
        values = graph_values(tr, dict(zip(point.names, point.args)),
                              seed=_wrt(args.seed) if args.seed else 0)
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
    from .api import grad
    from .build import wrt_indices
    from .lowering import lower

    fn = load_target(args.target)
    if not args.at and not args.shapes:
        raise TargetError("check needs a point: --at x=0.7 n=4 ..., or --shapes X=20x3 ... "
                          "for random values of those shapes")
    point = bind(fn, at=args.at or (), shapes=args.shapes or ())
    names, values = point.names, point.args
    if args.wrt:
        indices = wrt_indices(lower(fn), _wrt(args.wrt))[0]
        for i in indices:
            if not holds_floats(values[i]):
                raise TargetError(f"--wrt {names[i]}: {names[i]} is {describe(values[i])}, "
                                  "which central differences cannot perturb; give it as a "
                                  f"float ({names[i]}=4.0) to check it")
    else:
        indices = [i for i, (n, v) in enumerate(zip(names, values))
                   if holds_floats(v) and n not in point.defaulted]
        if not indices:
            given = ", ".join(f"{n} is {describe(v)}" for n, v in zip(names, values))
            raise TargetError(f"nothing to check: no input holds floats ({given}); ints are "
                              "held fixed as counts or indices: write x=2.0 to check x")
    gradients = grad(fn, wrt=tuple(indices), mode=args.mode)(*values)
    worst = 0.0
    print(f"{'input':<12} {'relative error':>16}   (AD against central differences)")
    for i, gradient in zip(indices, gradients):
        error = relative_error(fn, values, i, gradient)
        print(f"{names[i]:<12} {error:>16.3e}")
        worst = max(worst, error)
    fixed = [f"{n} ({'its default' if n in point.defaulted else describe(v)})"
             for k, (n, v) in enumerate(zip(names, values)) if k not in indices]
    if fixed:
        print(f"held fixed: {', '.join(fixed)}")
    verdict = "ok" if worst <= args.tol else "FAILED"
    where = f" at random inputs of the given shapes (seed {_SEED})" if point.random else ""
    print(f"{verdict}: largest relative error {worst:.3e} (tolerance {args.tol:g}){where}")
    return 0 if worst <= args.tol else 1


_SEED = 0  # random inputs of --shapes: the same on every run


def _cmd_export(args: argparse.Namespace) -> int:
    from .build import derivative
    from .dispatch import any_layout
    from .export import export, write

    fn = load_target(args.target)
    kinds = args.kind or ["grad"]
    compiled = [derivative(fn, kind, _wrt(args.wrt), args.mode if kind in (
        "grad", "value_and_grad") else ("forward" if kind == "jvp" else "reverse"))
        for kind in kinds]
    shapes, specialised_to = "", None
    if args.shapes:  # the versions specialised to these shapes, for such inputs only
        at = bind(fn, shapes=args.shapes).args
        # (for inputs of any layout: the exported module cannot tell its callers')
        versions = [any_layout(c.version_for(*at)) if hasattr(c, "version_for") and kind in (
            "grad", "value_and_grad") else c for c, kind in zip(compiled, kinds)]
        specialised_to = [None if v is c or v is getattr(c, "_adc_generic", None) else at
                          for v, c in zip(versions, compiled)]
        compiled = versions
        if any(at is not None for at in specialised_to):  # else: generic code, any shape
            shapes = " ".join(args.shapes)
    text = export(fn, compiled, shapes=shapes, specialised_to=specialised_to)
    if args.output == "-":
        print(text, end="")
    else:
        write(args.output, text)
        generic = " (the generic code: nothing was specialised to those shapes)" if (
            args.shapes and not shapes) else ""
        print(f"wrote {args.output}: {', '.join(c.__name__ for c in compiled)}{generic}")
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
                   help="tabulate value, tangent and adjoint of every w at this point "
                        "(numbers: x=0.7, n=4, x=1.5:float32)")
    p.add_argument("--seed", help="input whose tangent is tabulated (default: the first)")

    p = _subcommand(sub, "graph", "draw the computational graph of the trace (DOT, SVG, PNG)",
                    _cmd_graph)
    p.add_argument("-o", "--output", help="graph.svg, graph.png, graph.pdf or graph.dot "
                                          "(default: DOT text on stdout)")
    p.add_argument("--at", nargs="+", metavar="NAME=VALUE",
                   help="label every node with its value, tangent and adjoint at this point "
                        "(numbers: x=0.7, n=4, x=1.5:float32)")
    p.add_argument("--seed", help="input whose tangent labels the nodes (default: the first)")

    p = _subcommand(sub, "symbolic", "the closed-form derivative from sympy, and its size "
                    "against the AD trace", _cmd_symbolic,
                    target_help=f"{TARGET_HELP} (straight-line, scalar)")
    p.add_argument("--wrt", help="inputs to differentiate, by name or index (default: all)")
    p.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")

    p = _subcommand(sub, "check", "compare AD with central differences at a point", _cmd_check)
    p.add_argument("--at", nargs="+", metavar="NAME=VALUE",
                   help="the point: x=0.7, n=4 (an int), X=[[1, 2], [3, 4]] (a float array), "
                        "xs=list:[1, 2] (a list of floats), w=[1, 2]:float32, X=data.npy")
    p.add_argument("--shapes", nargs="+", metavar="NAME=SHAPE",
                   help="random values (seeded, the same on every run) of these shapes for "
                        "the parameters --at does not give: X=20x3 w=3:float32 b=float")
    p.add_argument("--wrt", help="inputs to check, by name or index (default: every input "
                                 "that holds floats; ints are held fixed)")
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
    except Exception as exc:  # noqa: BLE001  (one line on stderr, whatever went wrong)
        if args.debug:
            traceback.print_exc()
        print(f"adc: error: {error_line(exc)}", file=sys.stderr)
        return 2


def error_line(exc: Exception) -> str:
    """An exception as one line: the message of the errors adc itself reports; for any
    other (raised by the user's code at the point given, or a fault of adc's own), its
    type, its message and the notes that locate it, and where to see the traceback."""
    if isinstance(exc, ADCompileError):
        return exc.one_line()
    if isinstance(exc, (TargetError, InputError)):
        return str(exc)
    parts = [f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__]
    parts += [str(note) for note in getattr(exc, "__notes__", ())]
    text = "; ".join(parts) + " (--debug shows the traceback)"
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
