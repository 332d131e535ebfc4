// RUN: rt3d-opt %s | rt3d-opt | filecheck %s
// RUN: rt3d-opt %s --mlir-print-op-generic | rt3d-opt | filecheck %s

// A dense 1x1x1 conv: one group (4 filters x 2 channels), its only position kept.
// CHECK-LABEL: func.func @dense_pointwise
// CHECK:       "sparse3d.kgs_conv3d"(%arg0, %{{.*}}, %{{.*}}, %{{.*}}, %arg1)
// CHECK-SAME:  dilations = array<i64: 1, 1, 1>
// CHECK-SAME:  group_shape = array<i64: 8, 4>
// CHECK-SAME:  kernel_size = array<i64: 1, 1, 1>
// CHECK-SAME:  padding = array<i64: 0, 0, 0, 0, 0, 0>
// CHECK-SAME:  strides = array<i64: 1, 1, 1>
// CHECK-SAME:  (tensor<1x2x3x4x5xf32>, tensor<8xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32>
func.func @dense_pointwise(%in: tensor<1x2x3x4x5xf32>, %init: tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32> {
  %values = arith.constant dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]> : tensor<8xf32>
  %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
  %positions = arith.constant dense<[0]> : tensor<1xi64>
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x2x3x4x5xf32>, tensor<8xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32>
  return %0 : tensor<1x4x3x4x5xf32>
}

// Strided, padded, dilated 3x3x3 conv with narrow (i8/i16) index tables and two
// groups of 1 filter x 1 channel: group 0 keeps positions 0 and 26, group 1 none.
// CHECK-LABEL: func.func @kgs_strided_narrow_tables
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  group_shape = array<i64: 1, 1>
// CHECK-SAME:  padding = array<i64: 1, 2, 0, 1, 2, 0>
// CHECK-SAME:  strides = array<i64: 2, 1, 2>
// CHECK-SAME:  tensor<2xf32>, tensor<3xi16>, tensor<2xi8>
func.func @kgs_strided_narrow_tables(%in: tensor<2x1x7x6x9xf32>, %init: tensor<2x2x4x6x4xf32>) -> tensor<2x2x4x6x4xf32> {
  %values = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %offsets = arith.constant dense<[0, 2, 2]> : tensor<3xi16>
  %positions = arith.constant dense<[0, 26]> : tensor<2xi8>
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 1, 1>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 2, 1, 2>, padding = array<i64: 1, 2, 0, 1, 2, 0>, dilations = array<i64: 1, 2, 1>} : (tensor<2x1x7x6x9xf32>, tensor<2xf32>, tensor<3xi16>, tensor<2xi8>, tensor<2x2x4x6x4xf32>) -> tensor<2x2x4x6x4xf32>
  return %0 : tensor<2x2x4x6x4xf32>
}

// Tables that are not constants (function arguments) are checked by shape only.
// CHECK-LABEL: func.func @tables_as_arguments
// CHECK:       "sparse3d.kgs_conv3d"(%arg0, %arg1, %arg2, %arg3, %arg4)
func.func @tables_as_arguments(%in: tensor<1x8x4x4x4xf32>, %values: tensor<100xf32>, %offsets: tensor<3xi32>, %positions: tensor<9xi32>, %init: tensor<1x8x4x4x4xf32>) -> tensor<1x8x4x4x4xf32> {
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 1, 1, 0, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x8x4x4x4xf32>, tensor<100xf32>, tensor<3xi32>, tensor<9xi32>, tensor<1x8x4x4x4xf32>) -> tensor<1x8x4x4x4xf32>
  return %0 : tensor<1x8x4x4x4xf32>
}

// The optional attributes: compact filter i writes output channel filter_permutation[i],
// and the fused activation.
// CHECK-LABEL: func.func @permuted_filters_and_relu
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  activation = "relu"
// CHECK-SAME:  filter_permutation = array<i64: 3, 1, 2, 0>
func.func @permuted_filters_and_relu(%in: tensor<1x2x3x4x5xf32>, %init: tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32> {
  %values = arith.constant dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]> : tensor<8xf32>
  %offsets = arith.constant dense<[0, 1]> : tensor<2xi8>
  %positions = arith.constant dense<[0]> : tensor<1xi8>
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>, filter_permutation = array<i64: 3, 1, 2, 0>, activation = "relu"} : (tensor<1x2x3x4x5xf32>, tensor<8xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x4x3x4x5xf32>) -> tensor<1x4x3x4x5xf32>
  return %0 : tensor<1x4x3x4x5xf32>
}
