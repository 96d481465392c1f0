"""Lowering: a function's AST to the SSA evaluation trace.

Every operator and call becomes one op; every assignment binds a name to a value,
so reassigning a variable makes a new value (``y``, later ``y_1``).  Names that are
not local are resolved to objects by identity: a call's callee selects the
primitive, a global or closure *value* becomes a `FreeName` read at call time.
"""
from __future__ import annotations

import ast
import operator
import types
from typing import Any

from .builder import Builder
from .frontend import FunctionSource, load
from .ir import Block, Const, FreeName, Function, Operand, SourceLoc, Value
from .primitives import NONDIFF_BUILTINS, PRIMITIVES, lookup_callable

_BINOPS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
    ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.MatMult: "matmul",
}
_COMPARES = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq",
             ast.NotEq: "ne"}
_PY_BINOPS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul,
    "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
    "pow": operator.pow,
}

# Statements the compiler rejects, with what to do instead.
_UNSUPPORTED_STATEMENTS = {
    ast.If: ("'if' statements are not supported yet",
             "express the choice with a conditional-free formula (for example "
             "np.where or min/max) or differentiate each branch as its own function"),
    ast.For: ("'for' loops are not supported yet",
              "unroll the loop, or vectorise it with NumPy"),
    ast.While: ("'while' loops are not supported yet",
                "unroll the loop, or vectorise it with NumPy"),
    ast.Try: ("'try' cannot be differentiated",
              "move the try/except outside the function you differentiate"),
    ast.With: ("'with' blocks cannot be differentiated",
               "move the 'with' block outside the function you differentiate"),
    ast.Global: ("'global' declarations cannot be differentiated",
                 "pass the value as an argument and return the new value"),
    ast.Nonlocal: ("'nonlocal' declarations cannot be differentiated",
                   "pass the value as an argument and return the new value"),
    ast.Raise: ("'raise' cannot be differentiated",
                "check inputs before calling the differentiated function"),
    ast.Delete: ("'del' cannot be differentiated", "remove the 'del' statement"),
    ast.Import: ("imports inside a differentiated function are not supported",
                 "import at module level"),
    ast.ImportFrom: ("imports inside a differentiated function are not supported",
                     "import at module level"),
    ast.ClassDef: ("class definitions inside a differentiated function are not supported",
                   "define the class at module level"),
    ast.FunctionDef: ("nested function definitions are not supported yet",
                      "define the helper at module level and inline its formula"),
    ast.AsyncFunctionDef: ("async functions cannot be differentiated",
                           "use a plain 'def' function"),
    ast.Assert: ("'assert' cannot be differentiated",
                 "check inputs before calling the differentiated function"),
}
_UNSUPPORTED_EXPRESSIONS = {
    ast.Yield: ("generators ('yield') cannot be differentiated",
                "return a list or tuple of the values instead"),
    ast.YieldFrom: ("generators ('yield from') cannot be differentiated",
                    "return a list or tuple of the values instead"),
    ast.Await: ("'await' cannot be differentiated", "use a plain 'def' function"),
    ast.IfExp: ("conditional expressions are not supported yet",
                "write the choice with min/max or np.where"),
    ast.BoolOp: ("'and'/'or' are not supported yet", "compute the condition outside"),
    ast.Lambda: ("lambda expressions inside a differentiated function are not supported",
                 "define the function at module level"),
    ast.ListComp: ("list comprehensions are not supported yet", "write the terms out"),
    ast.GeneratorExp: ("generator expressions are not supported yet", "write the terms out"),
    ast.DictComp: ("dict comprehensions are not supported", "write the entries out"),
    ast.SetComp: ("set comprehensions are not supported", "use a tuple"),
    ast.NamedExpr: ("assignment expressions (':=') are not supported",
                    "assign in a statement of its own"),
    ast.Subscript: ("indexing is not supported yet", "pass the elements as arguments"),
    ast.Starred: ("starred arguments are not supported", "pass arguments one by one"),
    ast.JoinedStr: ("f-strings cannot be differentiated", "format outside the function"),
}


def lower(func: Any) -> Function:
    """The SSA evaluation trace of a Python function."""
    ir = getattr(func, "_adc_function", None)
    if isinstance(ir, Function):
        return ir
    return _Lowerer(load(func)).run()


class _Lowerer:
    def __init__(self, src: FunctionSource) -> None:
        self.src = src
        self.block = Block()
        self.builder = Builder(self.block)
        self.env: dict[str, Operand] = {}
        self.statements: dict[int, str] = {}
        self.stmt: ast.AST | None = None

    def error(self, node: ast.AST, what: str, hint: str = "") -> Exception:
        return self.src.error(node, what, hint)

    # ------------------------------------------------------------ function
    def run(self) -> Function:
        node = self.src.node
        params = self._params(node.args)
        outputs: list[Operand]
        returns_tuple = False
        if isinstance(node, ast.Lambda):
            self._begin(node.body)
            outputs, returns_tuple = self._return_value(node.body)
        else:
            outputs, returns_tuple = self._body(node.body)
        self.block.yields = outputs
        return Function(self.src.name, params, self.block, returns_tuple,
                        self.statements, self.src.filename,
                        defaults=tuple(self.src.func.__defaults__ or ()), source=self.src)

    def _params(self, args: ast.arguments) -> list[Value]:
        if args.vararg or args.kwarg:
            extra = args.vararg or args.kwarg
            raise self.error(extra, "*args and **kwargs parameters are not supported",
                             hint="name each parameter")
        if args.kwonlyargs:
            raise self.error(args.kwonlyargs[0], "keyword-only parameters are not supported yet",
                             hint="make them positional parameters")
        params = []
        for arg in [*args.posonlyargs, *args.args]:
            value = Value(arg.arg)
            self.env[arg.arg] = value
            params.append(value)
        return params

    def _body(self, body: list[ast.stmt]) -> tuple[list[Operand], bool]:
        for index, stmt in enumerate(body):
            if index == 0 and _is_docstring(stmt):
                continue
            self._begin(stmt)
            if isinstance(stmt, ast.Return):
                if index != len(body) - 1:
                    raise self.error(stmt, "a 'return' before the end of the function is "
                                           "not supported yet",
                                     hint="return once, as the last statement")
                if stmt.value is None:
                    return [Const(None)], False
                return self._return_value(stmt.value)
            self._statement(stmt)
        return [Const(None)], False

    def _begin(self, stmt: ast.AST) -> None:
        self.stmt = stmt
        lines = [self.src.line(n).strip() for n in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1)]
        self.statements[stmt.lineno] = " ".join(lines)

    def _return_value(self, value: ast.expr) -> tuple[list[Operand], bool]:
        if isinstance(value, ast.Tuple):
            return [self.expr(e) for e in value.elts], True
        return [self.expr(value)], False

    # ----------------------------------------------------------- statements
    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            value_node = stmt.value
            for target in stmt.targets:
                if isinstance(target, ast.Tuple) and not isinstance(value_node, ast.Tuple):
                    raise self.error(target, "unpacking a value into several names is not "
                                             "supported yet",
                                     hint="assign each name from its own expression")
            if all(isinstance(t, ast.Name) for t in stmt.targets):
                value = self.expr(value_node)
                for target in stmt.targets:
                    self._bind(target.id, value)
                return
            if len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Tuple):
                target = stmt.targets[0]
                if len(target.elts) != len(value_node.elts):
                    raise self.error(stmt, "the number of names and values differ")
                values = [self.expr(e) for e in value_node.elts]
                for name_node, value in zip(target.elts, values):
                    if not isinstance(name_node, ast.Name):
                        raise self.error(name_node, "only names can be assigned to here")
                    self._bind(name_node.id, value)
                return
            raise self.error(stmt.targets[0], "assignment to this kind of target is not "
                                              "supported yet", hint="assign to a plain name")
        if isinstance(stmt, ast.AugAssign):
            if not isinstance(stmt.target, ast.Name):
                raise self.error(stmt.target, "augmented assignment to this kind of target "
                                              "is not supported yet",
                                 hint="assign to a plain name")
            prim = self._binop_prim(stmt.op, stmt)
            current = self.name(stmt.target.id, stmt.target)
            self._bind(stmt.target.id, self._binop(prim, current, self.expr(stmt.value), stmt))
            return
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None and isinstance(stmt.target, ast.Name):
                self._bind(stmt.target.id, self.expr(stmt.value))
                return
            if stmt.value is None:
                return
            raise self.error(stmt.target, "annotated assignment to this target is not supported")
        if isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Call):
                result = self.expr(stmt.value)
                if isinstance(result, Value):
                    self.builder.producers[result.uid].attrs["effect"] = True
            elif not isinstance(stmt.value, ast.Constant):
                self.expr(stmt.value)  # reject what cannot be lowered; no effect otherwise
            return
        if isinstance(stmt, ast.Pass):
            return
        if isinstance(stmt, (ast.Break, ast.Continue)):
            raise self.error(stmt, f"'{type(stmt).__name__.lower()}' outside a loop")
        for kind, (what, hint) in _UNSUPPORTED_STATEMENTS.items():
            if isinstance(stmt, kind):
                raise self.error(stmt, what, hint)
        raise self.error(stmt, f"{type(stmt).__name__} statements are not supported")

    def _bind(self, name: str, value: Operand) -> None:
        if isinstance(value, Value) and value.name is None:
            value.name = name
        self.env[name] = value

    # ---------------------------------------------------------- expressions
    def expr(self, node: ast.expr) -> Operand:
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float, bool, str, type(None))):
                return Const(node.value)
            raise self.error(node, f"constants of type {type(node.value).__name__} are "
                                   "not supported")
        if isinstance(node, ast.Name):
            return self.name(node.id, node)
        if isinstance(node, ast.BinOp):
            prim = self._binop_prim(node.op, node)
            left, right = self.expr(node.left), self.expr(node.right)
            self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
            return self._binop(prim, left, right, node)
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.USub):
                if isinstance(operand, Const) and isinstance(operand.value, (int, float)):
                    return Const(-operand.value)
                self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
                return self.builder.emit("neg", [operand]).result
            raise self.error(node, f"the operator '{_op_text(node.op)}' is not supported yet")
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise self.error(node, "chained comparisons are not supported yet",
                                 hint="split them with 'and'")
            prim = _COMPARES.get(type(node.ops[0]))
            if prim is None:
                raise self.error(node, f"the comparison '{_op_text(node.ops[0])}' is not supported")
            args = [self.expr(node.left), self.expr(node.comparators[0])]
            return self.builder.emit(prim, args).result
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Attribute):
            return self._static_value(node)
        if isinstance(node, ast.Tuple):
            raise self.error(node, "tuples are supported only in 'return' and in "
                                   "assignments of several names for now")
        for kind, (what, hint) in _UNSUPPORTED_EXPRESSIONS.items():
            if isinstance(node, kind):
                raise self.error(node, what, hint)
        raise self.error(node, f"{type(node).__name__} expressions are not supported yet")

    def _binop_prim(self, op: ast.operator, node: ast.AST) -> str:
        prim = _BINOPS.get(type(op))
        if prim is None or prim == "matmul":
            raise self.error(node, f"the operator '{_op_text(op)}' is not supported yet")
        return prim

    def _binop(self, prim: str, left: Operand, right: Operand, node: ast.AST) -> Operand:
        if isinstance(left, Const) and isinstance(right, Const):
            try:
                return Const(_PY_BINOPS[prim](left.value, right.value))
            except (ArithmeticError, TypeError, ValueError):
                pass
        return self.builder.emit(prim, [left, right]).result

    def name(self, name: str, node: ast.AST) -> Operand:
        if name in self.env:
            return self.env[name]
        resolved = self.src.resolve(name)
        if resolved is None:
            raise self.error(node, f"the name '{name}' is not defined",
                             hint="assign it before use, or define it at module level")
        if _is_constant_object(resolved.obj):
            return FreeName(name, resolved.kind)
        raise self.error(node, f"'{name}' is a {type(resolved.obj).__name__}, not a number "
                               "or an array, and cannot be used as a value here",
                         hint="call it, or pass the value it holds as an argument")

    def _static_value(self, node: ast.Attribute) -> Operand:
        """`module.CONSTANT` (math.pi, np.e): read when the code runs."""
        spelling, root_kind, obj = self._resolve_path(node)
        if _is_constant_object(obj):
            return FreeName(spelling, root_kind)
        raise self.error(node, f"'{spelling}' is not a number and cannot be used as a value",
                         hint="call it, or pass the value it holds as an argument")

    def _resolve_path(self, node: ast.expr) -> tuple[str, str, Any]:
        """Resolve `a.b.c` whose root is a global, closure or builtin name."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            raise self.error(node, "only names and module attributes can be called here",
                             hint="assign the callable to a module-level name")
        if node.id in self.env:
            raise self.error(node, "attributes and methods of values are not supported yet",
                             hint="use the NumPy or math function instead of the method")
        resolved = self.src.resolve(node.id)
        if resolved is None:
            raise self.error(node, f"the name '{node.id}' is not defined")
        obj = resolved.obj
        for attr in reversed(parts):
            if not hasattr(obj, attr):
                raise self.error(node, f"'{node.id}' has no attribute '{attr}'")
            obj = getattr(obj, attr)
        spelling = ".".join([node.id, *reversed(parts)])
        return spelling, resolved.kind, obj

    def _call(self, node: ast.Call) -> Operand:
        spelling, root_kind, fn = self._resolve_path(node.func)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(arg, "starred arguments are not supported",
                                 hint="pass the arguments one by one")
        args = [self.expr(a) for a in node.args]
        if any(k.arg is None for k in node.keywords):
            raise self.error(node, "'**' arguments are not supported",
                             hint="pass keyword arguments by name")
        kwargs = {k.arg: self.expr(k.value) for k in node.keywords}
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        attrs = {"fn": fn, "callee": spelling, "callee_kind": root_kind}
        hit = lookup_callable(fn)
        if hit is not None:
            prim, family = hit
            attrs["family"] = family
            if prim == "log" and len(args) == 2 and not kwargs:  # math.log(x, base)
                top = self.builder.emit("log", args[:1], attrs=dict(attrs)).result
                bottom = self.builder.emit("log", args[1:], attrs=dict(attrs)).result
                return self.builder.emit("truediv", [top, bottom]).result
            if len(args) == PRIMITIVES[prim].arity and not kwargs:
                return self.builder.emit(prim, args, attrs=attrs).result
            if not PRIMITIVES[prim].nondiff:
                raise self.error(node, f"'{spelling}' is supported with "
                                       f"{PRIMITIVES[prim].arity} positional argument(s) only",
                                 hint="drop the extra arguments")
        elif isinstance(fn, types.FunctionType):
            raise self.error(node, f"calls to the Python function '{spelling}' are not "
                                   "differentiated yet",
                             hint=f"inline the body of {spelling} into this function")
        if (hit is not None and PRIMITIVES[hit[0]].nondiff) or id(fn) in NONDIFF_BUILTINS:
            attrs["nondiff"] = True
        attrs["kwnames"] = tuple(kwargs)
        return self.builder.emit("call", [*args, *kwargs.values()], attrs=attrs).result


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _is_constant_object(obj: Any) -> bool:
    """Data (numbers, arrays, containers of them) rather than code or modules."""
    if isinstance(obj, (types.ModuleType, type)) or callable(obj):
        return False
    return True


def _op_text(op: ast.AST) -> str:
    symbols = {ast.Not: "not", ast.Invert: "~", ast.BitAnd: "&", ast.BitOr: "|",
               ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@",
               ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
    return symbols.get(type(op), type(op).__name__)

