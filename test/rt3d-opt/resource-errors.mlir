// RUN: not rt3d-opt %s --split-input-file 2>&1 | filecheck %s
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

// -----

// The custom forms of linalg.transpose, broadcast and reduce crash MLIR's parser (SIGSEGV) when their
// integer list does not parse.
// CHECK: resource-errors.mlir:[[# @LINE + 3]]:92: error: 'linalg.transpose' permutation must be a list of 64-bit integers such as [1, 0]
// CHECK-NOT: Segmentation
func.func @transpose(%x: tensor<2x3xf32>, %y: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %t = linalg.transpose ins(%x : tensor<2x3xf32>) outs(%y : tensor<3x2xf32>) permutation = [1, ]
  return %t : tensor<3x2xf32>
}

// -----

// CHECK: resource-errors.mlir:[[# @LINE + 2]]:89: error: 'linalg.broadcast' dimensions must be a list of 64-bit integers such as [1, 0]
func.func @broadcast(%x: tensor<3xf32>, %y: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %t = linalg.broadcast ins(%x : tensor<3xf32>) outs(%y : tensor<2x3xf32>) dimensions = [99999999999999999999]
  return %t : tensor<2x3xf32>
}

// -----

// CHECK: resource-errors.mlir:[[# @LINE + 2]]:86: error: 'linalg.reduce' dimensions must be a list of 64-bit integers such as [1, 0]
func.func @reduce(%x: tensor<2x3xf32>, %y: tensor<2xf32>) -> tensor<2xf32> {
  %r = linalg.reduce ins(%x : tensor<2x3xf32>) outs(%y : tensor<2xf32>) dimensions = "1"
    (%a: f32, %b: f32) {
      %s = arith.addf %a, %b : f32
      linalg.yield %s : f32
    }
  return %r : tensor<2xf32>
}

// -----

// The custom form of linalg.generic crashes MLIR's parser on an iterator_types entry that is not a string.
// CHECK: resource-errors.mlir:[[# @LINE + 3]]:71: error: 'linalg.generic' iterator_types must be a list of strings such as ["parallel", "reduction"]
#map = affine_map<(d0, d1) -> (d0, d1)>
func.func @generic(%x: tensor<2x3xf32>, %y: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %r = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", 1]} ins(%x : tensor<2x3xf32>) outs(%y : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  } -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}

// -----

// -2**63 is MLIR's marker for a dynamic entry; tensor.pad takes it for one without its operand, and
// its printer crashes on that.
// CHECK: resource-errors.mlir:[[# @LINE + 3]]:26: error: 'tensor.pad' low entries must be index values or integers above -9223372036854775808 (MLIR's marker for a dynamic entry)
func.func @pad(%x: tensor<2xf32>, %v: f32) -> tensor<3xf32> {
  %c1 = arith.constant 1 : index
  %p = tensor.pad %x low[-9223372036854775808] high[%c1] {
  ^bb0(%i: index):
    tensor.yield %v : f32
  } : tensor<2xf32> to tensor<3xf32>
  return %p : tensor<3xf32>
}

// -----

// A valid list parses, in the custom form (hexadecimal too) as in the generic one.
// CHECK-NOT: error:
func.func @valid(%x: tensor<2x3xf32>, %y: tensor<3x2xf32>, %z: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %t = linalg.transpose ins(%x : tensor<2x3xf32>) outs(%y : tensor<3x2xf32>) permutation = [0x1, 0]
  %u = "linalg.transpose"(%t, %z) <{permutation = array<i64: 1, 0>}> ({
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  }) : (tensor<3x2xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %u : tensor<2x3xf32>
}
func.func @valid_generic(%x: tensor<2x3xf32>, %y: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<2x3xf32>) outs(%y : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  } -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}
func.func @valid_pad(%x: tensor<2xf32>, %v: f32) -> tensor<4xf32> {
  %c1 = arith.constant 1 : index
  %p = tensor.pad %x low[%c1] high[1] {
  ^bb0(%i: index):
    tensor.yield %v : f32
  } : tensor<2xf32> to tensor<4xf32>
  return %p : tensor<4xf32>
}
