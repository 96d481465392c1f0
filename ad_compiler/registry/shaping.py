"""Shape changes: transpose, reshape, stacking, tiling, broadcasting, np.where.

All are linear in their array operands: the tangent is the primitive applied to the
tangents, the adjoint (the transpose) puts each element back where it came from.
"""
from __future__ import annotations

import numpy as np

from .. import batched, batched_adjoints, batched_shaping, runtime, runtime_arrays, runtime_shapes
from ..ir import Const, Op, Operand
from .core import array, helper
from .emit import Emit, batched_call, batched_operand, param


def _transpose_vjp(e: Emit, op: Op, g: Operand) -> list[Operand]:
    axes = param(op, "axes")
    if isinstance(axes, Const) and axes.value is None:
        return [e.transpose(g)]
    if isinstance(axes, Const):
        return [e.transpose(g, axes=tuple(int(k) for k in np.argsort(axes.value)))]
    return [e.transpose(g, axes=e.call(np.argsort, axes))]


def _shape_back(e: Emit, op: Op, g: Operand) -> list[Operand]:
    return [e.reshape(g, e.shape(op.args[0]))]


def _batched_ravel(e: Emit, given: dict, variadic: list) -> Operand:
    return batched_call(e, batched.batched_reshape, [batched_operand("ravel", given, "a"),
                                                     Const(-1)])


array("transpose", np.transpose, "a*, axes=None", methods=("transpose",), linear=True, view=True, vjp=_transpose_vjp,
      batched=(batched.batched_transpose, ("a", "axes")))
array("reshape", np.reshape, "a*, shape", methods=("reshape",), linear=True, view=True, vjp=_shape_back,
      batched=(batched.batched_reshape, ("a", "shape")))
array("ravel", np.ravel, "a*", methods=("ravel", "flatten"), linear=True, view=True, vjp=_shape_back, batched=_batched_ravel)
array("squeeze", np.squeeze, "a*, axis=None", methods=("squeeze",), linear=True, view=True, vjp=_shape_back,
      batched=(batched.batched_squeeze, ("a", "axis")))
# x.item(): the number in a one-element array; its adjoint is put back in x's shape
array("item", runtime_arrays.item, "a*", methods=("item",), linear=True, vjp=_shape_back,
      batched=(batched_shaping.batched_item, ("a",)))
# the adjoint (shaped like the result) summed over the new axes of length one, as that
# of x[:, None] is (rules.new_axes): a sum the next one over the same axes absorbs
array("expand_dims", np.expand_dims, "a*, axis", linear=True, view=True,
      vjp=lambda e, op, g: [e.sum(g, axis=param(op, "axis"))],
      batched=(batched.batched_expand_dims, ("a", "axis")))
array("swapaxes", np.swapaxes, "a*, axis1, axis2", methods=("swapaxes",), linear=True, view=True,
      vjp=lambda e, op, g: [e.swapaxes(g, param(op, "axis1"), param(op, "axis2"))],
      batched=(batched.batched_swapaxes, ("a", "axis1", "axis2")))
array("broadcast_to", np.broadcast_to, "array*, shape", linear=True, view=True,
      vjp=lambda e, op, g: [e.helper("unbroadcast", g, op.args[0])],
      batched=(batched.batched_broadcast_to, ("array", "shape")))
array("concatenate", np.concatenate, "arrays*, axis=0", linear=True,
      vjp=lambda e, op, g: [e.helper("split_like", g, op.args[0], param(op, "axis"))],
      batched=(batched.batched_concatenate, ("arrays", "axis")))
array("stack_arrays", np.stack, "arrays*, axis=0", linear=True,
      vjp=lambda e, op, g: [e.helper("unstack", g, param(op, "axis"))],
      batched=(batched.batched_stack, ("arrays", "axis")))
array("hstack", np.hstack, "tup*", linear=True,
      vjp=lambda e, op, g: [e.helper("hstack_adjoint", g, op.args[0])],
      batched=(batched.batched_hstack, ("tup",)))
array("index_join", runtime_shapes.index_trick, "trick, items*", linear=True, subscript=True,
      vjp=lambda e, op, g: [None, e.helper("index_join_adjoint", g, op.args[0], op.args[1])],
      batched=(batched.batched_index_join, ("trick", "items")))
array("vstack", np.vstack, "tup*", linear=True,
      vjp=lambda e, op, g: [e.helper("vstack_adjoint", g, op.args[0])],
      batched=(batched.batched_vstack, ("tup",)))
array("tile", np.tile, "A*, reps", linear=True,
      vjp=lambda e, op, g: [e.helper("tile_adjoint", g, op.args[0], param(op, "reps"))],
      batched=(batched_shaping.batched_tile, ("A", "reps")))
array("repeat", np.repeat, "a*, repeats, axis=None", methods=("repeat",), linear=True,
      vjp=lambda e, op, g: [e.helper("repeat_adjoint", g, op.args[0], param(op, "repeats"),
                                     param(op, "axis"))],
      batched=(batched_shaping.batched_repeat, ("a", "repeats", "axis")))
array("where", np.where, "condition, x*, y*", linear=True, elementwise=True,
      vjp=lambda e, op, g: [None, e.where(op.args[0], g, Const(0.0)),
                            e.where(op.args[0], Const(0.0), g)],
      batched=(batched.batched_where, ("condition", "x", "y")))
# lowered to np.maximum and np.minimum where it is differentiated (lowering/arrays.py)
# lowered to nested np.where (lowering/arrays.py), whose rules it takes
array("select", np.select, "condlist, choicelist*, default*=0", elementwise=True)
array("clip", np.clip, "a*, a_min=None, a_max=None", methods=("clip",), elementwise=True)

helper("unbroadcast", runtime.unbroadcast, (0,),
       lambda e, g, a: [e.helper("broadcast_like", g, a[0])],
       batched=batched.batched_unbroadcast, shaped_like=1, specializable=True)
helper("broadcast_like", runtime.broadcast_like, (0,),
       lambda e, g, a: [e.helper("unbroadcast", g, a[0])],
       batched=batched.batched_broadcast_like, shaped_like=1, specializable=True)
# the adjoints of joins cut the cotangent into pieces; their transposes join the pieces
# (each cuts a batched adjoint at once, in vector mode and batched reverse mode alike)
helper("split_like", runtime_arrays.split_like, (0,), lambda e, g, a: [
    e.array("concatenate", e.helper("dense", g, a[1]), *a[2:]), None, None],
    container_result=True, batched=batched_adjoints.batched_split_like)
helper("unstack", runtime_arrays.unstack, (0,), lambda e, g, a: [
    e.helper("unstack_t", g, *a), None], container_result=True,
    batched=batched_adjoints.batched_unstack)
helper("unstack_t", runtime_arrays.unstack_t, (0,))
helper("hstack_adjoint", runtime_arrays.hstack_adjoint, (0,), lambda e, g, a: [
    e.array("hstack", e.helper("dense", g, a[1])), None], container_result=True,
    batched=batched_adjoints.batched_hstack_adjoint)
helper("index_join_adjoint", runtime_shapes.index_join_adjoint, (0,), lambda e, g, a: [
    e.array("index_join", a[1], e.helper("dense", g, a[2])), None, None],
    container_result=True, batched=batched_adjoints.batched_index_join_adjoint)
helper("vstack_adjoint", runtime_arrays.vstack_adjoint, (0,), lambda e, g, a: [
    e.array("vstack", e.helper("dense", g, a[1])), None], container_result=True,
    batched=batched_adjoints.batched_vstack_adjoint)
helper("tile_adjoint", runtime_arrays.tile_adjoint, (0,), lambda e, g, a: [
    e.array("tile", g, a[2]), None, None], batched=batched_shaping.batched_tile_adjoint)
helper("repeat_adjoint", runtime_arrays.repeat_adjoint, (0,),
       batched=batched_shaping.batched_repeat_adjoint)
