// RUN: rt3d-opt %s --verify-diagnostics --fold-constant-transpose > /dev/null

// The pass reads the constant's data: a blob too short for its type is an error at the constant.
func.func @short_blob() -> tensor<3x2xf32> {
  // expected-error @+1 {{the dense_resource blob holds 8 bytes of data, tensor<2x3xf32> needs 24}}
  %w = arith.constant dense_resource<weights> : tensor<2x3xf32>
  %empty = tensor.empty() : tensor<3x2xf32>
  %t = linalg.transpose ins(%w : tensor<2x3xf32>) outs(%empty : tensor<3x2xf32>) permutation = [1, 0]
  return %t : tensor<3x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      weights: "0x040000000000803F00000040"
    }
  }
#-}
