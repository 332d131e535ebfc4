// RUN: rt3d-opt %s --verify-diagnostics --sparse3d-winograd > /dev/null

// The weights are transformed at compile time: weights passed as an argument cannot be.
func.func @weights_as_argument(%in: tensor<1x4x2x3x8xf32>, %values: tensor<864xf32>, %init: tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32> {
  %offsets = arith.constant dense<[0, 27]> : tensor<2xi8>
  %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi8>
  // expected-error @+1 {{algorithm winograd<w, 4> needs constant weights and index tables: the weights are transformed at compile time}}
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = "winograd<w, 4>"} : (tensor<1x4x2x3x8xf32>, tensor<864xf32>, tensor<2xi8>, tensor<27xi8>, tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32>
  return %0 : tensor<1x8x2x3x8xf32>
}
