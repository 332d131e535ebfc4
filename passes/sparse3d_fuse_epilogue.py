"""``sparse3d-fuse-epilogue``: fold a residual add and a ReLU after a KGS conv into the conv.

Input (torch-mlir's import of ``relu(conv(x) + bias + residual)``, after
``sparse3d-from-linalg``)::

  %bias = linalg.broadcast ins(%b : tensor<64xf32>) outs(%e : tensor<1x64x8x16x16xf32>) dimensions = [0, 2, 3, 4]
  %y = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %bias) {...}
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", ...]}
           ins(%y, %residual : ...) outs(%e : ...) { ^bb0(%a: f32, %r: f32, %o: f32):
             %s = arith.addf %a, %r : f32
             linalg.yield %s : f32 }
  %out = linalg.generic {indexing_maps = [#id, #id], ...} ins(%sum : ...) outs(%e : ...) {
           ^bb0(%in: f32, %o: f32):
             %c = arith.cmpf ugt, %in, %zero : f32
             %r = arith.select %c, %in, %zero : f32
             linalg.yield %r : f32 }

Output: the residual joins the init (``init' = bias + residual``, an elementwise
``linalg.generic`` the CPU kernel reads as its two operands, never materialised)
and the ReLU becomes the op's ``activation = "relu"``; both generics are gone::

  %init = linalg.generic {...} ins(%bias, %residual : ...) outs(%e : ...) { addf }
  %out = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {..., activation = "relu"}

A residual is fused only when the add is the conv result's sole use, in the
conv's block (the conv moves down to the add, after the residual, which its init
now reads); a ReLU only when it is the conv result's sole use. Everything else
is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from rt3d_mlir.codegen.elementwise import added_operand, is_relu
from rt3d_mlir.dialect.geometry import find_kgs_convs
from rt3d_mlir.dialect.sparse3d import ACTIVATION
from rt3d_mlir.passes.base import ModulePass


def _sole_user(value: ir.Value) -> ir.Operation | None:
    uses = list(value.uses)
    return uses[0].owner.operation if len(uses) == 1 else None


def _fuse_residual(conv: ir.Operation) -> bool:
    add = _sole_user(conv.results[0])
    if add is None:
        return False
    residual = added_operand(add, conv.results[0])
    if residual is None or add.block != conv.block:
        return False
    # The conv's operands come before it and its one user is the add: moving it down to the add
    # keeps every use dominated and puts it after the residual, which its init now reads.
    conv.move_before(add)
    init = conv.operands[4]
    init_type = ir.RankedTensorType(init.type)
    with conv.context, conv.location:
        insertion = ir.InsertionPoint(conv)
        empty = tensor.EmptyOp(init_type.shape, init_type.element_type, ip=insertion).result
        identity = ir.AffineMap.get_identity(init_type.rank)
        new_init = linalg.GenericOp(
            [init_type], [init, residual], [empty],
            ir.ArrayAttr.get([ir.AffineMapAttr.get(identity)] * 3),
            ir.ArrayAttr.get([ir.Attribute.parse("#linalg.iterator_type<parallel>")] * init_type.rank),
            ip=insertion,
        )
        element = init_type.element_type
        body = new_init.regions[0].blocks.append(element, element, element)
        with ir.InsertionPoint(body):
            linalg.YieldOp([arith.addf(body.arguments[0], body.arguments[1])])
    conv.operands[4] = new_init.result
    add.results[0].replace_all_uses_with(conv.results[0])
    add.erase()
    return True


def _fuse_relu(conv: ir.Operation) -> bool:
    relu = _sole_user(conv.results[0])
    if relu is None or not is_relu(relu):
        return False
    with conv.context:
        conv.attributes[ACTIVATION] = ir.StringAttr.get("relu")
    relu.results[0].replace_all_uses_with(conv.results[0])
    relu.erase()
    return True


@dataclass(frozen=True)
class Sparse3DFuseEpilogue(ModulePass):
    name = "sparse3d-fuse-epilogue"
    summary = "Fold a following residual add into a sparse3d.kgs_conv3d's init and a following ReLU into its activation"

    def apply(self, module: ir.Operation) -> None:
        for conv in find_kgs_convs(module):
            if ACTIVATION in conv.attributes:
                continue  # an add after an activation does not commute with it
            _fuse_residual(conv)
            _fuse_relu(conv)
