"""``matmul-k-outer``: rewrite ``linalg.matmul`` so its loops run (i, k, j), the reduction outside ``j``.

Input (a linear layer after import and ``fold-constant-transpose``)::

  %y = linalg.matmul ins(%x, %w : tensor<1x8192xf32>, tensor<8192x4096xf32>)
                     outs(%acc : tensor<1x4096xf32>) -> tensor<1x4096xf32>

Output: the same product as a ``linalg.generic`` over (i, k, j) with maps
``(i, k)``, ``(k, j)``, ``(i, j)``. Lowered to loops, the innermost loop is then
``acc[i, j] += x[i, k] * w[k, j]`` along contiguous rows of ``w``, which LLVM
vectorizes without reassociating floating-point sums; in the (i, j, k) order of
``linalg.matmul`` the inner loop strides down a column of ``w`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg

from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.passes.base import ModulePass

PLAIN_MATMUL_MAPS = (
    "[affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>]"
)


@dataclass(frozen=True)
class MatmulKOuter(ModulePass):
    name = "matmul-k-outer"
    summary = "Rewrite linalg.matmul as a generic over (i, k, j) so the inner loop is a vectorizable axpy"

    def apply(self, module: ir.Operation) -> None:
        for matmul in ops_named(module, "linalg.matmul"):
            # Only the plain form on tensors of one float type: transposed operands (other indexing maps),
            # integer or mixed-precision matmuls are left alone.
            maps = str(matmul.attributes["indexing_maps"]) if "indexing_maps" in matmul.attributes else PLAIN_MATMUL_MAPS
            element_types = {str(ir.ShapedType(v.type).element_type) for v in matmul.operands}
            is_float = isinstance(ir.ShapedType(matmul.operands[0].type).element_type, ir.FloatType)
            if matmul.results and maps == PLAIN_MATMUL_MAPS and len(element_types) == 1 and is_float:
                self._rewrite(matmul)

    @staticmethod
    def _rewrite(matmul: ir.Operation) -> None:
        lhs, rhs, accumulator = matmul.operands[0], matmul.operands[1], matmul.operands[2]
        element_type = ir.RankedTensorType(accumulator.type).element_type
        i, k, j = (ir.AffineDimExpr.get(d) for d in range(3))
        maps = [ir.AffineMap.get(3, 0, exprs) for exprs in ([i, k], [k, j], [i, j])]
        iterators = [ir.Attribute.parse(f"#linalg.iterator_type<{kind}>") for kind in ("parallel", "reduction", "parallel")]
        with ir.InsertionPoint(matmul), matmul.location:
            generic = linalg.GenericOp(
                [matmul.results[0].type],
                [lhs, rhs],
                [accumulator],
                ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps]),
                ir.ArrayAttr.get(iterators),
            )
            body = generic.regions[0].blocks.append(element_type, element_type, element_type)
            with ir.InsertionPoint(body):
                product = arith.MulFOp(body.arguments[0], body.arguments[1])
                linalg.YieldOp([arith.AddFOp(body.arguments[2], product.result).result])
        matmul.results[0].replace_all_uses_with(generic.results[0])
        matmul.erase()
