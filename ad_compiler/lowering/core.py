"""Lowering: a function's AST to the SSA evaluation trace.

Every operator and call becomes one op; every assignment binds a name to a value,
so reassigning a variable makes a new value (``y``, later ``y_1``).  Names that are
not local are resolved to objects by identity: a call's callee selects the
primitive, a global or closure *value* becomes a `FreeName` read at call time."""
from __future__ import annotations

import ast
import inspect
import types
from typing import Any

from .. import depth
from ..builder import Builder
from ..errors import ADCompileError
from ..frontend import FunctionSource, load
from ..ir import Block, Const, Function, IfOp, Operand, SourceLoc, Value
from ..primitives import OPERATOR_FUNCTIONS
from ..registry.emit import array_op
from . import inplace, recursion
from .arrays import Arrays
from .calls import Calls
from .comprehensions import COMPREHENSIONS, Comprehensions, _Lowered
from .containers import Containers
from .control import ControlFlow
from .dicts import Dicts
from .keyed import KeyedChoices
from .list_methods import ListMethods
from .loop_writes import LoopWrites
from .records import Records
from .statements import Statements, contain_text
from .values import (
    _BINOPS,
    _COMPARES,
    _COMPOUND,
    _UNSUPPORTED_EXPRESSIONS,
    _UNSUPPORTED_STATEMENTS,
    _Branch,
    _is_constant_object,
    _is_docstring,
    _Loop,
    _op_text,
    _Returned,
    _StaticDict,
    _StaticSeq,
    _TupleValue,
)
from .views import Views
from .writes import Writes

_OPERATOR_HINT = ("for boolean arrays use np.logical_and, np.logical_or, np.logical_xor or "
                  "np.logical_not (and, or, not for single conditions); do bit operations "
                  "on integers outside the function you differentiate")


def has_packed_signature(func: Any) -> bool:
    """Whether `func` has ``*args``, keyword-only parameters or ``**kwargs``: its
    derivative code takes every parameter by position (``*args`` as one tuple,
    ``**kwargs`` as one dict), and the public functions bind a call to them."""
    code = getattr(func, "__code__", None)
    return code is not None and bool(code.co_kwonlyargcount or code.co_flags & (
        inspect.CO_VARARGS | inspect.CO_VARKEYWORDS))


def lower(func: Any) -> Function:
    """The SSA evaluation trace of a Python function."""
    if getattr(func, "_adc_wrapper", False):
        raise ADCompileError(
            f"{func.__name__} runs the generated JVP once per direction, so it is not one "
            "function that can be differentiated again",
            hint="differentiate the reverse-mode gradient instead: adc.hessian(f), or "
                 "adc.jvp(adc.grad(f), ...)")
    ir = getattr(func, "_adc_function", None)
    if isinstance(ir, Function):
        return ir
    src = load(func)
    with depth.collector_paused(), depth.room(depth.statement_nesting(src.node)):
        return _Lowerer(src).run()  # (a chain of a thousand elifs nests deeply)


class _Lowerer(ControlFlow, Calls, Containers, Arrays, Comprehensions, KeyedChoices, Dicts,
               Records, Statements, Writes, ListMethods, LoopWrites, Views):
    def __init__(self, src: FunctionSource) -> None:
        self.src = src
        self.block = Block()
        self.builder = Builder(self.block)
        self.env: dict[str, Operand] = {}
        self.statements: dict[int, str] = {}
        self.stmt: ast.AST | None = None
        self.loops: list[_Loop] = []  # loops being lowered, innermost last
        self.branch_only: dict[str, ast.AST] = {}  # names bound on some paths only
        self.root = self  # the lowerer of the function being differentiated
        # the activation this lowers (a function inlined may be recursive), and the
        # recursive calls unrolled into the function being differentiated (see recursion.py)
        self.frame = recursion.Frame(src.func.__code__, src.name, {})
        self.unrolled: list[tuple[Any, ast.Call, str]] = []
        self.extra_cells: dict[str, types.CellType] = {}  # closure cells of inlined functions
        # (function or None for this one, spelling, object): what the compiled code assumes
        self.resolutions: list[tuple[Any, str, Any]] = []
        self.none_returns: list[ast.AST] = []  # where a path ends without a value
        self.raises_always = False
        self.caller: tuple[_Lowerer, ast.Call] | None = None  # for an inlined function
        self.frame_node: ast.AST = src.node  # the def or lambda whose body this lowers
        self.updates: list[inplace.Update] = []  # augmented assignments of possible arrays
        self.free_numbers: set[str] = set()  # globals and closure variables holding numbers
        self._liveness: dict[int, inplace.Liveness] = {}
        self.local_imports: dict[str, Any] = {}  # names imported inside the function
        self.statement_block = self.block  # the block the current statement is lowered in
        self.enclosed = 0  # with and try statements being lowered (a raise does not end a path)
        self.handling = 0  # except clauses being lowered (where a bare 'raise' re-raises)
        # what writes into arrays follow: views by basic indexing (value -> (base, index))
        # and values known to be Python integers (loop counters), which index basically
        self.view_of: dict[int, tuple[Value, list[Operand]]] = {}
        self.maybe_views: set[int] = set()  # slices of a value that may be a list (a copy)
        # a list or dict display made one runtime value (to pass it to an inlined
        # function, say): value -> the display, which a change of the value rebinds
        self.materialized_from: dict[int, Any] = {}
        self.loop_entry: dict[int, Any] = {}  # a loop's param -> what the loop starts from
        self.integral: set[int] = set()
        self.arrays: set[int] = set()  # loop-carried values known to stay arrays
        # dtype kinds of loop-carried arrays: known ('f' of a loop's results whose every
        # iteration keeps a float array), or assumed while the body is lowered (a param
        # whose initial value is a float array -> the writes that relied on it, and the
        # params assumed from it), checked against the body's yields after it
        self.dtype_kinds: dict[int, str] = {}
        self.assumed_float: dict[int, tuple[list, list]] = {}
        self.float_owner: dict[int, int] = {}  # checked under the assumption of an outer loop
        # value -> (block, what iterating it visits), for the loops of one block
        self.visited_items: dict[int, tuple[Block, Value]] = {}
        self.synthesized: list[list[ast.stmt]] = []  # statements lowering made (dicts.py)

    def error(self, node: ast.AST, what: str, hint: str = "") -> Exception:
        return self.src.error(node, what, hint)

    def liveness_of(self, node: ast.AST) -> inplace.Liveness:
        """The liveness analysis of a function's source, made once."""
        if id(node) not in self._liveness:
            self._liveness[id(node)] = inplace.Liveness(node)
        return self._liveness[id(node)]

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
        recursion.check_nesting(self, self.block)
        fn = Function(self.src.name, params, self.block, returns_tuple,
                      self.statements, self.src.filename,
                      defaults=() if has_packed_signature(self.src.func) else
                      tuple(self.src.func.__defaults__ or ()), source=self.src,
                      extra_cells=dict(self.extra_cells), resolutions=list(self.resolutions),
                      none_returns=[(n.lineno, n.col_offset) for n in self.none_returns],
                      raises_always=self.raises_always)
        contain_text(fn)
        fn.updates_inputs = inplace.check_updates(fn, self.updates, self.free_numbers)
        inplace.drop_number_checks(fn, self.free_numbers)
        return fn

    def _params(self, args: ast.arguments) -> list[Value]:
        """The parameters in the order of the signature: ``*args`` is one parameter (a
        tuple), keyword-only ones follow it, ``**kwargs`` (a dict) comes last."""
        wrapped = getattr(self.src.func, "__wrapped__", None)
        if (args.vararg or args.kwarg) and callable(wrapped):  # a decorator's wrapper
            raise self.error(args.vararg or args.kwarg, "the *args and **kwargs parameters "
                                                        "of a decorator's wrapper are not "
                                                        "supported",
                             hint=f"this is the wrapper a decorator made around "
                                  f"{getattr(wrapped, '__name__', 'a function')}: "
                                  f"differentiate the function it wraps, "
                                  f"adc.grad({self.src.func.__name__}.__wrapped__)")
        params = []
        for arg in [*args.posonlyargs, *args.args, *([args.vararg] if args.vararg else []),
                    *args.kwonlyargs, *([args.kwarg] if args.kwarg else [])]:
            value = Value(arg.arg)
            self.env[arg.arg] = value
            params.append(value)
        self.param_uids = {p.uid for p in params}
        return params

    def _body(self, body: list[ast.stmt]) -> tuple[list[Operand], bool]:
        stmts = body[1:] if body and _is_docstring(body[0]) else body
        returned = self._stmts(stmts)
        if returned is not None and returned.raises:  # every path raises
            self.raises_always = True
            return [Const(None)], False
        if returned is None:
            self.root.none_returns.append(stmts[-1] if stmts else self.src.node)
            return [Const(None)], False
        return returned.outputs, returned.is_tuple

    def _stmts(self, stmts: list[ast.stmt]) -> _Returned | None:
        """Lower statements into the current block; what they return on every path, if any."""
        for index, stmt in enumerate(stmts):
            self._begin(stmt)
            if isinstance(stmt, (ast.Break, ast.Continue)):
                if not self.loops:
                    raise self.error(stmt, f"'{type(stmt).__name__.lower()}' outside a loop")
                return _Returned(self._loop_outcome(Const(isinstance(stmt, ast.Break))),
                                 False, stmt)
            if isinstance(stmt, ast.Return):
                if stmt.value is None or (isinstance(stmt.value, ast.Constant)
                                          and stmt.value.value is None):
                    self.root.none_returns.append(stmt)
                    return self._return_outcome([Const(None)], False, stmt)
                outputs, is_tuple = self._return_value(stmt.value)
                return self._return_outcome(outputs, is_tuple, stmt)
            if isinstance(stmt, ast.Raise):
                returned = self._raise(stmt)
                if returned is not None:
                    return returned
            elif isinstance(stmt, ast.Try):
                self._try(stmt)
            elif isinstance(stmt, ast.With):
                returned = self._with(stmt)
                if returned is not None:
                    return returned
            elif isinstance(stmt, ast.If):
                returned = self._if_statement(stmt, stmts[index + 1:])
                if returned is not None:
                    return returned
            elif isinstance(stmt, ast.While) and self._while_walrus(stmt) is not None:
                return self._stmts(self._while_walrus(stmt) + stmts[index + 1:])
            elif isinstance(stmt, (ast.For, ast.While)):
                exit_ = self._for(stmt) if isinstance(stmt, ast.For) else self._while(stmt)
                rest = self._loop_else(stmt) + stmts[index + 1:]
                if exit_ is not None:  # the loop may return: `if returned: return ...`
                    flag, values, is_tuple = exit_
                    then = _Branch(Block(), self.env,
                                   self._return_outcome(values, is_tuple, stmt))
                    orelse = self._branch(rest, must_return=True)
                    return self._merge_returns(stmt, flag, then, orelse)
                if stmt.orelse:  # the rest of the function follows the else clause
                    return self._stmts(rest)
            else:
                self._statement(stmt)
        return None

    def _begin(self, stmt: ast.AST) -> None:
        self.stmt = stmt
        self.statement_block = self.builder.block
        last = stmt.lineno if isinstance(stmt, _COMPOUND) else (stmt.end_lineno or stmt.lineno)
        lines = [self.src.line(n).strip() for n in range(stmt.lineno, last + 1)]
        self.statements[stmt.lineno] = " ".join(lines)

    def _return_value(self, value: ast.expr) -> tuple[list[Operand], bool]:
        self._check_not_kept(value)
        result = self._rvalue(value)
        if isinstance(result, _TupleValue) or (isinstance(result, _StaticSeq)
                                               and result.kind == "tuple"):
            items = self._unpack(result, len(result.items), value)
            return [self._materialize(v, value) for v in items], True
        return [self._materialize(result, value)], False

    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            self._check_not_kept(stmt.value)
            value = self._rvalue(stmt.value)
            for target in stmt.targets:
                self._assign(target, value)
            return
        if isinstance(stmt, ast.AugAssign):
            if isinstance(stmt.target, ast.Subscript):
                self._augassign_item(stmt)
                return
            if not isinstance(stmt.target, ast.Name):
                raise self.error(stmt.target, "augmented assignment to this kind of target "
                                              "is not supported yet",
                                 hint="give the value a name of its own, update it and "
                                      "return it")
            prim = self._binop_prim(stmt.op, stmt)
            if isinstance(self.env.get(stmt.target.id), (_StaticSeq, _StaticDict)):
                raise self.error(stmt, "changing a list, tuple or dict in place is not "
                                       "supported", hint="build a new one instead")
            current = self.name(stmt.target.id, stmt.target)
            if isinstance(current, Value) and current.uid in self.root.view_of:
                self._augassign_view(stmt, prim, current)  # row = A[i]; row *= 2
                return
            update = None
            if not isinstance(current, Const):  # a number is rebound; an array may change
                update = inplace.record(self, stmt, current)
            result = self._binop(prim, current, self.expr(stmt.value), stmt)
            inplace.check_result(self, stmt, current, result)
            if update is not None and isinstance(result, Value):
                update.result, update.result_op = result, self.builder.producers[result.uid]
            kept = inplace.kept_dtype(self, current, result)
            if update is not None and isinstance(kept, Value):
                self._update_sharers(update, current, kept)
            self._bind(stmt.target.id, kept)
            return
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None and isinstance(stmt.target, ast.Name):
                self._bind(stmt.target.id, self.expr(stmt.value))
                return
            if stmt.value is None:
                return
            raise self.error(stmt.target, "annotated assignment to this target is not supported",
                             hint="annotate a plain name, or drop the annotation")
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
        if isinstance(stmt, ast.Assert):
            self._assert(stmt)
            return
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self._import(stmt)
            return
        if isinstance(stmt, ast.Global):
            self._global(stmt)
            return
        if isinstance(stmt, ast.FunctionDef):
            if stmt.decorator_list:
                raise self.error(stmt.decorator_list[0], "decorated nested functions are not "
                                                         "supported", hint="call the function "
                                                         "the decorator would return instead")
            self.env[stmt.name] = self._local_function(stmt)
            return
        if isinstance(stmt, (ast.Break, ast.Continue)):
            raise self.error(stmt, f"'{type(stmt).__name__.lower()}' outside a loop")
        for kind, (what, hint) in _UNSUPPORTED_STATEMENTS.items():
            if isinstance(stmt, kind):
                raise self.error(stmt, what, hint)
        raise self.error(stmt, f"{type(stmt).__name__} statements are not supported",
                         hint="move it out of the function you differentiate")

    def _bind(self, name: str, value: Any) -> None:
        if isinstance(value, Value) and value.name is None:
            value.name = name
        self.env[name] = value

    def expr(self, node: ast.expr) -> Operand:
        if isinstance(node, _Lowered):
            return node.make(self)
        self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float, bool, str, type(None))):
                return Const(node.value)
            raise self.error(node, f"constants of type {type(node.value).__name__} are "
                                   "not supported",
                             hint="use real numbers; for complex arithmetic, pass the real "
                                  "and imaginary parts as two arguments")
        if isinstance(node, ast.Name):
            return self.name(node.id, node)
        if isinstance(node, ast.BinOp):
            return self._binop_chain(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.Not):
                if isinstance(operand, Const):
                    return Const(not operand.value)
                return self.builder.emit("not", [operand]).result
            if isinstance(node.op, ast.USub):
                if isinstance(operand, Const) and isinstance(operand.value, (int, float)):
                    return Const(-operand.value)
                self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
                return self.builder.emit("neg", [operand]).result
            raise self.error(node, f"the operator '{_op_text(node.op)}' is not supported yet",
                             hint=_OPERATOR_HINT)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            cond = self.expr(node.test)
            if isinstance(cond, Const):  # known when compiling: only the branch taken
                return self.expr(node.body if cond.value else node.orelse)
            then_block, then_value = self._expr_block(node.body)
            else_block, else_value = self._expr_block(node.orelse)
            then_block.yields, else_block.yields = [then_value], [else_value]
            value = self._emit_structured(IfOp, [cond], [then_block, else_block], [None], node,
                                          if_kind="ifexp")[0]
            return value
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node)
        if isinstance(node, ast.NamedExpr):
            return self._walrus(node)
        if isinstance(node, ast.Call):
            result = self._call(node)
            if isinstance(result, _TupleValue):
                raise self.error(node, "this call returns several values",
                                 hint="unpack them first: 'a, b = f(x)'")
            return self._materialize(result, node)
        if isinstance(node, ast.Attribute):
            if self._is_value_expression(node.value):
                return self._array_attribute(node)  # x.T, x.shape
            return self._static_value(node)
        if isinstance(node, (ast.Tuple, ast.List, ast.Subscript, ast.Dict)):
            return self._materialize(self._rvalue(node), node)
        if isinstance(node, COMPREHENSIONS):
            return self._comprehension(node)
        for kind, (what, hint) in _UNSUPPORTED_EXPRESSIONS.items():
            if isinstance(node, kind):
                raise self.error(node, what, hint)
        raise self.error(node, f"{type(node).__name__} expressions are not supported yet")

    def _expr_block(self, node: ast.expr) -> tuple[Block, Operand]:
        """Lower an expression into a block of its own (a branch evaluated lazily)."""
        saved = self.builder.block
        block = Block()
        self.builder.block = block
        try:
            return block, self.expr(node)
        finally:
            self.builder.block = saved

    def _boolop(self, node: ast.BoolOp) -> Operand:
        """``a and b`` is ``b if a else a``; ``a or b`` is ``a if a else b`` (short-circuit)."""
        value = self.expr(node.values[0])
        for operand in node.values[1:]:
            if isinstance(value, Const):  # known when compiling: short-circuit now
                if bool(value.value) == isinstance(node.op, ast.Or):
                    return value
                value = self.expr(operand)
                continue
            block, other = self._expr_block(operand)
            block.yields = [other]
            keep = Block(yields=[value])
            blocks = [block, keep] if isinstance(node.op, ast.And) else [keep, block]
            value = self._emit_structured(IfOp, [value], blocks, [None], node, if_kind="and"
                                          if isinstance(node.op, ast.And) else "or")[0]
        return value

    def _compare(self, node: ast.Compare) -> Operand:
        """``a < b < c`` is ``a < b and b < c`` with ``b`` evaluated once."""
        left = self.expr(node.left)
        result: Operand | None = None
        for op, comparator in zip(node.ops, node.comparators):
            prim = _COMPARES.get(type(op))
            if prim is None:
                raise self.error(node, f"the comparison '{_op_text(op)}' is not supported",
                                 hint="compare with ==, !=, <, <=, > or >=; test membership "
                                      "or identity (x in xs, x is None) before calling the "
                                      "differentiated function")
            if isinstance(result, Const) and not result.value:
                return result  # known false when compiling: the rest is not evaluated
            if result is None or isinstance(result, Const):
                right = self.expr(comparator)
                self.builder.loc = SourceLoc(node.lineno, node.col_offset, self.stmt.lineno)
                result = _folded(prim, left, right)
                if result is None:
                    result = self.builder.emit(prim, [left, right]).result
            else:
                saved = self.builder.block
                block = Block()
                self.builder.block = block
                right = self.expr(comparator)
                block.yields = [self.builder.emit(prim, [left, right]).result]
                self.builder.block = saved
                result = self._emit_structured(IfOp, [result], [block, Block(yields=[result])],
                                               [None], node, if_kind="and")[0]
            left = right
        return result

    def _binop_chain(self, node: ast.BinOp) -> Operand:
        """``a + b + c + ...``, a left-nested chain however long, lowered in a loop
        (recursing on each left operand would hit Python's recursion limit)."""
        chain = []
        while isinstance(node, ast.BinOp):
            chain.append(node)
            node = node.left
        value = self.expr(node)
        for binop in reversed(chain):
            prim = self._binop_prim(binop.op, binop)
            right = self.expr(binop.right)
            self.builder.loc = SourceLoc(binop.lineno, binop.col_offset, self.stmt.lineno)
            value = self._binop(prim, value, right, binop)
        return value

    def _binop_prim(self, op: ast.operator, node: ast.AST) -> str:
        prim = _BINOPS.get(type(op))
        if prim is None:
            raise self.error(node, f"the operator '{_op_text(op)}' is not supported yet",
                             hint=_OPERATOR_HINT)
        return prim

    def _binop(self, prim: str, left: Operand, right: Operand, node: ast.AST) -> Operand:
        if prim == "matmul":
            return array_op(self.builder, "matmul", {"x1": left, "x2": right})
        if prim == "mod" and isinstance(left, Const) and isinstance(left.value, str):
            return self._percent_format(left, right)  # "%.3f" % y
        if isinstance(left, Const) and isinstance(right, Const):
            try:
                return Const(OPERATOR_FUNCTIONS[prim](left.value, right.value))
            except (ArithmeticError, TypeError, ValueError):
                pass
        return self.builder.emit(prim, [left, right]).result

    def name(self, name: str, node: ast.AST) -> Operand:
        if name in self.env:
            return self._materialize(self.env[name], node)
        if name in self.local_imports:
            raise self.error(node, f"'{name}' is imported inside the function and can only "
                                   "be called (or its attributes read) here",
                             hint="import it at module level to use it as a value")
        resolved = self.src.resolve(name)
        if resolved is None and name in self.branch_only:
            where = self.branch_only[name].lineno
            raise self.error(node, f"'{name}' is assigned only on some paths through the "
                                   f"statement at line {where}",
                             hint=f"give '{name}' a value before that statement")
        if resolved is None:
            raise self.error(node, f"the name '{name}' is not defined",
                             hint="assign it before use, or define it at module level")
        if isinstance(resolved.obj, type):  # a class as a value: float, np.ndarray
            return self._class_operand(name, resolved.kind, resolved.obj, node)
        if _is_constant_object(resolved.obj):
            free = self._free_name(name, resolved.kind, node)
            if inplace.is_number(resolved.obj):
                self.root.free_numbers.add(free.name)
            return free
        raise self.error(node, f"'{name}' is a {type(resolved.obj).__name__}, not a number "
                               "or an array, and cannot be used as a value here",
                         hint="call it where its value is needed (to apply it to every item, "
                              "loop over the items and call it); test types before calling "
                              "the differentiated function")


def _folded(prim: str, left: Operand, right: Operand) -> Const | None:
    """A comparison of two numbers known when compiling (an unrolled recursion's
    ``n == 0``), or of two strings for equality (``mode == "exact"``), or None."""
    if not (isinstance(left, Const) and isinstance(right, Const)):
        return None
    kinds = (int, float, str) if prim in ("eq", "ne") else (int, float)
    a, b = left.value, right.value
    if not (isinstance(a, kinds) and isinstance(b, kinds)) or \
            isinstance(a, str) != isinstance(b, str):
        return None
    return Const(bool(OPERATOR_FUNCTIONS[prim](a, b)))
