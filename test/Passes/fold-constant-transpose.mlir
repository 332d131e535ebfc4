// RUN: rt3d-opt %s --fold-constant-transpose | filecheck %s
// RUN: rt3d-opt %s --fold-constant-transpose | filecheck %s --check-prefix=BLOB

// CHECK-LABEL: func.func @constant_weight
// CHECK-NOT:   linalg.transpose
// CHECK:       %[[W:.*]] = arith.constant dense_resource<folded_transpose_{{[0-9]+}}> : tensor<3x2xf32>
// CHECK:       return %[[W]]
// [[1, 2, 3], [4, 5, 8.75]] transposed is 1, 4 / 2, 5 / 3, 8.75 (after the 4 alignment bytes):
// BLOB:        folded_transpose_{{[0-9]+}}: "0x040000000000803F00008040000000400000A0400000404000000C41"
func.func @constant_weight() -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 8.75]]> : tensor<2x3xf32>
  %empty = tensor.empty() : tensor<3x2xf32>
  %t = linalg.transpose ins(%w : tensor<2x3xf32>) outs(%empty : tensor<3x2xf32>) permutation = [1, 0]
  return %t : tensor<3x2xf32>
}

// CHECK-LABEL: func.func @runtime_value
// CHECK:       linalg.transpose
func.func @runtime_value(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %empty = tensor.empty() : tensor<3x2xf32>
  %t = linalg.transpose ins(%x : tensor<2x3xf32>) outs(%empty : tensor<3x2xf32>) permutation = [1, 0]
  return %t : tensor<3x2xf32>
}
