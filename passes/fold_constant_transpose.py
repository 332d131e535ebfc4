"""``fold-constant-transpose``: transpose constant tensors at compile time.

Input (torch-mlir lowers every ``nn.Linear`` this way)::

  %w = arith.constant dense_resource<fc6_weight> : tensor<4096x8192xf32>
  %empty = tensor.empty() : tensor<8192x4096xf32>
  %wt = linalg.transpose ins(%w : tensor<4096x8192xf32>) outs(%empty : tensor<8192x4096xf32>) permutation = [1, 0]

Output: ``%wt = arith.constant dense_resource<...> : tensor<8192x4096xf32>`` holding
the transposed values, so the model does not copy its largest weights on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith

from rt3d_mlir.constants import ResourceNames, constant_array, defining_op
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.passes.base import ModulePass

@dataclass(frozen=True)
class FoldConstantTranspose(ModulePass):
    name = "fold-constant-transpose"
    summary = "Replace linalg.transpose of a constant by the transposed constant"

    def apply(self, module: ir.Operation) -> None:
        names = ResourceNames(module)
        for transpose in ops_named(module, "linalg.transpose"):
            source = transpose.operands[0]
            array = constant_array(source)
            if array is None:
                continue
            permutation = list(ir.DenseI64ArrayAttr(transpose.attributes["permutation"]))
            folded = np.ascontiguousarray(np.transpose(array, permutation))
            result_type = transpose.results[0].type
            with ir.InsertionPoint(transpose), transpose.location:
                attribute = ir.DenseResourceElementsAttr.get_from_buffer(
                    folded, names.fresh("folded_transpose"), result_type
                )
                constant = arith.ConstantOp(result_type, attribute)
            transpose.results[0].replace_all_uses_with(constant.result)
            transpose.erase()
            original = defining_op(source)
            if original is not None and not list(original.results[0].uses):
                original.erase()
