"""``matmul-to-vector``: a linear layer's ``linalg.matmul`` as register-blocked vector code over the target's cores.

Input (a linear layer after import and ``fold-constant-transpose``)::

  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x4096xf32>) -> tensor<1x4096xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x8192xf32>, tensor<8192x4096xf32>)
                     outs(%acc : tensor<1x4096xf32>) -> tensor<1x4096xf32>

Output: ``%y = func.call @matmul_N(%x, %w, %zero)``, a private function whose blocks of
output columns are an ``scf.parallel`` (see :mod:`rt3d_mlir.codegen.matmul`); the fill, no
longer read, is erased. A constant ``%w`` is replaced by its values packed per block of
columns (each block's weights contiguous: C3D's fc6 ran 3x faster than reading them in place). Lowered as loops, C3D's fc6-fc8 ran on one core while the other
waited (~10% of a 2-thread call). Only the plain product (no transposed maps) of static
shapes and one float type is rewritten; integer and mixed-precision ones are left alone.
The vector width and the cores are the module's ``sparse3d.target`` ones, or the host's.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith

from rt3d_mlir.codegen.kernel_ir import erase_if_dead_fill, unused_symbol
from rt3d_mlir.codegen.kernel_init import producer
from rt3d_mlir.codegen.matmul import BLOCK_VECTORS, Matmul, emit_matmul, pack_column_blocks
from rt3d_mlir.constants import ResourceNames, constant_array, defining_op, weights_attribute
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.passes.base import ModulePass, target_or_host

PLAIN_MATMUL_MAPS = (
    "[affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>]"
)


def match_matmul(op: ir.Operation) -> Matmul | None:
    """The product a ``linalg.matmul`` computes, if it is the plain form on static tensors of one float type."""
    maps = str(op.attributes["indexing_maps"]) if "indexing_maps" in op.attributes else PLAIN_MATMUL_MAPS
    if maps != PLAIN_MATMUL_MAPS or len(op.results) != 1:
        return None
    types = [ir.RankedTensorType(v.type) for v in op.operands if isinstance(v.type, ir.RankedTensorType)]
    if len(types) != 3 or not all(t.has_static_shape for t in types):
        return None
    if len({str(t.element_type) for t in types}) != 1 or not isinstance(types[0].element_type, ir.FloatType):
        return None
    (m, k), (_, n) = types[0].shape, types[1].shape
    return Matmul(rows=m, reduction=k, columns=n)


@dataclass(frozen=True)
class MatmulToVector(ModulePass):
    name = "matmul-to-vector"
    summary = "Rewrite linalg.matmul into register-blocked vector loops over blocks of columns, split across cores"

    def apply(self, module: ir.Operation) -> None:
        target = target_or_host(module)
        names = ResourceNames(module)
        for function in list(module.regions[0].blocks[0].operations):
            for op in ops_named(function.operation, "linalg.matmul"):
                matmul = match_matmul(op)
                if matmul is None:
                    continue
                accumulator, weights = op.operands[2], op.operands[1]
                fill = producer(accumulator, "linalg.fill")
                init = fill.operands[0] if fill is not None else accumulator
                with op.context, op.location:
                    packed = _packed_constant(op, weights, target.vector_lanes * BLOCK_VECTORS, names)
                    name = unused_symbol(module, "matmul")
                    result = emit_matmul(
                        op, matmul, init, target.vector_lanes, target.cores, name, ir.InsertionPoint(function), packed
                    )
                op.results[0].replace_all_uses_with(result)
                op.erase()
                erase_if_dead_fill(accumulator)
                original = defining_op(weights)
                if packed is not None and original is not None and not list(weights.uses):
                    original.erase()


def _packed_constant(op: ir.Operation, weights: ir.Value, block_columns: int, names: ResourceNames) -> ir.Value | None:
    """A new constant (before ``op``) of ``weights`` packed for ``block_columns``, or None if they are not constant."""
    array = constant_array(weights)
    if array is None:
        return None
    packed = pack_column_blocks(array, block_columns)
    packed_type = ir.RankedTensorType.get(list(packed.shape), ir.RankedTensorType(weights.type).element_type)
    with ir.InsertionPoint(op):
        return arith.ConstantOp(packed_type, weights_attribute(packed, packed_type, names.fresh("packed_matmul"))).result
