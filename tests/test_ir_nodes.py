"""Control flow in the IR is typed: `IfOp`, `ForOp`, `WhileOp` name their parts, and
what lowering builds from each Python construct has the parts the construct has."""
from __future__ import annotations

import pytest
from support import central

import ad_compiler as adc
from ad_compiler.ir import Block, Const, ForOp, IfOp, LoopOp, Op, Value, WhileOp, walk_ops
from ad_compiler.lowering.core import lower


def branch(x, y):
    if x > 0.0:
        z = x * y
    else:
        z = y - x
    return z


def short_circuit(x, y):
    both = x > 0.0 and y > 0.0
    either = x > 1.0 or y > 1.0
    z = x * y if both else x + y
    return z * 2.0 if either else z


def summed(xs, a):
    s = 0.0
    p = 1.0
    for x in xs:
        s = s + a * x
        p = p * x
    return s


def halving(x):
    steps = 0
    while x > 1.0:
        x = x * 0.5
        steps = steps + 1
    return x


def early_exit(x, n):
    y = x
    for _ in range(n):
        if y > 10.0:
            break
        y = y * x
    return y


def _ops(f) -> list[Op]:
    return list(walk_ops(lower(f).body))


def test_if_statement_has_its_parts():
    (op,) = [o for o in _ops(branch) if isinstance(o, IfOp)]
    assert op.prim == "if" and op.kind == "statement" and not op.is_expression
    assert op.blocks == [op.then_block, op.else_block]
    assert op.cond is op.args[0]
    assert [o.prim for o in op.then_block.ops] == ["mul"]
    assert [o.prim for o in op.else_block.ops] == ["sub"]
    assert [r.name for r in op.results] == ["z"]


def test_boolean_operators_and_conditional_expressions_are_ifs_of_their_kind():
    kinds = sorted(o.kind for o in _ops(short_circuit) if isinstance(o, IfOp))
    assert kinds == ["and", "ifexp", "ifexp", "or"]
    for op in (o for o in _ops(short_circuit) if isinstance(o, IfOp)):
        assert op.is_expression and len(op.results) == 1


def test_kind_is_stored_as_the_attributes_codegen_reads():
    op = IfOp([Const(True)], [Value()], {}, [Block(yields=[Const(1)]), Block(yields=[Const(2)])])
    op.kind = "or"
    assert op.attrs == {"boolop": "or"} and op.kind == "or"
    op.kind = "ifexp"
    assert op.attrs == {"ifexp": True} and op.kind == "ifexp"
    op.kind = "statement"
    assert op.attrs == {} and op.kind == "statement"
    with pytest.raises(ValueError, match="unknown kind"):
        op.kind = "xor"


def test_for_loop_has_its_parts():
    (op,) = [o for o in _ops(summed) if isinstance(o, ForOp)]
    assert isinstance(op, LoopOp) and op.prim == "for"
    assert op.args == [op.iterable, *op.inits]
    assert op.body is op.blocks[0]
    assert op.body.params == [op.item, *op.carried_params]
    assert [p.name for p in op.carried_params] == ["s", "p"]
    assert [c.value for c in op.inits] == [0.0, 1.0]
    assert len(op.body.yields) == len(op.carried_params) == len(op.results)
    assert op.carrier_params == [op.carried_params]


def test_while_loop_has_its_parts():
    (op,) = [o for o in _ops(halving) if isinstance(o, WhileOp)]
    assert op.prim == "while" and op.blocks == [op.cond_block, op.body]
    assert op.args == op.inits
    assert [p.name for p in op.cond_block.params] == [p.name for p in op.carried_params]
    assert op.carried_params == op.body.params
    assert op.carrier_params == [op.cond_block.params, op.body.params]
    assert len(op.cond_block.yields) == 1


def test_break_adds_a_carried_flag_after_the_users_variables():
    (op,) = [o for o in _ops(early_exit) if isinstance(o, ForOp)]
    names = [p.name for p in op.carried_params]
    assert names[0] == "y" and len(names) == 2
    assert op.inits[1] == Const(False)  # not broken out of before the first iteration


def test_rebuilt_keeps_the_class_and_copies_what_it_does_not_replace():
    (op,) = [o for o in _ops(summed) if isinstance(o, ForOp)]
    copy = op.rebuilt(results=[Value() for _ in op.results])
    assert type(copy) is ForOp and copy.prim == "for"
    assert copy.args == op.args and copy.args is not op.args
    assert copy.blocks == op.blocks and copy.attrs is not op.attrs
    assert copy.results != op.results and copy.loc == op.loc


def test_keep_carried_drops_a_carried_value_from_every_part():
    (op,) = [o for o in _ops(halving) if isinstance(o, WhileOp)]
    x_param, x_init, x_result = op.carried_params[0], op.inits[0], op.results[0]
    op.keep_carried([0])
    assert op.carried_params == [x_param] and op.inits == [x_init]
    assert op.results == [x_result] and len(op.body.yields) == 1
    assert len(op.cond_block.params) == 1 and op.cond_block.params[0].name == "x"
    (loop,) = [o for o in _ops(summed) if isinstance(o, ForOp)]
    item, p_param = loop.item, loop.carried_params[1]
    loop.keep_carried([1])
    assert loop.body.params == [item, p_param] and loop.iterable is loop.args[0]
    assert [c.value for c in loop.inits] == [1.0]


@pytest.mark.parametrize("x, y", [(0.7, 1.3), (-0.4, 0.9), (1.5, 2.5), (-2.0, -3.0)])
def test_derivatives_through_each_kind_of_if(x, y):
    for mode in ("reverse", "forward"):
        got = adc.grad(short_circuit, wrt=(0, 1), mode=mode)(x, y)
        want = (central(short_circuit, [x, y], 0), central(short_circuit, [x, y], 1))
        assert got == pytest.approx(want, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("x, n", [(1.3, 5), (2.5, 6), (0.5, 3)])
def test_derivatives_through_a_loop_with_break(x, n):
    reverse = adc.grad(early_exit)(x, n)
    forward = adc.grad(early_exit, mode="forward")(x, n)
    assert reverse == pytest.approx(forward, rel=1e-12)
    assert reverse == pytest.approx(central(early_exit, [x, n], 0), rel=1e-7)
    power = 1  # y = x ** power when the loop stops: d/dx = power * x ** (power - 1)
    while power <= n and x ** power <= 10.0:
        power += 1
    assert reverse == pytest.approx(power * x ** (power - 1), rel=1e-12)
