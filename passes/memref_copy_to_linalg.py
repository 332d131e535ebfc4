"""``memref-copy-to-linalg``: rewrite ``memref.copy`` as ``linalg.copy`` after bufferization.

Input (bufferizing a ``tensor.pad`` or a returned value leaves such copies)::

  %view = memref.subview %buffer[0, 0, 0, 1, 1] [1, 128, 2, 2, 2] [1, 1, 1, 1, 1]
      : memref<1x128x2x4x4xf32> to memref<1x128x2x2x2xf32, strided<[4096, 32, 16, 4, 1], offset: 5>>
  memref.copy %source, %view : memref<1x128x2x2x2xf32> to memref<1x128x2x2x2xf32, strided<...>>

Output: ``linalg.copy ins(%source) outs(%view)``, which lowers to loops. A strided
``memref.copy`` would lower to a call of the ``memrefCopy`` runtime function,
which the MLIR runtime shipped in the torch-mlir wheel does not provide.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import linalg

from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.passes.base import ModulePass


@dataclass(frozen=True)
class MemrefCopyToLinalg(ModulePass):
    name = "memref-copy-to-linalg"
    summary = "Rewrite memref.copy as linalg.copy (the JIT runtime lacks memrefCopy)"

    def apply(self, module: ir.Operation) -> None:
        for copy in ops_named(module, "memref.copy"):
            if not all(isinstance(operand.type, ir.MemRefType) for operand in copy.operands):
                continue  # unranked copies have no linalg.copy form
            with ir.InsertionPoint(copy), copy.location:
                linalg.copy(copy.operands[0], outs=[copy.operands[1]])
            copy.erase()
