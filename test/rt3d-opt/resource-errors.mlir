// RUN: not rt3d-opt %s 2>&1 | filecheck %s
// RUN: rm -f %t.out && not rt3d-opt %s --split-input-file -o %t.out 2>&1 | filecheck %s && not test -e %t.out
// RUN: not rt3d-translate %s --emit=asm 2>&1 | filecheck %s --check-prefix=TRANSLATE

// A blob's first 4 bytes are its alignment. MLIR's parser reports one that is not a power of 2, but
// dies ("LLVM ERROR: out of memory") on 0: the tools report that one before parsing.
// CHECK-NOT: LLVM ERROR
// CHECK: resource-errors.mlir:[[# @LINE + 10]]:13: error: expected hex string blob for key 'zero' to encode alignment in first 4 bytes, but got non-power-of-2 value: 0
// CHECK-NOT: LLVM ERROR
// TRANSLATE: rt3d-translate: error: cannot parse {{.*}}resource-errors.mlir:[[# @LINE + 8]]:13: expected hex string blob for key 'zero'
func.func @zero_alignment() -> tensor<2xf32> {
  %0 = arith.constant dense_resource<zero> : tensor<2xf32>
  return %0 : tensor<2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      zero: "0x000000000000803F00000040"
    }
  }
#-}
